//! Routes as requests will meet them: a `pathRegex` no path can match is an error of `check` and a
//! warning of the generators; path templates other than `{name}` follow their pattern; `.proto`
//! files the parser cannot read (editions) and Linkerd's looser `idempotency_level` forms still give
//! their routes. Each input is written by the test; the real binary reads it.

use std::path::Path;

use mesh::profile::matcher::RouteMatcher;
use mesh::profile::ServiceProfile;

use crate::harness::{run, write, Run};

/// `mesh ARGS` with one file argument, which must succeed.
fn generate(args: &[&str], file: &Path, service: &str) -> Run {
    let mut full = vec!["profile"];
    full.extend_from_slice(args);
    full.extend([file.to_str().unwrap(), service]);
    let r = run(&full);
    assert_eq!(r.code, 0, "mesh {full:?}:\n{}", r.stderr);
    r
}

/// `mesh profile check` on what a generator wrote: it must pass, without a word on stderr.
fn assert_passes_check(dir: &Path, yaml: &str) {
    let file = write(dir, "generated.yaml", yaml);
    let r = run(&["profile", "check", file.to_str().unwrap()]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{yaml}");
}

/// The name of the route a request takes under `yaml`'s profile, `[DEFAULT]` for none.
fn route_of(yaml: &str, method: &str, path: &str) -> String {
    let profile: ServiceProfile = mesh::yaml::from_str(yaml).unwrap();
    let matcher = RouteMatcher::compile(&profile).unwrap();
    matcher
        .route_for(method, path)
        .map_or("[DEFAULT]".to_string(), |r| r.name.to_string())
}

const PROFILE_HEAD: &str = "apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  name: users.accounts.svc.cluster.local
  namespace: accounts
spec:
  routes:
";

#[test]
fn check_refuses_path_regexes_that_no_request_path_can_match() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "users.yaml",
        &format!(
            "{PROFILE_HEAD}  - name: ListUsers
    condition:
      method: POST
      pathRegex: com\\.example\\.User\\/ListUsers
  - name: GET api/v1/users
    condition:
      method: GET
      pathRegex: api/v1/users
  - name: any user page
    condition:
      pathRegex: '(?i)USERS/[0-9]+'
  - name: fine
    condition:
      any:
      - pathRegex: /users/[^/]*
      - pathRegex: '\\*'
  - name: half dead
    condition:
      any:
      - pathRegex: /a
      - pathRegex: b
"
        ),
    );
    let r = run(&["profile", "check", file.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    let at = file.display();
    let rule =
        "matches no request path (a path begins with \"/\" and pathRegex must match all of it)";
    assert_eq!(
        r.stderr,
        format!(
            "{at}: spec.routes[0].condition.pathRegex: route \"ListUsers\" can never match: \
             \"com\\.example\\.User\\/ListUsers\" {rule} (line 11, column 18); did you mean \"/com\\.example\\.User\\/ListUsers\"?\n\
             {at}: spec.routes[1].condition.pathRegex: route \"GET api/v1/users\" can never match: \
             \"api/v1/users\" {rule} (line 15, column 18); did you mean \"/api/v1/users\"?\n\
             {at}: spec.routes[2].condition.pathRegex: route \"any user page\" can never match: \
             \"(?i)USERS/[0-9]+\" {rule} (line 18, column 18); did you mean \"/(?i)USERS/[0-9]+\"?\n\
             {at}: spec.routes[4].condition.any[1].pathRegex: \"b\" {rule} (line 28, column 20); did you mean \"/b\"?\n"
        )
    );
}

#[test]
fn a_swagger_base_path_without_its_slash_is_given_one() {
    let dir = tempfile::tempdir().unwrap();
    let swagger = write(
        dir.path(),
        "users.swagger.yaml",
        "swagger: '2.0'
info: {title: users, version: '1'}
basePath: api/v1/
paths:
  /users:
    get:
      responses: {'200': {description: ok}}
  /users/{id}:
    delete:
      responses: {'204': {description: gone}}
",
    );
    let r = generate(&["--open-api"], &swagger, "users");
    assert!(
        r.stdout
            .contains("      method: GET\n      pathRegex: /api/v1/users\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("    name: GET /api/v1/users\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("      pathRegex: /api/v1/users/[^/]*\n"),
        "{}",
        r.stdout
    );
    assert_eq!(
        r.stderr,
        "mesh: warning: basePath \"api/v1/\" does not begin with \"/\" (Swagger 2.0 requires it, and \
         request paths always do); routes use \"/api/v1\"\n"
    );
    assert_eq!(
        route_of(&r.stdout, "GET", "/api/v1/users"),
        "GET /api/v1/users"
    );
    assert_passes_check(dir.path(), &r.stdout);
}

#[test]
fn path_templates_follow_their_patterns_and_foreign_parameters_are_named() {
    let dir = tempfile::tempdir().unwrap();
    // As protoc-gen-openapiv2 writes Google API HTTP rules, plus an API gateway's greedy proxy and
    // paths written in Express's and Flask's syntax.
    let doc = write(
        dir.path(),
        "notes.yaml",
        "openapi: 3.0.3
info: {title: notes, version: v1}
paths:
  /v1/{name=projects/*/notes/*}:
    get: {responses: {'200': {description: a note}}}
  /v1/{parent=projects/*}/notes:
    post: {responses: {'200': {description: created}}}
  /v1/{name=projects/*/operations/**}:cancel:
    post: {responses: {'200': {description: cancelled}}}
  /files/{proxy+}:
    get: {responses: {'200': {description: a file}}}
  /users/:userId:
    get: {responses: {'200': {description: a user}}}
  /orders/<int:orderId>:
    get: {responses: {'200': {description: an order}}}
",
    );
    let r = generate(&["--open-api"], &doc, "notes");
    for regex in [
        "/v1/projects/[^/]*/notes/[^/]*",
        "/v1/projects/[^/]*/notes",
        "/v1/projects/[^/]*/operations/.*:cancel",
        "/files/.+",
        "/users/:userId",
        "/orders/<int:orderId>",
    ] {
        assert!(
            r.stdout.contains(&format!("      pathRegex: {regex}\n")),
            "{regex} in:\n{}",
            r.stdout
        );
    }
    // Live requests take the routes, not [DEFAULT].
    for (method, path, route) in [
        (
            "GET",
            "/v1/projects/p1/notes/n2",
            "GET /v1/{name=projects/*/notes/*}",
        ),
        (
            "POST",
            "/v1/projects/p1/notes",
            "POST /v1/{parent=projects/*}/notes",
        ),
        (
            "POST",
            "/v1/projects/p1/operations/a/b:cancel",
            "POST /v1/{name=projects/*/operations/**}:cancel",
        ),
        ("GET", "/files/2026/report.pdf", "GET /files/{proxy+}"),
        ("GET", "/v1/projects/p1/notes/n2/extra", "[DEFAULT]"),
    ] {
        assert_eq!(route_of(&r.stdout, method, path), route, "{method} {path}");
    }
    assert_eq!(
        r.stderr,
        "mesh: warning: paths./orders/<int:orderId>: \"<int:orderId>\" looks like a path parameter in \
         Flask's syntax; OpenAPI writes it {orderId}, so the route keeps \"<int:orderId>\" as literal text\n\
         mesh: warning: paths./users/:userId: \":userId\" looks like a path parameter in Express's \
         syntax; OpenAPI writes it {userId}, so the route keeps \":userId\" as literal text\n"
    );
    assert_passes_check(dir.path(), &r.stdout);
}

#[test]
fn an_editions_proto_is_read_from_its_services_and_the_user_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let proto = write(
        dir.path(),
        "notes.proto",
        r#"edition = "2023";

package notes.v1;

option features.field_presence = IMPLICIT;

message Note {
  string name = 1;
  string body = 2 [features.field_presence = EXPLICIT];
}

service NoteService {
  rpc GetNote(Note) returns (Note) {
    option idempotency_level = NO_SIDE_EFFECTS;
  }
  rpc UpdateNote(Note) returns (Note);
}
"#,
    );
    let r = generate(&["--proto"], &proto, "notes");
    assert_eq!(
        r.stdout,
        "apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  name: notes.default.svc.cluster.local
  namespace: default
spec:
  routes:
  - condition:
      method: POST
      pathRegex: /notes\\.v1\\.NoteService/GetNote
    isRetryable: true
    name: GetNote
  - condition:
      method: POST
      pathRegex: /notes\\.v1\\.NoteService/UpdateNote
    name: UpdateNote
"
    );
    assert_eq!(
        r.stderr,
        format!(
            "mesh: warning: {}: edition \"2023\" is newer than the protobuf parser mesh uses, which \
             stops at 1:1: incorrect input; routes were read from the service definitions alone\n",
            proto.display()
        )
    );
    assert_passes_check(dir.path(), &r.stdout);
}

#[test]
fn a_malformed_service_still_fails_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let proto = write(
        dir.path(),
        "broken.proto",
        "edition = \"2023\";\nservice S {\n  rpc Get(M) returns M;\n}\n",
    );
    let r = run(&["profile", "--proto", proto.to_str().unwrap(), "broken"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "", "nothing is written");
    assert_eq!(
        r.stderr,
        format!("mesh: {}:3:22: expected `(`, found `M`\n", proto.display()),
        "the reader of services stops further into the file than the parser"
    );
}

#[test]
fn quoted_and_parenthesised_idempotency_levels_make_routes_retryable() {
    let dir = tempfile::tempdir().unwrap();
    let proto = write(
        dir.path(),
        "voting.proto",
        r#"syntax = "proto3";
package emojivoto.v1;
message VoteRequest {}
message VoteResponse {}
service VotingService {
  rpc VoteJoy(VoteRequest) returns (VoteResponse) {
    option idempotency_level = "IDEMPOTENT";
  }
  rpc VoteGhost(VoteRequest) returns (VoteResponse) {
    option (idempotency_level) = NO_SIDE_EFFECTS;
  }
  rpc VoteTrophy(VoteRequest) returns (VoteResponse) {
    option idempotency_level = "UNKNOWN";
  }
}
"#,
    );
    let r = generate(&["--proto"], &proto, "voting");
    for (rpc, retryable) in [
        ("VoteJoy", true),
        ("VoteGhost", true),
        ("VoteTrophy", false),
    ] {
        let route = format!(
            "      pathRegex: /emojivoto\\.v1\\.VotingService/{rpc}\n{}    name: {rpc}\n",
            if retryable {
                "    isRetryable: true\n"
            } else {
                ""
            }
        );
        assert!(r.stdout.contains(&route), "{route} in:\n{}", r.stdout);
    }
    let file = proto.display();
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{}", r.stderr);
    assert!(
        lines[0].starts_with(&format!("mesh: warning: {file}: "))
            && lines[0].ends_with("; routes were read from the service definitions alone"),
        "{}",
        lines[0]
    );
    assert_eq!(
        &lines[1..],
        [
            format!(
                "mesh: warning: {file}:7:5: rpc VoteJoy: protoc refuses `option idempotency_level = \
                 \"IDEMPOTENT\"` (write `option idempotency_level = IDEMPOTENT;`); mesh reads it as \
                 Linkerd does, so the route is retryable"
            ),
            format!(
                "mesh: warning: {file}:10:5: rpc VoteGhost: protoc refuses `option (idempotency_level) \
                 = NO_SIDE_EFFECTS` (write `option idempotency_level = NO_SIDE_EFFECTS;`); mesh reads \
                 it as Linkerd does, so the route is retryable"
            ),
            format!(
                "mesh: warning: {file}:13:5: rpc VoteTrophy: protoc refuses `option idempotency_level = \
                 \"UNKNOWN\"` (the level is one of IDEMPOTENCY_UNKNOWN, NO_SIDE_EFFECTS, IDEMPOTENT, \
                 unquoted); mesh reads it as Linkerd does, so the route is not retryable"
            ),
        ]
    );
    assert_passes_check(dir.path(), &r.stdout);
}
