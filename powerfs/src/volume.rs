//! The volume: inode numbers, backing paths, dirty files and the journal.
//!
//! The FUSE layer speaks in inode numbers; the backing directory speaks in
//! paths. A [`Volume`] maps one to the other (`nodes`, `by_path`; paths are
//! relative to the backing root) and owns the two kinds of unsynced state:
//! a [`DirtyFile`] per open regular file (its unsynced bytes) and the
//! [`Journal`] of directory operations. Every data operation here is what the
//! mount does (namespace operations are in [`crate::namespace`]); the FUSE
//! adapter only translates.
//!
//! Invariants: `by_path` and the nodes' `path` fields agree; the trash
//! directory is never visible; inode numbers are never reused (after a
//! power loss the table starts afresh with new numbers, so no stale kernel
//! cache can be mistaken for a new file). [`Volume::power_loss`] drops
//! every dirty file and undoes the journal, leaving the backing directory as
//! a disk that lost power would.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::journal::{Journal, TRASH};
use crate::pages::DirtyFile;

/// The root directory's inode number (FUSE's convention).
pub const ROOT: u64 = 1;

/// What a `status` shows: how much a power loss would drop now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    /// Bytes of unsynced file data held in memory (whole pages).
    pub dirty_bytes: u64,
    /// Files with unsynced data or size changes.
    pub dirty_files: u64,
    /// Directory operations not yet committed.
    pub pending_dirops: u64,
    /// Whether the disk-full fault is on (see [`Volume::set_disk_full`]).
    pub disk_full: bool,
}

/// One inode's attributes, with the size the mount shows.
#[derive(Debug, Clone)]
pub struct Entry {
    pub ino: u64,
    pub meta: fs::Metadata,
    pub size: u64,
}

struct OpenFile {
    fd: File,
    dirty: DirtyFile,
}

pub(crate) struct Node {
    pub(crate) path: Option<PathBuf>,
    file: Option<OpenFile>,
    /// Open handles the kernel holds; a clean file with none is closed.
    opens: u32,
}

impl Node {
    fn new(path: PathBuf) -> Node {
        Node {
            path: Some(path),
            file: None,
            opens: 0,
        }
    }

    /// Closes the backing descriptor when nothing needs it (no handle, no dirty data).
    fn close_if_idle(&mut self) {
        if self.opens == 0 && self.file.as_ref().is_some_and(|f| !f.dirty.is_dirty()) {
            self.file = None;
        }
    }
}

/// The mounted filesystem's state (see the module docs).
pub struct Volume {
    pub(crate) root: PathBuf,
    pub(crate) nodes: HashMap<u64, Node>,
    pub(crate) by_path: HashMap<PathBuf, u64>,
    next_ino: u64,
    pub(crate) journal: Journal,
    /// The disk-full fault: growing anything fails with ENOSPC.
    pub(crate) full: bool,
}

pub(crate) fn no_space() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOSPC)
}

fn enoent() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOENT)
}

impl Volume {
    /// Opens the backing directory (which must exist).
    pub fn open(root: &Path) -> io::Result<Self> {
        let root = fs::canonicalize(root)?;
        let journal = Journal::open(&root)?;
        let mut v = Volume {
            root,
            nodes: HashMap::new(),
            by_path: HashMap::new(),
            next_ino: ROOT + 1,
            journal,
            full: false,
        };
        v.reset_table();
        Ok(v)
    }

    fn reset_table(&mut self) {
        self.nodes.clear();
        self.by_path.clear();
        self.nodes.insert(ROOT, Node::new(PathBuf::new()));
        self.by_path.insert(PathBuf::new(), ROOT);
    }

