//! Retry: the step that decides whether and when a request is sent again, over a seam that sends
//! one try ([`SendTry`]) — so the decisions are tested against a scripted endpoint on paused time
//! (`retry/tests.rs`), and each hop plugs in how it sends: outbound places each try on an
//! endpoint of the service (`outbound::tries`), inbound sends it to the app.
//!
//! A try fails when its connection fails or its response headers classify as a failure (a 5xx, a
//! gRPC status in the headers, or the route's response classes); a gRPC status that only comes in
//! the trailers is known too late, as the body is already streaming. A failed try is sent again
//! when [`policy::retry`] allows it: the upstream did not process it (any route), or the route is
//! retryable (`isRetryable`, not an upgrade); a body that can be sent again (under the replay
//! cap); fewer tries than the most; time left; and the budget's consent. The whole exchange —
//! every try and the waits between them — is cut by the request's [`Deadline`].

use std::future::Future;

use http::{Request, Response};

use super::body::ProxyBody;
use super::classify::{grpc_status, is_grpc};
use super::metrics::ResponseOutcome;
use super::replay::Replayable;
use super::respond::{Earlier, ProxyError, TriesMade};
use super::route::MatchedRoute;
use super::timeout::{Bound, Deadline, Expired};

pub mod policy;

pub use policy::MAX_TRIES;
use policy::{Attempted, Failure};

/// What the retry loop reads about a request.
pub struct RetryPolicy<'a> {
    /// The request's route: its response classes and budget.
    pub route: &'a MatchedRoute,
    /// Whether failures other than unprocessed requests may be retried: the route is retryable
    /// and the request is not an upgrade (inbound: never; the caller's proxy retries).
    pub retryable: bool,
    /// Whether the request is gRPC (a response without `content-type` still counts as gRPC).
    pub grpc: bool,
    /// The request's deadline: it cuts the whole exchange, every try and the waits between
    /// them ([`Deadline::cut`]), and no retry starts past its response deadline.
    pub deadline: &'a Deadline,
}

/// A try that ended without a response.
#[derive(Debug)]
pub struct TryFailed {
    /// What the caller is told if it is not sent again.
    pub err: ProxyError,
    /// How the failure reads to the retry policy.
    pub failure: Failure,
    /// The HTTP/2 server refused the stream: the next try first waits for one of its streams to
    /// end ([`SendTry::retrying`]).
    pub refused: bool,
}

/// What one try came to: the upstream's response head, or why there is none.
pub type Tried = Result<Response<ProxyBody>, TryFailed>;

/// The seam: sends one try of a request to wherever the hop sends it.
pub trait SendTry {
    /// Sends one try of `req` (held so it can be sent again).
    fn send(&mut self, req: &mut Replayable) -> impl Future<Output = Tried> + Send;

    /// The try that just ended as `outcome` (`failed`: without a response) will be sent again:
    /// count it as one the upstream saw, and wait before the next try where `failed` asks it.
    fn retrying(
        &mut self,
        outcome: ResponseOutcome,
        failed: Option<&TryFailed>,
    ) -> impl Future<Output = ()> + Send;

    /// What the caller is told when the request's deadline (`bound`) passed during a try, after
    /// the tries `made` (the last one included).
    fn expired(&self, bound: Bound, made: TriesMade) -> ProxyError;
}

/// Sends `req` through `tries` under `policy`: the response head of the last try, or what the
/// caller is told instead.
pub async fn send<S: SendTry>(
    policy: &RetryPolicy<'_>,
    req: Request<ProxyBody>,
    tries: &mut S,
) -> Result<Response<ProxyBody>, ProxyError> {
    let budget = policy.route.budget();
    budget.deposit();
    let mut req = Replayable::new(req);
    let mut sent = 0;
    // What the tries came to, for the text of a deadline that passes during a later one.
    let mut made = TriesMade::default();
    loop {
        sent += 1;
        made.start();
        // The one place the exchange is cut: on expiry the try is dropped (an HTTP/2 stream is
        // reset, an HTTP/1 connection closed).
        let tried = match policy.deadline.cut(tries.send(&mut req)).await {
            Ok(tried) => tried,
            Err(Expired(bound)) => return Err(tries.expired(bound, made)),
        };
        let attempted = |req: &Replayable| Attempted {
            tries: sent,
            route_retryable: policy.retryable,
            deadline: Some(policy.deadline.response_at()),
            body: req.can_replay(),
        };
        match tried {
            Ok(resp) => {
                // Inbound never retries a response: no need to classify it here.
                if !policy.retryable {
                    return Ok(resp);
                }
                let outcome = header_outcome(policy.route, &resp, policy.grpc);
                if outcome.failure && policy::retry(Failure::Failed, attempted(&req), budget) {
                    made.retried(Earlier::Answered(outcome.status));
                    tries.retrying(outcome, None).await;
                    continue;
                }
                return Ok(resp);
            }
            Err(failed) => {
                // No endpoint took the try before the deadline passed (its dispatch deadline is
                // never later): the caller is told about the deadline and the tries before.
                if let (Failure::Unplaced, Some(bound)) = (failed.failure, policy.deadline.passed())
                {
                    return Err(tries.expired(bound, made));
                }
                if !policy::retry(failed.failure, attempted(&req), budget) {
                    return Err(failed.err);
                }
                let outcome = ResponseOutcome {
                    status: failed.err.status().as_u16(),
                    grpc_status: None,
                    failure: true,
                    error: None,
                };
                made.retried(Earlier::Failed(failed.err.reason()));
                tries.retrying(outcome, Some(&failed)).await;
            }
        }
    }
}

/// How a response looks from its headers alone (a gRPC status in trailers comes later).
pub fn header_outcome(
    route: &MatchedRoute,
    resp: &Response<ProxyBody>,
    grpc_request: bool,
) -> ResponseOutcome {
    let status = resp.status().as_u16();
    let grpc = grpc_request || is_grpc(resp.headers());
    let in_headers = grpc_status(resp.headers());
    let failure = match (grpc, in_headers) {
        (true, Some(g)) => route.is_failure(status, true, Some(g)),
        _ => route.is_failure(status, false, None),
    };
    ResponseOutcome {
        status,
        grpc_status: in_headers.filter(|_| grpc),
        failure,
        error: None,
    }
}

#[cfg(test)]
mod tests;
