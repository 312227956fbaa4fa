//! etcd's membership changes, through its own cluster API.
//!
//! Removing a member stops its etcd (a removed member shuts itself down
//! anyway; stopping it first keeps that exit from looking like a crash),
//! asks another member to `member remove` it (`/v3/cluster/member/remove`
//! on the JSON gateway, what `etcdctl member remove` calls) and wipes its
//! data directory. Adding it back asks a member to `member add` its peer
//! URL, then starts it empty with `--initial-cluster-state existing` and an
//! `--initial-cluster` naming the members the cluster reported — the
//! procedure etcd's documentation gives for replacing a member — and waits
//! until it answers. A node the cluster already lists is not added twice: if
//! it was added but never started, it is only started.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_harness::daemon::Daemon;
use faultline_harness::runner::NemesisError;
use faultline_history::Value;
use faultline_nemesis::membership::Membership;
use serde_json::{json, Value as Json};

use super::client::{Http, PEER_PORT};
use crate::db::empty_dir_command;

/// How long an added member may take to answer.
const REJOIN: Duration = Duration::from_secs(30);

/// Membership changes of an etcd cluster.
pub struct EtcdMembership {
    http: Http,
    /// Each node's daemon and data directory, in node order.
    nodes: Vec<(Arc<Daemon>, PathBuf)>,
}

/// One member as `member list` reports it.
struct Member {
    id: String,
    name: String,
    peer: String,
}

fn failed(what: &str, why: impl std::fmt::Display) -> NemesisError {
    NemesisError::Failed(format!("{what}: {why}"))
}

impl EtcdMembership {
    /// Changes over the cluster `http` reaches; `nodes` in the same order.
    pub fn new(http: Http, nodes: Vec<(Arc<Daemon>, PathBuf)>) -> EtcdMembership {
        EtcdMembership { http, nodes }
    }

    fn index(&self, node: &str) -> Result<usize, NemesisError> {
        self.http
            .nodes()
            .iter()
            .position(|(n, _)| n == node)
            .ok_or_else(|| NemesisError::Cannot(format!("no etcd node {node}")))
    }

    fn peer_url(&self, i: usize) -> String {
        format!("http://{}:{PEER_PORT}", self.http.nodes()[i].1)
    }

    /// A cluster request, sent to the first member other than `avoid` that
    /// answers.
    fn admin(&self, path: &str, body: &Json, avoid: usize) -> Result<Json, NemesisError> {
        let mut last = String::from("no other member");
        for i in (0..self.nodes.len()).filter(|&i| i != avoid) {
            match self.http.post_blocking(i, path, body) {
                Ok(v) => return Ok(v),
                Err(e) => last = e,
            }
        }
        Err(failed(path, last))
    }

    fn list(&self, avoid: usize) -> Result<Vec<Member>, NemesisError> {
        let v = self.admin("/v3/cluster/member/list", &json!({}), avoid)?;
        Ok(members_of(&v))
    }
}

/// The members of a `member list` or `member add` reply.
fn members_of(v: &Json) -> Vec<Member> {
    v["members"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| Member {
                    id: match &m["ID"] {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                    name: m["name"].as_str().unwrap_or("").to_owned(),
                    peer: m["peerURLs"][0].as_str().unwrap_or("").to_owned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `argv` with the value after `flag` replaced by `value`.
fn with_flag(mut argv: Vec<String>, flag: &str, value: &str) -> Vec<String> {
    match argv.iter().position(|a| a == flag) {
        Some(i) if i + 1 < argv.len() => argv[i + 1] = value.to_owned(),
        _ => argv.extend([flag.to_owned(), value.to_owned()]),
    }
    argv
}

impl Membership for EtcdMembership {
    fn remove(&self, node: &str) -> Result<Value, NemesisError> {
        let i = self.index(node)?;
        let peer = self.peer_url(i);
        let id = self
            .list(i)?
            .into_iter()
            .find(|m| m.peer == peer)
            .map(|m| m.id)
            .ok_or_else(|| NemesisError::Cannot(format!("{node} is not a member")))?;
        let (daemon, data) = &self.nodes[i];
        daemon.stop(Duration::from_secs(5))?;
        self.admin("/v3/cluster/member/remove", &json!({ "ID": id }), i)?;
        daemon.remote().run(&empty_dir_command(data))?;
        Ok(Value::map(vec![("member_id".into(), Value::str(&id))]))
    }

    fn add(&self, node: &str) -> Result<Value, NemesisError> {
        let i = self.index(node)?;
        let peer = self.peer_url(i);
        let (daemon, data) = &self.nodes[i];
        let listed = self.list(i)?;
        let mine = listed.iter().find(|m| m.peer == peer);
        if mine.is_some_and(|m| !m.name.is_empty()) && daemon.running() {
            return Ok(Value::str("already a member"));
        }
        let members = match mine {
            Some(_) => listed,
            None => {
                let v = self.admin(
                    "/v3/cluster/member/add",
                    &json!({ "peerURLs": [peer.clone()] }),
                    i,
                )?;
                members_of(&v)
            }
        };
        let cluster: Vec<String> = members
            .iter()
            .map(|m| {
                let name = if m.peer == peer { node } else { &m.name };
                format!("{name}={}", m.peer)
            })
            .collect();
        let argv = with_flag(daemon.argv(), "--initial-cluster", &cluster.join(","));
        daemon.set_argv(with_flag(argv, "--initial-cluster-state", "existing"));
        daemon.stop(Duration::from_secs(5))?;
        daemon.remote().run(&empty_dir_command(data))?;
        daemon.start()?;
        let end = Instant::now() + REJOIN;
        while Instant::now() < end {
            if self
                .http
                .post_blocking(i, "/v3/maintenance/status", &json!({}))
                .is_ok()
            {
                return Ok(Value::str(&format!("member add; {} members", cluster.len())));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(failed(
            node,
            format!("did not answer within {} s of rejoining", REJOIN.as_secs()),
        ))
    }

    fn members(&self) -> Result<Vec<String>, NemesisError> {
        Ok(self
            .list(usize::MAX)?
            .into_iter()
            .map(|m| m.name)
            .filter(|n| !n.is_empty())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_replaced_or_added() {
        let argv = vec!["etcd".into(), "--initial-cluster-state".into(), "new".into()];
        let a = with_flag(argv, "--initial-cluster-state", "existing");
        assert_eq!(a, ["etcd", "--initial-cluster-state", "existing"]);
        let a = with_flag(a, "--initial-cluster", "n1=http://x:2380");
        assert_eq!(a[3..], ["--initial-cluster", "n1=http://x:2380"]);
    }

    #[test]
    fn member_lists_are_read_with_string_or_number_ids() {
        let v = json!({"members": [
            {"ID": "123", "name": "n1", "peerURLs": ["http://a:2380"]},
            {"ID": 456, "peerURLs": ["http://b:2380"]}
        ]});
        let m = members_of(&v);
        assert_eq!((m[0].id.as_str(), m[0].name.as_str()), ("123", "n1"));
        assert_eq!((m[1].id.as_str(), m[1].name.as_str()), ("456", ""));
        assert_eq!(m[1].peer, "http://b:2380");
        assert!(members_of(&json!({})).is_empty());
    }
}
