//! Network namespaces for the capture tests: each test makes its own (unique names), joined by a
//! veth pair with addresses chosen here, and every rule and connection stays inside them: nothing
//! is applied in the host's own namespace. A namespace is removed when dropped, failed test or
//! not, after the processes the test started in it are killed.
//!
//! ```text
//! pod  (10.77.0.1/24, fd77::1/64; default routes via the peer)  eth0 ══ eth0  peer (10.77.0.2/24, fd77::2/64)
//! ```
//! The peer forwards nothing (a fresh namespace does not), so nothing leaves the pair.

use std::path::{Path, PathBuf};
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
    if let Some(t) = tools.iter().chain(&["ip"]).find(|t| !in_path(t)) {
        return Some(format!(
            "`{t}` is not installed (.ci/run installs iproute2, nftables, iptables)"
        ));
    }
    namespaces_work().clone().err()
}

/// Whether this process may make network namespaces (root in a container may not), tried once.
fn namespaces_work() -> &'static Result<(), String> {
    static WORKS: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    WORKS.get_or_init(|| {
        let name = format!("mesh-probe-{}", std::process::id());
        let out = Command::new("ip").args(["netns", "add", &name]).output();
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        match out {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!(
                "cannot make a network namespace here: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Err(format!("cannot run ip: {e}")),
        }
    })
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
        // Until the link-local addresses leave duplicate address detection (about 1.5 s after
        // the link comes up), the first SYN to a peer's IPv6 address is lost and retransmitted
        // only after 1 s, past the proxy's connect timeout: wait for them, bounded.
        const SETTLED: &str = "for i in $(seq 200); do \
            [ -z \"$(ip -6 addr show dev eth0 tentative)\" ] && exit 0; sleep 0.05; done; \
            ip -6 addr show dev eth0; exit 1";
        for ns in [&pod, &peer] {
            let r = ns.run("sh", &["-c", SETTLED]);
            assert_eq!(
                r.code, 0,
                "IPv6 addresses in {} still tentative after 10 s:\n{}{}",
                ns.name, r.stdout, r.stderr
            );
        }
        Pod { pod, peer }
    }
}

