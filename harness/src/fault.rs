//! Faults by name: what `--nemesis` asks for, parsed once.
//!
//! A fault is one of the built-in kinds every nemesis understands the same
//! way — a network partition, a crash (`kill`), a pause, a clock fault, a
//! packet fault — aimed at a [`Scope`] of nodes, or a target's own fault
//! (refkv's `promote` and `join`, PostgreSQL's `failover`, a manifest's
//! `[fault.NAME]`), which only that target's nemesis knows how to inject.
//!
//! The name is the interface: [`Fault::parse`] reads it from the command
//! line, [`Display`](fmt::Display) writes it back exactly (the history's
//! `start-<fault>` and `stop-<fault>` events and `test.json` carry it), and
//! serde reads and writes it as that string, so the runs recorded before
//! this type existed still read. Parsing once means a nemesis matches on a
//! value, not on `split_once('-')` of a string.
//!
//! Built-in spellings: `partition` (a random shape: halves, one node
//! isolated, a bridge, a ring), `partition-leader` (the leaders cut off),
//! `kill`, `pause` (one node), each of the three with `-minority`,
//! `-majority`, `-all` and `-leader` (`partition-minority`... are the
//! in-process target's); `clock` (skew one way), `clock-ahead`,
//! `clock-strobe`, `clock-drift`, each on one node or, with `-leader`, on
//! the current leader; `packet` (delay, loss, duplication or
//! reordering); `power-loss` (with the same five scopes: the node loses
//! power and keeps only what it fsynced), `disk-full` (writes that need
//! new space fail with ENOSPC on one node) and `membership` (a node removed
//! from the cluster through the database's own protocol, added back fresh
//! when healed; only targets that offer it). Any
//! other name of letters, digits, `-` and `_` is a target's own fault; which
//! faults a target offers is the target's to say.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Which nodes a partition, kill or pause acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// One node (for `partition`: a randomly drawn shape).
    One,
    /// A minority of the nodes (at least one).
    Minority,
    /// A majority of the nodes.
    Majority,
    /// Every node.
    All,
    /// The nodes that currently lead.
    Leader,
}

impl Scope {
    /// Every scope, in the order the names are listed.
    pub const ALL: [Scope; 5] = [
        Scope::One,
        Scope::Minority,
        Scope::Majority,
        Scope::All,
        Scope::Leader,
    ];

    /// The name's suffix (`""` for one node).
    pub fn suffix(self) -> &'static str {
        match self {
            Scope::One => "",
            Scope::Minority => "-minority",
            Scope::Majority => "-majority",
            Scope::All => "-all",
            Scope::Leader => "-leader",
        }
    }

    /// How many of `n` nodes the scope counts (at least one; the leaders are
    /// found, not counted, so `Leader` counts one).
    pub fn count(self, n: usize) -> usize {
        match self {
            Scope::One | Scope::Leader => 1,
            Scope::Minority => n.saturating_sub(1) / 2,
            Scope::Majority => n / 2 + 1,
            Scope::All => n,
        }
        .max(1)
    }
}

/// How a clock fault moves a node's wall clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClockKind {
    /// `clock`: skewed by up to ten seconds, ahead or behind.
    Skew,
    /// `clock-ahead`: skewed ahead (the case where last-write-wins discards
    /// later writes).
    Ahead,
    /// `clock-strobe`: flipped back and forth many times a second.
    Strobe,
    /// `clock-drift`: running fast or slow (a changed rate, not a step).
    Drift,
}

impl ClockKind {
    /// Every clock kind.
    pub const ALL: [ClockKind; 4] = [
        ClockKind::Skew,
        ClockKind::Ahead,
        ClockKind::Strobe,
        ClockKind::Drift,
    ];
}

/// One fault, as asked for and as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Network partition (`partition` is a random shape).
    Partition(Scope),
    /// SIGKILL the daemons, restarted when healed.
    Kill(Scope),
    /// SIGSTOP the daemons, resumed when healed.
    Pause(Scope),
    /// A wall-clock fault on one node ([`Scope::One`], drawn at random) or
    /// on the current leader ([`Scope::Leader`]); no other scope is built in.
    Clock(ClockKind, Scope),
    /// A packet fault on one node's outgoing traffic.
    Packet,
    /// Power loss: the daemons are SIGKILLed and every write not yet
    /// fsynced is discarded; the nodes restart when healed.
    PowerLoss(Scope),
    /// A full disk on one node: writes needing new space fail with ENOSPC.
    DiskFull,
    /// A node removed from the cluster through the database's own
    /// protocol; added back (with empty data) when healed.
    Membership,
    /// A target's own fault, by name. Never a built-in spelling: build it
    /// with [`Fault::parse`] (or [`Fault::own`]) so that `kill` is always
    /// [`Fault::Kill`].
    Own(String),
}

