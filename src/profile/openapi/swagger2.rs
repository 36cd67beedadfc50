//! Swagger 2.0: a small serde model of the parts routes need (`openapiv3` cannot read 2.0).
//!
//! Behaves as Linkerd's generator (go-openapi): `basePath` is prefixed with its trailing `/` trimmed,
//! only numeric response codes become classes, and paths are sorted byte-wise.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{extension, field_error, resolve_path_item, ApiOperation, OpenApiError, METHODS};

#[derive(Deserialize)]
struct Swagger {
    #[serde(rename = "basePath", default)]
    base_path: Option<String>,
    #[serde(default)]
    paths: Option<Map<String, Value>>,
}

/// An operation object; only `responses` and the `x-linkerd-*` extensions are read.
#[derive(Deserialize)]
struct Operation {
    #[serde(default)]
    responses: Option<Map<String, Value>>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

pub(super) fn operations(
    doc: Value,
    notices: &mut Vec<String>,
) -> Result<Vec<ApiOperation>, OpenApiError> {
    let swagger: Swagger = serde_path_to_error::deserialize(&doc)
        .map_err(|e| field_error(e.path().to_string(), e.inner()))?;
    let base = swagger
        .base_path
        .as_deref()
        .unwrap_or("")
        .trim_end_matches('/');
    let paths: BTreeMap<&String, &Value> = swagger
        .paths
        .as_ref()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with('/'))
        .collect();

    let mut out = Vec::new();
    for (rel_path, item) in paths {
        let Some(item) = resolve_path_item(&doc, rel_path, item, notices) else {
            continue;
        };
        let Some(item) = item.as_object() else {
            if !item.is_null() {
                return Err(field_error(
                    format!("paths.{rel_path}"),
                    "expected a path item (a mapping)",
                ));
            }
            continue;
        };
        for (key, method) in METHODS.iter().filter(|(k, _)| *k != "trace") {
            let Some(raw) = item.get(*key).filter(|v| !v.is_null()) else {
                continue;
            };
            let at = format!("paths.{rel_path}.{key}");
            let op: Operation = serde_path_to_error::deserialize(raw)
                .map_err(|e| field_error(format!("{at}.{}", e.path()), e.inner()))?;
            out.push(ApiOperation {
                method,
                path: format!("{base}{rel_path}"),
                statuses: numeric_statuses(op.responses.as_ref()),
                retryable: extension(&op.rest, "x-linkerd-retryable"),
                timeout: extension(&op.rest, "x-linkerd-timeout"),
                at,
            });
        }
    }
    Ok(out)
}

/// Numeric response codes, ascending, each a class of its own; `default` and `x-` keys are skipped.
fn numeric_statuses(responses: Option<&Map<String, Value>>) -> Vec<(u32, u32)> {
    let mut codes: Vec<u32> = responses
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.parse::<u32>().ok())
        .filter(|c| (100..=599).contains(c))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes.into_iter().map(|c| (c, c)).collect()
}
