//! The engine's layering, checked against its source: no engine module imports another in a
//! circle, the shared layer imports no operation, and the root (`engine/mod.rs`) only declares
//! and re-exports the operations.
//!
//! A module is a file or directory right under `src/engine/` (`drill/cleanup.rs` belongs to
//! `drill`). A reference is a path through `super::` (from a file right under `engine/`, or
//! `super::super::` one level deeper) or `crate::engine::`, in a `use` or inline, outside
//! comments and `#[cfg(test)] mod tests`. A name the root re-exports counts as a reference to
//! the module it comes from; any other root item (`Protector`, its `impl` helpers) is the root
//! layer, which everything may use. Method calls through `impl Protector` are not seen.
//!
//! Run it alone with `cargo test -p protector-core --lib engine::layers`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The shared execution machinery and services every operation builds on. They import no
/// module outside this list.
const SHARED: &[&str] = &[
    "access",
    "admitted",
    "boot_order",
    "bulk_wait",
    "clients",
    "copies",
    "estimate",
    "hooks",
    "inventory",
    "limiter",
    "ownership",
    "pods",
    "progress",
    "report",
    "resources",
    "runner",
    "sync",
    "text",
    "validate",
    "wait",
];

/// What the engine's sources say about their modules.
struct Sources {
    /// Engine module → the engine modules it references.
    graph: BTreeMap<String, BTreeSet<String>>,
    /// The modules the root references other than by `mod x;` and `pub use x::...;`.
    root_uses: BTreeSet<String>,
}

fn engine_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without its `#[cfg(test)] mod ...` blocks (which
/// the repository keeps at the end of a file).
fn code(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines[i + 1..]
                .iter()
                .map(|l| l.trim_start())
                .find(|l| !l.is_empty())
                .is_some_and(|l| l.starts_with("mod ") && l.contains('{'))
        {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The first path segment of every path a `{...}` group starting at `text` imports, e.g.
/// `{a::b, c, d::{e, f}}` → `a`, `c`, `d`.
fn group_heads(text: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expecting = true;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' => {
                depth += 1;
                expecting = depth == 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => expecting = true,
            c if is_ident(c) && expecting && depth == 1 => {
                let end = text[i..]
                    .find(|c: char| !is_ident(c))
                    .map_or(text.len(), |n| i + n);
                heads.push(text[i..end].to_string());
                expecting = false;
                while chars.peek().is_some_and(|(j, _)| *j < end) {
                    chars.next();
                }
            }
            _ => {}
        }
    }
    heads
}

/// The names that follow `prefix` in `code` (a single name or every head of a `{...}` group).
fn names_after(code: &str, prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find(prefix) {
        let start = from + at;
        from = start + prefix.len();
        // `super::super::x` is found once, by its longest prefix.
        if start > 0 && code[..start].ends_with("super::") && prefix.starts_with("super::") {
            continue;
        }
        if start > 0 && code[..start].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let rest = &code[from..];
        if rest.starts_with('{') {
            names.extend(group_heads(rest));
        } else {
            let end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
            if end > 0 && !matches!(&rest[..end], "super" | "self" | "crate") {
                names.push(rest[..end].to_string());
            }
        }
    }
    names
}

/// Re-exported name → the module it comes from, from the root's `pub use x::...;` lines.
fn reexports(root: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for statement in root.split(';') {
        let statement = statement.trim();
        let Some(path) = statement.strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, rest)) = path.split_once("::") else {
            continue;
        };
        let names = if rest.trim_start().starts_with('{') {
            group_heads(rest.trim_start())
        } else {
            vec![rest.rsplit("::").next().unwrap_or(rest).trim().to_string()]
        };
        for name in names {
            out.insert(name, module.trim().to_string());
        }
    }
    out
}

