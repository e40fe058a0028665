//! How the desk crate's modules may import each other. Each top-level
//! module of `src/` (a file, or a folder with its submodules) is one node.
//!
//! The rules checked here:
//! - the store room (`store/`: the encrypted database, its schema, the audit
//!   chain, the outbox, the sync state and the key store) uses no module of
//!   the crate outside it, so an act's error or types can change without
//!   editing the store (its error once named every act's error, and 16
//!   files imported each other in one circle);
//! - no module is in an import circle: each module returns its own error
//!   (issuing `IssueError`, the handout `HandoutError`, ...), which the
//!   core's `Error` above them gathers flat, so no module below `error`
//!   names `crate::Error`.
//!
//! How it is read: every `crate::name` path in a module's files (in `use`
//! lines, grouped `crate::{a, b}` imports and paths in code) is an arrow
//! to module `name`; the names `lib.rs` re-exports at the crate root
//! (`crate::Error`, `crate::audit`, ...) are arrows to the module they come
//! from; the re-exported skranke-rules and skranke-protocol modules are
//! outside the crate. Unit tests (`tests.rs` files and the `#[cfg(test)]
//! mod` at the end of a file) are left out: a test may use anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `name -> module` for what lib.rs re-exports from a module of its own
/// (`pub use error::{Error, FieldError, Result};`).
fn root_reexports(lib: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let Some(rest) = line.trim().strip_prefix("pub use ") else { continue };
        let rest = rest.trim_end_matches(';');
        let Some((module, names)) = rest.split_once("::") else { continue };
        if !modules.contains(module) {
            continue;
        }
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            let name = name.trim();
            let name = name.rsplit(" as ").next().unwrap_or(name).trim();
            if !name.is_empty() {
                out.insert(name.to_string(), module.to_string());
            }
        }
    }
    out
}

/// The code of a file without its unit-test module.
fn without_tests(text: &str) -> &str {
    let mut offset = 0;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == "#[cfg(test)]" && lines.get(i + 1).is_some_and(|next| next.trim_start().starts_with("mod ")) {
            return &text[..offset];
        }
        offset += line.len();
    }
    text
}

/// Strips `//` comments (doc comments name other modules in links, which
/// are no import) and string literals.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = '\0';
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_str && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' {
                in_str = !in_str;
            } else if !in_str {
                out.push(c);
            }
            prev = c;
            i += 1;
        }
        out.push('\n');
    }
    out
}

fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The first path segments after each `crate::` in `code`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        // `skranke_crate::x` or `$crate::x` is not this crate.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut segment = String::new();
            let mut at_start = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        at_start = true;
                        continue;
                    }
                    _ => {}
                }
                if depth == 1 && at_start {
                    if c.is_alphanumeric() || c == '_' {
                        segment.push(c);
                    } else if !segment.is_empty() {
                        out.push(std::mem::take(&mut segment));
                        at_start = false;
                    }
                }
            }
            if !segment.is_empty() {
                out.push(segment);
            }
        } else {
            out.push(ident(rest).to_string());
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `module -> (module it uses -> the files that use it)`.
fn arrows() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let src = src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let module_of = |path: &Path| -> String {
        let rel = path.strip_prefix(&src).unwrap();
        let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
        first.trim_end_matches(".rs").to_string()
    };
    let modules: BTreeSet<String> = files.iter().map(|p| module_of(p)).filter(|m| m != "lib").collect();
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let reexports = root_reexports(&lib, &modules);

    let mut graph: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for path in &files {
        let module = module_of(path);
        if module == "lib" || path.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let code = code_only(without_tests(&text));
        let rel = path.strip_prefix(&src).unwrap().display().to_string();
        for name in crate_paths(&code) {
            let target = if modules.contains(&name) {
                name
            } else if let Some(m) = reexports.get(&name) {
                m.clone()
            } else {
                continue;
            };
            if target != module {
                graph.entry(module.clone()).or_default().entry(target).or_default().insert(rel.clone());
            }
        }
        graph.entry(module).or_default();
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan).
fn circles(graph: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a str) {
        w.index.insert(v, w.next);
        w.low.insert(v, w.next);
        w.next += 1;
        w.stack.push(v);
        w.on_stack.insert(v);
        let graph = w.graph;
        for u in graph.get(v).into_iter().flat_map(|m| m.keys()) {
            let u = u.as_str();
            if !w.index.contains_key(u) {
                visit(w, u);
                let low = w.low[v].min(w.low[u]);
                w.low.insert(v, low);
            } else if w.on_stack.contains(u) {
                let low = w.low[v].min(w.index[u]);
                w.low.insert(v, low);
            }
        }
        if w.low[v] == w.index[v] {
            let mut component = Vec::new();
            loop {
                let u = w.stack.pop().unwrap();
                w.on_stack.remove(u);
                component.push(u.to_string());
                if u == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                w.out.push(component);
            }
        }
    }
    let mut w = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !w.index.contains_key(v.as_str()) {
            visit(&mut w, v);
        }
    }
    w.out
}

