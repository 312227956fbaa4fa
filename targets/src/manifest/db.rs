//! A manifest as a [`Db`]: the generic database driven by its manifest.
//!
//! Setup follows the manifest in order, on every node through its
//! [`Remote`] (a namespace here or an SSH host): make the node's directory
//! and `data/`, write the `[[file]]` templates, run `start.prepare` (which
//! may read them), start `start.command` in the foreground as the harness's
//! child (its output in `server.log`), wait for `[ready]` on every node (see
//! [`super::ready`]: a server that exits fails the wait at once), then run
//! `[form]` once. Everything the
//! runner and nemeses need comes back in the [`DbCluster`]: the JSON-lines
//! client target, the servers (with the manifest's stop/kill/pause
//! overrides), leader discovery, the manifest's own faults (and the
//! `membership` fault when it has `[membership]`, see [`super::membership`]),
//! and the logs.
//!
//! Options given with `--db-opt key=value` reach every command, the files'
//! environment and the clients as `FAULTLINE_OPT_<KEY>` (upper case, `-` as
//! `_`), so a manifest can switch behaviour (semi-synchronous replication...)
//! without faultline knowing what the option means.

use crate::about::ClockShim;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::daemon::{Controls, Daemon};
use faultline_harness::remote::{shell_quote, Remote, Signal, Spawn};
use faultline_harness::runner::{Composed, Nemesis};
use faultline_harness::Fault;
use faultline_nemesis::membership::MembershipNemesis;

use super::client::{ClientLog, JsonlTarget, LeadersByNode};
use super::faults::ManifestNemesis;
use super::install;
use super::membership::ManifestMembership;
use super::ready::{self, Probe};
use super::skew;
use super::spec::{FormOn, Manifest};
use super::template::{render, Vars};
use crate::about::{Defaults, Help};
use crate::db::{apt_script, Db, DbCluster, DbError, DbNode, DbOptions, Leaders};

/// The database a manifest describes.
pub struct ManifestDb {
    /// The manifest.
    pub manifest: Manifest,
}

use super::env::{exports, option_env, run_here, vars};

fn signal(name: &Option<String>) -> Option<Signal> {
    name.as_deref().and_then(Signal::from_name)
}

impl ManifestDb {
    fn controls(&self, v: &Vars, env: &str) -> Controls {
        let m = &self.manifest;
        let cmd = |c: &Option<String>| c.as_ref().map(|c| format!("{env}{}", render(c, v)));
        Controls {
            stop_signal: m.stop.as_ref().and_then(|a| signal(&a.signal)),
            stop_command: m.stop.as_ref().and_then(|a| cmd(&a.command)),
            kill_signal: m.kill.as_ref().and_then(|a| signal(&a.signal)),
            kill_command: m.kill.as_ref().and_then(|a| cmd(&a.command)),
            pause_command: m.pause.as_ref().and_then(|p| cmd(&p.command)),
            resume_command: m.pause.as_ref().and_then(|p| cmd(&p.resume_command)),
        }
    }

    /// How node `n` is probed for readiness.
    fn probe(&self, n: &DbNode, v: &Vars, env: &str) -> Result<Probe, String> {
        let m = &self.manifest;
        Ok(match m.ready.port {
            Some(port) => Probe::Port(
                format!("{}:{port}", n.addr)
                    .parse()
                    .map_err(|e| format!("{}: address {}: {e}", n.name, n.addr))?,
            ),
            None => Probe::Command(format!(
                "{env}{}",
                render(m.ready.command.as_deref().unwrap_or("true"), v)
            )),
        })
    }

