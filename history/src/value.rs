//! The value an operation carries.
//!
//! Histories come from JSON Lines and from Jepsen's EDN, so a value must hold what
//! both can say: nil, booleans, integers, floats, strings, lists and maps. EDN's
//! extra shapes are folded into these on the way in, the same way Jepsen's own JSON
//! export folds them: a keyword `:append` becomes the string `"append"`, a vector,
//! list or set becomes a list (a set's elements sorted, so equal sets compare
//! equal), and a map key that is not a string is written as its text (`1` → `"1"`).
//!
//! Unlike `serde_json::Value`, this type is `Eq + Ord + Hash` (floats compare by
//! their bits), so checkers can use values as map keys, set elements and parts of
//! interned model states.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::thin::ThinSlice;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A list's elements, one pointer wide (its length lives with the elements).
pub type List = ThinSlice<Value>;

/// A map's entries in input order, one pointer wide.
pub type Entries = ThinSlice<(Arc<str>, Value)>;

/// A string value: shared (equal short strings of a history are one
/// allocation) and one pointer wide.
///
/// Every variant of [`Value`] fits in one word, so a `Value` is 16 bytes, not
/// the 24 a two-word `Arc<str>` or `Box<[Value]>` would make it. A history is
/// mostly values — every read element, every micro-operation and its three
/// parts — so this is about a fifth of a list-append history in memory
/// (1.40 → 1.10 GB parsed, 1M transactions).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(Arc<Arc<str>>);

impl Text {
    /// The string as the `Arc<str>` event fields hold (no copy).
    pub fn shared(&self) -> Arc<str> {
        Arc::clone(&self.0)
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<Arc<str>> for Text {
    fn from(s: Arc<str>) -> Text {
        Text(Arc::new(s))
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(Arc::new(Arc::from(s)))
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

/// A value in a history: what an operation wrote, read, or was asked to do.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// `null` in JSON, `nil` in EDN.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A float; compared and hashed by its bits.
    Float(f64),
    /// A string, or an EDN keyword or symbol without its colon.
    Str(Text),
    /// A JSON array, or an EDN vector, list or set.
    List(List),
    /// A map, its entries in input order.
    Map(Entries),
}

impl Value {
    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::Str(Text::from(s))
    }

    /// Whether this is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The value under `key`, if this is a map holding it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.iter().find(|(k, _)| &**k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A `jepsen.independent` tuple `[key value]`, if this is a two-element list.
    pub fn as_tuple(&self) -> Option<(&Value, &Value)> {
        match self {
            Value::List(l) if l.len() == 2 => Some((&l[0], &l[1])),
            _ => None,
        }
    }

    /// Whether two lists of values are equal: `a == b`, with integers (what
    /// list-append elements nearly always are) compared in the loop itself
    /// rather than through a call per element.
    #[inline]
    pub fn same_list(a: &[Value], b: &[Value]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Value::same(x, y))
    }

    /// `a == b`, the integer case inlined where it is called.
    #[inline]
    pub fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Int(p), Value::Int(q)) => p == q,
            _ => a == b,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Float(_) => 3,
            Value::Str(_) => 4,
            Value::List(_) => 5,
            Value::Map(_) => 6,
        }
    }
}

impl PartialEq for Value {
    #[inline]
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Null, Value::Null) => true,
            (Value::List(a), Value::List(b)) => a == b,
            _ => self.cmp(other) == Ordering::Equal,
        }
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Value) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    #[inline]
    fn cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (Value::List(a), Value::List(b)) => a.cmp(b),
            (Value::Map(a), Value::Map(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Hash for Value {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Value::Null => {}
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => i.hash(state),
            Value::Float(f) => f.to_bits().hash(state),
            Value::Str(s) => s.hash(state),
            Value::List(l) => l.hash(state),
            Value::Map(m) => m.hash(state),
        }
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Value {
        Value::list(l)
    }
}

impl Value {
    /// A list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(ThinSlice::from_vec(items))
    }

    /// A map value, entries in the given order.
    pub fn map(entries: Vec<(Arc<str>, Value)>) -> Value {
        Value::Map(ThinSlice::from_vec(entries))
    }
}

/// Written the way Jepsen prints values: `nil`, `5`, `"x"`, `[1 2]`, `{"k" 1}`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k:?} {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(x) if x.is_finite() => s.serialize_f64(*x),
            // JSON has no NaN or infinity; keep the information as text.
            Value::Float(x) => s.serialize_str(&x.to_string()),
            Value::Str(v) => s.serialize_str(v),
            Value::List(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for v in l {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(&**k, v)?;
                }
                map.end()
            }
        }
    }
}

pub(crate) struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
        Ok(Value::Float(x))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::list(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<KeyStr>()? {
            out.push((Arc::from(k.0.as_ref()), map.next_value()?));
        }
        Ok(Value::map(out))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// A map key that borrows from the input when it can.
pub(crate) struct KeyStr<'de>(pub std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for KeyStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<KeyStr<'de>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<KeyStr<'de>, E> {
                Ok(KeyStr(std::borrow::Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<KeyStr<'de>, E> {
                Ok(KeyStr(std::borrow::Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_shape() {
        let text = r#"{"a":[1,2.5,null,true,"x"],"b":{"c":-3}}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), text);
        assert_eq!(v.get("b").and_then(|b| b.get("c")), Some(&Value::Int(-3)));
    }

    #[test]
    fn lists_compare_alike_both_ways() {
        let l = |v: &[i64]| v.iter().map(|&i| Value::Int(i)).collect::<Vec<_>>();
        let mixed = vec![Value::Int(1), Value::str("a"), Value::list(l(&[2]))];
        for (a, b) in [
            (l(&[1, 2]), l(&[1, 2])),
            (l(&[1, 2]), l(&[1, 3])),
            (l(&[1]), l(&[1, 2])),
            (mixed.clone(), mixed.clone()),
            (mixed.clone(), l(&[1, 2, 3])),
        ] {
            assert_eq!(Value::same_list(&a, &b), a == b, "{a:?} {b:?}");
        }
    }

    #[test]
    fn a_value_is_two_words() {
        assert_eq!(std::mem::size_of::<Value>(), 16);
    }

    #[test]
    fn display_reads_like_jepsen() {
        let v = Value::list(vec![Value::str("append"), 5.into(), Value::Null]);
        assert_eq!(v.to_string(), r#"["append" 5 nil]"#);
    }

    #[test]
    fn order_is_total_across_kinds() {
        let mut vs = vec![
            Value::str("a"),
            Value::Int(2),
            Value::Null,
            Value::Float(1.5),
        ];
        vs.sort();
        assert_eq!(
            vs,
            vec![
                Value::Null,
                Value::Int(2),
                Value::Float(1.5),
                Value::str("a")
            ]
        );
        assert_ne!(Value::Int(1), Value::Float(1.0));
    }
}
