//! JSON Lines, the canonical history format: one event object per line.
//!
//! `{"index":0,"time":12345,"type":"invoke","process":3,"f":"write","value":5,"node":"n2"}`
//!
//! The reader streams: it holds a few blocks of text at a time (one per core,
//! parsed side by side: [`crate::jsonl_blocks`]), so memory follows the number
//! of events, not the size of the file. A final line cut short (the recorder
//! was killed mid-write) is skipped with a warning; anything else malformed is
//! an error naming the line. A plain line is read by a hand-written fast path
//! ([`crate::jsonl_fast`]); any other, and every error, by serde_json
//! ([`crate::jsonl_serde`]); a line both can read reads the same by either.
//!
//! The writer appends and fsyncs in batches, so a crash loses at most the last
//! batch and never corrupts earlier lines; given a `.zst` path it writes the
//! same lines through a zstd stream ([`crate::compressed`]) with the same
//! guarantee.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::collected::Collected;
use crate::compressed::{wants_zstd, ZstdSink};
use crate::error::HistoryError;
use crate::event::Event;

/// Reads JSON Lines events from `r`; `file` names the input in messages. The
/// lines are parsed on every core ([`crate::jsonl_blocks`]).
pub(crate) fn read<R: BufRead>(r: R, file: &str, out: &mut Collected) -> Result<(), HistoryError> {
    crate::jsonl_blocks::read(r, file, out)
}

/// Where a [`JsonlWriter`] puts its lines: the file itself, or a zstd stream
/// in it ([`crate::compressed`]).
enum Sink {
    Plain(BufWriter<File>),
    Zstd(ZstdSink),
}

/// Appends events to a `history.jsonl` (or, for a path ending in `.zst`, to a
/// zstd-compressed `history.jsonl.zst`), fsyncing every `batch` events or
/// `interval`, whichever comes first, and on [`JsonlWriter::sync`] and drop.
pub struct JsonlWriter {
    out: Sink,
    unsynced: usize,
    last_sync: Instant,
    batch: usize,
    interval: Duration,
    line: Vec<u8>,
}

impl JsonlWriter {
    /// Opens `path` for appending, creating it if needed; syncs every 256 events
    /// or 100 ms. A path ending in `.zst` gets compressed lines: a new zstd
    /// frame after whatever the file holds, its blocks ended at every sync.
    pub fn append(path: &Path) -> io::Result<JsonlWriter> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let out = if wants_zstd(path) {
            Sink::Zstd(ZstdSink::new(file)?)
        } else {
            Sink::Plain(BufWriter::with_capacity(64 * 1024, file))
        };
        Ok(JsonlWriter {
            out,
            unsynced: 0,
            last_sync: Instant::now(),
            batch: 256,
            interval: Duration::from_millis(100),
            line: Vec::with_capacity(256),
        })
    }

    /// Changes the batch: sync after `events` events or `interval`.
    pub fn with_batch(mut self, events: usize, interval: Duration) -> JsonlWriter {
        self.batch = events.max(1);
        self.interval = interval;
        self
    }

    /// Writes one event as one line.
    pub fn write(&mut self, e: &Event) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, e).map_err(io::Error::other)?;
        self.line.push(b'\n');
        match &mut self.out {
            Sink::Plain(out) => out.write_all(&self.line)?,
            Sink::Zstd(out) if out.is_open() => out.write_all(&self.line)?,
            Sink::Zstd(_) => return Err(io::Error::other("the history was already finished")),
        }
        self.unsynced += 1;
        if self.unsynced >= self.batch || self.last_sync.elapsed() >= self.interval {
            self.sync()?;
        }
        Ok(())
    }

    /// Flushes buffered lines and fsyncs the file (for a compressed history:
    /// ends the current zstd block first, so every line written can be read
    /// back from the file as it stands).
    pub fn sync(&mut self) -> io::Result<()> {
        match &mut self.out {
            Sink::Plain(out) => {
                out.flush()?;
                out.get_ref().sync_data()?;
            }
            Sink::Zstd(out) => out.sync()?,
        }
        self.unsynced = 0;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Syncs and closes, reporting any error (drop would swallow it); a
    /// compressed history's frame is ended here.
    pub fn finish(mut self) -> io::Result<()> {
        self.close()
    }

    /// Ends a compressed frame and syncs; the writer takes no more lines.
    fn close(&mut self) -> io::Result<()> {
        match &mut self.out {
            Sink::Plain(_) => self.sync(),
            Sink::Zstd(out) => {
                out.finish()?;
                self.unsynced = 0;
                Ok(())
            }
        }
    }
}

