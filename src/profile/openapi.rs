//! `mesh profile --open-api`: one route per operation of a Swagger 2.0 or OpenAPI 3.x document.
//!
//! Output is compatible with Linkerd's generator (route names, escaping, ordering, response classes,
//! `x-linkerd-*` extensions). For OpenAPI 3 it goes further, each step listed in `docs/profiles.md`:
//! the path of `servers[].url` is prefixed, `2XX`-style ranges become status ranges, `trace`
//! operations are included and `$ref`'d path items are followed.
//!
//! Real documents are often incomplete (no `info`, operations without `responses`); only what routes
//! need is read, so such documents are accepted.

mod oas3;
mod swagger2;

use serde_json::Value;

use super::duration::parse_go_duration;
use super::go_regex::path_to_regex;
use super::model::{RequestMatch, ResponseClass, RouteSpec, ServiceProfile};
use super::{Generated, ProfileTarget};
use crate::yaml::DecodeError;

/// Why an OpenAPI document could not become a profile.
#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    /// The text is not valid JSON.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    /// The text is not valid YAML.
    #[error("invalid YAML: {0}")]
    Yaml(DecodeError),
    /// Neither `swagger: "2.0"` nor `openapi: 3.x` at the top level.
    #[error("{0}")]
    NotOpenApi(String),
    /// A field has the wrong shape.
    #[error("{path}: {message}")]
    Field { path: String, message: String },
}

/// HTTP methods in the order Linkerd emits them within one path (`trace` only from OpenAPI 3).
const METHODS: [(&str, &str); 8] = [
    ("delete", "DELETE"),
    ("get", "GET"),
    ("head", "HEAD"),
    ("options", "OPTIONS"),
    ("patch", "PATCH"),
    ("post", "POST"),
    ("put", "PUT"),
    ("trace", "TRACE"),
];

/// One operation as the generator needs it, whichever document version it came from.
struct ApiOperation {
    /// Upper-case HTTP method.
    method: &'static str,
    /// Prefix (`basePath` or server path) plus the templated path.
    path: String,
    /// Status classes as inclusive ranges, ascending; `None` when the operation had no `responses`.
    statuses: Vec<(u32, u32)>,
    /// Where the operation sits in the document, for messages (`paths./a.get`).
    at: String,
    /// Value of `x-linkerd-retryable`, if present.
    retryable: Option<Value>,
    /// Value of `x-linkerd-timeout`, if present.
    timeout: Option<Value>,
}

/// Generates a ServiceProfile from the text of an OpenAPI document (JSON or YAML).
pub fn profile_from_openapi(text: &str, target: &ProfileTarget) -> Result<Generated, OpenApiError> {
    let doc = parse_document(text)?;
    let mut notices = Vec::new();
    let operations = if let Some(version) = doc.get("swagger") {
        match version.as_str() {
            Some("2.0") => swagger2::operations(doc, &mut notices)?,
            _ => {
                return Err(OpenApiError::NotOpenApi(format!(
                    "unsupported Swagger version {version}: mesh reads Swagger 2.0 and OpenAPI 3.x"
                )))
            }
        }
    } else if let Some(version) = doc.get("openapi") {
        match version.as_str() {
            Some(v) if v.starts_with("3.") => oas3::operations(doc, &mut notices)?,
            _ => {
                return Err(OpenApiError::NotOpenApi(format!(
                    "unsupported OpenAPI version {version}: mesh reads Swagger 2.0 and OpenAPI 3.x"
                )))
            }
        }
    } else {
        return Err(OpenApiError::NotOpenApi(
            "not an OpenAPI document: no top-level `swagger: \"2.0\"` or `openapi: 3.x` field"
                .into(),
        ));
    };

    let mut profile =
        ServiceProfile::new(&target.service, &target.namespace, &target.cluster_domain);
    for op in operations {
        profile.spec.routes.push(route_for(op, &mut notices)?);
    }
    Ok(Generated { profile, notices })
}

/// Parses JSON (when the text starts with `{`) or YAML into a generic value.
fn parse_document(text: &str) -> Result<Value, OpenApiError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let doc = if trimmed.starts_with('{') {
        serde_json::from_str(trimmed).map_err(|e| OpenApiError::Json {
            line: e.line(),
            column: e.column(),
            message: json_message(&e),
        })?
    } else {
        crate::yaml::to_json_value(text).map_err(OpenApiError::Yaml)?
    };
    if !doc.is_object() {
        return Err(OpenApiError::NotOpenApi(
            "not an OpenAPI document: the top level is not a mapping".into(),
        ));
    }
    Ok(doc)
}

/// serde_json's message without its trailing " at line L column C".
fn json_message(e: &serde_json::Error) -> String {
    let mut message = e.to_string();
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    message
}

fn route_for(op: ApiOperation, notices: &mut Vec<String>) -> Result<RouteSpec, OpenApiError> {
    let is_retryable = match &op.retryable {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            notices.push(format!(
                "{}.x-linkerd-retryable: expected a boolean, found {other}; ignored",
                op.at
            ));
            false
        }
    };
    let timeout = match &op.timeout {
        None => None,
        Some(Value::String(t)) => {
            parse_go_duration(t).map_err(|e| OpenApiError::Field {
                path: format!("{}.x-linkerd-timeout", op.at),
                message: e.to_string(),
            })?;
            Some(t.clone())
        }
        Some(other) => {
            notices.push(format!(
                "{}.x-linkerd-timeout: expected a string such as \"250ms\", found {other}; ignored",
                op.at
            ));
            None
        }
    };
    Ok(RouteSpec {
        condition: RequestMatch::method_and_path(op.method, path_to_regex(&op.path)),
        is_retryable,
        name: format!("{} {}", op.method, op.path),
        response_classes: op
            .statuses
            .iter()
            .map(|&(min, max)| ResponseClass::status(min, max, min >= 500))
            .collect(),
        timeout,
    })
}

/// Follows a path item's local `$ref` (`#/components/pathItems/X`, `#/paths/~1a`) within `doc`, up to
/// a few hops. Returns `None` (with a notice) for references outside the document or cycles.
fn resolve_path_item<'a>(
    doc: &'a Value,
    path: &str,
    item: &'a Value,
    notices: &mut Vec<String>,
) -> Option<&'a Value> {
    let mut current = item;
    for _ in 0..8 {
        let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
            return Some(current);
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            notices.push(format!(
                "paths.{path}: $ref {reference:?} points outside this document; its operations are skipped"
            ));
            return None;
        };
        match doc.pointer(pointer) {
            Some(target) => current = target,
            None => {
                notices.push(format!(
                    "paths.{path}: $ref {reference:?} does not resolve; its operations are skipped"
                ));
                return None;
            }
        }
    }
    notices.push(format!(
        "paths.{path}: $ref chain too long or circular; skipped"
    ));
    None
}

/// Looks up an extension by name the way go-openapi does (case-insensitively).
fn extension(object: &serde_json::Map<String, Value>, name: &str) -> Option<Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn field_error(path: impl Into<String>, e: impl std::fmt::Display) -> OpenApiError {
    OpenApiError::Field {
        path: path.into(),
        message: e.to_string(),
    }
}
