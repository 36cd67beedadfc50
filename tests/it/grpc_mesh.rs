//! gRPC with a real gRPC implementation on both ends — gRPC's C core through grpcio, as the app
//! (`py/grpc_server.py`) and as the client (`py/grpc_client.py`) — called directly and through the
//! mesh (client -> outbound -> inbound -> app), so a test compares what the same client sees.
//! Where Python or grpcio is missing, the tests print why and skip.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;

use serde::Deserialize;

use crate::net::{config, TestProxy};
use crate::python::{python_with, script, PyPeer};

/// The authority the mesh serves the app as.
pub const AUTHORITY: &str = "voting-svc:8080";

/// Starts `grpc_server.py ARGS`; `None` (the test skips) without Python and grpcio.
pub async fn grpc_server(args: &[&str]) -> Option<PyPeer> {
    PyPeer::start(&["grpc"], "grpc_server.py", args).await
}

/// What the client saw at the end of a call.
#[derive(Debug, Deserialize)]
pub struct Seen {
    /// The status code's name: `OK`, `UNAVAILABLE`, …
    pub code: String,
    /// `grpc-message`.
    pub details: String,
    /// Messages received before the end.
    pub messages: u32,
    /// Trailing metadata (the headers of a trailers-only response, too).
    pub trailing: HashMap<String, String>,
}

/// Where a call goes: straight to `target`, or to an outbound proxy naming the app's service.
#[derive(Debug, Clone, Copy)]
pub enum Via {
    Direct(SocketAddr),
    Mesh(SocketAddr),
}

/// Runs `grpc_client.py` with `args` and returns its JSON line.
pub async fn client_json(via: Via, args: &[&str]) -> serde_json::Value {
    let mut cmd: tokio::process::Command = python_with(&["grpc"])
        .expect("grpcio is installed (the server started)")
        .into();
    cmd.arg(script("grpc_client.py"));
    match via {
        Via::Direct(addr) => cmd.arg(addr.to_string()),
        Via::Mesh(outbound) => cmd
            .arg(outbound.to_string())
            .args(["--authority", AUTHORITY]),
    };
    let out = tokio::time::timeout(
        crate::net::PATIENCE * 2,
        cmd.args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("grpc_client.py ends in time")
    .expect("python3 runs");
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim())
        .unwrap_or_else(|e| panic!("grpc_client.py {args:?} printed {line:?}: {e}"))
}

/// One call's outcome, as [`Seen`].
pub async fn call(via: Via, args: &[&str]) -> Seen {
    serde_json::from_value(client_json(via, args).await).expect("a call's outcome")
}

/// `deploy/web` (outbound only) calling `deploy/voting`, which serves [`AUTHORITY`] in front of
/// `app`; both in-process, registered below their own directory.
pub struct Mesh {
    pub web: TestProxy,
    pub voting: TestProxy,
    _dir: tempfile::TempDir,
}

impl Mesh {
    /// The mesh in front of `app`, with `profile` (ServiceProfile YAML) on the web side if given.
    pub async fn start(app: SocketAddr, profile: Option<&str>) -> Mesh {
        let dir = tempfile::tempdir().unwrap();
        let registry = dir.path().join("registry");
        let voting =
            TestProxy::start(config(&registry, "voting", &["voting-svc:8080"], Some(app))).await;
        let mut web = config(&registry, "web", &[], None);
        if let Some(yaml) = profile {
            let profiles = dir.path().join("profiles");
            std::fs::create_dir_all(&profiles).unwrap();
            std::fs::write(profiles.join("voting.yaml"), yaml).unwrap();
            web.profiles_dir = Some(profiles);
        }
        let web = TestProxy::start(web).await;
        Mesh {
            web,
            voting,
            _dir: dir,
        }
    }

    /// Calls go to the web side's outbound.
    pub fn via(&self) -> Via {
        Via::Mesh(self.web.outbound)
    }
}

/// A loopback port nothing listens on.
pub async fn closed_port() -> SocketAddr {
    let listener = crate::net::bind().await;
    listener.local_addr().unwrap()
}
