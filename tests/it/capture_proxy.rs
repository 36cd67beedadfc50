//! Transparent capture end to end, in network namespaces of the test's own: the real `mesh init`
//! and a real `mesh proxy --capture` (as the proxy's uid, 2102) in the pod namespace, apps that
//! know nothing of the mesh (Python's http.server, curl, a raw TCP client), and callers in the
//! peer namespace. Each backend runs the core cases; the rest run on `auto`. Skipped with a
//! printed reason when not root or a tool is missing; CI runs them as root.

use crate::net::metric;
use crate::netns::{
    curl, egress_proxy, mesh_pod, ping, pong_server, skip_unless_netns, whoami_server, Background,
    Pod, SharedBinary, PEER_V4, PEER_V6, POD_V4, POD_V6, PROXY_UID,
};

/// A pod with the capture rules installed and its proxy running as the proxy's uid.
struct Meshed {
    // Dropped first: the proxy, then the namespaces.
    proxy: Background,
    _bin: SharedBinary,
    pod: Pod,
}

impl Meshed {
    /// `mesh init INIT_FLAGS` (with `--backend` unless `None`: auto), then `mesh proxy --capture
    /// PROXY_FLAGS` as uid 2102, both inside a new pod namespace.
    fn start(
        tag: &str,
        backend: Option<&str>,
        init_flags: &[&str],
        proxy_flags: &[&str],
    ) -> Meshed {
        let pod = Pod::new(tag);
        let mut init = Vec::new();
        if let Some(backend) = backend {
            init.extend(["--backend", backend]);
        }
        init.extend_from_slice(init_flags);
        let bin = SharedBinary::new();
        let proxy = mesh_pod(&pod.pod, &bin, &init, proxy_flags);
        Meshed {
            proxy,
            _bin: bin,
            pod,
        }
    }

    /// The proxy's metrics, read inside the pod (loopback is never captured).
    fn metrics(&self) -> String {
        curl(&self.pod.pod, "http://127.0.0.1:4191/metrics").expect("the admin port answers")
    }

    fn requests(&self, direction: &str, authority: &str) -> u64 {
        metric(
            &self.metrics(),
            "request_total",
            &[("direction", direction), ("authority", authority)],
        )
    }
}

/// Inbound HTTP to two app ports reaches each (one app bound to the pod IP, one to 0.0.0.0) and
/// is counted; outbound HTTP from an app that knows nothing of the proxy is proxied to where it
/// was going and counted; skipped ports in both directions bypass the proxy.
fn core_cases(backend: &str) {
    let mesh = Meshed::start(
        backend,
        Some(backend),
        &[
            "--skip-inbound-ports",
            "8082",
            "--skip-outbound-ports",
            "9092",
        ],
        &[],
    );
    let (pod, peer) = (&mesh.pod.pod, &mesh.pod.peer);
    let _a = whoami_server(pod, POD_V4, 8080);
    let _b = whoami_server(pod, "0.0.0.0", 8081);
    let _skipped_in = whoami_server(pod, "0.0.0.0", 8082);
    let _c = whoami_server(peer, PEER_V4, 9090);
    let _skipped_out = whoami_server(peer, PEER_V4, 9092);

    for port in [8080, 8081, 8082] {
        let url = format!("http://{POD_V4}:{port}/whoami");
        assert_eq!(curl(peer, &url).unwrap(), port.to_string(), "{url}");
    }
    for port in [9090, 9092] {
        let url = format!("http://{PEER_V4}:{port}/whoami");
        assert_eq!(curl(pod, &url).unwrap(), port.to_string(), "{url}");
    }

    let text = mesh.metrics();
    let count = |direction, authority: &str| {
        metric(
            &text,
            "request_total",
            &[("direction", direction), ("authority", authority)],
        )
    };
    assert_eq!(count("inbound", "10.77.0.1:8080"), 1, "{text}");
    assert_eq!(count("inbound", "10.77.0.1:8081"), 1, "{text}");
    assert_eq!(count("outbound", "10.77.0.2:9090"), 1, "{text}");
    assert_eq!(
        count("inbound", "10.77.0.1:8082"),
        0,
        "skipped inbound: {text}"
    );
    assert_eq!(
        count("outbound", "10.77.0.2:9092"),
        0,
        "skipped outbound: {text}"
    );
    // The proxy's own connection to 10.77.0.2:9090 was not captured again: no loop.
    assert_eq!(
        metric(&text, "proxy_refused_total", &[]),
        0,
        "{text}\n{}",
        mesh.proxy.log()
    );
}

