//! Whether the clock shim can reach a program, and whether it did.
//!
//! The shim works through the dynamic linker (`LD_PRELOAD`) and by replacing
//! libc's clock functions, so it cannot skew two kinds of program: statically
//! linked ones, which have no dynamic linker to preload it (an ELF file
//! without a `PT_INTERP` program header), and Go programs, which read the
//! clock through the vDSO without libc even when dynamically linked
//! ([`crate::elf::is_go_binary`]). A clock fault on either would be
//! recorded and do nothing, so the run must be refused instead.
//!
//! Two checks, for the two moments a harness can look. Before a program
//! starts, [`unreachable`] reads its file. After it started, [`process_tree`]
//! looks at what actually runs — the daemon's process and every descendant,
//! since a start command may be a script that forks the real server — and
//! asks of each the shim's own evidence that it is loaded: its file mapped
//! in `/proc/<pid>/maps`. A process without it (static, or started with a
//! cleaned environment), or running a Go program, is named.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::clock::SHIM_FILE_NAME;
use crate::elf::{is_go_binary, Elf};

/// `Some(whether the file has a PT_INTERP program header)` for an ELF file,
/// `None` for anything else (a script, unreadable, malformed).
pub fn has_interpreter(path: &Path) -> Option<bool> {
    let mut f = fs::File::open(path).ok()?;
    let elf = Elf::read(&mut f)?;
    let (ehdr, wide) = (elf.header, elf.wide);
    let int = |b: &[u8], off: usize, len: usize| elf.int(b, off, len);
    let (phoff, phentsize, phnum) = if wide {
        (
            int(&ehdr, 0x20, 8),
            int(&ehdr, 0x36, 2),
            int(&ehdr, 0x38, 2),
        )
    } else {
        (
            int(&ehdr, 0x1c, 4),
            int(&ehdr, 0x2a, 2),
            int(&ehdr, 0x2c, 2),
        )
    };
    if phoff == 0 || phnum == 0 || phnum > 4096 || !(4..=256).contains(&phentsize) {
        return Some(false);
    }
    let mut table = vec![0u8; (phentsize * phnum) as usize];
    f.seek(SeekFrom::Start(phoff)).ok()?;
    f.read_exact(&mut table).ok()?;
    const PT_INTERP: u64 = 3;
    Some((0..phnum).any(|i| int(&table, (i * phentsize) as usize, 4) == PT_INTERP))
}

/// Why the shim cannot skew the program at `path`, or `None` when it can
/// (a dynamically linked non-Go ELF program) or the file says nothing (a
/// script: what it starts is checked once it runs).
pub fn unreachable(path: &Path) -> Option<String> {
    if is_go_binary(path) {
        return Some(format!(
            "{} is a Go program (it reads the clock through the vDSO, not libc)",
            path.display()
        ));
    }
    match has_interpreter(path) {
        Some(false) => Some(format!(
            "{} is statically linked (no dynamic linker to preload the shim)",
            path.display()
        )),
        _ => None,
    }
}

/// Finds `program` as `sh` would: a path (relative to `cwd`) when it has a
/// slash, else the first executable file of that name on `path_var`.
pub fn which(program: &str, cwd: &Path, path_var: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = cwd.join(program);
        return p.is_file().then_some(p);
    }
    path_var
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| {
            fs::metadata(p).is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
        })
}

/// The pids of `pid`'s living descendants, from `/proc/*/stat`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // After the parenthesised name: state, then the parent's pid.
            let mut rest = stat
                .rsplit_once(')')
                .map(|(_, r)| r)
                .unwrap_or("")
                .split_whitespace();
            let state = rest.next().unwrap_or("");
            if let (false, Some(pp)) = (state == "Z", rest.next().and_then(|s| s.parse().ok())) {
                parent_of.push((p, pp));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(c, pp) in &parent_of {
            if pp == p && !out.contains(&c) {
                out.push(c);
                frontier.push(c);
            }
        }
    }
    out
}

/// A process of a server the clock shim does not reach, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("process {pid}: {why}")]
pub struct Unreached {
    /// The process.
    pub pid: u32,
    /// Why the shim does not reach it.
    pub why: String,
}

