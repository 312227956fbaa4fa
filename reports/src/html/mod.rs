//! The self-contained HTML report (`report.html`).
//!
//! One file per concept: [`input`] reads a run directory, [`crate::escape`] is
//! the only way untrusted text reaches the page, [`page`] assembles the document
//! from [`header`], [`anomalies`] (with [`cycle`] and [`linear`] drawings and
//! the cited operations of [`ops`]; [`lost`] groups lost writes), [`timeline`],
//! [`plots`] and [`lag`], and the recovery table of [`failovers`]; [`faults`] finds the nemesis intervals they shade,
//! [`exits`] the nodes that exited on their own (a section, and markers on the
//! timeline), [`members`] the membership over time (when it changed).

mod anomalies;
mod cycle;
mod exits;
mod failovers;
mod faults;
mod header;
mod input;
mod lag;
mod linear;
mod lost;
mod members;
mod ops;
mod page;
mod plots;
mod timeline;

pub use input::{parse_results, ReportError, ReportInput};
pub use page::{render_report, write_report};
