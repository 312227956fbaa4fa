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

/// Runs `command` on this machine with `sh -c` and `env`; its output, or
/// one line saying why not.
pub fn run_here(
    command: &str,
    env: &[(String, String)],
    cwd: &std::path::Path,
) -> Result<String, String> {
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
    let out = out.map_err(|e| format!("sh: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        // Whatever the command said, on either stream, is why it failed.
        let (stdout, stderr) = (
            faultline_harness::remote::tail(&String::from_utf8_lossy(&out.stdout)),
            faultline_harness::remote::tail(&String::from_utf8_lossy(&out.stderr)),
        );
        let mut msg = format!(
            "`{command}` exited with {}",
            out.status.code().unwrap_or(-1)
        );
        if !stderr.is_empty() {
            msg.push_str(&format!(": {stderr}"));
        }
        if !stdout.is_empty() {
            msg.push_str(&format!("; stdout: {stdout}"));
        }
        Err(msg)
    }
}
