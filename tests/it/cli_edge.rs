//! What the viz commands say about input they cannot use, before asking any proxy: windows the
//! proxies cannot serve, flags spelled another way, names that are not registered, and the
//! resource types they accept.

use crate::harness::{emojivoto_registry, run};
use crate::process::ProxyProcess;

#[test]
fn a_window_the_proxies_cannot_serve_is_a_usage_error_naming_the_range() {
    let (dir, _records) = emojivoto_registry();
    let registry = dir.path().to_str().unwrap();
    let r = run(&[
        "stat",
        "deploy",
        "-n",
        "emojivoto",
        "-t",
        "2h",
        "--registry",
        registry,
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(
            "error: invalid value '2h' for '--time-window <DURATION>': the proxies keep 1h of \
             history, so a window is at most 1h"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("did not answer"), "{}", r.stderr);

    let r = run(&[
        "routes",
        "deploy/web",
        "-n",
        "emojivoto",
        "-t",
        "0s",
        "--registry",
        registry,
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("invalid value '0s' for '--time-window <DURATION>': must be longer than 0"),
        "{}",
        r.stderr
    );

    // Prometheus keeps what it keeps: a long window is its to refuse (here: nothing listens).
    let r = run(&[
        "stat",
        "deploy",
        "-t",
        "2h",
        "--prometheus",
        "http://127.0.0.1:1",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("--time-window"), "{}", r.stderr);
}

/// `--window` (the word of the admin API's `/stats?window=`) means `-t/--time-window`; clap used to
/// answer it with a tip to pass `-- --window`.
#[test]
fn window_is_the_time_window() {
    let (dir, _records) = emojivoto_registry();
    let registry = dir.path().to_str().unwrap();
    let r = run(&[
        "stat",
        "deploy/nope",
        "-n",
        "emojivoto",
        "--window",
        "5m",
        "--registry",
        registry,
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("-- --window"), "{}", r.stderr);
    assert!(
        r.stderr.contains("no proxies registered for deploy/nope"),
        "{}",
        r.stderr
    );
    let r = run(&["stat", "deploy", "--window", "2h", "--registry", registry]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("for '--time-window <DURATION>'"),
        "{}",
        r.stderr
    );
}

/// Every command that looks a resource up in the registry says "not there" in the same words, and
/// says what is there: the closest name, or the namespace a name was meant to be.
#[test]
fn a_name_not_registered_is_worded_once_with_what_is_registered() {
    let (dir, _records) = emojivoto_registry();
    let registry = dir.path().to_str().unwrap();
    let expected = format!(
        "mesh: no proxies registered for deploy/votes in namespace emojivoto (registry {registry}); \
         did you mean deploy/voting (emojivoto)?; registered: deploy/voting (emojivoto), deploy/web \
         (emojivoto): start the workload's proxy"
    );
    let commands: [&[&str]; 4] = [
        &["stat", "deploy/votes"],
        &["routes", "deploy/votes"],
        &["tap", "deploy/votes"],
        &["profile", "--tap", "deploy/votes", "voting-svc"],
    ];
    for command in commands {
        let args = [command, &["-n", "emojivoto", "--registry", registry]].concat();
        let r = run(&args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.starts_with(&expected),
            "{args:?}:\n{}\nnot:\n{expected}",
            r.stderr
        );
    }
}

/// `-ns emojivoto` is `-n s` and a resource named `emojivoto`, as in kubectl; what comes back says
/// so, instead of an empty answer about namespace `s`.
#[test]
fn a_namespace_read_as_a_name_is_pointed_out() {
    let (dir, _records) = emojivoto_registry();
    let registry = dir.path().to_str().unwrap();
    let r = run(&["stat", "deploy", "-ns", "emojivoto", "--registry", registry]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(&format!(
            "mesh: no proxies registered for deploy/emojivoto in namespace s (registry {registry}); \
             did you mean -n emojivoto (emojivoto is a namespace, here read as a deploy name)?"
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn every_accepted_resource_type_is_named() {
    let r = run(&["stat", "cm/x"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("expected one of ns, deploy, sts, ds, job, cj, rs, rc, po or svc"),
        "{}",
        r.stderr
    );
    let r = run(&["tap", "--help"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("ns, deploy, sts, ds, job, cj, rs, rc, po, svc"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("svc/voting-svc"), "{}", r.stdout);
}

/// On a terminal, `profile --tap` says beside its bar what it watches and for how long (the bar
/// alone counted bare milliseconds). `script` (util-linux) gives mesh the terminal.
#[tokio::test]
async fn the_tap_progress_bar_says_what_it_watches_and_for_how_long() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: `script` (util-linux) is not installed to give mesh a terminal");
        return;
    }
    let proxy = ProxyProcess::voting(([127, 0, 0, 1], 1).into(), &["--no-registry"]).await;
    let command = format!(
        "{} profile --tap deploy/voting voting-svc -n emojivoto --proxy-admin {} --tap-duration 1s",
        env!("CARGO_BIN_EXE_mesh"),
        proxy.admin
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("TERM", "xterm")
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("tapping deploy/voting for 1s"), "{text}");
}

/// A second `mesh demo` on the same registry is refused (it used to register the same workloads
/// beside the first, which `mesh stat` then summed as one), naming the registry and what to do.
#[test]
fn a_second_demo_on_the_same_registry_is_refused() {
    let (dir, _records) = emojivoto_registry();
    let registry = dir.path().to_str().unwrap();
    let r = run(&["demo", "--duration", "1s", "--registry", registry]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "", "nothing started");
    assert!(
        r.stderr.starts_with(&format!(
            "mesh: proxies of namespace emojivoto are already running in the registry {registry} \
             (pid {}): another mesh demo?",
            std::process::id()
        )),
        "{}",
        r.stderr
    );
}
