//! The replication checkers against their fixtures: small hand-written
//! histories in `tests/fixtures/replication/`, each with one planted anomaly
//! (or none), checked with the workload's default checkers exactly as
//! `faultline check FILE --workload W` runs them.

use std::path::PathBuf;
use std::sync::Arc;

use faultline_checkers::replication::SplitBrain;
use faultline_checkers::{checker, workload, CheckOptions, Checker, Results, Validity, Verdict};
use faultline_history::{read_path, Event, EventType, History, Process, Value};
use serde_json::json;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/replication")
        .join(name)
}

/// Runs `checkers` (or the workload's defaults) on a fixture.
fn run(name: &str, w: &str, checkers: &[&str], opts: &CheckOptions) -> Results {
    let h = read_path(&fixture(name), None)
        .unwrap_or_else(|e| panic!("{e}"))
        .history;
    let w = workload(w).unwrap();
    let names: Vec<&str> = if checkers.is_empty() {
        w.default_checkers(&h)
    } else {
        checkers.to_vec()
    };
    Results::combine(names.iter().map(|n| {
        let c = checker(n, w, opts).unwrap();
        (
            n.to_string(),
            c.check(&h).unwrap_or_else(|e| panic!("{name}: {n}: {e}")),
        )
    }))
}

/// Expects exactly `types` (and validity false, or true when empty), and that
/// some explanation contains each of `says`.
#[track_caller]
fn expect(name: &str, w: &str, types: &[&str], says: &[&str]) -> Results {
    expect_with(name, w, &[], &CheckOptions::default(), types, says)
}

#[track_caller]
fn expect_with(
    name: &str,
    w: &str,
    checkers: &[&str],
    opts: &CheckOptions,
    types: &[&str],
    says: &[&str],
) -> Results {
    let r = run(name, w, checkers, opts);
    let explanations: Vec<&str> = r
        .checkers
        .values()
        .flat_map(|v| v.anomalies.iter().map(|a| a.explanation.as_str()))
        .collect();
    assert_eq!(r.anomaly_types, types, "{name}: {explanations:#?}");
    let want = if types.is_empty() {
        Validity::True
    } else {
        Validity::False
    };
    assert_eq!(r.valid, want, "{name}");
    for s in says {
        assert!(
            explanations.iter().any(|e| e.contains(s)),
            "{name}: no explanation says {s:?}: {explanations:#?}"
        );
    }
    r
}

#[test]
fn set_valid_histories_pass() {
    expect("set-valid.jsonl", "set", &[], &[]);
    expect("set-failover-valid.jsonl", "set", &[], &[]);
    let r = expect("set-recovered.jsonl", "set", &[], &[]);
    assert_eq!(
        r.checkers["set"].details["recovered"],
        serde_json::json!(["element 5"])
    );
}

#[test]
fn set_stale_read_is_not_lost_and_its_latency_is_measured() {
    let r = expect("set-stale-then-stable.jsonl", "set", &[], &[]);
    let d = &r.checkers["set"].details;
    assert_eq!(d["stale"], serde_json::json!(["element 2"]));
    assert_eq!(d["stable_count"], 4);
    // Element 2 was acknowledged at 0.25 s and stably visible from the read at 0.80 s.
    assert_eq!(d["stable_latency"]["max"], 0.55);
    let table = d["elements"].as_array().unwrap();
    let two = table.iter().find(|e| e["element"] == "element 2").unwrap();
    assert_eq!(two["first_seen"], 0.85);
    assert_eq!(two["last_seen"], 1.05);
    let s = &r.checkers["staleness"].details;
    assert_eq!(s["overall"]["stale_reads"], 1);
    assert_eq!(s["nodes"]["n2"]["stale_reads"], 1);
    assert_eq!(s["stale"][0]["missed"], 1);
}

#[test]
fn set_lost_write_names_the_element_and_when_it_was_acknowledged() {
    expect(
        "set-lost-write.jsonl",
        "set",
        &["lost-write"],
        &["element 3 was acknowledged to process 0 by n1 at 0.35 s; last seen at 0.55 s; the last read (process 2 from n2, invoked at 2.00 s) lacks it"],
    );
}

