//! `register` and `cas-register`: one value, read and written whole.
//!
//! A read returns the current value (nil until the first write, unless the
//! checker was given `--initial`); as in Knossos, a read that returned nil is
//! taken to say nothing (it matches any value) — unless the initial value is
//! known to be nil (`--initial null`), when nil is a value like any other; a write replaces it; a compare-and-set
//! `[old new]` replaces it with `new` only if it holds `old`, and succeeds only
//! then (a cas that reported failure did not happen, so it never reaches the
//! model). A crashed read is dropped: it cannot change anything; so is a
//! crashed write or compare-and-set to a value no read returned and no
//! compare-and-set expected (see [`Observes`]).

use faultline_history::Value;

use super::model::{pair, Model, Observes, OpError};

/// A register operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOp {
    /// Read returned this value.
    Read(Value),
    /// Write of this value.
    Write(Value),
    /// Compare-and-set from the first to the second value.
    Cas(Value, Value),
}

/// A read/write register, with compare-and-set when `cas` is true.
#[derive(Clone, Debug)]
pub struct Register {
    /// The value before the first write.
    pub initial: Value,
    /// Whether `cas` is allowed (`cas-register`).
    pub cas: bool,
    /// What a read that returned nil says.
    pub nil_reads: NilReads,
}

/// What a read that returned nil says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NilReads {
    /// Nothing: it matches any value, as in Knossos (Jepsen logs some failed
    /// reads as nil). The default when no initial value is given.
    Unknown,
    /// The register held nil: used when the initial value is known to be nil
    /// (`--initial null`, and faultline's own runs), so a read of nil after
    /// acknowledged writes is caught.
    Value,
}

impl Model for Register {
    type State = Value;
    type Op = RegisterOp;

    fn name(&self) -> &'static str {
        if self.cas {
            "cas-register"
        } else {
            "register"
        }
    }

    fn init(&self) -> Value {
        self.initial.clone()
    }

    fn op(
        &self,
        f: &str,
        invoke: &Value,
        ok: Option<&Value>,
    ) -> Result<Option<RegisterOp>, OpError> {
        Ok(Some(match f {
            "read" | "r" => match ok {
                Some(v) => RegisterOp::Read(v.clone()),
                None => return Ok(None),
            },
            "write" | "w" => RegisterOp::Write(invoke.clone()),
            "cas" if self.cas => {
                let (a, b) = pair(invoke)?;
                RegisterOp::Cas(a, b)
            }
            other => {
                let allowed = if self.cas {
                    "read, write or cas"
                } else {
                    "read or write"
                };
                return Err(OpError::NoSuchOp {
                    model: format!("a {}", self.name()),
                    f: other.to_owned(),
                    expected: allowed,
                });
            }
        }))
    }

    fn step(&self, state: &Value, op: &RegisterOp) -> Option<Value> {
        match op {
            // As Knossos: a read that returned nil says nothing about the value.
            RegisterOp::Read(v) if v == state => Some(state.clone()),
            RegisterOp::Read(v) if v.is_null() && self.nil_reads == NilReads::Unknown => {
                Some(state.clone())
            }
            RegisterOp::Read(_) => None,
            RegisterOp::Write(v) => Some(v.clone()),
            RegisterOp::Cas(a, b) if a == state => Some(b.clone()),
            RegisterOp::Cas(..) => None,
        }
    }

    fn read_only(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Read(_))
    }

    fn leaves(&self, op: &RegisterOp) -> Option<Value> {
        match op {
            RegisterOp::Write(v) | RegisterOp::Cas(_, v) => Some(v.clone()),
            RegisterOp::Read(_) => None,
        }
    }

    fn observes(&self, op: &RegisterOp) -> Observes<Value> {
        match op {
            RegisterOp::Read(v) if v.is_null() && self.nil_reads == NilReads::Unknown => {
                Observes::Nothing
            }
            RegisterOp::Read(v) | RegisterOp::Cas(v, _) => Observes::One(v.clone()),
            RegisterOp::Write(_) => Observes::Nothing,
        }
    }

    fn refusal(&self, state: &Value, op: &RegisterOp) -> String {
        match op {
            RegisterOp::Read(v) => format!("cannot read {v}: register holds {state}"),
            RegisterOp::Cas(a, b) => format!("cannot cas {a}->{b}: register holds {state}"),
            RegisterOp::Write(v) => format!("write {v} always succeeds"),
        }
    }

    fn describe_state(&self, state: &Value) -> String {
        format!("register holds {state}")
    }

    fn describe_op(&self, op: &RegisterOp) -> String {
        match op {
            RegisterOp::Read(v) => format!("read {v}"),
            RegisterOp::Write(v) => format!("write {v}"),
            RegisterOp::Cas(a, b) => format!("cas {a}->{b}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_writes_and_cas_in_its_own_words() {
        let m = Register {
            initial: Value::Null,
            cas: true,
            nil_reads: NilReads::Unknown,
        };
        let w = m
            .op("write", &Value::Int(4), Some(&Value::Int(4)))
            .unwrap()
            .unwrap();
        let s = m.step(&m.init(), &w).unwrap();
        let r = m
            .op("read", &Value::Null, Some(&Value::Int(3)))
            .unwrap()
            .unwrap();
        assert_eq!(
            {
                assert!(m.step(&s, &r).is_none());
                m.refusal(&s, &r)
            },
            "cannot read 3: register holds 4"
        );
        let c = m
            .op("cas", &vec![4.into(), 5.into()].into(), None)
            .unwrap()
            .unwrap();
        assert_eq!(m.step(&s, &c).unwrap(), Value::Int(5));
        assert_eq!(
            m.op("read", &Value::Null, None).unwrap(),
            None,
            "crashed read dropped"
        );
        assert!(m.op("cas", &Value::Int(1), None).is_err());
        let plain = Register {
            initial: Value::Null,
            cas: false,
            nil_reads: NilReads::Unknown,
        };
        assert!(plain
            .op("cas", &vec![1.into(), 2.into()].into(), None)
            .is_err());
    }
}
