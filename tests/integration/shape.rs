//! The code's shape (issue 12), checked on every run: no import cycle among src/'s modules. A module
//! is a file (`mod.rs` names its folder); an edge is a `crate::` or `super::` path to another module,
//! comments and `#[cfg(test)]` modules left out. A module's parents and children are one unit with
//! it (a parent declares its children), so those edges do not count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<Module, String>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let mut module = prefix.to_vec();
        if path.is_dir() {
            module.push(name);
            modules(&path, &module, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            if !matches!(name.as_str(), "mod" | "lib" | "main") {
                module.push(name);
            }
            let text = std::fs::read_to_string(&path).expect("read module");
            out.insert(module, text);
        }
    }
}

/// The paths a module's code names: each `crate::a::b` or `super::a` (with `{x, y}` lists, one level).
fn paths(text: &str) -> Vec<(bool, Vec<String>)> {
    let code: String = text
        .split("#[cfg(test)]\nmod tests {")
        .next()
        .unwrap_or_default()
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> Vec<String> {
        s.split("::")
            .map(|p| p.trim())
            .take_while(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
            .map(str::to_string)
            .collect()
    };
    let mut out = Vec::new();
    for (anchor, from_crate) in [("crate::", true), ("super::", false)] {
        for (at, _) in code.match_indices(anchor) {
            let before = code[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest = &code[at + anchor.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let head = ident(&rest[..end]);
            let mut heads = vec![head.clone()];
            if rest[..end].ends_with("::") && rest[end..].starts_with('{') {
                let inner = &rest[end + 1..rest[end..].find('}').map_or(rest.len(), |i| end + i)];
                heads = inner
                    .split(',')
                    .map(|item| [head.clone(), ident(item)].concat())
                    .collect();
            }
            let prefix = if from_crate { "crate" } else { "super" };
            for h in heads {
                let mut path = vec![prefix.to_string()];
                path.extend(h);
                out.push((from_crate, path));
            }
        }
    }
    out
}

#[test]
fn no_import_cycle_among_the_modules_of_src() {
    let mut all = BTreeMap::new();
    modules(&crate::harness::repo().join("src"), &[], &mut all);
    let resolve = |path: &[String]| -> Option<Module> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|m| all.contains_key(m))
    };
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, text) in &all {
        for (from_crate, path) in paths(text) {
            let mut base: Vec<String> = if from_crate {
                Vec::new()
            } else {
                module[..module.len().saturating_sub(1)].to_vec()
            };
            for segment in &path[1..] {
                if segment == "super" {
                    base.pop();
                } else {
                    base.push(segment.clone());
                }
            }
            let Some(target) = resolve(&base) else {
                continue;
            };
            let related = target.starts_with(module) || module.starts_with(&target);
            if !target.is_empty() && !related {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    assert!(
        edges.len() > 50,
        "the modules' imports were read: {}",
        edges.len()
    );
    // A depth-first walk: a module met again while it is on the path closes a cycle.
    fn walk(
        m: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        path: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            return Some(path[at..].to_vec());
        }
        if !done.insert(m.clone()) {
            return None;
        }
        path.push(m.clone());
        for next in edges.get(m).into_iter().flatten() {
            if let Some(cycle) = walk(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in all.keys() {
        if let Some(cycle) = walk(module, &edges, &mut Vec::new(), &mut done) {
            let names: Vec<String> = cycle.iter().map(|m| m.join("/")).collect();
            panic!("import cycle: {}", names.join(" -> "));
        }
    }
}