impl Drop for JsonlWriter {
    fn drop(&mut self) {
        let open = matches!(&self.out, Sink::Zstd(z) if z.is_open());
        if self.unsynced > 0 || open {
            let _ = self.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn read_str(text: &str) -> Result<Collected, HistoryError> {
        let mut out = Collected::default();
        read(text.as_bytes(), "h.jsonl", &mut out).map(|()| out)
    }

    #[test]
    fn reads_events_and_keeps_unknown_fields() {
        let c = read_str(
            "{\"index\":0,\"time\":5,\"type\":\"invoke\",\"process\":3,\"f\":\"write\",\"value\":5,\"node\":\"n2\",\"zone\":\"a\"}\n\n",
        )
        .unwrap();
        assert_eq!(c.events.len(), 1);
        assert_eq!(c.events[0].node.as_deref(), Some("n2"));
        assert_eq!(c.events[0].extra("zone"), Some(&Value::str("a")));
    }

    #[test]
    fn a_cut_final_line_is_a_warning_but_a_cut_middle_line_is_an_error() {
        let good = "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n";
        let c = read_str(&format!("{good}{{\"type\":\"ok\",\"pro")).unwrap();
        assert_eq!(c.events.len(), 1);
        assert!(
            c.warnings[0].starts_with("h.jsonl:2: skipped"),
            "{:?}",
            c.warnings
        );
        let err = read_str(&format!("{good}{{\"type\":\"ok\",\"pro\n{good}")).unwrap_err();
        assert!(
            err.to_string().starts_with("h.jsonl:2: invalid JSON"),
            "{err}"
        );
    }

    #[test]
    fn field_errors_name_the_line_without_serde_noise() {
        let err = read_str("{\"type\":\"ok\"}\n{\"type\":\"bogus\"}\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "h.jsonl:2: unknown type \"bogus\" (expected invoke, ok, fail or info)"
        );
        let err = read_str("[1,2]\n").unwrap_err();
        assert!(
            err.to_string().contains("expected an event object"),
            "{err}"
        );
    }

    #[test]
    fn lines_straddling_the_read_buffer_read_the_same() {
        let mut text: String = (0..40)
            .map(|i| {
                format!(
                    "{{\"index\":{i},\"type\":\"invoke\",\"process\":{i},\"f\":\"w\",\"value\":[{i},\"a\\u00e9\"]}}\n\n"
                )
            })
            .collect();
        text.push_str("{\"type\":\"ok\",\"pro");
        let whole = read_str(&text).unwrap();
        assert_eq!(whole.events.len(), 40);
        assert_eq!(whole.events[3].value.to_string(), "[3 \"a\u{e9}\"]");
        for cap in [1, 2, 7, 64, 100] {
            let mut out = Collected::default();
            let r = std::io::BufReader::with_capacity(cap, text.as_bytes());
            read(r, "h.jsonl", &mut out).unwrap();
            assert_eq!(out.events, whole.events, "{cap}");
            assert_eq!(out.lines, whole.lines, "{cap}");
            assert_eq!(out.warnings, whole.warnings, "{cap}");
        }
    }

    #[test]
    fn writer_output_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let mut w = JsonlWriter::append(&path).unwrap();
        let e = Event::new(
            0,
            crate::EventType::Invoke,
            crate::Process::Client(1),
            "write",
            Value::Int(3),
        );
        w.write(&e).unwrap();
        w.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let c = read_str(&text).unwrap();
        assert_eq!(c.events, vec![e]);
    }
}
