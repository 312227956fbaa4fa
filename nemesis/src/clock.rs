//! Clock skew: an LD_PRELOAD shim that shifts only the wall clock.
//!
//! A database node is started with faultline's shim preloaded
//! (`LD_PRELOAD=libfaultline_clock.so`) and `FAULTLINE_SKEW_FILE` naming a
//! small text file holding an offset in milliseconds (`+30000`, `-60000`). The
//! shim answers the process's `clock_gettime(CLOCK_REALTIME[_COARSE])`,
//! `gettimeofday`, `time` and `timespec_get(TIME_UTC)` with the real time plus
//! that offset, and re-reads the file at most every 10 ms, so the clock
//! nemesis skews a running node by rewriting its file ([`SkewFile`]) and heals
//! it with [`SkewFile::reset`].
//!
//! Invariant: only the wall clock moves. Monotonic, boottime and CPU clocks
//! pass through untouched, so sleeps, timeouts, condition-variable waits and
//! elapsed-time measurements inside the node stay correct — the node believes
//! the date is wrong, not that time runs strangely. A missing, unreadable or
//! malformed skew file means offset 0, so a reset can never leave a node
//! skewed.
//!
//! The shim (source `nemesis/clockshim/shim.rs`, built by `build.rs`) is a
//! `no_std` Rust library embedded in this crate and written out by
//! [`install_shim`]. It never allocates, never calls `dlsym` and reads clocks
//! with raw system calls, so it works inside processes with their own
//! allocator (Redis with jemalloc) where libfaketime does not. It cannot skew
//! Go programs (etcd, NATS), which read the clock through the vDSO without
//! libc, nor statically linked ones: [`is_go_binary`] lets the nemesis say so
//! plainly instead of pretending.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use thiserror::Error;

pub use crate::elf::is_go_binary;

/// The shim library, built for this target by `build.rs` (empty when the
/// target is unsupported).
pub static SHIM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libfaultline_clock.so"));

/// The file name [`install_shim`] gives the shim.
pub const SHIM_FILE_NAME: &str = "libfaultline_clock.so";

/// The environment variable through which the shim finds its skew file.
pub const SKEW_FILE_ENV: &str = "FAULTLINE_SKEW_FILE";

/// The largest offset the shim accepts, in milliseconds (about 31 years);
/// larger values would be ignored by it, so [`SkewFile`] refuses them.
pub const MAX_OFFSET_MS: i64 = 1_000_000_000_000;

/// Why a clock operation failed.
#[derive(Debug, Error)]
pub enum ClockError {
    /// This build of faultline has no shim (unsupported target).
    #[error("clock skew is not supported on this target (the shim needs x86_64 or aarch64 Linux)")]
    Unsupported,
    /// LD_PRELOAD splits its value at spaces and colons.
    #[error("shim path {0} contains a space or a colon, which LD_PRELOAD cannot carry")]
    BadShimPath(PathBuf),
    /// An offset beyond [`MAX_OFFSET_MS`].
    #[error("clock offset {0} ms is out of range (at most ±{MAX_OFFSET_MS} ms)")]
    OffsetOutOfRange(i64),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ClockError + '_ {
    move |source| ClockError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `bytes` to `path` atomically: into a temporary file beside it, then
/// renamed over it. Readers (and processes that have the old file mapped, as
/// with a loaded shim) see either the old or the new file, never a mix.
fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), ClockError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        fs::write(&tmp, bytes)?;
        if let Some(mode) = mode {
            fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err(path))
}

/// Writes the shim into `dir` (created if missing) as [`SHIM_FILE_NAME`], mode
/// 0755, and returns its path. Idempotent: an identical file is left alone, and
/// a different one is replaced atomically, so processes already running with
/// the old shim are not disturbed.
pub fn install_shim(dir: &Path) -> Result<PathBuf, ClockError> {
    if SHIM.is_empty() {
        return Err(ClockError::Unsupported);
    }
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let dir = fs::canonicalize(dir).map_err(io_err(dir))?;
    let path = dir.join(SHIM_FILE_NAME);
    if path.to_string_lossy().contains([' ', ':']) {
        return Err(ClockError::BadShimPath(path));
    }
    let same = fs::read(&path).is_ok_and(|b| b == SHIM)
        && fs::metadata(&path).is_ok_and(|m| m.permissions().mode() & 0o777 == 0o755);
    if !same {
        write_atomic(&path, SHIM, Some(0o755))?;
    }
    Ok(path)
}

/// The nemeses that skew clocks (and so need daemons under the shim).
pub const FAULTS: &[&str] = &["clock", "clock-ahead", "clock-strobe", "clock-drift"];

/// Whether any of `faults` skews clocks: only then are daemons started
/// under the shim.
pub fn asked(faults: &[String]) -> bool {
    faults.iter().any(|f| FAULTS.contains(&f.as_str()))
}

/// The environment a daemon needs to run under the shim: `LD_PRELOAD` and
/// [`SKEW_FILE_ENV`]. If the daemon already has an `LD_PRELOAD`, append it
/// after the shim's, separated by a space. Give absolute paths (the shim
/// opens the skew file from the daemon's working directory, which daemons
/// change) readable by the daemon's user (an unreadable file means no skew).
pub fn env(shim: &Path, skew_file: &Path) -> Vec<(String, String)> {
    vec![
        ("LD_PRELOAD".to_owned(), shim.to_string_lossy().into_owned()),
        (
            SKEW_FILE_ENV.to_owned(),
            skew_file.to_string_lossy().into_owned(),
        ),
    ]
}

