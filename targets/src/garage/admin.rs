//! Forming a Garage cluster through its admin API (v2): connect the nodes,
//! give each a role in the layout, apply it, import the key, make the
//! bucket, and wait until every node serves it.
//!
//! Garage nodes know nothing of each other until told: each has an id (a
//! public key, made at first start in its metadata directory) and listens
//! for RPC. Node 1 is told the others' `id@addr:port`; a *layout* then
//! assigns each node a zone (its own, so every copy of a partition lands in
//! a different zone) and a capacity, and applying it makes it the cluster's
//! version 1. The invariant setup keeps: it returns only once every node's
//! health is `healthy` (connected to every storage node, every partition
//! with all its copies) and every node's S3 endpoint accepts the key, so
//! the first operation of a test cannot fail for setup's sake.

use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use super::api::{Api, ADMIN_PORT, RPC_PORT};
use super::s3::BUCKET;

/// Each node's capacity in the layout (all equal: 1 GB).
const CAPACITY: u64 = 1_000_000_000;

/// Node `i`'s role in the layout: its own zone, [`CAPACITY`].
pub fn role(i: usize, id: &str) -> Json {
    json!({"id": id, "zone": format!("z{}", i + 1), "capacity": CAPACITY, "tags": []})
}

/// The admin API of every node: (name, address), with the bearer token.
#[derive(Clone)]
pub struct Admin {
    nodes: Vec<(String, String)>,
    token: String,
    http: reqwest::Client,
}

