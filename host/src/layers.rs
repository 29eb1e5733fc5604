//! The layers of `lib.rs`, enforced: a module uses only the modules listed before it in
//! [`ORDER`], so that no module imports one above it and there is no import cycle anywhere in
//! the crate. A folder's files come before the folder's `mod.rs`, which may use them; the files
//! of `inventory/` count as one module, since they share the types its `mod.rs` defines.
//!
//! The test reads the sources: every `crate::…` path and every `super::…` path (resolved from the
//! file it is in) names a module, the longest entry of [`ORDER`] it starts with. A file or a path
//! that names no entry fails the test, so a new module must be given its place here. The guest
//! crate has no layers of its own to keep, but no cycle either: that is checked too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The modules bottom-up, with their layer (see `lib.rs`). Each may use only those before it.
const ORDER: &[(&str, u8)] = &[
    ("text", 1),
    ("secret", 1),
    ("fsutil", 1),
    ("dirscan", 1),
    ("vault", 1),
    ("contract::types", 2),
    ("contract::v0_1", 2),
    ("contract::v0_2", 2),
    ("contract", 2),
    ("sandbox::limits", 3),
    ("sandbox::budget", 3),
    ("sandbox::rules", 3),
    ("sandbox::http_pool", 3),
    ("sandbox::egress", 3),
    ("sandbox::compile_cache", 3),
    ("sandbox::trap", 3),
    ("sandbox::imports", 3),
    ("sandbox::engine", 3),
    ("sandbox", 3),
    ("inventory", 4),
    ("connectors::bundled", 5),
    ("connectors::id", 5),
    ("connectors::manifest", 5),
    ("connectors::registry", 5),
    ("connectors::install", 5),
    ("connectors::stored", 5),
    ("connectors", 5),
    ("source", 6),
    ("run", 7),
    ("conformance", 7),
    ("scheduler::schedule", 8),
    ("scheduler::sources", 8),
    ("scheduler::tick", 8),
    ("scheduler::serve", 8),
    ("scheduler::status", 8),
    ("scheduler", 8),
    ("web::access", 9),
    ("web::sources", 9),
    ("web::service", 9),
    ("web::api", 9),
    ("web::pages", 9),
    ("web", 9),
    ("cli::args", 10),
    ("cli::outcome", 10),
    ("cli::context", 10),
    ("cli::output", 10),
    ("cli::table", 10),
    ("cli::render", 10),
    ("cli::progress", 10),
    ("cli::run", 10),
    ("cli::inventory", 10),
    ("cli::connectors", 10),
    ("cli::serve", 10),
    ("cli::spec", 10),
    ("cli::demo", 10),
    ("cli::docs", 10),
    ("cli", 10),
];

/// Files that only tests compile, above every layer: they may use anything.
const TEST_ONLY: &[&str] = &["fuzz", "layers"];

/// The module path of a source file (`sandbox/engine.rs` → `sandbox::engine`).
fn module_path(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("a file under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_owned());
    }
    parts.join("::")
}

/// The entry of [`ORDER`] that `path` (`sandbox::egress::Origin`) lies in: the longest one it
/// starts with, segment by segment.
fn entry_of(path: &str) -> Option<usize> {
    ORDER
        .iter()
        .enumerate()
        .filter(|(_, (module, _))| {
            path == *module
                || path
                    .strip_prefix(module)
                    .is_some_and(|rest| rest.starts_with("::"))
        })
        .max_by_key(|(_, (module, _))| module.len())
        .map(|(index, _)| index)
}

/// The text of `source` without comments (doc comments included: a link is not a use), as
/// (code, code of the trailing `mod tests`, if any).
fn code_of(source: &str) -> (String, String) {
    let code: String = source
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let tests = [
        "#[cfg(test)]\nmod tests {",
        "#[cfg(test)]\npub(crate) mod tests {",
    ]
    .iter()
    .filter_map(|marker| code.find(marker))
    .min();
    match tests {
        Some(at) => (code[..at].to_owned(), code[at..].to_owned()),
        None => (code, String::new()),
    }
}

/// Every path that follows `prefix` in `code`, braces expanded (`crate::{a::B, c}` gives `a::B`
/// and `c`; `self` in a group is its parent).
fn paths_after(code: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        // `super::` inside `super::super::`, or a longer name ending in `crate`.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let (paths, _) = parse_tree(rest);
        found.extend(paths);
    }
    found
}

