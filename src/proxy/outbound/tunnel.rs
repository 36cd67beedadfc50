//! `CONNECT host:port`: an opaque TCP tunnel to an endpoint of a service, on opaque ports only
//! (the forwarding policy checked that). Placed by the balancer like a request, then relayed
//! byte for byte; the tunnel holds no request capacity on the endpoint once open.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use super::{refuse, Destination};
use crate::proxy::body::{empty, ProxyBody};
use crate::proxy::connect::connect_tcp;
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
    placed.answered();
    // The tunnel is long-lived: it does not hold request capacity on the endpoint.
    drop(placed);
    crate::proxy::guard::spawn(state.metrics.panics(), "tunnel", async move {
        match hyper::upgrade::on(req).await {
            Ok(client) => {
                let mut client = TokioIo::new(client);
                if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                    tracing::debug!(authority = %dst.authority, "tunnel ended: {e}");
                }
            }
            Err(e) => tracing::debug!("CONNECT upgrade failed: {e}"),
        }
    });
    Response::new(empty())
}
