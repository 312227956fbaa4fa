//! Clock faults on a manifest's servers: refused when the shim cannot reach
//! them.
//!
//! faultline skews a node's wall clock by preloading its shim into the
//! server (see `faultline_nemesis::clock`) — only when a clock fault was
//! asked for; otherwise no server runs with it. A manifest can start anything,
//! including programs the shim cannot reach (a Go binary, a static one), and
//! a clock fault on those would be recorded and change nothing. So when
//! clock faults are asked for, the start command's program is checked before
//! the node starts ([`before_start`]), and once every node is ready, what
//! actually runs — the server process and its children — is checked for the
//! shim's presence ([`after_ready`]). Either refusal is one line, before the
//! run's first operation.

use std::path::Path;

use faultline_nemesis::reach;

/// What follows every refusal.
const HINT: &str = "the clock shim reaches only dynamically linked programs that read the clock through libc; run this target without clock faults";

/// A node's server that clock faults cannot skew, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("clock faults cannot skew {node}'s server: {why}; {HINT}")]
pub struct Unskewable {
    /// The node.
    pub node: String,
    /// Why the shim does not reach its server.
    pub why: String,
}

/// The program a start command runs (`exec`, `env` and `VAR=value`
/// prefixes skipped), if one can be told.
pub fn start_program(command: &str) -> Option<&str> {
    command
        .split_whitespace()
        .find(|w| !w.contains('=') && !matches!(*w, "exec" | "env" | "nohup" | "-i"))
}

/// Refuses node `node`'s server, started by the rendered `command` in `cwd`
/// with `path_var` as `PATH`, when its program is one the shim cannot reach.
pub fn before_start(
    node: &str,
    command: &str,
    cwd: &Path,
    path_var: &str,
) -> Result<(), Unskewable> {
    let Some(program) = start_program(command) else {
        return Ok(());
    };
    let Some(path) = reach::which(program, cwd, path_var) else {
        return Ok(()); // not found: the start itself will say so
    };
    match reach::unreachable(&path) {
        Some(why) => Err(Unskewable {
            node: node.to_owned(),
            why,
        }),
        None => Ok(()),
    }
}

/// Refuses node `node`'s running server (process `pid` and its children)
/// when any process of it runs without the shim.
pub fn after_ready(node: &str, pid: u32) -> Result<(), Unskewable> {
    reach::process_tree(pid).map_err(|why| Unskewable {
        node: node.to_owned(),
        why: why.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_of_a_start_command() {
        assert_eq!(start_program("etcd --name n1"), Some("etcd"));
        assert_eq!(
            start_program("GODEBUG=x=1 exec env -i /usr/bin/nats-server -c c"),
            Some("/usr/bin/nats-server")
        );
        assert_eq!(start_program("  "), None);
    }

    #[test]
    fn a_dynamic_program_passes_and_a_missing_one_is_left_to_the_start() {
        assert_eq!(
            before_start("n1", "sh -c 'x'", Path::new("/"), "/bin:/usr/bin"),
            Ok(())
        );
        assert_eq!(
            before_start("n1", "nonexistent-db", Path::new("/"), "/bin"),
            Ok(())
        );
        if Path::new("/usr/bin/etcd").is_file() {
            let e = before_start("n2", "etcd --data-dir x", Path::new("/"), "/usr/bin")
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(
                    "clock faults cannot skew n2's server: /usr/bin/etcd is a Go program"
                ),
                "{e}"
            );
        }
    }
}
