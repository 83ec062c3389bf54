//! The files of `src/` import each other in one direction only: no file sits on an
//! import cycle.
//!
//! Each `.rs` file under `src/` is a node, named by its module path
//! (`src/types/value.rs` is `types::value`, `src/params/mod.rs` is `params`,
//! `src/lib.rs` is the crate root). There is an edge `a.rs -> b.rs` when `a.rs`
//! names a path into the module that `b.rs` defines. How the paths are found is
//! kept simple on purpose:
//!
//! - comments (doc comments included), string literals and char literals are
//!   blanked first, so an intra-doc link is no import;
//! - the unit tests are dropped: everything from a `#[cfg(test)]` line followed by
//!   `mod tests` to the end of the file (the tests come last in every file);
//! - `use` declarations are expanded, groups included
//!   (`use crate::{error::Error, types::{Value, ValueRef}}`), and so is every other
//!   path that starts with `crate::`, `super::`, `self::` or the name of a child
//!   module the file declares (`mod lexer;` … `lexer::scan`);
//! - `super` and `self` are relative to the file's module; inline `mod x { … }`
//!   blocks other than the tests are not tracked (there are none);
//! - a path resolves to the file of its longest prefix that is a module: both
//!   `crate::types::value::Value` and `super::value::Value` (in `types/`) lead to
//!   `src/types/value.rs`, `crate::types::Value` leads to `src/types/mod.rs`;
//! - edges to the crate root (`lib.rs`, which declares the modules and re-exports
//!   the public names) and from a file to itself are ignored. A `mod.rs` is a file
//!   like any other: its children import their siblings directly, never through
//!   the parent's re-exports, or they would sit on a cycle with it.
//!
//! The assertion covers the files whose paths start with one of the [`CHECKED`]
//! prefixes (the whole crate): a cycle through any of them fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Path prefixes (relative to the package root) of the files that must not sit on
/// any import cycle.
const CHECKED: &[&str] = &["src/"];

/// File → the files it imports, both as paths relative to the package root.
type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn no_import_cycles_among_checked_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let graph = graph_of(&read_sources(root));
    // The parser found the imports at all: a graph without edges has no cycle either.
    assert!(
        graph
            .get("src/row.rs")
            .is_some_and(|to| to.contains("src/column.rs")),
        "src/row.rs -> src/column.rs not found; the graph is {graph:#?}"
    );

    let (checked, others): (Vec<_>, Vec<_>) = cycles(&graph)
        .into_iter()
        .partition(|c| c.iter().any(|f| is_checked(f)));
    for c in &others {
        eprintln!("import cycle outside the checked files: {}", show(c));
    }
    assert!(
        checked.is_empty(),
        "import cycles through the checked files ({CHECKED:?}):\n{}",
        checked
            .iter()
            .map(|c| show(c))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn is_checked(file: &str) -> bool {
    CHECKED.iter().any(|p| file.starts_with(p))
}

/// `a.rs -> b.rs -> a.rs`.
fn show(cycle: &[String]) -> String {
    let mut parts = cycle.to_vec();
    parts.push(cycle[0].clone());
    parts.join(" -> ")
}

/// Every `.rs` file under `root/src`, as (path relative to `root`, contents).
fn read_sources(root: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        for entry in fs::read_dir(dir).expect("read src/") {
            let path = entry.expect("read src/").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).expect("under root");
                let rel = rel.to_str().expect("UTF-8 path").replace('\\', "/");
                out.push((rel, fs::read_to_string(&path).expect("read a source file")));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root.join("src"), root, &mut out);
    out.sort();
    out
}

/// The module a file defines: `src/types/value.rs` → `["types", "value"]`,
/// `src/params/mod.rs` → `["params"]`, `src/lib.rs` → `[]`.
fn module_of(file: &str) -> Vec<String> {
    let rel = file.strip_prefix("src/").unwrap_or(file);
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut segs: Vec<String> = rel.split('/').map(str::to_owned).collect();
    if segs.last().is_some_and(|s| s == "mod") {
        segs.pop();
    }
    if segs.len() == 1 && (segs[0] == "lib" || segs[0] == "main") {
        segs.clear();
    }
    segs
}

