//! Tap events as text, the way `linkerd viz tap` prints them (its `viz/cmd/tap.go`):
//!
//! ```text
//! req id=7:0 proxy=out src=… dst=… tls=no_identity :method=GET :authority=… :path=/api/list rt_route=GET /api/list
//! ```
//!
//! `-o wide` adds, as Linkerd's does, every label of the source (`src_deployment=web`, sorted),
//! then of the destination (`dst_…`), then of the route (`rt_route=…`). The default text ends
//! with the route too (Linkerd's shows it only in wide): which route a request matched is what a
//! profile's author wants to see.

use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::admin_api::tap::{Peer, ProxyDirection, TapEvent, TapEventKind};

/// One event as `mesh tap` prints it by default: Linkerd's line, mesh's additions
/// (`proxy-error`, `reset-error`/`after`) and the route (`rt_route=…`) when the proxy matched one.
pub fn render_text(event: &TapEvent) -> String {
    let mut line = render_line(event);
    push_route(&mut line, event);
    line
}

/// One event as `mesh tap -o wide` prints it: [`render_text`]'s line with every label of the
/// source and the destination before the route's, as `linkerd viz tap -o wide` does.
pub fn render_wide(event: &TapEvent) -> String {
    let mut line = render_line(event);
    push_labels(&mut line, "src", &event.source);
    push_labels(&mut line, "dst", &event.destination);
    push_route(&mut line, event);
    line
}

/// ` src_deployment=web src_namespace=emojivoto …`: `peer`'s labels, sorted by key.
fn push_labels(line: &mut String, side: &str, peer: &Peer) {
    for (key, value) in peer.metadata.labels() {
        let _ = write!(line, " {side}_{key}={value}");
    }
}

/// ` rt_route=GET /api/list`: the route's labels.
fn push_route(line: &mut String, event: &TapEvent) {
    for (key, value) in event.route_meta.iter().flat_map(|m| &m.labels) {
        let _ = write!(line, " rt_{key}={value}");
    }
}

/// The line without labels:
/// `req id=1:0 proxy=in  src=… dst=… tls=no_identity :method=GET :authority=… :path=/`.
fn render_line(event: &TapEvent) -> String {
    let (proxy, tls) = match event.proxy_direction {
        // A space so `in` aligns with `out`.
        ProxyDirection::Inbound => ("in ", event.source.metadata.tls()),
        ProxyDirection::Outbound => ("out", event.destination.metadata.tls()),
    };
    let id = event.id();
    let src = SocketAddr::new(event.source.ip, event.source.port);
    let dst = SocketAddr::new(event.destination.ip, event.destination.port);
    let mut line = String::new();
    let tag = match &event.kind {
        TapEventKind::RequestInitEvent(_) => "req",
        TapEventKind::ResponseInitEvent(_) => "rsp",
        TapEventKind::ResponseEndEvent(_) => "end",
    };
    let _ = write!(
        line,
        "{tag} id={}:{} proxy={proxy} src={src} dst={dst} tls={tls}",
        id.base, id.stream
    );
    let _ = match &event.kind {
        TapEventKind::RequestInitEvent(r) => write!(
            line,
            " :method={} :authority={} :path={}",
            r.method, r.authority, r.path
        ),
        TapEventKind::ResponseInitEvent(r) => {
            let _ = write!(
                line,
                " :status={} latency={}µs",
                r.http_status,
                r.since_request_init.as_micros()
            );
            match &r.proxy_error {
                Some(e) => write!(line, " proxy-error=\"{e}\""),
                None => Ok(()),
            }
        }
        TapEventKind::ResponseEndEvent(r) => {
            if let Some(code) = r.shown_grpc_status() {
                let _ = write!(line, " grpc-status={}", grpc_code_name(code));
            }
            if r.reset {
                line.push_str(" reset-error=");
                line.push_str(r.error.as_deref().unwrap_or("true"));
                // Cut off before a response began there is no response to time: say when.
                let _ = write!(line, " after={}µs", r.since_request_init.as_micros());
            } else if let Some(code) = r.reset_error_code {
                // An event from Linkerd's tap: its HTTP/2 reset code, as it prints it.
                let _ = write!(line, " reset-error={code}");
            }
            write!(
                line,
                " duration={}µs response-length={}B",
                r.since_response_init.as_micros(),
                r.response_bytes
            )
        }
    };
    line
}

