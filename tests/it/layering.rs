//! The library's layering (src/lib.rs, "Layout"), checked on its source: the top layer (cli, demo,
//! testsvc, fuzzing) is imported by nothing below it; proxy and viz stay apart; the admin API's
//! contracts (`/stats`, `/tap`) and its client sit below both; the words every layer uses
//! (profile, registry, identity, grpc, yaml, capture, kubernetes) import none of the layers above
//! them; the domain modules never see clap (STYLE.md). A violation names the file and line.

use std::path::{Path, PathBuf};

/// Modules the files under a directory must not import, and why.
struct Rule {
    /// Files under `src/<dir>/` and `src/<dir>.rs`.
    dir: &'static str,
    /// Crate-root modules they must not name.
    forbidden: &'static [&'static str],
    why: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        dir: "proxy",
        forbidden: &["testsvc", "demo", "cli", "fuzzing", "viz"],
        why: "the data plane sits below the CLI, the demo, the test services and fuzzing, apart \
              from viz",
    },
    Rule {
        dir: "admin_api",
        forbidden: &["proxy", "viz", "cli", "testsvc", "demo", "fuzzing"],
        why:
            "the admin API's contracts sit below the proxy that serves them and viz that reads them",
    },
    Rule {
        dir: "profile",
        forbidden: BELOW_ALL,
        why: "the ServiceProfile model sits below everything that uses it",
    },
    Rule {
        dir: "registry",
        forbidden: BELOW_ALL,
        why: "the registry is read by the proxy and viz alike",
    },
    Rule {
        dir: "identity",
        forbidden: BELOW_ALL,
        why: "workload identity is a word every layer uses",
    },
    Rule {
        dir: "mtls",
        forbidden: BELOW_ALL,
        why: "TLS identities and their certificates serve the proxy, `mesh identity` and the demo",
    },
    Rule {
        dir: "grpc",
        forbidden: BELOW_ALL,
        why: "gRPC framing serves the proxy and the test services alike",
    },
    Rule {
        dir: "yaml",
        forbidden: BELOW_ALL,
        why: "the seam to the YAML library sits below everything that reads YAML",
    },
    Rule {
        dir: "cidr",
        forbidden: BELOW_ALL,
        why: "an IP network is a word the capture rules and the proxy's policy share",
    },
    Rule {
        dir: "capture",
        forbidden: BELOW_ALL,
        why: "the capture rules and the original-destination lookup sit below the proxy that \
              reads them",
    },
    Rule {
        dir: "kubernetes",
        forbidden: BELOW_ALL,
        why: "manifests (install's ClusterRole and CRD, inject's pod specs) are built from the words \
              below (capture, identity, yaml), never from the proxy or the CLI",
    },
    Rule {
        dir: "viz",
        forbidden: &["proxy", "cli", "testsvc", "demo", "fuzzing"],
        why: "viz reads proxies through the admin API, not the proxy's internals",
    },
];

/// What the bottom layer (lib.rs: profile, registry, identity, grpc, yaml) must not import:
/// every layer above it, the admin API included.
const BELOW_ALL: &[&str] = &[
    "admin_api",
    "proxy",
    "viz",
    "cli",
    "testsvc",
    "demo",
    "fuzzing",
];

/// Directories whose files must not use clap (flags belong to `cli/`).
const NO_CLAP: &[&str] = &[
    "profile",
    "proxy",
    "viz",
    "admin_api",
    "capture",
    "cidr",
    "kubernetes",
    "mtls",
];

/// One import that breaks a rule.
#[derive(Debug, PartialEq)]
struct Violation {
    line: usize,
    module: String,
}

/// The code of a line: without a `//` comment (doc comments included) and string contents are
/// kept, which is good enough for `use` lines and paths.
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(at) => &line[..at],
        None => line,
    }
}

