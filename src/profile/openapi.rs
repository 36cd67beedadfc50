//! `mesh profile --open-api`: one route per operation of a Swagger 2.0 or OpenAPI 3.x document.
//!
//! Output is compatible with Linkerd's generator (route names, escaping, ordering, response classes,
//! `x-linkerd-*` extensions). For OpenAPI 3 it goes further, each step listed in `docs/profiles.md`:
//! the path of `servers[].url` is prefixed, `2XX`-style ranges become status ranges, `trace`
//! operations are included and `$ref`'d path items are followed. For both versions, path templates
//! other than `{name}` follow their pattern (`path_template`), a Swagger `basePath` missing its
//! leading `/` gets one, and the user is warned about parameters in another framework's syntax and
//! about any route no request path could match (`unmatchable`).
//!
//! Real documents are often incomplete (no `info`, operations without `responses`); only what routes
//! need is read (see `document`), so such documents are accepted.

mod document;
mod oas3;
mod swagger2;

use std::collections::HashSet;

use serde_json::Value;

use self::document::{Document, Operation, PathItem};
use super::duration::parse_go_duration;
use super::model::{RequestMatch, ResponseClass, RouteSpec, ServiceProfile};
use super::path_template::{foreign_parameters, path_to_regex};
use super::unmatchable::unmatchable_notices;
use super::{Generated, ProfileTarget};

/// Why an OpenAPI document could not become a profile.
#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    /// The text is not valid JSON or YAML, or a field has the wrong shape.
    #[error("{0}")]
    Syntax(String),
    /// Neither `swagger: "2.0"` nor `openapi: 3.x` at the top level.
    #[error("{0}")]
    NotOpenApi(String),
    /// A field has a value mesh cannot use.
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

/// Which specification a document follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Swagger2,
    OpenApi3,
}

/// Generates a ServiceProfile from the text of an OpenAPI document (JSON or YAML).
pub fn profile_from_openapi(text: &str, target: &ProfileTarget) -> Result<Generated, OpenApiError> {
    let doc = parse_document(text)?;
    let version = version(&doc)?;
    let mut notices = Vec::new();
    let mut profile =
        ServiceProfile::new(&target.service, &target.namespace, &target.cluster_domain);
    let base_path = match version {
        Version::Swagger2 => swagger2::prefix(&doc, &mut notices),
        Version::OpenApi3 => String::new(),
    };

    for key in &doc.paths.skipped {
        notices.push(skipped_path_notice(key));
    }
    // BTreeMap order: paths sorted byte-wise, as Linkerd sorts them.
    for (rel_path, item) in &doc.paths.items {
        let Some(item) = resolve(&doc, rel_path, item, &mut notices) else {
            continue;
        };
        for foreign in foreign_parameters(rel_path) {
            notices.push(format!(
                "paths.{rel_path}: {:?} looks like a path parameter in {}'s syntax; OpenAPI writes \
                 it {{{}}}, so the route keeps {:?} as literal text",
                foreign.segment, foreign.framework, foreign.name, foreign.segment
            ));
        }
        for (key, method) in METHODS {
            if key == "trace" && version == Version::Swagger2 {
                continue;
            }
            let Some(op) = item.operation(key) else {
                continue;
            };
            let at = format!("paths.{rel_path}.{key}");
            let (prefix, statuses) = match version {
                Version::Swagger2 => (base_path.clone(), swagger2::statuses(op)),
                Version::OpenApi3 => {
                    let servers = [&op.servers, &item.servers, &doc.servers]
                        .into_iter()
                        .find(|s| !s.is_empty())
                        .map_or(&[][..], Vec::as_slice);
                    let prefix = oas3::server_prefix(servers).unwrap_or_else(|paths| {
                        notices.push(format!(
                            "{at}: servers have different path prefixes ({}); routes use the paths without a prefix",
                            paths.join(", ")
                        ));
                        String::new()
                    });
                    (prefix, oas3::statuses(op))
                }
            };
            let path = format!("{prefix}{rel_path}");
            profile
                .spec
                .routes
                .push(route(method, &path, &statuses, op, &at, &mut notices)?);
        }
    }
    notices.extend(unmatchable_notices(&profile));
    let mut seen = HashSet::new();
    notices.retain(|n| seen.insert(n.clone()));
    Ok(Generated { profile, notices })
}

/// The warning for a `paths` key that is not a path. Such a path is dropped rather than given a `/`
/// (as a `basePath` is): go-openapi drops it, so `linkerd profile --open-api` writes the same routes
/// as mesh, and the key may be a stray or a template fragment whose full path only its author knows.
fn skipped_path_notice(key: &str) -> String {
    format!(
        "paths.{key:?} does not begin with \"/\" (OpenAPI and Swagger require it, and Linkerd's \
         generator drops such a path too); its operations get no route: write it \"/{key}\" to get one"
    )
}

