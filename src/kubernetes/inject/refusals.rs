//! What `mesh inject` refuses to inject, because the pod would silently bypass the mesh or fail
//! to start: an app running as the proxy's uid or declaring a port the proxy listens on, and a
//! container or volume already named as one of inject's own (docs/kubernetes.md, "what inject
//! refuses").

use crate::yaml::{Mapping, Tree};

use super::super::tree;
use super::super::FieldError;
use super::identity::IDENTITY_VOLUME;
use super::pod_spec::{self, API_TOKEN_VOLUME, INIT_CONTAINER, PROXY_CONTAINER, XTABLES_VOLUME};
use super::LINKERD_PROXY;

/// Refuses what would make the mesh silently miss the app's traffic or fail to start: a container
/// running as the proxy's uid (the capture rules exempt it, so its connections would skip the
/// proxy: DESIGN.md's "never a silent bypass"), or one declaring a port the proxy listens on.
pub(super) fn check_app(spec: &Mapping, at: &str, proxy_uid: u32) -> Result<(), FieldError> {
    let uid_of = |m: &Mapping| {
        m.get("securityContext")
            .and_then(|c| c.get("runAsUser"))
            .and_then(Tree::as_u64)
    };
    let exempt = |field: String| {
        FieldError::new(
            field,
            format!(
                "{proxy_uid} is the proxy's uid, whose connections the capture rules exempt: this \
                 traffic would skip the proxy unseen; run the app as another uid, or give the \
                 proxy another one (config.linkerd.io/proxy-uid)"
            ),
        )
    };
    if uid_of(spec) == Some(u64::from(proxy_uid)) {
        return Err(exempt(format!("{at}.securityContext.runAsUser")));
    }
    let own_ports = [
        (pod_spec::INBOUND_PORT, "inbound"),
        (pod_spec::OUTBOUND_PORT, "outbound"),
        (pod_spec::ADMIN_PORT, "admin"),
    ];
    for list in ["initContainers", "containers"] {
        let containers = spec
            .get(list)
            .and_then(Tree::as_sequence)
            .into_iter()
            .flatten();
        for (i, container) in containers.enumerate() {
            let Some(container) = container.as_mapping() else {
                continue;
            };
            if uid_of(container) == Some(u64::from(proxy_uid)) {
                return Err(exempt(format!(
                    "{at}.{list}[{i}].securityContext.runAsUser"
                )));
            }
            let ports = container
                .get("ports")
                .and_then(Tree::as_sequence)
                .into_iter()
                .flatten();
            for (j, port) in ports.enumerate() {
                let number = port.get("containerPort").and_then(Tree::as_u64);
                if let Some((p, which)) = own_ports
                    .iter()
                    .find(|(p, _)| Some(u64::from(*p)) == number)
                {
                    return Err(FieldError::new(
                        format!("{at}.{list}[{i}].ports[{j}].containerPort"),
                        format!(
                            "{p} is the proxy's {which} port, which it listens on in every \
                             meshed pod: the app and the proxy cannot both bind it"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The first container, init container or volume name in `spec` that inject's own (or
/// Linkerd's proxy) takes.
pub(super) fn own_names_in(spec: &Mapping) -> Option<&'static str> {
    let names: Vec<&str> = ["containers", "initContainers", "volumes"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Tree::as_sequence))
        .flatten()
        .filter_map(tree::name_of)
        .collect();
    [
        LINKERD_PROXY,
        PROXY_CONTAINER,
        INIT_CONTAINER,
        XTABLES_VOLUME,
        API_TOKEN_VOLUME,
        IDENTITY_VOLUME,
    ]
    .into_iter()
    .find(|own| names.contains(own))
}
