//! Writing Jepsen EDN, so a faultline history can go back to Jepsen's tools
//! (and so tests can render histories in the format they read).
//!
//! Events are written in Jepsen's layout, one op map per line:
//! `{:index 0, :time 5, :type :invoke, :process 3, :f :write, :value 5}`. Field
//! names, `f`, process names and keyword-like strings in values (`append`,
//! `timed-out`) are written as keywords, the way Jepsen writes them; other strings
//! as EDN strings. faultline reads keywords as strings, so reading the text back
//! gives the same events.

use std::fmt::Write;

use crate::event::{Event, Process};
use crate::value::Value;

fn is_keyword_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"?!*-".contains(&b))
}

fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `v` as EDN.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => write!(out, "{b}").expect("writing to a String cannot fail"),
        Value::Int(i) => write!(out, "{i}").expect("writing to a String cannot fail"),
        // `{:?}` is the shortest text that reads back to the same bits.
        Value::Float(x) => write!(out, "{x:?}").expect("writing to a String cannot fail"),
        Value::Str(s) => name(out, s),
        Value::List(l) => {
            out.push('[');
            for (i, v) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, v);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                name(out, k);
                out.push(' ');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

fn name(out: &mut String, s: &str) {
    if is_keyword_name(s) {
        out.push(':');
        out.push_str(s);
    } else {
        string(out, s);
    }
}

/// Appends `e` as one Jepsen op map (no newline).
pub fn write_event(out: &mut String, e: &Event) {
    write!(out, "{{:index {}", e.index).expect("writing to a String cannot fail");
    if let Some(t) = e.time {
        write!(out, ", :time {t}").expect("writing to a String cannot fail");
    }
    write!(out, ", :type :{}", e.kind).expect("writing to a String cannot fail");
    match &e.process {
        Some(Process::Client(i)) => {
            write!(out, ", :process {i}").expect("writing to a String cannot fail")
        }
        Some(Process::Nemesis) => out.push_str(", :process :nemesis"),
        Some(Process::Named(n)) => {
            out.push_str(", :process ");
            name(out, n);
        }
        None => {}
    }
    if !e.f.is_empty() {
        out.push_str(", :f ");
        name(out, &e.f);
    }
    out.push_str(", :value ");
    write_value(out, &e.value);
    if let Some(n) = &e.node {
        out.push_str(", :node ");
        string(out, n);
    }
    if let Some(n) = &e.sent_to {
        out.push_str(", :sent-to ");
        string(out, n);
    }
    if let Some(err) = &e.error {
        out.push_str(", :error ");
        write_value(out, err);
    }
    for (k, v) in &e.extra {
        out.push_str(", ");
        name(out, k);
        out.push(' ');
        write_value(out, v);
    }
    out.push('}');
}