/// The file → file import graph of `sources` (see the module docs for the rules).
fn graph_of(sources: &[(String, String)]) -> Graph {
    let mut modules: BTreeMap<Vec<String>, Vec<String>> = sources
        .iter()
        .map(|(file, _)| (module_of(file), vec![file.clone()]))
        .collect();
    // `#[path = "x.rs"] mod name;` (one per cfg variant, say) names module `name`
    // after file `x.rs` beside the declaring file: the module is every such file.
    for (file, text) in sources {
        let dir = Path::new(file).parent().unwrap_or(Path::new(""));
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(rest) = line.strip_prefix("#[path = \"") else {
                continue;
            };
            let Some(target) = rest.strip_suffix("\"]") else {
                continue;
            };
            let Some(name) = lines[i + 1..]
                .iter()
                .find(|l| !l.starts_with("#["))
                .and_then(|l| l.trim_start_matches("pub(crate) ").strip_prefix("mod "))
                .and_then(|l| l.strip_suffix(';'))
            else {
                continue;
            };
            let mut module = module_of(file);
            module.push(name.to_owned());
            let path = dir.join(target).to_string_lossy().into_owned();
            let files = modules.entry(module).or_default();
            if !files.contains(&path) {
                files.push(path);
            }
        }
    }
    let mut graph = Graph::new();
    for (file, text) in sources {
        let here = module_of(file);
        let children = child_modules(text);
        let edges = graph.entry(file.clone()).or_default();
        for path in paths_in(text) {
            let Some(abs) = absolute(&here, &path, &children) else {
                continue;
            };
            // The longest prefix that is a module; the crate root is ignored.
            let targets = (1..=abs.len()).rev().find_map(|n| modules.get(&abs[..n]));
            for target in targets.into_iter().flatten() {
                if target != file {
                    edges.insert(target.clone());
                }
            }
        }
    }
    graph
}

