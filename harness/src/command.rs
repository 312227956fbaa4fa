//! Commands the controller runs on its own machine (`ip`, `iptables`, `kill`),
//! each logged once when it ends, like every command run on a node.
//!
//! The network ([`crate::network`]) builds with these and the cleanup
//! ([`crate::state`]) removes with them; neither owns them.

use std::process::{Command, Stdio};

use crate::remote::logged;

/// A command that could not run, or (when checked) exited non-zero.
#[derive(Debug)]
pub(crate) struct Failed {
    /// The command.
    pub command: String,
    /// Its error output, or why it could not run.
    pub msg: String,
}

/// Runs a command; with `check`, a failure is an error.
pub(crate) fn run(argv: &[&str], check: bool) -> Result<String, Failed> {
    let started = std::time::Instant::now();
    let out = crate::remote::own_session(&mut Command::new(argv[0]))
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output();
    let command = argv.join(" ");
    let out = match out {
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let status = Ok(out.status.code().unwrap_or(-1));
            logged::local("controller", &command, started, status, &stderr);
            out
        }
        Err(e) => {
            logged::local("controller", &command, started, Err(&e.to_string()), "");
            return Err(Failed {
                command,
                msg: e.to_string(),
            });
        }
    };
    if check && !out.status.success() {
        return Err(Failed {
            command: argv.join(" "),
            msg: String::from_utf8_lossy(&out.stderr)
                .trim()
                .replace('\n', "; "),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
