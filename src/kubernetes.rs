//! Kubernetes: the manifests mesh puts into a cluster.
//!
//! - [`install`]: what a cluster needs once, before any workload is meshed (`mesh install`): the
//!   ServiceProfile CRD, the `mesh` namespace and service account, the read-only ClusterRole that
//!   discovery needs and whom it is bound to, and the Prometheus scrape config for the proxies.
//!   In the cluster path of DESIGN.md every proxy does its own discovery with its pod's service
//!   account (there is no central destination controller), so what `install` grants is what each
//!   meshed pod may read. Its manifests are built as typed values and printed as YAML through
//!   `crate::yaml`; nothing here talks to an API server.
//! - `mesh inject` puts the capture init container and the proxy into the pods of a workload's
//!   manifest, and `mesh uninject` takes exactly that out again (the model is Linkerd's
//!   `pkg/inject` and `charts/partials`).
//!
//! Manifests are edited as YAML trees ([`crate::yaml::Tree`]), never through typed structs: every
//! field inject does not know, in any position, survives inject and uninject, in the order written
//! (comments do not). The flow for one input text is [`rewrite`]: each document (and each item of a
//! `kind: List`) that is a workload is handed to [`inject`] or [`uninject`], everything else is
//! written back unchanged, and a document that cannot be read stops the whole text with a
//! [`ManifestError`] naming the document and the field, before anything is written.
//!
//! - [`workload`]: which kinds have pods, and where their pod template is;
//! - [`annotations`]: the Linkerd (and mesh) annotations honoured, read and checked;
//! - [`version_rules`]: what a Kubernetes version allows that its schema does not say;
//! - [`inject`] (with [`inject::pod_spec`], the containers it adds) and [`uninject`].

pub mod annotations;
pub mod inject;
pub mod install;
mod tree;
pub mod uninject;
pub mod version_rules;
pub mod workload;

use std::fmt;

use crate::yaml::{self, Mapping, Tree};

pub use inject::{InjectOptions, SidecarMode};
pub use version_rules::KubernetesVersion;

/// A document of the input that cannot be read or rewritten: which input, which document (1-based,
/// as `kubectl` counts them), which object when it has a name, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: document {document}{object}: {}{message}", field_prefix(.field))]
pub struct ManifestError {
    /// The file name, or `stdin`.
    pub source_name: String,
    /// 1-based position of the document in the input.
    pub document: usize,
    /// ` (deployment/web)`, or empty when the document has no kind and name to give.
    pub object: String,
    /// The field at fault (`spec.template.spec.containers`, `items[2].kind`), empty for the whole
    /// document.
    pub field: String,
    /// What is wrong, in the user's words.
    pub message: String,
}

fn field_prefix(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!("{field}: ")
    }
}

/// A field of one object that inject or uninject cannot accept, found by the per-object step and
/// placed in its document by [`rewrite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path inside the object (`spec.template.metadata.annotations.linkerd.io/inject`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What happened to one object, for the summary on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The object as `kubectl` names it: `deployment/web`, `service/web-svc`.
    pub object: String,
    /// What was done, or why nothing was (`injected (native sidecar; identity: csi-driver-spiffe)`,
    /// `skipped: …`).
    pub what: String,
    /// Whether the object was changed.
    pub changed: bool,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.object, self.what)
    }
}

/// The rewritten text of one input, and what happened to each object in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The documents, each written back as YAML, separated by `---` lines.
    pub documents: Vec<String>,
    /// One outcome per object (a `List` gives one per item), in input order.
    pub outcomes: Vec<Outcome>,
}

/// An object of the input as the per-object step sees it.
pub struct Object<'a> {
    /// The object's `kind`.
    pub kind: &'a str,
    /// `kind/name` in lower case, as `kubectl` prints it.
    pub display: String,
    /// The whole object.
    pub tree: &'a mut Mapping,
}

