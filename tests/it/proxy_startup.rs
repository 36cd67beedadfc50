//! Startup ordering and process life: `mesh proxy -- APP`, `mesh await -- CMD`, and how much
//! memory `mesh proxy` holds while a large body streams through it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use http::Request;
use mesh::testsvc::{self, EchoedRequest, SyntheticBody};
use tokio::sync::mpsc;

use crate::net::{config, http_upstream, upstream, wait_ready, TestProxy, PATIENCE};

/// `mesh proxy` run as a process, its stdout read line by line; killed if still running when
/// dropped.
struct ProxyProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
    inbound: Option<SocketAddr>,
    outbound: SocketAddr,
    admin: SocketAddr,
}

// === impl ProxyProcess ===

impl ProxyProcess {
    /// Starts `mesh proxy FLAGS --registry REGISTRY [-- APP]` with `env` added, on ports chosen
    /// by the OS, and reads the addresses it announces.
    async fn start(
        registry: &Path,
        flags: &[&str],
        app: &[&str],
        env: &[(&str, &str)],
    ) -> ProxyProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mesh"));
        cmd.arg("proxy")
            .args(flags)
            .arg("--registry")
            .arg(registry)
            .args(["--outbound", "127.0.0.1:0", "--admin", "127.0.0.1:0"]);
        if !app.is_empty() {
            cmd.arg("--").args(app);
        }
        for (key, _) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            // The caller's MESH_* settings would change the flags; a no-proxy list could make curl
            // bypass the proxy under test.
            if key_text.starts_with("MESH_") || key_text.eq_ignore_ascii_case("no_proxy") {
                cmd.env_remove(&key);
            }
        }
        let mut child = cmd
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mesh starts");
        let lines = read_lines(child.stdout.take().unwrap());
        let mut proxy = ProxyProcess {
            child,
            lines,
            inbound: None,
            outbound: "0.0.0.0:0".parse().unwrap(),
            admin: "0.0.0.0:0".parse().unwrap(),
        };
        // listening inbound=127.0.0.1:P outbound=127.0.0.1:Q admin=127.0.0.1:R (inbound=- without)
        let line = proxy.next_line().await;
        let addr = |key: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .unwrap_or_else(|| panic!("{key} in {line:?}"))
                .parse::<SocketAddr>()
                .ok()
        };
        proxy.inbound = addr("inbound=");
        proxy.outbound = addr("outbound=").expect("an outbound address");
        proxy.admin = addr("admin=").expect("an admin address");
        proxy
    }

    /// The next line the process (or its app) wrote to stdout.
    async fn next_line(&mut self) -> String {
        tokio::time::timeout(PATIENCE, self.lines.recv())
            .await
            .unwrap_or_else(|_| panic!("no line on stdout within {PATIENCE:?}"))
            .expect("stdout closed before the next line")
    }

    /// Waits (at most `limit`) for the process to exit: its exit code and stderr.
    async fn exit_within(&mut self, limit: Duration) -> (i32, String) {
        let deadline = tokio::time::Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "mesh proxy still running after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        let code = status.code().expect("mesh exited, not killed by a signal");
        (code, stderr)
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Lines of `stdout`, read on a thread of their own so a silent process cannot block the test.
fn read_lines(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn curl_is_installed() -> bool {
    Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_starts_after_its_proxy_is_ready_and_its_exit_code_is_meshs() {
    if !curl_is_installed() {
        eprintln!("skipped: curl is not installed (CI installs it with apt-get install -y curl)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let upstream = http_upstream().await;
    let _voting = TestProxy::start(config(
        &registry,
        "voting",
        &["voting-svc:8080"],
        Some(upstream.addr),
    ))
    .await;
    let out = dir.path().join("out.json");
    let out_text = out.to_str().unwrap();

    // No retries: the very first request the app sends must find its proxy ready and routed.
    let app =
        r#"curl -sf -x "http://$MESH_OUTBOUND_ADDR" http://voting-svc:8080/ > "$OUT"; exit 7"#;
    let mut web = ProxyProcess::start(
        &registry,
        &["--workload", "deploy/web", "-n", "emojivoto"],
        &["sh", "-c", app],
        &[("OUT", out_text)],
    )
    .await;
    assert_eq!(web.inbound, None, "no --app, no inbound listener");
    let (code, stderr) = web.exit_within(PATIENCE).await;
    assert_eq!(code, 7, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "mesh: waiting for the proxy to be ready at {} before starting sh",
            web.admin
        )),
        "{stderr}"
    );
    let body = std::fs::read(&out).unwrap();
    let echoed = EchoedRequest::from_json(&body.into()).expect("curl wrote the upstream's echo");
    assert_eq!(echoed.path, "/");
    assert_eq!(upstream.requests.get(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_is_passed_on_to_the_app_and_mesh_exits_as_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let mut proxy = ProxyProcess::start(
        &dir.path().join("registry"),
        &["--workload", "deploy/web", "-n", "emojivoto"],
        &["sh", "-c", "echo started; exec sleep 30"],
        &[],
    )
    .await;
    assert_eq!(proxy.next_line().await, "started");

    crate::harness::terminate(proxy.child.id());
    let (code, stderr) = proxy.exit_within(PATIENCE).await;
    assert_eq!(code, 128 + 15, "killed by SIGTERM: {stderr}");
}

/// Runs `mesh ARGS` off the async runtime.
async fn mesh(args: Vec<String>) -> crate::harness::Run {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::harness::run(&args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_runs_the_command_once_the_proxy_is_ready_and_exits_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = TestProxy::start(config(&dir.path().join("registry"), "web", &[], None)).await;
    let admin = proxy.admin.to_string();
    let run = mesh(
        ["await", "--admin", &admin, "--", "sh", "-c", "exit 3"]
            .map(String::from)
            .to_vec(),
    )
    .await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!("mesh: waiting for the proxy at {admin} to be ready\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_gives_up_after_its_timeout_naming_the_address() {
    let closed = crate::net::bind().await.local_addr().unwrap().to_string();
    let run = mesh(
        [
            "await",
            "--admin",
            &closed,
            "--timeout",
            "300ms",
            "--",
            "true",
        ]
        .map(String::from)
        .to_vec(),
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("the proxy at {closed} was not ready within 300ms")),
        "{}",
        run.stderr
    );
}

/// The resident set of process `pid`, in bytes.
#[cfg(target_os = "linux")]
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .expect("VmRSS in /proc/PID/status");
    kib * 1024
}

/// POSTs `len` bytes of filler, made up chunk by chunk as the connection takes them, through
/// `inbound` to `voting-svc:8080`: what the upstream says it received.
async fn post_streamed(inbound: SocketAddr, len: u64) -> EchoedRequest {
    let req = Request::post("/upload")
        .header("host", "voting-svc:8080")
        .body(SyntheticBody::filler(len))
        .unwrap();
    let reply = testsvc::http1_request(inbound, req)
        .await
        .expect("the body streams through");
    assert_eq!(reply.head.status, 200, "{:?}", reply.body);
    EchoedRequest::from_json(&reply.body).unwrap()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_body_streams_through_the_proxy_in_bounded_memory() {
    const BODY: u64 = 50 << 20;
    const SLACK: u64 = 8 << 20;
    let dir = tempfile::tempdir().unwrap();
    let upstream = upstream::<testsvc::HttpAnswer>(testsvc::Limits {
        max_request_body: 64 << 20,
        ..Default::default()
    })
    .await;
    let app = upstream.addr.to_string();
    let proxy = ProxyProcess::start(
        &dir.path().join("registry"),
        &[
            "--workload",
            "deploy/voting",
            "-n",
            "emojivoto",
            "--service",
            "voting-svc:8080",
            "--inbound",
            "127.0.0.1:0",
            "--app",
            &app,
        ],
        &[],
        &[],
    )
    .await;
    wait_ready(proxy.admin).await;
    let inbound = proxy.inbound.expect("an inbound listener");

    // Warm up: connections, pools and buffers exist once the first body has gone through.
    assert_eq!(post_streamed(inbound, 1 << 20).await.body_bytes, 1 << 20);
    let before = resident_bytes(proxy.child.id());
    // On a debug build 50 MiB take well under a second on loopback, far inside the client's
    // CLIENT_TIMEOUT (10 s).
    assert_eq!(post_streamed(inbound, BODY).await.body_bytes, BODY);
    let after = resident_bytes(proxy.child.id());
    assert!(
        after <= before + SLACK,
        "VmRSS grew from {} KiB to {} KiB while 50 MiB streamed through",
        before >> 10,
        after >> 10
    );
}
