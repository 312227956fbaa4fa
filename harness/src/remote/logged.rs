//! What the harness did to a node, on record in `faultline.log`.
//!
//! Every command a backend runs on a node or host — through [`Remote`], or
//! directly on this machine for the network and the packet rules — is logged
//! here once, when it ends: where it ran, the command, its exit status and how
//! long it took (and, when it failed, the end of its standard error). Backends
//! call these helpers from their own `exec`/`spawn`/`upload`/`download`, so
//! nothing that reaches a node goes unlogged, whichever code asked for it.
//!
//! Commands are `debug` (a run issues hundreds); starting a daemon and
//! signalling one are `info`, because they change what the cluster is. The
//! library only emits `tracing` events: the binary decides where they go.
//!
//! [`Remote`]: super::Remote

use std::time::Instant;

use super::output::{Output, RemoteError};

/// At most this many characters of a command are logged (scripts can be long).
const SHOWN: usize = 600;

/// A command as one log line: whitespace runs (newlines too) become one space,
/// and long scripts are cut with a note of their length.
pub fn one_line(command: &str) -> String {
    let mut s = command.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > SHOWN {
        let total = s.chars().count();
        s = s.chars().take(SHOWN).collect();
        s.push_str(&format!(" … ({total} characters)"));
    }
    s
}

/// The last non-empty line of `text`, trimmed.
fn last_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("")
}

fn ms(started: Instant) -> String {
    format!("{:.1}", started.elapsed().as_secs_f64() * 1e3)
}

/// Logs a command run on `node` that started at `started`.
pub fn exec(node: &str, command: &str, started: Instant, result: &Result<Output, RemoteError>) {
    match result {
        Ok(out) if out.status == 0 => tracing::debug!(
        target: "faultline::remote",
            node,
            status = 0,
            ms = %ms(started),
            "exec `{}`",
            one_line(command)
        ),
        Ok(out) => {
            let stderr = last_line(&out.stderr);
            let stdout = last_line(&out.stdout);
            tracing::debug!(
            target: "faultline::remote",
                    node,
                    status = out.status,
                    ms = %ms(started),
                    stderr,
                    stdout,
                    "exec `{}`",
                    one_line(command)
                )
        }
        Err(e) => tracing::debug!(
        target: "faultline::remote",
            node,
            ms = %ms(started),
            error = %e,
            "exec `{}` could not run",
            one_line(command)
        ),
    }
}

/// Logs a command run on this machine on behalf of `node` (or the network,
/// `node` = "controller"); `status` is its exit status, or why it did not run.
pub fn local(node: &str, command: &str, started: Instant, status: Result<i32, &str>, stderr: &str) {
    match status {
        Ok(0) => {
            tracing::debug!(target: "faultline::remote", node, status = 0, ms = %ms(started), "run `{}`", one_line(command))
        }
        Ok(s) => tracing::debug!(
        target: "faultline::remote",
            node,
            status = s,
            ms = %ms(started),
            stderr = last_line(stderr),
            "run `{}`",
            one_line(command)
        ),
        Err(e) => tracing::debug!(
        target: "faultline::remote",
            node,
            ms = %ms(started),
            error = e,
            "run `{}` could not run",
            one_line(command)
        ),
    }
}

/// Logs a daemon started on `node`.
pub fn spawn(node: &str, argv: &[String], started: Instant, result: &Result<u32, RemoteError>) {
    let command = one_line(&argv.join(" "));
    match result {
        Ok(pid) => {
            tracing::info!(target: "faultline::remote", node, pid, ms = %ms(started), "started `{command}`")
        }
        Err(e) => {
            tracing::warn!(target: "faultline::remote", node, ms = %ms(started), error = %e, "could not start `{command}`")
        }
    }
}

/// Logs a file copied to or from `node` (`what`: "upload a to b").
pub fn copy(node: &str, what: &str, started: Instant, result: &Result<(), RemoteError>) {
    match result {
        Ok(()) => tracing::debug!(target: "faultline::remote", node, ms = %ms(started), "{what}"),
        Err(e) => {
            tracing::debug!(target: "faultline::remote", node, ms = %ms(started), error = %e, "{what} failed")
        }
    }
}

/// Logs a signal sent to process `pid` on `node`.
pub fn signal(node: &str, pid: u32, sig: &str) {
    tracing::info!(target: "faultline::remote", node, pid, "signal SIG{sig}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_one_line_and_long_ones_are_cut() {
        assert_eq!(
            one_line("set -e;\n  iptables -A x\n"),
            "set -e; iptables -A x"
        );
        let long = "x ".repeat(1000);
        let shown = one_line(&long);
        assert!(shown.ends_with("(1999 characters)"), "{shown}");
        assert!(shown.chars().count() < SHOWN + 40);
    }
}
