use super::*;
use crate::admin_api::stats::{
    HttpStats, PeerSide, ResponseStats, StatsReport, StatsWindow, TcpStats, WorkloadRef,
    LATENCY_BOUNDS_MS, STATS_VERSION,
};
use crate::viz::resource::parse_one;

const WEB_ID: &str = "web.emojivoto.serviceaccount.identity.mesh.cluster.local";
const VOTING_ID: &str = "voting.emojivoto.serviceaccount.identity.mesh.cluster.local";

fn workload(name: &str) -> WorkloadRef {
    WorkloadRef {
        namespace: "emojivoto".into(),
        workload: format!("deploy/{name}"),
        pod: format!("{name}-0"),
    }
}

/// How one series was authenticated: the peer's proven identity, or why not.
#[derive(Clone, Copy)]
enum Tls {
    Peer(&'static str),
    Not(&'static str),
    Silent,
}

fn http(direction: Direction, peer: &str, tls: Tls) -> HttpStats {
    let (peer_tls_id, no_tls_reason) = match tls {
        Tls::Peer(id) => (Some(id.to_string()), None),
        Tls::Not(reason) => (None, Some(reason.to_string())),
        Tls::Silent => (None, None),
    };
    HttpStats {
        direction,
        authority: "voting-svc.emojivoto.svc.cluster.local:8080".into(),
        route: "[DEFAULT]".into(),
        peer: Some(workload(peer)),
        peer_tls_id,
        no_tls_reason,
        requests: 1,
        responses: ResponseStats::default(),
        actual_responses: ResponseStats::default(),
    }
}

fn tcp(direction: Direction, peer: &str) -> TcpStats {
    TcpStats {
        direction,
        peer_side: match direction {
            Direction::Inbound => PeerSide::Src,
            Direction::Outbound => PeerSide::Dst,
        },
        peer: Some(workload(peer)),
        peer_tls_id: None,
        no_tls_reason: None,
        opened: 1,
        closed: 0,
        open: 1,
        read_bytes: 10,
        write_bytes: 10,
    }
}

/// The proxy of `deploy/<name>`, its own identity `tls_id`, reporting `http` and `tcp` series.
fn proxy(name: &str, tls_id: Option<&str>, http: Vec<HttpStats>, tcp: Vec<TcpStats>) -> ProxyStats {
    let me = workload(name);
    let identity = Identity {
        namespace: me.namespace.clone(),
        workload: me.workload.parse().unwrap(),
        pod: me.pod.clone(),
    };
    ProxyStats {
        admin: ([127, 0, 0, 1], 4191).into(),
        identity,
        services: Vec::new(),
        stats: Ok(StatsReport {
            version: STATS_VERSION,
            identity: me,
            tls_id: tls_id.map(String::from),
            window: StatsWindow {
                requested_seconds: 60.0,
                covered_seconds: 60.0,
            },
            latency_bounds_ms: LATENCY_BOUNDS_MS.to_vec(),
            http,
            tcp,
            profile_routes: Vec::new(),
        }),
    }
}

/// web calling voting, as web's proxy saw it (outbound) with its own identity `web_id`.
fn web(web_id: Option<&str>, tls: &[Tls]) -> ProxyStats {
    let http = tls
        .iter()
        .map(|t| http(Direction::Outbound, "voting", *t))
        .collect();
    proxy(
        "web",
        web_id,
        http,
        vec![tcp(Direction::Outbound, "voting")],
    )
}

/// web calling voting, as voting's proxy saw it (inbound) with its own identity `voting_id`.
fn voting(voting_id: Option<&str>, tls: &[Tls]) -> ProxyStats {
    let http = tls
        .iter()
        .map(|t| http(Direction::Inbound, "web", *t))
        .collect();
    proxy(
        "voting",
        voting_id,
        http,
        vec![tcp(Direction::Inbound, "web")],
    )
}

/// The one edge `mesh edges deploy -n emojivoto` finds among `proxies`.
fn edge(proxies: &[ProxyStats]) -> Edge {
    let query = Query {
        resources: vec![parse_one("deploy").unwrap()],
        namespace: Some("emojivoto".into()),
        from: None,
        to: None,
    };
    let mut found = edges(&query, proxies);
    assert_eq!(found.len(), 1, "{found:?}");
    let e = found.remove(0);
    assert_eq!((e.src.as_str(), e.dst.as_str()), ("web", "voting"));
    e
}

fn tls(client: Option<&str>, server: Option<&str>, reason: Option<&str>) -> EdgeTls {
    EdgeTls {
        client_id: client.map(String::from),
        server_id: server.map(String::from),
        no_tls_reason: reason.map(String::from),
    }
}

#[test]
fn mutual_tls_seen_by_both_ends_names_both_identities() {
    let e = edge(&[
        web(Some(WEB_ID), &[Tls::Peer(VOTING_ID)]),
        voting(Some(VOTING_ID), &[Tls::Peer(WEB_ID)]),
    ]);
    assert_eq!(e.tls, tls(Some(WEB_ID), Some(VOTING_ID), None));
    assert_eq!(e.tls.secured(), Secured::Yes);
}

#[test]
fn one_end_vouches_for_its_own_identity_and_the_peer_it_verified() {
    let client_side = edge(&[web(Some(WEB_ID), &[Tls::Peer(VOTING_ID)])]);
    assert_eq!(client_side.tls, tls(Some(WEB_ID), Some(VOTING_ID), None));
    let server_side = edge(&[voting(Some(VOTING_ID), &[Tls::Peer(WEB_ID)])]);
    assert_eq!(server_side.tls, tls(Some(WEB_ID), Some(VOTING_ID), None));
    // Prometheus does not know a proxy's own identity: the peer's is still proven.
    let from_prometheus = edge(&[voting(None, &[Tls::Peer(WEB_ID)])]);
    assert_eq!(from_prometheus.tls, tls(Some(WEB_ID), None, None));
    assert_eq!(from_prometheus.tls.secured(), Secured::Yes);
}

#[test]
fn plaintext_gives_the_clients_reason_over_the_servers() {
    // web has no identity, so it spoke plaintext; voting saw no TLS from it.
    let e = edge(&[
        web(None, &[Tls::Not("local_identity_disabled")]),
        voting(Some(VOTING_ID), &[Tls::Not("no_tls_from_remote")]),
    ]);
    assert_eq!(e.tls, tls(None, None, Some("local_identity_disabled")));
    assert_eq!(e.tls.secured(), Secured::No("local_identity_disabled"));
    let server_only = edge(&[voting(Some(VOTING_ID), &[Tls::Not("no_tls_from_remote")])]);
    assert_eq!(server_only.tls.secured(), Secured::No("no_tls_from_remote"));
}

#[test]
fn an_edge_with_some_plaintext_traffic_is_not_secured() {
    let e = edge(&[
        web(
            Some(WEB_ID),
            &[
                Tls::Peer(VOTING_ID),
                Tls::Not("not_provided_by_service_discovery"),
            ],
        ),
        voting(Some(VOTING_ID), &[Tls::Peer(WEB_ID)]),
    ]);
    assert_eq!(
        e.tls,
        tls(
            Some(WEB_ID),
            Some(VOTING_ID),
            Some("not_provided_by_service_discovery")
        )
    );
    assert_eq!(
        e.tls.secured(),
        Secured::No("not_provided_by_service_discovery")
    );
}

#[test]
fn traffic_that_says_nothing_of_tls_leaves_the_edge_unknown() {
    // Opaque TCP alone (the proxy's TCP series carry no TLS state), or empty values.
    let e = edge(&[web(Some(WEB_ID), &[]), voting(Some(VOTING_ID), &[])]);
    assert_eq!(e.tls, EdgeTls::default());
    assert_eq!(e.tls.secured(), Secured::Unknown);
    let empty = edge(&[web(
        Some(WEB_ID),
        &[Tls::Peer(""), Tls::Not(""), Tls::Silent],
    )]);
    assert_eq!(empty.tls.secured(), Secured::Unknown);
    // TCP series beside HTTP ones do not change what the HTTP ones said.
    let secured = edge(&[web(Some(WEB_ID), &[Tls::Peer(VOTING_ID), Tls::Silent])]);
    assert_eq!(secured.tls.secured(), Secured::Yes);
}
