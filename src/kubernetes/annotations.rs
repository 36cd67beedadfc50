//! The annotations `mesh inject` honours, on the workload or on its pod template (the template's
//! win, as in Linkerd): Linkerd's names, so manifests annotated for Linkerd carry over, and mesh's
//! own `mesh.io/skip-outbound-subnets` (the outbound skip by subnet linkerd2#10726 asks for) and
//! `mesh.io/identity*` (where the proxy's mutual TLS identity comes from: Linkerd has its own
//! identity controller, mesh mounts what cert-manager or SPIRE write).
//! A bad value is an error naming the annotation and the field it sits in.

use crate::capture::{PortRange, PortSet, Subnet};
use crate::yaml::{Mapping, Tree};

use super::FieldError;

/// `enabled` or `disabled`: whether to inject this workload.
pub const INJECT: &str = "linkerd.io/inject";
/// Inbound ports and ranges that reach the app directly (`mesh init --skip-inbound-ports`).
pub const SKIP_INBOUND_PORTS: &str = "config.linkerd.io/skip-inbound-ports";
/// Outbound ports and ranges that leave the pod directly (`mesh init --skip-outbound-ports`).
pub const SKIP_OUTBOUND_PORTS: &str = "config.linkerd.io/skip-outbound-ports";
/// Linkerd's skip-subnets, which is inbound only (`mesh init --skip-inbound-subnets`).
pub const SKIP_SUBNETS: &str = "config.linkerd.io/skip-subnets";
/// Outbound CIDRs that leave the pod directly (`mesh init --skip-outbound-subnets`).
pub const SKIP_OUTBOUND_SUBNETS: &str = "mesh.io/skip-outbound-subnets";
/// Ports the proxy relays as TCP without detecting HTTP (`mesh proxy --opaque-ports`); replaces
/// the proxy's default list, as Linkerd's annotation replaces the cluster's.
pub const OPAQUE_PORTS: &str = "config.linkerd.io/opaque-ports";
/// `enabled` or `disabled`: in the classic layout, whether the app waits for the proxy (a
/// postStart `mesh await` on the proxy container).
pub const PROXY_AWAIT: &str = "config.linkerd.io/proxy-await";
/// `true` or `false`: the proxy as a native sidecar, or the classic layout.
pub const NATIVE_SIDECAR: &str = "config.linkerd.io/proxy-enable-native-sidecar";
/// The proxy's uid (and so `mesh init --proxy-uid`).
pub const PROXY_UID: &str = "config.linkerd.io/proxy-uid";
/// The image of the proxy and the init container, without its tag.
pub const PROXY_IMAGE: &str = "config.linkerd.io/proxy-image";
/// The tag of that image.
pub const PROXY_VERSION: &str = "config.linkerd.io/proxy-version";
/// The proxy's group (`runAsGroup`), which may read its identity's key (never 0).
pub const PROXY_GID: &str = "config.linkerd.io/proxy-gid";
/// `enabled` (the default) or `disabled`: whether the proxy gets a mutual TLS identity; disabled,
/// it speaks plaintext.
pub const IDENTITY: &str = "mesh.io/identity";
/// The name of a Kubernetes TLS secret in the workload's namespace (`tls.crt`, `tls.key`,
/// `ca.crt`, as a cert-manager Certificate writes it) mounted as the proxy's identity instead of
/// csi-driver-spiffe's volume.
pub const IDENTITY_SECRET: &str = "mesh.io/identity-secret";
/// The trust domain of the proxy's identity (`mesh proxy --trust-domain`), when not
/// `cluster.local`: the one the certificates' issuer (csi-driver-spiffe's `--trust-domain`) uses.
pub const TRUST_DOMAIN: &str = "mesh.io/trust-domain";

/// On the injected pod template: whether its proxy has a mutual TLS identity (`default`) or not
/// (`disabled`), as Linkerd's `linkerd.io/identity-mode`. Discovery reads it to know whether to
/// expect mTLS from a pod's proxy: its service account's identity when `default`.
pub const IDENTITY_MODE: &str = "mesh.io/identity-mode";
/// [`IDENTITY_MODE`]: the proxy proves its service account's identity.
pub const IDENTITY_MODE_DEFAULT: &str = "default";
/// [`IDENTITY_MODE`]: the proxy has no identity and speaks plaintext.
pub const IDENTITY_MODE_DISABLED: &str = "disabled";

/// Opaque ports at most, once ranges are counted out: the proxy takes a list of single ports.
pub const MAX_OPAQUE_PORTS: usize = 1024;

/// An item of `config.linkerd.io/opaque-ports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpaquePort {
    /// A port or a range.
    Range(PortRange),
    /// The name of a container port (`postgres`).
    Name(String),
}

