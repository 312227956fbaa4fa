//! `faultline list`: what this faultline can do.

use faultline_checkers::{CHECKERS, WORKLOADS};
use faultline_history::Format;
use faultline_plan::Registry;

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

/// The targets, as the registry describes them: what each is, what it
/// serves, its default test, its own faults and options, and whether it is
/// ready on this machine; then the manifests on the target path.
fn targets() -> String {
    let root = faultline_harness::network::is_root();
    let reg = Registry::builtin();
    let mut out = String::from("targets:\n");
    for k in reg.kinds() {
        let a = k.about();
        let mut notes = Vec::new();
        match k.installed() {
            Some(true) => notes.push("installed".to_owned()),
            Some(false) => notes.push("installed from Debian on first use".to_owned()),
            None => {}
        }
        if !a.in_process && !root {
            notes.push("needs root".to_owned());
        }
        out.push_str(&format!(
            "  {:<15} {}{}\n",
            a.name,
            a.summary,
            if notes.is_empty() {
                String::new()
            } else {
                format!(" [{}]", notes.join("; "))
            }
        ));
        out.push_str(&format!(
            "  {:<15}   workloads: {}\n",
            "",
            a.workloads.join(", ")
        ));
        let d = &a.defaults;
        out.push_str(&format!(
            "  {:<15}   default: {} under {} for {} s on {} nodes\n",
            "",
            d.workload,
            if d.nemesis.is_empty() {
                "no faults".to_owned()
            } else {
                d.nemesis.join(",")
            },
            d.time_limit,
            d.nodes
        ));
        if !a.faults.is_empty() {
            let own: Vec<String> = a.faults.iter().map(|f| f.name.clone()).collect();
            out.push_str(&format!(
                "  {:<15}   {}: {}\n",
                "",
                if a.node_faults {
                    "own faults"
                } else {
                    "faults"
                },
                own.join(", ")
            ));
        }
        if let Some(opts) = a.options.as_ref().filter(|o| !o.is_empty()) {
            let names: Vec<&str> = opts.iter().map(|o| o.name.as_str()).collect();
            out.push_str(&format!("  {:<15}   options: {}\n", "", names.join(", ")));
        }
        if let Some(shim) = a.clock_shim.describe() {
            out.push_str(&format!("  {:<15}   clock shim: {shim}\n", ""));
        }
    }
    for (name, path) in reg.manifests() {
        out.push_str(&format!("  {:<15} manifest {}\n", name, path.display()));
    }
    out.push_str(&nemeses(&membership(&reg)));
    out
}

/// The `membership` fault and the targets that offer it (their own
/// protocol for it is theirs to wire, so the registry says which).
fn membership(reg: &Registry) -> String {
    let changers: Vec<String> = reg
        .kinds()
        .iter()
        .map(|k| k.about())
        .filter(|a| a.faults.iter().any(|f| f.name == "membership"))
        .map(|a| a.name)
        .collect();
    let help = faultline_harness::Fault::Membership
        .help()
        .unwrap_or_default();
    format!(
        "  {:<20} {help}; the history records the members (targets: {}, and manifests with [membership])\n",
        "membership",
        changers.join(", ")
    )
}

/// The built-in nemeses, one line each on what they do: every real
/// cluster's node faults, then the disk faults (targets whose nodes keep
/// their data in a data directory: the built-in databases and manifests).
fn nemeses(membership: &str) -> String {
    let mut out = String::from(
        "nemeses: (every real cluster; `none` for no faults; each target's own are listed with it)\n",
    );
    let disk = faultline_nemesis::power::KINDS;
    for f in faultline_harness::Fault::built_in() {
        let name = f.to_string();
        if !faultline_nemesis::local::KINDS.contains(&name.as_str())
            && !disk.contains(&name.as_str())
        {
            continue;
        }
        if let Some(help) = f.help() {
            out.push_str(&format!("  {name:<20} {help}\n"));
        }
    }
    out.push_str(membership);
    out.push_str(&format!(
        "  {:<20} ({} on databases and manifests: powerfs under each node's data directory; see docs/power-loss.md)\n",
        "",
        disk.join(", ")
    ));
    out.push_str(
        "clock faults: on local namespaces through the wall-clock shim (LD_PRELOAD; each target's `clock shim` says whether it reaches its servers); \
         on SSH hosts the host's real clock (stepped, strobed, or its rate changed with adjtimex; time sync stopped for the run), \
         refused on a host running this machine's own kernel or a login without CAP_SYS_TIME\n",
    );
    out
}