/// Rewrites every object of a (multi-document) YAML text with `step`, which returns what it did
/// or the field it could not accept. `source_name` names the input in errors. Objects are the
/// documents, and the items of a `kind: List`. Nothing is returned unless every document was read
/// and rewritten.
///
/// Errors: a document that is not YAML, is not a mapping, has no string `kind`, or that `step`
/// refuses.
pub fn rewrite(
    source_name: &str,
    text: &str,
    mut step: impl FnMut(Object<'_>) -> Result<Outcome, FieldError>,
) -> Result<Rewritten, ManifestError> {
    let mut out = Rewritten {
        documents: Vec::new(),
        outcomes: Vec::new(),
    };
    for (index, tree) in yaml::trees(text).into_iter().enumerate() {
        let error = |object: String, field: String, message: String| ManifestError {
            source_name: source_name.to_string(),
            document: index + 1,
            object,
            field,
            message,
        };
        let mut tree = tree.map_err(|e| {
            let message = match e.location {
                Some((line, column)) => format!("{} (line {line}, column {column})", e.message),
                None => e.message.clone(),
            };
            error(
                String::new(),
                e.path.trim_start_matches('.').to_string(),
                message,
            )
        })?;
        if tree.is_null() {
            // An empty document (a trailing `---`, a file of comments) holds nothing to write.
            continue;
        }
        let Tree::Mapping(doc) = &mut tree else {
            return Err(error(
                String::new(),
                String::new(),
                "not a Kubernetes object: a document is a mapping with apiVersion and kind".into(),
            ));
        };
        let kind = kind_of(doc).map_err(|e| error(String::new(), e.field, e.message))?;
        // `List`, and the typed lists `kubectl get -o yaml` prints (`DeploymentList`).
        let is_list = kind == "List"
            || (kind.ends_with("List") && matches!(doc.get("items"), Some(Tree::Sequence(_))));
        if is_list {
            let Some(Tree::Sequence(items)) = doc.get_mut("items") else {
                return Err(error(
                    " (List)".into(),
                    "items".into(),
                    "a List holds its objects in a list under items".into(),
                ));
            };
            for (i, item) in items.iter_mut().enumerate() {
                let prefix = format!("items[{i}]");
                let Tree::Mapping(item) = item else {
                    return Err(error(
                        String::new(),
                        prefix,
                        "not a Kubernetes object: an item is a mapping with apiVersion and kind"
                            .into(),
                    ));
                };
                let kind = kind_of(item).map_err(|e| {
                    error(String::new(), format!("{prefix}.{}", e.field), e.message)
                })?;
                let display = display_name(&kind, item);
                let object = Object {
                    kind: &kind,
                    display: display.clone(),
                    tree: item,
                };
                let outcome = step(object).map_err(|e| {
                    error(format!(" ({display})"), join(&prefix, &e.field), e.message)
                })?;
                out.outcomes.push(outcome);
            }
        } else {
            let display = display_name(&kind, doc);
            let object = Object {
                kind: &kind,
                display: display.clone(),
                tree: doc,
            };
            let outcome =
                step(object).map_err(|e| error(format!(" ({display})"), e.field, e.message))?;
            out.outcomes.push(outcome);
        }
        let text = yaml::to_string(&tree).map_err(|e| {
            error(
                String::new(),
                String::new(),
                format!("writing it back: {e}"),
            )
        })?;
        out.documents.push(text);
    }
    Ok(out)
}

/// Documents as one multi-document YAML text (`---` between them).
pub fn join_documents<'a>(documents: impl IntoIterator<Item = &'a String>) -> String {
    let mut out = String::new();
    for (i, doc) in documents.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(doc);
    }
    out
}

fn join(prefix: &str, field: &str) -> String {
    if field.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

/// The object's `kind`, which every Kubernetes object has.
fn kind_of(object: &Mapping) -> Result<String, FieldError> {
    match object.get("kind") {
        Some(Tree::String(kind)) if !kind.is_empty() => Ok(kind.clone()),
        Some(_) => Err(FieldError::new(
            "kind",
            "not a kind name (Deployment, Service, …)",
        )),
        None => Err(FieldError::new(
            "kind",
            "missing: not a Kubernetes object (every object has apiVersion and kind)",
        )),
    }
}

/// `deployment/web` (`deployment` alone when the object has no name).
fn display_name(kind: &str, object: &Mapping) -> String {
    let kind = kind.to_ascii_lowercase();
    match tree::get_str(object, &["metadata", "name"]) {
        Some(name) => format!("{kind}/{name}"),
        None => kind,
    }
}
