//! `mesh init` for real, in network namespaces of the test's own (tests/it/netns.rs): the rules
//! install on each backend, re-running changes nothing (the backend's own listing is
//! byte-identical), new flags replace the old rules, `--uninstall` removes them, and `--check`
//! fails with what is missing until the rules are there. Skipped with a printed reason when not
//! root or a tool is missing; CI runs them as root.

use crate::netns::{skip_unless_netns, Netns, Pod, SharedBinary};

/// The backend's listing of the nat rules, without the lines that carry a timestamp.
fn listing(ns: &Netns, backend: &str) -> String {
    let tools: &[&str] = match backend {
        "nft" => &["nft list ruleset"],
        "iptables-nft" => &["iptables-nft-save -t nat", "ip6tables-nft-save -t nat"],
        _ => &[
            "iptables-legacy-save -t nat",
            "ip6tables-legacy-save -t nat",
        ],
    };
    let mut out = String::new();
    for tool in tools {
        let words: Vec<&str> = tool.split(' ').collect();
        let r = ns.run(words[0], &words[1..]);
        assert_eq!(r.code, 0, "{tool}: {}", r.stderr);
        for line in r.stdout.lines().filter(|l| !l.starts_with('#')) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn init(ns: &Netns, args: &[&str]) -> String {
    let mut all = vec!["init"];
    all.extend_from_slice(args);
    let r = ns.mesh(&all);
    assert_eq!(r.code, 0, "mesh {}: {}", all.join(" "), r.stderr);
    r.stdout
}

fn idempotent_and_removable(backend: &str) {
    let ns = Netns::new("init");
    let flags = [
        "--backend",
        backend,
        "--skip-inbound-ports",
        "2888,3888",
        "--skip-outbound-subnets",
        "10.96.0.0/12,fd00:96::/64",
    ];
    let said = init(&ns, &flags);
    assert!(
        said.contains(&format!("capture rules installed ({backend})")),
        "{said}"
    );
    let first = listing(&ns, backend);
    for wanted in [
        "mesh-init/redirect-inbound",
        "mesh-init/redirect-outbound",
        "10.96.0.0/12",
        "fd00:96::/64",
    ] {
        assert!(first.contains(wanted), "{wanted} missing from:\n{first}");
    }

    init(&ns, &flags);
    assert_eq!(
        listing(&ns, backend),
        first,
        "re-running mesh init changed the rules"
    );

    // Other flags replace the rules: the old skip is gone, nothing is doubled.
    init(&ns, &["--backend", backend, "--skip-inbound-ports", "9999"]);
    let replaced = listing(&ns, backend);
    assert!(
        replaced.contains("9999") && !replaced.contains("2888"),
        "{replaced}"
    );
    assert_eq!(
        replaced.matches("mesh-init/redirect-outbound").count(),
        first.matches("mesh-init/redirect-outbound").count(),
        "{replaced}"
    );

    let said = init(&ns, &["--backend", backend, "--uninstall"]);
    assert!(
        said.contains(&format!("capture rules removed ({backend})")),
        "{said}"
    );
    let after = listing(&ns, backend);
    assert!(
        !after.contains("mesh") && !after.contains("MESH"),
        "{after}"
    );
    let said = init(&ns, &["--backend", backend, "--uninstall"]);
    assert!(said.contains("no capture rules to remove"), "{said}");
}

#[test]
fn init_is_idempotent_and_uninstall_removes_it_nft() {
    skip_unless_netns!("nft");
    idempotent_and_removable("nft");
}

#[test]
fn init_is_idempotent_and_uninstall_removes_it_iptables_nft() {
    skip_unless_netns!("iptables-nft-restore", "ip6tables-nft-restore");
    idempotent_and_removable("iptables-nft");
}

#[test]
fn init_is_idempotent_and_uninstall_removes_it_iptables_legacy() {
    skip_unless_netns!("iptables-legacy-restore", "ip6tables-legacy-restore");
    idempotent_and_removable("iptables-legacy");
}

#[test]
fn check_fails_without_the_rules_and_passes_with_them() {
    skip_unless_netns!("nft");
    let pod = Pod::new("check");
    let ns = &pod.pod;
    let r = ns.mesh(&["init", "--check", "--check-timeout", "1s"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for wanted in [
        "the probe connection to 192.0.2.1:20001 was not redirected to the outbound port 4140",
        "no capture rules in this network namespace: run `mesh init` first",
    ] {
        assert!(r.stderr.contains(wanted), "{wanted:?} not in {}", r.stderr);
    }

    let r = ns.mesh(&["init"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("backend nft (auto: nft answered)"),
        "{}",
        r.stderr
    );

    for (probe, seen) in [
        ("192.0.2.1:20001", "original destination 192.0.2.1:20001"),
        (
            "[2001:db8::1]:20001",
            "original destination [2001:db8::1]:20001",
        ),
    ] {
        let r = ns.mesh(&[
            "init",
            "--check",
            "--check-probe",
            probe,
            "--check-timeout",
            "5s",
        ]);
        assert_eq!(r.code, 0, "{probe}: {}", r.stderr);
        assert!(
            r.stdout.contains("capture works") && r.stdout.contains(seen),
            "{}",
            r.stdout
        );
    }

    // The rules are the pod namespace's only: its peer has none.
    assert_eq!(pod.peer.run("nft", &["list", "ruleset"]).stdout, "");

    // Rules that exempt root (the proxy runs as root here) still pass a check run as root
    // without repeating the flag: the probe's socket is nobody's.
    let r = ns.mesh(&["init", "--proxy-uid", "0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = ns.mesh(&["init", "--check", "--check-timeout", "5s"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("as uid 65534 gid 65534"), "{}", r.stdout);

    // Not root and the proxy's own user: exempt by design, so the check would prove nothing.
    let shared = SharedBinary::new();
    let r = ns.run(
        "setpriv",
        &[
            "--reuid=2102",
            "--regid=2102",
            "--clear-groups",
            shared.path().to_str().unwrap(),
            "init",
            "--check",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("exempt from capture"), "{}", r.stderr);
}

#[test]
fn rules_left_in_another_backend_are_named() {
    skip_unless_netns!("nft", "iptables-legacy-restore", "ip6tables-legacy-restore");
    let ns = Netns::new("others");
    init(&ns, &["--backend", "iptables-legacy"]);
    let r = ns.mesh(&["init", "--backend", "nft"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let warning = "iptables-legacy still holds capture rules of an earlier `mesh init`";
    assert!(r.stderr.contains(warning), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("`mesh init --uninstall --backend iptables-legacy`"),
        "{}",
        r.stderr
    );
    // Removing one backend's rules says the other's are still there.
    let r = ns.mesh(&["init", "--uninstall", "--backend", "nft"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains(warning), "{}", r.stderr);
    // A failed check lists every backend, whichever --backend says (the probe on loopback,
    // which the rules leave alone, since this namespace has no route out).
    let r = ns.mesh(&[
        "init",
        "--check",
        "--backend",
        "nft",
        "--check-probe",
        "127.0.0.2:20001",
        "--check-timeout",
        "1s",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("nft: none") && r.stderr.contains("iptables-legacy: installed"),
        "{}",
        r.stderr
    );
    init(&ns, &["--uninstall"]);
    let r = ns.mesh(&["init", "--backend", "nft"]);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}

#[test]
fn a_failed_ipv6_run_leaves_the_ipv4_rules_as_they_were() {
    skip_unless_netns!("iptables-legacy-restore", "ip6tables-legacy-restore");
    use std::os::unix::fs::PermissionsExt;
    let ns = Netns::new("rollback");
    // An ip6tables that refuses every input, in front of the real one in PATH; the IPv4 tools
    // and the -save tools are the real ones.
    let fake = tempfile::tempdir().unwrap();
    let tool = fake.path().join("ip6tables-legacy-restore");
    std::fs::write(
        &tool,
        "#!/bin/sh\necho \"ip6tables-restore: line 2 failed (test stand-in)\" >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        fake.path().display(),
        std::env::var("PATH").unwrap()
    );
    let failing = |args: &[&str]| {
        let mut all = vec!["init", "--backend", "iptables-legacy"];
        all.extend_from_slice(args);
        let out = ns
            .command(env!("CARGO_BIN_EXE_mesh"))
            .args(&all)
            .env("PATH", &path)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    // A fresh namespace: nothing is left behind.
    let err = failing(&["--skip-inbound-ports", "9999"]);
    assert_eq!(
        err.matches("line 2 failed (test stand-in)").count(),
        1,
        "the tool's words, once: {err}"
    );
    assert!(err.contains("iptables-legacy (IPv6)"), "{err}");
    let empty = listing(&ns, "iptables-legacy");
    assert!(!empty.contains("MESH"), "{empty}");

    // A re-run with other flags: the earlier IPv4 rules stay, exactly.
    init(
        &ns,
        &[
            "--backend",
            "iptables-legacy",
            "--skip-inbound-ports",
            "2888",
        ],
    );
    let before = listing(&ns, "iptables-legacy");
    failing(&["--skip-inbound-ports", "9999"]);
    assert_eq!(listing(&ns, "iptables-legacy"), before);
}

#[test]
fn check_without_a_route_says_so() {
    skip_unless_netns!();
    let ns = Netns::new("noroute");
    let r = ns.mesh(&["init", "--check", "--check-timeout", "2s"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("has no route to it"), "{}", r.stderr);
    // Where the rules are is beside the point then.
    assert!(!r.stderr.contains("rules found"), "{}", r.stderr);
}
