//! `profile_route_info`: one line per ServiceProfile route in force (value 1), labelled like the
//! `route_*` families (`direction`, `dst`, `rt_route` and the proxy's own workload labels). It is
//! mesh's addition to Linkerd's metrics: Linkerd's CLI reads the profiles from Kubernetes, while
//! `mesh routes --prometheus` learns from it which routes to list. A route a reload removed drops
//! from the next scrape, so Prometheus marks its line stale, while its `route_*` series stay.

use std::sync::Arc;

use super::labels::{push_label, Direction};
use super::render::own_labels;
use super::{Metrics, OVERFLOW};
use crate::admin_api::stats::{ProfileRoutes, PROFILE_ROUTE_INFO};

impl Metrics {
    /// The authorities this proxy counted HTTP traffic for in `direction` (the overflow series
    /// left out), sorted.
    pub fn authorities(&self, direction: Direction) -> Vec<Arc<str>> {
        let mut out: Vec<Arc<str>> = self
            .http
            .iter()
            .filter(|e| e.key().direction == direction && &*e.key().authority != OVERFLOW)
            .map(|e| e.key().authority.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// `routes` as Prometheus text: the `profile_route_info` family.
    pub fn render_profile_routes(&self, routes: &[ProfileRoutes]) -> String {
        let own = own_labels(&self.identity);
        let mut out = format!(
            "# HELP {PROFILE_ROUTE_INFO} The ServiceProfile routes in force (and [DEFAULT]), by direction and authority.\n# TYPE {PROFILE_ROUTE_INFO} gauge\n"
        );
        for p in routes {
            for route in &p.routes {
                let mut l = own.clone();
                push_label(&mut l, "direction", p.direction.as_str());
                push_label(&mut l, "dst", &p.authority);
                push_label(&mut l, "rt_route", route);
                out.push_str(&format!("{PROFILE_ROUTE_INFO}{{{l}}} 1\n"));
            }
        }
        out
    }
}
