//! The `kill-all-bootstrap` fault: every node crashes at once and the
//! operator restarts the cluster the way Galera's documentation says to.
//!
//! # The concept
//!
//! A Galera node that restarts *joins* a primary component. When every node
//! went down together there is none to join: one node must bootstrap a new
//! cluster (`--wsrep-new-cluster`), and it must be the most advanced one —
//! the node with the highest committed seqno — or the others' newer
//! transactions are thrown away when they rejoin it by state transfer. After
//! a crash `grastate.dat` says `seqno: -1` and `safe_to_bootstrap: 0` on every
//! node (only a clean shutdown writes the position), so the operator asks
//! InnoDB: `mariadbd --wsrep-recover` prints the last committed position.
//!
//! Galera 4 can often skip the operator: with `pc.recovery` (on by default)
//! each node keeps the last primary component in `gvwstate.dat`, and when
//! all its members come back they re-form it by themselves — which is what
//! the built-in `kill-all` node fault exercises (it restarts every server as
//! it was). This fault takes that file away, as when it was lost or the
//! nodes were not all in one component, so the manual procedure must work.
//!
//! `start("kill-all-bootstrap")` sends `SIGKILL` to every node's server group
//! and removes each `gvwstate.dat`. `stop("kill-all-bootstrap")` (and
//! `heal_all`) recovers each node's seqno, marks the
//! highest `safe_to_bootstrap: 1`, starts it with its bootstrap flag
//! ([`super::node::GNode::bootstrap_flag`]), waits until it serves, then
//! starts the others, which rejoin by IST or SST, and waits until all of them
//! serve in one primary component.
//!
//! # The invariant
//!
//! Writes acknowledged before the crash must all be there afterwards — with
//! `innodb_flush_log_at_trx_commit=1` (MariaDB's default, `flush-log=1`) each
//! commit is on its node's disk before the client hears `OK`. A namespace
//! crash keeps the operating system's page cache, so this fault tests the
//! restart procedure and Galera's recovery, not power loss. With
//! `flush-log=0` a server keeps up to a second of acknowledged commits in
//! its own memory, and this fault loses them on every node at once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use faultline_harness::remote::shell_quote;
use faultline_harness::runner::{Injection, Nemesis, NemesisError, Rng};
use faultline_harness::Fault;
use faultline_history::Value;

use super::node::{GCluster, SYNC_LIMIT};

/// The faults of the Galera operator.
pub const FAULTS: &[&str] = &["kill-all-bootstrap"];

/// The `kill-all-bootstrap` fault of a Galera cluster.
pub struct KillAll {
    cluster: std::sync::Arc<GCluster>,
    /// Whether the cluster is down (killed and not yet restarted).
    down: Mutex<bool>,
}

impl KillAll {
    /// The fault on `cluster`.
    pub fn new(cluster: std::sync::Arc<GCluster>) -> KillAll {
        KillAll {
            cluster,
            down: Mutex::new(false),
        }
    }

    fn kill(&self, inj: &Injection) -> Result<Value, NemesisError> {
        let c = &self.cluster;
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        inj.begin()?;
        *down = true;
        let mut killed = Vec::new();
        for (d, n) in c.daemons.iter().zip(&c.nodes) {
            let pid = d.pid();
            d.kill()
                .map_err(|e| NemesisError::Failed(format!("kill {}: {e}", n.name)))?;
            let until = Instant::now() + Duration::from_secs(5);
            while pid.is_some_and(|p| n.remote.alive(p)) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            let gvw = shell_quote(&n.data.join("gvwstate.dat").display().to_string());
            n.remote
                .run(&format!("rm -f {gvw}"))
                .map_err(|e| NemesisError::Failed(format!("{}: {e}", n.name)))?;
            killed.push(Value::str(&n.name));
        }
        Ok(Value::map(vec![("killed".into(), Value::list(killed))]))
    }

    fn restart(&self) -> Result<Value, NemesisError> {
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        if !*down {
            return Ok(Value::str("nothing to restart"));
        }
        let done = bootstrap(&self.cluster)?;
        *down = false;
        Ok(done)
    }
}

