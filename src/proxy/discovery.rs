//! Discovery: the `Resolve` seam from an authority to endpoints with their identity.
//!
//! Names are expanded the way a pod's DNS search path would (`web-svc:8080` from namespace
//! `emojivoto` is `web-svc.emojivoto.svc.cluster.local:8080`), so an app's configuration is the same on
//! a laptop and in a cluster. Implementations now: the local registry of running proxies and a static
//! endpoints file. Resolvers answer from memory; ones backed by the network (DNS, Kubernetes, later)
//! refresh in the background, so the request path never waits on them for long.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::identity::{Identity, Workload};

pub mod kubernetes;
use crate::registry::{read_records, ProxyRecord};

/// A fully qualified Kubernetes service and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceName {
    pub name: String,
    pub namespace: String,
    pub cluster_domain: String,
    pub port: u16,
}

impl ServiceName {
    /// `name.namespace.svc.cluster-domain`: the name a ServiceProfile applies to.
    pub fn fqdn(&self) -> String {
        format!(
            "{}.{}.svc.{}",
            self.name, self.namespace, self.cluster_domain
        )
    }

    /// `fqdn:port`.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.fqdn(), self.port)
    }
}

/// What an authority names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A cluster service, found through discovery.
    Service(ServiceName),
    /// An IP address and port: forwarded only as the forwarding policy allows (`proxy::policy`).
    Addr(SocketAddr),
    /// Any other host name: not resolvable by mesh's discovery (yet).
    External { host: String, port: u16 },
}

/// Splits `host[:port]` (IPv6 in brackets) with `default_port`.
pub fn split_authority(authority: &str, default_port: u16) -> Option<(String, u16)> {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_ascii_lowercase(), port.parse().ok()?)),
        None if !authority.is_empty() => Some((authority.to_ascii_lowercase(), default_port)),
        None => None,
    }
}

/// Interprets an authority as seen from `namespace`, expanding short service names.
pub fn target_of(authority: &str, namespace: &str, cluster_domain: &str) -> Option<Target> {
    let (host, port) = split_authority(authority, 80)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(Target::Addr(SocketAddr::new(ip, port)));
    }
    let host = host.trim_end_matches('.');
    let labels: Vec<&str> = host.split('.').collect();
    let suffix = format!("svc.{cluster_domain}");
    let (name, ns) = match labels.as_slice() {
        [name] => (*name, namespace),
        [name, ns] => (*name, *ns),
        [name, ns, "svc"] => (*name, *ns),
        [name, ns, rest @ ..] if rest.join(".") == suffix => (*name, *ns),
        _ => {
            return Some(Target::External {
                host: host.to_string(),
                port,
            })
        }
    };
    Some(Target::Service(ServiceName {
        name: name.to_string(),
        namespace: ns.to_string(),
        cluster_domain: cluster_domain.to_string(),
        port,
    }))
}

/// One place to send requests, and who answers there (`None` when not meshed or unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub identity: Option<Arc<Identity>>,
    /// The TLS identity the endpoint's certificate must prove (its DNS-style name, the SNI
    /// sent), when discovery knows it has one: requests to it are then mutual TLS.
    pub tls: Option<Arc<str>>,
}

/// A boxed future, so resolvers can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Authority → endpoints. Implementations must answer from memory or bound their waits.
pub trait Resolve: Send + Sync {
    /// The endpoints of `service`; an empty list when the service is unknown here.
    fn resolve<'a>(&'a self, service: &'a ServiceName) -> BoxFuture<'a, Vec<Endpoint>>;
    /// Where this resolver looks, for error messages ("the local registry (/run/mesh/registry)").
    fn describe(&self) -> String;
    /// The service whose ClusterIP and port `addr` is (`None`: no service's, or unknown here):
    /// a captured connection to a ClusterIP is then balanced over the service's endpoints. The
    /// default knows none.
    fn service_at<'a>(&'a self, addr: SocketAddr) -> BoxFuture<'a, Option<ServiceName>> {
        let _ = addr;
        Box::pin(async { None })
    }
    /// Why `service` has no endpoints here, when this resolver can say more than "none" (a
    /// watch refused by RBAC, not yet synced, no such Service port). The default says nothing.
    fn explain<'a>(&'a self, service: &'a ServiceName) -> BoxFuture<'a, Option<String>> {
        let _ = service;
        Box::pin(async { None })
    }
    /// The endpoint at `addr`, when it is one of some service's: what the forwarding policy asks
    /// of an address a caller wrote. The default knows none.
    fn endpoint<'a>(&'a self, addr: SocketAddr) -> BoxFuture<'a, Option<Endpoint>> {
        let _ = addr;
        Box::pin(async { None })
    }
}

