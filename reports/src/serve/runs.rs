//! Finding the runs in a store, cheaply.
//!
//! A store is `<store>/<test-name>/<timestamp>/`. The index must stay fast with
//! thousands of runs, so the invariant here is: per run, read *only*
//! `results.json`, and only up to its `valid`, `anomaly_types` and
//! `interrupted` (which `Results` writes before `checkers`; a run's evidence
//! after them can be megabytes), and take the test name and the time from the
//! directory names. Symlinks (`store/latest`, `<test>/latest`) are not runs and
//! are skipped, so each run is listed exactly once. A run without a readable
//! `results.json` (still running, or crashed) is listed as `unknown`.

use std::fs;
use std::path::Path;

use std::io::BufReader;

use faultline_checkers::Validity;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

/// What the index shows about one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunEntry {
    /// The test name (the first directory level).
    pub test: String,
    /// The run's directory name, normally a UTC timestamp like `20261122T104206.692Z`.
    pub timestamp: String,
    /// The verdict from `results.json`; `unknown` when missing or unreadable.
    pub valid: Validity,
    /// Anomaly types from `results.json`.
    pub anomaly_types: Vec<String>,
    /// Whether `results.json` was read.
    pub has_results: bool,
    /// Whether the run has a `faultline.log` (what the harness did).
    pub has_log: bool,
    /// Whether `results.json` says the run was interrupted (Ctrl-C, SIGTERM).
    pub interrupted: bool,
}

/// The two fields of `results.json` the index needs.
#[derive(Default)]
struct Head {
    valid: Option<serde_json::Value>,
    anomaly_types: Option<Vec<String>>,
    interrupted: bool,
}

/// Reads `valid` and `anomaly_types` from the start of a `results.json` and
/// stops there. `Results` serializes them first, so for a real run only the
/// first buffer (8 KiB) of a file that may hold megabytes of evidence is read;
/// in another order the other fields are skipped without being built. serde
/// then reports the object as unfinished, which is expected: the fields were
/// already stored through the seed.
struct HeadSeed<'a>(&'a mut Head);

impl<'de> DeserializeSeed<'de> for HeadSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeadSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a results.json object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let head = self.0.valid.is_some() && self.0.anomaly_types.is_some();
            // `interrupted`, when present, comes before `checkers`.
            if head && key == "checkers" {
                break;
            }
            match key.as_str() {
                "valid" => self.0.valid = Some(map.next_value()?),
                "anomaly_types" => self.0.anomaly_types = Some(map.next_value()?),
                "interrupted" => {
                    let v: serde_json::Value = map.next_value()?;
                    self.0.interrupted = !v.is_null();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            if self.0.valid.is_some() && self.0.anomaly_types.is_some() && self.0.interrupted {
                break;
            }
        }
        Ok(())
    }
}

/// The head of `results.json`, if it has a `valid` field.
fn read_head(results: &Path) -> Option<Head> {
    let file = fs::File::open(results).ok()?;
    let mut de = serde_json::Deserializer::from_reader(BufReader::new(file));
    let mut head = Head::default();
    let _ = HeadSeed(&mut head).deserialize(&mut de);
    head.valid.is_some().then_some(head)
}

/// Every run in `store`, newest first (by directory name, then test name).
/// A missing store has no runs.
pub fn scan(store: &Path) -> Vec<RunEntry> {
    let mut runs = Vec::new();
    for test in real_dirs(store) {
        let test_dir = store.join(&test);
        for ts in real_dirs(&test_dir) {
            let results = test_dir.join(&ts).join("results.json");
            runs.push(entry(test.clone(), ts, &results));
        }
    }
    runs.sort_by(|a, b| {
        b.timestamp
            .cmp(&a.timestamp)
            .then_with(|| a.test.cmp(&b.test))
    });
    runs
}

