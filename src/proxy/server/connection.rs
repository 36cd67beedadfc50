//! One traffic connection, inbound or outbound: its first bytes decide HTTP/1, HTTP/2 or opaque
//! TCP, and under transparent capture its original destination decides where it goes (DESIGN.md,
//! "Forwarding policy"): inbound, to the app port the caller connected to; outbound, to the
//! service its requests name when discovery knows it, else where the app was connecting.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::proxy::connect::{connect_tcp, secure_to, UpstreamTls};
use crate::proxy::detect::{detect, Protocol};
use crate::proxy::forward::head_bytes;
use crate::proxy::guard::GuardedExecutor;
use crate::proxy::inbound::AppTarget;
use crate::proxy::io::CountingIo;
use crate::proxy::listener::Drain;
use crate::proxy::metrics::{
    Direction, NoTlsReason, PeerSide, PendingTcp, Refused, TcpLabels, TlsStatus,
};
use crate::proxy::parse_errors::{
    ExplainParseErrors, OnParseError, ServiceCalls, HYPER_MAX_URI_LEN,
};
use crate::proxy::policy::{Listener, LoopSign, Refusal};
use crate::proxy::respond::{self, ProxyError, RefusedRequest, Seen};
use crate::proxy::state::ProxyState;
use crate::proxy::tls::{self, Accepted, PeerTls};
use crate::proxy::{inbound, outbound, request_target};

/// Serves one accepted traffic connection until it ends (or the drain ends it).
pub(super) async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    direction: Direction,
    state: Arc<ProxyState>,
    drain: Drain,
) {
    // Where the connection was going before capture rules redirected it here. Asked of every
    // connection (one getsockopt), so a proxy in a captured pod works without --capture too.
    let original = redirected(&stream).filter(|original| {
        // To the pod's own address on this very listener's port (`10.1.2.3:4140` from the app):
        // a connection made to the listener itself, which is the explicit mode of today.
        let accepting = match direction {
            Direction::Inbound => Listener::Inbound,
            Direction::Outbound => Listener::Outbound,
        };
        state.policy.own.reached_by(*original) != Some(accepting)
    });
    // Inbound, whether the caller is mutual TLS is known only once its first bytes are read:
    // the connection is counted under its `tls` labels from then ([`PendingTcp`]). Outbound,
    // the caller is the app, in the pod.
    let src = |tls| TcpLabels {
        direction,
        side: PeerSide::Src,
        peer: None,
        tls,
    };
    let plaintext = match direction {
        Direction::Inbound => state.plaintext_caller_tls(),
        Direction::Outbound => TlsStatus::NotSecured(NoTlsReason::Loopback),
    };
    let counted = Arc::new(PendingTcp::new(state.metrics.clone(), src(plaintext)));
    if direction == Direction::Outbound {
        counted.settle_default();
    }
    let io = CountingIo::new(stream, counted.clone());
    let limits = &state.config.limits;
    // Where opaque bytes go: a captured connection's destination; otherwise (inbound) the app,
    // when it has one port, as opaque TCP names no port.
    let relay_to = match (original, direction) {
        (Some(original), _) => match captured_target(&state, direction, original) {
            Some(target) => Some(target),
            None => return,
        },
        (None, Direction::Inbound) => state.app_ports.single(),
        (None, Direction::Outbound) => None,
    };
    if direction == Direction::Inbound && relay_to.is_none() && state.config.app.is_none() {
        let text = "closed a connection to the inbound port that the capture rules did not \
                    redirect: without --app there is no app to send it to (callers reach the \
                    app's own ports, which `mesh init` redirects here)";
        return state
            .errors
            .note("inbound", "inbound not redirected".into(), &text);
    }
    if let Some(to) = relay_to.filter(|a| state.config.opaque_ports.contains(&a.port())) {
        counted.settle_default();
        return relay(io, to, direction, &state).await;
    }
    let (protocol, io) = match detect(io, limits.detect_timeout).await {
        Ok(d) => d,
        Err(e) => return tracing::debug!("connection failed during protocol detection: {e}"),
    };
    let detected = Detected {
        direction,
        remote,
        original,
        relay_to,
        peer_tls: None,
    };
    // Inbound TLS: mesh TLS for this proxy is terminated and served as if plaintext, with the
    // caller's proven identity; the app's own TLS goes on as opaque bytes below.
    let tls = state
        .config
        .tls
        .as_ref()
        .filter(|_| direction == Direction::Inbound);
    match tls {
        // Boxed: a TLS connection's state (rustls' buffers, the handshake) is allocated for
        // TLS connections only, so plaintext connections stay as small as before.
        Some(store)
            if protocol == Protocol::Opaque && io.hooks().bytes().first() == Some(&0x16) =>
        {
            let configs = store.current();
            Box::pin(serve_tls(io, configs, detected, counted, state, drain)).await
        }
        _ => {
            counted.settle_default();
            serve_detected(protocol, io, detected, state, drain).await
        }
    }
}

