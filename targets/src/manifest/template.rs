//! Templates: `{{variable}}` in manifest text, filled in per node.
//!
//! Double braces mark a variable; anything else — a single `{`, `${HOME}`,
//! a JSON object — is literal, so shell and configuration syntax pass through
//! untouched. Where a configuration needs double braces of its own (a Lua
//! table `{{1, 2}}`, a Jinja-like file), `\{{` is a literal `{{`, and
//! everything between `{{raw}}` and `{{/raw}}` is copied as it is.
//!
//! One construct repeats text per node, for the configurations that list
//! their peers line by line (ZooKeeper's `server.N=` lines, a routes list):
//! `{{for peer}} ... {{/for}}` renders its body once per node, in order, with
//! `{{peer.node}}`, `{{peer.addr}}`, `{{peer.index}}` and `{{peer.id}}` set to
//! that node; `{{for peer in others}}` skips the node the template is
//! rendered for, and `sep=", "` puts a separator between the repetitions.
//!
//! A template is parsed when the manifest is read, so an unknown variable, an
//! unclosed `{{` or an unbalanced block is an error naming the field, the
//! line and the column before anything starts; rendering afterwards cannot
//! fail. Parsing never panics, whatever the text (property tests below and
//! the `manifest` fuzz target).

use std::collections::BTreeMap;

/// Every variable a template may use.
pub const VARIABLES: &[(&str, &str)] = &[
    ("node", "the node's name (n1..., or the SSH host)"),
    ("addr", "the node's IP address"),
    ("index", "the node's 1-based position"),
    ("id", "the same as index (for numeric server ids)"),
    ("dir", "the node's own directory, on the node"),
    (
        "data",
        "{{dir}}/data, created empty before the files are written",
    ),
    ("nodes", "every node's name, space-separated"),
    ("addrs", "every node's address, comma-separated"),
    ("peers", "every node as name=addr, comma-separated"),
    ("first", "the first node's name"),
    ("first_addr", "the first node's address"),
    (
        "manifest_dir",
        "the directory holding the manifest, on this machine",
    ),
    (
        "leader",
        "the current leader's name (the first node when none is known)",
    ),
    ("leader_addr", "the current leader's address"),
];

/// The fields of `peer` inside `{{for peer}}`.
pub const PEER_FIELDS: &[&str] = &["node", "addr", "index", "id"];

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(String),
    /// A `peer.*` field inside a loop.
    Peer(String),
    Loop {
        others: bool,
        sep: String,
        body: Vec<Piece>,
    },
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

/// What is wrong with a template, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {msg}")]
pub struct TemplateError {
    /// The line, from 1.
    pub line: usize,
    /// The column (in characters), from 1.
    pub column: usize,
    /// What is wrong.
    pub msg: String,
}

/// The error `msg` at byte `pos` of `text`.
fn at(text: &str, pos: usize, msg: String) -> TemplateError {
    let before = text.get(..pos).unwrap_or(text);
    TemplateError {
        line: before.matches('\n').count() + 1,
        column: before.rsplit('\n').next().unwrap_or("").chars().count() + 1,
        msg,
    }
}

const ESCAPES: &str = "write \\{{ for a literal {{, or put the text between {{raw}} and {{/raw}}";

/// A loop's header: `for peer [in all|others] [sep="..."]`.
fn loop_header(tag: &str) -> Result<(bool, String), String> {
    let rest = tag
        .strip_prefix("for")
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix("peer"))
        .filter(|r| r.is_empty() || r.starts_with(char::is_whitespace))
        .ok_or_else(|| format!("a loop is `{{{{for peer}}}}`, not `{{{{{tag}}}}}`"))?;
    let mut rest = rest.trim_start();
    let mut others = false;
    if let Some(r) = rest.strip_prefix("in ") {
        let r = r.trim_start();
        let (word, after) = r.split_at(r.find(char::is_whitespace).unwrap_or(r.len()));
        others = match word {
            "all" => false,
            "others" => true,
            w => return Err(format!("`for peer in {w}`: loop over `all` or `others`")),
        };
        rest = after.trim_start();
    }
    let mut sep = String::new();
    if !rest.is_empty() {
        let quoted = rest
            .strip_prefix("sep=\"")
            .and_then(|r| r.strip_suffix('"'))
            .ok_or_else(|| {
                format!(
                    "`{rest}` in a loop: only `in others` and `sep=\"...\"` may follow `for peer`"
                )
            })?;
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match (c, c == '\\') {
                (_, true) => match chars.next() {
                    Some('n') => sep.push('\n'),
                    Some('t') => sep.push('\t'),
                    Some(o) => sep.push(o),
                    None => sep.push('\\'),
                },
                (c, false) => sep.push(c),
            }
        }
    }
    Ok((others, sep))
}

