//! `faultline check-target FILE`: prove a manifest on its whole cluster
//! before the first test.
//!
//! The manifest is read (any mistake is one line naming the field), then
//! its cluster is built exactly as a test builds it — every node of its
//! default size, so a quorum database forms as it would in a test — and each
//! step is reported with its time as it finishes: install, network, files
//! and prepare, start, ready, form; then `[leaders]` (some node must name a
//! leader, and only node names count); then, for every workload the
//! manifest offers, a client is opened and the workload's probe runs
//! (writes, then reads that must see them: [`super::probes`]). The first
//! failing step ends the check with one line that names the step and ends
//! with the last lines of the node's `server.log`; the node files are kept
//! and the paths named exist. On success everything is torn down and
//! removed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use faultline_harness::runner::{generator, Outcome, Target};
use faultline_history::Value;
use faultline_targets::db::Steps;
use faultline_targets::manifest::ready::{log_tail, TAIL_LINES};
use faultline_targets::manifest::Manifest;
use faultline_targets::registry::{self, Registry};
use faultline_targets::Setup;

use super::exit::Failure;
use super::probes::script;

/// How long a client has to answer `open` or an operation.
const ANSWER: Duration = Duration::from_secs(10);

fn say(out: &mut dyn Write, line: &str) {
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn steps_done(out: &mut dyn Write, steps: &Steps) {
    for (what, took) in steps.take() {
        say(out, &format!("{what}: {:.1} s", took.as_secs_f64()));
    }
}

/// `; <node dir>/server.log ends: ...; node files kept in <dir>`.
fn kept_note(dir: &Path, node: Option<&str>) -> String {
    let log = node.map(|n| dir.join("nodes").join(n).join("server.log"));
    match log {
        Some(l) if l.is_file() => format!(
            "; {} ends: {}; files kept in {}",
            l.display(),
            log_tail(&l, TAIL_LINES),
            dir.display()
        ),
        _ => format!("; files kept in {}", dir.display()),
    }
}

/// Checks `file` and proves it on its whole cluster, reporting each step
/// to `out` as it finishes.
pub fn check_target(file: &Path, out: &mut dyn Write) -> Result<(), Failure> {
    let m = Manifest::load(file).map_err(Failure::bad)?;
    for w in &m.workloads {
        generator(w, 1)
            .map_err(|e| Failure::bad(format!("{}: field `workloads`: {e}", file.display())))?;
    }
    say(
        out,
        &format!(
            "manifest: {} — {} nodes; workloads {}; faults {}",
            m.name,
            m.nodes,
            m.workloads.join(", "),
            if m.faults.is_empty() {
                "none of its own".to_owned()
            } else {
                m.faults.keys().cloned().collect::<Vec<_>>().join(", ")
            }
        ),
    );
    let run = tempfile::Builder::new()
        .prefix("faultline-check-target-")
        .tempdir()
        .map_err(|e| Failure::bad(format!("a temporary directory: {e}")))?;
    let target = file.display().to_string();
    let nodes: Vec<String> = (1..=m.nodes).map(|i| format!("n{i}")).collect();
    let steps = Steps::default();
    let kind = Registry::builtin().find(&target).map_err(Failure::bad)?;
    let setup = registry::setup(
        kind.as_ref(),
        &Setup {
            target: &target,
            workload: &m.workloads[0],
            nodes: &nodes,
            faults: &[],
            run: run.path(),
            ssh: None,
            options: &[],
            steps: &steps,
        },
    );
    steps_done(out, &steps);
    let mut cluster = match setup {
        Ok(c) => c,
        Err(e) => {
            let kept = run.keep();
            return Err(Failure::bad(format!("{e}{}", kept_note(&kept, None))));
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")
        .map_err(Failure::Internal)?;
    let result = rt.block_on(prove(&m, &nodes, cluster.target.clone(), out));
    let clients_log = run.path().join("clients.log");
    let protocol: Vec<String> = std::fs::read_to_string(&clients_log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("protocol error"))
        .map(str::to_owned)
        .collect();
    let t = Instant::now();
    cluster.teardown();
    if let Err((e, node)) = result {
        let kept = run.keep();
        return Err(Failure::bad(format!(
            "{e}{}",
            kept_note(&kept, node.as_deref())
        )));
    }
    for p in protocol.iter().take(3) {
        say(out, &format!("client: {p}"));
    }
    if !protocol.is_empty() {
        let kept: PathBuf = run.keep();
        return Err(Failure::bad(format!(
            "the client broke the protocol ({} errors; {})",
            protocol.len(),
            kept.join("clients.log").display()
        )));
    }
    say(
        out,
        &format!("stopped and cleaned up: {:.1} s", t.elapsed().as_secs_f64()),
    );
    Ok(())
}

/// `[leaders]`, then every workload's probe; the error names the node
/// whose log to show.
async fn prove(
    m: &Manifest,
    nodes: &[String],
    target: Arc<dyn Target>,
    out: &mut dyn Write,
) -> Result<(), (String, Option<String>)> {
    if m.leaders.is_some() {
        let t = Instant::now();
        let limit = Duration::from_secs_f64(m.ready.timeout);
        loop {
            let seen = target.primaries().await.unwrap_or(Value::Null);
            let mut named = Vec::new();
            let mut said = Vec::new();
            if let Value::Map(by_node) = &seen {
                for n in nodes {
                    match by_node.iter().find(|(k, _)| **k == **n) {
                        Some((_, l)) if l.as_list().is_some_and(|l| !l.is_empty()) => {}
                        Some(_) => said.push(format!("{n} names none")),
                        None => said.push(format!("{n}'s command failed")),
                    }
                }
                for (node, leaders) in by_node.iter() {
                    for l in leaders.as_list().unwrap_or_default() {
                        let l = l.as_str().unwrap_or_default();
                        if !nodes.iter().any(|n| n == l) {
                            return Err((
                                format!(
                                    "leaders: `[leaders] command` on {node} printed {l:?}, which is not a node name ({})",
                                    nodes.join(", ")
                                ),
                                None,
                            ));
                        }
                        named.push(format!("{node} names {l}"));
                    }
                }
            }
            if !named.is_empty() {
                named.extend(said);
                say(
                    out,
                    &format!(
                        "leaders: {}: {:.1} s",
                        named.join(", "),
                        t.elapsed().as_secs_f64()
                    ),
                );
                break;
            }
            if t.elapsed() >= limit {
                return Err((
                    format!(
                        "leaders: no node named a leader within {} s (`[leaders] command` printed no node name on any node, or failed)",
                        limit.as_secs_f64()
                    ),
                    None,
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let node = &nodes[0];
    for w in &m.workloads {
        let t = Instant::now();
        let fail = |e: String| (format!("{w}: {e}"), Some(node.clone()));
        let tw = target.with_workload(w).unwrap_or_else(|| target.clone());
        let mut c = tokio::time::timeout(ANSWER, tw.open(node))
            .await
            .map_err(|_| {
                fail(format!(
                    "the client did not answer `open` on {node} within 10 s"
                ))
            })?
            .map_err(|e| fail(format!("open: {e}")))?;
        let mut said = vec![format!("opened {node}")];
        let mut before = Vec::new();
        for step in script(w) {
            let op = &step.op;
            let done = tokio::time::timeout(ANSWER, c.invoke(op))
                .await
                .map_err(|_| fail(format!("the client did not answer {} within 10 s", op.f)))?;
            let v = match done.outcome {
                Outcome::Ok(v) => v,
                Outcome::Fail(e) => {
                    c.close().await;
                    return Err(fail(format!("{} {} → fail: {e}", op.f, op.value)));
                }
                Outcome::Info(e) => {
                    c.close().await;
                    return Err(fail(format!("{} {} → info: {e}", op.f, op.value)));
                }
            };
            if let Err(why) = (step.judge)(&v, &before) {
                c.close().await;
                return Err(fail(format!(
                    "{}; {} {} → ok {v}: {why}",
                    said.join("; "),
                    op.f,
                    op.value
                )));
            }
            said.push(format!("{} {} → ok {v}", op.f, op.value));
            before.push(v);
        }
        c.close().await;
        say(
            out,
            &format!(
                "{w}: {}: {:.1} s",
                said.join("; "),
                t.elapsed().as_secs_f64()
            ),
        );
    }
    Ok(())
}
