//! Reading throughput of the JSON Lines and EDN readers.
//!
//! Two synthetic but realistic histories of 200,000 events each, generated in
//! memory from a fixed seed:
//!
//! * `register`: 8 client processes doing `read`/`write`/`cas` on one register
//!   (integers and `[old new]` pairs), with `fail` and `info` completions (a
//!   process continues under a new id after `info`, as in Jepsen) and a nemesis
//!   partitioning now and then;
//! * `txn`: Elle list-append transactions such as
//!   `[[:append 3 7] [:r 4 [1 2 3]]]`, at most 16 appends per key.
//!
//! Each is rendered as JSON Lines (the events' own serialization, as
//! `JsonlWriter` writes them) and as Jepsen EDN, one op map per line:
//! `{:index 0, :time 123, :type :invoke, :process 3, :f :write, :value 5}`.
//!
//! `cargo bench -p faultline-history --bench parse`; throughput is in bytes of
//! input text per second.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use faultline_history::{read_from, Event, EventType, Format, Process, Value};

const EVENTS: usize = 200_000;
const PROCESSES: i64 = 8;

/// SplitMix64: a fixed, dependency-free source of variety.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What the generators share: the clock, indices, process ids and the nemesis.
struct Gen {
    rng: Rng,
    events: Vec<Event>,
    time: i64,
    /// The current process id of each worker slot.
    process: Vec<i64>,
    /// The open invocation of each slot: its position in `events`.
    open: Vec<Option<usize>>,
    partitioned: bool,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: Rng(seed),
            events: Vec::with_capacity(EVENTS),
            time: 0,
            process: (0..PROCESSES).collect(),
            open: vec![None; PROCESSES as usize],
            partitioned: false,
        }
    }

    fn push(&mut self, kind: EventType, process: Process, f: &str, value: Value) -> &mut Event {
        self.time += 50_000 + self.rng.below(2_000_000) as i64;
        let mut e = Event::new(self.events.len() as u64, kind, process, f, value);
        e.time = Some(self.time);
        self.events.push(e);
        self.events.last_mut().unwrap()
    }

    /// A nemesis fault now and then, as Jepsen logs it: two `info` events.
    fn maybe_nemesis(&mut self) {
        if !self.rng.chance(1) || self.rng.below(5) != 0 {
            return;
        }
        let f = if self.partitioned { "stop" } else { "start" };
        self.partitioned = !self.partitioned;
        self.push(EventType::Info, Process::Nemesis, f, Value::Null);
        let v = if self.partitioned {
            Value::str("Cut off {:n1 #{:n4 :n5}, :n2 #{:n4 :n5}, :n3 #{:n4 :n5}}")
        } else {
            Value::str("fully connected")
        };
        self.push(EventType::Info, Process::Nemesis, f, v);
    }

    /// Completes slot `s`'s open invocation with a random outcome and the value
    /// `ok_value` gives for an `ok`; after `info` the slot takes a new process id.
    fn complete(&mut self, s: usize, ok_value: impl FnOnce(&mut Rng, &Event) -> Value) {
        let at = self.open[s].take().unwrap();
        let invoke = self.events[at].clone();
        let roll = self.rng.below(100);
        let (kind, value, error) = if roll < 80 {
            (EventType::Ok, ok_value(&mut self.rng, &invoke), None)
        } else if roll < 90 {
            (EventType::Fail, invoke.value.clone(), Some("cas-failed"))
        } else {
            (EventType::Info, invoke.value.clone(), Some("timed-out"))
        };
        let p = Process::Client(self.process[s]);
        let e = self.push(kind, p, &invoke.f, value);
        e.error = error.map(Value::str);
        if kind == EventType::Info {
            self.process[s] += PROCESSES;
        }
    }

    fn invoke(&mut self, s: usize, f: &str, value: Value) {
        let p = Process::Client(self.process[s]);
        self.push(EventType::Invoke, p, f, value);
        self.open[s] = Some(self.events.len() - 1);
    }
}

