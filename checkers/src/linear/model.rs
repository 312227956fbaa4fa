//! What a linearizability model is: a sequential specification.
//!
//! A model says what one object does when operations are applied to it one at a
//! time: its initial state, and for each operation either the next state or the
//! reason it cannot happen in this state ("cannot read 3: register holds 4").
//! The checker searches for an order of the history's operations that the model
//! accepts; the model never sees concurrency. `step` is the hot path and only
//! says yes (the next state) or no; `refusal` puts the no into words, and runs
//! only when a failure is explained.
//!
//! Models work on their own compact operation type, made once per history
//! operation by [`Model::op`], so the search never re-reads [`Value`]s. States
//! must be cheap to clone, hash and compare: the search interns them.

use std::fmt::Debug;
use std::hash::Hash;

use faultline_history::Value;
use thiserror::Error;

/// Why a history operation means nothing to a model. One line.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum OpError {
    /// The model has no operation of that name.
    #[error("{model} has no operation `{f}` (expected {expected})")]
    NoSuchOp {
        /// The model, as a sentence names it (`a register`, `kv`).
        model: String,
        /// The operation's `f`.
        f: String,
        /// The operations it has, in words.
        expected: &'static str,
    },
    /// A value of the wrong shape.
    #[error("{what}, found {found}")]
    BadValue {
        /// What the model takes (`expected a [old new] pair`).
        what: &'static str,
        /// What was there.
        found: String,
    },
}

/// A sequential specification of one object.
pub trait Model: Send + Sync {
    /// The object's state.
    type State: Clone + Eq + Hash + Debug + Send + Sync;
    /// One operation, with its argument and (if it completed ok) its result.
    type Op: Clone + Eq + Hash + Debug + Send + Sync;

    /// The model's name (`register`, `cas-register`, ...).
    fn name(&self) -> &'static str;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Interprets a history operation: `f`, the invocation's value, and the
    /// completion's value when it completed `ok` (`None` when it crashed or never
    /// returned). `Ok(None)` drops the operation: it cannot change the state and
    /// its result is unknown (a crashed read). `Err` says why the operation is
    /// malformed for this model.
    fn op(&self, f: &str, invoke: &Value, ok: Option<&Value>) -> Result<Option<Self::Op>, OpError>;

    /// Applies `op` to `state`: the next state, or `None` if it cannot happen.
    /// This is the search's inner loop: it must not allocate needlessly.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// Whether `op` never changes any state it applies to (a read). The search
    /// linearizes such an operation as soon as it can, without branching: if a
    /// read can go next, putting it next is never worse than putting it later.
    fn read_only(&self, _op: &Self::Op) -> bool {
        false
    }

    /// Whether the search should remember each (state, operation) step. Worth
    /// it when states are few and steps repeat (a register holds a handful of
    /// values); not when nearly every step makes a new state (kv's strings
    /// grow with every append), where the table only costs.
    fn memoise_steps(&self) -> bool {
        true
    }

    /// The state `op` leaves whenever it can happen at all (a write's value,
    /// a compare-and-set's new value), or `None` when that depends on the
    /// state before it. With [`Model::observes`] this lets a crashed
    /// operation nobody could have seen be dropped before the search: see
    /// [`Observes`]. Default: `None` (nothing is dropped).
    fn leaves(&self, _op: &Self::Op) -> Option<Self::State> {
        None
    }

    /// Which states `op`'s outcome tells apart from others. Default:
    /// [`Observes::Any`], which keeps every crashed operation.
    fn observes(&self, _op: &Self::Op) -> Observes<Self::State> {
        Observes::Any
    }

    /// Why `op` cannot happen in `state`, in the model's own words ("cannot read
    /// 3: register holds 4"). Called only for explanations.
    fn refusal(&self, state: &Self::State, op: &Self::Op) -> String;

    /// The state in words, for explanations.
    fn describe_state(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }

    /// The operation in words, for explanations.
    fn describe_op(&self, op: &Self::Op) -> String {
        format!("{op:?}")
    }
}

/// Which states an operation's outcome depends on.
///
/// A crashed operation that, whenever it happens, leaves the state `v`
/// ([`Model::leaves`]: a write of `v`, a compare-and-set to `v`) can be
/// dropped before the search when no other operation of its object observes
/// `v`. It may take effect at any point after its invocation, or never; in
/// any linearization that places it, the operations up to the next change
/// of state accept `v`, which only operations that accept every state do
/// (nothing observes `v`), so they accept the state without it too, and the
/// operations after the next change are unaffected: removing it leaves a
/// linearization. Every linearization without it is one the original
/// allowed. Dropping one may leave another unobserved (a crashed
/// compare-and-set observes its old value), so this repeats until nothing
/// more goes. Such operations are what partitions leave behind by the
/// thousand — acknowledged nowhere, read by no one — and each would
/// otherwise stay pending to the end of the search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observes<S> {
    /// Does not depend on the state at all: accepts every state, and leaves
    /// the same state whatever the state before (a write; a read that
    /// returned nil when nil says nothing). Not an append, whose result
    /// depends on what it appends to: that is [`Observes::Any`].
    Nothing,
    /// Accepts exactly this state, or changes it only from this state (a
    /// read of it; a compare-and-set from it).
    One(S),
    /// May tell any states apart: nothing is dropped.
    Any,
}

/// The `[old new]` pair of a compare-and-set.
pub(crate) fn pair(v: &Value) -> Result<(Value, Value), OpError> {
    match v.as_list() {
        Some([a, b]) => Ok((a.clone(), b.clone())),
        _ => Err(OpError::BadValue {
            what: "expected a [old new] pair",
            found: v.to_string(),
        }),
    }
}
