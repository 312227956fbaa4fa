//! `kv`: Porcupine's key-value store, one string per key.
//!
//! Operations are `get` (returns the key's string), `put v` (replaces it) and
//! `append v` (concatenates), on string keys; every key starts as the empty
//! string. The checker splits the history by key first, so this model sees one
//! key's operations: a string register with append.

use std::sync::Arc;

use faultline_history::Value;

use super::model::Model;

/// A kv operation on one key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOp {
    /// `get` returned this string.
    Get(Arc<str>),
    /// `put` of this string.
    Put(Arc<str>),
    /// `append` of this string.
    Append(Arc<str>),
}

/// One key of Porcupine's kv store.
#[derive(Clone, Copy, Debug, Default)]
pub struct Kv;

fn text(v: &Value) -> Result<Arc<str>, String> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        Value::Null => Ok(Arc::from("")),
        other => Err(format!("kv values are strings, found {other}")),
    }
}

impl Model for Kv {
    type State = Arc<str>;
    type Op = KvOp;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> Arc<str> {
        Arc::from("")
    }

    fn op(&self, f: &str, invoke: &Value, ok: Option<&Value>) -> Result<Option<KvOp>, String> {
        Ok(Some(match f {
            "get" | "read" => match ok {
                Some(v) => KvOp::Get(text(v)?),
                None => return Ok(None),
            },
            "put" | "write" => KvOp::Put(text(invoke)?),
            "append" => KvOp::Append(text(invoke)?),
            other => {
                return Err(format!(
                    "kv has no operation `{other}` (expected get, put or append)"
                ))
            }
        }))
    }

    fn step(&self, state: &Arc<str>, op: &KvOp) -> Option<Arc<str>> {
        match op {
            KvOp::Get(v) if v == state => Some(state.clone()),
            KvOp::Get(_) => None,
            KvOp::Put(v) => Some(v.clone()),
            KvOp::Append(v) => {
                let mut s = String::with_capacity(state.len() + v.len());
                s.push_str(state);
                s.push_str(v);
                Some(Arc::from(s))
            }
        }
    }

    fn read_only(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Get(_))
    }

    fn refusal(&self, state: &Arc<str>, op: &KvOp) -> String {
        match op {
            KvOp::Get(v) => format!("cannot get {v:?}: key holds {state:?}"),
            other => format!("{} always succeeds", self.describe_op(other)),
        }
    }

    fn describe_state(&self, state: &Arc<str>) -> String {
        format!("key holds {state:?}")
    }

    fn describe_op(&self, op: &KvOp) -> String {
        match op {
            KvOp::Get(v) => format!("get {v:?}"),
            KvOp::Put(v) => format!("put {v:?}"),
            KvOp::Append(v) => format!("append {v:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_concatenate_and_gets_must_match() {
        let m = Kv;
        let a = m.op("append", &Value::str("x 0 "), None).unwrap().unwrap();
        let s = m.step(&m.step(&m.init(), &a).unwrap(), &a).unwrap();
        assert_eq!(&*s, "x 0 x 0 ");
        let g = m
            .op("get", &Value::Null, Some(&Value::str("x 0 ")))
            .unwrap()
            .unwrap();
        assert_eq!(
            {
                assert!(m.step(&s, &g).is_none());
                m.refusal(&s, &g)
            },
            "cannot get \"x 0 \": key holds \"x 0 x 0 \""
        );
        assert!(m.op("incr", &Value::Null, None).is_err());
    }
}
