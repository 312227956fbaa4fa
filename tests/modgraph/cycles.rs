//! Circles in a directed graph: strongly connected components (Tarjan), and one
//! shortest circle through each, to name it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The strongly connected components of more than one node, each sorted.
pub fn components(nodes: usize, arrows: &BTreeSet<(usize, usize)>) -> Vec<Vec<usize>> {
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); nodes];
    for &(a, b) in arrows {
        next[a].push(b);
    }
    let mut tarjan = Tarjan {
        next: &next,
        index: vec![None; nodes],
        low: vec![0; nodes],
        on_stack: vec![false; nodes],
        stack: Vec::new(),
        counter: 0,
        found: Vec::new(),
    };
    for n in 0..nodes {
        if tarjan.index[n].is_none() {
            tarjan.visit(n);
        }
    }
    let mut found: Vec<Vec<usize>> = tarjan.found.into_iter().filter(|c| c.len() > 1).collect();
    for c in &mut found {
        c.sort();
    }
    found.sort();
    found
}

struct Tarjan<'a> {
    next: &'a [Vec<usize>],
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    counter: usize,
    found: Vec<Vec<usize>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, v: usize) {
        self.index[v] = Some(self.counter);
        self.low[v] = self.counter;
        self.counter += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        for &w in &self.next[v] {
            match self.index[w] {
                None => {
                    self.visit(w);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(i) if self.on_stack[w] => self.low[v] = self.low[v].min(i),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut component = Vec::new();
            loop {
                let w = self.stack.pop().expect("v is on the stack");
                self.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            self.found.push(component);
        }
    }
}

/// A shortest circle from the component's first node back to it, inside the component.
pub fn shortest_circle(component: &[usize], arrows: &BTreeSet<(usize, usize)>) -> Vec<usize> {
    let start = component[0];
    let inside: BTreeSet<usize> = component.iter().copied().collect();
    let mut came_from: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &(_, w) in arrows.range((v, 0)..=(v, usize::MAX)) {
            if !inside.contains(&w) {
                continue;
            }
            if w == start {
                let mut circle = vec![start, v];
                let mut at = v;
                while at != start {
                    at = came_from[&at];
                    circle.push(at);
                }
                circle.reverse();
                return circle;
            }
            if let std::collections::btree_map::Entry::Vacant(e) = came_from.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    unreachable!("a strongly connected component has a circle through each node")
}
