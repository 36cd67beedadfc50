//! The `process_*` family, as Prometheus' client libraries define it for every process they
//! instrument (and linkerd2-proxy exports): CPU time, resident and virtual memory, open and
//! maximum file descriptors, start time. The lines carry no labels: Prometheus' convention has
//! none, and its scrape adds the target's (`instance`, `job`, and in Kubernetes the pod's).
//!
//! Read at scrape time from the kernel — `/proc/self/status` (memory), `/proc/self/fd` (open
//! descriptors), `getrusage` (CPU) and `getrlimit` (the descriptor limit `/proc/self/limits`
//! shows) — so no thread samples in the background. A value the kernel does not give (another
//! OS, a `/proc` that is not mounted) leaves its line out rather than reporting a false zero.

use std::fmt::Write;

/// What the kernel says about this process now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    /// User and system CPU time, in seconds.
    pub cpu_seconds: Option<f64>,
    /// Resident set size, in bytes.
    pub resident_bytes: Option<u64>,
    /// Virtual memory size, in bytes.
    pub virtual_bytes: Option<u64>,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// The soft limit on open file descriptors (`ulimit -n`).
    pub max_fds: Option<u64>,
}

impl ProcessStats {
    /// Reads this process's figures; each one the kernel does not give is `None`.
    pub fn read() -> ProcessStats {
        let (resident_bytes, virtual_bytes) = std::fs::read_to_string("/proc/self/status")
            .map_or((None, None), |status| memory_of_status(&status));
        ProcessStats {
            cpu_seconds: cpu_seconds(),
            resident_bytes,
            virtual_bytes,
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                // The directory handle reading it is one of the entries: not counted.
                .map(|dir| (dir.count() as u64).saturating_sub(1)),
            max_fds: max_fds(),
        }
    }
}

/// `VmRSS` and `VmSize` of a `/proc/PID/status` text, in bytes (the file says kB, meaning KiB).
fn memory_of_status(status: &str) -> (Option<u64>, Option<u64>) {
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let kib: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
            Some(kib * 1024)
        })
    };
    (field("VmRSS"), field("VmSize"))
}

fn cpu_seconds() -> Option<f64> {
    use nix::sys::resource::{getrusage, UsageWho};
    let usage = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Some(seconds(usage.user_time()) + seconds(usage.system_time()))
}

fn max_fds() -> Option<u64> {
    use nix::sys::resource::{getrlimit, Resource};
    let (soft, _hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    // RLIM_INFINITY is u64::MAX: no limit, nothing to plot against.
    (soft != nix::sys::resource::RLIM_INFINITY).then_some(soft)
}

/// Writes the family: `started_unix` (seconds since the Unix epoch) and `stats`.
pub fn render(out: &mut String, started_unix: f64, stats: &ProcessStats) {
    family(
        out,
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        stats.cpu_seconds.map(|s| format!("{s:.6}")),
    );
    let int = |v: Option<u64>| v.map(|v| v.to_string());
    family(
        out,
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        int(stats.open_fds),
    );
    family(
        out,
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors.",
        int(stats.max_fds),
    );
    family(
        out,
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        int(stats.virtual_bytes),
    );
    family(
        out,
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        int(stats.resident_bytes),
    );
    family(
        out,
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch in seconds.",
        Some(format!("{started_unix:.3}")),
    );
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, value: Option<String>) {
    let Some(value) = value else { return };
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_comes_from_the_status_file_in_bytes() {
        let status =
            "Name:\tmesh\nVmPeak:\t  20000 kB\nVmSize:\t   16384 kB\nVmRSS:\t    2048 kB\n";
        assert_eq!(
            memory_of_status(status),
            (Some(2048 * 1024), Some(16384 * 1024))
        );
        assert_eq!(memory_of_status("Name:\tmesh\n"), (None, None));
    }

    #[test]
    fn the_family_has_prometheus_names_and_no_labels() {
        let stats = ProcessStats {
            cpu_seconds: Some(1.25),
            resident_bytes: Some(4096),
            virtual_bytes: Some(8192),
            open_fds: Some(12),
            max_fds: Some(1024),
        };
        let mut out = String::new();
        render(&mut out, 1_700_000_000.5, &stats);
        for line in [
            "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.250000\n",
            "# TYPE process_open_fds gauge\nprocess_open_fds 12\n",
            "# TYPE process_max_fds gauge\nprocess_max_fds 1024\n",
            "process_virtual_memory_bytes 8192\n",
            "process_resident_memory_bytes 4096\n",
            "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1700000000.500\n",
        ] {
            assert!(out.contains(line), "{line:?} in\n{out}");
        }
        assert!(!out.contains('{'), "no labels:\n{out}");
    }

    #[test]
    fn a_figure_the_kernel_does_not_give_is_left_out() {
        let mut out = String::new();
        render(&mut out, 1.0, &ProcessStats::default());
        assert!(!out.contains("process_open_fds"), "{out}");
        assert!(out.contains("process_start_time_seconds 1.000\n"), "{out}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_figures() {
        let stats = ProcessStats::read();
        assert!(stats.resident_bytes.is_some_and(|b| b > 0), "{stats:?}");
        assert!(stats.virtual_bytes >= stats.resident_bytes, "{stats:?}");
        assert!(stats.open_fds.is_some_and(|n| n >= 3), "{stats:?}");
        assert!(stats.cpu_seconds.is_some(), "{stats:?}");
    }
}
