//! `mesh profile check`: validates profiles as a cluster's admission would, and beyond.
//!
//! Admission (the CRD schema plus Linkerd's validator) checks names, required conditions, empty
//! conditions, status ranges, durations, retry budgets and unknown fields. mesh also compiles every
//! `pathRegex`, rejects duplicate route names, and finds routes that can never match because an
//! earlier route catches every request they would.
//!
//! Types and fields are checked as a file is decoded (`decode`: every problem of every document);
//! `check_profile` checks what the decoded values mean.

use std::collections::HashMap;
use std::fmt::Write as _;

use regex::Regex;

use super::decode::{decode_profiles, Place, MAX_LOCATED};
use super::duration::parse_go_duration;
use super::go_regex::literal_of;
use super::matcher::{compile_path_regex, FieldError, Route};
use super::model::{RequestMatch, ServiceProfile, Weight, API_VERSION, API_VERSION_V1ALPHA1, KIND};
use super::names::{check_dns1123_label, check_dns1123_subdomain};
use crate::yaml::{locate, parse_path, Step};

/// The outcome of checking one profile of a file (a YAML document, or one item of a `List`).
#[derive(Debug, Clone, Default)]
pub struct DocumentReport {
    /// 1-based position of the document in its file.
    pub index: usize,
    /// 0-based position of the profile in the document's `items`, when the document is a `List`.
    pub item: Option<usize>,
    /// `metadata.name`, when the document could be read.
    pub name: Option<String>,
    /// Number of routes.
    pub routes: usize,
    /// Problems that make the profile invalid.
    pub errors: Vec<FieldError>,
    /// Problems worth knowing that a cluster would accept.
    pub warnings: Vec<FieldError>,
}

/// Checks every profile of `text`: every document, and every item of a `List`. A profile that does
/// not decode reports every problem of its shape (see [`super::decode`]); one that decodes gets the
/// checks of [`check_profile`].
pub fn check_profiles(text: &str) -> Vec<DocumentReport> {
    let mut locatable = MAX_LOCATED;
    decode_profiles(text)
        .into_iter()
        .map(|decoded| {
            let mut report = DocumentReport {
                index: decoded.place.document,
                item: decoded.place.item,
                ..DocumentReport::default()
            };
            match decoded.profile {
                Ok(profile) => {
                    check_profile(&profile, &mut report);
                    locate_findings(text, &decoded.place, &mut report, &mut locatable);
                }
                Err(errors) => report.errors = errors,
            }
            report
        })
        .collect()
}

/// Adds ` (line L, column C)` to each finding of a decoded profile whose field is in the file, as
/// the decoder does for problems of shape, so every line of a report points into the file. Each
/// finding is located by reading the text again, so at most `locatable` more in this file are.
fn locate_findings(text: &str, place: &Place, report: &mut DocumentReport, locatable: &mut usize) {
    let prefix: Vec<Step> = place
        .item
        .map(|i| vec![Step::Key("items".into()), Step::Index(i)])
        .unwrap_or_default();
    for finding in report.errors.iter_mut().chain(report.warnings.iter_mut()) {
        if finding.field.is_empty() {
            continue;
        }
        let Some(left) = locatable.checked_sub(1) else {
            return;
        };
        *locatable = left;
        let path: Vec<Step> = prefix
            .iter()
            .cloned()
            .chain(parse_path(&finding.field))
            .collect();
        if let Some((line, column)) = locate(text, place.document - 1, &path, false) {
            let _ = write!(finding.message, " (line {line}, column {column})");
        }
    }
}

