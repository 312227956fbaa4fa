//! A manifest's `[membership]`: the `membership` fault through commands the
//! database's author writes.
//!
//! Removing node N runs `remove` on this machine (typically: ask another
//! member to drop N from the configuration), then stops N's server and
//! wipes its `data/` — unless `keep_running`, which leaves the removed
//! server up until it is added back, as a decommissioned machine nobody shut
//! down. Adding N back stops its server, wipes `data/`, runs `start.prepare`
//! again on the node, runs `add` on this machine (typically: ask a member to
//! add N, and leave in N's directory whatever its start command reads to
//! join an existing cluster), starts the server and waits for `[ready]`.
//! Adding a node that was never removed does nothing.
//!
//! Commands see the template variables of node N, the `FAULTLINE_OPT_*`
//! options, `FAULTLINE_NODE`, `FAULTLINE_NODE_ADDR`, `FAULTLINE_PEERS`
//! (every node, `n1=10.77.0.11,...`) and `FAULTLINE_MEMBERS` (the members
//! after the change, the same way).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::shell_quote;
use faultline_harness::runner::NemesisError;
use faultline_history::Value;
use faultline_nemesis::membership::Membership;

use super::env::{exports, run_here, vars};
use super::ready::{self, Probe};
use super::spec::{Manifest, MembershipSpec};
use super::template::render;
use crate::db::{empty_dir_command, DbNode};

/// Membership changes of a manifest's cluster.
pub struct ManifestMembership {
    m: Manifest,
    spec: MembershipSpec,
    nodes: Vec<DbNode>,
    daemons: Vec<Arc<Daemon>>,
    probes: Vec<Probe>,
    env: Vec<(String, String)>,
    removed: Mutex<BTreeSet<usize>>,
}

impl ManifestMembership {
    /// The changes `spec` describes, over the running cluster: its nodes,
    /// their servers and readiness probes, in node order; `env`, the options.
    pub fn new(
        m: Manifest,
        spec: MembershipSpec,
        nodes: Vec<DbNode>,
        daemons: Vec<Arc<Daemon>>,
        probes: Vec<Probe>,
        env: Vec<(String, String)>,
    ) -> ManifestMembership {
        ManifestMembership {
            m,
            spec,
            nodes,
            daemons,
            probes,
            env,
            removed: Mutex::new(BTreeSet::new()),
        }
    }

    fn index(&self, node: &str) -> Result<usize, NemesisError> {
        self.nodes
            .iter()
            .position(|n| n.name == node)
            .ok_or_else(|| NemesisError::Cannot(format!("no node {node}")))
    }

    fn removed(&self) -> std::sync::MutexGuard<'_, BTreeSet<usize>> {
        self.removed.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn list(&self, which: impl Fn(usize) -> bool) -> String {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| which(*i))
            .map(|(_, n)| format!("{}={}", n.name, n.addr))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Runs `template` here for node `i`; `members`, the members after the
    /// change. Returns its last line of output.
    fn run(
        &self,
        field: &str,
        template: &str,
        i: usize,
        members: String,
    ) -> Result<Value, NemesisError> {
        let out = self.output(field, template, i, members)?;
        let last = out
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Ok(Value::str(last.trim()))
    }

    /// Runs `template` here for node `i`; its whole output.
    fn output(
        &self,
        field: &str,
        template: &str,
        i: usize,
        members: String,
    ) -> Result<String, NemesisError> {
        let cmd = render(template, &vars(&self.m, &self.nodes, i, None));
        let mut env = self.env.clone();
        env.push(("FAULTLINE_NODE".into(), self.nodes[i].name.clone()));
        env.push(("FAULTLINE_NODE_ADDR".into(), self.nodes[i].addr.clone()));
        env.push(("FAULTLINE_PEERS".into(), self.list(|_| true)));
        env.push(("FAULTLINE_MEMBERS".into(), members));
        run_here(&cmd, &env, &self.m.dir).map_err(|e| NemesisError::Failed(format!("{field}: {e}")))
    }

    /// Stops node `i`'s server and empties its data directory.
    fn stop_and_wipe(&self, i: usize) -> Result<(), NemesisError> {
        let n = &self.nodes[i];
        self.daemons[i].stop(Duration::from_secs(5))?;
        n.remote.run(&empty_dir_command(&n.dir.join("data")))?;
        Ok(())
    }
}

impl Membership for ManifestMembership {
    fn remove(&self, node: &str) -> Result<Value, NemesisError> {
        let i = self.index(node)?;
        let members = {
            let removed = self.removed();
            self.list(|j| j != i && !removed.contains(&j))
        };
        let out = self.run("membership.remove", &self.spec.remove, i, members)?;
        self.removed().insert(i);
        if !self.spec.keep_running {
            self.stop_and_wipe(i)?;
        }
        Ok(out)
    }

    fn add(&self, node: &str) -> Result<Value, NemesisError> {
        let i = self.index(node)?;
        if !self.removed().contains(&i) {
            return Ok(Value::str("already a member"));
        }
        self.stop_and_wipe(i)?;
        let n = &self.nodes[i];
        let env = exports(&self.env);
        if let Some(p) = &self.m.start.prepare {
            let v = vars(&self.m, &self.nodes, i, None);
            let dir = shell_quote(&n.dir.display().to_string());
            n.remote
                .run(&format!("cd {dir} && {env}{}", render(p, &v)))
                .map_err(|e| NemesisError::Failed(format!("start.prepare: {e}")))?;
        }
        let members = {
            let removed = self.removed();
            self.list(|j| j == i || !removed.contains(&j))
        };
        let out = self.run("membership.add", &self.spec.add, i, members)?;
        self.daemons[i].start()?;
        ready::wait_all(
            std::slice::from_ref(n),
            std::slice::from_ref(&self.daemons[i]),
            std::slice::from_ref(&self.probes[i]),
            Duration::from_secs_f64(self.m.ready.timeout),
        )
        .map_err(|e| NemesisError::Failed(e.to_string()))?;
        self.removed().remove(&i);
        Ok(out)
    }

    fn members(&self) -> Result<Vec<String>, NemesisError> {
        let Some(c) = &self.spec.members else {
            let removed = self.removed();
            return Ok(self
                .nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| !removed.contains(i))
                .map(|(_, n)| n.name.clone())
                .collect());
        };
        let out = self.output("membership.members", c, 0, String::new())?;
        Ok(out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }
}
