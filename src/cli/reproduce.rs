//! A run's plan, complete, and the command line that reproduces it.
//!
//! Before a run starts its options are *pinned*: every default that depends
//! on the target is filled in (workload, faults, time limit), the seed and
//! the node list are fixed, a manifest target becomes the absolute path of
//! the manifest it named (not a name looked up on `FAULTLINE_TARGET_PATH`,
//! nor a path relative to the working directory), and every path option is
//! made absolute. The pinned options are what `test.json` stores (as JSON,
//! one field per option, keyed by the flag's name) and what the `reproduce:`
//! line spells out, so the line runs the same test from any directory, on the
//! same backend: an SSH run's line logs in to the same hosts the same way
//! (user, key, port, known_hosts), never silently falling back to local
//! namespaces.
//!
//! The line names the run's shape always (target, workload, time limit,
//! concurrency, keys, seed, nodes, faults, interval, rate, store) and every
//! other option only when it differs from its default. `--junit` is left
//! out: it names where a report was written, not what was tested.

use std::path::{Path, PathBuf};

use clap::Parser;
use faultline_harness::remote::shell_quote;
use faultline_targets::manifest::find;
use faultline_targets::refkv::config::Mode;

use super::args::{Cli, Command, TestArgs};
use super::cluster::TARGETS;
use super::exit::Failure;
use super::test::Resolved;

/// `faultline test`'s options when none is given.
pub fn defaults() -> TestArgs {
    match Cli::try_parse_from(["faultline", "test"]) {
        Ok(Cli {
            command: Command::Test(a),
            ..
        }) => a,
        // Cannot happen: `test` has no required option.
        _ => unreachable!("`faultline test` parses without options"),
    }
}

fn absolute(p: &Path) -> Result<PathBuf, Failure> {
    std::path::absolute(p).map_err(|e| Failure::bad(format!("{}: {e}", p.display())))
}

/// The manifest file `target` names, absolute; `None` for a built-in target
/// or a name that matches nothing (refused later).
pub fn manifest_path(target: &str) -> Result<Option<PathBuf>, Failure> {
    if TARGETS.contains(&target) && !find::is_path(target) {
        return Ok(None);
    }
    find::locate(target).map(|p| absolute(&p)).transpose()
}

/// The options the run really runs with (see the module documentation).
pub fn pinned(
    a: &TestArgs,
    r: &Resolved,
    seed: u64,
    nodes: &[String],
) -> Result<TestArgs, Failure> {
    let mut p = a.clone();
    if let Some(path) = manifest_path(&a.target)? {
        p.target = path.display().to_string();
    }
    p.workload = Some(r.workload.clone());
    p.time_limit = Some(r.time_limit);
    p.nemesis = if r.nemesis.iter().all(|n| n == "none") {
        vec!["none".to_owned()]
    } else {
        r.nemesis.clone()
    };
    p.seed = Some(seed);
    p.nodes = nodes.to_vec();
    p.store = absolute(&a.store)?;
    p.ssh_key = a.ssh_key.as_deref().map(absolute).transpose()?;
    p.known_hosts = a.known_hosts.as_deref().map(absolute).transpose()?;
    p.junit = a.junit.as_deref().map(absolute).transpose()?;
    if a.target != "refkv" {
        // Only refkv reads them.
        p.refkv = Mode::default();
    }
    Ok(p)
}

/// The arguments (after `faultline`) that run the pinned options `p` again.
pub fn argv(p: &TestArgs) -> Vec<String> {
    let d = defaults();
    let mut v: Vec<String> = Vec::new();
    let mut push = |flag: &str, value: String| {
        v.push(format!("--{flag}"));
        v.push(value);
    };
    push("target", p.target.clone());
    if let Some(w) = &p.workload {
        push("workload", w.clone());
    }
    if let Some(t) = p.time_limit {
        push("time-limit", t.to_string());
    }
    push("concurrency", p.concurrency.to_string());
    push("keys", p.keys.to_string());
    if let Some(s) = p.seed {
        push("seed", s.to_string());
    }
    if !p.nodes.is_empty() {
        push("nodes", p.nodes.join(","));
    }
    if !p.nemesis.is_empty() {
        push("nemesis", p.nemesis.join(","));
    }
    push("nemesis-interval", p.nemesis_interval.to_string());
    push("rate", p.rate.to_string());
    if p.op_timeout != d.op_timeout {
        push("op-timeout", p.op_timeout.to_string());
    }
    if p.recovery != d.recovery {
        push("recovery", p.recovery.to_string());
    }
    push("store", p.store.display().to_string());
    if let Some(u) = &p.ssh_user {
        push("ssh-user", u.clone());
    }
    if let Some(k) = &p.ssh_key {
        push("ssh-key", k.display().to_string());
    }
    if p.ssh_port != d.ssh_port {
        push("ssh-port", p.ssh_port.to_string());
    }
    if let Some(k) = &p.known_hosts {
        push("known-hosts", k.display().to_string());
    }
    for o in &p.db_opts {
        push("db-opt", o.clone());
    }
    if !p.checkers.is_empty() {
        push("checker", p.checkers.join(","));
    }
    if p.insecure_host_keys {
        v.push("--insecure-host-keys".into());
    }
    v.extend(p.refkv.changed_flags());
    let mut all = vec!["test".to_owned()];
    all.extend(v);
    all
}

/// The `faultline test ...` line for the pinned options `p`, quoted for `sh`.
pub fn line(p: &TestArgs) -> String {
    let words: Vec<String> = argv(p).iter().map(|w| shell_quote(w)).collect();
    format!("faultline {}", words.join(" "))
}

/// The pinned options as JSON: one field per option, named as its flag.
pub fn json(p: &TestArgs) -> serde_json::Value {
    let mut v = serde_json::to_value(p).unwrap_or_default();
    if p.target != "refkv" {
        if let Some(o) = v.as_object_mut() {
            o.remove("refkv");
        }
    }
    v
}

#[cfg(test)]
#[path = "reproduce_tests.rs"]
mod tests;