/// An inbound connection that began with a TLS record: mesh TLS is terminated and what it
/// carries served with the caller's identity; other TLS is the app's, relayed as it came.
async fn serve_tls(
    io: crate::proxy::detect::PrefixedIo<CountingIo<TcpStream>>,
    configs: Arc<crate::mtls::configs::TlsConfigs>,
    detected: Detected,
    counted: Arc<PendingTcp>,
    state: Arc<ProxyState>,
    drain: Drain,
) {
    let timeout = state.config.limits.detect_timeout;
    match tls::accept(io, &configs, timeout).await {
        Accepted::Mesh(stream, peer) => {
            counted.settle(TcpLabels {
                direction: detected.direction,
                side: PeerSide::Src,
                peer: None,
                tls: TlsStatus::Secured(peer.client_id.clone()),
            });
            let (protocol, io) = match detect(*stream, timeout).await {
                Ok(d) => d,
                Err(e) => return tracing::debug!("mTLS connection failed during detection: {e}"),
            };
            let detected = Detected {
                peer_tls: Some(peer),
                ..detected
            };
            serve_detected(protocol, io, detected, state, drain).await
        }
        // The app's own TLS: not the mesh's.
        Accepted::PassThrough(io) => {
            counted.settle_default();
            serve_detected(Protocol::Opaque, io, detected, state, drain).await
        }
        Accepted::Failed(why) => {
            counted.settle_default();
            let remote = detected.remote;
            let text = format!("refused an mTLS connection from {remote}: {why}");
            state
                .errors
                .note("inbound", format!("mTLS refused: {why}"), &text);
        }
    }
}

/// What a connection's first bytes and its capture said, for [`serve_detected`].
#[derive(Clone)]
struct Detected {
    direction: Direction,
    remote: SocketAddr,
    original: Option<SocketAddr>,
    relay_to: Option<SocketAddr>,
    /// Inbound over mesh TLS: the caller's proven identity.
    peer_tls: Option<Arc<PeerTls>>,
}

/// Serves a connection whose protocol is known: relays opaque bytes, or serves HTTP.
async fn serve_detected<I>(
    protocol: Protocol,
    io: I,
    detected: Detected,
    state: Arc<ProxyState>,
    drain: Drain,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Detected {
        direction,
        remote,
        original,
        relay_to,
        peer_tls,
    } = detected;
    let limits = &state.config.limits;
    match (protocol, direction, relay_to) {
        (Protocol::Opaque, _, Some(to)) => relay(io, to, direction, &state).await,
        (Protocol::Silent, _, Some(to)) => {
            state.metrics.detect_timeout(direction);
            let waited = limits.detect_timeout;
            let port = to.port();
            let text = format!(
                "a client of port {port} sent nothing for {waited:?} (--detect-timeout), so its \
                 connection was relayed to {to} as opaque TCP only after that wait: a \
                 server-speaks-first protocol (MySQL, SMTP, ...)? Add {port} to --opaque-ports \
                 to relay it at once"
            );
            state
                .errors
                .note(direction.as_str(), format!("silent client {port}"), &text);
            relay(io, to, direction, &state).await
        }
        (Protocol::Opaque | Protocol::Silent, Direction::Inbound, None) => {
            inbound::unroutable_opaque(&state)
        }
        (Protocol::Opaque | Protocol::Silent, _, _) => {
            tracing::debug!(
                ?direction,
                "closing a non-HTTP connection: the outbound port takes HTTP (or CONNECT) only"
            );
        }
        (protocol, direction, _) => {
            let inbound_target = match (original, relay_to, state.config.app) {
                (Some(_), Some(to), _) => Some(AppTarget::Captured(to)),
                (None, _, Some(app)) => Some(AppTarget::Configured(app)),
                _ => None,
            };
            let st = state.clone();
            let calls = ServiceCalls::default();
            let called = calls.clone();
            let svc = service_fn(move |req: Request<Incoming>| {
                let st = st.clone();
                let peer_tls = peer_tls.clone();
                called.fetch_add(1, Ordering::AcqRel);
                async move {
                    if let Some(refused) = refuse_before_forwarding(&st, direction, remote, &req) {
                        return Ok(refused);
                    }
                    // Boxed per request: hyper keeps room for one service future in every
                    // HTTP/1 connection (`Box<Option<S::Future>>`, allocated when the connection
                    // opens), so an inline request path (≈7.5 KiB) would cost each idle
                    // keep-alive connection that much; one allocation per request is cheaper.
                    Ok::<_, std::convert::Infallible>(match (direction, inbound_target) {
                        (Direction::Inbound, Some(target)) => {
                            Box::pin(inbound::handle(st, target, remote, peer_tls, req)).await
                        }
                        _ => Box::pin(outbound::handle(st, remote, original, req)).await,
                    })
                }
            });
            if protocol == Protocol::Http2 {
                return serve_http(TokioIo::new(io), protocol, svc, &state, drain).await;
            }
            let explain = ParseErrorLog {
                state: state.clone(),
                direction,
            };
            let io = ExplainParseErrors::new(io, calls, explain);
            serve_http(TokioIo::new(io), protocol, svc, &state, drain).await;
        }
    }
}

