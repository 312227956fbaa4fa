//! `faultline report RUN_DIR`: (re)builds a run's `report.html`.
//!
//! The report is a pure function of the run directory's history (`history.jsonl.zst`
//! or `history.jsonl`), `results.json` and (optional) `test.json`; it never re-checks. A missing
//! or malformed input is the user's to fix (254), with the file named.

use std::path::{Path, PathBuf};

use super::exit::Failure;

/// Writes `run/report.html`; returns its path.
pub fn report(run: &Path) -> Result<PathBuf, Failure> {
    if !run.is_dir() {
        return Err(Failure::bad(format!(
            "{}: not a run directory",
            run.display()
        )));
    }
    faultline_reports::write_report(run).map_err(Failure::bad)
}

/// Writes the report after a run or a check; a failure becomes a line of
/// output rather than failing what was checked.
pub fn report_line(run: &Path) -> String {
    match faultline_reports::write_report(run) {
        Ok(path) => format!("report: {}\n", path.display()),
        Err(e) => format!("report: not written: {e}\n"),
    }
}
