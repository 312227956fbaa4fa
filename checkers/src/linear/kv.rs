//! `kv`: Porcupine's key-value store, one string per key.
//!
//! Operations are `get` (returns the key's string), `put v` (replaces it) and
//! `append v` (concatenates), on string keys; every key starts as the empty
//! string. The checker splits the history by key first, so this model sees one
//! key's operations: a string register with append.
//!
//! States are never built as strings. A state is a node in a persistent list:
//! the string it stands for is its parent's plus one appended piece (or, after a
//! `put`, just the put value). Each node carries the string's length and a
//! polynomial hash modulo the Mersenne prime 2^61 - 1, extended in O(1) per
//! append, so stepping, hashing and comparing states cost O(1) however long the
//! strings grow. Only when two states or a `get` agree on length and hash is the
//! text compared for real (by walking the pieces), so a hash collision can cost
//! time but never a wrong verdict.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use faultline_history::Value;

use super::model::{Model, OpError};

const P: u64 = (1 << 61) - 1;
const BASE: u64 = 0x1F3D_5B79_A2C4_E681 % P;

fn mul(a: u64, b: u64) -> u64 {
    let x = u128::from(a) * u128::from(b);
    let r = ((x >> 61) as u64) + ((x as u64) & P);
    if r >= P {
        r - P
    } else {
        r
    }
}

fn add(a: u64, b: u64) -> u64 {
    let r = a + b;
    if r >= P {
        r - P
    } else {
        r
    }
}

/// A string with its length, hash and BASE^length, for O(1) concatenation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Piece {
    text: Arc<str>,
    hash: u64,
    pow: u64,
}

impl Piece {
    fn new(text: Arc<str>) -> Piece {
        let (mut hash, mut pow) = (0, 1);
        for &b in text.as_bytes() {
            hash = add(mul(hash, BASE), u64::from(b) + 1);
            pow = mul(pow, BASE);
        }
        Piece { text, hash, pow }
    }
}

/// A kv operation on one key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOp {
    /// `get` returned this string.
    Get(Piece),
    /// `put` of this string.
    Put(Piece),
    /// `append` of this string.
    Append(Piece),
}

struct Node {
    parent: Option<KvState>,
    piece: Arc<str>,
}

/// The string a key holds, as a persistent list of pieces. Its length and
/// hash sit beside the pointer, not behind it, so refusing a `get` (what most
/// steps of a search do) reads no node.
#[derive(Clone)]
pub struct KvState {
    node: Arc<Node>,
    len: usize,
    hash: u64,
}

impl KvState {
    fn of(piece: &Piece) -> KvState {
        KvState {
            node: Arc::new(Node {
                parent: None,
                piece: piece.text.clone(),
            }),
            len: piece.text.len(),
            hash: piece.hash,
        }
    }

    fn append(&self, piece: &Piece) -> KvState {
        KvState {
            node: Arc::new(Node {
                parent: Some(self.clone()),
                piece: piece.text.clone(),
            }),
            len: self.len + piece.text.len(),
            hash: add(mul(self.hash, piece.pow), piece.hash),
        }
    }

    /// The string, built by walking the pieces (explanations and verification).
    pub fn text(&self) -> String {
        let mut pieces = Vec::new();
        let mut node = Some(&self.node);
        while let Some(n) = node {
            pieces.push(&*n.piece);
            node = n.parent.as_ref().map(|p| &p.node);
        }
        let mut s = String::with_capacity(self.len);
        for p in pieces.iter().rev() {
            s.push_str(p);
        }
        s
    }

    /// Whether this state's string is `piece`'s, compared piece by piece from
    /// the end without building the string.
    fn is(&self, piece: &Piece) -> bool {
        if self.len != piece.text.len() || self.hash != piece.hash {
            return false;
        }
        let mut rest = piece.text.as_bytes();
        let mut node = Some(&self.node);
        while let Some(n) = node {
            match rest.strip_suffix(n.piece.as_bytes()) {
                Some(r) => rest = r,
                None => return false,
            }
            node = n.parent.as_ref().map(|p| &p.node);
        }
        rest.is_empty()
    }
}

impl PartialEq for KvState {
    /// Equal strings. Fast when both were built the same way: the search
    /// interns states, so the same appends to the same interned state give
    /// nodes with equal pieces over one shared parent, found in a step or two.
    /// Otherwise (a `put` against appends, pieces split differently) the
    /// bytes are compared.
    fn eq(&self, other: &KvState) -> bool {
        if self.len != other.len || self.hash != other.hash {
            return false;
        }
        let (mut a, mut b) = (&self.node, &other.node);
        loop {
            if Arc::ptr_eq(a, b) {
                return true;
            }
            if a.piece != b.piece {
                break;
            }
            match (&a.parent, &b.parent) {
                (Some(pa), Some(pb)) => (a, b) = (&pa.node, &pb.node),
                (None, None) => return true,
                _ => break,
            }
        }
        self.text() == other.text()
    }
}

