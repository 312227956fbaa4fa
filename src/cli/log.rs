//! `faultline.log` and the log on standard error.
//!
//! The libraries only emit `tracing` events; this module decides where they
//! go. Two layers share one subscriber:
//!
//! - **the run's `faultline.log`**: what the harness did, in order — every
//!   command run on a node or host with its exit status and duration, faults
//!   started and stopped, leader observations, client (re)connects, phases,
//!   teardown steps, anything skipped or refused. Its filter is `FAULTLINE_LOG`
//!   (else `RUST_LOG`, else `warn,faultline=debug`), in `tracing`'s
//!   `target=level` syntax. Events from before a run directory exists are kept
//!   (up to [`PENDING`] bytes) and written at the top of the file once it does;
//!   a refused run never gets one.
//! - **standard error**: warnings by default; `-v` info, `-vv` debug, `-vvv`
//!   trace (for faultline's own events), `-q` errors only.
//!
//! Each line carries the wall-clock time and the time on the history's clock
//! (seconds since the recorder started, the `time` of `history.jsonl`), so a
//! log line and a history event can be put side by side; before the recorder
//! starts the history column reads `setup`.

use std::fs::File;
use std::io::{LineWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// What the file keeps when `FAULTLINE_LOG` and `RUST_LOG` are unset.
pub const DEFAULT_FILTER: &str = "warn,faultline=debug";

/// Bytes of events kept while no run directory is open.
pub const PENDING: usize = 1 << 20;

/// Where file events go: the open `faultline.log`, or a bounded buffer.
struct Sink {
    file: Option<LineWriter<File>>,
    pending: Vec<u8>,
}

static SINK: Mutex<Sink> = Mutex::new(Sink {
    file: None,
    pending: Vec::new(),
});

/// Time 0 of the history's clock, while a run records.
static EPOCH: Mutex<Option<Instant>> = Mutex::new(None);

fn sink() -> std::sync::MutexGuard<'static, Sink> {
    SINK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The file layer's writer.
struct FileOut;

impl Write for FileOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut guard = sink();
        let s = &mut *guard;
        match s.file.as_mut() {
            Some(f) => {
                // A full disk must not stop the test: the line is lost.
                let _ = f.write_all(buf);
            }
            None if s.pending.len() + buf.len() <= PENDING => s.pending.extend_from_slice(buf),
            None => {}
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match sink().file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for FileOut {
    type Writer = FileOut;
    fn make_writer(&'a self) -> FileOut {
        FileOut
    }
}

/// Wall clock, then the history's clock.
struct Clocks;

impl FormatTime for Clocks {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        tracing_subscriber::fmt::time::SystemTime.format_time(w)?;
        match *EPOCH.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(t0) => write!(w, " [{:>9.3} s]", t0.elapsed().as_secs_f64()),
            None => write!(w, " [    setup  ]"),
        }
    }
}

/// The file's filter from the environment; the error names the variable.
fn file_filter() -> Result<EnvFilter, String> {
    for var in ["FAULTLINE_LOG", "RUST_LOG"] {
        if let Ok(v) = std::env::var(var) {
            if !v.trim().is_empty() {
                return EnvFilter::try_new(&v).map_err(|e| format!("{var}={v:?}: {e}"));
            }
        }
    }
    Ok(EnvFilter::new(DEFAULT_FILTER))
}

/// The filter for standard error: `-q` errors, default warnings, `-v` info,
/// `-vv` debug, `-vvv` trace (others' events stay at warnings).
pub fn stderr_directive(verbose: u8, quiet: bool) -> String {
    if quiet {
        return "error".into();
    }
    match verbose {
        0 => "warn".into(),
        1 => "warn,faultline=info".into(),
        2 => "warn,faultline=debug".into(),
        _ => "warn,faultline=trace".into(),
    }
}

/// Installs the subscriber (once per process; later calls do nothing).
/// A bad `FAULTLINE_LOG` is an error in one line.
pub fn init(verbose: u8, quiet: bool) -> Result<(), String> {
    let file = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_timer(Clocks)
        .with_writer(FileOut)
        .with_filter(file_filter()?);
    let stderr = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_filter(EnvFilter::new(stderr_directive(verbose, quiet)));
    let _ = tracing_subscriber::registry()
        .with(file)
        .with(stderr)
        .try_init();
    Ok(())
}

/// `faultline.log` of a run, open while this lives.
pub struct RunLog(());

/// Starts writing `dir/faultline.log` (appending), beginning with what was
/// logged before the run directory existed.
pub fn attach(dir: &Path) -> RunLog {
    let path = dir.join("faultline.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path);
    let mut s = sink();
    match file {
        Ok(f) => {
            let mut f = LineWriter::new(f);
            let _ = f.write_all(&std::mem::take(&mut s.pending));
            s.file = Some(f);
        }
        Err(e) => {
            drop(s);
            tracing::warn!("cannot write {}: {e}", path.display());
        }
    }
    RunLog(())
}

/// Puts the history's clock on every line from now on (`None`: no run records).
pub fn set_epoch(t0: Option<Instant>) {
    *EPOCH.lock().unwrap_or_else(|e| e.into_inner()) = t0;
}

impl Drop for RunLog {
    fn drop(&mut self) {
        set_epoch(None);
        let mut s = sink();
        if let Some(mut f) = s.file.take() {
            let _ = f.flush();
        }
        s.pending.clear();
    }
}
