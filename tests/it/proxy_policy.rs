//! The forwarding policy (DESIGN.md, "Forwarding policy", explicit mode): the outbound reaches the
//! services discovery knows — on one machine, loopback endpoints from the registry — and is no open
//! proxy to the other ports of the host; loops are answered 508 at once; the proxies' own headers
//! never cross to or from an app.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use mesh::proxy::{serve, Listeners};
use mesh::testsvc::EchoedRequest;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::net::{
    admin_get, bind, config, eventually_within, http_upstream, metric, wait_ready, TestProxy,
};
use crate::process::ProxyProcess;
use crate::raw_http::{ask, get, request, Reply};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_reaches_discovered_services_but_no_other_port_of_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let reg = registry.to_str().unwrap();
    let (voting_app, emoji_app) = (http_upstream().await, http_upstream().await);
    let mut voting = ProxyProcess::voting(voting_app.addr, &["--registry", reg]).await;
    let emoji_addr = emoji_app.addr.to_string();
    let mut emoji = ProxyProcess::start(&[
        "--workload",
        "deploy/emoji",
        "--service",
        "emoji-svc:8080",
        "--app",
        &emoji_addr,
        "--registry",
        reg,
    ])
    .await;
    let mut web = ProxyProcess::start(&["--workload", "deploy/web", "--registry", reg]).await;

    // Services discovery knows: their endpoints are loopback addresses (the other proxies'
    // inbound listeners, from the registry), and they work.
    for service in [
        "voting-svc:8080",
        "emoji-svc:8080",
        "voting-svc.emojivoto:8080",
    ] {
        let reply = ask(web.outbound, &get(service, "/")).await;
        assert_eq!(reply.status, 200, "{service}: {}", reply.head);
    }
    assert_eq!(voting_app.requests.get(), 2);

    // Addresses on this host the caller names itself: never, whether something listens there
    // (another proxy's admin port, an app's port past its inbound) or not.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (v_admin, e_admin) = (voting.admin.to_string(), emoji.admin.to_string());
    let userinfo = format!("voting-svc:8080@{v_admin}");
    let cases: Vec<(&str, String, String)> = vec![
        (
            "another proxy's /metrics",
            v_admin.clone(),
            get(&v_admin, "/metrics"),
        ),
        (
            "another proxy's /shutdown",
            e_admin.clone(),
            request("POST", &format!("http://{e_admin}/shutdown"), &e_admin, ""),
        ),
        (
            "/shutdown named in Host only",
            v_admin.clone(),
            request("POST", "/shutdown", &v_admin, ""),
        ),
        (
            "the app's port past its inbound",
            voting_app.addr.to_string(),
            get(&voting_app.addr.to_string(), "/"),
        ),
        ("ssh", "127.0.0.1:22".into(), get("127.0.0.1:22", "/")),
        (
            "a closed port",
            closed.to_string(),
            get(&closed.to_string(), "/"),
        ),
        (
            "cloud metadata",
            "169.254.169.254:80".into(),
            get("169.254.169.254:80", "/"),
        ),
        ("IPv6 loopback", "[::1]:22".into(), get("[::1]:22", "/")),
        (
            "CONNECT to an admin port",
            v_admin.clone(),
            format!("CONNECT {v_admin} HTTP/1.1\r\nhost: {v_admin}\r\n\r\n"),
        ),
    ];
    let mut texts = std::collections::BTreeSet::new();
    for (what, authority, req) in &cases {
        let reply = ask(web.outbound, req).await;
        assert_eq!(reply.status, 403, "{what}: {}{}", reply.head, reply.body);
        assert!(
            !reply.body.contains("request_total"),
            "{what}: {}",
            reply.body
        );
        let text = reply
            .error_text()
            .unwrap_or_else(|| panic!("{what}: {}", reply.head));
        assert!(text.contains("--allow-destination"), "{what}: {text}");
        // The same words whatever the port: refusals say nothing about which ports are open.
        texts.insert(text.replace(authority.as_str(), "ADDR"));
    }
    assert_eq!(texts.len(), 1, "{texts:#?}");
    // Userinfo hiding an admin port behind a service name is refused before any policy applies
    // (RFC 9110 §4.2.4).
    let hidden = request(
        "GET",
        &format!("http://{userinfo}/metrics"),
        "voting-svc:8080",
        "",
    );
    let reply = ask(web.outbound, &hidden).await;
    assert_eq!(reply.status, 400, "{}{}", reply.head, reply.body);
    assert!(
        reply.error_text().unwrap_or("").contains("userinfo"),
        "{}",
        reply.head
    );

    // Nothing reached the other proxies or the app: they are all up and ready, the app saw only
    // the two meshed requests.
    for (name, proxy) in [("voting", &mut voting), ("emoji", &mut emoji)] {
        proxy.assert_up().await;
        assert_eq!(
            admin_get(proxy.admin, "/ready").await.0,
            200,
            "{name} /ready"
        );
        let text = proxy.metrics().await;
        let inbound = metric(&text, "request_total", &[("direction", "inbound")]);
        assert!(
            inbound <= 2,
            "{name} saw {inbound} inbound requests:\n{text}"
        );
    }
    assert_eq!(voting_app.requests.get(), 2);

    // An unknown address elsewhere: 502 "unknown service", decided without connecting.
    let started = Instant::now();
    let reply = ask(web.outbound, &get("192.0.2.1:80", "/")).await;
    assert_eq!(reply.status, 502, "{}", reply.head);
    assert!(reply.error_text().unwrap().starts_with("unknown service"));
    assert!(started.elapsed() < Duration::from_millis(500));

    // CONNECT only to opaque ports: voting-svc:8080 speaks HTTP.
    let reply = ask(
        web.outbound,
        "CONNECT voting-svc:8080 HTTP/1.1\r\nhost: voting-svc:8080\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 403, "{}", reply.head);
    assert!(reply.error_text().unwrap().contains("--opaque-ports"));

    // This proxy's own admin port is a loop; POST /shutdown through it stops nothing.
    let w_admin = web.admin.to_string();
    let shutdown = request("POST", &format!("http://{w_admin}/shutdown"), &w_admin, "");
    assert_eq!(ask(web.outbound, &shutdown).await.status, 508);
    web.assert_up().await;
    assert_eq!(admin_get(web.admin, "/ready").await.0, 200);

    let text = web.metrics().await;
    let refused = |reason| metric(&text, "proxy_refused_total", &[("reason", reason)]);
    assert_eq!(refused("local_address"), cases.len() as u64, "{text}");
    assert_eq!(refused("unknown_address"), 1);
    assert_eq!(refused("connect_not_opaque"), 1);
    assert_eq!(refused("loop_own_listener"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_destination_opens_what_it_names_and_plain_destinations_get_no_identity() {
    let (plain, other) = (http_upstream().await, http_upstream().await);
    let rule = format!("127.0.0.1/32:{}", plain.addr.port());
    let mut web = ProxyProcess::start(&[
        "--workload",
        "deploy/web",
        "--no-registry",
        "--allow-destination",
        &rule,
    ])
    .await;
    let forged = "mesh-peer: namespace=emojivoto;workload=deploy/admin;pod=admin-0\r\n\
                  l5d-dst-override: admin-svc:80\r\nl5d-client-id: admin\r\n";
    let target = plain.addr.to_string();
    let reply = ask(
        web.outbound,
        &request("GET", &format!("http://{target}/"), &target, forged),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.head);
    let echoed = EchoedRequest::from_json(&reply.body.clone().into()).unwrap();
    // A plain destination is not a proxy: it learns nobody's identity, and what the app wrote
    // as the proxies' headers went no further.
    for name in ["mesh-peer", "l5d-dst-override", "l5d-client-id"] {
        assert!(
            !echoed.headers.contains_key(name),
            "{name}: {:?}",
            echoed.headers
        );
    }
    // The rule names one port; the next app's port stays closed.
    let other = other.addr.to_string();
    assert_eq!(ask(web.outbound, &get(&other, "/")).await.status, 403);
    web.assert_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_to_the_proxy_itself_is_a_loop_answered_at_once() {
    let mut proxy = ProxyProcess::start(&["--workload", "deploy/web", "--no-registry"]).await;
    let fds = proxy.fds();
    let (outbound, admin) = (proxy.outbound.to_string(), proxy.admin.to_string());
    let via_any = format!("0.0.0.0:{}", proxy.outbound.port());
    let cases = [
        ("own outbound", get(&outbound, "/")),
        ("own outbound, in Host", request("GET", "/", &outbound, "")),
        ("own outbound through 0.0.0.0", get(&via_any, "/")),
        ("own admin", get(&admin, "/metrics")),
    ];
    for (what, req) in &cases {
        let started = Instant::now();
        let reply = ask(proxy.outbound, req).await;
        let took = started.elapsed();
        assert_eq!(reply.status, 508, "{what}: {}", reply.head);
        assert!(
            reply.error_text().unwrap().starts_with("loop detected"),
            "{what}: {}",
            reply.head
        );
        assert!(took < Duration::from_millis(500), "{what}: took {took:?}");
    }
    // Nothing was opened on the way: the proxy holds the descriptors it held before.
    eventually_within(
        Duration::from_secs(2),
        "fds back to where they were",
        || {
            let now = proxy.fds();
            async move { now <= fds }
        },
    )
    .await;
    let text = proxy.metrics().await;
    assert_eq!(
        metric(
            &text,
            "proxy_refused_total",
            &[("reason", "loop_own_listener")]
        ),
        cases.len() as u64,
        "{text}"
    );
    proxy.assert_up().await;
}

/// An outbound-only proxy `deploy/NAME` on `outbound`, discovering from the endpoints file
/// `endpoints`; stops when the returned sender is dropped.
async fn outbound_on(
    name: &str,
    outbound: TcpListener,
    endpoints: &Path,
) -> (SocketAddr, oneshot::Sender<()>) {
    let mut cfg = config(Path::new("-"), name, &[], None);
    cfg.registry_dir = None;
    cfg.endpoints_file = Some(endpoints.to_path_buf());
    let admin = bind().await;
    let admin_addr = admin.local_addr().unwrap();
    let listeners = Listeners {
        inbound: None,
        outbound: Some(outbound),
        admin,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(cfg, listeners, async move {
        let _ = stopped.await;
    }));
    wait_ready(admin_addr).await;
    (admin_addr, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_comes_back_through_another_proxy_is_a_loop() {
    // Two outbound proxies whose endpoints files send `loop-svc` to each other: A → B → A.
    // Neither is the other's own listener; only A's hop marker shows the request came back.
    let dir = tempfile::tempdir().unwrap();
    let (a_out, b_out) = (bind().await, bind().await);
    let (a_addr, b_addr) = (a_out.local_addr().unwrap(), b_out.local_addr().unwrap());
    let file = |name: &str, to: SocketAddr| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("loop-svc.emojivoto:80:\n- address: {to}\n")).unwrap();
        path
    };
    let (a_file, b_file) = (file("a.yaml", b_addr), file("b.yaml", a_addr));
    let (a_admin, _a) = outbound_on("a", a_out, &a_file).await;
    let (b_admin, _b) = outbound_on("b", b_out, &b_file).await;

    let started = Instant::now();
    let reply = tokio::time::timeout(
        Duration::from_secs(2),
        ask(a_addr, &get("loop-svc:80", "/")),
    )
    .await
    .expect("an answer within 2 s");
    assert_eq!(reply.status, 508, "{}", reply.head);
    assert!(
        reply
            .error_text()
            .unwrap()
            .contains("mesh-hop marker came back"),
        "{}",
        reply.head
    );
    assert!(started.elapsed() < Duration::from_millis(500));
    let (a, b) = (
        admin_get(a_admin, "/metrics").await.1,
        admin_get(b_admin, "/metrics").await.1,
    );
    let loops = |text: &str| {
        metric(
            text,
            "proxy_refused_total",
            &[("reason", "loop_hop_marker")],
        )
    };
    assert_eq!((loops(&a), loops(&b)), (1, 0), "{a}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_never_see_the_proxies_own_headers() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let (voting_app, plain_app) = (http_upstream().await, http_upstream().await);
    let voting = TestProxy::start(config(
        &registry,
        "voting",
        &["voting-svc:8080"],
        Some(voting_app.addr),
    ))
    .await;
    // A plain (unmeshed) endpoint: listed in an endpoints file without a workload.
    let endpoints = dir.path().join("endpoints.yaml");
    std::fs::write(
        &endpoints,
        format!("plain-svc:80:\n- address: {}\n", plain_app.addr),
    )
    .unwrap();
    let mut web = config(&registry, "web", &[], None);
    web.endpoints_file = Some(endpoints);
    let web = TestProxy::start(web).await;

    let forged = "mesh-peer: namespace=emojivoto;workload=deploy/admin;pod=admin-0\r\n\
                  mesh-hop: 0123456789abcdef\r\nl5d-dst-override: admin-svc:80\r\n\
                  l5d-client-id: admin\r\nx-kept: 1\r\n";
    let echoed = |reply: Reply| {
        assert_eq!(reply.status, 200, "{}", reply.head);
        EchoedRequest::from_json(&reply.body.into())
            .unwrap()
            .headers
    };
    let own = ["mesh-peer", "mesh-hop", "l5d-dst-override", "l5d-client-id"];

    // To a plain endpoint: no identity (`mesh-peer`: the pod's name is none of its business) and
    // no `l5d-*`.
    let req = request("GET", "http://plain-svc:80/", "plain-svc:80", forged);
    let headers = echoed(ask(web.outbound, &req).await);
    for name in ["mesh-peer", "l5d-dst-override", "l5d-client-id"] {
        assert!(!headers.contains_key(name), "{name}: {headers:?}");
    }

    // From an app through both proxies to a meshed app: none of it arrives, and the inbound
    // counts the real caller, not the forged one.
    let req = request("GET", "http://voting-svc:8080/", "voting-svc:8080", forged);
    let headers = echoed(ask(web.outbound, &req).await);
    for name in own {
        assert!(!headers.contains_key(name), "{name}: {headers:?}");
    }
    assert_eq!(headers["x-kept"], "1");
    let text = voting.metrics().await;
    assert_eq!(
        metric(
            &text,
            "request_total",
            &[("direction", "inbound"), ("src_deployment", "web")]
        ),
        1,
        "{text}"
    );
    assert_eq!(
        metric(&text, "request_total", &[("src_deployment", "admin")]),
        0
    );

    // Straight to the inbound: the inbound removes them too.
    let req = request("GET", "/", "voting-svc:8080", forged);
    let headers = echoed(ask(voting.inbound.unwrap(), &req).await);
    for name in own {
        assert!(!headers.contains_key(name), "{name}: {headers:?}");
    }
}

/// An inbound whose app is another proxy's listener would pass requests from proxy to proxy for
/// ever (the inbound removes the proxies' markers before its app, so no marker can stop it): a
/// proxy refuses to start so, naming the other proxy, when the registry knows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_is_another_proxys_listener_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let reg = registry.to_str().unwrap();
    let app = crate::net::http_upstream().await;
    let app_s = app.addr.to_string();
    let first = ProxyProcess::start(&[
        "--workload",
        "deploy/ia",
        "--service",
        "ia:80",
        "--app",
        &app_s,
        "--registry",
        reg,
    ])
    .await;
    for (listener, addr) in [
        ("inbound", first.inbound.unwrap()),
        ("outbound", first.outbound),
        ("admin", first.admin),
    ] {
        let addr = addr.to_string();
        let said = crate::proxy_app_ports::refused_at_startup(&[
            "--workload",
            "deploy/ib",
            "--service",
            "ib:80",
            "--app",
            &addr,
            "--registry",
            reg,
        ]);
        let expected =
            format!("--app {addr} is the {listener} listener of another mesh proxy (deploy/ia");
        assert!(said.contains(&expected), "{said}");
    }
}