fn describe(graph: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>, circle: &[String]) -> String {
    let mut report = format!("circle of {} modules: {}\n", circle.len(), circle.join(", "));
    for from in circle {
        for (to, files) in &graph[from] {
            if circle.contains(to) {
                let files: Vec<&str> = files.iter().map(String::as_str).collect();
                report.push_str(&format!("  {from} -> {to}  ({})\n", files.join(", ")));
            }
        }
    }
    report
}

#[test]
fn the_store_room_uses_no_module_of_the_crate_outside_it() {
    let graph = arrows();
    let above: Vec<String> = graph["store"]
        .iter()
        .map(|(to, files)| format!("store -> {to} ({})", files.iter().cloned().collect::<Vec<_>>().join(", ")))
        .collect();
    assert!(above.is_empty(), "the store imports modules built on it:\n{}", above.join("\n"));
}

#[test]
fn no_module_of_the_desk_crate_is_in_an_import_circle() {
    let graph = arrows();
    let report: String = circles(&graph).iter().map(|circle| describe(&graph, circle)).collect();
    assert!(report.is_empty(), "import circles in the desk crate:\n{report}");
}

/// The core's one error sits above every module whose error it gathers:
/// were a module below it to return `crate::Error` again, the error and that
/// module would import each other (the circle the per-module errors ended).
#[test]
fn the_core_error_is_imported_by_no_module_whose_error_it_gathers() {
    let graph = arrows();
    let gathered: Vec<&String> = graph["error"].keys().collect();
    let back: Vec<String> = gathered
        .iter()
        .filter_map(|m| {
            graph
                .get(*m)
                .and_then(|to| to.get("error"))
                .map(|files| format!("{m} ({})", files.iter().cloned().collect::<Vec<_>>().join(", ")))
        })
        .collect();
    assert!(gathered.iter().any(|m| *m == "issue"), "the reader no longer sees error -> issue: {gathered:?}");
    assert!(back.is_empty(), "modules whose error crate::Error gathers import it back:\n{}", back.join("\n"));
}

/// The reader itself: a circle written into a small graph is found, with
/// grouped imports, and comments, strings and unit tests are no arrows.
#[test]
fn the_reader_finds_a_circle_and_ignores_comments_strings_and_tests() {
    let code = code_only(without_tests(
        "use crate::{store::{Store, StoreError}, audit};\n\
         // crate::issue in a comment\n\
         let s = \"crate::sync\";\n\
         fn f() { crate::keystore::delete(); skranke_crate::x(); }\n\
         #[cfg(test)]\nmod tests { use crate::query; }\n",
    ));
    assert_eq!(crate_paths(&code), ["store", "audit", "keystore"]);

    let mut graph: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        graph.entry(from.into()).or_default().entry(to.into()).or_default();
        graph.entry(to.into()).or_default();
    }
    assert_eq!(circles(&graph), vec![vec!["a".to_string(), "b".into(), "c".into()]]);
    graph.get_mut("c").unwrap().remove("a");
    assert!(circles(&graph).is_empty());
}
