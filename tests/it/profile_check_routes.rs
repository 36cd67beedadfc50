//! `mesh profile check` reports every problem of every route, and the generators refuse or warn
//! about what a cluster would accept but no request could use. Each test writes its input and runs
//! the real binary.

use crate::harness::{check, run, write};

/// A profile of service `billing` with `routes` (YAML lines indented for `spec.routes`).
fn profile(routes: &str) -> String {
    format!(
        "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\n\
         metadata:\n  name: billing.acct.svc.cluster.local\n  namespace: acct\n\
         spec:\n  routes:\n{routes}"
    )
}

#[test]
fn every_faulty_response_class_and_timeout_of_a_route_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "classes.yaml",
        &profile(
            "  - name: invoices
    condition: {pathRegex: /invoices}
    timeout: 3 sec
    responseClasses:
    - condition: {status: {min: 404, max: 401}}
    - condition: {status: {max: 42}}
    - condition:
        any:
        - status: {min: 100, max: 199}
        - not: {status: {min: 900}}
  - name: payments
    condition: {pathRegex: /payments}
    timeout: 2 hours
    responseClasses:
    - condition: {status: {min: 650}}
",
        ),
    );
    let r = check(&file);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let expected = [
        "spec.routes[0].timeout: invalid duration \"3 sec\"",
        "spec.routes[0].responseClasses[0].condition.status: min 404 is greater than max 401",
        "spec.routes[0].responseClasses[1].condition.status.max: 42 is not an HTTP status",
        "spec.routes[0].responseClasses[2].condition.any[1].not.status.min: 900 is not an HTTP status",
        "spec.routes[1].timeout: invalid duration \"2 hours\"",
        "spec.routes[1].responseClasses[0].condition.status.min: 650 is not an HTTP status",
    ];
    for e in expected {
        assert!(r.stderr.contains(e), "missing {e:?} in:\n{}", r.stderr);
    }
    assert_eq!(r.stderr.lines().count(), expected.len(), "{}", r.stderr);
}

#[test]
fn a_lower_case_method_is_a_route_that_never_matches_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "method.yaml",
        &profile("  - name: read\n    condition: {method: get, pathRegex: /.*}\n"),
    );
    let r = check(&file);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        format!(
            "{}: spec.routes[0].condition.method: route \"read\" can never match a standard method: \
             \"get\" is not \"GET\" (methods are case-sensitive, RFC 9110 section 9.1, and compared exactly) \
             (line 9, column 25); did you mean \"GET\"?\n",
            file.display()
        )
    );
}

#[test]
fn openapi_paths_without_a_leading_slash_are_named_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let oas3 = write(
        dir.path(),
        "ledger.yaml",
        "openapi: 3.0.3\npaths:\n  entries:\n    get: {}\n  entries/{entryId}:\n    patch: {}\n  \
         x-internal: {}\n  /health:\n    get: {}\n",
    );
    let swagger = write(
        dir.path(),
        "ledger.json",
        r#"{"swagger": "2.0", "basePath": "/v2", "paths": {"accounts": {"post": {}}}}"#,
    );
    for (file, dropped) in [
        (&oas3, &["entries", "entries/{entryId}"][..]),
        (&swagger, &["accounts"][..]),
    ] {
        let r = run(&[
            "profile",
            "--open-api",
            file.to_str().unwrap(),
            "ledger",
            "-n",
            "books",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let expected: Vec<String> = dropped
            .iter()
            .map(|p| {
                format!(
                    "mesh: warning: paths.\"{p}\" does not begin with \"/\" (OpenAPI and Swagger \
                     require it, and Linkerd's generator drops such a path too); its operations get \
                     no route: write it \"/{p}\" to get one"
                )
            })
            .collect();
        assert_eq!(
            r.stderr.lines().collect::<Vec<_>>(),
            expected,
            "{}",
            r.stderr
        );
    }
}

#[test]
fn type_errors_show_numbers_as_written_and_give_only_true_hints() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "types.yaml",
        "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\n\
         metadata: {name: billing.acct.svc.cluster.local, namespace: acct}\n\
         spec:\n  routes:\n  - name: r\n    condition: {pathRegex: /r}\n    responseClasses:\n\
         \x20   - condition: {status: {max: 123456789012345678901234}}\n\
         \x20 retryBudget: {retryRatio: 2e999, minRetriesPerSecond: 5, ttl: 10s}\n\
         \x20 dstOverrides:\n  - {authority: a, weight: false}\n",
    );
    let r = check(&file);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stderr);
    assert!(
        lines[0].contains(
            "status.max: expected a whole number, found the number 123456789012345678901234 (line 9"
        ),
        "as written, not 1.2345678901234568e23: {}",
        lines[0]
    );
    assert!(
        lines[1].contains("retryRatio: expected a number, found 2e999, beyond the largest number")
            && !lines[1].contains("quotes")
            && !lines[1].contains("string"),
        "unquoted, so no quotes to remove: {}",
        lines[1]
    );
    assert!(
        lines[2].contains("weight: expected a whole number or a quantity")
            && lines[2].ends_with(')'),
        "\"false\" is no quantity either, so no \"quote it\": {}",
        lines[2]
    );
}

