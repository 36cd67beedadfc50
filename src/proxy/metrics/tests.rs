use super::*;

fn identity(s: &str) -> Identity {
    Identity {
        namespace: "emojivoto".into(),
        workload: s.parse().unwrap(),
        pod: format!("{}-0", s.split('/').nth(1).unwrap()),
    }
}

fn labels(route: &str) -> TrafficLabels {
    TrafficLabels {
        direction: Direction::Outbound,
        authority: Arc::from("voting-svc.emojivoto.svc.cluster.local:8080"),
        peer: Some(Arc::new(identity("deploy/voting"))),
        route: Arc::from(route),
        service: None,
        tls: TlsStatus::NotSecured(NoTlsReason::NotProvidedByServiceDiscovery),
    }
}

fn ok() -> ResponseOutcome {
    ResponseOutcome {
        status: 200,
        grpc_status: Some(0),
        failure: false,
        error: None,
    }
}

fn failed() -> ResponseOutcome {
    ResponseOutcome {
        status: 200,
        grpc_status: Some(2),
        failure: true,
        error: None,
    }
}

#[test]
fn prometheus_text_sums_routes_and_keeps_them_apart() {
    let m = Metrics::new(identity("deploy/web"));
    for (route, outcome) in [("vote", ok()), ("vote", failed()), ("list", ok())] {
        let counters = m.request(&labels(route));
        counters.response(outcome, Duration::from_millis(3));
        counters.actual_response(outcome, Duration::from_millis(3));
    }
    let text = m.render_prometheus();
    let base = r#"namespace="emojivoto",deployment="web",pod="web-0",direction="outbound""#;
    let peer = r#"dst_namespace="emojivoto",dst_deployment="voting",dst_pod="voting-0",tls="no_identity",no_tls_reason="not_provided_by_service_discovery""#;
    let authority = r#"authority="voting-svc.emojivoto.svc.cluster.local:8080""#;
    assert!(
        text.contains(&format!("request_total{{{base},{authority},{peer}}} 3\n")),
        "{text}"
    );
    assert!(text.contains(&format!(
        "response_total{{{base},{authority},{peer},classification=\"failure\",status_code=\"200\",grpc_status=\"2\"}} 1\n"
    )));
    let dst = r#"dst="voting-svc.emojivoto.svc.cluster.local:8080""#;
    assert!(
        text.contains(&format!(
            "route_request_total{{{base},{dst},{peer},rt_route=\"vote\"}} 2\n"
        )),
        "{text}"
    );
    assert!(text.contains(&format!(
        "route_actual_response_total{{{base},{dst},{peer},rt_route=\"list\",classification=\"success\",status_code=\"200\",grpc_status=\"0\"}} 1\n"
    )));
    assert!(text.contains(&format!(
        "response_latency_ms_bucket{{{base},{authority},{peer},status_code=\"200\",le=\"4\"}} 3\n"
    )));
    assert!(text.contains(&format!(
        "response_latency_ms_bucket{{{base},{authority},{peer},status_code=\"200\",le=\"2\"}} 0\n"
    )));
}

#[test]
fn outbound_series_name_the_service_and_a_bare_address_names_none() {
    let m = Metrics::new(identity("cj/nightly-report"));
    let mut to_service = labels("vote");
    to_service.service = Some(Arc::new(DstService {
        name: Arc::from("voting-svc"),
        namespace: Arc::from("emojivoto"),
    }));
    m.request(&to_service)
        .response(ok(), Duration::from_millis(3));
    let to_address = TrafficLabels {
        authority: Arc::from("10.1.2.3:8080"),
        peer: None,
        service: None,
        ..labels("[DEFAULT]")
    };
    m.request(&to_address)
        .response(ok(), Duration::from_millis(3));
    let text = m.render_prometheus();
    let own = r#"namespace="emojivoto",cronjob="nightly-report",pod="nightly-report-0""#;
    let dst = r#"dst_namespace="emojivoto",dst_service="voting-svc",dst_deployment="voting",dst_pod="voting-0""#;
    let authority = r#"authority="voting-svc.emojivoto.svc.cluster.local:8080""#;
    for line in [
        format!("request_total{{{own},direction=\"outbound\",{authority},{dst},tls=\"no_identity\",no_tls_reason=\"not_provided_by_service_discovery\"}} 1\n"),
        format!("response_total{{{own},direction=\"outbound\",{authority},{dst},tls=\"no_identity\",no_tls_reason=\"not_provided_by_service_discovery\",classification=\"success\",status_code=\"200\",grpc_status=\"0\"}} 1\n"),
        format!("response_latency_ms_count{{{own},direction=\"outbound\",{authority},{dst},tls=\"no_identity\",no_tls_reason=\"not_provided_by_service_discovery\",status_code=\"200\"}} 1\n"),
        format!("route_request_total{{{own},direction=\"outbound\",dst=\"voting-svc.emojivoto.svc.cluster.local:8080\",{dst},tls=\"no_identity\",no_tls_reason=\"not_provided_by_service_discovery\",rt_route=\"vote\"}} 1\n"),
        format!("request_total{{{own},direction=\"outbound\",authority=\"10.1.2.3:8080\",tls=\"no_identity\",no_tls_reason=\"not_provided_by_service_discovery\"}} 1\n"),
    ] {
        assert!(text.contains(&line), "missing {line} in {text}");
    }
    assert_eq!(
        text.matches("dst_service=").count(),
        text.matches("voting-svc.emojivoto").count(),
        "only series to the service carry dst_service:\n{text}"
    );
}