/// Why a name is not a fault.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FaultError {
    /// The name is empty.
    #[error("empty fault name")]
    Empty,
    /// The name has characters no fault name has.
    #[error("{0:?} is not a fault name (letters, digits, `-` and `_`)")]
    BadName(String),
    /// [`Fault::own`] was given a built-in spelling.
    #[error("{0:?} is a built-in fault, not a target's own")]
    BuiltIn(String),
}

impl Fault {
    /// Every built-in fault, in the order `--help` lists them.
    pub fn built_in() -> Vec<Fault> {
        let mut all = Vec::new();
        for s in Scope::ALL {
            all.extend([Fault::Partition(s), Fault::Kill(s), Fault::Pause(s)]);
        }
        all.extend(ClockKind::ALL.map(|k| Fault::Clock(k, Scope::One)));
        all.extend(ClockKind::ALL.map(|k| Fault::Clock(k, Scope::Leader)));
        all.push(Fault::Packet);
        all.extend(Scope::ALL.map(Fault::PowerLoss));
        all.push(Fault::DiskFull);
        all.push(Fault::Membership);
        all
    }

    /// Reads a fault name: a built-in spelling, else a target's own fault
    /// (any name of ASCII letters, digits, `-` and `_`).
    pub fn parse(name: &str) -> Result<Fault, FaultError> {
        if let Some(f) = Fault::built_in()
            .into_iter()
            .find(|f| f.to_string() == name)
        {
            return Ok(f);
        }
        Fault::own(name)
    }

    /// A target's own fault named `name`; refuses built-in spellings.
    pub fn own(name: &str) -> Result<Fault, FaultError> {
        if name.is_empty() {
            return Err(FaultError::Empty);
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(FaultError::BadName(name.to_owned()));
        }
        if Fault::built_in().iter().any(|f| f.to_string() == name) {
            return Err(FaultError::BuiltIn(name.to_owned()));
        }
        Ok(Fault::Own(name.to_owned()))
    }

    /// Parses every name, stopping at the first that is not a fault.
    pub fn parse_all<S: AsRef<str>>(names: &[S]) -> Result<Vec<Fault>, FaultError> {
        names.iter().map(|n| Fault::parse(n.as_ref())).collect()
    }

    /// Whether the fault aims at the current leaders (`*-leader`).
    pub fn aims_at_leader(&self) -> bool {
        matches!(
            self,
            Fault::Partition(Scope::Leader)
                | Fault::Kill(Scope::Leader)
                | Fault::Pause(Scope::Leader)
                | Fault::PowerLoss(Scope::Leader)
                | Fault::Clock(_, Scope::Leader)
        )
    }

    /// Whether it is a clock fault (it needs daemons under the clock shim,
    /// or an SSH host's real clock).
    pub fn is_clock(&self) -> bool {
        matches!(self, Fault::Clock(..))
    }

    /// Whether it acts on the node's disk (`power-loss*`, `disk-full`): it
    /// needs powerfs under each node's data directory.
    pub fn needs_disk(&self) -> bool {
        matches!(self, Fault::PowerLoss(_) | Fault::DiskFull)
    }

    /// Whether it is a target's own fault.
    pub fn is_own(&self) -> bool {
        matches!(self, Fault::Own(_))
    }

    /// The scope of a partition, kill, pause or power loss.
    pub fn scope(&self) -> Option<Scope> {
        match self {
            Fault::Partition(s) | Fault::Kill(s) | Fault::Pause(s) | Fault::PowerLoss(s) => {
                Some(*s)
            }
            _ => None,
        }
    }

    /// The family, which is also what `stop` undoes: `partition`, `kill`,
    /// `pause`, `clock`, `packet`, `power-loss`, `disk-full`, `membership`,
    /// or the own fault's name.
    pub fn family(&self) -> &str {
        match self {
            Fault::Partition(_) => "partition",
            Fault::Kill(_) => "kill",
            Fault::Pause(_) => "pause",
            Fault::Clock(..) => "clock",
            Fault::Packet => "packet",
            Fault::PowerLoss(_) => "power-loss",
            Fault::DiskFull => "disk-full",
            Fault::Membership => "membership",
            Fault::Own(name) => name,
        }
    }