/// gRPC status codes by name, as Go's `codes.Code` prints them (`Code(666)` when unknown).
fn grpc_code_name(code: u32) -> String {
    const NAMES: [&str; 17] = [
        "OK",
        "Canceled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
    ];
    NAMES
        .get(code as usize)
        .map_or_else(|| format!("Code({code})"), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin_api::tap::{
        PeerMetadata, RequestInit, ResponseEnd, RouteMeta, StreamId, TapEventKind,
    };
    use crate::identity::Identity;

    fn event(route: Option<&str>, kind: TapEventKind) -> TapEvent {
        let voting = Identity {
            namespace: "emojivoto".into(),
            workload: "deploy/voting".parse().unwrap(),
            pod: "voting-0".into(),
        };
        TapEvent {
            source: Peer::new(
                ([127, 0, 0, 1], 5000).into(),
                PeerMetadata::new("no_identity"),
            ),
            destination: Peer::new(
                ([127, 0, 0, 1], 8080).into(),
                PeerMetadata::of(&voting, "no_identity"),
            ),
            route_meta: route.map(RouteMeta::route),
            proxy_direction: ProxyDirection::Outbound,
            kind,
        }
    }

    const ID: StreamId = StreamId { base: 4, stream: 0 };

    fn request() -> TapEventKind {
        TapEventKind::RequestInitEvent(RequestInit {
            id: ID,
            method: "GET".into(),
            scheme: "HTTP".into(),
            authority: "voting-svc:8080".into(),
            path: "/api/list".into(),
            headers: vec![],
        })
    }

    #[test]
    fn text_names_the_route_and_wide_every_label_before_it() {
        let req = event(Some("GET /api/list"), request());
        let line = "req id=4:0 proxy=out src=127.0.0.1:5000 dst=127.0.0.1:8080 tls=no_identity \
                    :method=GET :authority=voting-svc:8080 :path=/api/list";
        assert_eq!(render_text(&req), format!("{line} rt_route=GET /api/list"));
        assert_eq!(
            render_wide(&req),
            format!(
                "{line} src_tls=no_identity dst_deployment=voting dst_namespace=emojivoto \
                 dst_pod=voting-0 dst_tls=no_identity rt_route=GET /api/list"
            )
        );
        // Refused before a route was matched: nothing to name.
        assert_eq!(render_text(&event(None, request())), line);
    }

    #[test]
    fn tls_is_the_peers_state_true_for_mutual_tls() {
        // Outbound, the server's state: the proxy verified its identity.
        let mut out = event(None, request());
        out.destination.metadata = PeerMetadata::new("true");
        assert!(render_text(&out).contains(" dst=127.0.0.1:8080 tls=true :method=GET"));
        // Inbound, the caller's: it proved its identity.
        let mut inbound = event(None, request());
        inbound.proxy_direction = ProxyDirection::Inbound;
        inbound.source.metadata = PeerMetadata::new("true");
        let line = render_wide(&inbound);
        assert!(line.starts_with("req id=4:0 proxy=in  src="), "{line}");
        assert!(line.contains(" tls=true :method=GET"), "{line}");
        assert!(
            line.contains(" src_tls=true dst_deployment=voting"),
            "{line}"
        );
    }

    #[test]
    fn grpc_status_shows_for_grpc_responses_even_when_ok() {
        let end = |grpc_status, grpc_status_code| {
            let e = event(
                None,
                TapEventKind::ResponseEndEvent(ResponseEnd {
                    id: ID,
                    since_request_init: std::time::Duration::from_secs(10).into(),
                    since_response_init: std::time::Duration::from_micros(1_000_250).into(),
                    response_bytes: 3,
                    trailers: vec![],
                    grpc_status_code,
                    reset_error_code: None,
                    grpc_status,
                    reset: false,
                    error: None,
                }),
            );
            render_text(&e)
        };
        assert!(end(Some(0), 0).ends_with(" grpc-status=OK duration=1000250µs response-length=3B"));
        assert!(end(None, 0).ends_with(" tls=no_identity duration=1000250µs response-length=3B"));
        // Linkerd's events carry only the code.
        assert!(end(None, 666).contains(" grpc-status=Code(666) "));
        assert_eq!(grpc_code_name(16), "Unauthenticated");
    }
}
