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
    }
    for (name, path) in reg.manifests() {
        out.push_str(&format!("  {:<15} manifest {}\n", name, path.display()));
    }
    out.push_str(&format!(
        "nemeses: {}, none (every real cluster; each target's own are listed with it)\n",
        faultline_nemesis::local::KINDS.join(", ")
    ));
    let changers: Vec<String> = reg
        .kinds()
        .iter()
        .map(|k| k.about())
        .filter(|a| a.faults.iter().any(|f| f.name == "membership"))
        .map(|a| a.name)
        .collect();
    out.push_str(&format!(
        "  membership: removes a node through the database's own protocol and adds it back empty; the history records the members (targets: {})\n",
        changers.join(", ")
    ));
    out
}
