//! `.proto` files that begin with a UTF-8 byte-order mark (Windows editors write one).
//!
//! protoc skips the mark; protobuf-parse 3.7 does not (its lexer stops at `1:1: Incorrect input`),
//! and its full parser reads the input file and its imports from disk itself, with no way to hand
//! it text. So the marked files among the input and its imports are copied without the mark into a
//! private directory that is searched first; the unmarked files are read where they are. The copy
//! is removed when parsing is done.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Most imported files looked at for a mark, so an import cycle or a huge tree stays cheap.
const MAX_IMPORTS: usize = 1000;

/// BOM-free copies of the marked files among a `.proto` file and its imports, removed on drop.
#[derive(Debug)]
pub(super) struct UnmarkedCopy {
    dir: PathBuf,
    /// The copy of the input file, when the input itself was marked.
    file: Option<PathBuf>,
}

impl UnmarkedCopy {
    /// Copies, without the mark, `original` when `marked` and each marked file its imports reach
    /// through `include_dirs` (searched in order, as the parser searches them); `None` when no file
    /// is marked. `content` is the input's text without its mark.
    pub fn write(
        original: &Path,
        content: &str,
        marked: bool,
        include_dirs: &[&Path],
    ) -> std::io::Result<Option<Self>> {
        let imports = marked_imports(content, include_dirs);
        if !marked && imports.is_empty() {
            return Ok(None);
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mesh-proto-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // `create_dir` fails rather than reuse a directory someone else made.
        std::fs::create_dir(&dir)?;
        let mut copy = UnmarkedCopy { dir, file: None };
        for (import, text) in &imports {
            let path = copy.dir.join(import);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, text)?;
        }
        if marked {
            let name = original.file_name().unwrap_or(original.as_os_str());
            let file = copy.dir.join(name);
            std::fs::write(&file, content)?;
            copy.file = Some(file);
        }
        Ok(Some(copy))
    }

    /// The directory to search first.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The copy of the input, to parse instead of the original, when the input was marked.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

impl Drop for UnmarkedCopy {
    fn drop(&mut self) {
        // Best effort: the temp dir is cleaned by the system anyway.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The files `content` imports, directly or not, that begin with a mark: their import path and
/// their text without it. Imports that are not found or do not parse are left to the parser.
fn marked_imports(content: &str, include_dirs: &[&Path]) -> Vec<(String, String)> {
    let mut marked = Vec::new();
    let mut seen = HashSet::new();
    let mut pending = imports_of(content);
    while let Some(import) = pending.pop() {
        if seen.len() >= MAX_IMPORTS || !seen.insert(import.clone()) {
            continue;
        }
        // Import paths are relative; one that climbs out of the include directory is not copied.
        if Path::new(&import).is_absolute() || import.split('/').any(|s| s == "..") {
            continue;
        }
        let Some(text) = include_dirs
            .iter()
            .find_map(|dir| std::fs::read_to_string(dir.join(&import)).ok())
        else {
            continue;
        };
        let unmarked = crate::yaml::strip_bom(&text);
        pending.extend(imports_of(unmarked));
        if unmarked.len() != text.len() {
            marked.push((import, unmarked.to_string()));
        }
    }
    marked
}

fn imports_of(content: &str) -> Vec<String> {
    protobuf_parse::pure::parse_dependencies(content)
        .map(|file| file.dependency)
        .unwrap_or_default()
}