/// Tries resolvers in order; the first with endpoints wins.
pub struct Resolvers(pub Vec<Box<dyn Resolve>>);

impl Resolve for Resolvers {
    fn resolve<'a>(&'a self, service: &'a ServiceName) -> BoxFuture<'a, Vec<Endpoint>> {
        Box::pin(async move {
            for r in &self.0 {
                let endpoints = r.resolve(service).await;
                if !endpoints.is_empty() {
                    return endpoints;
                }
            }
            Vec::new()
        })
    }

    fn endpoint<'a>(&'a self, addr: SocketAddr) -> BoxFuture<'a, Option<Endpoint>> {
        Box::pin(async move {
            for r in &self.0 {
                if let Some(e) = r.endpoint(addr).await {
                    return Some(e);
                }
            }
            None
        })
    }

    fn service_at<'a>(&'a self, addr: SocketAddr) -> BoxFuture<'a, Option<ServiceName>> {
        Box::pin(async move {
            for r in &self.0 {
                if let Some(s) = r.service_at(addr).await {
                    return Some(s);
                }
            }
            None
        })
    }

    fn explain<'a>(&'a self, service: &'a ServiceName) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            let mut why = Vec::new();
            for r in &self.0 {
                if let Some(w) = r.explain(service).await {
                    why.push(format!("{}: {w}", r.describe()));
                }
            }
            (!why.is_empty()).then(|| why.join("; "))
        })
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|r| r.describe()).collect();
        match parts.as_slice() {
            [] => "no discovery source".to_string(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        }
    }
}

/// How stale the registry snapshot may be before a miss re-reads the directory.
const REGISTRY_REFRESH: Duration = Duration::from_millis(250);

/// Discovery from the local registry of running proxies.
pub struct RegistryResolver {
    dir: PathBuf,
    snapshot: ArcSwap<Vec<Registered>>,
    last_read: Mutex<Option<Instant>>,
}

/// A registered proxy, its identity parsed once when the registry is read (not per request).
struct Registered {
    record: ProxyRecord,
    identity: Option<Arc<Identity>>,
    /// The record's TLS identity, shared by every endpoint made of it.
    tls: Option<Arc<str>>,
}

impl RegistryResolver {
    /// Reads records from `dir`.
    pub fn new(dir: PathBuf) -> Self {
        RegistryResolver {
            dir,
            snapshot: ArcSwap::from_pointee(Vec::new()),
            last_read: Mutex::new(None),
        }
    }

    fn endpoints_of(registered: &[Registered], service: &ServiceName) -> Vec<Endpoint> {
        registered
            .iter()
            .filter(|r| r.record.namespace == service.namespace)
            .filter(|r| {
                r.record
                    .services
                    .iter()
                    .any(|s| s.name == service.name && s.port == service.port)
            })
            .filter_map(|r| {
                Some(Endpoint {
                    addr: r.record.inbound?,
                    identity: r.identity.clone(),
                    tls: r.tls.clone(),
                })
            })
            .collect()
    }

    /// The registered proxy whose inbound listener is `addr`.
    fn endpoint_at(registered: &[Registered], addr: SocketAddr) -> Option<Endpoint> {
        registered
            .iter()
            .find(|r| r.record.inbound == Some(addr))
            .map(|r| Endpoint {
                addr,
                identity: r.identity.clone(),
                tls: r.tls.clone(),
            })
    }

