//! A loopback stand-in for the Kubernetes API server, for `mesh proxy --discovery kube`: it
//! serves list and chunked watch responses for the collections a test fills, the way the API
//! reference describes them (no API server can be installed on these machines; the objects the
//! tests serve are written from the reference, and say so where they are built:
//! tests/it/kube_discovery.rs).
//!
//! - `GET <collection>` → a `…List` with `metadata.resourceVersion`, filtered by `labelSelector`
//!   (equality terms) and `fieldSelector` (`metadata.name=`, `metadata.namespace=`);
//! - `GET <collection>?watch=true&resourceVersion=N` → newline-delimited watch events, kept open:
//!   `ADDED`/`MODIFIED`/`DELETED` as the test changes objects, a `BOOKMARK` first when asked for;
//! - faults on demand: 403 Forbidden for a collection, the next watches answered 410 Gone
//!   (`ERROR` event, as the API does), every open watch stream dropped, the whole server away.
//!
//! Every request is recorded with the RBAC verb it needs (`list`, `watch`, `get`), so a test can
//! check it against a ClusterRole.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// One request the server saw, as RBAC would judge it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    /// `list`, `watch` or `get`.
    pub verb: String,
    /// The API group (`""` for the core group).
    pub group: String,
    /// The resource (`endpointslices`).
    pub resource: String,
    /// The path and query, for messages.
    pub uri: String,
}

#[derive(Default)]
struct State {
    resource_version: u64,
    /// Collection path (`/api/v1/namespaces/emojivoto/services`) → objects by name.
    collections: BTreeMap<String, BTreeMap<String, Value>>,
    watches: Vec<Watch>,
    /// Every change, oldest first: a watch from resourceVersion N is sent the changes after N
    /// first, as the API server's watch cache does.
    history: Vec<(u64, String, &'static str, Value)>,
    seen: Vec<Seen>,
    forbidden: BTreeSet<String>,
    gone: usize,
    /// Whether watch events go out in pieces, a pause between them (a slow or congested link).
    slow_chunks: bool,
}

struct Watch {
    collection: String,
    labels: Vec<(String, String)>,
    fields: Vec<(String, String)>,
    events: mpsc::Sender<Bytes>,
}

/// The running server; stopped when dropped.
pub struct ReplayApi {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<oneshot::Sender<()>>,
}

impl ReplayApi {
    /// Starts on 127.0.0.1, port chosen by the OS.
    pub async fn start() -> ReplayApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, Arc::default())
    }

    fn serve(listener: TcpListener, state: Arc<Mutex<State>>) -> ReplayApi {
        let addr = listener.local_addr().unwrap();
        let (stop, mut stopped) = oneshot::channel::<()>();
        let shared = state.clone();
        tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let state = shared.clone();
                        conns.spawn(async move {
                            let service = service_fn(move |req| {
                                let state = state.clone();
                                async move { Ok::<_, Infallible>(answer(&state, req)) }
                            });
                            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                }
            }
            // Away: every connection ends with the server.
            conns.abort_all();
        });
        ReplayApi {
            addr,
            state,
            stop: Some(stop),
        }
    }

    /// Starts on 127.0.0.1 inside the network namespace `netns` (`/run/netns/NAME`, as
    /// `ip netns add` makes it), on a thread of its own: for a proxy in that namespace, where the
    /// test's own loopback cannot be reached.
    pub fn start_in_netns(netns: &str) -> ReplayApi {
        let path = format!("/run/netns/{netns}");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("the namespace's file");
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let api = ReplayApi::start().await;
                let done = api.state.clone();
                tx.send(api).unwrap();
                // Serve until the server is stopped (its state is then dropped by the test).
                while Arc::strong_count(&done) > 1 {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            });
        });
        rx.recv().expect("the replay API started")
    }

    /// A kubeconfig naming this server (plain HTTP, a bearer token), namespace `emojivoto`.
    pub fn kubeconfig(&self, dir: &std::path::Path) -> std::path::PathBuf {
        kubeconfig_for(self.addr, dir)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Creates or replaces `object` in `collection` (ADDED or MODIFIED to watchers).
    pub fn apply(&self, collection: &str, mut object: Value) {
        let mut state = self.lock();
        state.resource_version += 1;
        object["metadata"]["resourceVersion"] = json!(state.resource_version.to_string());
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let objects = state.collections.entry(collection.to_string()).or_default();
        let kind: &'static str = if objects.contains_key(&name) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        objects.insert(name, object.clone());
        notify(&mut state, collection, kind, &object);
    }

    /// Deletes the object `name` from `collection` (DELETED to watchers).
    pub fn delete(&self, collection: &str, name: &str) {
        let mut state = self.lock();
        state.resource_version += 1;
        let rv = state.resource_version.to_string();
        let Some(mut object) = state
            .collections
            .get_mut(collection)
            .and_then(|c| c.remove(name))
        else {
            return;
        };
        object["metadata"]["resourceVersion"] = json!(rv);
        notify(&mut state, collection, "DELETED", &object);
    }

    /// Answers 403 Forbidden to every request on `collection` from now on.
    pub fn forbid(&self, collection: &str) {
        self.lock().forbidden.insert(collection.to_string());
    }

    /// The next `n` watch requests get 410 Gone (the client must list again).
    pub fn expire_next_watches(&self, n: usize) {
        self.lock().gone = n;
    }

    /// Sends every watch event from now on in small pieces with pauses between them.
    pub fn slow_chunks(&self) {
        self.lock().slow_chunks = true;
    }

    /// Ends every open watch stream, as a restarted API server or a load balancer would.
    pub fn drop_watches(&self) {
        self.lock().watches.clear();
    }

    /// How many watch streams are open.
    pub fn open_watches(&self) -> usize {
        let mut state = self.lock();
        state.watches.retain(|w| !w.events.is_closed());
        state.watches.len()
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// Stops serving (the API is away); the objects are kept for [`ReplayApi::restart`].
    pub fn stop(&mut self) {
        self.lock().watches.clear();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Serves again on the same address, with the same objects.
    pub async fn restart(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        let state = self.state.clone();
        *self = Self::serve(listener, state);
    }
}

/// A kubeconfig for an API server at `addr` (plain HTTP, a bearer token), namespace
/// `emojivoto`, written in `dir`.
pub fn kubeconfig_for(addr: SocketAddr, dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: replay\n  cluster:\n    server: http://{}\n\
                 users:\n- name: replay\n  user:\n    token: replay-token\ncontexts:\n- name: replay\n  \
                 context:\n    cluster: replay\n    user: replay\n    namespace: emojivoto\n\
                 current-context: replay\n",
                addr
            ),
        )
        .unwrap();
    path
}

