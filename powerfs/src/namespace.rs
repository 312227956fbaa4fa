//! Namespace operations: create, remove and rename, journaled for undo.
//!
//! Each operation changes the backing directory at once (so the mount
//! shows it), records in the [`crate::journal`] how to take it back, and
//! updates the volume's path table so inode numbers keep pointing at the
//! right entries: a rename moves every known path under the renamed one, a
//! removal forgets the paths (open files keep working through their
//! descriptors). Checks that the kernel leaves to the filesystem (rmdir of
//! a non-empty directory, rename of a directory over a file, `RENAME_NOREPLACE`)
//! are done here, before anything changes, so a refused operation leaves
//! no trace in the journal.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::volume::{no_space, Entry, Volume};

impl Volume {
    /// Creates a regular file, directory or symlink owned by `uid:gid`.
    pub fn create(
        &mut self,
        parent: u64,
        name: &OsStr,
        kind: NewKind<'_>,
        uid: u32,
        gid: u32,
    ) -> io::Result<Entry> {
        if self.full {
            return Err(no_space());
        }
        let rel = self.child(parent, name)?;
        let abs = self.root.join(&rel);
        match kind {
            NewKind::File(mode) => {
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode & 0o7777)
                    .open(&abs)?;
            }
            NewKind::Dir(mode) => {
                fs::create_dir(&abs)?;
                fs::set_permissions(&abs, fs::Permissions::from_mode(mode & 0o7777))?;
            }
            NewKind::Symlink(target) => std::os::unix::fs::symlink(target, &abs)?,
        }
        std::os::unix::fs::lchown(&abs, Some(uid), Some(gid))?;
        self.journal.created(&rel);
        let ino = self.ino_for(&rel);
        self.getattr(ino)
    }

    fn forget_path(&mut self, rel: &Path) {
        let gone: Vec<PathBuf> = self
            .by_path
            .keys()
            .filter(|p| p.starts_with(rel))
            .cloned()
            .collect();
        for p in gone {
            if let Some(i) = self.by_path.remove(&p) {
                if let Some(n) = self.nodes.get_mut(&i) {
                    n.path = None;
                }
            }
        }
    }

    /// Unlink (`dir == false`) or rmdir: the entry moves to the trash.
    pub fn remove(&mut self, parent: u64, name: &OsStr, dir: bool) -> io::Result<()> {
        let rel = self.child(parent, name)?;
        let abs = self.root.join(&rel);
        let meta = fs::symlink_metadata(&abs)?;
        match (dir, meta.is_dir()) {
            (true, false) => return Err(io::Error::from_raw_os_error(libc::ENOTDIR)),
            (false, true) => return Err(io::Error::from_raw_os_error(libc::EISDIR)),
            (true, true) if fs::read_dir(&abs)?.next().is_some() => {
                return Err(io::Error::from_raw_os_error(libc::ENOTEMPTY))
            }
            _ => {}
        }
        self.journal.remove(&rel)?;
        self.forget_path(&rel);
        Ok(())
    }

    /// Rename (flags: only `RENAME_NOREPLACE` is supported).
    pub fn rename(
        &mut self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: u32,
    ) -> io::Result<()> {
        let from = self.child(parent, name)?;
        let to = self.child(newparent, newname)?;
        let fmeta = fs::symlink_metadata(self.root.join(&from))?;
        if flags & !libc::RENAME_NOREPLACE != 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        if from == to {
            return Ok(());
        }
        if to.starts_with(&from) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        if let Ok(tmeta) = fs::symlink_metadata(self.root.join(&to)) {
            if flags & libc::RENAME_NOREPLACE != 0 {
                return Err(io::Error::from_raw_os_error(libc::EEXIST));
            }
            match (fmeta.is_dir(), tmeta.is_dir()) {
                (true, false) => return Err(io::Error::from_raw_os_error(libc::ENOTDIR)),
                (false, true) => return Err(io::Error::from_raw_os_error(libc::EISDIR)),
                (true, true) if fs::read_dir(self.root.join(&to))?.next().is_some() => {
                    return Err(io::Error::from_raw_os_error(libc::ENOTEMPTY))
                }
                _ => {}
            }
        }
        self.journal.rename(&from, &to)?;
        self.forget_path(&to);
        let moved: Vec<PathBuf> = self
            .by_path
            .keys()
            .filter(|p| p.starts_with(&from))
            .cloned()
            .collect();
        for old in moved {
            let new = to.join(old.strip_prefix(&from).expect("filtered by prefix"));
            if let Some(i) = self.by_path.remove(&old) {
                if let Some(n) = self.nodes.get_mut(&i) {
                    n.path = Some(new.clone());
                }
                self.by_path.insert(new, i);
            }
        }
        Ok(())
    }

    /// Reads a symlink's target.
    pub fn readlink(&self, ino: u64) -> io::Result<PathBuf> {
        fs::read_link(self.root.join(self.rel(ino)?))
    }
}

/// What [`Volume::create`] makes.
#[derive(Debug, Clone, Copy)]
pub enum NewKind<'a> {
    File(u32),
    Dir(u32),
    Symlink(&'a Path),
}
