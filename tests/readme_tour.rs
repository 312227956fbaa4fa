//! The README's tour, run as written.
//!
//! The commands are read from README.md itself: every line starting with
//! `faultline ` in a ```` ```sh ```` block under the heading
//! [`TOUR_HEADING`], up to the next `## ` heading. So a command edited in the
//! README is the command run here, and a command this file does not know how
//! to judge fails the test (as does any other line in those blocks: the tour
//! shows only `faultline` commands, so a reader can paste every block).
//!
//! They run in order, in a temporary directory holding copies of `samples/`
//! and `examples/` (the tour is followed from the repository's root), with
//! the binary this build made. Cheap ones run as they are; a `faultline test`
//! runs with `--time-limit 5` (replacing the README's value, if any). Each is
//! judged: its exit status, its verdict line, the files it must leave. As
//! root, `test` and `check-target` build network namespaces under the prefix
//! `FAULTLINE_NET_PREFIX` (default `frt`, subnet `10.89.0`), so run this
//! file under the machine-wide lock as the other namespace tests are; without
//! root those commands, and the ones that read the run they would store, are
//! skipped and say so.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The heading of the tour in README.md.
const TOUR_HEADING: &str = "## A ten-minute tour";

/// The main phase of every `faultline test` in the tour, in seconds.
const TIME_LIMIT: &str = "5";

/// The history files the tour checks, with the exit status and a phrase the
/// output must hold. A file the tour checks that is not listed here fails.
const EXPECT: &[(&str, i32, &str)] = &[
    ("samples/cas-register.edn", 1, "nonlinearizable: op 15"),
    ("samples/register.jsonl", 0, "(26 events): valid"),
];

/// What a tour command is, so it can be run and judged.
#[derive(Debug, PartialEq)]
enum Step {
    /// `faultline test` on refkv (the default target).
    TestRefkv,
    /// `faultline test --target etcd|redis-sentinel|postgres`.
    TestDatabase(String),
    /// `faultline test --target some/manifest.toml`.
    TestManifest,
    /// `faultline report RUN`.
    Report,
    /// `faultline check` of a run directory in the store.
    CheckRun,
    /// `faultline check FILE` of a history that ships with the repository.
    CheckFile(&'static str, i32, &'static str),
    /// `faultline list`.
    List,
    /// `faultline serve`.
    Serve,
    /// `faultline new-target NAME`.
    NewTarget(String),
    /// `faultline check-target MANIFEST` of a skeleton `new-target` wrote.
    CheckSkeleton,
}

/// The commands of the tour, each split into words, in order.
fn tour_commands(readme: &str) -> Result<Vec<Vec<String>>, String> {
    let mut lines = readme.lines().skip_while(|l| l.trim_end() != TOUR_HEADING);
    if lines.next().is_none() {
        return Err(format!("README.md has no heading `{TOUR_HEADING}`"));
    }
    let mut commands = Vec::new();
    let mut fence: Option<bool> = None; // inside a fence: is it ```sh?
    for line in lines {
        if fence.is_none() && line.starts_with("## ") {
            break;
        }
        if let Some(info) = line.trim_start().strip_prefix("```") {
            fence = match fence {
                None => Some(info.trim() == "sh"),
                Some(_) => None,
            };
            continue;
        }
        if fence != Some(true) {
            continue;
        }
        let text = line.split(" #").next().unwrap_or("").trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if !text.starts_with("faultline ") && text != "faultline" {
            return Err(format!("a tour line this test cannot run: `{line}`"));
        }
        if text.contains(['"', '\'', '$', '|', '&', ';', '<', '>', '\\', '`']) {
            return Err(format!("keep tour commands to plain words: `{line}`"));
        }
        commands.push(text.split_whitespace().map(str::to_owned).collect());
    }
    if commands.is_empty() {
        return Err("the tour has no ```sh block with a faultline command".into());
    }
    Ok(commands)
}

