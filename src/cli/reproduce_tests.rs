//! The reproduce line, parsed back by the real argument parser through a real
//! shell, gives the options the run ran with.

use clap::CommandFactory;

use super::*;

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
    match Cli::try_parse_from(&words) {
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
    match Cli::try_parse_from(words)? {
        Cli {
            command: Command::Test(a),
            ..
        } => Ok(a),
        _ => unreachable!(),
    }
}

fn resolved(a: &TestArgs) -> Resolved {
    super::super::test::resolve(a, None)
}

/// Pins `a` (a built-in or missing target), builds its line, parses it back.
fn round_trip(a: &TestArgs) -> (TestArgs, TestArgs) {
    // As `faultline test` fills them in.
    let nodes = if a.nodes.is_empty() {
        vec!["n1".to_owned(), "n2".to_owned()]
    } else {
        a.nodes.clone()
    };
    let mut p = pinned(a, &resolved(a), a.seed.unwrap_or(42), &nodes).unwrap();
    let back = parse_line(&line(&p));
    // The one option deliberately left out.
    p.junit = None;
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
        "--known-hosts",
        "kh",
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
    ])
    .unwrap();
    let nodes = a.nodes.clone();
    let p = pinned(&a, &resolved(&a), 7, &nodes).unwrap();
    let l = line(&p);
    let back = parse_line(&l);
    assert_eq!(format!("{back:?}"), format!("{p:?}"), "{l}");
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(back.ssh_user.as_deref(), Some("ops"));
    assert_eq!(back.ssh_port, 2222);
    assert_eq!(back.ssh_key, Some(cwd.join("keys/id ed25519")));
    assert_eq!(back.known_hosts, Some(cwd.join("kh")));
    assert_eq!(back.store, cwd.join("my runs"));
    assert_eq!(back.db_opts, ["sync=quorum", "read-from=standby"]);
    assert_eq!(back.nodes, ["db1", "db2", "db3"]);
    assert_eq!(back.workload.as_deref(), Some("set"));
    assert_eq!(back.nemesis, ["failover-lagging"]);
    // And test.json holds the same, as fields.
    let j = json(&p);
    assert_eq!(j["ssh-user"], "ops");
    assert_eq!(j["ssh-port"], 2222);
    assert_eq!(j["db-opt"][1], "read-from=standby");
    assert_eq!(j["seed"], 7);
    assert_eq!(j["time-limit"], 30.0);
    assert!(j.get("refkv").is_none(), "{j}");
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
    let a = parse(&["--target", &rel, "--workload", "register"]).unwrap();
    let p = pinned(&a, &resolved(&a), 1, &["n1".into()]).unwrap();
    assert_eq!(
        p.target,
        std::path::absolute(&rel).unwrap().display().to_string()
    );
    assert!(std::path::Path::new(&p.target).is_absolute());
    let back = parse_line(&line(&p));
    assert_eq!(back.target, p.target);
    assert!(line(&p).contains(&format!("--store {}", cwd.join("store").display())));
}

/// Every option `faultline test` has, set to something other than its
/// default, survives the round trip: a new flag that the line forgets fails
/// here without this test knowing its name.
#[test]
fn every_option_survives_the_round_trip() {
    let cmd = Cli::command();
    let test = cmd.find_subcommand("test").unwrap();
    let base = defaults();
    let candidates = [
        "7",
        "0.25",
        "a=b",
        "/tmp/x y",
        "n1,n2",
        "partition",
        "mdb.toml",
    ];
    let mut tried = 0;
    for arg in test.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if ["help", "version", "junit"].contains(&long) {
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
        let changed = values.iter().find_map(|v| {
            let a = if v.is_empty() {
                parse(&[&flag])
            } else {
                parse(&[&flag, v])
            }
            .ok()?;
            (format!("{a:?}") != format!("{base:?}")).then_some(a)
        });
        let a = changed.unwrap_or_else(|| panic!("no value changes {flag}"));
        let (p, back) = round_trip(&a);
        assert_eq!(format!("{back:?}"), format!("{p:?}"), "{flag} is lost");
        tried += 1;
    }
    assert!(tried > 20, "only {tried} options");
}