impl Drop for ReplayApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Whether a request on `asked` (a namespaced collection, or the cluster-wide one such as
/// `/api/v1/services`) covers objects kept in `kept` (always namespaced, or cluster-scoped).
fn covers(asked: &str, kept: &str) -> bool {
    if asked == kept {
        return true;
    }
    // `/api/v1/services` covers `/api/v1/namespaces/NS/services`.
    let Some((prefix, resource)) = asked.rsplit_once('/') else {
        return false;
    };
    kept.strip_prefix(&format!("{prefix}/namespaces/"))
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, r)| r == resource)
}

fn notify(state: &mut State, collection: &str, kind: &'static str, object: &Value) {
    state.history.push((
        state.resource_version,
        collection.to_string(),
        kind,
        object.clone(),
    ));
    let line = event(kind, object);
    state.watches.retain(|w| {
        if !covers(&w.collection, collection) || !selected(object, &w.labels, &w.fields) {
            return !w.events.is_closed();
        }
        // A watcher that does not keep up is dropped, as the API server drops slow watchers.
        w.events.try_send(line.clone()).is_ok()
    });
}

fn event(kind: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap();
    line.push(b'\n');
    Bytes::from(line)
}

/// `labels`/`fields`: equality terms of a selector (`a=b,c=d`).
fn terms(selector: Option<&str>) -> Vec<(String, String)> {
    selector
        .into_iter()
        .flat_map(|s| s.split(','))
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.trim_end_matches('=').to_string(), v.to_string()))
        .collect()
}

fn selected(object: &Value, labels: &[(String, String)], fields: &[(String, String)]) -> bool {
    labels
        .iter()
        .all(|(k, v)| object["metadata"]["labels"][k].as_str() == Some(v))
        && fields.iter().all(|(k, v)| {
            let got = k
                .split('.')
                .fold(object, |o, part| &o[part])
                .as_str()
                .unwrap_or("");
            got == v
        })
}

fn query(uri: &http::Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = percent_decode(v);
            (k.to_string(), v)
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => out.push(b),
                    Err(_) => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `/api/v1/namespaces/NS/RESOURCE` or `/apis/GROUP/VERSION/namespaces/NS/RESOURCE` (or the
/// cluster-wide forms): the API group and resource.
fn group_and_resource(path: &str) -> (String, String) {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let group = match parts.first() {
        Some(&"apis") => parts.get(1).copied().unwrap_or("").to_string(),
        _ => String::new(),
    };
    (group, parts.last().copied().unwrap_or("").to_string())
}

fn status(code: StatusCode, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code.as_u16()})
}

fn full(code: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())).boxed())
        .unwrap()
}

/// The resources this server serves, by their plural.
const RESOURCES: &[&str] = &["endpointslices", "services", "pods", "serviceprofiles"];

