//! What the real-database integration tests share: a guard that stops the
//! daemons and removes the network whatever happens, value builders, and a
//! blocking session over the async clients.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use faultline_harness::daemon::Daemon;
use faultline_harness::network::Network;
use faultline_harness::runner::{Client, Completion, Invocation, Target};
use faultline_history::Value;

/// Stops the daemons and destroys the network when dropped (also on panic).
pub struct Guard {
    pub daemons: Vec<Arc<Daemon>>,
    pub network: Option<Network>,
    pub _dirs: Vec<tempfile::TempDir>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for d in self.daemons.iter().rev() {
            let _ = d.stop(Duration::from_secs(5));
        }
        if let Some(n) = self.network.take() {
            let _ = n.destroy();
        }
    }
}

pub fn int(i: i64) -> Value {
    Value::Int(i)
}

pub fn list(v: Vec<Value>) -> Value {
    Value::list(v)
}

/// A list-append micro-operation.
pub fn mop(f: &str, k: i64, v: Value) -> Value {
    list(vec![Value::str(f), int(k), v])
}

/// Blocking calls on async clients.
pub struct Session {
    pub rt: tokio::runtime::Runtime,
}

impl Session {
    pub fn open(&self, t: &dyn Target, node: &str) -> Box<dyn Client> {
        self.rt.block_on(t.open(node)).expect("open a client")
    }

    pub fn call(&self, c: &mut Box<dyn Client>, f: &'static str, value: Value) -> Completion {
        let done = self.rt.block_on(c.invoke(&Invocation { f, value }));
        println!("  {f} -> {:?} on {:?}", done.outcome, done.node);
        done
    }
}

impl Guard {
    /// Nodes n1-n3 on a network of their own (`prefix`, `subnet`: never the
    /// `fl` of faultline runs), guarded from the start.
    pub fn three_nodes(prefix: &str, subnet: &str) -> (Guard, Network) {
        let state = tempfile::tempdir().expect("state dir");
        let spec = faultline_harness::network::NetworkSpec {
            nodes: vec!["n1".into(), "n2".into(), "n3".into()],
            prefix: prefix.into(),
            subnet: subnet.into(),
        };
        let network = Network::create(&spec, state.path().to_path_buf()).expect("network");
        let guard = Guard {
            daemons: Vec::new(),
            network: None,
            _dirs: vec![state],
        };
        (guard, network)
    }
}
