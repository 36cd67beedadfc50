//! A lean serde model of an OpenAPI document: only what routes need is read; everything else
//! (schemas, parameters, bodies, descriptions) is skipped by the parser without being built.
//!
//! One model serves Swagger 2.0 (`basePath`) and OpenAPI 3.x (`servers`, `trace`, `$ref`'d path
//! items); `openapiv3` supplies the typed server objects. Skipping the rest keeps large documents fast
//! (10,000 operations in well under 0.2 s) and accepts documents that are incomplete (no `info`, no
//! `responses`) or use OpenAPI 3.1 schema syntax.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The top level of a Swagger 2.0 or OpenAPI 3.x document.
#[derive(Debug, Deserialize)]
pub(super) struct Document {
    #[serde(default)]
    pub swagger: Option<Value>,
    #[serde(default)]
    pub openapi: Option<Value>,
    /// Swagger 2.0 only: prefixed to every path.
    #[serde(rename = "basePath", default)]
    pub base_path: Option<String>,
    /// OpenAPI 3 only: the path of these URLs is part of every request path.
    #[serde(default, deserialize_with = "null_as_default")]
    pub servers: Vec<openapiv3::Server>,
    #[serde(default)]
    pub paths: Paths,
    #[serde(default)]
    pub components: Option<Components>,
}

/// `paths`: the path items, and the keys skipped because they do not begin with `/`.
#[derive(Debug, Default)]
pub(super) struct Paths {
    /// Path items by their path (every key begins with `/`), sorted byte-wise.
    pub items: BTreeMap<String, PathItem>,
    /// Keys that are neither a path nor an extension (`users`, `""`), in document order: go-openapi
    /// (and so Linkerd's generator) drops them without a word; mesh drops them too and says so.
    pub skipped: Vec<String>,
}

impl<'de> Deserialize<'de> for Paths {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        paths(d)
    }
}

/// OpenAPI 3.1 `components`: only reusable path items are read.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Components {
    #[serde(rename = "pathItems", default)]
    pub path_items: BTreeMap<String, PathItem>,
}

/// The operations of one path.
#[derive(Debug, Default, Deserialize)]
pub(super) struct PathItem {
    #[serde(rename = "$ref", default)]
    pub reference: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub servers: Vec<openapiv3::Server>,
    pub delete: Option<Operation>,
    pub get: Option<Operation>,
    pub head: Option<Operation>,
    pub options: Option<Operation>,
    pub patch: Option<Operation>,
    pub post: Option<Operation>,
    pub put: Option<Operation>,
    pub trace: Option<Operation>,
}

/// One operation: its response keys, servers and Linkerd's vendor extensions.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Operation {
    /// Response keys (`"200"`, `"2XX"`, `"default"`); the response objects are not read.
    #[serde(default)]
    pub responses: Option<BTreeMap<String, IgnoredAny>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub servers: Vec<openapiv3::Server>,
    #[serde(rename = "x-linkerd-retryable", default)]
    pub retryable: Option<Value>,
    #[serde(rename = "x-linkerd-timeout", default)]
    pub timeout: Option<Value>,
}

impl PathItem {
    /// The operation stored under the lower-case method key.
    pub fn operation(&self, key: &str) -> Option<&Operation> {
        match key {
            "delete" => self.delete.as_ref(),
            "get" => self.get.as_ref(),
            "head" => self.head.as_ref(),
            "options" => self.options.as_ref(),
            "patch" => self.patch.as_ref(),
            "post" => self.post.as_ref(),
            "put" => self.put.as_ref(),
            "trace" => self.trace.as_ref(),
            _ => None,
        }
    }
}

/// `paths`: keys starting with `/` are path items; extensions (`x-…`) and anything else are skipped,
/// as go-openapi does, and the keys of the latter are kept for a warning.
fn paths<'de, D: Deserializer<'de>>(d: D) -> Result<Paths, D::Error> {
    struct PathsVisitor;
    impl<'de> Visitor<'de> for PathsVisitor {
        type Value = Paths;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a mapping of paths")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Paths::default())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Paths::default();
            while let Some(key) = map.next_key::<String>()? {
                if key.starts_with('/') {
                    let item: Option<PathItem> = map.next_value()?;
                    out.items.insert(key, item.unwrap_or_default());
                } else {
                    map.next_value::<IgnoredAny>()?;
                    if !key.starts_with("x-") {
                        out.skipped.push(key);
                    }
                }
            }
            Ok(out)
        }
    }
    d.deserialize_any(PathsVisitor)
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