/// One node's skew file: the offset its shim applies to the wall clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkewFile {
    path: PathBuf,
}

impl SkewFile {
    /// The skew file at `path` (nothing is written yet; a missing file means
    /// offset 0).
    pub fn new(path: impl Into<PathBuf>) -> SkewFile {
        SkewFile { path: path.into() }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets the offset, in milliseconds (positive: the node's clock runs
    /// ahead). Atomic; shimmed processes see it within about 10 ms.
    pub fn set_offset_ms(&self, ms: i64) -> Result<(), ClockError> {
        if !(-MAX_OFFSET_MS..=MAX_OFFSET_MS).contains(&ms) {
            return Err(ClockError::OffsetOutOfRange(ms));
        }
        write_atomic(&self.path, format!("{ms:+}\n").as_bytes(), None)
    }

    /// Sets the offset back to 0. Harmless when already 0.
    pub fn reset(&self) -> Result<(), ClockError> {
        self.set_offset_ms(0)
    }

    /// The offset a shimmed process applies now, by the shim's own rules: 0
    /// when the file is missing, unreadable or malformed.
    pub fn offset_ms(&self) -> i64 {
        let mut buf = [0u8; 64];
        let Ok(mut f) = fs::File::open(&self.path) else {
            return 0;
        };
        match f.read(&mut buf) {
            Ok(n) if n < buf.len() => parse_offset(&buf[..n]).unwrap_or(0),
            _ => 0,
        }
    }

    /// Deletes the file (offset 0 for the shim). Harmless when it is gone.
    pub fn remove(&self) -> Result<(), ClockError> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&self.path)(e)),
            _ => Ok(()),
        }
    }
}

/// Parses an offset the way the shim does: `[ws] [+|-] digits [ws]`, at most
/// [`MAX_OFFSET_MS`] in magnitude.
fn parse_offset(text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text)
        .ok()?
        .trim_matches([' ', '\t', '\n', '\r']);
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = digits.parse().ok()?;
    if value > MAX_OFFSET_MS {
        return None;
    }
    Some(if text.starts_with('-') { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_file_round_trips_and_resets() {
        let dir = tempfile::tempdir().unwrap();
        let skew = SkewFile::new(dir.path().join("skew"));
        assert_eq!(skew.offset_ms(), 0, "missing file is offset 0");
        skew.set_offset_ms(30_000).unwrap();
        assert_eq!(fs::read_to_string(skew.path()).unwrap(), "+30000\n");
        assert_eq!(skew.offset_ms(), 30_000);
        skew.set_offset_ms(-60_000).unwrap();
        assert_eq!(skew.offset_ms(), -60_000);
        skew.reset().unwrap();
        skew.reset().unwrap();
        assert_eq!(skew.offset_ms(), 0);
        skew.remove().unwrap();
        skew.remove().unwrap();
        assert!(!skew.path().exists());
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "no temporary files left: {left:?}");
    }

    #[test]
    fn skew_file_refuses_out_of_range_and_reads_garbage_as_zero() {
        let dir = tempfile::tempdir().unwrap();
        let skew = SkewFile::new(dir.path().join("skew"));
        assert!(matches!(
            skew.set_offset_ms(MAX_OFFSET_MS + 1),
            Err(ClockError::OffsetOutOfRange(_))
        ));
        skew.set_offset_ms(-MAX_OFFSET_MS).unwrap();
        assert_eq!(skew.offset_ms(), -MAX_OFFSET_MS);
        for garbage in [
            "",
            "abc",
            "+",
            "12x",
            "1 2",
            "+-5",
            "99999999999999999999",
            "+1e3",
        ] {
            fs::write(skew.path(), garbage).unwrap();
            assert_eq!(skew.offset_ms(), 0, "{garbage:?}");
        }
        fs::write(skew.path(), " \t-250\r\n").unwrap();
        assert_eq!(skew.offset_ms(), -250);
        fs::write(skew.path(), "7").unwrap();
        assert_eq!(skew.offset_ms(), 7);
    }

    #[test]
    fn install_shim_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let a = install_shim(&dir.path().join("lib")).unwrap();
        let b = install_shim(&dir.path().join("lib")).unwrap();
        assert_eq!(a, b);
        assert_eq!(fs::read(&a).unwrap(), SHIM);
        assert_eq!(
            fs::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(fs::read_dir(a.parent().unwrap()).unwrap().count(), 1);
        assert!(matches!(
            install_shim(&dir.path().join("a b")),
            Err(ClockError::BadShimPath(_))
        ));
        let vars = env(&a, Path::new("/tmp/skew"));
        assert_eq!(vars[0], ("LD_PRELOAD".into(), a.display().to_string()));
        assert_eq!(vars[1], (SKEW_FILE_ENV.into(), "/tmp/skew".into()));
    }

    #[test]
    fn the_shim_itself_is_not_a_go_binary() {
        let dir = tempfile::tempdir().unwrap();
        let shim = install_shim(dir.path()).unwrap();
        assert!(!is_go_binary(&shim));
    }
}
