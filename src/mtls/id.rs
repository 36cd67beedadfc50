//! Workload TLS identities: who a certificate says a workload is.
//!
//! A workload's TLS identity is its Kubernetes service account in its namespace, within a trust
//! domain. Certificates carry it two ways, and mesh accepts either:
//! - a SPIFFE ID in a URI SAN, `spiffe://<trust-domain>/ns/<ns>/sa/<sa>` (the SPIFFE Kubernetes
//!   convention that SPIRE and cert-manager's csi-driver-spiffe write);
//! - Linkerd's DNS-style name in a DNS SAN,
//!   `<sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`
//!   (`default.emojivoto.serviceaccount.identity.linkerd.cluster.local`), which is also what a
//!   proxy sends as SNI (a URI cannot be a server name) and what metrics show as `client_id` and
//!   `server_id`, as Linkerd's proxy labels them.
//!
//! Two identities are the same workload when their trust domain, namespace and service account
//! agree; the control-plane namespace only shapes the DNS-style name.

use std::fmt;

/// The trust domain when none is given: Kubernetes' default cluster domain, as Linkerd's.
pub const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";
/// The control-plane namespace in DNS-style names when none is given: where `mesh install` puts
/// mesh.
pub const DEFAULT_CONTROL_PLANE_NAMESPACE: &str = "mesh";
/// The service account of a proxy that is given none, as of a pod that names none.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// One workload's TLS identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TlsId {
    /// The service account's name.
    pub service_account: String,
    pub namespace: String,
    /// `cluster.local`.
    pub trust_domain: String,
    /// Only for the DNS-style name (`linkerd` in Linkerd's, `mesh` in mesh's own).
    pub control_plane_namespace: String,
}

/// Why a name is no workload identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsIdError {
    #[error("{0:?} is no SPIFFE workload ID: expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>")]
    NotSpiffe(String),
    #[error("{0:?} is no identity name: expected <service-account>.<namespace>.serviceaccount.identity.<control-plane-namespace>.<trust-domain>")]
    NotDnsName(String),
    #[error("{what} {value:?} is not a DNS label (lowercase letters, digits and '-', at most 63)")]
    BadLabel { what: &'static str, value: String },
}

impl TlsId {
    /// The identity of service account `sa` in `namespace`, checking that both are DNS labels
    /// and the trust domain a DNS name.
    pub fn new(
        service_account: &str,
        namespace: &str,
        trust_domain: &str,
        control_plane_namespace: &str,
    ) -> Result<TlsId, TlsIdError> {
        label("service account", service_account)?;
        label("namespace", namespace)?;
        label("control-plane namespace", control_plane_namespace)?;
        check_trust_domain(trust_domain)?;
        Ok(TlsId {
            service_account: service_account.into(),
            namespace: namespace.into(),
            trust_domain: trust_domain.into(),
            control_plane_namespace: control_plane_namespace.into(),
        })
    }

    /// `spiffe://cluster.local/ns/emojivoto/sa/web`.
    pub fn spiffe_id(&self) -> String {
        format!(
            "spiffe://{}/ns/{}/sa/{}",
            self.trust_domain, self.namespace, self.service_account
        )
    }

    /// `web.emojivoto.serviceaccount.identity.mesh.cluster.local`.
    pub fn dns_name(&self) -> String {
        format!(
            "{}.{}.serviceaccount.identity.{}.{}",
            self.service_account, self.namespace, self.control_plane_namespace, self.trust_domain
        )
    }

    /// Parses a SPIFFE ID; the control-plane namespace, which a SPIFFE ID does not carry, is
    /// `control_plane_namespace`.
    pub fn from_spiffe(uri: &str, control_plane_namespace: &str) -> Result<TlsId, TlsIdError> {
        let bad = || TlsIdError::NotSpiffe(uri.into());
        let rest = uri.strip_prefix("spiffe://").ok_or_else(bad)?;
        let (domain, path) = rest.split_once('/').ok_or_else(bad)?;
        let parts: Vec<&str> = path.split('/').collect();
        let ["ns", ns, "sa", sa] = parts[..] else {
            return Err(bad());
        };
        TlsId::new(sa, ns, domain, control_plane_namespace).map_err(|_| bad())
    }

    /// Parses a DNS-style identity name.
    pub fn from_dns_name(name: &str) -> Result<TlsId, TlsIdError> {
        let bad = || TlsIdError::NotDnsName(name.into());
        let mut parts = name.splitn(6, '.');
        let (Some(sa), Some(ns), Some("serviceaccount"), Some("identity"), Some(cp), Some(domain)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        TlsId::new(sa, ns, domain, cp).map_err(|_| bad())
    }

    /// Whether `other` names the same workload: trust domain, namespace and service account.
    pub fn same_workload(&self, other: &TlsId) -> bool {
        self.service_account == other.service_account
            && self.namespace == other.namespace
            && self.trust_domain == other.trust_domain
    }
}

impl fmt::Display for TlsId {
    /// The DNS-style name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dns_name())
    }
}

/// Checks that `trust_domain` is a DNS name (dot-separated DNS labels), as a SPIFFE trust domain
/// and Linkerd's identity names need it.
pub fn check_trust_domain(trust_domain: &str) -> Result<(), TlsIdError> {
    let bad = || TlsIdError::BadLabel {
        what: "trust domain",
        value: trust_domain.into(),
    };
    if trust_domain.is_empty() {
        return Err(bad());
    }
    for part in trust_domain.split('.') {
        label("trust domain", part).map_err(|_| bad())?;
    }
    Ok(())
}

fn label(what: &'static str, value: &str) -> Result<(), TlsIdError> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(TlsIdError::BadLabel {
            what,
            value: value.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_name_the_same_workload() {
        let id = TlsId::new("web", "emojivoto", "cluster.local", "linkerd").unwrap();
        assert_eq!(id.spiffe_id(), "spiffe://cluster.local/ns/emojivoto/sa/web");
        assert_eq!(
            id.dns_name(),
            "web.emojivoto.serviceaccount.identity.linkerd.cluster.local"
        );
        assert_eq!(TlsId::from_dns_name(&id.dns_name()).unwrap(), id);
        let from_spiffe = TlsId::from_spiffe(&id.spiffe_id(), "mesh").unwrap();
        assert!(from_spiffe.same_workload(&id));
        assert_ne!(from_spiffe, id);
    }

    #[test]
    fn malformed_names_are_refused_with_the_expected_shape() {
        for bad in [
            "spiffe://cluster.local/ns/emojivoto",
            "spiffe://cluster.local/ns/emojivoto/sa/web/extra",
            "https://cluster.local/ns/a/sa/b",
            "spiffe://cluster.local/ns/Emoji/sa/web",
        ] {
            let e = TlsId::from_spiffe(bad, "mesh").unwrap_err();
            assert!(e.to_string().contains("spiffe://<trust-domain>"), "{e}");
        }
        for bad in [
            "web.emojivoto.svc.cluster.local",
            "web.emojivoto.serviceaccount.identity.mesh",
            "web..serviceaccount.identity.mesh.cluster.local",
        ] {
            assert!(TlsId::from_dns_name(bad).is_err(), "{bad}");
        }
        assert!(TlsId::new("web_1", "ns", "cluster.local", "mesh").is_err());
        assert!(TlsId::new("web", "ns", "cluster..local", "mesh").is_err());
    }
}