fn answer(state: &Arc<Mutex<State>>, req: Request<Incoming>) -> Response<Body> {
    let uri = req.uri().clone();
    let q = query(&uri);
    let watching = matches!(q.get("watch").map(String::as_str), Some("true" | "1"));
    // `<collection>/<name>`: a get of one object.
    let (path, name) = match uri.path().rsplit_once('/') {
        Some((collection, name))
            if !RESOURCES.contains(&name)
                && RESOURCES
                    .iter()
                    .any(|r| collection.ends_with(&format!("/{r}"))) =>
        {
            (collection.to_string(), Some(name.to_string()))
        }
        _ => (uri.path().to_string(), None),
    };
    let (group, resource) = group_and_resource(&path);
    let mut st = state.lock().unwrap();
    let verb = match (&name, watching) {
        (Some(_), _) => "get",
        (None, true) => "watch",
        (None, false) => "list",
    };
    st.seen.push(Seen {
        verb: verb.to_string(),
        group: group.clone(),
        resource: resource.clone(),
        uri: uri.to_string(),
    });
    if st.forbidden.contains(&path) {
        let group_words = if group.is_empty() {
            "\"\"".to_string()
        } else {
            format!("\"{group}\"")
        };
        let message = format!(
            "{resource}{} is forbidden: User \"system:serviceaccount:emojivoto:web\" cannot {verb} \
             resource \"{resource}\" in API group {group_words} in the namespace \"emojivoto\"",
            if group.is_empty() { String::new() } else { format!(".{group}") },
        );
        return full(
            StatusCode::FORBIDDEN,
            &status(StatusCode::FORBIDDEN, "Forbidden", &message),
        );
    }
    if let Some(name) = name {
        return match st.collections.get(&path).and_then(|c| c.get(&name)) {
            Some(object) => full(StatusCode::OK, object),
            None => full(
                StatusCode::NOT_FOUND,
                &status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("{resource} \"{name}\" not found"),
                ),
            ),
        };
    }
    let labels = terms(q.get("labelSelector").map(String::as_str));
    let fields = terms(q.get("fieldSelector").map(String::as_str));
    if !watching {
        let items: Vec<Value> = st
            .collections
            .iter()
            .filter(|(kept, _)| covers(&path, kept))
            .flat_map(|(_, c)| c.values())
            .filter(|o| selected(o, &labels, &fields))
            .cloned()
            .collect();
        let kind = list_kind(&resource);
        return full(
            StatusCode::OK,
            &json!({"kind": kind, "apiVersion": api_version(&path),
                    "metadata": {"resourceVersion": st.resource_version.to_string()},
                    "items": items}),
        );
    }
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    if st.gone > 0 {
        st.gone -= 1;
        let expired = status(StatusCode::GONE, "Expired", "too old resource version");
        let _ = tx.try_send(event("ERROR", &expired));
        drop(tx);
    } else {
        if q.get("allowWatchBookmarks").map(String::as_str) == Some("true") {
            let bookmark = json!({"kind": singular_kind(&resource), "apiVersion": api_version(&path),
                                  "metadata": {"resourceVersion": st.resource_version.to_string()}});
            let _ = tx.try_send(event("BOOKMARK", &bookmark));
        }
        // The changes since the version the client has, then the live ones.
        let since: u64 = q
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(st.resource_version);
        for (rv, collection, kind, object) in &st.history {
            if *rv > since && covers(&path, collection) && selected(object, &labels, &fields) {
                let _ = tx.try_send(event(kind, object));
            }
        }
        st.watches.push(Watch {
            collection: path,
            labels,
            fields,
            events: tx,
        });
    }
    let slow = st.slow_chunks;
    // Each event, or with slow chunks its pieces of at most 7 bytes, 5 ms apart: a JSON line
    // split anywhere, as TCP may deliver it.
    let pieces = futures_util::stream::unfold(rx, |mut rx| async move {
        let event = rx.recv().await?;
        Some((event, rx))
    })
    .flat_map(move |event: Bytes| {
        let size = if slow { 7 } else { event.len().max(1) };
        let parts: Vec<Bytes> = (0..event.len())
            .step_by(size)
            .map(|i| event.slice(i..(i + size).min(event.len())))
            .collect();
        futures_util::stream::iter(parts)
    });
    let stream = pieces.then(move |piece| async move {
        if slow {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        Ok::<_, Infallible>(Frame::data(piece))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap()
}

fn api_version(path: &str) -> String {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["apis", group, version, ..] => format!("{group}/{version}"),
        [_, version, ..] => (*version).to_string(),
        _ => "v1".to_string(),
    }
}

fn singular_kind(resource: &str) -> &'static str {
    match resource {
        "endpointslices" => "EndpointSlice",
        "services" => "Service",
        "pods" => "Pod",
        "serviceprofiles" => "ServiceProfile",
        _ => "Unknown",
    }
}

fn list_kind(resource: &str) -> String {
    format!("{}List", singular_kind(resource))
}
