//! The compiled form of a profile's routes: request → route, response → success or failure.
//!
//! Compiled once per profile load and shared by the proxy (per-route metrics, retries, timeouts) and
//! tap (`mesh profile --tap`), so both always agree on which route a request belongs to.

use std::sync::Arc;
use std::time::Duration;

use regex::Regex;

use super::duration::parse_go_duration;
use super::model::{RequestMatch, ResponseMatch, RouteSpec, ServiceProfile};

/// The route name of requests that match no route of their profile.
pub const DEFAULT_ROUTE: &str = "[DEFAULT]";

/// A profile field that could not be compiled, with its path (`spec.routes[2].condition.pathRegex`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field from the document root; empty for the document as a whole.
    pub field: String,
    /// What is wrong with it (with the field's line and column in the file, once located).
    pub message: String,
    /// A likely fix (`did you mean "/users"?`), printed after the message and its position.
    pub hint: Option<String>,
}

impl std::fmt::Display for FieldError {
    /// `field: message; hint`, or the message alone for the document as a whole.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldError {}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// The same error with a likely fix, shown after the message.
    pub(crate) fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

/// All routes of one profile, ready to match requests in order.
#[derive(Debug, Clone, Default)]
pub struct RouteMatcher {
    routes: Vec<Route>,
}

/// One compiled route.
#[derive(Debug, Clone)]
pub struct Route {
    /// The route's name, shared cheaply with metric labels.
    pub name: Arc<str>,
    /// Whether failed requests may be retried.
    pub is_retryable: bool,
    /// Bound on the whole request, retries included.
    pub timeout: Option<Duration>,
    condition: RequestCondition,
    classes: Vec<(ResponseCondition, bool)>,
}

#[derive(Debug, Clone)]
enum RequestCondition {
    Method(String),
    Path(Regex),
    All(Vec<RequestCondition>),
    Any(Vec<RequestCondition>),
    Not(Box<RequestCondition>),
}

#[derive(Debug, Clone)]
enum ResponseCondition {
    Status { min: u32, max: u32 },
    All(Vec<ResponseCondition>),
    Any(Vec<ResponseCondition>),
    Not(Box<ResponseCondition>),
}

impl RouteMatcher {
    /// Compiles every route of `profile`; fails on the first field that cannot be used.
    pub fn compile(profile: &ServiceProfile) -> Result<Self, FieldError> {
        let routes = profile
            .spec
            .routes
            .iter()
            .enumerate()
            .map(|(i, route)| Route::compile(route, i))
            .collect::<Result<_, FieldError>>()?;
        Ok(RouteMatcher { routes })
    }

    /// The first route whose condition matches, or `None` for the [`DEFAULT_ROUTE`].
    pub fn route_for(&self, method: &str, path: &str) -> Option<&Route> {
        self.routes
            .iter()
            .find(|r| r.condition.matches(method, path))
    }

    /// The index of the first route whose condition matches, or `None` for the [`DEFAULT_ROUTE`].
    pub fn find(&self, method: &str, path: &str) -> Option<usize> {
        self.routes
            .iter()
            .position(|r| r.condition.matches(method, path))
    }

    /// The compiled routes, in profile order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

impl Route {
    /// Compiles `spec.routes[index]`.
    pub fn compile(route: &RouteSpec, index: usize) -> Result<Self, FieldError> {
        let at = format!("spec.routes[{index}]");
        let timeout = match &route.timeout {
            Some(t) => Some(
                parse_go_duration(t)
                    .map_err(|e| FieldError::new(format!("{at}.timeout"), e.to_string()))?,
            ),
            None => None,
        };
        let classes = route
            .response_classes
            .iter()
            .enumerate()
            .map(|(j, class)| {
                let at = format!("{at}.responseClasses[{j}].condition");
                Ok((compile_response(&class.condition, &at)?, class.is_failure))
            })
            .collect::<Result<_, FieldError>>()?;
        Ok(Route {
            name: Arc::from(route.name.as_str()),
            is_retryable: route.is_retryable,
            timeout,
            condition: compile_request(&route.condition, &format!("{at}.condition"))?,
            classes,
        })
    }

    /// `Some(is_failure)` from the first response class matching `status`; `None` when no class
    /// matches and the caller's default (5xx or a gRPC error is a failure) applies.
    pub fn classify(&self, status: u16) -> Option<bool> {
        self.classes
            .iter()
            .find(|(c, _)| c.matches(u32::from(status)))
            .map(|(_, is_failure)| *is_failure)
    }
}

impl RequestCondition {
    fn matches(&self, method: &str, path: &str) -> bool {
        match self {
            RequestCondition::Method(m) => m == method,
            RequestCondition::Path(re) => re.is_match(path),
            RequestCondition::All(cs) => cs.iter().all(|c| c.matches(method, path)),
            RequestCondition::Any(cs) => cs.iter().any(|c| c.matches(method, path)),
            RequestCondition::Not(c) => !c.matches(method, path),
        }
    }
}

impl ResponseCondition {
    fn matches(&self, status: u32) -> bool {
        match self {
            ResponseCondition::Status { min, max } => (*min..=*max).contains(&status),
            ResponseCondition::All(cs) => cs.iter().all(|c| c.matches(status)),
            ResponseCondition::Any(cs) => cs.iter().any(|c| c.matches(status)),
            ResponseCondition::Not(c) => !c.matches(status),
        }
    }
}

/// A `pathRegex` that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression {pattern:?}: {reason}")]
pub struct PathRegexError {
    pub pattern: String,
    /// The regex library's reason, one line (`unclosed group`).
    pub reason: String,
}

/// Compiles a `pathRegex` so that it must match the whole path, as Linkerd's proxy does.
pub fn compile_path_regex(pattern: &str) -> Result<Regex, PathRegexError> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
        // The library's message is a multi-line drawing; its last line names the problem.
        let text = e.to_string();
        let reason = text
            .lines()
            .last()
            .unwrap_or_default()
            .trim_start_matches("error: ");
        PathRegexError {
            pattern: pattern.to_string(),
            reason: reason.to_string(),
        }
    })
}

