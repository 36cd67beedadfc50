//! Errors the proxy answers itself: each is counted in `{inbound,outbound}_http_errors_total` by
//! its reason and shown in tap as a request with its answer, whether or not the request got as
//! far as the traffic metrics.

use mesh::admin_api::tap::{TapEventKind, TapQuery};
use mesh::viz::tap::TapStream;

use crate::net::{bind, config, metric, voting_proxy, TestProxy};
use crate::raw_http::{ask, get, request};
use crate::tap::next_event;

/// The next request's three events: its authority, its status and why the proxy answered it
/// (`proxyError`), and that it ended normally.
async fn next_exchange(stream: &mut TapStream) -> (String, u16, Option<String>) {
    let TapEventKind::RequestInitEvent(init) = next_event(stream).await.kind else {
        panic!("a request init first")
    };
    let TapEventKind::ResponseInitEvent(rsp) = next_event(stream).await.kind else {
        panic!("then a response init")
    };
    let TapEventKind::ResponseEndEvent(end) = next_event(stream).await.kind else {
        panic!("then a response end")
    };
    assert_eq!((init.id, rsp.id, end.id), (init.id, init.id, init.id));
    assert!(!end.reset);
    assert!(end.response_bytes > 0, "the explanation is the body");
    (init.authority, rsp.http_status, rsp.proxy_error)
}

fn answered(authority: &str, status: u16, error: &str) -> (String, u16, Option<String>) {
    (authority.to_string(), status, Some(error.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_errors_are_counted_by_reason_and_tapped() {
    let dir = tempfile::tempdir().unwrap();
    let web = TestProxy::start(config(&dir.path().join("registry"), "web", &[], None)).await;
    let text = web.metrics().await;
    let errors =
        |text: &str, reason| metric(text, "outbound_http_errors_total", &[("error", reason)]);
    assert_eq!(errors(&text, "no endpoints"), 0, "rendered from the start");
    let mut stream = TapStream::open(web.admin, &TapQuery::parse(Some("")).unwrap())
        .await
        .unwrap();

    // No endpoints: refused by the forwarding policy.
    let reply = ask(web.outbound, &get("nowhere-svc:8080", "/")).await;
    assert_eq!(reply.status, 503, "{}", reply.head);
    assert!(reply.error_text().unwrap().starts_with("no endpoints"));
    let authority = "nowhere-svc:8080";
    let no_endpoints = answered(authority, 503, "no endpoints");
    assert_eq!(next_exchange(&mut stream).await, no_endpoints);

    // No authority at all: HTTP/1.0 needs no Host.
    let reply = ask(web.outbound, "GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(reply.status, 400, "{}", reply.head);
    let no_authority = answered("", 400, "no authority");
    assert_eq!(next_exchange(&mut stream).await, no_authority);

    // A head over the limit (64 KiB), refused before it is forwarded.
    let big = format!("x-big: {}\r\n", "a".repeat(70 * 1024));
    let reply = ask(web.outbound, &request("GET", "/", authority, &big)).await;
    assert_eq!(reply.status, 431, "{}", reply.head);
    let too_large = answered(authority, 431, "head too large");
    assert_eq!(next_exchange(&mut stream).await, too_large);

    let text = web.metrics().await;
    assert_eq!(errors(&text, "no endpoints"), 1, "{text}");
    assert_eq!(errors(&text, "no authority"), 1, "{text}");
    assert_eq!(errors(&text, "head too large"), 1, "{text}");
    assert_eq!(
        metric(
            &text,
            "outbound_http_errors_total",
            &[("deployment", "web")]
        ),
        3
    );
    // Refused before their route was known, they are not in the traffic metrics.
    assert_eq!(metric(&text, "response_total", &[]), 0, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_errors_are_counted_by_reason_and_tapped() {
    let (proxy, _app, _dir) = voting_proxy().await;
    let inbound = proxy.inbound.unwrap();
    let mut stream = TapStream::open(proxy.admin, &TapQuery::parse(Some("")).unwrap())
        .await
        .unwrap();
    let big = format!("x-big: {}\r\n", "a".repeat(70 * 1024));
    let reply = ask(inbound, &request("GET", "/", "voting-svc:8080", &big)).await;
    assert_eq!(reply.status, 431, "{}", reply.head);
    let too_large = answered("voting-svc:8080", 431, "head too large");
    assert_eq!(next_exchange(&mut stream).await, too_large);
    let text = proxy.metrics().await;
    let errors = |dir, reason| metric(&text, dir, &[("error", reason)]);
    assert_eq!(errors("inbound_http_errors_total", "head too large"), 1);
    assert_eq!(errors("outbound_http_errors_total", "head too large"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_after_the_request_was_counted_is_in_both_families_and_tapped() {
    // An endpoint nothing listens on.
    let down = bind().await.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let endpoints = dir.path().join("endpoints.yaml");
    std::fs::write(&endpoints, format!("down-svc:8080:\n- address: {down}\n")).unwrap();
    let mut cfg = config(&dir.path().join("registry"), "web", &[], None);
    cfg.registry_dir = None;
    cfg.endpoints_file = Some(endpoints);
    let web = TestProxy::start(cfg).await;
    let mut stream = TapStream::open(web.admin, &TapQuery::parse(Some("")).unwrap())
        .await
        .unwrap();

    let reply = ask(web.outbound, &get("down-svc:8080", "/")).await;
    assert_eq!(reply.status, 502, "{}", reply.head);
    assert!(reply
        .error_text()
        .unwrap()
        .contains("refused the connection"));
    let (authority, status, error) = next_exchange(&mut stream).await;
    assert_eq!((status, error.as_deref()), (502, Some("connect error")));
    assert!(authority.starts_with("down-svc"), "{authority}");

    let text = web.metrics().await;
    let errors = |reason| metric(&text, "outbound_http_errors_total", &[("error", reason)]);
    assert_eq!(errors("connect error"), 1, "{text}");
    // Counted once it was placed on an endpoint: the traffic metrics have it too.
    let failed = [("classification", "failure"), ("status_code", "502")];
    assert_eq!(metric(&text, "response_total", &failed), 1, "{text}");
}
