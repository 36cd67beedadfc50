//! The `matcher` target: a request matched against routes built from the input, checked against
//! each route's condition evaluated on its own and against `mesh profile check`'s shadowing.

use std::collections::HashMap;

use regex::Regex;

use crate::profile::check::{covers, Compiled};
use crate::profile::go_regex::{literal_of, quote_meta};
use crate::profile::matcher::{compile_path_regex, RouteMatcher};
use crate::profile::model::{RequestMatch, ResponseClass, RouteSpec, ServiceProfile};
use crate::profile::path_template::path_to_regex;
use crate::profile::unmatchable::can_match_request_path;

/// Most routes built by [`matcher`] from one input.
const MAX_ROUTES: usize = 8;

/// The request matcher and the regexes it uses: two bytes of response status (taken into
/// 100..=599), then lines — a method, a request path, and one `pathRegex` per line. A pattern's
/// first character may choose the shape of its condition: `!` not, `&` all (with the method), `|`
/// any (with the method).
pub fn matcher(data: &[u8]) {
    let (status, rest) = data.split_at(data.len().min(2));
    let status = match status {
        [a, b] => 100 + u16::from_le_bytes([*a, *b]) % 500,
        _ => 200,
    };
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or_default();
    let path = lines.next().unwrap_or_default();
    let patterns: Vec<&str> = lines.take(MAX_ROUTES).collect();

    for p in &patterns {
        // What generators write is always a valid pattern, and a quoted literal matches itself.
        assert!(compile_path_regex(&path_to_regex(p)).is_ok(), "{p:?}");
        let quoted = quote_meta(p);
        assert_eq!(literal_of(&quoted).as_deref(), Some(*p));
        let re = compile_path_regex(&quoted).expect("a quoted literal compiles");
        assert!(re.is_match(p), "{quoted:?} must match {p:?}");
    }

    let routes: Vec<RouteSpec> = patterns
        .iter()
        .enumerate()
        .map(|(i, p)| RouteSpec {
            condition: condition(i, method, p),
            is_retryable: false,
            name: format!("r{i}"),
            response_classes: vec![ResponseClass::status(
                u32::from(status),
                u32::from(status),
                true,
            )],
            timeout: None,
        })
        .collect();
    let mut profile = ServiceProfile::new("fuzz", "ns", "cluster.local");
    profile.spec.routes = routes;
    let Ok(compiled) = RouteMatcher::compile(&profile) else {
        return;
    };
    // Each route alone says whether it matches; the matcher must pick the first that does.
    let regexes: HashMap<&str, Regex> = patterns
        .iter()
        .map(|p| p.strip_prefix(['!', '&', '|']).unwrap_or(p))
        .filter_map(|p| Some((p, compile_path_regex(p).ok()?)))
        .collect();
    let alone: Vec<bool> = profile
        .spec
        .routes
        .iter()
        .map(|r| matches_alone(&r.condition, method, path, &regexes))
        .collect();
    assert_eq!(compiled.find(method, path), alone.iter().position(|m| *m));
    // A pattern `mesh profile check` says no request path can match must not match one.
    if path.starts_with('/') || path == "*" {
        for (p, re) in &regexes {
            if can_match_request_path(p) == Some(false) {
                assert!(
                    !re.is_match(path),
                    "{p:?} is said to match no path, but matches {path:?}"
                );
            }
        }
    }
    for route in compiled.routes() {
        assert_eq!(route.classify(status), Some(true));
    }
    // `mesh profile check` says a route can never match when an earlier one covers it: that must
    // hold for every request a proxy can see (a path starting with `/`; lines hold no `\n`).
    if path.starts_with('/') {
        let routes = &profile.spec.routes;
        let mut cache = Compiled::new();
        for (later, _) in alone.iter().enumerate().filter(|(_, m)| **m) {
            for earlier in 0..later {
                if covers(
                    &routes[earlier].condition,
                    &routes[later].condition,
                    &mut cache,
                ) {
                    assert!(
                        alone[earlier],
                        "route {earlier} is said to cover route {later}, but only {later} matches {method} {path:?}"
                    );
                }
            }
        }
    }
}

fn condition(i: usize, method: &str, pattern: &str) -> RequestMatch {
    let only_path = |p: &str| RequestMatch {
        path_regex: Some(p.to_string()),
        ..RequestMatch::default()
    };
    let only_method = RequestMatch {
        method: Some(method.to_string()),
        ..RequestMatch::default()
    };
    match pattern.chars().next() {
        Some('!') => RequestMatch {
            not: Some(Box::new(only_path(&pattern[1..]))),
            ..RequestMatch::default()
        },
        Some('&') => RequestMatch {
            all: Some(vec![only_method, only_path(&pattern[1..])]),
            ..RequestMatch::default()
        },
        Some('|') => RequestMatch {
            any: Some(vec![only_method, only_path(&pattern[1..])]),
            ..RequestMatch::default()
        },
        _ if i % 2 == 0 => RequestMatch::method_and_path(method, pattern.to_string()),
        _ => only_path(pattern),
    }
}

/// Whether `m` matches, evaluated from the model with the regexes compiled apart.
fn matches_alone(
    m: &RequestMatch,
    method: &str,
    path: &str,
    regexes: &HashMap<&str, Regex>,
) -> bool {
    let each = |c: &RequestMatch| matches_alone(c, method, path, regexes);
    m.method.as_ref().is_none_or(|x| x == method)
        && m.path_regex.as_ref().is_none_or(|p| {
            regexes
                .get(p.as_str())
                .expect("every pattern of a compiled profile compiles")
                .is_match(path)
        })
        && m.all.iter().flatten().all(each)
        && m.any.as_ref().is_none_or(|cs| cs.iter().any(each))
        && m.not.as_deref().is_none_or(|c| !each(c))
}
