//! The tap contract between a proxy and its readers: the JSON events a proxy's admin `/tap` streams
//! (one per line, see `docs/tap.md`) and the query that selects them ([`query`]).
//!
//! An event has the shape `linkerd viz tap -o json` prints (its `viz/cmd/tap.go` display types):
//! `source` and `destination` with a `metadata` label map (`deployment`, `namespace`, `pod`,
//! `tls` … as Linkerd's tap server fills it), `routeMeta` (the ServiceProfile route the proxy
//! matched), `proxyDirection`, and one of `requestInitEvent`, `responseInitEvent`,
//! `responseEndEvent`, with durations as `{seconds, nanos}` and header lists ([`json`]). So
//! scripts written for Linkerd's tap read these; mesh's additions (`proxyError`, `grpcStatus`,
//! `reset`, `error`) are listed in `docs/tap.md`. The proxy builds events only while someone
//! taps; `mesh tap` prints them and `mesh profile --tap` reads their requests.

pub mod json;
pub mod query;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize, Serializer};

use crate::identity::{Identity, WorkloadKind};

pub use json::{Header, HeaderValue, ProtoDuration};
pub use query::{TapQuery, TapQueryError, DEFAULT_MAX_RPS};

/// One line of `/tap`: an event, or a note that the reader lost some.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TapLine {
    /// `{"lost": N}`: the reader was too slow and N events were dropped for it.
    Lost {
        lost: u64,
    },
    Event(Box<TapEvent>),
}

/// One request or response event seen by a proxy. Fields in Linkerd's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TapEvent {
    pub source: Peer,
    pub destination: Peer,
    /// The route the request matched (`null` when the proxy answered it before matching one).
    #[serde(default)]
    pub route_meta: Option<RouteMeta>,
    pub proxy_direction: ProxyDirection,
    #[serde(flatten)]
    pub kind: TapEventKind,
}

/// Which of the proxy's sides saw the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProxyDirection {
    /// From a caller to the local app.
    Inbound,
    /// From the local app to a service.
    Outbound,
}

/// One end of a request: its socket address and what is known about its workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub ip: std::net::IpAddr,
    pub port: u16,
    /// The peer's labels (`null` when none is known).
    #[serde(default, deserialize_with = "json::null_as_default")]
    pub metadata: PeerMetadata,
}

/// What is known about a peer, as Linkerd's tap labels it: `namespace`, the workload under its
/// kind's label (`deployment: web`, `statefulset: zk`, `k8s_job: …`, the words of the proxies'
/// metrics), `pod`, and `tls`: `true` when the connection with the peer was mutual TLS (the peer
/// proved its identity, as the metrics' `tls="true"`), else `no_identity`. A map, printed with
/// sorted keys as Go prints one, `null` when empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct PeerMetadata {
    labels: BTreeMap<String, String>,
}

/// The ServiceProfile route a request matched, as Linkerd labels it: `{"route": "GET /api/list"}`,
/// or `{"route": "[DEFAULT]"}` when no route of the profile (or no profile) matched — the
/// `rt_route` of the proxy's metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RouteMeta {
    pub labels: BTreeMap<String, String>,
}

/// The three events of one request's life; each names its request by [`StreamId`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TapEventKind {
    RequestInitEvent(RequestInit),
    ResponseInitEvent(ResponseInit),
    ResponseEndEvent(ResponseEnd),
}

/// Which request an event belongs to: a per-proxy counter (`base`) and the stream (always 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamId {
    pub base: u64,
    pub stream: u64,
}

/// A request arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestInit {
    pub id: StreamId,
    pub method: String,
    /// `HTTP` or `HTTPS`.
    pub scheme: String,
    pub authority: String,
    pub path: String,
    /// The request headers when the tap asked for them (`headers=true`); `null` otherwise.
    #[serde(
        default,
        serialize_with = "json::empty_as_null",
        deserialize_with = "json::null_as_default"
    )]
    pub headers: Vec<Header>,
}

