//! Jepsen's EDN histories.
//!
//! Two layouts are read: `history.edn` with one op map per line (maps may span
//! lines), and a file holding one vector or list of op maps (Knossos' data
//! files). An op map is `{:process 3, :type :ok, :f :read, :value 5}`; Jepsen's
//! record literal `#jepsen.history.Op{...}` is read as the same map.
//!
//! The parser covers the EDN that histories use: nil, booleans, integers (with
//! `N`), floats (with `M`), ratios (read as floats), strings, characters,
//! keywords, symbols, vectors, lists, maps, sets, tagged literals (the tag is
//! dropped, the value kept), `#_` discards, `,` as whitespace and `;` comments.
//! Values are folded into [`Value`] as its module describes. It streams from a
//! fixed buffer, so memory follows the events, not the text; nesting is capped so
//! hostile input cannot overflow the stack.

use std::borrow::Cow;
use std::io::Read;
use std::sync::Arc;

use crate::collected::Collected;
use crate::error::HistoryError;
use crate::event::{describe, EventFields, Names};
use crate::value::Value;

const MAX_DEPTH: usize = 256;

/// Reads EDN op maps from `r` into `out`.
pub(crate) fn read<R: Read>(r: R, file: &str, out: &mut Collected) -> Result<(), HistoryError> {
    let mut p = Parser::new(r, file);
    match p.skip_ws()? {
        None => Ok(()),
        Some(open @ (b'[' | b'(')) => {
            let opened = p.line;
            p.bump();
            let close = if open == b'[' { b']' } else { b')' };
            loop {
                match p.skip_ws()? {
                    None => {
                        return Err(p.err(format!(
                            "unexpected end of input inside the collection opened at line {opened}"
                        )))
                    }
                    Some(c) if c == close => {
                        p.bump();
                        break;
                    }
                    Some(_) => p.op(out)?,
                }
            }
            match p.skip_ws()? {
                None => Ok(()),
                Some(_) => Err(p.err("expected end of input after the collection of ops")),
            }
        }
        Some(_) => {
            while p.skip_ws()?.is_some() {
                p.op(out)?;
            }
            Ok(())
        }
    }
}

/// Parses one EDN value from `text`, which must hold exactly one form.
pub(crate) fn parse_value(text: &[u8], file: &str, line: u64) -> Result<Value, HistoryError> {
    // The Jepsen log reader calls this for every field of every line: a buffer
    // the size of the text, not the streaming reader's 64 KiB.
    let mut p = Parser::with_capacity(text, file, text.len() + 2);
    p.line = line;
    if p.skip_ws()?.is_none() {
        return Err(p.err("expected a value, found end of line"));
    }
    let v = p.form()?;
    match p.skip_ws()? {
        None => Ok(v),
        Some(_) => Err(p.err("unexpected text after the value")),
    }
}

pub(crate) struct Parser<'f, R> {
    r: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    eof: bool,
    line: u64,
    file: &'f str,
    scratch: Vec<u8>,
    /// Forms (and `#_` discards) open around the current position.
    depth: usize,
    /// Shared copies of names, keywords and short strings.
    names: Names,
}

/// Which bytes end a token: ASCII whitespace and `,()[]{}";`.
static DELIM: [bool; 256] = {
    let mut t = [false; 256];
    let delims = b" \t\n\r\x0c,()[]{}\";";
    let mut i = 0;
    while i < delims.len() {
        t[delims[i] as usize] = true;
        i += 1;
    }
    t
};

#[inline]
fn is_delim(b: u8) -> bool {
    DELIM[b as usize]
}

/// The fields of the event model, so that their keys need no allocation.
const FIELDS: [&str; 10] = [
    "index", "time", "type", "process", "f", "value", "node", "sent-to", "sent_to", "error",
];

impl<'f, R: Read> Parser<'f, R> {
    fn new(r: R, file: &'f str) -> Self {
        Parser::with_capacity(r, file, 64 * 1024)
    }

