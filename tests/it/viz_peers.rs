//! A misspelt `--to`/`--from` workload gets the "did you mean" of a misspelt resource, when the
//! source is the registry: `mesh stat deploy/web -n emojivoto --to deploy/votes` printed a row of
//! `-` with exit 0 (as did routes and tap), as if voting had had no traffic.

use mesh::registry::{ProxyRecord, Registration};

use crate::harness::run;

/// `deploy/voting` and `deploy/web` in `emojivoto`, live under this test's pid; nothing listens
/// on their admin ports (the checks come before any proxy is asked).
fn emojivoto_registry() -> (tempfile::TempDir, Vec<Registration>) {
    let dir = tempfile::tempdir().unwrap();
    let published = ["voting", "web"]
        .into_iter()
        .map(|name| {
            let record = ProxyRecord {
                namespace: "emojivoto".into(),
                workload: format!("deploy/{name}"),
                pod: format!("{name}-0"),
                services: vec![format!("{name}-svc:8080").parse().unwrap()],
                inbound: None,
                admin: ([127, 0, 0, 1], 1).into(),
                outbound: None,
                pid: std::process::id(),
            };
            Registration::publish(dir.path(), &record).unwrap()
        })
        .collect();
    (dir, published)
}

#[test]
fn a_misspelt_peer_workload_is_an_error_suggesting_the_registered_one() {
    let (dir, _records) = emojivoto_registry();
    let registry = dir.path().to_str().unwrap();
    for (command, flag) in [
        (&["stat", "deploy/web"][..], "--to"),
        (&["stat", "deploy/web"][..], "--from"),
        (&["routes", "deploy/web"][..], "--to"),
        (&["tap", "deploy/web"][..], "--to"),
    ] {
        let mut argv = command.to_vec();
        argv.extend([
            "-n",
            "emojivoto",
            flag,
            "deploy/votes",
            "--registry",
            registry,
        ]);
        let r = run(&argv);
        let line = argv.join(" ");
        assert_eq!(r.code, 1, "mesh {line}: {}{}", r.stdout, r.stderr);
        assert_eq!(r.stdout, "", "mesh {line}: no table");
        assert!(
            r.stderr.starts_with(&format!(
                "mesh: {flag}: no proxies registered for deploy/votes"
            )) && r.stderr.contains("did you mean deploy/voting (emojivoto)?"),
            "mesh {line}: {}",
            r.stderr
        );
    }
}

#[test]
fn registered_peers_and_services_pass_the_check() {
    let (dir, _records) = emojivoto_registry();
    let registry = dir.path().to_str().unwrap();
    for peer in ["deploy/voting", "po/voting-0", "svc/voting-svc", "deploy"] {
        let r = run(&[
            "stat",
            "deploy/web",
            "-n",
            "emojivoto",
            "--to",
            peer,
            "--registry",
            registry,
        ]);
        // Nothing answers on the records' admin port: a footnote, not a lookup error.
        assert!(
            !r.stderr.contains("no proxies registered"),
            "{peer}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("did not answer"), "{peer}: {}", r.stderr);
    }
}