    /// Writes, prepares, starts and readies every node, then forms the
    /// cluster; what it started is in `daemons` even when it fails.
    fn bring_up(
        &self,
        nodes: &[DbNode],
        opts: &DbOptions,
        daemons: &mut Vec<Arc<Daemon>>,
        logs: &mut Vec<(usize, std::path::PathBuf)>,
    ) -> Result<(), String> {
        let m = &self.manifest;
        let opt_env = option_env(opts);
        let env = exports(&opt_env);
        // The shim is preloaded only when a clock fault was asked for.
        let clock = opts.clock_env.iter().any(|e| !e.is_empty());
        let names = nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let mut t = Instant::now();
        let mut prepared = Duration::ZERO;
        for (i, n) in nodes.iter().enumerate() {
            let v = vars(m, nodes, i, None);
            let dir = shell_quote(&n.dir.display().to_string());
            n.remote
                .run(&format!("mkdir -p {dir}/data"))
                .map_err(|e| format!("{}: {e}", n.name))?;
            self.write_files(n, &v)
                .map_err(|e| format!("{}: {e}", n.name))?;
            if let Some(p) = &m.start.prepare {
                n.remote
                    .run(&format!("cd {dir} && {env}{}", render(p, &v)))
                    .map_err(|e| format!("{}: start.prepare: {e}", n.name))?;
            }
            prepared += t.elapsed();
            t = Instant::now();
            let mut spawn_env: Vec<(String, String)> = m
                .start
                .env
                .iter()
                .map(|(k, t)| (k.clone(), render(t, &v)))
                .collect();
            spawn_env.extend(opt_env.iter().cloned());
            if let Some(shim) = opts.clock_env.get(i) {
                spawn_env.extend(shim.iter().cloned());
            }
            let command = render(&m.start.command, &v);
            if clock {
                let path_var = m
                    .start
                    .env
                    .get("PATH")
                    .map(|p| render(p, &v))
                    .or_else(|| std::env::var("PATH").ok())
                    .unwrap_or_default();
                skew::before_start(&n.name, &command, &n.dir, &path_var)
                    .map_err(|e| e.to_string())?;
            }
            let log = n.dir.join("server.log");
            let d = Arc::new(
                Daemon::new(
                    n.remote.clone(),
                    Spawn {
                        argv: vec!["sh".into(), "-c".into(), format!("exec {command}")],
                        env: spawn_env,
                        log: log.clone(),
                        cwd: Some(n.dir.clone()),
                    },
                )
                .with_pidfile(n.dir.join("server.pid"))
                .with_controls(self.controls(&v, &env)),
            );
            d.start()
                .map_err(|e| format!("start {} on {}: {e}", m.name, n.name))?;
            daemons.push(d);
            logs.push((i, log));
            for l in &m.logs {
                logs.push((i, std::path::PathBuf::from(render(l, &v))));
            }
        }
        let steps = &opts.steps;
        steps.done(
            format!(
                "files{} on {names}",
                if m.start.prepare.is_some() {
                    " and prepare"
                } else {
                    ""
                }
            ),
            prepared,
        );
        steps.done(format!("started {names}"), t.elapsed());
        t = Instant::now();
        let probes = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| self.probe(n, &vars(m, nodes, i, None), &env))
            .collect::<Result<Vec<_>, _>>()?;
        ready::wait_all(
            nodes,
            daemons,
            &probes,
            Duration::from_secs_f64(m.ready.timeout),
        )
        .map_err(|e| e.to_string())?;
        let how = match m.ready.port {
            Some(p) => format!("port {p}"),
            None => "ready.command".into(),
        };
        steps.done(format!("ready: {names} ({how})"), t.elapsed());
        if clock {
            t = Instant::now();
            for (n, d) in nodes.iter().zip(daemons.iter()) {
                if let Some(pid) = d.pid() {
                    skew::after_ready(&n.name, pid).map_err(|e| e.to_string())?;
                }
            }
            steps.done("clock shim loaded by every server", t.elapsed());
        }
        t = Instant::now();
        if let Some(form) = &m.form {
            let targets: Vec<usize> = match form.on {
                FormOn::First | FormOn::Controller => vec![0],
                FormOn::Others => (1..nodes.len()).collect(),
                FormOn::Each => (0..nodes.len()).collect(),
            };
            for i in targets {
                let v = vars(m, nodes, i, None);
                let cmd = render(&form.command, &v);
                let r = if form.on == FormOn::Controller {
                    run_here(&cmd, &opt_env, &m.dir)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                } else {
                    nodes[i]
                        .remote
                        .run(&format!(
                            "cd {} && {env}{cmd}",
                            shell_quote(&nodes[i].dir.display().to_string())
                        ))
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                };
                r.map_err(|e| {
                    format!(
                        "form on {}: {e}{}",
                        nodes[i].name,
                        ready::server_log_note(&nodes[i])
                    )
                })?;
            }
            let on = match form.on {
                FormOn::First => "the first node",
                FormOn::Others => "the others",
                FormOn::Each => "each node",
                FormOn::Controller => "this machine",
            };
            steps.done(format!("form on {on}"), t.elapsed());
        }
        Ok(())
    }

    /// Writes node `i`'s files.
    fn write_files(&self, n: &DbNode, v: &Vars) -> Result<(), String> {
        for (k, f) in self.manifest.files.iter().enumerate() {
            let path = std::path::PathBuf::from(render(&f.path, v));
            let text = render(f.content.as_deref().unwrap_or(""), v);
            let tmp = tempfile::NamedTempFile::new().map_err(|e| format!("file[{k}]: {e}"))?;
            std::fs::write(tmp.path(), text).map_err(|e| format!("file[{k}]: {e}"))?;
            n.remote
                .upload(tmp.path(), &path)
                .map_err(|e| format!("file[{k}] {}: {e}", path.display()))?;
        }
        Ok(())
    }
}

