//! What a report is made from, and reading it from a run directory.
//!
//! A report needs a history (`history.jsonl.zst` or `history.jsonl`, read by faultline-history's own
//! reader) and the checkers' conclusions (`results.json`, the serialized
//! [`Results`]); `test.json` (the options and seed) is optional, because a
//! history checked offline has none. Node logs under `nodes/<node>/` are only
//! linked, never read.
//!
//! The invariant: bad input is a [`ReportError`] whose one-line message names
//! the file and what is wrong; nothing here panics on what a file contains.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use faultline_checkers::{Anomaly, Results, Validity, Verdict};
use faultline_history::{History, HistoryError};
use serde_json::Value as Json;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A required file is not there.
    #[error("{}: missing (a run directory needs a history (history.jsonl.zst or history.jsonl) and results.json)", .file.display())]
    Missing {
        /// The path looked for.
        file: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", .file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The history is malformed (the message names the file and line).
    #[error("malformed history: {0}")]
    History(#[from] HistoryError),
    /// `results.json` is not the JSON of a `Results`.
    #[error("{}: malformed results.json: {msg}", .file.display())]
    Results {
        /// The file.
        file: PathBuf,
        /// What was wrong.
        msg: String,
    },
}

/// Everything a report shows.
#[derive(Debug)]
pub struct ReportInput {
    /// The run's history.
    pub history: History,
    /// What the checkers concluded.
    pub results: Results,
    /// `test.json`: the options and seed, when the run has them.
    pub test: Option<Json>,
    /// Files to link, relative to the run directory (`history.jsonl`, node logs).
    pub files: Vec<String>,
    /// What the report is about (the run directory's name).
    pub title: String,
    /// Things worth saying that did not stop the report (a malformed test.json).
    pub warnings: Vec<String>,
}

impl ReportInput {
    /// A report input from parts made in code (tests, `faultline check`).
    pub fn new(history: History, results: Results) -> ReportInput {
        ReportInput {
            history,
            results,
            test: None,
            files: vec!["history.jsonl".to_owned()],
            title: "faultline run".to_owned(),
            warnings: Vec::new(),
        }
    }

    /// Reads `history.jsonl`, `results.json` and (if present) `test.json` from
    /// `run_dir`, and lists the node logs to link.
    pub fn load(run_dir: &Path) -> Result<ReportInput, ReportError> {
        let hpath = faultline_history::compressed::history_in(run_dir)
            .unwrap_or_else(|| run_dir.join("history.jsonl"));
        let rpath = run_dir.join("results.json");
        for p in [&hpath, &rpath] {
            if !p.is_file() {
                return Err(ReportError::Missing { file: p.clone() });
            }
        }
        let rtext = std::fs::read_to_string(&rpath).map_err(|source| ReportError::Io {
            file: rpath.clone(),
            source,
        })?;
        let results = parse_results(&rtext).map_err(|msg| ReportError::Results {
            file: rpath.clone(),
            msg,
        })?;
        let loaded = faultline_history::read_path(&hpath, None)?;
        let mut warnings = loaded.warnings;
        let tpath = run_dir.join("test.json");
        let test = match std::fs::read_to_string(&tpath) {
            Ok(t) => match serde_json::from_str::<Json>(&t) {
                Ok(j) if j.is_object() => Some(j),
                Ok(_) => {
                    warnings.push(format!("{}: not a JSON object; ignored", tpath.display()));
                    None
                }
                Err(e) => {
                    warnings.push(format!(
                        "{}: malformed JSON ({e}); ignored",
                        tpath.display()
                    ));
                    None
                }
            },
            Err(_) => None,
        };
        let title = run_dir
            .canonicalize()
            .unwrap_or_else(|_| run_dir.to_path_buf())
            .components()
            .rev()
            .take(2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        Ok(ReportInput {
            history: loaded.history,
            results,
            test,
            files: run_files(run_dir),
            title,
            warnings,
        })
    }
}

/// `history.jsonl`, `faultline.log` if present, and every `nodes/<node>/*.log`,
/// as paths relative to the run directory.
fn run_files(run_dir: &Path) -> Vec<String> {
    let history = faultline_history::compressed::history_in(run_dir)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "history.jsonl".to_owned());
    let mut files = vec![history, "results.json".to_owned()];
    for f in ["test.json", "faultline.log"] {
        if run_dir.join(f).is_file() {
            files.push(f.to_owned());
        }
    }
    let Ok(nodes) = std::fs::read_dir(run_dir.join("nodes")) else {
        return files;
    };
    let mut logs = Vec::new();
    for node in nodes.flatten() {
        let Ok(entries) = std::fs::read_dir(node.path()) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".log") && e.path().is_file() {
                logs.push(format!(
                    "nodes/{}/{name}",
                    node.file_name().to_string_lossy()
                ));
            }
        }
    }
    logs.sort();
    files.extend(logs);
    files
}

