//! Network partitions, as grudges.
//!
//! A *grudge* says, for each node, which nodes' packets it drops. A partition
//! into sides is the grudge in which every node drops packets from every node
//! on another side; Jepsen's shapes are all grudges too: one node isolated,
//! halves, random halves, a majorities ring (every node sees a majority, no two
//! the same), a bridge (two halves and one node that sees both), and one-way
//! (A stops hearing B while B still hears A).
//!
//! Not every shape exists on every cluster: two nodes have no bridge (its
//! halves would be empty) and fewer than four have no majorities ring (each
//! of three nodes would have to see exactly one peer, symmetrically: an odd
//! cycle cannot do it). [`Shape::drawable`] is the one place that says which
//! shapes a cluster of `n` nodes can be given, and [`draw`] only draws those:
//! every grudge it returns cuts something. The property tests check, for
//! every size from 2 to 9 and many seeds, that each grudge drawn is non-empty
//! and is what its shape says it is.
//!
//! A grudge is applied with one iptables chain, `FAULTLINE`, hooked into each
//! node's INPUT: `-s <peer> -j DROP` per peer it holds a grudge against. Only
//! node addresses are matched, so the controller (the harness and its clients)
//! is never cut off. [`prepare`] checks a grudge before any node is touched —
//! an empty grudge (nothing cut) or one naming an unknown node is refused, so
//! a partition that would change nothing is never applied nor recorded as a
//! fault. Healing flushes the chain on every node; healing twice, or healing a
//! node that was never partitioned, is harmless. The rules live in the node
//! (its namespace, or the SSH host), so the same code serves both backends.
//! Healing keeps the chain and its jump for the next fault; [`unhook`] removes
//! them when the run is over (on an SSH host, which outlives the run; a
//! namespace goes with them), by the rule in [`faultline_harness::state`].

use std::collections::{BTreeMap, BTreeSet};

use faultline_harness::remote::{Remote, RemoteError};
use thiserror::Error;

/// Node -> the nodes whose packets it drops.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// The chain partitions live in.
pub const CHAIN: &str = faultline_harness::state::PARTITION_CHAIN;

/// Why a partition was not applied.
#[derive(Debug, Error)]
pub enum PartitionError {
    /// The grudge drops nothing: applying it would change nothing.
    #[error("the partition cuts nothing (an empty grudge); refused")]
    Empty,
    /// The grudge names a node with no known address.
    #[error("the partition names an unknown node {0:?}")]
    UnknownNode(String),
    /// A node's rules could not be installed.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// A node's rules could not be installed after other nodes' were: the
    /// partition is partly in force until healed.
    #[error("{source} (rules already in place on {})", done.join(", "))]
    PartlyApplied {
        /// The nodes whose rules were installed.
        done: Vec<String>,
        /// Why the next node's were not.
        source: Box<RemoteError>,
    },
}

/// The partition shapes the `partition` nemesis draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One node cut off from all the others.
    Isolate,
    /// The first half (the smaller, if odd) against the rest.
    Halves,
    /// Halves of a shuffled order.
    RandomHalves,
    /// Every node sees a majority (itself included), no two the same.
    MajoritiesRing,
    /// Two halves that cannot talk, and one node that talks to both.
    Bridge,
    /// One node stops hearing another, which still hears it.
    OneWay,
}

impl Shape {
    /// Every shape, in drawing order.
    pub const ALL: [Shape; 6] = [
        Shape::Isolate,
        Shape::Halves,
        Shape::RandomHalves,
        Shape::MajoritiesRing,
        Shape::Bridge,
        Shape::OneWay,
    ];

    /// Its name in the history (`majorities-ring`).
    pub fn name(self) -> &'static str {
        match self {
            Shape::Isolate => "isolate",
            Shape::Halves => "halves",
            Shape::RandomHalves => "random-halves",
            Shape::MajoritiesRing => "majorities-ring",
            Shape::Bridge => "bridge",
            Shape::OneWay => "one-way",
        }
    }

    /// The fewest nodes on which the shape cuts something: a bridge needs a
    /// node on each side of the middle one; a majorities ring needs a node
    /// that a majority leaves out, which takes four (on three, each node
    /// would see exactly one peer, and the "sees" relation is symmetric).
    pub fn min_nodes(self) -> usize {
        match self {
            Shape::Isolate | Shape::Halves | Shape::RandomHalves | Shape::OneWay => 2,
            Shape::Bridge => 3,
            Shape::MajoritiesRing => 4,
        }
    }

    /// The shapes a cluster of `n` nodes can be given (none below two).
    pub fn drawable(n: usize) -> Vec<Shape> {
        Shape::ALL
            .into_iter()
            .filter(|s| n >= s.min_nodes())
            .collect()
    }
}

