//! OpenAPI path templates as `pathRegex`es, including the template forms other tools write.
//!
//! A plain `{name}` matches one path segment, `[^/]*`, exactly as Linkerd's generator writes it. mesh
//! also reads the variables Linkerd turns into a single segment, so that their requests are not
//! counted under `[DEFAULT]`:
//!
//! - Google API HTTP rules, as protoc-gen-openapiv2 (grpc-gateway) writes them:
//!   `{name=projects/*/notes/*}` — in the pattern `*` is one segment (`[^/]*`), `**` the rest of the
//!   path (`.*`), anything else literal text;
//! - API gateways' greedy `{proxy+}`: one or more characters of the rest of the path (`.+`).
//!
//! Everything outside `{…}` is literal, escaped as Go's `regexp.QuoteMeta` does. Segments that look
//! like another framework's parameters (Express `:id`, Flask `<id>` or `<int:id>`) stay literal —
//! they are valid path text — and [`foreign_parameters`] names them so the generator can warn.

use super::go_regex::quote_meta;

/// Turns a path template into a `pathRegex`: literal text escaped, each `{…}` variable replaced by
/// the pattern it stands for (see the module documentation). An unclosed `{` is literal text.
pub fn path_to_regex(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            break;
        };
        out.push_str(&quote_meta(&rest[..open]));
        out.push_str(&variable_regex(&after[..close]));
        rest = &after[close + 1..];
    }
    out.push_str(&quote_meta(rest));
    out
}

/// The regex of one variable, given the text between its braces.
fn variable_regex(variable: &str) -> String {
    if let Some((_, pattern)) = variable.split_once('=') {
        if pattern.is_empty() {
            return ONE_SEGMENT.to_string();
        }
        return pattern
            .split('/')
            .map(|segment| match segment {
                "*" => ONE_SEGMENT.to_string(),
                "**" => ".*".to_string(),
                literal => quote_meta(literal),
            })
            .collect::<Vec<_>>()
            .join("/");
    }
    if variable.ends_with('+') {
        return ".+".to_string();
    }
    ONE_SEGMENT.to_string()
}

/// One path segment, as Linkerd writes a `{param}`.
const ONE_SEGMENT: &str = "[^/]*";

/// A segment of a path template that looks like another framework's path parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignParameter {
    /// The segment as written (`:userId`, `<int:id>`).
    pub segment: String,
    /// The framework whose syntax it is (`Express`, `Flask`).
    pub framework: &'static str,
    /// The parameter's name (`userId`, `id`), for the `{name}` OpenAPI would have.
    pub name: String,
}

/// The segments of `path` (outside `{…}` variables) written as another framework's path
/// parameters: Express's `:name` and Flask's `<name>` or `<converter:name>`.
pub fn foreign_parameters(path: &str) -> Vec<ForeignParameter> {
    path.split('/')
        .filter(|segment| !segment.contains('{'))
        .filter_map(|segment| {
            let ident = |s: &str| {
                s.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            };
            if let Some(name) = segment.strip_prefix(':') {
                // Express allows an optional marker and a regex after the name: `:id?`, `:id(\d+)`.
                let name = name.split(['?', '(']).next().unwrap_or_default();
                return ident(name).then(|| ForeignParameter {
                    segment: segment.to_string(),
                    framework: "Express",
                    name: name.to_string(),
                });
            }
            let inner = segment.strip_prefix('<')?.strip_suffix('>')?;
            let name = inner.rsplit(':').next().unwrap_or_default();
            ident(name).then(|| ForeignParameter {
                segment: segment.to_string(),
                framework: "Flask",
                name: name.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::matcher::compile_path_regex;

    #[test]
    fn plain_params_become_one_segment_as_linkerd_writes_them() {
        assert_eq!(path_to_regex("/authors/{id}.json"), r"/authors/[^/]*\.json");
        assert_eq!(path_to_regex("/a/{x}{y}/b"), "/a/[^/]*[^/]*/b");
        assert_eq!(path_to_regex("/a/{open"), r"/a/\{open");
        assert_eq!(path_to_regex("/a/{x}/{open"), r"/a/[^/]*/\{open");
        assert_eq!(path_to_regex("/a}/{"), r"/a\}/\{");
    }

    #[test]
    fn google_http_rule_variables_follow_their_pattern() {
        let re = path_to_regex("/v1/{name=projects/*/notes/*}");
        assert_eq!(re, "/v1/projects/[^/]*/notes/[^/]*");
        let re = compile_path_regex(&re).unwrap();
        assert!(re.is_match("/v1/projects/p1/notes/n2"));
        assert!(!re.is_match("/v1/projects/p1/notes/n2/x"));

        assert_eq!(
            path_to_regex("/v1/{name=operations/**}:cancel"),
            r"/v1/operations/.*:cancel"
        );
        assert_eq!(path_to_regex("/v1/{parent=*}/items"), "/v1/[^/]*/items");
        assert_eq!(path_to_regex("/v1/{name=}"), "/v1/[^/]*");
        assert_eq!(path_to_regex("/v1/{name=a.b/*}"), r"/v1/a\.b/[^/]*");
    }

    #[test]
    fn greedy_params_take_the_rest_of_the_path() {
        let re = path_to_regex("/api/{proxy+}");
        assert_eq!(re, "/api/.+");
        let re = compile_path_regex(&re).unwrap();
        assert!(re.is_match("/api/users/7/orders"));
        assert!(!re.is_match("/api/"));
    }

    #[test]
    fn other_frameworks_parameters_are_named_and_kept_literal() {
        assert_eq!(path_to_regex("/users/:userId"), "/users/:userId");
        let found = foreign_parameters("/users/:userId/items/<int:itemId>/{ok}/a:b/:1/<x");
        let seen: Vec<(&str, &str, &str)> = found
            .iter()
            .map(|f| (f.segment.as_str(), f.framework, f.name.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (":userId", "Express", "userId"),
                ("<int:itemId>", "Flask", "itemId")
            ]
        );
        assert_eq!(foreign_parameters("/v1/{name}:cancel"), []);
        assert_eq!(foreign_parameters("/a/:id?")[0].name, "id");
    }
}
