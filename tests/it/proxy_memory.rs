//! Memory the proxy gives back. How much a burst costs and how soon it is returned is measured by
//! `bench/upload-burst.sh` (a benchmark, not a test); here only the mechanism it relies on is
//! checked: the `mesh` binary runs jemalloc's background thread, which purges freed pages while the
//! process is idle (without it an idle proxy kept a burst's peak RSS for as long as it stayed idle).

use crate::process::ProxyProcess;

/// The names of a process's threads, from `/proc/PID/task/*/comm`.
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the proxy's threads are listed in /proc")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

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
