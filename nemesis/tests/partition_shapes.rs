//! Partition shapes against their definitions, on every cluster size from 2
//! to 9: each shape drawable on a size cuts something and is what its name
//! says (isolate: one node alone; halves; a majorities ring: every node sees
//! a different majority; a bridge: one node sees two sides that cannot talk;
//! one-way: one node deaf to one other), and a property test over many seeds
//! checks the same of every grudge `draw` returns. No root needed.

use std::collections::BTreeSet;

use faultline_harness::runner::Rng;
use faultline_nemesis::partition::{
    bridge, cuts, draw, halves, isolate, majorities_ring, one_way, random_halves, Grudge, Shape,
};
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
                let visible: BTreeSet<&String> = nodes.iter().filter(|b| sees(g, a, b)).collect();
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