/// The value after `flag` in `args`.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).map(String::as_str)
}

/// The first argument after the subcommand that is not a flag or a flag's
/// value (flags of these subcommands all take a value, except `--json`).
fn positional(args: &[String]) -> Option<&str> {
    let mut i = 2;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--json" || a == "--independent" || a == "--allow-negative" {
            i += 1;
        } else if a.starts_with('-') {
            i += 2;
        } else {
            return Some(a);
        }
    }
    None
}

/// What a tour command is; an error for one this test does not know.
fn classify(args: &[String]) -> Result<Step, String> {
    let line = args.join(" ");
    let sub = args.get(1).map(String::as_str).unwrap_or("");
    let step = match sub {
        "test" => match flag(args, "--target") {
            None | Some("refkv") => Step::TestRefkv,
            Some(t @ ("etcd" | "redis-sentinel" | "postgres")) => Step::TestDatabase(t.into()),
            Some(t) if t.ends_with(".toml") => Step::TestManifest,
            Some(t) => return Err(format!("`{line}`: no judge for target {t}")),
        },
        "report" => Step::Report,
        "check" => {
            let path = positional(args).ok_or(format!("`{line}`: no path"))?;
            if path.starts_with("store") {
                Step::CheckRun
            } else {
                let &(file, code, phrase) = EXPECT
                    .iter()
                    .find(|(f, _, _)| *f == path)
                    .ok_or(format!("`{line}`: add {path}'s expected verdict to EXPECT"))?;
                Step::CheckFile(file, code, phrase)
            }
        }
        "list" => Step::List,
        "serve" => Step::Serve,
        "new-target" => Step::NewTarget(positional(args).ok_or("new-target: no name")?.into()),
        "check-target" => Step::CheckSkeleton,
        _ => {
            return Err(format!(
                "`{line}`: this test does not know `faultline {sub}`"
            ))
        }
    };
    Ok(step)
}

fn is_root() -> bool {
    faultline_harness::network::is_root()
}

