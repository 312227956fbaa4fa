//! Reading the workspace's own sources: which crates there are ([`workspace`]),
//! their module trees ([`tree`]), the arrows between their files ([`resolve`]),
//! the circles among those arrows ([`cycles`]), and what module docs name ([`docs`]).

pub mod cycles;
pub mod docs;
pub mod resolve;
pub mod tree;
pub mod workspace;

pub use tree::Crate;
pub use workspace::crate_roots;