    fn with_capacity(r: R, file: &'f str, capacity: usize) -> Self {
        Parser {
            r,
            buf: vec![0; capacity.max(2)].into_boxed_slice(),
            pos: 0,
            end: 0,
            eof: false,
            line: 1,
            file,
            scratch: Vec::new(),
            depth: 0,
            names: Names::default(),
        }
    }

    fn err(&self, msg: impl Into<String>) -> HistoryError {
        HistoryError::syntax(self.file, self.line, msg)
    }

    /// Counts one more level of nesting, refusing more than [`MAX_DEPTH`]. Every
    /// recursive path (forms and `#_` discards) goes through here, so hostile
    /// input gets an error instead of a stack overflow.
    fn enter(&mut self) -> Result<(), HistoryError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        Ok(())
    }

    /// Makes at least `n` bytes available unless the input ends first.
    #[cold]
    fn fill(&mut self, n: usize) -> Result<(), HistoryError> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.end < n && !self.eof {
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(HistoryError::io(self.file, e)),
            }
        }
        Ok(())
    }

    #[inline]
    fn peek_at(&mut self, k: usize) -> Result<Option<u8>, HistoryError> {
        if self.pos + k >= self.end {
            self.fill(k + 1)?;
        }
        Ok(self
            .buf
            .get(self.pos + k)
            .copied()
            .filter(|_| self.pos + k < self.end))
    }

    #[inline]
    fn peek(&mut self) -> Result<Option<u8>, HistoryError> {
        self.peek_at(0)
    }

    #[inline]
    fn bump(&mut self) {
        if self.buf[self.pos] == b'\n' {
            self.line += 1;
        }
        self.pos += 1;
    }

    /// Skips whitespace, commas, comments and `#_` discards; returns the next byte.
    fn skip_ws(&mut self) -> Result<Option<u8>, HistoryError> {
        loop {
            // Plain whitespace, straight from the buffer.
            while let Some(&b) = self.buf[..self.end].get(self.pos) {
                match b {
                    b' ' | b',' | b'\t' | b'\r' | 0x0c => self.pos += 1,
                    b'\n' => {
                        self.line += 1;
                        self.pos += 1;
                    }
                    _ => break,
                }
            }
            let Some(b) = self.peek()? else {
                return Ok(None);
            };
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | b',' | 0x0c => self.bump(),
                b';' => {
                    while let Some(c) = self.peek()? {
                        self.bump();
                        if c == b'\n' {
                            break;
                        }
                    }
                }
                b'#' if self.peek_at(1)? == Some(b'_') => {
                    self.bump();
                    self.bump();
                    self.enter()?;
                    if self.skip_ws()?.is_none() {
                        return Err(self.err("`#_` with nothing after it to discard"));
                    }
                    self.form()?;
                    self.depth -= 1;
                }
                _ => return Ok(Some(b)),
            }
        }
    }

    /// Reads one op map and adds its event to `out`.
    fn op(&mut self, out: &mut Collected) -> Result<(), HistoryError> {
        let line = self.line;
        if self.peek()? == Some(b'#') && self.peek_at(1)?.is_some_and(|b| !is_delim(b)) {
            self.bump();
            self.token()?; // a record tag such as jepsen.history.Op
        }
        if self.peek()? != Some(b'{') {
            let found = match self.skip_ws()? {
                None => "end of input".to_owned(),
                Some(_) => describe(&self.form()?),
            };
            return Err(HistoryError::syntax(
                self.file,
                line,
                format!("expected an op map, found {found}"),
            ));
        }
        self.bump();
        let mut fields = EventFields::default();
        loop {
            match self.skip_ws()? {
                None => {
                    return Err(self.err(format!(
                        "unexpected end of input inside the op map opened at line {line}"
                    )))
                }
                Some(b'}') => {
                    self.bump();
                    break;
                }
                Some(b':') => {
                    self.bump();
                    self.token()?;
                    let key = self.scratch_str()?;
                    let key = match FIELDS.iter().find(|f| **f == key) {
                        Some(f) => Cow::Borrowed(*f),
                        None => Cow::Owned(key.to_owned()),
                    };
                    let set = if matches!(
                        &*key,
                        "type" | "f" | "process" | "node" | "sent-to" | "sent_to"
                    ) && self.skip_ws()? == Some(b':')
                    {
                        // A keyword naming something: no allocation, or a shared one.
                        self.bump();
                        self.token()?;
                        let name = std::str::from_utf8(&self.scratch).map_err(|_| {
                            HistoryError::syntax(self.file, self.line, "invalid UTF-8")
                        })?;
                        let name = name.strip_prefix(':').unwrap_or(name);
                        if name.is_empty() {
                            return Err(self.err("a keyword needs a name after `:`"));
                        }
                        fields.set_str(&key, name, &mut self.names)
                    } else {
                        let v = self.value_after_key(line)?;
                        fields.set(&key, v)
                    };
                    set.map_err(|m| HistoryError::invalid(self.file, line, m))?;
                }
                Some(_) => {
                    let key = key_text(self.form()?);
                    let v = self.value_after_key(line)?;
                    fields
                        .set(&key, v)
                        .map_err(|m| HistoryError::invalid(self.file, line, m))?;
                }
            }
        }
        let e = fields
            .finish(out.events.len() as u64)
            .map_err(|m| HistoryError::invalid(self.file, line, m))?;
        out.push(e, line);
        Ok(())
    }

    fn value_after_key(&mut self, opened: u64) -> Result<Value, HistoryError> {
        match self.skip_ws()? {
            None => Err(self.err(format!(
                "unexpected end of input inside the op map opened at line {opened}"
            ))),
            Some(b'}') => Err(self.err("map literal with an odd number of forms")),
            Some(_) => self.form(),
        }
    }

    /// Reads one form; the next byte is known not to be whitespace.
    fn form(&mut self) -> Result<Value, HistoryError> {
        self.enter()?;
        let v = self.form_inner();
        self.depth -= 1;
        v
    }

    fn form_inner(&mut self) -> Result<Value, HistoryError> {
        let Some(b) = self.peek()? else {
            return Err(self.err("unexpected end of input"));
        };
        match b {
            b'"' => self.string(),
            b':' => {
                self.bump();
                self.token()?;
                let name = std::str::from_utf8(&self.scratch)
                    .map_err(|_| HistoryError::syntax(self.file, self.line, "invalid UTF-8"))?;
                let name = name.strip_prefix(':').unwrap_or(name);
                if name.is_empty() {
                    return Err(self.err("a keyword needs a name after `:`"));
                }
                Ok(Value::Str(self.names.text(name)))
            }
            b'[' => self.seq(b']').map(Value::list),
            b'(' => self.seq(b')').map(Value::list),
            b'{' => self.map(),
            b'#' => self.dispatch(),
            b'\\' => self.character(),
            b')' | b']' | b'}' => Err(self.err(format!("unexpected `{}`", b as char))),
            _ => {
                self.token()?;
                self.atom()
            }
        }
    }

    fn seq(&mut self, close: u8) -> Result<Vec<Value>, HistoryError> {
        let opened = self.line;
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.skip_ws()? {
                None => {
                    return Err(self.err(format!(
                        "unexpected end of input inside `{}` opened at line {opened}",
                        if close == b']' { '[' } else { '(' }
                    )))
                }
                Some(c) if c == close => {
                    self.bump();
                    return Ok(out);
                }
                Some(c @ (b')' | b']' | b'}')) => {
                    return Err(self.err(format!(
                        "expected `{}`, found `{}`",
                        close as char, c as char
                    )))
                }
                Some(_) => out.push(self.form()?),
            }
        }
    }

    fn map(&mut self) -> Result<Value, HistoryError> {
        let items = self.seq_braced()?;
        if items.len() % 2 == 1 {
            return Err(self.err("map literal with an odd number of forms"));
        }
        let mut out = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            out.push((key_text(k), v));
        }
        Ok(Value::map(out))
    }

    fn seq_braced(&mut self) -> Result<Vec<Value>, HistoryError> {
        let opened = self.line;
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.skip_ws()? {
                None => {
                    return Err(self.err(format!(
                        "unexpected end of input inside `{{` opened at line {opened}"
                    )))
                }
                Some(b'}') => {
                    self.bump();
                    return Ok(out);
                }
                Some(c @ (b')' | b']')) => {
                    return Err(self.err(format!("expected `}}`, found `{}`", c as char)))
                }
                Some(_) => out.push(self.form()?),
            }
        }
    }

    fn dispatch(&mut self) -> Result<Value, HistoryError> {
        self.bump();
        match self.peek()? {
            Some(b'{') => {
                let mut items = self.seq_braced()?;
                items.sort();
                items.dedup();
                Ok(Value::list(items))
            }
            Some(b'#') => {
                self.bump();
                self.token()?;
                match self.scratch_str()? {
                    "Inf" => Ok(Value::Float(f64::INFINITY)),
                    "-Inf" => Ok(Value::Float(f64::NEG_INFINITY)),
                    "NaN" => Ok(Value::Float(f64::NAN)),
                    other => Err(self.err(format!("unknown symbolic value `##{other}`"))),
                }
            }
            Some(b) if !is_delim(b) => {
                self.token()?; // the tag; its value is kept as is
                match self.skip_ws()? {
                    None => Err(self.err("a tagged literal needs a value")),
                    Some(_) => self.form(),
                }
            }
            _ => Err(self.err("unexpected `#`")),
        }
    }

    /// Reads a run of non-delimiter bytes into `scratch`.
    fn token(&mut self) -> Result<(), HistoryError> {
        self.scratch.clear();
        loop {
            if self.pos >= self.end {
                self.fill(1)?;
                if self.pos >= self.end {
                    return Ok(());
                }
            }
            let avail = &self.buf[self.pos..self.end];
            let n = avail.iter().position(|&b| is_delim(b));
            let n = n.unwrap_or(avail.len());
            self.scratch.extend_from_slice(&avail[..n]);
            self.pos += n;
            if self.pos < self.end {
                return Ok(()); // stopped at a delimiter
            }
        }
    }

    fn scratch_str(&self) -> Result<&str, HistoryError> {
        std::str::from_utf8(&self.scratch).map_err(|_| self.err("invalid UTF-8"))
    }

    fn atom(&self) -> Result<Value, HistoryError> {
        let t = self.scratch_str()?;
        let first = t.as_bytes()[0];
        let numeric = first.is_ascii_digit()
            || (matches!(first, b'-' | b'+')
                && t.as_bytes().get(1).is_some_and(u8::is_ascii_digit));
        if !numeric {
            return Ok(match t {
                "nil" => Value::Null,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::str(t),
            });
        }
        let digits = t.strip_suffix('N').unwrap_or(t);
        if let Ok(i) = digits.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        if let Some((n, d)) = t.split_once('/') {
            if let (Ok(n), Ok(d)) = (n.parse::<f64>(), d.parse::<f64>()) {
                return Ok(Value::Float(n / d));
            }
        }
        let float = t.strip_suffix('M').unwrap_or(digits);
        float
            .parse::<f64>()
            .map(Value::Float)
            .map_err(|_| self.err(format!("invalid number `{t}`")))
    }

    fn string(&mut self) -> Result<Value, HistoryError> {
        let opened = self.line;
        self.bump();
        self.scratch.clear();
        loop {
            // Plain characters, straight from the buffer.
            let avail = &self.buf[self.pos..self.end];
            let n = avail
                .iter()
                .position(|&b| matches!(b, b'"' | b'\\' | b'\n'));
            let n = n.unwrap_or(avail.len());
            self.scratch.extend_from_slice(&avail[..n]);
            self.pos += n;
            let Some(b) = self.peek()? else {
                return Err(self.err(format!(
                    "unexpected end of input inside the string opened at line {opened}"
                )));
            };
            self.bump();
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek()? else { continue };
                    self.bump();
                    match e {
                        b'n' => self.scratch.push(b'\n'),
                        b't' => self.scratch.push(b'\t'),
                        b'r' => self.scratch.push(b'\r'),
                        b'b' => self.scratch.push(8),
                        b'f' => self.scratch.push(12),
                        b'u' => {
                            let c = self.hex4()?;
                            let mut tmp = [0u8; 4];
                            self.scratch
                                .extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                        }
                        other => self.scratch.push(other),
                    }
                }
                _ => self.scratch.push(b),
            }
        }
        let s = std::str::from_utf8(&self.scratch)
            .map_err(|_| HistoryError::syntax(self.file, self.line, "invalid UTF-8"))?;
        Ok(Value::Str(self.names.text(s)))
    }

    fn hex4(&mut self) -> Result<char, HistoryError> {
        let mut n = 0u32;
        for _ in 0..4 {
            let d = self.peek()?.and_then(|b| (b as char).to_digit(16));
            let Some(d) = d else {
                return Err(self.err("`\\u` needs four hex digits"));
            };
            self.bump();
            n = n * 16 + d;
        }
        Ok(char::from_u32(n).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    fn character(&mut self) -> Result<Value, HistoryError> {
        self.bump();
        // One character always belongs to the literal, even a delimiter: `\(`.
        let first = self
            .peek()?
            .ok_or_else(|| self.err("`\\` at end of input"))?;
        self.bump();
        self.token()?;
        self.scratch.insert(0, first);
        let t = self.scratch_str()?;
        let c = match t {
            "newline" => "\n",
            "space" => " ",
            "tab" => "\t",
            "return" => "\r",
            "backspace" => "\u{8}",
            "formfeed" => "\u{c}",
            _ if t.chars().count() == 1 => t,
            _ if t.starts_with('u') && t.len() == 5 => {
                let n = u32::from_str_radix(&t[1..], 16)
                    .map_err(|_| self.err(format!("invalid character `\\{t}`")))?;
                return Ok(Value::str(
                    &char::from_u32(n)
                        .unwrap_or(char::REPLACEMENT_CHARACTER)
                        .to_string(),
                ));
            }
            _ => return Err(self.err(format!("invalid character `\\{t}`"))),
        };
        Ok(Value::str(c))
    }
}

fn key_text(k: Value) -> Arc<str> {
    match k {
        Value::Str(s) => s.shared(),
        other => Arc::from(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventType, Process};

    fn read_str(text: &str) -> Result<Collected, HistoryError> {
        let mut out = Collected::default();
        read(text.as_bytes(), "h.edn", &mut out).map(|()| out)
    }

    #[test]
    fn one_map_per_line_with_elle_transactions() {
        let c = read_str(
            "; a comment\n{:index 0 :type :invoke, :process 1 :f :txn :value [[:append 9 2] [:r 9 nil]]}\n\
             #jepsen.history.Op{:index 1 :type :ok :process 1 :f :txn :value [[:append 9 2] [:r 9 [2]]]}\n",
        )
        .unwrap();
        assert_eq!(c.events.len(), 2);
        assert_eq!(c.lines, vec![2, 3]);
        let e = &c.events[1];
        assert_eq!(e.kind, EventType::Ok);
        assert_eq!(e.process, Some(Process::Client(1)));
        assert_eq!(e.value.to_string(), r#"[["append" 9 2] ["r" 9 [2]]]"#);
    }

    #[test]
    fn a_vector_of_ops_with_every_value_shape() {
        let c = read_str(
            "[{:process :nemesis, :type :info, :f :start, :value #{3 1 2}}\n\
              {:process 0 :type :invoke :f :cas :value [1 -2] :time 5N :x {:a \"s\\\"q\" 1 2.5M}\n\
              :y #_ ignored \\c :z (1/2 ##Inf) :error :timed-out}]",
        )
        .unwrap();
        assert_eq!(c.events.len(), 2);
        assert!(c.events[0].is_nemesis());
        assert_eq!(c.events[0].value.to_string(), "[1 2 3]");
        let e = &c.events[1];
        assert_eq!(e.time, Some(5));
        assert_eq!(
            e.extra("x").unwrap().to_string(),
            r#"{"a" "s\"q", "1" 2.5}"#
        );
        assert_eq!(e.extra("y"), Some(&Value::str("c")));
        assert_eq!(e.extra("z").unwrap().to_string(), "[0.5 inf]");
        assert_eq!(e.error, Some(Value::str("timed-out")));
    }

    #[test]
    fn errors_name_the_line() {
        let err = read_str("{:type :ok :process 1}\n[1 2]\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "h.edn:2: expected an op map, found list [1 2]"
        );
        let err = read_str("[{:type :invoke\n :process 1\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("h.edn:3: unexpected end of input"),
            "{err}"
        );
        let err = read_str("{:type :ok :process 1 :f}").unwrap_err();
        assert!(err.to_string().contains("odd number"), "{err}");
        let err = read_str("{:type :nope}").unwrap_err();
        assert!(
            err.to_string().starts_with("h.edn:1: unknown type"),
            "{err}"
        );
        let deep = "[".repeat(10_000);
        assert!(read_str(&format!("{{:value {deep}"))
            .unwrap_err()
            .to_string()
            .contains("nesting"));
        assert!(read_str("{:type :ok :value [1 2)}").is_err());
    }

    /// Hands out its text one byte per `read`, so every token, string and
    /// whitespace run crosses the parser's buffer refills.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((&b, rest)), Some(slot)) => {
                    *slot = b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn input_arriving_a_byte_at_a_time_reads_the_same() {
        let text = "[{:index 0, :type :invoke, :process 1, :f :txn, :node \"n1\"\n\
                    :value [[:append 9 2] [:r 9 nil]] :s \"a\\\"b\\nc\\u00e9\" :k #{:b :a}}\n\
                    {:index 1 :type :ok :process 1 :f :txn :value [[:append 9 2] [:r 9 [2]]]}]";
        let whole = read_str(text).unwrap();
        assert_eq!(whole.events.len(), 2);
        assert_eq!(
            whole.events[0].extra("s"),
            Some(&Value::str("a\"b\nc\u{e9}"))
        );
        let mut out = Collected::default();
        read(Trickle(text.as_bytes()), "h.edn", &mut out).unwrap();
        assert_eq!(out.events, whole.events);
        assert_eq!(out.lines, vec![1, 3]);
    }

    #[test]
    fn discards_count_towards_the_nesting_cap() {
        // Each `#_` used to restart the count, so this overflowed the stack.
        for unit in ["[#_", "#_", "#_#{"] {
            let err = read_str(&format!("{{:value {}", unit.repeat(100_000))).unwrap_err();
            assert!(err.to_string().contains("nesting deeper"), "{unit}: {err}");
        }
        let c = read_str("{:type :ok #_ #_ :a 1 :value #_[#_ 1 2] [3]}").unwrap();
        assert_eq!(c.events[0].value.to_string(), "[3]");
        assert!(c.events[0].extra.is_empty());
    }

    #[test]
    fn parse_value_takes_exactly_one_form() {
        assert_eq!(
            parse_value(b" [0 1] ", "l", 4).unwrap().to_string(),
            "[0 1]"
        );
        assert_eq!(
            parse_value(b"1 2", "l", 4).unwrap_err().to_string(),
            "l:4: unexpected text after the value"
        );
    }
}
