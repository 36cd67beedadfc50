//! Routes whose `pathRegex` no request can match, found from the regex itself, and routes whose
//! `method` no standard request can match.
//!
//! A `pathRegex` must match the whole path (the proxy anchors it `^(?:…)$`, as Linkerd's does), and
//! a request path begins with `/` — the only exception is `*`, the path of `OPTIONS *`. So
//! `api/v1/users` or `com\.example\.User\/ListUsers` can never match anything: the route is dead and
//! its requests are counted under `[DEFAULT]`. Linkerd's validator accepts such a profile (it only
//! checks that a condition is not empty); `mesh profile check` reports it as an error, like a route an
//! earlier one shadows, and the generators warn about any route they would write that way.
//!
//! The decision is made on the parsed regex (regex-syntax's HIR, the same parser the proxy's `regex`
//! uses): the set of characters a match can begin with must contain `/`, or the regex must match `*`.
//! It is conservative — a regex is reported only when no path beginning with `/` can match it.
//!
//! Methods are case-sensitive (RFC 9110 §9.1) and the proxy compares them exactly, as Linkerd's
//! does, while every standard method and every client's spelling of one is upper-case: `method:
//! get` matches no `GET` request. A method with a lower-case letter is reported the same way, with
//! its upper-case form as the fix.

use regex_syntax::hir::{Class, Hir, HirKind};

use super::check::DocumentReport;
use super::matcher::{compile_path_regex, FieldError};
use super::model::{RequestMatch, ServiceProfile};

/// Whether some request path can match `pattern` as a `pathRegex` (anchored at both ends): `None`
/// when the pattern does not parse (that is reported elsewhere), `Some(false)` when every string it
/// matches is neither `*` nor begins with `/`.
pub fn can_match_request_path(pattern: &str) -> Option<bool> {
    // Parse what the proxy compiles, so that the anchors and the grouping are the proxy's.
    let hir = regex_syntax::parse(&format!("^(?:{pattern})$")).ok()?;
    if first(&hir).slash {
        return Some(true);
    }
    // `OPTIONS * HTTP/1.1` is routed with the path `*`.
    Some(compile_path_regex(pattern).is_ok_and(|re| re.is_match("*")))
}

/// Every `pathRegex` of `profile` that no request path can match, and every `method` that is not
/// upper-case, as errors naming the field (`spec.routes[2].condition.any[0].pathRegex`). When the
/// field must hold for the route to match (not under `not`, nor one choice among several of `any`),
/// the message says the route can never match.
pub fn unmatchable_paths(profile: &ServiceProfile) -> Vec<FieldError> {
    let mut out = Vec::new();
    for (i, route) in profile.spec.routes.iter().enumerate() {
        let at = format!("spec.routes[{i}].condition");
        walk(&route.condition, &at, Some(&route.name), &mut out);
    }
    out
}

/// `mesh profile check`'s hook: each unmatchable `pathRegex` or `method` of `profile` is an error
/// of `report`.
pub fn check_paths_can_match(profile: &ServiceProfile, report: &mut DocumentReport) {
    report.errors.extend(unmatchable_paths(profile));
}

/// The generators' warnings: one sentence per `pathRegex` or `method` of `profile` that no request
/// can match.
pub fn unmatchable_notices(profile: &ServiceProfile) -> Vec<String> {
    unmatchable_paths(profile)
        .into_iter()
        .map(|e| e.to_string())
        .collect()
}

/// `route` is the route's name while the condition at `at` must hold for the route to match.
fn walk(m: &RequestMatch, at: &str, route: Option<&str>, out: &mut Vec<FieldError>) {
    if let Some(method) = &m.method {
        if let Some(upper) = upper_case_method(method) {
            let mut text = match route {
                Some(name) => format!("route {name:?} can never match a standard method: "),
                None => String::new(),
            };
            text.push_str(&format!(
                "{method:?} is not {upper:?} (methods are case-sensitive, RFC 9110 section 9.1, and compared exactly)"
            ));
            let fix = format!("did you mean {upper:?}?");
            out.push(FieldError::new(format!("{at}.method"), text).with_hint(Some(fix)));
        }
    }
    if let Some(pattern) = &m.path_regex {
        if can_match_request_path(pattern) == Some(false) {
            // Unescaped, as written in YAML: `\.` reads as the regex, not as a Rust string.
            let fix = with_leading_slash(pattern).map(|fixed| format!("did you mean \"{fixed}\"?"));
            out.push(
                FieldError::new(format!("{at}.pathRegex"), message(pattern, route)).with_hint(fix),
            );
        }
    }
    for (i, child) in m.all.iter().flatten().enumerate() {
        walk(child, &format!("{at}.all[{i}]"), route, out);
    }
    let any = m.any.as_deref().unwrap_or_default();
    for (i, child) in any.iter().enumerate() {
        let required = route.filter(|_| any.len() == 1);
        walk(child, &format!("{at}.any[{i}]"), required, out);
    }
    if let Some(not) = &m.not {
        walk(not, &format!("{at}.not"), None, out);
    }
}

