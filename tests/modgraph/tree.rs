//! The module tree of one crate, read from its source files with `syn`.
//!
//! Starting at the crate root (`lib.rs`, `main.rs`), every `mod x;` is followed
//! to its file (`x.rs`, `x/mod.rs`, or a `#[path]`), and every inline `mod x { }`
//! becomes a module that lives in the same file. Each module keeps what the
//! resolver needs: the names it *defines* (functions, types, traits, constants,
//! statics, `macro_rules!`), the names it *imports* (`use` items, including
//! those inside function bodies, with the path as written), and its glob imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// One source file of a crate.
pub struct SourceFile {
    /// The path relative to the workspace root, as printed.
    pub rel: String,
    pub ast: syn::File,
}

/// One module: a file's top module, or an inline `mod x { }` inside a file.
pub struct Module {
    /// The path from the crate root (empty for the root).
    pub path: Vec<String>,
    pub file: usize,
    pub parent: Option<usize>,
    pub children: BTreeMap<String, usize>,
    pub defs: BTreeSet<String>,
    /// Name in scope → the path written in its `use` item.
    pub imports: BTreeMap<String, Vec<String>>,
    pub globs: Vec<Vec<String>>,
}

/// A crate: its files and the module tree over them.
pub struct Crate {
    pub files: Vec<SourceFile>,
    pub modules: Vec<Module>,
    /// Files that hold `mod x;` children but are not `mod.rs`/`lib.rs`/`main.rs`.
    pub non_mod_rs_parents: Vec<String>,
}

impl Crate {
    /// Reads the crate whose root file is `root` (paths printed relative to `workspace`).
    pub fn load(root: &Path, workspace: &Path) -> Result<Crate, String> {
        let mut krate = Crate {
            files: Vec::new(),
            modules: Vec::new(),
            non_mod_rs_parents: Vec::new(),
        };
        let dir = root
            .parent()
            .expect("a root file has a directory")
            .to_path_buf();
        krate.load_file(root, Vec::new(), None, dir, workspace)?;
        Ok(krate)
    }

    fn load_file(
        &mut self,
        path: &Path,
        module_path: Vec<String>,
        parent: Option<usize>,
        child_dir: PathBuf,
        workspace: &Path,
    ) -> Result<(), String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let ast = syn::parse_file(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let rel = path
            .strip_prefix(workspace)
            .unwrap_or(path)
            .display()
            .to_string();
        let file = self.files.len();
        let module = self.new_module(module_path, file, parent);
        let mut walk = Walk {
            krate: self,
            file,
            stack: vec![module],
            body_depth: 0,
            pending: Vec::new(),
            mod_macros: BTreeSet::new(),
        };
        walk.visit_file(&ast);
        let pending = std::mem::take(&mut walk.pending);
        self.files.push(SourceFile { rel, ast });
        let file_dir = path.parent().expect("a file has a directory");
        for FileMod {
            module,
            name,
            attr_path,
        } in pending
        {
            let (child, dir) = match attr_path {
                Some(p) => {
                    let child = file_dir.join(p);
                    let dir = child.parent().expect("a file has a directory").join(&name);
                    (child, dir)
                }
                None => {
                    let flat = child_dir.join(format!("{name}.rs"));
                    let nested = child_dir.join(&name).join("mod.rs");
                    let is_root_like = ["mod.rs", "lib.rs", "main.rs"]
                        .iter()
                        .any(|n| path.file_name() == Some(std::ffi::OsStr::new(n)))
                        || parent.is_none();
                    if !is_root_like && !self.non_mod_rs_parents.contains(&self.files[file].rel) {
                        self.non_mod_rs_parents.push(self.files[file].rel.clone());
                    }
                    match (flat.exists(), nested.exists()) {
                        (true, false) => (flat, child_dir.join(&name)),
                        (false, true) => (nested, child_dir.join(&name)),
                        (true, true) => {
                            return Err(format!("both {} and {}", flat.display(), nested.display()))
                        }
                        (false, false) => {
                            return Err(format!("{}: `mod {name};` has no file", path.display()))
                        }
                    }
                }
            };
            let mut child_path = self.modules[module].path.clone();
            child_path.push(name.clone());
            let index = self.modules.len();
            self.modules[module].children.insert(name, index);
            self.load_file(&child, child_path, Some(module), dir, workspace)?;
        }
        Ok(())
    }

    fn new_module(&mut self, path: Vec<String>, file: usize, parent: Option<usize>) -> usize {
        self.modules.push(Module {
            path,
            file,
            parent,
            children: BTreeMap::new(),
            defs: BTreeSet::new(),
            imports: BTreeMap::new(),
            globs: Vec::new(),
        });
        self.modules.len() - 1
    }
}

/// A `mod x;` found in a file, loaded after the file is walked.
struct FileMod {
    module: usize,
    name: String,
    attr_path: Option<String>,
}