/// A use tree at the start of `text`: its paths, and how many bytes it took.
fn parse_tree(text: &str) -> (Vec<String>, usize) {
    let ident_len = |s: &str| {
        s.find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let mut at = 0;
    let mut segments = Vec::new();
    loop {
        let rest = &text[at..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut paths = Vec::new();
            let mut used = 1;
            let mut inner = group;
            loop {
                let trimmed = inner.trim_start();
                used += inner.len() - trimmed.len();
                if let Some(after) = trimmed.strip_prefix('}') {
                    used += 1;
                    let _ = after;
                    break;
                }
                if trimmed.is_empty() {
                    break;
                }
                let (sub, len) = parse_tree(trimmed);
                for path in sub {
                    let mut full = segments.clone();
                    if path != "self" {
                        full.push(path);
                    }
                    paths.push(full.join("::"));
                }
                used += len;
                inner = &trimmed[len..];
                let trimmed = inner.trim_start();
                used += inner.len() - trimmed.len();
                inner = trimmed.strip_prefix(',').unwrap_or(trimmed);
                if inner.len() < trimmed.len() {
                    used += 1;
                }
                if len == 0 && inner.len() == trimmed.len() {
                    // Not a path (a glob `*`, `as` renames): skip a character.
                    let skip = inner.chars().next().map_or(0, char::len_utf8);
                    inner = &inner[skip..];
                    used += skip;
                }
            }
            return (paths, at + used);
        }
        let len = ident_len(rest);
        if len == 0 {
            break;
        }
        segments.push(rest[..len].to_owned());
        at += len;
        match text[at..].strip_prefix("::") {
            Some(_) => at += 2,
            None => break,
        }
    }
    if segments.is_empty() {
        (Vec::new(), at)
    } else {
        (vec![segments.join("::")], at)
    }
}

/// The modules the file of `module` (its path) refers to.
fn references(module: &str, source: &str) -> BTreeSet<String> {
    let (code, tests) = code_of(source);
    // `super` of a file is its folder's module (for a folder's `mod.rs`, whose path is the
    // folder's, the folder's parent): the parent of its path. Inside the file's `mod tests`,
    // `super` is the file itself, and `super::super` that parent.
    let parent = |path: &str| match path.rsplit_once("::") {
        Some((parent, _)) => parent.to_owned(),
        None => String::new(),
    };
    let join = |base: &str, rest: &str| {
        if base.is_empty() {
            rest.to_owned()
        } else {
            format!("{base}::{rest}")
        }
    };
    let mut found = BTreeSet::new();
    for text in [&code, &tests] {
        found.extend(paths_after(text, "crate::"));
    }
    for path in paths_after(&code, "super::") {
        found.insert(join(&parent(module), &path));
    }
    for path in paths_after(&tests, "super::super::") {
        found.insert(join(&parent(module), &path));
    }
    found
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// What is wrong with the file of `module` whose text is `source`: every path it uses that names
/// a module after it, or no module at all. `Err` when the module itself has no place.
fn violations(module: &str, source: &str) -> Result<Vec<String>, String> {
    let me = entry_of(module).ok_or_else(|| format!("{module} is not in the layer table"))?;
    let mut found = Vec::new();
    for path in references(module, source) {
        let target = path.split("::").next().unwrap_or_default();
        if TEST_ONLY.contains(&target) {
            continue;
        }
        match entry_of(&path) {
            Some(used) if used <= me => {}
            Some(used) => found.push(format!(
                "{module} (layer {}) uses {path}, of {} (layer {}), which comes after it",
                ORDER[me].1, ORDER[used].0, ORDER[used].1
            )),
            None => found.push(format!("{module} uses {path}, which is in no layer")),
        }
    }
    Ok(found)
}

#[test]
fn no_module_uses_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in rust_files(&src) {
        let module = module_path(&src, &file);
        if module == "lib" || module == "main" || TEST_ONLY.contains(&module.as_str()) {
            continue;
        }
        let source = std::fs::read_to_string(&file).expect("a readable source file");
        match violations(&module, &source) {
            Ok(found) => problems.extend(found),
            Err(problem) => problems.push(problem),
        }
        checked += 1;
    }
    assert!(checked > 40, "only {checked} files were read");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_use_of_a_higher_or_later_module_is_a_violation() {
    let found = |module: &str, source: &str| violations(module, source).expect("a module");
    assert_eq!(
        found(
            "run",
            "use crate::sandbox::Runtime;\nuse crate::source::SourceFile;"
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        found("sandbox::budget", "use crate::run::RunError;").len(),
        1
    );
    assert_eq!(
        found("sandbox::budget", "use super::engine::Runtime;").len(),
        1
    );
    assert_eq!(
        found("contract::types", "use super::v0_1::Linked;").len(),
        1
    );
    assert_eq!(found("text", "fn f() { crate::nowhere::g() }").len(), 1);
    assert!(violations("newcomer", "").is_err());
}

#[test]
fn the_guest_has_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest/src");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&src) {
        let module = module_path(&src, &file);
        let top = module.split("::").next().unwrap_or_default().to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let source = std::fs::read_to_string(&file).expect("a readable source file");
        let used: Vec<String> = references(&module, &source)
            .into_iter()
            .map(|path| path.split("::").next().unwrap_or_default().to_owned())
            .filter(|used| *used != top && !used.is_empty())
            .collect();
        edges.entry(top).or_default().extend(used);
    }
    assert!(
        edges.len() > 5,
        "only {} guest modules were read",
        edges.len()
    );
    // Depth-first search for a back edge.
    fn visit<'a>(
        node: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<String> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            return Some(format!("{} -> {node}", path[at..].join(" -> ")));
        }
        if done.contains(node) {
            return None;
        }
        path.push(node);
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node);
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        let cycle = visit(node, &edges, &mut Vec::new(), &mut done);
        assert!(cycle.is_none(), "an import cycle in the guest: {cycle:?}");
    }
}

#[test]
fn the_reader_finds_grouped_relative_and_nested_paths() {
    let source = "use crate::{a::B, c::{self, d::E}};\nuse super::f::G; // crate::ignored\n\
                  fn x() { crate::h::i(); }\n#[cfg(test)]\nmod tests {\n    use super::*;\n    \
                  use crate::j::K;\n}\n";
    let found = references("m::n", source);
    let expected: BTreeSet<String> = ["a::B", "c", "c::d::E", "h::i", "m::f::G", "j::K"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(found, expected);
    assert_eq!(
        ORDER[entry_of("sandbox::egress::Origin").unwrap()].0,
        "sandbox::egress"
    );
    assert_eq!(ORDER[entry_of("sandbox::Runtime").unwrap()].0, "sandbox");
    assert_eq!(ORDER[entry_of("inventory::merge").unwrap()].0, "inventory");
    assert_eq!(entry_of("sandboxes"), None);
}