fn entry(test: String, timestamp: String, results: &Path) -> RunEntry {
    let (valid, anomaly_types, has_results, interrupted) = match read_head(results) {
        Some(h) => (
            validity(h.valid.as_ref()),
            h.anomaly_types.unwrap_or_default(),
            true,
            h.interrupted,
        ),
        None => (Validity::Unknown, Vec::new(), false, false),
    };
    let has_log = results.with_file_name("faultline.log").is_file();
    RunEntry {
        test,
        timestamp,
        valid,
        anomaly_types,
        has_results,
        has_log,
        interrupted,
    }
}

/// `true` / `false` / anything else (`"unknown"`) as results.json writes it.
fn validity(v: Option<&serde_json::Value>) -> Validity {
    match v {
        Some(serde_json::Value::Bool(true)) => Validity::True,
        Some(serde_json::Value::Bool(false)) => Validity::False,
        _ => Validity::Unknown,
    }
}

/// Names of the real (not symlinked) subdirectories of `dir` that are valid
/// UTF-8; none when `dir` cannot be read.
fn real_dirs(dir: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

/// The data-valid attribute value and the class suffix: `true`, `false`, `unknown`.
pub fn validity_attr(v: Validity) -> &'static str {
    match v {
        Validity::True => "true",
        Validity::False => "false",
        Validity::Unknown => "unknown",
    }
}

/// Server-side filtering: every whitespace-separated word of `q` must occur,
/// case-insensitively, in the test name, time, verdict word or anomaly types; `verdict` is one of
/// `valid|true`, `invalid|false`, `unknown` (anything else filters nothing).
pub fn matches(run: &RunEntry, q: Option<&str>, verdict: Option<&str>) -> bool {
    let verdict_ok = match verdict.map(str::to_ascii_lowercase).as_deref() {
        Some("valid" | "true") => run.valid == Validity::True,
        Some("invalid" | "false") => run.valid == Validity::False,
        Some("unknown") => run.valid == Validity::Unknown,
        _ => true,
    };
    let q = q.unwrap_or("").to_lowercase();
    if !verdict_ok {
        return false;
    }
    let text = search_text(run);
    q.split_whitespace().all(|w| text.contains(w))
}

/// The lowercase text the filters search: name, time, verdict, anomaly types.
pub fn search_text(run: &RunEntry) -> String {
    format!(
        "{} {} {}{} {}",
        run.test,
        run.timestamp,
        crate::verdict_word(run.valid),
        if run.interrupted { " interrupted" } else { "" },
        run.anomaly_types.join(" ")
    )
    .to_lowercase()
}

