//! The retry loop against a scripted endpoint on paused time: each try's outcome is scripted, so
//! a test reads as what the upstream did and what the caller got.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use tokio::time::Instant;

use super::*;
use crate::proxy::body::{empty, full};
use crate::proxy::config::Limits;
use crate::proxy::connect::{NotProcessed, UpstreamError};
use crate::proxy::profiles::load_text;
use crate::proxy::replay::MAX_REPLAY_BYTES;
use crate::proxy::respond::SentTo;

const ADDR: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

/// What the scripted endpoint does with one try.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Reads the whole request body, then answers with this status after `delay`.
    Answer(u16, Duration),
    /// Refuses the HTTP/2 stream (not processed).
    Refuse,
    /// Never answers.
    Hang,
    /// No endpoint takes it: it waits for capacity until the dispatch deadline.
    Unplaced(Duration),
}

/// An endpoint that plays `script` (then answers 200), recording what it saw.
#[derive(Default)]
struct Scripted {
    script: VecDeque<Step>,
    /// Tries sent.
    tries: u32,
    /// The outcomes of tries that were retried, and whether each was a refused stream.
    retried: Vec<(u16, bool)>,
}

impl Scripted {
    fn new(script: impl IntoIterator<Item = Step>) -> Self {
        Scripted {
            script: script.into_iter().collect(),
            ..Scripted::default()
        }
    }
}

impl SendTry for Scripted {
    async fn send(&mut self, req: &mut Replayable) -> Tried {
        self.tries += 1;
        let step = self
            .script
            .pop_front()
            .unwrap_or(Step::Answer(200, Duration::ZERO));
        match step {
            Step::Answer(status, delay) => {
                let sent = req.next_send().expect("the scripted tries are replayable");
                // Read the body as an upstream would: a large one overflows the replay copy.
                let _ = sent.into_body().collect().await;
                tokio::time::sleep(delay).await;
                let mut resp = Response::new(empty());
                *resp.status_mut() = StatusCode::from_u16(status).expect("a valid status");
                Ok(resp)
            }
            Step::Refuse => Err(TryFailed {
                err: ProxyError::App {
                    addr: ADDR,
                    source: UpstreamError::NotProcessed {
                        addr: ADDR,
                        how: NotProcessed::Refused,
                        max_streams: Some(1),
                    },
                },
                failure: Failure::NotProcessed,
                refused: true,
            }),
            Step::Hang => std::future::pending().await,
            Step::Unplaced(wait) => {
                tokio::time::sleep(wait).await;
                Err(TryFailed {
                    err: ProxyError::NoAuthority,
                    failure: Failure::Unplaced,
                    refused: false,
                })
            }
        }
    }

    async fn retrying(&mut self, outcome: ResponseOutcome, failed: Option<&TryFailed>) {
        self.retried
            .push((outcome.status, failed.is_some_and(|f| f.refused)));
    }

    fn expired(&self, bound: Bound, tries: TriesMade) -> ProxyError {
        match bound {
            Bound::Route(timeout) => ProxyError::Timeout {
                authority: "web-svc:8080".into(),
                route: "GET /a".into(),
                timeout,
                tries,
            },
            Bound::Response(after) => ProxyError::NoResponse {
                upstream: SentTo::App(ADDR),
                after,
                tries,
            },
        }
    }
}

/// A route `GET /a`, retryable or not, with a `timeout` and Linkerd's default budget.
fn route(retryable: bool, timeout: &str) -> MatchedRoute {
    let profile = format!(
        "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata: {{name: web-svc.emojivoto.svc.cluster.local}}\nspec:\n  routes:\n  - name: GET /a\n    condition: {{method: GET, pathRegex: /a}}\n    isRetryable: {retryable}\n    timeout: {timeout}\n"
    );
    let profile = load_text(&profile).unwrap().remove(0);
    MatchedRoute::in_profile(profile, "GET", "/a")
}

/// Sends a request with `body` on `route` through `endpoint`: the status the caller gets.
async fn call(route: &MatchedRoute, body: Bytes, endpoint: &mut Scripted) -> Result<u16, String> {
    call_under(&Limits::default(), route, body, endpoint).await
}

/// [`call`] under `limits` (its `--response-timeout`).
async fn call_under(
    limits: &Limits,
    route: &MatchedRoute,
    body: Bytes,
    endpoint: &mut Scripted,
) -> Result<u16, String> {
    let deadline = Deadline::new(Instant::now(), route.timeout(), limits);
    let policy = RetryPolicy {
        route,
        retryable: route.is_retryable(),
        grpc: false,
        deadline: &deadline,
    };
    let req = Request::post("http://web-svc:8080/a")
        .body(full(body))
        .unwrap();
    match send(&policy, req, endpoint).await {
        Ok(resp) => Ok(resp.status().as_u16()),
        Err(err) => Err(err.to_string()),
    }
}

const SOON: Duration = Duration::ZERO;