#[test]
fn set_unexpected_failed_and_unread() {
    expect(
        "set-unexpected.jsonl",
        "set",
        &["unexpected"],
        &["read element 9 from n1 at 1.05 s, but no client ever added it"],
    );
    expect(
        "set-failed-add-visible.jsonl",
        "set",
        &["failed-add-visible"],
        &["add of element 7 failed"],
    );
    let r = run(
        "set-never-read.jsonl",
        "set",
        &["set"],
        &CheckOptions::default(),
    );
    assert_eq!(r.valid, Validity::Unknown);
}

#[test]
fn unique_ids() {
    let r = expect("unique-ids-valid.jsonl", "unique-ids", &[], &[]);
    assert_eq!(r.checkers["unique-ids"].details["acknowledged_count"], 4);
    expect(
        "unique-ids-duplicate.jsonl",
        "unique-ids",
        &["duplicate-id"],
        &["id 3 was handed out 2 times: to process 0 from n1 at 0.31 s, then to process 1 from n2 at 2.01 s"],
    );
}

#[test]
fn counter_bounds() {
    expect("counter-valid.jsonl", "counter", &[], &[]);
    expect(
        "counter-lost-increment.jsonl",
        "counter",
        &["counter-out-of-bounds"],
        &["read 2 from n2 at 1.05 s, but the counter could only be between 4 and 9"],
    );
}

#[test]
fn bank_totals_and_overdrafts() {
    expect("bank-valid.jsonl", "bank", &[], &[]);
    expect(
        "bank-wrong-total.jsonl",
        "bank",
        &["wrong-total"],
        &["balances totalling 33, but the total is 30"],
    );
    expect(
        "bank-negative.jsonl",
        "bank",
        &["negative-balance"],
        &["account 0 = -3"],
    );
    let allow = CheckOptions {
        allow_negative: true,
        ..CheckOptions::default()
    };
    expect_with("bank-negative.jsonl", "bank", &[], &allow, &[], &[]);
    let total = CheckOptions {
        initial: Some(31.into()),
        ..CheckOptions::default()
    };
    expect_with(
        "bank-valid.jsonl",
        "bank",
        &[],
        &total,
        &["wrong-total"],
        &["(from --initial)"],
    );
}

#[test]
fn register_valid_history_passes_every_checker() {
    expect("register-valid.jsonl", "register", &[], &[]);
}

#[test]
fn session_guarantees_on_registers() {
    let s = &["session"];
    let o = &CheckOptions::default();
    expect_with(
        "register-read-your-writes.jsonl",
        "register",
        s,
        o,
        &["read-your-writes"],
        &["process 7 wrote x=5 on n1 at 1.20 s, then read x=4 from n3 at 1.31 s"],
    );
    expect_with(
        "register-monotonic-reads.jsonl",
        "register",
        s,
        o,
        &["monotonic-reads", "monotonic-writes"],
        &["process 3 read x=5 from n1 at 1.12 s, then read x=4 from n2 at 1.22 s"],
    );
    expect_with(
        "register-monotonic-writes.jsonl",
        "register",
        s,
        o,
        &["monotonic-writes"],
        &["process 1 wrote x=5 before x=6, but process 3 read x=6 from n2 at 1.22 s, then process 4 read x=5 from n2 at 1.32 s"],
    );
    expect_with(
        "register-writes-follow-reads.jsonl",
        "register",
        s,
        o,
        &["writes-follow-reads"],
        &["process 6 read x=5 before writing x=6, but process 3 read x=6 from n3"],
    );
    // The read of x=nil is evidence only when nil is known to be the initial
    // value (`--initial nil`); without it a nil read says nothing (Knossos).
    let nil = &CheckOptions {
        initial: Some(faultline_history::Value::Null),
        ..CheckOptions::default()
    };
    expect_with(
        "register-consistent-prefix.jsonl",
        "register",
        s,
        nil,
        &["consistent-prefix"],
        &["process 2 read y=1 from n2 at 1.52 s (whose write was invoked at 1.10 s, after x=1 was acknowledged at 1.05 s), then read x=nil from n3 at 1.62 s"],
    );
    expect_with(
        "register-consistent-prefix.jsonl",
        "register",
        s,
        o,
        &[],
        &[],
    );
}

