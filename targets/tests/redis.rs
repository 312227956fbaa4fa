//! Redis with Sentinel on three network namespaces: every workload's
//! operations, then a crash of the primary, which Sentinel must replace while
//! the clients follow. Needs root (namespaces) and installs redis-server and
//! redis-sentinel if missing; otherwise it says "skipped: needs root".
//!
//! Uses its own prefix (`fr`) and subnet (`10.78.0`), so it never touches the
//! namespaces of a faultline run on the same machine. Whatever happens, the
//! guard stops every daemon and removes the network.

mod common;

use std::time::{Duration, Instant};

use faultline_harness::network::is_root;
use faultline_harness::remote::Remote;
use faultline_harness::runner::{Client, Outcome};
use faultline_history::Value;
use faultline_targets::db::{Db, DbNode, DbOptions};
use faultline_targets::redis::{probe, RedisSentinel, RedisTarget, PORT};

use common::{int, list, mop, Guard, Session};

impl Session {
    fn ok(&self, c: &mut Box<dyn Client>, f: &'static str, value: Value, want: Value) {
        let done = self.call(c, f, value);
        assert_eq!(done.outcome, Outcome::Ok(want), "{f}");
        assert_eq!(done.node.as_deref(), Some("n1"), "served by the primary");
    }
}

