//! `[install]`: what a manifest needs on the machine, and which Python its
//! `pip` packages go to.
//!
//! Debian packages are installed when missing, then `pip` packages, then the
//! `commands`. Python packages are only useful to the Python that imports
//! them, which is the one the client runs with — not whichever `pip3` happens
//! to be first on `PATH` (a pyenv or virtualenv shim installs into another
//! interpreter, and the client then fails to import what was "installed").
//! So they are installed with `<python> -m pip`, where `<python>` is read
//! from `client.command`: its program when that is a Python
//! (`/usr/bin/python3 client.py`, `{{manifest_dir}}/venv/bin/python c.py`),
//! else the interpreter named by the `#!` line of the script it runs
//! (`./client.py`), else `python3`. [`pip_python`] says which, so
//! `check-target` and errors can name it.

use std::path::Path;

use faultline_harness::remote::shell_quote;

use super::spec::Manifest;
use super::template::{render, Vars};

/// Whether `program` names a Python interpreter (`python3`, `/x/python3.12`).
fn is_python(program: &str) -> bool {
    let base = program.rsplit('/').next().unwrap_or(program);
    base.starts_with("python") || base.starts_with("pypy")
}

/// The interpreter of a `#!` line, if it is a Python (`#!/usr/bin/env
/// python3` gives `python3`).
fn shebang_python(script: &Path) -> Option<String> {
    let text = std::fs::read(script).ok()?;
    let first = text.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(first).ok()?.strip_prefix("#!")?;
    let mut words = line.split_whitespace();
    let mut prog = words.next()?;
    if prog.rsplit('/').next() == Some("env") {
        prog = words.find(|w| !w.starts_with('-'))?;
    }
    is_python(prog).then(|| prog.to_owned())
}

/// The Python the client runs with, as `client.command` names it (rendered
/// with `{{manifest_dir}}`; a relative script is found in the manifest's
/// directory, where clients run): a program name or path.
pub fn pip_python(m: &Manifest) -> String {
    let mut v = Vars::default();
    v.set("manifest_dir", m.dir.display().to_string());
    let cmd = render(&m.client.command, &v);
    let program = cmd
        .split_whitespace()
        .find(|w| !w.contains('=') && *w != "exec" && *w != "env");
    match program {
        Some(p) if is_python(p) => p.to_owned(),
        Some(p) => shebang_python(&m.dir.join(p)).unwrap_or_else(|| "python3".into()),
        None => "python3".into(),
    }
}

/// The shell lines that install `packages` with `python -m pip`; the last
/// line of a failure names the Python and pip's own last word.
pub fn pip_script(python: &str, packages: &[String]) -> String {
    let pkgs: Vec<String> = packages.iter().map(|p| shell_quote(p)).collect();
    format!(
        "py={py}; where=$(command -v \"$py\" || echo \"$py\"); \
         \"$py\" -m pip --version >/dev/null 2>&1 || {{ echo \"pip: the client's Python $where has no pip module (Debian: python3-pip)\" >&2; exit 1; }}; \
         out=$(\"$py\" -m pip install -q --break-system-packages {pkgs} 2>&1 >/dev/null) \
         || {{ echo \"pip install into $where: $(printf '%s\\n' \"$out\" | grep . | tail -1)\" >&2; exit 1; }}; ",
        py = shell_quote(python),
        pkgs = pkgs.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(dir: &Path, client: &str) -> Manifest {
        let text = format!(
            "name = \"x\"\nworkloads = [\"register\"]\n[start]\ncommand = \"s\"\n[ready]\nport = 1\n[client]\ncommand = \"{client}\"\n"
        );
        Manifest::parse(&text, &dir.join("x.toml")).unwrap()
    }

    #[test]
    fn the_clients_python_is_the_one_pip_installs_into() {
        let d = tempfile::tempdir().unwrap();
        let p = |c: &str| pip_python(&manifest(d.path(), c));
        assert_eq!(
            p("/usr/bin/python3 {{manifest_dir}}/client.py"),
            "/usr/bin/python3"
        );
        assert_eq!(p("python3.12 -u client.py"), "python3.12");
        assert_eq!(
            p("{{manifest_dir}}/venv/bin/python c.py"),
            format!("{}/venv/bin/python", d.path().display())
        );
        assert_eq!(p("PYTHONUNBUFFERED=1 exec pypy3 c.py"), "pypy3");
        std::fs::write(d.path().join("c.py"), "#!/usr/bin/env -S python3.11 -u\n").unwrap();
        assert_eq!(p("./c.py --fast"), "python3.11");
        std::fs::write(d.path().join("c.py"), "#!/opt/py/bin/python3\n").unwrap();
        assert_eq!(p("./c.py"), "/opt/py/bin/python3");
        std::fs::write(d.path().join("c.sh"), "#!/bin/sh\n").unwrap();
        assert_eq!(p("./c.sh"), "python3");
        assert_eq!(p("java -jar client.jar"), "python3");
    }

    #[test]
    fn a_python_without_pip_is_named() {
        let s = pip_script("/bin/true-python", &["x".into()]);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{s} true"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.trim().ends_with(
                "pip: the client's Python /bin/true-python has no pip module (Debian: python3-pip)"
            ),
            "{err}"
        );
    }
}
