//! Set reads recorded as what changed since the same reader's last read.
//!
//! In the `set` workload every read returns the whole set, so a history
//! written read by read grows with the square of the run's length: an hour at
//! 1,000 ops/s ends with reads of millions of elements each. The runner
//! instead records a client's read as a *delta* against that client's
//! previous successful read:
//!
//! ```json
//! {"type":"ok","f":"read","process":3,"value":{"since":1042,"add":[77,78],"remove":[]}}
//! ```
//!
//! - `since` is the `index` of the completion event of an earlier `ok` read
//!   of the same set; the read it names completed before this one was
//!   invoked, and no other read names it (the bases form chains, one per
//!   client, which the checkers walk in order);
//! - `add` lists the elements this read holds that that read did not, and
//!   `remove` the ones it held that this read does not.
//!
//! So the read's set is the base read's set, minus `remove`, plus `add`. A
//! read is recorded whole when the client has no earlier read, when an
//! element is not an integer or appears twice (a duplicate is an anomaly of
//! its own, which a delta could not show), and for the final reads. Elements
//! are a set: a delta says nothing of the order a node listed them in.
//!
//! The set checkers read deltas as they are, in time proportional to what
//! changed ([`SetDelta`]); anything else can [`expand`] a history back into
//! whole reads, and [`encode`] turns a history of whole reads into deltas
//! (what the runner does as it records). `expand(encode(h))` holds the same
//! set in every read as `h`.

use std::collections::{HashMap, HashSet};

use crate::{EventType, History, Process, Value};

/// A set read recorded as a change against an earlier read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SetDelta<'a> {
    /// The `index` of the earlier read's completion event.
    pub since: u64,
    /// Elements held now and not then.
    pub add: &'a [Value],
    /// Elements held then and not now.
    pub remove: &'a [Value],
}

impl<'a> SetDelta<'a> {
    /// The delta a read's value holds: `None` for anything but a map (a
    /// whole read), an error naming the field for a map that is not a delta.
    pub fn of(v: &'a Value) -> Option<Result<SetDelta<'a>, String>> {
        let Value::Map(_) = v else {
            return None;
        };
        let list = |name: &str| match v.get(name) {
            Some(Value::List(l)) => Ok(&l[..]),
            Some(other) => Err(format!(
                "a set read's delta has `{name}` {other}, not a list of elements"
            )),
            None => Err(format!("a set read's delta has no `{name}`")),
        };
        Some((|| {
            let since = match v.get("since") {
                Some(Value::Int(i)) if *i >= 0 => *i as u64,
                Some(other) => {
                    return Err(format!(
                        "a set read's delta has `since` {other}, not the index of an earlier read"
                    ))
                }
                None => return Err(format!("a set read returns a list of elements, found {v}")),
            };
            Ok(SetDelta {
                since,
                add: list("add")?,
                remove: list("remove")?,
            })
        })())
    }

    /// The value recording it.
    pub fn value(since: u64, add: Vec<Value>, remove: Vec<Value>) -> Value {
        Value::map(vec![
            ("since".into(), Value::Int(since as i64)),
            ("add".into(), Value::list(add)),
            ("remove".into(), Value::list(remove)),
        ])
    }
}

/// One reader's side of the encoding: its last read's elements (sorted
/// integers: 8 bytes an element) and where that read was recorded.
#[derive(Clone, Debug, Default)]
pub struct DeltaEncoder {
    last: Option<(u64, Vec<i64>)>,
}

/// A read's elements prepared for [`DeltaEncoder`]: sorted, or `None` when
/// the read must be recorded whole (not a list of distinct integers).
pub struct Prepared(Option<Vec<i64>>);

impl DeltaEncoder {
    /// Sorts a read's elements; `None` inside when they are not all distinct
    /// integers.
    pub fn prepare(read: &Value) -> Prepared {
        let Some(list) = read.as_list() else {
            return Prepared(None);
        };
        let mut ints = Vec::with_capacity(list.len());
        for e in list {
            match e {
                Value::Int(i) => ints.push(*i),
                _ => return Prepared(None),
            }
        }
        ints.sort_unstable();
        if ints.windows(2).any(|w| w[0] == w[1]) {
            return Prepared(None);
        }
        Prepared(Some(ints))
    }

