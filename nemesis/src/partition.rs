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

use std::collections::{BTreeMap, BTreeSet};

use faultline_harness::remote::{Remote, RemoteError};
use thiserror::Error;

/// Node -> the nodes whose packets it drops.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// The chain partitions live in.
pub const CHAIN: &str = "FAULTLINE";

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
        for (r, script) in remotes.iter().zip(&self.scripts) {
            r.run(script)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_harness::runner::Rng;
    use proptest::prelude::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn sees(g: &Grudge, a: &str, b: &str) -> bool {
        !g.get(a).is_some_and(|s| s.contains(b))
    }

    /// `among` split into two non-empty sides, each node dropping exactly the
    /// other side (and nothing outside `among`); the sides, if so.
    fn two_sides(g: &Grudge, among: &[&String]) -> Result<(Vec<String>, Vec<String>), String> {
        let first = among.first().ok_or("no nodes")?;
        let (a, b): (Vec<&String>, Vec<&String>) = among
            .iter()
            .partition(|x| sees(g, first, x) && sees(g, x, first));
        if b.is_empty() {
            return Err(format!("{first} is cut from no one among {among:?}: {g:?}"));
        }
        for (mine, other) in [(&a, &b), (&b, &a)] {
            for x in mine.iter() {
                let dropped: BTreeSet<String> = g.get(*x).cloned().unwrap_or_default();
                let want: BTreeSet<String> = other.iter().map(|s| (*s).clone()).collect();
                if dropped != want {
                    return Err(format!(
                        "{x} drops {dropped:?}, not the other side {want:?}"
                    ));
                }
            }
        }
        let own = |v: &Vec<&String>| v.iter().map(|s| (*s).clone()).collect();
        Ok((own(&a), own(&b)))
    }

    /// Whether `g` is what `shape` says it is, on `nodes`.
    fn matches(shape: Shape, nodes: &[String], g: &Grudge) -> Result<(), String> {
        let n = nodes.len();
        if !cuts(g) {
            return Err(format!("{} on {n} nodes cuts nothing", shape.name()));
        }
        for (k, v) in g {
            if !nodes.contains(k) || v.iter().any(|x| !nodes.contains(x) || x == k) {
                return Err(format!("{k} -> {v:?} names a stranger or itself"));
            }
        }
        let all: Vec<&String> = nodes.iter().collect();
        match shape {
            Shape::Isolate => {
                let (a, b) = two_sides(g, &all)?;
                if a.len().min(b.len()) != 1 {
                    return Err(format!("not one node alone: {a:?} | {b:?}"));
                }
            }
            Shape::Halves | Shape::RandomHalves => {
                let (a, b) = two_sides(g, &all)?;
                let small = a.len().min(b.len());
                if small != n / 2 {
                    return Err(format!("not halves: {a:?} | {b:?}"));
                }
                let first: BTreeSet<String> = nodes[..n / 2].iter().cloned().collect();
                let (sa, sb): (BTreeSet<String>, BTreeSet<String>) =
                    (a.iter().cloned().collect(), b.iter().cloned().collect());
                if shape == Shape::Halves && sa != first && sb != first {
                    return Err(format!("halves are not the first half: {a:?} | {b:?}"));
                }
            }
            Shape::MajoritiesRing => {
                let mut seen = BTreeSet::new();
                for a in nodes {
                    for b in nodes {
                        if sees(g, a, b) != sees(g, b, a) {
                            return Err(format!("{a} and {b} disagree"));
                        }
                    }
                    let visible: BTreeSet<&String> =
                        nodes.iter().filter(|b| sees(g, a, b)).collect();
                    if visible.len() <= n / 2 {
                        return Err(format!("{a} sees only {visible:?}"));
                    }
                    if !seen.insert(visible.clone()) {
                        return Err(format!(
                            "{a} sees the same majority as another: {visible:?}"
                        ));
                    }
                }
            }
            Shape::Bridge => {
                let free: Vec<&String> = nodes
                    .iter()
                    .filter(|x| !g.contains_key(*x) && nodes.iter().all(|y| sees(g, y, x)))
                    .collect();
                let [mid] = free[..] else {
                    return Err(format!("not one bridge node: {free:?}"));
                };
                let rest: Vec<&String> = nodes.iter().filter(|x| *x != mid).collect();
                two_sides(g, &rest)?;
            }
            Shape::OneWay => {
                let cut: Vec<(&String, &String)> = g
                    .iter()
                    .flat_map(|(k, v)| v.iter().map(move |x| (k, x)))
                    .collect();
                if cut.len() != 1 {
                    return Err(format!("one-way cuts {cut:?}"));
                }
            }
        }
        Ok(())
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
    fn every_shape_matches_its_definition_wherever_it_is_drawable() {
        for size in 2..=9 {
            let n = names(size);
            for shape in Shape::drawable(size) {
                let g = match shape {
                    Shape::Isolate => isolate(&n, "n1"),
                    Shape::Halves => halves(&n),
                    Shape::RandomHalves => random_halves(&n, |k| k - 1),
                    Shape::MajoritiesRing => majorities_ring(&n),
                    Shape::Bridge => bridge(&n),
                    Shape::OneWay => one_way("n2", "n1"),
                };
                matches(shape, &n, &g).unwrap_or_else(|e| panic!("{size} nodes: {e}"));
            }
        }
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
    fn majorities_ring_gives_every_node_a_different_majority() {
        for size in 4..=9 {
            let n = names(size);
            matches(Shape::MajoritiesRing, &n, &majorities_ring(&n)).unwrap();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// On every cluster size, whatever the seed, the shape drawn cuts
        /// something and is the shape it claims to be.
        #[test]
        fn every_drawn_partition_cuts_something_and_matches_its_shape(
            size in 2usize..=9,
            seed in any::<u64>(),
        ) {
            let n = names(size);
            let mut rng = Rng::new(seed);
            let (shape, g) = draw(&n, |k| rng.below(k as u64) as usize).expect("drawable");
            prop_assert!(Shape::drawable(size).contains(&shape));
            prop_assert!(cuts(&g), "{} on {size} nodes: empty grudge", shape.name());
            if let Err(e) = matches(shape, &n, &g) {
                return Err(TestCaseError::fail(format!("{size} nodes, seed {seed}: {e}")));
            }
        }
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
