//! Property tests for every reader of outside input.
//!
//! * Arbitrary bytes, read as each format and with detection, never panic, and
//!   an error prints as one line that starts with the file name.
//! * Valid histories in each format, cut short or with one byte changed, do the
//!   same.
//! * Well-formed histories written with [`JsonlWriter`] read back equal, and so
//!   do the same histories rendered as Jepsen EDN (one op map per line, and one
//!   vector of op maps).
//! * A zstd-compressed history (`history.jsonl.zst`) reads back equal, cut at
//!   any byte still gives everything synced before the cut, and damaged it
//!   never panics.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use faultline_history::{
    read_from, read_path, Event, EventType, Format, HistoryError, JsonlWriter, Process, Value,
};
use proptest::prelude::*;
use proptest::sample::Index;

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

/// Field names the event model owns; extra fields must use other names.
const RESERVED: [&str; 10] = [
    "index", "time", "type", "process", "f", "value", "node", "sent_to", "sent-to", "error",
];

/// Finite floats of every magnitude (both zeros, subnormals, huge exponents).
fn arb_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>()
            .prop_map(f64::from_bits)
            .prop_filter("finite", |x| x.is_finite()),
        prop::sample::select(vec![0.0, -0.0, 1.0, -1.5, 0.1, 1e16, 1e300, 5e-324, 2.5]),
        (-1_000_000i64..1_000_000).prop_map(|i| i as f64 / 8.0),
    ]
}

/// Strings: mostly readable, sometimes anything (quotes, backslashes, control
/// characters, astral planes).
fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z0-9 _-]{0,8}",
        1 => "[\"\\\\\n\t\r\u{0}\u{7f} a\u{e9}\u{1F600}]{0,6}",
        1 => any::<String>(),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![any::<i64>(), -10i64..10].prop_map(Value::Int),
        arb_float().prop_map(Value::Float),
        arb_string().prop_map(|s| Value::str(&s)),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::list),
            prop::collection::vec((arb_string(), inner), 0..4).prop_map(|kv| {
                Value::Map(kv.into_iter().map(|(k, v)| (Arc::from(k), v)).collect())
            }),
        ]
    })
}

fn arb_non_null_value() -> impl Strategy<Value = Value> {
    arb_value().prop_filter("non-null", |v| !v.is_null())
}

/// A name that can be written as an EDN keyword.
fn arb_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9?!*-]{0,7}"
}

fn arb_process() -> impl Strategy<Value = Option<Process>> {
    prop_oneof![
        4 => prop_oneof![0i64..20, any::<i64>()].prop_map(|i| Some(Process::Client(i))),
        1 => Just(Some(Process::Nemesis)),
        1 => arb_name()
            .prop_filter("not the nemesis", |n| n != "nemesis")
            .prop_map(|n| Some(Process::Named(Arc::from(n)))),
        1 => Just(None),
    ]
}

fn arb_extra_key() -> impl Strategy<Value = String> {
    prop_oneof![3 => arb_name(), 1 => arb_string()].prop_filter("not a field of the model", |k| {
        !RESERVED.contains(&k.as_str())
    })
}

/// Everything about one step of a history except who takes it.
#[derive(Clone, Debug)]
struct Step {
    who: Index,
    f: &'static str,
    outcome: EventType,
    value: Value,
    gap: u64,
    time: Option<i64>,
    node: Option<String>,
    sent_to: Option<String>,
    error: Option<Value>,
    extra: Vec<(String, Value)>,
}

fn arb_step() -> impl Strategy<Value = Step> {
    (
        any::<Index>(),
        prop::sample::select(vec!["read", "write", "cas", "txn", "append", "start", ""]),
        prop::sample::select(vec![EventType::Ok, EventType::Fail, EventType::Info]),
        arb_value(),
        prop_oneof![3 => Just(0u64), 1 => 1u64..1000],
        prop::option::of(any::<i64>()),
        (
            prop::option::weighted(0.2, arb_string()),
            prop::option::weighted(0.2, arb_string()),
        ),
        prop::option::weighted(0.2, arb_non_null_value()),
        prop::collection::vec((arb_extra_key(), arb_value()), 0..3),
    )
        .prop_map(
            |(who, f, outcome, value, gap, time, (node, sent_to), error, extra)| Step {
                who,
                f,
                outcome,
                value,
                gap,
                time,
                node,
                sent_to,
                error,
                extra,
            },
        )
}