fn read_sources() -> Sources {
    let dir = engine_dir();
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let module_of = |path: &Path| -> Option<String> {
        let relative = path.strip_prefix(&dir).expect("under engine/");
        let first = relative.components().next()?.as_os_str().to_str()?;
        let name = first.strip_suffix(".rs").unwrap_or(first);
        // `layers` is this check, test code only.
        (name != "mod" && name != "layers").then(|| name.to_string())
    };
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(f)).collect();
    let root = code(&fs::read_to_string(dir.join("mod.rs")).expect("engine/mod.rs"));
    let reexported = reexports(&root);
    let resolve = |name: &str| -> Option<String> {
        if modules.contains(name) {
            Some(name.to_string())
        } else {
            reexported.get(name).cloned()
        }
    };

    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(module) = module_of(file) else {
            continue;
        };
        let text = code(&fs::read_to_string(file).expect("readable source"));
        let relative = file.strip_prefix(&dir).expect("under engine/");
        // How `super::` reaches `engine` from this file.
        let depth = relative.components().count();
        let is_mod_rs = file.file_name().is_some_and(|n| n == "mod.rs");
        let to_engine = "super::".repeat(if is_mod_rs { depth - 1 } else { depth });
        let mut names = names_after(&text, "crate::engine::");
        names.extend(names_after(&text, &to_engine));
        let edges = graph.entry(module.clone()).or_default();
        for name in names {
            if let Some(target) = resolve(&name).filter(|t| *t != module) {
                edges.insert(target);
            }
        }
    }

    // The root: every path into a module, once its declarations and re-exports are left out.
    let mut rest = root.as_str();
    let mut uses = String::new();
    while let Some(at) = rest.find("pub use ") {
        uses.push_str(&rest[..at]);
        rest = rest[at..].split_once(';').map_or("", |(_, after)| after);
    }
    uses.push_str(rest);
    let root_uses = modules
        .iter()
        .filter(|module| {
            let path = format!("{module}::");
            uses.match_indices(&path).any(|(i, _)| {
                !uses[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| is_ident(c) || c == ':')
            })
        })
        .cloned()
        .collect();
    Sources { graph, root_uses }
}

/// The modules of `graph` that import each other in a circle, one set per circle (strongly
/// connected component), each sorted.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut next: Vec<&String> = graph.get(from).into_iter().flatten().collect();
        while let Some(node) = next.pop() {
            if seen.insert(node.clone()) {
                next.extend(graph.get(node).into_iter().flatten());
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|node| (node, reach(node))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for (node, reaches) in &reachable {
        if !reaches.contains(*node) || out.iter().any(|c| c.contains(node)) {
            continue;
        }
        let circle = reaches
            .iter()
            .filter(|other| reachable.get(other).is_some_and(|r| r.contains(*node)))
            .cloned()
            .collect();
        out.push(circle);
    }
    out
}

fn describe(graph: &BTreeMap<String, BTreeSet<String>>) -> String {
    graph
        .iter()
        .map(|(module, uses)| {
            let uses: Vec<&str> = uses.iter().map(String::as_str).collect();
            format!("  {module} -> {}", uses.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn engine_modules_import_each_other_without_circles() {
    let sources = read_sources();
    let circles = circles(&sources.graph);
    assert!(
        circles.is_empty(),
        "engine modules import each other in a circle: {}\nmodule graph:\n{}",
        circles
            .iter()
            .map(|c| format!("{{{}}}", c.join(", ")))
            .collect::<Vec<_>>()
            .join(", "),
        describe(&sources.graph)
    );
}

#[test]
fn the_shared_layer_imports_no_operation() {
    let sources = read_sources();
    let mut wrong = Vec::new();
    for module in SHARED {
        assert!(
            sources.graph.contains_key(*module),
            "shared module '{module}' is listed but does not exist under src/engine/"
        );
        for target in &sources.graph[*module] {
            if !SHARED.contains(&target.as_str()) {
                wrong.push(format!("{module} -> {target}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the shared layer ({}) must not import operation modules: {}",
        SHARED.join(", "),
        wrong.join("; ")
    );
}

#[test]
fn the_root_only_declares_and_reexports_operations() {
    let sources = read_sources();
    let wrong: Vec<&String> = sources
        .root_uses
        .iter()
        .filter(|m| !SHARED.contains(&m.as_str()))
        .collect();
    assert!(
        wrong.is_empty(),
        "engine/mod.rs may declare and re-export operation modules but not use them: {wrong:?}"
    );
}

#[test]
fn the_check_sees_references() {
    let text = "use super::{a::b, c,\n d::{e, f}};\nuse crate::engine::g::h;\nlet x = super::i::j(1);\n// use super::k;\nsuper::super::l::m();";
    let code = code(text);
    assert_eq!(names_after(&code, "super::"), ["a", "c", "d", "i"]);
    assert_eq!(names_after(&code, "super::super::"), ["l"]);
    assert_eq!(names_after(&code, "crate::engine::"), ["g"]);
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    graph.insert("c".to_string(), BTreeSet::new());
    assert!(circles(&graph).is_empty());
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    graph.insert("d".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(circles(&graph), [["a", "b", "c"]]);
}
