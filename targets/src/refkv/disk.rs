//! refkv's durability: one append-only file of JSON records per node.
//!
//! Records are buffered while a batch of messages is handled and written and
//! `fdatasync`ed once at the end of the batch, *before* any reply or
//! acknowledgement of that batch leaves the node (group commit). So whatever a
//! node acknowledged survives `kill -9`: on restart the file is replayed.
//! Nothing is rewritten in place — a follower that drops conflicting entries
//! simply logs the replacement at the same index, and replay keeps the last.
//! A torn final line (the process died mid-write) is ignored and cut off.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;

use faultline_history::Value;
use serde::{Deserialize, Serialize};

use super::wire::{Entry, Version};

/// One durable fact.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "r")]
pub enum Record {
    /// Log entry `i` (replaces any entry at `i` and after).
    Entry {
        /// Index, from 1.
        i: u64,
        /// The entry.
        entry: Entry,
    },
    /// The current epoch and the vote cast in it.
    Term {
        /// Epoch.
        epoch: u64,
        /// The node voted for.
        vote: Option<u16>,
    },
    /// A snapshot installed by a joining follower: the state after entry `i`.
    Snapshot {
        /// Index the state reflects.
        i: u64,
        /// Epoch of that entry.
        e: u64,
        /// The state.
        state: Value,
    },
    /// The versions of a key (multi-leader and leaderless).
    Put {
        /// Key.
        key: Value,
        /// Every version kept.
        versions: Vec<Version>,
    },
}

/// The append-only file.
pub struct Disk {
    file: File,
    buf: Vec<u8>,
}

impl Disk {
    /// Opens (or creates) the log at `path` and returns what it holds.
    pub fn open(path: &Path) -> std::io::Result<(Disk, Vec<Record>)> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let mut records = Vec::new();
        let mut good = 0u64;
        {
            let mut r = BufReader::new(&file);
            let mut line = String::new();
            loop {
                line.clear();
                let n = r.read_line(&mut line)?;
                if n == 0 || !line.ends_with('\n') {
                    break;
                }
                match serde_json::from_str::<Record>(&line) {
                    Ok(rec) => records.push(rec),
                    Err(_) => break,
                }
                good += n as u64;
            }
        }
        if file.seek(SeekFrom::End(0))? != good {
            file.set_len(good)?;
        }
        Ok((
            Disk {
                file,
                buf: Vec::new(),
            },
            records,
        ))
    }

    /// Buffers a record until the next [`Disk::sync`].
    pub fn append(&mut self, rec: &Record) {
        if serde_json::to_writer(&mut self.buf, rec).is_ok() {
            self.buf.push(b'\n');
        }
    }

    /// True when records wait to be made durable.
    pub fn dirty(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Writes and fsyncs the buffered records.
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.buf)?;
        self.file.sync_data()?;
        self.buf.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let (mut d, recs) = Disk::open(&path).unwrap();
        assert!(recs.is_empty());
        d.append(&Record::Term {
            epoch: 2,
            vote: Some(1),
        });
        d.append(&Record::Entry {
            i: 1,
            entry: Entry {
                e: 2,
                f: "write".into(),
                v: Value::Int(5),
            },
        });
        d.sync().unwrap();
        drop(d);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"r\":\"Entry\",\"i\":2,")
            .unwrap();
        let (mut d, recs) = Disk::open(&path).unwrap();
        assert_eq!(recs.len(), 2);
        d.append(&Record::Term {
            epoch: 3,
            vote: None,
        });
        d.sync().unwrap();
        let (_, recs) = Disk::open(&path).unwrap();
        assert_eq!(recs.len(), 3, "the torn line was cut before appending");
    }
}