/// A well-formed history: each process has at most one open operation, and a
/// completion repeats its invocation's `f`.
fn arb_history() -> impl Strategy<Value = Vec<Event>> {
    (
        prop::collection::vec(arb_process(), 1..6),
        prop::collection::vec(arb_step(), 0..40),
    )
        .prop_map(|(mut procs, steps)| {
            procs.sort();
            procs.dedup();
            let mut open: Vec<Option<Arc<str>>> = vec![None; procs.len()];
            let mut events = Vec::with_capacity(steps.len());
            let mut index = 0u64;
            for s in steps {
                let p = s.who.index(procs.len());
                let (kind, f) = match open[p].take() {
                    Some(f) => (s.outcome, f),
                    None => {
                        let f: Arc<str> = Arc::from(s.f);
                        open[p] = Some(f.clone());
                        (EventType::Invoke, f)
                    }
                };
                index += s.gap;
                events.push(Event {
                    index,
                    time: s.time,
                    kind,
                    process: procs[p].clone(),
                    f,
                    value: s.value,
                    node: s.node.map(Arc::from),
                    sent_to: s.sent_to.map(Arc::from),
                    error: s.error,
                    extra: s
                        .extra
                        .into_iter()
                        .map(|(k, v)| (Arc::from(k), v))
                        .collect(),
                });
                index += 1;
            }
            events
        })
}

// ---------------------------------------------------------------------------
// Renderers (test-only)
// ---------------------------------------------------------------------------

fn jsonl_text(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        out.push_str(&serde_json::to_string(e).unwrap());
        out.push('\n');
    }
    out
}

use faultline_history::edn_write::{write_event as edn_op, write_value as edn_value};

/// One op map per line, as in `history.edn`.
fn edn_lines(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        edn_op(&mut out, e);
        out.push('\n');
    }
    out
}

/// One vector of op maps, as in Knossos' data files.
fn edn_vector(events: &[Event]) -> String {
    let mut out = String::from("[");
    for (i, e) in events.iter().enumerate() {
        out.push_str(if i == 0 { "" } else { "\n " });
        edn_op(&mut out, e);
    }
    out.push_str("]\n");
    out
}

/// Jepsen's text log: `INFO  jepsen.util - 3\t:invoke\t:write\t5`.
fn jepsen_log(events: &[Event]) -> String {
    let mut out = String::from("INFO  jepsen.core - Running test\n");
    for e in events {
        out.push_str("INFO  jepsen.util - ");
        match &e.process {
            Some(Process::Client(i)) => write!(out, "{i}").unwrap(),
            Some(Process::Nemesis) | None => out.push_str(":nemesis"),
            Some(Process::Named(n)) => write!(out, ":{n}").unwrap(),
        }
        write!(
            out,
            "\t:{}\t:{}\t",
            e.kind,
            if e.f.is_empty() { "x" } else { &e.f }
        )
        .unwrap();
        edn_value(&mut out, &e.value);
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

const FORMATS: [Option<Format>; 4] = [
    None,
    Some(Format::Jsonl),
    Some(Format::Edn),
    Some(Format::JepsenLog),
];

/// An error prints as one line that starts with the file's name and a colon.
fn check_error(err: &HistoryError, name: &str) -> Result<(), TestCaseError> {
    let text = err.to_string();
    prop_assert!(!text.contains('\n'), "error spans lines: {text:?}");
    prop_assert!(
        text.starts_with(&format!("{name}:")),
        "error does not start with `{name}:`: {text:?}"
    );
    Ok(())
}

/// Reads `bytes` with every reader; none may panic, errors must be one line.
fn read_every_way(bytes: &[u8], name: &str) -> Result<(), TestCaseError> {
    for format in FORMATS {
        for ext in ["", "jsonl", "edn", "log"] {
            if format.is_some() && !ext.is_empty() {
                continue; // the extension only matters to detection
            }
            if let Err(e) = read_from(bytes, name, ext, format) {
                check_error(&e, name)?;
            }
        }
    }
    Ok(())
}

/// One change to a valid text.
#[derive(Clone, Debug)]
enum Mutation {
    Truncate(Index),
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Delete(Index),
}

/// Bytes that matter to some reader.
const INTERESTING: &[u8] = b"\n\r\t \"\\{}[]()#_:;,-+.0159eEN/M";

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1u8..=255).prop_map(|(i, m)| Mutation::Flip(i, m)),
        (any::<Index>(), prop::sample::select(INTERESTING)).prop_map(|(i, b)| Mutation::Set(i, b)),
        (
            any::<Index>(),
            prop_oneof![prop::sample::select(INTERESTING), any::<u8>()]
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Delete),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        match *m {
            Mutation::Truncate(i) => bytes.truncate(i.index(bytes.len())),
            Mutation::Flip(i, mask) => {
                let i = i.index(bytes.len());
                bytes[i] ^= mask;
            }
            Mutation::Set(i, b) => {
                let i = i.index(bytes.len());
                bytes[i] = b;
            }
            Mutation::Insert(i, b) => {
                let i = i.index(bytes.len() + 1);
                bytes.insert(i, b);
            }
            Mutation::Delete(i) => {
                let i = i.index(bytes.len());
                bytes.remove(i);
            }
        }
    }
    bytes
}

