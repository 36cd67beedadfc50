//! The containers and the volume inject adds to a pod, as YAML trees: the `mesh-init` init
//! container (`mesh init`, the capture rules), the `mesh-proxy` container (`mesh proxy --capture`)
//! and the emptyDir iptables locks its lock file in; the proxy's identity volume is
//! [`super::identity`]'s. Shapes follow Linkerd's `charts/partials/templates/_proxy.tpl` and
//! `_proxy-init.tpl`.

use std::time::Duration;

use crate::capture::{PortSet, Subnet};
use crate::yaml::Tree;

use super::super::tree::{map, n, s, strings};
use super::identity::ProxyIdentity;
use super::SidecarMode;

/// The init container's name.
pub const INIT_CONTAINER: &str = "mesh-init";
/// The proxy container's name.
pub const PROXY_CONTAINER: &str = "mesh-proxy";
/// The emptyDir mounted at `/run` in the init container: iptables takes its lock there
/// (`/run/xtables.lock`), which a read-only root filesystem would refuse (Linkerd mounts one too).
pub const XTABLES_VOLUME: &str = "mesh-init-xtables-lock";
/// The proxy's own service account token, for a pod with `automountServiceAccountToken: false`.
pub const API_TOKEN_VOLUME: &str = "mesh-proxy-api-access";
/// Where kube-rs (as every in-cluster client) looks for the token, its CA and the namespace.
const API_TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The proxy's inbound port (`mesh proxy --inbound`, `mesh init --inbound-port`).
pub const INBOUND_PORT: u16 = 4143;
/// The proxy's outbound port.
pub const OUTBOUND_PORT: u16 = 4140;
/// The proxy's admin port: probes, `/metrics`.
pub const ADMIN_PORT: u16 = 4191;
/// The uid the init container runs as with `--init-non-root`: nobody, as Linkerd's.
pub const INIT_NON_ROOT_UID: u32 = 65534;
/// How long the classic layout's postStart `mesh await` waits for the proxy.
pub const AWAIT_TIMEOUT: &str = "2m";

/// Everything the added containers depend on, for one workload.
#[derive(Debug, Clone)]
pub struct Sidecar {
    /// The image of both containers (`mesh`, `nft`, `iptables`).
    pub image: String,
    /// Native sidecar or classic.
    pub mode: SidecarMode,
    /// Classic layout: hold the app back until the proxy is ready (postStart `mesh await`).
    pub await_proxy: bool,
    /// The proxy's `runAsUser`, and `mesh init --proxy-uid`.
    pub proxy_uid: u32,
    /// The proxy's `runAsGroup`, which its identity's files belong to.
    pub proxy_gid: u32,
    /// Where the proxy's mutual TLS identity comes from, if anywhere.
    pub identity: ProxyIdentity,
    /// `mesh-init` as uid 65534 (needs file capabilities on the image's nft/iptables).
    pub init_non_root: bool,
    /// `mesh proxy --shutdown-grace`.
    pub shutdown_grace: Duration,
    /// `mesh init --skip-inbound-ports`.
    pub skip_inbound_ports: PortSet,
    /// `mesh init --skip-outbound-ports`.
    pub skip_outbound_ports: PortSet,
    /// `mesh init --skip-inbound-subnets`.
    pub skip_inbound_subnets: Vec<Subnet>,
    /// `mesh init --skip-outbound-subnets`.
    pub skip_outbound_subnets: Vec<Subnet>,
    /// `None`: the proxy's default opaque ports.
    pub opaque_ports: Option<Vec<u16>>,
    /// The pod-template labels holding the workload's kind and name.
    pub kind_label: &'static str,
    /// See `kind_label`.
    pub name_label: &'static str,
    /// The pod turns the service account token off (`automountServiceAccountToken: false`): the
    /// proxy, which reads the API with it (`--discovery kube`), gets its own ([`api_token_volume`])
    /// and the app still none.
    pub own_api_token: bool,
}