/// Checks one decoded profile, adding to `report`.
pub fn check_profile(profile: &ServiceProfile, report: &mut DocumentReport) {
    let errors = &mut report.errors;
    report.name = Some(profile.metadata.name.clone());
    report.routes = profile.spec.routes.len();

    if profile.api_version == API_VERSION_V1ALPHA1 {
        report.warnings.push(FieldError::new(
            "apiVersion",
            format!("{API_VERSION_V1ALPHA1} is deprecated; use {API_VERSION}"),
        ));
    } else if profile.api_version != API_VERSION {
        errors.push(FieldError::new(
            "apiVersion",
            format!("expected {API_VERSION}, found {:?}", profile.api_version),
        ));
    }
    if profile.kind != KIND {
        errors.push(FieldError::new(
            "kind",
            format!("expected {KIND}, found {:?}", profile.kind),
        ));
    }
    if let Err(e) = check_dns1123_subdomain(&profile.metadata.name) {
        errors.push(FieldError::new("metadata.name", e.to_string()));
    } else if !profile.metadata.name.contains(".svc.") {
        report.warnings.push(FieldError::new(
            "metadata.name",
            format!("{} is not of the form <service>.<namespace>.svc.<cluster-domain>; it applies to requests for exactly that authority", super::schema::quoted(&profile.metadata.name)),
        ));
    }
    if let Some(ns) = &profile.metadata.namespace {
        if let Err(e) = check_dns1123_label(ns) {
            errors.push(FieldError::new("metadata.namespace", e.to_string()));
        }
    }

    let mut names: HashMap<&str, usize> = HashMap::new();
    // Only routes that compiled can shadow later ones.
    let mut usable: Vec<usize> = Vec::new();
    let mut compiled = Compiled::new();
    for (i, route) in profile.spec.routes.iter().enumerate() {
        let at = format!("spec.routes[{i}]");
        if route.name.is_empty() {
            errors.push(FieldError::new(
                format!("{at}.name"),
                "a route needs a name",
            ));
        } else if let Some(first) = names.insert(route.name.as_str(), i) {
            names.insert(route.name.as_str(), first);
            errors.push(FieldError::new(
                format!("{at}.name"),
                format!(
                    "{:?} is also the name of spec.routes[{first}]; metrics of the two would mix",
                    route.name
                ),
            ));
        }
        check_methods(&route.condition, &format!("{at}.condition"), errors);
        if let Err(faults) = Route::compile_all(route, i) {
            errors.extend(faults);
            continue;
        }
        let shadowing = usable.iter().copied().find(|&e| {
            covers(
                &profile.spec.routes[e].condition,
                &route.condition,
                &mut compiled,
            )
        });
        usable.push(i);
        if let Some(earlier) = shadowing {
            errors.push(FieldError::new(
                format!("{at}.condition"),
                format!(
                    "route {:?} can never match: spec.routes[{earlier}] ({:?}) comes first and matches every request it would",
                    route.name, profile.spec.routes[earlier].name
                ),
            ));
        }
    }

    if let Some(budget) = &profile.spec.retry_budget {
        if !budget.retry_ratio.is_finite() || budget.retry_ratio < 0.0 {
            errors.push(FieldError::new(
                "spec.retryBudget.retryRatio",
                format!(
                    "must be a non-negative number, found {}",
                    budget.retry_ratio
                ),
            ));
        }
        match parse_go_duration(&budget.ttl) {
            Ok(d) if d.is_zero() => errors.push(FieldError::new(
                "spec.retryBudget.ttl",
                "must be longer than zero",
            )),
            Ok(_) => {}
            Err(e) => errors.push(FieldError::new("spec.retryBudget.ttl", e.to_string())),
        }
    }
    for (i, dst) in profile.spec.dst_overrides.iter().enumerate() {
        let at = format!("spec.dstOverrides[{i}]");
        if dst.authority.is_empty() {
            errors.push(FieldError::new(
                format!("{at}.authority"),
                "must not be empty",
            ));
        }
        let weight_ok = match &dst.weight {
            Weight::Integer(w) => *w >= 0,
            Weight::Text(t) => is_quantity(t),
        };
        if !weight_ok {
            errors.push(FieldError::new(
                format!("{at}.weight"),
                "must be a non-negative quantity such as 1, 100 or 500m",
            ));
        }
    }
    super::unmatchable::check_paths_can_match(profile, report);
}

/// Methods are HTTP tokens; anything else can never match a request.
fn check_methods(m: &RequestMatch, at: &str, errors: &mut Vec<FieldError>) {
    if let Some(method) = &m.method {
        let token = !method.is_empty()
            && method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            errors.push(FieldError::new(
                format!("{at}.method"),
                format!("{method:?} is not an HTTP method"),
            ));
        }
    }
    for (key, children) in [("all", &m.all), ("any", &m.any)] {
        for (i, child) in children.iter().flatten().enumerate() {
            check_methods(child, &format!("{at}.{key}[{i}]"), errors);
        }
    }
    if let Some(not) = &m.not {
        check_methods(not, &format!("{at}.not"), errors);
    }
}

/// A Kubernetes quantity (the CRD's pattern for `weight`).
fn is_quantity(text: &str) -> bool {
    static QUANTITY: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")
            .expect("static regex")
    });
    QUANTITY.is_match(text) && !text.starts_with('-')
}

/// One conjunction of a condition in disjunctive normal form: a method (if any) and path patterns that
/// must all match.
#[derive(Debug, Clone, Default)]
struct Conjunction<'a> {
    methods: Vec<&'a str>,
    paths: Vec<&'a str>,
}

/// Upper bound on conjunctions considered, so pathological conditions stay cheap to check.
const MAX_CONJUNCTIONS: usize = 64;

/// Path patterns compiled for shadowing, at most once per profile: every route is compared with
/// every earlier one, and compiling a regex costs far more than a comparison.
pub(crate) type Compiled<'a> = HashMap<&'a str, Option<Regex>>;

