//! `faultline test --help`, completed from the target registry: the
//! targets, their default tests and their options, as each describes itself.

use faultline_nemesis::local::KINDS;
use faultline_plan::{Kind, Registry};

/// The registry's facts, rendered once for the flags that need them.
pub struct TargetsHelp {
    target: String,
    workload: String,
    nemesis: String,
    time_limit: String,
    nodes: String,
    db_opt: String,
}

impl TargetsHelp {
    /// Reads the built-in registry.
    pub fn new() -> TargetsHelp {
        let reg = Registry::builtin();
        let abouts: Vec<_> = reg.kinds().iter().map(|k| k.about()).collect();
        let mut target = String::from("The system under test: ");
        let names: Vec<String> = abouts
            .iter()
            .map(|a| format!("`{}` ({})", a.name, a.summary))
            .collect();
        target.push_str(&names.join("; "));
        target.push_str(
            "; or a target manifest: a path (ending in `.toml` or containing `/`), or a \
             manifest's name on FAULTLINE_TARGET_PATH (colon-separated directories; default \
             targets.d:/etc/faultline/targets). `faultline list` shows them all; see docs/targets.md.",
        );
        let per = |f: &dyn Fn(&dyn Kind) -> String| -> String {
            reg.kinds()
                .iter()
                .map(|k| format!("{} {}", k.about().name, f(k.as_ref())))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let workload = format!(
            "The workload: {}. Default per target: {}; a manifest its first workload.",
            faultline_harness::runner::GENERATED.join(", "),
            per(&|k| {
                let d = k.about().defaults;
                match k.defaults(&[("replication".into(), "leaderless".into())]) {
                    Ok(other) if k.about().name == "refkv" && other.workload != d.workload => {
                        format!(
                            "{} ({} when leaderless or multi-leader)",
                            d.workload, other.workload
                        )
                    }
                    _ => d.workload,
                }
            })
        );
        let nemesis = format!(
            "Faults to inject, comma-separated; `none` for none. Node faults: {}. Default per \
             target: {}; a manifest its own `[fault.NAME]`s. Targets' own faults: {}. Clock \
             faults start the servers under faultline's wall-clock shim, and are refused for \
             servers it cannot reach (Go or statically linked programs).",
            KINDS.join(", "),
            per(&|k| {
                let n = k.about().defaults.nemesis;
                if n.is_empty() {
                    "none".into()
                } else {
                    n.join(",")
                }
            }),
            reg.kinds()
                .iter()
                .map(|k| k.about())
                .filter(|a| !a.faults.is_empty())
                .map(|a| format!(
                    "{} {}{}",
                    a.name,
                    if a.node_faults { "" } else { "only " },
                    a.fault_names().join(", ")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let time_limit = format!(
            "Length of the main phase in seconds. Default per target: {}; a manifest 30.",
            per(&|k| format!("{}", k.about().defaults.time_limit))
        );
        let nodes = format!(
            "Node names (default n1..nN; N per target: {}; a manifest its `nodes`, 3 unless it \
             says). With --ssh-user, the hosts.",
            per(&|k| k.about().defaults.nodes.to_string())
        );
        let mut db_opt = String::from("A target option, `key=value` (repeatable). ");
        for a in &abouts {
            if let Some(opts) = a.options.as_ref().filter(|o| !o.is_empty()) {
                let list: Vec<String> = opts
                    .iter()
                    .map(|o| format!("`{}` {}", o.name, o.help))
                    .collect();
                db_opt.push_str(&format!("{}: {}. ", a.name, list.join("; ")));
            }
        }
        db_opt.push_str(
            "A manifest: any key, reaching its commands, server and client as the environment \
             variable FAULTLINE_OPT_<KEY> (upper case, `-` as `_`).",
        );
        TargetsHelp {
            target,
            workload,
            nemesis,
            time_limit,
            nodes,
            db_opt,
        }
    }

    /// `c` (`test` or `test-all`) with the registry's help on its flags.
    pub fn apply(&self, c: clap::Command) -> clap::Command {
        let has = |c: &clap::Command, id: &str| c.get_arguments().any(|a| a.get_id() == id);
        let mut c = c;
        for (id, text) in [
            ("target", &self.target),
            ("workload", &self.workload),
            ("nemesis", &self.nemesis),
            ("time_limit", &self.time_limit),
            ("nodes", &self.nodes),
            ("db_opts", &self.db_opt),
        ] {
            if has(&c, id) {
                let text = text.clone();
                c = c.mut_arg(id, |a| a.help(text));
            }
        }
        c
    }
}