#[test]
fn a_long_name_is_cut_in_check_and_refused_by_the_generators() {
    let service = "q".repeat(60);
    let namespace = "w".repeat(62);
    let domain = ["example"; 20].join(".");
    let name = format!("{service}.{namespace}.svc.{domain}");
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "long.yaml",
        &format!(
            "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: {name}\nspec: {{}}\n"
        ),
    );
    let r = check(&file);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "metadata.name: \"{}\"… ({} characters) is longer than 253 characters",
            "q".repeat(40),
            name.len()
        )) && !r.stderr.contains(&service),
        "{}",
        r.stderr
    );

    // A valid name that is not <svc>.<ns>.svc.<domain> gets a warning, quoting it cut too.
    let odd = ["r".repeat(60), "t".repeat(60), "y".repeat(60)].join(".");
    let file = write(
        dir.path(),
        "odd.yaml",
        &format!("apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: {odd}\nspec: {{}}\n"),
    );
    let r = check(&file);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "\"{}\"… (182 characters) is not of the form",
            "r".repeat(40)
        )) && !r.stderr.contains(&"t".repeat(60)),
        "{}",
        r.stderr
    );

    for source in [&["--template"][..], &["--open-api", "-"][..]] {
        let mut args = vec!["profile"];
        args.extend_from_slice(source);
        args.extend([
            service.as_str(),
            "-n",
            &namespace,
            "--cluster-domain",
            &domain,
        ]);
        let r = run(&args);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert_eq!(r.stdout, "", "nothing written");
        assert!(
            r.stderr.starts_with(
                "mesh: --cluster-domain: mesh profile check and a cluster would refuse the profile's metadata.name"
            ) && r.stderr.contains("is longer than 253 characters"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_proto_file_with_a_byte_order_mark_is_read_as_protoc_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "ledger.proto",
        "\u{feff}syntax = \"proto3\";\npackage books.v1;\nimport \"types/entry.proto\";\n\
         service Ledger {\n  rpc Post(Entry) returns (Entry) { option idempotency_level = IDEMPOTENT; }\n}\n",
    );
    // An import saved by the same editor: the full parser must read it too.
    std::fs::create_dir(dir.path().join("types")).unwrap();
    write(
        &dir.path().join("types"),
        "entry.proto",
        "\u{feff}syntax = \"proto3\";\npackage books.v1;\nmessage Entry { int64 cents = 1; }\n",
    );
    let r = run(&[
        "profile",
        "--proto",
        file.to_str().unwrap(),
        "ledger",
        "-n",
        "books",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "", "read by the full parser, no fallback");
    assert!(
        r.stdout.contains("pathRegex: /books\\.v1\\.Ledger/Post")
            && r.stdout.contains("isRetryable: true"),
        "{}",
        r.stdout
    );
}
