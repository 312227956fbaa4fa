//! The recorder: the one place events get their index and time.
//!
//! Workers hand it invocations (before sending them) and completions (after
//! receiving them). Index and time are assigned together under one lock, so
//! history order is real-time order: an invocation recorded before a
//! completion really was sent before that completion arrived — the order the
//! linearizability and realtime checks rely on. A writer thread drains the
//! buffer every few milliseconds into `history.jsonl.zst` (zstd-compressed
//! JSON Lines; a path without `.zst` gets plain lines), fsyncing in batches; a
//! harness killed mid-run leaves every event up to the last batch.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use faultline_history::fault::{fault_edge, FaultEdge};
use faultline_history::{Event, EventType, JsonlWriter, Process, Value};

/// Counts of completions, for the progress line.
#[derive(Debug, Default)]
pub struct Tally {
    /// `ok` completions.
    pub ok: AtomicU64,
    /// `fail` completions.
    pub fail: AtomicU64,
    /// `info` completions.
    pub info: AtomicU64,
}

struct Inner {
    start: Instant,
    buf: Mutex<(u64, Vec<Event>)>,
    done: AtomicBool,
    tally: Tally,
    fault: Mutex<String>,
}

/// Appends events to a history file.
pub struct Recorder {
    inner: Arc<Inner>,
    writer: Option<JoinHandle<std::io::Result<u64>>>,
}

/// One event to record (index and time are the recorder's).
pub struct Rec<'a> {
    /// invoke, ok, fail or info.
    pub kind: EventType,
    /// Who.
    pub process: Process,
    /// The function.
    pub f: &'a str,
    /// Argument or result.
    pub value: Value,
    /// The node known to have served it.
    pub node: Option<&'a str>,
    /// The node it was sent to, when who served it is not known.
    pub sent_to: Option<&'a str>,
    /// The error, for fail and info.
    pub error: Option<String>,
}

impl Recorder {
    /// Starts recording into `path` (appending).
    pub fn start(path: &Path) -> std::io::Result<Recorder> {
        let mut out = JsonlWriter::append(path)?.with_batch(8192, Duration::from_millis(100));
        let inner = Arc::new(Inner {
            start: Instant::now(),
            buf: Mutex::new((0, Vec::with_capacity(4096))),
            done: AtomicBool::new(false),
            tally: Tally::default(),
            fault: Mutex::new(String::new()),
        });
        let shared = inner.clone();
        let writer = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || {
                let mut spare = Vec::with_capacity(4096);
                let mut written = 0u64;
                loop {
                    let finished = shared.done.load(Ordering::Acquire);
                    {
                        let mut b = shared.buf.lock().unwrap_or_else(|e| e.into_inner());
                        std::mem::swap(&mut b.1, &mut spare);
                    }
                    for e in spare.drain(..) {
                        out.write(&e)?;
                        written += 1;
                    }
                    if finished {
                        out.sync()?;
                        return Ok(written);
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            })?;
        Ok(Recorder {
            inner,
            writer: Some(writer),
        })
    }

    /// Nanoseconds since recording began.
    pub fn now(&self) -> i64 {
        self.inner.start.elapsed().as_nanos() as i64
    }

    /// Nanoseconds from the start of recording to `t` (0 for an earlier `t`):
    /// the history's clock, for times an event carries besides its own.
    pub fn at(&self, t: Instant) -> i64 {
        t.saturating_duration_since(self.inner.start).as_nanos() as i64
    }

    /// The instant the history's clock counts from (time 0).
    pub fn epoch(&self) -> Instant {
        self.inner.start
    }

    /// Records an observation the nemesis process made from `from` (a time
    /// from [`Recorder::now`]) until now: the event's `time` is when it ended
    /// (so the history stays in real-time order) and its `observed_from` field
    /// when it began. Returns its index.
    pub fn record_observation(&self, f: &str, value: Value, from: i64) -> u64 {
        let mut e = Event::new(0, EventType::Info, Process::Nemesis, f, value);
        e.extra.push(("observed_from".into(), Value::Int(from)));
        self.push(e)
    }

    /// Records one event; returns its index.
    pub fn record(&self, r: Rec<'_>) -> u64 {
        self.record_extra(r, Vec::new())
    }

    /// Records one event with extra fields (e.g. a fault's `began`); returns
    /// its index.
    pub fn record_extra(&self, r: Rec<'_>, extra: Vec<(Arc<str>, Value)>) -> u64 {
        match r.kind {
            EventType::Ok => self.inner.tally.ok.fetch_add(1, Ordering::Relaxed),
            EventType::Fail => self.inner.tally.fail.fetch_add(1, Ordering::Relaxed),
            EventType::Info if !r.process.is_nemesis() => {
                self.inner.tally.info.fetch_add(1, Ordering::Relaxed)
            }
            _ => 0,
        };
        let mut e = Event::new(0, r.kind, r.process, r.f, r.value);
        e.node = r.node.map(Into::into);
        e.sent_to = r.sent_to.map(Into::into);
        e.error = r.error.map(|s| Value::str(&s));
        e.extra = extra;
        if e.is_nemesis() {
            match fault_edge(&e) {
                Some(FaultEdge::Open { name, .. }) => {
                    let mut fault = self.inner.fault.lock().unwrap_or_else(|e| e.into_inner());
                    *fault = format!("{name} {}", e.value);
                }
                Some(FaultEdge::Close { .. }) => {
                    self.inner
                        .fault
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clear();
                }
                _ => {}
            }
        }
        self.push(e)
    }

    /// Gives `e` the next index and the time now, and queues it.
    fn push(&self, mut e: Event) -> u64 {
        let mut b = self.inner.buf.lock().unwrap_or_else(|e| e.into_inner());
        let index = b.0;
        b.0 += 1;
        e.index = index;
        e.time = Some(self.now());
        b.1.push(e);
        index
    }

    /// The fault in force, as its start event described it ("" if none).
    pub fn fault(&self) -> String {
        self.inner
            .fault
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Completion counts so far.
    pub fn tally(&self) -> &Tally {
        &self.inner.tally
    }

    /// Writes everything recorded and syncs; returns the number of events.
    pub fn finish(mut self) -> std::io::Result<u64> {
        self.stop()
    }

    fn stop(&mut self) -> std::io::Result<u64> {
        self.inner.done.store(true, Ordering::Release);
        match self.writer.take() {
            Some(w) => w
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the recorder thread panicked"))),
            None => Ok(0),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_and_times_follow_recording_order_across_threads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let rec = Arc::new(Recorder::start(&path).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|p| {
                let rec = rec.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        for kind in [EventType::Invoke, EventType::Ok] {
                            rec.record(Rec {
                                kind,
                                process: Process::Client(p),
                                f: "write",
                                value: Value::Int(i),
                                node: Some("n1"),
                                sent_to: None,
                                error: None,
                            });
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let rec = Arc::into_inner(rec).unwrap();
        assert_eq!(rec.tally().ok.load(Ordering::Relaxed), 4000);
        assert_eq!(rec.finish().unwrap(), 8000);
        let h = faultline_history::read_path(&path, None).unwrap().history;
        assert_eq!(h.len(), 8000);
        let times: Vec<i64> = h.events().iter().map(|e| e.time.unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(h.ops().count(), 4000);
    }
}