/// Parses the text of `results.json` into [`Results`].
pub fn parse_results(text: &str) -> Result<Results, String> {
    let j: Json = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let valid = validity(j.get("valid")).ok_or("`valid` must be true, false or \"unknown\"")?;
    let mut checkers = BTreeMap::new();
    let cs = j
        .get("checkers")
        .and_then(Json::as_object)
        .ok_or("`checkers` must be an object")?;
    for (name, v) in cs {
        checkers.insert(
            name.clone(),
            verdict(v).map_err(|m| format!("checker `{name}`: {m}"))?,
        );
    }
    let mut anomaly_types: Vec<String> = checkers
        .values()
        .flat_map(|v: &Verdict| v.anomaly_types.iter().cloned())
        .collect();
    anomaly_types.sort();
    anomaly_types.dedup();
    let interrupted = match j.get("interrupted") {
        None | Some(Json::Null) => None,
        Some(v) => {
            Some(serde_json::from_value(v.clone()).map_err(|e| format!("`interrupted`: {e}"))?)
        }
    };
    let failovers = match j.get("failovers") {
        None | Some(Json::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("`failovers`: {e}"))?,
    };
    Ok(Results {
        valid,
        anomaly_types,
        interrupted,
        checkers,
        failovers,
    })
}

fn validity(v: Option<&Json>) -> Option<Validity> {
    match v? {
        Json::Bool(true) => Some(Validity::True),
        Json::Bool(false) => Some(Validity::False),
        Json::String(s) if s == "unknown" => Some(Validity::Unknown),
        _ => None,
    }
}

fn verdict(v: &Json) -> Result<Verdict, String> {
    let valid = validity(v.get("valid")).ok_or("`valid` must be true, false or \"unknown\"")?;
    let mut anomalies = Vec::new();
    let list = match v.get("anomalies") {
        None | Some(Json::Null) => &[][..],
        Some(Json::Array(a)) => &a[..],
        Some(_) => return Err("`anomalies` must be a list".into()),
    };
    for (i, a) in list.iter().enumerate() {
        let kind = a
            .get("type")
            .and_then(Json::as_str)
            .ok_or_else(|| format!("anomaly {i}: `type` must be a string"))?;
        let ops = match a.get("ops") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(ops)) => ops
                .iter()
                .map(Json::as_u64)
                .collect::<Option<Vec<u64>>>()
                .ok_or_else(|| format!("anomaly {i}: `ops` must hold history indices"))?,
            Some(_) => return Err(format!("anomaly {i}: `ops` must be a list")),
        };
        anomalies.push(Anomaly {
            kind: kind.to_owned(),
            ops,
            explanation: a
                .get("explanation")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned(),
            data: a.get("data").cloned().unwrap_or(Json::Null),
        });
    }
    let details = v.get("details").cloned().unwrap_or(Json::Null);
    Ok(Verdict::new(valid, anomalies, details))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_round_trip_through_json() {
        let r = Results::combine([(
            "set".to_owned(),
            Verdict::from_anomalies(
                vec![Anomaly {
                    kind: "lost-write".into(),
                    ops: vec![3, 9],
                    explanation: "gone".into(),
                    data: serde_json::json!({"x": 1}),
                }],
                serde_json::json!({"summary": "s"}),
            ),
        )]);
        let back = parse_results(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back.valid, Validity::False);
        assert_eq!(back.anomaly_types, vec!["lost-write"]);
        assert_eq!(back.checkers["set"].anomalies[0].ops, vec![3, 9]);
        assert_eq!(back.checkers["set"].anomalies[0].data["x"], 1);
    }

    #[test]
    fn malformed_results_say_what_is_wrong() {
        for (text, want) in [
            ("{", "invalid JSON"),
            ("{\"valid\": 3}", "`valid` must be"),
            ("{\"valid\": true}", "`checkers` must be"),
            (
                "{\"valid\": true, \"checkers\": {\"a\": {\"valid\": true, \"anomalies\": [{\"type\": \"x\", \"ops\": [-1]}]}}}",
                "checker `a`: anomaly 0: `ops`",
            ),
        ] {
            let e = parse_results(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
