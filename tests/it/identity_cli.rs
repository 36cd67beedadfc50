//! `mesh identity init → issue → inspect` as an operator runs them, and what a real `mesh proxy`
//! makes of the result; bad input is a clear error, a non-zero exit and no file touched.

use std::path::Path;

use crate::harness::mesh;
use crate::net::{admin_get, eventually};
use crate::process::ProxyProcess;

const WEB_ID: &str = "web.emojivoto.serviceaccount.identity.mesh.cluster.local";

/// What one run printed, with its exit code.
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `mesh ARGS` in `dir`.
fn mesh_in(dir: &Path, args: &[&str]) -> Out {
    let out = mesh().current_dir(dir).args(args).output().unwrap();
    Out {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `init` then `issue -n emojivoto --service-account web --out web-id` in `dir`.
fn authority_and_web(dir: &Path) {
    let init = mesh_in(dir, &["identity", "init"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let issue = mesh_in(
        dir,
        &[
            "identity",
            "issue",
            "-n",
            "emojivoto",
            "--service-account",
            "web",
            "--out",
            "web-id",
        ],
    );
    assert_eq!(issue.code, 0, "{}", issue.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_issue_inspect_make_an_identity_the_proxy_serves_and_rotates() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let init = mesh_in(dir, &["identity", "init"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    for line in [
        "wrote mesh-identity/ca.crt      the trust anchor, valid until 20",
        "wrote mesh-identity/issuer.key  the issuer's private key (0600)",
        "trust domain: cluster.local",
        "trust anchor SHA-256 fingerprint: ",
    ] {
        assert!(init.stdout.contains(line), "{line:?} in\n{}", init.stdout);
    }
    let issue = mesh_in(
        dir,
        &[
            "identity",
            "issue",
            "-n",
            "emojivoto",
            "--service-account",
            "web",
            "--out",
            "web-id",
            "--lifetime",
            "2h",
        ],
    );
    assert_eq!(issue.code, 0, "{}", issue.stderr);
    assert!(
        issue
            .stdout
            .starts_with(&format!("wrote web-id/tls.crt  {WEB_ID}\n")),
        "{}",
        issue.stdout
    );
    assert!(issue.stdout.contains("(1h 59m left)"), "{}", issue.stdout);
    assert!(
        issue
            .stdout
            .contains("use: mesh proxy -n emojivoto --service-account web --identity-dir web-id"),
        "{}",
        issue.stdout
    );

    let inspect = mesh_in(dir, &["identity", "inspect", "web-id"]);
    assert_eq!(inspect.code, 0, "{}", inspect.stderr);
    for line in [
        "spiffe id: spiffe://cluster.local/ns/emojivoto/sa/web\n",
        &format!("dns name:  {WEB_ID}\n"),
        "issuer:    CN=identity.mesh.cluster.local, OU=mesh authority ",
        "chains to: web-id/ca.crt: yes\n",
        "key:       web-id/tls.key: its key\n",
    ] {
        assert!(
            inspect.stdout.contains(line),
            "{line:?} in\n{}",
            inspect.stdout
        );
    }
    let json = mesh_in(
        dir,
        &["identity", "inspect", "web-id/tls.crt", "-o", "json"],
    );
    assert_eq!(json.code, 0, "{}", json.stderr);
    let seen: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(seen["dns_names"][0], WEB_ID);
    assert_eq!(seen["chains"], true);
    let left = seen["seconds_left"].as_i64().unwrap();
    assert!((7000..=7200).contains(&left), "{left}");

    // The real proxy, given the directory, proves that identity.
    let ids = dir.join("web-id");
    let mut proxy = ProxyProcess::start(&[
        "--workload",
        "deploy/web",
        "--no-registry",
        "--identity-dir",
        ids.to_str().unwrap(),
        "--service-account",
        "web",
    ])
    .await;
    let (_, stats) = admin_get(proxy.admin, "/stats?window=10s").await;
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["tls_id"], WEB_ID, "{stats}");

    // Issued again into the same directory while it runs: read again, no restart.
    let again = mesh_in(
        dir,
        &[
            "identity",
            "issue",
            "-n",
            "emojivoto",
            "--service-account",
            "web",
            "--out",
            "web-id",
        ],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    eventually("the proxy reloads the new certificate", || async {
        proxy.log().contains("identity reloaded from")
    })
    .await;
    proxy.assert_up().await;
}

#[test]
fn an_existing_authority_is_kept_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    authority_and_web(dir);
    let before = std::fs::read(dir.join("mesh-identity/ca.crt")).unwrap();
    let again = mesh_in(dir, &["identity", "init"]);
    assert_eq!(again.code, 1, "{}", again.stdout);
    assert_eq!(
        again.stderr,
        "mesh: mesh-identity/ca.crt exists already: mesh-identity holds an authority, whose \
         ca.crt proxies may trust; --force replaces it\n"
    );
    assert_eq!(again.stdout, "");
    assert_eq!(
        std::fs::read(dir.join("mesh-identity/ca.crt")).unwrap(),
        before
    );

    let forced = mesh_in(dir, &["identity", "init", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(
        forced.stderr.contains("a new trust anchor"),
        "{}",
        forced.stderr
    );
    assert_ne!(
        std::fs::read(dir.join("mesh-identity/ca.crt")).unwrap(),
        before
    );
    // web-id still holds the old anchor: its certificate no longer chains to the new one.
    std::fs::copy(dir.join("mesh-identity/ca.crt"), dir.join("web-id/ca.crt")).unwrap();
    let inspect = mesh_in(dir, &["identity", "inspect", "web-id"]);
    assert_eq!(inspect.code, 1, "{}", inspect.stdout);
    assert!(
        inspect.stdout.contains(
            "chains to: web-id/ca.crt: NO (no trust anchor signed CN=identity.mesh.cluster.local, \
             OU=mesh authority "
        ),
        "{}",
        inspect.stdout
    );
    assert_eq!(
        inspect.stderr,
        "mesh: web-id/tls.crt does not hold up: it does not chain to the trust anchors\n"
    );
}

#[test]
fn issuing_without_an_authority_says_where_it_looked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = mesh_in(
        tmp.path(),
        &[
            "identity",
            "issue",
            "-n",
            "emojivoto",
            "--service-account",
            "web",
            "--authority",
            "missing",
        ],
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "mesh: reading the authority in missing (`mesh identity init` makes one): reading \
         missing/ca.crt: No such file or directory (os error 2)\n"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn names_that_are_no_dns_labels_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    authority_and_web(tmp.path());
    let cases: [(&[&str], &str); 4] = [
        // A certificate that would be expired, or nearly, when written (it starts 20 s back).
        (
            &["--service-account", "web", "--lifetime", "30s"],
            "invalid value '30s' for '--lifetime <DURATION>': must be longer than 1m",
        ),
        (
            &["-n", "Emoji", "--service-account", "web"],
            "invalid value 'Emoji' for '--namespace <NAMESPACE>'",
        ),
        (
            &["--service-account", "web_1"],
            "invalid value 'web_1' for '--service-account <NAME>'",
        ),
        (
            &[
                "--service-account",
                "web",
                "--trust-domain",
                "Cluster.Local",
            ],
            "invalid value 'Cluster.Local' for '--trust-domain <DOMAIN>'",
        ),
    ];
    for (flags, expected) in cases {
        let args = [&["identity", "issue", "--out", "bad-id"], flags].concat();
        let out = mesh_in(tmp.path(), &args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
        assert!(!tmp.path().join("bad-id").exists(), "{args:?}");
    }
    let other = mesh_in(
        tmp.path(),
        &[
            "identity",
            "issue",
            "--service-account",
            "web",
            "--trust-domain",
            "example.org",
            "--out",
            "bad-id",
        ],
    );
    assert_eq!(other.code, 1);
    assert!(
        other
            .stderr
            .starts_with("mesh: the authority is for trust domain cluster.local, not example.org"),
        "{}",
        other.stderr
    );
    assert!(!tmp.path().join("bad-id").exists());
}

#[test]
fn inspecting_nothing_says_what_it_looked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let out = mesh_in(tmp.path(), &["identity", "inspect", "."]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "mesh: . holds no certificate mesh knows: expected tls.crt or svid.pem (an identity \
         directory), or issuer.crt or ca.crt (an authority)\n"
    );
}