/// Without `--initial`, a nil read says nothing to any checker, as it says
/// nothing to the linearizable one (Knossos' rule); `--initial nil` makes it
/// a value for all of them.
#[test]
fn nil_reads_say_nothing_unless_the_initial_value_is_given() {
    let all = &["linearizable", "session", "staleness", "conflicts"];
    let r = run(
        "register-consistent-prefix.jsonl",
        "register",
        all,
        &CheckOptions::default(),
    );
    assert_eq!(r.valid, Validity::True, "{:?}", r.anomaly_types);
    assert_eq!(r.checkers["staleness"].details["overall"]["reads"], 1);
    let nil = CheckOptions {
        initial: Some(faultline_history::Value::Null),
        ..CheckOptions::default()
    };
    let r = run("register-consistent-prefix.jsonl", "register", all, &nil);
    assert_eq!(r.checkers["linearizable"].valid, Validity::False);
    assert_eq!(r.checkers["session"].valid, Validity::False);
    assert_eq!(r.checkers["staleness"].details["overall"]["reads"], 2);
}

#[test]
fn session_guarantees_on_list_append() {
    expect("list-append-valid.jsonl", "list-append", &[], &[]);
    let s = &["session"];
    let o = &CheckOptions::default();
    expect_with(
        "list-append-read-your-writes.jsonl",
        "list-append",
        s,
        o,
        &["read-your-writes"],
        &["process 2 appended x=2 on n1 at 0.25 s, then read x=[1] from n3 at 0.55 s without it"],
    );
    expect_with(
        "list-append-monotonic-writes.jsonl",
        "list-append",
        s,
        o,
        &["consistent-prefix", "monotonic-writes"],
        &["process 1 appended x=1 before y=1, but process 3 saw y=1 and read x=[2] from n3 at 0.55 s without x=1"],
    );
    expect_with(
        "list-append-consistent-prefix.jsonl",
        "list-append",
        s,
        o,
        &["consistent-prefix"],
        &["they are not prefixes of one order"],
    );
}

#[test]
fn staleness_is_measured_per_node() {
    let r = run(
        "register-monotonic-reads.jsonl",
        "register",
        &["staleness"],
        &CheckOptions::default(),
    );
    assert_eq!(r.valid, Validity::True, "a measurement, not a verdict");
    let d = &r.checkers["staleness"].details;
    // The read of x=4 from n2 at 1.20 s missed x=5, acknowledged at 1.05 s.
    assert_eq!(d["overall"]["reads"], 4);
    assert_eq!(d["overall"]["stale_reads"], 1);
    assert_eq!(d["nodes"]["n2"]["stale_for"]["max"], 0.15);
    assert_eq!(d["nodes"]["n1"]["stale_reads"], 0);
    assert_eq!(d["stale"][0]["missed"], 1);
}

#[test]
fn split_brain_names_the_interval_the_nodes_and_the_vanished_writes() {
    let r = expect(
        "set-split-brain.jsonl",
        "set",
        &["lost-write", "split-brain"],
        &[
            "from 2.00 s to 4.00 s, n1 and n3 each acted as leader and 2 of them accepted writes",
            "Afterwards only n3 led: n1 had been deposed. 2 of those acknowledged writes later vanished: element 3 (taken by n1), element 5 (taken by n1)",
        ],
    );
    let a = &r.checkers["split-brain"].anomalies[0];
    assert_eq!(a.data["leaders"], serde_json::json!(["n1", "n3"]));
}

/// The same split brain, with n1 removed from the cluster (the
/// `membership` fault) just before it: n1's writes are served by a
/// non-member, and split-brain says n1 was not a member then.
#[test]
fn split_brain_names_a_leader_that_was_no_longer_a_member() {
    let r = expect(
        "set-split-brain-removed.jsonl",
        "set",
        &["lost-write", "non-member-served", "split-brain"],
        &[
            "n1 and n3 each acted as leader",
            "Not a member then: n1 (removed from the cluster at event 5)",
            "n1 acknowledged 2 operation(s) (0 read(s), 2 write(s)) after it was removed from the cluster (event 5) before it was added back (event 18)",
        ],
    );
    let a = &r.checkers["split-brain"].anomalies[0];
    assert_eq!(a.data["non_members"], serde_json::json!(["n1"]));
    assert_eq!(
        r.checkers["membership"].anomalies[0].ops,
        vec![5, 7, 8, 11, 12, 18]
    );
}

