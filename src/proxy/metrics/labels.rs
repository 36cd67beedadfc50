//! Typed, closed metric labels. Nothing here is a raw path or an error string: authorities come
//! from discovery or the workload's own services, routes from ServiceProfiles, peers from identity.

use std::fmt::Write;
use std::sync::Arc;

use crate::identity::Identity;

pub use crate::admin_api::stats::{Direction, PeerSide};

/// The labels of one HTTP series: direction, authority, peer workload and route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrafficLabels {
    pub direction: Direction,
    /// `web-svc.emojivoto.svc.cluster.local:8080`, or `ip:port` for a request to an address.
    pub authority: Arc<str>,
    /// The workload on the other side, when known (meshed).
    pub peer: Option<Arc<Identity>>,
    /// The ServiceProfile route, or `[DEFAULT]`.
    pub route: Arc<str>,
    /// Outbound, the service the authority resolved to; `None` for a request to an address (and
    /// inbound, where Linkerd has no `dst_service` either).
    pub service: Option<Arc<DstService>>,
    /// Whether the peer proved its identity by mutual TLS.
    pub tls: TlsStatus,
}

/// How the peer of a series was authenticated: Linkerd's `tls` label, with `client_id`
/// (inbound) or `server_id` (outbound) when it is `"true"`, or `no_tls_reason` when it is
/// `"no_identity"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsStatus {
    /// Mutual TLS: the peer's identity, its DNS-style name.
    Secured(Arc<str>),
    NotSecured(NoTlsReason),
}

/// Why a connection is not mutual TLS: Linkerd's `no_tls_reason` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoTlsReason {
    /// `no_tls_from_remote`: inbound, the caller spoke plaintext.
    NoTlsFromRemote,
    /// `not_provided_by_service_discovery`: outbound, discovery knows no identity for the
    /// endpoint (not meshed, or meshed without one).
    NotProvidedByServiceDiscovery,
    /// `local_identity_disabled`: this proxy has no identity (`--identity-dir`).
    LocalIdentityDisabled,
    /// `loopback`: the connection between the proxy and its own app, which stays in the pod.
    Loopback,
}

impl NoTlsReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            NoTlsReason::NoTlsFromRemote => "no_tls_from_remote",
            NoTlsReason::NotProvidedByServiceDiscovery => "not_provided_by_service_discovery",
            NoTlsReason::LocalIdentityDisabled => "local_identity_disabled",
            NoTlsReason::Loopback => "loopback",
        }
    }
}

impl TlsStatus {
    /// The `tls` label value: `true`, or `no_identity`.
    pub fn label(&self) -> &'static str {
        match self {
            TlsStatus::Secured(_) => "true",
            TlsStatus::NotSecured(_) => "no_identity",
        }
    }

    /// Pushes `tls` and `client_id`/`server_id` or `no_tls_reason`, as Linkerd labels them.
    pub fn push_labels(&self, direction: Direction, s: &mut String) {
        push_label(s, "tls", self.label());
        match self {
            TlsStatus::Secured(id) => {
                let key = match direction {
                    Direction::Inbound => "client_id",
                    Direction::Outbound => "server_id",
                };
                push_label(s, key, id);
            }
            TlsStatus::NotSecured(reason) => push_label(s, "no_tls_reason", reason.as_str()),
        }
    }

    /// The peer's identity when secured.
    pub fn peer_id(&self) -> Option<&Arc<str>> {
        match self {
            TlsStatus::Secured(id) => Some(id),
            TlsStatus::NotSecured(_) => None,
        }
    }
}

/// The service an outbound request went to: the `dst_service` and `dst_namespace` labels, as
/// Linkerd's destination controller names a service's endpoints to the proxy (its `service` and
/// `namespace` metric labels, which the proxy prefixes with `dst_`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DstService {
    /// The Service's name (`voting-svc`).
    pub name: Arc<str>,
    /// Its namespace.
    pub namespace: Arc<str>,
}

/// What a response was, as the labels of `response_total` see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResponseOutcome {
    /// The response's HTTP status; 0 when the request was cancelled before any response.
    pub status: u16,
    /// The gRPC status for gRPC responses that carried one.
    pub grpc_status: Option<u32>,
    pub failure: bool,
    /// Why the exchange did not end normally, if it did not (the `error` label).
    pub error: Option<StreamError>,
}

