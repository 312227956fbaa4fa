//! The one registry of targets is the one list: every registered target
//! appears in `faultline list` and in `faultline test --help` as the
//! registry describes it, and can be set up by its name (as root: a short
//! run of its default workload with no faults, which must pass).

use std::process::{Command, Output};

use faultline_plan::Registry;

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("run faultline")
}

#[test]
fn every_registered_target_is_listed_and_in_the_help() {
    let reg = Registry::builtin();
    assert!(reg.names().len() >= 6, "{:?}", reg.names());
    let list = String::from_utf8(faultline(&["list"]).stdout).unwrap();
    let help = String::from_utf8(faultline(&["test", "--help"]).stdout).unwrap();
    for k in reg.kinds() {
        let a = k.about();
        assert!(!a.summary.is_empty(), "{} has no summary", a.name);
        // Whether the wall-clock shim reaches it is the target's to say.
        let shim = a
            .clock_shim
            .describe()
            .unwrap_or_else(|| panic!("{} does not say whether the clock shim reaches it", a.name));
        assert!(
            list.contains(&format!("clock shim: {shim}")),
            "{}: {shim}",
            a.name
        );
        assert!(
            list.lines()
                .any(|l| l.trim_start().starts_with(&format!("{} ", a.name))
                    && l.contains(&a.summary)),
            "{} not in list:\n{list}",
            a.name
        );
        assert!(
            help.contains(&format!("`{}` ({})", a.name, a.summary)),
            "{} not in --help",
            a.name
        );
        // Its default test, its own faults and options are described where a
        // user looks for them.
        assert!(
            list.contains(&format!("default: {} under", a.defaults.workload)),
            "{}",
            a.name
        );
        for f in &a.faults {
            assert!(
                help.contains(&f.name),
                "fault {} of {} not in --help",
                f.name,
                a.name
            );
        }
        for o in a.options.iter().flatten() {
            assert!(
                help.contains(&format!("`{}` {}", o.name, o.help)),
                "option {} of {} not in --help",
                o.name,
                a.name
            );
        }
        // Every default fault is one it offers.
        for f in &a.defaults.nemesis {
            let offered = a.faults.iter().any(|o| &o.name == f)
                || (a.node_faults && faultline_nemesis::local::KINDS.contains(&f.as_str()));
            assert!(offered, "{}: default fault {f} not offered", a.name);
        }
        assert!(a.workloads.contains(&a.defaults.workload), "{}", a.name);
    }
}

#[test]
fn an_unknown_target_is_refused_naming_the_registered_ones() {
    let o = faultline(&["test", "--target", "nosuchdb", "--store", "/nonexistent/x"]);
    assert_eq!(o.status.code(), Some(254));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    for n in Registry::builtin().names() {
        assert!(err.contains(&n), "{n} not named: {err}");
    }
}

