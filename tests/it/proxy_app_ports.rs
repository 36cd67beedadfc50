//! Several service ports, one app: each service port reaches its own app port
//! (`--service NAME:PORT[=APP_PORT]`), and nothing is ever sent to a guessed port.

use crate::net::{config, http_upstream, metric, TestProxy};
use crate::raw_http::{ask, get, request, Reply};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_port_reaches_its_own_app_port() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let apps = [
        http_upstream().await,
        http_upstream().await,
        http_upstream().await,
        http_upstream().await,
    ];
    let port = |i: usize| apps[i].addr.port();
    // The ZooKeeper: client port, quorum and election ports, and an admin port whose
    // app port is not given (so it is the same port on the app's host).
    let services = [
        format!("zk:2181={}", port(0)),
        format!("zk-hs:2888={}", port(1)),
        format!("zk-hs:3888={}", port(2)),
        format!("zk-admin:{}", port(3)),
    ];
    let services: Vec<&str> = services.iter().map(String::as_str).collect();
    let zk = TestProxy::start(config(&registry, "zk", &services, Some(apps[2].addr))).await;
    let kafka = TestProxy::start(config(&registry, "kafka", &[], None)).await;

    let admin = format!("zk-admin:{}", port(3));
    let calls = [
        ("zk:2181", 0),
        ("zk-hs:2888", 1),
        ("zk-hs.emojivoto.svc.cluster.local:3888", 2),
        (admin.as_str(), 3),
        ("zk:2181", 0),
    ];
    let mut expected = [0u64; 4];
    for (authority, app) in calls {
        let reply = ask(kafka.outbound, &get(authority, "/")).await;
        assert_eq!(reply.status, 200, "{authority}: {}", reply.head);
        expected[app] += 1;
        let seen: Vec<u64> = apps.iter().map(|a| a.requests.get()).collect();
        assert_eq!(seen, expected, "after {authority}");
    }

    // A request that names none of the service ports: explained, not sent to a guessed port.
    let inbound = zk.inbound.unwrap().to_string();
    let reply: Reply = ask(zk.inbound.unwrap(), &request("GET", "/", &inbound, "")).await;
    assert_eq!(reply.status, 421, "{}", reply.head);
    let text = reply.error_text().unwrap();
    assert!(
        text.contains("names none of this workload's service ports"),
        "{text}"
    );
    assert!(
        text.contains(&format!("zk:2181 -> 127.0.0.1:{}", port(0))),
        "{text}"
    );
    let seen: Vec<u64> = apps.iter().map(|a| a.requests.get()).collect();
    assert_eq!(seen, expected);
    let metrics = zk.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "proxy_refused_total",
            &[("reason", "no_app_port")]
        ),
        1,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_ports_with_several_app_ports_are_refused_at_startup() {
    let refused = refused_at_startup(&[
        "--workload",
        "sts/zk",
        "--no-registry",
        "--app",
        "127.0.0.1:3888",
        "--service",
        "zk:2181",
        "--service",
        "zk-hs:2888",
        "--service",
        "zk-hs:3888",
        "--opaque-ports",
        "2888",
    ]);
    for says in [
        "several app ports (zk:2181 -> 127.0.0.1:2181, zk-hs:2888 -> 127.0.0.1:2888, zk-hs:3888 -> 127.0.0.1:3888)",
        "--opaque-ports names 2888",
        "without traffic capture the inbound cannot learn which port the caller meant",
    ] {
        assert!(refused.contains(says), "{says:?} not in {refused}");
    }
}

/// Runs `mesh proxy -n emojivoto ARGS` on port-0 listeners, which must refuse to start: exit 1,
/// without announcing its addresses first. Returns what it said on stderr.
pub fn refused_at_startup(args: &[&str]) -> String {
    let base = ["proxy", "-n", "emojivoto", "--inbound", "127.0.0.1:0"];
    let ports = ["--outbound", "127.0.0.1:0", "--admin", "127.0.0.1:0"];
    let r = crate::harness::run(&[&base[..], &ports, args].concat());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stdout, "",
        "a proxy that refuses to start announces no addresses"
    );
    r.stderr
}
