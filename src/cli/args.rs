//! Argument definitions (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use faultline_history::Format;

/// faultline: a consistency test harness for replicated databases.
///
/// Exit status: 0 valid, 1 invalid, 2 unknown, 254 bad arguments or input,
/// 255 internal error.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about, long_about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// More on standard error: -v info, -vv debug, -vvv trace (the run's
    /// faultline.log is set by FAULTLINE_LOG, default `warn,faultline=debug`).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on standard error.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a recorded history (a file, or a run directory) and print the verdict.
    Check(CheckArgs),
    /// List workloads, their checkers, and the history formats faultline reads.
    List,
    /// Run a test: drive a workload at a target under faults, record the history,
    /// check it, and store the run.
    ///
    /// Local nodes are network namespaces named `<prefix>-n1`... on the /24
    /// `<subnet>.0` (nodes at .11, .12..., this machine at .1); the prefix and
    /// subnet come from FAULTLINE_NET_PREFIX (default fl) and
    /// FAULTLINE_NET_SUBNET (default 10.77.0), so two harnesses can share a
    /// machine. Local runs need root and `ip`, `iptables` and `kill` on PATH.
    Test(TestArgs),
    /// Remove what killed runs left, on this machine and on their SSH hosts.
    ///
    /// Reads every run's state file in /run/faultline (runs still alive are
    /// left alone). On this machine it removes their namespaces, bridge,
    /// links, iptables rules, processes, clock files, and the SSH control
    /// connections (`ssh -M`) with their /tmp/faultline-ssh-* directories. On
    /// every SSH host a state file names, it logs in as that run did (user,
    /// port, key, known_hosts), puts back a clock its clock faults moved and
    /// restarts the time sync it stopped, heals the faults, kills what the run
    /// started, removes its /tmp/faultline-<pid> directory and the FAULTLINE
    /// iptables chain (kept while another live run names the host). Then it
    /// sweeps what is still named `<prefix>-*` on this machine, the prefix
    /// being $FAULTLINE_NET_PREFIX (default `fl`).
    Cleanup {
        /// Also clean up after runs whose harness process is still alive.
        #[arg(long)]
        force: bool,
    },
    /// Internal: the `process` target's server, run on each node.
    #[command(name = "_memserver", hide = true)]
    Memserver {
        /// Address to listen on.
        #[arg(long)]
        listen: String,
        /// The workload whose objects it serves.
        #[arg(long)]
        workload: String,
    },
    /// Run a matrix of workloads × nemeses against one target (one test per
    /// cell) and print a table of verdicts; exit status is the worst verdict.
    TestAll(TestAllArgs),
    /// Check that faultline finds what it must and nothing it must not: runs
    /// refkv in each replication mode under the faults that matter and compares
    /// the verdicts with what each mode promises. Exit 0 when every case held
    /// on every seed, 1 otherwise.
    Calibrate(CalibrateArgs),
    /// Write a commented target manifest and a Python client skeleton for a
    /// new database (`DIR/NAME/NAME.toml`, `DIR/NAME/client.py`).
    NewTarget {
        /// The target's name.
        name: String,
        /// Where to create the NAME directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Check a target manifest (errors name the field) and prove it on its
    /// whole cluster as a test builds it: install, files, prepare, start,
    /// ready, form, leaders, and for every workload a write and a read that
    /// sees it; each step with its time.
    CheckTarget {
        /// The manifest.
        file: PathBuf,
    },
    /// (Re)build a run directory's `report.html` from its history and
    /// results.json, and print its path.
    Report {
        /// The run directory.
        run: PathBuf,
    },
    /// Keep the store tidy: `list` its runs with verdicts and sizes, `prune`
    /// old ones (invalid and unfinished runs are kept unless asked).
    Store(StoreArgs),
    /// Browse the stored runs in a web browser: a list of runs with their
    /// verdicts, each run's report and files, and a zip of each run.
    Serve(ServeArgs),
    /// Internal: a node of refkv, the reference replicated store.
    #[command(name = "_refkv", hide = true)]
    Refkv(faultline_targets::refkv::Config),
    /// Internal: powerfs, the filesystem that can lose power, over one
    /// node's data directory (see docs/power-loss.md).
    #[command(name = "_powerfs", hide = true)]
    Powerfs {
        /// The directory holding what survives a power loss.
        #[arg(long)]
        backing: PathBuf,
        /// Where the node sees its data directory.
        #[arg(long)]
        mount: PathBuf,
        /// The unix socket answering `power-loss`, `status`, `sync-all`.
        #[arg(long)]
        control: PathBuf,
    },
    /// Internal: one request to a powerfs daemon's control socket (`power-loss`,
    /// `status`, `sync-all`, `disk-full`, `disk-ok`, `ping`); prints the reply.
    #[command(name = "_powerfs-ctl", hide = true)]
    PowerfsCtl {
        /// The daemon's control socket.
        #[arg(long)]
        control: PathBuf,
        /// The request.
        request: String,
    },
    /// Internal: the NFQUEUE packet delayer the packet nemesis runs inside a
    /// node's namespace.
    #[command(name = "_delayer", hide = true)]
    Delayer {
        /// Options for the delayer.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Internal: the helper that reads, steps and slows an SSH host's clock
    /// for the clock faults, run on the host.
    #[command(name = "_clock", hide = true)]
    Clock {
        /// `--not-boot ID now|step -- NS|rate [-- TICK FREQ]`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `faultline test`: the flags a [`faultline_plan::Plan`] is made of. The
/// help of `--target`, `--workload`, `--nemesis`, `--time-limit`, `--nodes`
/// and `--db-opt` is completed from the target registry by [`command`].
#[derive(Debug, Args, Clone)]
pub struct TestArgs {
    /// The system under test: a registered target (listed here from the
    /// registry), or a target manifest.
    #[arg(long, default_value = "refkv")]
    pub target: String,
    /// The workload (default: the target's).
    #[arg(long, short)]
    pub workload: Option<String>,
    /// Faults to inject, comma-separated; `none` for none (default: the
    /// target's).
    #[arg(long, value_delimiter = ',')]
    pub nemesis: Vec<String>,
    /// Seconds between fault starts and stops.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub nemesis_interval: f64,
    /// Length of the main phase in seconds (default: the target's).
    #[arg(long, value_name = "SECONDS")]
    pub time_limit: Option<f64>,
    /// Client workers.
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Operations per second across all workers; 0 for as fast as the target allows.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Node names (default n1..nN, N the target's). With --ssh-user, the hosts.
    #[arg(long, value_delimiter = ',')]
    pub nodes: Vec<String>,
    /// Keys for keyed workloads.
    #[arg(long, default_value_t = 5)]
    pub keys: usize,
    /// Seconds before a client operation is recorded as `info`.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub op_timeout: f64,
    /// Seconds to wait after healing, before the final reads.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub recovery: f64,
    /// The seed of every random choice (default: from the clock; printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Also write the verdict as JUnit XML to this file (invalid is a
    /// failure, unknown an error), for CI systems.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Run on real hosts over SSH as this user (`--nodes` then names the hosts)
    /// instead of local network namespaces. The user must be root (faultline
    /// does not use sudo); what a host needs: docs/ssh.md.
    #[arg(long)]
    pub ssh_user: Option<String>,
    /// The SSH private key.
    #[arg(long)]
    pub ssh_key: Option<PathBuf>,
    /// The SSH port.
    #[arg(long, default_value_t = 22)]
    pub ssh_port: u16,
    /// The known_hosts file host keys are verified against (default
    /// ~/.ssh/known_hosts); it must exist.
    #[arg(long)]
    pub known_hosts: Option<PathBuf>,
    /// Accept any host key (do not verify hosts).
    #[arg(long)]
    pub insecure_host_keys: bool,
    /// A target option, `key=value` (repeatable; each target's below).
    #[arg(long = "db-opt", value_name = "KEY=VALUE")]
    pub db_opts: Vec<String>,
    /// Run only these checkers on the history (comma-separated) instead of the
    /// workload's (or the target's: refkv with `--conflicts siblings` runs
    /// stats and conflicts).
    #[arg(long = "checker", value_delimiter = ',')]
    pub checkers: Vec<String>,
    /// Run again the plan a run directory's test.json holds (same target,
    /// options and seed); no other option but --junit goes with it.
    #[arg(long, value_name = "RUN_DIR")]
    pub again: Option<PathBuf>,
    /// refkv's replication mode and options (the same as `--db-opt KEY=VALUE`).
    #[command(flatten)]
    pub refkv: faultline_targets::refkv::config::Mode,
}

/// `faultline test`'s options when none is given.
pub fn test_defaults() -> TestArgs {
    #[derive(Parser)]
    struct Bare {
        #[command(flatten)]
        test: TestArgs,
    }
    match Bare::try_parse_from(["faultline"]) {
        Ok(b) => b.test,
        // Cannot happen: `test` has no required option.
        Err(e) => unreachable!("`faultline test` parses without options: {e}"),
    }
}

/// The command line, with the help of the target-dependent flags drawn
/// from the target registry (so `--help` lists every target, its defaults
/// and its options as the registry describes them).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let help = super::targets_help::TargetsHelp::new();
    Cli::command()
        .mut_subcommand("test", |c| help.apply(c))
        .mut_subcommand("test-all", |c| help.apply(c))
}

/// `faultline check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A history file (history.jsonl, history.edn, a Jepsen log) or a run directory.
    pub path: PathBuf,
    /// The workload the history comes from; decides the checkers. A run directory's
    /// test.json supplies it when omitted; otherwise `none` (generic checkers only).
    #[arg(long, short)]
    pub workload: Option<String>,
    /// Run only these checkers (comma-separated or repeated) instead of the workload's.
    #[arg(long = "checker", short, value_delimiter = ',')]
    pub checkers: Vec<String>,
    /// Force the input format instead of detecting it: jsonl, edn or jepsen-log.
    #[arg(long)]
    pub format: Option<Format>,
    /// Print the result as one JSON object on stdout instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Linearizability model: register, cas-register, kv, mutex or queue
    /// (default: the workload's).
    #[arg(long, short)]
    pub model: Option<String>,
    /// The value before the first write, as JSON or EDN. Registers: without it the
    /// initial value is unknown and a read of nil says nothing (Knossos' rule);
    /// `--initial nil` makes nil the initial value, so a nil read is evidence like
    /// any other. A run directory's test.json supplies it (faultline's register
    /// runs record nil). A counter's (default 0); a bank's total or balances
    /// (default: the first read's).
    #[arg(long, value_name = "V")]
    pub initial: Option<String>,
    /// Values are jepsen.independent [key value] tuples: check each key on its own.
    #[arg(long)]
    pub independent: bool,
    /// Give up after this many seconds; the verdict is then `unknown`.
    #[arg(long, value_name = "SECONDS")]
    pub time_limit: Option<f64>,
    /// Give up when the search holds this many MiB; the verdict is then `unknown`
    /// (default 4096).
    #[arg(long, value_name = "MIB")]
    pub memory_limit: Option<usize>,
    /// Keys searched in parallel (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// The consistency model the store claims: read-uncommitted, read-committed,
    /// repeatable-read, snapshot-isolation, serializable, strong-session-serializable,
    /// strict-serializable, read-your-writes, monotonic-reads, monotonic-writes,
    /// writes-follow-reads. The elle checker fails on what it forbids (default
    /// strict-serializable); the session checker reports every violation but fails
    /// only on guarantees the model promises (without this option: on all of them).
    #[arg(long, value_name = "MODEL")]
    pub consistency_model: Option<String>,
    /// Bank: balances may go below zero (by default a negative balance is an anomaly).
    #[arg(long)]
    pub allow_negative: bool,
}

/// `faultline calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// The target whose cases to run (`faultline list`; each lists its own).
    #[arg(long, default_value = "refkv")]
    pub target: String,
    /// Seeds to run every case with (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub seeds: Vec<u64>,
    /// Main phase of each run, in seconds [default: the case's, else 8].
    #[arg(long, value_name = "SECONDS")]
    pub time_limit: Option<f64>,
    /// Seconds between fault starts and stops [default: the case's, else 2].
    #[arg(long, value_name = "SECONDS")]
    pub nemesis_interval: Option<f64>,
    /// Run the whole matrix, not only the CI set.
    #[arg(long)]
    pub full: bool,
    /// Run only these cases (comma-separated names; `faultline calibrate --list`).
    #[arg(long, value_delimiter = ',')]
    pub case: Vec<String>,
    /// List the cases and what each expects, without running them.
    #[arg(long)]
    pub list: bool,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Also write the verdict as JUnit XML to this file (invalid is a
    /// failure, unknown an error), for CI systems.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// `faultline test-all`.
#[derive(Debug, Args)]
pub struct TestAllArgs {
    /// Workloads, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub workloads: Vec<String>,
    /// Nemeses, comma-separated; join faults of one cell with `+` (e.g.
    /// `none,partition-leader,kill+pause`).
    #[arg(long, value_delimiter = ',', required = true)]
    pub nemeses: Vec<String>,
    /// Every `faultline test` option, applied to each cell (`--junit` writes
    /// one test case per cell).
    #[command(flatten)]
    pub test: TestArgs,
}

/// `faultline store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The store (the `--store` runs were written to).
    #[arg(long, default_value = "store", global = true)]
    pub store: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub action: StoreAction,
}

/// `faultline store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// List runs, newest first: verdict, size on disk, test/run, anomalies.
    List,
    /// Remove runs by count and/or age; a run is removed when it is beyond
    /// `--keep` and older than `--older-than` (whichever are given). Runs
    /// found invalid, runs without results.json and the latest run are kept.
    Prune(PruneArgs),
}

/// `faultline store prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Keep the newest N runs of each test.
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Remove only runs started longer ago than AGE (`30m`, `12h`, `7d`, `2w`).
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
    /// Also remove runs whose verdict is false (kept by default: evidence).
    #[arg(long)]
    pub include_invalid: bool,
    /// Also remove runs without results.json (still recording, or killed).
    #[arg(long)]
    pub include_incomplete: bool,
    /// Say what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `faultline serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The store to serve (the `--store` runs were written to).
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// The address to listen on (a non-loopback address exposes every run's
    /// files to the network).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
}
