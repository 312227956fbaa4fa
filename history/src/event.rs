//! One line of a history: an invocation or a completion.
//!
//! Jepsen's model: a client *process* invokes an operation (`type: invoke`), and
//! later the same process completes it with `ok` (it happened), `fail` (it
//! certainly did not happen) or `info` (unknown: it may or may not have happened,
//! now or at any later time). The nemesis records its faults as events of the
//! process `nemesis`. Every reader builds events through [`EventFields`], so the
//! rules for what a field may hold live in one place, whatever the input format.

use std::fmt;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::value::{Text, Value};

/// Whether an event starts an operation or how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// The process asked for the operation.
    Invoke,
    /// The operation took effect.
    Ok,
    /// The operation certainly did not take effect.
    Fail,
    /// Unknown: it may have taken effect, at any time after its invocation.
    Info,
}

impl EventType {
    /// Parses `invoke | ok | fail | info`.
    pub fn parse(s: &str) -> Option<EventType> {
        Some(match s {
            "invoke" => EventType::Invoke,
            "ok" => EventType::Ok,
            "fail" => EventType::Fail,
            "info" => EventType::Info,
            _ => return None,
        })
    }

    /// The name as written in histories.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Invoke => "invoke",
            EventType::Ok => "ok",
            EventType::Fail => "fail",
            EventType::Info => "info",
        }
    }

    /// Whether this ends an operation.
    pub fn is_completion(self) -> bool {
        self != EventType::Invoke
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who performed an event.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A client worker. After an `info` the worker continues under a new id.
    Client(i64),
    /// The fault injector.
    Nemesis,
    /// Any other named process (Jepsen allows keywords).
    Named(Arc<str>),
}

/// The process number of the runner's first final read. After the main phase
/// the runner reads every key once more, each attempt as a fresh client process
/// numbered from here up; nothing else in a history faultline records uses such
/// numbers. [`Process::is_final_read`] is the one place that reads the rule back.
pub const FINAL_READ_PROCESS: i64 = 1_000_000_000;

impl Process {
    /// Whether this is the nemesis.
    pub fn is_nemesis(&self) -> bool {
        matches!(self, Process::Nemesis)
    }

    /// Whether this process performed one of the runner's final reads.
    pub fn is_final_read(&self) -> bool {
        matches!(self, Process::Client(p) if *p >= FINAL_READ_PROCESS)
    }

    /// How sentences name it: `process 7`, `final read 3` (the third final-read
    /// attempt), `the nemesis`, `process worker-a`.
    pub fn name(&self) -> String {
        match self {
            Process::Client(p) if self.is_final_read() => {
                format!("final read {}", p - FINAL_READ_PROCESS + 1)
            }
            Process::Nemesis => "the nemesis".to_owned(),
            p => format!("process {p}"),
        }
    }

    /// A short label for table cells and timeline rows: `p7`, `final read 3`,
    /// `nemesis`, `worker-a`.
    pub fn label(&self) -> String {
        match self {
            Process::Client(_) if self.is_final_read() => self.name(),
            Process::Client(p) => format!("p{p}"),
            p => p.to_string(),
        }
    }

    /// [`Process::name`] of an optional process: `a process` when there is none.
    pub fn name_of(p: Option<&Process>) -> String {
        p.map_or_else(|| "a process".to_owned(), Process::name)
    }

    fn from_value(v: Value) -> Result<Process, String> {
        match v {
            Value::Int(i) => Ok(Process::Client(i)),
            Value::Str(s) if &*s == "nemesis" => Ok(Process::Nemesis),
            Value::Str(s) if !s.is_empty() => Ok(Process::Named(s.shared())),
            other => Err(format!(
                "`process` must be an integer or a name, found {}",
                describe(&other)
            )),
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(i) => write!(f, "{i}"),
            Process::Nemesis => f.write_str("nemesis"),
            Process::Named(s) => f.write_str(s),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(i) => s.serialize_i64(*i),
            Process::Nemesis => s.serialize_str("nemesis"),
            Process::Named(n) => s.serialize_str(n),
        }
    }
}