#[test]
fn core_cases_nft() {
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    core_cases("nft");
}

#[test]
fn core_cases_iptables_nft() {
    skip_unless_netns!("iptables-nft-restore", "curl", "python3", "setpriv");
    core_cases("iptables-nft");
}

#[test]
fn core_cases_iptables_legacy() {
    skip_unless_netns!("iptables-legacy-restore", "curl", "python3", "setpriv");
    core_cases("iptables-legacy");
}

#[test]
fn http_over_ipv6_is_captured_both_ways() {
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    let mesh = Meshed::start("ipv6", None, &[], &[]);
    let _app = whoami_server(&mesh.pod.pod, POD_V6, 8080);
    let _peer = whoami_server(&mesh.pod.peer, PEER_V6, 9090);
    let inbound = format!("http://[{POD_V6}]:8080/whoami");
    assert_eq!(curl(&mesh.pod.peer, &inbound).unwrap(), "8080");
    let outbound = format!("http://[{PEER_V6}]:9090/whoami");
    assert_eq!(curl(&mesh.pod.pod, &outbound).unwrap(), "9090");
    assert_eq!(
        mesh.requests("inbound", "[fd77::1]:8080"),
        1,
        "{}",
        mesh.metrics()
    );
    assert_eq!(
        mesh.requests("outbound", "[fd77::2]:9090"),
        1,
        "{}",
        mesh.metrics()
    );
}

/// Under capture, a request whose Host names a service discovery knows is balanced over its
/// endpoints, not sent where the app connected; and an app that uses the outbound as an HTTP
/// proxy (a connection to the listener itself, not redirected) works as in explicit mode.
#[test]
fn a_known_service_is_balanced_and_explicit_mode_still_works() {
    use std::os::unix::fs::PermissionsExt;
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    // Readable by the proxy's uid.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let endpoints = dir.path().join("endpoints.yaml");
    std::fs::write(
        &endpoints,
        format!("web-svc.default:8080:\n  - address: {PEER_V4}:9090\n"),
    )
    .unwrap();
    std::fs::set_permissions(&endpoints, std::fs::Permissions::from_mode(0o644)).unwrap();
    let endpoints = endpoints.to_str().unwrap();
    let mesh = Meshed::start("known", None, &[], &["--endpoints", endpoints]);
    let _peer = whoami_server(&mesh.pod.peer, PEER_V4, 9090);

    // Nothing listens on 7777: the request goes by its Host.
    let by_host = mesh.pod.pod.run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "-H",
            "Host: web-svc:8080",
            "http://10.77.0.2:7777/whoami",
        ],
    );
    assert_eq!(by_host.stdout, "9090", "{}", by_host.stderr);
    let explicit = mesh.pod.pod.run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "-x",
            "http://127.0.0.1:4140",
            "http://web-svc:8080/whoami",
        ],
    );
    assert_eq!(explicit.stdout, "9090", "{}", explicit.stderr);
    let authority = "web-svc.default.svc.cluster.local:8080";
    assert_eq!(
        mesh.requests("outbound", authority),
        2,
        "{}",
        mesh.metrics()
    );
}

#[test]
fn outbound_opaque_tcp_reaches_the_original_destination_and_is_counted() {
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    let mesh = Meshed::start("opaque", None, &[], &[]);
    let _v4 = pong_server(&mesh.pod.peer, PEER_V4, 7000);
    let _v6 = pong_server(&mesh.pod.peer, PEER_V6, 7001);
    for (addr, port) in [(PEER_V4, 7000), (PEER_V6, 7001)] {
        let answer = ping(&mesh.pod.pod, addr, port);
        assert_eq!(
            answer.as_deref(),
            Ok("PONG"),
            "{addr}:{port}; the proxy's log:\n{}",
            mesh.proxy.log()
        );
    }
    let text = mesh.metrics();
    let out = [("direction", "outbound"), ("peer", "dst")];
    assert_eq!(metric(&text, "tcp_open_total", &out), 2, "{text}");
    assert_eq!(metric(&text, "request_total", &[]), 0, "not HTTP: {text}");
}

