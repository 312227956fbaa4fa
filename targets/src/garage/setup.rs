//! Installing, configuring and starting a Garage cluster, one server per
//! node, and the options that choose its quorums and its clients.
//!
//! Garage (AGPL-3.0) is run as a program, never linked. It is not in
//! Debian: it is built once per machine with `cargo install garage --locked
//! --root /var/lib/faultline` (about half an hour on two cores), and a
//! binary already at `/var/lib/faultline/bin/garage` or on `PATH` is used as
//! it is. Each node gets a `garage.toml` — RPC secret and addresses,
//! `replication_factor`, `consistency_mode`, the S3, K2V and admin API
//! addresses — and keeps everything it must remember (its node key, its
//! metadata in SQLite, its data blocks) under `<node dir>/data`, so the
//! power-loss faults reach all of it. The cluster is then formed through
//! the admin API ([`super::admin`]).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use faultline_harness::daemon::Daemon;
use faultline_harness::remote::{shell_quote, Remote, Spawn};
use faultline_harness::runner::Rng;
use faultline_harness::Fault;
use faultline_nemesis::membership::MembershipNemesis;

use super::admin::Admin;
use super::config::{config, Settings, REGION};
use super::api::Api;
use super::client::{Flavour, GarageTarget};
use super::membership::GarageMembership;
use super::sigv4::Credentials;
use crate::about::{ClockShim, Defaults, Help};
use crate::db::{Db, DbCluster, DbError, DbNode, DbOptions};

/// Where the binary is built and looked for first.
pub const ROOT: &str = "/var/lib/faultline";
/// The access key faultline imports (a local test cluster's, not a secret).
const ACCESS_KEY: &str = "GKfaultline0000000000000";

/// Garage, built with cargo on first use.
pub struct Garage;

/// `n` random bytes as hex, from the clock and the process id (a test
/// cluster's secrets: unique per run, not cryptographic).
fn random_hex(bytes: usize) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut rng = Rng::new(nanos ^ (u64::from(std::process::id()) << 32));
    (0..bytes)
        .map(|_| format!("{:02x}", rng.next_u64() as u8))
        .collect()
}

/// The shell script that makes sure a `garage` binary exists: the one in
/// [`ROOT`] or on `PATH`, else one built with cargo (refused in one line
/// where there is no cargo).
pub fn install_script() -> String {
    format!(
        "[ -x {ROOT}/bin/garage ] && exit 0; command -v garage >/dev/null 2>&1 && exit 0; \
         PATH=\"$PATH:$HOME/.cargo/bin\"; \
         if ! command -v cargo >/dev/null 2>&1; then \
         echo \"garage is not installed here and there is no cargo to build it (cargo install garage --locked --root {ROOT})\" >&2; exit 1; fi; \
         echo \"faultline: building Garage: cargo install garage --locked --root {ROOT} (once per machine; usually about half an hour on two cores)\" >&2; \
         cargo install garage --locked --root {ROOT} >&2"
    )
}

/// Where the binary is on the node behind `remote`.
fn binary(remote: &dyn Remote) -> Result<String, DbError> {
    let out = remote
        .exec(&format!(
            "if [ -x {ROOT}/bin/garage ]; then echo {ROOT}/bin/garage; else command -v garage; fi"
        ))
        .map_err(|e| format!("{}: looking for garage: {e}", remote.node()))?;
    let path = out.stdout.trim().to_owned();
    if path.is_empty() {
        return Err(format!("{}: no garage binary (install it first)", remote.node()).into());
    }
    Ok(path)
}

impl Db for Garage {
    fn name(&self) -> &str {
        "garage"
    }

    fn workloads(&self) -> Vec<&str> {
        vec!["register", "set"]
    }

    fn packages(&self) -> Vec<&str> {
        Vec::new()
    }

    fn install_note(&self) -> String {
        format!("{ROOT}/bin/garage or garage on PATH, else cargo install garage --locked (about half an hour on two cores)")
    }

    fn summary(&self) -> String {
        "Garage (leaderless S3 store: quorums, last-write-wins, K2V siblings), built with cargo on first use".into()
    }

    fn defaults(&self) -> Defaults {
        Defaults::new("register", &["partition"])
    }

    fn options(&self) -> Option<Vec<Help>> {
        Some(vec![
            Help::new("replication-factor", "copies of every object (default 3; at most the nodes)"),
            Help::new(
                "consistency-mode",
                "consistent (read and write quorums, the default) | degraded (reads from one copy) | dangerous (reads and writes on one copy)",
            ),
            Help::new("client-node", "fixed (each client sends to its own node, the default) | random (each operation to a node drawn at random)"),
            Help::new("api", "s3 (objects, last-write-wins: register and set; the default) | k2v (register through K2V: concurrent writes kept as siblings under causality tokens)"),
            Help::new("fsync", "false (Garage's default) | true: metadata_fsync and data_fsync on every node"),
        ])
    }

    fn own_faults(&self) -> Vec<Fault> {
        vec![Fault::Membership]
    }

    fn fault_help(&self, fault: &str) -> String {
        match fault {
            "membership" => "a node's role is removed from the layout (next version applied), the node stopped and wiped; healed by starting it empty, connecting its new id and giving it its zone back in the next layout (while more than replication-factor members remain)".into(),
            _ => String::new(),
        }
    }