    async fn refresh_if_stale(&self) {
        let mut last = self.last_read.lock().await;
        if last.is_some_and(|t| t.elapsed() < REGISTRY_REFRESH) {
            return;
        }
        let dir = self.dir.clone();
        if let Ok(records) = tokio::task::spawn_blocking(move || read_records(&dir)).await {
            let registered = records
                .into_iter()
                .map(|record| Registered {
                    identity: record.identity().map(Arc::new),
                    tls: record.tls_id.as_deref().map(Arc::from),
                    record,
                })
                .collect();
            self.snapshot.store(Arc::new(registered));
        }
        *last = Some(Instant::now());
    }
}

impl Resolve for RegistryResolver {
    fn resolve<'a>(&'a self, service: &'a ServiceName) -> BoxFuture<'a, Vec<Endpoint>> {
        Box::pin(async move {
            let before = self.snapshot.load_full();
            // Endpoints come and go: re-read a stale snapshot on every lookup, at most every 250 ms.
            self.refresh_if_stale().await;
            let now = self.snapshot.load();
            let fresh = Self::endpoints_of(&now, service);
            // If a re-read no longer lists the service, what was known before it is used.
            if fresh.is_empty() && !Arc::ptr_eq(&before, &now) {
                Self::endpoints_of(&before, service)
            } else {
                fresh
            }
        })
    }

    fn describe(&self) -> String {
        format!("the local registry ({})", self.dir.display())
    }

    fn endpoint<'a>(&'a self, addr: SocketAddr) -> BoxFuture<'a, Option<Endpoint>> {
        Box::pin(async move {
            if let Some(e) = Self::endpoint_at(&self.snapshot.load(), addr) {
                return Some(e);
            }
            self.refresh_if_stale().await;
            Self::endpoint_at(&self.snapshot.load(), addr)
        })
    }
}

/// One endpoint in an endpoints file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEndpoint {
    address: SocketAddr,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    workload: Option<String>,
    #[serde(default)]
    pod: Option<String>,
}

/// Discovery from a static YAML file: service authority → endpoints with labels.
///
/// ```yaml
/// web-svc.emojivoto:8080:
///   - address: 127.0.0.1:4143
///     namespace: emojivoto
///     workload: deploy/web
///     pod: web-0
/// ```
pub struct StaticResolver {
    path: PathBuf,
    services: HashMap<ServiceName, Vec<Endpoint>>,
}

/// Why an endpoints file (`--endpoints`) cannot be used; the text names the file.
#[derive(Debug, thiserror::Error)]
pub enum EndpointsFileError {
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", path.display())]
    Yaml {
        path: PathBuf,
        source: crate::yaml::DecodeError,
    },
    #[error("{}: {authority:?} is not a service name (NAME[.NAMESPACE[.svc.DOMAIN]]:PORT)", path.display())]
    NotAService { path: PathBuf, authority: String },
    #[error("{}: {authority}: workload {workload:?}", path.display())]
    BadWorkload {
        path: PathBuf,
        authority: String,
        workload: String,
        source: Box<crate::identity::WorkloadError>,
    },
}

impl StaticResolver {
    /// Reads the file; service names are expanded as from `namespace`.
    pub fn load(
        path: &Path,
        namespace: &str,
        cluster_domain: &str,
    ) -> Result<Self, EndpointsFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| EndpointsFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let raw: HashMap<String, Vec<FileEndpoint>> =
            crate::yaml::from_str(&text).map_err(|source| EndpointsFileError::Yaml {
                path: path.to_path_buf(),
                source,
            })?;
        let mut services = HashMap::new();
        for (authority, endpoints) in raw {
            let Some(Target::Service(service)) = target_of(&authority, namespace, cluster_domain)
            else {
                return Err(EndpointsFileError::NotAService {
                    path: path.to_path_buf(),
                    authority,
                });
            };
            let endpoints = endpoints
                .into_iter()
                .map(|e| {
                    let identity = match (
                        &e.workload,
                        e.workload.as_deref().map(str::parse::<Workload>),
                    ) {
                        (_, Some(Ok(workload))) => Some(Arc::new(Identity {
                            namespace: e
                                .namespace
                                .clone()
                                .unwrap_or_else(|| service.namespace.clone()),
                            workload,
                            pod: e.pod.clone().unwrap_or_default(),
                        })),
                        (Some(w), Some(Err(source))) => {
                            return Err(EndpointsFileError::BadWorkload {
                                path: path.to_path_buf(),
                                authority: authority.clone(),
                                workload: w.clone(),
                                source: Box::new(source),
                            })
                        }
                        _ => None,
                    };
                    Ok(Endpoint {
                        addr: e.address,
                        identity,
                        // An endpoints file names no identities: plaintext.
                        tls: None,
                    })
                })
                .collect::<Result<Vec<_>, EndpointsFileError>>()?;
            services.insert(service, endpoints);
        }
        Ok(StaticResolver {
            path: path.to_path_buf(),
            services,
        })
    }
}

