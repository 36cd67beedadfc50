//! `mesh inject`: one workload's pod gets the `mesh-init` init container and the `mesh-proxy`
//! sidecar ([`pod_spec`]), the labels the proxy reads its workload from, the Prometheus scrape
//! annotations, a termination grace period the proxy's drain fits in, and the proxy's mutual TLS
//! identity ([`identity`]: csi-driver-spiffe's volume by default). What inject added is
//! marked ([`INJECTED_ANNOTATION`], [`PREVIOUS_ANNOTATION`]) so that input injected before is left
//! unchanged and [`super::uninject`] takes out exactly that.

pub mod identity;
pub mod pod_spec;
mod refusals;

use std::time::Duration;

use crate::capture::config::DEFAULT_PROXY_UID;
use crate::identity::WorkloadKind;
use crate::yaml::{Mapping, Tree};

use super::annotations::{self, PodAnnotations, IDENTITY_MODE};
use super::tree::{self, s};
use super::version_rules::{self, KubernetesVersion, DEFAULT_VERSION, NATIVE_SIDECARS_SINCE};
use super::workload;
use super::{FieldError, Object, Outcome};
use identity::ProxyIdentity;
use pod_spec::{Sidecar, PROXY_CONTAINER};

/// The pod annotation that marks a pod as injected, holding the version of mesh that did it.
pub const INJECTED_ANNOTATION: &str = "mesh.io/injected-version";
/// The pod annotation that records, as JSON, the value each field inject set had before (`null`:
/// absent), so that uninject restores it: the scrape and identity-mode annotations, and the grace
/// period if raised.
pub const PREVIOUS_ANNOTATION: &str = "mesh.io/injected-previous";
/// The pod label holding the workload's kind (`deploy`); the proxy reads it back.
pub const WORKLOAD_KIND_LABEL: &str = "mesh.io/workload-kind";
/// The pod label holding the workload's name (`web`); the proxy reads it back.
pub const WORKLOAD_NAME_LABEL: &str = "mesh.io/workload-name";
/// The Prometheus scrape annotations set on the pod: the scrape config `mesh install` prints keeps
/// pods with `scrape: "true"` and scrapes `port` at `path` (the proxy's admin port).
pub const SCRAPE_ANNOTATIONS: [(&str, &str); 3] = [
    ("prometheus.io/scrape", "true"),
    ("prometheus.io/port", "4191"),
    ("prometheus.io/path", "/metrics"),
];
/// The pod spec field inject raises above the proxy's shutdown grace.
pub const GRACE_FIELD: &str = "terminationGracePeriodSeconds";
/// How much longer than the proxy's shutdown grace the pod's termination grace period is made.
pub const GRACE_MARGIN: Duration = Duration::from_secs(10);
/// A label value holds at most this many characters.
const LABEL_VALUE_MAX: usize = 63;
/// The container Linkerd's injector adds.
const LINKERD_PROXY: &str = "linkerd-proxy";
/// Istio's sidecar container.
const ISTIO_PROXY: &str = "istio-proxy";

/// The image inject writes unless `--image` says otherwise: `mesh:<this version>`, an image built
/// from this repository (the `mesh` binary with `nft` and `iptables`); none is published.
pub const DEFAULT_IMAGE: &str = concat!("mesh:", env!("CARGO_PKG_VERSION"));

/// How the proxy sits in the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SidecarMode {
    /// An init container with `restartPolicy: Always` (Kubernetes ≥ 1.29): started before the
    /// app and its other init containers, stopped after them.
    Native,
    /// The first of `containers`, the app held back by a postStart `mesh await`.
    Classic,
}

/// The choices of `mesh inject` that hold for every workload (annotations may override some).
#[derive(Debug, Clone)]
pub struct InjectOptions {
    /// The image of both added containers.
    pub image: String,
    /// The classic layout unless an annotation asks for native sidecars.
    pub classic: bool,
    /// The cluster's version: native sidecars need 1.29.
    pub kubernetes_version: KubernetesVersion,
    /// The proxy's uid, exempt from capture.
    pub proxy_uid: u32,
    /// The proxy's drain time (`mesh proxy --shutdown-grace`).
    pub shutdown_grace: Duration,
    /// Run `mesh-init` as uid 65534 instead of root.
    pub init_non_root: bool,
}

impl Default for InjectOptions {
    fn default() -> Self {
        InjectOptions {
            image: DEFAULT_IMAGE.to_string(),
            classic: false,
            kubernetes_version: DEFAULT_VERSION,
            proxy_uid: DEFAULT_PROXY_UID,
            shutdown_grace: Duration::from_secs(30),
            init_non_root: false,
        }
    }
}