impl Eq for KvState {}

impl Hash for KvState {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.hash ^ (self.len as u64).rotate_left(32));
    }
}

impl fmt::Debug for KvState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text())
    }
}

impl Drop for Node {
    /// Long chains would otherwise be freed recursively; unlink iteratively.
    fn drop(&mut self) {
        let mut next = self.parent.take();
        while let Some(state) = next {
            next = match Arc::try_unwrap(state.node) {
                Ok(mut n) => n.parent.take(),
                Err(_) => None,
            };
        }
    }
}

/// One key of Porcupine's kv store.
#[derive(Clone, Copy, Debug, Default)]
pub struct Kv;

fn piece(v: &Value) -> Result<Piece, OpError> {
    match v {
        Value::Str(s) => Ok(Piece::new(s.shared())),
        Value::Null => Ok(Piece::new(Arc::from(""))),
        other => Err(OpError::BadValue {
            what: "kv values are strings",
            found: other.to_string(),
        }),
    }
}

impl Model for Kv {
    type State = KvState;
    type Op = KvOp;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn init(&self) -> KvState {
        KvState::of(&Piece::new(Arc::from("")))
    }

    fn op(&self, f: &str, invoke: &Value, ok: Option<&Value>) -> Result<Option<KvOp>, OpError> {
        Ok(Some(match f {
            "get" | "read" => match ok {
                Some(v) => KvOp::Get(piece(v)?),
                None => return Ok(None),
            },
            "put" | "write" => KvOp::Put(piece(invoke)?),
            "append" => KvOp::Append(piece(invoke)?),
            other => {
                return Err(OpError::NoSuchOp {
                    model: "kv".into(),
                    f: other.to_owned(),
                    expected: "get, put or append",
                })
            }
        }))
    }

    fn step(&self, state: &KvState, op: &KvOp) -> Option<KvState> {
        match op {
            KvOp::Get(v) => state.is(v).then(|| state.clone()),
            KvOp::Put(v) => Some(KvState::of(v)),
            KvOp::Append(v) => Some(state.append(v)),
        }
    }

    fn read_only(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Get(_))
    }

    /// Appends rarely repeat a step (about one in ten in Porcupine's c50-ok).
    fn memoise_steps(&self) -> bool {
        false
    }

    fn refusal(&self, state: &KvState, op: &KvOp) -> String {
        match op {
            KvOp::Get(v) => format!("cannot get {:?}: key holds {:?}", v.text, state.text()),
            other => format!("{} always succeeds", self.describe_op(other)),
        }
    }

    fn describe_state(&self, state: &KvState) -> String {
        format!("key holds {:?}", state.text())
    }

    fn describe_op(&self, op: &KvOp) -> String {
        match op {
            KvOp::Get(v) => format!("get {:?}", v.text),
            KvOp::Put(v) => format!("put {:?}", v.text),
            KvOp::Append(v) => format!("append {:?}", v.text),
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
        assert_eq!(s.text(), "x 0 x 0 ");
        let g = m
            .op("get", &Value::Null, Some(&Value::str("x 0 ")))
            .unwrap()
            .unwrap();
        assert!(m.step(&s, &g).is_none());
        assert_eq!(
            m.refusal(&s, &g),
            "cannot get \"x 0 \": key holds \"x 0 x 0 \""
        );
        let whole = m
            .op("get", &Value::Null, Some(&Value::str("x 0 x 0 ")))
            .unwrap()
            .unwrap();
        assert!(m.step(&s, &whole).is_some());
        assert!(m.op("incr", &Value::Null, None).is_err());
    }

    #[test]
    fn equal_strings_built_differently_are_equal_states() {
        let m = Kv;
        let op = |f: &str, v: &str| m.op(f, &Value::str(v), None).unwrap().unwrap();
        let ab = m.step(&m.init(), &op("append", "ab")).unwrap();
        let a_b = m
            .step(
                &m.step(&m.init(), &op("append", "a")).unwrap(),
                &op("append", "b"),
            )
            .unwrap();
        let put = m.step(&m.init(), &op("put", "ab")).unwrap();
        assert_eq!(ab, a_b);
        assert_eq!(ab, put);
        let hash = |s: &KvState| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            s.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&ab), hash(&a_b));
        let ba = m
            .step(
                &m.step(&m.init(), &op("append", "b")).unwrap(),
                &op("append", "a"),
            )
            .unwrap();
        assert_ne!(ab, ba);
    }

    #[test]
    fn long_chains_drop_without_recursion() {
        let m = Kv;
        let a = m.op("append", &Value::str("x"), None).unwrap().unwrap();
        let mut s = m.init();
        for _ in 0..200_000 {
            s = m.step(&s, &a).unwrap();
        }
        assert_eq!(s.len, 200_000);
    }
}