/// The upper-case form of `method` when it is an HTTP token (others are reported by `check`) with
/// a lower-case letter; `None` when it is already upper-case or not a token.
fn upper_case_method(method: &str) -> Option<String> {
    let token = method
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    (token && method.bytes().any(|b| b.is_ascii_lowercase())).then(|| method.to_ascii_uppercase())
}

fn message(pattern: &str, route: Option<&str>) -> String {
    let mut text = match route {
        Some(name) => format!("route {name:?} can never match: "),
        None => String::new(),
    };
    text.push_str(&format!(
        "\"{pattern}\" matches no request path (a path begins with \"/\" and pathRegex must match all of it)"
    ));
    text
}

/// `pattern` with a `/` in front (after a leading `^`), when that is a plausible fix: not for an
/// alternation, where the slash would apply to the first choice only.
fn with_leading_slash(pattern: &str) -> Option<String> {
    // The syntax tree as written: the HIR may have folded `b|c` into the class `[bc]`.
    let ast = regex_syntax::ast::parse::Parser::new()
        .parse(pattern)
        .ok()?;
    if matches!(ast, regex_syntax::ast::Ast::Alternation(_)) {
        return None;
    }
    let fixed = match pattern.strip_prefix('^') {
        Some(rest) => format!("^/{rest}"),
        None => format!("/{pattern}"),
    };
    (can_match_request_path(&fixed) == Some(true)).then_some(fixed)
}

/// What a regex can begin with: whether a match can begin with `/`, and whether it can be empty.
#[derive(Debug, Clone, Copy)]
struct First {
    slash: bool,
    nullable: bool,
}

const EMPTY: First = First {
    slash: false,
    nullable: true,
};