/// `path` (as written in the module `here`) from the crate root, or `None` when it
/// does not start inside this crate (`std::…`, another crate's name, a local type).
fn absolute(here: &[String], path: &[String], children: &BTreeSet<String>) -> Option<Vec<String>> {
    let first = path.first()?.as_str();
    let mut base: Vec<String> = match first {
        "crate" => Vec::new(),
        "self" | "super" => here.to_vec(),
        _ if children.contains(first) => here.to_vec(),
        _ => return None,
    };
    let mut rest = path;
    if first == "crate" || first == "self" {
        rest = &path[1..];
    }
    while rest.first().is_some_and(|s| s == "super") {
        base.pop()?;
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The child modules a file declares as files: `mod x;`, `pub(crate) mod x;`.
fn child_modules(text: &str) -> BTreeSet<String> {
    let text = blank(&strip_tests(text));
    let toks = tokens(&text);
    let mut out = BTreeSet::new();
    for (i, t) in toks.iter().enumerate() {
        if t == "mod" && toks.get(i + 2).is_some_and(|t| t == ";") {
            if let Some(name) = toks.get(i + 1).filter(|n| is_ident(n)) {
                out.insert(name.clone());
            }
        }
    }
    out
}

/// The paths a file names outside its unit tests: every `use` tree expanded, and
/// every other path of two or more segments (`crate::raw::RawConn`).
fn paths_in(text: &str) -> Vec<Vec<String>> {
    let text = blank(&strip_tests(text));
    let toks = tokens(&text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i] == "use" {
            let end = toks[i..]
                .iter()
                .position(|t| t == ";")
                .map_or(toks.len(), |p| i + p);
            let mut pos = i + 1;
            expand_use(&toks[..end], &mut pos, Vec::new(), &mut out);
            i = end + 1;
            continue;
        }
        let starts_path = is_ident(&toks[i])
            && toks.get(i + 1).is_some_and(|t| t == "::")
            && (i == 0 || toks[i - 1] != "::");
        if starts_path {
            let mut path = vec![toks[i].clone()];
            let mut j = i + 1;
            while toks.get(j).is_some_and(|t| t == "::")
                && toks.get(j + 1).is_some_and(|t| is_ident(t))
            {
                path.push(toks[j + 1].clone());
                j += 2;
            }
            out.push(path);
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// Expand one use tree starting at `toks[*pos]` under `prefix`: `a::{b, c::d as e,
/// self, *}` gives `a::b`, `a::c::d`, `a` and `a`.
fn expand_use(toks: &[String], pos: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    if toks.get(*pos).is_some_and(|t| t == "::") {
        *pos += 1; // `use ::std::…`
    }
    while let Some(t) = toks.get(*pos) {
        *pos += 1;
        match t.as_str() {
            "{" => loop {
                match toks.get(*pos).map(String::as_str) {
                    None => return,
                    Some("}") => {
                        *pos += 1;
                        return;
                    }
                    Some(",") => *pos += 1,
                    Some(_) => expand_use(toks, pos, path.clone(), out),
                }
            },
            "*" => break,
            _ if is_ident(t) => {
                path.push(t.clone());
                if toks.get(*pos).is_some_and(|t| t == "::") {
                    *pos += 1;
                    continue;
                }
                if toks.get(*pos).is_some_and(|t| t == "as") {
                    *pos += 2;
                }
                if path.last().is_some_and(|s| s == "self") && path.len() > 1 {
                    path.pop();
                }
                break;
            }
            _ => return,
        }
    }
    out.push(path);
}

/// The text before the unit tests: up to a `#[cfg(test)]` line whose next
/// non-blank line starts with `mod tests`.
fn strip_tests(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != "#[cfg(test)]" {
            continue;
        }
        let next = lines[i + 1..]
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty());
        if next.is_some_and(|l| l.starts_with("mod tests")) {
            return lines[..i].join("\n");
        }
    }
    text.to_owned()
}

/// `text` with comments, string literals and char literals replaced by spaces
/// (newlines kept). Lifetimes (`'a`) are left alone.
fn blank(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let skip = |out: &mut String, from: &[char]| {
        for &ch in from {
            out.push(if ch == '\n' { '\n' } else { ' ' });
        }
    };
    while i < c.len() {
        let end = if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            // A line comment: to the end of the line.
            c[i..]
                .iter()
                .position(|&ch| ch == '\n')
                .map_or(c.len(), |p| i + p)
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            // A block comment, nested ones included.
            let (mut depth, mut j) = (0usize, i);
            while j < c.len() {
                if c[j] == '/' && c.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if c[j] == '*' && c.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            j
        } else if let Some((quote, hashes)) = raw_string_at(&c, i) {
            // A raw string: r"…", r#"…"#, br"…".
            let mut j = quote + 1;
            loop {
                if j >= c.len() {
                    break c.len();
                }
                if c[j] == '"'
                    && c[j + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&h| h == '#')
                        .count()
                        == hashes
                {
                    break j + 1 + hashes;
                }
                j += 1;
            }
        } else if c[i] == '"' {
            // A string (b"…" too: the `b` stays, harmlessly).
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            (j + 1).min(c.len())
        } else if c[i] == '\'' && c.get(i + 1) == Some(&'\\') {
            // An escaped char literal: '\n', '\'', '\u{1F600}'.
            let j = i + 3;
            c[j.min(c.len())..]
                .iter()
                .position(|&ch| ch == '\'')
                .map_or(c.len(), |p| j + p + 1)
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            i + 3 // 'x'
        } else {
            out.push(c[i]);
            i += 1;
            continue;
        };
        skip(&mut out, &c[i..end]);
        i = end;
    }
    out
}

/// Where a raw string starting at `i` (`r"`, `r#"`, `br"`, …) has its opening quote,
/// and how many `#` close it.
fn raw_string_at(c: &[char], i: usize) -> Option<(usize, usize)> {
    if i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_') {
        return None; // inside an identifier
    }
    let k = match (c[i], c.get(i + 1)) {
        ('r', _) => i + 1,
        ('b', Some('r')) => i + 2,
        _ => return None,
    };
    let hashes = c[k..].iter().take_while(|&&ch| ch == '#').count();
    (c.get(k + hashes) == Some(&'"')).then_some((k + hashes, hashes))
}

/// Identifiers, `::` and single punctuation characters; white space dropped.
fn tokens(text: &str) -> Vec<String> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if c[i].is_whitespace() {
            i += 1;
        } else if c[i].is_alphanumeric() || c[i] == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(c[start..i].iter().collect());
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            out.push("::".to_owned());
            i += 2;
        } else {
            out.push(c[i].to_string());
            i += 1;
        }
    }
    out
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|ch| ch.is_alphabetic() || ch == '_')
}

