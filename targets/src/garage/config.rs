//! A Garage run's options, checked, and the `garage.toml` each node gets.
//!
//! The options choose the quorums (`replication-factor`, `consistency-mode`),
//! the clients (`client-node`, `api`) and durability (`fsync`); a value
//! Garage would not take, or a K2V run of a workload other than `register`,
//! is refused before anything starts. The configuration keeps the invariant
//! the power-loss faults rely on: everything a node must remember — its node
//! key and metadata (SQLite) in `data/meta`, its blocks in `data/blocks` —
//! is under `<node dir>/data`; every API listens on the node's own address.

use super::api::{ADMIN_PORT, K2V_PORT, RPC_PORT, S3_PORT};
use crate::db::{DbNode, DbOptions, OptionError};

/// The S3 region every node is configured with (and every request signed for).
pub const REGION: &str = "garage";

/// The options of one run, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Copies of every partition.
    pub replication_factor: usize,
    /// `consistent`, `degraded` or `dangerous`.
    pub consistency_mode: String,
    /// Each operation to a node drawn at random (else the client's own).
    pub random_node: bool,
    /// The register goes through K2V (siblings) instead of S3.
    pub k2v: bool,
    /// `metadata_fsync` and `data_fsync`.
    pub fsync: bool,
}

fn choice(
    opts: &DbOptions,
    key: &'static str,
    choices: &'static str,
    default: &'static str,
) -> Result<String, OptionError> {
    let v = opts.get(key).unwrap_or(default);
    if choices.split(", ").any(|c| c == v) {
        Ok(v.to_owned())
    } else {
        Err(OptionError::NotAChoice {
            target: "garage",
            key,
            choices,
            value: v.to_owned(),
        })
    }
}

impl Settings {
    /// The options of `opts` for a cluster of `nodes` nodes.
    pub fn from(opts: &DbOptions, nodes: usize) -> Result<Settings, OptionError> {
        let rf = opts.get("replication-factor").unwrap_or("3");
        let replication_factor: usize = rf.parse().map_err(|_| OptionError::NotANumber {
            target: "garage",
            key: "replication-factor".into(),
            value: rf.to_owned(),
        })?;
        if replication_factor == 0 || replication_factor > nodes {
            return Err(OptionError::Unmet {
                target: "garage",
                why: format!(
                    "replication-factor={replication_factor} needs between 1 and {nodes} (the nodes) copies"
                ),
            });
        }
        let api = choice(opts, "api", "s3, k2v", "s3")?;
        let k2v = api == "k2v";
        if k2v && opts.workload != "register" && !opts.workload.is_empty() {
            return Err(OptionError::Unmet {
                target: "garage",
                why: format!("api=k2v serves the register workload, not {}", opts.workload),
            });
        }
        Ok(Settings {
            replication_factor,
            consistency_mode: choice(
                opts,
                "consistency-mode",
                "consistent, degraded, dangerous",
                "consistent",
            )?,
            random_node: choice(opts, "client-node", "fixed, random", "fixed")? == "random",
            k2v,
            fsync: choice(opts, "fsync", "false, true", "false")? == "true",
        })
    }
}

/// A node's `garage.toml`.
pub fn config(node: &DbNode, s: &Settings, rpc_secret: &str, admin_token: &str) -> String {
    let data = node.dir.join("data");
    let a = &node.addr;
    format!(
        "metadata_dir = \"{meta}\"\n\
         data_dir = \"{blocks}\"\n\
         db_engine = \"sqlite\"\n\
         metadata_fsync = {fsync}\n\
         data_fsync = {fsync}\n\
         disable_scrub = true\n\
         replication_factor = {rf}\n\
         consistency_mode = \"{mode}\"\n\
         rpc_secret = \"{rpc_secret}\"\n\
         rpc_bind_addr = \"{a}:{RPC_PORT}\"\n\
         rpc_bind_outgoing = true\n\
         rpc_public_addr = \"{a}:{RPC_PORT}\"\n\
         \n\
         [s3_api]\n\
         s3_region = \"{REGION}\"\n\
         api_bind_addr = \"{a}:{S3_PORT}\"\n\
         \n\
         [k2v_api]\n\
         api_bind_addr = \"{a}:{K2V_PORT}\"\n\
         \n\
         [admin]\n\
         api_bind_addr = \"{a}:{ADMIN_PORT}\"\n\
         admin_token = \"{admin_token}\"\n",
        meta = data.join("meta").display(),
        blocks = data.join("blocks").display(),
        fsync = s.fsync,
        rf = s.replication_factor,
        mode = s.consistency_mode,
    )
}


#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn opts(pairs: &[(&str, &str)]) -> DbOptions {
        let mut o = DbOptions::from_pairs(pairs);
        o.workload = "register".into();
        o
    }

    #[test]
    fn options_are_checked_and_defaulted() {
        let s = Settings::from(&opts(&[]), 5).unwrap();
        assert_eq!(s.replication_factor, 3);
        assert_eq!(s.consistency_mode, "consistent");
        assert!(!s.random_node && !s.k2v && !s.fsync);
        assert!(Settings::from(&opts(&[("replication-factor", "6")]), 5).is_err());
        assert!(Settings::from(&opts(&[("consistency-mode", "eventual")]), 5).is_err());
        let mut set = opts(&[("api", "k2v")]);
        set.workload = "set".into();
        assert!(Settings::from(&set, 5).is_err());
    }

    #[test]
    fn the_config_keeps_everything_under_data() {
        let node = DbNode {
            name: "n1".into(),
            addr: "10.0.0.2".into(),
            remote: Arc::new(faultline_harness::remote::Netns::new("n1", "nowhere", "10.0.0.2")),
            dir: "/run/n1".into(),
        };
        let s = Settings::from(&opts(&[("consistency-mode", "dangerous")]), 3).unwrap();
        let c = config(&node, &s, "ab", "tok");
        assert!(c.contains("metadata_dir = \"/run/n1/data/meta\""));
        assert!(c.contains("data_dir = \"/run/n1/data/blocks\""));
        assert!(c.contains("consistency_mode = \"dangerous\""));
        assert!(c.contains("rpc_public_addr = \"10.0.0.2:3901\""));
        assert!(c.contains("[k2v_api]\napi_bind_addr = \"10.0.0.2:3904\""));
    }
}