/// How an exchange broke off instead of ending normally: the `error` label of `response_total`
/// and the route families (always with `classification="failure"`), and `error` in tap's
/// `responseEndEvent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamError {
    /// `cancel`: the caller went away before the response ended — it reset its HTTP/2 stream (a
    /// gRPC deadline or cancel) or closed its connection — whether or not the response had
    /// started (`status_code="0"` when it had not).
    Cancel,
    /// `reset`: the response broke off upstream after it had started — the server reset the
    /// stream or its connection failed mid-body.
    Reset,
}

impl StreamError {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamError::Cancel => "cancel",
            StreamError::Reset => "reset",
        }
    }
}

impl ResponseOutcome {
    /// The `classification` label value.
    pub fn classification(self) -> &'static str {
        if self.failure {
            "failure"
        } else {
            "success"
        }
    }
}

/// Why the proxy answered a request itself: the `error` label of `inbound_http_errors_total` and
/// `outbound_http_errors_total`, as linkerd2-proxy counts its own errors. A closed set, each value
/// documented in docs/proxy.md; the text (`mesh-proxy-error`) says more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorReason {
    /// `no authority`: no `Host`, `:authority` or absolute URI (400).
    NoAuthority,
    /// `bad request`: an authority, target or `Host` that breaks HTTP's rules, a head the
    /// parser refused, or a request body the client broke off (400).
    BadRequest,
    /// `head too large`: a request head or target over the proxy's limits (431, 414).
    HeadTooLarge,
    /// `no endpoints`: a service discovery has no endpoints for (503).
    NoEndpoints,
    /// `unknown destination`: an address discovery does not know, or a name that is no cluster
    /// service (502).
    UnknownDestination,
    /// `forbidden`: a local address the caller named, or `CONNECT` to a port that is not opaque
    /// (403).
    Forbidden,
    /// `loop`: the request would come back to this proxy (508).
    Loop,
    /// `no app port`: inbound, a request naming none of the workload's service ports (421).
    NoAppPort,
    /// `failfast`: the service is failing fast, or too many requests wait for it (503).
    FailFast,
    /// `dispatch timeout`: no endpoint, HTTP/2 stream or HTTP/2 connection took the request
    /// within `--dispatch-timeout` (or the HTTP/2 ready timeout) (503).
    DispatchTimeout,
    /// `response timeout`: the route's timeout or `--response-timeout` passed (504).
    ResponseTimeout,
    /// `connect error`: the upstream could not be connected (502, 504).
    Connect,
    /// `not processed`: the upstream refused the request's HTTP/2 stream (or it was above a
    /// GOAWAY), and the retries such requests get are spent (503).
    NotProcessed,
    /// `connection closed`: the upstream closed the connection before answering (502).
    ConnectionClosed,
    /// `protocol error`: the upstream broke HTTP or the proxy's limits — not HTTP/2 where the
    /// caller spoke it, a response head over the limit, an unasked protocol switch (502).
    Protocol,
    /// `unexpected`: any other failure (502).
    Unexpected,
}

impl ErrorReason {
    /// Every reason, in the order rendered.
    pub const ALL: [ErrorReason; 16] = [
        ErrorReason::NoAuthority,
        ErrorReason::BadRequest,
        ErrorReason::HeadTooLarge,
        ErrorReason::NoEndpoints,
        ErrorReason::UnknownDestination,
        ErrorReason::Forbidden,
        ErrorReason::Loop,
        ErrorReason::NoAppPort,
        ErrorReason::FailFast,
        ErrorReason::DispatchTimeout,
        ErrorReason::ResponseTimeout,
        ErrorReason::Connect,
        ErrorReason::NotProcessed,
        ErrorReason::ConnectionClosed,
        ErrorReason::Protocol,
        ErrorReason::Unexpected,
    ];

    /// The `error` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorReason::NoAuthority => "no authority",
            ErrorReason::BadRequest => "bad request",
            ErrorReason::HeadTooLarge => "head too large",
            ErrorReason::NoEndpoints => "no endpoints",
            ErrorReason::UnknownDestination => "unknown destination",
            ErrorReason::Forbidden => "forbidden",
            ErrorReason::Loop => "loop",
            ErrorReason::NoAppPort => "no app port",
            ErrorReason::FailFast => "failfast",
            ErrorReason::DispatchTimeout => "dispatch timeout",
            ErrorReason::ResponseTimeout => "response timeout",
            ErrorReason::Connect => "connect error",
            ErrorReason::NotProcessed => "not processed",
            ErrorReason::ConnectionClosed => "connection closed",
            ErrorReason::Protocol => "protocol error",
            ErrorReason::Unexpected => "unexpected",
        }
    }
}

