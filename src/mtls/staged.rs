//! Writing a set of files into one directory so that no reader ever sees a partial file, and a
//! failure leaves nothing behind: each file is written in full to a temporary name beside its
//! final one (and synced), and only when every file of the set is staged are they moved into
//! place, in the order they were added. Until then, dropping the set removes the temporary files.
//!
//! A rename within one directory replaces a file atomically (POSIX), so a reader sees the old file
//! or the new one. A *set* cannot be replaced at once this way (Kubernetes' volumes swap a
//! `..data` symlink for that): between two renames a reader may see one new file beside an old one.
//! Staging everything first keeps that window to the few microseconds between renames; readers of
//! mesh's identity files refuse a key that does not match its certificate and read again
//! ([`super::reload`]).
//!
//! Refusing to replace ([`Existing::Refuse`]) links each file into place, which fails if the name
//! is taken (no check-then-write race); a refusal undoes the links made before it.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Who may read a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Everyone (0644): certificates.
    Public,
    /// The owner only (0600): private keys.
    Owner,
}

impl Access {
    fn mode(self) -> u32 {
        match self {
            Access::Public => 0o644,
            Access::Owner => 0o600,
        }
    }
}

/// What to do when a file of the set is there already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace it (a rotation).
    Replace,
    /// Write nothing, and say which file is there (an authority is not replaced by mistake).
    Refuse,
}

/// Why a set of files was not written. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("writing {}: {error}", path.display())]
    Io { path: PathBuf, error: io::Error },
    #[error("{} exists already", path.display())]
    Exists { path: PathBuf },
    #[error("{} is a directory, not a file", path.display())]
    IsDirectory { path: PathBuf },
}

/// Files staged in one directory, not yet in place.
#[derive(Debug)]
pub struct StagedFiles {
    /// (temporary, final) paths, in the order they are moved into place.
    files: Vec<(PathBuf, PathBuf)>,
}

/// Makes temporary names unique within this process (the pid makes them unique across processes).
static NEXT: AtomicU64 = AtomicU64::new(0);

impl StagedFiles {
    /// Nothing staged yet.
    pub fn new() -> StagedFiles {
        StagedFiles { files: Vec::new() }
    }

