//! A manifest as a [`Db`]: the generic database driven by its manifest.
//!
//! Setup follows the manifest in order, on every node through its
//! [`Remote`] (a namespace here or an SSH host): make the node's directory
//! and `data/`, run `start.prepare`, write the `[[file]]` templates, start
//! `start.command` in the foreground as the harness's child (its output in
//! `server.log`), wait for `[ready]`, then run `[form]` once. Everything the
//! runner and nemeses need comes back in the [`DbCluster`]: the JSON-lines
//! client target, the servers (with the manifest's stop/kill/pause
//! overrides), leader discovery, the manifest's own faults, and the logs.
//!
//! Options given with `--db-opt key=value` reach every command, the files'
//! environment and the clients as `FAULTLINE_OPT_<KEY>` (upper case, `-` as
//! `_`), so a manifest can switch behaviour (semi-synchronous replication...)
//! without faultline knowing what the option means.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::daemon::{wait_port, Controls, Daemon};
use faultline_harness::remote::{own_session, shell_quote, Remote, Signal, Spawn};

use super::client::{ClientLog, JsonlTarget, LeadersByNode};
use super::faults::ManifestNemesis;
use super::spec::{FormOn, Manifest};
use super::template::{render, Vars};
use crate::db::{apt_script, Db, DbCluster, DbNode, DbOptions, Leaders};

/// The database a manifest describes.
pub struct ManifestDb {
    /// The manifest.
    pub manifest: Manifest,
}

/// The environment carrying `--db-opt` options.
pub fn option_env(opts: &DbOptions) -> Vec<(String, String)> {
    opts.extra
        .iter()
        .map(|(k, v)| {
            let key: String = k
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            (format!("FAULTLINE_OPT_{key}"), v.clone())
        })
        .collect()
}

/// `export K=V; ` for each pair.
pub fn exports(env: &[(String, String)]) -> String {
    env.iter()
        .map(|(k, v)| format!("export {k}={}; ", shell_quote(v)))
        .collect()
}

/// The template variables of node `i` (leader: `leader`, if known).
pub fn vars(m: &Manifest, nodes: &[DbNode], i: usize, leader: Option<usize>) -> Vars {
    let mut v = Vars::default();
    let n = &nodes[i];
    let l = &nodes[leader.unwrap_or(0)];
    v.set("node", n.name.clone())
        .set("addr", n.addr.clone())
        .set("index", (i + 1).to_string())
        .set("id", (i + 1).to_string())
        .set("dir", n.dir.display().to_string())
        .set("data", n.dir.join("data").display().to_string())
        .set(
            "nodes",
            nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        )
        .set(
            "addrs",
            nodes
                .iter()
                .map(|n| n.addr.as_str())
                .collect::<Vec<_>>()
                .join(","),
        )
        .set(
            "peers",
            nodes
                .iter()
                .map(|n| format!("{}={}", n.name, n.addr))
                .collect::<Vec<_>>()
                .join(","),
        )
        .set("first", nodes[0].name.clone())
        .set("first_addr", nodes[0].addr.clone())
        .set("manifest_dir", m.dir.display().to_string())
        .set("leader", l.name.clone())
        .set("leader_addr", l.addr.clone());
    v
}

