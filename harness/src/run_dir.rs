//! A run directory: the contract between a run and everything after it.
//!
//! `test.json` holds the exact options and seed (enough to rerun), `history.jsonl.zst`
//! what happened, `results.json` what the checkers concluded. `faultline check
//! RUN_DIR` reads the first two and rewrites the third, so a run can be re-judged
//! offline by a newer faultline. Files are replaced atomically (written beside,
//! then renamed), so a reader sees the old file or the new one, never half.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use faultline_history::compressed::{history_in, HISTORY_NAMES};

use crate::error::{io_at, StoreError};

/// The options a run was started with, as `test.json` stores them.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TestSpec {
    /// The test's name (its directory in the store).
    pub name: String,
    /// The workload, which decides the checkers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// Every other option, kept as written.
    #[serde(flatten)]
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// One run's directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    pub(crate) fn new_unchecked(path: PathBuf) -> RunDir {
        RunDir { path }
    }

    /// Opens an existing run directory; it must hold a history.
    pub fn open(path: &Path) -> Result<RunDir, StoreError> {
        let dir = RunDir {
            path: path.to_owned(),
        };
        if dir.history_file().is_none() {
            return Err(StoreError::NotARun(path.to_owned()));
        }
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the recorder writes the history: `history.jsonl.zst`, JSON Lines
    /// compressed as recorded (see docs/history.md).
    pub fn history_path(&self) -> PathBuf {
        self.path.join(HISTORY_NAMES[0])
    }

    /// The history present: `history.jsonl.zst`, else a plain `history.jsonl`,
    /// else an imported `history.edn`.
    pub fn history_file(&self) -> Option<PathBuf> {
        history_in(&self.path)
    }

    /// Reads `test.json`, if the run has one.
    pub fn test_spec(&self) -> Result<Option<TestSpec>, StoreError> {
        let path = self.path.join("test.json");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_at(&path)(e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StoreError::BadTestFile {
                path,
                msg: e.to_string(),
            })
    }

    /// Writes `test.json`.
    pub fn write_test_spec(&self, spec: &TestSpec) -> Result<(), StoreError> {
        self.write_json("test.json", spec)
    }

    /// Writes `results.json`.
    pub fn write_results(&self, results: &impl Serialize) -> Result<(), StoreError> {
        self.write_json("results.json", results)
    }

    fn write_json(&self, name: &str, value: &impl Serialize) -> Result<(), StoreError> {
        let path = self.path.join(name);
        let tmp = self.path.join(format!(".{name}.tmp"));
        let mut text = serde_json::to_vec_pretty(value).map_err(|e| StoreError::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        text.push(b'\n');
        fs::write(&tmp, text).map_err(io_at(&tmp))?;
        fs::rename(&tmp, &path).map_err(io_at(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_and_results_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new_unchecked(dir.path().join("t"));
        fs::create_dir_all(run.path()).unwrap();
        assert!(RunDir::open(run.path()).is_err(), "no history yet");
        let mut spec = TestSpec {
            name: "t".into(),
            workload: Some("register".into()),
            ..TestSpec::default()
        };
        spec.options.insert("seed".into(), 42.into());
        run.write_test_spec(&spec).unwrap();
        fs::write(run.history_path(), "").unwrap();
        let opened = RunDir::open(run.path()).unwrap();
        let back = opened.test_spec().unwrap().unwrap();
        assert_eq!(back.workload.as_deref(), Some("register"));
        assert_eq!(back.options["seed"], 42);
        opened
            .write_results(&serde_json::json!({"valid": true}))
            .unwrap();
        let text = fs::read_to_string(run.path().join("results.json")).unwrap();
        assert!(text.contains("\"valid\": true"));
    }
}