/// The response headers arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseInit {
    pub id: StreamId,
    pub since_request_init: ProtoDuration,
    pub http_status: u16,
    /// The response headers when the tap asked for them; `null` otherwise.
    #[serde(
        default,
        serialize_with = "json::empty_as_null",
        deserialize_with = "json::null_as_default"
    )]
    pub headers: Vec<Header>,
    /// mesh: set when the proxy answered itself: the `error` label of the proxy's
    /// `{inbound,outbound}_http_errors_total` (`"no endpoints"`, `"response timeout"`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_error: Option<String>,
}

/// The response body ended (or was cut off).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseEnd {
    pub id: StreamId,
    pub since_request_init: ProtoDuration,
    pub since_response_init: ProtoDuration,
    /// Data bytes of the response body.
    pub response_bytes: u64,
    /// The response trailers when the tap asked for headers; `null` otherwise.
    #[serde(
        default,
        serialize_with = "json::empty_as_null",
        deserialize_with = "json::null_as_default"
    )]
    pub trailers: Vec<Header>,
    /// `grpc-status` of a gRPC response, 0 otherwise (as Linkerd prints it: 0 is also `OK`;
    /// [`grpc_status`](Self::grpc_status) tells them apart).
    #[serde(default)]
    pub grpc_status_code: u32,
    /// The HTTP/2 reset code of a stream that was reset, in Linkerd's events; mesh says
    /// [`reset`](Self::reset) and [`error`](Self::error) instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_error_code: Option<u32>,
    /// mesh: `grpc-status` from the trailers (or a trailers-only response), present only for gRPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_status: Option<u32>,
    /// mesh: set when the exchange broke off instead of ending: the caller cancelled it, or the
    /// response was cut off upstream ([`error`](Self::error) says which).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    /// mesh: with `reset`: `cancel` (the caller reset its stream or hung up, before or during the
    /// response) or `reset` (the upstream reset the stream or its connection broke mid-body) —
    /// the `error` label of the proxy's metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

// === impl Peer ===

impl Peer {
    /// A peer at `addr` with `metadata`.
    pub fn new(addr: SocketAddr, metadata: PeerMetadata) -> Self {
        Peer {
            ip: addr.ip(),
            port: addr.port(),
            metadata,
        }
    }
}

// === impl PeerMetadata ===

impl PeerMetadata {
    /// A peer known only by its `tls` state.
    pub fn new(tls: &str) -> Self {
        let mut labels = BTreeMap::new();
        labels.insert("tls".to_string(), tls.to_string());
        PeerMetadata { labels }
    }

    /// A peer of the workload `identity`, with its `tls` state.
    pub fn of(identity: &Identity, tls: &str) -> Self {
        let mut m = PeerMetadata::new(tls);
        let workload = &identity.workload;
        m.insert(workload.kind.label(), &workload.name);
        m.insert("namespace", &identity.namespace);
        m.insert("pod", &identity.pod);
        m
    }

    /// Sets the label `key`.
    pub fn insert(&mut self, key: &str, value: &str) {
        self.labels.insert(key.to_string(), value.to_string());
    }

    /// The label `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// Every label, by key.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// The peer's namespace.
    pub fn namespace(&self) -> Option<&str> {
        self.get("namespace")
    }

    /// The peer's pod.
    pub fn pod(&self) -> Option<&str> {
        self.get("pod")
    }

    /// The `tls` label (empty when absent, as `linkerd viz tap` prints `tls=`).
    pub fn tls(&self) -> &str {
        self.get("tls").unwrap_or_default()
    }

    /// Whether the peer belongs to `workload`, written `deploy/voting` (any kind word
    /// [`WorkloadKind::parse`] reads).
    pub fn is_workload(&self, workload: &str) -> bool {
        let Some((kind, name)) = workload.split_once('/') else {
            return false;
        };
        WorkloadKind::parse(kind).is_some_and(|k| self.get(k.label()) == Some(name))
    }
}

impl Serialize for PeerMetadata {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        json::empty_map_as_null(&self.labels, s)
    }
}

// === impl RouteMeta ===

