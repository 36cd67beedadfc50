//! The scrape config `mesh install` prints, run for real. No Kubernetes API server can run here
//! (none is installable), so Kubernetes pod discovery is swapped for `file_sd_configs` that give
//! Prometheus the targets and `__meta_kubernetes_pod_*` labels pod discovery would give it —
//! written from Prometheus' documentation of `role: pod`: one target per declared container port
//! (init containers included), at `podIP:port`, each pod annotation as
//! `__meta_kubernetes_pod_annotation_<name>` — and everything else (the relabel rules,
//! `honor_labels`) runs as printed, in a real Prometheus scraping real proxies. What this cannot
//! cover: that a real API server's pods produce exactly these labels.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use mesh::testsvc;
use serde_json::{json, Value};

use crate::harness::run;
use crate::net::{admin_get, eventually_within, voting_and_web, VotingAndWeb};

/// `config` (a prometheus.yml) with each job's `kubernetes_sd_configs` replaced by a
/// `file_sd_configs` reading `targets`, and its scrape interval set to `interval` when given.
pub fn with_file_sd(config: &str, targets: &Path, interval: Option<&str>) -> String {
    let mut config = mesh::yaml::to_json_value(config).expect("the scrape config is YAML");
    for job in config["scrape_configs"].as_array_mut().unwrap() {
        let job = job.as_object_mut().unwrap();
        assert!(
            job.remove("kubernetes_sd_configs").is_some(),
            "the job discovers pods"
        );
        job.insert(
            "file_sd_configs".into(),
            json!([{"files": [targets.display().to_string()]}]),
        );
        if let Some(interval) = interval {
            job.insert("scrape_interval".into(), json!(interval));
        }
    }
    mesh::yaml::to_string(&config).unwrap()
}

/// A pod as Prometheus' pod discovery sees it.
struct Pod<'a> {
    name: &'a str,
    ip: &'a str,
    phase: &'a str,
    /// (container, port, init container)
    ports: Vec<(&'a str, u16, bool)>,
    annotations: Vec<(&'a str, String)>,
}

impl Pod<'_> {
    /// The file_sd target groups: one per container port, as pod discovery makes them.
    fn targets(&self) -> Vec<Value> {
        self.ports
            .iter()
            .map(|(container, port, init)| {
                let address = if self.ip.contains(':') {
                    format!("[{}]:{port}", self.ip)
                } else {
                    format!("{}:{port}", self.ip)
                };
                let mut labels = json!({
                    "__meta_kubernetes_namespace": "emojivoto",
                    "__meta_kubernetes_pod_name": self.name,
                    "__meta_kubernetes_pod_ip": self.ip,
                    "__meta_kubernetes_pod_phase": self.phase,
                    "__meta_kubernetes_pod_ready": "true",
                    "__meta_kubernetes_pod_container_name": container,
                    "__meta_kubernetes_pod_container_init": init.to_string(),
                    "__meta_kubernetes_pod_container_port_number": port.to_string(),
                    "__meta_kubernetes_pod_container_port_protocol": "TCP",
                });
                for (name, value) in &self.annotations {
                    let name: String = name
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect();
                    labels[format!("__meta_kubernetes_pod_annotation_{name}")] = json!(value);
                    labels[format!("__meta_kubernetes_pod_annotationpresent_{name}")] =
                        json!("true");
                }
                json!({"targets": [address], "labels": labels})
            })
            .collect()
    }
}

/// The annotations `mesh inject` writes, for a proxy whose admin port is `port`.
fn scrape_annotations(port: u16, path: &str) -> Vec<(&'static str, String)> {
    vec![
        ("prometheus.io/scrape", "true".into()),
        ("prometheus.io/port", port.to_string()),
        ("prometheus.io/path", path.into()),
    ]
}

/// A meshed pod: the app's port, the proxy's inbound and admin ports on its native sidecar.
fn meshed<'a>(name: &'a str, admin: SocketAddr) -> Pod<'a> {
    Pod {
        name,
        ip: "127.0.0.1",
        phase: "Running",
        ports: vec![
            ("app", 8080, false),
            ("mesh-proxy", 4143, true),
            ("mesh-proxy", admin.port(), true),
        ],
        annotations: scrape_annotations(admin.port(), "/metrics"),
    }
}