/// `faultline ARGS` in `dir`, in this test's own namespace prefix.
fn command(dir: &Path, args: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_faultline"));
    // What a failed `check-target` keeps for its user goes into the test's
    // own directory, removed with it.
    c.args(&args[1..]).current_dir(dir).env("TMPDIR", dir);
    for (var, default) in [
        ("FAULTLINE_NET_PREFIX", "frt"),
        ("FAULTLINE_NET_SUBNET", "10.89.0"),
    ] {
        c.env(var, std::env::var(var).unwrap_or_else(|_| default.into()));
    }
    c
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `args` with `--time-limit` set to [`TIME_LIMIT`].
fn shortened(args: &[String]) -> Vec<String> {
    let mut a = args.to_vec();
    match a.iter().position(|x| x == "--time-limit") {
        Some(i) if i + 1 < a.len() => a[i + 1] = TIME_LIMIT.into(),
        _ => a.extend(["--time-limit".into(), TIME_LIMIT.into()]),
    }
    a
}

/// Runs a `faultline test` and judges it: a verdict line that agrees with
/// the exit status, and the report and results it names.
fn run_test(dir: &Path, args: &[String], allowed: &[i32]) {
    let args = shortened(args);
    let o = command(dir, &args).output().unwrap();
    let (out, err) = text(&o);
    let line = args.join(" ");
    let code = o.status.code().unwrap_or(-1);
    assert!(
        allowed.contains(&code),
        "`{line}` exited {code}:\n{out}{err}"
    );
    let verdict = if code == 0 {
        "verdict: valid"
    } else {
        "verdict: INVALID"
    };
    assert!(
        out.contains(verdict),
        "`{line}`: no `{verdict}`:\n{out}{err}"
    );
    let report = out
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap_or_else(|| panic!("`{line}`: no report line:\n{out}"));
    assert!(dir.join(report.trim()).is_file(), "{report} missing");
    let results = std::fs::read_to_string(dir.join("store/latest/results.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&results).unwrap();
    assert_eq!(results["valid"], serde_json::json!(code == 0), "{results}");
    eprintln!("ran `{line}`: exit {code}");
}

/// The first line of `check`'s summary agrees with its exit status.
fn judge_check(line: &str, o: &Output) -> String {
    let (out, err) = text(o);
    let code = o.status.code().unwrap_or(-1);
    let first = out.lines().next().unwrap_or("");
    let word = match code {
        0 => ": valid",
        1 => ": INVALID",
        2 => ": unknown",
        _ => panic!("`{line}` exited {code}:\n{out}{err}"),
    };
    assert!(first.contains(word), "`{line}` exited {code}: {first}");
    out
}

/// GET `path` from `addr`, waiting up to 15 s for the server to listen.
fn http_get(addr: &str, path: &str) -> String {
    let start = Instant::now();
    let mut s = loop {
        match TcpStream::connect(addr) {
            Ok(s) => break s,
            Err(e) if start.elapsed() > Duration::from_secs(15) => panic!("{addr}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// Runs `faultline serve` on a free local port (replacing the README's
/// `--bind`), asks for its index, and stops it.
fn run_serve(dir: &Path, args: &[String], ran_test: bool) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut a = args.to_vec();
    if let Some(i) = a.iter().position(|x| x == "--bind") {
        a.drain(i..(i + 2).min(a.len()));
    }
    a.extend(["--bind".into(), addr.clone()]);
    let mut child = command(dir, &a)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let page = http_get(&addr, "/");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        page.starts_with("HTTP/1.1 200") || page.starts_with("HTTP/1.0 200"),
        "{page}"
    );
    if ran_test {
        assert!(
            page.contains("refkv-set"),
            "the index lists the run: {page}"
        );
    }
}

/// Copies `from` into `to` (without Python's caches).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == "__pycache__" {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(&name));
        } else {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// Every command of the tour is one this test runs and judges.
#[test]
fn every_tour_command_is_one_this_test_runs() {
    let commands = tour_commands(&readme()).unwrap();
    for c in &commands {
        classify(c).unwrap();
    }
    // The tour's four steps are all there.
    let steps: Vec<Step> = commands.iter().map(|c| classify(c).unwrap()).collect();
    assert!(steps.contains(&Step::TestRefkv), "{steps:?}");
    assert!(
        steps.iter().any(|s| matches!(s, Step::CheckFile(..))),
        "{steps:?}"
    );
    assert!(
        steps.iter().any(|s| matches!(s, Step::TestDatabase(_))),
        "{steps:?}"
    );
    assert!(steps.contains(&Step::TestManifest), "{steps:?}");
}

/// A command added to the tour that this test does not know fails it, and
/// so does a line in a tour block that is not a faultline command.
#[test]
fn an_unknown_tour_command_fails() {
    let readme = |block: &str| {
        format!("# x\n\n```sh\nfaultline frobnicate\n```\n\n{TOUR_HEADING}\n\n```sh\n{block}\n```\n\n## Next\n\n```sh\nfaultline frobnicate\n```\n")
    };
    let c = tour_commands(&readme("faultline list\nfaultline check samples/x.edn")).unwrap();
    assert_eq!(c.len(), 2, "only the tour's blocks: {c:?}");
    assert_eq!(classify(&c[0]).unwrap(), Step::List);
    assert!(classify(&c[1]).unwrap_err().contains("EXPECT"));
    let c = tour_commands(&readme("faultline frobnicate --now")).unwrap();
    assert!(classify(&c[0])
        .unwrap_err()
        .contains("faultline frobnicate"));
    assert!(tour_commands(&readme("sudo faultline test")).is_err());
    assert!(tour_commands(&readme("faultline check \"a b\"")).is_err());
    assert!(tour_commands("# no tour here\n").is_err());
    assert_eq!(shortened(&c[0])[2..], ["--now", "--time-limit", TIME_LIMIT]);
    let t: Vec<String> = "faultline test --time-limit 30 --seed 1"
        .split(' ')
        .map(Into::into)
        .collect();
    assert_eq!(
        shortened(&t).join(" "),
        "faultline test --time-limit 5 --seed 1"
    );
}

/// The tour, in order, as a reader follows it.
#[test]
fn the_tour_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let d = tempfile::tempdir().unwrap();
    let dir: PathBuf = d.path().to_path_buf();
    copy_tree(&root.join("samples"), &dir.join("samples"));
    copy_tree(&root.join("examples"), &dir.join("examples"));
    let root_ok = is_root();
    let mut ran_test = false;
    for args in tour_commands(&readme()).unwrap() {
        let line = args.join(" ");
        let step = classify(&args).unwrap();
        let needs_root = matches!(
            step,
            Step::TestRefkv | Step::TestDatabase(_) | Step::TestManifest | Step::CheckSkeleton
        );
        let needs_run = matches!(step, Step::Report | Step::CheckRun | Step::Serve);
        if (needs_root && !root_ok) || (needs_run && !ran_test) {
            eprintln!("skipped: `{line}` needs root (network namespaces)");
            continue;
        }
        match step {
            Step::TestRefkv => {
                run_test(&dir, &args, &[0, 1]);
                ran_test = true;
            }
            // etcd is linearizable: the tour says every checker is valid.
            Step::TestDatabase(t) if t == "etcd" => run_test(&dir, &args, &[0]),
            Step::TestDatabase(_) | Step::TestManifest => run_test(&dir, &args, &[0, 1]),
            Step::Report => {
                let o = command(&dir, &args).output().unwrap();
                let (out, err) = text(&o);
                assert_eq!(o.status.code(), Some(0), "`{line}`: {err}");
                let path = dir.join(out.trim());
                assert!(
                    out.trim().ends_with("report.html") && path.is_file(),
                    "{out}"
                );
            }
            Step::CheckRun => {
                let o = command(&dir, &args).output().unwrap();
                judge_check(&line, &o);
            }
            Step::CheckFile(_, code, phrase) => {
                let o = command(&dir, &args).output().unwrap();
                let out = judge_check(&line, &o);
                assert_eq!(o.status.code(), Some(code), "`{line}`:\n{out}");
                assert!(out.contains(phrase), "`{line}`: no `{phrase}`:\n{out}");
            }
            Step::List => {
                let o = command(&dir, &args).output().unwrap();
                let (out, _) = text(&o);
                assert_eq!(o.status.code(), Some(0));
                for want in ["workloads", "checkers:", "targets:", "nemeses:"] {
                    assert!(out.contains(want), "`{line}`: no {want}:\n{out}");
                }
            }
            Step::Serve => run_serve(&dir, &args, ran_test),
            Step::NewTarget(name) => {
                let o = command(&dir, &args).output().unwrap();
                assert_eq!(o.status.code(), Some(0), "`{line}`: {:?}", text(&o));
                for f in [format!("{name}/{name}.toml"), format!("{name}/client.py")] {
                    assert!(dir.join(&f).is_file(), "`{line}` wrote no {f}");
                }
            }
            // The skeleton's cluster comes up; its client is not written
            // yet, which is where the tour says check-target stops.
            Step::CheckSkeleton => {
                let o = command(&dir, &args).output().unwrap();
                let (out, err) = text(&o);
                assert_eq!(o.status.code(), Some(254), "`{line}`:\n{out}{err}");
                assert!(out.contains("ready: n1, n2, n3"), "`{line}`:\n{out}");
                assert!(err.contains("not implemented yet"), "`{line}`: {err}");
                assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
            }
        }
        eprintln!("ok: `{line}`");
    }
}