/// Where the capture rules redirected `stream` from: its original destination, when that is not
/// the listener itself (a connection made to the listener directly, as in explicit mode).
fn redirected(stream: &TcpStream) -> Option<SocketAddr> {
    let local = stream.local_addr().ok()?;
    // ENOENT and the like: conntrack knows nothing of it, so nothing redirected it.
    let original = crate::capture::original_dst(stream).ok()?;
    let same = original.port() == local.port()
        && original.ip().to_canonical() == local.ip().to_canonical();
    (!same).then_some(original)
}

/// Where a captured connection to `original` goes, unless the policy refuses it (logged and
/// counted; the connection is then closed): inbound, the app port the caller connected to
/// (`--inbound-forward`); outbound, the original destination itself.
fn captured_target(
    state: &ProxyState,
    direction: Direction,
    original: SocketAddr,
) -> Option<SocketAddr> {
    let (target, allowed) = match direction {
        Direction::Inbound => {
            // Detected without --capture: the defaults.
            let forward = state.config.capture.unwrap_or_default().inbound_forward;
            let target = forward.target(original);
            // The app on loopback is the point of `--inbound-forward localhost`: only loops are
            // refused inbound.
            let looped = state.policy.own.reached_by(target).is_some();
            (
                target,
                if looped {
                    Err(Refusal::Loop(LoopSign::OwnListener))
                } else {
                    Ok(())
                },
            )
        }
        Direction::Outbound => (original, state.policy.decide_original(original, false)),
    };
    match allowed {
        Ok(()) => Some(target),
        Err(refusal) => {
            let (counted, why) = match refusal {
                Refusal::LocalAddress => (
                    Refused::LocalAddress,
                    "a link-local address, which --allow-destination does not open",
                ),
                _ => (
                    Refused::LoopListener,
                    "one of this proxy's own listeners (a loop)",
                ),
            };
            state.metrics.refused(direction, counted);
            let text = format!(
                "closed a captured {} connection to {original}: it goes to {why}",
                direction.as_str()
            );
            state
                .errors
                .note(direction.as_str(), format!("captured {why}"), &text);
            None
        }
    }
}

/// How often an HTTP/2 client connection is PINGed, and how long its answer may take.
const H2_KEEPALIVE: Duration = Duration::from_secs(20);

/// The answer to a request refused before it is passed on, if it is: a 431 that says why for a
/// head over the limit (`Limits::max_header_bytes`; hyper itself stops reading heads at twice the
/// limit, the bound on memory per connection), a 400 for a target or `Host` that breaks HTTP's
/// rules ([`request_target::check`]).
fn refuse_before_forwarding<B>(
    state: &ProxyState,
    direction: Direction,
    remote: SocketAddr,
    req: &Request<B>,
) -> Option<http::Response<crate::proxy::body::ProxyBody>> {
    let limit = state.config.limits.max_header_bytes;
    let bytes = head_bytes(req);
    let err = if bytes > limit {
        ProxyError::HeadTooLarge { bytes, limit }
    } else {
        ProxyError::BadRequest(request_target::check(req).err()?)
    };
    let seen = Seen::Refused(RefusedRequest::of(req, remote));
    Some(respond::rescue(state, direction, err, seen))
}

