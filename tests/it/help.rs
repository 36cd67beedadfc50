//! `--help` of each command is pinned, so a change to flags or wording is a reviewed change.

use crate::harness::run;

fn help(args: &[&str]) -> String {
    let r = run(args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
}

#[test]
fn mesh_help() {
    insta::assert_snapshot!(help(&["--help"]));
}

#[test]
fn profile_help() {
    insta::assert_snapshot!(help(&["profile", "--help"]));
}

#[test]
fn profile_check_help() {
    insta::assert_snapshot!(help(&["profile", "check", "--help"]));
}

#[test]
fn completions_help() {
    insta::assert_snapshot!(help(&["completions", "--help"]));
}

#[test]
fn proxy_help() {
    insta::assert_snapshot!(help(&["proxy", "--help"]));
}

#[test]
fn init_help() {
    insta::assert_snapshot!(help(&["init", "--help"]));
}

#[test]
fn install_help() {
    insta::assert_snapshot!(help(&["install", "--help"]));
}

#[test]
fn inject_help() {
    insta::assert_snapshot!(help(&["inject", "--help"]));
}

#[test]
fn uninject_help() {
    insta::assert_snapshot!(help(&["uninject", "--help"]));
}

#[test]
fn await_help() {
    insta::assert_snapshot!(help(&["await", "--help"]));
}

#[test]
fn stat_help() {
    insta::assert_snapshot!(help(&["stat", "--help"]));
}

#[test]
fn routes_help() {
    insta::assert_snapshot!(help(&["routes", "--help"]));
}

#[test]
fn edges_help() {
    insta::assert_snapshot!(help(&["edges", "--help"]));
}

#[test]
fn tap_help() {
    insta::assert_snapshot!(help(&["tap", "--help"]));
}

#[test]
fn demo_help() {
    insta::assert_snapshot!(help(&["demo", "--help"]));
}

#[test]
fn identity_help() {
    insta::assert_snapshot!(help(&["identity", "--help"]));
}

#[test]
fn identity_init_help() {
    insta::assert_snapshot!(help(&["identity", "init", "--help"]));
}

#[test]
fn identity_issue_help() {
    insta::assert_snapshot!(help(&["identity", "issue", "--help"]));
}

#[test]
fn identity_inspect_help() {
    insta::assert_snapshot!(help(&["identity", "inspect", "--help"]));
}
