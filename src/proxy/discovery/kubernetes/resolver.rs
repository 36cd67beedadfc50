//! [`KubeResolver`]: the `Resolve` seam answered from the Kubernetes API.
//!
//! Each service the app calls gets two watches, started on its first lookup: its EndpointSlices
//! (`kubernetes.io/service-name=NAME`) and the Service itself (`metadata.name=NAME`, for the port
//! names). kube-rs's watcher lists (pages of 500), then watches with bookmarks, relists on
//! 410 Gone, and backs off on errors; its reflector store swaps a relist in whole, so answers come
//! from memory and are never half a list. A lookup waits for a new watch's first list at most
//! `sync_timeout`; while the API is away the last good set keeps serving.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::task::AbortHandle;

use super::cluster_ips::ClusterIps;
use super::drive::{api_error_text, drive, LastError};
use super::endpoint_slices::{port_name, ready_addresses, Family, SERVICE_NAME_LABEL};
use super::pods::{pod_identity, PodIdentity};
use crate::identity::{Identity, Workload, WorkloadKind};
use crate::mtls::TlsId;
use crate::proxy::discovery::{BoxFuture, Endpoint, Resolve, ServiceName};
use k8s_openapi::api::core::v1::Pod;
use tokio::time::Instant;

/// At most this many services are watched at once; lookups of more are answered empty (and
/// explained), so an app calling endless names cannot make the proxy open endless watches.
pub const MAX_WATCHED_SERVICES: usize = 1024;

/// At most this many pods' identities are kept; past it the cache starts over (and is refilled
/// from the pods the EndpointSlices name).
const MAX_KNOWN_PODS: usize = 16_384;

/// A pod whose lookup failed is asked for again after this long.
const POD_RETRY: Duration = Duration::from_secs(10);

/// What is known of a pod, by `(namespace, name)`.
#[derive(Debug, Clone)]
enum PodState {
    /// Being asked for.
    Pending,
    /// What requests to it are told and must be told.
    Known(Arc<KnownPod>),
    /// The lookup failed at this time.
    Failed(Instant),
}

/// What discovery says of a pod's endpoints.
#[derive(Debug, Default)]
struct KnownPod {
    /// The workload identity its requests carry in `mesh-peer` (meshed pods only).
    identity: Option<Arc<Identity>>,
    /// The mutual TLS identity its proxy proves (Linkerd's DNS-style name), when it has one and
    /// this proxy knows the trust domain.
    tls: Option<Arc<str>>,
}

/// The trust domain and control-plane namespace pods' TLS identities are named in: this proxy's
/// own ([`KubeResolver::identities_in`]).
#[derive(Debug, Clone)]
struct TlsNaming {
    trust_domain: String,
    control_plane_namespace: String,
}

/// Discovery from the Kubernetes API.
pub struct KubeResolver {
    client: Client,
    /// Where the client talks to, for messages.
    server: String,
    prefer: Family,
    sync_timeout: Duration,
    watches: Mutex<HashMap<(String, String), Arc<ServiceWatch>>>,
    pods: Arc<Mutex<HashMap<(String, String), PodState>>>,
    /// ClusterIP:port → service, from a cluster-wide watch of Services started on the first
    /// captured connection that asks.
    cluster_ips: Arc<arc_swap::ArcSwap<ClusterIps>>,
    /// The watch's task, whether its first list is in the map, and when it started.
    cluster_ips_watch:
        std::sync::OnceLock<(AbortHandle, tokio::sync::watch::Receiver<bool>, Instant)>,
    cluster_domain: String,
    /// Set when this proxy has an identity: meshed pods with one are then sent mutual TLS.
    tls_naming: Option<TlsNaming>,
}

/// The watches of one service.
struct ServiceWatch {
    slices: Store<EndpointSlice>,
    service: Store<Service>,
    /// The latest error of each watch (cleared by its next event), for explanations.
    errors: [LastError; 2],
    tasks: [AbortHandle; 2],
    /// When the watches started: lookups wait for the first list only until `sync_timeout` after
    /// this, so an API that never answers delays the first requests, not every request.
    started: Instant,
}

