//! The store: where runs are kept.
//!
//! ```text
//! store/
//!   latest -> register/20261122T021828.123Z      (the newest run of any test)
//!   register/
//!     latest -> 20261122T021828.123Z             (the newest run of this test)
//!     20261122T021828.123Z/                      (one run directory)
//! ```
//!
//! Run directories are named by their UTC start time, so they sort in time
//! order, and are never reused: two runs started in the same millisecond get
//! distinct names. `latest` links are relative and replaced atomically (a new
//! link renamed over the old), so a reader never sees a missing link.
//! `faultline test` creates its run directory only once the options are
//! checked, and moves `latest` only once the cluster is up: a refused run
//! leaves nothing, a run whose cluster never came up leaves its logs but
//! does not become `latest`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{io_at, StoreError};
use crate::run_dir::RunDir;

/// A directory of runs.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store rooted at `root` (created on first run).
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates a new run directory for `test_name` and points `latest` at it.
    pub fn create_run(&self, test_name: &str) -> Result<RunDir, StoreError> {
        let run = self.begin_run(test_name)?;
        self.mark_latest(&run)?;
        Ok(run)
    }

    /// Creates a new run directory for `test_name` without moving `latest`:
    /// a run whose cluster never came up keeps its node logs here, but
    /// `latest` still names the newest run that ran (see [`Store::mark_latest`]).
    pub fn begin_run(&self, test_name: &str) -> Result<RunDir, StoreError> {
        validate_name(test_name)?;
        let test_dir = self.root.join(test_name);
        fs::create_dir_all(&test_dir).map_err(io_at(&test_dir))?;
        let stamp = timestamp(SystemTime::now());
        let mut name = stamp.clone();
        let mut n = 1;
        let path = loop {
            let path = test_dir.join(&name);
            match fs::create_dir(&path) {
                Ok(()) => break path,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    n += 1;
                    name = format!("{stamp}-{n}");
                }
                Err(e) => return Err(io_at(&path)(e)),
            }
        };
        Ok(RunDir::new_unchecked(path))
    }

    /// Points `latest` (the store's and the test's) at `run`.
    pub fn mark_latest(&self, run: &RunDir) -> Result<(), StoreError> {
        let (Some(name), Some(test_dir)) = (run.path().file_name(), run.path().parent()) else {
            return Err(StoreError::BadName(run.path().display().to_string()));
        };
        let test_name = test_dir.file_name().unwrap_or_default();
        relink(&test_dir.join("latest"), Path::new(name))?;
        relink(&self.root.join("latest"), &Path::new(test_name).join(name))
    }

    /// The newest run, if any.
    pub fn latest(&self) -> Option<PathBuf> {
        let link = self.root.join("latest");
        link.is_dir().then_some(link)
    }
}

fn validate_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name != "latest"
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadName(name.to_owned()))
    }
}

/// Points the symlink `link` at `target`, replacing any old link atomically.
fn relink(link: &Path, target: &Path) -> Result<(), StoreError> {
    let tmp = link.with_extension(format!("tmp{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(io_at(&tmp))?;
    fs::rename(&tmp, link).map_err(io_at(link))
}

/// `YYYYMMDDTHHMMSS.mmmZ` in UTC, as Jepsen names its runs.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{day:02}T{:02}{:02}{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_and_sortable() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_313_908_123);
        assert_eq!(timestamp(t), "20261122T021828.123Z");
        assert_eq!(timestamp(UNIX_EPOCH), "19700101T000000.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(&timestamp(leap)[..8], "20000229");
    }

    #[test]
    fn a_begun_run_moves_latest_only_when_marked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let a = store.create_run("register").unwrap();
        let b = store.begin_run("register").unwrap();
        assert!(b.path().is_dir());
        let latest = || fs::canonicalize(store.latest().unwrap()).unwrap();
        assert_eq!(latest(), fs::canonicalize(a.path()).unwrap());
        store.mark_latest(&b).unwrap();
        assert_eq!(latest(), fs::canonicalize(b.path()).unwrap());
        let per_test = fs::canonicalize(dir.path().join("store/register/latest")).unwrap();
        assert_eq!(per_test, latest());
    }

    #[test]
    fn runs_get_distinct_dirs_and_latest_follows() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let a = store.create_run("register").unwrap();
        let b = store.create_run("register").unwrap();
        assert_ne!(a.path(), b.path());
        let latest = fs::canonicalize(store.latest().unwrap()).unwrap();
        assert_eq!(latest, fs::canonicalize(b.path()).unwrap());
        let per_test = fs::canonicalize(dir.path().join("store/register/latest")).unwrap();
        assert_eq!(per_test, latest);
        for bad in ["", "..", "a/b", "latest"] {
            assert!(store.create_run(bad).is_err(), "{bad:?}");
        }
    }
}
