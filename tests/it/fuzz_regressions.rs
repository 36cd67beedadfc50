//! The fuzz targets' findings, replayed on stable by plain `cargo test`: every input a target
//! crashed on (`fuzz/regressions/<target>/`) and every seed (`fuzz/seeds/<target>/`) goes through
//! the same entry point as the target (`mesh::fuzzing`) and must come out as a result or an error,
//! never a panic. See `docs/fuzzing.md`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The inputs of one target: its regressions, then its seeds (READMEs are not inputs).
fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for kind in ["regressions", "seeds"] {
        let dir = root.join(kind).join(target);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (every target has one)", dir.display()));
        let mut found: Vec<PathBuf> = entries
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.is_file() && p.extension().is_none_or(|x| x != "md"))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

/// Runs every input of `target` through `run`, then fails naming each input that panicked.
fn replay(target: &str, run: impl Fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "{target} has no seeds");
    let panicked: Vec<String> = files
        .iter()
        .filter(|file| {
            let data = std::fs::read(file).expect("reading a fuzz input");
            catch_unwind(AssertUnwindSafe(|| run(&data))).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        panicked.is_empty(),
        "{target}: these inputs panic again:\n{}",
        panicked.join("\n")
    );
}

fn entry(target: &str) -> mesh::fuzzing::Entry {
    mesh::fuzzing::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, run)| *run)
        .expect("a known target")
}

#[test]
fn every_target_has_a_fuzz_target_and_a_regressions_directory() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (name, _) in mesh::fuzzing::TARGETS {
        let target = root.join(format!("fuzz_targets/{name}.rs"));
        assert!(target.is_file(), "{} is missing", target.display());
        assert!(root.join("regressions").join(name).is_dir(), "{name}");
    }
}

#[test]
fn openapi_fuzz_inputs_read_without_panic() {
    replay("openapi", entry("openapi"));
}

#[test]
fn proto_fuzz_inputs_read_without_panic() {
    // A directory of its own: tests run in parallel, and the target writes its input to a file.
    let dir = tempfile::tempdir().expect("a temporary directory");
    replay("proto", |data| mesh::fuzzing::proto_in(dir.path(), data));
}

#[test]
fn profile_fuzz_inputs_read_without_panic() {
    replay("profile", entry("profile"));
}

#[test]
fn matcher_fuzz_inputs_read_without_panic() {
    replay("matcher", entry("matcher"));
}

#[test]
fn detect_fuzz_inputs_read_without_panic() {
    replay("detect", entry("detect"));
}

#[test]
fn stats_fuzz_inputs_read_without_panic() {
    replay("stats", entry("stats"));
}

#[test]
fn tap_fuzz_inputs_read_without_panic() {
    replay("tap", entry("tap"));
}
