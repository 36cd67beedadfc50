//! The committed completion scripts and manual pages match what the binary generates.

use crate::harness::{fixture, run};

/// (arguments to `mesh`, committed file).
const GENERATED: [(&[&str], &str); 13] = [
    (&["completions", "bash"], "completions/mesh.bash"),
    (&["completions", "zsh"], "completions/_mesh"),
    (&["completions", "fish"], "completions/mesh.fish"),
    (&["completions", "powershell"], "completions/_mesh.ps1"),
    (&["man"], "docs/man/mesh.1"),
    (&["man", "profile"], "docs/man/mesh-profile.1"),
    (&["man", "proxy"], "docs/man/mesh-proxy.1"),
    (&["man", "await"], "docs/man/mesh-await.1"),
    (&["man", "stat"], "docs/man/mesh-stat.1"),
    (&["man", "routes"], "docs/man/mesh-routes.1"),
    (&["man", "edges"], "docs/man/mesh-edges.1"),
    (&["man", "tap"], "docs/man/mesh-tap.1"),
    (&["man", "demo"], "docs/man/mesh-demo.1"),
];

#[test]
fn committed_completions_and_man_pages_are_fresh() {
    for (args, file) in GENERATED {
        let r = run(args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stdout == fixture(file),
            "{file} is stale; regenerate it with: cargo run -q -- {} > {file}",
            args.join(" ")
        );
    }
}

#[test]
fn help_names_every_profile_source() {
    let r = run(&["profile", "--help"]);
    assert_eq!(r.code, 0);
    for flag in [
        "--open-api <FILE>",
        "--proto <FILE>",
        "--template",
        "--qualified-names",
        "-o, --output",
        "check",
    ] {
        assert!(
            r.stdout.contains(flag),
            "help mentions {flag}:\n{}",
            r.stdout
        );
    }
}