/// Bytes biased towards the punctuation of the three formats.
fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec(
            prop::sample::select(b"{}[]()\"\\:;#_,. \n\t0123456789-+eENM/abfilnrstuvx".to_vec()),
            0..256
        ),
        prop::collection::vec(
            prop::sample::select(vec![
                &b"{\"type\":"[..],
                b"\"invoke\"",
                b"{:type :ok ",
                b":process 1 ",
                b"\"process\":",
                b"\"sent_to\":\"n1\"",
                b":sent-to ",
                b"\"node\":",
                b"INFO  jepsen.util - ",
                b"1\t:invoke\t:read\t",
                b"#_",
                b"#{",
                b"#inst ",
                b"##NaN",
                b"\\u00",
                b"\\newline",
                b"[",
                b"]",
                b"}",
                b"\n",
                b"1e999",
                b"-9223372036854775809",
                b"1/0",
            ]),
            0..32
        )
        .prop_map(|parts| parts.concat()),
    ]
}

/// `cases`, unless `PROPTEST_CASES` asks for a longer (or shorter) run.
fn proptest_config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in arb_bytes()) {
        read_every_way(&bytes, "fuzz.txt")?;
    }

    #[test]
    fn mutated_histories_never_panic(
        events in arb_history(),
        layout in 0usize..4,
        mutations in prop::collection::vec(arb_mutation(), 1..4),
    ) {
        let text = match layout {
            0 => jsonl_text(&events),
            1 => edn_lines(&events),
            2 => edn_vector(&events),
            _ => jepsen_log(&events),
        };
        read_every_way(&mutate(text.into_bytes(), &mutations), "h.txt")?;
    }
}

proptest! {
    #![proptest_config(proptest_config(128))]

    #[test]
    fn jsonl_writer_output_reads_back_equal(events in arb_history()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let mut w = JsonlWriter::append(&path)
            .unwrap()
            .with_batch(64, Duration::from_secs(60));
        for e in &events {
            w.write(e).unwrap();
        }
        w.finish().unwrap();
        let loaded = read_path(&path, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(loaded.format, Format::Jsonl);
        prop_assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        prop_assert_eq!(loaded.history.events(), &events[..]);
    }

    #[test]
    fn edn_renderings_read_back_equal(events in arb_history()) {
        for (layout, text) in [("lines", edn_lines(&events)), ("vector", edn_vector(&events))] {
            for format in [None, Some(Format::Edn)] {
                let loaded = read_from(text.as_bytes(), "h.edn", "edn", format)
                    .map_err(|e| TestCaseError::fail(format!("{layout}: {e}\n{text}")))?;
                prop_assert_eq!(loaded.format, Format::Edn);
                prop_assert_eq!(loaded.history.events(), &events[..], "{}: {}", layout, text);
            }
        }
    }

    #[test]
    fn single_values_survive_json_and_edn(v in arb_value()) {
        let json = serde_json::to_string(&v).unwrap();
        let back: Value = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &v, "json {}", json);
        let e = Event::new(0, EventType::Invoke, Process::Client(0), "w", v.clone());
        let text = edn_lines(std::slice::from_ref(&e));
        let loaded = read_from(text.as_bytes(), "v.edn", "", None)
            .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(&loaded.history.events()[0].value, &v, "edn {}", text);
    }
}

