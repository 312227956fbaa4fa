//! One node's Patroni, and the PostgreSQL server it starts, as one daemon.
//!
//! Patroni starts the postmaster through a launcher that calls `setsid()`
//! and exits, so the server runs in a session of its own, outside Patroni's
//! process group, and PostgreSQL puts each backend in a session of its own:
//! signalling Patroni's group (what a plain [`Daemon`] does) would crash or
//! freeze Patroni and leave its PostgreSQL serving — a primary with nobody to
//! demote it. So each node gets a small control script, `<node dir>/ctl.sh`,
//! that signals Patroni's group, the postmaster (found from `postmaster.pid`,
//! checked to be a `postgres` process) and the postmaster's children,
//! and the daemon's kill, pause, resume and stop run it. The invariant: a
//! node fault hits the node's database as a whole — `kill` crashes Patroni
//! and PostgreSQL together, `pause` freezes both (a stall longer than the
//! TTL), and teardown leaves neither running.

use std::path::Path;
use std::sync::Arc;

use faultline_harness::daemon::{Controls, Daemon};
use faultline_harness::remote::{shell_quote, Remote, Spawn};

use crate::postgres::node::{PgNode, AS_POSTGRES};

/// The control script of a node whose directory is `dir` and whose data
/// directory is `data`: `ctl.sh kill|pause|resume|stop`.
pub fn ctl_script(dir: &Path, data: &Path) -> String {
    let pidfile = shell_quote(&dir.join("patroni.pid").display().to_string());
    let pmfile = shell_quote(&data.join("postmaster.pid").display().to_string());
    format!(
        "#!/bin/sh
# faultline: signals this node's Patroni (its process group) and the
# PostgreSQL server it started.
pat=$(cat {pidfile} 2>/dev/null)
pm=$(head -n 1 {pmfile} 2>/dev/null)
if [ -z \"$pm\" ] || [ \"$(ps -o comm= -p \"$pm\" 2>/dev/null)\" != postgres ]; then pm=; fi
# Patroni's group; then the postmaster, frozen first so it forks nothing
# new, and its children (each in a session of its own), listed before the
# postmaster dies and they are handed to init.
sig() {{
  [ -n \"$pat\" ] && kill -\"$1\" -\"$pat\" 2>/dev/null
  if [ -n \"$pm\" ]; then
    [ \"$1\" != CONT ] && kill -STOP \"$pm\" 2>/dev/null
    kill -\"$1\" $(pgrep -P \"$pm\") \"$pm\" 2>/dev/null
  fi
  true
}}
case \"$1\" in
  kill) sig KILL ;;
  pause) sig STOP ;;
  resume) sig CONT ;;
  stop) sig CONT; sig KILL ;;
esac
true
"
    )
}

/// Writes node `n`'s control script and Patroni configuration `yaml`.
pub fn write_files(n: &PgNode, yaml: &str) -> Result<(), String> {
    let dir = &n.dir;
    let ctl = shell_quote(&dir.join("ctl.sh").display().to_string());
    let conf = shell_quote(&dir.join("patroni.yml").display().to_string());
    n.remote
        .run(&format!(
            "printf %s {} > {ctl} && chmod 755 {ctl} && printf %s {} > {conf} && chmod 644 {conf}",
            shell_quote(&ctl_script(dir, &n.data)),
            shell_quote(yaml),
        ))
        .map(|_| ())
        .map_err(|e| format!("write the configuration of {}: {e}", n.name))
}

/// Node `n`'s Patroni (`patroni <dir>/patroni.yml` as user `postgres`),
/// with the clock shim's `env` if any; its faults act through `ctl.sh`.
pub fn daemon(n: &PgNode, env: Option<Vec<(String, String)>>) -> Daemon {
    let mut argv: Vec<String> = AS_POSTGRES.iter().map(|s| s.to_string()).collect();
    argv.push("patroni".into());
    argv.push(n.dir.join("patroni.yml").display().to_string());
    let ctl = |verb: &str| {
        Some(format!(
            "sh {} {verb}",
            shell_quote(&n.dir.join("ctl.sh").display().to_string())
        ))
    };
    let remote: Arc<dyn Remote> = n.remote.clone();
    Daemon::new(
        remote,
        Spawn {
            argv,
            env: env.unwrap_or_default(),
            log: n.log.clone(),
            cwd: Some(n.dir.clone()),
        },
    )
    .with_pidfile(n.dir.join("patroni.pid"))
    .with_controls(Controls {
        stop_command: ctl("stop"),
        kill_command: ctl("kill"),
        pause_command: ctl("pause"),
        resume_command: ctl("resume"),
        ..Controls::default()
    })
}

/// Stops (kills) every node's Patroni and PostgreSQL: for a setup that
/// failed half-way.
pub fn stop_all(daemons: &[Arc<Daemon>]) {
    for d in daemons {
        let _ = d.stop(std::time::Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_signals_patroni_the_postmaster_and_its_children() {
        let s = ctl_script(Path::new("/r/n1"), Path::new("/r/n1/data"));
        assert!(s.contains("cat /r/n1/patroni.pid"));
        assert!(s.contains("head -n 1 /r/n1/data/postmaster.pid"));
        assert!(s.contains("kill -\"$1\" $(pgrep -P \"$pm\") \"$pm\""));
        assert!(s.contains("kill) sig KILL"));
        // dash's kill takes no `--`: a negative pid follows the signal.
        assert!(s.contains("kill -\"$1\" -\"$pat\""));
        assert!(s.contains("stop) sig CONT; sig KILL"));
    }
}
