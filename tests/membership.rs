//! The `membership` fault on real clusters: a node removed through the
//! database's own protocol and added back fresh while the workload runs.
//! refkv shows both sides of the non-member check (a removed node that keeps
//! answering is named; one that refuses is not); etcd removes a member with
//! `member remove`, wipes it and adds it back with `member add`; Redis
//! Sentinel removes and re-adds a replica; PostgreSQL rebuilds a standby with
//! `pg_basebackup`; a manifest does it with its own commands. As root; each
//! run is short.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

/// The tests share the namespaces: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

fn run(args: &[&str], store: &Path) -> (Option<i32>, serde_json::Value, PathBuf, String) {
    let mut a = vec!["test"];
    a.extend_from_slice(args);
    a.extend(["--store", store.to_str().unwrap()]);
    let o = faultline(&a);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let dir = std::fs::canonicalize(store.join("latest")).expect(&text);
    let results = std::fs::read_to_string(dir.join("results.json")).expect(&text);
    (
        o.status.code(),
        serde_json::from_str(&results).unwrap(),
        dir,
        text,
    )
}

fn no_namespaces_left() {
    let prefix = std::env::var("FAULTLINE_NET_PREFIX").unwrap_or_else(|_| "fl".into());
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let ns = String::from_utf8_lossy(&ns.stdout);
    assert!(
        !ns.lines().any(|l| l.starts_with(&format!("{prefix}-"))),
        "namespaces left: {ns}"
    );
}

/// The membership events of a run's history: (f, value).
fn changes(dir: &Path) -> Vec<(String, serde_json::Value)> {
    events(dir)
        .into_iter()
        .filter(|e| e["f"].as_str().is_some_and(|f| f.ends_with("-membership")))
        .map(|e| (e["f"].as_str().unwrap().to_owned(), e["value"].clone()))
        .collect()
}

