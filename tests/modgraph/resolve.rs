//! From a path written in a file to the file that defines what it names.
//!
//! A path is first made absolute from the module it is written in (`crate::`,
//! `self::`, `super::`, or a first segment that is a child module, a definition,
//! an import or a glob-imported name of that module); a first segment that is
//! none of these names another crate, a prelude item or a local, and is no arrow.
//! The absolute path is then walked from the root: through child modules, and
//! through imports (`pub use` or not) and globs to where the name is *defined*.
//! A path that ends at a module names a namespace, not an item, and is no arrow.

use std::collections::BTreeMap;

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

use super::tree::{flatten_use, Crate};

/// Where a path leads.
#[derive(Debug, PartialEq)]
pub enum Target {
    /// An item defined in this file.
    File(usize),
    /// A module itself (a namespace).
    Module,
    /// Another crate, the prelude, or a local.
    Outside,
    /// A name the module neither defines nor imports (a macro-made item): counted
    /// as defined in the module's file, so that nothing unexplained is dropped.
    Unknown(usize),
}

const MAX_DEPTH: usize = 24;

thread_local! {
    /// The globs (module, index) being followed on this thread right now.
    static FOLLOWING: std::cell::RefCell<Vec<(usize, usize)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` while following glob `g` of module `m`; `None` if that glob is
/// already being followed further up (a name sought through a glob that
/// needs the same glob to be found: without this, k unresolvable globs in
/// one module cost k^depth steps).
fn following<T>(m: usize, g: usize, f: impl FnOnce() -> Option<T>) -> Option<T> {
    if FOLLOWING.with(|x| x.borrow().contains(&(m, g))) {
        return None;
    }
    FOLLOWING.with(|x| x.borrow_mut().push((m, g)));
    let r = f();
    FOLLOWING.with(|x| x.borrow_mut().pop());
    r
}

impl Crate {
    /// The absolute path (from the crate root) of `raw` written in module `m`.
    pub fn absolutize(&self, m: usize, raw: &[String], depth: usize) -> Option<Vec<String>> {
        let first = raw.first()?;
        if depth > MAX_DEPTH {
            return None;
        }
        let module = &self.modules[m];
        match first.as_str() {
            "crate" => return Some(raw[1..].to_vec()),
            "self" => return Some(join(&module.path, &raw[1..])),
            "super" => {
                let supers = raw.iter().take_while(|s| *s == "super").count();
                let mut at = m;
                for _ in 0..supers {
                    at = self.modules[at].parent?;
                }
                return Some(join(&self.modules[at].path, &raw[supers..]));
            }
            "Self" => return None,
            _ => {}
        }
        if module.children.contains_key(first) || module.defs.contains(first) {
            return Some(join(&module.path, raw));
        }
        if let Some(import) = module.imports.get(first) {
            if import.as_slice() == raw {
                return None; // `use serde;`: another crate
            }
            let base = self.absolutize(m, import, depth + 1)?;
            return Some(join(&base, &raw[1..]));
        }
        for (g, glob) in module.globs.iter().enumerate() {
            if let Some(base) = following(m, g, || self.absolutize(m, glob, depth + 1)) {
                let candidate = join(&base, raw);
                if matches!(
                    self.resolve(&candidate, depth + 1),
                    Target::File(_) | Target::Module
                ) {
                    return Some(candidate);
                }
            }
        }
        None
    }

    /// Where the absolute path `abs` leads.
    pub fn resolve(&self, abs: &[String], depth: usize) -> Target {
        if depth > MAX_DEPTH {
            return Target::Outside;
        }
        let mut m = 0;
        for (i, seg) in abs.iter().enumerate() {
            let module = &self.modules[m];
            if let Some(&child) = module.children.get(seg) {
                m = child;
                continue;
            }
            if module.defs.contains(seg) {
                return Target::File(module.file);
            }
            if let Some(import) = module.imports.get(seg) {
                return match self.absolutize(m, import, depth + 1) {
                    Some(base) => self.resolve(&join(&base, &abs[i + 1..]), depth + 1),
                    None => Target::Outside,
                };
            }
            for (g, glob) in module.globs.iter().enumerate() {
                if let Some(base) = following(m, g, || self.absolutize(m, glob, depth + 1)) {
                    let r = self.resolve(&join(&base, &abs[i..]), depth + 1);
                    if matches!(r, Target::File(_) | Target::Module) {
                        return r;
                    }
                }
            }
            return Target::Unknown(module.file);
        }
        Target::Module
    }

    /// The arrows between files: `(from, to)` → the first path that made it.
    pub fn arrows(&self) -> BTreeMap<(usize, usize), String> {
        let mut arrows = BTreeMap::new();
        for (file, source) in self.files.iter().enumerate() {
            let top = self
                .modules
                .iter()
                .position(|m| m.file == file)
                .expect("a file has its module");
            let mut paths = Paths {
                krate: self,
                stack: vec![top],
                found: Vec::new(),
            };
            paths.visit_file(&source.ast);
            for (m, raw) in paths.found {
                let target = match self.absolutize(m, &raw, 0) {
                    Some(abs) => self.resolve(&abs, 0),
                    None => Target::Outside,
                };
                if let (Target::Unknown(_), Some(_)) =
                    (&target, std::env::var_os("STRUCTURE_ARROWS"))
                {
                    println!("    unknown: {} in {}", raw.join("::"), source.rel);
                }
                if let Target::File(to) | Target::Unknown(to) = target {
                    if to != file {
                        arrows.entry((file, to)).or_insert_with(|| raw.join("::"));
                    }
                }
            }
        }
        arrows
    }
}

fn join(base: &[String], rest: &[String]) -> Vec<String> {
    base.iter().chain(rest).cloned().collect()
}

/// Pass two over a file: every path written in it, with the module it is in.
struct Paths<'a> {
    krate: &'a Crate,
    stack: Vec<usize>,
    found: Vec<(usize, Vec<String>)>,
}

impl Paths<'_> {
    fn push(&mut self, raw: Vec<String>) {
        if !raw.is_empty() {
            self.found
                .push((*self.stack.last().expect("a module is open"), raw));
        }
    }

    /// Paths inside a macro's tokens (`format!("{}", crate::x::y())`).
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let mut current: Vec<String> = Vec::new();
        let mut colons = 0;
        for tree in tokens {
            match tree {
                TokenTree::Ident(ident) => {
                    if colons != 2 && !current.is_empty() {
                        self.push(std::mem::take(&mut current));
                    }
                    current.push(ident.to_string());
                    colons = 0;
                }
                TokenTree::Punct(p) if p.as_char() == ':' && !current.is_empty() => colons += 1,
                TokenTree::Group(g) => {
                    self.push(std::mem::take(&mut current));
                    colons = 0;
                    self.scan_tokens(g.stream());
                }
                _ => {
                    self.push(std::mem::take(&mut current));
                    colons = 0;
                }
            }
        }
        self.push(current);
    }
}

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let Some((_, items)) = &item.content else {
            return; // its own file
        };
        let parent = *self.stack.last().expect("a module is open");
        let child = self.krate.modules[parent].children[&item.ident.to_string()];
        self.stack.push(child);
        for i in items {
            self.visit_item(i);
        }
        self.stack.pop();
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut found = Vec::new();
        flatten_use(&item.tree, &mut Vec::new(), &mut found);
        for (name, path) in found {
            if name.is_some() {
                self.push(path);
            }
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            self.push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.scan_tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}