/// The labels of one TCP series.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TcpLabels {
    pub direction: Direction,
    pub side: PeerSide,
    /// The workload on the other side, when known.
    pub peer: Option<Arc<Identity>>,
    /// Whether the connection is mutual TLS with a peer that proved its identity (the app's
    /// side is [`NoTlsReason::Loopback`]).
    pub tls: TlsStatus,
}

/// Appends `,key="value"` with Prometheus escaping.
pub fn push_label(out: &mut String, key: &str, value: &str) {
    if !out.is_empty() {
        out.push(',');
    }
    out.push_str(key);
    out.push_str("=\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends the labels of a workload identity, each key prefixed (`dst_namespace`, `dst_deployment`).
pub fn push_identity(out: &mut String, prefix: &str, identity: &Identity) {
    push_workload(out, prefix, Some(&identity.namespace), identity);
}

/// Appends the outbound destination's labels in Linkerd's order: the service's (`dst_namespace`,
/// `dst_service`), then its endpoint's workload (`dst_deployment`, `dst_pod`), each when known.
pub fn push_destination(out: &mut String, service: Option<&DstService>, peer: Option<&Identity>) {
    match (service, peer) {
        (Some(service), peer) => {
            push_label(out, "dst_namespace", &service.namespace);
            push_label(out, "dst_service", &service.name);
            if let Some(peer) = peer {
                push_workload(out, "dst_", None, peer);
            }
        }
        (None, Some(peer)) => push_identity(out, "dst_", peer),
        (None, None) => {}
    }
}

/// `namespace` (when given), the workload kind's label and `pod`, each key prefixed.
fn push_workload(out: &mut String, prefix: &str, namespace: Option<&str>, identity: &Identity) {
    let mut key = String::with_capacity(prefix.len() + 12);
    let namespace = namespace.map(|ns| ("namespace", ns));
    for (k, v) in namespace.into_iter().chain([
        (
            identity.workload.kind.label(),
            identity.workload.name.as_str(),
        ),
        ("pod", identity.pod.as_str()),
    ]) {
        key.clear();
        let _ = write!(key, "{prefix}{k}");
        push_label(out, &key, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut s = String::new();
        push_label(&mut s, "rt_route", "GET /a\"b\\c\n");
        push_label(&mut s, "tls", "no_identity");
        assert_eq!(s, r#"rt_route="GET /a\"b\\c\n",tls="no_identity""#);
    }

    #[test]
    fn identity_labels_use_the_workload_kind() {
        let id = Identity {
            namespace: "emojivoto".into(),
            workload: "sts/zk".parse().unwrap(),
            pod: "zk-0".into(),
        };
        let mut s = String::new();
        push_identity(&mut s, "dst_", &id);
        assert_eq!(
            s,
            r#"dst_namespace="emojivoto",dst_statefulset="zk",dst_pod="zk-0""#
        );
    }

    #[test]
    fn destination_labels_name_the_service_then_its_endpoint() {
        let peer = Identity {
            namespace: "emojivoto".into(),
            workload: "rc/voting".parse().unwrap(),
            pod: "voting-x1".into(),
        };
        let service = DstService {
            name: Arc::from("voting-svc"),
            namespace: Arc::from("emojivoto"),
        };
        let labels = |service, peer| {
            let mut s = String::new();
            push_destination(&mut s, service, peer);
            s
        };
        assert_eq!(
            labels(Some(&service), Some(&peer)),
            r#"dst_namespace="emojivoto",dst_service="voting-svc",dst_replicationcontroller="voting",dst_pod="voting-x1""#
        );
        // An endpoint that is not meshed: the service is still known.
        assert_eq!(
            labels(Some(&service), None),
            r#"dst_namespace="emojivoto",dst_service="voting-svc""#
        );
        // A bare address: no service.
        assert_eq!(
            labels(None, Some(&peer)),
            r#"dst_namespace="emojivoto",dst_replicationcontroller="voting",dst_pod="voting-x1""#
        );
        assert_eq!(labels(None, None), "");
    }
}