/// One event of a history.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Position in the history (given by the input, or assigned in order).
    pub index: u64,
    /// Nanoseconds since the test began, when known.
    pub time: Option<i64>,
    /// Invocation or completion kind (`type` in the files).
    pub kind: EventType,
    /// Who performed it; absent in some hand-written histories.
    pub process: Option<Process>,
    /// The operation's function, e.g. `read`, `write`, `txn`; empty when absent.
    pub f: Arc<str>,
    /// The operation's argument or result.
    pub value: Value,
    /// The node known to have acknowledged the operation having applied it
    /// itself: a write was in that node's state when it answered, a read
    /// returned that node's state (a node that only relayed the request to
    /// another and passed its answer back did not). Meaningful on a
    /// completion: an invocation cannot know who will acknowledge it, so the
    /// checkers read an invocation's `node` as where it was sent.
    pub node: Option<Arc<str>>,
    /// The node the client sent the operation to, when it cannot tell which
    /// node acknowledged it (the node may have relayed it, e.g. to its leader).
    /// Written `sent_to` in JSON Lines and `:sent-to` in EDN.
    pub sent_to: Option<Arc<str>>,
    /// The error a failed or indeterminate operation reported.
    pub error: Option<Value>,
    /// Fields this model does not name, kept in input order (e.g. Porcupine's `key`).
    pub extra: Vec<(Arc<str>, Value)>,
}

impl Event {
    /// An event with the given essentials and nothing else.
    pub fn new(index: u64, kind: EventType, process: Process, f: &str, value: Value) -> Event {
        Event {
            index,
            time: None,
            kind,
            process: Some(process),
            f: Arc::from(f),
            value,
            node: None,
            sent_to: None,
            error: None,
            extra: Vec::new(),
        }
    }

    /// Whether the nemesis performed this event.
    pub fn is_nemesis(&self) -> bool {
        self.process.as_ref().is_some_and(Process::is_nemesis)
    }

    /// An extra field by name.
    pub fn extra(&self, name: &str) -> Option<&Value> {
        self.extra
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v)
    }

    /// The node known to have acknowledged this event's operation: a
    /// completion's `node` (an invocation's `node` says only where it was sent).
    pub fn served_by(&self) -> Option<&str> {
        if self.kind.is_completion() {
            self.node.as_deref()
        } else {
            None
        }
    }

    /// The node the operation was sent to, known or not to have acknowledged
    /// it: `sent_to`, else `node`.
    pub fn reached(&self) -> Option<&str> {
        self.sent_to.as_deref().or(self.node.as_deref())
    }
}

/// Written in the canonical field order: index, time, type, process, f, value,
/// node, sent_to, error, then the extra fields.
impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("index", &self.index)?;
        if let Some(t) = self.time {
            m.serialize_entry("time", &t)?;
        }
        m.serialize_entry("type", self.kind.as_str())?;
        if let Some(p) = &self.process {
            m.serialize_entry("process", p)?;
        }
        if !self.f.is_empty() {
            m.serialize_entry("f", &*self.f)?;
        }
        m.serialize_entry("value", &self.value)?;
        if let Some(n) = &self.node {
            m.serialize_entry("node", &**n)?;
        }
        if let Some(n) = &self.sent_to {
            m.serialize_entry("sent_to", &**n)?;
        }
        if let Some(e) = &self.error {
            m.serialize_entry("error", e)?;
        }
        for (k, v) in &self.extra {
            m.serialize_entry(&**k, v)?;
        }
        m.end()
    }
}

/// Collects an event's fields by name, from any input format, and checks them.
#[derive(Default)]
pub struct EventFields {
    index: Option<u64>,
    time: Option<i64>,
    kind: Option<EventType>,
    process: Option<Process>,
    f: Option<Arc<str>>,
    value: Value,
    node: Option<Arc<str>>,
    sent_to: Option<Arc<str>>,
    error: Option<Value>,
    extra: Vec<(Arc<str>, Value)>,
}

impl EventFields {
    /// Sets one field; the message of an error names the field and what was wrong.
    pub fn set(&mut self, name: &str, v: Value) -> Result<(), String> {
        match name {
            "index" => match v {
                Value::Int(i) if i >= 0 => self.index = Some(i as u64),
                other => return Err(wrong("index", "a non-negative integer", &other)),
            },
            "time" => match v {
                Value::Int(i) => self.time = Some(i),
                Value::Null => self.time = None,
                other => return Err(wrong("time", "an integer (nanoseconds)", &other)),
            },
            "type" => match &v {
                Value::Str(s) => {
                    self.kind = Some(EventType::parse(s).ok_or_else(|| {
                        format!("unknown type {s:?} (expected invoke, ok, fail or info)")
                    })?)
                }
                other => return Err(wrong("type", "invoke, ok, fail or info", other)),
            },
            "process" => self.process = Some(Process::from_value(v)?),
            "f" => match v {
                Value::Str(s) => self.f = Some(s.shared()),
                other => return Err(wrong("f", "a name", &other)),
            },
            "value" => self.value = v,
            "node" => match v {
                Value::Str(s) => self.node = Some(s.shared()),
                Value::Null => self.node = None,
                other => return Err(wrong("node", "a node name", &other)),
            },
            "sent_to" | "sent-to" => match v {
                Value::Str(s) => self.sent_to = Some(s.shared()),
                Value::Null => self.sent_to = None,
                other => return Err(wrong(name, "a node name", &other)),
            },
            "error" => self.error = if v.is_null() { None } else { Some(v) },
            _ => self.extra.push((Arc::from(name), v)),
        }
        Ok(())
    }

