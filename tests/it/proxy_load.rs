//! A proxy under a burst: what it needs to take one (room for new connections it has not accepted
//! yet) and what it gives back afterwards (memory). How much a burst costs and how soon it is
//! returned is measured by `bench/upload-burst.sh` (a benchmark, not a test); here only the
//! mechanisms it relies on are checked.

use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::net::TcpStream;

use crate::process::ProxyProcess;

/// The names of a process's threads, from `/proc/PID/task/*/comm`.
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the proxy's threads are listed in /proc")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

/// Without jemalloc's background thread an idle proxy kept a burst's freed pages in its RSS for as
/// long as it stayed idle (jemalloc otherwise purges only from inside allocator calls).
#[tokio::test]
async fn the_proxy_purges_freed_memory_in_the_background() {
    let proxy = ProxyProcess::start(&["--workload", "deploy/web", "--no-registry"]).await;
    let names = thread_names(proxy.pid());
    assert!(
        names.iter().any(|n| n == "jemalloc_bg_thd"),
        "no jemalloc background thread among the proxy's threads {names:?}; log:\n{}",
        proxy.log()
    );
    assert!(
        !proxy.log().contains("background purging is off"),
        "{}",
        proxy.log()
    );
}

/// A stopped process (SIGSTOP), continued when dropped.
struct Stopped(Pid);

impl Stopped {
    fn new(pid: u32) -> Stopped {
        let pid = Pid::from_raw(pid as i32);
        kill(pid, Signal::SIGSTOP).expect("the proxy can be stopped");
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = kill(self.0, Signal::SIGCONT);
    }
}

/// A burst of new connections that arrive while the proxy is busy wait in the kernel's listen
/// backlog. With the backlog of 128 that `TcpListener::bind` uses, the 130th and later had their
/// SYNs dropped and were retried only after 1 s, which another proxy's 1 s connect timeout turned
/// into 504s (a burst of 500 uploads through two hops). The proxy is stopped, so it accepts
/// nothing while the burst arrives: a connection completes only if the backlog holds it, and one
/// that does not never completes (its retried SYNs find the backlog as full), however long the
/// wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_new_connections_waits_in_the_listen_backlog() {
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096);
    let burst = 500.min(somaxconn);
    let proxy = ProxyProcess::start(&["--workload", "deploy/web", "--no-registry"]).await;
    let outbound = proxy.outbound;
    let stopped = Stopped::new(proxy.pid());
    let connects: Vec<_> = (0..burst)
        .map(|_| {
            tokio::spawn(async move {
                tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(outbound)).await
            })
        })
        .collect();
    let mut held = Vec::new();
    for c in connects {
        if let Ok(Ok(stream)) = c.await.unwrap() {
            held.push(stream);
        }
    }
    drop(stopped);
    assert_eq!(
        held.len(),
        burst,
        "only {} of {burst} connections completed while the proxy was busy (net.core.somaxconn is {somaxconn})",
        held.len()
    );
}
