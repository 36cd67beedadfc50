//! HTTP/1 and gRPC through outbound proxy → inbound proxy → app, counted exactly on both sides.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh::testsvc::{self, EchoedRequest};

use crate::net::{config, grpc_upstream, http_upstream, metric, TestProxy};

const VOTING_PROFILE: &str = r#"apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  name: voting-svc.emojivoto.svc.cluster.local
  namespace: emojivoto
spec:
  routes:
  - name: GET /api/list
    condition:
      method: GET
      pathRegex: /api/list
  - name: POST /api/vote
    condition:
      method: POST
      pathRegex: /api/vote
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_requests_are_counted_exactly_per_route_and_peer_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, profiles) = (dir.path().join("registry"), dir.path().join("profiles"));
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(profiles.join("voting.yaml"), VOTING_PROFILE).unwrap();
    let app = http_upstream().await;
    let mut voting_config = config(&registry, "voting", &["voting-svc:8080"], Some(app.addr));
    voting_config.profiles_dir = Some(profiles.clone());
    let voting = TestProxy::start(voting_config).await;
    let mut web_config = config(&registry, "web", &[], None);
    web_config.profiles_dir = Some(profiles);
    let web = TestProxy::start(web_config).await;

    // 60 GETs and 40 POSTs, 7 of the POSTs answered with 500: as an app would, through its
    // outbound proxy (absolute-form URI, as to an HTTP proxy) with a short service name.
    for i in 0..100 {
        let (method, path) = if i < 60 {
            ("GET", "/api/list")
        } else {
            ("POST", "/api/vote")
        };
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://voting-svc:8080{path}?i={i}"))
            .header("x-request-id", format!("req-{i}"));
        if i >= 93 {
            req = req.header("x-test-status", "500");
        }
        let body = Full::new(Bytes::from(vec![b'v'; i]));
        let reply = testsvc::http1_request(web.outbound, req.body(body).unwrap())
            .await
            .unwrap();
        assert_eq!(
            reply.head.status,
            if i >= 93 { 500 } else { 200 },
            "request {i}"
        );
        let echoed = EchoedRequest::from_json(&reply.body).unwrap();
        assert_eq!(
            (echoed.method.as_str(), echoed.path.as_str()),
            (method, path)
        );
        assert_eq!(echoed.query.as_deref(), Some(format!("i={i}").as_str()));
        assert_eq!(echoed.body_bytes, i as u64);
        assert_eq!(
            echoed.headers.get("x-request-id"),
            Some(&format!("req-{i}"))
        );
        assert_eq!(
            echoed.headers.get("host").map(String::as_str),
            Some("voting-svc:8080")
        );
        assert!(
            !echoed.headers.contains_key("mesh-peer"),
            "the inbound proxy strips mesh-peer"
        );
    }
    assert_eq!(app.requests.get(), 100);

    let authority = "voting-svc.emojivoto.svc.cluster.local:8080";
    let out = web.metrics().await;
    let outbound = [
        ("direction", "outbound"),
        ("authority", authority),
        ("deployment", "web"),
        ("dst_deployment", "voting"),
        ("dst_namespace", "emojivoto"),
        ("dst_pod", "voting-0"),
    ];
    assert_eq!(metric(&out, "request_total", &outbound), 100, "{out}");
    assert_eq!(
        metric(
            &out,
            "response_total",
            &[
                outbound.as_slice(),
                &[("classification", "failure"), ("status_code", "500")]
            ]
            .concat()
        ),
        7
    );
    assert_eq!(
        metric(
            &out,
            "response_total",
            &[outbound.as_slice(), &[("classification", "success")]].concat()
        ),
        93
    );
    assert_eq!(metric(&out, "response_latency_ms_count", &outbound), 100);

    let inp = voting.metrics().await;
    let inbound = [
        ("direction", "inbound"),
        ("authority", authority),
        ("deployment", "voting"),
        ("src_deployment", "web"),
        ("src_namespace", "emojivoto"),
        ("src_pod", "web-0"),
    ];
    assert_eq!(metric(&inp, "request_total", &inbound), 100, "{inp}");
    assert_eq!(
        metric(
            &inp,
            "response_total",
            &[inbound.as_slice(), &[("classification", "failure")]].concat()
        ),
        7
    );
    assert_eq!(
        metric(
            &inp,
            "response_total",
            &[inbound.as_slice(), &[("classification", "success")]].concat()
        ),
        93
    );

    for (text, direction) in [(&out, "outbound"), (&inp, "inbound")] {
        let route = |r: &'static str| {
            [
                ("direction", direction),
                ("dst", authority),
                ("rt_route", r),
            ]
        };
        assert_eq!(
            metric(text, "route_request_total", &route("GET /api/list")),
            60,
            "{direction}"
        );
        assert_eq!(
            metric(text, "route_request_total", &route("POST /api/vote")),
            40,
            "{direction}"
        );
        assert_eq!(
            metric(text, "route_request_total", &route("[DEFAULT]")),
            0,
            "{direction}"
        );
        let failures = [
            route("POST /api/vote").as_slice(),
            &[("classification", "failure")],
        ]
        .concat();
        assert_eq!(
            metric(text, "route_response_total", &failures),
            7,
            "{direction}"
        );
        assert_eq!(
            metric(
                text,
                "route_response_total",
                &[
                    route("GET /api/list").as_slice(),
                    &[("classification", "failure")]
                ]
                .concat()
            ),
            0
        );
    }
    assert_eq!(
        metric(
            &out,
            "route_actual_response_total",
            &[
                ("rt_route", "POST /api/vote"),
                ("classification", "failure")
            ]
        ),
        7
    );

    // The JSON window agrees with the Prometheus counters.
    let (status, json) = crate::net::admin_get(web.admin, "/stats?window=1m").await;
    assert_eq!(status, 200);
    let report: mesh::admin_api::stats::StatsReport = serde_json::from_str(&json).unwrap();
    let vote = report
        .http
        .iter()
        .find(|s| s.route == "POST /api/vote")
        .unwrap();
    assert_eq!(
        (
            vote.requests,
            vote.responses.success,
            vote.responses.failure
        ),
        (40, 33, 7)
    );
    assert_eq!(vote.peer.as_ref().unwrap().workload, "deploy/voting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_calls_keep_messages_and_trailers_and_are_classified_by_grpc_status() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let app = grpc_upstream().await;
    let emoji = TestProxy::start(config(
        &registry,
        "emoji",
        &["emoji-svc:8080"],
        Some(app.addr),
    ))
    .await;
    let web = TestProxy::start(config(&registry, "web", &[], None)).await;
    let path = "/emojivoto.v1.EmojiService/FindByShortcode";

    // 10 OK, 3 UNAVAILABLE in trailers, 2 trailers-only NOT_FOUND, 1 without any grpc-status.
    for i in 0..10u8 {
        let message = vec![i; 1 + i as usize * 100];
        let reply = testsvc::grpc_call(
            web.outbound,
            "emoji-svc:8080",
            path,
            &message,
            &[("x-custom", "kept")],
        )
        .await
        .unwrap();
        assert_eq!(reply.grpc_status, Some(0));
        assert_eq!(reply.messages, vec![Bytes::from(message)]);
        assert!(reply
            .trailers
            .as_ref()
            .is_some_and(|t| t.contains_key("grpc-status")));
    }
    for _ in 0..3 {
        let meta = [
            ("x-test-grpc-status", "14"),
            ("x-test-grpc-message", "voting is down: try later"),
        ];
        let reply = testsvc::grpc_call(web.outbound, "emoji-svc:8080", path, b"x", &meta)
            .await
            .unwrap();
        assert_eq!(reply.grpc_status, Some(14));
        assert_eq!(
            reply.grpc_message.as_deref(),
            Some("voting is down: try later")
        );
    }
    for _ in 0..2 {
        let meta = [
            ("x-test-grpc-status", "5"),
            ("x-test-grpc-trailers-only", "true"),
        ];
        let reply = testsvc::grpc_call(web.outbound, "emoji-svc:8080", path, b"x", &meta)
            .await
            .unwrap();
        assert_eq!(reply.grpc_status, Some(5));
        assert!(reply.messages.is_empty());
    }
    let reply = testsvc::grpc_call(
        web.outbound,
        "emoji-svc:8080",
        path,
        b"x",
        &[("x-test-grpc-no-status", "true")],
    )
    .await
    .unwrap();
    assert_eq!(reply.grpc_status, None);
    assert_eq!(app.requests.get(), 16);

    let authority = "emoji-svc.emojivoto.svc.cluster.local:8080";
    for (proxy, direction, peer) in [
        (&web, "outbound", ("dst_deployment", "emoji")),
        (&emoji, "inbound", ("src_deployment", "web")),
    ] {
        let text = proxy.metrics().await;
        let base = [("direction", direction), ("authority", authority), peer];
        let with = |extra: &[(&'static str, &'static str)]| [base.as_slice(), extra].concat();
        assert_eq!(
            metric(&text, "request_total", &base),
            16,
            "{direction}: {text}"
        );
        assert_eq!(
            metric(
                &text,
                "response_total",
                &with(&[("classification", "success"), ("grpc_status", "0")])
            ),
            10,
            "{direction}"
        );
        assert_eq!(
            metric(
                &text,
                "response_total",
                &with(&[("classification", "failure")])
            ),
            6,
            "{direction}"
        );
        assert_eq!(
            metric(
                &text,
                "response_total",
                &with(&[("classification", "failure"), ("grpc_status", "14")])
            ),
            3,
            "{direction}"
        );
        assert_eq!(
            metric(
                &text,
                "response_total",
                &with(&[("classification", "failure"), ("grpc_status", "5")])
            ),
            2,
            "{direction}"
        );
    }
}

/// A proxy must not frame bodies worse than it got them: h2 servers (hyper's among them) close a
/// connection with GOAWAY ENHANCE_YOUR_CALM "too_many_data_frames" after 100 empty DATA frames
/// that do not end their stream. 150 calls over the pooled connections of two hops stay clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_calls_on_pooled_connections_never_send_empty_data_frames() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let app = grpc_upstream().await;
    let _emoji = TestProxy::start(config(
        &registry,
        "emoji",
        &["emoji-svc:8080"],
        Some(app.addr),
    ))
    .await;
    let web = TestProxy::start(config(&registry, "web", &[], None)).await;
    let path = "/emojivoto.v1.EmojiService/FindByShortcode";
    for i in 0..150 {
        let reply = testsvc::grpc_call(web.outbound, "emoji-svc:8080", path, b"msg", &[])
            .await
            .unwrap();
        assert_eq!(reply.grpc_status, Some(0), "call {i}: {reply:?}");
    }
}
