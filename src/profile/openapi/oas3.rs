//! OpenAPI 3.x through `openapiv3`.
//!
//! The document is first cut down to what routes need (servers, paths, operations, response keys,
//! extensions), with local `$ref` path items followed and missing required-but-irrelevant fields
//! (`info`, `responses`, response `description`) filled in. Schemas are never read, so 3.1 documents
//! whose schemas `openapiv3` (a 3.0 model) would reject still generate.

use std::collections::BTreeMap;

use openapiv3::{OpenAPI, Operation, ReferenceOr, Server, StatusCode};
use serde_json::{json, Map, Value};

use super::{extension, field_error, resolve_path_item, ApiOperation, OpenApiError, METHODS};

pub(super) fn operations(
    doc: Value,
    notices: &mut Vec<String>,
) -> Result<Vec<ApiOperation>, OpenApiError> {
    let skeleton = skeleton(&doc, notices)?;
    let api: OpenAPI = serde_path_to_error::deserialize(&skeleton)
        .map_err(|e| field_error(e.path().to_string(), e.inner()))?;

    let paths: BTreeMap<&String, &ReferenceOr<openapiv3::PathItem>> =
        api.paths.paths.iter().collect();
    let mut out = Vec::new();
    for (rel_path, item) in paths {
        let ReferenceOr::Item(item) = item else {
            continue; // unresolvable references were reported while building the skeleton
        };
        for (key, method) in METHODS {
            let Some(op) = operation(item, key) else {
                continue;
            };
            let at = format!("paths.{rel_path}.{key}");
            let servers = [&op.servers, &item.servers, &api.servers]
                .into_iter()
                .find(|s| !s.is_empty())
                .map(Vec::as_slice)
                .unwrap_or_default();
            let prefix = server_prefix(servers, &at, notices);
            let extensions: Map<String, Value> = op.extensions.clone().into_iter().collect();
            out.push(ApiOperation {
                method,
                path: format!("{prefix}{rel_path}"),
                statuses: statuses(op),
                retryable: extension(&extensions, "x-linkerd-retryable"),
                timeout: extension(&extensions, "x-linkerd-timeout"),
                at,
            });
        }
    }
    Ok(out)
}

fn operation<'a>(item: &'a openapiv3::PathItem, key: &str) -> Option<&'a Operation> {
    match key {
        "delete" => item.delete.as_ref(),
        "get" => item.get.as_ref(),
        "head" => item.head.as_ref(),
        "options" => item.options.as_ref(),
        "patch" => item.patch.as_ref(),
        "post" => item.post.as_ref(),
        "put" => item.put.as_ref(),
        "trace" => item.trace.as_ref(),
        _ => None,
    }
}

/// Exact codes and `NXX` ranges as inclusive status ranges, ascending.
fn statuses(op: &Operation) -> Vec<(u32, u32)> {
    let mut ranges: Vec<(u32, u32)> = op
        .responses
        .responses
        .keys()
        .filter_map(|code| match *code {
            StatusCode::Code(c) if (100..=599).contains(&c) => Some((u32::from(c), u32::from(c))),
            StatusCode::Range(r) if (1..=5).contains(&r) => {
                Some((u32::from(r) * 100, u32::from(r) * 100 + 99))
            }
            _ => None,
        })
        .collect();
    ranges.sort_unstable();
    ranges.dedup();
    ranges
}

/// The path part shared by all `servers`, with variables replaced by their defaults and the trailing
/// `/` trimmed; empty (with a notice) when the servers disagree.
fn server_prefix(servers: &[Server], at: &str, notices: &mut Vec<String>) -> String {
    let mut prefixes: Vec<String> = servers.iter().map(server_path).collect();
    prefixes.dedup();
    match prefixes.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        many => {
            notices.push(format!(
                "{at}: servers have different path prefixes ({}); routes use the paths without a prefix",
                many.join(", ")
            ));
            String::new()
        }
    }
}

fn server_path(server: &Server) -> String {
    let mut url = server.url.clone();
    for (name, var) in server.variables.iter().flatten() {
        url = url.replace(&format!("{{{name}}}"), &var.default);
    }
    let without_scheme = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => url.strip_prefix("//").unwrap_or(&url),
    };
    let path = if url.contains("://") || url.starts_with("//") {
        without_scheme
            .find('/')
            .map_or("", |i| &without_scheme[i..])
    } else {
        url.as_str()
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = path.strip_prefix('.').unwrap_or(path).trim_end_matches('/');
    if path.is_empty() || path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// The parts of the document routes need, shaped so `openapiv3` accepts incomplete documents.
fn skeleton(doc: &Value, notices: &mut Vec<String>) -> Result<Value, OpenApiError> {
    let mut paths = Map::new();
    if let Some(raw_paths) = doc.get("paths").filter(|v| !v.is_null()) {
        let raw_paths = raw_paths
            .as_object()
            .ok_or_else(|| field_error("paths", "expected a mapping of paths"))?;
        for (path, item) in raw_paths.iter().filter(|(k, _)| k.starts_with('/')) {
            let Some(item) = resolve_path_item(doc, path, item, notices) else {
                continue;
            };
            let Some(item) = item.as_object() else {
                return Err(field_error(
                    format!("paths.{path}"),
                    "expected a path item (a mapping)",
                ));
            };
            let mut kept = Map::new();
            if let Some(servers) = item.get("servers") {
                kept.insert("servers".into(), servers.clone());
            }
            for (key, _) in METHODS {
                match item.get(key) {
                    Some(Value::Object(op)) => {
                        kept.insert(key.into(), operation_skeleton(op));
                    }
                    Some(Value::Null) | None => {}
                    Some(other) => {
                        kept.insert(key.into(), other.clone());
                    }
                }
            }
            paths.insert(path.clone(), Value::Object(kept));
        }
    }
    let mut out = json!({
        "openapi": doc["openapi"],
        "info": {"title": "", "version": ""},
        "paths": paths,
    });
    if let Some(servers) = doc.get("servers") {
        out["servers"] = servers.clone();
    }
    Ok(out)
}

fn operation_skeleton(op: &Map<String, Value>) -> Value {
    let mut kept: Map<String, Value> = op
        .iter()
        .filter(|(k, _)| k.starts_with("x-") || *k == "servers")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let responses = match op.get("responses") {
        Some(Value::Object(responses)) => Value::Object(
            responses
                .keys()
                .filter(|k| !k.starts_with("x-"))
                .map(|k| (k.clone(), json!({"description": ""})))
                .collect(),
        ),
        Some(Value::Null) | None => json!({}),
        Some(other) => other.clone(),
    };
    kept.insert("responses".into(), responses);
    Value::Object(kept)
}
