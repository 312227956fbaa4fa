//! A kind of target: the small trait every target implements.
//!
//! A [`Kind`] describes itself once ([`About`]: name, summary, workloads,
//! default test, own faults and options), refuses a request it cannot serve
//! before anything is created ([`Kind::check`]), and builds its cluster
//! ([`Kind::setup`]). Only `about` and `setup` are required; every `Db`
//! becomes a `Kind` through `cluster::database::Database`. The
//! [`crate::registry::Registry`] holds them.

use faultline_nemesis::local::KINDS;

use crate::about::{About, ClockShim, Defaults};
use crate::calibration::Calibration;
use crate::cluster::{Cluster, Setup, SetupError};

/// A kind of target: what it is and how to build it. Only [`Kind::about`]
/// and [`Kind::setup`] are required.
pub trait Kind: Send + Sync {
    /// What it says about itself.
    fn about(&self) -> About;

    /// Its default test under `options` (refkv's depends on its mode).
    fn defaults(&self, options: &[(String, String)]) -> Result<Defaults, SetupError> {
        let _ = options;
        Ok(self.about().defaults)
    }

    /// Refuses a request this target cannot serve, before anything is
    /// created. The default checks the workload, the faults and the option
    /// keys against [`Kind::about`]; node names and root are checked for
    /// every target by [`check`].
    fn check(&self, s: &Setup<'_>) -> Result<(), SetupError> {
        check_about(&self.about(), s)
    }

    /// Builds the cluster on the request's nodes and waits until it serves.
    fn setup(&self, s: &Setup<'_>) -> Result<Cluster, SetupError>;

    /// Whether what it installs is installed here (`None`: nothing to install).
    fn installed(&self) -> Option<bool> {
        let p = self.about().packages;
        (!p.is_empty()).then(|| p.iter().all(|p| dpkg_installed(p)))
    }

    /// The checkers to run instead of the workload's under `options` (empty:
    /// the workload's). refkv keeping siblings has no single value to judge.
    fn checkers(&self, options: &[(String, String)]) -> Vec<String> {
        let _ = options;
        Vec::new()
    }

    /// What its runs must find and must not (`faultline calibrate --target`);
    /// none by default.
    fn calibration(&self) -> Vec<Calibration> {
        Vec::new()
    }

    /// One line on how it will run under `options`, printed as a test starts.
    fn describe(&self, options: &[(String, String)]) -> Option<String> {
        let _ = options;
        None
    }
}

fn dpkg_installed(package: &str) -> bool {
    std::process::Command::new("dpkg")
        .args(["-s", package])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The node faults `about` offers: every real cluster's, and the disk
/// faults (power loss, full disk) where it has data directories on nodes.
pub fn node_fault_names(about: &About) -> Vec<&'static str> {
    let mut names = KINDS.to_vec();
    if about.disk_faults {
        names.extend(faultline_nemesis::power::KINDS);
    }
    names
}

/// The workload, faults and option keys of `s` against what `about` offers.
pub fn check_about(about: &About, s: &Setup<'_>) -> Result<(), SetupError> {
    if !about.workloads.iter().any(|w| w == s.workload) {
        return Err(SetupError::bad(format!(
            "{} serves the workloads {}, not {}",
            about.name,
            about.workloads.join(", "),
            s.workload
        )));
    }
    let own = about.fault_names();
    for f in s.faults {
        let name = f.to_string();
        let node = about.node_faults && node_fault_names(about).contains(&name.as_str());
        if !node && !own.contains(&name) {
            if *f == faultline_harness::Fault::Membership {
                return Err(SetupError::bad(format!(
                    "{} cannot change its membership: removing and adding a node through its own protocol is not wired for it",
                    about.name
                )));
            }
            let mut known: Vec<String> = Vec::new();
            if about.node_faults {
                known.extend(node_fault_names(about).iter().map(|k| k.to_string()));
            }
            known.extend(own.iter().cloned());
            return Err(SetupError::bad(format!(
                "unknown nemesis {name:?} for {} (known: {})",
                about.name,
                known.join(", ")
            )));
        }
    }
    // A clock fault the shim cannot deliver is refused before anything
    // starts (on SSH hosts the host's real clock moves instead).
    if let (Some(f), None, ClockShim::Cannot(why)) = (
        s.faults.iter().find(|f| f.is_clock()),
        s.ssh,
        &about.clock_shim,
    ) {
        return Err(SetupError::bad(format!(
            "`{f}` cannot move {}'s clock on local namespaces: {why} (the clock shim works through libc); on SSH hosts clock faults move the host's real clock",
            about.name
        )));
    }
    if let Some(options) = &about.options {
        for (k, _) in s.options {
            if !options.iter().any(|o| &o.name == k) {
                let known: Vec<&str> = options.iter().map(|o| o.name.as_str()).collect();
                return Err(SetupError::bad(format!(
                    "{} has no option {k:?} ({})",
                    about.name,
                    if known.is_empty() {
                        "it takes none".to_owned()
                    } else {
                        format!("known: {}", known.join(", "))
                    }
                )));
            }
        }
    }
    Ok(())
}
