//! The namespace journal: directory operations a power loss would undo.
//!
//! Directory operations (create, mkdir, symlink, unlink, rmdir, rename) are
//! applied to the backing directory at once, so the mount always shows the
//! latest namespace; each also pushes an [`Undo`] entry that says how to
//! take it back. Nothing is deleted for real while it may have to come
//! back: an unlinked file, a removed directory and a file replaced by a
//! rename move into a hidden trash directory in the backing root.
//!
//! Semantics (ext4-like, `data=ordered`): the journal is one ordered log for
//! the whole filesystem, and any `fsync`/`fdatasync` of a file or of a
//! directory commits it entirely ([`Journal::commit`]: fsync the touched
//! backing directories, then empty the trash). So a new file that was
//! fsynced keeps its name even if its directory never was, as on ext4
//! (whose single journal commits all earlier metadata with any fsync).
//! [`Journal::undo_all`] replays the entries backwards — the power loss.
//! The invariant: after `undo_all`, the backing namespace is exactly what
//! it was at the last commit (entries are undone newest first, so each one
//! finds the paths it recorded).

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Name of the hidden trash directory in the backing root.
pub const TRASH: &str = ".faultline-powerfs-trash";

/// How to take back one directory operation (paths relative to the backing root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// A new file, directory or symlink: remove it (recursively).
    Created(PathBuf),
    /// An unlink or rmdir: the entry sits in the trash under this name.
    Removed { path: PathBuf, trash: PathBuf },
    /// A rename; `displaced` is the trash name of the entry it replaced.
    Renamed {
        from: PathBuf,
        to: PathBuf,
        displaced: Option<PathBuf>,
    },
}

/// The ordered log of uncommitted directory operations.
#[derive(Debug)]
pub struct Journal {
    root: PathBuf,
    entries: Vec<Undo>,
    next_trash: u64,
}

fn parent_of(p: &Path) -> PathBuf {
    p.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn fsync_dir(path: &Path) -> io::Result<()> {
    match fs::File::open(path) {
        Ok(d) => d.sync_all(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn syncfs(root: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let d = fs::File::open(root)?;
    // SAFETY: `d` is an open descriptor for the duration of the call.
    if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn remove_any(path: &Path) -> io::Result<()> {
    let res = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match res {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

impl Journal {
    /// A journal over the backing root; makes the trash directory and empties
    /// what an earlier run may have left in it (a committed state).
    pub fn open(root: &Path) -> io::Result<Self> {
        let trash = root.join(TRASH);
        if trash.exists() {
            remove_any(&trash)?;
        }
        fs::create_dir(&trash)?;
        fsync_dir(root)?;
        Ok(Journal {
            root: root.to_path_buf(),
            entries: Vec::new(),
            next_trash: 0,
        })
    }

    /// Uncommitted entries.
    pub fn pending(&self) -> usize {
        self.entries.len()
    }

    fn abs(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }

    /// Records a newly created entry.
    pub fn created(&mut self, rel: &Path) {
        self.entries.push(Undo::Created(rel.to_path_buf()));
    }

    /// Moves `rel` into the trash and returns its trash name (relative).
    fn move_to_trash(&mut self, rel: &Path) -> io::Result<PathBuf> {
        let name = Path::new(TRASH).join(self.next_trash.to_string());
        self.next_trash += 1;
        fs::rename(self.abs(rel), self.abs(&name))?;
        Ok(name)
    }

    /// Unlink or rmdir: moves the entry to the trash, keeping it for undo.
    pub fn remove(&mut self, rel: &Path) -> io::Result<()> {
        let trash = self.move_to_trash(rel)?;
        self.entries.push(Undo::Removed {
            path: rel.to_path_buf(),
            trash,
        });
        Ok(())
    }

    /// Rename `from` to `to`; an existing `to` goes to the trash first.
    pub fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let displaced = match fs::symlink_metadata(self.abs(to)) {
            Ok(_) => Some(self.move_to_trash(to)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if let Err(e) = fs::rename(self.abs(from), self.abs(to)) {
            if let Some(t) = &displaced {
                let _ = fs::rename(self.abs(t), self.abs(to));
            }
            return Err(e);
        }
        self.entries.push(Undo::Renamed {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            displaced,
        });
        Ok(())
    }

    /// Makes every entry durable: fsyncs the backing directories they
    /// touched, then deletes the trash contents for good.
    pub fn commit(&mut self) -> io::Result<()> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let mut dirs = BTreeSet::new();
        for e in &self.entries {
            match e {
                Undo::Created(p) | Undo::Removed { path: p, .. } => {
                    dirs.insert(parent_of(p));
                }
                Undo::Renamed { from, to, .. } => {
                    dirs.insert(parent_of(from));
                    dirs.insert(parent_of(to));
                }
            }
        }
        let mut moved = false;
        for d in &dirs {
            if self.abs(d).is_dir() {
                fsync_dir(&self.abs(d))?;
            } else {
                moved = true;
            }
        }
        if moved {
            // A touched directory was renamed or removed since: its new
            // place is not known here, so flush the whole backing filesystem.
            syncfs(&self.root)?;
        }
        for e in std::mem::take(&mut self.entries) {
            match e {
                Undo::Removed { trash, .. }
                | Undo::Renamed {
                    displaced: Some(trash),
                    ..
                } => remove_any(&self.abs(&trash))?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Takes back every uncommitted entry, newest first, and fsyncs the
    /// backing root so the restored namespace is itself durable.
    pub fn undo_all(&mut self) -> io::Result<()> {
        while let Some(e) = self.entries.pop() {
            match e {
                Undo::Created(p) => remove_any(&self.abs(&p))?,
                Undo::Removed { path, trash } => fs::rename(self.abs(&trash), self.abs(&path))?,
                Undo::Renamed {
                    from,
                    to,
                    displaced,
                } => {
                    fs::rename(self.abs(&to), self.abs(&from))?;
                    if let Some(t) = displaced {
                        fs::rename(self.abs(&t), self.abs(&to))?;
                    }
                }
            }
        }
        fsync_dir(&self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_restores_the_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("old"), b"old").unwrap();
        fs::write(root.join("gone"), b"gone").unwrap();
        let mut j = Journal::open(root).unwrap();
        fs::create_dir(root.join("d")).unwrap();
        j.created(Path::new("d"));
        fs::write(root.join("d/new"), b"new").unwrap();
        j.created(Path::new("d/new"));
        j.rename(Path::new("d/new"), Path::new("old")).unwrap();
        j.remove(Path::new("gone")).unwrap();
        assert_eq!(fs::read(root.join("old")).unwrap(), b"new");
        j.undo_all().unwrap();
        assert_eq!(fs::read(root.join("old")).unwrap(), b"old");
        assert_eq!(fs::read(root.join("gone")).unwrap(), b"gone");
        assert!(!root.join("d").exists());
    }

    #[test]
    fn commit_keeps_and_empties_trash() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("a"), b"a").unwrap();
        let mut j = Journal::open(root).unwrap();
        j.remove(Path::new("a")).unwrap();
        j.commit().unwrap();
        j.undo_all().unwrap();
        assert!(!root.join("a").exists());
        assert_eq!(fs::read_dir(root.join(TRASH)).unwrap().count(), 0);
    }
}