/// The braces of `line`'s code, outside string and char literals, with whether each closes.
fn braces(line: &str) -> Vec<bool> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_string => {
                chars.next();
            }
            '"' => in_string = !in_string,
            // '{' and '}' as char literals.
            '\'' if !in_string => {
                let rest: String = chars.clone().take(2).collect();
                if rest == "{'" || rest == "}'" {
                    chars.next();
                    chars.next();
                }
            }
            '{' if !in_string => out.push(false),
            '}' if !in_string => out.push(true),
            _ => {}
        }
    }
    out
}

/// How many inline `mod NAME {` blocks `line` opens.
fn mod_blocks_opened(line: &str) -> usize {
    line.match_indices("mod ")
        .filter(|(at, _)| starts_word(line, *at))
        .filter(|(at, s)| {
            let rest = line[at + s.len()..].trim_start();
            let name_end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            name_end > 0 && rest[name_end..].trim_start().starts_with('{')
        })
        .count()
}

/// Where `text` (a file under `src/<dir>/`, `depth` directories below `src/`) names one of the
/// crate-root modules in `forbidden`: `crate::m`, `mesh::m`, `super::…::m` reaching the root, or
/// `m` inside a `use crate::{…}` group. Inside an inline `mod t { … }` the root is one `super::`
/// further: depth is the module's, not the file's.
fn imports(text: &str, depth: usize, forbidden: &[&str]) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut group: Option<usize> = None; // brace depth inside `use crate::{` … `}`
                                         // Brace depth of the file, and the depths at which the open inline `mod` blocks started.
    let mut level = 0usize;
    let mut mods: Vec<usize> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = code(raw);
        let opened = mod_blocks_opened(line);
        let root_via_super = "super::".repeat(depth + mods.len() + opened + 1);
        let mut pending = opened;
        for closes in braces(line) {
            if closes {
                level = level.saturating_sub(1);
                if mods.last() == Some(&level) {
                    mods.pop();
                }
            } else {
                if pending > 0 {
                    mods.push(level);
                    pending -= 1;
                }
                level += 1;
            }
        }
        for m in forbidden {
            let prefixes = ["crate::", "mesh::", root_via_super.as_str()];
            let named = prefixes.iter().filter(|p| !p.is_empty()).any(|p| {
                line.match_indices(&format!("{p}{m}"))
                    .any(|(at, s)| ends_word(line, at + s.len()) && starts_word(line, at))
            });
            if named {
                found.push(Violation {
                    line: i + 1,
                    module: m.to_string(),
                });
            }
        }
        // `use crate::{a, b::c, …}`: the names at the group's top level are crate-root modules.
        let mut rest = line;
        if group.is_none() {
            if let Some(at) = ["use crate::{", "use mesh::{"]
                .iter()
                .find_map(|p| line.find(p).map(|a| a + p.len()))
            {
                group = Some(1);
                rest = &line[at..];
            }
        }
        if let Some(depth_now) = group.as_mut() {
            let mut word = String::new();
            let mut at_top = *depth_now == 1;
            let mut after_sep = true;
            for c in rest.chars().chain(std::iter::once(' ')) {
                if c.is_alphanumeric() || c == '_' {
                    word.push(c);
                    continue;
                }
                if !word.is_empty() {
                    if at_top && after_sep && forbidden.contains(&word.as_str()) {
                        found.push(Violation {
                            line: i + 1,
                            module: word.clone(),
                        });
                    }
                    after_sep = false;
                    word.clear();
                }
                match c {
                    '{' => *depth_now += 1,
                    '}' => *depth_now -= 1,
                    ',' => after_sep = true,
                    _ => {}
                }
                at_top = *depth_now == 1;
                if *depth_now == 0 {
                    break;
                }
            }
            if *depth_now == 0 {
                group = None;
            }
        }
    }
    found
}

