//! `mesh profile` writes the expected profile for each kind of source, byte for byte.

use crate::harness::{fixture, generator_cases, mesh, run};

fn profile(args: &[&str]) -> String {
    let mut full = vec!["profile"];
    full.extend_from_slice(args);
    let r = run(&full);
    assert_eq!(r.code, 0, "mesh {full:?} failed:\n{}", r.stderr);
    r.stdout
}

#[test]
fn swagger2_profile_is_byte_identical_to_linkerds() {
    let out = profile(&[
        "--open-api",
        "fixtures/demo/web.swagger",
        "web-svc",
        "-n",
        "emojivoto",
    ]);
    assert_eq!(out, fixture("fixtures/profile/golden/web-swagger.yaml"));
}

#[test]
fn openapi3_without_mesh_extras_gives_the_same_profile_as_swagger2() {
    let out = profile(&[
        "--open-api",
        "fixtures/profile/openapi/web.oas3.yaml",
        "web-svc",
        "-n",
        "emojivoto",
    ]);
    assert_eq!(out, fixture("fixtures/profile/golden/web-swagger.yaml"));
}

#[test]
fn swagger2_base_path_params_ordering_and_extensions() {
    let r = run(&[
        "profile",
        "--open-api",
        "fixtures/profile/openapi/books.swagger.json",
        "books",
        "-n",
        "booksapp",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        fixture("fixtures/profile/golden/books-swagger.yaml")
    );
    assert_eq!(
        r.stderr,
        "mesh: warning: paths./books/search.get.x-linkerd-retryable: expected a boolean, found \"true\"; ignored\n"
    );
}

#[test]
fn openapi3_servers_prefix_ranges_trace_refs_and_escaping() {
    let out = profile(&[
        "--open-api",
        "fixtures/profile/openapi/edge-cases.yaml",
        "edge-api",
        "-n",
        "edge",
    ]);
    assert_eq!(out, fixture("fixtures/profile/golden/edge-cases.yaml"));
    // Spot checks of what the golden file pins, so a regenerated golden cannot hide a regression.
    assert!(out.contains("    name: TRACE /v2/everything\n"));
    assert!(out.contains(r"      pathRegex: /v2/price\$/\^top\|all\[0\]\*"));
    assert!(
        out.contains("    name: GET /v2/health\n"),
        "the $ref'd path item is followed"
    );
    assert!(
        out.contains("          max: 299\n          min: 200\n"),
        "2XX becomes a range"
    );
}

#[test]
fn disagreeing_servers_are_not_prefixed_and_the_user_is_told() {
    let r = run(&[
        "profile",
        "--open-api",
        "fixtures/profile/openapi/servers-disagree.yaml",
        "shop",
    ]);
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stdout,
        fixture("fixtures/profile/golden/servers-disagree.yaml")
    );
    assert!(
        r.stdout.contains("pathRegex: /shop/items\n"),
        "path-level servers win"
    );
    assert!(r.stdout.contains("pathRegex: /orders\n"));
    assert!(
        r.stderr
            .contains("servers have different path prefixes (/v1, /api/v1)"),
        "{}",
        r.stderr
    );
}

#[test]
fn openapi_document_can_come_from_stdin() {
    let out = mesh()
        .args(["profile", "--open-api", "-", "web-svc", "-n", "emojivoto"])
        .write_stdin(fixture("fixtures/demo/web.swagger"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        fixture("fixtures/profile/golden/web-swagger.yaml")
    );
}

#[test]
fn proto_profiles_are_byte_identical_to_linkerds() {
    let emoji = profile(&[
        "--proto",
        "fixtures/demo/emoji.proto",
        "emoji-svc",
        "-n",
        "emojivoto",
    ]);
    assert_eq!(emoji, fixture("fixtures/profile/golden/emoji-proto.yaml"));
    let voting = profile(&[
        "--proto",
        "fixtures/demo/voting.proto",
        "voting-svc",
        "-n",
        "emojivoto",
    ]);
    assert_eq!(voting, fixture("fixtures/profile/golden/voting-proto.yaml"));
}

#[test]
fn several_proto_files_make_one_profile_in_the_order_given() {
    let out = profile(&[
        "--proto",
        "fixtures/demo/emoji.proto",
        "--proto",
        "fixtures/demo/voting.proto",
        "both",
    ]);
    let names: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("    name: "))
        .collect();
    assert_eq!(names.len(), 2 + 13);
    assert_eq!(&names[..3], ["ListAll", "FindByShortcode", "VoteDoughnut"]);
    assert_eq!(names.last(), Some(&"Results"));
}

