//! Headless Chromium for browser tests: dump a page's DOM after its scripts
//! ran, take a screenshot, and collect what the page's scripts reported.
//!
//! Debian's `chromium` is run with a fixed set of flags (no sandbox, no GPU, no
//! first-run, no background networking, component updates or sync) and a fresh
//! `--user-data-dir` per call, so runs never share state. `--virtual-time-budget`
//! lets the page's scripts and timers run before the DOM is dumped.
//!
//! Uncaught errors: with `--enable-logging=stderr --v=0` Chromium 156 on Debian
//! logs every console message on stderr as
//!
//! ```text
//! [pid:tid:MMDD/hhmmss.micros:INFO:CONSOLE:4] "Uncaught TypeError: Cannot read properties of null (reading 'foo')", source: file:///tmp/t.html (4)
//! [pid:tid:MMDD/hhmmss.micros:INFO:CONSOLE:4] "Uncaught (in promise) Error: boom", source: ... (4)
//! ```
//!
//! (console.log, .warn and .error all print as `INFO:CONSOLE`, so the level
//! cannot be told apart; uncaught exceptions and rejections start with
//! `"Uncaught`). [`Page::errors`] keeps those, plus failed resource loads
//! (pages must be self-contained). Tests also check the page's own contract:
//! `body[data-ready="1"]` and an empty `#script-errors`.
//!
//! When no Chromium is installed, [`Chromium::find`] returns `None` and the
//! tests skip (CI installs the `chromium` package). Every call is killed
//! after [`TIMEOUT`].

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Chromium call that takes longer is killed and the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The flags every call uses.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// An installed Chromium.
pub struct Chromium {
    bin: PathBuf,
}

/// What a `--dump-dom` call saw.
pub struct Page {
    /// The serialized DOM after the scripts ran.
    pub dom: String,
    /// Chromium's stderr.
    pub stderr: String,
}

impl Page {
    /// Console lines for uncaught errors, rejections and failed loads.
    pub fn errors(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .filter(|l| l.contains("\"Uncaught") || l.contains("Failed to load resource"))
            .collect()
    }

    /// Whether the page's script finished: `<body ... data-ready="1"`.
    pub fn ready(&self) -> bool {
        self.body_tag().contains("data-ready=\"1\"")
    }

    /// The `<body ...>` start tag.
    pub fn body_tag(&self) -> &str {
        let start = self.dom.find("<body").unwrap_or(0);
        let end = self.dom[start..]
            .find('>')
            .map_or(self.dom.len(), |e| start + e + 1);
        &self.dom[start..end]
    }

    /// The serialized element with `id="<id>"`, from its start tag to its
    /// matching end tag (tags of the same name are counted, so nesting works
    /// for the DOM Chromium serializes); `None` when there is none.
    pub fn element(&self, id: &str) -> Option<&str> {
        let at = self.dom.find(&format!(" id=\"{id}\""))?;
        let start = self.dom[..at].rfind('<')?;
        let name: String = self.dom[start + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let (open, close) = (format!("<{name}"), format!("</{name}>"));
        let mut depth = 0usize;
        let mut i = start;
        while i < self.dom.len() {
            let rest = &self.dom[i..];
            if rest.starts_with(&close) {
                depth -= 1;
                if depth == 0 {
                    return Some(&self.dom[start..i + close.len()]);
                }
                i += close.len();
            } else if rest.starts_with(&open) && rest[open.len()..].starts_with([' ', '>', '/']) {
                depth += 1;
                i += open.len();
            } else {
                i += rest.chars().next().map_or(1, char::len_utf8);
            }
        }
        None
    }

    /// The text of the page's hidden `#script-errors` element (`None` when the
    /// page has none).
    pub fn script_errors(&self) -> Option<&str> {
        let at = self.dom.find("id=\"script-errors\"")?;
        let open = at + self.dom[at..].find('>')? + 1;
        let close = open + self.dom[open..].find("</")?;
        Some(&self.dom[open..close])
    }
}

impl Chromium {
    /// The `chromium` on PATH (or `$FAULTLINE_CHROMIUM`), if it runs.
    pub fn find() -> Option<Chromium> {
        let bin = PathBuf::from(
            std::env::var_os("FAULTLINE_CHROMIUM").unwrap_or_else(|| "chromium".into()),
        );
        let ok = Command::new(&bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Chromium { bin })
    }

    /// Loads `url`, lets its scripts run, and returns the DOM and stderr.
    pub fn dump_dom(&self, url: &str) -> Page {
        let (stdout, stderr) = self.run(&[
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ]);
        Page {
            dom: stdout,
            stderr,
        }
    }

    /// Saves a 1400×1800 screenshot of `url` as a PNG at `path`.
    pub fn screenshot(&self, url: &str, path: &Path) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        let _ = std::fs::remove_file(path);
        let shot = format!("--screenshot={}", path.display());
        let (_, stderr) = self.run(&[
            &shot,
            "--window-size=1400,1800",
            "--virtual-time-budget=5000",
            "--hide-scrollbars",
            url,
        ]);
        let png = std::fs::read(path)
            .unwrap_or_else(|e| panic!("no screenshot at {}: {e}\n{stderr}", path.display()));
        assert!(png.starts_with(b"\x89PNG"), "not a PNG: {}", path.display());
    }

    /// Runs Chromium with the fixed flags, a fresh profile and `args`;
    /// returns stdout and stderr.
    fn run(&self, args: &[&str]) -> (String, String) {
        let profile = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Its own process group, so a hung browser goes with all its children.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().expect("start chromium");
        let out = drain(child.stdout.take().unwrap());
        let err = drain(child.stderr.take().unwrap());
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > TIMEOUT {
                kill_group(&mut child);
                panic!(
                    "chromium took more than {TIMEOUT:?} for {args:?}\n{}",
                    err.join().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
        assert!(status.success(), "chromium {args:?}: {status}\n{stderr}");
        (stdout, stderr)
    }
}

fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Kills the browser's process group (the group id is its pid).
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", &format!("-{}", child.id())])
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// Where tests leave screenshots: `target/browser-artifacts/`.
pub fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("browser-artifacts")
}