/// Serves HTTP on one connection until it closes or the drain asks it to finish.
async fn serve_http<I, S>(
    io: TokioIo<I>,
    protocol: Protocol,
    svc: S,
    state: &ProxyState,
    mut drain: Drain,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = crate::proxy::body::ProxyBody>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limits = &state.config.limits;
    let result = if protocol == Protocol::Http2 {
        let streams = GuardedExecutor::new(state.metrics.panics(), "HTTP/2 stream");
        let conn = hyper::server::conn::http2::Builder::new(streams)
            .timer(TokioTimer::new())
            .max_header_list_size(hard_head_limit(limits))
            .max_concurrent_streams(limits.max_concurrent_streams)
            // A client that vanished without closing (no FIN) is found by PING and let go.
            .keep_alive_interval(Some(H2_KEEPALIVE))
            .keep_alive_timeout(H2_KEEPALIVE)
            .serve_connection(io, svc);
        tokio::pin!(conn);
        tokio::select! {
            r = conn.as_mut() => r,
            _ = drain.signaled() => { conn.as_mut().graceful_shutdown(); conn.await }
        }
    } else {
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(hard_head_limit(limits) as usize)
            // Also the bound of chunked request trailers (hyper's default is 16 KiB).
            .max_header_size(hard_head_limit(limits) as usize)
            .serve_connection(io, svc)
            .with_upgrades();
        tokio::pin!(conn);
        tokio::select! {
            r = conn.as_mut() => r,
            _ = drain.signaled() => { conn.as_mut().graceful_shutdown(); conn.await }
        }
    };
    if let Err(e) = result {
        tracing::debug!("connection ended: {e}");
    }
}

/// Explains hyper's own answers to unparsable HTTP/1 requests, and logs them.
struct ParseErrorLog {
    state: Arc<ProxyState>,
    direction: Direction,
}

impl OnParseError for ParseErrorLog {
    fn explain(&self, status: u16) -> Option<ProxyError> {
        let err = match status {
            400 => ProxyError::MalformedRequest,
            414 => ProxyError::UriTooLong {
                limit: HYPER_MAX_URI_LEN,
            },
            431 => ProxyError::HeadUnreadable {
                limit: hard_head_limit(&self.state.config.limits) as usize,
            },
            _ => return None,
        };
        respond::record(&self.state, self.direction, &err);
        Some(err)
    }
}

/// Where hyper stops reading a head: twice the limit, so heads a little over the
/// limit still get [`refuse_before_forwarding`]'s 431 that says why.
fn hard_head_limit(limits: &crate::proxy::config::Limits) -> u32 {
    u32::try_from(limits.max_header_bytes.saturating_mul(2).max(8192)).unwrap_or(u32::MAX)
}

/// Opaque TCP: copy bytes both ways between the client and `to` (the app inbound; outbound, a
/// captured connection's original destination).
async fn relay<I: AsyncRead + AsyncWrite + Unpin>(
    mut client: I,
    to: SocketAddr,
    direction: Direction,
    state: &ProxyState,
) {
    // Outbound to a meshed endpoint with an identity: mutual TLS, as for HTTP.
    let server_id = match (direction, &state.config.tls) {
        (Direction::Outbound, Some(_)) => state.resolve.endpoint(to).await.and_then(|e| e.tls),
        _ => None,
    };
    let tls = UpstreamTls::toward(state.config.tls.as_ref(), server_id.as_ref());
    let counter = || {
        state.tcp_counter(TcpLabels {
            direction,
            side: PeerSide::Dst,
            peer: None,
            tls: match direction {
                Direction::Inbound => TlsStatus::NotSecured(NoTlsReason::Loopback),
                Direction::Outbound => state.outbound_tls(server_id.as_ref()),
            },
        })
    };
    let connect = &state.config.limits.connect;
    let opened = match connect_tcp(to, connect, &counter).await {
        Ok(tcp) => secure_to(tcp, to, tls.as_ref(), connect).await,
        Err(e) => Err(e),
    };
    match opened {
        Ok(mut upstream) => {
            if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                tracing::debug!(%to, "opaque connection ended: {e}");
            }
        }
        Err(source) => {
            let err = match direction {
                Direction::Inbound => ProxyError::App { addr: to, source },
                Direction::Outbound => ProxyError::Endpoint {
                    authority: to.to_string(),
                    addr: to,
                    source,
                },
            };
            state.errors.log(direction.as_str(), &err);
        }
    }
}
