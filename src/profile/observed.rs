//! `mesh profile --tap`: routes from requests seen live — one per `METHOD path` (query string
//! dropped, `/` skipped), the path escaped as a regex, sorted by name, at most a route limit, as
//! Linkerd's generator does. Beyond it, `collapse` folds paths that differ only in a segment that
//! looks like an id (a number, a UUID, a long hex string) into one `[^/]*` route named
//! `GET /books/{id}`.

use std::collections::BTreeMap;

use super::go_regex::quote_meta;
use super::model::{RequestMatch, RouteSpec, ServiceProfile};
use super::{Generated, ProfileTarget};

/// Builds a profile from observed `(method, path)` pairs.
pub fn profile_from_requests<'a>(
    requests: impl IntoIterator<Item = (&'a str, &'a str)>,
    target: &ProfileTarget,
    route_limit: usize,
    collapse: bool,
) -> Generated {
    let mut routes: BTreeMap<String, RouteSpec> = BTreeMap::new();
    let mut dropped = 0;
    for (method, path) in requests {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        if path.is_empty() || path == "/" {
            continue;
        }
        let (shown, regex) = if collapse {
            collapsed(path)
        } else {
            (path.to_string(), quote_meta(path))
        };
        let name = format!("{method} {shown}");
        if routes.contains_key(&name) {
            continue;
        }
        if routes.len() >= route_limit {
            dropped += 1;
            continue;
        }
        let route = RouteSpec {
            condition: RequestMatch::method_and_path(method, regex),
            is_retryable: false,
            name: name.clone(),
            response_classes: Vec::new(),
            timeout: None,
        };
        routes.insert(name, route);
    }
    let mut profile =
        ServiceProfile::new(&target.service, &target.namespace, &target.cluster_domain);
    profile.spec.routes = routes.into_values().collect();
    let mut notices = if dropped > 0 {
        vec![format!("{dropped} requests had routes beyond the route limit of {route_limit}; raise --tap-route-limit to keep them")]
    } else {
        Vec::new()
    };
    notices.extend(super::unmatchable::unmatchable_notices(&profile));
    Generated { profile, notices }
}

/// The path with id-like segments as `{id}`, and its regex.
fn collapsed(path: &str) -> (String, String) {
    let mut shown = Vec::new();
    let mut regex = Vec::new();
    for segment in path.split('/') {
        if looks_like_id(segment) {
            shown.push("{id}".to_string());
            regex.push("[^/]*".to_string());
        } else {
            shown.push(segment.to_string());
            regex.push(quote_meta(segment));
        }
    }
    (shown.join("/"), regex.join("/"))
}

/// A number, a UUID, or hex of 8 characters or more with at least one digit.
fn looks_like_id(segment: &str) -> bool {
    let hex = |c: char| c.is_ascii_hexdigit();
    let number = !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit());
    let uuid = segment.len() == 36
        && segment.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                hex(c)
            }
        });
    let long_hex = segment.len() >= 8
        && segment.chars().all(hex)
        && segment.chars().any(|c| c.is_ascii_digit());
    number || uuid || long_hex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> ProfileTarget {
        ProfileTarget {
            service: "books".into(),
            namespace: "shop".into(),
            cluster_domain: "cluster.local".into(),
        }
    }

    fn names(g: &Generated) -> Vec<&str> {
        g.profile
            .spec
            .routes
            .iter()
            .map(|r| r.name.as_str())
            .collect()
    }

    #[test]
    fn routes_are_sorted_escaped_and_limited() {
        let seen = [
            ("GET", "/books?page=2"),
            ("POST", "/books"),
            ("GET", "/"),
            ("GET", "/a.b"),
            ("GET", "/books"),
        ];
        let g = profile_from_requests(seen, &target(), 20, false);
        assert_eq!(names(&g), ["GET /a.b", "GET /books", "POST /books"]);
        let yaml = crate::profile::render::render(&g.profile, crate::profile::render::Format::Yaml);
        assert!(yaml.contains("pathRegex: /a\\.b"), "{yaml}");
        let g = profile_from_requests(seen, &target(), 1, false);
        assert_eq!(g.profile.spec.routes.len(), 1);
        assert_eq!(g.notices.len(), 1);
    }

    #[test]
    fn ids_collapse_into_one_route() {
        let seen = [
            ("GET", "/books/1"),
            ("GET", "/books/2"),
            (
                "GET",
                "/books/6f1c2c1e-8a3a-4d7e-9a55-0d2a1e7c9b10/pages/12",
            ),
            ("GET", "/books/latest"),
        ];
        let g = profile_from_requests(seen, &target(), 20, true);
        assert_eq!(
            names(&g),
            [
                "GET /books/latest",
                "GET /books/{id}",
                "GET /books/{id}/pages/{id}"
            ]
        );
    }
}
