//! Running the real `mesh` binary with a pinned environment, and reading fixtures.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The project root (where `fixtures/` lives).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `mesh` with a pinned environment, run from the project root.
pub fn mesh() -> Command {
    Command::from_std(mesh_process())
}

/// [`mesh`] as a plain process, for runs that outlive one call (a proxy, a test server).
pub fn mesh_process() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mesh"));
    cmd.current_dir(root())
        .env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        // The CLI's advice mentions a cluster when it is set.
        .env_remove("KUBECONFIG");
    // Flags with `env = "MESH_…"` would pick up the caller's settings (and show them in --help).
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("MESH_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// What one run of `mesh` produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `mesh ARGS`.
pub fn run(args: &[&str]) -> Run {
    let out = mesh().args(args).output().expect("mesh runs");
    Run {
        code: out
            .status
            .code()
            .expect("mesh exited normally, not by a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// Reads a file below the project root.
pub fn fixture(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// `../shared/reference/<sub>` when it is there (beside CI's clone, not a user's); otherwise prints
/// why the calling test skips and returns `None`.
pub fn shared_reference(sub: &str) -> Option<PathBuf> {
    let dir = root().join("../shared/reference").join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: {} is absent (it sits beside CI's clone only)",
            dir.display()
        );
        None
    }
}

/// Every fixture from which `mesh profile` must generate a profile, with the flags to do it.
pub fn generator_cases() -> Vec<Vec<&'static str>> {
    vec![
        vec![
            "--open-api",
            "fixtures/demo/web.swagger",
            "web-svc",
            "-n",
            "emojivoto",
        ],
        vec![
            "--open-api",
            "fixtures/profile/openapi/web.oas3.yaml",
            "web-svc",
            "-n",
            "emojivoto",
        ],
        vec![
            "--open-api",
            "fixtures/profile/openapi/books.swagger.json",
            "books",
            "-n",
            "booksapp",
        ],
        vec![
            "--open-api",
            "fixtures/profile/openapi/edge-cases.yaml",
            "edge-api",
            "-n",
            "edge",
        ],
        vec![
            "--open-api",
            "fixtures/profile/openapi/servers-disagree.yaml",
            "shop",
        ],
        vec![
            "--proto",
            "fixtures/demo/emoji.proto",
            "emoji-svc",
            "-n",
            "emojivoto",
        ],
        vec![
            "--proto",
            "fixtures/demo/voting.proto",
            "voting-svc",
            "-n",
            "emojivoto",
        ],
        vec![
            "--proto",
            "fixtures/profile/proto/nopackage.proto",
            "health",
        ],
        vec![
            "--proto",
            "fixtures/profile/proto/missing-import.proto",
            "orders",
        ],
        vec!["--template", "web-svc", "-n", "emojivoto"],
    ]
}

/// Sends SIGTERM to process `pid` (through the shell's built-in `kill`, present on any machine).
pub fn terminate(pid: u32) {
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .expect("sh runs");
    assert!(status.success(), "kill -TERM {pid} failed");
}

/// `deploy/voting` and `deploy/web` in `emojivoto`, live under this test's pid; nothing listens
/// on their admin ports (the checks come before any proxy is asked).
pub fn emojivoto_registry() -> (tempfile::TempDir, Vec<mesh::registry::Registration>) {
    let dir = tempfile::tempdir().unwrap();
    let published = ["voting", "web"]
        .into_iter()
        .map(|name| {
            let record = mesh::registry::ProxyRecord {
                namespace: "emojivoto".into(),
                workload: format!("deploy/{name}"),
                pod: format!("{name}-0"),
                services: vec![format!("{name}-svc:8080").parse().unwrap()],
                inbound: None,
                admin: ([127, 0, 0, 1], 1).into(),
                outbound: None,
                tls_id: None,
                pid: std::process::id(),
            };
            mesh::registry::Registration::publish(dir.path(), &record).unwrap()
        })
        .collect();
    (dir, published)
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `mesh profile check FILE`, which must never panic.
pub fn check(file: &Path) -> Run {
    let r = run(&["profile", "check", file.to_str().unwrap()]);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    r
}
