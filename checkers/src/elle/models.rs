//! Consistency models and the anomalies that rule each out.
//!
//! Following Adya's and Elle's definitions: read-uncommitted forbids G0 (write
//! cycles); read-committed also forbids G1 (aborted reads G1a, intermediate
//! reads G1b, information cycles G1c); repeatable-read also forbids G2-item
//! (item anti-dependency cycles); snapshot-isolation forbids G0, G1, G-single
//! and G-nonadjacent (cycles whose anti-dependencies are not adjacent) and lost
//! updates, but allows G2-item with adjacent anti-dependencies (write skew);
//! serializable forbids every G2; strong-session-serializable also forbids the
//! `-process` variants (cycles that need process order), and
//! strict-serializable the `-realtime` variants too. The session guarantees
//! are the process-order cycles of the matching shape: monotonic-writes
//! (G0-process), writes-follow-reads (G1c-process), read-your-writes and
//! monotonic-reads (anti-dependency cycles closed by process order).
//! Non-cycle anomalies that mean the data itself is corrupt (garbage reads,
//! duplicates, incompatible orders, internal and future reads, dirty updates)
//! rule out every model.
//!
//! The `session` checker's guarantees are judged by the same hierarchy
//! ([`promises_session`]): a model promises a guarantee when it forbids the
//! process-order cycle that guarantee names — so strong-session-serializable
//! and strict-serializable promise them all, while serializable, snapshot
//! isolation and the weaker models promise none. consistent-prefix, as the
//! session checker detects it, orders writes by real time, so only
//! strict-serializable promises it.

/// Every model, weakest first.
pub const MODELS: &[&str] = &[
    "read-uncommitted",
    "read-committed",
    "repeatable-read",
    "snapshot-isolation",
    "serializable",
    "strong-session-serializable",
    "strict-serializable",
    "read-your-writes",
    "monotonic-reads",
    "monotonic-writes",
    "writes-follow-reads",
];

const CORRUPT: &[&str] = &[
    "garbage-read",
    "duplicate-elements",
    "incompatible-order",
    "internal",
    "future-read",
    "dirty-update",
    "cyclic-versions",
];
const G1: &[&str] = &["G1a", "G1b", "G1c"];
const G2: &[&str] = &["G-single", "G-nonadjacent", "G2-item"];
const CYCLES: &[&str] = &["G0", "G1c", "G-single", "G-nonadjacent", "G2-item"];

/// Whether model `model` forbids anomaly `anomaly`.
pub fn prohibits(model: &str, anomaly: &str) -> bool {
    if CORRUPT.contains(&anomaly) {
        return true;
    }
    let (base, suffix) = split(anomaly);
    let plain = suffix.is_empty();
    match model {
        "read-uncommitted" => plain && base == "G0",
        "read-committed" => plain && (base == "G0" || G1.contains(&base)),
        "repeatable-read" => plain && (base == "G0" || G1.contains(&base) || base == "G2-item"),
        "snapshot-isolation" => {
            plain
                && (base == "G0"
                    || G1.contains(&base)
                    || base == "G-single"
                    || base == "G-nonadjacent"
                    || base == "lost-update")
        }
        "serializable" => {
            plain
                && (base == "G0"
                    || G1.contains(&base)
                    || G2.contains(&base)
                    || base == "lost-update")
        }
        "strong-session-serializable" => suffix != "-realtime" && prohibits("serializable", base),
        "strict-serializable" => prohibits("serializable", base),
        "monotonic-writes" => suffix == "-process" && base == "G0",
        "writes-follow-reads" => suffix == "-process" && base == "G1c",
        "read-your-writes" | "monotonic-reads" => suffix == "-process" && G2.contains(&base),
        _ => false,
    }
}