/// `20261122T104206.692Z` as `2026-11-22 10:42:06.692Z`; other names unchanged.
pub fn display_time(ts: &str) -> String {
    let b = ts.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if b.len() >= 15 && digits(0..8) && b[8] == b'T' && digits(9..15) {
        format!(
            "{}-{}-{} {}:{}:{}{}",
            &ts[0..4],
            &ts[4..6],
            &ts[6..8],
            &ts[9..11],
            &ts[11..13],
            &ts[13..15],
            &ts[15..]
        )
    } else {
        ts.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(store: &Path, test: &str, ts: &str, results: Option<&str>) {
        let d = store.join(test).join(ts);
        fs::create_dir_all(&d).unwrap();
        if let Some(r) = results {
            fs::write(d.join("results.json"), r).unwrap();
        }
    }

    #[test]
    fn lists_runs_newest_first_and_skips_latest_links() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path();
        run(
            s,
            "a",
            "20260101T000000.000Z",
            Some(r#"{"valid":true,"anomaly_types":[],"checkers":{"x":{"big":[1,2,3]}}}"#),
        );
        run(
            s,
            "b",
            "20260102T000000.000Z",
            Some(r#"{"valid":false,"anomaly_types":["lost-write","G1c"]}"#),
        );
        run(
            s,
            "b",
            "20260103T000000.000Z",
            Some(r#"{"valid":"unknown","anomaly_types":[]}"#),
        );
        run(s, "c", "20260104T000000.000Z", None);
        run(s, "d", "20260105T000000.000Z", Some("{not json"));
        std::os::unix::fs::symlink("b/20260103T000000.000Z", s.join("latest")).unwrap();
        std::os::unix::fs::symlink("20260103T000000.000Z", s.join("b/latest")).unwrap();
        let runs = scan(s);
        let names: Vec<_> = runs.iter().map(|r| (r.test.as_str(), r.valid)).collect();
        assert_eq!(
            names,
            [
                ("d", Validity::Unknown),
                ("c", Validity::Unknown),
                ("b", Validity::Unknown),
                ("b", Validity::False),
                ("a", Validity::True)
            ]
        );
        assert_eq!(runs[3].anomaly_types, ["lost-write", "G1c"]);
        assert!(runs[2].has_results && !runs[1].has_results && !runs[0].has_results);
        assert!(scan(&s.join("missing")).is_empty());
    }

    #[test]
    fn reading_stops_after_the_two_fields() {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path();
        // Everything after the head is garbage: it is never parsed.
        let mut big = String::from(r#"{"valid":false,"anomaly_types":["G1c"],"checkers":{"#);
        big.push_str(&"x".repeat(1 << 20));
        run(s, "big", "2", Some(&big));
        // Other orders still work.
        run(
            s,
            "late",
            "1",
            Some(r#"{"checkers":{"a":[1,{"b":null}]},"anomaly_types":["x"],"valid":true}"#),
        );
        run(s, "novalid", "0", Some(r#"{"anomaly_types":["x"]}"#));
        let mut cut = String::from(
            r#"{"valid":"unknown","anomaly_types":[],"interrupted":{"signal":"SIGINT","at_s":1.0},"checkers":{"#,
        );
        cut.push_str(&"x".repeat(1 << 16));
        run(s, "cut", "00", Some(&cut));
        let runs = scan(s);
        let c = runs.iter().find(|r| r.test == "cut").unwrap();
        assert!(c.interrupted && c.valid == Validity::Unknown, "{c:?}");
        assert!(search_text(c).contains("interrupted"));
        assert!(!runs.iter().any(|r| r.test != "cut" && r.interrupted));
        let runs: Vec<RunEntry> = runs.into_iter().filter(|r| r.test != "cut").collect();
        assert_eq!(
            (runs[0].valid, runs[0].anomaly_types.clone()),
            (Validity::False, vec!["G1c".to_string()])
        );
        assert_eq!(
            (runs[1].valid, runs[1].anomaly_types.clone()),
            (Validity::True, vec!["x".to_string()])
        );
        assert!(!runs[2].has_results);
    }

    #[test]
    fn filters_by_text_and_verdict() {
        let r = RunEntry {
            test: "refkv-Set".into(),
            timestamp: "20260101T000000.000Z".into(),
            valid: Validity::False,
            anomaly_types: vec!["lost-write".into()],
            has_results: true,
            has_log: false,
            interrupted: false,
        };
        assert!(matches(&r, None, None));
        assert!(matches(&r, Some("LOST"), Some("invalid")));
        assert!(matches(&r, Some("refkv-set"), Some("false")));
        assert!(matches(&r, Some("INVALID"), None));
        assert!(!matches(&r, Some("lost"), Some("valid")));
        assert!(!matches(&r, Some("etcd"), None));
        assert!(!matches(&r, None, Some("unknown")));
        assert!(matches(&r, Some(" invalid  lost "), None));
        assert!(!matches(&r, Some("invalid G2"), None));
    }

    #[test]
    fn timestamps_are_shown_readably() {
        assert_eq!(
            display_time("20261122T104206.692Z"),
            "2026-11-22 10:42:06.692Z"
        );
        assert_eq!(display_time("my-run"), "my-run");
        assert_eq!(display_time("2026112XT104206"), "2026112XT104206");
    }
}
