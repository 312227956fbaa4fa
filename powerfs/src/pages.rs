//! Dirty pages: one file's written-but-unsynced bytes, kept in memory.
//!
//! A disk with a volatile cache keeps what was last made durable (the
//! *synced* content, which here is the backing file) and, in front of it,
//! whatever was written since (the *dirty* state, which here lives only in
//! this process's memory). [`DirtyFile`] is that dirty state for one file:
//!
//! - `pages`: 4 KiB pages written since the last sync, each holding the
//!   page's full current content (bytes past the logical size are zero);
//! - `size`: the logical size the file has now (writes past the end grow
//!   it, truncates shrink or grow it);
//! - `valid_below`: the lowest size the file had since the last sync.
//!   Backing bytes at or past it were cut off by a truncate and read as
//!   zero unless a dirty page covers them again.
//!
//! The invariant: the file's current content is, byte by byte, the dirty
//! page if there is one, else the backing byte if it lies below both
//! `valid_below` and the backing length, else zero; and it ends at `size`.
//! [`DirtyFile::sync`] makes the backing file equal to that content and
//! fsyncs it; [`DirtyFile::drop_unsynced`] forgets everything, which is what a
//! power loss does. The [`Store`] trait is the backing file, so the same
//! code runs over a real file and over a `Vec<u8>` in the property tests.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Size of a dirty page; the unit in which unsynced data is kept.
pub const PAGE: u64 = 4096;

/// The durable copy of a file: what survives a power loss.
pub trait Store {
    /// Reads at `offset` into `buf`; returns how many bytes were read (short at the end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// Writes all of `data` at `offset`.
    fn write_all_at(&mut self, data: &[u8], offset: u64) -> io::Result<()>;
    /// Sets the length (cutting or zero-extending).
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Makes everything written so far durable.
    fn sync(&mut self) -> io::Result<()>;
}