impl Drop for KubeResolver {
    fn drop(&mut self) {
        if let Some((task, _, _)) = self.cluster_ips_watch.get() {
            task.abort();
        }
    }
}

impl Drop for ServiceWatch {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl KubeResolver {
    /// A resolver talking to the API server `config` names (kube-rs's: `KUBECONFIG`, or the
    /// pod's service account in a cluster), naming services in `cluster_domain`. `prefer` picks
    /// the family of dual-stack pods; `sync_timeout` bounds how long a lookup waits for a new
    /// watch's first list.
    ///
    /// # Errors
    ///
    /// The client cannot be built from `config` (a bad certificate or proxy setting).
    pub fn new(
        config: kube::Config,
        cluster_domain: &str,
        prefer: Family,
        sync_timeout: Duration,
    ) -> Result<Self, kube::Error> {
        let server = format!("the Kubernetes API ({})", config.cluster_url);
        let client = Client::try_from(config)?;
        Ok(Self::with_client(
            client,
            server,
            cluster_domain,
            prefer,
            sync_timeout,
        ))
    }

    /// A resolver on `client` (`server` names it in messages).
    pub fn with_client(
        client: Client,
        server: String,
        cluster_domain: &str,
        prefer: Family,
        sync_timeout: Duration,
    ) -> Self {
        KubeResolver {
            client,
            server,
            prefer,
            sync_timeout,
            watches: Mutex::new(HashMap::new()),
            pods: Arc::default(),
            cluster_ips: Arc::default(),
            cluster_ips_watch: std::sync::OnceLock::new(),
            cluster_domain: cluster_domain.to_string(),
            tls_naming: None,
        }
    }

    /// Names the identities of meshed pods (their service accounts, Linkerd's DNS-style
    /// `<sa>.<ns>.serviceaccount.identity.<control-plane-ns>.<trust-domain>`) in this trust domain,
    /// so requests to them are mutual TLS expecting that identity. Without it (a proxy with no
    /// identity of its own) endpoints carry none.
    pub fn identities_in(mut self, trust_domain: &str, control_plane_namespace: &str) -> Self {
        self.tls_naming = Some(TlsNaming {
            trust_domain: trust_domain.to_string(),
            control_plane_namespace: control_plane_namespace.to_string(),
        });
        self
    }

