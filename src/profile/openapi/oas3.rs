//! OpenAPI 3.x: where mesh reads more than Linkerd — the path of `servers[].url` is prefixed, and
//! `2XX`-style status ranges become status-range classes.

use openapiv3::{Server, StatusCode};

use super::document::Operation;

/// Exact codes and `NXX` ranges as inclusive status ranges, ascending; within a hundred the exact
/// codes come before the range, so the more specific class is the one that matches.
pub(super) fn statuses(op: &Operation) -> Vec<(u32, u32)> {
    let mut ranges: Vec<(u32, u32)> = op
        .responses
        .iter()
        .flatten()
        .filter_map(|(key, _)| match status_code(key)? {
            StatusCode::Code(c) if (100..=599).contains(&c) => Some((u32::from(c), u32::from(c))),
            StatusCode::Range(r) if (1..=5).contains(&r) => {
                Some((u32::from(r) * 100, u32::from(r) * 100 + 99))
            }
            _ => None,
        })
        .collect();
    ranges.sort_unstable_by_key(|&(min, max)| (min / 100, min != max, min));
    ranges.dedup();
    ranges
}

/// A response key as `openapiv3` reads it (`"404"`, `"4XX"`); `None` for `default` and extensions.
fn status_code(key: &str) -> Option<StatusCode> {
    serde_json::from_value(serde_json::Value::String(key.to_string())).ok()
}

/// The path shared by `servers`, with variables replaced by their defaults and the trailing `/`
/// trimmed; `Err` with the distinct paths when the servers disagree.
pub(super) fn server_prefix(servers: &[Server]) -> Result<String, Vec<String>> {
    let mut prefixes: Vec<String> = Vec::new();
    for path in servers.iter().map(server_path) {
        if !prefixes.contains(&path) {
            prefixes.push(path);
        }
    }
    match prefixes.len() {
        0 => Ok(String::new()),
        1 => Ok(prefixes.remove(0)),
        _ => Err(prefixes),
    }
}

fn server_path(server: &Server) -> String {
    let url = substitute_variables(server);
    let absolute = url
        .find("://")
        .map(|i| i + 3)
        .or(url.starts_with("//").then_some(2));
    let path = match absolute {
        Some(host_start) => url[host_start..]
            .find('/')
            .map_or("", |i| &url[host_start + i..]),
        None => url.as_str(),
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = path.strip_prefix('.').unwrap_or(path).trim_end_matches('/');
    if path.is_empty() || path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// The server's URL with each `{name}` replaced by the variable's default, in one pass: a default is
/// not itself a template, so defaults naming other variables cannot multiply the text.
fn substitute_variables(server: &Server) -> String {
    let variables = server.variables.as_ref();
    let mut out = String::with_capacity(server.url.len());
    let mut rest = server.url.as_str();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let variable = after.find('}').and_then(|close| {
            let var = variables?.get(&after[..close])?;
            Some((var, close))
        });
        match variable {
            Some((var, close)) => {
                out.push_str(&var.default);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(url: &str) -> Server {
        Server {
            url: url.to_string(),
            ..Server::default()
        }
    }

    #[test]
    fn server_paths() {
        assert_eq!(server_path(&server("https://api.example.com/v1/")), "/v1");
        assert_eq!(server_path(&server("http://localhost:8080")), "");
        assert_eq!(server_path(&server("//cdn.example.com/x?y=1")), "/x");
        assert_eq!(server_path(&server("/api")), "/api");
        assert_eq!(server_path(&server("v1")), "/v1");
        assert_eq!(server_path(&server("/")), "");
    }

    #[test]
    fn variables_are_replaced_by_their_defaults_once() {
        let variable = |default: &str| openapiv3::ServerVariable {
            default: default.to_string(),
            ..Default::default()
        };
        let server = Server {
            url: "https://{host}/{a}/{unknown}/{b".to_string(),
            variables: Some(
                [
                    ("host".to_string(), variable("api.example.com")),
                    ("a".to_string(), variable("{a}{host}")),
                ]
                .into_iter()
                .collect(),
            ),
            ..Server::default()
        };
        assert_eq!(server_path(&server), "/{a}{host}/{unknown}/{b");
    }

    #[test]
    fn servers_that_agree_give_their_prefix() {
        assert_eq!(
            server_prefix(&[server("https://a/v1"), server("/v1/")]),
            Ok("/v1".into())
        );
        assert_eq!(server_prefix(&[]), Ok(String::new()));
        assert_eq!(
            server_prefix(&[server("https://a/v1"), server("https://b/v2")]),
            Err(vec!["/v1".to_string(), "/v2".to_string()])
        );
    }
}