/// The `mesh` binary copied into a world-readable temporary directory, so a process running as
/// another user (the proxy's uid) can execute it wherever the build lives.
pub struct SharedBinary {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl SharedBinary {
    pub fn new() -> SharedBinary {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join("mesh");
        std::fs::copy(env!("CARGO_BIN_EXE_mesh"), &path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        SharedBinary { _dir: dir, path }
    }

    pub fn path(&self) -> &Path {
        &self.path
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

/// A process the test started in a namespace, killed (and reaped) when dropped.
pub struct Background {
    child: std::process::Child,
    what: String,
    /// Kept open: a closed pipe would kill the process at its next line.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
    log: tempfile::NamedTempFile,
}

impl Background {
    /// Starts `cmd` and waits for its first line on stdout (a server saying it listens), which
    /// is returned; panics with what it wrote to stderr if it ends first.
    pub fn start(mut cmd: Command, what: &str) -> (Background, String) {
        use std::io::BufRead;
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let _ = stdout.read_line(&mut line);
        let bg = Background {
            child,
            what: what.to_string(),
            _stdout: stdout,
            log,
        };
        assert!(
            !line.is_empty(),
            "{what} ended before it was ready: {}",
            bg.log()
        );
        (bg, line)
    }

    /// What it wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            println!("stopping {}: {e}", self.what);
        }
        let _ = self.child.wait();
    }
}

/// Serves `GET /whoami` answering `PORT` on `addr:port` inside `ns` (Python's http.server, so the
/// app is nothing of mesh's), bound to that address as ZooKeeper binds its quorum ports to the
/// pod IP.
pub fn whoami_server(ns: &Netns, addr: &str, port: u16) -> (Background, tempfile::TempDir) {
    // http.server's own bind looks its address up in DNS (`getfqdn`), which a namespace without
    // a resolver answers only after a 10 s timeout: skipped here.
    const SERVER: &str = "import functools,http.server,socket,socketserver,sys\n\
        addr,port,d=sys.argv[1],int(sys.argv[2]),sys.argv[3]\n\
        class Server(http.server.ThreadingHTTPServer):\n\
        \x20 address_family=socket.AF_INET6 if ':' in addr else socket.AF_INET\n\
        \x20 def server_bind(self):\n\
        \x20   socketserver.TCPServer.server_bind(self)\n\
        \x20   self.server_name,self.server_port=addr,port\n\
        h=functools.partial(http.server.SimpleHTTPRequestHandler,directory=d)\n\
        s=Server((addr,port),h)\n\
        print('listening',flush=True)\n\
        s.serve_forever()\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("whoami"), port.to_string()).unwrap();
    let mut cmd = ns.command("python3");
    cmd.args(["-c", SERVER, addr, &port.to_string()])
        .arg(dir.path());
    let (bg, _) = Background::start(cmd, &format!("http server on {addr}:{port}"));
    (bg, dir)
}

/// `curl URL` inside `ns`: the body, or `Err` with curl's complaint.
pub fn curl(ns: &Netns, url: &str) -> Result<String, String> {
    let r = ns.run("curl", &["-sS", "--max-time", "10", url]);
    if r.code == 0 {
        Ok(r.stdout)
    } else {
        Err(format!("curl {url}: exit {}: {}", r.code, r.stderr))
    }
}

/// A TCP server on `addr:port` inside `ns` that answers `PONG` once it has read the 5 bytes
/// [`ping`] sends (all of them: closing with unread data would send a reset, which can discard the
/// PONG before the proxy reads it; TCP may deliver the bytes in more than one read).
pub fn pong_server(ns: &Netns, addr: &str, port: u16) -> Background {
    const SERVER: &str = "import socket,sys\n\
        s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)\n\
        s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
        s.bind((sys.argv[1],int(sys.argv[2])))\n\
        s.listen()\n\
        print('listening',flush=True)\n\
        while True:\n  c,_=s.accept()\n  b=b''\n  while len(b)<5:\n    d=c.recv(100)\n    if not d: break\n    b+=d\n  c.sendall(b'PONG')\n  c.close()\n";
    let mut cmd = ns.command("python3");
    cmd.args(["-c", SERVER, addr, &port.to_string()]);
    Background::start(cmd, &format!("pong server on {addr}:{port}")).0
}

/// Sends `\x16PING` to `addr:port` from inside `ns` and returns the answer. The first byte is
/// not text (as TLS's, or any binary protocol's), so the proxy relays it as opaque TCP.
pub fn ping(ns: &Netns, addr: &str, port: u16) -> Result<String, String> {
    const CLIENT: &str = "import socket,sys\n\
        c=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=10)\n\
        c.sendall(b'\\x16PING')\n\
        print(c.recv(100).decode(),end='')\n";
    let r = ns.run("python3", &["-c", CLIENT, addr, &port.to_string()]);
    if r.code == 0 {
        Ok(r.stdout)
    } else {
        Err(format!("ping {addr}:{port}: {}", r.stderr))
    }
}

/// The proxy's uid, as `mesh init` exempts it by default (Linkerd's).
pub const PROXY_UID: &str = "2102";

/// Meshes the pod namespace `ns`: `mesh init INIT_FLAGS`, then `mesh proxy --capture
/// PROXY_FLAGS` (listeners where --capture puts them by default, `[::]`; admin on
/// 127.0.0.1:4191) as the proxy's uid, from `bin`.
pub fn mesh_pod(
    ns: &Netns,
    bin: &SharedBinary,
    init_flags: &[&str],
    proxy_flags: &[&str],
) -> Background {
    mesh_pod_with_env(ns, bin, init_flags, proxy_flags, &[])
}

/// [`mesh_pod`], with `env` set for the proxy (`KUBECONFIG`, say).
pub fn mesh_pod_with_env(
    ns: &Netns,
    bin: &SharedBinary,
    init_flags: &[&str],
    proxy_flags: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> Background {
    let mut init = vec!["init"];
    init.extend_from_slice(init_flags);
    let r = ns.mesh(&init);
    assert_eq!(r.code, 0, "mesh {}: {}", init.join(" "), r.stderr);
    let mut cmd = ns.command("setpriv");
    cmd.args([
        "--reuid",
        PROXY_UID,
        "--regid",
        PROXY_UID,
        "--clear-groups",
        "--",
    ])
    .arg(bin.path())
    .args([
        "proxy",
        "--capture",
        "--workload",
        "deploy/app",
        "-n",
        "default",
    ])
    // The listeners' defaults under --capture: `[::]:4143` and `[::]:4140`.
    .args(["--admin", "127.0.0.1:4191", "--no-registry"])
    .args(proxy_flags)
    .envs(env.iter().copied())
    .env("RUST_BACKTRACE", "0");
    let (proxy, line) = Background::start(cmd, "mesh proxy --capture");
    assert!(line.starts_with("listening "), "{line}");
    proxy
}

/// An egress forward proxy (squid's part) on `addr:port` inside `ns`, which never connects
/// anywhere: a request in absolute form (`GET http://example.com/x HTTP/1.1`) is answered with
/// its request line (and `(Proxy-Authorization: …)` when it has that field) as the body, so a
/// test sees the request exactly as the proxy received it; a `CONNECT host:port` is answered
/// `200`, then the HTTP request that comes through the tunnel is answered `tunnel to host:port
/// (Proxy-Authorization: …): REQUEST-LINE`.
pub fn egress_proxy(ns: &Netns, addr: &str, port: u16) -> Background {
    const SERVER: &str = "import socket,socketserver,sys\n\
        def head(f):\n\
        \x20 line,auth=f.readline().decode().rstrip('\\r\\n'),''\n\
        \x20 while True:\n\
        \x20   h=f.readline().decode().rstrip('\\r\\n')\n\
        \x20   if not h: return line,auth\n\
        \x20   if h.lower().startswith('proxy-authorization:'): auth=' (Proxy-Authorization:'+h.split(':',1)[1]+')'\n\
        def answer(w,body):\n\
        \x20 b=body.encode()\n\
        \x20 w.write(b'HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n'%len(b)+b)\n\
        \x20 w.flush()\n\
        class H(socketserver.StreamRequestHandler):\n\
        \x20 def handle(self):\n\
        \x20   line,auth=head(self.rfile)\n\
        \x20   if line.startswith('CONNECT '):\n\
        \x20     self.wfile.write(b'HTTP/1.1 200 Connection established\\r\\n\\r\\n');self.wfile.flush()\n\
        \x20     answer(self.wfile,'tunnel to '+line.split()[1]+auth+': '+head(self.rfile)[0])\n\
        \x20   else: answer(self.wfile,line+auth)\n\
        class S(socketserver.ThreadingTCPServer):\n\
        \x20 address_family=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n\
        \x20 allow_reuse_address=True\n\
        s=S((sys.argv[1],int(sys.argv[2])),H)\n\
        print('listening',flush=True)\n\
        s.serve_forever()\n";
    let mut cmd = ns.command("python3");
    cmd.args(["-c", SERVER, addr, &port.to_string()]);
    Background::start(cmd, &format!("egress proxy on {addr}:{port}")).0
}
