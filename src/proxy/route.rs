//! Route match: the step that finds which ServiceProfile route a request takes, once per request.
//!
//! A [`MatchedRoute`] names the route (the `rt_route` label, `[DEFAULT]` when no profile or no
//! route matches) and carries its policy: the timeout, whether failures may be retried, how
//! responses classify, and the retry budget of the service. Every later step — the
//! [deadline](super::timeout), [retry](super::retry), [metrics](super::observe) — reads it from
//! there; nothing looks the route up again. Like linkerd2-proxy's route parameters, it is built
//! from the profile in force when the request arrived: a reload while the request is in flight
//! does not change its route.
//!
//! It is cheap: three reference-counted pointers (the profile's compiled table, the route name,
//! the budget) and an index into the table.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use super::budget::RetryBudget;
use super::classify::is_failure;
use super::profiles::ServiceRoutes;
use super::state::ProxyState;
use crate::profile::matcher::{Route, DEFAULT_ROUTE};

/// The name of the route of requests no profile route matches (`[DEFAULT]`), allocated once.
static DEFAULT_NAME: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from(DEFAULT_ROUTE));

/// The route one request takes, with its policy.
#[derive(Debug, Clone)]
pub struct MatchedRoute {
    name: Arc<str>,
    /// The compiled profile and the index of the matched route in it; `None`: `[DEFAULT]`.
    rule: Option<Rule>,
    budget: Arc<RetryBudget>,
}

/// A matched profile route: its profile's table and its place there.
#[derive(Debug, Clone)]
struct Rule {
    profile: Arc<ServiceRoutes>,
    index: usize,
}

// === impl MatchedRoute ===

impl MatchedRoute {
    /// The route of an outbound request to the service `fqdn` (none: an address) at `authority`.
    /// Without a profile the service's default budget applies (Linkerd's defaults), for the
    /// retries every request may get.
    pub fn outbound(
        state: &ProxyState,
        fqdn: Option<&str>,
        authority: &str,
        method: &str,
        path: &str,
    ) -> Self {
        let profile = fqdn.and_then(|f| state.profiles.get(f));
        match profile {
            Some(profile) => Self::in_profile(profile, method, path),
            None => Self::unmatched(state.default_budgets.get(authority)),
        }
    }

    /// The route of an inbound request to the own service `fqdn`, if it names one. Without a
    /// profile the app's one budget applies.
    pub fn inbound(state: &ProxyState, fqdn: Option<&str>, method: &str, path: &str) -> Self {
        match fqdn.and_then(|f| state.profiles.get(f)) {
            Some(profile) => Self::in_profile(profile, method, path),
            None => Self::unmatched(state.app_budget.clone()),
        }
    }

    /// The route of a request in `profile`: its first matching route, or `[DEFAULT]` under the
    /// profile's budget.
    pub fn in_profile(profile: Arc<ServiceRoutes>, method: &str, path: &str) -> Self {
        let budget = profile.retry_budget.clone();
        match profile.matcher.find(method, path) {
            Some(index) => MatchedRoute {
                name: profile.matcher.routes()[index].name.clone(),
                rule: Some(Rule { profile, index }),
                budget,
            },
            None => Self::unmatched(budget),
        }
    }

    /// `[DEFAULT]`: no timeout, not retryable, default classification, under `budget`.
    pub fn unmatched(budget: Arc<RetryBudget>) -> Self {
        MatchedRoute {
            name: DEFAULT_NAME.clone(),
            rule: None,
            budget,
        }
    }

    /// The route's name (the `rt_route` label).
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The profile route, when one matched.
    pub fn rule(&self) -> Option<&Route> {
        let rule = self.rule.as_ref()?;
        rule.profile.matcher.routes().get(rule.index)
    }

    /// The route's timeout (`timeout` in the profile): a bound on the whole request, retries
    /// included.
    pub fn timeout(&self) -> Option<Duration> {
        self.rule().and_then(|r| r.timeout)
    }

    /// Whether a failed request may be sent again (`isRetryable`).
    pub fn is_retryable(&self) -> bool {
        self.rule().is_some_and(|r| r.is_retryable)
    }

    /// The service's retry budget, which every request of the service pays into.
    pub fn budget(&self) -> &Arc<RetryBudget> {
        &self.budget
    }

    /// Whether a response is a failure on this route: its response classes first, then the
    /// defaults ([`is_failure`]).
    pub fn is_failure(&self, status: u16, grpc: bool, grpc_status: Option<u32>) -> bool {
        is_failure(self.rule(), status, grpc, grpc_status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::profiles::load_text;

    const PROFILE: &str = "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata: {name: web-svc.emojivoto.svc.cluster.local}\nspec:\n  retryBudget: {retryRatio: 0.5, minRetriesPerSecond: 1, ttl: 10s}\n  routes:\n  - name: GET /a\n    condition: {method: GET, pathRegex: /a}\n    isRetryable: true\n    timeout: 250ms\n    responseClasses:\n    - condition: {status: {min: 404, max: 404}}\n      isFailure: true\n";

    fn profile() -> Arc<ServiceRoutes> {
        load_text(PROFILE).unwrap().remove(0)
    }

    #[test]
    fn a_matched_route_carries_its_policy() {
        let profile = profile();
        let route = MatchedRoute::in_profile(profile.clone(), "GET", "/a");
        assert_eq!(&**route.name(), "GET /a");
        assert_eq!(route.timeout(), Some(Duration::from_millis(250)));
        assert!(route.is_retryable());
        assert!(route.is_failure(404, false, None));
        assert!(Arc::ptr_eq(route.budget(), &profile.retry_budget));
    }

    #[test]
    fn a_request_no_route_matches_is_default_under_the_profiles_budget() {
        let profile = profile();
        let route = MatchedRoute::in_profile(profile.clone(), "POST", "/a");
        assert_eq!(&**route.name(), DEFAULT_ROUTE);
        assert_eq!(route.timeout(), None);
        assert!(!route.is_retryable());
        assert!(!route.is_failure(404, false, None));
        assert!(route.is_failure(503, false, None));
        assert!(Arc::ptr_eq(route.budget(), &profile.retry_budget));
    }
}
