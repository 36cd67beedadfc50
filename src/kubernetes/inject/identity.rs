//! Where the injected proxy's mutual TLS identity comes from: the volume inject adds to the pod,
//! its mount in `mesh-proxy` (read-only, at [`IDENTITY_DIR`]), and the proxy's flags for it.
//!
//! mesh has no identity controller of its own in the cluster (Linkerd's `linkerd-identity`): the
//! proxy reads a certificate from files (`mesh proxy --identity-dir`, reloaded when they change),
//! and inject mounts what writes them:
//! - by default cert-manager's csi-driver-spiffe, a CSI volume of driver [`CSI_DRIVER`]: per pod a
//!   fresh key that never leaves the node, and a certificate for the pod's service account
//!   (`spiffe://<trust-domain>/ns/<ns>/sa/<sa>`), renewed in place, as `tls.crt`, `tls.key` and
//!   (when the driver is given a CA bundle) `ca.crt`. The files belong to root and the group
//!   [`CSI_FS_GROUP`] names, mode 0440: that group is the proxy's `runAsGroup`, so the non-root
//!   proxy reads the key and the app, which does not mount the volume, never sees it;
//! - `mesh.io/identity-secret: NAME`: a Kubernetes TLS secret (what a cert-manager Certificate
//!   writes: `tls.crt`, `tls.key`, `ca.crt`), shared by the workload's pods;
//! - `mesh.io/identity: disabled`: nothing, and the proxy speaks plaintext.
//!
//! The proxy learns its service account from the downward API (`MESH_SERVICE_ACCOUNT`, which
//! [`super::pod_spec`] always sets) and refuses to start on a certificate that does not prove it.
//! The pod template is marked [`IDENTITY_MODE`](crate::kubernetes::annotations::IDENTITY_MODE) so that discovery knows whether to expect mutual
//! TLS from the pod's proxy.

use std::fmt;

use crate::yaml::Tree;

use super::super::annotations::{
    PodAnnotations, IDENTITY, IDENTITY_MODE_DEFAULT, IDENTITY_MODE_DISABLED, IDENTITY_SECRET,
    TRUST_DOMAIN,
};
use super::super::tree::{map, s};

/// The volume holding the proxy's certificate, key and trust anchors.
pub const IDENTITY_VOLUME: &str = "mesh-identity";
/// Where `mesh-proxy` mounts [`IDENTITY_VOLUME`]: its `--identity-dir`.
pub const IDENTITY_DIR: &str = "/var/run/mesh/identity";
/// cert-manager's csi-driver-spiffe, as its CSIDriver object is named by default.
pub const CSI_DRIVER: &str = "spiffe.csi.cert-manager.io";
/// csi-driver-spiffe's volume attribute giving the group its files belong to.
pub const CSI_FS_GROUP: &str = "spiffe.csi.cert-manager.io/fs-group";

/// What gives the proxy its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// A csi-driver-spiffe volume ([`CSI_DRIVER`]).
    CsiDriverSpiffe,
    /// A Kubernetes TLS secret of this name in the workload's namespace.
    Secret(String),
    /// None: the proxy has no identity and speaks plaintext.
    Disabled,
}

impl fmt::Display for IdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentitySource::CsiDriverSpiffe => f.write_str("csi-driver-spiffe"),
            IdentitySource::Secret(name) => write!(f, "secret {name}"),
            IdentitySource::Disabled => f.write_str("disabled"),
        }
    }
}

/// The injected proxy's identity: where its files come from, and its trust domain when not the
/// proxy's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyIdentity {
    pub source: IdentitySource,
    /// `mesh proxy --trust-domain`; `None`: the proxy's default, `cluster.local`.
    pub trust_domain: Option<String>,
}

impl Default for ProxyIdentity {
    fn default() -> Self {
        ProxyIdentity {
            source: IdentitySource::CsiDriverSpiffe,
            trust_domain: None,
        }
    }
}

/// Annotations that ask for contradictory things: the annotation at fault, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contradiction {
    /// The annotation that cannot be honoured.
    pub annotation: &'static str,
    pub message: String,
}

impl ProxyIdentity {
    /// The identity the workload's annotations ask for (csi-driver-spiffe unless they say
    /// otherwise).
    ///
    /// Errors: a secret or a trust domain asked of a workload whose identity is disabled (one of
    /// the two is a mistake, and inject cannot tell which).
    pub fn from_annotations(asked: &PodAnnotations) -> Result<ProxyIdentity, Contradiction> {
        if asked.identity == Some(false) {
            let unused = [
                (IDENTITY_SECRET, &asked.identity_secret),
                (TRUST_DOMAIN, &asked.trust_domain),
            ];
            if let Some((annotation, Some(value))) = unused.into_iter().find(|(_, v)| v.is_some()) {
                return Err(Contradiction {
                    annotation,
                    message: format!(
                        "{value:?} is for the proxy's identity, but {IDENTITY} is disabled: \
                         remove one of the two"
                    ),
                });
            }
            return Ok(ProxyIdentity {
                source: IdentitySource::Disabled,
                trust_domain: None,
            });
        }
        let source = match &asked.identity_secret {
            Some(name) => IdentitySource::Secret(name.clone()),
            None => IdentitySource::CsiDriverSpiffe,
        };
        Ok(ProxyIdentity {
            source,
            trust_domain: asked.trust_domain.clone(),
        })
    }

