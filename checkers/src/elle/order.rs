//! Process-order and real-time edges.
//!
//! Process order: each client runs its transactions one after another, so each
//! transaction precedes that process's next one. Real time: a transaction that
//! completed before another was invoked precedes it. All real-time pairs would be
//! quadratic; only the transitive reduction is built. Sweeping the history in
//! order, a *frontier* holds the completed transactions not yet known to precede
//! a later completed one; a new invocation gets an edge from each member of the
//! frontier, and a completion removes from the frontier everything that precedes
//! the completed transaction (it now stands for them). The edge count stays
//! proportional to the history times its concurrency.

use faultline_history::Process;
use rustc_hash::FxHashMap;

use super::graph::{PROCESS, REALTIME};
use super::txn::{Status, Txn};

/// Edges between consecutive transactions of each process.
pub(crate) fn process_edges(txns: &[Txn]) -> Vec<(u32, u32, u8)> {
    let mut last: FxHashMap<&Process, u32> = FxHashMap::default();
    let mut edges = Vec::new();
    let mut order: Vec<u32> = (0..txns.len() as u32)
        .filter(|&i| txns[i as usize].status != Status::Fail)
        .collect();
    order.sort_by_key(|&i| txns[i as usize].invoke_pos);
    for i in order {
        if let Some(p) = txns[i as usize].process {
            if let Some(prev) = last.insert(p, i) {
                edges.push((prev, i, PROCESS));
            }
        }
    }
    edges
}

/// The transitive reduction of real-time order among transactions that did not
/// fail (a crashed transaction never completes, so it only follows others).
pub(crate) fn realtime_edges(txns: &[Txn]) -> Vec<(u32, u32, u8)> {
    // (position, is_completion, txn)
    let mut events: Vec<(u32, bool, u32)> = Vec::with_capacity(txns.len() * 2);
    for (i, t) in txns.iter().enumerate() {
        if t.status == Status::Fail {
            continue;
        }
        events.push((t.invoke_pos, false, i as u32));
        if let (Status::Ok, Some(c)) = (t.status, t.complete_pos) {
            events.push((c, true, i as u32));
        }
    }
    events.sort_unstable();
    let mut frontier: Vec<u32> = Vec::new();
    let mut preds: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    let mut edges = Vec::new();
    for (_, completion, i) in events {
        if completion {
            let before = preds.remove(&i).unwrap_or_default();
            frontier.retain(|f| !before.contains(f));
            frontier.push(i);
        } else if !frontier.is_empty() {
            for &f in &frontier {
                edges.push((f, i, REALTIME));
            }
            if txns[i as usize].status == Status::Ok {
                preds.insert(i, frontier.clone());
            }
        }
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_history::Process;

    const PROCS: [Process; 3] = [Process::Client(0), Process::Client(1), Process::Client(2)];

    fn txn(p: usize, invoke: u32, complete: u32) -> Txn<'static> {
        Txn {
            index: u64::from(complete),
            process: Some(&PROCS[p]),
            status: Status::Ok,
            mops: Vec::new(),
            invoke_pos: invoke,
            complete_pos: Some(complete),
        }
    }

    #[test]
    fn realtime_edges_are_reduced() {
        // T0 [0,1], T1 [2,3], T2 [4,5]: a chain; T0 -> T2 is implied.
        let txns = vec![txn(0, 0, 1), txn(1, 2, 3), txn(2, 4, 5)];
        assert_eq!(
            realtime_edges(&txns),
            vec![(0, 1, REALTIME), (1, 2, REALTIME)]
        );
        // Concurrent T0 [0,3] and T1 [1,2], then T2 [4,5]: both precede T2.
        let txns = vec![txn(0, 0, 3), txn(1, 1, 2), txn(2, 4, 5)];
        let mut e = realtime_edges(&txns);
        e.sort();
        assert_eq!(e, vec![(0, 2, REALTIME), (1, 2, REALTIME)]);
    }

    #[test]
    fn process_edges_follow_each_client() {
        let txns = vec![txn(0, 0, 1), txn(1, 2, 3), txn(0, 4, 5)];
        assert_eq!(process_edges(&txns), vec![(0, 2, PROCESS)]);
    }
}