fn starts_word(line: &str, at: usize) -> bool {
    line[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'))
}

fn ends_word(line: &str, at: usize) -> bool {
    line[at..]
        .chars()
        .next()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
}

/// Lines of `text` that use clap.
fn clap_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = code(l);
            l.match_indices("clap")
                .any(|(at, _)| starts_word(l, at) && ends_word(l, at + 4))
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// `src/<dir>.rs` and every `.rs` file under `src/<dir>/`, with how deep below `src/` each is.
fn files(src: &Path, dir: &str) -> Vec<(PathBuf, usize)> {
    let mut out = Vec::new();
    let top = src.join(format!("{dir}.rs"));
    if top.exists() {
        out.push((top, 0));
    }
    let mut stack = vec![(src.join(dir), 1)];
    while let Some((d, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push((path, depth + 1));
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((path, depth));
            }
        }
    }
    out.sort();
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn modules_import_only_what_sits_below_them() {
    let src = src();
    let mut broken = Vec::new();
    for rule in RULES {
        let found = files(&src, rule.dir);
        assert!(!found.is_empty(), "no files for src/{}", rule.dir);
        for (path, depth) in found {
            let text = std::fs::read_to_string(&path).unwrap();
            for v in imports(&text, depth, rule.forbidden) {
                broken.push(format!(
                    "{}:{}: imports `{}` ({})",
                    path.strip_prefix(src.parent().unwrap()).unwrap().display(),
                    v.line,
                    v.module,
                    rule.why
                ));
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn only_the_cli_uses_clap() {
    let src = src();
    let mut broken = Vec::new();
    for dir in NO_CLAP {
        for (path, _) in files(&src, dir) {
            let text = std::fs::read_to_string(&path).unwrap();
            for line in clap_lines(&text) {
                broken.push(format!(
                    "{}:{line}: uses clap (flags belong to src/cli/)",
                    path.display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_scan_sees_every_form_of_import() {
    let forbidden = &["testsvc", "cli"];
    let lines = |text: &str, depth| -> Vec<usize> {
        imports(text, depth, forbidden)
            .into_iter()
            .map(|v| v.line)
            .collect()
    };
    assert_eq!(lines("use crate::testsvc::http1_request;", 1), [1]);
    assert_eq!(lines("let r = mesh::cli::run(x);", 1), [1]);
    assert_eq!(lines("use super::super::testsvc::X;", 1), [1]);
    assert_eq!(
        lines("use super::testsvc;", 1),
        Vec::<usize>::new(),
        "a sibling, not the root's"
    );
    assert_eq!(
        lines(
            "use crate::{\n    proxy::body,\n    testsvc::{a, b},\n};",
            1
        ),
        [3]
    );
    assert_eq!(
        lines("use crate::{proxy::cli, identity};", 1),
        Vec::<usize>::new(),
        "a nested name"
    );
    assert_eq!(
        lines("use crate::testsvc_like::X; // crate::cli", 1),
        Vec::<usize>::new()
    );
    assert_eq!(
        clap_lines("use clap::Args;\n// clap\nlet clapper = 1;"),
        [1]
    );
}

#[test]
fn super_in_an_inline_module_counts_from_the_modules_depth() {
    let lines = |text: &str, depth| -> Vec<usize> {
        imports(text, depth, &["demo"])
            .into_iter()
            .map(|v| v.line)
            .collect()
    };
    // In src/proxy/inbound.rs (depth 1): `mod t` is proxy::inbound::t, three supers from the root.
    assert_eq!(lines("mod t { use super::super::super::demo::X; }", 1), [1]);
    assert_eq!(
        lines("mod t {\n    use super::super::super::demo::X;\n}", 1),
        [2]
    );
    assert_eq!(
        lines("mod t {\n    use super::super::demo::X;\n}", 1),
        Vec::<usize>::new(),
        "proxy::demo, a sibling module of inbound"
    );
    assert_eq!(
        lines(
            "mod t {\n    fn f() { let s = \"{\"; }\n}\nuse super::super::demo::X;",
            1
        ),
        [4],
        "the block closed, back at the file's depth"
    );
    assert_eq!(
        lines(
            "mod a {\n    mod b {\n        use super::super::super::super::demo::X;\n    }\n}",
            1
        ),
        [3]
    );
}