#[test]
fn redis_sentinel_serves_every_workload_and_fails_over() {
    if !is_root() {
        println!("skipped: needs root");
        return;
    }
    let began = Instant::now();
    let db = RedisSentinel;
    db.install().expect("install redis");
    let (mut guard, network) = Guard::three_nodes("fr", "10.78.0");
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
    guard.network = Some(network);
    let opts = DbOptions {
        workload: "cas-register".into(),
        ..DbOptions::default()
    };
    let t0 = Instant::now();
    let cluster = db.setup(&nodes, &opts).expect("setup");
    guard.daemons.extend(cluster.daemons.iter().cloned());
    guard.daemons.extend(cluster.sidecars.iter().cloned());
    println!("cluster up in {:?}", t0.elapsed());
    assert_eq!((cluster.daemons.len(), cluster.sidecars.len()), (3, 3));
    assert_eq!(cluster.logs.len(), 6);
    let leaders = cluster.leaders.clone().expect("leader discovery");
    assert_eq!(leaders(), vec!["n1".to_owned()]);

    let s = Session {
        rt: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime"),
    };
    let primaries =
        s.rt.block_on(cluster.target.primaries())
            .expect("primaries");
    println!("primaries: {primaries}");
    for n in ["n1", "n2", "n3"] {
        assert_eq!(primaries.get(n), Some(&list(vec![Value::str("n1")])), "{n}");
    }

    println!("cas-register (client on n2):");
    let mut c = s.open(cluster.target.as_ref(), "n2");
    let t = |k, v| list(vec![int(k), v]);
    s.ok(&mut c, "read", t(0, Value::Null), t(0, Value::Null));
    s.ok(&mut c, "write", t(0, int(1)), t(0, int(1)));
    s.ok(&mut c, "read", t(0, Value::Null), t(0, int(1)));
    let cas = |k, old, new| t(k, list(vec![old, new]));
    s.ok(
        &mut c,
        "cas",
        cas(0, int(1), int(2)),
        cas(0, int(1), int(2)),
    );
    let refused = s.call(&mut c, "cas", cas(0, int(1), int(3)));
    assert!(
        matches!(refused.outcome, Outcome::Fail(_)),
        "cas mismatch fails"
    );
    s.ok(
        &mut c,
        "cas",
        cas(1, Value::Null, int(5)),
        cas(1, Value::Null, int(5)),
    );
    s.ok(&mut c, "read", t(0, Value::Null), t(0, int(2)));

    println!("set (client on n3):");
    let members: Vec<(String, String)> = nodes
        .iter()
        .map(|n| (n.name.clone(), n.addr.clone()))
        .collect();
    let set = RedisTarget::new(members.clone(), "set", None);
    let mut c = s.open(&set, "n3");
    for v in [3, 1, 2] {
        s.ok(&mut c, "add", int(v), int(v));
    }
    s.ok(
        &mut c,
        "read",
        Value::Null,
        list(vec![int(1), int(2), int(3)]),
    );

    println!("list-append (client on n1):");
    let lists = RedisTarget::new(members.clone(), "list-append", None);
    let mut c = s.open(&lists, "n1");
    let txn = list(vec![
        mop("append", 0, int(1)),
        mop("append", 0, int(2)),
        mop("r", 0, Value::Null),
        mop("r", 1, Value::Null),
    ]);
    let want = list(vec![
        mop("append", 0, int(1)),
        mop("append", 0, int(2)),
        mop("r", 0, list(vec![int(1), int(2)])),
        mop("r", 1, list(vec![])),
    ]);
    s.ok(&mut c, "txn", txn, want);

    println!("counter (client on n2):");
    let counter = RedisTarget::new(members.clone(), "counter", None);
    let mut c = s.open(&counter, "n2");
    for _ in 0..3 {
        s.ok(&mut c, "add", int(1), int(1));
    }
    s.ok(&mut c, "add", int(4), int(4));
    s.ok(&mut c, "read", Value::Null, int(7));

    println!("register with wait=2 (client on n3):");
    let waiting = RedisTarget::new(members.clone(), "register", Some(2));
    let mut c = s.open(&waiting, "n3");
    s.ok(&mut c, "write", t(5, int(9)), t(5, int(9)));

    println!("min-replicas-to-write 3 on n1 (only 2 replicas): writes refused");
    let config = |v: &str| {
        let args = ["CONFIG", "SET", "min-replicas-to-write", v];
        probe::query(&nodes[0].addr, PORT, &args, Duration::from_secs(1)).expect("CONFIG SET")
    };
    config("3");
    let mut c = s.open(&waiting, "n2");
    let refused = s.call(&mut c, "write", t(5, int(10)));
    assert!(matches!(&refused.outcome, Outcome::Fail(e) if e.contains("NOREPLICAS")));
    let mut l = s.open(&lists, "n2");
    let refused = s.call(&mut l, "txn", list(vec![mop("append", 3, int(1))]));
    assert!(matches!(&refused.outcome, Outcome::Fail(e) if e.contains("NOREPLICAS")));
    s.ok(&mut c, "read", t(5, Value::Null), t(5, int(9)));
    let nothing = list(vec![mop("r", 3, list(vec![]))]);
    s.ok(&mut l, "txn", list(vec![mop("r", 3, Value::Null)]), nothing);
    config("0");

    println!("kill -9 the primary n1:");
    let mut c = s.open(cluster.target.as_ref(), "n2");
    s.ok(&mut c, "read", t(5, Value::Null), t(5, int(9)));
    let killed = Instant::now();
    cluster.daemons[0].kill().expect("kill n1");
    let mut value = 100;
    let (failover, node) = loop {
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no new primary within 30 s; leaders: {:?}",
            leaders()
        );
        value += 1;
        let done = s.call(&mut c, "write", t(0, int(value)));
        match (&done.outcome, done.node.as_deref()) {
            (Outcome::Ok(v), Some(n)) if n != "n1" => {
                assert_eq!(v, &t(0, int(value)));
                break (killed.elapsed(), n.to_owned());
            }
            (Outcome::Ok(_), n) => panic!("write acknowledged by {n:?} after its crash"),
            _ => std::thread::sleep(Duration::from_millis(500)),
        }
    };
    println!("failover: {node} serves writes {failover:?} after the crash");
    assert_eq!(leaders(), vec![node.clone()]);
    // A write that WAIT saw on both replicas survives the failover.
    let done = s.call(&mut c, "read", t(5, Value::Null));
    assert_eq!(done.outcome, Outcome::Ok(t(5, int(9))));
    assert_eq!(done.node.as_deref(), Some(node.as_str()));
    // Sentinel then points the other replica at the new primary.
    let agreed = loop {
        let p =
            s.rt.block_on(cluster.target.primaries())
                .expect("primaries");
        let follow = |n: &str| p.get(n) == Some(&list(vec![Value::str(&node)]));
        if follow("n2") && follow("n3") {
            break p;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(45),
            "replicas do not follow {node}: {p}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    println!("primaries {:?} after the crash: {agreed}", killed.elapsed());
    assert!(
        agreed.get("n1").is_none(),
        "the crashed node answers no ROLE"
    );

    println!("wait=2 with one replica left: applied, but info");
    let mut c = s.open(&waiting, "n2");
    let short = s.call(&mut c, "write", t(6, int(1)));
    assert!(matches!(&short.outcome, Outcome::Info(e) if e.contains("only 1 of 2")));
    assert_eq!(short.node.as_deref(), Some(node.as_str()));
    let done = s.call(&mut c, "read", t(6, Value::Null));
    assert_eq!(done.outcome, Outcome::Ok(t(6, int(1))));

    println!("restart n1: Sentinel demotes it");
    let restarted = Instant::now();
    cluster.daemons[0].start().expect("restart n1");
    loop {
        let p =
            s.rt.block_on(cluster.target.primaries())
                .expect("primaries");
        if p.get("n1") == Some(&list(vec![Value::str(&node)])) {
            println!(
                "n1 follows {node} {:?} after its restart",
                restarted.elapsed()
            );
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(30),
            "n1 not demoted: {p}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(leaders(), vec![node.clone()]);
    drop(c);
    drop(s);
    println!("test took {:?}", began.elapsed());
}
