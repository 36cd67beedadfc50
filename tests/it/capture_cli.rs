//! The capture commands without root: `mesh init --dry-run` prints exactly what each backend is
//! given, pinned per backend (nothing is applied); bad flag values are refused with the flag
//! named; `mesh proxy --capture -- APP` is refused unless the app gets a user of its own.

use crate::harness::run;

/// A bit of everything: skips by port, range and subnet in both directions and families, a uid
/// and a gid.
const FLAGS: &[&str] = &[
    "init",
    "--dry-run",
    "--proxy-uid",
    "2102",
    "--proxy-gid",
    "2103",
    "--skip-inbound-ports",
    "3888,2888",
    "--skip-outbound-ports",
    "2888,3888,5000-5010",
    "--skip-inbound-subnets",
    "10.9.0.0/16",
    "--skip-outbound-subnets",
    "10.96.0.0/12,fd00:96::/64",
];

fn dry_run(extra: &[&str]) -> String {
    let args = [FLAGS, extra].concat();
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
}

#[test]
fn dry_run_nft() {
    insta::assert_snapshot!(dry_run(&["--backend", "nft"]));
}

#[test]
fn dry_run_iptables_nft() {
    insta::assert_snapshot!(dry_run(&["--backend", "iptables-nft"]));
}

#[test]
fn dry_run_iptables_legacy() {
    insta::assert_snapshot!(dry_run(&["--backend", "iptables-legacy"]));
}

