//! `faultline store list|prune`: housekeeping of the run store.
//!
//! `list` shows every run (newest first) with its verdict and its size on
//! disk; `prune` removes runs by count (`--keep N`: the newest N of each
//! test stay) and/or by age (`--older-than 7d`), taking the age from the
//! run directory's name (its UTC start time).
//!
//! The invariant: pruning never removes evidence by default. A run whose
//! verdict is `false` (an anomaly was found) stays unless
//! `--include-invalid`; a run without `results.json` (still recording, or
//! killed) stays unless `--include-incomplete`; the run a `latest` link
//! names always stays. `--dry-run` says what would go and removes nothing.

use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use faultline_checkers::Validity;
use faultline_reports::serve::{scan, RunEntry};

use super::args::{PruneArgs, StoreAction};
use super::exit::Failure;

/// Runs `faultline store ACTION` over the store at `root`; returns what to print.
pub fn store(root: &Path, action: &StoreAction) -> Result<String, Failure> {
    if !root.is_dir() {
        return Err(Failure::bad(format!("{}: no store here", root.display())));
    }
    let runs = scan(root);
    match action {
        StoreAction::List => Ok(list(root, &runs)),
        StoreAction::Prune(args) => prune(root, &runs, args, SystemTime::now()),
    }
}

fn list(root: &Path, runs: &[RunEntry]) -> String {
    let mut out = String::new();
    let mut total = 0u64;
    for r in runs {
        let size = dir_size(&root.join(&r.test).join(&r.timestamp));
        total += size;
        let _ = writeln!(
            out,
            "{:<8} {:>9}  {}/{}{}",
            verdict(r),
            human(size),
            r.test,
            r.timestamp,
            if r.anomaly_types.is_empty() {
                String::new()
            } else {
                format!("  ({})", r.anomaly_types.join(", "))
            }
        );
    }
    let _ = writeln!(out, "{} runs, {} in all", runs.len(), human(total));
    out
}

fn verdict(r: &RunEntry) -> &'static str {
    if !r.has_results {
        return "running?";
    }
    match r.valid {
        Validity::True => "valid",
        Validity::False => "INVALID",
        Validity::Unknown => "unknown",
    }
}

fn prune(
    root: &Path,
    runs: &[RunEntry],
    args: &PruneArgs,
    now: SystemTime,
) -> Result<String, Failure> {
    if args.keep.is_none() && args.older_than.is_none() {
        return Err(Failure::bad(
            "store prune: say what to remove: --keep N and/or --older-than AGE",
        ));
    }
    let older_than = match &args.older_than {
        Some(a) => Some(parse_age(a).map_err(Failure::bad)?),
        None => None,
    };
    let latest: Vec<_> = std::iter::once(root.join("latest"))
        .chain(runs.iter().map(|r| root.join(&r.test).join("latest")))
        .filter_map(|l| std::fs::canonicalize(l).ok())
        .collect();
    let doomed = select(runs, args, older_than, now);
    let mut out = String::new();
    let (mut removed, mut freed) = (0usize, 0u64);
    for r in doomed {
        let dir = root.join(&r.test).join(&r.timestamp);
        if std::fs::canonicalize(&dir).is_ok_and(|d| latest.contains(&d)) {
            continue;
        }
        let size = dir_size(&dir);
        if !args.dry_run {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| Failure::Internal(anyhow::anyhow!("remove {}: {e}", dir.display())))?;
        }
        let _ = writeln!(
            out,
            "{} {}/{} ({})",
            if args.dry_run {
                "would remove"
            } else {
                "removed"
            },
            r.test,
            r.timestamp,
            human(size)
        );
        removed += 1;
        freed += size;
    }
    let _ = writeln!(
        out,
        "{} {removed} runs, {}{}",
        if args.dry_run {
            "would remove"
        } else {
            "removed"
        },
        human(freed),
        if args.include_invalid {
            ""
        } else {
            "; invalid runs kept (--include-invalid to prune them too)"
        }
    );
    Ok(out)
}