#[test]
fn proto_without_package_routes_by_service_and_rpc() {
    let out = profile(&[
        "--proto",
        "fixtures/profile/proto/nopackage.proto",
        "health",
    ]);
    assert!(out.contains("      method: POST\n      pathRegex: /Health/Check\n    isRetryable: true\n    name: Check\n"), "{out}");
    assert!(
        out.contains("      pathRegex: /Health/Watch\n    name: Watch\n"),
        "{out}"
    );
}

#[test]
fn missing_imports_do_not_stop_proto_generation() {
    let r = run(&[
        "profile",
        "--proto",
        "fixtures/profile/proto/missing-import.proto",
        "orders",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(
            r"pathRegex: /shop\.orders\.v1\.OrderService/GetOrder
    isRetryable: true
    name: GetOrder
"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(
            r"pathRegex: /shop\.orders\.v1\.OrderService/PlaceOrder
    name: PlaceOrder
"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("google/api/annotations.proto"),
        "the warning names the import: {}",
        r.stderr
    );
}

#[test]
fn an_include_dir_resolves_imports() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("common.proto"),
        "syntax = \"proto3\";\npackage common;\nmessage Empty {}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("svc.proto"),
        "syntax = \"proto3\";\npackage svc;\nimport \"common.proto\";\nservice S { rpc Ping(common.Empty) returns (common.Empty); }\n",
    )
    .unwrap();
    let svc = dir.path().join("svc.proto");
    let r = run(&["profile", "--proto", svc.to_str().unwrap(), "svc"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr, "",
        "imports beside the file resolve without a warning"
    );
    assert!(r.stdout.contains(r"pathRegex: /svc\.S/Ping"));
}

#[test]
fn duplicate_rpc_names_fail_and_qualified_names_resolve_them() {
    let args = [
        "profile",
        "--proto",
        "fixtures/profile/proto/dup-a.proto",
        "--proto",
        "fixtures/profile/proto/dup-b.proto",
        "dup",
    ];
    let r = run(&args);
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr
            .contains("dup.a.Alpha/Get (fixtures/profile/proto/dup-a.proto)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("dup.b.Beta/Get (fixtures/profile/proto/dup-b.proto)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--qualified-names"), "{}", r.stderr);

    let mut qualified = args.to_vec();
    qualified.push("--qualified-names");
    let r = run(&qualified);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("    name: Alpha/Get\n") && r.stdout.contains("    name: Beta/Get\n")
    );
}

#[test]
fn namespace_and_cluster_domain_name_the_profile() {
    let out = profile(&[
        "--template",
        "web",
        "-n",
        "prod",
        "--cluster-domain",
        "example.internal",
    ]);
    assert!(
        out.contains("  name: web.prod.svc.example.internal\n  namespace: prod\n"),
        "{out}"
    );
    let out = profile(&["--proto", "fixtures/profile/proto/dup-a.proto", "web"]);
    assert!(
        out.contains("  name: web.default.svc.cluster.local\n  namespace: default\n"),
        "{out}"
    );
}

#[test]
fn no_routes_gives_an_empty_spec() {
    let out = mesh()
        .args(["profile", "--open-api", "-", "empty"])
        .write_stdin("openapi: 3.0.0\n")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: empty.default.svc.cluster.local\n  namespace: default\nspec: {}\n"
    );
}

#[test]
fn json_output_is_the_same_object_as_yaml() {
    for case in generator_cases() {
        let yaml = profile(&case);
        let mut json_args = case.clone();
        json_args.extend(["-o", "json"]);
        let json = profile(&json_args);
        let from_yaml: serde_json::Value = mesh::yaml::from_str(&yaml).unwrap();
        let from_json: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(from_yaml, from_json, "{case:?}");
    }
}

#[test]
fn template_documents_every_field_and_parses_as_a_profile() {
    let out = profile(&["--template", "web-svc", "-n", "emojivoto"]);
    for field in [
        "routes:",
        "condition:",
        "method:",
        "pathRegex:",
        "all:",
        "any:",
        "not:",
        "responseClasses:",
        "status:",
        "isFailure:",
        "isRetryable:",
        "timeout:",
        "retryBudget:",
        "retryRatio:",
        "minRetriesPerSecond:",
        "ttl:",
        "dstOverrides:",
        "authority:",
        "weight:",
    ] {
        assert!(out.contains(field), "the template mentions {field}");
    }
    let parsed: mesh::profile::ServiceProfile = mesh::yaml::from_str(&out).unwrap();
    assert_eq!(parsed.metadata.name, "web-svc.emojivoto.svc.cluster.local");
    assert!(parsed.spec.retry_budget.is_some());
}
