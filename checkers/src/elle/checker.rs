//! The `elle` checker: from transactions to a verdict under a consistency model.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use faultline_history::History;
use serde_json::{json, Value as Json};

use super::cycles::{self, Cycle};
use super::explain::{hop, kind_label};
use super::graph::{PROCESS, REALTIME};
use super::inference::{Finding, Inferred};
use super::models::{prohibits, MODELS};
use super::order::{process_edges, realtime_edges};
use super::txn::{parse, Txns};
use super::{list_append, rw_register};
use crate::checker::{CheckError, Checker, ConfigError};
use crate::shared::Shared;
use crate::verdict::{Anomaly, Validity, Verdict};

/// Examples of each anomaly type kept in the result.
const EXAMPLES: usize = 8;

/// Which transactional workload the history comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnWorkload {
    /// `[append k v]` and `[r k list]`.
    ListAppend,
    /// `[w k v]` and `[r k v]`.
    RwRegister,
}

/// Options of the Elle checker.
#[derive(Clone, Debug)]
pub struct ElleOptions {
    /// The consistency model the history must satisfy.
    pub model: String,
    /// Budget for the cycle search; running out makes the verdict unknown.
    pub time_limit: Option<Duration>,
}

impl Default for ElleOptions {
    fn default() -> ElleOptions {
        ElleOptions {
            model: "strict-serializable".into(),
            time_limit: None,
        }
    }
}

/// Checks transactional isolation, in the manner of Elle.
pub struct Elle {
    workload: TxnWorkload,
    opts: ElleOptions,
}

impl Elle {
    /// A checker for `workload` under `opts`; the model must be one of [`MODELS`].
    pub fn new(workload: TxnWorkload, opts: ElleOptions) -> Result<Elle, ConfigError> {
        if !MODELS.contains(&opts.model.as_str()) {
            return Err(ConfigError::UnknownConsistencyModel {
                name: opts.model.clone(),
                known: MODELS.join(", "),
            });
        }
        Ok(Elle { workload, opts })
    }
}

impl Checker for Elle {
    fn name(&self) -> &'static str {
        "elle"
    }

    fn check(&self, history: &History) -> Result<Verdict, CheckError> {
        let deadline = self.opts.time_limit.map(|t| Instant::now() + t);
        self.judge(&parse(history)?, deadline)
    }

    /// The transactions are parsed once for every checker that reads them.
    fn check_shared(&self, shared: &Shared<'_>) -> Result<Verdict, CheckError> {
        let deadline = self.opts.time_limit.map(|t| Instant::now() + t);
        self.judge(shared.txns()?, deadline)
    }
}

impl Elle {
    /// The verdict on `txns`, the cycle search ending at `deadline`.
    fn judge(&self, txns: &Txns<'_>, deadline: Option<Instant>) -> Result<Verdict, CheckError> {
        let Inferred {
            mut edges,
            findings,
            reasons,
        } = match self.workload {
            TxnWorkload::ListAppend => list_append::infer(txns),
            TxnWorkload::RwRegister => rw_register::infer(txns),
        };
        // Only the orders the model speaks of: process order for session
        // models, real time for strict serializability.
        let extra = extra_orders(&self.opts.model);
        if extra & PROCESS != 0 {
            edges.extend(process_edges(&txns.txns));
        }
        if extra & REALTIME != 0 {
            edges.extend(realtime_edges(&txns.txns));
        }
        let graph = super::graph::Graph::new(txns.txns.len(), edges);
        let (cycles, timed_out) = match cycles::find(&graph, extra, deadline) {
            Ok(c) => (c, false),
            Err(c) => (c, true),
        };

        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut anomalies = Vec::new();
        for f in findings {
            let n = counts.entry(f.kind.to_owned()).or_default();
            *n += 1;
            if *n <= EXAMPLES {
                anomalies.push(finding(txns, f));
            }
        }
        let reasons = if cycles.is_empty() {
            super::inference::Reasons::default()
        } else {
            reasons()
        };
        for c in &cycles {
            *counts.entry(c.name.clone()).or_default() += 1;
            anomalies.push(cycle(txns, &reasons, c));
        }
        if timed_out {
            counts.insert("cycle-search-timeout".into(), 1);
            anomalies.push(Anomaly {
                kind: "cycle-search-timeout".into(),
                ops: Vec::new(),
                explanation:
                    "the cycle search ran out of time before it finished; cycles may remain unfound"
                        .into(),
                data: Json::Null,
            });
        }
        let mut ruled_out = serde_json::Map::new();
        for m in MODELS {
            let proofs: Vec<&String> = counts.keys().filter(|a| prohibits(m, a)).collect();
            if !proofs.is_empty() {
                ruled_out.insert((*m).to_owned(), json!(proofs));
            }
        }
        let violated = counts.keys().any(|a| prohibits(&self.opts.model, a));
        let valid = if violated {
            Validity::False
        } else if timed_out {
            Validity::Unknown
        } else {
            Validity::True
        };
        let details = json!({
            "consistency_model": self.opts.model,
            "txns": txns.txns.len(),
            "edges": graph.edge_count(),
            "anomaly_counts": counts,
            "not": ruled_out.keys().collect::<Vec<_>>(),
            "ruled_out_by": ruled_out,
        });
        Ok(Verdict::new(valid, anomalies, details))
    }
}

/// The edge kinds beyond data dependencies that `model` constrains.
fn extra_orders(model: &str) -> u8 {
    match model {
        "strict-serializable" => PROCESS | REALTIME,
        "strong-session-serializable"
        | "read-your-writes"
        | "monotonic-reads"
        | "monotonic-writes"
        | "writes-follow-reads" => PROCESS,
        _ => 0,
    }
}

fn finding(t: &Txns, f: Finding) -> Anomaly {
    let names: Vec<String> = f
        .txns
        .iter()
        .map(|&i| format!("T{}", t.txns[i as usize].index))
        .collect();
    Anomaly {
        kind: f.kind.to_owned(),
        ops: f.txns.iter().map(|&i| t.txns[i as usize].index).collect(),
        explanation: format!("{}: {}", names.join(", "), f.text),
        data: f.data,
    }
}

fn cycle(t: &Txns, reasons: &super::inference::Reasons, c: &Cycle) -> Anomaly {
    let steps: Vec<String> = c
        .hops
        .iter()
        .map(|&(a, b, k)| hop(t, reasons, a, b, k))
        .collect();
    let first = format!("T{}", t.txns[c.hops[0].0 as usize].index);
    Anomaly {
        kind: c.name.clone(),
        ops: c
            .hops
            .iter()
            .map(|&(a, _, _)| t.txns[a as usize].index)
            .collect(),
        explanation: format!(
            "{} cycle: {}; so {first} would have to precede itself.",
            c.name,
            steps.join("; ")
        ),
        data: json!({
            "cycle": c.hops.iter().zip(&steps).map(|(&(a, b, k), why)| json!({
                "from": t.txns[a as usize].index,
                "to": t.txns[b as usize].index,
                "kind": kind_label(k),
                "why": why,
            })).collect::<Vec<_>>(),
        }),
    }
}