/// Runs `command` on this machine with `sh -c` and `env`; its output, or
/// one line saying why not.
pub fn run_here(
    command: &str,
    env: &[(String, String)],
    cwd: &std::path::Path,
) -> Result<String, String> {
    let out = own_session(std::process::Command::new("sh").arg("-c").arg(command))
        .envs(env.iter().cloned())
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("sh: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_owned();
        Err(format!(
            "`{command}` exited with {}: {last}",
            out.status.code().unwrap_or(-1)
        ))
    }
}

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

    /// Waits until node `i` is ready, as `[ready]` says.
    fn wait_ready(&self, n: &DbNode, v: &Vars, env: &str) -> Result<(), String> {
        let m = &self.manifest;
        let limit = Duration::from_secs_f64(m.ready.timeout);
        let log = n.dir.join("server.log");
        if let Some(port) = m.ready.port {
            let addr: SocketAddr = format!("{}:{port}", n.addr)
                .parse()
                .map_err(|e| format!("{}: address {}: {e}", n.name, n.addr))?;
            return wait_port(addr, limit)
                .map_err(|e| format!("{} not ready: {e} (see {})", n.name, log.display()));
        }
        let cmd = format!(
            "{env}{}",
            render(m.ready.command.as_deref().unwrap_or("true"), v)
        );
        let until = Instant::now() + limit;
        loop {
            if n.remote.exec(&cmd).is_ok_and(|o| o.status == 0) {
                return Ok(());
            }
            if Instant::now() >= until {
                return Err(format!(
                    "{} not ready within {limit:?}: `ready.command` never succeeded (see {})",
                    n.name,
                    log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
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
    fn name(&self) -> &str {
        &self.manifest.name
    }

    fn workloads(&self) -> Vec<&str> {
        self.manifest.workloads.iter().map(String::as_str).collect()
    }

    fn own_faults(&self) -> Vec<String> {
        self.manifest.faults.keys().cloned().collect()
    }

    fn packages(&self) -> Vec<&str> {
        self.manifest
            .install
            .apt
            .iter()
            .map(String::as_str)
            .collect()
    }

    fn install_script(&self) -> String {
        let i = &self.manifest.install;
        let mut s = apt_script(&self.packages());
        // apt_script ends by exiting; run it in a subshell so more can follow.
        s = format!("( {s} ) || exit $?; ");
        if !i.pip.is_empty() {
            let pkgs: Vec<String> = i.pip.iter().map(|p| shell_quote(p)).collect();
            s.push_str(&format!(
                "pip3 install -q --break-system-packages {} >/dev/null || exit $?; ",
                pkgs.join(" ")
            ));
        }
        for c in &i.commands {
            s.push_str(&format!("( {c} ) || exit $?; "));
        }
        s.push_str("true");
        s
    }

    fn setup(&self, nodes: &[DbNode], opts: &DbOptions) -> Result<DbCluster, String> {
        let m = &self.manifest;
        let opt_env = option_env(opts);
        let env = exports(&opt_env);
        let mut daemons = Vec::new();
        let mut logs = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            let v = vars(m, nodes, i, None);
            let dir = shell_quote(&n.dir.display().to_string());
            n.remote
                .run(&format!("mkdir -p {dir}/data"))
                .map_err(|e| format!("{}: {e}", n.name))?;
            if let Some(p) = &m.start.prepare {
                n.remote
                    .run(&format!("cd {dir} && {env}{}", render(p, &v)))
                    .map_err(|e| format!("{}: start.prepare: {e}", n.name))?;
            }
            self.write_files(n, &v)
                .map_err(|e| format!("{}: {e}", n.name))?;
            let mut spawn_env: Vec<(String, String)> = m
                .start
                .env
                .iter()
                .map(|(k, t)| (k.clone(), render(t, &v)))
                .collect();
            spawn_env.extend(opt_env.iter().cloned());
            if let Some(clock) = opts.clock_env.get(i) {
                spawn_env.extend(clock.iter().cloned());
            }
            let log = n.dir.join("server.log");
            let d = Arc::new(
                Daemon::new(
                    n.remote.clone(),
                    Spawn {
                        argv: vec![
                            "sh".into(),
                            "-c".into(),
                            format!("exec {}", render(&m.start.command, &v)),
                        ],
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
        for (i, n) in nodes.iter().enumerate() {
            self.wait_ready(n, &vars(m, nodes, i, None), &env)?;
        }
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
                    run_here(&cmd, &opt_env, &m.dir).map(|_| ())
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
                r.map_err(|e| format!("form on {}: {e}", nodes[i].name))?;
            }
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
            let f: LeadersByNode = Arc::new(move || {
                cmds.iter()
                    .filter_map(|(name, r, cmd)| {
                        let out = r.exec(cmd).ok().filter(|o| o.status == 0)?;
                        let named: Vec<String> = out
                            .stdout
                            .lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(str::to_owned)
                            .collect();
                        Some((name.clone(), named))
                    })
                    .collect()
            });
            f
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
        let nemesis = (!m.faults.is_empty()).then(|| {
            let n: Arc<dyn faultline_harness::runner::Nemesis> = Arc::new(ManifestNemesis::new(
                m.clone(),
                nodes.to_vec(),
                daemons.clone(),
                leaders.clone(),
                opt_env.clone(),
            ));
            n
        });
        Ok(DbCluster {
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
