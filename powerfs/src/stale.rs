//! Finding and removing powerfs mounts, including ones left by a dead run.
//!
//! Every powerfs mount carries the fsname `faultline-powerfs` (and the
//! type `fuse.faultline-powerfs`), so `/proc/mounts` alone tells which
//! mounts are ours: [`mounts`] lists them, [`force_unmount`] removes one
//! with `fusermount3 -u -z` (lazy: it detaches even while a process still
//! has files open there). `faultline cleanup` can call [`cleanup_all`]
//! after a SIGKILLed run. A daemon that dies is also unmounted by the
//! `fusermount3` watchdog the `auto_unmount` option leaves running.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Error;

/// The fsname and subtype every powerfs mount has in `/proc/mounts`.
pub const FSNAME: &str = "faultline-powerfs";

/// Decodes the octal escapes (`\040` for a space) of a `/proc/mounts` field.
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points of powerfs mounts in a `/proc/mounts`-formatted text.
pub fn parse_mounts(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (src, dir, ty) = (f.next()?, f.next()?, f.next()?);
            (src == FSNAME || ty == format!("fuse.{FSNAME}")).then(|| PathBuf::from(unescape(dir)))
        })
        .collect()
}

/// Mount points of all powerfs mounts on this machine.
pub fn mounts() -> Vec<PathBuf> {
    fs::read_to_string("/proc/mounts")
        .map(|t| parse_mounts(&t))
        .unwrap_or_default()
}

/// Whether a powerfs mount is at `dir`.
pub fn is_mounted(dir: &Path) -> bool {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    mounts().contains(&dir)
}

/// Checks that this machine can mount powerfs (`/dev/fuse` and `fusermount3`).
pub fn available() -> Result<(), Error> {
    if !Path::new("/dev/fuse").exists() {
        return Err(Error::Unavailable("/dev/fuse is missing".into()));
    }
    match Command::new("fusermount3").arg("-V").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err(Error::Unavailable(
            "fusermount3 not found (Debian package fuse3)".into(),
        )),
    }
}

/// Lazily unmounts `dir` with `fusermount3 -u -z`.
pub fn force_unmount(dir: &Path) -> Result<(), Error> {
    let out = Command::new("fusermount3")
        .arg("-u")
        .arg("-z")
        .arg(dir)
        .output()
        .map_err(|e| Error::Mount(dir.to_path_buf(), e))?;
    if out.status.success() || !is_mounted(dir) {
        Ok(())
    } else {
        let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(Error::Mount(dir.to_path_buf(), std::io::Error::other(msg)))
    }
}

/// Unmounts every powerfs mount; returns the ones removed.
pub fn cleanup_all() -> Vec<PathBuf> {
    mounts()
        .into_iter()
        .filter(|m| force_unmount(m).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_our_mounts_only() {
        let text = "proc /proc proc rw 0 0\n\
                    faultline-powerfs /tmp/a\\040b fuse.faultline-powerfs rw,nosuid 0 0\n\
                    sshfs /mnt/x fuse.sshfs rw 0 0\n\
                    garbage\n";
        assert_eq!(parse_mounts(text), vec![PathBuf::from("/tmp/a b")]);
        assert_eq!(unescape("\\04"), "\\04");
    }
}