/// What the annotations of one workload ask for; `None` where nothing was said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodAnnotations {
    /// `linkerd.io/inject`: `Some(false)` for `disabled`.
    pub inject: Option<bool>,
    /// [`SKIP_INBOUND_PORTS`].
    pub skip_inbound_ports: Option<PortSet>,
    /// [`SKIP_OUTBOUND_PORTS`].
    pub skip_outbound_ports: Option<PortSet>,
    /// [`SKIP_SUBNETS`] (inbound, as in Linkerd).
    pub skip_inbound_subnets: Option<Vec<Subnet>>,
    /// [`SKIP_OUTBOUND_SUBNETS`].
    pub skip_outbound_subnets: Option<Vec<Subnet>>,
    /// Ports, ranges and container port names, as written (see [`resolve_opaque_ports`]).
    pub opaque_ports: Option<Vec<OpaquePort>>,
    /// [`PROXY_AWAIT`]: `Some(false)` for `disabled`.
    pub proxy_await: Option<bool>,
    /// [`NATIVE_SIDECAR`].
    pub native_sidecar: Option<bool>,
    /// [`PROXY_UID`] (never 0).
    pub proxy_uid: Option<u32>,
    /// [`PROXY_IMAGE`]: the image without its tag.
    pub proxy_image: Option<String>,
    /// [`PROXY_VERSION`]: the image's tag.
    pub proxy_version: Option<String>,
    /// [`PROXY_GID`] (never 0).
    pub proxy_gid: Option<u32>,
    /// [`IDENTITY`]: `Some(false)` for `disabled`.
    pub identity: Option<bool>,
    /// [`IDENTITY_SECRET`]: a secret's name (a DNS subdomain).
    pub identity_secret: Option<String>,
    /// [`TRUST_DOMAIN`]: a DNS name, as the proxy takes it.
    pub trust_domain: Option<String>,
}

/// Reads the annotations of a workload: `sources` are (field path of an `annotations` mapping,
/// that mapping), the workload's first and its pod template's last, so the template's win.
///
/// Errors: a value that is not a string, or does not read as the annotation's kind of value.
pub fn read(sources: &[(String, Option<&Mapping>)]) -> Result<PodAnnotations, FieldError> {
    let mut out = PodAnnotations::default();
    for (field, annotations) in sources {
        let Some(annotations) = annotations else {
            continue;
        };
        for (key, value) in *annotations {
            let Some(key) = key.as_str() else { continue };
            let here = format!("{field}.{key}");
            if !is_honoured(key) {
                continue;
            }
            let Tree::String(value) = value else {
                return Err(FieldError::new(
                    here,
                    "an annotation's value is a string: quote it",
                ));
            };
            let bad = |why: String| FieldError::new(here.clone(), why);
            let value = value.trim();
            match key {
                INJECT => out.inject = Some(switch(value, "enabled", "disabled").map_err(bad)?),
                SKIP_INBOUND_PORTS => out.skip_inbound_ports = Some(ports(value).map_err(bad)?),
                SKIP_OUTBOUND_PORTS => out.skip_outbound_ports = Some(ports(value).map_err(bad)?),
                SKIP_SUBNETS => out.skip_inbound_subnets = Some(subnets(value).map_err(bad)?),
                SKIP_OUTBOUND_SUBNETS => {
                    out.skip_outbound_subnets = Some(subnets(value).map_err(bad)?)
                }
                OPAQUE_PORTS => out.opaque_ports = Some(opaque_ports(value).map_err(bad)?),
                PROXY_AWAIT => {
                    out.proxy_await = Some(switch(value, "enabled", "disabled").map_err(bad)?)
                }
                NATIVE_SIDECAR => {
                    out.native_sidecar = Some(switch(value, "true", "false").map_err(bad)?)
                }
                PROXY_UID => out.proxy_uid = Some(uid(value).map_err(bad)?),
                PROXY_IMAGE => out.proxy_image = Some(image_part(value, "an image").map_err(bad)?),
                PROXY_VERSION => out.proxy_version = Some(image_part(value, "a tag").map_err(bad)?),
                PROXY_GID => out.proxy_gid = Some(gid(value).map_err(bad)?),
                IDENTITY => out.identity = Some(switch(value, "enabled", "disabled").map_err(bad)?),
                IDENTITY_SECRET => out.identity_secret = Some(secret_name(value).map_err(bad)?),
                TRUST_DOMAIN => out.trust_domain = Some(trust_domain(value).map_err(bad)?),
                _ => {}
            }
        }
    }
    Ok(out)
}

/// Whether inject reads `key`.
fn is_honoured(key: &str) -> bool {
    [
        INJECT,
        SKIP_INBOUND_PORTS,
        SKIP_OUTBOUND_PORTS,
        SKIP_SUBNETS,
        SKIP_OUTBOUND_SUBNETS,
        OPAQUE_PORTS,
        PROXY_AWAIT,
        NATIVE_SIDECAR,
        PROXY_UID,
        PROXY_IMAGE,
        PROXY_VERSION,
        PROXY_GID,
        IDENTITY,
        IDENTITY_SECRET,
        TRUST_DOMAIN,
    ]
    .contains(&key)
}

fn switch(value: &str, on: &str, off: &str) -> Result<bool, String> {
    if value == on {
        Ok(true)
    } else if value == off {
        Ok(false)
    } else {
        Err(format!("{value:?}: takes {on} or {off}"))
    }
}