#[test]
fn dry_run_defaults_exempt_linkerds_proxy_uid() {
    let r = run(&["init", "--dry-run", "--backend", "nft"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!(r.stdout);
}

#[test]
fn dry_run_uninstall() {
    let r = run(&["init", "--dry-run", "--uninstall", "--backend", "nft"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r6 = run(&[
        "init",
        "--dry-run",
        "--uninstall",
        "--backend",
        "iptables-legacy",
    ]);
    assert_eq!(r6.code, 0, "{}", r6.stderr);
    insta::assert_snapshot!(format!("{}\n{}", r.stdout, r6.stdout));
}

#[test]
fn dry_run_with_auto_says_which_backend_it_shows() {
    let r = run(&["init", "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("mesh init: backend ") && r.stderr.contains("(auto"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_values_are_refused_naming_the_flag() {
    for (args, wanted) in [
        (&["--skip-inbound-ports", "2888,70000"][..], "70000"),
        (
            &["--skip-outbound-ports", "4000-3000"],
            "first port is above its last",
        ),
        (
            &["--skip-outbound-subnets", "10.1.2.3/8"],
            "host bits set: the network is 10.0.0.0/8",
        ),
        (&["--skip-inbound-subnets", "pods"], "is not an IP address"),
        (
            &["--skip-outbound-subnets", "10.0.0.0/8;192.168.0.0/16"],
            "separate CIDRs with commas",
        ),
        (
            &["--outbound-port", "4143"],
            "--inbound-port and --outbound-port are both 4143",
        ),
        (&["--inbound-port", "0"], "a port is 1-65535"),
        (&["--backend", "iptables"], "iptables-legacy"),
    ] {
        let flag = args[0];
        let r = run(&[&["init", "--dry-run"], args].concat());
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains(flag) && r.stderr.contains(wanted),
            "{args:?}: {}",
            r.stderr
        );
    }
}

#[test]
fn subnets_within_others_and_repeats_make_no_rules_of_their_own() {
    let rules = |subnets: &str| {
        let r = run(&[
            "init",
            "--dry-run",
            "--backend",
            "nft",
            "--skip-outbound-subnets",
            subnets,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    assert_eq!(
        rules("10.96.1.0/24,10.96.0.0/12,10.96.0.0/12,fd00:96::/64,fd00:96::1"),
        rules("10.96.0.0/12,fd00:96::/64")
    );
}

#[test]
fn check_conflicts_with_dry_run() {
    let r = run(&["init", "--check", "--dry-run"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn an_app_under_a_capturing_proxy_needs_a_user_of_its_own() {
    let r = run(&[
        "proxy",
        "--workload",
        "deploy/app",
        "--capture",
        "--",
        "true",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for wanted in ["the app would run as the proxy's own user", "--app-uid"] {
        assert!(r.stderr.contains(wanted), "{wanted:?} not in {}", r.stderr);
    }
    let me = nix::unistd::geteuid().to_string();
    let r = run(&[
        "proxy",
        "--workload",
        "deploy/app",
        "--capture",
        "--app-uid",
        &me,
        "--",
        "true",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("that is the proxy's own uid"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_missing_backend_names_the_binary_and_its_package() {
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap();
    let r = crate::harness::mesh()
        .args(["init", "--backend", "nft"])
        .env("PATH", path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`nft` is not installed (not found in PATH): install nftables"),
        "{stderr}"
    );

    // `auto` says what it tried, each backend with why it did not answer.
    let r = crate::harness::mesh()
        .arg("init")
        .env("PATH", path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{stderr}");
    for wanted in [
        "no capture backend works here",
        "nft: `nft` is not installed",
        "iptables-nft: `iptables-nft-save` is not installed",
        "iptables-legacy: `iptables-legacy-save` is not installed",
    ] {
        assert!(stderr.contains(wanted), "{wanted:?} not in {stderr}");
    }
}

/// Under --capture, a listener that is not `[::]` refuses some redirected connections (IPv6, or
/// the pod's own addresses): the proxy says so when it starts, naming the flag and the fix.
#[test]
fn capture_warns_about_listeners_that_refuse_redirected_connections() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut proxy = crate::harness::mesh_process()
        .args([
            "proxy",
            "--capture",
            "--workload",
            "deploy/x",
            "--no-registry",
        ])
        .args(["--inbound", "0.0.0.0:0", "--outbound", "[::]:0"])
        .args(["--admin", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(proxy.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    proxy.kill().unwrap();
    proxy.wait().unwrap();
    assert!(
        first.starts_with("mesh: warning: --inbound 0.0.0.0:0:")
            && first.contains("bind --inbound '[::]:0'"),
        "{first}"
    );
}

/// `MESH_CAPTURE` takes what a pod's environment says for yes: 1, true, yes, on (and the
/// opposites for no); seen here by the refusal only --capture brings.
#[test]
fn mesh_capture_takes_the_usual_boolean_words() {
    for value in ["1", "true", "yes", "on", "TRUE"] {
        let r = crate::harness::mesh()
            .args(["proxy", "--workload", "deploy/app", "--", "true"])
            .env("MESH_CAPTURE", value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "MESH_CAPTURE={value}: {stderr}");
        assert!(
            stderr.contains("--capture with -- APP"),
            "MESH_CAPTURE={value}: {stderr}"
        );
    }
    let r = crate::harness::mesh()
        .args([
            "proxy",
            "--workload",
            "deploy/app",
            "--inbound-forward",
            "localhost",
        ])
        .env("MESH_CAPTURE", "off")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains("takes effect under --capture only"),
        "{stderr}"
    );
}

/// `--inbound-forward` without `--capture` would change nothing: refused, saying why.
#[test]
fn inbound_forward_without_capture_is_refused() {
    let r = run(&[
        "proxy",
        "--workload",
        "deploy/app",
        "--app",
        "127.0.0.1:8080",
        "--inbound-forward",
        "localhost",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "mesh: --inbound-forward localhost takes effect under --capture only: without it, \
             inbound requests go to --app"
        ),
        "{}",
        r.stderr
    );
}

/// One port for the inbound and the outbound: under --capture whatever the addresses (each
/// direction is redirected to its own port), otherwise when the addresses overlap, with a
/// message that says so rather than "address in use".
#[test]
fn inbound_and_outbound_on_one_port_are_refused_saying_why() {
    let r = run(&[
        "proxy",
        "--workload",
        "deploy/app",
        "--capture",
        "--inbound",
        "[::]:4150",
        "--outbound",
        "127.0.0.1:4150",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "--inbound [::]:4150 and --outbound 127.0.0.1:4150 share port 4150: under --capture"
        ),
        "{}",
        r.stderr
    );
    let r = run(&[
        "proxy",
        "--workload",
        "deploy/app",
        "--app",
        "127.0.0.1:8080",
        "--inbound",
        "0.0.0.0:4150",
        "--outbound",
        "127.0.0.1:4150",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "--inbound 0.0.0.0:4150 and --outbound 127.0.0.1:4150: two listeners on port 4150 \
             of the same address cannot both be bound"
        ),
        "{}",
        r.stderr
    );
}
