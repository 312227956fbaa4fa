//! `faultline check FILE|RUN_DIR`: read a history, run the workload's checkers,
//! print the verdict, and (for a run directory) rewrite its `results.json`.

use anyhow::Context;
use faultline_checkers::{CheckOptions, Interruption, Validity};
use faultline_harness::RunDir;
use faultline_history::{parse_edn_value, read_path, Value};
use faultline_plan::check::{initial_json, Checking};

use super::args::CheckArgs;
use super::exit::Failure;
use super::test::failure;

/// What a check produced: the verdict and the text for stdout.
pub struct Checked {
    /// The combined validity.
    pub valid: Validity,
    /// What to print on stdout.
    pub stdout: String,
    /// Warnings and notes for stderr, each with its `warning:`/`note:` prefix.
    pub messages: Vec<String>,
}

/// Runs `faultline check`, once per process: the history read is left for
/// the process's exit to free.
pub fn check(args: &CheckArgs) -> Result<Checked, Failure> {
    let (file, run, spec) = if args.path.is_dir() {
        let run = RunDir::open(&args.path).map_err(Failure::bad)?;
        let spec = run.test_spec().map_err(Failure::bad)?;
        let file = run.history_file().unwrap_or_else(|| run.history_path());
        (file, Some(run), spec)
    } else {
        (args.path.clone(), None, None)
    };
    // A run directory's test.json knows the workload and the initial value.
    let spec_workload = spec.as_ref().and_then(|s| s.workload.clone());
    let spec_initial: Option<Value> = spec
        .as_ref()
        .and_then(|s| s.options.get("initial").cloned())
        .and_then(|v| serde_json::from_value(v).ok());
    let name = args
        .workload
        .clone()
        .or(spec_workload)
        .unwrap_or_else(|| "none".to_owned());
    let mut opts = options(args)?;
    if opts.initial.is_none() {
        opts.initial = spec_initial;
    }
    // A run's own checkers, when it asked for some or its target chose them
    // (refkv keeping siblings): re-checking judges it as the run did.
    let only = if args.checkers.is_empty() {
        spec.as_ref()
            .and_then(|s| s.options.get("plan"))
            .and_then(|p| serde_json::from_value::<faultline_plan::Plan>(p.clone()).ok())
            .filter(|_| args.workload.is_none())
            .and_then(|p| {
                if !p.checkers.is_empty() {
                    return Some(p.checkers);
                }
                let kind = faultline_plan::Registry::builtin().find(&p.target).ok()?;
                Some(kind.checkers(&p.options))
            })
            .unwrap_or_default()
    } else {
        args.checkers.clone()
    };
    // Checkers and their options are refused before the history is read.
    let checking = Checking::new(&name, &only, opts).map_err(failure)?;
    let mut loaded = read_path(&file, args.format).map_err(Failure::bad)?;
    let messages: Vec<String> = std::mem::take(&mut loaded.warnings)
        .into_iter()
        .map(|w| format!("warning: {w}"))
        .collect();
    let history = &loaded.history;
    let results = checking.check(&file, history).map_err(failure)?;
    // A run stopped by a signal stays at best unknown when re-checked.
    let interrupted: Option<Interruption> = spec
        .as_ref()
        .and_then(|s| s.options.get("interrupted").cloned())
        .and_then(|v| serde_json::from_value(v).ok());
    let mut results = results;
    if let Some(why) = interrupted {
        results = results.interrupted(why);
    }
    let mut j = serde_json::to_value(&results)
        .context("encoding results")
        .map_err(Failure::Internal)?;
    j["initial"] = initial_json(
        checking.workload().name,
        checking.options().initial.as_ref(),
    );
    if let Some(run) = &run {
        run.write_results(&j)
            .context("writing results.json")
            .map_err(Failure::Internal)?;
    }
    let mut stdout = if args.json {
        let mut s = j.to_string();
        s.push('\n');
        s
    } else {
        let subject = format!("{} ({} events)", file.display(), history.len());
        let mut s = faultline_reports::summary(&results, &subject);
        for x in faultline_reports::node_exits(history) {
            s.push_str(&format!("{}\n", x.sentence()));
        }
        s
    };
    if let (Some(run), false) = (&run, args.json) {
        stdout.push_str(&super::report::report_line(run.path()));
    }
    // The process ends once the verdict is printed: handing a long history's
    // millions of values back to the allocator one by one would only delay
    // it (about 0.3 s for 1M list-append transactions).
    std::mem::forget(loaded);
    Ok(Checked {
        valid: results.valid,
        stdout,
        messages,
    })
}

/// Checker options from the flags.
fn options(args: &CheckArgs) -> Result<CheckOptions, Failure> {
    let initial = args.initial.as_deref().map(parse_value);
    let time_limit = match args.time_limit {
        Some(s) if s.is_finite() && s > 0.0 => Some(std::time::Duration::from_secs_f64(s)),
        Some(s) => {
            return Err(Failure::bad(format!(
                "--time-limit must be a positive number of seconds, not {s}"
            )))
        }
        None => None,
    };
    Ok(CheckOptions {
        model: args.model.clone(),
        initial,
        independent: args.independent,
        time_limit,
        memory_limit: args.memory_limit.map(|m| m.saturating_mul(1 << 20)),
        threads: args.threads,
        consistency_model: args.consistency_model.clone(),
        allow_negative: args.allow_negative,
    })
}

/// A value given on the command line: JSON (`5`, `"x"`, `[1,2]`), else EDN
/// (`:x`, `[1 2]`), else the text as a string.
fn parse_value(text: &str) -> Value {
    serde_json::from_str::<Value>(text)
        .ok()
        .or_else(|| parse_edn_value(text).ok())
        .unwrap_or_else(|| Value::str(text))
}
