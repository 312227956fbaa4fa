//! Targets described by a manifest instead of Rust: a TOML file saying how
//! to install, configure, start, form, inspect and fail a database, and a
//! client program in any language speaking JSON lines.

pub mod client;
pub mod db;
pub mod env;
pub mod faults;
pub mod find;
pub mod install;
pub mod leaders;
pub mod membership;
pub mod ready;
pub mod skew;
pub mod spec;
pub mod template;

pub use client::{parse_answer, JsonlTarget, Parsed};
pub use db::ManifestDb;
pub use spec::{Manifest, ManifestError};
