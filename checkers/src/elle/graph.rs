//! The dependency graph between transactions, and the searches over it.
//!
//! Nodes are transactions; an edge `T1 -> T2` says T1 must come before T2 in any
//! serial order, for one or more reasons, kept as bits: `ww` (T2 overwrote or
//! appended after T1's write), `wr` (T2 read T1's write), `rw` (T2 overwrote the
//! version T1 read: an anti-dependency), `process` (same client, T1 first) and
//! `realtime` (T1 completed before T2 began). The graph is stored compressed
//! (each node's out-edges side by side, sorted by target) and searched under an
//! edge mask: strongly connected components with an iterative Tarjan, then
//! breadth-first searches for the shortest cycle of a required shape inside one
//! component.

use std::collections::VecDeque;

/// Write-write dependency.
pub(crate) const WW: u8 = 1;
/// Write-read dependency.
pub(crate) const WR: u8 = 2;
/// Read-write anti-dependency.
pub(crate) const RW: u8 = 4;
/// Same process, in order.
pub(crate) const PROCESS: u8 = 8;
/// Completed before the other began.
pub(crate) const REALTIME: u8 = 16;

/// The dependency graph: node `a`'s out-edges are `to[start[a]..start[a + 1]]`,
/// sorted by target, with their kinds in `kinds` at the same positions.
pub(crate) struct Graph {
    start: Vec<u32>,
    to: Vec<u32>,
    kinds: Vec<u8>,
}

impl Graph {
    /// A graph over `n` nodes (more if an edge names a higher one) from
    /// `(from, to, kinds)` edges in any order: parallel edges merged,
    /// self-loops dropped.
    ///
    /// Built by counting: each node's out-degree, then each edge written
    /// into its node's stretch, then each stretch (a few edges) sorted and
    /// merged. A comparison sort of the whole list (11M edges for 1M
    /// list-append transactions) cost a tenth of `faultline check --checker
    /// elle`, parsing included.
    pub fn new(n: usize, mut edges: Vec<(u32, u32, u8)>) -> Graph {
        edges.retain(|(a, b, _)| a != b);
        let n = edges
            .iter()
            .map(|&(a, b, _)| a.max(b) as usize + 1)
            .max()
            .unwrap_or(0)
            .max(n);
        assert!(edges.len() < u32::MAX as usize, "too many edges");
        let mut start = vec![0u32; n + 1];
        for &(a, _, _) in &edges {
            start[a as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut to = vec![0u32; edges.len()];
        let mut kinds = vec![0u8; edges.len()];
        let mut next = start.clone();
        for &(a, b, k) in &edges {
            let at = &mut next[a as usize];
            to[*at as usize] = b;
            kinds[*at as usize] = k;
            *at += 1;
        }
        drop(edges);
        // Sort and merge each node's stretch, moving it down over the
        // space merged edges left.
        let mut out = 0usize;
        let mut scratch: Vec<(u32, u8)> = Vec::new();
        for a in 0..n {
            let (lo, hi) = (start[a] as usize, start[a + 1] as usize);
            start[a] = out as u32;
            scratch.clear();
            scratch.extend((lo..hi).map(|i| (to[i], kinds[i])));
            scratch.sort_unstable_by_key(|e| e.0);
            for &(b, k) in &scratch {
                if out > start[a] as usize && to[out - 1] == b {
                    kinds[out - 1] |= k;
                } else {
                    to[out] = b;
                    kinds[out] = k;
                    out += 1;
                }
            }
        }
        start[n] = out as u32;
        to.truncate(out);
        to.shrink_to_fit();
        kinds.truncate(out);
        kinds.shrink_to_fit();
        Graph { start, to, kinds }
    }

    /// Number of edges (after merging).
    pub fn edge_count(&self) -> usize {
        self.to.len()
    }

    /// The positions of `a`'s out-edges.
    fn span(&self, a: u32) -> std::ops::Range<usize> {
        self.start[a as usize] as usize..self.start[a as usize + 1] as usize
    }

    /// The kinds of the edge `a -> b` (0 if none).
    pub fn kinds(&self, a: u32, b: u32) -> u8 {
        let r = self.span(a);
        let base = r.start;
        self.to[r]
            .binary_search(&b)
            .map_or(0, |i| self.kinds[base + i])
    }

    /// Edges out of `a` with any of the kinds in `mask`.
    pub fn out(&self, a: u32, mask: u8) -> impl Iterator<Item = (u32, u8)> + '_ {
        self.span(a)
            .filter(move |&i| self.kinds[i] & mask != 0)
            .map(|i| (self.to[i], self.kinds[i]))
    }

    /// Strongly connected components (of two or more nodes) of the edges in
    /// `mask`: Tarjan's algorithm with an explicit stack, since dependency
    /// chains (real-time order!) are as long as the history and recursion
    /// would overflow the thread's stack.
    pub fn sccs(&self, mask: u8) -> Vec<Vec<u32>> {
        const NONE: u32 = u32::MAX;
        let n = self.node_count();
        let mut index = vec![NONE; n];
        let mut low = vec![0u32; n];
        let mut on_stack = vec![false; n];
        let mut stack: Vec<u32> = Vec::new();
        let mut out = Vec::new();
        let mut next = 0u32;
        // (node, position in its edge list)
        let mut calls: Vec<(u32, usize)> = Vec::new();
        for root in 0..n as u32 {
            if index[root as usize] != NONE {
                continue;
            }
            calls.push((root, 0));
            while let Some(&mut (v, ref mut pos)) = calls.last_mut() {
                let vi = v as usize;
                if *pos == 0 && index[vi] == NONE {
                    index[vi] = next;
                    low[vi] = next;
                    next += 1;
                    stack.push(v);
                    on_stack[vi] = true;
                }
                let edges = self.span(v);
                let mut descended = false;
                for e in edges.skip(*pos) {
                    *pos += 1;
                    if self.kinds[e] & mask == 0 {
                        continue;
                    }
                    let w = self.to[e];
                    let wi = w as usize;
                    if index[wi] == NONE {
                        calls.push((w, 0));
                        descended = true;
                        break;
                    } else if on_stack[wi] {
                        low[vi] = low[vi].min(index[wi]);
                    }
                }
                if descended {
                    continue;
                }
                calls.pop();
                if let Some(&(parent, _)) = calls.last() {
                    low[parent as usize] = low[parent as usize].min(low[vi]);
                }
                if low[vi] == index[vi] {
                    let mut component = Vec::new();
                    loop {
                        let w = stack.pop().expect("v is on the stack");
                        on_stack[w as usize] = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        out.push(component);
                    }
                }
            }
        }
        out
    }

    /// The shortest path `from -> ... -> to` (`from != to`) using edges in
    /// `mask`, staying inside the nodes marked in `inside`; `seen` is scratch
    /// space of node-count length holding `u32::MAX`, restored on return.
    /// Returns the nodes, `from` first, `to` last.
    pub fn path(
        &self,
        from: u32,
        to: u32,
        mask: u8,
        inside: &[bool],
        seen: &mut [u32],
    ) -> Option<Vec<u32>> {
        const UNSEEN: u32 = u32::MAX;
        let mut touched = vec![from];
        seen[from as usize] = from;
        let mut queue = VecDeque::from([from]);
        let mut found = false;
        'search: while let Some(a) = queue.pop_front() {
            for (b, _) in self.out(a, mask) {
                if inside[b as usize] && seen[b as usize] == UNSEEN {
                    seen[b as usize] = a;
                    touched.push(b);
                    if b == to {
                        found = true;
                        break 'search;
                    }
                    queue.push_back(b);
                }
            }
        }
        let result = found.then(|| {
            let mut path = vec![to];
            let mut x = to;
            while x != from {
                x = seen[x as usize];
                path.push(x);
            }
            path.reverse();
            path
        });
        for t in touched {
            seen[t as usize] = UNSEEN;
        }
        result
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.start.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Every node's out-edges are the distinct targets given for it,
        /// sorted, each with the union of its kinds.
        #[test]
        fn edges_are_grouped_sorted_and_merged(
            edges in prop::collection::vec((0u32..20, 0u32..20, 1u8..32), 0..150),
            n in 0usize..25,
        ) {
            let g = Graph::new(n, edges.clone());
            let mut want: std::collections::BTreeMap<(u32, u32), u8> = Default::default();
            for &(a, b, k) in edges.iter().filter(|e| e.0 != e.1) {
                *want.entry((a, b)).or_default() |= k;
            }
            let high = edges.iter().filter(|e| e.0 != e.1).map(|e| e.0.max(e.1) as usize + 1).max().unwrap_or(0);
            prop_assert_eq!(g.node_count(), n.max(high));
            prop_assert_eq!(g.edge_count(), want.len());
            let mut got = Vec::new();
            for a in 0..g.node_count() as u32 {
                got.extend(g.out(a, 31).map(|(b, k)| ((a, b), k)));
            }
            prop_assert_eq!(got, want.iter().map(|(&e, &k)| (e, k)).collect::<Vec<_>>());
            for (&(a, b), &k) in &want {
                prop_assert_eq!(g.kinds(a, b), k);
            }
        }
    }

