//! What a module's doc comment names as a module: the targets of its intra-doc
//! links (`` [`x`] ``, `[text](x)`, `[x]: target`), and the `` `x` `` written
//! right after "module"/"modules" or right before "module".

/// The inner doc (`//!`) of a file, as one text.
pub fn inner_doc(ast: &syn::File) -> String {
    let mut doc = String::new();
    for attr in &ast.attrs {
        if let syn::Meta::NameValue(nv) = &attr.meta {
            if nv.path.is_ident("doc") {
                if let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) = &nv.value
                {
                    doc.push_str(&s.value());
                    doc.push('\n');
                }
            }
        }
    }
    doc
}

/// Intra-doc link targets: `` [`x`] `` and `[x]` (no URL after), `[text](x)`,
/// and reference definitions `[label]: x`; URLs and anchors are left out.
pub fn link_targets(doc: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = doc.as_bytes();
    let mut i = 0;
    while let Some(open) = doc[i..].find('[').map(|o| o + i) {
        let Some(close) = doc[open..].find(']').map(|c| c + open) else {
            break;
        };
        let label = &doc[open + 1..close];
        let after = bytes.get(close + 1).copied();
        let target = match after {
            Some(b'(') => doc[close + 2..]
                .find(')')
                .map(|e| &doc[close + 2..close + 2 + e]),
            Some(b':') => doc[close + 2..].lines().next().map(str::trim),
            Some(b'[') => None, // [text][label]: the label's definition is checked
            _ => Some(label),
        };
        if let Some(target) = target {
            let t = target
                .trim()
                .trim_matches('`')
                .trim_end_matches("()")
                .trim_end_matches('!');
            let t = t.split_once('@').map_or(t, |(_, rest)| rest); // mod@x, fn@x
            let plain = !t.is_empty()
                && t.chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == ':');
            if plain {
                out.push(t.to_string());
            }
        }
        i = close + 1;
    }
    out
}

/// The `` `x` `` that prose calls a module: "module `x`", "modules `x`, `y` and
/// `z`", "`x` module".
pub fn prose_modules(doc: &str) -> Vec<String> {
    let text = doc.replace('\n', " ");
    let mut out = Vec::new();
    let ticks: Vec<usize> = text.match_indices('`').map(|(i, _)| i).collect();
    let mut in_list = false;
    for pair in ticks.chunks(2) {
        let [open, close] = pair else { break };
        let word = &text[open + 1..*close];
        let before = text[..*open].trim_end();
        let after = text[close + 1..].trim_start();
        let follows_module = before.ends_with("module") || before.ends_with("modules");
        let continues = in_list
            && (before.ends_with(',') || before.ends_with(" and") || before.ends_with(" or"));
        let precedes_module = after.starts_with("module") && !after.starts_with("modules ");
        let is_module = follows_module || continues || precedes_module;
        in_list = (follows_module && before.ends_with("modules")) || (continues && in_list);
        let ident = !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':');
        if is_module && ident {
            out.push(word.to_string());
        }
    }
    out
}
