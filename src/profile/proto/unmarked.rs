//! `.proto` files that begin with a UTF-8 byte-order mark (Windows editors write one).
//!
//! protoc skips the mark; protobuf-parse 3.7 does not (its lexer stops at `1:1: Incorrect input`),
//! and its full parser reads the input file from disk itself, with no way to hand it text. So a
//! marked file is parsed from a copy without the mark, in a private directory searched before the
//! file's own, which still resolves its imports. The copy is removed when parsing is done.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A BOM-free copy of one `.proto` file, removed on drop.
#[derive(Debug)]
pub(super) struct UnmarkedCopy {
    dir: PathBuf,
    file: PathBuf,
}

impl UnmarkedCopy {
    /// Writes `content` (already without its mark) under the same file name as `original`, in a
    /// new directory of the temp dir.
    pub fn write(original: &Path, content: &str) -> std::io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = original.file_name().unwrap_or(original.as_os_str());
        let dir = std::env::temp_dir().join(format!(
            "mesh-proto-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // `create_dir` fails rather than reuse a directory someone else made.
        std::fs::create_dir(&dir)?;
        let copy = UnmarkedCopy {
            file: dir.join(name),
            dir,
        };
        std::fs::write(&copy.file, content)?;
        Ok(copy)
    }

    /// The directory to search first.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The copy, to parse instead of the original.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

impl Drop for UnmarkedCopy {
    fn drop(&mut self) {
        // Best effort: the temp dir is cleaned by the system anyway.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