/// Pass one over a file: modules, definitions and imports.
struct Walk<'a> {
    krate: &'a mut Crate,
    file: usize,
    stack: Vec<usize>,
    body_depth: usize,
    pending: Vec<FileMod>,
    /// Macros of this file whose expansion declares modules (`mod $m;`).
    mod_macros: BTreeSet<String>,
}

impl Walk<'_> {
    /// A `macro_rules!` whose body declares modules is remembered; an
    /// invocation of one declares each module its `module::Item` paths name
    /// (targets' `databases! { etcd::Etcd, ... }` declares `etcd`).
    fn macro_item(&mut self, i: &syn::ItemMacro) {
        let name = i.mac.path.segments.last().map(|s| s.ident.to_string());
        match (&i.ident, name.as_deref()) {
            (Some(ident), Some("macro_rules")) => {
                let body = i.mac.tokens.to_string();
                if body.contains("mod $") {
                    self.mod_macros.insert(ident.to_string());
                }
            }
            (None, Some(called)) if self.mod_macros.contains(called) => {
                let tokens: Vec<proc_macro2::TokenTree> =
                    i.mac.tokens.clone().into_iter().collect();
                let parent = *self.stack.last().expect("a module is open");
                for w in tokens.windows(3) {
                    if let (
                        proc_macro2::TokenTree::Ident(m),
                        proc_macro2::TokenTree::Punct(a),
                        proc_macro2::TokenTree::Punct(b),
                    ) = (&w[0], &w[1], &w[2])
                    {
                        let name = m.to_string();
                        let known = self
                            .pending
                            .iter()
                            .any(|f| f.module == parent && f.name == name);
                        if a.as_char() == ':' && b.as_char() == ':' && !known {
                            self.pending.push(FileMod {
                                module: parent,
                                name,
                                attr_path: None,
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }
    fn top(&mut self) -> &mut Module {
        let m = *self.stack.last().expect("a module is open");
        &mut self.krate.modules[m]
    }

    fn define(&mut self, ident: &syn::Ident) {
        if self.body_depth == 0 {
            self.top().defs.insert(ident.to_string());
        }
    }
}

impl<'ast> Visit<'ast> for Walk<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        match item {
            syn::Item::Const(i) => self.define(&i.ident),
            syn::Item::Enum(i) => self.define(&i.ident),
            syn::Item::Fn(i) => self.define(&i.sig.ident),
            syn::Item::Static(i) => self.define(&i.ident),
            syn::Item::Struct(i) => self.define(&i.ident),
            syn::Item::Trait(i) => self.define(&i.ident),
            syn::Item::TraitAlias(i) => self.define(&i.ident),
            syn::Item::Type(i) => self.define(&i.ident),
            syn::Item::Union(i) => self.define(&i.ident),
            syn::Item::Macro(i) => {
                if let Some(ident) = &i.ident {
                    self.define(ident)
                }
                self.macro_item(i);
            }
            _ => {}
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let name = item.ident.to_string();
        let parent = *self.stack.last().expect("a module is open");
        match &item.content {
            Some((_, items)) => {
                let mut path = self.krate.modules[parent].path.clone();
                path.push(name.clone());
                let m = self.krate.new_module(path, self.file, Some(parent));
                self.krate.modules[parent].children.insert(name, m);
                self.stack.push(m);
                let depth = std::mem::replace(&mut self.body_depth, 0);
                for i in items {
                    self.visit_item(i);
                }
                self.body_depth = depth;
                self.stack.pop();
            }
            None => self.pending.push(FileMod {
                module: parent,
                name,
                attr_path: path_attr(&item.attrs),
            }),
        }
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        self.body_depth += 1;
        syn::visit::visit_block(self, block);
        self.body_depth -= 1;
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut found = Vec::new();
        flatten_use(&item.tree, &mut Vec::new(), &mut found);
        for (name, path) in found {
            match name {
                Some(name) => {
                    self.top().imports.insert(name, path);
                }
                // The same glob twice (`use E::*;` in two test functions
                // of one module) is one glob.
                None => {
                    let globs = &mut self.top().globs;
                    if !globs.contains(&path) {
                        globs.push(path);
                    }
                }
            }
        }
    }
}

/// The `#[path = "..."]` of a `mod` item.
fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

/// Every name a `use` tree brings into scope, with its path; `None` for a glob.
pub fn flatten_use(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Option<String>, Vec<String>)>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                if let Some(last) = prefix.last() {
                    out.push((Some(last.clone()), prefix.clone()));
                }
            } else {
                let mut path = prefix.clone();
                path.push(name.clone());
                out.push((Some(name), path));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            if r.ident != "self" {
                path.push(r.ident.to_string());
            }
            out.push((Some(r.rename.to_string()), path));
        }
        syn::UseTree::Glob(_) => out.push((None, prefix.clone())),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten_use(t, prefix, out);
            }
        }
    }
}