impl Store for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match FileExt::read_at(self, &mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
    fn write_all_at(&mut self, data: &[u8], offset: u64) -> io::Result<()> {
        FileExt::write_all_at(self, data, offset)
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

impl Store for Vec<u8> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let start = (offset as usize).min(self.len());
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
    fn write_all_at(&mut self, data: &[u8], offset: u64) -> io::Result<()> {
        let end = offset as usize + data.len();
        if self.len() < end {
            self.resize(end, 0);
        }
        self[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.resize(len as usize, 0);
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The unsynced state of one regular file (see the module docs).
#[derive(Debug, Clone)]
pub struct DirtyFile {
    size: u64,
    synced_len: u64,
    valid_below: u64,
    pages: BTreeMap<u64, Box<[u8]>>,
}

impl DirtyFile {
    /// A clean file whose backing copy is `synced_len` bytes long.
    pub fn new(synced_len: u64) -> Self {
        DirtyFile {
            size: synced_len,
            synced_len,
            valid_below: u64::MAX,
            pages: BTreeMap::new(),
        }
    }

    /// The logical size (what `stat` shows through the mount).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether anything would be lost by a power loss now.
    pub fn is_dirty(&self) -> bool {
        !self.pages.is_empty() || self.size != self.synced_len || self.valid_below < self.synced_len
    }

    /// Bytes held in memory (whole pages).
    pub fn dirty_bytes(&self) -> u64 {
        self.pages.len() as u64 * PAGE
    }

    /// Reads up to `len` bytes at `offset` of the current content.
    pub fn read(&self, store: &dyn Store, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let end = offset.saturating_add(len as u64).min(self.size);
        if offset >= end {
            return Ok(Vec::new());
        }
        let mut out = vec![0u8; (end - offset) as usize];
        let mut pos = offset;
        while pos < end {
            let idx = pos / PAGE;
            let in_page = (pos % PAGE) as usize;
            let n = ((PAGE - pos % PAGE).min(end - pos)) as usize;
            let dst = &mut out[(pos - offset) as usize..(pos - offset) as usize + n];
            match self.pages.get(&idx) {
                Some(page) => dst.copy_from_slice(&page[in_page..in_page + n]),
                None => self.read_backing(store, pos, dst)?,
            }
            pos += n as u64;
        }
        Ok(out)
    }

    /// Fills `dst` with backing bytes at `pos` that are still valid, zeros elsewhere.
    fn read_backing(&self, store: &dyn Store, pos: u64, dst: &mut [u8]) -> io::Result<()> {
        let limit = self.valid_below.min(self.synced_len);
        dst.fill(0);
        if pos < limit {
            let n = ((limit - pos) as usize).min(dst.len());
            store.read_at(&mut dst[..n], pos)?;
        }
        Ok(())
    }

    /// The page `idx` as it reads now, made dirty so it can be changed.
    fn page_mut(&mut self, store: &dyn Store, idx: u64) -> io::Result<&mut Box<[u8]>> {
        if !self.pages.contains_key(&idx) {
            let mut page = vec![0u8; PAGE as usize];
            let start = idx * PAGE;
            if start < self.size {
                let n = (self.size - start).min(PAGE) as usize;
                self.read_backing(store, start, &mut page[..n])?;
            }
            self.pages.insert(idx, page.into_boxed_slice());
        }
        Ok(self.pages.get_mut(&idx).expect("inserted above"))
    }

    /// Writes `data` at `offset`, growing the file if it ends past the size.
    pub fn write(&mut self, store: &dyn Store, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset + data.len() as u64;
        let mut pos = offset;
        while pos < end {
            let idx = pos / PAGE;
            let in_page = (pos % PAGE) as usize;
            let n = ((PAGE - pos % PAGE).min(end - pos)) as usize;
            let src = &data[(pos - offset) as usize..(pos - offset) as usize + n];
            self.page_mut(store, idx)?[in_page..in_page + n].copy_from_slice(src);
            pos += n as u64;
        }
        self.size = self.size.max(end);
        Ok(())
    }

    /// Sets the size: cuts (the cut bytes read as zero if the file grows
    /// again) or extends with zeros.
    pub fn truncate(&mut self, store: &dyn Store, len: u64) -> io::Result<()> {
        if len < self.size {
            let keep_from = if !len.is_multiple_of(PAGE) {
                let page = self.page_mut(store, len / PAGE)?;
                page[(len % PAGE) as usize..].fill(0);
                len / PAGE + 1
            } else {
                len / PAGE
            };
            self.pages.retain(|idx, _| *idx < keep_from);
            self.valid_below = self.valid_below.min(len);
        }
        self.size = len;
        Ok(())
    }

    /// Writes the current content to the backing file and fsyncs it; the
    /// file is clean afterwards.
    pub fn sync(&mut self, store: &mut dyn Store) -> io::Result<()> {
        if !self.is_dirty() {
            return Ok(());
        }
        if self.valid_below < self.synced_len {
            store.set_len(self.valid_below)?;
        }
        for (idx, page) in &self.pages {
            let start = idx * PAGE;
            if start >= self.size {
                continue;
            }
            let n = (self.size - start).min(PAGE) as usize;
            store.write_all_at(&page[..n], start)?;
        }
        store.set_len(self.size)?;
        store.sync()?;
        *self = DirtyFile::new(self.size);
        Ok(())
    }

    /// Forgets every unsynced change: the content is the backing file's again.
    pub fn drop_unsynced(&mut self) {
        *self = DirtyFile::new(self.synced_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_sync_and_drop() {
        let mut disk: Vec<u8> = b"hello".to_vec();
        let mut f = DirtyFile::new(5);
        f.write(&disk, 3, b"XYZ").unwrap();
        assert_eq!(f.read(&disk, 0, 100).unwrap(), b"helXYZ");
        f.drop_unsynced();
        assert_eq!(f.read(&disk, 0, 100).unwrap(), b"hello");
        f.write(&disk, 8000, b"Q").unwrap();
        f.sync(&mut disk).unwrap();
        assert_eq!(disk.len(), 8001);
        assert_eq!(&disk[..5], b"hello");
        assert!(!f.is_dirty());
    }

    #[test]
    fn truncate_then_grow_reads_zeros() {
        let mut disk: Vec<u8> = vec![7u8; 10000];
        let mut f = DirtyFile::new(10000);
        f.truncate(&disk, 100).unwrap();
        f.truncate(&disk, 9000).unwrap();
        let now = f.read(&disk, 0, 10000).unwrap();
        assert_eq!(now.len(), 9000);
        assert!(now[..100].iter().all(|b| *b == 7));
        assert!(now[100..].iter().all(|b| *b == 0));
        f.sync(&mut disk).unwrap();
        assert_eq!(disk, now);
    }
}