    /// Starts the cluster-wide watch of Services once; each change rebuilds the ClusterIP map.
    /// Returns whether the first list is in.
    fn watch_cluster_ips(&self) -> (tokio::sync::watch::Receiver<bool>, Instant) {
        let (_, synced, started) = self.cluster_ips_watch.get_or_init(|| {
            let (synced_tx, synced) = tokio::sync::watch::channel(false);
            let api: Api<Service> = Api::all(self.client.clone());
            let (store, writer) = reflector::store();
            let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()));
            let map = self.cluster_ips.clone();
            let domain = self.cluster_domain.clone();
            let task = tokio::spawn(async move {
                let rebuild = || {
                    let services = store.state();
                    map.store(Arc::new(ClusterIps::new(
                        services.iter().map(|s| &**s),
                        &domain,
                    )));
                    synced_tx.send_replace(true);
                };
                let what = "the Services of every namespace (for ClusterIPs)";
                drive(stream, what, LastError::default(), rebuild).await;
            });
            (task.abort_handle(), synced, Instant::now())
        });
        (synced.clone(), *started)
    }

    /// What is known of pod `name` in `namespace`; an unknown one is asked for in the
    /// background, and is plain (no identity, no TLS) until the answer is in.
    fn pod(&self, namespace: &str, name: &str) -> Option<Arc<KnownPod>> {
        let key = (namespace.to_string(), name.to_string());
        let mut pods = self.pods.lock().unwrap_or_else(|p| p.into_inner());
        match pods.get(&key) {
            Some(PodState::Known(known)) => return Some(known.clone()),
            Some(PodState::Pending) => return None,
            Some(PodState::Failed(at)) if at.elapsed() < POD_RETRY => return None,
            _ => {}
        }
        if pods.len() >= MAX_KNOWN_PODS {
            pods.clear();
        }
        pods.insert(key.clone(), PodState::Pending);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let cache = self.pods.clone();
        let naming = self.tls_naming.clone();
        tokio::spawn(async move {
            let state = match api.get_opt(&key.1).await {
                Ok(pod) => PodState::Known(Arc::new(pod.map_or_else(KnownPod::default, |p| {
                    known_pod(&key.0, &key.1, &pod_identity(&p), naming.as_ref())
                }))),
                Err(e) => {
                    tracing::warn!("getting pod {}/{}: {}", key.0, key.1, api_error_text(&e));
                    PodState::Failed(Instant::now())
                }
            };
            cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, state);
        });
        None
    }

    /// The watches of `service`, started now if this is its first lookup; `None` when
    /// [`MAX_WATCHED_SERVICES`] are watched already.
    fn watch(&self, service: &ServiceName) -> Option<Arc<ServiceWatch>> {
        let key = (service.namespace.clone(), service.name.clone());
        let mut watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = watches.get(&key) {
            return Some(w.clone());
        }
        if watches.len() >= MAX_WATCHED_SERVICES {
            return None;
        }
        let errors: [LastError; 2] = Default::default();
        let slices_api: Api<EndpointSlice> =
            Api::namespaced(self.client.clone(), &service.namespace);
        let (slices, slices_task) = spawn_reflector(
            slices_api,
            watcher::Config::default().labels(&format!("{SERVICE_NAME_LABEL}={}", service.name)),
            errors[0].clone(),
            format!(
                "the EndpointSlices of {}/{}",
                service.namespace, service.name
            ),
        );
        let service_api: Api<Service> = Api::namespaced(self.client.clone(), &service.namespace);
        let (service_store, service_task) = spawn_reflector(
            service_api,
            watcher::Config::default().fields(&format!("metadata.name={}", service.name)),
            errors[1].clone(),
            format!("the Service {}/{}", service.namespace, service.name),
        );
        let w = Arc::new(ServiceWatch {
            slices,
            service: service_store,
            errors,
            tasks: [slices_task, service_task],
            started: Instant::now(),
        });
        watches.insert(key, w.clone());
        Some(w)
    }

    fn endpoints(&self, watch: &ServiceWatch, service: &ServiceName) -> Vec<Endpoint> {
        let Some(svc) = watch.service.state().into_iter().next() else {
            return Vec::new();
        };
        let Some(name) = port_name(&svc, service.port) else {
            return Vec::new();
        };
        ready_addresses(&watch.slices.state(), &name, self.prefer)
            .into_iter()
            .map(|a| {
                let known = a.pod.and_then(|pod| self.pod(&service.namespace, &pod));
                Endpoint {
                    addr: a.addr,
                    identity: known.as_ref().and_then(|k| k.identity.clone()),
                    tls: known.and_then(|k| k.tls.clone()),
                }
            })
            .collect()
    }
}

/// Runs a reflector for `api` with `config` in the background: its store, and the task.
fn spawn_reflector<K>(
    api: Api<K>,
    config: watcher::Config,
    error: LastError,
    what: String,
) -> (Store<K>, AbortHandle)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config));
    let task = tokio::spawn(async move { drive(stream, &what, error, || {}).await });
    (store, task.abort_handle())
}

impl Resolve for KubeResolver {
    fn resolve<'a>(&'a self, service: &'a ServiceName) -> BoxFuture<'a, Vec<Endpoint>> {
        Box::pin(async move {
            let Some(watch) = self.watch(service) else {
                return Vec::new();
            };
            let synced = async {
                let _ = watch.slices.wait_until_ready().await;
                let _ = watch.service.wait_until_ready().await;
            };
            let left = self.sync_timeout.saturating_sub(watch.started.elapsed());
            let _ = tokio::time::timeout(left, synced).await;
            self.endpoints(&watch, service)
        })
    }

    fn describe(&self) -> String {
        self.server.clone()
    }