impl Template {
    /// Parses `text`; the error says what is wrong and where (line and
    /// column), for the caller to name the field.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        // The pieces being built; a second level while inside a loop.
        let mut top: Vec<Piece> = Vec::new();
        let mut inner: Option<(usize, bool, String, Vec<Piece>)> = None;
        let mut lit = String::new();
        let mut i = 0;
        fn flush(lit: &mut String, into: &mut Vec<Piece>) {
            if !lit.is_empty() {
                into.push(Piece::Text(std::mem::take(lit)));
            }
        }
        while i < text.len() {
            let rest = &text[i..];
            let Some(next) = rest.find(['{', '\\']) else {
                lit.push_str(rest);
                break;
            };
            lit.push_str(&rest[..next]);
            i += next;
            let rest = &text[i..];
            if rest.starts_with("\\{{") {
                lit.push_str("{{");
                i += 3;
                continue;
            }
            if !rest.starts_with("{{") {
                // A lone `{` or `\`: one byte, both ASCII.
                lit.push_str(&rest[..1]);
                i += 1;
                continue;
            }
            let after = &rest[2..];
            let close = after.find("}}").ok_or_else(|| {
                at(
                    text,
                    i,
                    format!("`{{{{` is never closed by `}}}}` ({ESCAPES})"),
                )
            })?;
            let tag = after[..close].trim();
            let end = i + 2 + close + 2;
            let in_loop = inner.is_some();
            let pieces = match inner.as_mut() {
                Some((_, _, _, body)) => body,
                None => &mut top,
            };
            match tag {
                "raw" => {
                    let body = &text[end..];
                    let stop = body.find("{{/raw}}").ok_or_else(|| {
                        at(text, i, "`{{raw}}` is never closed by `{{/raw}}`".into())
                    })?;
                    lit.push_str(&body[..stop]);
                    i = end + stop + "{{/raw}}".len();
                    continue;
                }
                "/raw" => return Err(at(text, i, "`{{/raw}}` without `{{raw}}`".into())),
                "/for" => {
                    let Some((_, others, sep, mut body)) = inner.take() else {
                        return Err(at(text, i, "`{{/for}}` without `{{for peer}}`".into()));
                    };
                    flush(&mut lit, &mut body);
                    top.push(Piece::Loop { others, sep, body });
                }
                t if t == "for" || t.starts_with("for ") => {
                    if in_loop {
                        return Err(at(text, i, "loops do not nest".into()));
                    }
                    let (others, sep) = loop_header(t).map_err(|e| at(text, i, e))?;
                    flush(&mut lit, pieces);
                    inner = Some((i, others, sep, Vec::new()));
                }
                name => {
                    let piece = if let Some(field) = name.strip_prefix("peer.") {
                        if !PEER_FIELDS.contains(&field) {
                            return Err(at(
                                text,
                                i,
                                format!(
                                    "unknown variable {{{{{name}}}}} (a peer has {})",
                                    PEER_FIELDS
                                        .iter()
                                        .map(|f| format!("peer.{f}"))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                            ));
                        }
                        if !in_loop {
                            return Err(at(text, i, format!("{{{{{name}}}}} is only defined between {{{{for peer}}}} and {{{{/for}}}}")));
                        }
                        Piece::Peer(field.to_owned())
                    } else if VARIABLES.iter().any(|(v, _)| *v == name) {
                        Piece::Var(name.to_owned())
                    } else {
                        return Err(at(
                            text,
                            i,
                            format!(
                                "unknown variable {{{{{name}}}}} (known: {}; {ESCAPES})",
                                VARIABLES
                                    .iter()
                                    .map(|(v, _)| *v)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                    };
                    flush(&mut lit, pieces);
                    pieces.push(piece);
                }
            }
            i = end;
        }
        if let Some((start, ..)) = inner {
            return Err(at(
                text,
                start,
                "`{{for peer}}` is never closed by `{{/for}}`".into(),
            ));
        }
        flush(&mut lit, &mut top);
        Ok(Template(top))
    }

    /// Fills in the variables (a variable missing from `vars` becomes empty).
    pub fn render(&self, vars: &Vars) -> String {
        let mut out = String::new();
        render_pieces(&self.0, vars, None, &mut out);
        out
    }
}

fn render_pieces(pieces: &[Piece], vars: &Vars, peer: Option<usize>, out: &mut String) {
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(v) => out.push_str(vars.vars.get(v).map(String::as_str).unwrap_or("")),
            Piece::Peer(f) => {
                if let Some(p) = peer.and_then(|i| vars.peers.get(i)) {
                    out.push_str(p.get(f).map(String::as_str).unwrap_or(""));
                }
            }
            Piece::Loop { others, sep, body } => {
                let mut first = true;
                for i in 0..vars.peers.len() {
                    if *others && vars.me == Some(i) {
                        continue;
                    }
                    if !first {
                        out.push_str(sep);
                    }
                    first = false;
                    render_pieces(body, vars, Some(i), out);
                }
            }
        }
    }
}

/// Values of the variables for one node, and every node's for loops.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    /// The variables by name.
    pub vars: BTreeMap<String, String>,
    /// Every node's `peer.*` fields, in node order.
    pub peers: Vec<BTreeMap<String, String>>,
    /// The position in `peers` of the node rendered for (skipped by
    /// `{{for peer in others}}`).
    pub me: Option<usize>,
}

