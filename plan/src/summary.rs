//! What a finished run says to the person who ran it.

use faultline_checkers::Validity;
use faultline_harness::runner::RunOutcome;

use crate::Run;

impl Run {
    /// The summary printed on stdout: the checkers' verdicts, the counts, the
    /// nodes that exited on their own, the verdict, where the files are, and
    /// — when not valid — the line that reproduces the run.
    pub fn summary(&self) -> String {
        let dir = self.dir.display();
        let mut out = faultline_reports::summary(&self.results, &dir.to_string());
        let o = &self.outcome;
        let ops_per_s = o.ops as f64 / o.main.as_secs_f64().max(1e-9);
        out.push_str(&format!(
            "{} ops in {:.1} s ({:.0} ops/s), {}{}{}\n",
            o.ops,
            o.main.as_secs_f64(),
            ops_per_s,
            faults_said(o),
            if o.interrupted { ", interrupted" } else { "" },
            if o.finals_failed > 0 {
                format!(", {} final reads never succeeded", o.finals_failed)
            } else {
                String::new()
            }
        ));
        for x in &self.exits {
            out.push_str(&format!("{}\n", x.sentence()));
        }
        for e in o.nemesis_errors.iter().take(5) {
            out.push_str(&format!("nemesis error: {e}\n"));
        }
        out.push_str(&match self.results.valid {
            Validity::True => "verdict: valid — no anomaly found\n".to_owned(),
            Validity::False => format!(
                "verdict: INVALID — found {}\n",
                self.results.anomaly_types.join(", ")
            ),
            Validity::Unknown if self.interrupted.is_some() => {
                "verdict: unknown — interrupted before the run finished\n".to_owned()
            }
            Validity::Unknown => "verdict: unknown — the checkers could not decide\n".to_owned(),
        });
        out.push_str(&format!(
            "results: {dir}/results.json  history: {dir}/history.jsonl.zst  node logs: {dir}/nodes/\n"
        ));
        out.push_str(&match &self.report {
            Ok(path) => format!("report: {}\n", path.display()),
            Err(e) => format!("report: not written: {e}\n"),
        });
        if self.results.valid != Validity::True {
            out.push_str(&format!("reproduce: {}\n", self.reproduce));
        }
        out
    }

    /// Warnings for standard error: split-brain could not judge the run (no
    /// leader was ever observed, or writes in a window with several leaders
    /// name no node that acknowledged them).
    pub fn warnings(&self) -> Vec<String> {
        self.results
            .checkers
            .get("split-brain")
            .filter(|v| v.valid == Validity::Unknown)
            .and_then(|v| v.details.get("reason").and_then(|r| r.as_str()))
            .map(|r| format!("warning: split-brain could not be judged: {r}"))
            .into_iter()
            .collect()
    }
}

/// `3 faults (1 failed part-way), 2 not injected`: the faults that took
/// effect, and the attempts that changed nothing (no fault, no window).
pub(crate) fn faults_said(o: &RunOutcome) -> String {
    let mut s = format!("{} faults", o.faults);
    if o.partial > 0 {
        s.push_str(&format!(" ({} failed part-way)", o.partial));
    }
    if o.not_injected > 0 {
        s.push_str(&format!(", {} not injected", o.not_injected));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checkers::{Results, Verdict};

    #[test]
    fn the_summary_counts_only_faults_that_took_effect() {
        let o = |faults, partial, not_injected| RunOutcome {
            faults,
            partial,
            not_injected,
            ..RunOutcome::default()
        };
        assert_eq!(faults_said(&o(3, 0, 0)), "3 faults");
        assert_eq!(faults_said(&o(0, 0, 4)), "0 faults, 4 not injected");
        assert_eq!(
            faults_said(&o(5, 1, 2)),
            "5 faults (1 failed part-way), 2 not injected"
        );
    }

    fn run_with(results: Results) -> Run {
        Run {
            dir: "/tmp/x".into(),
            plan: crate::Plan::default(),
            target: "refkv".into(),
            results,
            outcome: RunOutcome::default(),
            interrupted: None,
            exits: Vec::new(),
            reproduce: "faultline test".into(),
            report: Err("not built".into()),
            elapsed: Default::default(),
        }
    }

    #[test]
    fn an_unjudged_split_brain_is_a_warning() {
        let unknown = Verdict::new(
            Validity::Unknown,
            vec![],
            serde_json::json!({"reason": "3 `primaries` observations, none of which named a leader"}),
        );
        let r = run_with(Results::combine([("split-brain".to_string(), unknown)]));
        assert_eq!(
            r.warnings(),
            ["warning: split-brain could not be judged: 3 `primaries` observations, none of which named a leader"]
        );
        assert!(r.summary().contains("reproduce: faultline test"));
        let valid = Verdict::from_anomalies(vec![], serde_json::Value::Null);
        let r = run_with(Results::combine([("split-brain".to_string(), valid)]));
        assert!(r.warnings().is_empty());
        assert!(!r.summary().contains("reproduce:"));
    }
}
