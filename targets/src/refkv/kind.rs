//! The reference store: one `faultline _refkv` per node, on namespaces or
//! SSH hosts (the binary uploaded there), plus — locally — a spare node that
//! the `join` fault starts mid-test; the `membership` fault removes and adds
//! back the cluster's own nodes ([`super::membership`]). Setup returns once the cluster serves:
//! a leader elected in the single-leader modes, every node answering in the
//! others.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use faultline_harness::daemon::Daemon;
use faultline_harness::remote::{Spawn, SshOptions};
use faultline_harness::runner::{Composed, Nemesis, GENERATED};
use faultline_harness::Fault;
use faultline_nemesis::local::{LocalNemesis, NodeCtl};
use faultline_nemesis::membership::MembershipNemesis;

use super::config::{Config, Mode, Peer};
use super::membership::{MemberNode, RefkvMembership};
use super::target::{RefkvNemesis, RefkvTarget};
use crate::about::{About, ClockShim, Defaults, Help};
use crate::cluster::nodes;
use crate::cluster::process::binary_on;
use crate::cluster::{Cluster, Setup, SetupError};
use crate::kind::Kind;
use crate::MemoryTarget;

/// The faults refkv itself offers (the operator's), beside the node faults.
const REFKV_FAULTS: &[(&str, &str)] = &[
    (
        "promote",
        "an operator promotes a follower (with --failover manual)",
    ),
    (
        "join",
        "a follower joins mid-test from a snapshot (single-leader modes)",
    ),
    (
        "membership",
        "a node leaves the cluster, later wiped and added back from a snapshot (single-leader modes; --removed serve keeps the removed node answering)",
    ),
];

/// The reference replicated store, one process per node.
pub struct Refkv;

/// refkv's options are its mode's flags, parsed by the same definitions.
#[derive(Parser)]
#[command(name = "refkv", no_binary_name = true)]
struct ModeOptions {
    #[command(flatten)]
    mode: Mode,
}

/// The mode `options` select (`replication=async`, `n=3`...).
pub fn mode_of(options: &[(String, String)]) -> Result<Mode, SetupError> {
    let argv = options
        .iter()
        .flat_map(|(k, v)| [format!("--{k}"), v.clone()]);
    ModeOptions::try_parse_from(argv)
        .map(|m| m.mode)
        .map_err(|e| {
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("bad option")
                .trim_start_matches("error: ");
            SetupError::bad(format!("refkv option: {first}"))
        })
}

/// The options that select `mode` (only those that differ from the default).
pub fn options_of(mode: &Mode) -> Vec<(String, String)> {
    mode.changed_flags()
        .chunks(2)
        .map(|kv| (kv[0].trim_start_matches("--").to_owned(), kv[1].clone()))
        .collect()
}

impl Kind for Refkv {
    fn about(&self) -> About {
        let options = ModeOptions::command()
            .get_arguments()
            .filter_map(|a| {
                let name = a.get_long()?.to_owned();
                let values: Vec<String> = a
                    .get_possible_values()
                    .iter()
                    .map(|v| v.get_name().to_owned())
                    .collect();
                let default: Vec<String> = a
                    .get_default_values()
                    .iter()
                    .map(|v| v.to_string_lossy().into_owned())
                    .collect();
                let mut help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                if !values.is_empty() {
                    help.push_str(&format!(" ({})", values.join("|")));
                }
                if !default.is_empty() {
                    help.push_str(&format!(" [default: {}]", default.join(",")));
                }
                Some(Help::new(name, help))
            })
            .collect();
        About {
            clock_shim: ClockShim::Reaches(
                "its nodes are faultline's own binary (Rust), which reads the clock through libc"
                    .into(),
            ),
            faults: REFKV_FAULTS.iter().map(|(f, h)| Help::new(*f, *h)).collect(),
            options: Some(options),
            defaults: Defaults::new("set", &["partition-leader"]),
            ..About::new(
                "refkv",
                "the reference replicated store, built in: every replication mode (single-leader modes: any generated workload; multi-leader, leaderless: register)",
                GENERATED,
            )
        }
    }

