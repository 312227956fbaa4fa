//! `faultline serve`: browse a store of runs over HTTP.
//!
//! A small axum application over one store directory
//! (`<store>/<test-name>/<timestamp>/`): `/` lists the runs newest first with
//! their verdicts and a filter; `/runs/<test>/<timestamp>/` shows a run's
//! `report.html` (or its files), any file in it, and `<timestamp>.zip` the
//! whole run. It only reads, and never opens anything outside the store.
//!
//! One concept per file: [`server`](self) (routes, running), `runs` (finding
//! runs cheaply), `index` (the list page), `run` (a run's pages and files),
//! `zip`, `tree` (walking a run), `paths` (refusing paths outside the store),
//! `html` (the page shell; escaping is [`crate::escape`], shared with the
//! report).

mod html;
mod index;
mod paths;
mod run;
mod runs;
mod server;
mod tree;
mod zip;

#[cfg(test)]
mod tests;

pub use index::IndexQuery;
pub use paths::{inside as resolve_inside, segments as request_segments, Refusal};
pub use runs::{scan, RunEntry};
pub use server::{index_page, router, serve, spawn, Background, ServeError};
