//! JSON Lines, the canonical history format: one event object per line.
//!
//! `{"index":0,"time":12345,"type":"invoke","process":3,"f":"write","value":5,"node":"n2"}`
//!
//! The reader streams: it holds one line of text at a time, so memory follows the
//! number of events, not the size of the file. A final line cut short (the
//! recorder was killed mid-write) is skipped with a warning; anything else
//! malformed is an error naming the line. The writer appends and fsyncs in
//! batches, so a crash loses at most the last batch and never corrupts earlier
//! lines.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::error::HistoryError;
use crate::event::{Event, EventFields};
use crate::format::Collected;
use crate::value::{KeyStr, Value};

/// Reads JSON Lines events from `r`; `file` names the input in messages.
pub(crate) fn read<R: BufRead>(
    mut r: R,
    file: &str,
    out: &mut Collected,
) -> Result<(), HistoryError> {
    let mut buf = Vec::with_capacity(4096);
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = r
            .read_until(b'\n', &mut buf)
            .map_err(|e| HistoryError::io(file, e))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        let complete = buf.last() == Some(&b'\n');
        let text = trim(&buf);
        if text.is_empty() {
            continue;
        }
        let mut field_error = None;
        let mut de = serde_json::Deserializer::from_slice(text);
        let parsed = EventSeed(&mut field_error)
            .deserialize(&mut de)
            .and_then(|fields| de.end().map(|()| fields));
        match parsed {
            Ok(fields) => {
                let e = fields
                    .finish(out.events.len() as u64)
                    .map_err(|m| HistoryError::invalid(file, line, m))?;
                out.push(e, line);
            }
            Err(_) if field_error.is_some() => {
                return Err(HistoryError::invalid(
                    file,
                    line,
                    field_error.unwrap_or_default(),
                ));
            }
            Err(e) if e.is_eof() && !complete && text.first() == Some(&b'{') => {
                out.warnings.push(format!(
                    "{file}:{line}: skipped a final line cut short (the run was interrupted while writing it)"
                ));
                return Ok(());
            }
            Err(e) => return Err(HistoryError::syntax(file, line, json_message(&e))),
        }
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// serde_json's message without its " at line 1 column N" suffix, which would
/// repeat (wrongly) the line we already name.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let msg = text.rfind(" at line ").map_or(&text[..], |i| &text[..i]);
    format!("invalid JSON: {msg} (column {})", e.column())
}

struct EventSeed<'a>(&'a mut Option<String>);

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = EventFields;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<EventFields, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = EventFields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventFields, A::Error> {
        let mut fields = EventFields::default();
        while let Some(k) = map.next_key::<KeyStr>()? {
            let v: Value = map.next_value()?;
            if let Err(msg) = fields.set(&k.0, v) {
                *self.0 = Some(msg.clone());
                return Err(serde::de::Error::custom(msg));
            }
        }
        Ok(fields)
    }
}

/// Appends events to a `history.jsonl`, fsyncing every `batch` events or
/// `interval`, whichever comes first, and on [`JsonlWriter::sync`] and drop.
pub struct JsonlWriter {
    out: BufWriter<File>,
    unsynced: usize,
    last_sync: Instant,
    batch: usize,
    interval: Duration,
    line: Vec<u8>,
}

impl JsonlWriter {
    /// Opens `path` for appending, creating it if needed; syncs every 256 events
    /// or 100 ms.
    pub fn append(path: &Path) -> io::Result<JsonlWriter> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonlWriter {
            out: BufWriter::with_capacity(64 * 1024, file),
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
        self.out.write_all(&self.line)?;
        self.unsynced += 1;
        if self.unsynced >= self.batch || self.last_sync.elapsed() >= self.interval {
            self.sync()?;
        }
        Ok(())
    }

    /// Flushes buffered lines and fsyncs the file.
    pub fn sync(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()?;
        self.unsynced = 0;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Syncs and closes, reporting any error (drop would swallow it).
    pub fn finish(mut self) -> io::Result<()> {
        self.sync()
    }
}

impl Drop for JsonlWriter {
    fn drop(&mut self) {
        if self.unsynced > 0 {
            let _ = self.sync();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
