//! The flags make a plan; the plan's reproduce line, parsed back by the real
//! argument parser through a real shell, makes the same plan.

use clap::CommandFactory;

use super::*;
use crate::cli::args::{Cli, Command};

/// Splits `line` as `sh` does (a user pastes it into one) and parses the
/// words with faultline's own parser.
fn parse_line(line: &str) -> TestArgs {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s\\0' {line}"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let words: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_owned)
        .collect();
    match <Cli as clap::Parser>::try_parse_from(&words) {
        Ok(Cli {
            command: Command::Test(a),
            ..
        }) => a,
        Ok(_) => panic!("not a test command: {words:?}"),
        Err(e) => panic!("{line}: {e}"),
    }
}

fn parse(args: &[&str]) -> Result<TestArgs, clap::Error> {
    let mut words = vec!["faultline", "test"];
    words.extend(args);
    match <Cli as clap::Parser>::try_parse_from(words)? {
        Cli {
            command: Command::Test(a),
            ..
        } => Ok(a),
        _ => unreachable!(),
    }
}

/// Pins the plan `a` makes, builds its line, parses it back and pins again.
fn round_trip(a: &TestArgs) -> (Plan, Plan) {
    let reg = Registry::builtin();
    let mut plan = plan_of(a).unwrap();
    if plan.nodes.is_empty() {
        plan.nodes = vec!["n1".into(), "n2".into()];
    }
    plan.seed.get_or_insert(42);
    let (p, _) = plan.pin(&reg).unwrap();
    let back = plan_of(&parse_line(&faultline_plan::line(&p))).unwrap();
    let (back, _) = back.pin(&reg).unwrap();
    (p, back)
}

#[test]
fn an_ssh_plan_reproduces_on_the_same_hosts_the_same_way() {
    let a = parse(&[
        "--target",
        "postgres",
        "--nodes",
        "db1,db2,db3",
        "--ssh-user",
        "ops",
        "--ssh-key",
        "keys/id ed25519",
        "--ssh-port",
        "2222",
        "--db-opt",
        "sync=quorum",
        "--db-opt",
        "read-from=standby",
        "--op-timeout",
        "0.5",
        "--recovery",
        "3",
        "--store",
        "my runs",
        "--seed",
        "7",
    ])
    .unwrap();
    let (p, back) = round_trip(&a);
    assert_eq!(back, p, "{}", faultline_plan::line(&p));
    let cwd = std::env::current_dir().unwrap();
    let ssh = back.ssh.clone().unwrap();
    assert_eq!(ssh.user, "ops");
    assert_eq!(ssh.port, 2222);
    assert_eq!(ssh.key, Some(cwd.join("keys/id ed25519")));
    assert_eq!(back.store, cwd.join("my runs"));
    assert_eq!(
        back.options,
        [
            ("sync".to_owned(), "quorum".to_owned()),
            ("read-from".to_owned(), "standby".to_owned())
        ]
    );
    assert_eq!(back.nodes, ["db1", "db2", "db3"]);
    // The target's defaults, from the registry.
    assert_eq!(back.workload.as_deref(), Some("set"));
    assert_eq!(
        back.nemesis,
        Some(vec![Fault::parse("failover-lagging").unwrap()])
    );
    assert_eq!(back.time_limit, Some(30.0));
    // test.json holds the same plan, as JSON, and it reads back.
    let j = serde_json::to_value(&p).unwrap();
    assert_eq!(j["ssh"]["user"], "ops");
    assert_eq!(j["seed"], 7);
    let again: Plan = serde_json::from_value(j).unwrap();
    assert_eq!(again, p);
}