#[test]
fn the_process_family_has_no_labels_and_build_info_has_the_proxys() {
    let m = Metrics::new(identity("rc/legacy"));
    let text = m.render_prometheus();
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(text.contains(&format!("\n{name} ")), "{name} in {text}");
    }
    let own = r#"namespace="emojivoto",replicationcontroller="legacy",pod="legacy-0""#;
    assert!(
        text.contains(&format!("proxy_build_info{{{own},date=")),
        "{text}"
    );
}

#[test]
fn tcp_connections_count_bytes_and_closes() {
    let m = Metrics::new(identity("deploy/web"));
    let labels = TcpLabels {
        direction: Direction::Inbound,
        side: PeerSide::Src,
        peer: None,
        tls: TlsStatus::Secured(Arc::from(
            "vote-bot.emojivoto.serviceaccount.identity.mesh.cluster.local",
        )),
    };
    let c = m.tcp_open(labels.clone());
    c.read(10);
    c.wrote(20);
    let _open = m.tcp_open(labels);
    drop(c);
    let text = m.render_prometheus();
    let l = r#"namespace="emojivoto",deployment="web",pod="web-0",direction="inbound",peer="src",tls="true",client_id="vote-bot.emojivoto.serviceaccount.identity.mesh.cluster.local""#;
    for line in [
        format!("tcp_open_total{{{l}}} 2\n"),
        format!("tcp_close_total{{{l},errno=\"\"}} 1\n"),
        format!("tcp_open_connections{{{l}}} 1\n"),
        format!("tcp_read_bytes_total{{{l}}} 10\n"),
        format!("tcp_write_bytes_total{{{l}}} 20\n"),
    ] {
        assert!(text.contains(&line), "missing {line} in {text}");
    }
}