    fn clock_shim(&self) -> ClockShim {
        ClockShim::Reaches(
            "garage is Rust on glibc: SystemTime::now() calls libc's clock_gettime, so object timestamps (last-write-wins) follow the shim".into(),
        )
    }

    fn checkers(&self, options: &[(String, String)]) -> Vec<String> {
        if options.iter().any(|(k, v)| k == "api" && v == "k2v") {
            // Reads return every sibling: no single value to linearize.
            vec!["stats".into(), "conflicts".into()]
        } else {
            Vec::new()
        }
    }

    fn calibration(&self) -> Vec<crate::calibration::Calibration> {
        super::calibration::cases()
    }

    fn install_script(&self) -> String {
        install_script()
    }

    /// Builds Garage here if it is missing, its progress on the terminal.
    fn install(&self) -> Result<(), DbError> {
        let status = faultline_harness::remote::own_session(
            std::process::Command::new("sh")
                .arg("-c")
                .arg(install_script()),
        )
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| DbError::Install {
            packages: "garage".into(),
            why: format!("sh: {e}"),
        })?;
        if status.success() {
            Ok(())
        } else {
            Err(DbError::Install {
                packages: "garage".into(),
                why: format!("cargo install garage --locked --root {ROOT} failed ({status})"),
            })
        }
    }

    fn setup(&self, nodes: &[DbNode], opts: &DbOptions) -> Result<DbCluster, DbError> {
        let settings = Settings::from(opts, nodes.len())?;
        let first = nodes.first().ok_or("garage needs at least one node")?;
        let bin = binary(first.remote.as_ref())?;
        let rpc_secret = random_hex(32);
        let admin_token = random_hex(16);
        let secret = random_hex(32);
        let t = Instant::now();
        let mut daemons = Vec::new();
        let mut logs = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            let cfg = n.dir.join("garage.toml");
            let data = n.dir.join("data");
            n.remote
                .run(&format!(
                    "mkdir -p {meta} {blocks} && printf '%s' {c} > {f} && chmod 600 {f}",
                    meta = shell_quote(&data.join("meta").display().to_string()),
                    blocks = shell_quote(&data.join("blocks").display().to_string()),
                    c = shell_quote(&config(n, &settings, &rpc_secret, &admin_token)),
                    f = shell_quote(&cfg.display().to_string()),
                ))
                .map_err(|e| format!("configure {}: {e}", n.name))?;
            let log = n.dir.join("garage.log");
            let mut env = opts.clock_env.get(i).cloned().unwrap_or_default();
            env.push(("RUST_LOG".into(), "garage=info".into()));
            let d = Arc::new(
                Daemon::new(
                    n.remote.clone(),
                    Spawn {
                        argv: vec![
                            bin.clone(),
                            "-c".into(),
                            cfg.display().to_string(),
                            "server".into(),
                        ],
                        env,
                        log: log.clone(),
                        cwd: None,
                    },
                )
                .with_pidfile(n.dir.join("garage.pid")),
            );
            d.start()
                .map_err(|e| format!("start garage on {}: {e}", n.name))?;
            daemons.push(d);
            logs.push((i, log));
        }
        opts.steps
            .done(format!("{} garage servers started", nodes.len()), t.elapsed());
        let members: Vec<(String, String)> = nodes
            .iter()
            .map(|n| (n.name.clone(), n.addr.clone()))
            .collect();
        let creds = Credentials {
            access_key: ACCESS_KEY.into(),
            secret_key: secret.clone(),
            region: REGION.into(),
        };
        let admin = Admin::new(members.clone(), &admin_token);
        let apis: Vec<Api> = members
            .iter()
            .map(|(n, a)| Api::new(n, a, creds.clone()))
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        let see = |e: String| format!("{e} (see {})", first.dir.join("garage.log").display());
        let (ids, steps) = rt.block_on(admin.form(ACCESS_KEY, &secret)).map_err(see)?;
        for (what, took) in steps {
            opts.steps.done(what, took);
        }
        let t = Instant::now();
        rt.block_on(admin.wait_serving(&apis, Duration::from_secs(60)))
            .map_err(see)?;
        opts.steps.done("every node healthy and serving", t.elapsed());
        let flavour = if settings.k2v { Flavour::K2v } else { Flavour::S3 };
        let changes = GarageMembership::new(
            admin,
            daemons
                .iter()
                .cloned()
                .zip(nodes.iter().map(|n| n.dir.join("data")))
                .collect(),
            ids,
            settings.replication_factor,
        );
        let membership = MembershipNemesis::new(
            nodes.iter().map(|n| n.name.clone()).collect(),
            Arc::new(changes),
        );
        Ok(DbCluster {
            target: Arc::new(GarageTarget::new(
                &members,
                &creds,
                flavour,
                settings.random_node,
            )),
            daemons,
            sidecars: Vec::new(),
            leaders: None,
            skewable: true,
            nemesis: Some(Arc::new(membership)),
            logs,
            restart: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hex_of_the_asked_length() {
        assert_eq!(random_hex(32).len(), 64);
    }
}
