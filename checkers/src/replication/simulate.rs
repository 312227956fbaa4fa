//! A simulated linearizable set store, for tests and benchmarks of the set,
//! staleness and split-brain checkers (as `linear::simulate` and
//! `elle::simulate` are for theirs).

use faultline_history::{Event, EventType, Process, Value};

use crate::rng::Rng;

/// A linearizable set store: each add takes effect at a random moment between
/// its invocation and completion; reads return the set at theirs. Elements are
/// unique; some adds crash (`info`), taking effect or not. Ends with a final
/// read per process. Operations are served by one of three nodes.
pub fn set_history(seed: u64, ops: usize, processes: usize) -> Vec<Event> {
    let mut rng = Rng::new(seed);
    let mut set: Vec<i64> = Vec::new();
    let mut events = Vec::new();
    let mut time = 0i64;
    // Per process: None idle, or Some((f, element, applied, result)).
    let mut open: Vec<Option<(&str, i64, bool, Value)>> = vec![None; processes];
    let mut pid: Vec<i64> = (0..processes as i64).collect();
    let mut next_pid = processes as i64;
    let mut next_elem = 0;
    let mut started = 0;
    let push =
        |events: &mut Vec<Event>, t: i64, kind, p: i64, f: &str, v: Value, node: Option<&str>| {
            let mut e = Event::new(events.len() as u64, kind, Process::Client(p), f, v);
            e.time = Some(t);
            e.node = node.map(Into::into);
            events.push(e);
        };
    loop {
        if started >= ops && open.iter().all(Option::is_none) {
            break;
        }
        let s = rng.below(processes as u64) as usize;
        time += 1 + rng.below(1000) as i64;
        let node = ["n1", "n2", "n3"][rng.below(3) as usize];
        match open[s].take() {
            None if started < ops => {
                started += 1;
                if rng.chance(0.7) {
                    next_elem += 1;
                    push(
                        &mut events,
                        time,
                        EventType::Invoke,
                        pid[s],
                        "add",
                        next_elem.into(),
                        None,
                    );
                    open[s] = Some(("add", next_elem, false, Value::Null));
                } else {
                    push(
                        &mut events,
                        time,
                        EventType::Invoke,
                        pid[s],
                        "read",
                        Value::Null,
                        None,
                    );
                    open[s] = Some(("read", 0, false, Value::Null));
                }
            }
            None => {}
            Some((f, e, false, _)) => {
                let result = if f == "add" {
                    set.push(e);
                    Value::Int(e)
                } else {
                    Value::list(set.iter().map(|&x| Value::Int(x)).collect())
                };
                open[s] = Some((f, e, true, result));
            }
            Some((f, e, true, result)) => {
                if f == "add" && rng.chance(0.05) {
                    push(
                        &mut events,
                        time,
                        EventType::Info,
                        pid[s],
                        f,
                        e.into(),
                        None,
                    );
                    pid[s] = next_pid;
                    next_pid += 1;
                } else {
                    push(
                        &mut events,
                        time,
                        EventType::Ok,
                        pid[s],
                        f,
                        result,
                        Some(node),
                    );
                }
            }
        }
    }
    for p in pid {
        time += 1000;
        push(
            &mut events,
            time,
            EventType::Invoke,
            p,
            "read",
            Value::Null,
            None,
        );
        let all = Value::list(set.iter().map(|&x| Value::Int(x)).collect());
        push(
            &mut events,
            time + 10,
            EventType::Ok,
            p,
            "read",
            all,
            Some("n1"),
        );
    }
    events
}