    /// Whether the proxy has an identity.
    pub fn enabled(&self) -> bool {
        self.source != IdentitySource::Disabled
    }

    /// The value inject gives `mesh.io/identity-mode` on the pod template.
    pub fn mode(&self) -> &'static str {
        if self.enabled() {
            IDENTITY_MODE_DEFAULT
        } else {
            IDENTITY_MODE_DISABLED
        }
    }

    /// `mesh proxy`'s flags for the identity (none when disabled).
    pub fn proxy_args(&self) -> Vec<String> {
        if !self.enabled() {
            return Vec::new();
        }
        let mut args = vec![format!("--identity-dir={IDENTITY_DIR}")];
        if let Some(domain) = &self.trust_domain {
            args.push(format!("--trust-domain={domain}"));
        }
        args
    }

    /// The pod's volume [`IDENTITY_VOLUME`], its files readable by group `gid` (the proxy's).
    pub fn volume(&self, gid: u32) -> Option<Tree> {
        let source = match &self.source {
            IdentitySource::Disabled => return None,
            IdentitySource::CsiDriverSpiffe => (
                "csi",
                map([
                    ("driver", s(CSI_DRIVER)),
                    // The driver refuses a writable mount.
                    ("readOnly", Tree::Bool(true)),
                    (
                        "volumeAttributes",
                        map([(CSI_FS_GROUP, s(gid.to_string()))]),
                    ),
                ]),
            ),
            // The kubelet writes a secret's files 0644 as root: the proxy reads them without a
            // group; the app does not mount the volume.
            IdentitySource::Secret(name) => ("secret", map([("secretName", s(name))])),
        };
        Some(map([("name", s(IDENTITY_VOLUME)), source]))
    }

    /// `mesh-proxy`'s mount of [`IDENTITY_VOLUME`] (none when disabled).
    pub fn volume_mount(&self) -> Option<Tree> {
        self.enabled().then(|| {
            map([
                ("name", s(IDENTITY_VOLUME)),
                ("mountPath", s(IDENTITY_DIR)),
                ("readOnly", Tree::Bool(true)),
            ])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(identity: Option<bool>, secret: Option<&str>, domain: Option<&str>) -> PodAnnotations {
        PodAnnotations {
            identity,
            identity_secret: secret.map(str::to_string),
            trust_domain: domain.map(str::to_string),
            ..PodAnnotations::default()
        }
    }

    #[test]
    fn csi_driver_spiffe_is_the_default_and_a_secret_replaces_it() {
        let default = ProxyIdentity::from_annotations(&asked(None, None, None)).unwrap();
        assert_eq!(default, ProxyIdentity::default());
        assert_eq!(default.mode(), "default");
        assert_eq!(
            default.proxy_args(),
            ["--identity-dir=/var/run/mesh/identity"]
        );
        let volume = crate::yaml::to_string(&default.volume(2102).unwrap()).unwrap();
        assert_eq!(
            volume,
            "name: mesh-identity\ncsi:\n  driver: spiffe.csi.cert-manager.io\n  readOnly: true\n  \
             volumeAttributes:\n    spiffe.csi.cert-manager.io/fs-group: \"2102\"\n"
        );
        let secret = ProxyIdentity::from_annotations(&asked(
            Some(true),
            Some("web-tls"),
            Some("example.org"),
        ))
        .unwrap();
        assert_eq!(secret.source.to_string(), "secret web-tls");
        assert_eq!(
            secret.proxy_args(),
            [
                "--identity-dir=/var/run/mesh/identity",
                "--trust-domain=example.org"
            ]
        );
        let volume = crate::yaml::to_string(&secret.volume(2102).unwrap()).unwrap();
        assert_eq!(
            volume,
            "name: mesh-identity\nsecret:\n  secretName: web-tls\n"
        );
    }

    #[test]
    fn disabled_adds_nothing_and_refuses_a_secret_or_trust_domain_beside_it() {
        let off = ProxyIdentity::from_annotations(&asked(Some(false), None, None)).unwrap();
        assert_eq!(off.mode(), "disabled");
        assert!(off.proxy_args().is_empty());
        assert!(off.volume(2102).is_none() && off.volume_mount().is_none());
        let err = ProxyIdentity::from_annotations(&asked(Some(false), Some("web-tls"), None))
            .unwrap_err();
        assert_eq!(err.annotation, IDENTITY_SECRET);
        assert!(
            err.message.contains("mesh.io/identity is disabled"),
            "{err:?}"
        );
        let err = ProxyIdentity::from_annotations(&asked(Some(false), None, Some("example.org")))
            .unwrap_err();
        assert_eq!(err.annotation, TRUST_DOMAIN);
    }
}
