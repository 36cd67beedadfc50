//! `CONNECT host:port`: an opaque TCP tunnel to an endpoint of a service, on opaque ports only
//! (the forwarding policy checked that). Placed by the balancer like a request, then relayed
//! byte for byte; the tunnel holds no request capacity on the endpoint once open. A captured
//! `CONNECT` to an address no service has goes to the app's own forward proxy, which answers it
//! ([`forward_connect`]).

pub mod forward_connect;

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use super::{refuse, Destination};
use crate::proxy::body::{empty, full, ProxyBody};
use crate::proxy::connect::connect_tcp;
use crate::proxy::connect::UpstreamError;
use crate::proxy::metrics::{Direction, PeerSide, TcpLabels};
use crate::proxy::respond::ProxyError;
use crate::proxy::state::ProxyState;
use crate::proxy::timeout::Deadline;

/// `CONNECT`: connect to an endpoint (waiting for capacity no later than `deadline`'s dispatch
/// deadline), answer 200, then relay bytes both ways as opaque TCP.
pub async fn open(
    state: Arc<ProxyState>,
    remote: SocketAddr,
    req: Request<Incoming>,
    dst: Destination,
    deadline: Deadline,
) -> Response<ProxyBody> {
    let max_streams = |_| None;
    let placed = match state
        .balancer
        .acquire(
            &dst.authority,
            &dst.endpoints,
            max_streams,
            deadline.dispatch_at(),
        )
        .await
    {
        Ok(placed) => placed,
        Err(saturation) => {
            let authority = dst.authority.to_string();
            let err = ProxyError::FailFast {
                authority,
                saturation,
            };
            return refuse(&state, err, &req, remote);
        }
    };
    let endpoint = placed.endpoint.clone();
    let counter = || {
        state.tcp_counter(TcpLabels {
            direction: Direction::Outbound,
            side: PeerSide::Dst,
            peer: endpoint.identity.clone(),
        })
    };
    let connect = &state.config.limits.connect;
    let mut upstream = match connect_tcp(endpoint.addr, connect, &counter).await {
        Ok(io) => io,
        Err(source) => {
            if source.is_connect() {
                placed.unreachable();
            }
            let (authority, addr) = (dst.authority.to_string(), endpoint.addr);
            let err = ProxyError::Endpoint {
                authority,
                addr,
                source,
            };
            return refuse(&state, err, &req, remote);
        }
    };
    // The app's own forward proxy answers its CONNECT; a service's endpoint is answered here.
    let mut response = Response::new(empty());
    let mut first_bytes = bytes::Bytes::new();
    if dst.original {
        let limits = &state.config.limits;
        let asked = forward_connect::ask(
            &mut upstream,
            &forward_connect::head(&req),
            limits.max_header_bytes,
            limits.header_read_timeout,
        )
        .await;
        let answer = match asked {
            Ok(answer) => answer,
            Err(why) => {
                let addr = endpoint.addr;
                let source = UpstreamError::ConnectAnswer {
                    addr,
                    why: why.to_string(),
                };
                let authority = dst.authority.to_string();
                let err = ProxyError::Endpoint {
                    authority,
                    addr,
                    source,
                };
                return refuse(&state, err, &req, remote);
            }
        };
        placed.answered();
        if !answer.status.is_success() {
            return refusal(&mut upstream, answer, limits.header_read_timeout).await;
        }
        *response.status_mut() = answer.status;
        *response.headers_mut() = answer.headers;
        first_bytes = answer.rest;
    } else {
        placed.answered();
    }
    // The tunnel is long-lived: it does not hold request capacity on the endpoint.
    drop(placed);
    crate::proxy::guard::spawn(state.metrics.panics(), "tunnel", async move {
        match hyper::upgrade::on(req).await {
            Ok(client) => {
                let mut client = TokioIo::new(client);
                let relayed = async {
                    tokio::io::AsyncWriteExt::write_all(&mut client, &first_bytes).await?;
                    tokio::io::copy_bidirectional(&mut client, &mut upstream).await
                };
                if let Err(e) = relayed.await {
                    tracing::debug!(authority = %dst.authority, "tunnel ended: {e}");
                }
            }
            Err(e) => tracing::debug!("CONNECT upgrade failed: {e}"),
        }
    });
    response
}

/// The forward proxy's refusal of a `CONNECT` (a 407, a 403), passed back whole: its body when
/// its length is declared and at most [`forward_connect::MAX_REFUSAL_BODY`], else none.
async fn refusal<S: tokio::io::AsyncRead + Unpin>(
    upstream: &mut S,
    answer: forward_connect::Answer,
    timeout: std::time::Duration,
) -> Response<ProxyBody> {
    let declared = answer
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n <= forward_connect::MAX_REFUSAL_BODY);
    let mut body = answer.rest.to_vec();
    if let Some(n) = declared {
        if body.len() < n {
            let mut rest = vec![0; n - body.len()];
            let read = tokio::io::AsyncReadExt::read_exact(upstream, &mut rest);
            if let Ok(Ok(_)) = tokio::time::timeout(timeout, read).await {
                body.extend_from_slice(&rest);
            }
        }
        body.truncate(n);
    }
    let mut headers = answer.headers;
    if declared.is_none_or(|n| body.len() != n) {
        body.clear();
        headers.remove(http::header::TRANSFER_ENCODING);
        headers.insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from_static("0"),
        );
    }
    let mut response = Response::new(full(body));
    *response.status_mut() = answer.status;
    *response.headers_mut() = headers;
    response
}