    /// Writes `contents` in full to a temporary file beside `path`, readable as `access` says,
    /// and syncs it.
    pub fn stage(
        &mut self,
        path: &Path,
        contents: &[u8],
        access: Access,
    ) -> Result<(), WriteError> {
        let io = |error| WriteError::Io {
            path: path.to_owned(),
            error,
        };
        let name = path
            .file_name()
            .ok_or_else(|| io(io::Error::other("no file name")))?;
        let tmp = path.with_file_name(format!(
            ".{}.{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        // The mode is set at creation, so a key is never readable by others, not even briefly.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(access.mode())
            .open(&tmp)
            .map_err(io)?;
        // Pushed before writing, so a failed write is cleaned up too.
        self.files.push((tmp, path.to_owned()));
        file.write_all(contents).map_err(io)?;
        // Durable before it takes the final name: a crash must not leave an empty file there.
        file.sync_all().map_err(io)
    }

    /// Moves every staged file into place, in the order staged.
    pub fn commit(mut self, existing: Existing) -> Result<(), WriteError> {
        // What could fail a rename after the temporary files were written is a directory with
        // the final name: found before anything moves.
        for (_, path) in &self.files {
            if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                return Err(WriteError::IsDirectory { path: path.clone() });
            }
        }
        match existing {
            Existing::Replace => {
                for (tmp, path) in &self.files {
                    fs::rename(tmp, path).map_err(|error| WriteError::Io {
                        path: path.clone(),
                        error,
                    })?;
                }
            }
            Existing::Refuse => self.link_all()?,
        }
        if let Some((_, path)) = self.files.first() {
            sync_dir(path);
        }
        // Renamed away, or linked (then the temporary names are removed by drop).
        if existing == Existing::Replace {
            self.files.clear();
        }
        Ok(())
    }

    /// Links every file into place; on the first name taken, removes the links made and refuses.
    fn link_all(&self) -> Result<(), WriteError> {
        for (i, (tmp, path)) in self.files.iter().enumerate() {
            if let Err(error) = fs::hard_link(tmp, path) {
                for (_, made) in &self.files[..i] {
                    let _ = fs::remove_file(made);
                }
                return Err(if error.kind() == io::ErrorKind::AlreadyExists {
                    WriteError::Exists { path: path.clone() }
                } else {
                    WriteError::Io {
                        path: path.clone(),
                        error,
                    }
                });
            }
        }
        Ok(())
    }
}

impl Default for StagedFiles {
    fn default() -> Self {
        StagedFiles::new()
    }
}

impl Drop for StagedFiles {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Creates `dir` and its parents if missing; a new `dir` gets `mode` (an existing one keeps its).
pub fn create_dir(dir: &Path, mode: u32) -> Result<(), WriteError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(|error| WriteError::Io {
            path: dir.to_owned(),
            error,
        })
}

/// Syncs the directory holding `path`, so the new names survive a crash. Best effort: some
/// filesystems cannot sync a directory, and the files themselves are synced already.
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_committed_set_is_in_place_with_its_modes_and_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = StagedFiles::new();
        set.stage(&dir.path().join("a.crt"), b"cert", Access::Public)
            .unwrap();
        set.stage(&dir.path().join("a.key"), b"key", Access::Owner)
            .unwrap();
        set.commit(Existing::Replace).unwrap();
        assert_eq!(names(dir.path()), ["a.crt", "a.key"]);
        let mode = |n: &str| {
            fs::metadata(dir.path().join(n))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("a.key"), 0o600);
        assert_eq!(mode("a.crt"), 0o644);
        assert_eq!(fs::read(dir.path().join("a.key")).unwrap(), b"key");
    }

    #[test]
    fn a_dropped_set_leaves_nothing_and_replaces_nothing() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.crt"), "old").unwrap();
        let mut set = StagedFiles::new();
        set.stage(&dir.path().join("a.crt"), b"new", Access::Public)
            .unwrap();
        drop(set);
        assert_eq!(names(dir.path()), ["a.crt"]);
        assert_eq!(fs::read_to_string(dir.path().join("a.crt")).unwrap(), "old");
    }

    #[test]
    fn a_directory_in_the_way_fails_the_set_before_any_file_moves() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.crt"), "old").unwrap();
        fs::create_dir(dir.path().join("b.crt")).unwrap();
        let mut set = StagedFiles::new();
        set.stage(&dir.path().join("a.crt"), b"new", Access::Public)
            .unwrap();
        set.stage(&dir.path().join("b.crt"), b"new", Access::Public)
            .unwrap();
        let err = set.commit(Existing::Replace).unwrap_err().to_string();
        assert!(err.ends_with("b.crt is a directory, not a file"), "{err}");
        assert_eq!(names(dir.path()), ["a.crt", "b.crt"]);
        assert_eq!(fs::read_to_string(dir.path().join("a.crt")).unwrap(), "old");
    }

    #[test]
    fn refusing_to_replace_undoes_the_files_linked_before_the_taken_name() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("b.key"), "old").unwrap();
        let mut set = StagedFiles::new();
        set.stage(&dir.path().join("a.crt"), b"new", Access::Public)
            .unwrap();
        set.stage(&dir.path().join("b.key"), b"new", Access::Owner)
            .unwrap();
        let err = set.commit(Existing::Refuse).unwrap_err();
        assert!(matches!(err, WriteError::Exists { .. }), "{err}");
        assert!(err.to_string().ends_with("b.key exists already"), "{err}");
        assert_eq!(names(dir.path()), ["b.key"]);
        assert_eq!(fs::read_to_string(dir.path().join("b.key")).unwrap(), "old");
    }

    #[test]
    fn a_directory_that_cannot_be_written_names_the_file_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // A path below a regular file: no directory can be made or written there, even as root.
        let blocker = dir.path().join("not-a-dir");
        fs::write(&blocker, "").unwrap();
        let mut set = StagedFiles::new();
        let err = set
            .stage(&blocker.join("a.key"), b"key", Access::Owner)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("writing ") && err.contains("not-a-dir/a.key: "),
            "{err}"
        );
        assert_eq!(names(dir.path()), ["not-a-dir"]);
    }
}