#[test]
fn every_registered_target_can_be_set_up_by_name() {
    if !faultline_harness::network::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let store = d.path().to_str().unwrap();
    for k in Registry::builtin().kinds() {
        let a = k.about();
        // Garage is built with cargo (about half an hour), never by a test.
        if a.name == "garage" && !garage_built() {
            eprintln!("skipped garage: no garage binary (cargo install garage --locked --root /var/lib/faultline)");
            continue;
        }
        let o = faultline(&[
            "test",
            "--target",
            &a.name,
            "--workload",
            &a.defaults.workload,
            "--nemesis",
            "none",
            "--nodes",
            "n1,n2,n3",
            "--time-limit",
            "1",
            "--rate",
            "100",
            "--seed",
            "1",
            "--store",
            store,
        ]);
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        // Set up, ran and judged: a verdict either way (a 1 s healthy run of
        // a database that is not linearizable by design, such as ZooKeeper's
        // plain reads, may rightly be invalid), never a setup error.
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}: {out}", a.name);
        assert!(
            out.contains("verdict: valid") || out.contains("verdict: INVALID"),
            "{}: {out}",
            a.name
        );
        let ops: u64 = out
            .lines()
            .find(|l| l.contains(" ops in "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(ops > 0, "{}: no operation ran: {out}", a.name);
        let run = std::fs::canonicalize(d.path().join("latest")).unwrap();
        assert!(
            run.display()
                .to_string()
                .contains(&format!("/{}-{}/", a.name, a.defaults.workload)),
            "{}: {}",
            a.name,
            run.display()
        );
    }
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let ns = String::from_utf8_lossy(&ns.stdout);
    assert!(!ns.contains("fl-"), "namespaces left: {ns}");
}

/// Whether a Garage binary is here: built in /var/lib/faultline or on PATH.
fn garage_built() -> bool {
    std::path::Path::new("/var/lib/faultline/bin/garage").exists()
        || Command::new("sh")
            .args(["-c", "command -v garage"])
            .output()
            .is_ok_and(|o| o.status.success())
}

/// The table of targets in docs/targets.md, as the registry describes them.
fn targets_table() -> String {
    let mut t = String::from(
        "| target | what it is | default test: workload; faults; seconds; nodes | its own faults | its options |\n|---|---|---|---|---|\n",
    );
    let code = |v: Vec<String>| {
        if v.is_empty() {
            "—".to_owned()
        } else {
            v.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    for k in Registry::builtin().kinds() {
        let a = k.about();
        let d = &a.defaults;
        t.push_str(&format!(
            "| `{}` | {} | `{}`; {}; {}; {} | {} | {} |\n",
            a.name,
            a.summary,
            d.workload,
            if d.nemesis.is_empty() {
                "none".to_owned()
            } else {
                code(d.nemesis.clone())
            },
            d.time_limit,
            d.nodes,
            code(a.fault_names()),
            code(a.options.iter().flatten().map(|o| o.name.clone()).collect()),
        ));
    }
    t
}

/// docs/targets.md's table is the registry's: regenerated here and compared
/// (`FAULTLINE_BLESS=1` rewrites it after a change to the registry).
#[test]
fn the_docs_table_of_targets_is_the_registry() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/targets.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let begin =
        "<!-- targets table: generated from the registry, checked by tests/registry.rs -->\n";
    let end = "<!-- end of targets table -->";
    let i = doc.find(begin).expect("begin marker in docs/targets.md") + begin.len();
    let j = doc[i..].find(end).expect("end marker in docs/targets.md") + i;
    let want = targets_table();
    if doc[i..j] != want {
        if std::env::var_os("FAULTLINE_BLESS").is_some() {
            std::fs::write(&path, format!("{}{want}{}", &doc[..i], &doc[j..])).unwrap();
        } else {
            panic!("docs/targets.md's table differs from the registry; it should be:\n{want}");
        }
    }
}

/// A target that says the clock shim cannot reach its servers has its clock
/// faults refused in one line before anything starts, saying why (as the
/// registry says it); the others are not refused for that reason.
#[test]
fn clock_faults_the_shim_cannot_deliver_are_refused_up_front() {
    if !faultline_harness::network::is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let reg = Registry::builtin();
    let mut refused = 0;
    for k in reg.kinds() {
        let a = k.about();
        let faultline_targets::ClockShim::Cannot(why) = &a.clock_shim else {
            continue;
        };
        let o = faultline(&[
            "test",
            "--target",
            &a.name,
            "--nemesis",
            "clock-drift",
            "--store",
            "/nonexistent/never-written",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(254), "{}: {err}", a.name);
        assert_eq!(
            err.trim(),
            format!("error: `clock-drift` cannot move {}'s clock on local namespaces: {why} (the clock shim works through libc); on SSH hosts clock faults move the host's real clock", a.name)
        );
        refused += 1;
    }
    assert!(
        refused >= 1,
        "etcd, at least, says the shim cannot reach it"
    );
}