/// Injects one object: a workload gets the proxy, anything else is left as it is.
///
/// Errors: a workload without a name or a pod template, a pod without containers, a bad
/// annotation, a container or volume named as inject's own that inject did not add, a layout the
/// Kubernetes version refuses.
pub fn inject(object: Object<'_>, options: &InjectOptions) -> Result<Outcome, FieldError> {
    let outcome = |what: String, changed: bool| Outcome {
        object: object.display.clone(),
        what,
        changed,
    };
    let Some(kind) = workload::kind(object.kind) else {
        if let Some(meant) = workload::misspelt(object.kind) {
            return Err(FieldError::new(
                "kind",
                format!(
                    "{:?} is no kind Kubernetes knows: did you mean {meant}? (as written, the API \
                     server refuses it, and its pods would not be meshed)",
                    object.kind
                ),
            ));
        }
        let what = if workload::has_pod_template(object.tree) {
            format!(
                "unchanged: mesh inject does not know the kind {} (its pods are not meshed)",
                object.kind
            )
        } else {
            "unchanged: not a workload".to_string()
        };
        return Ok(outcome(what, false));
    };
    let name = match tree::get(object.tree, &["metadata", "name"]) {
        Some(Tree::String(name)) if !name.is_empty() => name.clone(),
        _ => {
            return Err(FieldError::new(
                "metadata.name",
                "missing: a workload needs a name (the proxy is told it)",
            ))
        }
    };
    if name.len() > LABEL_VALUE_MAX {
        return Err(FieldError::new(
            "metadata.name",
            format!(
                "{} characters: the proxy learns the name from a pod label, which holds at most \
                 {LABEL_VALUE_MAX}",
                name.len()
            ),
        ));
    }
    let workload_annotations = tree::get(object.tree, &["metadata", "annotations"])
        .and_then(Tree::as_mapping)
        .cloned();
    let prefix = workload::pod_path(kind);
    let pod = workload::pod_mut(object.tree, kind)?;
    let at = |key: &str| workload::field(prefix, key);
    let spec_field = at("spec");
    let spec = pod
        .get("spec")
        .and_then(Tree::as_mapping)
        .ok_or_else(|| FieldError::new(&spec_field, "missing: a pod needs a spec"))?;
    let containers_field = format!("{spec_field}.containers");
    match spec.get("containers") {
        Some(Tree::Sequence(list)) if !list.is_empty() => {}
        _ => {
            return Err(FieldError::new(
                containers_field,
                "a pod needs at least one container",
            ))
        }
    }
    if tree::get_str(pod, &["metadata", "annotations", INJECTED_ANNOTATION]).is_some() {
        let names: Vec<&str> = ["initContainers", "containers"]
            .iter()
            .filter_map(|k| spec.get(*k).and_then(Tree::as_sequence))
            .flatten()
            .filter_map(tree::name_of)
            .collect();
        if !names.contains(&PROXY_CONTAINER) {
            return Err(FieldError::new(
                spec_field,
                format!(
                    "marked injected ({INJECTED_ANNOTATION}) but has no {PROXY_CONTAINER} \
                     container: its capture rules would send the pod's traffic to a proxy that is \
                     not there; run `mesh uninject`, then inject again"
                ),
            ));
        }
        return Ok(outcome("already injected, unchanged".into(), false));
    }
    let istio = spec
        .get("containers")
        .and_then(Tree::as_sequence)
        .into_iter()
        .flatten()
        .any(|c| tree::name_of(c) == Some(ISTIO_PROXY))
        || tree::get_str(pod, &["metadata", "annotations", "sidecar.istio.io/status"]).is_some();
    if istio {
        // Two meshes' capture rules in one pod would fight over every connection.
        return Ok(outcome(
            format!("skipped: already injected by Istio (container {ISTIO_PROXY})"),
            false,
        ));
    }
    if let Some(found) = refusals::own_names_in(spec) {
        if found == LINKERD_PROXY {
            return Ok(outcome(
                "skipped: already injected by Linkerd (container linkerd-proxy)".into(),
                false,
            ));
        }
        return Err(FieldError::new(
            spec_field,
            format!(
                "already holds {found:?}, a name inject uses, but is not marked injected \
                 ({INJECTED_ANNOTATION}): rename it, or uninject the original first"
            ),
        ));
    }
    let pod_annotations = pod
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(Tree::as_mapping);
    let asked = annotations::read(&[
        (
            "metadata.annotations".to_string(),
            workload_annotations.as_ref(),
        ),
        (at("metadata.annotations"), pod_annotations),
    ])?;
    if asked.inject == Some(false) {
        return Ok(outcome(
            format!("skipped: {}: disabled", annotations::INJECT),
            false,
        ));
    }
    if spec.get("hostNetwork") == Some(&Tree::Bool(true)) {
        return Ok(outcome(
            "skipped: hostNetwork: true (the capture rules would change the node's network)".into(),
            false,
        ));
    }
    let mode = sidecar_mode(options, &asked).map_err(|message| {
        FieldError::new(
            format!(
                "{}.{}",
                at("metadata.annotations"),
                annotations::NATIVE_SIDECAR
            ),
            message,
        )
    })?;
    let opaque_ports = match &asked.opaque_ports {
        None => None,
        Some(items) => Some(annotations::resolve_opaque_ports(items, spec).map_err(|e| {
            FieldError::new(
                format!(
                    "{}.{}",
                    at("metadata.annotations"),
                    annotations::OPAQUE_PORTS
                ),
                e,
            )
        })?),
    };
    let identity = ProxyIdentity::from_annotations(&asked).map_err(|e| {
        FieldError::new(
            format!("{}.{}", at("metadata.annotations"), e.annotation),
            e.message,
        )
    })?;
    let mut sidecar = sidecar(options, &asked, mode, opaque_ports, identity);
    sidecar.own_api_token = spec.get("automountServiceAccountToken") == Some(&Tree::Bool(false));
    refusals::check_app(spec, &at("spec"), sidecar.proxy_uid)?;
    let user_init: Vec<String> = spec
        .get("initContainers")
        .and_then(Tree::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(tree::name_of)
        .map(str::to_string)
        .collect();
    add(pod, kind, &name, &sidecar, prefix)?;
    let spec = pod
        .get("spec")
        .and_then(Tree::as_mapping)
        .ok_or_else(|| FieldError::new(at("spec"), "not a mapping"))?;
    version_rules::check_pod_spec(spec, &at("spec"), options.kubernetes_version)?;
    let layout = match mode {
        SidecarMode::Native => "native sidecar".to_string(),
        SidecarMode::Classic if !options.kubernetes_version.has_native_sidecars() => format!(
            "classic: Kubernetes {} has no native sidecars",
            options.kubernetes_version
        ),
        SidecarMode::Classic => "classic".to_string(),
    };
    let mut what = format!("injected ({layout}; identity: {})", sidecar.identity.source);
    if mode == SidecarMode::Classic && !user_init.is_empty() {
        // The capture rules are in place before them, the proxy is not: Linkerd's classic
        // layout has the same trap.
        what.push_str(&format!(
            "; warning: its init containers ({}) run before a classic proxy, so their outbound \
             TCP is captured with no proxy to take it: use native sidecars, or skip their ports",
            user_init.join(", ")
        ));
    }
    if mode == SidecarMode::Classic && matches!(kind, WorkloadKind::Job | WorkloadKind::CronJob) {
        what.push_str(
            "; warning: a classic proxy keeps running after the job's app exits, so the job does \
             not complete: use native sidecars (Kubernetes 1.29+)",
        );
    }
    Ok(outcome(what, true))
}

/// Native unless `--classic`; an annotation decides over the flag; below 1.29 classic, or a
/// refusal when an annotation asks for native.
fn sidecar_mode(options: &InjectOptions, asked: &PodAnnotations) -> Result<SidecarMode, String> {
    let version = options.kubernetes_version;
    match asked.native_sidecar {
        Some(true) if !version.has_native_sidecars() => Err(format!(
            "\"true\" asks for a native sidecar, which needs Kubernetes {NATIVE_SIDECARS_SINCE} \
             or later; --kubernetes-version is {version}: remove the annotation for the classic \
             layout, or give the cluster's version if it is newer"
        )),
        Some(true) => Ok(SidecarMode::Native),
        Some(false) => Ok(SidecarMode::Classic),
        None if options.classic || !version.has_native_sidecars() => Ok(SidecarMode::Classic),
        None => Ok(SidecarMode::Native),
    }
}

fn sidecar(
    options: &InjectOptions,
    asked: &PodAnnotations,
    mode: SidecarMode,
    opaque_ports: Option<Vec<u16>>,
    identity: ProxyIdentity,
) -> Sidecar {
    let image = match (&asked.proxy_image, &asked.proxy_version) {
        (None, None) => options.image.clone(),
        // An image that names its own tag or digest is used as it is.
        (Some(image), None) if image.contains('@') || split_image(image).1.is_some() => {
            image.clone()
        }
        (repo, tag) => {
            let (default_repo, default_tag) = split_image(&options.image);
            // With proxy-version too, the version is the tag: the image's own one goes.
            let repo = repo.as_deref().map_or(default_repo, |r| {
                split_image(r.split('@').next().unwrap_or(r)).0
            });
            match tag.as_deref().or(default_tag) {
                Some(tag) => format!("{repo}:{tag}"),
                None => repo.to_string(),
            }
        }
    };
    let proxy_uid = asked.proxy_uid.unwrap_or(options.proxy_uid);
    Sidecar {
        image,
        mode,
        await_proxy: asked.proxy_await.unwrap_or(true),
        proxy_uid,
        // A group of its own, as the uid is the proxy's own.
        proxy_gid: asked.proxy_gid.unwrap_or(proxy_uid),
        identity,
        init_non_root: options.init_non_root,
        shutdown_grace: options.shutdown_grace,
        skip_inbound_ports: asked.skip_inbound_ports.clone().unwrap_or_default(),
        skip_outbound_ports: asked.skip_outbound_ports.clone().unwrap_or_default(),
        skip_inbound_subnets: asked.skip_inbound_subnets.clone().unwrap_or_default(),
        skip_outbound_subnets: asked.skip_outbound_subnets.clone().unwrap_or_default(),
        opaque_ports,
        kind_label: WORKLOAD_KIND_LABEL,
        name_label: WORKLOAD_NAME_LABEL,
        own_api_token: false,
    }
}

/// `repo:tag` into its repository and tag (a `:` in the registry's host:port is not a tag).
/// `repo[:tag]` split; a `:` in the registry's host (`reg:5000/mesh`) is no tag.
fn split_image(image: &str) -> (&str, Option<&str>) {
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
        _ => (image, None),
    }
}