/// A caller outside the pod that names the pod's outbound port (`POD_IP:4140`, reachable through
/// the `[::]` listener) is redirected to the inbound, whose original destination is then the
/// proxy's own outbound listener: a loop, refused and counted, never a relay that would carry the
/// stranger's request out with the pod's identity.
#[test]
fn a_caller_outside_the_pod_cannot_use_its_outbound_as_a_relay() {
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    let mesh = Meshed::start("relay", None, &[], &[]);
    let _peer = whoami_server(&mesh.pod.peer, PEER_V4, 9090);
    let proxy = format!("http://{POD_V4}:4140");
    let relayed = mesh.pod.peer.run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "-x",
            &proxy,
            &format!("http://{PEER_V4}:9090/whoami"),
        ],
    );
    assert_ne!(relayed.stdout, "9090", "relayed: {}", relayed.stderr);
    let text = mesh.metrics();
    assert_eq!(
        metric(
            &text,
            "proxy_refused_total",
            &[("direction", "inbound"), ("reason", "loop_own_listener")]
        ),
        1,
        "{text}"
    );
    assert_eq!(metric(&text, "request_total", &[]), 0, "{text}");
}

#[test]
fn an_app_calling_its_own_pod_ip_goes_through_the_proxy() {
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    let mesh = Meshed::start("self", None, &[], &[]);
    let _app = whoami_server(&mesh.pod.pod, "0.0.0.0", 8080);
    let url = format!("http://{POD_V4}:8080/whoami");
    assert_eq!(curl(&mesh.pod.pod, &url).unwrap(), "8080");
    assert_eq!(
        mesh.requests("outbound", "10.77.0.1:8080"),
        1,
        "{}",
        mesh.metrics()
    );
}

#[test]
fn skipped_subnets_bypass_the_proxy() {
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    let mesh = Meshed::start(
        "subnet",
        None,
        &[
            "--skip-outbound-subnets",
            "10.77.0.2/32",
            "--skip-inbound-subnets",
            "10.77.0.0/24",
        ],
        &[],
    );
    let _app = whoami_server(&mesh.pod.pod, "0.0.0.0", 8080);
    let _peer = whoami_server(&mesh.pod.peer, PEER_V4, 9090);
    assert_eq!(
        curl(&mesh.pod.peer, &format!("http://{POD_V4}:8080/whoami")).unwrap(),
        "8080"
    );
    assert_eq!(
        curl(&mesh.pod.pod, &format!("http://{PEER_V4}:9090/whoami")).unwrap(),
        "9090"
    );
    let text = mesh.metrics();
    assert_eq!(metric(&text, "request_total", &[]), 0, "{text}");
    assert_eq!(metric(&text, "tcp_open_total", &[]), 0, "{text}");
}

