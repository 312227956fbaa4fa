//! Garage as the runner sees it: a client per worker, sending each operation
//! to its own node (`client-node=fixed`) or to a node drawn at random for
//! each operation (`client-node=random`).
//!
//! Garage is leaderless: any node takes any request and coordinates the
//! quorum itself, so the node that answered is the one each completion
//! names (`served`), and a request that never reached it names it only as
//! `sent_to`. The workload decides the API: `register` and `set` go through
//! S3, `register` with `api=k2v` through K2V (siblings). There are no
//! leaders to observe and no replica-local reads.

use std::sync::Arc;

use async_trait::async_trait;
use faultline_harness::runner::{Client, ClientError, Completion, Invocation, Rng, Target};

use super::api::{Api, ReqError};
use super::k2v::{self, Tokens};
use super::s3;
use super::sigv4::Credentials;

/// Which API the register workload goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// S3 objects: last-write-wins.
    S3,
    /// K2V items: siblings under causality tokens.
    K2v,
}

/// The cluster's clients.
#[derive(Clone)]
pub struct GarageTarget {
    apis: Arc<Vec<Api>>,
    flavour: Flavour,
    random: bool,
}

impl GarageTarget {
    /// Clients of `nodes` (name, address), signing with `creds`.
    pub fn new(
        nodes: &[(String, String)],
        creds: &Credentials,
        flavour: Flavour,
        random: bool,
    ) -> GarageTarget {
        GarageTarget {
            apis: Arc::new(
                nodes
                    .iter()
                    .map(|(n, a)| Api::new(n, a, creds.clone()))
                    .collect(),
            ),
            flavour,
            random,
        }
    }
}

#[async_trait]
impl Target for GarageTarget {
    fn name(&self) -> &str {
        "garage"
    }

    async fn open(&self, node: &str) -> Result<Box<dyn Client>, ClientError> {
        let home = self
            .apis
            .iter()
            .position(|a| a.node == node)
            .ok_or_else(|| ClientError::NoNode {
                target: "garage".into(),
                node: node.to_owned(),
            })?;
        // Each client draws its own nodes; the seed only spreads them.
        let seed = node.bytes().fold(home as u64 + 1, |s, b| {
            s.wrapping_mul(31).wrapping_add(u64::from(b))
        });
        Ok(Box::new(GarageClient {
            apis: self.apis.clone(),
            home,
            flavour: self.flavour,
            rng: self.random.then(|| Rng::new(seed ^ std::process::id() as u64)),
            tokens: Tokens::new(),
        }))
    }
}

struct GarageClient {
    apis: Arc<Vec<Api>>,
    home: usize,
    flavour: Flavour,
    /// `client-node=random`: draws the node of each operation.
    rng: Option<Rng>,
    tokens: Tokens,
}

#[async_trait]
impl Client for GarageClient {
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let i = match &mut self.rng {
            Some(r) => r.below(self.apis.len() as u64) as usize,
            None => self.home,
        };
        let api = &self.apis[i];
        let done = match self.flavour {
            Flavour::S3 => s3::perform(api, op.f, &op.value).await,
            Flavour::K2v => k2v::perform(api, op.f, &op.value, &mut self.tokens).await,
        };
        // A request that never reached the node was served by no one.
        let unsent = matches!(done, Err(ReqError::Unsent(_)));
        let outcome = s3::outcome(done, op.f != "read");
        if unsent {
            Completion::sent(outcome, &api.node)
        } else {
            Completion::served(outcome, &api.node)
        }
    }
}
