//! What a checker concludes, and how conclusions combine.
//!
//! A verdict is never a bare bool. It says `valid` — `true`, `false`, or
//! `unknown` when the checker could not decide (a budget ran out, the history says
//! too little) — and carries evidence: every [`Anomaly`] names its type (Jepsen's
//! and Elle's names where they exist) and the indices of the operations that prove
//! it, plus a sentence a person can read. Combining verdicts takes the worst:
//! `false` beats `unknown`, which beats `true`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;

/// Whether a history satisfies what a checker demands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Validity {
    /// Proven inconsistent.
    False,
    /// Not decided (budget exhausted, not enough information).
    Unknown,
    /// No violation found.
    True,
}

impl Validity {
    /// The worse of two validities: false < unknown < true.
    pub fn and(self, other: Validity) -> Validity {
        self.min(other)
    }

    /// The process exit status Jepsen uses: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(self) -> u8 {
        match self {
            Validity::True => 0,
            Validity::False => 1,
            Validity::Unknown => 2,
        }
    }
}

/// Written as JSON `true`, `false` or `"unknown"`.
impl Serialize for Validity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::True => s.serialize_bool(true),
            Validity::False => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

/// One violation, with the operations that prove it.
#[derive(Clone, Debug, Serialize)]
pub struct Anomaly {
    /// The anomaly's name, e.g. `lost-write`, `G1c`, `split-brain`.
    #[serde(rename = "type")]
    pub kind: String,
    /// History indices of the events involved.
    pub ops: Vec<u64>,
    /// One or more sentences saying what happened.
    pub explanation: String,
    /// Structured evidence for reports (cycles, states, intervals).
    #[serde(skip_serializing_if = "Json::is_null")]
    pub data: Json,
}

/// A checker's conclusion.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// Whether the history passed.
    pub valid: Validity,
    /// The distinct anomaly types, sorted.
    pub anomaly_types: Vec<String>,
    /// Every anomaly found.
    pub anomalies: Vec<Anomaly>,
    /// Checker-specific results (counts, distributions).
    #[serde(skip_serializing_if = "Json::is_null")]
    pub details: Json,
}

impl Verdict {
    /// A verdict from anomalies: invalid if there are any, else `valid`.
    pub fn from_anomalies(anomalies: Vec<Anomaly>, details: Json) -> Verdict {
        let valid = if anomalies.is_empty() {
            Validity::True
        } else {
            Validity::False
        };
        Verdict::new(valid, anomalies, details)
    }

    /// A verdict with explicit validity.
    pub fn new(valid: Validity, anomalies: Vec<Anomaly>, details: Json) -> Verdict {
        let mut anomaly_types: Vec<String> = anomalies.iter().map(|a| a.kind.clone()).collect();
        anomaly_types.sort();
        anomaly_types.dedup();
        Verdict {
            valid,
            anomaly_types,
            anomalies,
            details,
        }
    }
}

/// Why a run stopped before it finished: the signal that stopped it and when.
///
/// An interrupted run was cut short — in its main phase, or while it waited
/// to recover or made its final reads — so it lacks (some of) its final
/// reads: its history cannot prove the database valid; it can still prove
/// it invalid.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Interruption {
    /// The signal (`SIGINT`, `SIGTERM`).
    pub signal: String,
    /// When it arrived, in seconds on the history's clock.
    pub at_s: f64,
}

impl std::fmt::Display for Interruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "interrupted by {} at {:.1} s: the run was cut short before its final reads were done",
            self.signal, self.at_s
        )
    }
}

/// The combined result of several checkers: what `results.json` and
/// `check --json` hold.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    /// The worst validity of all checkers (at best `unknown` when interrupted).
    pub valid: Validity,
    /// Every anomaly type any checker found, sorted.
    pub anomaly_types: Vec<String>,
    /// Set when the run was stopped early (before `checkers`, so readers of
    /// the head of `results.json` see it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Interruption>,
    /// Each checker's verdict by name.
    pub checkers: BTreeMap<String, Verdict>,
    /// Every fault window in which leadership moved, with its recovery time
    /// and recovery point (a measurement, not part of the verdict).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failovers: Vec<crate::recovery::Failover>,
}

impl Results {
    /// Combines named verdicts; no verdicts at all is `unknown` (nothing was checked).
    pub fn combine(verdicts: impl IntoIterator<Item = (String, Verdict)>) -> Results {
        let checkers: BTreeMap<String, Verdict> = verdicts.into_iter().collect();
        let valid = if checkers.is_empty() {
            Validity::Unknown
        } else {
            checkers
                .values()
                .fold(Validity::True, |acc, v| acc.and(v.valid))
        };
        let mut anomaly_types: Vec<String> = checkers
            .values()
            .flat_map(|v| v.anomaly_types.iter().cloned())
            .collect();
        anomaly_types.sort();
        anomaly_types.dedup();
        Results {
            valid,
            anomaly_types,
            interrupted: None,
            checkers,
            failovers: Vec::new(),
        }
    }

    /// The results of a run that `why` stopped early: an anomaly already
    /// proven stays `false`, anything else becomes `unknown` (what was not
    /// observed — the rest of the run, the final reads — cannot be vouched for).
    pub fn interrupted(mut self, why: Interruption) -> Results {
        if self.valid != Validity::False {
            self.valid = Validity::Unknown;
        }
        self.interrupted = Some(why);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anomaly(kind: &str) -> Anomaly {
        Anomaly {
            kind: kind.into(),
            ops: vec![1],
            explanation: String::new(),
            data: Json::Null,
        }
    }

    #[test]
    fn false_beats_unknown_beats_true() {
        let t = Verdict::from_anomalies(vec![], Json::Null);
        let u = Verdict::new(Validity::Unknown, vec![], Json::Null);
        let f = Verdict::from_anomalies(vec![anomaly("b"), anomaly("a"), anomaly("b")], Json::Null);
        assert_eq!(f.anomaly_types, vec!["a", "b"]);
        let r = Results::combine([("t".into(), t.clone()), ("u".into(), u.clone())]);
        assert_eq!(r.valid, Validity::Unknown);
        let r = Results::combine([("t".into(), t), ("u".into(), u), ("f".into(), f)]);
        assert_eq!(r.valid, Validity::False);
        assert_eq!(Results::combine([]).valid, Validity::Unknown);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["valid"], Json::Bool(false));
        assert_eq!(json["checkers"]["u"]["valid"], Json::from("unknown"));
        assert_eq!(json["anomaly_types"], serde_json::json!(["a", "b"]));
    }

    #[test]
    fn an_interrupted_run_is_at_best_unknown() {
        let why = Interruption {
            signal: "SIGINT".into(),
            at_s: 1.25,
        };
        let valid = Results::combine([("t".into(), Verdict::from_anomalies(vec![], Json::Null))]);
        let cut = valid.interrupted(why.clone());
        assert_eq!(cut.valid, Validity::Unknown);
        let bad = Results::combine([(
            "f".into(),
            Verdict::from_anomalies(vec![anomaly("a")], Json::Null),
        )]);
        assert_eq!(bad.interrupted(why.clone()).valid, Validity::False);
        let json = serde_json::to_string(&cut).unwrap();
        // Written before the checkers, where the store index reads it.
        let at = json.find("\"interrupted\"").unwrap();
        assert!(at < json.find("\"checkers\"").unwrap(), "{json}");
        assert!(json.contains("\"signal\":\"SIGINT\""), "{json}");
        assert!(why.to_string().contains("before its final reads were done"));
        let plain = serde_json::to_string(&Results::combine([])).unwrap();
        assert!(!plain.contains("interrupted"), "{plain}");
    }
}
