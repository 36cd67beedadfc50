//! Which `error` label each kind of failure is counted under.

use super::*;

const ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

fn saturation(waited: Duration, queue_full: bool) -> Saturation {
    Saturation {
        known: 1,
        ready: 1,
        in_flight: 10,
        max_streams: None,
        max_in_flight: 10,
        waited,
        queue_full,
    }
}

#[test]
fn errors_are_counted_by_the_kind_of_failure() {
    let fail_fast = |waited, queue_full| ProxyError::FailFast {
        authority: "web-svc:8080".into(),
        saturation: saturation(waited, queue_full),
    };
    let endpoint = |source| ProxyError::Endpoint {
        authority: "web-svc:8080".into(),
        addr: ADDR,
        source,
    };
    let after = Duration::from_secs(1);
    let cases = [
        (ProxyError::NoAuthority, ErrorReason::NoAuthority),
        (
            ProxyError::UriTooLong { limit: 1 },
            ErrorReason::HeadTooLarge,
        ),
        (fail_fast(Duration::ZERO, false), ErrorReason::FailFast),
        (fail_fast(after, true), ErrorReason::FailFast),
        (fail_fast(after, false), ErrorReason::DispatchTimeout),
        (
            ProxyError::Timeout {
                authority: "web-svc:8080".into(),
                route: "GET /".into(),
                timeout: after,
                tries: TriesMade::default(),
            },
            ErrorReason::ResponseTimeout,
        ),
        (
            endpoint(UpstreamError::NoResponse { addr: ADDR, after }),
            ErrorReason::ResponseTimeout,
        ),
        (
            ProxyError::NoResponse {
                upstream: SentTo::App(ADDR),
                after,
                tries: TriesMade::default(),
            },
            ErrorReason::ResponseTimeout,
        ),
        (
            endpoint(UpstreamError::NotReady { addr: ADDR, after }),
            ErrorReason::DispatchTimeout,
        ),
        (
            endpoint(UpstreamError::Refused { addr: ADDR }),
            ErrorReason::Connect,
        ),
        (
            endpoint(UpstreamError::NotHttp2 { addr: ADDR }),
            ErrorReason::Protocol,
        ),
    ];
    for (err, reason) in cases {
        assert_eq!(err.reason(), reason, "{err}");
    }
}