fn compile_request(m: &RequestMatch, at: &str) -> Result<RequestCondition, FieldError> {
    let mut parts = Vec::new();
    if let Some(all) = &m.all {
        parts.push(RequestCondition::All(compile_each(
            all,
            &format!("{at}.all"),
            compile_request,
        )?));
    }
    if let Some(any) = &m.any {
        parts.push(RequestCondition::Any(compile_each(
            any,
            &format!("{at}.any"),
            compile_request,
        )?));
    }
    if let Some(method) = &m.method {
        parts.push(RequestCondition::Method(method.clone()));
    }
    if let Some(not) = &m.not {
        parts.push(RequestCondition::Not(Box::new(compile_request(
            not,
            &format!("{at}.not"),
        )?)));
    }
    if let Some(pattern) = &m.path_regex {
        let re = compile_path_regex(pattern)
            .map_err(|e| FieldError::new(format!("{at}.pathRegex"), e.to_string()))?;
        parts.push(RequestCondition::Path(re));
    }
    match parts.len() {
        0 => Err(FieldError::new(
            at,
            "a request condition must set at least one of method, pathRegex, all, any, not",
        )),
        1 => Ok(parts.remove(0)),
        _ => Ok(RequestCondition::All(parts)),
    }
}

fn compile_response(m: &ResponseMatch, at: &str) -> Result<ResponseCondition, FieldError> {
    let mut parts = Vec::new();
    if let Some(all) = &m.all {
        parts.push(ResponseCondition::All(compile_each(
            all,
            &format!("{at}.all"),
            compile_response,
        )?));
    }
    if let Some(any) = &m.any {
        parts.push(ResponseCondition::Any(compile_each(
            any,
            &format!("{at}.any"),
            compile_response,
        )?));
    }
    if let Some(not) = &m.not {
        parts.push(ResponseCondition::Not(Box::new(compile_response(
            not,
            &format!("{at}.not"),
        )?)));
    }
    if let Some(range) = &m.status {
        let min = range.min.unwrap_or(100);
        let max = range.max.unwrap_or(599);
        for (name, value) in [("min", range.min), ("max", range.max)] {
            if let Some(v) = value {
                if !(100..=599).contains(&v) {
                    return Err(FieldError::new(
                        format!("{at}.status.{name}"),
                        format!("{v} is not an HTTP status (100-599)"),
                    ));
                }
            }
        }
        if min > max {
            return Err(FieldError::new(
                format!("{at}.status"),
                format!("min {min} is greater than max {max}"),
            ));
        }
        parts.push(ResponseCondition::Status { min, max });
    }
    match parts.len() {
        0 => Err(FieldError::new(
            at,
            "a response condition must set at least one of status, all, any, not",
        )),
        1 => Ok(parts.remove(0)),
        _ => Ok(ResponseCondition::All(parts)),
    }
}

fn compile_each<M, C>(
    items: &[M],
    at: &str,
    compile: fn(&M, &str) -> Result<C, FieldError>,
) -> Result<Vec<C>, FieldError> {
    items
        .iter()
        .enumerate()
        .map(|(i, m)| compile(m, &format!("{at}[{i}]")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(yaml: &str) -> ServiceProfile {
        crate::yaml::from_str(yaml).expect("test profile parses")
    }

    const PROFILE: &str = r#"
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: web.ns.svc.cluster.local}
spec:
  routes:
  - name: GET /api/vote/{id}
    condition: {method: GET, pathRegex: '/api/vote/[^/]*'}
    responseClasses:
    - condition: {status: {min: 404, max: 404}}
      isFailure: true
    - condition: {not: {status: {min: 200, max: 299}}}
  - name: not GET
    condition:
      all:
      - not: {method: GET}
      - any: [{pathRegex: /a}, {pathRegex: /b}]
    timeout: 1500ms
"#;

    #[test]
    fn first_matching_route_wins_and_regex_matches_whole_path() {
        let m = RouteMatcher::compile(&profile(PROFILE)).unwrap();
        assert_eq!(
            &*m.route_for("GET", "/api/vote/7").unwrap().name,
            "GET /api/vote/{id}"
        );
        assert!(
            m.route_for("GET", "/api/vote/7/x").is_none(),
            "anchored at the end"
        );
        assert!(
            m.route_for("GET", "/x/api/vote/7").is_none(),
            "anchored at the start"
        );
        let r = m.route_for("POST", "/b").unwrap();
        assert_eq!(&*r.name, "not GET");
        assert_eq!(r.timeout, Some(Duration::from_millis(1500)));
        assert!(m.route_for("GET", "/b").is_none());
    }

    #[test]
    fn response_classes_apply_in_order() {
        let m = RouteMatcher::compile(&profile(PROFILE)).unwrap();
        let r = &m.routes()[0];
        assert_eq!(r.classify(404), Some(true));
        assert_eq!(
            r.classify(500),
            Some(false),
            "the not-2xx class says success"
        );
        assert_eq!(r.classify(200), None);
    }

    #[test]
    fn bad_regex_names_the_field() {
        let p = profile(&PROFILE.replace("/a}", "/a(}"));
        let err = RouteMatcher::compile(&p).unwrap_err();
        assert_eq!(
            err.field,
            "spec.routes[1].condition.all[1].any[0].pathRegex"
        );
    }
}
