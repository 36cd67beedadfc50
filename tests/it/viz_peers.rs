//! A misspelt `--to`/`--from` workload gets the "did you mean" of a misspelt resource, when the
//! source is the registry: `mesh stat deploy/web -n emojivoto --to deploy/votes` printed a row of
//! `-` with exit 0 (as did routes and tap), as if voting had had no traffic.

use crate::harness::{emojivoto_registry, run};

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
