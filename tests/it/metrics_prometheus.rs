//! The metrics Linkerd's Grafana dashboards read, through a real Prometheus scraping real
//! proxies: the `process_*` family and `proxy_build_info`, `dst_service` on outbound series (the
//! service dashboard's every panel filters on it), and the workload label of a caller of a kind
//! `mesh proxy` used to refuse (a CronJob's pod).

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh::testsvc;
use serde_json::Value;

use crate::net::{config, eventually_within, voting_and_web, TestProxy, VotingAndWeb};
use crate::viz_prometheus::prometheus;

/// The samples Prometheus at `url` answers `query` with (none while it cannot answer).
async fn query(url: &str, query: &str) -> Vec<Value> {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let Ok(resp) = client
        .get(format!("{url}/api/v1/query"))
        .query(&[("query", query)])
        .send()
        .await
    else {
        return Vec::new();
    };
    let answer: Value = resp.json().await.unwrap_or(Value::Null);
    assert_ne!(answer["status"], "error", "{query}: {answer}");
    answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_find_process_build_and_service_series_with_data() {
    let dir = tempfile::tempdir().unwrap();
    let VotingAndWeb {
        registry,
        voting,
        web,
        app: _app,
    } = voting_and_web(dir.path()).await;
    // A CronJob's pod calling the same service.
    let mut cfg = config(&registry, "nightly-report", &[], None);
    cfg.identity.workload = "cj/nightly-report".parse().unwrap();
    let report = TestProxy::start(cfg).await;
    let admins = [voting.admin, web.admin, report.admin];
    let Some((prometheus, _dir)) = prometheus(&admins).await else {
        return;
    };
    for caller in [web.outbound, report.outbound] {
        for _ in 0..5 {
            let req = Request::get("http://voting-svc:8080/api/list")
                .body(Full::new(Bytes::new()))
                .unwrap();
            testsvc::http1_request(caller, req).await.unwrap();
        }
    }

    let url = prometheus.url.clone();
    // The last query still waited for, printed when it changes (the test's failure names it).
    let waiting = std::sync::Mutex::new(String::new());
    // Each query must give one series per scraped proxy, or the callers' two series, with data.
    let expectations: Vec<(&str, usize)> = vec![
        ("process_cpu_seconds_total > 0", 3),
        ("process_resident_memory_bytes > 0", 3),
        ("process_virtual_memory_bytes > 0", 3),
        ("process_open_fds > 0", 3),
        ("process_max_fds > 0", 3),
        ("process_start_time_seconds > 0", 3),
        (
            r#"proxy_build_info{version="0.1.0",vendor="mesh",namespace="emojivoto"} == 1"#,
            3,
        ),
        // The service dashboard's panels, as Linkerd's viz dashboard writes them.
        (
            r#"sum(request_total{namespace="emojivoto", dst_service="voting-svc", direction="outbound"}) by (deployment, cronjob) == 5"#,
            2,
        ),
        (
            r#"sum(response_total{classification="success", namespace="emojivoto", dst_service="voting-svc", direction="outbound"}) by (dst_service) == 10"#,
            1,
        ),
        (
            r#"histogram_quantile(0.95, sum(response_latency_ms_bucket{namespace="emojivoto", dst_service="voting-svc", direction="outbound"}) by (le, dst_service)) > 0"#,
            1,
        ),
        (
            r#"sum(route_request_total{dst_service="voting-svc", dst_namespace="emojivoto", direction="outbound"}) == 10"#,
            1,
        ),
        // The callers' client connections (one per request) closed cleanly.
        (
            r#"sum(tcp_close_total{errno="", direction="outbound", peer="src"}) >= 10"#,
            1,
        ),
        // The CronJob's own label, and as the voting proxy's inbound peer.
        (
            r#"request_total{cronjob="nightly-report", direction="outbound"} == 5"#,
            1,
        ),
        (
            r#"sum(request_total{src_cronjob="nightly-report", direction="inbound"}) == 5"#,
            1,
        ),
    ];
    eventually_within(
        Duration::from_secs(60),
        "prometheus scraped every expected series",
        || async {
            for (q, n) in &expectations {
                let got = query(&url, q).await.len();
                if got != *n {
                    let now = format!("waiting: {q} gave {got} series, expected {n}");
                    let mut last = waiting.lock().unwrap();
                    if *last != now {
                        eprintln!("{now}");
                        *last = now;
                    }
                    return false;
                }
            }
            true
        },
    )
    .await;

    // Prometheus' convention: the process family carries only the target's labels.
    for sample in query(&url, "process_start_time_seconds").await {
        let labels = sample["metric"].as_object().unwrap();
        let mut keys: Vec<&str> = labels.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["__name__", "instance", "job"], "{sample}");
    }
    // Inbound series name no service (Linkerd's have none either).
    assert!(query(
        &url,
        r#"request_total{direction="inbound", dst_service!=""}"#
    )
    .await
    .is_empty());
}

