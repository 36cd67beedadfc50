//! `mesh proxy --discovery kube` against the replay API server (tests/it/kube_replay.rs): a real
//! proxy process, pointed at it by a kubeconfig, balances real requests over the endpoints the
//! EndpointSlices list, follows changes, keeps serving the last good set while the API is away,
//! and explains a refused watch.
//!
//! The Service and EndpointSlice objects below are written from the Kubernetes API reference
//! (core/v1 Service, discovery.k8s.io/v1 EndpointSlice, v1.33), not recorded from a cluster: a
//! later recording can replace them. Their endpoint addresses are loopback (the test upstreams),
//! which a real cluster never hands out.

use std::time::Duration;

use serde_json::{json, Value};

use crate::kube_replay::{ReplayApi, Seen};
use crate::net::{eventually_within, http_upstream, Upstream};
use crate::process::ProxyProcess;
use crate::raw_http::{ask, request};

pub const SLICES: &str = "/apis/discovery.k8s.io/v1/namespaces/emojivoto/endpointslices";
pub const SERVICES: &str = "/api/v1/namespaces/emojivoto/services";
pub const PODS: &str = "/api/v1/namespaces/emojivoto/pods";

/// Changes must show within this (the watch delivers them at once; the bound is generous).
const FOLLOW: Duration = Duration::from_secs(5);

/// The Service `web-svc`: port 8080, named `http`, to the pods' `http` port.
fn service() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web-svc", "namespace": "emojivoto"},
        "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]},
    })
}

/// An EndpointSlice of `web-svc` with one ready pod `pod` at 127.0.0.1:`port` (each test upstream
/// has its own port, so each gets its own slice, as pods with different ports would).
fn slice(name: &str, port: u16, pod: &str) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": "emojivoto",
                     "labels": {"kubernetes.io/service-name": "web-svc"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true},
                       "targetRef": {"kind": "Pod", "name": pod, "namespace": "emojivoto"}}],
    })
}

/// Sends `n` requests for `web-svc:8080` through the proxy's outbound; all must be answered 200.
async fn send(proxy: &ProxyProcess, n: usize) {
    send_with(proxy, n, "").await
}

/// As [`send`], each answered after 35 ms: slower than the balancer's first guess for an
/// endpoint it has not measured yet (30 ms, peak-EWMA's default as Linkerd's), so new endpoints
/// are tried rather than left behind faster measured ones.
async fn send_slow(proxy: &ProxyProcess, n: usize) {
    send_with(proxy, n, "x-test-delay-ms: 35\r\n").await
}

async fn send_with(proxy: &ProxyProcess, n: usize, extra: &str) {
    for _ in 0..n {
        let reply = ask(proxy.outbound, &request("GET", "/", "web-svc:8080", extra)).await;
        assert_eq!(
            reply.status,
            200,
            "{}{}\nlog:\n{}",
            reply.head,
            reply.body,
            proxy.log()
        );
    }
}

fn counts(ups: &[Upstream]) -> Vec<u64> {
    ups.iter().map(|u| u.requests.get()).collect()
}