    /// Sets a field whose value is a string (or an EDN keyword), exactly as
    /// [`EventFields::set`] with [`Value::Str`] would, without allocating for the
    /// names that repeat on every line: the type is parsed in place, and `f`,
    /// process and node names are shared through `names`.
    pub(crate) fn set_str(&mut self, name: &str, s: &str, names: &mut Names) -> Result<(), String> {
        match name {
            "type" => {
                self.kind = Some(EventType::parse(s).ok_or_else(|| {
                    format!("unknown type {s:?} (expected invoke, ok, fail or info)")
                })?)
            }
            "f" => self.f = Some(names.get(s)),
            "process" if s == "nemesis" => self.process = Some(Process::Nemesis),
            "process" if !s.is_empty() => self.process = Some(Process::Named(names.get(s))),
            "node" => self.node = Some(names.get(s)),
            "sent_to" | "sent-to" => self.sent_to = Some(names.get(s)),
            _ => return self.set(name, Value::str(s)),
        }
        Ok(())
    }

    /// The event; `index` defaults to `position` when the input gave none.
    pub fn finish(self, position: u64) -> Result<Event, String> {
        let kind = self.kind.ok_or("missing field `type`")?;
        Ok(Event {
            index: self.index.unwrap_or(position),
            time: self.time,
            kind,
            process: self.process,
            f: self.f.unwrap_or_else(|| Arc::from("")),
            value: self.value,
            node: self.node,
            sent_to: self.sent_to,
            error: self.error,
            extra: self.extra,
        })
    }
}

/// The short strings a reader has seen (`f`s, process and node names, keywords,
/// short strings in values), so that one that repeats is allocated once and
/// shared: a history has a handful of names and hundreds of thousands of events.
/// A direct-mapped cache: a lookup costs one hash and one comparison however many
/// distinct strings the input has; a string evicts the one in its slot. The
/// slots are allocated on first use.
#[derive(Default)]
pub(crate) struct Names(Vec<Option<Text>>);

impl Names {
    const SLOTS: usize = 256;
    /// Longer strings are not cached (they are unlikely to repeat).
    const MAX_LEN: usize = 32;

    /// A shared copy of `s`.
    pub(crate) fn get(&mut self, s: &str) -> Arc<str> {
        self.text(s).shared()
    }

    /// A shared copy of `s` as a value's string.
    pub(crate) fn text(&mut self, s: &str) -> Text {
        if s.len() > Names::MAX_LEN {
            return Text::from(s);
        }
        let slot = self.slot(s.as_bytes());
        match slot {
            Some(n) if **n == *s => n.clone(),
            _ => slot.insert(Text::from(s)).clone(),
        }
    }

    /// A shared copy of the UTF-8 text `b`, or `None` if it is not UTF-8; a
    /// string already cached is found without validating `b` again.
    pub(crate) fn get_utf8(&mut self, b: &[u8]) -> Option<Arc<str>> {
        self.text_utf8(b).map(|t| t.shared())
    }

    /// [`Names::get_utf8`] as a value's string.
    pub(crate) fn text_utf8(&mut self, b: &[u8]) -> Option<Text> {
        if b.len() > Names::MAX_LEN {
            return std::str::from_utf8(b).ok().map(Text::from);
        }
        let slot = self.slot(b);
        Some(match slot {
            Some(n) if n.as_bytes() == b => n.clone(),
            _ => slot
                .insert(Text::from(std::str::from_utf8(b).ok()?))
                .clone(),
        })
    }