impl Vars {
    /// Sets `name` to `value`.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Vars {
        self.vars.insert(name.to_owned(), value.into());
        self
    }

    /// Adds a node to the loops: its name and address (index and id follow
    /// from its position).
    pub fn peer(&mut self, node: &str, addr: &str) -> &mut Vars {
        let n = (self.peers.len() + 1).to_string();
        self.peers.push(BTreeMap::from([
            ("node".to_owned(), node.to_owned()),
            ("addr".to_owned(), addr.to_owned()),
            ("index".to_owned(), n.clone()),
            ("id".to_owned(), n),
        ]));
        self
    }
}

/// Parses and renders `text` (already checked when the manifest was read).
pub fn render(text: &str, vars: &Vars) -> String {
    Template::parse(text)
        .map(|t| t.render(vars))
        .unwrap_or_else(|_| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn three(me: usize) -> Vars {
        let mut v = Vars::default();
        v.set("node", format!("n{}", me + 1));
        for i in 1..=3 {
            v.peer(&format!("n{i}"), &format!("10.0.0.1{i}"));
        }
        v.me = Some(me);
        v
    }

    #[test]
    fn variables_are_filled_and_the_rest_is_literal() {
        let mut v = Vars::default();
        v.set("node", "n2").set("addr", "10.0.0.12");
        let t = Template::parse("x={{node}} ${HOME} {a} {{ addr }}:1 \\n").unwrap();
        assert_eq!(t.render(&v), "x=n2 ${HOME} {a} 10.0.0.12:1 \\n");
    }

    #[test]
    fn unknown_and_unclosed_variables_are_named_with_their_place() {
        let e = Template::parse("{{nod}}").unwrap_err().to_string();
        assert!(e.contains("unknown variable {{nod}}"), "{e}");
        assert!(e.starts_with("line 1, column 1: "), "{e}");
        assert!(e.contains("\\{{"), "the escape is suggested: {e}");
        let e = Template::parse("a\nbé {{node").unwrap_err().to_string();
        assert!(e.contains("never closed"), "{e}");
        assert!(e.starts_with("line 2, column 4: "), "{e}");
    }

    #[test]
    fn double_braces_can_be_escaped_or_kept_raw() {
        let v = three(0);
        // A Lua table literal and a Jinja-like expression.
        let t = Template::parse("t = \\{{1, 2}, {3}} -- {{node}}").unwrap();
        assert_eq!(t.render(&v), "t = {{1, 2}, {3}} -- n1");
        let t = Template::parse("{{raw}}{{ user.name }} {{for}}{{/raw}}={{node}}").unwrap();
        assert_eq!(t.render(&v), "{{ user.name }} {{for}}=n1");
        assert!(Template::parse("{{raw}} never ends")
            .unwrap_err()
            .to_string()
            .contains("`{{raw}}` is never closed"));
        assert!(Template::parse("{{/raw}}").is_err());
    }

    #[test]
    fn loops_repeat_per_peer() {
        let zk = "{{for peer}}server.{{peer.id}}={{peer.addr}}:2888:3888\n{{/for}}";
        assert_eq!(
            Template::parse(zk).unwrap().render(&three(1)),
            "server.1=10.0.0.11:2888:3888\nserver.2=10.0.0.12:2888:3888\nserver.3=10.0.0.13:2888:3888\n"
        );
        let routes = "routes = [{{for peer in others sep=\", \"}}\"nats://{{peer.addr}}:6222\"{{/for}}] # {{node}}";
        assert_eq!(
            Template::parse(routes).unwrap().render(&three(1)),
            "routes = [\"nats://10.0.0.11:6222\", \"nats://10.0.0.13:6222\"] # n2"
        );
        let t = Template::parse("{{for peer in all sep=\"\\n\"}}{{peer.node}}{{/for}}").unwrap();
        assert_eq!(t.render(&three(0)), "n1\nn2\nn3");
    }

    #[test]
    fn malformed_loops_are_named() {
        for (text, want) in [
            ("{{for peer}}x", "`{{for peer}}` is never closed"),
            ("{{/for}}", "without `{{for peer}}`"),
            (
                "{{for peer}}{{for peer}}{{/for}}{{/for}}",
                "loops do not nest",
            ),
            ("{{for node}}{{/for}}", "a loop is `{{for peer}}`"),
            (
                "{{for peer in some}}{{/for}}",
                "loop over `all` or `others`",
            ),
            ("{{for peer sep=,}}{{/for}}", "only `in others` and `sep="),
            ("{{peer.addr}}", "only defined between"),
            ("{{for peer}}{{peer.port}}{{/for}}", "a peer has peer.node"),
        ] {
            let e = Template::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z {}$\\\\\n\"=,]{0,6}",
            Just("{{".to_owned()),
            Just("}}".to_owned()),
            Just("\\{{".to_owned()),
            Just("{{node}}".to_owned()),
            Just("{{raw}}".to_owned()),
            Just("{{/raw}}".to_owned()),
            Just("{{for peer}}".to_owned()),
            Just("{{for peer in others sep=\", \"}}".to_owned()),
            Just("{{/for}}".to_owned()),
            Just("{{peer.addr}}".to_owned()),
            Just("é".to_owned()),
        ]
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_text_round_trips(s in "[a-z{}\\\\ $é]{0,40}") {
            if let Ok(t) = Template::parse(&s) {
                if !s.contains("{{") {
                    prop_assert_eq!(t.render(&Vars::default()), s);
                }
            }
        }

        #[test]
        fn any_mix_of_tags_parses_or_errs_and_renders(parts in proptest::collection::vec(piece(), 0..12), me in 0usize..4) {
            let s: String = parts.concat();
            match Template::parse(&s) {
                Ok(t) => { let _ = t.render(&three(me.min(2))); }
                Err(e) => prop_assert!(e.to_string().starts_with("line "), "{}", e),
            }
        }

        #[test]
        fn escaped_text_renders_as_written(s in "[a-z{} ]{0,30}") {
            // Escaping every `{{` makes any text literal.
            let escaped = s.replace("{{", "\\{{");
            let t = Template::parse(&escaped).unwrap();
            // `\{{{` escapes the first two braces; the third stays literal.
            prop_assert_eq!(t.render(&Vars::default()), s);
        }
    }
}
