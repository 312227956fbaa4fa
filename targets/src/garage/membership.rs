//! Garage's membership changes: layout changes, through the admin API.
//!
//! A Garage node is a member when the current layout gives it a role (a
//! zone and a capacity). Removing one stages `{"id", "remove": true}` and
//! applies the next layout version through another member; the cluster
//! then moves that node's partitions to the others. The node is then
//! stopped and its data directory emptied, as a decommissioned disk would
//! be. Adding it back starts it empty — it makes itself a new node key, so
//! a new id — has a member connect to it, and gives the new id the node's
//! old zone and capacity in the next layout version. The invariant: the
//! ids faultline believes each node has are updated only once the layout
//! holding them is applied, so `members` maps the layout's ids to names.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_harness::daemon::Daemon;
use faultline_harness::runner::NemesisError;
use faultline_history::Value;
use faultline_nemesis::membership::Membership;
use serde_json::json;

use super::admin::{role, Admin};
use super::api::RPC_PORT;
use crate::db::empty_dir_command;

/// Membership changes of a Garage cluster.
pub struct GarageMembership {
    admin: Admin,
    /// Each node's daemon and data directory, in node order.
    nodes: Vec<(Arc<Daemon>, PathBuf)>,
    /// Each node's current id.
    ids: Mutex<Vec<String>>,
    /// Copies of each partition: the layout needs at least this many members.
    replication_factor: usize,
}

fn failed(what: &str, why: impl std::fmt::Display) -> NemesisError {
    NemesisError::Failed(format!("{what}: {why}"))
}

impl GarageMembership {
    /// Changes through `admin`; `nodes` and `ids` in node order; a layout
    /// keeps at least `replication_factor` members.
    pub fn new(
        admin: Admin,
        nodes: Vec<(Arc<Daemon>, PathBuf)>,
        ids: Vec<String>,
        replication_factor: usize,
    ) -> Self {
        GarageMembership {
            admin,
            nodes,
            ids: Mutex::new(ids),
            replication_factor,
        }
    }

    fn ids(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn index(&self, node: &str) -> Result<usize, NemesisError> {
        (0..self.admin.len())
            .find(|&i| self.admin.node(i).0 == node)
            .ok_or_else(|| NemesisError::Cannot(format!("no garage node {node}")))
    }

    /// Runs `f` on a fresh runtime (the nemesis is not async).
    fn block<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?
            .block_on(f)
    }

    /// The first node other than `not` whose admin API answers a layout read.
    fn via(&self, not: Option<usize>) -> Result<usize, NemesisError> {
        for i in (0..self.admin.len()).filter(|&i| Some(i) != not) {
            if self.block(self.admin.layout_ids(i)).is_ok() {
                return Ok(i);
            }
        }
        Err(NemesisError::Failed("no garage node answers its admin API".into()))
    }
}

impl Membership for GarageMembership {
    fn remove(&self, node: &str) -> Result<Value, NemesisError> {
        let i = self.index(node)?;
        let via = self.via(Some(i))?;
        let id = self.ids()[i].clone();
        let version = self
            .block(
                self.admin
                    .change_layout(via, vec![json!({"id": id, "remove": true})]),
            )
            .map_err(|e| failed("layout remove", e))?;
        let (d, data) = &self.nodes[i];
        d.stop(Duration::from_secs(5))?;
        d.remote()
            .run(&empty_dir_command(data))
            .map_err(|e| failed("wiping its data", e))?;
        Ok(Value::map(vec![
            ("id".into(), Value::str(&id)),
            ("layout".into(), Value::Int(version as i64)),
        ]))
    }

    fn add(&self, node: &str) -> Result<Value, NemesisError> {
        let i = self.index(node)?;
        let via = self.via(Some(i))?;
        let held = self
            .block(self.admin.layout_ids(via))
            .map_err(|e| failed("layout", e))?;
        if held.contains(&self.ids()[i]) && self.nodes[i].0.running() {
            return Ok(Value::str("already a member"));
        }
        let (d, data) = &self.nodes[i];
        d.remote()
            .run(&format!(
                "mkdir -p {0}/meta {0}/blocks",
                faultline_harness::remote::shell_quote(&data.display().to_string())
            ))
            .map_err(|e| failed("making its data directory", e))?;
        d.start()?;
        let id = self
            .block(self.admin.node_id(i, Duration::from_secs(30)))
            .map_err(|e| failed("new node id", e))?;
        let peer = format!("{id}@{}:{RPC_PORT}", self.admin.node(i).1);
        self.block(self.admin.connect(via, &[peer]))
            .map_err(|e| failed("node connect", e))?;
        let version = self
            .block(self.admin.change_layout(via, vec![role(i, &id)]))
            .map_err(|e| failed("layout assign", e))?;
        self.ids()[i] = id.clone();
        Ok(Value::map(vec![
            ("id".into(), Value::str(&id)),
            ("layout".into(), Value::Int(version as i64)),
        ]))
    }

    /// Any member while more than `replication_factor` remain (a layout
    /// with fewer members than copies cannot be applied).
    fn removable(&self, members: &[String]) -> Vec<String> {
        if members.len() > self.replication_factor {
            members.to_vec()
        } else {
            Vec::new()
        }
    }

    fn members(&self) -> Result<Vec<String>, NemesisError> {
        let via = self.via(None)?;
        let held = self
            .block(self.admin.layout_ids(via))
            .map_err(|e| failed("layout", e))?;
        let ids = self.ids();
        Ok((0..self.admin.len())
            .filter(|&i| held.contains(&ids[i]))
            .map(|i| self.admin.node(i).0.clone())
            .collect())
    }
}