    /// The slot of `b` (FNV-1a).
    fn slot(&mut self, b: &[u8]) -> &mut Option<Text> {
        if self.0.is_empty() {
            self.0.resize(Names::SLOTS, None);
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &c in b {
            h = (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3);
        }
        &mut self.0[(h ^ (h >> 32)) as usize % Names::SLOTS]
    }
}

/// A short description of a value for error messages: its kind and a prefix.
pub(crate) fn describe(v: &Value) -> String {
    let kind = match v {
        Value::Null => return "nil".into(),
        Value::Bool(_) => "boolean",
        Value::Int(_) => "integer",
        Value::Float(_) => "float",
        Value::Str(_) => "string",
        Value::List(_) => "list",
        Value::Map(_) => "map",
    };
    let mut text = v.to_string();
    if text.len() > 40 {
        let cut = (0..=40)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push_str("...");
    }
    format!("{kind} {text}")
}

fn wrong(field: &str, expected: &str, found: &Value) -> String {
    format!("`{field}` must be {expected}, found {}", describe(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_are_named_final_reads_included() {
        assert_eq!(Process::Client(7).name(), "process 7");
        assert_eq!(Process::Client(7).label(), "p7");
        let f = Process::Client(FINAL_READ_PROCESS + 2);
        assert!(f.is_final_read() && !Process::Client(FINAL_READ_PROCESS - 1).is_final_read());
        assert_eq!(f.name(), "final read 3");
        assert_eq!(f.label(), "final read 3");
        assert_eq!(Process::Nemesis.name(), "the nemesis");
        assert_eq!(Process::name_of(None), "a process");
    }

    #[test]
    fn fields_check_types_and_keep_extras() {
        let mut f = EventFields::default();
        f.set("type", Value::str("ok")).unwrap();
        f.set("process", Value::Int(3)).unwrap();
        f.set("key", Value::str("k1")).unwrap();
        let e = f.finish(7).unwrap();
        assert_eq!(e.index, 7);
        assert_eq!(e.extra("key"), Some(&Value::str("k1")));

        let mut f = EventFields::default();
        let err = f.set("type", Value::str("done")).unwrap_err();
        assert!(err.contains("unknown type \"done\""), "{err}");
        let err = f.set("process", Value::Float(1.5)).unwrap_err();
        assert!(err.contains("`process` must be"), "{err}");
        let err = f.set("index", Value::Int(-1)).unwrap_err();
        assert!(err.contains("non-negative"), "{err}");
        assert_eq!(
            EventFields::default().finish(0).unwrap_err(),
            "missing field `type`"
        );
    }

    #[test]
    fn set_str_agrees_with_set() {
        let mut names = Names::default();
        for (name, s) in [
            ("type", "ok"),
            ("type", "done"),
            ("f", "read"),
            ("process", "nemesis"),
            ("process", "p1"),
            ("process", ""),
            ("node", "n1"),
            ("sent_to", "n2"),
            ("sent-to", "n3"),
            ("index", "3"),
            ("time", "5"),
            ("value", "x"),
            ("error", "timed-out"),
            ("key", "k"),
        ] {
            let (mut a, mut b) = (EventFields::default(), EventFields::default());
            assert_eq!(
                a.set(name, Value::str(s)),
                b.set_str(name, s, &mut names),
                "{name}"
            );
            a.set("type", Value::str("ok")).unwrap();
            b.set("type", Value::str("ok")).unwrap();
            assert_eq!(a.finish(0), b.finish(0), "{name}");
        }
        assert!(Arc::ptr_eq(&names.get("read"), &names.get("read")));
        let read = names.get_utf8(b"read").unwrap();
        assert!(Arc::ptr_eq(&read, &names.get("read")));
        assert_eq!(names.get_utf8(b"\xff"), None);
        assert_eq!(
            names.get_utf8("é".repeat(20).as_bytes()).as_deref(),
            Some(&*"é".repeat(20))
        );
        assert_eq!(
            names.get_utf8(&[b'a'; 40][..20]).as_deref(),
            Some(&*"a".repeat(20))
        );
    }

    #[test]
    fn serializes_in_canonical_order() {
        let mut e = Event::new(0, EventType::Invoke, Process::Client(3), "write", 5.into());
        e.time = Some(12345);
        e.node = Some(Arc::from("n2"));
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"index":0,"time":12345,"type":"invoke","process":3,"f":"write","value":5,"node":"n2"}"#
        );
        e.node = None;
        e.sent_to = Some(Arc::from("n1"));
        e.error = Some(Value::str("timed out"));
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"index":0,"time":12345,"type":"invoke","process":3,"f":"write","value":5,"sent_to":"n1","error":"timed out"}"#
        );
    }

    #[test]
    fn served_by_is_a_completion_s_node_and_reached_falls_back_to_it() {
        let mut f = EventFields::default();
        f.set("type", Value::str("ok")).unwrap();
        f.set("node", Value::str("n1")).unwrap();
        f.set("sent-to", Value::str("n2")).unwrap();
        let e = f.finish(0).unwrap();
        assert_eq!((e.served_by(), e.reached()), (Some("n1"), Some("n2")));
        let mut f = EventFields::default();
        f.set("type", Value::str("invoke")).unwrap();
        f.set("node", Value::str("n1")).unwrap();
        let e = f.finish(0).unwrap();
        assert_eq!((e.served_by(), e.reached()), (None, Some("n1")));
        let mut f = EventFields::default();
        let err = f.set("sent_to", Value::Int(1)).unwrap_err();
        assert!(err.contains("`sent_to` must be a node name"), "{err}");
    }
}
