//! Choosing a reader: the three input formats and how a file's format is found.
//!
//! Detection looks at the first non-blank text: `{"` is JSON Lines; `{:`, `[`,
//! `(`, `;` or `#` is EDN; a line holding `jepsen.util - ` is a Jepsen text log.
//! A file with no text at all is judged by its extension. Anything else is
//! refused with a message that says which formats were expected; `--format`
//! forces a reader when detection would guess wrong. Any of them may come
//! zstd-compressed (`history.jsonl.zst`): the magic number is looked for
//! first, whatever the file's name.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::str::FromStr;

use crate::collected::Collected;
use crate::compressed::{is_zstd, TruncatedOk};
use crate::error::HistoryError;
use crate::history::History;
use crate::{edn, jepsen_log, jsonl};

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON Lines (`history.jsonl`), the canonical format.
    Jsonl,
    /// Jepsen EDN: one op map per line, or one vector/list of op maps.
    Edn,
    /// Jepsen's text log (`INFO  jepsen.util - 3 :invoke :read nil`).
    JepsenLog,
}

impl Format {
    /// All formats, for help texts.
    pub const ALL: [Format; 3] = [Format::Jsonl, Format::Edn, Format::JepsenLog];

    /// The name used by `--format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Edn => "edn",
            Format::JepsenLog => "jepsen-log",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format name that is not one of [`Format::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?} (expected jsonl, edn or jepsen-log)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// A history read from a file, with what the reader had to say about it.
#[derive(Debug)]
pub struct Loaded {
    /// The validated history.
    pub history: History,
    /// The format it was read as.
    pub format: Format,
    /// Things worth telling the user that did not stop the read.
    pub warnings: Vec<String>,
}

/// Reads the history at `path`, detecting its format unless one is given.
pub fn read_path(path: &Path, format: Option<Format>) -> Result<Loaded, HistoryError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| HistoryError::io(&name, e))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(HistoryError::Format {
            file: name,
            msg: "is a directory, not a history file".into(),
        });
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    read_from(file, &name, ext, format)
}

/// Reads a history from any reader; `name` is used in messages, `ext` (a file
/// extension, may be empty) helps detection of empty input. Input that starts
/// with zstd's magic number is decompressed first ([`crate::compressed`]).
pub fn read_from<R: Read>(
    r: R,
    name: &str,
    ext: &str,
    format: Option<Format>,
) -> Result<Loaded, HistoryError> {
    let mut r = BufReader::with_capacity(256 * 1024, r);
    let head = r.fill_buf().map_err(|e| HistoryError::io(name, e))?;
    if !is_zstd(head) {
        return read_text(&mut r, name, ext, format);
    }
    let dec = TruncatedOk::new(r).map_err(|e| HistoryError::io(name, e))?;
    let mut text = BufReader::with_capacity(256 * 1024, dec);
    let mut loaded = read_text(&mut text, name, "", format)?;
    if text.get_ref().truncated() {
        loaded.warnings.push(format!(
            "{name}: the compressed stream ends inside a frame (the run was interrupted); read up to its last complete block"
        ));
    }
    Ok(loaded)
}

/// Reads a history from uncompressed text.
fn read_text<R: BufRead>(
    r: &mut R,
    name: &str,
    ext: &str,
    format: Option<Format>,
) -> Result<Loaded, HistoryError> {
    let format = match format {
        Some(f) => f,
        None => detect(r, name, ext)?,
    };
    let mut out = Collected::default();
    match format {
        Format::Jsonl => jsonl::read(&mut *r, name, &mut out)?,
        Format::Edn => edn::read(&mut *r, name, &mut out)?,
        Format::JepsenLog => jepsen_log::read(&mut *r, name, &mut out)?,
    }
    let history = History::from_parts(out.events, out.lines, name)?;
    Ok(Loaded {
        history,
        format,
        warnings: out.warnings,
    })
}

fn detect<R: BufRead>(r: &mut R, name: &str, ext: &str) -> Result<Format, HistoryError> {
    let head = r.fill_buf().map_err(|e| HistoryError::io(name, e))?;
    let head = &head[..head.len().min(16 * 1024)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return Ok(match ext {
            "edn" => Format::Edn,
            "log" => Format::JepsenLog,
            _ => Format::Jsonl,
        });
    };
    let line = 1 + head[..start].iter().filter(|&&b| b == b'\n').count() as u64;
    let rest = &head[start..];
    let after_brace = rest[1..].iter().find(|b| !b.is_ascii_whitespace());
    match rest[0] {
        // A lone `{` is a first JSON line cut short (a recorder killed at once).
        b'{' if matches!(after_brace, Some(b'"') | Some(b'}') | None) => return Ok(Format::Jsonl),
        b'{' | b'[' | b'(' | b';' | b'#' => return Ok(Format::Edn),
        _ => {}
    }
    if head.windows(14).any(|w| w == b"jepsen.util - ") {
        return Ok(Format::JepsenLog);
    }
    Err(HistoryError::syntax(
        name,
        line,
        "not a history: expected JSON Lines, Jepsen EDN or a Jepsen log (use --format to force one)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt_of(text: &str) -> Result<Format, HistoryError> {
        read_from(text.as_bytes(), "x", "", None).map(|l| l.format)
    }

    #[test]
    fn detects_each_format() {
        assert_eq!(
            fmt_of("{\"type\":\"invoke\",\"process\":0,\"f\":\"r\"}\n").unwrap(),
            Format::Jsonl
        );
        assert_eq!(
            fmt_of("[{:type :invoke :process 0 :f :r}]").unwrap(),
            Format::Edn
        );
        assert_eq!(
            fmt_of("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n").unwrap(),
            Format::JepsenLog
        );
        assert_eq!(fmt_of("  \n").unwrap(), Format::Jsonl);
    }

    #[test]
    fn garbage_is_refused_with_its_line() {
        let err = fmt_of("\n\n\u{1}\u{2}binary").unwrap_err();
        assert!(err.to_string().starts_with("x:3: not a history"), "{err}");
        assert!("yaml".parse::<Format>().is_err());
    }
}
