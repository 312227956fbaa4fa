//! The JSON Lines reader's fast path: a hand-written parser for the lines a
//! recorder writes, tried before serde_json on every line.
//!
//! Almost every line of a real history is plain: an object of short keys whose
//! values are small integers, short strings without escapes, and lists of those
//! (Elle's `[["append",3,7],["r",4,[1,2,3]]]`). Going through serde's visitor
//! machinery costs more than the text warrants for these, and growing each list's
//! `Vec` element by element costs allocations. This parser reads such a line
//! directly from its bytes, and builds every list and map on a scratch stack
//! shared by the whole read, so each ends up in one allocation of exactly its
//! length (memory still follows the events, not the text).
//!
//! The invariant it keeps: **it either yields exactly what the serde_json path
//! would, or gives up.** It accepts a strict subset of JSON and hands every field
//! to the same [`EventFields`] setters, with strings shared through the same
//! [`Names`]. Whatever it does not handle — a string with an escape or a control
//! character, a number with a fraction, an exponent, more than 18 digits or the
//! value `-0`, deep nesting, and every kind of error, including a field a setter
//! refuses — makes it return `false`; the caller then parses the line again with
//! serde_json from fresh fields, so messages, warnings and odd inputs behave
//! exactly as they always did. Giving up only costs time, never correctness.

use std::sync::Arc;

use crate::event::{EventFields, Names};
use crate::value::Value;

/// Deeper values than this are left to serde_json (which has its own limit).
const MAX_DEPTH: u32 = 64;

/// Reusable stacks for the elements of lists and maps being read.
#[derive(Default)]
pub(crate) struct Scratch {
    items: Vec<Value>,
    entries: Vec<(Arc<str>, Value)>,
}

/// Reads the event object `text` (trimmed, non-empty) into `fields`; false when
/// the line must be read by the serde_json path instead (then `fields` holds
/// some of the line's fields and must be discarded).
pub(crate) fn parse_event(
    text: &[u8],
    fields: &mut EventFields,
    names: &mut Names,
    scratch: &mut Scratch,
) -> bool {
    scratch.items.clear();
    scratch.entries.clear();
    let mut p = Parser {
        text,
        pos: 0,
        names,
        scratch,
    };
    p.event(fields).is_some()
}

struct Parser<'t, 'a> {
    text: &'t [u8],
    pos: usize,
    names: &'a mut Names,
    scratch: &'a mut Scratch,
}