    /// Every inode number currently known (the kernel may cache them).
    pub fn inodes(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    pub(crate) fn rel(&self, ino: u64) -> io::Result<PathBuf> {
        self.nodes
            .get(&ino)
            .and_then(|n| n.path.clone())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ESTALE))
    }

    pub(crate) fn child(&self, parent: u64, name: &OsStr) -> io::Result<PathBuf> {
        let p = self.rel(parent)?;
        if parent == ROOT && name == TRASH {
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
        Ok(p.join(name))
    }

    pub(crate) fn ino_for(&mut self, rel: &Path) -> u64 {
        if let Some(i) = self.by_path.get(rel) {
            return *i;
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(ino, Node::new(rel.to_path_buf()));
        self.by_path.insert(rel.to_path_buf(), ino);
        ino
    }

    /// Attributes of an inode (size from its dirty state if it has one).
    pub fn getattr(&self, ino: u64) -> io::Result<Entry> {
        let node = self
            .nodes
            .get(&ino)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ESTALE))?;
        let meta = match (&node.path, &node.file) {
            (_, Some(f)) => f.fd.metadata()?,
            (Some(p), None) => fs::symlink_metadata(self.root.join(p))?,
            (None, None) => return Err(io::Error::from_raw_os_error(libc::ESTALE)),
        };
        let size = node.file.as_ref().map_or(meta.len(), |f| f.dirty.size());
        Ok(Entry { ino, meta, size })
    }

    /// Looks a name up in a directory.
    pub fn lookup(&mut self, parent: u64, name: &OsStr) -> io::Result<Entry> {
        if parent == ROOT && name == TRASH {
            return Err(enoent());
        }
        let rel = self.child(parent, name)?;
        fs::symlink_metadata(self.root.join(&rel))?;
        let ino = self.ino_for(&rel);
        self.getattr(ino)
    }

    /// Directory entries (name, inode, is_dir, is_symlink), trash hidden.
    pub fn readdir(
        &mut self,
        ino: u64,
    ) -> io::Result<Vec<(std::ffi::OsString, u64, fs::FileType)>> {
        let rel = self.rel(ino)?;
        let mut out = Vec::new();
        for e in fs::read_dir(self.root.join(&rel))? {
            let e = e?;
            if ino == ROOT && e.file_name() == TRASH {
                continue;
            }
            let child = rel.join(e.file_name());
            let ty = e.file_type()?;
            out.push((e.file_name(), self.ino_for(&child), ty));
        }
        Ok(out)
    }

    /// Makes sure a regular file has its backing descriptor and dirty state.
    fn open_file(&mut self, ino: u64) -> io::Result<()> {
        let rel = self.rel(ino)?;
        let root = self.root.clone();
        let node = self.nodes.get_mut(&ino).ok_or_else(enoent)?;
        if node.file.is_none() {
            let fd = OpenOptions::new()
                .read(true)
                .write(true)
                .open(root.join(rel))?;
            let len = fd.metadata()?.len();
            node.file = Some(OpenFile {
                fd,
                dirty: DirtyFile::new(len),
            });
        }
        Ok(())
    }

    /// An `open` (or `create`) from the kernel: one more handle.
    pub fn open_handle(&mut self, ino: u64) -> io::Result<()> {
        self.open_file(ino)?;
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.opens += 1;
        }
        Ok(())
    }

    /// A `release`: one handle fewer; a clean file without handles is closed.
    pub fn release(&mut self, ino: u64) {
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.opens = n.opens.saturating_sub(1);
            n.close_if_idle();
        }
    }

    fn file(&mut self, ino: u64) -> io::Result<&mut OpenFile> {
        if self.nodes.get(&ino).is_some_and(|n| n.file.is_none()) {
            self.open_file(ino)?;
        }
        self.nodes
            .get_mut(&ino)
            .and_then(|n| n.file.as_mut())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ESTALE))
    }

    /// Reads through the dirty state.
    pub fn read(&mut self, ino: u64, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let f = self.file(ino)?;
        f.dirty.read(&f.fd, offset, len)
    }

    /// Writes into the dirty state (nothing reaches the backing file).
    pub fn write(&mut self, ino: u64, offset: u64, data: &[u8]) -> io::Result<()> {
        let full = self.full;
        let f = self.file(ino)?;
        if full && offset + data.len() as u64 > f.dirty.size() {
            return Err(no_space());
        }
        f.dirty.write(&f.fd, offset, data)
    }

    /// Changes the size in the dirty state.
    pub fn truncate(&mut self, ino: u64, len: u64) -> io::Result<()> {
        let full = self.full;
        let f = self.file(ino)?;
        if full && len > f.dirty.size() {
            return Err(no_space());
        }
        f.dirty.truncate(&f.fd, len)
    }

    /// Turns the disk-full fault on or off. While on, writes past a file's
    /// end, growing truncates and fallocates, and creating entries fail
    /// with ENOSPC; overwrites inside a file, shrinking, removing, renaming
    /// and fsync still work (a full disk has no room for new blocks, but
    /// the blocks already allocated stay writable).
    pub fn set_disk_full(&mut self, full: bool) {
        self.full = full;
    }

    /// Changes mode/owner (applied to the backing entry at once; not undone).
    pub fn chmod_chown(
        &mut self,
        ino: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> io::Result<()> {
        let path = self.root.join(self.rel(ino)?);
        if let Some(m) = mode {
            fs::set_permissions(&path, fs::Permissions::from_mode(m & 0o7777))?;
        }
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::lchown(&path, uid, gid)?;
        }
        Ok(())
    }

    /// Sets access/modification times on the backing entry.
    pub fn set_times(
        &mut self,
        ino: u64,
        atime: Option<std::time::SystemTime>,
        mtime: Option<std::time::SystemTime>,
    ) -> io::Result<()> {
        let path = self.root.join(self.rel(ino)?);
        let f = File::options()
            .write(true)
            .open(&path)
            .or_else(|_| File::open(&path))?;
        let mut t = fs::FileTimes::new();
        if let Some(a) = atime {
            t = t.set_accessed(a);
        }
        if let Some(m) = mtime {
            t = t.set_modified(m);
        }
        f.set_times(t)
    }

    /// fsync/fdatasync of a file: its data, then (ext4-like) the whole journal.
    pub fn fsync(&mut self, ino: u64) -> io::Result<()> {
        if let Some(n) = self.nodes.get_mut(&ino) {
            if let Some(f) = n.file.as_mut() {
                f.dirty.sync(&mut f.fd)?;
            }
            n.close_if_idle();
        }
        self.journal.commit()
    }

    /// fsync of a directory: commits the journal.
    pub fn fsync_dir(&mut self) -> io::Result<()> {
        self.journal.commit()
    }

    /// Like `sync(2)`: every file's data and the journal.
    pub fn sync_all(&mut self) -> io::Result<()> {
        for n in self.nodes.values_mut() {
            if let Some(f) = n.file.as_mut() {
                f.dirty.sync(&mut f.fd)?;
            }
            n.close_if_idle();
        }
        self.journal.commit()
    }

    /// What a power loss would drop now.
    pub fn status(&self) -> Status {
        let mut s = Status {
            pending_dirops: self.journal.pending() as u64,
            disk_full: self.full,
            ..Status::default()
        };
        for f in self.nodes.values().filter_map(|n| n.file.as_ref()) {
            if f.dirty.is_dirty() {
                s.dirty_files += 1;
                s.dirty_bytes += f.dirty.dirty_bytes();
            }
        }
        s
    }

    /// Drops every unsynced byte, undoes every uncommitted directory
    /// operation and forgets all inode numbers. Returns what was dropped.
    pub fn power_loss(&mut self) -> io::Result<Status> {
        let dropped = self.status();
        for n in self.nodes.values_mut() {
            if let Some(f) = n.file.as_mut() {
                f.dirty.drop_unsynced();
            }
        }
        self.journal.undo_all()?;
        self.reset_table();
        Ok(dropped)
    }

    /// Filesystem statistics of the backing directory.
    pub fn statfs(&self) -> io::Result<libc::statvfs> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(self.root.as_os_str().as_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is a valid NUL-terminated path and `st` a valid out-pointer.
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(st)
    }

    /// Size of a file as the backing directory holds it (tests, debugging).
    pub fn backing_len(&self, rel: &Path) -> io::Result<u64> {
        Ok(fs::symlink_metadata(self.root.join(rel))?.size())
    }
}
