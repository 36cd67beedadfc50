//! Child processes observed from outside, as an operator would: a `mesh proxy` (its addresses from
//! the line it prints, its memory and open files from `/proc`, its log from a file), a killable
//! `mesh test-server`, and a well-behaved client that keeps calling while a fault goes on.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use mesh::testsvc;
use tokio::task::JoinHandle;

use crate::harness::mesh_process;
use crate::net::{admin_get, wait_ready};

/// A running `mesh proxy`; killed when dropped.
pub struct ProxyProcess {
    child: Child,
    pub inbound: Option<SocketAddr>,
    pub outbound: SocketAddr,
    pub admin: SocketAddr,
    log: tempfile::NamedTempFile,
}

impl ProxyProcess {
    /// Starts `mesh proxy -n emojivoto ARGS` on `127.0.0.1:0` ports and waits until it is ready.
    pub async fn start(args: &[&str]) -> ProxyProcess {
        Self::start_with_env(args, &[]).await
    }

    /// As [`ProxyProcess::start`], with `env` set for the proxy (`KUBECONFIG`, say).
    pub async fn start_with_env(args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> ProxyProcess {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut cmd = mesh_process();
        cmd.envs(env.iter().copied());
        cmd.args(["proxy", "-n", "emojivoto"])
            .args(["--inbound", "127.0.0.1:0", "--outbound", "127.0.0.1:0"])
            .args(["--admin", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap());
        let mut child = cmd.spawn().expect("mesh proxy starts");
        let stdout = child.stdout.take().unwrap();
        let line = first_line(stdout).await;
        let mut proxy = ProxyProcess {
            child,
            inbound: None,
            outbound: "127.0.0.1:1".parse().unwrap(),
            admin: "127.0.0.1:1".parse().unwrap(),
            log,
        };
        // listening inbound=127.0.0.1:P outbound=127.0.0.1:Q admin=127.0.0.1:R
        let addr = |key: &str| -> Option<SocketAddr> {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|a| a.parse().ok())
        };
        let (Some(outbound), Some(admin)) = (addr("outbound="), addr("admin=")) else {
            panic!("mesh proxy printed {line:?}; its log:\n{}", proxy.log());
        };
        proxy.inbound = addr("inbound=");
        proxy.outbound = outbound;
        proxy.admin = admin;
        wait_ready(admin).await;
        proxy
    }

    /// `deploy/voting` serving `voting-svc:8080` in front of `app`, with `extra` flags (which say
    /// `--registry DIR` or `--no-registry`).
    pub async fn voting(app: SocketAddr, extra: &[&str]) -> ProxyProcess {
        let app = app.to_string();
        let mut args = vec![
            "--workload",
            "deploy/voting",
            "--service",
            "voting-svc:8080",
        ];
        args.extend_from_slice(&["--app", &app]);
        args.extend_from_slice(extra);
        ProxyProcess::start(&args).await
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory, from `/proc/PID/status`.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }

    /// Open file descriptors, from `/proc/PID/fd`.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or_else(|e| panic!("reading the proxy's fds: {e}; log:\n{}", self.log()))
    }

    /// What the proxy logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The proxy's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let (status, body) = admin_get(self.admin, "/metrics").await;
        assert_eq!(status, 200, "/metrics: {body}");
        body
    }

    /// Waits (at most [`PATIENCE`](crate::net::PATIENCE)) for the process to exit by itself, and
    /// returns its exit code.
    pub async fn exited(&mut self) -> Option<i32> {
        let deadline = tokio::time::Instant::now() + crate::net::PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the proxy did not exit; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Fails the test unless the process is running and its admin port says `/live`.
    pub async fn assert_up(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the proxy exited ({status}); its log:\n{}", self.log());
        }
        assert_eq!(
            admin_get(self.admin, "/live").await.0,
            200,
            "/live; log:\n{}",
            self.log()
        );
    }

    /// Fails the test unless the proxy is up, its memory grew by at most `max_growth_kib` since
    /// `rss_before`, and no task panicked. Returns the RSS now.
    pub async fn assert_healthy(&mut self, rss_before: u64, max_growth_kib: u64) -> u64 {
        self.assert_up().await;
        let rss = self.rss_kib();
        assert!(
            rss <= rss_before + max_growth_kib,
            "proxy RSS grew from {rss_before} KiB to {rss} KiB (bound: +{max_growth_kib} KiB)"
        );
        let panics = crate::net::metric(&self.metrics().await, "proxy_task_panics_total", &[]);
        assert_eq!(panics, 0, "tasks panicked; log:\n{}", self.log());
        rss
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of process `pid` in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// The first line a child prints (empty if it exits first), without blocking the runtime.
pub async fn first_line(stdout: impl Read + Send + 'static) -> String {
    tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        // Keep draining so the child never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        line
    })
    .await
    .unwrap()
}

/// A `mesh test-server --http` process, to be killed mid-load.
pub struct TestServerProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl TestServerProcess {
    pub async fn start() -> TestServerProcess {
        let mut child = mesh_process()
            .args(["test-server", "--http", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mesh test-server starts");
        let line = first_line(child.stdout.take().unwrap()).await;
        let addr = line
            .trim()
            .strip_prefix("listening http ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("mesh test-server printed {line:?}"));
        TestServerProcess { child, addr }
    }

    /// SIGKILL: connections die without a goodbye.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for TestServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that keeps sending `GET /` with `host` to `addr`, each on a new connection, every few
/// milliseconds, and notes every answer that is not a 200.
pub struct Bystander {
    served: Arc<AtomicU64>,
    problems: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Bystander {
    pub fn start(addr: SocketAddr, host: &str) -> Bystander {
        let served = Arc::new(AtomicU64::new(0));
        let problems = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, p, st, host) = (
            served.clone(),
            problems.clone(),
            stop.clone(),
            host.to_string(),
        );
        let task = tokio::spawn(async move {
            while !st.load(Ordering::Relaxed) {
                let req = Request::get("/")
                    .header("host", &host)
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                match testsvc::http1_request(addr, req).await {
                    Ok(r) if r.head.status == 200 => {
                        s.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => p.lock().unwrap().push(format!("{:?}", r.head)),
                    Err(e) => p.lock().unwrap().push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        Bystander {
            served,
            problems,
            stop,
            task,
        }
    }

    /// Answers so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Stops once at least `at_least` calls were answered (waiting at most
    /// [`PATIENCE`](crate::net::PATIENCE) for them: how many fit in the test's own time depends on
    /// the machine, not on the proxy), and fails the test unless every call was answered with a
    /// 200 and `at_least` were. Returns how many were.
    pub async fn finish(self, at_least: u64) -> u64 {
        let deadline = tokio::time::Instant::now() + crate::net::PATIENCE;
        while self.served() < at_least && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        let problems = self.problems.lock().unwrap();
        assert!(
            problems.is_empty(),
            "a bystander was not served: {} problems, first: {:?}",
            problems.len(),
            problems.first()
        );
        let served = self.served.load(Ordering::Relaxed);
        assert!(
            served >= at_least,
            "a bystander got only {served} answers (expected at least {at_least})"
        );
        served
    }
}