    /// One line on what a built-in fault does (`faultline list`, `--help`);
    /// a target's own fault is described by its target.
    pub fn help(&self) -> Option<String> {
        let who = |s: &Scope| match s {
            Scope::One => "one node",
            Scope::Minority => "a minority of the nodes",
            Scope::Majority => "a majority of the nodes",
            Scope::All => "every node at once",
            Scope::Leader => "the current leaders",
        };
        Some(match self {
            Fault::Partition(Scope::One) => "cut the network into a random shape (halves, one node isolated, a bridge, a ring); healed by removing the rules".into(),
            Fault::Partition(Scope::Leader) => "cut the current leaders off from the other nodes".into(),
            Fault::Partition(s) => format!("cut off {} (in-process targets)", who(s)),
            Fault::Kill(s) => format!("SIGKILL the daemons of {}; restarted when healed", who(s)),
            Fault::Pause(s) => format!("SIGSTOP the daemons of {}; resumed when healed", who(s)),
            Fault::Clock(k, s) => {
                let whose = if *s == Scope::Leader { "the current leader's" } else { "one node's" };
                match k {
                    ClockKind::Skew => format!("move {whose} wall clock by 0.5-10 s either way (clock shim; an SSH host's real clock); reset when healed"),
                    ClockKind::Ahead => format!("move {whose} wall clock 0.5-10 s ahead (clock shim; an SSH host's real clock); reset when healed"),
                    ClockKind::Strobe => format!("flip {whose} wall clock back and forth several times a second (clock shim; an SSH host's real clock); reset when healed"),
                    ClockKind::Drift => format!("run {whose} clock 0.05-2 % fast or slow (clock shim; an SSH host's real rate, adjtimex); rate and offset reset when healed"),
                }
            }
            Fault::Packet => "delay, drop, duplicate or reorder one node's outgoing packets (NFQUEUE)".into(),
            Fault::PowerLoss(Scope::All) => "every node loses power at once (the whole rack): SIGKILL, every write not fsynced is discarded (powerfs); restarted when healed".into(),
            Fault::PowerLoss(s) => format!("{} lose{} power: SIGKILL, every write not fsynced is discarded (powerfs); restarted when healed", who(s), if *s == Scope::One { "s" } else { "" }),
            Fault::DiskFull => "one node's disk is full: writes that need new space fail with ENOSPC (powerfs); space returns when healed".into(),
            Fault::Membership => "remove one node from the cluster through the database's own protocol (etcd member remove, a Redis replica, a PostgreSQL standby, refkv leave, a manifest's [membership]); added back with empty data when healed".into(),
            Fault::Own(_) => return None,
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Partition(s) | Fault::Kill(s) | Fault::Pause(s) => {
                write!(f, "{}{}", self.family(), s.suffix())
            }
            Fault::Clock(k, s) => {
                let kind = match k {
                    ClockKind::Skew => "",
                    ClockKind::Ahead => "-ahead",
                    ClockKind::Strobe => "-strobe",
                    ClockKind::Drift => "-drift",
                };
                write!(f, "clock{kind}{}", s.suffix())
            }
            Fault::Packet => f.write_str("packet"),
            Fault::PowerLoss(s) => write!(f, "power-loss{}", s.suffix()),
            Fault::DiskFull => f.write_str("disk-full"),
            Fault::Membership => f.write_str("membership"),
            Fault::Own(name) => f.write_str(name),
        }
    }
}

impl FromStr for Fault {
    type Err = FaultError;

