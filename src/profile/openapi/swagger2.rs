//! Swagger 2.0, read as Linkerd's generator (go-openapi) reads it: `basePath` prefixed with its
//! trailing `/` trimmed, and only numeric response codes become classes.

use super::document::{Document, Operation};

/// The prefix of every route path.
pub(super) fn prefix(doc: &Document) -> String {
    doc.base_path
        .as_deref()
        .unwrap_or("")
        .trim_end_matches('/')
        .to_string()
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
