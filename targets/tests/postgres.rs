//! PostgreSQL streaming replication on three network namespaces. First an
//! asynchronous cluster: every workload's operations against the primary, a
//! standby read, then the operator's `failover` — the old primary crashed,
//! the most advanced standby promoted, writes following it — and the old
//! primary rejoining as a standby. Then a second cluster on the same network
//! with quorum commit (`ANY 1`), standby reads and repeatable read, failed
//! over as well. Needs root (namespaces) and installs `postgresql` if
//! missing; otherwise it says "skipped: needs root".
//!
//! Uses its own prefix (`fp`) and subnet (`10.79.0`), so it never touches the
//! namespaces of a faultline run on the same machine. Whatever happens, the
//! guard stops every daemon and removes the network.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::network::{is_root, Network};
use faultline_harness::remote::Remote;
use faultline_harness::runner::{Client, Completion, Injection, Invocation, Nemesis, Outcome, Rng};
use faultline_harness::Fault;
use faultline_history::Value;
use faultline_targets::db::{Db, DbCluster, DbNode, DbOptions};
use faultline_targets::postgres::{Postgres, PostgresTarget, ReadFrom};

use common::{int, list, mop, Guard, Session};

fn pair(k: i64, v: Value) -> Value {
    list(vec![int(k), v])
}

/// A register read of key `k`.
fn rd(k: i64) -> Value {
    pair(k, Value::Null)
}

fn balances(b: &[i64]) -> Value {
    Value::map(
        b.iter()
            .enumerate()
            .map(|(i, x)| (i.to_string().as_str().into(), int(*x)))
            .collect(),
    )
}

impl Session {
    /// Asserts `ok` with `want`, served by `node`.
    fn ok(&self, c: &mut Box<dyn Client>, f: &'static str, value: Value, want: Value, node: &str) {
        let done = self.call(c, f, value);
        assert_eq!(done.outcome, Outcome::Ok(want), "{f}");
        assert_eq!(done.node.as_deref(), Some(node), "{f} served by {node}");
    }

