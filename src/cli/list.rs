//! `faultline list`: what this faultline can do.

use faultline_checkers::{CHECKERS, WORKLOADS};
use faultline_history::Format;

/// Prints workloads with their checkers, the checkers, and the input formats.
pub fn list() -> String {
    let mut out = String::from("workloads (and the checkers each runs):\n");
    for w in WORKLOADS {
        out.push_str(&format!("  {:<13} {}\n", w.name, w.about));
        out.push_str(&format!(
            "  {:<13}   checkers: {}\n",
            "",
            w.checkers.join(", ")
        ));
    }
    out.push_str(&format!("checkers: {}\n", CHECKERS.join(", ")));
    let formats: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
    out.push_str(&format!("history formats: {}\n", formats.join(", ")));
    out.push_str(&targets());
    out
}

/// The targets, what each serves, and whether it is ready on this machine.
fn targets() -> String {
    let root = faultline_harness::network::is_root();
    let mut out = String::from("targets:\n");
    out.push_str(&format!(
        "  {:<15} in-process store (any generated workload)\n",
        "memory"
    ));
    let needs_root = if root { "" } else { "; needs root" };
    out.push_str(&format!(
        "  {:<15} one unreplicated server per node (any generated workload){needs_root}\n",
        "process"
    ));
    out.push_str(&format!(
        "  {:<15} the reference replicated store, built in (single-leader modes: any generated workload; multi-leader, leaderless: register){needs_root}\n",
        "refkv"
    ));
    for name in ["etcd", "redis-sentinel", "postgres"] {
        let Some(db) = super::cluster::db_of(name) else {
            continue;
        };
        let installed = db.packages().iter().all(|p| {
            std::process::Command::new("dpkg")
                .args(["-s", p])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        out.push_str(&format!(
            "  {:<15} workloads: {}; {}{needs_root}\n",
            name,
            db.workloads().join(", "),
            if installed {
                "installed"
            } else {
                "installed from Debian on first use"
            }
        ));
    }
    out.push_str(&format!(
        "nemeses: {}, none\n  refkv also: promote, join; postgres also: failover, failover-lagging\n",
        faultline_nemesis::local::KINDS.join(", ")
    ));
    out
}
