//! Recovery: what a failover cost, as a record `results.json` carries.
//!
//! A [`Failover`] is one fault window in which leadership moved, measured by
//! `replication::failover` (which explains each number): how soon a new
//! leader was observed, how long no write was acknowledged (the recovery
//! time), and how many acknowledged writes were lost and over what span of
//! time they had been acknowledged (the recovery point). It is a
//! measurement, never a verdict: it does not make a run valid or invalid.

use serde::{Deserialize, Serialize};

/// One fault window in which leadership moved. Times are seconds on the
/// history's clock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failover {
    /// The fault (`partition-leader`, `kill`).
    pub fault: String,
    /// When its first effect began.
    pub began_s: f64,
    /// When it was stopped (`None`: still in force when the history ends).
    pub ended_s: Option<f64>,
    /// The leaders observed last before the fault.
    pub leader_before: Vec<String>,
    /// The leaders named by the first observation with a new one.
    pub leader_after: Vec<String>,
    /// Seconds from the fault to that observation.
    pub new_leader_after_s: f64,
    /// Writes stopped: the last acknowledged write before the fault.
    pub last_ack_before_s: Option<f64>,
    /// The first acknowledged write after the fault began.
    pub first_ack_after_s: Option<f64>,
    /// Seconds without an acknowledged write around the fault (to the end of
    /// the history when `first_ack_after_s` is `None`).
    pub unavailable_s: f64,
    /// Acknowledged writes lost (`None`: not measurable for this workload).
    pub lost: Option<usize>,
    /// When the first and last of them were acknowledged.
    pub lost_from_s: Option<f64>,
    /// See `lost_from_s`.
    pub lost_to_s: Option<f64>,
    /// The recovery point: the span of time the lost writes were acknowledged in.
    pub recovery_point_s: Option<f64>,
    /// Completion indices of the first lost writes (evidence).
    pub lost_ops: Vec<u64>,
}

impl Failover {
    /// One line for a person: what moved, how long, how much.
    pub fn sentence(&self) -> String {
        let new: Vec<String> = self
            .leader_after
            .iter()
            .filter(|l| !self.leader_before.contains(l))
            .cloned()
            .collect();
        let still: Vec<String> = self
            .leader_before
            .iter()
            .filter(|l| self.leader_after.contains(l))
            .cloned()
            .collect();
        let mut s = format!(
            "{} at {:.2} s: leader {} -> {}{}, observed {:.2} s after the fault began; writes unavailable {:.2} s",
            self.fault,
            self.began_s,
            names(&self.leader_before),
            names(&new),
            if still.is_empty() {
                String::new()
            } else {
                format!(" ({} still claiming)", names(&still))
            },
            self.new_leader_after_s,
            self.unavailable_s,
        );
        if self.first_ack_after_s.is_none() {
            s.push_str(" (none acknowledged after it)");
        }
        match (self.lost, self.lost_from_s, self.lost_to_s) {
            (Some(0), ..) => s.push_str("; no acknowledged write lost"),
            (Some(n), Some(a), Some(b)) => s.push_str(&format!(
                "; {n} acknowledged write{} lost, acknowledged {a:.2}-{b:.2} s (recovery point {:.2} s)",
                if n == 1 { "" } else { "s" },
                b - a
            )),
            _ => s.push_str("; loss not measurable for this workload"),
        }
        s
    }
}

fn names(n: &[String]) -> String {
    if n.is_empty() {
        "none".into()
    } else {
        n.join("+")
    }
}