/// An inbound connection is counted once its first bytes say whether it is mutual TLS: its
/// bytes before that move to the series it settles in, and one that closes unsettled counts
/// under the plaintext labels.
#[test]
fn a_pending_connection_counts_in_the_series_it_settles_in() {
    let m = Metrics::new(identity("deploy/web"));
    let src = |tls| TcpLabels {
        direction: Direction::Inbound,
        side: PeerSide::Src,
        peer: None,
        tls,
    };
    let plain = src(TlsStatus::NotSecured(NoTlsReason::NoTlsFromRemote));
    let secured = src(TlsStatus::Secured(Arc::from(
        "web.emojivoto.serviceaccount.identity.mesh.cluster.local",
    )));
    let tls = PendingTcp::new(m.clone(), plain.clone());
    tls.read(300); // the ClientHello
    assert!(
        !m.render_prometheus().contains("tcp_open_total{"),
        "not counted before it settles"
    );
    tls.settle(secured);
    tls.settle_default(); // a second settle changes nothing
    tls.wrote(40);
    let closed_early = PendingTcp::new(m.clone(), plain);
    closed_early.read(1);
    drop(closed_early);
    let text = m.render_prometheus();
    let own =
        r#"namespace="emojivoto",deployment="web",pod="web-0",direction="inbound",peer="src""#;
    let secured = format!(
        r#"{own},tls="true",client_id="web.emojivoto.serviceaccount.identity.mesh.cluster.local""#
    );
    let plain = format!(r#"{own},tls="no_identity",no_tls_reason="no_tls_from_remote""#);
    for line in [
        format!("tcp_open_connections{{{secured}}} 1\n"),
        format!("tcp_read_bytes_total{{{secured}}} 300\n"),
        format!("tcp_write_bytes_total{{{secured}}} 40\n"),
        format!("tcp_open_total{{{plain}}} 1\n"),
        format!("tcp_open_connections{{{plain}}} 0\n"),
        format!("tcp_read_bytes_total{{{plain}}} 1\n"),
    ] {
        assert!(text.contains(&line), "missing {line} in {text}");
    }
    drop(tls);
}

#[test]
fn tcp_closes_after_an_os_error_are_counted_under_its_name() {
    let m = Metrics::new(identity("deploy/web"));
    let labels = TcpLabels {
        direction: Direction::Outbound,
        side: PeerSide::Dst,
        peer: None,
        tls: TlsStatus::NotSecured(NoTlsReason::NotProvidedByServiceDiscovery),
    };
    for errno in [None, Some(econnreset()), Some(econnreset())] {
        let c = m.tcp_open(labels.clone());
        if let Some(e) = errno {
            c.failed(e);
            // Only the first error names the close.
            c.failed(nix::errno::Errno::EPIPE as i32);
        }
    }
    let text = m.render_prometheus();
    let l = r#"namespace="emojivoto",deployment="web",pod="web-0",direction="outbound",peer="dst",tls="no_identity",no_tls_reason="not_provided_by_service_discovery""#;
    for line in [
        format!("tcp_close_total{{{l},errno=\"\"}} 1\n"),
        format!("tcp_close_total{{{l},errno=\"ECONNRESET\"}} 2\n"),
        format!("tcp_open_total{{{l}}} 3\n"),
    ] {
        assert!(text.contains(&line), "missing {line} in {text}");
    }
    assert!(!text.contains("EPIPE"), "{text}");
    // /stats counts every close.
    assert_eq!(m.stats(Duration::from_secs(60)).tcp[0].closed, 3);
}

fn econnreset() -> i32 {
    nix::errno::Errno::ECONNRESET as i32
}

#[tokio::test(start_paused = true)]
async fn stats_report_the_increase_over_the_window() {
    let m = Metrics::new(identity("deploy/web"));
    let _sampler = m.spawn_sampler(std::future::pending());
    m.request(&labels("vote"))
        .response(failed(), Duration::from_millis(3));
    // Let the sampler run for two minutes of paused time, then add more traffic.
    tokio::time::sleep(Duration::from_secs(120)).await;
    for _ in 0..4 {
        m.request(&labels("vote"))
            .response(ok(), Duration::from_millis(30));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let recent = m.stats(Duration::from_secs(60));
    assert_eq!(recent.http.len(), 1);
    let s = &recent.http[0];
    assert_eq!(
        (s.requests, s.responses.success, s.responses.failure),
        (4, 4, 0)
    );
    assert!(
        (recent.window.covered_seconds - 60.0).abs() <= 5.0,
        "{:?}",
        recent.window
    );
    assert_eq!(
        s.responses
            .latency_ms
            .quantile(0.5, &recent.latency_bounds_ms),
        Some(25.0)
    );
    assert_eq!(s.peer.as_ref().unwrap().workload, "deploy/voting");

    let all = m.stats(Duration::from_secs(3600));
    let s = &all.http[0];
    assert_eq!(
        (s.requests, s.responses.success, s.responses.failure),
        (5, 4, 1)
    );
    assert!(
        (all.window.covered_seconds - 121.0).abs() < 0.5,
        "{:?}",
        all.window
    );
}

#[test]
fn series_beyond_the_cap_land_in_the_overflow_series() {
    let m = Metrics::new(identity("deploy/web"));
    for i in 0..MAX_HTTP_SERIES + 5 {
        let mut l = labels("r");
        l.authority = Arc::from(format!("svc-{i}.ns.svc.cluster.local:80"));
        m.request(&l);
    }
    assert_eq!(m.http.len(), MAX_HTTP_SERIES + 1);
    let report = m.stats(Duration::from_secs(60));
    let overflow = report
        .http
        .iter()
        .find(|s| s.authority == OVERFLOW)
        .unwrap();
    assert_eq!(overflow.requests, 5);
}

/// Under capture the inbound refuses loops and the outbound meets silent clients: each is
/// counted under the direction of the connection it happened on, not one its kind implies.
#[test]
fn refusals_and_detect_timeouts_carry_the_connections_direction() {
    let m = Metrics::new(identity("deploy/web"));
    m.refused(Direction::Inbound, Refused::LoopListener);
    m.refused(Direction::Outbound, Refused::LoopListener);
    m.refused(Direction::Outbound, Refused::LoopListener);
    m.detect_timeout(Direction::Outbound);
    let text = m.render_prometheus();
    let value = |name: &str, direction: &str, reason: Option<&str>| {
        text.lines()
            .find(|l| {
                l.starts_with(&format!("{name}{{"))
                    && l.contains(&format!("direction=\"{direction}\""))
                    && reason.is_none_or(|r| l.contains(&format!("reason=\"{r}\"")))
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_string)
    };
    let refused = "proxy_refused_total";
    assert_eq!(
        value(refused, "inbound", Some("loop_own_listener")).as_deref(),
        Some("1")
    );
    assert_eq!(
        value(refused, "outbound", Some("loop_own_listener")).as_deref(),
        Some("2")
    );
    // Rendered at 0 from the start where it can happen.
    assert_eq!(
        value(refused, "inbound", Some("no_app_port")).as_deref(),
        Some("0")
    );
    assert_eq!(
        value(refused, "outbound", Some("unknown_service")).as_deref(),
        Some("0")
    );
    let timeouts = "proxy_detect_timeouts_total";
    assert_eq!(
        value(timeouts, "outbound", None).as_deref(),
        Some("1"),
        "{text}"
    );
    assert_eq!(
        value(timeouts, "inbound", None).as_deref(),
        Some("0"),
        "{text}"
    );
}