/// The runs `args` would remove: beyond the newest `keep` of their test
/// (when given) and older than `older_than` (when given), minus the runs kept
/// for their verdict. `runs` is newest first, as [`scan`] lists them.
fn select<'a>(
    runs: &'a [RunEntry],
    args: &PruneArgs,
    older_than: Option<Duration>,
    now: SystemTime,
) -> Vec<&'a RunEntry> {
    let mut seen: std::collections::HashMap<&str, usize> = Default::default();
    let mut doomed = Vec::new();
    for r in runs {
        let rank = seen.entry(r.test.as_str()).or_default();
        *rank += 1;
        let beyond_count = args.keep.is_none_or(|k| *rank > k);
        let old = older_than.is_none_or(|age| {
            started(&r.timestamp)
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|d| d > age)
        });
        let kept_for_verdict = (!r.has_results && !args.include_incomplete)
            || (r.has_results && r.valid == Validity::False && !args.include_invalid);
        if beyond_count && old && !kept_for_verdict {
            doomed.push(r);
        }
    }
    doomed
}

/// `30m`, `12h`, `7d`, `2w` (a bare number is days).
fn parse_age(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| {
        format!("--older-than {s:?}: expected a number and a unit (30m, 12h, 7d, 2w)")
    })?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" | "" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("--older-than {s:?}: unit must be s, m, h, d or w")),
    };
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

/// The start time a run directory's name (`YYYYMMDDTHHMMSS.mmmZ`, maybe with
/// a `-N` suffix) gives.
fn started(name: &str) -> Option<SystemTime> {
    let b = name.as_bytes();
    if b.len() < 15 || b[8] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| name.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + s;
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// Bytes under `dir`, symlinks not followed.
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(test: &str, ts: &str, valid: Option<Validity>) -> RunEntry {
        RunEntry {
            test: test.into(),
            timestamp: ts.into(),
            valid: valid.unwrap_or(Validity::Unknown),
            anomaly_types: Vec::new(),
            has_results: valid.is_some(),
            has_log: true,
            interrupted: false,
        }
    }

    fn args(keep: Option<usize>) -> PruneArgs {
        PruneArgs {
            keep,
            older_than: None,
            include_invalid: false,
            include_incomplete: false,
            dry_run: true,
        }
    }

    #[test]
    fn run_names_give_their_start_time() {
        let t = started("20261122T021828.123Z").unwrap();
        let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs, 1_795_313_908);
        assert_eq!(
            started("20000229T000000.000Z-2").unwrap(),
            UNIX_EPOCH + Duration::from_secs(951_782_400)
        );
        assert!(started("latest").is_none());
        assert!(started("20261399T000000.000Z").is_none());
    }

    #[test]
    fn ages_parse_with_units() {
        assert_eq!(parse_age("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_age("7").unwrap(), Duration::from_secs(7 * 86_400));
        assert!(parse_age("7y").is_err());
        assert!(parse_age("d").is_err());
    }

    #[test]
    fn keep_counts_per_test_and_spares_invalid_and_incomplete_runs() {
        let runs = [
            run("a", "20261205T120000.000Z", Some(Validity::True)),
            run("b", "20261205T115000.000Z", Some(Validity::True)),
            run("a", "20261205T110000.000Z", Some(Validity::False)),
            run("a", "20261205T100000.000Z", None),
            run("a", "20261205T090000.000Z", Some(Validity::Unknown)),
            run("b", "20261205T080000.000Z", Some(Validity::True)),
        ];
        let now = SystemTime::now();
        let names = |v: Vec<&RunEntry>| v.iter().map(|r| r.timestamp.clone()).collect::<Vec<_>>();
        let doomed = select(&runs, &args(Some(1)), None, now);
        assert_eq!(
            names(doomed),
            ["20261205T090000.000Z", "20261205T080000.000Z"]
        );
        let mut all = args(Some(0));
        all.include_invalid = true;
        all.include_incomplete = true;
        assert_eq!(select(&runs, &all, None, now).len(), runs.len());
        // By age: only runs started more than an hour before 12:30 go.
        let at = started("20261205T123000.000Z").unwrap();
        let doomed = select(&runs, &args(None), Some(Duration::from_secs(3600)), at);
        assert_eq!(
            names(doomed),
            ["20261205T090000.000Z", "20261205T080000.000Z"]
        );
    }
}