#[test]
fn refkv_flags_are_its_options() {
    let a = parse(&["--replication", "leaderless", "--w", "1", "--seed", "3"]).unwrap();
    let (p, back) = round_trip(&a);
    assert_eq!(back, p);
    assert!(p.option("replication") == Some("leaderless") && p.option("w") == Some("1"));
    // Leaderless refkv's default test.
    assert_eq!(p.workload.as_deref(), Some("register"));
    assert_eq!(
        p.nemesis,
        Some(vec![Fault::Partition(faultline_harness::Scope::One)])
    );
    // An option another target does not have is refused, not ignored.
    let a = parse(&["--target", "memory", "--replication", "majority"]).unwrap();
    let plan = plan_of(&a).unwrap();
    let err = faultline_plan::run(&plan, &Registry::builtin(), &faultline_plan::Quiet)
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("memory has no option \"replication\""),
        "{err}"
    );
}

#[test]
fn a_manifest_named_by_a_relative_path_is_reproduced_by_its_absolute_path() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("db.toml");
    std::fs::write(&m, "").unwrap();
    let cwd = std::env::current_dir().unwrap();
    // A relative path to it, from the working directory.
    let up = cwd.components().count() - 1;
    let rel = format!(
        "{}{}",
        "../".repeat(up),
        m.display().to_string().trim_start_matches('/')
    );
    assert!(!rel.starts_with('/'));
    let abs = Registry::builtin().manifest_path(&rel).unwrap().unwrap();
    assert_eq!(abs, std::path::absolute(&rel).unwrap());
    assert!(abs.is_absolute());
    // A registered name is not a manifest.
    assert_eq!(Registry::builtin().manifest_path("etcd").unwrap(), None);
}

#[test]
fn again_takes_no_other_option() {
    let a = parse(&["--again", "/nonexistent", "--seed", "3"]).unwrap();
    let e = again(&a, std::path::Path::new("/nonexistent"))
        .err()
        .unwrap();
    assert!(e.to_string().contains("no other option but --junit"), "{e}");
    let a = parse(&["--again", "/nonexistent"]).unwrap();
    let e = again(&a, std::path::Path::new("/nonexistent"))
        .err()
        .unwrap();
    assert!(e.to_string().contains("/nonexistent/test.json"), "{e}");
}

/// Every option `faultline test` has, set to something other than its
/// default, survives the round trip: a new flag that the line forgets fails
/// here without this test knowing its name.
#[test]
fn every_option_survives_the_round_trip() {
    let cmd = Cli::command();
    let test = cmd.find_subcommand("test").unwrap();
    let base = plan_of(&crate::cli::args::test_defaults()).unwrap();
    let candidates = ["7", "0.25", "a=b", "/tmp/x y", "n1,n2", "partition", "1"];
    let mut tried = 0;
    for arg in test.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        // --junit says where a report goes and --again names a run, not a plan;
        // SSH flags go with --ssh-user (tested above).
        if [
            "help",
            "version",
            "junit",
            "again",
            "ssh-key",
            "ssh-port",
            "known-hosts",
            "insecure-host-keys",
        ]
        .contains(&long)
        {
            continue;
        }
        let flag = format!("--{long}");
        let takes_value = arg.get_action().takes_values();
        let values: Vec<String> = if !takes_value {
            vec![String::new()]
        } else if !arg.get_possible_values().is_empty() {
            arg.get_possible_values()
                .iter()
                .map(|v| v.get_name().to_owned())
                .collect()
        } else {
            candidates.iter().map(|s| s.to_string()).collect()
        };
        let mut extra: Vec<&str> = Vec::new();
        if long == "ssh-user" {
            extra = vec!["--nodes", "h1"];
        }
        let changed = values.iter().find_map(|v| {
            let mut words: Vec<&str> = if v.is_empty() {
                vec![flag.as_str()]
            } else {
                vec![flag.as_str(), v.as_str()]
            };
            words.extend(&extra);
            let a = parse(&words).ok()?;
            let p = plan_of(&a).ok()?;
            (p != base).then_some(p)
        });
        let p = changed.unwrap_or_else(|| panic!("no value changes {flag}"));
        let back = plan_of(&parse_line(&faultline_plan::line(&p))).unwrap();
        assert_eq!(back, p, "{flag} is lost");
        tried += 1;
    }
    assert!(tried > 20, "only {tried} options");
}
