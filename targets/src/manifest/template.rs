//! Templates: `{{variable}}` in manifest text, filled in per node.
//!
//! Double braces mark a variable; anything else — a single `{`, `${HOME}`,
//! a JSON object — is literal, so shell and configuration syntax pass through
//! untouched. A template is parsed when the manifest is read, so an unknown
//! variable or an unclosed `{{` is an error naming the field before anything
//! starts; rendering afterwards cannot fail.

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

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(String),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

impl Template {
    /// Parses `text`; the error says what is wrong, for the caller to name
    /// the field.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| {
                format!(
                    "`{{{{` at byte {} is never closed",
                    text.len() - rest.len() + open
                )
            })?;
            let name = after[..close].trim();
            if !VARIABLES.iter().any(|(v, _)| *v == name) {
                return Err(format!(
                    "unknown variable {{{{{name}}}}} (known: {})",
                    VARIABLES
                        .iter()
                        .map(|(v, _)| *v)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            pieces.push(Piece::Var(name.to_owned()));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Template(pieces))
    }

    /// Fills in the variables (a variable missing from `vars` becomes empty).
    pub fn render(&self, vars: &Vars) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v) => out.push_str(vars.0.get(v).map(String::as_str).unwrap_or("")),
            }
        }
        out
    }
}

/// Values of the variables for one node.
#[derive(Clone, Debug, Default)]
pub struct Vars(pub BTreeMap<String, String>);

impl Vars {
    /// Sets `name` to `value`.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Vars {
        self.0.insert(name.to_owned(), value.into());
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

    #[test]
    fn variables_are_filled_and_the_rest_is_literal() {
        let mut v = Vars::default();
        v.set("node", "n2").set("addr", "10.0.0.12");
        let t = Template::parse("x={{node}} ${HOME} {a} {{ addr }}:1").unwrap();
        assert_eq!(t.render(&v), "x=n2 ${HOME} {a} 10.0.0.12:1");
    }

    #[test]
    fn unknown_and_unclosed_variables_are_named() {
        let e = Template::parse("{{nod}}").unwrap_err();
        assert!(e.contains("unknown variable {{nod}}"), "{e}");
        let e = Template::parse("ab {{node").unwrap_err();
        assert!(e.contains("never closed"), "{e}");
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_text_round_trips(s in "[a-z{} $]{0,40}") {
            if let Ok(t) = Template::parse(&s) {
                if !s.contains("{{") {
                    prop_assert_eq!(t.render(&Vars::default()), s);
                }
            }
        }
    }
}
