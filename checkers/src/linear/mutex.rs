//! `mutex`: a lock, acquired and released.
//!
//! Acquiring a held lock or releasing a free one cannot happen. Operations that
//! reported failure (`:fail :acquire`, "not held") did not happen and never reach
//! the model; a crashed acquire or release may have happened.

use faultline_history::Value;

use super::model::{Model, OpError};

/// A lock operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MutexOp {
    /// Take the lock.
    Acquire,
    /// Give it back.
    Release,
}

/// A mutual-exclusion lock, initially free.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mutex;

impl Model for Mutex {
    type State = bool;
    type Op = MutexOp;

    fn name(&self) -> &'static str {
        "mutex"
    }

    fn init(&self) -> bool {
        false
    }

    fn op(
        &self,
        f: &str,
        _invoke: &Value,
        _ok: Option<&Value>,
    ) -> Result<Option<MutexOp>, OpError> {
        match f {
            "acquire" | "lock" => Ok(Some(MutexOp::Acquire)),
            "release" | "unlock" => Ok(Some(MutexOp::Release)),
            other => Err(OpError::NoSuchOp {
                model: "a mutex".into(),
                f: other.to_owned(),
                expected: "acquire or release",
            }),
        }
    }

    fn step(&self, held: &bool, op: &MutexOp) -> Option<bool> {
        match (op, held) {
            (MutexOp::Acquire, false) => Some(true),
            (MutexOp::Release, true) => Some(false),
            _ => None,
        }
    }

    fn refusal(&self, held: &bool, op: &MutexOp) -> String {
        match (op, held) {
            (MutexOp::Acquire, true) => "cannot acquire: the lock is held".into(),
            (MutexOp::Release, false) => "cannot release: the lock is free".into(),
            (op, _) => format!("{} is possible", self.describe_op(op)),
        }
    }

    fn describe_state(&self, held: &bool) -> String {
        if *held {
            "the lock is held"
        } else {
            "the lock is free"
        }
        .into()
    }

    fn describe_op(&self, op: &MutexOp) -> String {
        match op {
            MutexOp::Acquire => "acquire".into(),
            MutexOp::Release => "release".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_acquire_is_refused() {
        let m = Mutex;
        let a = m.op("acquire", &Value::Null, None).unwrap().unwrap();
        let held = m.step(&m.init(), &a).unwrap();
        assert_eq!(
            {
                assert!(m.step(&held, &a).is_none());
                m.refusal(&held, &a)
            },
            "cannot acquire: the lock is held"
        );
        assert!(m.step(&false, &MutexOp::Release).is_none());
    }
}