/// Checks the running process `pid` and its descendants (on this machine)
/// for the shim: each must have it mapped and not run a Go program. The
/// error names the first that does not, and why.
pub fn process_tree(pid: u32) -> Result<(), Unreached> {
    let mut all = vec![pid];
    all.extend(descendants(pid));
    for p in all {
        let Ok(maps) = fs::read_to_string(format!("/proc/{p}/maps")) else {
            continue; // gone meanwhile
        };
        let exe = fs::read_link(format!("/proc/{p}/exe")).unwrap_or_default();
        let loaded = maps.lines().any(|l| l.ends_with(SHIM_FILE_NAME));
        let why = if !loaded {
            Some(unreachable(&exe).unwrap_or_else(|| {
                format!(
                    "{} did not load the shim (its environment lost LD_PRELOAD?)",
                    exe.display()
                )
            }))
        } else if is_go_binary(&exe) {
            unreachable(&exe)
        } else {
            None
        };
        if let Some(why) = why {
            return Err(Unreached { pid: p, why });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_programs_have_an_interpreter_and_scripts_say_nothing() {
        assert_eq!(has_interpreter(Path::new("/bin/sh")), Some(true));
        assert_eq!(unreachable(Path::new("/bin/sh")), None);
        let d = tempfile::tempdir().unwrap();
        let script = d.path().join("s");
        fs::write(&script, "#!/bin/sh\nexec etcd\n").unwrap();
        assert_eq!(has_interpreter(&script), None);
        assert_eq!(unreachable(&script), None);
        assert_eq!(has_interpreter(&d.path().join("none")), None);
    }

    /// A static program built here, when a static libc is installed.
    fn static_program(dir: &Path) -> Option<PathBuf> {
        let src = dir.join("s.c");
        fs::write(&src, "int main(void) { return 0; }\n").unwrap();
        let out = dir.join("s");
        let ok = std::process::Command::new("cc")
            .args(["-static", "-o"])
            .arg(&out)
            .arg(&src)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then_some(out)
    }

    #[test]
    fn static_and_go_programs_are_unreachable() {
        let d = tempfile::tempdir().unwrap();
        match static_program(d.path()) {
            Some(s) => {
                assert_eq!(has_interpreter(&s), Some(false));
                let why = unreachable(&s).unwrap();
                assert!(
                    why.ends_with("is statically linked (no dynamic linker to preload the shim)"),
                    "{why}"
                );
            }
            None => eprintln!("no static libc: the static case is not exercised"),
        }
        if let Some(etcd) = which("etcd", Path::new("/"), "/usr/bin:/usr/local/bin") {
            let why = unreachable(&etcd).unwrap();
            assert!(why.contains("is a Go program"), "{why}");
        }
    }

    #[test]
    fn which_finds_programs_like_sh() {
        let sh = which("sh", Path::new("/"), "/nonexistent:/bin:/usr/bin").unwrap();
        assert!(sh.ends_with("sh"));
        assert_eq!(which("sh", Path::new("/"), "/nonexistent"), None);
        assert_eq!(
            which("./sh", Path::new("/bin"), ""),
            Some(PathBuf::from("/bin/./sh"))
        );
    }

    #[test]
    fn a_process_without_the_shim_is_named() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let e = process_tree(child.id()).unwrap_err().to_string();
        assert!(e.starts_with(&format!("process {}: ", child.id())), "{e}");
        assert!(e.contains("did not load the shim"), "{e}");
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn a_process_with_the_shim_passes_and_so_must_its_children() {
        let d = tempfile::tempdir().unwrap();
        let shim = crate::clock::install_shim(d.path()).unwrap();
        let run = |script: &str| {
            let mut c = std::process::Command::new("sh")
                .args(["-c", script])
                .env("LD_PRELOAD", &shim)
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
            let r = process_tree(c.id());
            for k in descendants(c.id()) {
                // SAFETY: a plain kill(2) of a process this test started.
                unsafe { libc::kill(k as i32, libc::SIGKILL) };
            }
            let _ = c.kill();
            let _ = c.wait();
            r
        };
        assert_eq!(run("sleep 2; true"), Ok(()));
        if let Some(s) = static_program(d.path()) {
            let spin = d.path().join("spin.c");
            fs::write(
                &spin,
                "#include <unistd.h>\nint main(void) { sleep(2); return 0; }\n",
            )
            .unwrap();
            let out = d.path().join("spin");
            let built = std::process::Command::new("cc")
                .args(["-static", "-o"])
                .arg(&out)
                .arg(&spin)
                .status()
                .is_ok_and(|s| s.success());
            assert!(built, "{}", s.display());
            let e = run(&format!("{}; true", out.display()))
                .unwrap_err()
                .to_string();
            assert!(e.contains("is statically linked"), "{e}");
        }
    }
}
