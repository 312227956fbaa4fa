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
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use thiserror::Error;

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

/// How many bytes of a binary [`is_go_binary`] scans when it has no section
/// headers to read.
const GO_SCAN_LIMIT: u64 = 4 << 20;

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
pub const FAULTS: &[&str] = &["clock", "clock-ahead", "clock-strobe"];

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

/// Whether `path` is a Go program (which the shim cannot skew: Go reads the
/// clock through the vDSO, bypassing libc). Looks for Go's ELF sections
/// (`.go.buildinfo`, `.note.go.buildid`, `.gopclntab`) and, in a binary
/// without section headers, for Go's build-id note or build-info magic in its
/// first 4 MiB. Reads a few KiB when there are section headers. Anything
/// unreadable or not ELF is not Go; a script that starts a Go program is not
/// followed.
pub fn is_go_binary(path: &Path) -> bool {
    let Ok(mut f) = fs::File::open(path) else {
        return false;
    };
    match go_sections(&mut f) {
        Some(found) => found,
        None => scan_for_magic(&mut f),
    }
}

/// `Some(whether a Go section exists)` from the ELF section headers, or `None`
/// when there are none to read.
fn go_sections(f: &mut fs::File) -> Option<bool> {
    let Some(elf) = crate::reach::Elf::read(f) else {
        return Some(false);
    };
    let (ehdr, wide) = (elf.header, elf.wide);
    let int = |b: &[u8], off: usize, len: usize| elf.int(b, off, len);
    let (shoff, shentsize, shnum, shstrndx) = if wide {
        (
            int(&ehdr, 0x28, 8),
            int(&ehdr, 0x3a, 2),
            int(&ehdr, 0x3c, 2),
            int(&ehdr, 0x3e, 2),
        )
    } else {
        (
            int(&ehdr, 0x20, 4),
            int(&ehdr, 0x2e, 2),
            int(&ehdr, 0x30, 2),
            int(&ehdr, 0x32, 2),
        )
    };
    let min_entry = if wide { 64 } else { 40 };
    if shoff == 0
        || shnum == 0
        || shnum > 4096
        || !(min_entry..=256).contains(&shentsize)
        || shstrndx >= shnum
    {
        return None;
    }
    let mut table = vec![0u8; (shentsize * shnum) as usize];
    f.seek(SeekFrom::Start(shoff)).ok()?;
    f.read_exact(&mut table).ok()?;
    // (name offset, file offset, size) of section `i`.
    let section = |i: u64| {
        let s = &table[(i * shentsize) as usize..];
        if wide {
            (int(s, 0, 4), int(s, 0x18, 8), int(s, 0x20, 8))
        } else {
            (int(s, 0, 4), int(s, 0x10, 4), int(s, 0x14, 4))
        }
    };
    let (_, str_off, str_size) = section(shstrndx);
    let mut names = vec![0u8; str_size.min(1 << 20) as usize];
    f.seek(SeekFrom::Start(str_off)).ok()?;
    f.read_exact(&mut names).ok()?;
    let name_at = |off: u64| {
        let rest = names.get(off as usize..).unwrap_or_default();
        &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())]
    };
    let go = [&b".go.buildinfo"[..], b".note.go.buildid", b".gopclntab"];
    Some((0..shnum).any(|i| go.contains(&name_at(section(i).0))))
}

/// Whether the first [`GO_SCAN_LIMIT`] bytes hold Go's build-id note (an ELF
/// note named `Go`, type 4, which the Go linker puts near the start of the
/// file) or its build-info magic.
fn scan_for_magic(f: &mut fs::File) -> bool {
    const MAGIC: &[u8] = b"\xff Go buildinf:";
    let mut data = Vec::new();
    if f.seek(SeekFrom::Start(0)).is_err() || f.take(GO_SCAN_LIMIT).read_to_end(&mut data).is_err()
    {
        return false;
    }
    // namesz 4, descsz any, type 4, name "Go\0\0", in either byte order
    let note = |w: &[u8]| {
        w[12..] == *b"Go\0\0"
            && ((w[..4] == [4, 0, 0, 0] && w[8..12] == [4, 0, 0, 0])
                || (w[..4] == [0, 0, 0, 4] && w[8..12] == [0, 0, 0, 4]))
    };
    data.starts_with(b"\x7fELF")
        && (data.windows(16).any(note) || data.windows(MAGIC.len()).any(|w| w == MAGIC))
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

    /// A minimal little-endian ELF64 file whose only sections are the null
    /// section, `.shstrtab` and one named `name`.
    fn fake_elf(name: &str) -> Vec<u8> {
        let names = format!("\0.shstrtab\0{name}\0");
        let shoff = 64 + names.len() as u64;
        let mut f = vec![0u8; 64];
        f[..6].copy_from_slice(b"\x7fELF\x02\x01");
        f[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        f[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        f[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        f[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());
        f.extend_from_slice(names.as_bytes());
        for (name_off, off, size) in [(0u32, 0u64, 0u64), (1, 64, names.len() as u64), (11, 0, 0)] {
            let mut sh = [0u8; 64];
            sh[..4].copy_from_slice(&name_off.to_le_bytes());
            sh[0x18..0x20].copy_from_slice(&off.to_le_bytes());
            sh[0x20..0x28].copy_from_slice(&size.to_le_bytes());
            f.extend_from_slice(&sh);
        }
        f
    }

    #[test]
    fn go_binaries_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            fs::write(&p, bytes).unwrap();
            p
        };
        assert!(is_go_binary(&write("go1", &fake_elf(".go.buildinfo"))));
        assert!(is_go_binary(&write("go2", &fake_elf(".note.go.buildid"))));
        assert!(!is_go_binary(&write("c", &fake_elf(".text"))));
        let mut stripped = vec![0u8; 64];
        stripped[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let mut noted = stripped.clone();
        stripped.extend_from_slice(b"....\xff Go buildinf:\x08\x02");
        assert!(is_go_binary(&write("go3", &stripped)));
        noted.extend_from_slice(b"\x04\0\0\0\x53\0\0\0\x04\0\0\0Go\0\0buildid...");
        assert!(is_go_binary(&write("go4", &noted)));
        noted[64 + 8] = 3; // a note of another type
        assert!(!is_go_binary(&write("c2", &noted)));
        assert!(!is_go_binary(&write("script", b"#!/bin/sh\nexec etcd\n")));
        assert!(!is_go_binary(Path::new("/bin/ls")));
        assert!(!is_go_binary(Path::new("/nonexistent/etcd")));
        let shim = install_shim(dir.path()).unwrap();
        assert!(!is_go_binary(&shim));
    }
}