proptest! {
    #![proptest_config(proptest_config(96))]

    /// A compressed history reads back equal; cut at any byte (a recorder
    /// killed mid-write) it reads as a prefix of what was written that holds
    /// at least every event synced before the cut, or is refused — it never
    /// panics and never invents or reorders events.
    #[test]
    fn compressed_writer_output_survives_any_cut(
        events in arb_history(),
        batch in 1usize..8,
        cut in any::<Index>(),
        finished in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl.zst");
        let mut w = JsonlWriter::append(&path)
            .unwrap()
            .with_batch(batch, Duration::from_secs(60));
        // (file length, events synced) after each sync
        let mut synced = vec![(std::fs::metadata(&path).unwrap().len(), 0usize)];
        for (i, e) in events.iter().enumerate() {
            w.write(e).unwrap();
            if (i + 1) % batch == 0 {
                synced.push((std::fs::metadata(&path).unwrap().len(), i + 1));
            }
        }
        if finished {
            w.finish().unwrap();
        } else {
            w.sync().unwrap();
            std::mem::forget(w); // killed: the frame is never ended
        }
        let bytes = std::fs::read(&path).unwrap();
        let whole = read_path(&path, None).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(whole.format, Format::Jsonl);
        prop_assert_eq!(whole.history.events(), &events[..]);
        prop_assert_eq!(whole.warnings.is_empty(), finished || events.is_empty(), "{:?}", whole.warnings);

        let at = cut.index(bytes.len() + 1);
        match read_from(&bytes[..at], "h.zst", "", None) {
            Ok(l) => {
                let got = l.history.events();
                prop_assert!(got.len() <= events.len());
                prop_assert_eq!(got, &events[..got.len()]);
                let owed = synced.iter().filter(|(len, _)| *len <= at as u64).map(|s| s.1).max().unwrap_or(0);
                prop_assert!(got.len() >= owed, "cut at {} of {}: {} events, {} were synced", at, bytes.len(), got.len(), owed);
            }
            Err(e) => {
                check_error(&e, "h.zst")?;
                prop_assert!(at < 4 + 6, "a cut after the frame header is read up to the cut: {}", e);
            }
        }
    }

    /// Compressed bytes with damage read as `Ok` or a one-line error.
    #[test]
    fn mutated_compressed_histories_never_panic(
        events in arb_history(),
        mutations in prop::collection::vec(arb_mutation(), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl.zst");
        let mut w = JsonlWriter::append(&path).unwrap().with_batch(4, Duration::from_secs(60));
        for e in &events {
            w.write(e).unwrap();
        }
        w.finish().unwrap();
        read_every_way(&mutate(std::fs::read(&path).unwrap(), &mutations), "h.zst")?;
    }
}

// The inputs that first failed these properties, kept as plain tests.

#[test]
fn regression_float_reads_back_bit_for_bit() {
    // serde_json's default float parser is off by one ulp here.
    let v = Value::Float(1.0715660391465826e-75);
    let json = serde_json::to_string(&v).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), v);
}

#[test]
fn regression_errors_with_newlines_in_names_stay_on_one_line() {
    for text in [
        "{\"type\":\"ok\",\"process\":1,\"f\":\"a\\nb\"}\n",
        "{:type :ok :process \"a\nb\" :f :r}",
        "{:type :ok :value \\\nabc}",
    ] {
        let err = read_from(text.as_bytes(), "n", "", None).unwrap_err();
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}

#[test]
fn regression_discards_cannot_nest_past_the_depth_cap() {
    // Each `#_` used to restart the depth count: a stack overflow, not an error.
    for unit in ["[#_", "#_", "{:a #_", "#_#{"] {
        let text = format!("{{:type :ok :value {}", unit.repeat(50_000));
        let err = read_from(text.as_bytes(), "d.edn", "", None).unwrap_err();
        assert!(err.to_string().contains("nesting"), "{unit}: {err}");
    }
}