    fn defaults(&self, options: &[(String, String)]) -> Result<Defaults, SetupError> {
        // The workload and faults that show what each mode is known for.
        Ok(if mode_of(options)?.replication.has_leader() {
            Defaults::new("set", &["partition-leader"])
        } else {
            Defaults::new("register", &["partition"])
        })
    }

    fn check(&self, s: &Setup<'_>) -> Result<(), SetupError> {
        crate::kind::check_about(&self.about(), s)?;
        check(
            s.workload,
            s.nodes,
            s.faults,
            s.run,
            &mode_of(s.options)?,
            s.ssh,
        )
    }

    fn setup(&self, s: &Setup<'_>) -> Result<Cluster, SetupError> {
        refkv(
            s.workload,
            s.nodes,
            s.faults,
            s.run,
            &mode_of(s.options)?,
            s.ssh,
        )
    }

    fn checkers(&self, options: &[(String, String)]) -> Vec<String> {
        match mode_of(options) {
            Ok(m) if m.conflicts == super::config::Conflicts::Siblings => {
                vec!["stats".into(), "conflicts".into()]
            }
            _ => Vec::new(),
        }
    }

    fn calibration(&self) -> Vec<crate::calibration::Calibration> {
        super::calibration::cases()
    }

    fn describe(&self, options: &[(String, String)]) -> Option<String> {
        let mut c = Config::new("-", &[], Default::default());
        c.mode = mode_of(options).ok()?;
        Some(c.describe())
    }
}

/// Refuses flags and faults that do not go together, before anything is
/// created.
fn check(
    workload: &str,
    names: &[String],
    faults: &[Fault],
    run: &Path,
    mode: &Mode,
    ssh: Option<&SshOptions>,
) -> Result<(), SetupError> {
    let join = faults.iter().any(|f| f.to_string() == "join");
    if join && !mode.replication.has_leader() {
        return Err(SetupError::bad(
            "the join fault adds a follower: it needs a single-leader --replication",
        ));
    }
    if join && ssh.is_some() {
        return Err(SetupError::bad(
            "the join fault starts a spare local namespace: it is not offered on SSH hosts",
        ));
    }
    if faults.contains(&Fault::Membership) && !mode.replication.has_leader() {
        return Err(SetupError::bad(
            "the membership fault rejoins a node from the leader's snapshot: it needs a single-leader --replication",
        ));
    }
    let mut all = names.to_vec();
    if join {
        all.push("joiner".into());
    }
    // Check the flags before anything is created.
    let mut probe = Config::new(
        &all[0],
        &all.iter()
            .map(|n| (n.clone(), "127.0.0.1".to_owned()))
            .collect::<Vec<_>>(),
        run.join("probe"),
    );
    probe.workload = workload.to_owned();
    probe.mode = mode.clone();
    probe.validate().map(|_| ()).map_err(SetupError::bad)
}

