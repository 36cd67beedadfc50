use super::*;

fn names(scanned: &Scanned) -> Vec<(&str, &str, bool)> {
    scanned
        .rpcs
        .iter()
        .map(|r| (r.service.as_str(), r.name.as_str(), r.retryable))
        .collect()
}

#[test]
fn nesting_is_bounded() {
    let nested = |n: usize| format!("message M {{ option (x) = {}; }}", "{a".repeat(n));
    assert_eq!(check_nesting(&nested(5), 8), Ok(()));
    let (line, column, message) = check_nesting(&nested(8), 8).unwrap_err();
    assert_eq!((line, column), (1, 40), "the brace one level too deep");
    assert_eq!(message, "nested more than 8 levels deep");
    assert_eq!(check_nesting("/* {{{{ */ \"{{{{\" }}}}", 2), Ok(()));
}

#[test]
fn finds_services_rpcs_and_idempotency() {
    let text = r#"
syntax = "proto3";
package a.b;
import "missing.proto";
message M { string service = 1; map<string, string> rpc = 2; }
service S {
  option deprecated = true;
  rpc One(other.X) returns (stream other.Y);
  rpc Two(M) returns (M) { option idempotency_level = IDEMPOTENT; option (x.y) = { a: 1 }; }
}
service T { rpc Three(.a.b.M) returns (stream) {} }
"#;
    let scanned = scan(text).unwrap();
    assert_eq!(
        names(&scanned),
        [
            ("S", "One", false),
            ("S", "Two", true),
            ("T", "Three", false)
        ]
    );
    assert!(scanned.rpcs.iter().all(|r| r.package == "a.b"));
    assert_eq!(scanned.edition, None);
    assert!(scanned.loose_options.is_empty());
}

#[test]
fn editions_are_read() {
    let text = r#"// An edition file.
edition = "2023";
package notes.v1;
option features.field_presence = IMPLICIT;
export message Note { string name = 1 [features.field_presence = EXPLICIT]; }
local enum Kind { KIND_UNSPECIFIED = 0; }
service Notes {
  rpc GetNote(Note) returns (Note) { option idempotency_level = NO_SIDE_EFFECTS; };
  rpc DeleteNote(Note) returns (Note);
}
"#;
    let scanned = scan(text).unwrap();
    assert_eq!(scanned.edition.as_deref(), Some("2023"));
    assert_eq!(
        names(&scanned),
        [("Notes", "GetNote", true), ("Notes", "DeleteNote", false)]
    );
}

#[test]
fn quoted_and_parenthesised_levels_count_as_linkerd_reads_them() {
    let text = r#"syntax = "proto3";
service S {
  rpc A(M) returns (M) { option idempotency_level = "IDEMPOTENT"; }
  rpc B(M) returns (M) {
    option (idempotency_level) = "NO_SIDE_EFFECTS";
  }
  rpc C(M) returns (M) { option (idempotency_level) = IDEMPOTENT; }
  rpc D(M) returns (M) { option idempotency_level = "UNKNOWN"; }
  rpc E(M) returns (M) { option (other.idempotency_level) = IDEMPOTENT; }
}
"#;
    let scanned = scan(text).unwrap();
    assert_eq!(
        names(&scanned),
        [
            ("S", "A", true),
            ("S", "B", true),
            ("S", "C", true),
            ("S", "D", false),
            ("S", "E", false)
        ]
    );
    let loose: Vec<(u32, u32, &str, &str)> = scanned
        .loose_options
        .iter()
        .map(|o| (o.line, o.column, o.rpc.as_str(), o.written.as_str()))
        .collect();
    assert_eq!(
        loose,
        [
            (3, 26, "A", r#"option idempotency_level = "IDEMPOTENT""#),
            (
                5,
                5,
                "B",
                r#"option (idempotency_level) = "NO_SIDE_EFFECTS""#
            ),
            (7, 26, "C", "option (idempotency_level) = IDEMPOTENT"),
            (8, 26, "D", r#"option idempotency_level = "UNKNOWN""#),
        ]
    );
}

#[test]
fn malformed_services_and_statements_are_located() {
    let cases = [
        (
            "service S {\n  rpc Get(M) returns M;\n}\n",
            (2, 22),
            "expected `(`, found `M`",
        ),
        (
            "service S { rpc Get(M) returns (M) }",
            (1, 36),
            "expected `{`, found `}`",
        ),
        ("service S { rpc Get(M)", (1, 22), "expected `returns`, found the end of the file"),
        ("message M { string a = 1;", (1, 25), "expected `}`, found the end of the file"),
        ("option x = 1", (1, 12), "expected `;`, found the end of the file"),
        ("servce S {}", (1, 1), "expected a top-level statement (syntax, edition, package, import, option, message, enum, extend or service), found `servce`"),
        ("service S { message M {} }", (1, 13), "expected rpc, option or `}` in service S, found `message`"),
        ("edition = 2023;", (1, 11), "expected the edition as a string, found `2023`"),
        ("service S { rpc A(M) returns (M) { option = X; } }", (1, 43), "expected an option name, found `=`"),
    ];
    for (text, at, message) in cases {
        let (line, column, found) = scan(text).unwrap_err();
        assert_eq!(((line, column), found.as_str()), (at, message), "{text:?}");
    }
}

#[test]
fn any_token_stream_gives_a_result_or_an_error() {
    // Truncations of a valid file: every prefix either reads or fails, without panicking.
    let text = r#"syntax = "proto3"; package p; service S { rpc A(M) returns (stream M) { option (idempotency_level) = "IDEMPOTENT"; option (h) = { get: "/x" }; } }"#;
    for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
        let _ = scan(&text[..end]);
    }
}
