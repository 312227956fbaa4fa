//! The command line that runs a pinned plan again.
//!
//! The line names the run's shape always (target, workload, time limit,
//! concurrency, keys, seed, nodes, faults, interval, rate, store) and every
//! other choice only when it differs from its default, so it runs the same
//! test from any directory, on the same backend: an SSH run's line logs in
//! to the same hosts the same way (user, key, port, known_hosts), never
//! silently falling back to local namespaces. Target options — refkv's mode
//! included — are written as `--db-opt key=value`.

use faultline_harness::remote::shell_quote;

use crate::Plan;

/// The arguments (after `faultline`) that run the pinned plan `p` again.
pub fn argv(p: &Plan) -> Vec<String> {
    let d = Plan::default();
    let mut v: Vec<String> = vec!["test".into()];
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
    if let Some(n) = &p.nemesis {
        push(
            "nemesis",
            if n.is_empty() {
                "none".to_owned()
            } else {
                faultline_harness::fault::names(n)
            },
        );
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
    let mut insecure = false;
    if let Some(s) = &p.ssh {
        push("ssh-user", s.user.clone());
        if let Some(k) = &s.key {
            push("ssh-key", k.display().to_string());
        }
        if s.port != 22 {
            push("ssh-port", s.port.to_string());
        }
        if let Some(k) = &s.known_hosts {
            push("known-hosts", k.display().to_string());
        }
        insecure = s.insecure_host_keys;
    }
    for (k, val) in &p.options {
        push("db-opt", format!("{k}={val}"));
    }
    if !p.checkers.is_empty() {
        push("checker", p.checkers.join(","));
    }
    if insecure {
        v.push("--insecure-host-keys".into());
    }
    v
}

/// The `faultline test ...` line for the pinned plan `p`, quoted for `sh`.
pub fn line(p: &Plan) -> String {
    let words: Vec<String> = argv(p).iter().map(|w| shell_quote(w)).collect();
    format!("faultline {}", words.join(" "))
}