/// Linkerd's deployment dashboard asks for meshed traffic only (`tls="true"`): the success rate
/// and the request rate of each deployment, inbound. Against the demo (mTLS on by default) both
/// have data for every served deployment, and the success rate shows voting's planted failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_tls_true_queries_get_data_from_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let opts = mesh::demo::DemoOptions {
        registry: dir.path().join("registry"),
        work_dir: dir.path().join("work"),
        vote_interval: Duration::from_millis(20),
        mtls: true,
    };
    let demo = mesh::demo::Running::start(&opts).await.unwrap();
    let admins: Vec<_> = demo.workloads.iter().map(|w| w.admin).collect();
    let Some((prometheus, _dir)) = prometheus(&admins).await else {
        demo.stop().await;
        return;
    };
    let url = prometheus.url.clone();
    let inbound = r#"namespace="emojivoto", direction="inbound", tls="true""#;
    let request_rate = format!("sum(irate(request_total{{{inbound}}}[30s])) by (deployment)");
    let success_rate = format!(
        "sum(irate(response_total{{classification=\"success\", {inbound}}}[30s])) by (deployment) \
         / sum(irate(response_total{{{inbound}}}[30s])) by (deployment)"
    );
    let by_deployment = |samples: Vec<Value>| -> Vec<(String, f64)> {
        let mut rows: Vec<(String, f64)> = samples
            .iter()
            .map(|s| {
                let value = s["value"][1].as_str().unwrap_or("NaN").parse().unwrap();
                (
                    s["metric"]["deployment"].as_str().unwrap().to_string(),
                    value,
                )
            })
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    };
    let served = ["emoji", "voting", "web"];
    eventually_within(
        Duration::from_secs(60),
        "both queries answer for every served deployment",
        || async {
            let rates = by_deployment(query(&url, &request_rate).await);
            let success = by_deployment(query(&url, &success_rate).await);
            let names =
                |rows: &[(String, f64)]| rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>();
            names(&rates) == served
                && rates.iter().all(|r| r.1 > 0.0)
                && names(&success) == served
                && success.iter().all(|r| r.1.is_finite())
        },
    )
    .await;
    let success = by_deployment(query(&url, &success_rate).await);
    let rate_of = |name: &str| success.iter().find(|r| r.0 == name).unwrap().1;
    // VoteDoughnut always fails; emoji never does.
    assert!(rate_of("voting") < 1.0, "{success:?}");
    assert_eq!(rate_of("emoji"), 1.0, "{success:?}");
    // Connections, as the dashboards' TCP panels ask for them.
    let tcp = query(
        &url,
        r#"sum(tcp_open_connections{namespace="emojivoto", direction="inbound", peer="src", tls="true"}) by (deployment)"#,
    )
    .await;
    assert_eq!(
        by_deployment(tcp)
            .iter()
            .map(|r| r.0.as_str())
            .collect::<Vec<_>>(),
        served,
        "open mTLS connections by deployment"
    );
    // And nothing between the demo's proxies is plaintext.
    let plain = query(
        &url,
        r#"sum(response_total{namespace="emojivoto", direction="inbound", tls!="true"})"#,
    )
    .await;
    assert!(plain.is_empty(), "plaintext inbound traffic: {plain:?}");
    drop(prometheus);
    demo.stop().await;
}
