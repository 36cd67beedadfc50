//! Peers written in Python, for what hyper cannot be on the other side of: a real gRPC
//! implementation (grpcio, gRPC's C core) and an HTTP/2 server that changes its SETTINGS
//! mid-connection (hyper-h2). `.ci/run` installs both from PyPI; where Python or a module is
//! missing, a test that needs it prints why and skips.
//!
//! A peer is a script in `tests/it/py/` that binds `127.0.0.1:0`, prints `listening ADDR` as its
//! first line, and serves until it is killed (when [`PyPeer`] is dropped).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::harness::root;

/// `python3` when it can import every one of `modules`; otherwise prints why the calling test
/// skips and returns `None`.
pub fn python_with(modules: &[&str]) -> Option<Command> {
    let imports = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    let probe = Command::new("python3")
        .args(["-c", &imports])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match probe {
        Ok(s) if s.success() => {
            let mut cmd = Command::new("python3");
            // Unbuffered: the first line must arrive as soon as the peer listens.
            cmd.env("PYTHONUNBUFFERED", "1").current_dir(root());
            Some(cmd)
        }
        _ => {
            eprintln!(
                "skipped: python3 with {} is not installed (`bash .ci/run` installs it: \
                 pip install -r tests/it/py/requirements.txt)",
                modules.join(", ")
            );
            None
        }
    }
}

/// The path of a peer script.
pub fn script(name: &str) -> PathBuf {
    root().join("tests/it/py").join(name)
}

/// A running Python peer; killed when dropped.
pub struct PyPeer {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl PyPeer {
    /// Runs `tests/it/py/SCRIPT ARGS` with a Python that has `modules`, and waits for its
    /// `listening ADDR` line; `None` (the test skips) when Python or a module is missing.
    pub async fn start(modules: &[&str], script_name: &str, args: &[&str]) -> Option<PyPeer> {
        let mut cmd = python_with(modules)?;
        cmd.arg(script(script_name))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("python3 starts");
        let stdout = child.stdout.take().unwrap();
        let line = crate::process::first_line(stdout).await;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                panic!("{script_name} printed {line:?} instead of `listening ADDR`")
            });
        Some(PyPeer { child, addr })
    }

    /// The process id (to kill it mid-call).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for PyPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
