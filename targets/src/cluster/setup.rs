//! What a test asks of a target.

use std::path::Path;

use faultline_harness::remote::SshOptions;
use faultline_harness::Fault;

use crate::db::Steps;

/// One request to set a target up: everything a [`crate::kind::Kind`]
/// needs to check it and build its cluster.
#[derive(Clone, Copy)]
pub struct Setup<'a> {
    /// The target as the user named it (a registered name or a manifest).
    pub target: &'a str,
    /// The workload its clients run.
    pub workload: &'a str,
    /// Node names (or SSH hosts).
    pub nodes: &'a [String],
    /// The faults asked for.
    pub faults: &'a [Fault],
    /// The run directory (node files go under it).
    pub run: &'a Path,
    /// SSH hosts instead of local namespaces.
    pub ssh: Option<&'a SshOptions>,
    /// The target's options, `key=value`.
    pub options: &'a [(String, String)],
    /// Where setup records its steps and their times.
    pub steps: &'a Steps,
}

impl Setup<'_> {
    /// Whether a clock fault was asked for (the servers then run under the
    /// clock shim).
    pub fn clock(&self) -> bool {
        self.faults.iter().any(Fault::is_clock)
    }

    /// The value of option `key`, if given.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}
