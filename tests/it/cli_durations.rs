//! Duration flags that make no sense at zero (a timeout that refuses everything, an interval that
//! never ends, a run that does nothing) are usage errors at the command line, naming the flag,
//! before anything starts: `mesh demo --vote-interval 0s` used to panic in the vote bot, print a
//! backtrace, run on without traffic and exit 0.

use crate::harness::run;

/// Every such flag, with the rest of a command line that would otherwise run.
const ZERO_REFUSED: &[(&[&str], &str)] = &[
    (&["demo", "--duration", "1s"], "--vote-interval"),
    (&["demo"], "--duration"),
    (&["await", "--", "true"], "--timeout"),
    (
        &["proxy", "--workload", "deploy/web", "--no-registry"],
        "--dispatch-timeout",
    ),
    (
        &["proxy", "--workload", "deploy/web", "--no-registry"],
        "--response-timeout",
    ),
    (
        &["profile", "--tap", "deploy/web", "web-svc"],
        "--tap-duration",
    ),
    (&["stat", "deploy"], "--time-window"),
];

#[test]
fn a_zero_duration_that_makes_no_sense_is_a_usage_error_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().to_str().unwrap();
    for (command, flag) in ZERO_REFUSED {
        for zero in ["0s", "0ms", "0"] {
            let mut argv: Vec<&str> = command.to_vec();
            // `await`'s command comes last, after `--`.
            let at = argv.iter().position(|a| *a == "--").unwrap_or(argv.len());
            argv.splice(at..at, [*flag, zero]);
            if matches!(argv[0], "demo" | "profile" | "stat") {
                argv.extend(["--registry", registry]);
            }
            let r = run(&argv);
            assert_eq!(
                r.code,
                2,
                "mesh {}: {}{}",
                argv.join(" "),
                r.stdout,
                r.stderr
            );
            assert!(
                r.stderr
                    .starts_with(&format!("error: invalid value '{zero}' for '{flag}"))
                    && r.stderr.contains("must be longer than 0"),
                "mesh {}: {}",
                argv.join(" "),
                r.stderr
            );
            assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
            assert_eq!(r.stdout, "", "mesh {}: nothing started", argv.join(" "));
        }
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing registered"
    );
}