/// A Prometheus process; killed when dropped.
struct Prometheus {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_prometheus(dir: &Path, config: &str) -> Prometheus {
    let file = dir.join("prometheus.yml");
    std::fs::write(&file, config).unwrap();
    // Prometheus cannot report a port it chose: take a free one and hand it over.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("prometheus starts");
    let prometheus = Prometheus { child, addr };
    eventually_within(Duration::from_secs(30), "prometheus ready", || async {
        admin_get(addr, "/-/ready").await.0 == 200
    })
    .await;
    prometheus
}

/// Prometheus' `/api/v1/targets`.
async fn targets(addr: SocketAddr) -> Value {
    let (status, body) = admin_get(addr, "/api/v1/targets").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrape_config_keeps_annotated_pods_once_and_drops_the_rest() {
    if std::process::Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is missing, and CI must run this test (.ci/run installs it)"
        );
        eprintln!("skipped: the prometheus binary is missing (apt-get install prometheus)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let VotingAndWeb {
        registry,
        voting,
        web,
        app,
    } = voting_and_web(dir.path()).await;
    const REQUESTS: usize = 12;
    for _ in 0..REQUESTS {
        let req = Request::get("http://voting-svc:8080/api/list")
            .body(Full::new(Bytes::new()))
            .unwrap();
        testsvc::http1_request(web.outbound, req).await.unwrap();
    }

    let without_port = {
        let mut a = scrape_annotations(1, "/metrics");
        a.retain(|(k, _)| *k != "prometheus.io/port");
        a
    };
    let pods = [
        meshed("voting-0", voting.admin),
        meshed("web-0", web.admin),
        // The app listens here: scraped, it would be an up target of its own.
        Pod {
            name: "unmeshed",
            ip: "127.0.0.1",
            phase: "Running",
            ports: vec![("app", app.addr.port(), false)],
            annotations: vec![],
        },
        Pod {
            name: "job-done",
            phase: "Succeeded",
            ..meshed("job-done", app.addr)
        },
        Pod {
            name: "no-port",
            annotations: without_port,
            ..meshed("no-port", app.addr)
        },
        Pod {
            name: "pending",
            ip: "",
            phase: "Pending",
            ports: vec![("app", app.addr.port(), false)],
            annotations: scrape_annotations(app.addr.port(), "/metrics"),
        },
        Pod {
            name: "v6",
            ip: "::1",
            annotations: scrape_annotations(4191, "/custom-metrics"),
            ..meshed("v6", voting.admin)
        },
    ];
    let groups: Vec<Value> = pods.iter().flat_map(Pod::targets).collect();
    let targets_file = dir.path().join("targets.json");
    std::fs::write(&targets_file, serde_json::to_string(&groups).unwrap()).unwrap();

    let printed = run(&["install", "--prometheus-config"]);
    assert_eq!(printed.code, 0, "{}", printed.stderr);
    let config = with_file_sd(&printed.stdout, &targets_file, Some("1s"));
    let prom_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let prometheus = start_prometheus(&prom_dir, &config).await;

    // Both meshed pods scraped and up, each once although each has three container ports.
    let want = [
        format!("http://{}/metrics", voting.admin),
        format!("http://{}/metrics", web.admin),
    ];
    let last = Arc::new(Mutex::new(Value::Null));
    eventually_within(Duration::from_secs(60), "both proxies scraped", || {
        let last = last.clone();
        let want = want.clone();
        let addr = prometheus.addr;
        async move {
            let now = targets(addr).await;
            let up: Vec<&str> = now["activeTargets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["health"] == "up")
                .filter_map(|t| t["scrapeUrl"].as_str())
                .collect();
            let done = want.iter().all(|w| up.contains(&w.as_str()));
            *last.lock().unwrap() = now;
            done
        }
    })
    .await;
    let last = last.lock().unwrap().clone();
    let mut active: Vec<String> = last["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["labels"]["job"], "mesh-proxies", "{t}");
            t["scrapeUrl"].as_str().unwrap().to_string()
        })
        .collect();
    active.sort();
    let mut expected = vec![
        want[0].clone(),
        want[1].clone(),
        // IPv6 pod IPs get brackets; the path annotation is the path.
        "http://[::1]:4191/custom-metrics".to_string(),
    ];
    expected.sort();
    assert_eq!(active, expected, "targets: {last:#}");
    let mut dropped: Vec<&str> = last["droppedTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["discoveredLabels"]["__meta_kubernetes_pod_name"].as_str())
        .collect();
    dropped.sort();
    dropped.dedup();
    assert_eq!(dropped, ["job-done", "no-port", "pending", "unmeshed"]);

    // The proxies' own labels reach Prometheus as they wrote them: `mesh stat --prometheus`
    // finds deploy/voting in emojivoto with every request.
    let url = format!("http://{}", prometheus.addr);
    let registry = registry.display().to_string();
    let args = [
        "stat",
        "deploy",
        "-n",
        "emojivoto",
        "--prometheus",
        &url,
        "--registry",
        &registry,
        "-o",
        "json",
    ];
    let seen = Arc::new(Mutex::new(String::new()));
    eventually_within(Duration::from_secs(60), "mesh stat --prometheus", || {
        let seen = seen.clone();
        let args = args.map(String::from);
        async move {
            let r = tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                run(&args)
            })
            .await
            .unwrap();
            *seen.lock().unwrap() = format!("{}{}", r.stdout, r.stderr);
            serde_json::from_str::<Value>(&r.stdout).is_ok_and(|v| {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .any(|row| row["name"] == "voting" && row["requests"] == json!(REQUESTS))
            })
        }
    })
    .await;
    drop(prometheus);
    let seen = seen.lock().unwrap();
    assert!(seen.contains("voting"), "{seen}");
}
