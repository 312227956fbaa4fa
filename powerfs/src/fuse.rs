//! The FUSE adapter: kernel requests in, [`Volume`] calls, replies out.
//!
//! The kernel sends one request per system call that reaches the mount;
//! this file only translates between `fuser`'s types and the volume's, and
//! turns `io::Error`s into errno replies. Two choices here carry the
//! semantics:
//!
//! - `fsync` and `fsyncdir` are the only requests that make anything
//!   durable; `flush` (sent on every `close`) and `release` do nothing,
//!   because closing a file does not persist it on a real disk either.
//! - Entry and attribute timeouts are zero, so the kernel asks again each
//!   time and a power loss cannot leave it believing in a file that the
//!   volume has just undone. Opening a file drops the kernel's page cache
//!   for it (no `FOPEN_KEEP_CACHE`), so a restarted process reads what
//!   survived.
//!
//! The invariant: every request gets exactly one reply, and no request can
//! panic the daemon (lock poisoning is recovered).

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    FileType, Filesystem, KernelConfig, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
};

use crate::attr::{attr, kind, when};
use crate::namespace::NewKind;
use crate::volume::Volume;

const TTL: Duration = Duration::ZERO;

/// The `fuser::Filesystem` over a shared volume.
pub struct PowerFsFuse {
    volume: Arc<Mutex<Volume>>,
}

impl PowerFsFuse {
    pub fn new(volume: Arc<Mutex<Volume>>) -> Self {
        PowerFsFuse { volume }
    }

    fn vol(&self) -> MutexGuard<'_, Volume> {
        self.volume.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The errno to reply for an I/O error.
pub fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

impl Filesystem for PowerFsFuse {
    fn init(&mut self, _req: &Request<'_>, config: &mut KernelConfig) -> Result<(), libc::c_int> {
        let _ = config.set_max_write(1 << 20);
        let _ = config.set_max_readahead(1 << 20);
        Ok(())
    }

    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        match self.vol().lookup(parent, name) {
            Ok(e) => reply.entry(&TTL, &attr(&e), 0),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        match self.vol().getattr(ino) {
            Ok(e) => reply.attr(&TTL, &attr(&e)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn setattr(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<u64>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<u32>,
        reply: ReplyAttr,
    ) {
        let mut v = self.vol();
        let res = (|| {
            if let Some(len) = size {
                v.truncate(ino, len)?;
            }
            if mode.is_some() || uid.is_some() || gid.is_some() {
                v.chmod_chown(ino, mode, uid, gid)?;
            }
            if atime.is_some() || mtime.is_some() {
                v.set_times(ino, when(atime), when(mtime))?;
            }
            v.getattr(ino)
        })();
        match res {
            Ok(e) => reply.attr(&TTL, &attr(&e)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readlink(&mut self, _req: &Request<'_>, ino: u64, reply: ReplyData) {
        use std::os::unix::ffi::OsStrExt;
        match self.vol().readlink(ino) {
            Ok(p) => reply.data(p.as_os_str().as_bytes()),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn mknod(
        &mut self,
        req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return reply.error(libc::EPERM);
        }
        match self.vol().create(
            parent,
            name,
            NewKind::File(mode & !umask),
            req.uid(),
            req.gid(),
        ) {
            Ok(e) => reply.entry(&TTL, &attr(&e), 0),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn mkdir(
        &mut self,
        req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        match self.vol().create(
            parent,
            name,
            NewKind::Dir(mode & !umask),
            req.uid(),
            req.gid(),
        ) {
            Ok(e) => reply.entry(&TTL, &attr(&e), 0),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn unlink(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEmpty) {
        match self.vol().remove(parent, name, false) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn rmdir(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEmpty) {
        match self.vol().remove(parent, name, true) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn symlink(
        &mut self,
        req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        match self
            .vol()
            .create(parent, name, NewKind::Symlink(target), req.uid(), req.gid())
        {
            Ok(e) => reply.entry(&TTL, &attr(&e), 0),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn rename(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: u32,
        reply: ReplyEmpty,
    ) {
        match self.vol().rename(parent, name, newparent, newname, flags) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn open(&mut self, _req: &Request<'_>, ino: u64, _flags: i32, reply: ReplyOpen) {
        match self.vol().open_handle(ino) {
            Ok(()) => reply.opened(0, 0),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn create(
        &mut self,
        req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let mut v = self.vol();
        let res = v
            .create(
                parent,
                name,
                NewKind::File(mode & !umask),
                req.uid(),
                req.gid(),
            )
            .and_then(|e| v.open_handle(e.ino).map(|()| e));
        match res {
            Ok(e) => reply.created(&TTL, &attr(&e), 0, 0, 0),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn read(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        size: u32,
        _flags: i32,
        _lock: Option<u64>,
        reply: ReplyData,
    ) {
        match self.vol().read(ino, offset.max(0) as u64, size as usize) {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn write(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        data: &[u8],
        _write_flags: u32,
        _flags: i32,
        _lock: Option<u64>,
        reply: ReplyWrite,
    ) {
        match self.vol().write(ino, offset.max(0) as u64, data) {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn flush(&mut self, _req: &Request<'_>, _ino: u64, _fh: u64, _lock: u64, reply: ReplyEmpty) {
        reply.ok();
    }

    fn fsync(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.vol().fsync(ino) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        mut reply: ReplyDirectory,
    ) {
        let entries = match self.vol().readdir(ino) {
            Ok(e) => e,
            Err(e) => return reply.error(errno(&e)),
        };
        let dots = [
            (".".into(), ino, FileType::Directory),
            ("..".into(), ino, FileType::Directory),
        ];
        let all = dots
            .into_iter()
            .chain(entries.into_iter().map(|(n, i, t)| (n, i, kind(t))));
        for (i, (name, child, ty)) in all.enumerate().skip(offset.max(0) as usize) {
            let name: std::ffi::OsString = name;
            if reply.add(child, i as i64 + 1, ty, &name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.vol().fsync_dir() {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn statfs(&mut self, _req: &Request<'_>, _ino: u64, reply: ReplyStatfs) {
        match self.vol().statfs() {
            Ok(s) => reply.statfs(
                s.f_blocks,
                s.f_bfree,
                s.f_bavail,
                s.f_files,
                s.f_ffree,
                s.f_bsize as u32,
                s.f_namemax as u32,
                s.f_frsize as u32,
            ),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn fallocate(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        length: i64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        // Only plain allocation (mode 0): it may grow the file, with zeros.
        if mode != 0 {
            return reply.error(libc::EOPNOTSUPP);
        }
        let mut v = self.vol();
        let end = (offset.max(0) + length.max(0)) as u64;
        let res = v.getattr(ino).and_then(|e| {
            if end > e.size {
                v.truncate(ino, end)
            } else {
                Ok(())
            }
        });
        match res {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }
}
