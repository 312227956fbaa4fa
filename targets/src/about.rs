//! What a target says about itself: the facts `faultline list`, `test
//! --help`, the defaults of a test and its refusals are all drawn from.
//!
//! Each target describes itself once, in an [`About`]: its name and a line
//! on what it is, the workloads its clients serve, the test it runs when
//! asked for nothing in particular ([`Defaults`]: the workload and faults that
//! show what it is known for), the faults and options of its own with their
//! help, whether faultline's wall-clock shim reaches its servers on local
//! namespaces ([`ClockShim`]), and what it installs. Nothing else in faultline keeps a list of
//! targets or of their options: a fact written here is the fact everywhere.

use serde::Serialize;

/// A named thing with its one-line help: an option or a fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Help {
    /// The name (`read-mode`, `failover`).
    pub name: String,
    /// One line: what it does, and its values.
    pub help: String,
}

impl Help {
    /// A name with its help.
    pub fn new(name: impl Into<String>, help: impl Into<String>) -> Help {
        Help {
            name: name.into(),
            help: help.into(),
        }
    }
}

/// The test a target runs when the user names only the target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Defaults {
    /// The workload.
    pub workload: String,
    /// The faults (empty: none).
    pub nemesis: Vec<String>,
    /// The main phase, in seconds.
    pub time_limit: f64,
    /// How many nodes (`n1`..`nN`).
    pub nodes: usize,
}

impl Defaults {
    /// `workload` with `nemesis` for 30 s on 5 nodes, as most targets run.
    pub fn new(workload: &str, nemesis: &[&str]) -> Defaults {
        Defaults {
            workload: workload.to_owned(),
            nemesis: nemesis.iter().map(|s| s.to_string()).collect(),
            time_limit: 30.0,
            nodes: 5,
        }
    }
}

/// Whether the wall-clock shim reaches a target's servers on local
/// namespaces. The shim (an `LD_PRELOAD` library) replaces libc's clock
/// functions, so it moves the clock of programs that read it through libc
/// (C, C++, Rust, Python, the JVM) and cannot move Go programs (they read
/// the clock through the vDSO without libc) or statically linked ones (no
/// dynamic linker to preload it). On SSH hosts clock faults move the host's
/// real clock instead, which every program reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reach", content = "why", rename_all = "kebab-case")]
pub enum ClockShim {
    /// Every server reads the clock through libc: clock faults move it.
    Reaches(String),
    /// The servers read it through libc, but a part of the system does not
    /// (said which); clock faults are offered and leave that part alone.
    Partly(String),
    /// No server reads it through libc: clock faults are refused locally.
    Cannot(String),
    /// Known only when the servers start: each is checked then.
    AtStart(String),
    /// No real clock: the faults are simulated.
    Simulated(String),
    /// The target has not said (a test insists every registered one does).
    Unsaid,
}

impl ClockShim {
    /// A few words for `faultline list`: whether it reaches, and why.
    pub fn describe(&self) -> Option<String> {
        Some(match self {
            ClockShim::Reaches(why) => format!("reaches its servers: {why}"),
            ClockShim::Partly(why) => format!("reaches its servers, not all of the system: {why}"),
            ClockShim::Cannot(why) => format!("cannot reach its servers: {why}"),
            ClockShim::AtStart(why) => format!("checked when the servers start: {why}"),
            ClockShim::Simulated(why) => format!("simulated: {why}"),
            ClockShim::Unsaid => return None,
        })
    }
}

/// Everything a target says about itself.
#[derive(Clone, Debug, Serialize)]
pub struct About {
    /// The name a test asks for it by (`etcd`), or a manifest's own name.
    pub name: String,
    /// One line: what it is.
    pub summary: String,
    /// The workloads its clients serve.
    pub workloads: Vec<String>,
    /// Its default test (see [`Defaults`]).
    pub defaults: Defaults,
    /// Faults of its own, beyond the node faults every real cluster gets.
    pub faults: Vec<Help>,
    /// Whether the node faults (partitions, kills, pauses, clocks, packets)
    /// are offered; false for a target with a simulated set of its own.
    pub node_faults: bool,
    /// Whether the disk faults (`power-loss*`, `disk-full`) are offered: its
    /// nodes keep their data in `<node dir>/data`, where powerfs can go.
    pub disk_faults: bool,
    /// Its options (`--db-opt key=value`); `None` takes any key (a manifest
    /// passes every option on to its commands).
    pub options: Option<Vec<Help>>,
    /// Debian packages it installs on first use.
    pub packages: Vec<String>,
    /// Whether it runs inside faultline (no nodes, no root, no SSH).
    pub in_process: bool,
    /// Whether the wall-clock shim reaches its servers on local namespaces.
    pub clock_shim: ClockShim,
}

impl About {
    /// A target called `name`, `summary`, serving `workloads`, with node
    /// faults, no options and nothing to install; its default test is the
    /// first workload with no faults.
    pub fn new(name: &str, summary: &str, workloads: &[&str]) -> About {
        About {
            name: name.to_owned(),
            summary: summary.to_owned(),
            workloads: workloads.iter().map(|s| s.to_string()).collect(),
            defaults: Defaults::new(workloads.first().copied().unwrap_or("register"), &[]),
            faults: Vec::new(),
            node_faults: true,
            disk_faults: false,
            options: Some(Vec::new()),
            packages: Vec::new(),
            in_process: false,
            clock_shim: ClockShim::Unsaid,
        }
    }

    /// The names of its own faults.
    pub fn fault_names(&self) -> Vec<String> {
        self.faults.iter().map(|f| f.name.clone()).collect()
    }
}