/// Starts refkv on `names` (SSH hosts when `ssh` is given) and waits until
/// it serves.
fn refkv(
    workload: &str,
    names: &[String],
    faults: &[Fault],
    run: &Path,
    mode: &Mode,
    ssh: Option<&SshOptions>,
) -> Result<Cluster, SetupError> {
    check(workload, names, faults, run, mode, ssh)?;
    let join = faults.iter().any(|f| f.to_string() == "join");
    let mut all = names.to_vec();
    if join {
        all.push("joiner".into());
    }
    let mut cluster = Cluster::bare(Arc::new(MemoryTarget::new(workload)));
    let placed = match ssh {
        Some(o) => nodes::ssh(
            &mut cluster,
            &all,
            run,
            o,
            faults.iter().any(Fault::is_clock),
        )?,
        None => nodes::local(&mut cluster, &all, run, faults.iter().any(Fault::is_clock))?,
    };
    let peers: Vec<(String, String)> = placed
        .iter()
        .map(|n| (n.name.clone(), n.addr.clone()))
        .collect();
    let mut ctl = Vec::new();
    let mut spare = None;
    let mut members = Vec::new();
    let mut exe = std::path::PathBuf::new();
    for (i, n) in placed.iter().enumerate() {
        exe = binary_on(n)?;
        let mut cfg = Config::new(&n.name, &peers, n.dir.join("data"));
        cfg.workload = workload.to_owned();
        cfg.mode = mode.clone();
        let is_spare = join && i == all.len() - 1;
        if join {
            cfg.voters = Some(names.len());
            cfg.join = is_spare;
        }
        cfg.validate().map_err(SetupError::bad)?;
        let mut argv = vec![exe.display().to_string(), "_refkv".into()];
        argv.extend(cfg.argv());
        let log = n.dir.join("refkv.log");
        let d = Arc::new(
            Daemon::new(
                n.remote.clone(),
                Spawn {
                    argv,
                    env: n.clock_env.clone(),
                    log: log.clone(),
                    cwd: None,
                },
            )
            .with_pidfile(n.dir.join("refkv.pid")),
        );
        cluster.daemons.push(d.clone());
        nodes::fetch_at_teardown(&mut cluster, n, &log);
        if is_spare {
            spare = Some((d, n.dir.join("data")));
            continue;
        }
        let pid = d.start().map_err(SetupError::bad)?;
        nodes::record_pid(&mut cluster, &n.name, pid)?;
        let ip = n
            .addr
            .parse()
            .map_err(|e| SetupError::bad(format!("address of {}: {e}", n.name)))?;
        members.push(MemberNode {
            peer: Peer {
                name: n.name.clone(),
                ip,
            },
            daemon: d.clone(),
            data: n.dir.join("data"),
        });
        ctl.push(NodeCtl {
            remote: n.remote.clone(),
            addr: n.addr.clone(),
            daemon: Some(d),
            skew: n.skew.clone(),
            host_clock: n.host_clock.clone(),
        });
    }
    let ips: Vec<(String, std::net::IpAddr)> = placed
        .iter()
        .take(names.len())
        .map(|n| {
            n.addr
                .parse()
                .map(|ip| (n.name.clone(), ip))
                .map_err(|e| SetupError::bad(format!("address of {}: {e}", n.name)))
        })
        .collect::<Result<_, _>>()?;
    let target = RefkvTarget::new(&ips, mode.replication.has_leader());
    if !target.wait_ready(Duration::from_secs(15)) {
        return Err(SetupError::bad(format!(
            "refkv did not become ready within 15 s ({}); see {}",
            if mode.replication.has_leader() {
                "no leader elected"
            } else {
                "nodes not answering"
            },
            nodes::absolute(run)?.join("nodes").display()
        )));
    }
    let (own, local): (Vec<Fault>, Vec<Fault>) = faults
        .iter()
        .cloned()
        .partition(|f| REFKV_FAULTS.iter().any(|(n, _)| *n == f.to_string()));
    let mut parts: Vec<Arc<dyn Nemesis>> = Vec::new();
    if !local.is_empty() {
        let t = target.clone();
        parts.push(Arc::new(
            LocalNemesis::new(ctl, &local, exe)
                .map_err(SetupError::bad)?
                .with_leaders(Arc::new(move || t.leaders())),
        ));
    }
    let (membership, own): (Vec<Fault>, Vec<Fault>) =
        own.into_iter().partition(|f| f == &Fault::Membership);
    if !own.is_empty() {
        parts.push(Arc::new(RefkvNemesis::new(target.clone(), spare, own)));
    }
    if !membership.is_empty() {
        parts.push(Arc::new(MembershipNemesis::new(
            names.to_vec(),
            Arc::new(RefkvMembership::new(members)),
        )));
    }
    cluster.nemesis = match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Arc::new(Composed(parts))),
    };
    cluster.target = Arc::new(target);
    Ok(cluster)
}