impl Admin {
    /// The admin API of `nodes`, authorised by `token`.
    pub fn new(nodes: Vec<(String, String)>, token: &str) -> Admin {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(1))
            .build()
            .unwrap_or_default();
        Admin {
            nodes,
            token: token.to_owned(),
            http,
        }
    }

    async fn call(&self, i: usize, endpoint: &str, body: Option<Json>) -> Result<Json, String> {
        let (name, addr) = &self.nodes[i];
        let url = format!("http://{addr}:{ADMIN_PORT}/v2/{endpoint}");
        let rb = match &body {
            Some(b) => self.http.post(&url).json(b),
            None => self.http.get(&url),
        };
        let resp = rb
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("{name}: {endpoint}: {e}"))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| format!("{name}: {endpoint}: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "{name}: {endpoint}: HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            ));
        }
        serde_json::from_str(&text).map_err(|e| format!("{name}: {endpoint}: bad reply: {e}"))
    }

    /// Node `i`'s id, once its admin API answers (within `limit`).
    pub async fn node_id(&self, i: usize, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            match self.call(i, "GetNodeInfo?node=self", None).await {
                Ok(v) => {
                    if let Some(id) = v["success"].as_object().and_then(|m| m.keys().next()) {
                        return Ok(id.clone());
                    }
                    return Err(format!("{}: GetNodeInfo named no node: {v}", self.nodes[i].0));
                }
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Node `i`'s health status (`healthy`, `degraded`, `unavailable`).
    pub async fn health(&self, i: usize) -> Result<String, String> {
        let v = self.call(i, "GetClusterHealth", None).await?;
        Ok(v["status"].as_str().unwrap_or("?").to_owned())
    }

    /// Connects the nodes, applies a layout with one zone per node, imports
    /// the key (`access`, `secret`) and makes the bucket it may read, write
    /// and own. Returns each node's id and what each step took.
    pub async fn form(
        &self,
        access: &str,
        secret: &str,
    ) -> Result<(Vec<String>, Vec<(String, Duration)>), String> {
        let mut steps = Vec::new();
        let t = Instant::now();
        let mut ids = Vec::new();
        for i in 0..self.nodes.len() {
            ids.push(self.node_id(i, Duration::from_secs(30)).await?);
        }
        steps.push((format!("{} nodes answer", ids.len()), t.elapsed()));
        let t = Instant::now();
        let peers: Vec<String> = ids
            .iter()
            .zip(&self.nodes)
            .skip(1)
            .map(|(id, (_, addr))| format!("{id}@{addr}:{RPC_PORT}"))
            .collect();
        self.connect(0, &peers).await?;
        steps.push(("node connect".into(), t.elapsed()));
        let t = Instant::now();
        let roles: Vec<Json> = ids.iter().enumerate().map(|(i, id)| role(i, id)).collect();
        let version = self.change_layout(0, roles).await?;
        steps.push((format!("layout v{version} applied"), t.elapsed()));
        let t = Instant::now();
        self.call(
            0,
            "ImportKey",
            Some(json!({"accessKeyId": access, "secretAccessKey": secret, "name": "faultline"})),
        )
        .await?;
        let b = self
            .call(0, "CreateBucket", Some(json!({ "globalAlias": BUCKET })))
            .await?;
        let bucket = b["id"].as_str().ok_or("CreateBucket returned no id")?;
        self.call(
            0,
            "AllowBucketKey",
            Some(json!({"bucketId": bucket, "accessKeyId": access,
                        "permissions": {"read": true, "write": true, "owner": true}})),
        )
        .await?;
        steps.push(("key and bucket".into(), t.elapsed()));
        Ok((ids, steps))
    }

    /// Asks node `via` to connect to `peers` (`id@addr:port`).
    pub async fn connect(&self, via: usize, peers: &[String]) -> Result<(), String> {
        let v = self.call(via, "ConnectClusterNodes", Some(json!(peers))).await?;
        for (r, p) in v.as_array().into_iter().flatten().zip(peers) {
            if r["success"] != true {
                return Err(format!("connecting {p}: {}", r["error"]));
            }
        }
        Ok(())
    }

    /// Stages `roles` (assignments or `{"id", "remove": true}`) through node
    /// `via` and applies them as the next layout version, which it returns.
    pub async fn change_layout(&self, via: usize, roles: Vec<Json>) -> Result<u64, String> {
        self.call(via, "UpdateClusterLayout", Some(json!({ "roles": roles })))
            .await?;
        let layout = self.call(via, "GetClusterLayout", None).await?;
        let version = layout["version"].as_u64().unwrap_or(0) + 1;
        self.call(via, "ApplyClusterLayout", Some(json!({ "version": version })))
            .await?;
        Ok(version)
    }

    /// The ids holding a role in the current layout, as node `via` sees it.
    pub async fn layout_ids(&self, via: usize) -> Result<Vec<String>, String> {
        let layout = self.call(via, "GetClusterLayout", None).await?;
        Ok(layout["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect())
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`'s (name, address).
    pub fn node(&self, i: usize) -> &(String, String) {
        &self.nodes[i]
    }

    /// Waits (within `limit`) until every node reports `healthy` and its S3
    /// endpoint lists the bucket with the key (`apis`, in node order).
    pub async fn wait_serving(&self, apis: &[Api], limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        for (i, api) in apis.iter().enumerate() {
            loop {
                let health = self.health(i).await;
                let listed = match &health {
                    Ok(h) if h == "healthy" => {
                        let q = [("list-type".to_string(), "2".to_string())];
                        match api
                            .call("s3", "GET", &format!("/{BUCKET}/"), &q, &[], Vec::new())
                            .await
                        {
                            Ok(r) if r.status == 200 => Ok(()),
                            Ok(r) => Err(format!("S3 LIST: HTTP {}", r.status)),
                            Err(e) => Err(e.message().to_owned()),
                        }
                    }
                    Ok(h) => Err(format!("health {h}")),
                    Err(e) => Err(e.clone()),
                };
                match listed {
                    Ok(()) => break,
                    Err(e) if Instant::now() > deadline => {
                        return Err(format!(
                            "{} did not serve within {} s: {e}",
                            api.node,
                            limit.as_secs()
                        ))
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
                }
            }
        }
        Ok(())
    }
}
