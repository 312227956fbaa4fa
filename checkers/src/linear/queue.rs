//! `queue`: a FIFO queue of values.
//!
//! `enqueue v` adds `v` at the back; `dequeue` removes the front and returns it,
//! or returns nil when the queue is empty. A crashed dequeue may have removed
//! whatever was at the front (or nothing, if it never took effect).

use std::collections::VecDeque;

use faultline_history::Value;

use super::model::{Model, OpError};

/// A queue operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QueueOp {
    /// Add this value at the back.
    Enqueue(Value),
    /// Remove the front: it returned this value (nil: the queue was empty), or
    /// crashed (`None`) and removed whatever was there.
    Dequeue(Option<Value>),
}

/// A FIFO queue, initially empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct Queue;

impl Model for Queue {
    type State = VecDeque<Value>;
    type Op = QueueOp;

    fn name(&self) -> &'static str {
        "queue"
    }

    fn init(&self) -> VecDeque<Value> {
        VecDeque::new()
    }

    fn op(&self, f: &str, invoke: &Value, ok: Option<&Value>) -> Result<Option<QueueOp>, OpError> {
        match f {
            "enqueue" | "push" | "offer" => Ok(Some(QueueOp::Enqueue(invoke.clone()))),
            "dequeue" | "pop" | "poll" => Ok(Some(QueueOp::Dequeue(ok.cloned()))),
            other => Err(OpError::NoSuchOp {
                model: "a queue".into(),
                f: other.to_owned(),
                expected: "enqueue or dequeue",
            }),
        }
    }

    fn step(&self, q: &VecDeque<Value>, op: &QueueOp) -> Option<VecDeque<Value>> {
        match op {
            QueueOp::Enqueue(v) => {
                let mut q = q.clone();
                q.push_back(v.clone());
                Some(q)
            }
            QueueOp::Dequeue(None) => {
                let mut q = q.clone();
                q.pop_front();
                Some(q)
            }
            QueueOp::Dequeue(Some(Value::Null)) if q.is_empty() => Some(q.clone()),
            QueueOp::Dequeue(Some(v)) if q.front() == Some(v) => {
                Some(q.iter().skip(1).cloned().collect())
            }
            QueueOp::Dequeue(Some(_)) => None,
        }
    }

    fn refusal(&self, q: &VecDeque<Value>, op: &QueueOp) -> String {
        match (op, q.front()) {
            (QueueOp::Dequeue(Some(v)), Some(front)) => {
                format!("cannot dequeue {v}: the front is {front}")
            }
            (QueueOp::Dequeue(Some(v)), None) => format!("cannot dequeue {v}: the queue is empty"),
            (op, _) => format!("{} is possible", self.describe_op(op)),
        }
    }

    fn describe_state(&self, q: &VecDeque<Value>) -> String {
        let items: Vec<String> = q.iter().map(Value::to_string).collect();
        format!("queue holds [{}]", items.join(" "))
    }

    fn describe_op(&self, op: &QueueOp) -> String {
        match op {
            QueueOp::Enqueue(v) => format!("enqueue {v}"),
            QueueOp::Dequeue(Some(v)) => format!("dequeue {v}"),
            QueueOp::Dequeue(None) => "dequeue (no answer)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_is_enforced() {
        let m = Queue;
        let mut q = m.init();
        for v in [1, 2] {
            q = m.step(&q, &QueueOp::Enqueue(Value::Int(v))).unwrap();
        }
        assert_eq!(
            {
                let two = QueueOp::Dequeue(Some(Value::Int(2)));
                assert!(m.step(&q, &two).is_none());
                m.refusal(&q, &two)
            },
            "cannot dequeue 2: the front is 1"
        );
        let q = m.step(&q, &QueueOp::Dequeue(Some(Value::Int(1)))).unwrap();
        assert_eq!(m.describe_state(&q), "queue holds [2]");
        assert!(m
            .step(&m.init(), &QueueOp::Dequeue(Some(Value::Null)))
            .is_some());
    }
}