/// Reads JSON (when the text starts with `{`) or YAML into the lean document model.
fn parse_document(text: &str) -> Result<Document, OpenApiError> {
    let trimmed = crate::yaml::strip_bom(text).trim_start();
    if trimmed.is_empty() {
        return Err(OpenApiError::NotOpenApi("the document is empty".into()));
    }
    // (field path, message without location, line, column, whether the text itself parsed)
    let failure = if trimmed.starts_with('{') {
        let mut de = serde_json::Deserializer::from_str(trimmed);
        match serde_path_to_error::deserialize(&mut de) {
            Ok(doc) => return Ok(doc),
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let shape = inner.classify() == serde_json::error::Category::Data;
                let message = strip_location(&inner.to_string()).to_string();
                (path, message, inner.line(), inner.column(), shape, "JSON")
            }
        }
    } else {
        match crate::yaml::from_str::<Document>(text) {
            Ok(doc) => return Ok(doc),
            Err(e) => {
                let (line, column) = e.location.unwrap_or((0, 0));
                let shape = [
                    "invalid type",
                    "invalid value",
                    "missing field",
                    "unknown",
                    "invalid length",
                    "duplicate",
                ]
                .iter()
                .any(|p| e.message.starts_with(p));
                (e.path, e.message, line, column, shape, "YAML")
            }
        }
    };
    let (path, message, line, column, shape, language) = failure;
    let top_level = path.is_empty() || path == ".";
    Err(match (shape, top_level) {
        (false, _) => OpenApiError::Syntax(format!(
            "invalid {language} at line {line}, column {column}: {message}"
        )),
        (true, true) => OpenApiError::NotOpenApi(
            "not an OpenAPI document: the top level is not a mapping".into(),
        ),
        (true, false) => {
            OpenApiError::Syntax(format!("{path}: {message} (line {line}, column {column})"))
        }
    })
}

/// The specification version, from `swagger` or `openapi`.
fn version(doc: &Document) -> Result<Version, OpenApiError> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match (&doc.swagger, &doc.openapi) {
        (Some(v), _) if text(v) == "2.0" => Ok(Version::Swagger2),
        (Some(v), _) => Err(OpenApiError::NotOpenApi(format!(
            "unsupported Swagger version {v}: mesh reads Swagger 2.0 and OpenAPI 3.x"
        ))),
        (None, Some(v)) if text(v).starts_with("3.") => Ok(Version::OpenApi3),
        (None, Some(v)) => Err(OpenApiError::NotOpenApi(format!(
            "unsupported OpenAPI version {v}: mesh reads Swagger 2.0 and OpenAPI 3.x"
        ))),
        (None, None) => Err(OpenApiError::NotOpenApi(
            "not an OpenAPI document: no top-level `swagger: \"2.0\"` or `openapi: 3.x` field"
                .into(),
        )),
    }
}

/// Follows a path item's local `$ref` (`#/paths/~1other`, `#/components/pathItems/Name`), a few hops
/// at most. `None`, with a notice, for references mesh cannot follow.
fn resolve<'a>(
    doc: &'a Document,
    path: &str,
    item: &'a PathItem,
    notices: &mut Vec<String>,
) -> Option<&'a PathItem> {
    let mut current = item;
    for _ in 0..8 {
        let Some(reference) = &current.reference else {
            return Some(current);
        };
        let unescape = |s: &str| s.replace("~1", "/").replace("~0", "~");
        let target = if let Some(p) = reference.strip_prefix("#/paths/") {
            doc.paths.items.get(&unescape(p))
        } else if let Some(name) = reference.strip_prefix("#/components/pathItems/") {
            doc.components
                .as_ref()
                .and_then(|c| c.path_items.get(&unescape(name)))
        } else {
            notices.push(format!(
                "paths.{path}: $ref {reference:?} is not a path item in this document \
                 (#/paths/… or #/components/pathItems/…); its operations are skipped"
            ));
            return None;
        };
        match target {
            Some(next) => current = next,
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

fn route(
    method: &str,
    path: &str,
    statuses: &[(u32, u32)],
    op: &Operation,
    at: &str,
    notices: &mut Vec<String>,
) -> Result<RouteSpec, OpenApiError> {
    let is_retryable = match &op.retryable {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            notices.push(format!(
                "{at}.x-linkerd-retryable: expected a boolean, found {other}; ignored"
            ));
            false
        }
    };
    let timeout = match &op.timeout {
        None => None,
        Some(Value::String(t)) => {
            parse_go_duration(t).map_err(|e| OpenApiError::Field {
                path: format!("{at}.x-linkerd-timeout"),
                message: e.to_string(),
            })?;
            Some(t.clone())
        }
        Some(other) => {
            notices.push(format!(
                "{at}.x-linkerd-timeout: expected a string such as \"250ms\", found {other}; ignored"
            ));
            None
        }
    };
    Ok(RouteSpec {
        condition: RequestMatch::method_and_path(method, path_to_regex(path)),
        is_retryable,
        name: format!("{method} {path}"),
        response_classes: statuses
            .iter()
            .map(|&(min, max)| ResponseClass::status(min, max, min >= 500))
            .collect(),
        timeout,
    })
}

/// A serde_json message without its trailing " at line L column C".
fn strip_location(message: &str) -> &str {
    message
        .find(" at line ")
        .map_or(message, |cut| &message[..cut])
}