    /// What to record for a read: the delta against the last remembered read,
    /// or `None` to record it whole (no base, or a read that cannot be a
    /// delta, or a delta no smaller than the read).
    pub fn delta(&self, p: &Prepared) -> Option<Value> {
        let (since, old) = self.last.as_ref()?;
        let new = p.0.as_ref()?;
        let (mut add, mut remove) = (Vec::new(), Vec::new());
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < new.len() {
            match (old.get(i), new.get(j)) {
                (Some(a), Some(b)) if a == b => {
                    i += 1;
                    j += 1;
                }
                (Some(a), Some(b)) if a < b => {
                    remove.push(Value::Int(*a));
                    i += 1;
                }
                (Some(a), None) => {
                    remove.push(Value::Int(*a));
                    i += 1;
                }
                (_, Some(b)) => {
                    add.push(Value::Int(*b));
                    j += 1;
                }
                (None, None) => break,
            }
        }
        (add.len() + remove.len() < new.len()).then(|| SetDelta::value(*since, add, remove))
    }

    /// Remembers a read just recorded at `index` as the next delta's base; a
    /// read that could not be prepared forgets the base.
    pub fn remember(&mut self, index: u64, p: Prepared) {
        self.last = p.0.map(|ints| (index, ints));
    }
}

/// Whether any `ok` read holds a delta (bare, or as a `[key delta]` tuple).
pub fn has_deltas(h: &History) -> bool {
    h.events().iter().any(|e| {
        e.kind == EventType::Ok && &*e.f == "read" && SetDelta::of(delta_part(&e.value)).is_some()
    })
}

/// The part of a read's value that may be a delta: the value, or the second
/// half of a `[key value]` tuple.
fn delta_part(v: &Value) -> &Value {
    match v.as_tuple() {
        Some((_, inner)) if matches!(inner, Value::Map(_)) => inner,
        _ => v,
    }
}

/// Records every client's `ok` reads of a (single, unkeyed) set as deltas
/// against the same process's previous `ok` read, as the runner does.
pub fn encode(h: &History) -> History {
    let mut events = h.events().to_vec();
    let mut readers: HashMap<Process, DeltaEncoder> = HashMap::new();
    for e in &mut events {
        let reader = match &e.process {
            Some(p @ Process::Client(_)) if !p.is_final_read() => p.clone(),
            _ => continue,
        };
        if e.kind != EventType::Ok || &*e.f != "read" || e.value.as_list().is_none() {
            continue;
        }
        let enc = readers.entry(reader).or_default();
        let p = DeltaEncoder::prepare(&e.value);
        if let Some(d) = enc.delta(&p) {
            e.value = d;
        }
        enc.remember(e.index, p);
    }
    let lines = (0..events.len()).map(|i| h.line(i)).collect();
    History::from_parts(events, lines, h.source()).expect("same events, same pairing")
}

/// A delta that does not apply: the position of its event in
/// [`History::events`], and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{msg}")]
pub struct DeltaError {
    /// Position of the event.
    pub pos: usize,
    /// What is wrong with its delta.
    pub msg: String,
}

/// The history with every delta read replaced by the whole set it held
/// (the base's elements in their order, less `remove`, then `add`).
pub fn expand(h: &History) -> Result<History, DeltaError> {
    let mut sets: HashMap<u64, Vec<Value>> = HashMap::new();
    let mut events = h.events().to_vec();
    for (pos, e) in events.iter_mut().enumerate() {
        if e.kind != EventType::Ok || &*e.f != "read" {
            continue;
        }
        let bad = |msg: String| DeltaError { pos, msg };
        let (key, part) = match e.value.as_tuple() {
            Some((k, inner)) if matches!(inner, Value::Map(_)) => (Some(k.clone()), inner),
            _ => (None, &e.value),
        };
        let whole = match SetDelta::of(part) {
            None => match part.as_list() {
                Some(l) => l.to_vec(),
                None => continue,
            },
            Some(d) => {
                let d = d.map_err(bad)?;
                let base = sets.remove(&d.since).ok_or_else(|| {
                    bad(format!(
                        "this read is a delta since index {}, which is not an earlier ok read of the set (or is the base of another delta)",
                        d.since
                    ))
                })?;
                let held: HashSet<&Value> = base.iter().collect();
                let removed: HashSet<&Value> = d.remove.iter().collect();
                if let Some(x) = d.remove.iter().find(|x| !held.contains(x)) {
                    return Err(bad(format!(
                        "this read's delta removes {x}, which its base read did not hold"
                    )));
                }
                if let Some(x) = d
                    .add
                    .iter()
                    .find(|x| held.contains(x) && !removed.contains(x))
                {
                    return Err(bad(format!(
                        "this read's delta adds {x}, which its base read already held"
                    )));
                }
                let mut out: Vec<Value> = base
                    .iter()
                    .filter(|x| !removed.contains(x))
                    .cloned()
                    .collect();
                out.extend(d.add.iter().cloned());
                out
            }
        };
        sets.insert(e.index, whole.clone());
        let list = Value::list(whole);
        e.value = match key {
            Some(k) => Value::list(vec![k, list]),
            None => list,
        };
    }
    let lines = (0..events.len()).map(|i| h.line(i)).collect();
    Ok(History::from_parts(events, lines, h.source()).expect("same events, same pairing"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    /// A read event of `elements` by `process`.
    fn read(index: u64, kind: EventType, process: i64, elements: &[i64]) -> Event {
        let v = Value::list(elements.iter().map(|&i| Value::Int(i)).collect());
        Event::new(index, kind, Process::Client(process), "read", v)
    }

    fn history(reads: &[(i64, &[i64])]) -> History {
        let mut events = Vec::new();
        for (i, (p, els)) in reads.iter().enumerate() {
            events.push(read(2 * i as u64, EventType::Invoke, *p, &[]));
            events.last_mut().unwrap().value = Value::Null;
            events.push(read(2 * i as u64 + 1, EventType::Ok, *p, els));
        }
        History::new(events).unwrap()
    }

    #[test]
    fn a_readers_later_reads_become_deltas_and_expand_back() {
        let h = history(&[
            (0, &[1, 2, 3]),
            (1, &[1]),
            (0, &[1, 3, 4, 5, 6]),
            (0, &[3, 4, 5, 6, 7]),
        ]);
        let e = encode(&h);
        assert!(has_deltas(&e));
        let d = SetDelta::of(&e.events()[5].value).unwrap().unwrap();
        assert_eq!(d.since, 1);
        assert_eq!(d.add, &[Value::Int(4), Value::Int(5), Value::Int(6)]);
        assert_eq!(d.remove, &[Value::Int(2)]);
        let d = SetDelta::of(&e.events()[7].value).unwrap().unwrap();
        assert_eq!(d.since, 5);
        let back = expand(&e).unwrap();
        for (a, b) in back.events().iter().zip(h.events()) {
            let (mut x, mut y) = (a.value.clone(), b.value.clone());
            if let (Value::List(x), Value::List(y)) = (&mut x, &mut y) {
                x.sort();
                y.sort();
            }
            assert_eq!(x, y);
        }
    }

    #[test]
    fn duplicates_and_non_integers_are_recorded_whole_and_forget_the_base() {
        let h = history(&[
            (0, &[1, 2, 3, 4]),
            (0, &[1, 1, 2, 3, 4]),
            (0, &[1, 2, 3, 4, 5]),
        ]);
        let e = encode(&h);
        assert!(e.events()[3].value.as_list().is_some());
        assert!(
            e.events()[5].value.as_list().is_some(),
            "no base to be a delta of"
        );
    }

    #[test]
    fn a_delta_whose_base_is_missing_or_taken_is_an_error_naming_its_line() {
        let mut h = history(&[(0, &[1, 2, 3]), (0, &[1])]).into_events();
        h[3].value = SetDelta::value(7, vec![], vec![]);
        let err = expand(&History::new(h.clone()).unwrap()).unwrap_err();
        assert_eq!(err.pos, 3);
        assert!(
            err.to_string()
                .starts_with("this read is a delta since index 7"),
            "{err}"
        );
        h[3].value = Value::map(vec![("since".into(), Value::str("x"))]);
        let err = expand(&History::new(h).unwrap()).unwrap_err();
        assert!(err.to_string().contains("`since` \"x\""), "{err}");
    }
}