/// `mesh proxy --capture --app-uid UID -- APP`: the app runs as a user the rules capture, so its
/// calls go through the proxy (here the proxy runs as root, which `mesh init --proxy-uid 0`
/// exempts instead of 2102).
#[test]
fn an_app_run_under_the_proxy_as_another_uid_is_captured() {
    skip_unless_netns!("nft", "curl", "python3");
    let pod = Pod::new("appuid");
    // The proxy's group is exempt too: the app must not keep root's gid.
    let r = pod
        .pod
        .mesh(&["init", "--proxy-uid", "0", "--proxy-gid", "0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let _peer = whoami_server(&pod.peer, PEER_V4, 9090);
    let app = format!(
        "curl -sS --max-time 10 http://{PEER_V4}:9090/whoami && echo && \
         curl -sS --max-time 10 http://127.0.0.1:4191/metrics"
    );
    let r = pod.pod.mesh(&[
        "proxy",
        "--capture",
        "--workload",
        "deploy/app",
        "--no-registry",
        "--inbound",
        "[::]:4143",
        "--outbound",
        "[::]:4140",
        "--app-uid",
        "65534",
        "--",
        "sh",
        "-c",
        &app,
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("\n9090\n"), "{}", r.stdout);
    let outbound = [("direction", "outbound"), ("authority", "10.77.0.2:9090")];
    assert_eq!(
        metric(&r.stdout, "request_total", &outbound),
        1,
        "{}",
        r.stdout
    );
}

/// A proxy started without --capture in a captured pod still detects redirected connections (their
/// original destination is not its listener) and forwards them there.
#[test]
fn capture_is_detected_without_the_flag() {
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    let pod = Pod::new("detect");
    let r = pod.pod.mesh(&["init"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bin = SharedBinary::new();
    let mut cmd = pod.pod.command("setpriv");
    cmd.args([
        "--reuid",
        PROXY_UID,
        "--regid",
        PROXY_UID,
        "--clear-groups",
        "--",
    ])
    .arg(bin.path())
    .args(["proxy", "--workload", "deploy/app", "--no-registry"])
    .args(["--outbound", "[::]:4140"]);
    let (_proxy, line) = Background::start(cmd, "mesh proxy");
    assert!(line.starts_with("listening inbound=- "), "{line}");
    let _peer = whoami_server(&pod.peer, PEER_V4, 9090);
    let url = format!("http://{PEER_V4}:9090/whoami");
    assert_eq!(curl(&pod.pod, &url).unwrap(), "9090");
    let text = curl(&pod.pod, "http://127.0.0.1:4191/metrics").unwrap();
    let outbound = [("direction", "outbound"), ("authority", "10.77.0.2:9090")];
    assert_eq!(metric(&text, "request_total", &outbound), 1, "{text}");
}

/// An unaware app configured with an egress forward proxy outside the pod (`http_proxy`, squid
/// at 10.x:3128) keeps working under capture: the proxy's address is no service, so the request
/// goes there unchanged (absolute form, and the credentials for that proxy), and a `CONNECT` is
/// that proxy's business too (carried both ways), each counted.
#[test]
fn an_egress_forward_proxy_outside_the_pod_keeps_working() {
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    let mesh = Meshed::start("egress", None, &[], &[]);
    let _squid = egress_proxy(&mesh.pod.peer, PEER_V4, 3128);
    let via_proxy = |extra: &[&str]| {
        let mut cmd = mesh.pod.pod.command("curl");
        cmd.args(["-sS", "--max-time", "10"])
            .args(extra)
            .args(["-U", "app:secret", "http://example.com/page?q=1"])
            .env("http_proxy", format!("http://{PEER_V4}:3128"));
        let out = cmd.output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    assert_eq!(
        via_proxy(&[]),
        "GET http://example.com/page?q=1 HTTP/1.1 (Proxy-Authorization: Basic YXBwOnNlY3JldA==)",
        "{}",
        mesh.proxy.log()
    );
    // `-p`: curl tunnels through the proxy with CONNECT.
    assert_eq!(
        via_proxy(&["-p"]),
        "tunnel to example.com:80 (Proxy-Authorization: Basic YXBwOnNlY3JldA==): GET /page?q=1 \
         HTTP/1.1",
        "{}",
        mesh.proxy.log()
    );
    // The GET is a request under the egress proxy's address; the tunnel, as every tunnel, is
    // counted as TCP: one connection for each.
    let text = mesh.metrics();
    let egress = [("direction", "outbound"), ("authority", "10.77.0.2:3128")];
    assert_eq!(metric(&text, "request_total", &egress), 1, "{text}");
    let dst = [("direction", "outbound"), ("peer", "dst")];
    assert_eq!(metric(&text, "tcp_open_total", &dst), 2, "{text}");
    assert_eq!(metric(&text, "proxy_refused_total", &[]), 0, "{text}");
}

/// An HTTP/1.0 request without `Host` names no authority, but under capture the proxy knows
/// where it was going: it goes there, counted under that address.
#[test]
fn an_http10_request_without_host_goes_to_the_original_destination() {
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    let mesh = Meshed::start("http10", None, &[], &[]);
    let _peer = whoami_server(&mesh.pod.peer, PEER_V4, 9090);
    let url = format!("http://{PEER_V4}:9090/whoami");
    let r = mesh.pod.pod.run(
        "curl",
        &["-sS", "--max-time", "10", "--http1.0", "-H", "Host:", &url],
    );
    assert_eq!(r.stdout, "9090", "{}", r.stderr);
    assert_eq!(
        mesh.requests("outbound", "10.77.0.2:9090"),
        1,
        "{}",
        mesh.metrics()
    );
}