impl<'t> Parser<'t, '_> {
    fn event(&mut self, fields: &mut EventFields) -> Option<()> {
        self.expect(b'{')?;
        if !self.close(b'}')? {
            loop {
                let key = field_name(self.key()?)?;
                let set = match key {
                    "type" | "f" | "process" | "node" | "sent_to" if self.peek()? == b'"' => {
                        let s = std::str::from_utf8(self.string()?).ok()?;
                        fields.set_str(key, s, self.names)
                    }
                    _ => {
                        let v = self.value(1)?;
                        fields.set(key, v)
                    }
                };
                set.ok()?;
                if self.next_or_close(b'}')? {
                    break;
                }
            }
        }
        // Only whitespace may follow the object.
        self.ws();
        (self.pos == self.text.len()).then_some(())
    }

    fn value(&mut self, depth: u32) -> Option<Value> {
        Some(match self.peek()? {
            b'"' => {
                let s = self.string()?;
                Value::Str(self.names.text_utf8(s)?)
            }
            b'[' => self.list(depth + 1)?,
            b'{' => self.map(depth + 1)?,
            b'-' | b'0'..=b'9' => self.int()?,
            b't' => self.literal(b"true", Value::Bool(true))?,
            b'f' => self.literal(b"false", Value::Bool(false))?,
            b'n' => self.literal(b"null", Value::Null)?,
            _ => return None,
        })
    }

    fn list(&mut self, depth: u32) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let start = self.scratch.items.len();
        if !self.close(b']')? {
            loop {
                let v = self.value(depth)?;
                self.scratch.items.push(v);
                if self.next_or_close(b']')? {
                    break;
                }
            }
        }
        Some(Value::List(crate::value::List::from_tail(
            &mut self.scratch.items,
            start,
        )))
    }

    fn map(&mut self, depth: u32) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1;
        let start = self.scratch.entries.len();
        if !self.close(b'}')? {
            loop {
                let k = self.key()?;
                let k = self.names.get_utf8(k)?;
                let v = self.value(depth)?;
                self.scratch.entries.push((k, v));
                if self.next_or_close(b'}')? {
                    break;
                }
            }
        }
        Some(Value::Map(crate::value::Entries::from_tail(
            &mut self.scratch.entries,
            start,
        )))
    }

    /// An integer as serde_json reads it into a [`Value`]: only up to 18 digits
    /// (so it fits an `i64` whatever its sign), with no leading zero, no
    /// fraction or exponent, and not `-0` (which serde_json makes a float).
    fn int(&mut self) -> Option<Value> {
        let neg = self.text[self.pos] == b'-';
        if neg {
            self.pos += 1;
        }
        let start = self.pos;
        let mut n: i64 = 0;
        while let Some(&b) = self.text.get(self.pos) {
            if !b.is_ascii_digit() {
                break;
            }
            n = n.wrapping_mul(10).wrapping_add(i64::from(b - b'0'));
            self.pos += 1;
        }
        let digits = self.pos - start;
        if digits == 0 || digits > 18 || (digits > 1 && self.text[start] == b'0') {
            return None;
        }
        if matches!(self.text.get(self.pos), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        match (neg, n) {
            (true, 0) => None,
            (true, n) => Some(Value::Int(-n)),
            (false, n) => Some(Value::Int(n)),
        }
    }

    fn literal(&mut self, word: &[u8], v: Value) -> Option<Value> {
        let end = self.pos + word.len();
        (self.text.get(self.pos..end)? == word).then(|| {
            self.pos = end;
            v
        })
    }

    /// A string's bytes, if it has no escapes or control characters, borrowed
    /// from the line (whether they are UTF-8 is for the caller to check); `pos`
    /// is at its opening quote.
    fn string(&mut self) -> Option<&'t [u8]> {
        let start = self.pos + 1;
        let len = self.text[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        let end = start + len;
        if self.text[end] != b'"' {
            return None;
        }
        self.pos = end + 1;
        Some(&self.text[start..end])
    }

    /// An object key and the colon after it, with the whitespace around them.
    fn key(&mut self) -> Option<&'t [u8]> {
        self.ws();
        if self.peek()? != b'"' {
            return None;
        }
        let k = self.string()?;
        self.expect(b':')?;
        self.ws();
        Some(k)
    }

    /// After an element: true at the closing `close`, false after a comma.
    fn next_or_close(&mut self, close: u8) -> Option<bool> {
        self.ws();
        match self.text.get(self.pos)? {
            b',' => {
                self.pos += 1;
                self.ws();
                Some(false)
            }
            &b if b == close => {
                self.pos += 1;
                Some(true)
            }
            _ => None,
        }
    }

    /// After an opening bracket: true (and past it) if `close` follows at once.
    fn close(&mut self, close: u8) -> Option<bool> {
        self.ws();
        if self.peek()? == close {
            self.pos += 1;
            return Some(true);
        }
        Some(false)
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        self.ws();
        (self.peek()? == b).then(|| self.pos += 1)
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    /// JSON's whitespace: space, tab, line feed, carriage return.
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.text.get(self.pos) {
            self.pos += 1;
        }
    }
}

