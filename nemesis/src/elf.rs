//! What an ELF file says about itself: its header, and whether it is a Go
//! program.
//!
//! The clock shim cannot skew a Go program, which reads the clock through the
//! vDSO without libc; [`crate::reach`] refuses a clock fault on one rather than
//! record a fault that does nothing, and [`crate::clock`] says so plainly.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How many bytes of a binary [`is_go_binary`] scans when it has no section
/// headers to read.
const GO_SCAN_LIMIT: u64 = 4 << 20;

/// An ELF file's header, and the integers in its byte order.
pub(crate) struct Elf {
    /// The first 64 bytes (a 32-bit header is 52 of them).
    pub(crate) header: [u8; 64],
    /// 64-bit.
    pub(crate) wide: bool,
    big: bool,
}

impl Elf {
    /// Reads the header at the start of `f`; `None` when it is not an ELF
    /// file (or too short to be one).
    pub(crate) fn read(f: &mut fs::File) -> Option<Elf> {
        let mut header = [0u8; 64];
        f.read_exact(&mut header).ok()?;
        (&header[..4] == b"\x7fELF").then(|| Elf {
            wide: header[4] == 2,
            big: header[5] == 2,
            header,
        })
    }

    /// The `len`-byte integer at `off` in `b`, in the file's byte order.
    pub(crate) fn int(&self, b: &[u8], off: usize, len: usize) -> u64 {
        let b = &b[off..off + len];
        let fold = |acc: u64, &x: &u8| acc << 8 | u64::from(x);
        if self.big {
            b.iter().fold(0, fold)
        } else {
            b.iter().rev().fold(0, fold)
        }
    }
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
    let Some(elf) = Elf::read(f) else {
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
    }
}
