//! Finding cycles of each anomalous shape, and naming them as Elle does.
//!
//! - **G0** (write cycle): only `ww` edges.
//! - **G1c** (circular information flow): `ww` and `wr` edges, at least one `wr`.
//! - **G-single** (read skew): exactly one `rw` edge, the rest `ww`/`wr`.
//! - **G-nonadjacent**: two or more `rw` edges, no two of them consecutive.
//! - **G2-item** (e.g. write skew): any cycle with `rw` edges.
//!
//! A cycle that exists only thanks to process-order edges gets the suffix
//! `-process`; one that needs real-time edges, `-realtime`. The search looks in
//! each strongly connected component of the whole graph, one shape at a time:
//! for each edge of the shape's distinguishing kind `a -> b`, the shortest path
//! `b -> a` over the allowed kinds closes the smallest such cycle. One example
//! per shape and component is enough to prove the anomaly. The search checks its
//! deadline between paths; running out is reported, never taken as "no cycle".

use std::time::Instant;

use super::graph::{Graph, PROCESS, REALTIME, RW, WR, WW};

/// A cycle's hops: `(from, to, kind)`.
type Hops = Vec<(u32, u32, u8)>;

/// A cycle found: its shape's name and its nodes with the kinds of each hop.
#[derive(Clone, Debug)]
pub(crate) struct Cycle {
    pub name: String,
    /// `(from, to, kinds used)` for each hop; the last hop returns to the first node.
    pub hops: Hops,
}

/// The shapes, in the order they are searched: (name, kind that must appear, kinds allowed).
const SHAPES: &[(&str, u8, u8)] = &[
    ("G0", WW, WW),
    ("G1c", WR, WW | WR),
    ("G-single", RW, WW | WR),
    ("G2", RW, WW | WR | RW),
];

/// Searches every component for one cycle of each shape; `Err` carries what was
/// found before the deadline.
pub(crate) fn find(
    graph: &Graph,
    extra: u8,
    deadline: Option<Instant>,
) -> Result<Vec<Cycle>, Vec<Cycle>> {
    let all = WW | WR | RW | extra;
    let n = graph.node_count();
    let mut inside = vec![false; n];
    let mut seen = vec![u32::MAX; n];
    let mut found = Vec::new();
    for component in graph.sccs(all) {
        for &x in &component {
            inside[x as usize] = true;
        }
        let mut names: Vec<String> = Vec::new();
        for &(shape, must, allowed) in SHAPES {
            for more in [0, PROCESS, PROCESS | REALTIME] {
                if more & !extra != 0 {
                    continue;
                }
                let mask = allowed | more;
                match search(graph, &component, must, mask, &inside, &mut seen, deadline) {
                    Err(()) => {
                        for &x in &component {
                            inside[x as usize] = false;
                        }
                        return Err(found);
                    }
                    Ok(None) => continue,
                    Ok(Some(hops)) => {
                        let name = name(shape, &hops);
                        if !names.contains(&name) {
                            names.push(name.clone());
                            found.push(Cycle { name, hops });
                        }
                        break;
                    }
                }
            }
        }
        for &x in &component {
            inside[x as usize] = false;
        }
    }
    Ok(found)
}

/// One cycle through an edge of kind `must`, over edges in `mask`.
fn search(
    graph: &Graph,
    component: &[u32],
    must: u8,
    mask: u8,
    inside: &[bool],
    seen: &mut [u32],
    deadline: Option<Instant>,
) -> Result<Option<Hops>, ()> {
    for &a in component {
        for (b, kinds) in graph.out(a, must) {
            if !inside[b as usize] {
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(());
            }
            if let Some(path) = graph.path(b, a, mask, inside, seen) {
                // The closing edge counts as the kind that defines the shape;
                // every other hop as its strongest data dependency.
                let _ = kinds;
                let mut hops = vec![(a, b, must)];
                for w in path.windows(2) {
                    hops.push((w[0], w[1], primary(graph.kinds(w[0], w[1]) & mask)));
                }
                return Ok(Some(hops));
            }
        }
    }
    Ok(None)
}

/// The kind a hop counts as: a data dependency when it has one (`ww` before `wr`
/// before `rw`), else process, else real time.
pub(crate) fn primary(kinds: u8) -> u8 {
    [WW, WR, RW, PROCESS, REALTIME]
        .into_iter()
        .find(|k| kinds & k != 0)
        .unwrap_or(0)
}

/// Elle's name for a cycle of `shape` with these hops.
fn name(shape: &str, hops: &[(u32, u32, u8)]) -> String {
    let kinds: Vec<u8> = hops.iter().map(|h| primary(h.2)).collect();
    let base = if shape == "G2" {
        let rw: Vec<usize> = (0..kinds.len()).filter(|&i| kinds[i] == RW).collect();
        let adjacent = rw.iter().any(|&i| kinds[(i + 1) % kinds.len()] == RW);
        match rw.len() {
            0 | 1 => "G-single",
            _ if !adjacent => "G-nonadjacent",
            _ => "G2-item",
        }
    } else {
        shape
    };
    let suffix = if kinds.contains(&REALTIME) {
        "-realtime"
    } else if kinds.contains(&PROCESS) {
        "-process"
    } else {
        ""
    };
    format!("{base}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(edges: Vec<(u32, u32, u8)>) -> Vec<String> {
        let g = Graph::new(4, edges);
        let mut n: Vec<String> = find(&g, PROCESS | REALTIME, None)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        n.sort();
        n
    }

    #[test]
    fn each_shape_is_named() {
        assert_eq!(names(vec![(0, 1, WW), (1, 0, WW)]), vec!["G0"]);
        assert_eq!(names(vec![(0, 1, WW), (1, 0, WR)]), vec!["G1c"]);
        assert_eq!(names(vec![(0, 1, WR), (1, 0, RW)]), vec!["G-single"]);
        assert_eq!(names(vec![(0, 1, RW), (1, 0, RW)]), vec!["G2-item"]);
        assert_eq!(
            names(vec![(0, 1, RW), (1, 2, WR), (2, 3, RW), (3, 0, WR)]),
            vec!["G-nonadjacent"]
        );
        assert_eq!(names(vec![(0, 1, WW), (1, 0, PROCESS)]), vec!["G0-process"]);
        assert_eq!(
            names(vec![(0, 1, RW), (1, 0, REALTIME)]),
            vec!["G-single-realtime"]
        );
        assert!(names(vec![(0, 1, WW), (1, 2, WR)]).is_empty());
    }
}
