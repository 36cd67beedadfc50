//! HTTP/2 servers' limits through the proxy, against real HTTP/2 servers: a gRPC server (grpcio)
//! with a low `max_concurrent_streams`, and an h2 server that lowers its limit mid-connection.

use std::net::SocketAddr;
use std::time::Duration;

use mesh::testsvc;
use tokio::time::Instant;

use crate::net::{config, TestProxy};
use crate::python::PyPeer;

const METHOD: &str = "/emojivoto.v1.VotingService/VoteDoughnut";

/// What one call got: its gRPC status (or the client's error), `grpc-message`, and how long it
/// took.
type Outcome = (Result<Option<u32>, String>, Option<String>, Duration);

/// `n` concurrent unary calls to `voting-svc:8080` through `outbound`, with messages `TAG i`:
/// each one's status (or client error) and `grpc-message`, and how long it took.
async fn concurrent_calls(outbound: SocketAddr, tag: &str, n: usize) -> Vec<Outcome> {
    let calls: Vec<_> = (0..n)
        .map(|i| {
            let message = format!("{tag} {i}");
            tokio::spawn(async move {
                let started = Instant::now();
                let reply = testsvc::grpc_call(
                    outbound,
                    "voting-svc:8080",
                    METHOD,
                    message.as_bytes(),
                    &[],
                )
                .await;
                let elapsed = started.elapsed();
                match reply {
                    Ok(r) => {
                        if r.grpc_status == Some(0) {
                            assert_eq!(r.messages, [message.as_bytes()], "call {i}");
                        }
                        (Ok(r.grpc_status), r.grpc_message, elapsed)
                    }
                    Err(e) => (Err(e.to_string()), None, elapsed),
                }
            })
        })
        .collect();
    let mut out = Vec::new();
    for c in calls {
        out.push(c.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_server_with_a_low_stream_limit_answers_every_call_through_two_hops() {
    // gRPC's C core refuses streams over its limit that it has not yet let go of internally,
    // even when the client keeps to the limit ("refused stream before processing any
    // application logic"); calls that answer at once make that happen under load.
    let Some(app) = PyPeer::start(&["grpc"], "grpc_limited.py", &["10", "0"]).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_voting, web) = two_hops(dir.path(), app.addr, Duration::from_secs(3)).await;
    for _ in 0..3 {
        assert_all_answered(&concurrent_calls(web.outbound, "vote", 100).await);
    }
}

/// A caller's outbound proxy sending `voting-svc:8080` straight to `endpoint`, with `dispatch`
/// as its dispatch timeout.
async fn outbound_to(dir: &std::path::Path, endpoint: SocketAddr, dispatch: Duration) -> TestProxy {
    let file = dir.join("endpoints.yaml");
    std::fs::write(
        &file,
        format!("voting-svc.emojivoto:8080:\n  - address: {endpoint}\n"),
    )
    .unwrap();
    let mut cfg = config(&dir.join("registry"), "web", &[], None);
    cfg.endpoints_file = Some(file);
    cfg.registry_dir = None;
    cfg.limits.dispatch_timeout = dispatch;
    TestProxy::start(cfg).await
}

/// An inbound proxy in front of `app` and an outbound proxy calling it, with `dispatch` as
/// their dispatch timeout; the outbound's address.
async fn two_hops(
    dir: &std::path::Path,
    app: SocketAddr,
    dispatch: Duration,
) -> (TestProxy, TestProxy) {
    let registry = dir.join("registry");
    let mut voting = config(&registry, "voting", &["voting-svc:8080"], Some(app));
    voting.limits.dispatch_timeout = dispatch;
    let voting = TestProxy::start(voting).await;
    let mut web = config(&registry, "web", &[], None);
    web.limits.dispatch_timeout = dispatch;
    (voting, TestProxy::start(web).await)
}

fn assert_all_answered(results: &[Outcome]) {
    let failed: Vec<_> = results
        .iter()
        .filter(|(status, _, _)| *status != Ok(Some(0)))
        .collect();
    assert!(
        failed.is_empty(),
        "{} calls failed: {failed:?}",
        failed.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_streams_are_sent_again_on_both_hops() {
    let Some(app) = PyPeer::start(&["h2"], "h2_server.py", &["refuse"]).await else {
        return;
    };
    // Outbound straight to the server: the balancer places each retry.
    let dir = tempfile::tempdir().unwrap();
    let web = outbound_to(dir.path(), app.addr, Duration::from_secs(3)).await;
    assert_all_answered(&concurrent_calls(web.outbound, "outbound", 20).await);
    drop(web);
    // Through an inbound proxy, which sends the refused streams to the app again itself.
    let dir = tempfile::tempdir().unwrap();
    let (_voting, web) = two_hops(dir.path(), app.addr, Duration::from_secs(3)).await;
    assert_all_answered(&concurrent_calls(web.outbound, "two hops", 20).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_above_a_goaways_last_stream_id_are_sent_again() {
    let Some(app) = PyPeer::start(&["h2"], "h2_server.py", &["goaway", "5"]).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let web = outbound_to(dir.path(), app.addr, Duration::from_secs(3)).await;
    assert_all_answered(&concurrent_calls(web.outbound, "vote", 10).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lowered_stream_limit_is_followed_and_no_request_waits_past_the_dispatch_timeout() {
    let dispatch = Duration::from_millis(500);
    // Generous: a request that waited in the HTTP/2 client for a stream would take 2 s more.
    let margin = Duration::from_millis(1200);
    // Announces 100 streams, then 10 in a second SETTINGS frame; holds each stream 2 s.
    let args = ["lower", "100", "10", "2000"];
    let Some(app) = PyPeer::start(&["h2"], "h2_server.py", &args).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let web = outbound_to(dir.path(), app.addr, dispatch).await;
    let results = concurrent_calls(web.outbound, "vote", 30).await;
    let answered = results.iter().filter(|r| r.0 == Ok(Some(0))).count();
    assert_eq!(answered, 10, "{results:?}");
    for (status, message, elapsed) in results.iter().filter(|r| r.0 != Ok(Some(0))) {
        assert_eq!(*status, Ok(Some(14)), "UNAVAILABLE: {message:?}");
        let why = message.as_deref().unwrap_or_default();
        assert!(why.contains("max_concurrent_streams (10)"), "{why}");
        assert!(*elapsed < dispatch + margin, "waited {elapsed:?}: {why}");
    }
    drop(web);

    // The inbound's wait for a stream to the app has the same one deadline.
    let Some(app) = PyPeer::start(&["h2"], "h2_server.py", &args).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_voting, web) = two_hops(dir.path(), app.addr, dispatch).await;
    let results = concurrent_calls(web.outbound, "vote", 30).await;
    let answered = results.iter().filter(|r| r.0 == Ok(Some(0))).count();
    assert_eq!(answered, 10, "{results:?}");
    for (status, message, elapsed) in results.iter().filter(|r| r.0 != Ok(Some(0))) {
        assert_eq!(*status, Ok(Some(14)), "UNAVAILABLE: {message:?}");
        let why = message.as_deref().unwrap_or_default();
        assert!(why.contains("max_concurrent_streams (10)"), "{why}");
        assert!(*elapsed < dispatch + margin, "waited {elapsed:?}: {why}");
    }
}