/// The `mesh-init` init container.
pub fn init_container(sidecar: &Sidecar) -> Tree {
    let mut args = vec![
        "init".to_string(),
        format!("--proxy-uid={}", sidecar.proxy_uid),
    ];
    let ports = |set: &PortSet| {
        set.ranges()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let subnets = |list: &[Subnet]| {
        list.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    if !sidecar.skip_inbound_ports.is_empty() {
        args.push(format!(
            "--skip-inbound-ports={}",
            ports(&sidecar.skip_inbound_ports)
        ));
    }
    if !sidecar.skip_outbound_ports.is_empty() {
        args.push(format!(
            "--skip-outbound-ports={}",
            ports(&sidecar.skip_outbound_ports)
        ));
    }
    if !sidecar.skip_inbound_subnets.is_empty() {
        args.push(format!(
            "--skip-inbound-subnets={}",
            subnets(&sidecar.skip_inbound_subnets)
        ));
    }
    if !sidecar.skip_outbound_subnets.is_empty() {
        args.push(format!(
            "--skip-outbound-subnets={}",
            subnets(&sidecar.skip_outbound_subnets)
        ));
    }
    let (uid, non_root) = if sidecar.init_non_root {
        (INIT_NON_ROOT_UID, true)
    } else {
        (0, false)
    };
    map([
        ("name", s(INIT_CONTAINER)),
        ("image", s(&sidecar.image)),
        ("command", strings(["mesh"])),
        ("args", strings(args)),
        (
            "resources",
            map([("requests", map([("cpu", s("10m")), ("memory", s("10Mi"))]))]),
        ),
        (
            "securityContext",
            map([
                ("allowPrivilegeEscalation", Tree::Bool(false)),
                (
                    "capabilities",
                    map([
                        ("add", strings(["NET_ADMIN", "NET_RAW"])),
                        ("drop", strings(["ALL"])),
                    ]),
                ),
                ("readOnlyRootFilesystem", Tree::Bool(true)),
                ("runAsNonRoot", Tree::Bool(non_root)),
                ("runAsUser", n(uid.into())),
                ("seccompProfile", map([("type", s("RuntimeDefault"))])),
            ]),
        ),
        // A failed `mesh init` says why in `kubectl describe pod`.
        ("terminationMessagePolicy", s("FallbackToLogsOnError")),
        (
            "volumeMounts",
            Tree::Sequence(vec![map([
                ("name", s(XTABLES_VOLUME)),
                ("mountPath", s("/run")),
            ])]),
        ),
    ])
}

/// The `mesh-proxy` container, native sidecar (an init container with `restartPolicy: Always`)
/// or classic (the first of `containers`).
pub fn proxy_container(sidecar: &Sidecar) -> Tree {
    let mut args = vec![
        "proxy".to_string(),
        "--capture".to_string(),
        format!("--inbound=[::]:{INBOUND_PORT}"),
        format!("--outbound=[::]:{OUTBOUND_PORT}"),
        format!("--admin=[::]:{ADMIN_PORT}"),
        // Prometheus and the kubelet's probes reach the admin port from outside the pod.
        "--admin-public".to_string(),
        // Endpoints and ServiceProfiles from the Kubernetes API, read with the pod's service
        // account (which `mesh install`'s ClusterRole binds); the local registry is discovery on
        // one machine, and `--discovery kube` neither uses nor joins it.
        "--discovery=kube".to_string(),
        "--profile-source=kube".to_string(),
        format!("--shutdown-grace={}", go_duration(sidecar.shutdown_grace)),
    ];
    if let Some(ports) = &sidecar.opaque_ports {
        let list = if ports.is_empty() {
            "none".to_string()
        } else {
            ports
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        args.push(format!("--opaque-ports={list}"));
    }
    args.extend(sidecar.identity.proxy_args());
    let field_env = |name: &str, path: &str| {
        map([
            ("name", s(name)),
            (
                "valueFrom",
                map([("fieldRef", map([("fieldPath", s(path))]))]),
            ),
        ])
    };
    let env = Tree::Sequence(vec![
        field_env("MESH_NAMESPACE", "metadata.namespace"),
        field_env("MESH_POD", "metadata.name"),
        field_env("MESH_SERVICE_ACCOUNT", "spec.serviceAccountName"),
        field_env("MESH_POD_IPS", "status.podIPs"),
        // The downward API cannot see the pod's owner: inject wrote it as two labels (a label
        // value cannot hold the `/` of `deploy/web`), read back here and joined below.
        field_env(
            "MESH_WORKLOAD_KIND",
            &format!("metadata.labels['{}']", sidecar.kind_label),
        ),
        field_env(
            "MESH_WORKLOAD_NAME",
            &format!("metadata.labels['{}']", sidecar.name_label),
        ),
        map([
            ("name", s("MESH_WORKLOAD")),
            ("value", s("$(MESH_WORKLOAD_KIND)/$(MESH_WORKLOAD_NAME)")),
        ]),
    ]);
    let http_get = |path: &str| {
        map([(
            "httpGet",
            map([("path", s(path)), ("port", n(ADMIN_PORT.into()))]),
        )])
    };
    let with = |probe: Tree, extra: Vec<(&str, Tree)>| {
        let Tree::Mapping(mut m) = probe else {
            return probe;
        };
        for (k, v) in extra {
            m.insert(s(k), v);
        }
        Tree::Mapping(m)
    };
    let mut entries: Vec<(&str, Tree)> = vec![
        ("name", s(PROXY_CONTAINER)),
        ("image", s(&sidecar.image)),
        ("command", strings(["mesh"])),
        ("args", strings(args)),
        ("env", env),
        (
            "ports",
            Tree::Sequence(vec![
                map([
                    ("name", s("mesh-inbound")),
                    ("containerPort", n(INBOUND_PORT.into())),
                ]),
                map([
                    ("name", s("mesh-admin")),
                    ("containerPort", n(ADMIN_PORT.into())),
                ]),
            ]),
        ),
    ];
    let mut mounts = Vec::new();
    if sidecar.own_api_token {
        mounts.push(map([
            ("name", s(API_TOKEN_VOLUME)),
            ("mountPath", s(API_TOKEN_PATH)),
            ("readOnly", Tree::Bool(true)),
        ]));
    }
    mounts.extend(sidecar.identity.volume_mount());
    if !mounts.is_empty() {
        entries.push(("volumeMounts", Tree::Sequence(mounts)));
    }
    if sidecar.mode == SidecarMode::Native {
        entries.push(("restartPolicy", s("Always")));
        // The kubelet starts the next container (the rest of the init containers, then the app)
        // only once this probe passes: the app never runs without a ready proxy.
        entries.push((
            "startupProbe",
            with(
                http_get("/ready"),
                vec![("periodSeconds", n(1)), ("failureThreshold", n(120))],
            ),
        ));
    }
    entries.push((
        "livenessProbe",
        with(http_get("/live"), vec![("initialDelaySeconds", n(10))]),
    ));
    entries.push((
        "readinessProbe",
        with(http_get("/ready"), vec![("initialDelaySeconds", n(2))]),
    ));
    if sidecar.mode == SidecarMode::Classic && sidecar.await_proxy {
        // The kubelet starts containers in order and waits for each one's postStart hook: the
        // app (after this container) starts once the proxy answers /ready.
        entries.push((
            "lifecycle",
            map([(
                "postStart",
                map([(
                    "exec",
                    map([(
                        "command",
                        strings(["mesh", "await", &format!("--timeout={AWAIT_TIMEOUT}")]),
                    )]),
                )]),
            )]),
        ));
    }
    entries.push((
        "resources",
        map([("requests", map([("cpu", s("100m")), ("memory", s("20Mi"))]))]),
    ));
    entries.push((
        "securityContext",
        map([
            ("allowPrivilegeEscalation", Tree::Bool(false)),
            ("capabilities", map([("drop", strings(["ALL"]))])),
            ("readOnlyRootFilesystem", Tree::Bool(true)),
            // Not the image's group (often root's): the one its identity's files belong to.
            ("runAsGroup", n(sidecar.proxy_gid.into())),
            ("runAsNonRoot", Tree::Bool(true)),
            ("runAsUser", n(sidecar.proxy_uid.into())),
            ("seccompProfile", map([("type", s("RuntimeDefault"))])),
        ]),
    ));
    map(entries)
}

/// The projected volume the kubelet would mount for the service account (its token, the
/// cluster's CA from `kube-root-ca.crt`, the namespace), for the proxy alone.
pub fn api_token_volume() -> Tree {
    map([
        ("name", s(API_TOKEN_VOLUME)),
        (
            "projected",
            map([(
                "sources",
                Tree::Sequence(vec![
                    map([(
                        "serviceAccountToken",
                        map([("path", s("token")), ("expirationSeconds", n(3607))]),
                    )]),
                    map([(
                        "configMap",
                        map([
                            ("name", s("kube-root-ca.crt")),
                            (
                                "items",
                                Tree::Sequence(vec![map([
                                    ("key", s("ca.crt")),
                                    ("path", s("ca.crt")),
                                ])]),
                            ),
                        ]),
                    )]),
                    map([(
                        "downwardAPI",
                        map([(
                            "items",
                            Tree::Sequence(vec![map([
                                ("path", s("namespace")),
                                ("fieldRef", map([("fieldPath", s("metadata.namespace"))])),
                            ])]),
                        )]),
                    )]),
                ]),
            )]),
        ),
    ])
}

/// The emptyDir the init container mounts at `/run`.
pub fn xtables_volume() -> Tree {
    map([("name", s(XTABLES_VOLUME)), ("emptyDir", map([]))])
}

/// A duration as `mesh proxy`'s flags read it (`30s`, `1500ms`).
pub fn go_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