/// A refkv node that keeps answering after it left is named, with the
/// operations it served; one that refuses is not, and no acknowledged write
/// is lost in majority mode.
#[test]
fn refkv_names_a_removed_node_that_keeps_serving() {
    if !faultline_harness::network::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = serial();
    let d = tempfile::tempdir().unwrap();
    let common = [
        "--target",
        "refkv",
        "--workload",
        "set",
        "--nemesis",
        "membership",
        "--nemesis-interval",
        "3",
        "--time-limit",
        "8",
        "--seed",
        "3",
        "--db-opt",
        "replication=majority",
        "--db-opt",
        "read-from=any",
        // n1 leads throughout (manual failover), and seed 3 removes n5: the
        // removed node is a follower whatever the timing, so its clients'
        // reads are what it serves. (With automatic failover the election
        // could make n5 the leader, whose removal blocks writes instead.)
        "--db-opt",
        "failover=manual",
    ];
    let mut args = common.to_vec();
    args.extend(["--db-opt", "removed=serve"]);
    let (code, r, dir, text) = run(&args, d.path());
    assert_eq!(code, Some(1), "{text}");
    let m = &r["checkers"]["membership"];
    assert_eq!(m["valid"], false, "{text}");
    assert_eq!(m["anomaly_types"][0], "non-member-served", "{text}");
    let ch = changes(&dir);
    assert!(ch.len() >= 2, "{ch:?}");
    let removed = ch[0].1["removed"].as_str().unwrap().to_owned();
    assert!(
        m["anomalies"][0]["explanation"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{removed} acknowledged")),
        "{text}"
    );
    assert_eq!(ch[0].1["members"].as_array().unwrap().len(), 4, "{ch:?}");
    assert_eq!(ch[1].1["added"][0], removed.as_str(), "{ch:?}");
    assert_eq!(ch[1].1["members"].as_array().unwrap().len(), 5, "{ch:?}");

    let mut args = common.to_vec();
    args.extend(["--db-opt", "removed=refuse"]);
    let (_, r, _, text) = run(&args, d.path());
    assert_eq!(r["checkers"]["membership"]["valid"], true, "{text}");
    assert_eq!(r["checkers"]["set"]["valid"], true, "{text}");
    no_namespaces_left();
}

/// etcd: a member removed with `member remove`, wiped, added back with
/// `member add` and restarted empty joins the existing cluster, and the
/// register stays linearizable throughout.
#[test]
fn etcd_member_remove_and_add_back_stays_linearizable() {
    if !faultline_harness::network::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = serial();
    let d = tempfile::tempdir().unwrap();
    let (code, r, dir, text) = run(
        &[
            "--target",
            "etcd",
            "--workload",
            "register",
            "--nemesis",
            "membership",
            "--nemesis-interval",
            "4",
            "--time-limit",
            "10",
            "--seed",
            "5",
        ],
        d.path(),
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(r["checkers"]["linearizable"]["valid"], true, "{text}");
    assert_eq!(r["checkers"]["membership"]["valid"], true, "{text}");
    let ch = changes(&dir);
    assert_eq!(ch.len(), 2, "{ch:?}");
    let removed = ch[0].1["removed"].as_str().unwrap().to_owned();
    assert!(ch[0].1["did"]["member_id"].is_string(), "{ch:?}");
    // etcd's own member list, right after the removal, agrees.
    let reported = ch[0].1["reported"].as_array().unwrap();
    assert_eq!(reported.len(), 4, "{ch:?}");
    assert!(!reported.iter().any(|m| m == removed.as_str()), "{ch:?}");
    assert_eq!(ch[1].1["added"][0], removed.as_str(), "{ch:?}");
    // The member came back by joining the existing cluster, empty.
    let log = std::fs::read_to_string(dir.join(format!("nodes/{removed}/etcd.log"))).unwrap();
    assert!(
        log.contains("\"initial-cluster-state\":\"existing\""),
        "{removed} did not rejoin"
    );
    no_namespaces_left();
}

/// Redis Sentinel: a replica (never the primary) is removed — stopped,
/// wiped, forgotten by the sentinels — and added back empty; no
/// acknowledged write is lost, since the primary kept them all.
#[test]
fn redis_removes_and_readds_a_replica_without_losing_writes() {
    if !faultline_harness::network::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = serial();
    let d = tempfile::tempdir().unwrap();
    let (code, r, dir, text) = run(
        &[
            "--target",
            "redis-sentinel",
            "--workload",
            "set",
            "--nemesis",
            "membership",
            "--nemesis-interval",
            "4",
            "--time-limit",
            "8",
            "--seed",
            "3",
        ],
        d.path(),
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(r["checkers"]["set"]["valid"], true, "{text}");
    assert_eq!(r["checkers"]["membership"]["valid"], true, "{text}");
    let ch = changes(&dir);
    assert_eq!(ch.len(), 2, "{ch:?}");
    let removed = ch[0].1["removed"].as_str().unwrap().to_owned();
    assert_ne!(removed, "n1", "the primary is never removed: {ch:?}");
    assert!(
        ch[0].1["did"]["sentinels_reset"].as_i64().unwrap() >= 3,
        "{ch:?}"
    );
    assert_eq!(ch[1].1["added"][0], removed.as_str(), "{ch:?}");
    let log = std::fs::read_to_string(dir.join(format!("nodes/{removed}/redis.log"))).unwrap();
    assert!(
        log.matches("MASTER <-> REPLICA sync: Finished").count() >= 2,
        "{removed} did not resync"
    );
    no_namespaces_left();
}

/// PostgreSQL with synchronous replication: a standby is decommissioned
/// (dropped from `synchronous_standby_names`, wiped) and rebuilt with
/// `pg_basebackup`; writes go on and none acknowledged is lost.
#[test]
fn postgres_rebuilds_a_standby_with_pg_basebackup() {
    if !faultline_harness::network::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = serial();
    let d = tempfile::tempdir().unwrap();
    let (code, r, dir, text) = run(
        &[
            "--target",
            "postgres",
            "--workload",
            "set",
            "--nemesis",
            "membership",
            "--nemesis-interval",
            "4",
            "--time-limit",
            "10",
            "--seed",
            "3",
            "--db-opt",
            "sync=sync",
        ],
        d.path(),
    );
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(r["checkers"]["set"]["valid"], true, "{text}");
    let ch = changes(&dir);
    assert_eq!(ch.len(), 2, "{ch:?}");
    let removed = ch[0].1["removed"].as_str().unwrap().to_owned();
    assert_ne!(removed, "n1", "the primary is never removed: {ch:?}");
    assert_eq!(ch[0].1["did"]["primary"], "n1", "{ch:?}");
    assert_eq!(ch[1].1["added"][0], removed.as_str(), "{ch:?}");
    // The synchronous primary did not wait for the removed standby: adds
    // were acknowledged while it was out.
    let from = field_of(&dir, "start-membership", "time");
    let to = field_of(&dir, "stop-membership", "began");
    assert!(adds_acked_between(&dir, from, to) > 0, "{text}");
    no_namespaces_left();
}

/// Field `key` (`time`, `began`) of the first event `f`.
fn field_of(dir: &Path, f: &str, key: &str) -> i64 {
    events(dir)
        .into_iter()
        .find(|e| e["f"] == f)
        .and_then(|e| e[key].as_i64())
        .unwrap()
}

/// How many `add`s completed `ok` within `[from, to]` (ns).
fn adds_acked_between(dir: &Path, from: i64, to: i64) -> usize {
    events(dir)
        .into_iter()
        .filter(|e| e["type"] == "ok" && e["f"] == "add")
        .filter(|e| e["time"].as_i64().is_some_and(|t| t >= from && t <= to))
        .count()
}

fn events(dir: &Path) -> Vec<serde_json::Value> {
    faultline_history::compressed::read_text(&dir.join("history.jsonl.zst"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A manifest's `[membership]`: its `remove` and `add` commands run with the
/// node and the members after the change, the removed server is stopped and
/// started again empty, and the history records the members.
#[test]
fn a_manifest_changes_membership_with_its_own_commands() {
    if !faultline_harness::network::is_root() || Command::new("python3").arg("-V").output().is_err()
    {
        eprintln!("skipped: needs root and python3");
        return;
    }
    let _one = serial();
    let d = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/toykv");
    let toml = std::fs::read_to_string(fixture.join("toykv.toml"))
        .unwrap()
        .replace("{{manifest_dir}}/server.py", &fixture.join("server.py").display().to_string())
        .replace("python3 client.py", &format!("python3 {}", fixture.join("client.py").display()))
        + "\n[membership]\n\
           remove = \"echo \\\"removed {{node}}; members $FAULTLINE_MEMBERS\\\" >> {{manifest_dir}}/changes.log; echo removed {{node}}\"\n\
           add = \"echo \\\"added {{node}}; members $FAULTLINE_MEMBERS\\\" >> {{manifest_dir}}/changes.log; echo added {{node}}\"\n";
    let manifest = d.path().join("toykv-members.toml");
    std::fs::write(&manifest, toml).unwrap();
    let store = d.path().join("store");
    let (_, r, dir, text) = run(
        &[
            "--target",
            manifest.to_str().unwrap(),
            "--workload",
            "set",
            "--nemesis",
            "membership",
            "--nemesis-interval",
            "2",
            "--time-limit",
            "6",
            "--seed",
            "4",
        ],
        &store,
    );
    assert!(r["checkers"]["membership"].is_object(), "{text}");
    let ch = changes(&dir);
    assert_eq!(ch.len(), 2, "{ch:?}\n{text}");
    let node = ch[0].1["removed"].as_str().unwrap().to_owned();
    assert_eq!(ch[0].1["did"], format!("removed {node}").as_str(), "{ch:?}");
    assert_eq!(ch[1].1["added"][0], node.as_str(), "{ch:?}");
    let log = std::fs::read_to_string(d.path().join("changes.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].starts_with(&format!("removed {node}; members ")),
        "{log}"
    );
    assert!(!lines[0].contains(&format!("{node}=")), "{log}");
    assert!(lines[1].contains(&format!("{node}=")), "{log}");
    let server = std::fs::read_to_string(dir.join(format!("nodes/{node}/server.log"))).unwrap();
    assert_eq!(server.matches("listening on").count(), 2, "{server}");
    no_namespaces_left();
}

/// A run interrupted (SIGINT) while a node is out still adds it back before
/// teardown: its log shows it left, then joined again from a snapshot.
#[test]
fn sigint_while_a_node_is_out_adds_it_back() {
    if !faultline_harness::network::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _one = serial();
    let d = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "test",
            "--target",
            "refkv",
            "--workload",
            "set",
            "--nemesis",
            "membership",
            "--nemesis-interval",
            "1",
            "--time-limit",
            "60",
            "--seed",
            "7",
            "--store",
            d.path().to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the removal to be recorded (and not yet undone).
    let started = std::time::Instant::now();
    let removed = loop {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(40),
            "no removal recorded"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
        let Ok(dir) = std::fs::canonicalize(d.path().join("latest")) else {
            continue;
        };
        if let Some((_, v)) = changes(&dir).first() {
            break v["removed"].as_str().unwrap().to_owned();
        }
    };
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let dir = std::fs::canonicalize(d.path().join("latest")).unwrap();
    // The schedule stops the fault it holds when interrupted (a
    // `stop-membership`); were it not recorded, teardown's heal adds the
    // node back all the same. Either way the node joined again.
    let ch = changes(&dir);
    assert!(ch.len() <= 2, "{ch:?}");
    let log = std::fs::read_to_string(dir.join(format!("nodes/{removed}/refkv.log"))).unwrap();
    assert!(log.contains("left the cluster"), "{log}");
    assert!(
        log.contains("joined from"),
        "{removed} was not added back: {log}"
    );
    no_namespaces_left();
}

/// Targets that cannot change their membership refuse the fault in one line.
#[test]
fn targets_without_membership_refuse_it() {
    let o = faultline(&["test", "--target", "process", "--nemesis", "membership"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(254), "{err}");
    assert!(err.contains("cannot change its membership"), "{err}");
}