/// Draws a shape drawable on `nodes` and its grudge; `pick(n)` returns a
/// number below `n` (the runner's seeded generator). `None` when no shape
/// fits (fewer than two nodes). The grudge is never empty.
pub fn draw(nodes: &[String], mut pick: impl FnMut(usize) -> usize) -> Option<(Shape, Grudge)> {
    let shapes = Shape::drawable(nodes.len());
    if shapes.is_empty() {
        return None;
    }
    let shape = shapes[pick(shapes.len())];
    let n = nodes.len();
    let grudge = match shape {
        Shape::Isolate => isolate(nodes, &nodes[pick(n)]),
        Shape::Halves => halves(nodes),
        Shape::RandomHalves => random_halves(nodes, &mut pick),
        Shape::MajoritiesRing => majorities_ring(nodes),
        Shape::Bridge => bridge(nodes),
        Shape::OneWay => {
            let a = pick(n);
            let b = (a + 1 + pick(n - 1)) % n;
            one_way(&nodes[a], &nodes[b])
        }
    };
    Some((shape, grudge))
}

/// Whether the grudge drops anything at all.
pub fn cuts(g: &Grudge) -> bool {
    g.values().any(|v| !v.is_empty())
}

/// Every node on one side drops every node on the other sides.
pub fn sides(parts: &[Vec<String>]) -> Grudge {
    let mut g = Grudge::new();
    for (i, a) in parts.iter().enumerate() {
        for (j, b) in parts.iter().enumerate() {
            if i == j {
                continue;
            }
            for x in a {
                g.entry(x.clone()).or_default().extend(b.iter().cloned());
            }
        }
    }
    g
}

/// `node` alone on one side, everyone else on the other.
pub fn isolate(nodes: &[String], node: &str) -> Grudge {
    let rest: Vec<String> = nodes.iter().filter(|n| *n != node).cloned().collect();
    sides(&[vec![node.to_owned()], rest])
}

/// The first half (the smaller, if odd) against the rest.
pub fn halves(nodes: &[String]) -> Grudge {
    let (a, b) = nodes.split_at(nodes.len() / 2);
    sides(&[a.to_vec(), b.to_vec()])
}

/// Halves of a shuffled order; `pick(n)` returns a number below `n`.
pub fn random_halves(nodes: &[String], mut pick: impl FnMut(usize) -> usize) -> Grudge {
    let mut order = nodes.to_vec();
    for i in (1..order.len()).rev() {
        order.swap(i, pick(i + 1));
    }
    halves(&order)
}

/// Every node keeps its nearest ring neighbours, enough for a majority
/// including itself, and drops everyone else: each sees a majority, and the
/// majorities differ.
pub fn majorities_ring(nodes: &[String]) -> Grudge {
    let n = nodes.len();
    let majority = n / 2 + 1;
    let reach = (majority - 1).div_ceil(2);
    let mut g = Grudge::new();
    for (i, a) in nodes.iter().enumerate() {
        for (j, b) in nodes.iter().enumerate() {
            let d = i.abs_diff(j).min(n - i.abs_diff(j));
            if d > reach {
                g.entry(a.clone()).or_default().insert(b.clone());
            }
        }
    }
    g
}

/// Two halves that cannot talk, and the middle node, which talks to both.
pub fn bridge(nodes: &[String]) -> Grudge {
    let mid = nodes.len() / 2;
    let (a, rest) = nodes.split_at(mid);
    let b = &rest[1..];
    let mut g = Grudge::new();
    for x in a {
        g.entry(x.clone()).or_default().extend(b.iter().cloned());
    }
    for x in b {
        g.entry(x.clone()).or_default().extend(a.iter().cloned());
    }
    g
}

/// `deaf` stops hearing `from`; `from` still hears `deaf`.
pub fn one_way(deaf: &str, from: &str) -> Grudge {
    Grudge::from([(deaf.to_owned(), BTreeSet::from([from.to_owned()]))])
}

/// A short description: `n1,n2 | n3,n4,n5` for clean sides, else the grudge.
pub fn describe(g: &Grudge) -> String {
    let mut parts: Vec<String> = g
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| {
            format!(
                "{k} drops {}",
                v.iter().cloned().collect::<Vec<_>>().join(",")
            )
        })
        .collect();
    parts.sort();
    parts.join("; ")
}

/// A grudge checked and turned into one script per node, nothing run yet.
pub struct Prepared {
    scripts: Vec<String>,
}

/// Checks `grudge` against the nodes of `remotes` (in that order) and writes
/// each node's script: its chain replaced by its grudge (nodes without one
/// are healed). `addr` maps node names to addresses. Refuses an empty grudge
/// and unknown nodes before anything is touched.
pub fn prepare(
    remotes: &[&dyn Remote],
    grudge: &Grudge,
    addr: impl Fn(&str) -> Option<String>,
) -> Result<Prepared, PartitionError> {
    if !cuts(grudge) {
        return Err(PartitionError::Empty);
    }
    let known = |n: &str| remotes.iter().any(|r| r.node() == n);
    if let Some(n) = grudge
        .iter()
        .flat_map(|(k, v)| std::iter::once(k).chain(v))
        .find(|n| !known(n))
    {
        return Err(PartitionError::UnknownNode(n.clone()));
    }
    let mut scripts = Vec::with_capacity(remotes.len());
    for r in remotes {
        let mut script = format!(
            "iptables -w -N {CHAIN} 2>/dev/null; iptables -w -C INPUT -j {CHAIN} 2>/dev/null || iptables -w -I INPUT -j {CHAIN}; iptables -w -F {CHAIN}"
        );
        for peer in grudge.get(r.node()).into_iter().flatten() {
            let ip = addr(peer).ok_or_else(|| PartitionError::UnknownNode(peer.clone()))?;
            script.push_str(&format!("; iptables -w -A {CHAIN} -s {ip} -j DROP"));
        }
        scripts.push(script);
    }
    Ok(Prepared { scripts })
}

