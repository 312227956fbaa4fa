//! Calibration: what a target's runs must find, and must not.
//!
//! A checker that never fires proves nothing, and one that always fires
//! proves less. Calibration holds faultline to what each target is known to
//! do: a [`Calibration`] case names a workload, the faults and the target's
//! options, says why (its `story`, from the mode's documented promise or a
//! published analysis), and lists [`Expect`]ations on the run's
//! `results.json`: an anomaly a checker must report, a checker (or all) that
//! must stay valid, stale reads that must or must not appear, and — where the
//! mode promises nothing under that fault — what the run *may* show, reported
//! but never judged, so a suite says "cannot promise" instead of skipping.
//!
//! Every target lists its own cases (`Kind::calibration`): refkv one per
//! replication mode and fault, each real database its options' known
//! behaviour. `faultline calibrate --target NAME` runs them on several seeds;
//! a case holds only if every judged expectation holds on every seed.

use serde_json::Value as Json;

/// What a case expects of one run's `results.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The checker (first) reports this anomaly kind (second).
    Found(&'static str, &'static str),
    /// The checker's verdict is valid.
    Valid(&'static str),
    /// Every checker's verdict is valid.
    AllValid,
    /// Some read missed a write acknowledged before it began.
    Stale,
    /// No read missed a write acknowledged before it began.
    NotStale,
    /// The mode cannot promise this anomaly's absence: report, do not judge
    /// (`stale` as the kind means stale reads).
    May(&'static str, &'static str),
}

/// One case: a run and what it must show.
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    /// Its name (`calibrate --case NAME`).
    pub name: &'static str,
    /// Why the expectation follows from the mode.
    pub story: &'static str,
    /// The workload.
    pub workload: &'static str,
    /// The faults, comma-separated (`none` for none).
    pub nemesis: &'static str,
    /// The target's options (`--db-opt` pairs).
    pub options: &'static [(&'static str, &'static str)],
    /// What the run must (or may) show.
    pub expect: &'static [Expect],
    /// In the short set (`calibrate` without `--full`).
    pub quick: bool,
    /// Seconds of the main phase (`None`: calibrate's default).
    pub time_limit: Option<f64>,
    /// Seconds between fault starts and stops (`None`: calibrate's default).
    pub nemesis_interval: Option<f64>,
}

/// Stale reads the staleness checker counted, if it ran.
fn stale_reads(r: &Json) -> Option<u64> {
    r["checkers"]["staleness"]["details"]["overall"]["stale_reads"].as_u64()
}

/// Whether `checker` reported an anomaly of `kind`.
fn has(r: &Json, checker: &str, kind: &str) -> bool {
    r["checkers"][checker]["anomalies"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x["type"] == kind))
}

impl Expect {
    /// Judges this expectation on a run's results: `Some(held)`, or `None`
    /// for [`Expect::May`] (reported only), with a line saying what was seen.
    pub fn judge(self, r: &Json) -> (Option<bool>, String) {
        match self {
            Expect::Found(c, t) => (Some(has(r, c, t)), format!("{c} finds {t}")),
            Expect::Valid(c) => (
                Some(r["checkers"][c]["valid"] == true),
                format!("{c} valid"),
            ),
            Expect::AllValid => (Some(r["valid"] == true), "every checker valid".into()),
            Expect::Stale => (
                Some(stale_reads(r).is_some_and(|n| n > 0)),
                format!("stale reads found ({})", stale_reads(r).unwrap_or(0)),
            ),
            Expect::NotStale => (
                Some(stale_reads(r) == Some(0)),
                format!("no stale read ({} found)", stale_reads(r).unwrap_or(0)),
            ),
            Expect::May(c, t) => {
                let seen = if t == "stale" {
                    stale_reads(r).is_some_and(|n| n > 0)
                } else {
                    has(r, c, t)
                };
                (
                    None,
                    format!(
                        "cannot promise: {c} {} {t}",
                        if seen { "found" } else { "did not find" }
                    ),
                )
            }
        }
    }
}

/// Judges every expectation of `case` on `results`: whether all judged ones
/// held, and one line per expectation (`NOT ...` for each that failed).
pub fn judge(case: &Calibration, results: &Json) -> (bool, Vec<String>) {
    let mut good = true;
    let lines = case
        .expect
        .iter()
        .map(|e| {
            let (verdict, line) = e.judge(results);
            if verdict == Some(false) {
                good = false;
                format!("NOT {line}")
            } else {
                line
            }
        })
        .collect();
    (good, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(text: &str) -> Json {
        serde_json::from_str(text).unwrap()
    }

    const CASE: Calibration = Calibration {
        name: "c",
        story: "s",
        workload: "set",
        nemesis: "none",
        options: &[],
        expect: &[
            Expect::Found("set", "lost-write"),
            Expect::NotStale,
            Expect::May("split-brain", "split-brain"),
        ],
        quick: true,
        time_limit: None,
        nemesis_interval: None,
    };

    #[test]
    fn a_case_holds_only_when_every_judged_expectation_does() {
        let found = results(
            r#"{"valid": false, "checkers": {"set": {"valid": false, "anomalies": [{"type": "lost-write"}]},
                "staleness": {"details": {"overall": {"stale_reads": 0}}}}}"#,
        );
        let (good, lines) = judge(&CASE, &found);
        assert!(good, "{lines:?}");
        assert_eq!(
            lines[2],
            "cannot promise: split-brain did not find split-brain"
        );

        let missing = results(
            r#"{"valid": true, "checkers": {"set": {"valid": true, "anomalies": []},
                "staleness": {"details": {"overall": {"stale_reads": 3}}}}}"#,
        );
        let (good, lines) = judge(&CASE, &missing);
        assert!(!good);
        assert_eq!(lines[0], "NOT set finds lost-write");
        assert_eq!(lines[1], "NOT no stale read (3 found)");
    }

    #[test]
    fn a_checker_that_did_not_run_is_not_a_pass() {
        let none = results(r#"{"valid": true, "checkers": {}}"#);
        assert_eq!(Expect::NotStale.judge(&none).0, Some(false));
        assert_eq!(Expect::Valid("linearizable").judge(&none).0, Some(false));
        assert_eq!(Expect::AllValid.judge(&none).0, Some(true));
    }
}
