//! Jepsen's text log, as in Porcupine's etcd corpus.
//!
//! ```text
//! INFO  jepsen.util - 3 :invoke :cas [0 4]
//! INFO  jepsen.util - 3 :info :cas :timed-out
//! ```
//!
//! Each operation line is `<process> :<type> :<f> <value>` after the
//! `jepsen.util - ` marker, separated by tabs (or, in some files, spaces); the
//! value is one EDN form.
//! Lines without the marker are the rest of Jepsen's log and are skipped. A
//! completion whose value is `:timed-out` did not return a value: it is read with
//! value nil and error `timed-out`, so a checker uses the invocation's value, as
//! Porcupine's parser does. A nemesis line's value is often free text; when it is
//! not one EDN form it is kept as a string.

use std::io::BufRead;

use crate::collected::Collected;
use crate::edn;
use crate::error::HistoryError;
use crate::event::EventFields;
use crate::value::Value;

const MARKER: &[u8] = b"jepsen.util - ";

/// Reads a Jepsen text log from `r` into `out`.
pub(crate) fn read<R: BufRead>(
    mut r: R,
    file: &str,
    out: &mut Collected,
) -> Result<(), HistoryError> {
    let mut buf = Vec::with_capacity(256);
    let mut line = 0u64;
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)
            .map_err(|e| HistoryError::io(file, e))?
            == 0
        {
            return Ok(());
        }
        line += 1;
        let Some(at) = buf.windows(MARKER.len()).position(|w| w == MARKER) else {
            continue;
        };
        let rest = &buf[at + MARKER.len()..];
        let mut fields = EventFields::default();
        let (process, rest) = word(rest);
        let (kind, rest) = word(rest);
        let (f, rest) = word(rest);
        if f.is_empty() {
            return Err(HistoryError::syntax(
                file,
                line,
                "expected `<process> :<type> :<f> <value>` after `jepsen.util - `",
            ));
        }
        let process = edn::parse_value(process, file, line)?;
        let nemesis = process.as_str() == Some("nemesis");
        let set = |fields: &mut EventFields, k: &str, v: Value| {
            fields
                .set(k, v)
                .map_err(|m| HistoryError::invalid(file, line, m))
        };
        set(&mut fields, "process", process)?;
        set(&mut fields, "type", edn::parse_value(kind, file, line)?)?;
        set(&mut fields, "f", edn::parse_value(f, file, line)?)?;
        let text = trim_end(rest);
        let value = if text.is_empty() {
            Value::Null
        } else {
            match edn::parse_value(text, file, line) {
                Ok(v) => v,
                Err(_) if nemesis => Value::str(&String::from_utf8_lossy(text)),
                Err(e) => return Err(e),
            }
        };
        let mut e = fields
            .finish(out.events.len() as u64)
            .map_err(|m| HistoryError::invalid(file, line, m))?;
        if e.kind.is_completion() && value.as_str() == Some("timed-out") {
            e.error = Some(value);
        } else {
            e.value = value;
        }
        out.push(e, line);
    }
}

/// Splits off one whitespace-separated word.
fn word(s: &[u8]) -> (&[u8], &[u8]) {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let s = &s[start..];
    let end = s
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

fn trim_end(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventType, Process};

    fn read_str(text: &str) -> Result<Collected, HistoryError> {
        let mut out = Collected::default();
        read(text.as_bytes(), "etcd.log", &mut out).map(|()| out)
    }

    #[test]
    fn reads_ops_with_tabs_or_spaces_and_skips_other_lines() {
        let c = read_str(
            "INFO  jepsen.core - Running test\n\
             INFO  jepsen.util - 3\t:invoke\t:cas\t[0 4]\n\
             INFO  jepsen.util - 3   :info   :cas    :timed-out\n\
             INFO  jepsen.util - :nemesis\t:info\t:start\tCut off {:n1 #{:n2}}, yay\n",
        )
        .unwrap();
        assert_eq!(c.events.len(), 3);
        assert_eq!(c.lines, vec![2, 3, 4]);
        assert_eq!(c.events[0].value.to_string(), "[0 4]");
        assert_eq!(c.events[1].kind, EventType::Info);
        assert_eq!(c.events[1].value, Value::Null);
        assert_eq!(c.events[1].error, Some(Value::str("timed-out")));
        assert_eq!(c.events[2].process, Some(Process::Nemesis));
        assert!(c.events[2].value.as_str().unwrap().starts_with("Cut off"));
    }

    #[test]
    fn malformed_op_lines_are_errors() {
        let err = read_str("INFO  jepsen.util - 3\t:invoke\n").unwrap_err();
        assert!(err.to_string().starts_with("etcd.log:1: expected"), "{err}");
        let err = read_str("INFO  jepsen.util - 3\t:done\t:read\tnil\n").unwrap_err();
        assert!(
            err.to_string().starts_with("etcd.log:1: unknown type"),
            "{err}"
        );
        let err = read_str("INFO  jepsen.util - 3\t:ok\t:read\t[1\n").unwrap_err();
        assert!(
            err.to_string().starts_with("etcd.log:1: unexpected end"),
            "{err}"
        );
    }
}
