//! The failovers table: for every fault window in which leadership moved,
//! how long writes stopped and how much acknowledged data was lost.
//!
//! The numbers come from `results.json`'s `failovers` (measured by
//! `faultline_checkers::replication::failovers`, which defines each); the
//! report only lays them out, one row per failover, and links the lost
//! writes it cites to the operations table. No failover, no section: a run
//! without leaders (or whose leadership never moved) has nothing to say here.

use std::fmt::Write;

use faultline_checkers::Failover;

use super::ops::Ctx;
use crate::escape::esc;

/// Seconds with two decimals, or a dash.
fn secs(t: Option<f64>) -> String {
    t.map_or_else(|| "—".to_owned(), |t| format!("{t:.2} s"))
}

/// The section, or nothing when no failover was measured.
pub fn failovers_section(failovers: &[Failover], ctx: &Ctx<'_>) -> String {
    if failovers.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<section id=\"failovers\"><h2>Failovers <span class=\"muted\">fault windows in which leadership moved: recovery time and recovery point</span></h2>\
         <table><thead><tr><th>#</th><th>fault</th><th>began</th><th>leader</th><th>new leader observed after</th>\
         <th>writes unavailable</th><th>acknowledged writes lost</th><th>recovery point</th></tr></thead><tbody>",
    );
    for (i, f) in failovers.iter().enumerate() {
        let unavailable = match (f.last_ack_before_s, f.first_ack_after_s) {
            (_, None) => format!("{:.2} s (none acknowledged after it)", f.unavailable_s),
            (Some(a), Some(b)) => format!("{:.2} s ({a:.2} → {b:.2} s)", f.unavailable_s),
            (None, Some(b)) => format!("{:.2} s (→ {b:.2} s)", f.unavailable_s),
        };
        let lost = match f.lost {
            None => "not measurable for this workload".to_owned(),
            Some(0) => "none".to_owned(),
            Some(n) => format!(
                "{n}, acknowledged {} – {} <span class=\"opsl\">[{}]</span>",
                secs(f.lost_from_s),
                secs(f.lost_to_s),
                ctx.links(&f.lost_ops)
            ),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{:.2} s{}</td><td>{} → {}</td><td>{:.2} s</td><td>{}</td><td>{lost}</td><td>{}</td></tr>",
            i + 1,
            esc(&f.fault),
            f.began_s,
            f.ended_s.map_or_else(String::new, |e| format!(" – {e:.2} s")),
            esc(&f.leader_before.join(", ")),
            esc(&f.leader_after.join(", ")),
            f.new_leader_after_s,
            esc(&unavailable),
            secs(f.recovery_point_s),
        );
    }
    out.push_str("</tbody></table></section>");
    out
}