/// An event field's name: the names the model knows without validating them
/// again, any other if it is UTF-8.
fn field_name(key: &[u8]) -> Option<&str> {
    Some(match key {
        b"index" => "index",
        b"time" => "time",
        b"type" => "type",
        b"process" => "process",
        b"f" => "f",
        b"value" => "value",
        b"node" => "node",
        b"sent_to" => "sent_to",
        b"error" => "error",
        other => std::str::from_utf8(other).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::event::Event;
    use crate::jsonl_serde::{serde_event, Refused};

    /// What the fast path makes of `text`, if it does not give up.
    fn fast(text: &[u8]) -> Option<Result<Event, String>> {
        let mut fields = EventFields::default();
        let (mut names, mut scratch) = (Names::default(), Scratch::default());
        parse_event(text, &mut fields, &mut names, &mut scratch).then(|| fields.finish(0))
    }

    /// What serde_json makes of `text`; `Err` when it refuses the line.
    fn serde(text: &[u8]) -> Result<Result<Event, String>, String> {
        let mut fields = EventFields::default();
        match serde_event(text, &mut fields, &mut Names::default()) {
            Ok(()) => Ok(fields.finish(0)),
            Err(Refused::Field(m)) => Err(m),
            Err(Refused::Json(e)) => Err(e.to_string()),
        }
    }

    /// The invariant: whatever the fast path reads, serde_json reads the same.
    fn agree(text: &[u8]) -> Result<bool, String> {
        match fast(text) {
            None => Ok(false),
            Some(f) => match serde(text) {
                Ok(s) if s == f => Ok(true),
                other => Err(format!(
                    "{:?}: fast path read {f:?}, serde_json {other:?}",
                    String::from_utf8_lossy(text)
                )),
            },
        }
    }

    #[test]
    fn reads_plain_lines_as_serde_json_does() {
        for line in [
            r#"{"index":0,"time":12345,"type":"invoke","process":3,"f":"txn","value":[["append",3,7],["r",4,[1,2,3]]]}"#,
            r#"{"index":1,"type":"ok","process":"nemesis","f":"start","value":"Cut off {:n1 #{:n4}}","node":"n2"}"#,
            r#"{"type":"info","process":9,"f":"cas","value":[1,2],"error":"timed-out"}"#,
            r#"{"type":"ok","value":{"x":[true,false,null],"y":{}},"key":"k1","zone":[]}"#,
            r#"{ "type" : "ok" , "value" : [ -5 , 123456789012345678 , "é😀" ] }"#,
            "{\t\"type\":\"ok\",\r\n\"value\":-999999999999999999}",
            r#"{"type":"ok","type":"fail","value":1,"value":2,"k":1,"k":2}"#,
            r#"{"type":"ok","process":"p1","node":null,"time":null,"error":null}"#,
            r#"{"type":"ok"}"#,
            r#"{"type":"invoke","f":"w","value":5}"#,
            r#"{}"#,
        ] {
            assert_eq!(agree(line.as_bytes()), Ok(true), "{line}");
        }
    }

    #[test]
    fn gives_up_on_what_it_does_not_handle() {
        for line in [
            r#"{"type":"ok","value":"a\nb"}"#,
            "{\"type\":\"ok\",\"value\":\"a\tb\"}",
            r#"{"type":"ok","value":1.5}"#,
            r#"{"type":"ok","value":1e3}"#,
            r#"{"type":"ok","value":1E3}"#,
            r#"{"type":"ok","value":-0}"#,
            r#"{"type":"ok","value":01}"#,
            r#"{"type":"ok","value":-}"#,
            r#"{"type":"ok","value":1234567890123456789}"#,
            r#"{"type":"ok","value":18446744073709551616}"#,
            r#"{"type":"ok","value":[1,]}"#,
            r#"{"type":"ok","value":[1 2]}"#,
            r#"{"type":"ok","value":{1:2}}"#,
            r#"{"type":"ok","value":nul}"#,
            r#"{"type":"ok","value":True}"#,
            r#"{"type":"ok",}"#,
            r#"{"type":"ok"} x"#,
            r#"{"type":"ok"}}"#,
            "{\"type\":\"ok\",\x0c\"value\":1}",
            r#"{"type":"done"}"#,
            r#"{"type":"ok","process":""}"#,
            r#"{"type":"ok","index":-1}"#,
            r#"{"type":"ok","f":5}"#,
            r#"[1,2]"#,
            r#"{"type":"ok","pro"#,
            r#"{"type":"ok","value":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
        ] {
            assert_eq!(agree(line.as_bytes()), Ok(false), "{line}");
        }
        assert_eq!(agree(b"{\"type\":\"ok\",\"value\":\"\xff\"}"), Ok(false));
        assert_eq!(agree(b"{\"type\":\"ok\",\"f\":\"\xc3\"}"), Ok(false));
        assert_eq!(agree(b"{\"type\":\"ok\",\"\xff\":1}"), Ok(false));
    }

    #[test]
    fn scratch_left_over_from_a_line_given_up_on_does_not_leak() {
        let (mut names, mut scratch) = (Names::default(), Scratch::default());
        let mut fields = EventFields::default();
        assert!(!parse_event(
            br#"{"type":"ok","value":[1,[2,{"a":3,"b":1.5}]]}"#,
            &mut fields,
            &mut names,
            &mut scratch
        ));
        let mut fields = EventFields::default();
        let line = br#"{"type":"ok","value":[4,{"c":5}]}"#;
        assert!(parse_event(line, &mut fields, &mut names, &mut scratch));
        assert_eq!(fields.finish(0), serde(line).unwrap());
    }

    /// Pieces of JSON, valid and not, for lines the fast path must either read
    /// as serde_json does or give up on.
    fn arb_token() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "{",
                "}",
                "[",
                "]",
                ",",
                ":",
                " ",
                "\t",
                "\r\n",
                "\x0c",
                "null",
                "nul",
                "true",
                "false",
                "-",
                "-0",
                "0",
                "01",
                "1.5",
                "2e3",
                "\"type\"",
                "\"ok\"",
                "\"value\"",
                "\"f\"",
                "\"process\"",
                "\"nemesis\"",
                "\"index\"",
                "\"time\"",
                "\"\"",
                "\"a\\\"b\"",
                "\"\\u00e9\"",
                "\"é\"",
                "\"\u{1}\"",
                "\"",
            ])
            .prop_map(str::to_owned),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<u64>().prop_map(|i| i.to_string()),
        ]
    }

    /// A JSON value as text, with its whitespace and number spellings varied.
    fn arb_json() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            1 => arb_token(),
            3 => prop::sample::select(vec![
                "null", "true", "false", "-0", "1.5", "\"é\"", "\"a\\\"b\"", "[]", "{}",
            ])
            .prop_map(str::to_owned),
            3 => "[a-z]{0,4}".prop_map(|s| format!("\"{s}\"")),
            3 => (-20i64..20).prop_map(|i| i.to_string()),
            1 => any::<i64>().prop_map(|i| i.to_string()),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            let ws = prop::sample::select(vec!["", "", " ", "\n", "\t"]);
            prop_oneof![
                (prop::collection::vec(inner.clone(), 0..6), ws.clone())
                    .prop_map(|(vs, w)| format!("[{w}{}{w}]", vs.join(&format!("{w},")))),
                (prop::collection::vec(("[a-z]{0,3}", inner), 0..4), ws).prop_map(|(kv, w)| {
                    let kv: Vec<String> =
                        kv.iter().map(|(k, v)| format!("\"{k}\"{w}:{v}")).collect();
                    format!("{{{}}}", kv.join(","))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn values_read_as_serde_json_reads_them(
            v in arb_json(),
            f in prop_oneof![3 => "\"[a-z]{1,4}\"", 1 => arb_json()],
        ) {
            let line = format!(r#"{{"type":"ok","process":1,"f":{f},"value":{v},"x":{v}}}"#);
            prop_assert!(agree(line.as_bytes()).is_ok(), "{:?}", agree(line.as_bytes()));
        }

        #[test]
        fn token_soup_reads_as_serde_json_reads_it(ts in prop::collection::vec(arb_token(), 0..24)) {
            let line = format!("{{\"type\":\"ok\",{}", ts.concat());
            prop_assert!(agree(line.as_bytes()).is_ok(), "{:?}", agree(line.as_bytes()));
        }

        #[test]
        fn mutated_lines_read_as_serde_json_reads_them(
            v in arb_json(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            delete in any::<bool>(),
        ) {
            let mut line = format!(r#"{{"index":3,"type":"invoke","f":"txn","value":{v}}}"#)
                .into_bytes();
            let i = at.index(line.len());
            if delete {
                line.remove(i);
            } else {
                line.insert(i, byte);
            }
            prop_assert!(agree(&line).is_ok(), "{:?}", agree(&line));
        }
    }
}