impl Db for ManifestDb {
    fn clock_shim(&self) -> ClockShim {
        ClockShim::AtStart("each server's program is checked before it starts and its processes once running; a Go or statically linked program is refused".into())
    }

    fn name(&self) -> &str {
        &self.manifest.name
    }

    fn workloads(&self) -> Vec<&str> {
        self.manifest.workloads.iter().map(String::as_str).collect()
    }

    fn own_faults(&self) -> Vec<Fault> {
        // Checked to be fault names when the manifest was read.
        let mut own: Vec<Fault> = self
            .manifest
            .faults
            .keys()
            .filter_map(|n| Fault::parse(n).ok())
            .collect();
        if self.manifest.membership.is_some() {
            own.push(Fault::Membership);
        }
        own
    }

    fn summary(&self) -> String {
        if self.manifest.description.is_empty() {
            "a target manifest".into()
        } else {
            self.manifest.description.clone()
        }
    }

    fn defaults(&self) -> Defaults {
        // Its first workload under its own faults, on its own node count.
        Defaults {
            workload: self.manifest.workloads[0].clone(),
            nemesis: self.manifest.faults.keys().cloned().collect(),
            time_limit: 30.0,
            nodes: self.manifest.nodes,
        }
    }

    fn options(&self) -> Option<Vec<Help>> {
        // Any key reaches its commands as FAULTLINE_OPT_<KEY>.
        None
    }

    fn fault_help(&self, fault: &str) -> String {
        if fault == "membership" && self.manifest.membership.is_some() {
            return "removes a node with the manifest's [membership] remove, adds it back empty with add".into();
        }
        match self.manifest.faults.get(fault) {
            Some(f) if f.kill_leader => {
                "kills the leader's server first (the manifest's own fault)".into()
            }
            Some(_) => "the manifest's own fault".into(),
            None => String::new(),
        }
    }

    fn packages(&self) -> Vec<&str> {
        self.manifest
            .install
            .apt
            .iter()
            .map(String::as_str)
            .collect()
    }