    /// Retries until `ok` (connections may be broken by a crash); the completion.
    fn until_ok(&self, c: &mut Box<dyn Client>, f: &'static str, value: Value) -> Completion {
        for _ in 0..30 {
            let done = self.call(c, f, value.clone());
            if matches!(done.outcome, Outcome::Ok(_)) {
                return done;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{f} {value} never succeeded");
    }
}

/// Node directories (kept by the guard) for a cluster on `network`.
fn node_dirs(network: &Network, guard: &mut Guard) -> Vec<DbNode> {
    let mut nodes = Vec::new();
    for (r, n) in network.remotes().into_iter().zip(&network.nodes) {
        let dir = tempfile::tempdir().expect("node dir");
        nodes.push(DbNode {
            name: r.node().to_owned(),
            addr: n.addr.clone(),
            remote: r,
            dir: dir.path().to_path_buf(),
        });
        guard._dirs.push(dir);
    }
    nodes
}

/// Starts a cluster with `extra` options; its daemons join the guard's.
fn start(
    nodes: &[DbNode],
    extra: &[(&str, &str)],
    guard: &mut Guard,
) -> (DbCluster, PostgresTarget) {
    let opts = DbOptions {
        workload: "register".into(),
        extra: extra.iter().map(|&(k, v)| (k.into(), v.into())).collect(),
        ..DbOptions::default()
    };
    let t0 = Instant::now();
    let (cluster, target) = Postgres.start(nodes, &opts).expect("setup");
    guard.daemons.extend(cluster.daemons.iter().cloned());
    println!("cluster {extra:?} up in {:?}", t0.elapsed());
    assert_eq!(cluster.daemons.len(), 3);
    assert!(cluster.skewable);
    assert_eq!(cluster.logs.len(), 3);
    for (_, log) in &cluster.logs {
        assert!(log.exists(), "{} exists", log.display());
    }
    (cluster, target)
}

/// Asserts that `d` was served by `node`.
fn served(d: &Completion, node: &str) {
    assert_eq!(d.node.as_deref(), Some(node), "served by {node}");
}

/// Fails over; the promoted node.
fn failover(nemesis: &Arc<dyn Nemesis>) -> String {
    let t1 = Instant::now();
    let what = nemesis
        .start(
            &Fault::parse("failover").unwrap(),
            &mut Rng::new(1),
            &Injection::unbounded(),
        )
        .expect("failover");
    println!("  start -> {what} in {:?}", t1.elapsed());
    assert_eq!(what.get("killed").and_then(Value::as_str), Some("n1"));
    let new = what
        .get("promoted")
        .and_then(Value::as_str)
        .expect("promoted");
    assert_ne!(new, "n1");
    new.to_owned()
}

/// Stops the failover (the old primary must rejoin); heals twice more.
fn rejoin(nemesis: &Arc<dyn Nemesis>) {
    let t2 = Instant::now();
    let back = nemesis
        .stop(&Fault::parse("failover").unwrap())
        .expect("rejoin");
    println!("  stop -> {back} in {:?}", t2.elapsed());
    nemesis.heal_all().expect("heal_all");
    nemesis.heal_all().expect("heal_all again");
}

/// Reads `key` through `c` until it holds `want`, each read served by `node`.
fn read_until(s: &Session, c: &mut Box<dyn Client>, key: i64, want: i64, node: &str) {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let d = s.call(c, "read", rd(key));
        assert_eq!(d.node.as_deref(), Some(node));
        if d.outcome == Outcome::Ok(pair(key, int(want))) {
            return;
        }
        assert!(Instant::now() < until, "{node} never caught up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `pairs` pairs of concurrent write-skew transactions (each reads keys
/// x and y, one appends to x, the other to y); how many failed, each with
/// SQLSTATE 40001 (never `info`: a serialization failure is definite).
fn write_skew(s: &Session, t: &PostgresTarget, pairs: i64) -> usize {
    let la = t.for_workload("list-append");
    let (mut a, mut b) = (s.open(&la, "n2"), s.open(&la, "n3"));
    let mut failed = 0;
    for i in 0..pairs {
        let (x, y) = (100 + 2 * i, 101 + 2 * i);
        let txn = |w| {
            let mops = vec![mop("r", x, Value::Null), mop("r", y, Value::Null)];
            let value = list([mops, vec![mop("append", w, int(1))]].concat());
            Invocation { f: "txn", value }
        };
        let (ta, tb) = (txn(x), txn(y));
        let (da, db) =
            s.rt.block_on(async { tokio::join!(a.invoke(&ta), b.invoke(&tb)) });
        for d in [da.outcome, db.outcome] {
            match d {
                Outcome::Ok(_) => {}
                Outcome::Fail(e) if e.contains("40001") => failed += 1,
                other => panic!("write skew: {other:?}"),
            }
        }
    }
    println!("  write skew: {failed} of {pairs} pairs aborted");
    failed
}

#[test]
fn postgres_replicates_serves_every_workload_and_fails_over() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let began = Instant::now();
    Postgres.install().expect("install postgresql");
    let (mut guard, network) = Guard::three_nodes("fp", "10.79.0");
    let nodes = node_dirs(&network, &mut guard);
    let nodes2 = node_dirs(&network, &mut guard);
    guard.network = Some(network);
    let s = Session {
        rt: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime"),
    };
    asynchronous(&s, &nodes, &mut guard);
    for d in guard.daemons.drain(..) {
        let _ = d.stop(Duration::from_secs(5));
    }
    quorum(&s, &nodes2, &mut guard);
    println!("all done in {:?}", began.elapsed());
}

/// Asynchronous replication, reads from the primary, serializable.
fn asynchronous(s: &Session, nodes: &[DbNode], guard: &mut Guard) {
    let (cluster, target) = start(nodes, &[("sync", "async")], guard);
    let leaders = cluster.leaders.clone().expect("leader discovery");
    assert_eq!(leaders(), vec!["n1".to_owned()]);
    let seen =
        s.rt.block_on(cluster.target.primaries())
            .expect("primaries");
    println!("primaries: {seen}");
    for n in ["n1", "n2", "n3"] {
        assert_eq!(seen.get(n), Some(&list(vec![Value::str("n1")])), "{n}");
    }

    println!("register / cas-register (client on n2, served by the primary):");
    let mut reg = s.open(cluster.target.as_ref(), "n2");
    s.ok(&mut reg, "read", rd(0), pair(0, Value::Null), "n1");
    s.ok(&mut reg, "write", pair(0, int(1)), pair(0, int(1)), "n1");
    s.ok(&mut reg, "read", rd(0), pair(0, int(1)), "n1");
    let cas = pair(0, list(vec![int(1), int(2)]));
    s.ok(&mut reg, "cas", cas.clone(), cas, "n1");
    let bad = s.call(&mut reg, "cas", pair(0, list(vec![int(1), int(3)])));
    assert!(matches!(bad.outcome, Outcome::Fail(_)));
    let fresh = pair(1, list(vec![Value::Null, int(5)]));
    s.ok(&mut reg, "cas", fresh.clone(), fresh, "n1");
    s.ok(&mut reg, "read", rd(1), pair(1, int(5)), "n1");

    println!("set:");
    let mut set = s.open(&target.for_workload("set"), "n3");
    s.ok(&mut set, "add", int(1), int(1), "n1");
    s.ok(&mut set, "add", int(2), int(2), "n1");
    let read = s.call(&mut set, "read", Value::Null).outcome;
    let elems = match &read {
        Outcome::Ok(v) => v.as_list().expect("a list"),
        _ => panic!("set read failed"),
    };
    assert!(elems.len() == 2 && elems.contains(&int(1)) && elems.contains(&int(2)));

    println!("list-append:");
    let mut la = s.open(&target.for_workload("list-append"), "n1");
    let (a1, a2) = (mop("append", 0, int(1)), mop("append", 0, int(2)));
    let l12 = list(vec![int(1), int(2)]);
    let t = list(vec![a1.clone(), a2.clone(), mop("r", 0, Value::Null)]);
    let want = list(vec![a1, a2, mop("r", 0, l12.clone())]);
    s.ok(&mut la, "txn", t, want, "n1");
    let t = list(vec![mop("r", 0, Value::Null), mop("r", 1, Value::Null)]);
    let want = list(vec![mop("r", 0, l12), mop("r", 1, list(vec![]))]);
    s.ok(&mut la, "txn", t, want, "n1");

    println!("bank:");
    let mut bank = s.open(&target.for_workload("bank"), "n2");
    s.ok(&mut bank, "read", Value::Null, balances(&[10; 5]), "n1");
    let tr = |from: i64, to: i64, amount: i64| {
        Value::map(vec![
            ("from".into(), int(from)),
            ("to".into(), int(to)),
            ("amount".into(), int(amount)),
        ])
    };
    s.ok(&mut bank, "transfer", tr(0, 1, 3), tr(0, 1, 3), "n1");
    let moved = balances(&[7, 13, 10, 10, 10]);
    s.ok(&mut bank, "read", Value::Null, moved.clone(), "n1");
    let poor = s.call(&mut bank, "transfer", tr(2, 3, 100));
    assert_eq!(poor.outcome, Outcome::Fail("insufficient funds".into()));

    println!("unique-ids and counter:");
    let mut ids = s.open(&target.for_workload("unique-ids"), "n3");
    let mut got: Vec<Outcome> = (0..3)
        .map(|_| s.call(&mut ids, "generate", Value::Null).outcome)
        .collect();
    assert!(got.iter().all(|o| matches!(o, Outcome::Ok(Value::Int(_)))));
    got.dedup();
    assert_eq!(got.len(), 3, "distinct ids");
    let mut ctr = s.open(&target.for_workload("counter"), "n1");
    s.ok(&mut ctr, "add", int(1), int(1), "n1");
    s.ok(&mut ctr, "add", int(2), int(2), "n1");
    s.ok(&mut ctr, "read", Value::Null, int(3), "n1");

    println!("serializable:");
    assert!(write_skew(s, &target, 10) > 0, "SSI aborts write skew");

    println!("standby reads (client on n3):");
    let standby_reads = target.reading_from(ReadFrom::Standby);
    let mut sr = s.open(&standby_reads, "n3");
    read_until(s, &mut sr, 0, 2, "n3");
    let w = s.call(&mut sr, "write", pair(0, int(3)));
    served(&w, "n1");

    println!("failover:");
    let nemesis = cluster.nemesis.clone().expect("failover nemesis");
    assert_eq!(
        faultline_harness::fault::names(&nemesis.faults()),
        "failover,failover-lagging,membership"
    );
    let new = failover(&nemesis);
    assert_eq!(leaders(), vec![new.clone()]);
    let done = s.until_ok(&mut reg, "write", pair(0, int(10)));
    served(&done, &new);
    s.ok(&mut reg, "read", rd(0), pair(0, int(10)), &new);
    let mut home_down = s.open(cluster.target.as_ref(), "n1");
    let w = pair(2, int(20));
    s.ok(&mut home_down, "write", w.clone(), w, &new);
    let done = s.until_ok(&mut bank, "read", Value::Null);
    assert_eq!(done.outcome, Outcome::Ok(moved));
    let seen =
        s.rt.block_on(cluster.target.primaries())
            .expect("primaries");
    println!("  primaries after failover: {seen}");
    assert_eq!(seen.get(&new), Some(&list(vec![Value::str(&new)])));
    assert_eq!(seen.get("n1"), None, "n1 is down");
    rejoin(&nemesis);
    assert_eq!(leaders(), vec![new]);
    let mut old = s.open(&standby_reads, "n1");
    read_until(s, &mut old, 2, 20, "n1");
}

/// Quorum commit (`ANY 1`), standby reads and repeatable read from the
/// options; after a failover the new primary waits for its own standbys.
fn quorum(s: &Session, nodes: &[DbNode], guard: &mut Guard) {
    let opts = [
        ("sync", "quorum"),
        ("read-from", "standby"),
        ("isolation", "repeatable-read"),
    ];
    let (cluster, target) = start(nodes, &opts, guard);
    let skewed = write_skew(s, &target, 10);
    assert_eq!(skewed, 0, "repeatable read allows write skew");
    let pg = target.cluster();
    let sync = "select string_agg(application_name || ':' || sync_state, ',' \
                order by application_name) from pg_stat_replication";
    assert_eq!(
        pg.psql(0, &[sync], 5).map_err(|e| e.to_string()).as_deref(),
        Ok("n2:quorum,n3:quorum")
    );
    let mut c = s.open(cluster.target.as_ref(), "n2");
    s.ok(&mut c, "write", pair(0, int(1)), pair(0, int(1)), "n1");
    read_until(s, &mut c, 0, 1, "n2");
    let nemesis = cluster.nemesis.clone().expect("failover nemesis");
    let new = failover(&nemesis);
    let i = pg.index(&new).expect("a node");
    let names = pg.psql(i, &["show synchronous_standby_names"], 5);
    println!("  {new}: synchronous_standby_names = {names:?}");
    assert!(names.is_ok_and(|n| n.starts_with("ANY 1 (") && n.contains("n1")));
    let done = s.until_ok(&mut c, "write", pair(0, int(2)));
    served(&done, &new);
    rejoin(&nemesis);
    let mut old = s.open(cluster.target.as_ref(), "n1");
    read_until(s, &mut old, 0, 2, "n1");
}