/// Comma-separated items, blanks ignored (`"2888, 3888"` as Linkerd reads it).
fn items(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|i| !i.is_empty())
}

fn ports(value: &str) -> Result<PortSet, String> {
    let ranges = items(value)
        .map(str::parse::<PortRange>)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PortSet::new(ranges))
}

fn subnets(value: &str) -> Result<Vec<Subnet>, String> {
    items(value)
        .map(|i| i.parse::<Subnet>().map_err(|e| e.to_string()))
        .collect()
}

fn opaque_ports(value: &str) -> Result<Vec<OpaquePort>, String> {
    items(value)
        .map(|item| match item.parse::<PortRange>() {
            Ok(range) => Ok(OpaquePort::Range(range)),
            Err(_) if is_port_name(item) => Ok(OpaquePort::Name(item.to_string())),
            Err(_) => Err(format!(
                "{item:?} is not a port (1-65535), a range LO-HI or a container port's name"
            )),
        })
        .collect()
}

/// A Kubernetes port name (IANA_SVC_NAME): 1-15 lowercase letters, digits and inner hyphens, at
/// least one letter.
fn is_port_name(s: &str) -> bool {
    (1..=15).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.chars().any(|c| c.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// The ports `items` name, in order, each once: ranges counted out, names looked up among the
/// pod's container ports (`name` → `containerPort`), as Linkerd resolves them.
///
/// Errors: a name no container port has, or more than [`MAX_OPAQUE_PORTS`] ports.
pub fn resolve_opaque_ports(items: &[OpaquePort], spec: &Mapping) -> Result<Vec<u16>, String> {
    let named: Vec<(&str, u16)> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Tree::as_sequence))
        .flatten()
        .filter_map(|c| c.get("ports").and_then(Tree::as_sequence))
        .flatten()
        .filter_map(|p| {
            let name = p.get("name")?.as_str()?;
            let port = u16::try_from(p.get("containerPort")?.as_u64()?).ok()?;
            Some((name, port))
        })
        .collect();
    let mut ranges = Vec::new();
    for item in items {
        match item {
            OpaquePort::Range(range) => ranges.push(*range),
            OpaquePort::Name(name) => {
                let Some((_, port)) = named.iter().find(|(n, _)| n == name) else {
                    return Err(format!("no container port is named {name:?}"));
                };
                ranges.push(PortRange::single(*port));
            }
        }
    }
    let set = PortSet::new(ranges);
    let count: usize = set
        .ranges()
        .iter()
        .map(|r| usize::from(r.hi - r.lo) + 1)
        .sum();
    if count > MAX_OPAQUE_PORTS {
        return Err(format!(
            "{count} ports, at most {MAX_OPAQUE_PORTS} (the proxy takes them one by one); skip a \
             wide range instead"
        ));
    }
    Ok(set.ranges().iter().flat_map(|r| r.lo..=r.hi).collect())
}

fn uid(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(0) => Err(
            "\"0\": the proxy runs as a user other than root (its connections are \
                      told apart by uid, and root is whatever the app may be)"
                .into(),
        ),
        Ok(uid) => Ok(uid),
        Err(_) => Err(format!("{value:?} is not a uid (a number)")),
    }
}

fn gid(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        // csi-driver-spiffe refuses fs-group 0, and root's group would let the key be read by
        // whatever runs with it.
        Ok(0) => Err("\"0\": the proxy's group reads its identity's key, so not root's".into()),
        Ok(gid) => Ok(gid),
        Err(_) => Err(format!("{value:?} is not a gid (a number)")),
    }
}

/// A Secret's name: a DNS subdomain (RFC 1123: lowercase letters, digits, '-' and '.', at most
/// 253, starting and ending with a letter or digit), as the API server checks it.
fn secret_name(value: &str) -> Result<String, String> {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = value.len() <= 253
        && edge_ok(value.chars().next())
        && edge_ok(value.chars().last())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if ok {
        Ok(value.to_string())
    } else {
        Err(format!(
            "{value:?} is not a secret's name (lowercase letters, digits, '-' and '.', at most \
             253, starting and ending with a letter or digit)"
        ))
    }
}

/// A trust domain as `mesh proxy --trust-domain` takes it: the proxy would refuse any other at
/// start, leaving the pod crash-looping.
fn trust_domain(value: &str) -> Result<String, String> {
    use crate::mtls::id::{DEFAULT_CONTROL_PLANE_NAMESPACE, DEFAULT_SERVICE_ACCOUNT};
    crate::mtls::TlsId::new(
        DEFAULT_SERVICE_ACCOUNT,
        DEFAULT_SERVICE_ACCOUNT,
        value,
        DEFAULT_CONTROL_PLANE_NAMESPACE,
    )
    .map(|_| value.to_string())
    .map_err(|_| {
        format!("{value:?} is not a trust domain (DNS labels joined by '.', such as cluster.local)")
    })
}

fn image_part(value: &str, what: &str) -> Result<String, String> {
    if value.is_empty() || value.contains(char::is_whitespace) {
        Err(format!("{value:?} is not {what}"))
    } else {
        Ok(value.to_string())
    }
}
