use super::*;
use crate::admin_api::stats::{ProfileRoutes, StatsWindow, STATS_VERSION};
use crate::viz::resource::parse_one;

const AUTHORITY: &str = "voting-svc.emojivoto.svc.cluster.local:8080";

fn series(route: &str, responses: u64) -> HttpStats {
    let r = ResponseStats {
        success: responses,
        ..ResponseStats::default()
    };
    HttpStats {
        direction: Direction::Inbound,
        authority: AUTHORITY.into(),
        route: route.into(),
        peer: None,
        peer_tls_id: None,
        no_tls_reason: None,
        requests: responses,
        responses: r.clone(),
        actual_responses: r,
    }
}

fn voting(http: Vec<HttpStats>, profile_routes: Vec<ProfileRoutes>) -> ProxyStats {
    let identity = Identity {
        namespace: "emojivoto".into(),
        workload: "deploy/voting".parse().unwrap(),
        pod: "voting-0".into(),
    };
    ProxyStats {
        admin: ([127, 0, 0, 1], 4191).into(),
        identity: identity.clone(),
        services: vec!["voting-svc".into()],
        stats: Ok(StatsReport {
            version: STATS_VERSION,
            tls_id: None,
            identity: WorkloadRef {
                namespace: identity.namespace.clone(),
                workload: identity.workload.to_string(),
                pod: identity.pod.clone(),
            },
            window: StatsWindow {
                requested_seconds: 60.0,
                covered_seconds: 60.0,
            },
            latency_bounds_ms: LATENCY_BOUNDS_MS.to_vec(),
            http,
            tcp: Vec::new(),
            profile_routes,
        }),
    }
}

fn listed_routes(proxy: ProxyStats) -> Vec<(String, u64)> {
    let query = Query {
        resources: vec![parse_one("deploy/voting").unwrap()],
        namespace: Some("emojivoto".into()),
        from: None,
        to: None,
    };
    route_rows(&query, &[proxy])["deploy/voting"]
        .iter()
        .map(|r| (r.route.clone(), r.effective.total()))
        .collect()
}

fn in_force(routes: &[&str]) -> Vec<ProfileRoutes> {
    vec![ProfileRoutes {
        direction: Direction::Inbound,
        authority: AUTHORITY.into(),
        routes: routes.iter().map(|r| r.to_string()).collect(),
    }]
}

#[test]
fn routes_are_those_of_the_profile_in_force_and_default() {
    // `GET /gone` had traffic before a reload removed it; `GET /idle` is in force without any.
    let http = vec![
        series("GET /gone", 7),
        series("GET /list", 3),
        series(DEFAULT_ROUTE, 1),
    ];
    let proxy = voting(http, in_force(&["GET /list", "GET /idle", DEFAULT_ROUTE]));
    assert_eq!(
        listed_routes(proxy),
        [
            ("GET /idle".to_string(), 0),
            ("GET /list".to_string(), 3),
            (DEFAULT_ROUTE.to_string(), 1)
        ]
    );
}

#[test]
fn without_a_profile_only_default_is_listed() {
    let proxy = voting(vec![series("GET /gone", 7)], in_force(&[DEFAULT_ROUTE]));
    assert_eq!(listed_routes(proxy), [(DEFAULT_ROUTE.to_string(), 0)]);
}

#[test]
fn a_source_silent_on_profiles_lists_the_routes_with_traffic() {
    let http = vec![series("GET /busy", 2), series("GET /old", 0)];
    assert_eq!(
        listed_routes(voting(http, Vec::new())),
        [("GET /busy".to_string(), 2)]
    );
}