/// Every elementary cycle of `graph`, each once: it starts at its smallest file.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    fn walk(graph: &Graph, start: &String, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        let last = path.last().expect("non-empty").clone();
        for next in graph.get(&last).into_iter().flatten() {
            if next == start {
                out.push(path.clone());
            } else if next > start && !path.contains(next) {
                path.push(next.clone());
                walk(graph, start, path, out);
                path.pop();
            }
        }
    }
    let mut out = Vec::new();
    for start in graph.keys() {
        walk(graph, start, &mut vec![start.clone()], &mut out);
    }
    out
}

// ----- the checker's own tests -----

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn expands_use_trees_and_inline_paths() {
    let src = "
        pub(crate) use crate::{error::{Error, Result}, types::value::Value as V};
        use super::lexer::{self, scan};
        use std::fmt; // crate::not::this
        /// [`Row`](crate::row::Row) is no import
        fn f() -> crate::raw::RawConn { let s = \"crate::nor::this\"; super::x::y() }
        fn g<'a>(c: &'a char) -> char { '\\'' }
        #[cfg(test)]
        mod tests {
            use crate::tested::Only;
        }
    ";
    let got: Vec<String> = paths_in(src).iter().map(|p| p.join("::")).collect();
    assert_eq!(
        got,
        strings(&[
            "crate::error::Error",
            "crate::error::Result",
            "crate::types::value::Value",
            "super::lexer",
            "super::lexer::scan",
            "std::fmt",
            "crate::raw::RawConn",
            "super::x::y",
        ])
    );
}

#[test]
fn resolves_paths_to_files() {
    let sources: Vec<(String, String)> = [
        ("src/lib.rs", "mod a; mod types; pub use a::A;"),
        (
            "src/a.rs",
            "use crate::types::value::Value; use crate::types::Value as V2;",
        ),
        (
            "src/types/mod.rs",
            "mod value; mod inner; pub use value::Value;",
        ),
        (
            "src/types/value.rs",
            "use super::inner::X; fn f() { super::super::a::g() }",
        ),
        (
            "src/types/inner.rs",
            "use crate::Thing; use self::Local; use std::fmt;",
        ),
    ]
    .iter()
    .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
    .collect();
    let g = graph_of(&sources);
    let edges = |f: &str| g[f].iter().cloned().collect::<Vec<_>>();
    assert_eq!(edges("src/lib.rs"), strings(&["src/a.rs"]));
    assert_eq!(
        edges("src/a.rs"),
        strings(&["src/types/mod.rs", "src/types/value.rs"])
    );
    assert_eq!(edges("src/types/mod.rs"), strings(&["src/types/value.rs"]));
    assert_eq!(
        edges("src/types/value.rs"),
        strings(&["src/a.rs", "src/types/inner.rs"])
    );
    assert!(edges("src/types/inner.rs").is_empty());
    assert_eq!(
        cycles(&g).iter().map(|c| show(c)).collect::<Vec<_>>(),
        strings(&[
            "src/a.rs -> src/types/mod.rs -> src/types/value.rs -> src/a.rs",
            "src/a.rs -> src/types/value.rs -> src/a.rs",
        ])
    );
}

#[test]
fn finds_every_cycle_once() {
    let mut g = Graph::new();
    for (a, b) in [
        ("a", "b"),
        ("b", "a"),
        ("b", "c"),
        ("c", "a"),
        ("c", "d"),
        ("d", "d"),
    ] {
        g.entry(a.to_owned()).or_default().insert(b.to_owned());
    }
    let found: Vec<String> = cycles(&g).iter().map(|c| show(c)).collect();
    assert_eq!(
        found,
        strings(&["a -> b -> a", "a -> b -> c -> a", "d -> d"])
    );
}
