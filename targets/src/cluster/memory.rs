//! The `memory` target: faultline's linearizable store inside the
//! controller, with faults simulated on its imaginary nodes. It proves the
//! runner and the checkers with no network, no root and no processes.

use std::sync::Arc;

use faultline_harness::runner::{Nemesis, GENERATED};
use faultline_harness::Fault;

use super::{Cluster, Setup, SetupError};
use crate::about::{About, ClockShim, Defaults, Help};
use crate::kind::Kind;
use crate::{MemoryNemesis, MemoryTarget};

/// The faults it simulates: every built-in fault but those aimed at a
/// leader (it has none) and `membership` (it has no protocol to change its
/// nodes). What `MemoryNemesis` accepts; tested below.
fn offered() -> Vec<Fault> {
    Fault::built_in()
        .into_iter()
        .filter(|f| !f.aims_at_leader() && !f.needs_disk() && *f != Fault::Membership)
        .collect()
}

/// The in-process store.
pub struct Memory;

impl Kind for Memory {
    fn about(&self) -> About {
        About {
            faults: offered()
                .iter()
                .map(|f| Help::new(f.to_string(), "simulated on the in-process store"))
                .collect(),
            node_faults: false,
            in_process: true,
            clock_shim: ClockShim::Simulated(
                "the in-process store reads no clock, so clock faults are recorded and change nothing"
                    .into(),
            ),
            defaults: Defaults {
                time_limit: 10.0,
                ..Defaults::new("register", &[])
            },
            ..About::new(
                "memory",
                "in-process linearizable store, faults simulated (any generated workload)",
                GENERATED,
            )
        }
    }

    fn check(&self, s: &Setup<'_>) -> Result<(), SetupError> {
        let t = MemoryTarget::new(s.workload);
        MemoryNemesis::new(s.nodes.to_vec(), t.faults(), s.faults).map_err(SetupError::bad)?;
        crate::kind::check_about(
            &About {
                faults: Vec::new(),
                ..self.about()
            },
            &Setup { faults: &[], ..*s },
        )
    }

    fn setup(&self, s: &Setup<'_>) -> Result<Cluster, SetupError> {
        let t = MemoryTarget::new(s.workload);
        let nemesis: Option<Arc<dyn Nemesis>> = if s.faults.is_empty() {
            None
        } else {
            Some(Arc::new(
                MemoryNemesis::new(s.nodes.to_vec(), t.faults(), s.faults)
                    .map_err(SetupError::bad)?,
            ))
        };
        let mut cluster = Cluster::bare(Arc::new(t));
        cluster.nemesis = nemesis;
        Ok(cluster)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_offers_exactly_what_its_nemesis_simulates() {
        let t = MemoryTarget::new("register");
        let nodes: Vec<String> = vec!["n1".into(), "n2".into(), "n3".into()];
        let offered = offered();
        assert!(offered.len() >= 16, "{offered:?}");
        for f in Fault::built_in() {
            let ok =
                MemoryNemesis::new(nodes.clone(), t.faults(), std::slice::from_ref(&f)).is_ok();
            assert_eq!(ok, offered.contains(&f), "{f}");
        }
        let own = Fault::parse("promote").unwrap();
        assert!(MemoryNemesis::new(nodes, t.faults(), &[own]).is_err());
    }
}
