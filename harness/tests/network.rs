//! The local cluster network, for real: namespaces, a bridge, daemons in the
//! namespaces, and removal that leaves nothing behind. Needs root (CI runs as
//! root); without it each test says so and passes vacuously.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use faultline_harness::network::is_root;
use faultline_harness::remote::{Remote, Signal, Spawn};
use faultline_harness::{state, Network, NetworkSpec};

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Nothing named with `prefix` is left: no namespace, link, /etc/netns entry,
/// FORWARD rule or process in a namespace.
fn assert_gone(prefix: &str) {
    let p = format!("{prefix}-");
    assert!(
        !sh("ip netns list").contains(&p),
        "namespaces left: {}",
        sh("ip netns list")
    );
    assert!(
        !sh("ip -o link show").contains(&p),
        "links left: {}",
        sh("ip -o link show")
    );
    assert!(
        !Path::new(&format!("/etc/netns/{prefix}-n1")).exists(),
        "/etc/netns left"
    );
    assert!(
        !sh("iptables -w -S FORWARD").contains(&format!("{prefix}-br")),
        "FORWARD rule left"
    );
}

fn spec(prefix: &str, n: usize, subnet: &str) -> NetworkSpec {
    NetworkSpec {
        prefix: prefix.into(),
        subnet: subnet.into(),
        ..NetworkSpec::nodes(n)
    }
}

#[test]
fn nodes_reach_each_other_by_name_and_destroy_leaves_nothing() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let net = Network::create(&spec("flt", 5, "10.78.0"), dir.path().into()).unwrap();
    let created = t.elapsed();
    let n1 = net.remote("n1").unwrap();
    let n3 = net.remote("n3").unwrap();
    assert_eq!(n1.host(), "10.78.0.11");
    assert_eq!(n3.run("hostname -I").unwrap().trim(), "10.78.0.13");
    // By name, through /etc/netns/<ns>/hosts; and reverse lookups do not hang.
    n1.run("ping -c 1 -W 2 n3").unwrap();
    let t0 = Instant::now();
    n1.run("getent hosts 10.78.0.12").unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "reverse lookup took {:?}",
        t0.elapsed()
    );
    // The controller reaches every node.
    assert!(sh("ping -c 1 -W 2 10.78.0.12 >/dev/null && echo ok").contains("ok"));
    // A failing command is an error naming the node and the command.
    let e = n1.run("exit 3").unwrap_err().to_string();
    assert!(e.starts_with("n1: `exit 3` exited with 3"), "{e}");

    // A daemon inside a namespace, as the harness's child.
    let pid = n1
        .spawn(&Spawn {
            argv: vec!["sleep".into(), "30".into()],
            log: dir.path().join("n1/sleep.log"),
            ..Spawn::default()
        })
        .unwrap();
    assert!(n1.alive(pid));
    // `ip netns exec` enters the namespace after the fork: give it a moment.
    let in_ns = || {
        sh("ip netns pids flt-n1")
            .split_whitespace()
            .any(|p| p == pid.to_string())
    };
    let t0 = Instant::now();
    while !in_ns() && t0.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(in_ns(), "pid {pid} never showed in flt-n1");
    n1.signal(pid, Signal::Stop).unwrap();
    let state = || sh(&format!("ps -o stat= -p {pid}")).trim().to_owned();
    assert!(state().starts_with('T'), "paused: {}", state());
    n1.signal(pid, Signal::Cont).unwrap();
    assert!(!state().starts_with('T'), "resumed: {}", state());
    n1.signal(pid, Signal::Kill).unwrap();
    assert!(!n1.alive(pid));

    let t = Instant::now();
    net.destroy().unwrap();
    let destroyed = t.elapsed();
    net.destroy().unwrap();
    assert_gone("flt");
    eprintln!("5 nodes: created in {created:?}, destroyed in {destroyed:?}");
    assert!(
        created + destroyed < Duration::from_secs(5),
        "{created:?} + {destroyed:?}"
    );
}

#[test]
fn cleanup_removes_what_a_vanished_run_left() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = LOGGED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let net = Network::create(&spec("flu", 2, "10.79.0"), dir.path().into()).unwrap();
    let n2 = net.remote("n2").unwrap();
    let pid = n2
        .spawn(&Spawn {
            argv: vec!["sleep".into(), "30".into()],
            log: dir.path().join("sleep.log"),
            ..Spawn::default()
        })
        .unwrap();
    // The run "dies": nothing is destroyed, only the state file remains.
    std::mem::forget(net);
    assert_eq!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json"))
            .count(),
        1
    );
    let cleaned = state::cleanup(dir.path(), "flu", false);
    assert_eq!(cleaned.runs.len(), 1);
    assert_gone("flu");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists() || !n2.alive(pid),
        "daemon survived"
    );
    // Twice is harmless.
    let again = state::cleanup(dir.path(), "flu", false);
    assert!(again.runs.is_empty());
}