/// Node `i`'s last committed seqno: `grastate.dat` if it knows, else
/// `mariadbd --wsrep-recover`.
fn seqno(c: &GCluster, i: usize) -> Option<i64> {
    match c.grastate(i) {
        Some(g) if g.seqno >= 0 => Some(g.seqno),
        _ => recovered_seqno(c, i),
    }
}

/// Restarts a cluster whose every server is down, as the operator does:
/// bootstraps the most advanced node, then starts the others, and waits
/// until all serve in one primary component. Also how the cluster comes
/// back after every node lost power.
pub(crate) fn bootstrap(c: &GCluster) -> Result<Value, NemesisError> {
    let seqnos: Vec<Option<i64>> = std::thread::scope(|s| {
        let asks: Vec<_> = (0..c.nodes.len())
            .map(|i| s.spawn(move || seqno(c, i)))
            .collect();
        asks.into_iter().map(|h| h.join().unwrap_or(None)).collect()
    });
    let best = (0..c.nodes.len())
        .max_by_key(|&i| (seqnos[i].unwrap_or(i64::MIN), std::cmp::Reverse(i)))
        .unwrap_or(0);
    let fail = |e: String| NemesisError::Failed(e);
    c.mark_bootstrap(best)
        .map_err(|e| fail(format!("mark {} safe to bootstrap: {e}", c.nodes[best].name)))?;
    c.daemons[best]
        .start()
        .map_err(|e| fail(format!("start {}: {e}", c.nodes[best].name)))?;
    c.wait_serving(best, 1, SYNC_LIMIT).map_err(fail)?;
    for i in (0..c.nodes.len()).filter(|&i| i != best) {
        c.daemons[i]
            .start()
            .map_err(|e| fail(format!("start {}: {e}", c.nodes[i].name)))?;
    }
    for i in 0..c.nodes.len() {
        c.wait_serving(i, c.nodes.len(), SYNC_LIMIT).map_err(fail)?;
    }
    let seen = c
        .nodes
        .iter()
        .zip(&seqnos)
        .map(|(n, s)| (n.name.as_str().into(), s.map(Value::Int).unwrap_or(Value::Null)))
        .collect();
    Ok(Value::map(vec![
        ("bootstrapped".into(), Value::str(&c.nodes[best].name)),
        ("seqnos".into(), Value::map(seen)),
    ]))
}

/// The seqno `mariadbd --wsrep-recover` finds in node `i`'s InnoDB (the
/// server must be down); its log goes to a file `mysql` may write.
fn recovered_seqno(c: &GCluster, i: usize) -> Option<i64> {
    let n = &c.nodes[i];
    let log = shell_quote(&n.dir.join("wsrep-recover.log").display().to_string());
    let out = n
        .remote
        .run(&format!(
            "rm -f {log}; timeout 60 mariadbd --defaults-file={} --wsrep-recover --log-error={log} \
             >/dev/null 2>&1; sed -n 's/.*Recovered position: *[^:]*:\\(-\\{{0,1\\}}[0-9]*\\).*/\\1/p' {log} | tail -1",
            shell_quote(&n.cnf.display().to_string())
        ))
        .ok()?;
    out.trim().parse().ok()
}

impl Nemesis for KillAll {
    fn faults(&self) -> Vec<Fault> {
        FAULTS.iter().filter_map(|f| Fault::own(f).ok()).collect()
    }

    fn start(&self, fault: &Fault, _: &mut Rng, inj: &Injection) -> Result<Value, NemesisError> {
        match fault.to_string().as_str() {
            "kill-all-bootstrap" => self.kill(inj),
            _ => Err(not_offered(fault)),
        }
    }

    fn stop(&self, fault: &Fault) -> Result<Value, NemesisError> {
        match fault.to_string().as_str() {
            "kill-all-bootstrap" => self.restart(),
            _ => Err(not_offered(fault)),
        }
    }

    fn heal_all(&self) -> Result<(), NemesisError> {
        self.restart().map(|_| ())
    }
}

fn not_offered(fault: &Fault) -> NemesisError {
    NemesisError::NotOffered {
        target: "galera".into(),
        fault: fault.clone(),
    }
}