/// The rules of the ClusterRole `mesh install` prints, as (API groups, resources, verbs).
fn install_rules() -> Vec<(Vec<String>, Vec<String>, Vec<String>)> {
    let r = crate::harness::run(&["install"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let role = mesh::yaml::documents(&r.stdout)
        .into_iter()
        .map(|d| d.unwrap())
        .find(|d| d["kind"] == "ClusterRole")
        .expect("mesh install prints a ClusterRole");
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| {
            (
                strings(&rule["apiGroups"]),
                strings(&rule["resources"]),
                strings(&rule["verbs"]),
            )
        })
        .collect()
}

/// Every request the replay API saw is one `mesh install`'s ClusterRole allows, as an API
/// server's RBAC would judge it.
fn assert_granted(seen: &[Seen]) {
    let rules = install_rules();
    for s in seen {
        let allowed = rules.iter().any(|(groups, resources, verbs)| {
            groups.contains(&s.group) && resources.contains(&s.resource) && verbs.contains(&s.verb)
        });
        assert!(
            allowed,
            "a request `mesh install`'s ClusterRole forbids: {s:?}"
        );
    }
}

async fn proxy_on(api: &ReplayApi, dir: &tempfile::TempDir) -> ProxyProcess {
    let kubeconfig = api.kubeconfig(dir.path());
    ProxyProcess::start_with_env(
        &["--discovery", "kube", "--workload", "deploy/vote-bot"],
        &[("KUBECONFIG", kubeconfig.as_os_str())],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balances_over_the_listed_endpoints_follows_changes_and_outlives_the_api() {
    let mut api = ReplayApi::start().await;
    let ups = [
        http_upstream().await,
        http_upstream().await,
        http_upstream().await,
    ];
    api.apply(SERVICES, service());
    for (i, up) in ups.iter().enumerate() {
        api.apply(
            SLICES,
            slice(&format!("web-svc-{i}"), up.addr.port(), &format!("web-{i}")),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let proxy = proxy_on(&api, &dir).await;

    send_slow(&proxy, 30).await;
    let spread = counts(&ups);
    assert!(
        spread.iter().all(|c| *c > 0),
        "every endpoint serves: {spread:?}"
    );

    // A pod leaves: its slice is deleted, and no request reaches it once the watch says so.
    api.delete(SLICES, "web-svc-2");
    eventually_within(
        FOLLOW,
        "the deleted endpoint stops getting requests",
        || async {
            let before = ups[2].requests.get();
            send_slow(&proxy, 20).await;
            ups[2].requests.get() == before
        },
    )
    .await;

    // A pod becomes not ready: the same.
    let mut not_ready = slice("web-svc-1", ups[1].addr.port(), "web-1");
    not_ready["endpoints"][0]["conditions"]["ready"] = json!(false);
    api.apply(SLICES, not_ready);
    eventually_within(
        FOLLOW,
        "the unready endpoint stops getting requests",
        || async {
            let before = ups[1].requests.get();
            send_slow(&proxy, 20).await;
            ups[1].requests.get() == before
        },
    )
    .await;

    // The API goes away: the last good set keeps serving.
    api.stop();
    let before = ups[0].requests.get();
    send(&proxy, 20).await;
    assert_eq!(ups[0].requests.get(), before + 20);

    // It comes back with a new pod: the watch is re-established and follows.
    api.restart().await;
    api.apply(SLICES, slice("web-svc-1", ups[1].addr.port(), "web-1"));
    eventually_within(
        FOLLOW,
        "the returning endpoint gets requests again",
        || async {
            let before = ups[1].requests.get();
            send_slow(&proxy, 10).await;
            ups[1].requests.get() > before
        },
    )
    .await;

    assert_granted(&api.seen());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_chunks_a_relist_after_410_gone_and_dropped_streams_lose_nothing() {
    let api = ReplayApi::start().await;
    let ups = [
        http_upstream().await,
        http_upstream().await,
        http_upstream().await,
    ];
    api.apply(SERVICES, service());
    api.apply(SLICES, slice("web-svc-0", ups[0].addr.port(), "web-0"));
    let dir = tempfile::tempdir().unwrap();
    let proxy = proxy_on(&api, &dir).await;
    send(&proxy, 5).await;
    assert_eq!(counts(&ups), [5, 0, 0]);

    // Events split into pieces on a slow link are read whole: an added pod, then its removal.
    // (Slow requests: the balancer's guess for an endpoint it has not measured is faster.)
    api.slow_chunks();
    api.drop_watches();
    api.apply(SLICES, slice("web-svc-2", ups[2].addr.port(), "web-2"));
    eventually_within(FOLLOW, "a slowly chunked event is followed", || async {
        send_slow(&proxy, 5).await;
        ups[2].requests.get() > 0
    })
    .await;
    api.delete(SLICES, "web-svc-2");
    eventually_within(FOLLOW, "a slowly chunked delete is followed", || async {
        let before = ups[2].requests.get();
        send_slow(&proxy, 20).await;
        ups[2].requests.get() == before
    })
    .await;

    // The streams drop and the next watches are told their version is too old: only a new list
    // can bring the pod added meanwhile (a watch answered 410 carries no event).
    api.expire_next_watches(2);
    api.drop_watches();
    api.apply(SLICES, slice("web-svc-1", ups[1].addr.port(), "web-1"));
    eventually_within(
        FOLLOW,
        "the pod added while the watch was down serves",
        || async {
            send_slow(&proxy, 5).await;
            ups[1].requests.get() > 0
        },
    )
    .await;
    let lists = api
        .seen()
        .iter()
        .filter(|s| s.verb == "list" && s.resource == "endpointslices")
        .count();
    assert!(
        lists >= 2,
        "410 Gone made the client list again: {:?}",
        api.seen()
    );
    assert_granted(&api.seen());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_watch_is_explained_with_the_role_to_bind() {
    let api = ReplayApi::start().await;
    api.apply(SERVICES, service());
    api.forbid(SLICES);
    let dir = tempfile::tempdir().unwrap();
    let proxy = proxy_on(&api, &dir).await;
    let reply = ask(proxy.outbound, &request("GET", "/", "web-svc:8080", "")).await;
    assert_eq!(
        reply.status,
        503,
        "{}{}\nlog:\n{}",
        reply.head,
        reply.body,
        proxy.log()
    );
    let text = format!("{}{}", reply.head, reply.body);
    for wanted in ["403", "endpointslices", "ClusterRole"] {
        assert!(text.contains(wanted), "{wanted:?} not in {text}");
    }
    let log = proxy.log();
    assert!(log.contains("forbidden"), "{log}");
}

/// The ServiceProfiles of namespace emojivoto (the proxy watches every namespace's).
const PROFILES: &str = "/apis/linkerd.io/v1alpha2/namespaces/emojivoto/serviceprofiles";

/// A ServiceProfile for web-svc with one route, `route` (GET /books).
fn profile(route: &str) -> Value {
    json!({
        "apiVersion": "linkerd.io/v1alpha2", "kind": "ServiceProfile",
        "metadata": {"name": "web-svc.emojivoto.svc.cluster.local", "namespace": "emojivoto",
                     "uid": "0b6f8c52-1c1e-4d8e-9d6a-2f0e1b9b7a10", "generation": 1,
                     "creationTimestamp": "2026-12-01T00:00:00Z"},
        "spec": {"routes": [{"name": route, "condition": {"method": "GET", "pathRegex": "/books"}}]},
    })
}

/// Whether the proxy's /metrics lists `route` among the routes in force for web-svc.
async fn in_force(proxy: &ProxyProcess, route: &str) -> bool {
    send(proxy, 1).await;
    proxy.metrics().await.lines().any(|l| {
        l.starts_with("profile_route_info{")
            && l.contains("web-svc.emojivoto.svc.cluster.local")
            && l.contains(&format!("rt_route=\"{route}\""))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_profiles_come_from_the_api_and_a_bad_edit_keeps_the_last_good_one() {
    let api = ReplayApi::start().await;
    let up = http_upstream().await;
    api.apply(SERVICES, service());
    api.apply(SLICES, slice("web-svc-0", up.addr.port(), "web-0"));
    api.apply(PROFILES, profile("books"));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(dir.path());
    let proxy = ProxyProcess::start_with_env(
        &[
            "--discovery",
            "kube",
            "--profile-source",
            "kube",
            "--workload",
            "deploy/vote-bot",
        ],
        &[("KUBECONFIG", kubeconfig.as_os_str())],
    )
    .await;
    eventually_within(FOLLOW, "the API's profile is in force", || {
        in_force(&proxy, "books")
    })
    .await;

    // An edit is followed.
    api.apply(PROFILES, profile("list-books"));
    eventually_within(FOLLOW, "the edited profile is in force", || {
        in_force(&proxy, "list-books")
    })
    .await;

    // An edit `mesh profile check` refuses (a lower-case method never matches) is logged, and the
    // last good version stays.
    let mut bad = profile("broken");
    bad["spec"]["routes"][0]["condition"]["method"] = json!("get");
    api.apply(PROFILES, bad);
    eventually_within(FOLLOW, "the refusal is logged", || async {
        proxy.log().contains("ServiceProfile from the API refused")
    })
    .await;
    assert!(in_force(&proxy, "list-books").await, "{}", proxy.log());
    assert!(!in_force(&proxy, "broken").await);

    // Deleted: back to [DEFAULT] alone.
    api.delete(PROFILES, "web-svc.emojivoto.svc.cluster.local");
    eventually_within(FOLLOW, "the deleted profile is gone", || async {
        !in_force(&proxy, "list-books").await
    })
    .await;
    assert_granted(&api.seen());
}

/// A pod of deploy/web, as `mesh inject` leaves it (`meshed`: the proxy as a native sidecar) or
/// not, with service account `web`.
fn web_pod(name: &str, meshed: bool) -> Value {
    let mut init = vec![json!({"name": "mesh-init", "image": "mesh"})];
    if meshed {
        init.push(json!({"name": "mesh-proxy", "image": "mesh", "restartPolicy": "Always"}));
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "emojivoto",
                     "labels": {"app": "web", "mesh.io/workload-kind": "deploy", "mesh.io/workload-name": "web",
                                "pod-template-hash": "7d9c"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9c",
                                          "uid": "4c1e9a7e-0000-4000-8000-000000000001", "controller": true}]},
        "spec": {"serviceAccountName": "web", "initContainers": init,
                 "containers": [{"name": "web", "image": "example/web:1.0"}]},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meshed_pod_is_named_by_its_workload_and_a_plain_one_is_not() {
    let api = ReplayApi::start().await;
    let ups = [http_upstream().await, http_upstream().await];
    api.apply(SERVICES, service());
    api.apply(SLICES, slice("web-svc-0", ups[0].addr.port(), "web-0"));
    api.apply(SLICES, slice("web-svc-1", ups[1].addr.port(), "web-1"));
    api.apply(PODS, web_pod("web-0", true));
    api.apply(PODS, web_pod("web-1", false));
    let dir = tempfile::tempdir().unwrap();
    let proxy = proxy_on(&api, &dir).await;
    eventually_within(
        FOLLOW,
        "requests to web-0 are labelled with its workload",
        || async {
            send_slow(&proxy, 4).await;
            proxy.metrics().await.lines().any(|l| {
                l.starts_with("response_total{")
                    && l.contains(r#"dst_deployment="web""#)
                    && l.contains(r#"dst_pod="web-0""#)
            })
        },
    )
    .await;
    assert!(ups[1].requests.get() > 0, "both pods served");
    let metrics = proxy.metrics().await;
    assert!(
        !metrics.contains(r#"dst_pod="web-1""#),
        "a plain pod has no identity:\n{metrics}"
    );
    assert_granted(&api.seen());
    assert!(
        api.seen()
            .iter()
            .any(|s| s.verb == "get" && s.resource == "pods"),
        "{:?}",
        api.seen()
    );
}

/// A meshed pod whose template `mesh inject` marked `mesh.io/identity-mode: default` is sent
/// mutual TLS expecting its service account's identity (from the pod's `serviceAccountName`), as
/// Linkerd's destination service tells its proxies; the pod's proxy requires identity, so a
/// plaintext request would be refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meshed_pod_with_an_identity_is_sent_mutual_tls_as_its_service_account() {
    let dir = tempfile::tempdir().unwrap();
    let ca = crate::tls_ca::TestCa::new();
    let (web_ids, bot_ids) = (dir.path().join("web-id"), dir.path().join("bot-id"));
    ca.issue(
        &web_ids,
        "emojivoto",
        "web",
        crate::tls_ca::now(),
        crate::tls_ca::DAY,
    );
    ca.issue(
        &bot_ids,
        "emojivoto",
        "vote-bot",
        crate::tls_ca::now(),
        crate::tls_ca::DAY,
    );
    let app = http_upstream().await;
    let app_addr = app.addr.to_string();
    let web = ProxyProcess::start(&[
        "--workload",
        "deploy/web",
        "--app",
        &app_addr,
        "--no-registry",
        "--identity-dir",
        web_ids.to_str().unwrap(),
        "--service-account",
        "web",
        "--require-identity",
        "all",
    ])
    .await;
    let api = ReplayApi::start().await;
    api.apply(SERVICES, service());
    let port = web.inbound.unwrap().port();
    api.apply(SLICES, slice("web-svc-0", port, "web-0"));
    let mut pod = web_pod("web-0", true);
    pod["metadata"]["annotations"] = json!({"mesh.io/identity-mode": "default"});
    api.apply(PODS, pod);
    let kubeconfig = api.kubeconfig(dir.path());
    let bot = ProxyProcess::start_with_env(
        &[
            "--discovery",
            "kube",
            "--workload",
            "deploy/vote-bot",
            "--identity-dir",
            bot_ids.to_str().unwrap(),
            "--service-account",
            "vote-bot",
        ],
        &[("KUBECONFIG", kubeconfig.as_os_str())],
    )
    .await;
    // The pod is asked for on its first lookup; until its answer is in, it is plain (and refused).
    let web_id = "web.emojivoto.serviceaccount.identity.mesh.cluster.local";
    let bot_id = "vote-bot.emojivoto.serviceaccount.identity.mesh.cluster.local";
    eventually_within(FOLLOW, "a request to web-0 is mutual TLS", || async {
        let reply = ask(bot.outbound, &request("GET", "/", "web-svc:8080", "")).await;
        reply.status == 200
    })
    .await;
    send(&bot, 3).await;
    let outbound = bot.metrics().await;
    assert!(
        outbound.lines().any(|l| l.starts_with("response_total{")
            && l.contains(r#"direction="outbound""#)
            && l.contains(r#"tls="true""#)
            && l.contains(&format!(r#"server_id="{web_id}""#))
            && l.contains(r#"dst_pod="web-0""#)),
        "{outbound}"
    );
    let inbound = web.metrics().await;
    assert!(
        inbound.lines().any(|l| l.starts_with("response_total{")
            && l.contains(r#"direction="inbound""#)
            && l.contains(r#"tls="true""#)
            && l.contains(&format!(r#"client_id="{bot_id}""#))),
        "{inbound}"
    );
    assert_granted(&api.seen());
}

/// A connection an unaware app makes to a Service's ClusterIP (its DNS answer), captured by
/// `mesh init`'s rules, is balanced over the service's pods that the API lists; without
/// discovery it would go to the ClusterIP itself, which nothing in the test's namespaces routes.
#[test]
fn a_captured_request_to_a_cluster_ip_goes_to_the_service_s_pods() {
    use crate::netns::{curl, mesh_pod_with_env, skip_unless_netns, whoami_server, Pod};
    use crate::netns::{SharedBinary, PEER_V4};
    use std::os::unix::fs::PermissionsExt;
    skip_unless_netns!("nft", "curl", "python3", "setpriv");
    let pod = Pod::new("clusterip");
    let (_a, _da) = whoami_server(&pod.peer, PEER_V4, 8080);
    let (_b, _db) = whoami_server(&pod.peer, PEER_V4, 8081);
    // The API, inside the pod's namespace (on its loopback, which capture leaves alone).
    let api = ReplayApi::start_in_netns(&pod.pod.name);
    let mut svc = service();
    svc["metadata"]["namespace"] = json!("emojivoto");
    svc["spec"]["ports"][0]["port"] = json!(80);
    api.apply(SERVICES, svc);
    for (name, port) in [("web-svc-0", 8080), ("web-svc-1", 8081)] {
        let mut s = slice(name, port, name);
        s["endpoints"][0]["addresses"] = json!([PEER_V4]);
        api.apply(SLICES, s);
    }
    // The proxy runs as its own uid: its kubeconfig must be readable by it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let kubeconfig = api.kubeconfig(dir.path());
    std::fs::set_permissions(&kubeconfig, std::fs::Permissions::from_mode(0o644)).unwrap();

    let bin = SharedBinary::new();
    let proxy = mesh_pod_with_env(
        &pod.pod,
        &bin,
        &[],
        &["--discovery", "kube"],
        &[("KUBECONFIG", kubeconfig.as_os_str())],
    );

    for _ in 0..6 {
        let body = curl(&pod.pod, "http://10.96.0.10/whoami")
            .unwrap_or_else(|e| panic!("{e}\nproxy: {}\napi saw: {:#?}", proxy.log(), api.seen()));
        assert!(
            body == "8080" || body == "8081",
            "{body}\nproxy: {}\napi saw: {:#?}",
            proxy.log(),
            api.seen()
        );
    }
    let metrics = curl(&pod.pod, "http://127.0.0.1:4191/metrics").unwrap();
    let to_service = metrics.lines().any(|l| {
        l.starts_with("request_total{")
            && l.contains(r#"authority="web-svc.emojivoto.svc.cluster.local:80""#)
            && l.contains(r#"dst_service="web-svc""#)
    });
    assert!(to_service, "{metrics}");
    assert_granted(&api.seen());
}

/// CPU seconds (user + system) a process has used, from `/proc/PID/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) start at state; utime and stime
    // are the 14th and 15th fields overall.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// The scale bench (bench/kube-discovery.sh runs it in release; not part of `cargo test`):
/// 1,000 services × 10 endpoints, each service looked up once through a real proxy, from the
/// replay API (`--discovery kube`: two watches per service) and, as the baseline in the same
/// run, from an endpoints file listing the same endpoints. Prints the proxy's RSS and CPU time
/// for each, and the ratios.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: bench/kube-discovery.sh"]
async fn scale_1000_services_by_10_endpoints() {
    const SERVICES_N: usize = 1000;
    const ENDPOINTS_N: usize = 10;
    let api = ReplayApi::start().await;
    let mut file = String::new();
    for s in 0..SERVICES_N {
        let name = format!("svc-{s}");
        let mut svc = service();
        svc["metadata"]["name"] = json!(name);
        api.apply(SERVICES, svc);
        let endpoints: Vec<Value> = (0..ENDPOINTS_N)
            .map(|e| {
                json!({"addresses": [format!("127.{}.{}.{}", 1 + s / 250, s % 250, 1 + e)],
                       "conditions": {"ready": true},
                       "targetRef": {"kind": "Pod", "name": format!("{name}-{e}"), "namespace": "emojivoto"}})
            })
            .collect();
        api.apply(
            SLICES,
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                   "metadata": {"name": format!("{name}-x"), "namespace": "emojivoto",
                                "labels": {"kubernetes.io/service-name": name}},
                   "addressType": "IPv4", "ports": [{"name": "http", "port": 9}],
                   "endpoints": endpoints}),
        );
        file.push_str(&format!("{name}.emojivoto:8080:\n"));
        for e in 0..ENDPOINTS_N {
            file.push_str(&format!(
                "- address: 127.{}.{}.{}:9\n  workload: deploy/{name}\n  pod: {name}-{e}\n",
                1 + s / 250,
                s % 250,
                1 + e
            ));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let endpoints_file = dir.path().join("endpoints.yaml");
    std::fs::write(&endpoints_file, file).unwrap();
    let kubeconfig = api.kubeconfig(dir.path());

    async fn measure(proxy: &ProxyProcess) -> (u64, f64, f64) {
        let (rss0, cpu0) = (proxy.rss_kib(), cpu_seconds(proxy.pid()));
        let start = std::time::Instant::now();
        for s in 0..SERVICES_N {
            // Nothing listens on port 9: the answer is an error, after discovery answered.
            let _ = ask(
                proxy.outbound,
                &request("GET", "/", &format!("svc-{s}:8080"), ""),
            )
            .await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        (
            proxy.rss_kib().saturating_sub(rss0),
            cpu_seconds(proxy.pid()) - cpu0,
            elapsed,
        )
    }
    let file_arg = endpoints_file.to_str().unwrap();
    let baseline = ProxyProcess::start(&[
        "--no-registry",
        "--endpoints",
        file_arg,
        "--workload",
        "deploy/bench",
    ])
    .await;
    let (b_rss, b_cpu, b_time) = measure(&baseline).await;
    drop(baseline);
    let kube = ProxyProcess::start_with_env(
        &["--discovery", "kube", "--workload", "deploy/bench"],
        &[("KUBECONFIG", kubeconfig.as_os_str())],
    )
    .await;
    let (k_rss, k_cpu, k_time) = measure(&kube).await;
    let watches = api.open_watches();
    println!(
        "{SERVICES_N} services x {ENDPOINTS_N} endpoints, one lookup each, through a real proxy"
    );
    println!("source          RSS growth  CPU      wall     watches open");
    println!("endpoints file  {b_rss:>6} KiB  {b_cpu:>5.2} s  {b_time:>5.2} s  -");
    println!("kube (replay)   {k_rss:>6} KiB  {k_cpu:>5.2} s  {k_time:>5.2} s  {watches}");
    println!(
        "ratio kube/file: RSS {:.2}x, CPU {:.2}x, wall {:.2}x",
        k_rss as f64 / b_rss.max(1) as f64,
        k_cpu / b_cpu.max(0.01),
        k_time / b_time.max(0.001)
    );
    assert_eq!(watches, 2 * SERVICES_N, "two watches per service");
}

#[test]
fn the_cli_against_an_empty_registry_with_kubeconfig_set_points_at_prometheus() {
    let registry = tempfile::tempdir().unwrap();
    let out = crate::harness::mesh()
        .args(["stat", "deploy", "-n", "emojivoto", "--registry"])
        .arg(registry.path())
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("KUBECONFIG is set") && stderr.contains("--prometheus URL"),
        "{stderr}"
    );
    let without = crate::harness::mesh()
        .args(["stat", "deploy", "-n", "emojivoto", "--registry"])
        .arg(registry.path())
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&without.stderr).contains("KUBECONFIG"));
}

#[test]
fn the_role_check_refuses_what_install_s_role_does_not_grant() {
    let seen = |verb: &str, group: &str, resource: &str| Seen {
        verb: verb.into(),
        group: group.into(),
        resource: resource.into(),
        uri: "/".into(),
    };
    assert_granted(&[seen("watch", "discovery.k8s.io", "endpointslices")]);
    for bad in [
        seen("delete", "", "pods"),
        seen("list", "", "secrets"),
        seen("list", "discovery.k8s.io", "services"),
    ] {
        let refused = std::panic::catch_unwind(|| assert_granted(std::slice::from_ref(&bad)));
        assert!(refused.is_err(), "{bad:?} passed the check");
    }
}

/// An API that accepts connections and never answers (as behind a NetworkPolicy that drops its
/// replies): only the first requests for a service wait for its first list, at most the dispatch
/// timeout; later ones are answered at once with what is known (here: nothing), never each
/// waiting again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_never_answers_delays_only_the_first_requests() {
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hole.local_addr().unwrap();
    let _held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = hole.accept().await {
            held.push(conn);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = crate::kube_replay::kubeconfig_for(addr, dir.path());
    let proxy = ProxyProcess::start_with_env(
        &[
            "--discovery",
            "kube",
            "--workload",
            "deploy/vote-bot",
            "--dispatch-timeout",
            "2s",
        ],
        &[("KUBECONFIG", kubeconfig.as_os_str())],
    )
    .await;
    let ask_once = || async {
        let start = std::time::Instant::now();
        let reply = ask(proxy.outbound, &request("GET", "/", "web-svc:8080", "")).await;
        (reply.status, start.elapsed())
    };
    let (status, first) = ask_once().await;
    assert_eq!(status, 503);
    assert!(
        first >= Duration::from_millis(1500),
        "the first waited for the list: {first:?}"
    );
    for _ in 0..3 {
        let (status, later) = ask_once().await;
        assert_eq!(status, 503);
        // The bug this guards against made every request take the whole 2 s again.
        assert!(
            later < Duration::from_secs(1),
            "a later request waited {later:?}"
        );
    }
}
