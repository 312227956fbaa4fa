//! Network partitions, as grudges.
//!
//! A *grudge* says, for each node, which nodes' packets it drops. A partition
//! into sides is the grudge in which every node drops packets from every node
//! on another side; Jepsen's shapes are all grudges too: one node isolated,
//! halves, random halves, a majorities ring (every node sees a majority, no two
//! the same), a bridge (two halves and one node that sees both), and one-way
//! (A stops hearing B while B still hears A).
//!
//! A grudge is applied with one iptables chain, `FAULTLINE`, hooked into each
//! node's INPUT: `-s <peer> -j DROP` per peer it holds a grudge against. Only
//! node addresses are matched, so the controller (the harness and its clients)
//! is never cut off. Healing flushes the chain on every node; healing twice, or
//! healing a node that was never partitioned, is harmless. The rules live in the
//! node (its namespace, or the SSH host), so the same code serves both backends.
//! Healing keeps the chain and its jump for the next fault; [`unhook`] removes
//! them when the run is over (on an SSH host, which outlives the run; a
//! namespace goes with them), by the rule in [`faultline_harness::state`].

use std::collections::{BTreeMap, BTreeSet};

use faultline_harness::remote::{Remote, RemoteError};

/// Node -> the nodes whose packets it drops.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// The chain partitions live in.
pub const CHAIN: &str = faultline_harness::state::PARTITION_CHAIN;

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

/// Applies a grudge: every node's chain is replaced by its grudge (nodes
/// without one are healed). `addr` maps node names to addresses.
pub fn apply(
    remotes: &[&dyn Remote],
    grudge: &Grudge,
    addr: impl Fn(&str) -> Option<String>,
) -> Result<(), RemoteError> {
    for r in remotes {
        let mut script = format!(
            "iptables -w -N {CHAIN} 2>/dev/null; iptables -w -C INPUT -j {CHAIN} 2>/dev/null || iptables -w -I INPUT -j {CHAIN}; iptables -w -F {CHAIN}"
        );
        for peer in grudge.get(r.node()).into_iter().flatten() {
            let Some(ip) = addr(peer) else {
                return Err(RemoteError::Other {
                    node: r.node().to_owned(),
                    msg: format!("partition names an unknown node {peer:?}"),
                });
            };
            script.push_str(&format!("; iptables -w -A {CHAIN} -s {ip} -j DROP"));
        }
        r.run(&script)?;
    }
    Ok(())
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
    fn majorities_ring_gives_every_node_a_different_majority() {
        for size in [3, 5, 7] {
            let n = names(size);
            let g = majorities_ring(&n);
            let mut seen = BTreeSet::new();
            for a in &n {
                let visible: BTreeSet<&String> = n.iter().filter(|b| sees(&g, a, b)).collect();
                assert!(visible.len() > size / 2, "{a} sees {visible:?}");
                for b in &n {
                    assert_eq!(sees(&g, a, b), sees(&g, b, a), "symmetric");
                }
                seen.insert(visible);
            }
            if size > 3 {
                assert_eq!(seen.len(), size, "distinct majorities");
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
