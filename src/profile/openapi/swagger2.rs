//! Swagger 2.0, read as Linkerd's generator (go-openapi) reads it: `basePath` prefixed with its
//! trailing `/` trimmed, and only numeric response codes become classes. Beyond Linkerd, a
//! `basePath` without its leading `/` (`api/v1`) gets one, with a notice: Swagger requires the slash,
//! and without it every route would be a `pathRegex` no request path can match.

use super::document::{Document, Operation};

/// The prefix of every route path; a notice when `basePath` had to be given its leading `/`.
pub(super) fn prefix(doc: &Document, notices: &mut Vec<String>) -> String {
    let written = doc.base_path.as_deref().unwrap_or("");
    let base = written.trim_end_matches('/');
    if base.is_empty() || base.starts_with('/') {
        return base.to_string();
    }
    let fixed = format!("/{base}");
    notices.push(format!(
        "basePath {written:?} does not begin with \"/\" (Swagger 2.0 requires it, and request paths \
         always do); routes use {fixed:?}"
    ));
    fixed
}

/// Numeric response codes, ascending, each a class of its own; `default` and `x-` keys are skipped.
pub(super) fn statuses(op: &Operation) -> Vec<(u32, u32)> {
    let mut codes: Vec<u32> = op
        .responses
        .iter()
        .flatten()
        .filter_map(|(k, _)| k.parse::<u32>().ok())
        .filter(|c| (100..=599).contains(c))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes.into_iter().map(|c| (c, c)).collect()
}
