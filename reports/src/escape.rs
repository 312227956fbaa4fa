//! Escaping: the only way text from a run reaches the page.
//!
//! Everything in a report that came from a database, a history or a checker
//! (values, errors, node names, process names, explanations) is untrusted: a
//! value may well be `<script>alert(1)</script>`. Two contexts exist on the
//! page and each has one function here:
//!
//! - HTML text and attribute values: [`esc`] replaces `& < > " '` with entities,
//!   so the text shows as text and cannot end an attribute.
//! - Data embedded in `<script>` elements: [`script_json`] serializes to JSON and
//!   then replaces `<`, `>`, `&`, U+2028 and U+2029 with `\u` escapes, so no value
//!   can spell `</script>` or `<!--` and the text stays valid JavaScript. JSON
//!   parsers read the escapes back as the same characters.
//!
//! The invariant: no string from the input is written to the page except
//! through one of these functions (base64 blobs need neither: their alphabet
//! has no markup characters).

use std::fmt::Write;

/// `s` escaped for HTML text and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    esc_into(&mut out, s);
    out
}

/// Appends `s`, escaped for HTML, to `out`.
pub fn esc_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// JSON text made safe to place inside a `<script>` element.
pub fn script_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// `v` as JSON, safe to place inside a `<script>` element.
pub fn script_json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    script_safe(&serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned()))
}

/// At most `max` bytes of `s` (cut at a character boundary), with `…` when cut.
pub fn truncate(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return s.into();
    }
    let cut = (0..=max)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}…", &s[..cut]).into()
}

/// Seconds, readably: `12.3 s`, `45 ms`, `120 µs`.
pub fn secs(s: f64) -> String {
    let a = s.abs();
    let mut out = String::new();
    let _ = if a >= 10.0 {
        write!(out, "{s:.1} s")
    } else if a >= 1.0 {
        write!(out, "{s:.2} s")
    } else if a >= 1e-3 {
        write!(out, "{:.1} ms", s * 1e3)
    } else {
        write!(out, "{:.0} µs", s * 1e6)
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping_leaves_no_markup() {
        let evil = "<script>alert(1)</script>\"'&";
        let e = esc(evil);
        assert_eq!(e, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;");
        assert!(!e.contains('<') && !e.contains('>') && !e.contains('"'));
    }

    #[test]
    fn script_json_cannot_close_the_script_and_reads_back() {
        let v = vec![
            "</script><script>alert(1)</script>",
            "a&b",
            "\u{2028}\u{2029}",
            "<!--",
        ];
        let s = script_json(&v);
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('&'),
            "{s}"
        );
        assert!(!s.contains('\u{2028}') && !s.contains('\u{2029}'), "{s}");
        let back: Vec<String> = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("ééé", 3), "é…");
        assert_eq!(secs(0.0123), "12.3 ms");
        assert_eq!(secs(12.34), "12.3 s");
    }
}