impl Resolve for StaticResolver {
    fn resolve<'a>(&'a self, service: &'a ServiceName) -> BoxFuture<'a, Vec<Endpoint>> {
        let found = self.services.get(service).cloned().unwrap_or_default();
        Box::pin(async move { found })
    }

    fn describe(&self) -> String {
        format!("the endpoints file {}", self.path.display())
    }

    fn endpoint<'a>(&'a self, addr: SocketAddr) -> BoxFuture<'a, Option<Endpoint>> {
        let found = self
            .services
            .values()
            .flatten()
            .find(|e| e.addr == addr)
            .cloned();
        Box::pin(async move { found })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, ns: &str, port: u16) -> Target {
        Target::Service(ServiceName {
            name: name.into(),
            namespace: ns.into(),
            cluster_domain: "cluster.local".into(),
            port,
        })
    }

    #[test]
    fn names_expand_like_a_pod_search_path() {
        let t = |a| target_of(a, "emojivoto", "cluster.local").unwrap();
        assert_eq!(t("web-svc:8080"), svc("web-svc", "emojivoto", 8080));
        assert_eq!(t("web-svc.other:8080"), svc("web-svc", "other", 8080));
        assert_eq!(t("web-svc.other.svc:8080"), svc("web-svc", "other", 8080));
        assert_eq!(
            t("web-svc.other.svc.cluster.local:8080"),
            svc("web-svc", "other", 8080)
        );
        assert_eq!(t("Web-Svc"), svc("web-svc", "emojivoto", 80));
        assert_eq!(
            t("127.0.0.1:9000"),
            Target::Addr("127.0.0.1:9000".parse().unwrap())
        );
        assert_eq!(t("[::1]:9000"), Target::Addr("[::1]:9000".parse().unwrap()));
        // As in a pod, two labels are NAME.NAMESPACE; discovery decides whether such a service exists.
        assert_eq!(t("example.com:443"), svc("example", "com", 443));
        assert_eq!(
            t("api.example.com:443"),
            Target::External {
                host: "api.example.com".into(),
                port: 443
            }
        );
        assert_eq!(target_of("x:notaport", "ns", "cluster.local"), None);
    }

    #[tokio::test]
    async fn endpoints_file_resolves_with_labels() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("endpoints.yaml");
        std::fs::write(&file, "web-svc.emojivoto:8080:\n- address: 127.0.0.1:4143\n  workload: deploy/web\n  pod: web-0\n").unwrap();
        let r = StaticResolver::load(&file, "default", "cluster.local").unwrap();
        let Target::Service(s) = target_of(
            "web-svc.emojivoto.svc.cluster.local:8080",
            "x",
            "cluster.local",
        )
        .unwrap() else {
            panic!()
        };
        let eps = r.resolve(&s).await;
        assert_eq!(eps.len(), 1);
        // The policy asks the other way round: is this address a known endpoint?
        assert_eq!(r.endpoint(eps[0].addr).await.as_ref(), Some(&eps[0]));
        assert_eq!(r.endpoint("127.0.0.1:4144".parse().unwrap()).await, None);
        let id = eps[0].identity.as_ref().unwrap();
        assert_eq!(
            (
                id.namespace.as_str(),
                id.workload.to_string(),
                id.pod.as_str()
            ),
            ("emojivoto", "deploy/web".into(), "web-0")
        );
    }
}