    fn service_at<'a>(&'a self, addr: SocketAddr) -> BoxFuture<'a, Option<ServiceName>> {
        Box::pin(async move {
            let (mut synced, started) = self.watch_cluster_ips();
            // The first captured connections wait for the first list, as a lookup does, and only
            // they: an API that never answers must not delay every connection.
            let left = self.sync_timeout.saturating_sub(started.elapsed());
            let _ = tokio::time::timeout(left, synced.wait_for(|s| *s)).await;
            self.cluster_ips.load().service_at(addr).cloned()
        })
    }

    fn explain<'a>(&'a self, service: &'a ServiceName) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            let key = (service.namespace.clone(), service.name.clone());
            let watch = self
                .watches
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&key)
                .cloned();
            let Some(watch) = watch else {
                return Some(format!(
                    "{MAX_WATCHED_SERVICES} services are watched already, the most one proxy watches"
                ));
            };
            let errors: Vec<String> = watch
                .errors
                .iter()
                .filter_map(|e| e.lock().unwrap_or_else(|p| p.into_inner()).clone())
                .collect();
            if !errors.is_empty() {
                return Some(errors.join("; "));
            }
            let synced = watch.slices.wait_until_ready();
            if tokio::time::timeout(Duration::ZERO, synced).await.is_err() {
                return Some(format!(
                    "the first list of its EndpointSlices did not arrive within {:?}",
                    self.sync_timeout
                ));
            }
            let Some(svc) = watch.service.state().into_iter().next() else {
                return Some(format!(
                    "the API has no Service {} in namespace {}",
                    service.name, service.namespace
                ));
            };
            if port_name(&svc, service.port).is_none() {
                return Some(format!("the Service has no TCP port {}", service.port));
            }
            Some(format!(
                "no ready endpoints in its {} EndpointSlice(s)",
                watch.slices.state().len()
            ))
        })
    }
}

/// What requests to pod `name` in `namespace` carry and expect: the identity in `mesh-peer` only
/// for a meshed pod (its proxy strips the header), a pod without a known workload named as
/// itself; the TLS identity its proxy proves, its service account's (`default` when the spec
/// names none, as Kubernetes defaults it), when it has one and `naming` is set.
fn known_pod(
    namespace: &str,
    name: &str,
    pod: &PodIdentity,
    naming: Option<&TlsNaming>,
) -> KnownPod {
    let identity = pod.meshed.then(|| {
        Arc::new(Identity {
            namespace: namespace.to_string(),
            workload: pod.workload.clone().unwrap_or(Workload {
                kind: WorkloadKind::Pod,
                name: name.to_string(),
            }),
            pod: name.to_string(),
        })
    });
    let tls = naming.filter(|_| pod.proves_identity).and_then(|n| {
        let account = pod.service_account.as_deref().unwrap_or("default");
        let id = TlsId::new(
            account,
            namespace,
            &n.trust_domain,
            &n.control_plane_namespace,
        );
        // Kubernetes allows dots in a service account's name, which the DNS-style name cannot
        // carry: such a pod gets plaintext (refused, and explained, where the server requires
        // identity) rather than a handshake that cannot succeed.
        id.ok().map(|id| Arc::from(id.dns_name()))
    });
    KnownPod { identity, tls }
}

#[cfg(test)]
mod tests {
    //! The exact requests the resolver makes, answered by kube's own mock technique
    //! (`tower-test`): what RBAC must allow, and what an API server sees.
    use super::*;
    use http::{Request, Response};
    use kube::client::Body;
    use serde_json::json;