#[test]
fn leadership_claims_without_writes_on_both_sides_are_not_split_brain() {
    let r = expect("set-fenced-claims-valid.jsonl", "set", &[], &[]);
    let claims = &r.checkers["split-brain"].details["claims_without_split_writes"];
    assert_eq!(claims[0]["writers"], serde_json::json!(["n3"]));
}

/// A write the client only *sent* to n1 (a node that may have relayed it to
/// its leader) is no evidence that n1 took it: split brain is not claimed,
/// cannot be ruled out either, and the writes are counted as unattributed.
#[test]
fn split_brain_credits_no_node_with_writes_only_sent_to_it() {
    let r = run(
        "set-split-brain-forwarded.jsonl",
        "set",
        &[],
        &CheckOptions::default(),
    );
    let v = &r.checkers["split-brain"];
    assert!(v.anomalies.is_empty(), "{:#?}", v.anomalies);
    assert_eq!(v.valid, Validity::Unknown);
    assert_eq!(v.details["unattributed_writes"], 2);
    let reason = v.details["reason"].as_str().unwrap();
    assert!(
        reason.contains(
            "from 2.00 s to 4.00 s, n1 and n3 each claimed leadership and 2 writes acknowledged in that time name no node that acknowledged them"
        ),
        "{reason}"
    );
    assert!(v.details["summary"]
        .as_str()
        .unwrap()
        .starts_with("2 acknowledged writes name no node that acknowledged them"));
    // The set checker still sees the lost elements: only the attribution is gone.
    assert_eq!(r.checkers["set"].anomaly_types, ["lost-write"]);
}

/// A leader query that never names anyone is not evidence of one leader.
#[test]
fn split_brain_is_unknown_when_no_observation_named_a_leader() {
    let r = run(
        "set-primaries-never-named.jsonl",
        "set",
        &["split-brain"],
        &CheckOptions::default(),
    );
    let v = &r.checkers["split-brain"];
    assert_eq!(v.valid, Validity::Unknown);
    assert_eq!(
        v.details["reason"],
        "3 `primaries` observations, none of which named a leader: leadership was not seen, so split brain cannot be judged"
    );
}

/// Without any `primaries` event split-brain has nothing to judge: it is not
/// among the defaults, and asked for by name it is `unknown`.
#[test]
fn split_brain_without_observations_is_unknown_and_not_run_by_default() {
    let r = run("set-valid.jsonl", "set", &[], &CheckOptions::default());
    assert!(!r.checkers.contains_key("split-brain"));
    assert_eq!(r.valid, Validity::True);
    let r = run(
        "set-valid.jsonl",
        "set",
        &["split-brain"],
        &CheckOptions::default(),
    );
    let v = &r.checkers["split-brain"];
    assert_eq!(v.valid, Validity::Unknown);
    assert!(v.details["reason"]
        .as_str()
        .unwrap()
        .starts_with("no `primaries` observations"));
}

