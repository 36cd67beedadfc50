//! Network namespaces for the capture tests: each test makes its own (unique names), joined by a
//! veth pair with addresses chosen here, and every rule and connection stays inside them: nothing
//! is applied in the host's own namespace. A namespace is removed when dropped, failed test or
//! not, after the processes the test started in it are killed.
//!
//! ```text
//! pod  (10.77.0.1/24, fd77::1/64; default routes via the peer)  eth0 ══ eth0  peer (10.77.0.2/24, fd77::2/64)
//! ```
//! The peer forwards nothing (a fresh namespace does not), so nothing leaves the pair.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::harness::Run;

/// The pod's addresses.
pub const POD_V4: &str = "10.77.0.1";
pub const POD_V6: &str = "fd77::1";
/// The peer's addresses.
pub const PEER_V4: &str = "10.77.0.2";
pub const PEER_V6: &str = "fd77::2";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Why the namespace tests cannot run here (not root, or a tool missing), if they cannot; the
/// caller prints it and skips. CI runs as root with the tools installed (`.ci/run`).
pub fn skip_reason(tools: &[&str]) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some(
            "not root: network namespaces and nat rules need it (CI runs these as root)".into(),
        );
    }
    tools
        .iter()
        .chain(&["ip"])
        .find(|t| !in_path(t))
        .map(|t| format!("`{t}` is not installed (.ci/run installs iproute2, nftables, iptables)"))
}

/// Skips the calling test, saying why, when [`skip_reason`] finds a reason.
macro_rules! skip_unless_netns {
    ($($tool:expr),* $(,)?) => {
        if let Some(why) = $crate::netns::skip_reason(&[$($tool),*]) {
            println!("skipped: {why}");
            return;
        }
    };
}
pub(crate) use skip_unless_netns;

fn in_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
}

/// One network namespace, removed on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// A new namespace with `lo` up.
    pub fn new(tag: &str) -> Netns {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let name = format!("mesh-{tag}-{}-{n}", std::process::id());
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NAME ARGS`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// `PROGRAM` to be run inside the namespace (`ip netns exec NAME PROGRAM`).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// Runs `program args` inside and returns what it printed (its exit code is the caller's to
    /// judge).
    pub fn run(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Run {
        run_output(
            self.command(program)
                .args(args)
                .output()
                .expect("ip netns exec runs"),
        )
    }

    /// Runs `mesh ARGS` inside, as root.
    pub fn mesh(&self, args: &[&str]) -> Run {
        run_output(
            self.command(env!("CARGO_BIN_EXE_mesh"))
                .args(args)
                .env("RUST_BACKTRACE", "0")
                .output()
                .expect("ip netns exec runs"),
        )
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Only processes this test started can be in its namespace.
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A pod namespace and a peer namespace joined by a veth pair.
pub struct Pod {
    pub pod: Netns,
    pub peer: Netns,
}

impl Pod {
    /// Both namespaces, addressed (IPv6 without duplicate address detection, so usable at once)
    /// and with the pod's default routes via the peer.
    pub fn new(tag: &str) -> Pod {
        let pod = Netns::new(&format!("{tag}-pod"));
        let peer = Netns::new(&format!("{tag}-peer"));
        // Created inside the pod namespace with its other end in the peer's: never in the host's.
        pod.ip(&[
            "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", &peer.name,
        ]);
        for (ns, v4, v6) in [(&pod, POD_V4, POD_V6), (&peer, PEER_V4, PEER_V6)] {
            ns.ip(&["addr", "add", &format!("{v4}/24"), "dev", "eth0"]);
            ns.ip(&["addr", "add", &format!("{v6}/64"), "dev", "eth0", "nodad"]);
            ns.ip(&["link", "set", "eth0", "up"]);
        }
        pod.ip(&["route", "add", "default", "via", PEER_V4]);
        pod.ip(&["-6", "route", "add", "default", "via", PEER_V6]);
        Pod { pod, peer }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_output(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
