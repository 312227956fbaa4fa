//! `faultline new-target NAME` and `faultline check-target FILE`: the two
//! steps of adding a database without writing Rust.
//!
//! `new-target` writes a commented manifest and a Python client skeleton
//! that already run (the placeholder "database" is a static HTTP server and
//! the client answers `fail` for everything), so `check-target` passes on
//! them before the first edit and each edit can be checked on its own.
//! `check-target` reads the manifest (any mistake is one line naming the
//! field), then starts one node in a namespace exactly as a test would —
//! install, files, prepare, start, ready, form — opens one client, performs
//! one operation of the first workload, reports each step and tears down.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use faultline_harness::runner::{generator, Outcome, Rng};
use faultline_targets::manifest::Manifest;
use faultline_targets::refkv::config::Mode;

use super::cluster::{setup, Plan};
use super::exit::Failure;

const MANIFEST: &str = include_str!("skeleton/manifest.toml");
const CLIENT: &str = include_str!("skeleton/client.py");

/// Writes `DIR/NAME/NAME.toml` and `DIR/NAME/client.py`; returns what it wrote.
pub fn new_target(name: &str, dir: &Path) -> Result<String, Failure> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Failure::bad(format!(
            "target name {name:?}: use letters, digits, - or _"
        )));
    }
    let home = dir.join(name);
    let manifest = home.join(format!("{name}.toml"));
    let client = home.join("client.py");
    for p in [&manifest, &client] {
        if p.exists() {
            return Err(Failure::bad(format!(
                "{} exists; not overwriting it",
                p.display()
            )));
        }
    }
    std::fs::create_dir_all(&home)
        .with_context(|| format!("create {}", home.display()))
        .map_err(|e| Failure::bad(format!("{e:#}")))?;
    for (p, text) in [(&manifest, MANIFEST), (&client, CLIENT)] {
        std::fs::write(p, text.replace("NAME", name))
            .with_context(|| format!("write {}", p.display()))
            .map_err(|e| Failure::bad(format!("{e:#}")))?;
    }
    Ok(format!(
        "wrote {}\nwrote {}\nnext: edit them, then `faultline check-target {}`\n",
        manifest.display(),
        client.display(),
        manifest.display()
    ))
}

/// Checks `file` and starts one node of it; returns the report.
pub fn check_target(file: &Path) -> Result<String, Failure> {
    let m = Manifest::load(file).map_err(Failure::bad)?;
    let mut out = format!(
        "manifest: {} — workloads {}; faults {}\n",
        m.name,
        m.workloads.join(", "),
        if m.faults.is_empty() {
            "none of its own".to_owned()
        } else {
            m.faults.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    );
    let workload = m.workloads[0].clone();
    let mut gen = generator(&workload, 1)
        .map_err(|e| Failure::bad(format!("{}: field `workloads`: {e}", file.display())))?;
    for w in &m.workloads[1..] {
        generator(w, 1)
            .map_err(|e| Failure::bad(format!("{}: field `workloads`: {e}", file.display())))?;
    }
    let run = tempfile::Builder::new()
        .prefix("faultline-check-target-")
        .tempdir()
        .map_err(|e| Failure::bad(format!("a temporary directory: {e}")))?;
    let target = file.display().to_string();
    let nodes = vec!["n1".to_owned()];
    let t0 = Instant::now();
    let mut cluster = match setup(&Plan {
        target: &target,
        workload: &workload,
        nodes: &nodes,
        nemesis: &[],
        run: run.path(),
        ssh: None,
        mode: &Mode::default(),
        db_opts: &[],
    }) {
        Ok(c) => c,
        Err(e) => {
            let kept = run.keep();
            let log = kept.join("nodes/n1/server.log");
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let last = tail
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            return Err(Failure::bad(format!(
                "{e}; node files kept in {} (server.log ends: {last})",
                kept.join("nodes/n1").display()
            )));
        }
    };
    out.push_str(&format!(
        "n1: installed, configured, started and ready in {:.1} s\n",
        t0.elapsed().as_secs_f64()
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")
        .map_err(Failure::Internal)?;
    let op = gen.next(&mut Rng::new(1));
    let t = cluster.target.clone();
    let result: Result<String, String> = rt.block_on(async move {
        let mut c = tokio::time::timeout(Duration::from_secs(10), t.open("n1"))
            .await
            .map_err(|_| "the client did not answer `open` within 10 s".to_owned())??;
        let done = tokio::time::timeout(Duration::from_secs(10), c.invoke(&op))
            .await
            .map_err(|_| format!("the client did not answer {} within 10 s", op.f))?;
        c.close().await;
        Ok(match done.outcome {
            Outcome::Ok(v) => format!("{} {} → ok {}", op.f, op.value, v),
            Outcome::Fail(e) => format!("{} {} → fail: {e}", op.f, op.value),
            Outcome::Info(e) => format!("{} {} → info: {e}", op.f, op.value),
        })
    });
    let clients_log = run.path().join("clients.log");
    let protocol: Vec<String> = std::fs::read_to_string(&clients_log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("protocol error"))
        .map(str::to_owned)
        .collect();
    cluster.teardown();
    match result {
        Ok(line) => out.push_str(&format!("client: opened n1; {line}\n")),
        Err(e) => return Err(Failure::bad(format!("client: {e}"))),
    }
    for p in protocol.iter().take(3) {
        out.push_str(&format!("client: {p}\n"));
    }
    out.push_str("stopped and cleaned up\n");
    if !protocol.is_empty() {
        return Err(Failure::bad(format!(
            "{out}the client broke the protocol ({} errors)",
            protocol.len()
        )));
    }
    Ok(out)
}