/// A read recorded only as sent to a node is measured overall, but in no
/// node's row.
#[test]
fn staleness_rows_hold_only_reads_whose_node_is_known() {
    let r = run(
        "set-split-brain-forwarded.jsonl",
        "set",
        &["staleness"],
        &CheckOptions::default(),
    );
    let d = &r.checkers["staleness"].details;
    assert_eq!(d["unattributed_reads"], 0);
    let text = std::fs::read_to_string(fixture("register-monotonic-reads.jsonl"))
        .unwrap()
        .replace(r#""node":"n2""#, r#""sent_to":"n2""#);
    let h = faultline_history::read_from(text.as_bytes(), "h.jsonl", "jsonl", None)
        .unwrap()
        .history;
    let w = workload("register").unwrap();
    let v = checker("staleness", w, &CheckOptions::default())
        .unwrap()
        .check(&h)
        .unwrap();
    let d = &v.details;
    assert_eq!(d["overall"]["stale_reads"], 1, "still measured overall");
    assert!(d["nodes"].get("n2").is_none(), "{d}");
    assert!(d["nodes"].get("unknown").is_none(), "{d}");
    assert_eq!(d["unattributed_stale_reads"], 1);
    assert!(
        d["summary"]
            .as_str()
            .unwrap()
            .contains("name no node that served them"),
        "{d}"
    );
}

/// With a consistency model, session violations are judged against it:
/// serializability (and snapshot isolation) promise no session order, so a
/// monotonic-reads violation is reported but does not fail the history;
/// strong-session-serializable promises it. Without a model: as before.
#[test]
fn session_violations_fail_only_models_that_promise_them() {
    let name = "list-append-monotonic-reads.jsonl";
    let with = |m: Option<&str>| {
        let opts = CheckOptions {
            consistency_model: m.map(Into::into),
            ..CheckOptions::default()
        };
        run(name, "list-append", &["session", "elle"], &opts)
    };
    for m in ["serializable", "snapshot-isolation", "read-committed"] {
        let r = with(Some(m));
        let s = &r.checkers["session"];
        assert_eq!(s.valid, Validity::True, "{m}");
        assert_eq!(
            s.anomaly_types,
            ["monotonic-reads"],
            "still reported under {m}"
        );
        assert_eq!(
            s.details["not_promised"],
            serde_json::json!(["monotonic-reads"])
        );
        assert_eq!(r.valid, Validity::True, "{m}");
    }
    for m in [
        Some("strong-session-serializable"),
        Some("strict-serializable"),
        Some("monotonic-reads"),
        None,
    ] {
        let r = with(m);
        assert_eq!(r.checkers["session"].valid, Validity::False, "{m:?}");
    }
    let r = with(Some("read-your-writes"));
    assert_eq!(r.checkers["session"].valid, Validity::True);
    let err = checker(
        "session",
        workload("register").unwrap(),
        &CheckOptions {
            consistency_model: Some("linearizable".into()),
            ..CheckOptions::default()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.starts_with("unknown consistency model \"linearizable\""),
        "{err}"
    );
}

#[test]
fn write_conflicts() {
    let c = &["conflicts"];
    let o = &CheckOptions::default();
    expect_with(
        "register-lww-lost-update.jsonl",
        "register",
        c,
        o,
        &["lost-update"],
        &["x=2 was acknowledged to process 2 by n2 at 1.55 s, but every read after the last write (2 of them"],
    );
    expect_with("register-siblings-valid.jsonl", "register", c, o, &[], &[]);
    // A write of unknown outcome whose session had read 1 and 2 may have
    // replaced them (refkv's leaderless siblings mode: fewer than w replicas
    // answered in time, but one stored it).
    expect_with(
        "register-siblings-info-supersedes.jsonl",
        "register",
        c,
        o,
        &[],
        &[],
    );
    expect_with(
        "register-siblings-lost.jsonl",
        "register",
        c,
        o,
        &["lost-sibling"],
        &["x=2 was acknowledged to process 2 by n2 at 1.05 s, but the final read (process 4 from n2 at 2.05 s) returned siblings [1] without it"],
    );
    expect_with(
        "list-append-lost-write.jsonl",
        "list-append",
        c,
        o,
        &["lost-write"],
        &["the append of x=2 was acknowledged to process 2 by n1 at 0.25 s, but the final read of x"],
    );
}

/// n1 and n3 both claim leadership; process 0 adds through n1, process 1
/// through n3. `n1_write` sets how the n1 writes name their node.
fn two_leaders(n1_write: fn(&mut Event, &mut Event)) -> History {
    let both = Value::map(vec![
        ("n1".into(), Value::list(vec![Value::str("n1")])),
        ("n3".into(), Value::list(vec![Value::str("n3")])),
    ]);
    let mut events = vec![Event::new(
        0,
        EventType::Info,
        Process::Nemesis,
        "primaries",
        both,
    )];
    for (i, p) in [0i64, 1, 0, 1].into_iter().enumerate() {
        let v = Value::Int(i as i64);
        let mut inv = Event::new(0, EventType::Invoke, Process::Client(p), "add", v.clone());
        let mut ok = Event::new(0, EventType::Ok, Process::Client(p), "add", v);
        if p == 0 {
            n1_write(&mut inv, &mut ok);
        } else {
            ok.node = Some(Arc::from("n3"));
        }
        events.extend([inv, ok]);
    }
    for (i, e) in events.iter_mut().enumerate() {
        e.index = i as u64;
        e.time = Some(i as i64 * 1_000_000);
    }
    History::new(events).unwrap()
}

fn split_brain(h: &History) -> Verdict {
    SplitBrain::default().check(h).unwrap()
}

/// Only a completion's `node` attributes a write to a node: a completion
/// naming where it was `sent_to`, an invocation's `node`, or nothing at all
/// credits no one.
#[test]
fn only_a_completion_s_node_attributes_a_write() {
    // Acknowledged by n1: split brain, proven.
    let v = split_brain(&two_leaders(|_, ok| ok.node = Some(Arc::from("n1"))));
    assert_eq!(v.valid, Validity::False);
    assert_eq!(v.anomaly_types, ["split-brain"]);
    // Sent to n1 (on the completion, or as the invocation's node): no one
    // is credited, and split brain cannot be ruled out.
    for sent in [
        (|_, ok| ok.sent_to = Some(Arc::from("n1"))) as fn(&mut Event, &mut Event),
        |inv, _| inv.node = Some(Arc::from("n1")),
        |_, _| {},
    ] {
        let v = split_brain(&two_leaders(sent));
        assert!(v.anomalies.is_empty(), "{:?}", v.anomalies);
        assert_eq!(v.valid, Validity::Unknown);
        assert_eq!(v.details["unattributed_writes"], 2);
        assert_eq!(
            v.details["claims_without_split_writes"][0]["writers"],
            json!(["n3"])
        );
    }
}

/// Runs `split-brain` on a set history written inline, one JSON event a line.
fn split_brain_of(lines: &[String]) -> faultline_checkers::Verdict {
    let text = lines.join("\n");
    let h = faultline_history::read_from(text.as_bytes(), "inline.jsonl", "jsonl", None)
        .unwrap()
        .history;
    let w = workload("set").unwrap();
    checker("split-brain", w, &CheckOptions::default())
        .unwrap()
        .check(&h)
        .unwrap()
}

/// A `primaries` event recorded at `to_s` seconds, observed from `from_s`
/// when given.
fn observation(i: u64, from_s: Option<f64>, to_s: f64, value: &str) -> String {
    let from = from_s.map_or(String::new(), |f| {
        format!(",\"observed_from\":{}", (f * 1e9) as i64)
    });
    format!(
        "{{\"index\":{i},\"time\":{},\"type\":\"info\",\"process\":\"nemesis\",\"f\":\"primaries\",\"value\":{value}{from}}}",
        (to_s * 1e9) as i64
    )
}

/// An acknowledged add of `v` by `node`, invoked at `at_s` seconds.
fn add(i: u64, at_s: f64, v: i64, node: &str) -> [String; 2] {
    let t = (at_s * 1e9) as i64;
    [
        format!("{{\"index\":{i},\"time\":{t},\"type\":\"invoke\",\"process\":{v},\"f\":\"add\",\"value\":{v}}}"),
        format!(
            "{{\"index\":{},\"time\":{},\"type\":\"ok\",\"process\":{v},\"f\":\"add\",\"value\":{v},\"node\":\"{node}\"}}",
            i + 1,
            t + 10_000_000
        ),
    ]
}

const TWO: &str = r#"{"n1":["n1"],"n3":["n3"]}"#;
const ONE: &str = r#"{"n1":["n3"],"n3":["n3"]}"#;

/// Two leaders seen in an observation at 1.9-2.0 s, one seen at 3.0-3.1 s,
/// and writes on both sides at 2.5 s: between the observations, where no
/// one saw who led.
fn between_observations(windows: bool) -> Vec<String> {
    let w = |f: f64| windows.then_some(f);
    let mut l = vec![observation(0, w(1.9), 2.0, TWO)];
    l.extend(add(1, 2.5, 1, "n1"));
    l.extend(add(3, 2.6, 2, "n3"));
    l.push(observation(5, w(3.0), 3.1, ONE));
    l
}

#[test]
fn split_brain_claims_stand_only_while_they_were_observed() {
    // With each observation's window, writes between observations prove nothing.
    let v = split_brain_of(&between_observations(true));
    assert_eq!(v.valid, Validity::True, "{:?}", v.anomalies);
    assert_eq!(v.details["claim_windows"], "observed");
    let claim = &v.details["claims_without_split_writes"][0];
    assert_eq!(claim["writers"], serde_json::json!([]));
    assert!(
        (claim["observed"].as_f64().unwrap() - 0.1).abs() < 1e-6,
        "{claim}"
    );
    // Without windows (older histories) a claim holds until the next
    // observation, as before.
    let v = split_brain_of(&between_observations(false));
    assert_eq!(v.valid, Validity::False);
    assert_eq!(v.details["claim_windows"], "until-next");
}

#[test]
fn split_brain_counts_writes_inside_the_observed_windows_of_an_episode() {
    // Two consecutive two-leader observations (1.0-1.5 s and 2.0-2.5 s): one
    // episode, two windows. n1 writes in the first, n3 in the second; n3's
    // write at 1.7 s falls between two observations that both saw it claim,
    // and counts; n1's write at 2.7 s comes after the last one, and does not.
    let mut l = vec![observation(0, Some(1.0), 1.5, TWO)];
    l.extend(add(1, 1.2, 1, "n1"));
    l.extend(add(3, 1.7, 2, "n3"));
    l.push(observation(5, Some(2.0), 2.5, TWO));
    l.extend(add(6, 2.2, 3, "n3"));
    l.extend(add(8, 2.7, 4, "n1"));
    l.push(observation(10, Some(3.0), 3.2, ONE));
    let v = split_brain_of(&l);
    assert_eq!(v.valid, Validity::False);
    let a = &v.anomalies[0];
    assert_eq!(a.data["writes"], serde_json::json!({"n1": 1, "n3": 2}));
    assert!(
        a.explanation.starts_with(
            "from 1.00 s to 2.50 s (claims observed for 1.00 s of it, in 2 observations), n1 and n3 each acted as leader"
        ),
        "{}",
        a.explanation
    );
    assert!(
        a.explanation.contains("Afterwards only n3 led"),
        "{}",
        a.explanation
    );
}

/// A monotonic-reads violation cites the element the session saw first
/// among those the later read lacks, and the read that first held it.
#[test]
fn monotonic_reads_cites_the_earliest_seen_missing_element() {
    let text = r#"{"index":0,"type":"invoke","process":0,"f":"add","value":1}
{"index":1,"type":"ok","process":0,"f":"add","value":1}
{"index":2,"type":"invoke","process":0,"f":"add","value":2}
{"index":3,"type":"ok","process":0,"f":"add","value":2}
{"index":4,"type":"invoke","process":0,"f":"add","value":3}
{"index":5,"type":"ok","process":0,"f":"add","value":3}
{"index":6,"type":"invoke","process":1,"f":"read","value":null}
{"index":7,"type":"ok","process":1,"f":"read","value":[2]}
{"index":8,"type":"invoke","process":1,"f":"read","value":null}
{"index":9,"type":"ok","process":1,"f":"read","value":[3,1,2]}
{"index":10,"type":"invoke","process":1,"f":"read","value":null}
{"index":11,"type":"ok","process":1,"f":"read","value":[3]}
"#;
    let h = faultline_history::read_from(text.as_bytes(), "h.jsonl", "jsonl", None)
        .unwrap()
        .history;
    let v = checker(
        "session",
        workload("set").unwrap(),
        &CheckOptions::default(),
    )
    .unwrap()
    .check(&h)
    .unwrap();
    assert_eq!(
        v.details["violations"]["monotonic-reads"], 1,
        "{}",
        v.details
    );
    let first = v
        .anomalies
        .iter()
        .find(|a| a.kind == "monotonic-reads")
        .unwrap();
    assert_eq!(first.ops, [7, 11], "element 2, first seen at index 7");
    assert!(
        first.explanation.contains("saw 2 in a read"),
        "{}",
        first.explanation
    );
}