/// Over-approximates the first characters of `hir`'s matches: `slash` is false only when no match
/// can begin with `/`. Recursion is bounded by regex-syntax's nesting limit.
fn first(hir: &Hir) -> First {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => EMPTY,
        HirKind::Literal(literal) => match literal.0.first() {
            Some(&byte) => First {
                slash: byte == b'/',
                nullable: false,
            },
            None => EMPTY,
        },
        HirKind::Class(Class::Unicode(class)) => First {
            slash: class
                .ranges()
                .iter()
                .any(|r| r.start() <= '/' && '/' <= r.end()),
            nullable: false,
        },
        HirKind::Class(Class::Bytes(class)) => First {
            slash: class
                .ranges()
                .iter()
                .any(|r| r.start() <= b'/' && b'/' <= r.end()),
            nullable: false,
        },
        HirKind::Repetition(rep) if rep.max == Some(0) => EMPTY,
        HirKind::Repetition(rep) => {
            let sub = first(&rep.sub);
            First {
                slash: sub.slash,
                nullable: rep.min == 0 || sub.nullable,
            }
        }
        HirKind::Capture(capture) => first(&capture.sub),
        HirKind::Concat(parts) => {
            let mut slash = false;
            for part in parts {
                let f = first(part);
                slash |= f.slash;
                if !f.nullable {
                    return First {
                        slash,
                        nullable: false,
                    };
                }
            }
            First {
                slash,
                nullable: true,
            }
        }
        HirKind::Alternation(choices) => choices.iter().map(first).fold(
            First {
                slash: false,
                nullable: false,
            },
            |a, b| First {
                slash: a.slash || b.slash,
                nullable: a.nullable || b.nullable,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_that_cannot_begin_with_a_slash_are_found() {
        for pattern in [
            r"com\.example\.User\/ListUsers",
            "api/v1/users",
            "(?i)API/.*",
            "[a-z]+/x",
            "(a|b)/c",
            "^api",
            "",
            "$",
            "x?y/",
            r"\w+",
        ] {
            assert_eq!(can_match_request_path(pattern), Some(false), "{pattern:?}");
        }
    }

    #[test]
    fn regexes_that_can_match_a_path_pass() {
        for pattern in [
            "/api/v1/users",
            r"\/api",
            "^/x$",
            ".*",
            ".+",
            "(/a|/b)",
            "a?/x",
            "(?:)*/x",
            "[^a]x",
            r"\S+",
            r"(?-u:[\x00-\x7f])",
            // The path of `OPTIONS *`.
            r"\*",
            r"\*|/x",
        ] {
            assert_eq!(can_match_request_path(pattern), Some(true), "{pattern:?}");
        }
        assert_eq!(
            can_match_request_path("/a(b"),
            None,
            "left to the compile check"
        );
    }

    #[test]
    fn the_decision_agrees_with_the_compiled_regex() {
        let paths = ["/", "/a", "/api/v1/users", "*", "/x/y"];
        for pattern in ["api/v1", ".*", "/a", "a|/x/y", r"\*", "[^/]+"] {
            let re = compile_path_regex(pattern).unwrap();
            let some_path_matches = paths.iter().any(|p| re.is_match(p));
            if can_match_request_path(pattern) == Some(false) {
                assert!(!some_path_matches, "{pattern:?}");
            }
        }
    }

    fn profile(yaml: &str) -> ServiceProfile {
        crate::yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn each_unmatchable_field_is_named_and_required_ones_name_the_route() {
        let p = profile(
            r#"
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: users.ns.svc.cluster.local}
spec:
  routes:
  - name: ListUsers
    condition: {method: POST, pathRegex: 'com\.example\.User\/ListUsers'}
  - name: ok
    condition: {pathRegex: /ok}
  - name: some
    condition:
      any: [{pathRegex: /a}, {pathRegex: 'b|c'}]
      not: {pathRegex: d}
  - name: nested
    condition:
      all: [{method: GET}, {any: [{pathRegex: '^e'}]}]
"#,
        );
        let errors = unmatchable_paths(&p);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.routes[0].condition.pathRegex",
                "spec.routes[2].condition.any[1].pathRegex",
                "spec.routes[2].condition.not.pathRegex",
                "spec.routes[3].condition.all[1].any[0].pathRegex",
            ]
        );
        assert_eq!(
            errors[0].to_string(),
            r#"spec.routes[0].condition.pathRegex: route "ListUsers" can never match: "com\.example\.User\/ListUsers" matches no request path (a path begins with "/" and pathRegex must match all of it); did you mean "/com\.example\.User\/ListUsers"?"#
        );
        assert!(
            errors[1]
                .message
                .starts_with(r#""b|c" matches no request path"#)
                && errors[1].hint.is_none(),
            "one choice of several, and no fix for an alternation: {}",
            errors[1]
        );
        assert!(errors[3]
            .message
            .starts_with(r#"route "nested" can never match"#));
        assert_eq!(
            errors[3].hint.as_deref(),
            Some(r#"did you mean "^/e"?"#),
            "{}",
            errors[3]
        );
    }

    #[test]
    fn lower_case_methods_are_found_with_the_upper_case_fix() {
        let p = profile(
            r#"
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: users.ns.svc.cluster.local}
spec:
  routes:
  - name: list
    condition: {method: get, pathRegex: /.*}
  - name: fine
    condition: {method: DELETE}
  - name: either
    condition:
      any: [{method: Post}, {method: PUT}]
  - name: custom
    condition: {method: purge}
"#,
        );
        let errors = unmatchable_paths(&p);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.routes[0].condition.method",
                "spec.routes[2].condition.any[0].method",
                "spec.routes[3].condition.method",
            ]
        );
        assert!(
            errors[0].message.starts_with(
                r#"route "list" can never match a standard method: "get" is not "GET""#
            ),
            "{}",
            errors[0]
        );
        assert_eq!(errors[0].hint.as_deref(), Some(r#"did you mean "GET"?"#));
        assert!(errors[1].message.starts_with(r#""Post" is not "POST""#));
        assert_eq!(errors[2].hint.as_deref(), Some(r#"did you mean "PURGE"?"#));
    }
}