/// Whether every request matching `later` also matches `earlier`. Conservative: `false` unless it can
/// be shown (conditions using `not`, or patterns it cannot compare, are never reported).
pub(crate) fn covers<'a>(
    earlier: &'a RequestMatch,
    later: &'a RequestMatch,
    compiled: &mut Compiled<'a>,
) -> bool {
    let (Some(a), Some(b)) = (dnf(earlier), dnf(later)) else {
        return false;
    };
    b.iter()
        .filter(|cb| satisfiable(cb))
        .all(|cb| a.iter().any(|ca| conjunction_covers(ca, cb, compiled)))
        && b.iter().any(satisfiable)
}

fn dnf(m: &RequestMatch) -> Option<Vec<Conjunction<'_>>> {
    if m.not.is_some() {
        return None;
    }
    let mut result = vec![Conjunction::default()];
    if let Some(method) = &m.method {
        result[0].methods.push(method);
    }
    if let Some(path) = &m.path_regex {
        result[0].paths.push(path);
    }
    if let Some(all) = &m.all {
        for child in all {
            result = product(&result, &dnf(child)?)?;
        }
    }
    if let Some(any) = &m.any {
        let mut union = Vec::new();
        for child in any {
            union.extend(dnf(child)?);
        }
        result = product(&result, &union)?;
    }
    Some(result)
}

fn product<'a>(xs: &[Conjunction<'a>], ys: &[Conjunction<'a>]) -> Option<Vec<Conjunction<'a>>> {
    if xs.len() * ys.len() > MAX_CONJUNCTIONS {
        return None;
    }
    Some(
        xs.iter()
            .flat_map(|x| {
                ys.iter().map(move |y| Conjunction {
                    methods: x.methods.iter().chain(&y.methods).copied().collect(),
                    paths: x.paths.iter().chain(&y.paths).copied().collect(),
                })
            })
            .collect(),
    )
}

fn satisfiable(c: &Conjunction<'_>) -> bool {
    c.methods.windows(2).all(|w| w[0] == w[1])
}

fn conjunction_covers<'a>(
    a: &Conjunction<'a>,
    b: &Conjunction<'a>,
    compiled: &mut Compiled<'a>,
) -> bool {
    let methods_ok = a.methods.iter().all(|m| b.methods.contains(m));
    methods_ok
        && a.paths
            .iter()
            .all(|pa| path_implied(pa, &b.paths, compiled))
}

/// Whether every path matching all of `given` also matches `pattern`.
fn path_implied<'a>(pattern: &'a str, given: &[&'a str], compiled: &mut Compiled<'a>) -> bool {
    const UNIVERSAL: [&str; 8] = [".*", "^.*$", "^.*", ".*$", "(.*)", "(?:.*)", "/.*", ".+"];
    if UNIVERSAL.contains(&pattern) || given.contains(&pattern) {
        return true;
    }
    // Only a literal path can be compared with a pattern: compile nothing otherwise.
    let literals: Vec<String> = given.iter().filter_map(|g| literal_of(g)).collect();
    if literals.is_empty() {
        return false;
    }
    let re = compiled
        .entry(pattern)
        .or_insert_with(|| compile_path_regex(pattern).ok());
    re.as_ref()
        .is_some_and(|re| literals.iter().any(|literal| re.is_match(literal)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(yaml: &str) -> RequestMatch {
        crate::yaml::from_str(yaml).unwrap()
    }

    fn covers(earlier: &RequestMatch, later: &RequestMatch) -> bool {
        super::covers(earlier, later, &mut Compiled::new())
    }

    #[test]
    fn catch_all_and_literal_routes_shadow_later_ones() {
        assert!(covers(
            &cond("pathRegex: /.*"),
            &cond("{method: GET, pathRegex: /a}")
        ));
        assert!(covers(
            &cond("{method: GET, pathRegex: '/a/[^/]*'}"),
            &cond("{method: GET, pathRegex: /a/b}")
        ));
        assert!(covers(
            &cond("{method: GET, pathRegex: /a}"),
            &cond("{method: GET, pathRegex: /a}")
        ));
        assert!(covers(
            &cond("any: [{method: GET}, {method: POST}]"),
            &cond("{method: POST, pathRegex: /x}")
        ));
    }

    #[test]
    fn narrower_or_unknowable_earlier_routes_do_not_shadow() {
        assert!(!covers(
            &cond("{method: GET, pathRegex: /a}"),
            &cond("pathRegex: /a")
        ));
        assert!(!covers(
            &cond("{method: GET, pathRegex: /a/b}"),
            &cond("{method: GET, pathRegex: '/a/[^/]*'}")
        ));
        assert!(!covers(&cond("not: {method: GET}"), &cond("method: POST")));
        assert!(!covers(
            &cond("pathRegex: /a"),
            &cond("all: [{method: GET}, {method: POST}]")
        ));
    }
}