/// Taken by the tests that spawn daemons, so that the logging test's
/// subscriber is never racing another test's first use of a log callsite.
static LOGGED: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Collects what a `tracing` subscriber writes, for asserting on log lines.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Every command run on a node is logged once, where it ran, with its exit
/// status and duration (and the end of stderr when it failed); so are daemons
/// started and signalled.
#[test]
fn commands_on_a_node_are_logged_with_their_exit_status() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = LOGGED.lock().unwrap_or_else(|e| e.into_inner());
    let out = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(out.clone())
        .finish();
    let dir = tempfile::tempdir().unwrap();
    let pid = tracing::subscriber::with_default(subscriber, || {
        // A callsite first reached on another test's thread, before this
        // subscriber existed, may have cached "nobody listens": ask again.
        tracing::callsite::rebuild_interest_cache();
        let net = Network::create(&spec("lgl", 2, "10.78.0"), dir.path().into()).unwrap();
        let n2 = net.remote("n2").unwrap();
        n2.run("true").unwrap();
        let _ = n2.run("echo gone >&2; exit 7");
        let pid = n2
            .spawn(&Spawn {
                argv: vec!["sleep".into(), "30".into()],
                log: dir.path().join("sleep.log"),
                ..Spawn::default()
            })
            .unwrap();
        n2.signal(pid, Signal::Kill).unwrap();
        net.destroy().unwrap();
        pid
    });
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{text}"))
            .to_owned()
    };
    let ok = line("exec `true`");
    assert!(
        ok.contains("node=\"n2\"") && ok.contains("status=0") && ok.contains("ms="),
        "{ok}"
    );
    let failed = line("exec `echo gone >&2; exit 7`");
    assert!(
        failed.contains("node=\"n2\"") && failed.contains("status=7"),
        "{failed}"
    );
    assert!(failed.contains("stderr=\"gone\""), "{failed}");
    let started = line("started `sleep 30`");
    assert!(started.contains(&format!("pid={pid}")), "{started}");
    assert!(line("signal SIGKILL").contains(&format!("pid={pid}")));
    // The network itself: built and removed by commands on this machine.
    assert!(line("network up").contains("n2=10.78.0.12"));
    assert!(
        text.contains("run `ip -batch") || text.contains("run `ip -n"),
        "{text}"
    );
    assert_gone("lgl");
}

/// The pids of `pid`'s children.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Whether `pid` still runs (a zombie does not).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
    })
}

#[test]
fn daemons_and_commands_run_in_sessions_of_their_own_and_stop_ends_their_children() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = LOGGED.lock().unwrap_or_else(|e| e.into_inner());
    use faultline_harness::daemon::Daemon;
    use faultline_harness::remote::session_of;
    let dir = tempfile::tempdir().unwrap();
    // FAULTLINE_NET_PREFIX/SUBNET, so it can share the machine.
    let spec = NetworkSpec::nodes(1);
    let prefix = spec.prefix.clone();
    let net = Network::create(&spec, dir.path().into()).unwrap();
    let n1 = net.remote("n1").unwrap();
    let (mine, _) = session_of(std::process::id()).unwrap();

    // A daemon whose shell starts two more processes and waits for them.
    let d = Daemon::new(
        n1.clone(),
        Spawn {
            argv: vec![
                "sh".into(),
                "-c".into(),
                "sleep 30 & sleep 30 & wait".into(),
            ],
            log: dir.path().join("n1/d.log"),
            ..Spawn::default()
        },
    );
    let pid = d.start().unwrap();
    // It leads a session and a group of its own: the terminal's Ctrl-C,
    // sent to faultline's group, does not reach it.
    assert_eq!(session_of(pid).unwrap(), (pid, pid));
    assert_ne!(pid, mine);
    let kids = (0..100)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(20));
            children(pid)
        })
        .find(|k| k.len() == 2)
        .expect("the daemon started its two children");
    for k in &kids {
        assert_eq!(session_of(*k).unwrap(), (pid, pid), "child {k}");
    }
    // A command run on the node is in a session of its own too.
    let sid: u32 = n1
        .run("cut -d' ' -f6 /proc/self/stat")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(sid, mine);

    // SIGTERM ends the shell; the children it leaves are killed with its group.
    d.stop(Duration::from_millis(300)).unwrap();
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        kids.iter().all(|k| !running(*k))
    });
    assert!(gone, "children outlived the daemon's stop: {kids:?}");
    net.destroy().unwrap();
    assert_gone(&prefix);
}
