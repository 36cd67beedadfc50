//! What the tests of files written (`authority`, `issue`) look at: the names in a directory and a
//! file's permission bits.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The names in `dir`, sorted: a temporary file left behind shows here.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `path`'s permission bits (`0o600`).
pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