/// Adds the containers, volumes, labels, annotations and grace period to `pod`.
fn add(
    pod: &mut Mapping,
    kind: WorkloadKind,
    name: &str,
    sidecar: &Sidecar,
    prefix: &[&str],
) -> Result<(), FieldError> {
    let at = |key: &str| workload::field(prefix, key);
    let mut previous = serde_json::Map::new();
    {
        let spec = tree::mapping_mut(pod, "spec", &at("spec"))?;
        let init = tree::sequence_mut(spec, "initContainers", &at("spec.initContainers"))?;
        let mut added = vec![pod_spec::init_container(sidecar)];
        if sidecar.mode == SidecarMode::Native {
            added.push(pod_spec::proxy_container(sidecar));
        }
        init.splice(0..0, added);
        if sidecar.mode == SidecarMode::Classic {
            let containers = tree::sequence_mut(spec, "containers", &at("spec.containers"))?;
            containers.insert(0, pod_spec::proxy_container(sidecar));
        }
        let volumes = tree::sequence_mut(spec, "volumes", &at("spec.volumes"))?;
        volumes.push(pod_spec::xtables_volume());
        if sidecar.own_api_token {
            volumes.push(pod_spec::api_token_volume());
        }
        volumes.extend(sidecar.identity.volume(sidecar.proxy_gid));

        let needed = sidecar.shutdown_grace + GRACE_MARGIN;
        let current = spec.get(GRACE_FIELD).cloned();
        let enough = current
            .as_ref()
            .and_then(Tree::as_u64)
            .is_some_and(|secs| Duration::from_secs(secs) > sidecar.shutdown_grace);
        if !enough {
            previous.insert(GRACE_FIELD.to_string(), json(current.as_ref()));
            spec.insert(s(GRACE_FIELD), Tree::Number(needed.as_secs().into()));
        }
    }
    let metadata = tree::mapping_mut(pod, "metadata", &at("metadata"))?;
    let labels = tree::mapping_mut(metadata, "labels", &at("metadata.labels"))?;
    labels.insert(s(WORKLOAD_KIND_LABEL), s(kind.short()));
    labels.insert(s(WORKLOAD_NAME_LABEL), s(name));
    let annotations = tree::mapping_mut(metadata, "annotations", &at("metadata.annotations"))?;
    let identity_mode = (IDENTITY_MODE, sidecar.identity.mode());
    for (key, value) in SCRAPE_ANNOTATIONS.into_iter().chain([identity_mode]) {
        previous.insert(key.to_string(), json(annotations.get(key)));
        annotations.insert(s(key), s(value));
    }
    annotations.insert(s(INJECTED_ANNOTATION), s(env!("CARGO_PKG_VERSION")));
    annotations.insert(
        s(PREVIOUS_ANNOTATION),
        s(serde_json::Value::Object(previous).to_string()),
    );
    Ok(())
}

/// A field's value as JSON for [`PREVIOUS_ANNOTATION`] (`null` when absent).
fn json(value: Option<&Tree>) -> serde_json::Value {
    value
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or(serde_json::Value::Null)
}
