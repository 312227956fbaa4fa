//! # faultline
//!
//! A consistency test harness for replicated databases, in the manner of Jepsen,
//! Elle and Porcupine. This binary is the command line; the work is done by the
//! workspace crates (`history`, `checkers`, `harness`, `nemesis`, `targets`,
//! `reports`). See README.md and docs/architecture.md.

mod cli;

use std::io::Write;
use std::panic;
use std::process::ExitCode;

use clap::error::ErrorKind;

use cli::{Cli, Command, Failure, BAD_INPUT, INTERNAL};

fn main() -> ExitCode {
    // A panic is a bug: one line, no backtrace, exit 255 (after unwinding, so
    // guards that clean up still run).
    panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("faultline: internal error: {}{at}", msg.replace('\n', " "));
    }));
    match panic::catch_unwind(run) {
        Ok(code) => code,
        Err(_) => ExitCode::from(INTERNAL),
    }
}

fn run() -> ExitCode {
    let cli = match cli::command()
        .try_get_matches()
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    ExitCode::SUCCESS
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    ExitCode::from(BAD_INPUT)
                }
                _ => {
                    let text = e.to_string();
                    let first = text.lines().next().unwrap_or("bad arguments");
                    eprintln!("{first} (see faultline --help)");
                    ExitCode::from(BAD_INPUT)
                }
            };
        }
    };
    if let Err(e) = cli::log::init(cli.verbose, cli.quiet) {
        eprintln!("error: {e}");
        return ExitCode::from(BAD_INPUT);
    }
    let result = match &cli.command {
        Command::Check(args) => cli::check(args).map(|c| {
            for m in &c.messages {
                eprintln!("{m}");
            }
            print_out(&c.stdout);
            c.valid.exit_code()
        }),
        Command::List => {
            print_out(&cli::list());
            Ok(0)
        }
        Command::Test(args) => cli::test(args).map(|run| {
            print_out(&run.summary());
            run.valid().exit_code()
        }),
        Command::TestAll(args) => cli::test_all(args).map(|(out, worst)| {
            print_out(&out);
            worst.exit_code()
        }),
        Command::Calibrate(args) => cli::calibrate(args).map(|(out, held)| {
            print_out(&out);
            u8::from(!held)
        }),
        Command::NewTarget { name, dir } => cli::new_target(name, dir).map(|out| {
            print_out(&out);
            0
        }),
        Command::CheckTarget { file } => {
            cli::check_target(file, &mut std::io::stdout().lock()).map(|()| 0)
        }
        Command::Report { run } => cli::report(run).map(|path| {
            print_out(&format!("{}\n", path.display()));
            0
        }),
        Command::Serve(args) => cli::serve(args).map(|()| 0),
        Command::Store(args) => cli::store(&args.store, &args.action).map(|out| {
            print_out(&out);
            0
        }),
        Command::Cleanup { force } => cli::cleanup(*force).map(|out| {
            print_out(&out);
            0
        }),
        Command::Memserver { listen, workload } => {
            faultline_targets::process::serve(listen, workload)
                .map(|()| 0)
                .map_err(|e| Failure::bad(format!("_memserver {listen}: {e}")))
        }
        Command::Refkv(cfg) => faultline_targets::refkv::serve(cfg.clone())
            .map(|()| 0)
            .map_err(|e| Failure::bad(format!("_refkv {}: {e}", cfg.name))),
        Command::Powerfs {
            backing,
            mount,
            control,
        } => faultline_powerfs::daemon::run(backing, mount, control)
            .map(|()| 0)
            .map_err(|e| Failure::bad(format!("_powerfs {}: {e}", mount.display()))),
        Command::PowerfsCtl { control, request } => powerfs_ctl(control, request),
        Command::Delayer { args } => faultline_nemesis::packet::delayer_main(args)
            .map(|()| 0)
            .map_err(Failure::bad),
        Command::Clock { args } => faultline_harness::hostclock::helper_main(args)
            .map(|out| {
                if !out.is_empty() {
                    print_out(&format!("{out}\n"));
                }
                0
            })
            .map_err(|e| Failure::bad(format!("_clock: {e}"))),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("error: {f}");
            debug_assert!(matches!(f, Failure::BadInput(_) | Failure::Internal(_)));
            ExitCode::from(f.code())
        }
    }
}

/// Prints to stdout; a closed pipe (`| head`) is not an error.
fn print_out(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes()).and_then(|()| out.flush());
}

/// `_powerfs-ctl`: one control request, its reply printed as the daemon's
/// line (`dropped_*` after a power loss).
fn powerfs_ctl(control: &std::path::Path, request: &str) -> Result<u8, Failure> {
    use faultline_powerfs::control::{request as ask, status_line, Command as Ctl};
    let cmd =
        Ctl::parse(request.as_bytes()).map_err(|e| Failure::bad(format!("_powerfs-ctl: {e}")))?;
    let status = ask(control, cmd)
        .map_err(|e| Failure::bad(format!("_powerfs-ctl {}: {e}", control.display())))?;
    let prefix = match cmd {
        Ctl::PowerLoss => "dropped",
        _ => "status",
    };
    println!("{}", status_line(prefix, &status));
    Ok(0)
}
