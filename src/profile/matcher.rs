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
    /// Compiles every route of `profile`; fails on the first field that cannot be used (see
    /// [`Route::compile_all`] for every problem of a route).
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
    /// Compiles `spec.routes[index]`; fails with the first field that cannot be used.
    pub fn compile(route: &RouteSpec, index: usize) -> Result<Self, FieldError> {
        Self::compile_all(route, index).map_err(|errors| {
            errors
                .into_iter()
                .next()
                .unwrap_or_else(|| FieldError::new(format!("spec.routes[{index}]"), "invalid"))
        })
    }

    /// Compiles `spec.routes[index]`, or names every field that cannot be used (the timeout, each
    /// response class and the condition are all checked, so `mesh profile check` reports every
    /// problem of a route at once). The error list is never empty.
    pub fn compile_all(route: &RouteSpec, index: usize) -> Result<Self, Vec<FieldError>> {
        let at = format!("spec.routes[{index}]");
        let mut errors = Vec::new();
        let timeout = match route.timeout.as_deref().map(parse_go_duration) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                errors.push(FieldError::new(format!("{at}.timeout"), e.to_string()));
                None
            }
            None => None,
        };
        let classes: Vec<_> = route
            .response_classes
            .iter()
            .enumerate()
            .filter_map(|(j, class)| {
                let at = format!("{at}.responseClasses[{j}].condition");
                let condition = compile_response(&class.condition, &at, &mut errors)?;
                Some((condition, class.is_failure))
            })
            .collect();
        let condition = compile_request(&route.condition, &format!("{at}.condition"), &mut errors);
        match condition {
            Some(condition) if errors.is_empty() => Ok(Route {
                name: Arc::from(route.name.as_str()),
                is_retryable: route.is_retryable,
                timeout,
                condition,
                classes,
            }),
            _ => Err(errors),
        }
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

// The compilers below push every problem they find to `errors` and return `None` when the
// condition cannot be built, so one pass reports every faulty field of a route.

fn compile_request(
    m: &RequestMatch,
    at: &str,
    errors: &mut Vec<FieldError>,
) -> Option<RequestCondition> {
    let mut parts = Vec::new();
    let mut ok = true;
    if let Some(all) = &m.all {
        let all = compile_each(all, &format!("{at}.all"), compile_request, errors);
        ok &= all.is_some();
        parts.extend(all.map(RequestCondition::All));
    }
    if let Some(any) = &m.any {
        let any = compile_each(any, &format!("{at}.any"), compile_request, errors);
        ok &= any.is_some();
        parts.extend(any.map(RequestCondition::Any));
    }
    if let Some(method) = &m.method {
        parts.push(RequestCondition::Method(method.clone()));
    }
    if let Some(not) = &m.not {
        let not = compile_request(not, &format!("{at}.not"), errors);
        ok &= not.is_some();
        parts.extend(not.map(|c| RequestCondition::Not(Box::new(c))));
    }
    if let Some(pattern) = &m.path_regex {
        match compile_path_regex(pattern) {
            Ok(re) => parts.push(RequestCondition::Path(re)),
            Err(e) => {
                errors.push(FieldError::new(format!("{at}.pathRegex"), e.to_string()));
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    match parts.len() {
        0 => {
            errors.push(FieldError::new(
                at,
                "a request condition must set at least one of method, pathRegex, all, any, not",
            ));
            None
        }
        1 => parts.pop(),
        _ => Some(RequestCondition::All(parts)),
    }
}

fn compile_response(
    m: &ResponseMatch,
    at: &str,
    errors: &mut Vec<FieldError>,
) -> Option<ResponseCondition> {
    let mut parts = Vec::new();
    let mut ok = true;
    if let Some(all) = &m.all {
        let all = compile_each(all, &format!("{at}.all"), compile_response, errors);
        ok &= all.is_some();
        parts.extend(all.map(ResponseCondition::All));
    }
    if let Some(any) = &m.any {
        let any = compile_each(any, &format!("{at}.any"), compile_response, errors);
        ok &= any.is_some();
        parts.extend(any.map(ResponseCondition::Any));
    }
    if let Some(not) = &m.not {
        let not = compile_response(not, &format!("{at}.not"), errors);
        ok &= not.is_some();
        parts.extend(not.map(|c| ResponseCondition::Not(Box::new(c))));
    }
    if let Some(range) = &m.status {
        let min = range.min.unwrap_or(100);
        let max = range.max.unwrap_or(599);
        let mut in_range = true;
        for (name, value) in [("min", range.min), ("max", range.max)] {
            if let Some(v) = value {
                if !(100..=599).contains(&v) {
                    errors.push(FieldError::new(
                        format!("{at}.status.{name}"),
                        format!("{v} is not an HTTP status (100-599)"),
                    ));
                    in_range = false;
                }
            }
        }
        if in_range && min > max {
            errors.push(FieldError::new(
                format!("{at}.status"),
                format!("min {min} is greater than max {max}"),
            ));
            in_range = false;
        }
        ok &= in_range;
        parts.push(ResponseCondition::Status { min, max });
    }
    if !ok {
        return None;
    }
    match parts.len() {
        0 => {
            errors.push(FieldError::new(
                at,
                "a response condition must set at least one of status, all, any, not",
            ));
            None
        }
        1 => parts.pop(),
        _ => Some(ResponseCondition::All(parts)),
    }
}

/// Compiles every item of a list, reporting each faulty one; `None` if any failed.
fn compile_each<M, C>(
    items: &[M],
    at: &str,
    compile: fn(&M, &str, &mut Vec<FieldError>) -> Option<C>,
    errors: &mut Vec<FieldError>,
) -> Option<Vec<C>> {
    let before = errors.len();
    let compiled: Vec<C> = items
        .iter()
        .enumerate()
        .filter_map(|(i, m)| compile(m, &format!("{at}[{i}]"), errors))
        .collect();
    (errors.len() == before && compiled.len() == items.len()).then_some(compiled)
}

#[cfg(test)]
mod tests;