impl RouteMeta {
    /// The route named `name`.
    pub fn route(name: &str) -> Self {
        let mut labels = BTreeMap::new();
        labels.insert("route".to_string(), name.to_string());
        RouteMeta { labels }
    }

    /// The route's name.
    pub fn name(&self) -> Option<&str> {
        self.labels.get("route").map(String::as_str)
    }
}

// === impl TapEvent ===

impl TapEvent {
    /// The request this event belongs to.
    pub fn id(&self) -> StreamId {
        match &self.kind {
            TapEventKind::RequestInitEvent(e) => e.id,
            TapEventKind::ResponseInitEvent(e) => e.id,
            TapEventKind::ResponseEndEvent(e) => e.id,
        }
    }

    /// The name of the route the request matched, when the proxy matched one.
    pub fn route(&self) -> Option<&str> {
        self.route_meta.as_ref().and_then(RouteMeta::name)
    }
}

// === impl ResponseEnd ===

impl ResponseEnd {
    /// The gRPC status to show: mesh's `grpcStatus`, or, in an event without it (Linkerd's), a
    /// `grpcStatusCode` other than 0.
    pub fn shown_grpc_status(&self) -> Option<u32> {
        self.grpc_status
            .or((self.grpc_status_code != 0).then_some(self.grpc_status_code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_as_events_or_lost_notes() {
        let lost: TapLine = serde_json::from_str(r#"{"lost": 3}"#).unwrap();
        assert_eq!(lost, TapLine::Lost { lost: 3 });
    }

    #[test]
    fn peers_are_labelled_as_linkerd_labels_them() {
        let web = Identity {
            namespace: "emojivoto".into(),
            workload: "deploy/web".parse().unwrap(),
            pod: "web-0".into(),
        };
        let m = PeerMetadata::of(&web, "no_identity");
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"deployment":"web","namespace":"emojivoto","pod":"web-0","tls":"no_identity"}"#
        );
        assert!(m.is_workload("deploy/web") && m.is_workload("deployment/web"));
        assert!(!m.is_workload("sts/web") && !m.is_workload("web"));
        let job = Identity {
            workload: "job/migrate".parse().unwrap(),
            ..web
        };
        assert_eq!(
            PeerMetadata::of(&job, "no_identity").get("k8s_job"),
            Some("migrate")
        );
        // Linkerd prints a peer nothing is known about as `null`; both read back alike.
        let empty: Peer = serde_json::from_str(r#"{"ip":"::1","port":0,"metadata":null}"#).unwrap();
        assert_eq!(empty.metadata, PeerMetadata::default());
        assert_eq!(
            serde_json::to_string(&empty).unwrap(),
            r#"{"ip":"::1","port":0,"metadata":null}"#
        );
    }

    #[test]
    fn events_carry_their_route_and_null_header_lists() {
        let event = TapEvent {
            source: Peer::new(([127, 0, 0, 1], 1).into(), PeerMetadata::new("no_identity")),
            destination: Peer::new(([127, 0, 0, 1], 2).into(), PeerMetadata::new("no_identity")),
            route_meta: Some(RouteMeta::route("GET /api/list")),
            proxy_direction: ProxyDirection::Outbound,
            kind: TapEventKind::ResponseEndEvent(ResponseEnd {
                id: StreamId { base: 3, stream: 0 },
                since_request_init: std::time::Duration::from_millis(3).into(),
                since_response_init: std::time::Duration::ZERO.into(),
                response_bytes: 12,
                trailers: vec![],
                grpc_status_code: 0,
                reset_error_code: None,
                grpc_status: None,
                reset: false,
                error: None,
            }),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json["routeMeta"],
            serde_json::json!({"route": "GET /api/list"})
        );
        let end = &json["responseEndEvent"];
        assert_eq!(
            end["sinceRequestInit"],
            serde_json::json!({"nanos": 3_000_000})
        );
        assert_eq!(end["sinceResponseInit"], serde_json::json!({}));
        assert_eq!(end["trailers"], serde_json::Value::Null);
        assert_eq!(end["grpcStatusCode"], 0);
        assert_eq!(event.route(), Some("GET /api/list"));
        let back: TapEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }
}