    #[test]
    fn merges_edges_finds_components_and_shortest_paths() {
        let g = Graph::new(
            5,
            vec![
                (0, 1, WW),
                (0, 1, WR),
                (1, 2, RW),
                (2, 0, WW),
                (3, 4, WW),
                (1, 1, WW),
            ],
        );
        assert_eq!(g.kinds(0, 1), WW | WR);
        assert_eq!(g.edge_count(), 4);
        let sccs = g.sccs(WW | WR | RW);
        assert_eq!(sccs.len(), 1);
        assert_eq!(sccs[0].len(), 3);
        assert!(g.sccs(WW | WR).is_empty(), "the cycle needs the rw edge");
        let inside = vec![true; 5];
        let mut seen = vec![u32::MAX; 5];
        assert_eq!(
            g.path(2, 1, WW | WR, &inside, &mut seen),
            Some(vec![2, 0, 1])
        );
        assert_eq!(g.path(1, 0, WW | WR, &inside, &mut seen), None);
        assert_eq!(
            g.path(1, 0, WW | WR | RW, &inside, &mut seen),
            Some(vec![1, 2, 0])
        );
        assert!(seen.iter().all(|&s| s == u32::MAX), "scratch reset");
    }

    #[test]
    fn long_chains_do_not_overflow_the_stack() {
        let n = 2_000_000u32;
        let mut edges: Vec<(u32, u32, u8)> = (0..n - 1).map(|i| (i, i + 1, REALTIME)).collect();
        edges.push((n - 1, 0, RW));
        let g = Graph::new(n as usize, edges);
        assert!(g.sccs(REALTIME).is_empty());
        assert_eq!(g.sccs(REALTIME | RW)[0].len(), n as usize);
    }
}