    fn list(kind: &str, items: serde_json::Value) -> Response<Body> {
        let body = json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "7"}, "items": items});
        Response::new(Body::from(serde_json::to_vec(&body).unwrap()))
    }

    #[tokio::test]
    async fn a_lookup_lists_the_service_and_its_slices_then_watches_them_from_that_version() {
        let (mock, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = Client::new(mock, "emojivoto");
        let resolver = KubeResolver::with_client(
            client,
            "the mock API".into(),
            "cluster.local",
            Family::V4,
            Duration::from_secs(5),
        );
        let api = tokio::spawn(async move {
            let mut handle = std::pin::pin!(handle);
            let mut seen = Vec::new();
            // Two lists (in either order), then two watches; the watches are left open.
            let mut open = Vec::new();
            for _ in 0..4 {
                let (request, send) = handle.next_request().await.expect("a request");
                let uri = request.uri().to_string();
                seen.push((request.method().to_string(), uri.clone()));
                if uri.contains("watch=true") {
                    open.push(send);
                } else if uri.contains("endpointslices") {
                    send.send_response(list(
                        "EndpointSliceList",
                        json!([{
                            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                            "metadata": {"name": "web-svc-x", "namespace": "emojivoto"},
                            "addressType": "IPv4",
                            "ports": [{"name": "http", "port": 8080}],
                            "endpoints": [{"addresses": ["10.1.0.7"], "conditions": {"ready": true}}],
                        }]),
                    ));
                } else {
                    send.send_response(list(
                        "ServiceList",
                        json!([{
                            "apiVersion": "v1", "kind": "Service",
                            "metadata": {"name": "web-svc", "namespace": "emojivoto"},
                            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
                        }]),
                    ));
                }
            }
            seen.sort();
            (seen, open)
        });
        let service = ServiceName {
            name: "web-svc".into(),
            namespace: "emojivoto".into(),
            cluster_domain: "cluster.local".into(),
            port: 80,
        };
        let endpoints = resolver.resolve(&service).await;
        assert_eq!(
            endpoints
                .iter()
                .map(|e| e.addr.to_string())
                .collect::<Vec<_>>(),
            ["10.1.0.7:8080"]
        );
        let (seen, _open) = tokio::time::timeout(Duration::from_secs(5), api)
            .await
            .expect("four requests")
            .unwrap();
        let get = |uri: &str| ("GET".to_string(), uri.to_string());
        assert_eq!(
            seen,
            [
                get("/api/v1/namespaces/emojivoto/services?&fieldSelector=metadata.name%3Dweb-svc&limit=500"),
                get("/api/v1/namespaces/emojivoto/services?&watch=true&timeoutSeconds=290&fieldSelector=metadata.name%3Dweb-svc&allowWatchBookmarks=true&resourceVersion=7"),
                get("/apis/discovery.k8s.io/v1/namespaces/emojivoto/endpointslices?&labelSelector=kubernetes.io%2Fservice-name%3Dweb-svc&limit=500"),
                get("/apis/discovery.k8s.io/v1/namespaces/emojivoto/endpointslices?&watch=true&timeoutSeconds=290&labelSelector=kubernetes.io%2Fservice-name%3Dweb-svc&allowWatchBookmarks=true&resourceVersion=7"),
            ]
        );
    }

    #[test]
    fn a_pod_s_tls_identity_is_its_service_account_s_in_this_proxy_s_trust_domain() {
        let naming = TlsNaming {
            trust_domain: "example.org".into(),
            control_plane_namespace: "mesh".into(),
        };
        let pod = |sa: Option<&str>, proves_identity: bool| PodIdentity {
            meshed: true,
            workload: None,
            service_account: sa.map(String::from),
            proves_identity,
        };
        let tls = |p: &PodIdentity, n: Option<&TlsNaming>| {
            known_pod("emojivoto", "web-0", p, n)
                .tls
                .map(|t| t.to_string())
        };
        assert_eq!(
            tls(&pod(Some("web"), true), Some(&naming)).as_deref(),
            Some("web.emojivoto.serviceaccount.identity.mesh.example.org")
        );
        // Kubernetes' default service account when the spec names none.
        assert_eq!(
            tls(&pod(None, true), Some(&naming)).as_deref(),
            Some("default.emojivoto.serviceaccount.identity.mesh.example.org")
        );
        assert_eq!(tls(&pod(Some("web"), false), Some(&naming)), None);
        // This proxy has no identity: nothing to expect.
        assert_eq!(tls(&pod(Some("web"), true), None), None);
        // A dotted name (allowed by Kubernetes) cannot be a DNS-style identity: plaintext.
        assert_eq!(tls(&pod(Some("ci.bot"), true), Some(&naming)), None);
        let known = known_pod("emojivoto", "web-0", &pod(Some("web"), true), None);
        assert_eq!(known.identity.unwrap().pod, "web-0");
    }
}
