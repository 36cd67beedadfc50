//! An unaware app behind its own forward proxy (an egress proxy outside the pod, as squid is,
//! reached through `HTTP_PROXY`/`HTTPS_PROXY`), in a meshed pod: the captured connection goes to
//! that proxy with the request as the app sent it, absolute-form target and `CONNECT` alike, and
//! the proxy's refusals come back whole. Also an HTTP/1.0 request without `Host`, which goes to
//! where it was captured on its way to. Namespaces of the test's own (tests/it/netns.rs); skipped
//! with a printed reason when not root; CI runs them as root.

use crate::net::metric;
use crate::netns::{
    curl, mesh_pod, skip_unless_netns, whoami_server, Background, Pod, SharedBinary, PEER_V4,
};

/// The forward proxy, in the peer namespace on PEER_V4:3128.
fn forward_proxy(pod: &Pod) -> Background {
    let script = crate::harness::root().join("tests/it/py/forward_proxy.py");
    let mut cmd = pod.peer.command("python3");
    cmd.arg(script).args([PEER_V4, "3128"]);
    Background::start(cmd, "forward proxy").0
}

fn metrics(pod: &Pod) -> String {
    curl(&pod.pod, "http://127.0.0.1:4191/metrics").expect("the admin port answers")
}

#[test]
fn a_forward_proxy_gets_the_request_as_sent_and_its_connect_is_its_own() {
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    let pod = Pod::new("egress");
    let bin = SharedBinary::new();
    let mesh = mesh_pod(&pod.pod, &bin, &[], &[]);
    // The site the app asks for, reachable only through the forward proxy (on its loopback).
    let (_site, _dir) = whoami_server(&pod.peer, "127.0.0.1", 8080);
    let egress = forward_proxy(&pod);
    let proxy_url = format!("http://{PEER_V4}:3128");

    // Plain HTTP through the forward proxy: its absolute-form target arrives as sent.
    let r = pod.pod.run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "-x",
            &proxy_url,
            "http://backend.example:8080/whoami",
        ],
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "8080"),
        "{}\nmesh: {}",
        r.stderr,
        mesh.log()
    );
    assert!(
        egress
            .log()
            .contains("GET http://backend.example:8080/whoami HTTP/1.1"),
        "the forward proxy got: {}",
        egress.log()
    );

    // A tunnel (`curl -p`, as HTTPS through a proxy): the CONNECT is the forward proxy's.
    let r = pod.pod.run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "-p",
            "-x",
            &proxy_url,
            "http://backend.example:8080/whoami",
        ],
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "8080"),
        "{}\nmesh: {}",
        r.stderr,
        mesh.log()
    );
    assert!(
        egress
            .log()
            .contains("CONNECT backend.example:8080 HTTP/1.1"),
        "the forward proxy got: {}",
        egress.log()
    );

    // Its refusal of a CONNECT reaches the app as it said it.
    let r = pod.pod.run(
        "curl",
        &[
            "-sS",
            "--max-time",
            "10",
            "-p",
            "-x",
            &proxy_url,
            "--proxy-header",
            "proxy-authorization: no",
            "http://backend.example:8080/whoami",
        ],
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("407"), "{}", r.stderr);

    // Counted: the requests and the tunnels, by the forward proxy's address.
    let text = metrics(&pod);
    let to = format!("{PEER_V4}:3128");
    assert!(
        metric(
            &text,
            "request_total",
            &[("direction", "outbound"), ("authority", &to)]
        ) >= 1,
        "{text}"
    );
    assert!(
        metric(
            &text,
            "tcp_open_total",
            &[("direction", "outbound"), ("peer", "dst")]
        ) >= 2,
        "{text}"
    );
}

#[test]
fn an_http_1_0_request_without_host_goes_where_it_was_going() {
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    let pod = Pod::new("http10");
    let bin = SharedBinary::new();
    let mesh = mesh_pod(&pod.pod, &bin, &[], &[]);
    let (_site, _dir) = whoami_server(&pod.peer, PEER_V4, 8080);
    const CLIENT: &str = "import socket,sys\n\
        c=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=10)\n\
        c.sendall(b'GET /whoami HTTP/1.0\\r\\n\\r\\n')\n\
        b=b''\n\
        while True:\n  d=c.recv(65536)\n  if not d: break\n  b+=d\n\
        sys.stdout.write(b.decode('latin-1'))\n";
    let r = pod.pod.run("python3", &["-c", CLIENT, PEER_V4, "8080"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("HTTP/1.") && r.stdout.contains(" 200 ") && r.stdout.ends_with("8080"),
        "{}\nmesh: {}",
        r.stdout,
        mesh.log()
    );
    let text = metrics(&pod);
    let to = format!("{PEER_V4}:8080");
    assert_eq!(
        metric(
            &text,
            "request_total",
            &[("direction", "outbound"), ("authority", &to)]
        ),
        1,
        "{text}"
    );
}
