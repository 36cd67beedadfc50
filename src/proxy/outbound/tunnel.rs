//! `CONNECT host:port`: an opaque TCP tunnel to an endpoint of a service, on opaque ports only
//! (the forwarding policy checked that). Placed by the balancer like a request, then relayed
//! byte for byte; the tunnel holds no request capacity on the endpoint once open. Under capture,
//! a `CONNECT` for anything else is [forwarded](forward) to where the app was connecting.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use super::{refuse, Destination};
use crate::proxy::body::{boxed, empty, ProxyBody};
use crate::proxy::connect::{connect_tcp, secure_to, UpstreamError, UpstreamTls};
use crate::proxy::forward::bridge_upgrade;
use crate::proxy::hop::strip_from_app;
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
            tls: state.outbound_tls(endpoint.tls.as_ref()),
        })
    };
    let connect = &state.config.limits.connect;
    let tls = UpstreamTls::toward(state.config.tls.as_ref(), endpoint.tls.as_ref());
    let opened = match connect_tcp(endpoint.addr, connect, &counter).await {
        Ok(tcp) => secure_to(tcp, endpoint.addr, tls.as_ref(), connect).await,
        Err(e) => Err(e),
    };
    let mut upstream = match opened {
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

/// `CONNECT` under capture to a target that is no known service's opaque port: the app was
/// connecting to a forward proxy outside the pod (its `HTTPS_PROXY`, squid at `10.x:3128`), whose
/// business the tunnel is. The `CONNECT` goes there unchanged (but for mesh's own headers, as on
/// every outbound request), its answer comes back as that proxy gave it (a `407` with its
/// `Proxy-Authenticate` included), and after a `2xx` the bytes are carried both ways, counted in
/// the TCP series of the outbound (`peer="dst"`).
pub async fn forward(
    state: Arc<ProxyState>,
    remote: SocketAddr,
    mut req: Request<Incoming>,
    dst: Destination,
) -> Response<ProxyBody> {
    let Some(endpoint) = dst.endpoints.first().cloned() else {
        return refuse(
            &state,
            ProxyError::BadAuthority(dst.authority.to_string()),
            &req,
            remote,
        );
    };
    let counter = || {
        state.tcp_counter(TcpLabels {
            direction: Direction::Outbound,
            side: PeerSide::Dst,
            peer: endpoint.identity.clone(),
            tls: state.outbound_tls(endpoint.tls.as_ref()),
        })
    };
    let failed = |source| ProxyError::Endpoint {
        authority: dst.authority.to_string(),
        addr: endpoint.addr,
        source,
    };
    let io = match connect_tcp(endpoint.addr, &state.config.limits.connect, &counter).await {
        Ok(io) => io,
        Err(source) => return refuse(&state, failed(source), &req, remote),
    };
    let addr = endpoint.addr;
    let http = |source| UpstreamError::Http { addr, source };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(io)).await {
        Ok(handshake) => handshake,
        Err(source) => return refuse(&state, failed(http(source)), &req, remote),
    };
    crate::proxy::guard::spawn(state.metrics.panics(), "CONNECT upstream", async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(%addr, "CONNECT upstream connection ended: {e}");
        }
    });
    let client = hyper::upgrade::on(&mut req);
    let mut head = Request::builder()
        .method(req.method())
        .uri(req.uri())
        .version(http::Version::HTTP_11)
        .body(empty())
        .expect("parts of a request hyper parsed");
    *head.headers_mut() = req.headers().clone();
    strip_from_app(head.headers_mut());
    state.hop.add_to(head.headers_mut());
    // Bounded as any response is (`--response-timeout`): a forward proxy that never answers
    // the CONNECT does not hold the client forever.
    let after = state.config.limits.connect.response_timeout;
    let mut resp = match tokio::time::timeout(after, sender.send_request(head)).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(source)) => return refuse(&state, failed(http(source)), &req, remote),
        Err(_) => {
            let err = failed(UpstreamError::NoResponse { addr, after });
            return refuse(&state, err, &req, remote);
        }
    };
    if resp.status().is_success() {
        let upstream = hyper::upgrade::on(&mut resp);
        bridge_upgrade(client, upstream, state.metrics.panics());
    }
    resp.map(boxed)
}
