//! Bad input to `mesh profile`: one clear error on stderr, exit 2 for usage and 1 for input, nothing
//! on stdout, no panic.

use crate::harness::{run, Run};

fn fails(args: &[&str], code: i32) -> Run {
    let mut full = vec!["profile"];
    full.extend_from_slice(args);
    let r = run(&full);
    assert_eq!(
        r.code, code,
        "mesh {full:?} exit code; stderr:\n{}",
        r.stderr
    );
    assert_eq!(r.stdout, "", "nothing on stdout for {full:?}");
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    r
}

#[test]
fn missing_file() {
    let r = fails(&["--open-api", "fixtures/nope.swagger", "web"], 1);
    assert_eq!(
        r.stderr,
        "mesh: reading fixtures/nope.swagger: No such file or directory (os error 2)\n"
    );
}

#[test]
fn unreadable_file() {
    // A directory stands in for an unreadable file: tests may run as root, who can read any file.
    let r = fails(&["--open-api", "fixtures", "web"], 1);
    assert!(
        r.stderr.starts_with("mesh: reading fixtures: "),
        "{}",
        r.stderr
    );
    let r = fails(&["--proto", "fixtures", "web"], 1);
    assert!(r.stderr.starts_with("mesh: fixtures: "), "{}", r.stderr);
}

#[test]
fn invalid_json_names_line_and_column() {
    let r = fails(
        &["--open-api", "fixtures/profile/bad/broken.json", "web"],
        1,
    );
    assert_eq!(r.stderr, "mesh: fixtures/profile/bad/broken.json: invalid JSON at line 5, column 3: trailing comma\n");
}

#[test]
fn invalid_yaml_names_line_and_column() {
    let r = fails(
        &["--open-api", "fixtures/profile/bad/broken.yaml", "web"],
        1,
    );
    assert_eq!(
        r.stderr,
        "mesh: fixtures/profile/bad/broken.yaml: invalid YAML at line 5, column 4: did not find expected key\n"
    );
}

#[test]
fn a_document_that_is_not_openapi() {
    let r = fails(
        &["--open-api", "fixtures/profile/bad/not-openapi.yaml", "web"],
        1,
    );
    assert_eq!(
        r.stderr,
        "mesh: fixtures/profile/bad/not-openapi.yaml: not an OpenAPI document: no top-level `swagger: \"2.0\"` or `openapi: 3.x` field\n"
    );
    let r = fails(
        &["--open-api", "fixtures/profile/bad/swagger-1.2.json", "web"],
        1,
    );
    assert!(
        r.stderr.contains("unsupported Swagger version \"1.2\""),
        "{}",
        r.stderr
    );
}

#[test]
fn fields_of_the_wrong_shape_are_named() {
    let r = fails(
        &[
            "--open-api",
            "fixtures/profile/bad/paths-not-mapping.yaml",
            "web",
        ],
        1,
    );
    assert_eq!(
        r.stderr,
        "mesh: fixtures/profile/bad/paths-not-mapping.yaml: paths: invalid type: sequence, \
         expected a mapping of paths (line 3, column 3)\n"
    );
    let r = fails(
        &["--open-api", "fixtures/profile/bad/bad-timeout.yaml", "web"],
        1,
    );
    assert!(
        r.stderr
            .contains("paths./slow.get.x-linkerd-timeout: invalid duration \"soon\""),
        "{}",
        r.stderr
    );
}

#[test]
fn proto_syntax_errors_name_line_and_column() {
    let r = fails(
        &[
            "--proto",
            "fixtures/profile/proto/syntax-error.proto",
            "web",
        ],
        1,
    );
    assert_eq!(r.stderr, "mesh: fixtures/profile/proto/syntax-error.proto:5:22: While parsing rpc, expecting char `(`\n");
}

#[test]
fn invalid_service_and_namespace_names_are_usage_errors() {
    let r = fails(&["--template", "Web_Svc"], 2);
    assert!(
        r.stderr.contains("invalid value 'Web_Svc' for '<SERVICE>'"),
        "{}",
        r.stderr
    );
    let r = fails(&["--template", "1web"], 2);
    assert!(
        r.stderr.contains("must start with a lowercase letter"),
        "{}",
        r.stderr
    );
    let r = fails(&["--template", "web", "-n", "Prod"], 2);
    assert!(
        r.stderr
            .contains("invalid value 'Prod' for '--namespace <NAMESPACE>'"),
        "{}",
        r.stderr
    );
}

#[test]
fn exactly_one_source_flag() {
    let r = fails(
        &[
            "--template",
            "--open-api",
            "fixtures/demo/web.swagger",
            "web",
        ],
        2,
    );
    assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);
    let r = fails(&["web"], 2);
    assert!(
        r.stderr
            .contains("the following required arguments were not provided"),
        "{}",
        r.stderr
    );
    let r = fails(&["--template"], 2);
    assert!(r.stderr.contains("<SERVICE>"), "{}", r.stderr);
}