    fn from_str(s: &str) -> Result<Fault, FaultError> {
        Fault::parse(s)
    }
}

impl Serialize for Fault {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fault {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fault, D::Error> {
        let name = String::deserialize(d)?;
        Fault::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// Names of `faults`, comma-separated (as `--nemesis` takes them).
pub fn names(faults: &[Fault]) -> String {
    faults
        .iter()
        .map(Fault::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name the nemeses accepted as strings before this type.
    const TODAY: &[&str] = &[
        "partition",
        "kill",
        "kill-minority",
        "kill-majority",
        "kill-all",
        "pause",
        "pause-minority",
        "pause-majority",
        "pause-all",
        "clock",
        "clock-ahead",
        "clock-strobe",
        "packet",
        "partition-leader",
        "kill-leader",
        "pause-leader",
        "partition-minority",
        "partition-majority",
        "partition-all",
        "power-loss",
        "power-loss-minority",
        "power-loss-majority",
        "power-loss-all",
        "power-loss-leader",
        "disk-full",
        "clock-drift",
        "membership",
    ];

    /// Added since: clock faults aimed at the current leader.
    const CLOCK_LEADER: &[&str] = &[
        "clock-leader",
        "clock-ahead-leader",
        "clock-strobe-leader",
        "clock-drift-leader",
    ];

    #[test]
    fn every_name_accepted_today_is_built_in_and_written_back_exactly() {
        for name in TODAY {
            let f = Fault::parse(name).unwrap();
            assert!(!f.is_own(), "{name}");
            assert_eq!(f.to_string(), *name);
            assert_eq!(name.parse::<Fault>().unwrap(), f);
        }
        for name in CLOCK_LEADER {
            let f = Fault::parse(name).unwrap();
            assert!(f.aims_at_leader() && f.is_clock(), "{name}");
            assert_eq!(f.to_string(), *name);
        }
        assert_eq!(Fault::built_in().len(), TODAY.len() + CLOCK_LEADER.len());
    }

    #[test]
    fn spellings_map_to_their_kinds() {
        assert_eq!(Fault::parse("partition"), Ok(Fault::Partition(Scope::One)));
        assert_eq!(
            Fault::parse("kill-majority"),
            Ok(Fault::Kill(Scope::Majority))
        );
        assert_eq!(
            Fault::parse("pause-leader"),
            Ok(Fault::Pause(Scope::Leader))
        );
        assert_eq!(
            Fault::parse("clock-ahead"),
            Ok(Fault::Clock(ClockKind::Ahead, Scope::One))
        );
        assert_eq!(
            Fault::parse("clock-drift-leader"),
            Ok(Fault::Clock(ClockKind::Drift, Scope::Leader))
        );
        assert_eq!(Fault::parse("packet"), Ok(Fault::Packet));
        assert_eq!(Fault::parse("membership"), Ok(Fault::Membership));
        assert_eq!(Fault::Membership.family(), "membership");
        assert!(Fault::Membership.scope().is_none());
        assert!(Fault::parse("kill-leader").unwrap().aims_at_leader());
        assert!(!Fault::parse("kill").unwrap().aims_at_leader());
        assert!(Fault::parse("clock-strobe").unwrap().is_clock());
        assert_eq!(
            Fault::parse("partition-leader").unwrap().family(),
            "partition"
        );
    }

    #[test]
    fn other_names_are_a_targets_own_and_bad_ones_are_refused() {
        for own in ["promote", "join", "failover", "failover-lagging", "Fail_2"] {
            assert_eq!(Fault::parse(own), Ok(Fault::Own(own.into())));
        }
        // Near-misses of built-ins are not built-ins: the target refuses them.
        assert!(Fault::parse("kill-one").unwrap().is_own());
        assert_eq!(Fault::parse(""), Err(FaultError::Empty));
        assert!(matches!(
            Fault::parse("kill all"),
            Err(FaultError::BadName(_))
        ));
        assert!(matches!(
            Fault::parse("start-x\n"),
            Err(FaultError::BadName(_))
        ));
        assert_eq!(Fault::own("kill"), Err(FaultError::BuiltIn("kill".into())));
        assert_eq!(
            Fault::parse("a b").unwrap_err().to_string(),
            "\"a b\" is not a fault name (letters, digits, `-` and `_`)"
        );
    }

    #[test]
    fn serde_is_the_name() {
        let faults = vec![Fault::Kill(Scope::Leader), Fault::Own("failover".into())];
        let json = serde_json::to_string(&faults).unwrap();
        assert_eq!(json, r#"["kill-leader","failover"]"#);
        assert_eq!(serde_json::from_str::<Vec<Fault>>(&json).unwrap(), faults);
        assert!(serde_json::from_str::<Fault>(r#""no way""#).is_err());
        assert_eq!(names(&faults), "kill-leader,failover");
    }

    #[test]
    fn scopes_count_at_least_one_node() {
        assert_eq!(Scope::Minority.count(5), 2);
        assert_eq!(Scope::Minority.count(1), 1);
        assert_eq!(Scope::Majority.count(5), 3);
        assert_eq!(Scope::All.count(3), 3);
        assert_eq!(Scope::One.count(3), 1);
    }
}