impl Prepared {
    /// Installs the rules, node by node (the same `remotes`, in the same order,
    /// as [`prepare`] was given). A failure part-way leaves the earlier nodes
    /// partitioned: heal them.
    pub fn apply(&self, remotes: &[&dyn Remote]) -> Result<(), PartitionError> {
        let mut done = Vec::new();
        for (r, script) in remotes.iter().zip(&self.scripts) {
            if let Err(source) = r.run(script) {
                return Err(if done.is_empty() {
                    PartitionError::Remote(source)
                } else {
                    PartitionError::PartlyApplied {
                        done,
                        source: Box::new(source),
                    }
                });
            }
            done.push(r.node().to_owned());
        }
        Ok(())
    }
}

/// Applies a grudge: [`prepare`], then [`Prepared::apply`].
pub fn apply(
    remotes: &[&dyn Remote],
    grudge: &Grudge,
    addr: impl Fn(&str) -> Option<String>,
) -> Result<(), PartitionError> {
    prepare(remotes, grudge, addr)?.apply(remotes)
}

/// Removes every partition rule on every node. Idempotent.
pub fn heal(remotes: &[&dyn Remote]) -> Result<(), RemoteError> {
    for r in remotes {
        r.run(&format!("iptables -w -F {CHAIN} 2>/dev/null || true"))?;
    }
    Ok(())
}

/// Flushes the chain on every node and, where it is then empty, unhooks it
/// from INPUT and deletes it: the node is left as it was before the first
/// partition. Idempotent; a node that never had the chain is untouched.
pub fn unhook(remotes: &[&dyn Remote]) -> Result<(), RemoteError> {
    for r in remotes {
        r.run(&faultline_harness::state::unhook_partition_chain_command())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn sees(g: &Grudge, a: &str, b: &str) -> bool {
        !g.get(a).is_some_and(|s| s.contains(b))
    }

    #[test]
    fn shapes() {
        let n = names(5);
        let g = isolate(&n, "n3");
        assert!(!sees(&g, "n3", "n1") && !sees(&g, "n1", "n3") && sees(&g, "n1", "n2"));
        let g = halves(&n);
        assert!(!sees(&g, "n1", "n3") && sees(&g, "n3", "n5") && sees(&g, "n1", "n2"));
        let g = bridge(&n);
        assert!(!sees(&g, "n1", "n4") && sees(&g, "n1", "n3") && sees(&g, "n3", "n5"));
        assert!(!g.contains_key("n3"));
        let g = one_way("n1", "n2");
        assert!(!sees(&g, "n1", "n2") && sees(&g, "n2", "n1"));
        assert_eq!(describe(&g), "n1 drops n2");
    }

    #[test]
    fn shapes_that_would_cut_nothing_are_not_drawable() {
        // The regression: on 3 nodes the ring's grudge was empty, yet drawn.
        assert!(!cuts(&majorities_ring(&names(3))));
        assert!(!cuts(&bridge(&names(2))));
        assert!(!Shape::drawable(3).contains(&Shape::MajoritiesRing));
        assert!(!Shape::drawable(2).contains(&Shape::Bridge));
        assert!(Shape::drawable(1).is_empty() && Shape::drawable(0).is_empty());
        assert!(draw(&names(1), |_| 0).is_none());
        assert_eq!(Shape::drawable(4).len(), Shape::ALL.len());
    }

    #[test]
    fn an_empty_grudge_or_a_stranger_is_refused_before_any_node_is_touched() {
        // No remotes are needed: the checks come first.
        let addr = |_: &str| Some("10.0.0.1".to_owned());
        assert!(matches!(
            prepare(&[], &Grudge::new(), addr),
            Err(PartitionError::Empty)
        ));
        let hollow = Grudge::from([("n1".to_owned(), BTreeSet::new())]);
        assert!(matches!(
            prepare(&[], &hollow, addr),
            Err(PartitionError::Empty)
        ));
        assert!(matches!(
            prepare(&[], &one_way("n1", "n9"), addr),
            Err(PartitionError::UnknownNode(_))
        ));
    }

    #[test]
    fn random_halves_is_seeded_by_the_picker() {
        let n = names(5);
        let mut x = 7usize;
        let a = random_halves(&n, |k| {
            x = x.wrapping_mul(31).wrapping_add(3);
            x % k
        });
        let mut x = 7usize;
        let b = random_halves(&n, |k| {
            x = x.wrapping_mul(31).wrapping_add(3);
            x % k
        });
        assert_eq!(a, b);
        assert_eq!(a.values().map(BTreeSet::len).sum::<usize>(), 12);
    }
}
