//! The proxy's HTTP/2 keepalive toward an app stays within what gRPC servers accept: a gRPC
//! server takes one PING per 5 minutes on a connection it sends nothing on, and answers the third
//! too early with GOAWAY `too_many_pings`, killing a quiet stream. Scaled down 300 times (a
//! 1 s minimum, the same 2 strikes), the proxy's interval at the default ratio (its 5 min to
//! gRPC's 5 min) keeps a quiet stream alive, and the interval it had before (20 s to 5 min)
//! kills it.

use crate::grpc_mesh::{call, grpc_server, Seen, Via};
use crate::process::ProxyProcess;

/// The app's minimum time between PINGs on a connection it sends nothing on (gRPC's 5 minutes,
/// scaled down).
const SERVER_MIN_PING_MS: u64 = 1000;

/// The proxy's default PING interval divided by gRPC's default minimum (5 min / 5 min).
const DEFAULT_RATIO: f64 = 1.0;

/// The interval the proxy had before, 20 s, to gRPC's 5 min.
const TOO_FAST_RATIO: f64 = 20.0 / 300.0;

/// A server-streaming call through the mesh whose stream stays quiet for 4 s (four of the app's
/// minimum PING intervals) between its two messages, with the proxies PINGing their upstreams
/// at `ratio` times the app's minimum.
async fn quiet_stream(ratio: f64) -> Option<Seen> {
    let min_ping = SERVER_MIN_PING_MS.to_string();
    let app = grpc_server(&[
        "--min-ping-interval-ms",
        &min_ping,
        "--max-ping-strikes",
        "2",
    ])
    .await?;
    let interval = format!("{}ms", (SERVER_MIN_PING_MS as f64 * ratio).round());
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().to_str().unwrap();
    let flags = [
        "--registry",
        registry,
        "--upstream-ping-interval",
        interval.as_str(),
    ];
    let _voting = ProxyProcess::voting(app.addr, &flags).await;
    let mut args = vec!["--workload", "deploy/web"];
    args.extend_from_slice(&flags);
    let web = ProxyProcess::start(&args).await;
    let outbound = Via::Mesh(web.outbound);
    Some(call(outbound, &["stream", "--wait", "4"]).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_grpc_stream_outlives_the_proxys_pings_at_the_default_interval() {
    let Some(too_fast) = quiet_stream(TOO_FAST_RATIO).await else {
        return;
    };
    assert_eq!(
        (too_fast.code.as_str(), too_fast.messages),
        ("UNAVAILABLE", 1),
        "PINGs this often are refused: {too_fast:?}"
    );
    let default = quiet_stream(DEFAULT_RATIO).await.unwrap();
    assert_eq!(
        (default.code.as_str(), default.messages),
        ("OK", 2),
        "{default:?}"
    );
}
