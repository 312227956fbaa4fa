//! What a manifest's commands see: the template variables of a node, the
//! `--db-opt` options as `FAULTLINE_OPT_*` environment variables, and how a
//! command runs on this machine (the controller).

use faultline_harness::remote::shell_quote;

use super::spec::Manifest;
use super::template::Vars;
use crate::db::{DbNode, DbOptions};

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
    for p in nodes {
        v.peer(&p.name, &p.addr);
    }
    v.me = Some(i);
    v
}

/// A command on this machine that could not run, or failed.
#[derive(Debug, thiserror::Error)]
pub enum HereError {
    /// `sh` could not be started.
    #[error("sh: {0}")]
    Shell(#[source] std::io::Error),
    /// The command exited with a failure status; what it said on either
    /// stream is why.
    #[error("`{command}` exited with {status}{}{}",
        if stderr.is_empty() { String::new() } else { format!(": {stderr}") },
        if stdout.is_empty() { String::new() } else { format!("; stdout: {stdout}") })]
    Failed {
        /// The command.
        command: String,
        /// Its exit status (-1 when killed by a signal).
        status: i32,
        /// The end of its standard output.
        stdout: String,
        /// The end of its standard error.
        stderr: String,
    },
}

/// Runs `command` on this machine with `sh -c` and `env`; its output, or
/// one line saying why not.
pub fn run_here(
    command: &str,
    env: &[(String, String)],
    cwd: &std::path::Path,
) -> Result<String, HereError> {
    let started = std::time::Instant::now();
    let out = faultline_harness::remote::own_session(
        std::process::Command::new("sh").arg("-c").arg(command),
    )
    .envs(env.iter().cloned())
    .current_dir(cwd)
    .stdin(std::process::Stdio::null())
    .output();
    match &out {
        Ok(o) => {
            let status = Ok(o.status.code().unwrap_or(-1));
            faultline_harness::remote::logged::local(
                "controller",
                command,
                started,
                status,
                &String::from_utf8_lossy(&o.stderr),
            );
        }
        Err(e) => faultline_harness::remote::logged::local(
            "controller",
            command,
            started,
            Err(&e.to_string()),
            "",
        ),
    }
    let out = out.map_err(HereError::Shell)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(HereError::Failed {
            command: command.to_owned(),
            status: out.status.code().unwrap_or(-1),
            stdout: faultline_harness::remote::tail(&String::from_utf8_lossy(&out.stdout)),
            stderr: faultline_harness::remote::tail(&String::from_utf8_lossy(&out.stderr)),
        })
    }
}