/// Whether model `model` promises the session guarantee `guarantee` (one of
/// the `session` checker's: read-your-writes, monotonic-reads,
/// monotonic-writes, writes-follow-reads, consistent-prefix). A session
/// guarantee named as the model promises itself.
pub fn promises_session(model: &str, guarantee: &str) -> bool {
    if model == guarantee {
        return true;
    }
    let cycle = match guarantee {
        "read-your-writes" | "monotonic-reads" => "G-single-process",
        "monotonic-writes" => "G0-process",
        "writes-follow-reads" => "G1c-process",
        "consistent-prefix" => "G-single-realtime",
        _ => return false,
    };
    !SESSION.contains(&model) && prohibits(model, cycle)
}

/// The models that are themselves one session guarantee.
const SESSION: &[&str] = &[
    "read-your-writes",
    "monotonic-reads",
    "monotonic-writes",
    "writes-follow-reads",
];

/// `G-single-realtime` → (`G-single`, `-realtime`).
fn split(anomaly: &str) -> (&str, &str) {
    for suffix in ["-process", "-realtime"] {
        if let Some(base) = anomaly.strip_suffix(suffix) {
            if CYCLES.contains(&base) {
                return (base, suffix);
            }
        }
    }
    (anomaly, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hierarchy_holds() {
        assert!(prohibits("read-uncommitted", "G0"));
        assert!(!prohibits("read-uncommitted", "G1c"));
        assert!(prohibits("read-committed", "G1b"));
        assert!(prohibits("repeatable-read", "G2-item"));
        assert!(!prohibits("snapshot-isolation", "G2-item"), "write skew");
        assert!(prohibits("snapshot-isolation", "G-single"));
        assert!(prohibits("serializable", "G2-item"));
        assert!(!prohibits("serializable", "G2-item-realtime"));
        assert!(prohibits("strong-session-serializable", "G-single-process"));
        assert!(!prohibits("strong-session-serializable", "G0-realtime"));
        assert!(prohibits("strict-serializable", "G2-item-realtime"));
        assert!(prohibits("read-your-writes", "G-single-process"));
        assert!(prohibits("monotonic-writes", "G0-process"));
        assert!(prohibits("read-uncommitted", "garbage-read"));
        // Session guarantees: promised by the session models, not by serializability.
        for g in [
            "read-your-writes",
            "monotonic-reads",
            "monotonic-writes",
            "writes-follow-reads",
        ] {
            assert!(promises_session("strong-session-serializable", g), "{g}");
            assert!(promises_session("strict-serializable", g), "{g}");
            assert!(promises_session(g, g), "{g}");
            for weaker in [
                "serializable",
                "snapshot-isolation",
                "repeatable-read",
                "read-committed",
                "read-uncommitted",
            ] {
                assert!(!promises_session(weaker, g), "{weaker} {g}");
            }
        }
        assert!(!promises_session("monotonic-reads", "read-your-writes"));
        assert!(!promises_session("monotonic-writes", "writes-follow-reads"));
        assert!(promises_session("strict-serializable", "consistent-prefix"));
        assert!(!promises_session(
            "strong-session-serializable",
            "consistent-prefix"
        ));
        assert!(!promises_session("serializable", "consistent-prefix"));
        // Every model a weaker one rules out, a stronger one rules out too.
        let chains: [&[&str]; 2] = [
            &[
                "read-uncommitted",
                "read-committed",
                "repeatable-read",
                "serializable",
                "strong-session-serializable",
                "strict-serializable",
            ],
            &["read-committed", "snapshot-isolation", "serializable"],
        ];
        for a in [
            "G0",
            "G1a",
            "G1c",
            "G-single",
            "G-nonadjacent",
            "G2-item",
            "G0-process",
            "G1c-realtime",
        ] {
            for chain in chains {
                for w in chain.windows(2) {
                    assert!(
                        !prohibits(w[0], a) || prohibits(w[1], a),
                        "{a}: {} vs {}",
                        w[0],
                        w[1]
                    );
                }
            }
        }
    }
}
