//! `faultline serve`: the store in a web browser, until Ctrl-C.
//!
//! The server itself lives in `faultline_reports::serve`; this file only maps
//! its errors to exit statuses: a missing store or an address that cannot be
//! bound is the user's to fix (254), anything else is internal (255).

use faultline_reports::serve::ServeError;

use super::args::ServeArgs;
use super::exit::Failure;

/// Serves `--store` on `--bind`; returns only on an error.
pub fn serve(a: &ServeArgs) -> Result<(), Failure> {
    eprintln!(
        "serving {} on http://{} (Ctrl-C to stop)",
        a.store.display(),
        a.bind
    );
    faultline_reports::serve::serve(a.store.clone(), a.bind).map_err(|e| match e {
        ServeError::NoStore(_) | ServeError::Bind { .. } => Failure::bad(e),
        other => Failure::Internal(other.into()),
    })
}
