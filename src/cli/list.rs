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
    out.push_str("targets and nemeses: none yet (see the README's status table)\n");
    out
}