#[tokio::test(start_paused = true)]
async fn the_route_timeout_fires_at_exactly_its_duration_retries_included() {
    let route = route(true, "300ms");
    let start = Instant::now();
    let mut endpoint = Scripted::new([Step::Hang]);
    let answer = call(&route, Bytes::new(), &mut endpoint).await;
    assert!(answer.unwrap_err().contains("timed out after 300ms"));
    assert_eq!(start.elapsed(), Duration::from_millis(300));

    // A failed try and its retry share the one deadline.
    let start = Instant::now();
    let slow_failure = Step::Answer(503, Duration::from_millis(200));
    let mut endpoint = Scripted::new([slow_failure, Step::Hang]);
    let answer = call(&route, Bytes::new(), &mut endpoint).await;
    assert!(answer.unwrap_err().contains("timed out after 300ms"));
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(endpoint.tries, 2);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_text_says_what_the_tries_got_not_only_who_was_silent_last() {
    let mut limits = Limits::default();
    limits.connect.response_timeout = Duration::from_secs(2);
    let route = route(true, "10s");
    let slow_failure = Step::Answer(503, Duration::from_millis(900));
    let start = Instant::now();
    let mut endpoint = Scripted::new([slow_failure, slow_failure, Step::Hang]);
    let why = call_under(&limits, &route, Bytes::new(), &mut endpoint)
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert!(
        why.contains("no response within 2s of the request's arrival (--response-timeout)"),
        "{why}"
    );
    assert!(why.contains("3 tries, of which 2 answered 503"), "{why}");
    assert!(why.contains("had 200ms left"), "{why}");
    assert!(!why.contains("took the request"), "{why}");

    // One try, silent all along: that endpoint is the one to look at.
    let mut endpoint = Scripted::new([Step::Hang]);
    let why = call_under(&limits, &route, Bytes::new(), &mut endpoint)
        .await
        .unwrap_err();
    assert!(
        why.contains("took the request but sent no response within 2s"),
        "{why}"
    );

    // The route's own timeout says so too.
    let route = super::tests::route(true, "300ms");
    let slow_failure = Step::Answer(503, Duration::from_millis(200));
    let mut endpoint = Scripted::new([slow_failure, Step::Hang]);
    let why = call(&route, Bytes::new(), &mut endpoint).await.unwrap_err();
    assert!(why.contains("timed out after 300ms"), "{why}");
    assert!(
        why.contains("2 tries: 1 answered 503, sent again; the last had 100ms"),
        "{why}"
    );

    // A try no endpoint took by then is the deadline's too: the tries before are told.
    let slow_failure = Step::Answer(503, Duration::from_millis(200));
    let unplaced = Step::Unplaced(Duration::from_millis(100));
    let mut endpoint = Scripted::new([slow_failure, unplaced]);
    let why = call(&route, Bytes::new(), &mut endpoint).await.unwrap_err();
    assert!(why.contains("timed out after 300ms"), "{why}");
    assert!(why.contains("2 tries: 1 answered 503"), "{why}");
}

#[tokio::test(start_paused = true)]
async fn a_failure_on_a_retryable_route_is_retried_up_to_max_tries() {
    let route = route(true, "10s");
    let mut endpoint = Scripted::new([Step::Answer(503, SOON), Step::Answer(200, SOON)]);
    assert_eq!(call(&route, Bytes::new(), &mut endpoint).await, Ok(200));
    assert_eq!(endpoint.retried, [(503, false)]);

    let mut endpoint = Scripted::new([Step::Answer(503, SOON); 5]);
    assert_eq!(call(&route, Bytes::new(), &mut endpoint).await, Ok(503));
    assert_eq!(endpoint.tries, MAX_TRIES);
}

#[tokio::test(start_paused = true)]
async fn a_failure_on_a_route_that_is_not_retryable_is_not_retried() {
    let route = route(false, "10s");
    let mut endpoint = Scripted::new([Step::Answer(503, SOON), Step::Answer(200, SOON)]);
    assert_eq!(call(&route, Bytes::new(), &mut endpoint).await, Ok(503));
    assert_eq!(endpoint.tries, 1);
}

#[tokio::test(start_paused = true)]
async fn a_refused_stream_is_retried_on_any_route() {
    let route = route(false, "10s");
    let mut endpoint = Scripted::new([Step::Refuse, Step::Refuse, Step::Answer(200, SOON)]);
    assert_eq!(call(&route, Bytes::new(), &mut endpoint).await, Ok(200));
    assert_eq!(endpoint.retried, [(503, true), (503, true)]);
}

#[tokio::test(start_paused = true)]
async fn a_body_over_the_replay_cap_is_not_retried() {
    let route = route(true, "10s");
    let big = Bytes::from(vec![b'x'; MAX_REPLAY_BYTES + 1]);
    let mut endpoint = Scripted::new([Step::Answer(503, SOON), Step::Answer(200, SOON)]);
    assert_eq!(call(&route, big, &mut endpoint).await, Ok(503));
    assert_eq!(endpoint.tries, 1);

    // One under the cap is sent again, whole.
    let small = Bytes::from(vec![b'x'; MAX_REPLAY_BYTES]);
    let mut endpoint = Scripted::new([Step::Answer(503, SOON), Step::Answer(200, SOON)]);
    assert_eq!(call(&route, small, &mut endpoint).await, Ok(200));
    assert_eq!(endpoint.tries, 2);
}

#[tokio::test(start_paused = true)]
async fn budget_exhaustion_stops_retries_at_ratio_times_requests_plus_reserve() {
    // Linkerd's default budget: retryRatio 0.2, minRetriesPerSecond 10, ttl 10s.
    let route = route(true, "10s");
    let mut endpoint = Scripted::new([]);
    endpoint.script = std::iter::repeat_n(Step::Answer(503, SOON), 10_000).collect();
    let requests = 200;
    for _ in 0..requests {
        assert_eq!(call(&route, Bytes::new(), &mut endpoint).await, Ok(503));
    }
    let retries = endpoint.tries - requests;
    // 200 requests × 0.2 + 10/s × 10 s, far fewer than the 400 that MAX_TRIES would allow.
    assert_eq!(retries, 140);
    assert_eq!(endpoint.retried.len(), 140);
}