/// A single register: `read`, `write` and `cas`.
fn register_history(n: usize) -> Vec<Event> {
    let mut g = Gen::new(1);
    while g.events.len() < n {
        g.maybe_nemesis();
        let s = g.rng.below(PROCESSES as u64) as usize;
        if g.open[s].is_some() {
            g.complete(s, |rng, invoke| match &*invoke.f {
                "read" => Value::Int(rng.below(5) as i64),
                _ => invoke.value.clone(),
            });
            continue;
        }
        let (f, value) = match g.rng.below(3) {
            0 => ("read", Value::Null),
            1 => ("write", Value::Int(g.rng.below(5) as i64)),
            _ => {
                let old = Value::Int(g.rng.below(5) as i64);
                let new = Value::Int(g.rng.below(5) as i64);
                ("cas", Value::list(vec![old, new]))
            }
        };
        g.invoke(s, f, value);
    }
    g.events.truncate(n);
    g.events
}

/// Elle list-append transactions over 10 live keys, each retired after 16 appends.
fn txn_history(n: usize) -> Vec<Event> {
    let mut g = Gen::new(2);
    let mut keys: Vec<(i64, Vec<Value>)> = (0..10).map(|k| (k, Vec::new())).collect();
    let mut next_key = 10;
    let mut next_value = 1;
    let append = Value::str("append");
    let read = Value::str("r");
    while g.events.len() < n {
        g.maybe_nemesis();
        let s = g.rng.below(PROCESSES as u64) as usize;
        if g.open[s].is_some() {
            // Reads see each key's current list; appends happened as asked.
            let lists: Vec<(i64, Vec<Value>)> = keys.clone();
            g.complete(s, |_, invoke| {
                let mops = invoke.value.as_list().unwrap();
                Value::List(
                    mops.iter()
                        .map(|m| {
                            let m = m.as_list().unwrap();
                            if m[0].as_str() == Some("r") {
                                let k = m[1].as_int().unwrap();
                                let l = lists.iter().find(|(key, _)| *key == k);
                                let seen = l.map_or(Vec::new(), |(_, l)| l.clone());
                                Value::list(vec![m[0].clone(), m[1].clone(), Value::list(seen)])
                            } else {
                                Value::list(m.to_vec())
                            }
                        })
                        .collect(),
                )
            });
            continue;
        }
        let mut mops = Vec::new();
        for _ in 0..1 + g.rng.below(4) {
            let slot = g.rng.below(keys.len() as u64) as usize;
            let k = keys[slot].0;
            if g.rng.chance(50) {
                mops.push(Value::list(vec![read.clone(), Value::Int(k), Value::Null]));
            } else {
                let v = Value::Int(next_value);
                next_value += 1;
                keys[slot].1.push(v.clone());
                mops.push(Value::list(vec![append.clone(), Value::Int(k), v]));
                if keys[slot].1.len() >= 16 {
                    keys[slot] = (next_key, Vec::new());
                    next_key += 1;
                }
            }
        }
        g.invoke(s, "txn", Value::list(mops));
    }
    g.events.truncate(n);
    g.events
}

fn jsonl_text(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 100);
    for e in events {
        serde_json::to_writer(&mut out, e).unwrap();
        out.push(b'\n');
    }
    out
}

fn edn_text(events: &[Event]) -> Vec<u8> {
    let mut out = String::with_capacity(events.len() * 100);
    for e in events {
        faultline_history::edn_write::write_event(&mut out, e);
        out.push('\n');
    }
    out.into_bytes()
}

fn bench_parse(c: &mut Criterion) {
    let histories: [(&str, Arc<[Event]>); 2] = [
        ("register", register_history(EVENTS).into()),
        ("txn", txn_history(EVENTS).into()),
    ];
    let mut group = c.benchmark_group("parse");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    for (name, events) in &histories {
        for (format, text) in [
            (Format::Jsonl, jsonl_text(events)),
            (Format::Edn, edn_text(events)),
        ] {
            // The text must read back as the very history it was made from.
            let loaded = read_from(text.as_slice(), "bench", "", Some(format)).unwrap();
            assert_eq!(loaded.history.events(), &events[..], "{format}/{name}");
            group.throughput(Throughput::Bytes(text.len() as u64));
            group.bench_function(format!("{format}/{name}"), |b| {
                b.iter(|| {
                    let loaded = read_from(black_box(text.as_slice()), "bench", "", Some(format));
                    black_box(loaded.unwrap().history.len())
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
