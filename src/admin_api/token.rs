//! The admin port's bearer token, as `--admin-token-file` holds it: read by the proxy (which
//! requires it for `/tap` and `/shutdown` on a public admin port) and by `mesh tap` (which sends
//! it), with one rule for both.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest token file read: a token is a line, not a document.
pub const MAX_TOKEN_FILE: u64 = 64 << 10;

/// Why a token file gives no token.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is larger than {MAX_TOKEN_FILE} bytes: not a token file", path.display())]
    TooLarge { path: PathBuf },
    #[error("{} is empty", path.display())]
    Empty { path: PathBuf },
    /// A bearer token travels in a header: visible ASCII only (RFC 6750 section 2.1 allows less).
    #[error("{} holds a character a bearer token cannot carry (only visible ASCII, no spaces)", path.display())]
    NotAToken { path: PathBuf },
}

/// Reads the token in `path`: the file's text without surrounding whitespace (a trailing newline
/// is usual). An empty file is an error (it would disable nothing and protect nothing), as are
/// spaces or control characters inside the token.
pub fn read_token_file(path: &Path) -> Result<Arc<str>, TokenFileError> {
    let err = |make: fn(PathBuf) -> TokenFileError| make(path.to_path_buf());
    let size = std::fs::metadata(path)
        .map_err(|source| TokenFileError::Read {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    if size > MAX_TOKEN_FILE {
        return Err(err(|path| TokenFileError::TooLarge { path }));
    }
    let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_token(&text).ok_or_else(|| match text.trim().is_empty() {
        true => err(|path| TokenFileError::Empty { path }),
        false => err(|path| TokenFileError::NotAToken { path }),
    })
}

/// The token in a token file's `text`, if it holds one.
fn parse_token(text: &str) -> Option<Arc<str>> {
    let token = text.trim();
    let visible = token.bytes().all(|b| b.is_ascii_graphic());
    (!token.is_empty() && visible).then(|| Arc::from(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Arc<str>, TokenFileError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, text).unwrap();
        read_token_file(&path)
    }

    #[test]
    fn a_token_file_is_trimmed_and_must_hold_a_token() {
        assert_eq!(&*read("s3cret-token\n").unwrap(), "s3cret-token");
        assert_eq!(&*read("  s3cret\r\n").unwrap(), "s3cret");
        let empty = read("\n").unwrap_err();
        assert!(matches!(empty, TokenFileError::Empty { .. }), "{empty}");
        assert!(empty.to_string().ends_with("token is empty"), "{empty}");
        let spaced = read("two words\n").unwrap_err();
        assert!(
            matches!(spaced, TokenFileError::NotAToken { .. }),
            "{spaced}"
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = read_token_file(Path::new("/nonexistent/token")).unwrap_err();
        // The file in the text, the OS's reason once, as the cause.
        assert_eq!(err.to_string(), "reading /nonexistent/token");
        assert!(std::error::Error::source(&err).is_some(), "{err:?}");
    }
}