    fn install_note(&self) -> String {
        let i = &self.manifest.install;
        let mut parts = Vec::new();
        if !i.apt.is_empty() {
            parts.push(format!("apt {}", i.apt.join(" ")));
        }
        if !i.pip.is_empty() {
            parts.push(format!(
                "pip {} into {} (the client's Python)",
                i.pip.join(" "),
                install::pip_python(&self.manifest)
            ));
        }
        if !i.commands.is_empty() {
            parts.push(format!("{} commands", i.commands.len()));
        }
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join("; ")
        }
    }

    fn install_script(&self) -> String {
        let i = &self.manifest.install;
        let mut s = apt_script(&self.packages());
        // apt_script ends by exiting; run it in a subshell so more can follow.
        s = format!("( {s} ) || exit $?; ");
        if !i.pip.is_empty() {
            s.push_str(&install::pip_script(
                &install::pip_python(&self.manifest),
                &i.pip,
            ));
        }
        for c in &i.commands {
            s.push_str(&format!("( {c} ) || exit $?; "));
        }
        s.push_str("true");
        s
    }

    fn setup(&self, nodes: &[DbNode], opts: &DbOptions) -> Result<DbCluster, DbError> {
        let m = &self.manifest;
        let opt_env = option_env(opts);
        let env = exports(&opt_env);
        let mut daemons = Vec::new();
        let mut logs = Vec::new();
        if let Err(e) = self.bring_up(nodes, opts, &mut daemons, &mut logs) {
            // Whatever started is stopped: a failed setup leaves nothing running.
            for d in &daemons {
                let _ = d.stop(Duration::from_secs(2));
            }
            return Err(e.into());
        }
        let by_node: Option<LeadersByNode> = m.leaders.as_ref().map(|l| {
            let cmds: Vec<(String, Arc<dyn Remote>, String)> = nodes
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    (
                        n.name.clone(),
                        n.remote.clone(),
                        format!("{env}{}", render(&l.command, &vars(m, nodes, i, None))),
                    )
                })
                .collect();
            super::leaders::by_node(cmds)
        });
        let leaders: Option<Leaders> = by_node.clone().map(|f| {
            let l: Leaders = Arc::new(move || {
                let mut all: Vec<String> = f().into_iter().flat_map(|(_, l)| l).collect();
                all.sort();
                all.dedup();
                all
            });
            l
        });
        let mut target = JsonlTarget::new(
            &m.name,
            render(&m.client.command, &vars(m, nodes, 0, None)),
            m.dir.clone(),
            &opts.workload,
        );
        target.env = opt_env.clone();
        target.nodes = nodes
            .iter()
            .map(|n| (n.name.clone(), n.addr.clone()))
            .collect();
        target.log = ClientLog::open(&opts.run_dir.join("clients.log"));
        target.leaders_by_node = by_node;
        target.replica_reads = m.client.replica_reads;
        let mut parts: Vec<Arc<dyn Nemesis>> = Vec::new();
        if !m.faults.is_empty() {
            parts.push(Arc::new(ManifestNemesis::new(
                m.clone(),
                nodes.to_vec(),
                daemons.clone(),
                leaders.clone(),
                opt_env.clone(),
            )));
        }
        if let Some(spec) = &m.membership {
            // The same probes setup waited on (so they were built once already).
            let probes = match nodes
                .iter()
                .enumerate()
                .map(|(i, n)| self.probe(n, &vars(m, nodes, i, None), &env))
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(p) => p,
                Err(e) => {
                    for d in &daemons {
                        let _ = d.stop(Duration::from_secs(2));
                    }
                    return Err(e.into());
                }
            };
            let changes = ManifestMembership::new(
                m.clone(),
                spec.clone(),
                nodes.to_vec(),
                daemons.clone(),
                probes,
                opt_env.clone(),
            );
            parts.push(Arc::new(MembershipNemesis::new(
                nodes.iter().map(|n| n.name.clone()).collect(),
                Arc::new(changes),
            )));
        }
        let nemesis: Option<Arc<dyn Nemesis>> = match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Arc::new(Composed(parts))),
        };
        Ok(DbCluster {
            restart: None,
            target: Arc::new(target),
            daemons,
            sidecars: Vec::new(),
            leaders,
            skewable: true,
            nemesis,
            logs,
        })
    }
}
