//! Running a document's commands as a reader would in a terminal: each in `bash` (with `pipefail`,
//! so a failing `mesh` before a `| jq` is not hidden), with the built `mesh` first on `PATH`, the
//! registry in a temporary `XDG_RUNTIME_DIR`, no `MESH_*` settings inherited, in a working
//! directory holding a copy of `examples/`.
//!
//! Every process runs in its own process group, so that Ctrl-C (SIGINT to the group, as a terminal
//! sends it) reaches a whole pipeline, and dropping a [`Process`] kills what is left of it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// How long `try_wait` is polled apart.
const POLL: Duration = Duration::from_millis(20);

/// The environment commands run in.
pub struct Shell {
    path: String,
    runtime_dir: PathBuf,
    logs: PathBuf,
    cwd: PathBuf,
    next_log: usize,
}

impl Shell {
    /// A shell whose temporary files live below `root`.
    pub fn new(root: &Path) -> Shell {
        let mesh = Path::new(env!("CARGO_BIN_EXE_mesh"));
        let bin = mesh.parent().expect("the mesh binary has a directory");
        let path = match std::env::var_os("PATH") {
            Some(p) => format!("{}:{}", bin.display(), p.to_string_lossy()),
            None => bin.display().to_string(),
        };
        let runtime_dir = root.join("run");
        let logs = root.join("logs");
        for dir in [&runtime_dir, &logs] {
            fs::create_dir_all(dir).unwrap();
        }
        fs::set_permissions(&runtime_dir, fs::Permissions::from_mode(0o700)).unwrap();
        Shell {
            path,
            runtime_dir,
            logs,
            cwd: root.to_path_buf(),
            next_log: 0,
        }
    }

    /// Runs later commands in `dir`.
    pub fn cd(&mut self, dir: &Path) {
        self.cwd = dir.to_path_buf();
    }

    /// The registry directory the commands use (through `XDG_RUNTIME_DIR`).
    pub fn registry(&self) -> PathBuf {
        self.runtime_dir.join("mesh/registry")
    }

    /// Starts `text` in the background; its output goes to files read by [`Process::output`].
    pub fn spawn(&mut self, text: &str) -> Process {
        self.next_log += 1;
        let stdout = self.logs.join(format!("{}.out", self.next_log));
        let stderr = self.logs.join(format!("{}.err", self.next_log));
        let mut cmd = Command::new("bash");
        cmd.args(["-o", "pipefail", "-c", text])
            .current_dir(&self.cwd)
            .env("PATH", &self.path)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).unwrap())
            .stderr(fs::File::create(&stderr).unwrap())
            .process_group(0);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("MESH_") {
                cmd.env_remove(key);
            }
        }
        let child = cmd.spawn().expect("bash runs");
        Process {
            child,
            stdout,
            stderr,
        }
    }
}

/// A command started by [`Shell::spawn`]; killed with its process group when dropped.
pub struct Process {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Process {
    /// Its exit status once it has exited, waiting at most until `deadline`.
    pub async fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Sends `signal` to its process group.
    pub fn signal(&self, signal: Signal) {
        let _ = killpg(Pid::from_raw(self.child.id() as i32), signal);
    }

    /// Stops it as a reader would (`signal`: SIGINT for Ctrl-C, SIGTERM for `kill`), and returns
    /// its exit status, or `None` if it was still running after `grace` (it is then killed).
    pub async fn stop(&mut self, signal: Signal, grace: Duration) -> Option<ExitStatus> {
        self.signal(signal);
        let status = self.wait_until(Instant::now() + grace).await;
        if status.is_none() {
            self.signal(Signal::SIGKILL);
            let _ = self.child.wait();
        }
        status
    }

    /// What it printed so far: stdout and stderr.
    pub fn output(&self) -> (String, String) {
        let read = |p: &Path| String::from_utf8_lossy(&fs::read(p).unwrap_or_default()).to_string();
        (read(&self.stdout), read(&self.stderr))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.signal(Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// Copies the directory `from` into `to`, following symbolic links (`examples/` links the demo's
/// API files from `fixtures/demo/`).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if fs::metadata(entry.path()).unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copying {}: {e}", entry.path().display()));
        }
    }
}
