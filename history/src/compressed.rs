//! Compressed histories: JSON Lines inside a zstd stream (`history.jsonl.zst`).
//!
//! A run's history repeats itself: a `set` read holds the whole set, and the
//! next read holds it again plus a little. zstd finds those repeats, so the
//! recorder writes `history.jsonl.zst` — the same JSON Lines text, compressed
//! as it is recorded — and every reader accepts either form: a file that
//! starts with zstd's magic number is decompressed on the fly, whatever its
//! name, and the text inside goes through the ordinary format detection.
//!
//! The invariant it keeps is the plain file's crash guarantee. The writer
//! ends a zstd *block* (a flush, not the end of the frame, so later blocks
//! still compress against earlier ones) and fsyncs at every batch; a
//! SIGKILL leaves a frame without its end, and the reader returns everything
//! up to the last complete block, with a warning, instead of an error. Bytes
//! that are not a valid zstd stream are an error; nothing here panics on
//! outside input, and decoding never asks for a window larger than zstd's
//! default limit (128 MiB).

use std::fs::File;
use std::io::{self, BufRead, BufWriter, Read, Write};

/// zstd's frame magic number, as it appears at the start of a file.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// The compression level the recorder uses: zstd's default, fast enough to
/// keep up with thousands of events a second on one core.
const LEVEL: i32 = 3;

/// log2 of the encoder's window: 32 MiB, so a read repeats the set of a read
/// several megabytes back. Within zstd's default decoder limit (2^27).
const WINDOW_LOG: u32 = 25;

/// The names a run directory's history may have, in the order they are
/// looked for: the recorder's compressed file, a plain one (runs recorded
/// before compression, or decompressed by hand), an imported Jepsen EDN.
pub const HISTORY_NAMES: [&str; 3] = ["history.jsonl.zst", "history.jsonl", "history.edn"];

/// The history file in run directory `dir`, if it has one.
pub fn history_in(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    HISTORY_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Whether `head` (the first bytes of a file) starts a zstd stream.
pub fn is_zstd(head: &[u8]) -> bool {
    head.starts_with(&ZSTD_MAGIC)
}

/// Whether `path` names a compressed history (ends in `.zst`).
pub(crate) fn wants_zstd(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|e| e == "zst")
}

/// The text of a compressed history, up to its last complete block (for
/// showing it, e.g. `faultline serve`); an error when `bytes` are not a
/// valid zstd stream.
pub fn decompress(bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(8));
    TruncatedOk::new(bytes)?.read_to_end(&mut out)?;
    Ok(out)
}

/// The text of the history file at `path`, plain or compressed: what a test
/// or a script reads where it would read `history.jsonl` as text.
pub fn read_text(path: &std::path::Path) -> io::Result<String> {
    let bytes = std::fs::read(path)?;
    let text = if is_zstd(&bytes) {
        decompress(&bytes)?
    } else {
        bytes
    };
    String::from_utf8(text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The compressing half of [`crate::JsonlWriter`]: a zstd frame whose blocks
/// end at every sync.
pub(crate) struct ZstdSink {
    enc: zstd::stream::write::Encoder<'static, BufWriter<File>>,
    finished: bool,
}

impl ZstdSink {
    /// Starts a new frame at the end of `file` (a file already holding frames
    /// keeps them: concatenated frames read as one stream).
    pub fn new(file: File) -> io::Result<ZstdSink> {
        let mut enc =
            zstd::stream::write::Encoder::new(BufWriter::with_capacity(64 * 1024, file), LEVEL)?;
        enc.window_log(WINDOW_LOG)?;
        enc.include_checksum(true)?;
        Ok(ZstdSink {
            enc,
            finished: false,
        })
    }

    /// Compresses `bytes` (buffered until the next sync).
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.enc.write_all(bytes)
    }

    /// Ends the current block, writes it out and fsyncs: everything written so
    /// far can be decompressed from the file, even if the process dies now.
    pub fn sync(&mut self) -> io::Result<()> {
        if !self.finished {
            self.enc.flush()?;
        }
        let out = self.enc.get_mut();
        out.flush()?;
        out.get_ref().sync_data()
    }

    /// Ends the frame (its checksum included) and fsyncs; later writes are
    /// refused.
    pub fn finish(&mut self) -> io::Result<()> {
        if !self.finished {
            self.enc.do_finish()?;
            self.finished = true;
        }
        self.sync()
    }

    /// Whether the frame is still open.
    pub fn is_open(&self) -> bool {
        !self.finished
    }
}

/// Decompresses a zstd stream of one or more frames. A stream cut off inside
/// a frame (a recorder killed mid-run) ends where the last complete block
/// ended, and [`TruncatedOk::truncated`] says so; any other fault in the
/// stream is an [`io::ErrorKind::InvalidData`] error.
pub(crate) struct TruncatedOk<R: BufRead> {
    dec: zstd::stream::read::Decoder<'static, R>,
    truncated: bool,
}

impl<R: BufRead> TruncatedOk<R> {
    /// Decodes `r`, which must start with [`ZSTD_MAGIC`].
    pub fn new(r: R) -> io::Result<TruncatedOk<R>> {
        Ok(TruncatedOk {
            dec: zstd::stream::read::Decoder::with_buffer(r)?,
            truncated: false,
        })
    }

    /// Whether the stream ended inside a frame.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

impl<R: BufRead> Read for TruncatedOk<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.truncated {
            return Ok(0);
        }
        match self.dec.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.truncated = true;
                Ok(0)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a valid zstd stream: {e}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn compress(text: &[u8], finish: bool) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl.zst");
        let file = File::create(&path).unwrap();
        let mut sink = ZstdSink::new(file).unwrap();
        sink.write_all(text).unwrap();
        sink.sync().unwrap();
        if finish {
            sink.finish().unwrap();
        }
        std::mem::forget(sink); // a killed recorder: no drop, no frame end
        std::fs::read(&path).unwrap()
    }

    fn decompress(bytes: &[u8]) -> (io::Result<Vec<u8>>, bool) {
        let mut r = TruncatedOk::new(bytes).unwrap();
        let mut out = Vec::new();
        let res = r.read_to_end(&mut out).map(|_| out);
        (res, r.truncated())
    }

    #[test]
    fn a_synced_but_unfinished_frame_reads_back_whole() {
        let text = b"{\"a\":1}\n".repeat(1000);
        let bytes = compress(&text, false);
        assert!(is_zstd(&bytes));
        let (out, truncated) = decompress(&bytes);
        assert_eq!(out.unwrap(), text);
        assert!(truncated);
        let (out, truncated) = decompress(&compress(&text, true));
        assert_eq!(out.unwrap(), text);
        assert!(!truncated);
    }

    #[test]
    fn concatenated_frames_read_as_one_stream() {
        let mut bytes = compress(b"one\n", true);
        bytes.extend(compress(b"two\n", true));
        assert_eq!(decompress(&bytes).0.unwrap(), b"one\ntwo\n");
    }

    #[test]
    fn garbage_after_the_magic_is_an_error_not_a_panic() {
        let mut bytes = ZSTD_MAGIC.to_vec();
        bytes.extend_from_slice(&[0xff; 64]);
        assert!(decompress(&bytes).0.is_err());
    }
}
