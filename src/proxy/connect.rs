//! Connections to upstreams: pooled per endpoint, HTTP/1.1 (a bounded set of idle keep-alive
//! connections, `h1`) or HTTP/2 (one multiplexed connection, whose SETTINGS are followed by
//! [`SettingsSniffer`]), with a bounded connect time and limits on response heads (`heads`).
//!
//! Both hops (inbound to the app, outbound to an endpoint) send through [`Pools::send`]. A request
//! is held as a [`Replayable`] for that, so the pool can send it again in the one case this layer
//! owns: an HTTP/1 connection taken from the pool that turns out to have been closed by the
//! server (its keep-alive timeout ended just as the request went out). Every other retry is a
//! policy of the caller's (`retry.rs`), which this module informs: an HTTP/2 stream the server
//! did not process ([`UpstreamError::NotProcessed`]) may be sent again whatever its method.

mod error;
mod h1;
mod heads;
mod unprocessed;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Response;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::body::{boxed, Guarded, ProxyBody};
use super::guard::{self, GuardedExecutor, PanicCounter};
use super::h2_settings::{MaxStreams, SettingsSniffer};
use super::io::{ByteCounter, CountingIo};
use super::maps::ConcurrentMap;
use super::replay::Replayable;
use super::timeout::Deadline;
use super::tls::UpstreamIo;

pub use error::UpstreamError;
pub use unprocessed::NotProcessed;

/// How long an idle HTTP/1 upstream connection is kept by default: shorter than the keep-alive
/// timeout of the common servers (measured: gunicorn's gthread worker closes after 2 s, uvicorn
/// after 5 s, Node.js 20 after 6 s, nginx after 75 s; docs/proxy.md), so the pool lets go of a
/// connection before the server would close it under a request.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_millis(1500);

/// Bounds of upstream connections.
#[derive(Debug, Clone)]
pub struct ConnectConfig {
    /// Longest wait for a TCP connection to be established.
    pub connect_timeout: Duration,
    /// Idle HTTP/1 connections kept per endpoint.
    pub max_idle_per_endpoint: usize,
    /// How long an idle HTTP/1 connection is kept (`--upstream-idle-timeout`), counted from its
    /// last response head.
    pub idle_timeout: Duration,
    /// Endpoints with pooled connections; beyond this, requests use one-off connections.
    pub max_pooled_endpoints: usize,
    /// Longest wait for the HTTP/2 client to take a request (its connection's flow control and
    /// pending-stream limits): a bound of its own, within what is left of the request's dispatch
    /// deadline; when it is the one that ends the wait, the caller is told so
    /// ([`UpstreamError::NotReady`]).
    pub ready_timeout: Duration,
    /// Longest wait for a response head, from the request's arrival, when no shorter route
    /// timeout applies (`--response-timeout`): an upstream that accepts but never answers cannot
    /// hold callers forever. Part of the request's [`Deadline`].
    pub response_timeout: Duration,
    /// How long an upstream HTTP/2 connection with open streams may go without a frame read
    /// before it is PINGed (and closed when the PING is not answered within 20 s). gRPC servers
    /// take at most one PING per 5 minutes on a connection they send nothing on, and answer the
    /// third too early with GOAWAY `too_many_pings`, which kills quiet streams (gRPC C core's
    /// `GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS` and `max_ping_strikes` 2; grpc-go's
    /// and grpc-java's enforcement policies likewise): the default is that minimum.
    pub ping_interval: Duration,
    /// Idle time before TCP keepalive probes start on an upstream connection; they are sent as
    /// often, and [`TCP_KEEPALIVE_PROBES`] unanswered ones close it. So a dead upstream (no FIN:
    /// a vanished host, a partition) is found within `tcp_keepalive × 4` of the last bytes it
    /// sent, without PINGs that gRPC servers count against the app.
    pub tcp_keepalive: Duration,
}

/// Unanswered TCP keepalive probes after which an upstream connection is closed.
pub const TCP_KEEPALIVE_PROBES: u32 = 3;

impl Default for ConnectConfig {
    fn default() -> Self {
        ConnectConfig {
            connect_timeout: Duration::from_secs(1),
            max_idle_per_endpoint: 64,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_pooled_endpoints: 4096,
            ready_timeout: Duration::from_secs(3),
            response_timeout: Duration::from_secs(300),
            ping_interval: Duration::from_secs(300),
            tcp_keepalive: Duration::from_secs(10),
        }
    }
}

/// The HTTP version spoken to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    Http1,
    Http2,
}

/// Creates the byte counter of a new upstream connection.
pub type NewCounter<'a> = &'a (dyn Fn() -> Arc<dyn ByteCounter> + Send + Sync);

/// Where one send goes.
pub struct Upstream<'a> {
    pub addr: SocketAddr,
    /// The HTTP version spoken there. For HTTP/1 the request URI must be in origin form with a
    /// `Host` header; for HTTP/2 it should carry the authority the upstream should see.
    pub version: Version,
    /// Counts the bytes of a connection opened for it.
    pub counter: NewCounter<'a>,
    /// Mutual TLS, when the endpoint is meshed with an identity and this proxy has one.
    pub tls: Option<UpstreamTls>,
}

/// Mutual TLS toward an endpoint: the configs in force when its connection opens, and the
/// identity its certificate must prove.
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    pub configs: Arc<crate::mtls::configs::TlsConfigs>,
    /// The DNS-style name, sent as SNI.
    pub server_id: Arc<str>,
}

/// Connection pools of every endpoint.
pub struct Pools {
    config: ConnectConfig,
    /// The largest response head and trailer block passed on (`Limits::max_header_bytes`).
    head_limit: usize,
    /// Where upstream connection tasks count their panics.
    panics: PanicCounter,
    endpoints: ConcurrentMap<(SocketAddr, Version), Arc<EndpointPool>>,
}

struct EndpointPool {
    addr: SocketAddr,
    /// The identity its connections were made to prove (`None`: plaintext). An endpoint whose
    /// expected identity changes (a pod IP reused by another workload) gets a new pool.
    server_id: Option<Arc<str>>,
    /// The HTTP/2 server's `max_concurrent_streams` now (every SETTINGS frame it sends is read),
    /// and the streams open on its connection.
    h2_max_streams: MaxStreams,
    h2: tokio::sync::Mutex<Option<http2::SendRequest<ProxyBody>>>,
    h1: h1::Idle,
}

impl Pools {
    /// Empty pools passing on response heads and trailer blocks up to `head_limit` bytes; their
    /// connection tasks count panics in `panics`.
    pub fn new(config: ConnectConfig, head_limit: usize, panics: &PanicCounter) -> Self {
        Pools {
            config,
            head_limit,
            panics: panics.clone(),
            endpoints: ConcurrentMap::default(),
        }
    }

    /// Sends `req` to `to`, waiting for an HTTP/2 stream no later than `deadline`'s dispatch
    /// deadline. The pool sends it a second time only after a reused HTTP/1 connection failed
    /// before any response byte. The wait for the response is the caller's to cut
    /// ([`Deadline::cut`]).
    pub async fn send(
        &self,
        to: &Upstream<'_>,
        req: &mut Replayable,
        deadline: &Deadline,
    ) -> Result<Response<ProxyBody>, UpstreamError> {
        let pool = self.pool(to);
        let resp = match to.version {
            Version::Http2 => pool.send_h2(req, self, to, deadline).await?,
            Version::Http1 => pool.h1.send(to, req, self).await?.map(boxed),
        };
        heads::limit(resp, to.addr, to.version, self.head_limit)
    }

    /// Waits, until `deadline` at most, for one of the streams open to the HTTP/2 endpoint `addr`
    /// to end: what a request it refused waits for before it is sent again.
    pub async fn after_refusal(&self, addr: SocketAddr, deadline: tokio::time::Instant) {
        let limit = match self.endpoints.get(&(addr, Version::Http2)) {
            Some(pool) => pool.h2_max_streams.clone(),
            None => return,
        };
        limit.one_ended(deadline).await;
    }

    /// How many requests an HTTP/2 endpoint takes at once now, once its connection told us.
    pub fn max_streams(&self, addr: SocketAddr) -> Option<u32> {
        let pool = self.endpoints.get(&(addr, Version::Http2))?;
        pool.h2_max_streams.get().filter(|&n| n != u32::MAX)
    }

    fn pool(&self, to: &Upstream<'_>) -> Arc<EndpointPool> {
        let (addr, version) = (to.addr, to.version);
        let server_id = to.tls.as_ref().map(|t| t.server_id.clone());
        let stale = match self.endpoints.get(&(addr, version)) {
            Some(p) if p.server_id == server_id => return p.clone(),
            Some(_) => true,
            None => false,
        };
        let pool = Arc::new(EndpointPool {
            addr,
            server_id,
            h2_max_streams: MaxStreams::default(),
            h2: tokio::sync::Mutex::new(None),
            h1: h1::Idle::default(),
        });
        if stale {
            self.endpoints.insert((addr, version), pool.clone());
            pool
        } else if self.endpoints.len() < self.config.max_pooled_endpoints {
            self.endpoints
                .entry((addr, version))
                .or_insert(pool)
                .clone()
        } else {
            pool
        }
    }
}

impl EndpointPool {
    async fn send_h2(
        &self,
        req: &mut Replayable,
        pools: &Pools,
        to: &Upstream<'_>,
        deadline: &Deadline,
    ) -> Result<Response<ProxyBody>, UpstreamError> {
        let config = &pools.config;
        let mut sender = {
            let mut slot = self.h2.lock().await;
            match slot.as_ref() {
                Some(s) if !s.is_closed() => s.clone(),
                _ => {
                    let tcp = connect_tcp(self.addr, config, to.counter).await?;
                    let upstream = secure(tcp, to, config).await?;
                    let io =
                        TokioIo::new(SettingsSniffer::new(upstream, self.h2_max_streams.clone()));
                    let streams = GuardedExecutor::new(&pools.panics, "upstream HTTP/2 stream");
                    let (sender, conn) = http2::Builder::new(streams)
                        .max_header_list_size(heads::most(pools.head_limit) as u32)
                        .timer(TokioTimer::new())
                        .keep_alive_interval(config.ping_interval)
                        .handshake(io)
                        .await
                        .map_err(|source| UpstreamError::Http {
                            addr: self.addr,
                            source,
                        })?;
                    spawn_connection(self.addr, conn, &pools.panics);
                    // Learn the server's stream limit before sending anything.
                    self.h2_max_streams.wait_known(config.connect_timeout).await;
                    if self.h2_max_streams.answered_in_http1() {
                        return Err(UpstreamError::NotHttp2 { addr: self.addr });
                    }
                    *slot = Some(sender.clone());
                    sender
                }
            }
        };
        // Every wait for room shares the request's one dispatch deadline.
        let busy = || UpstreamError::Busy {
            addr: self.addr,
            waited: deadline.waited(),
            max_streams: self.h2_max_streams.get().filter(|&n| n != u32::MAX),
        };
        let stream = self
            .h2_max_streams
            .open(deadline.dispatch_at())
            .await
            .ok_or_else(busy)?;
        let http = |source| match self.h2_max_streams.answered_in_http1() {
            true => UpstreamError::NotHttp2 { addr: self.addr },
            false => UpstreamError::Http {
                addr: self.addr,
                source,
            },
        };
        // Usually ready at once: no timer for that. Otherwise the ready timeout bounds the wait,
        // within what is left of the dispatch deadline; the caller is told which one ended it.
        if !sender.is_ready() {
            let until = deadline.within(config.ready_timeout);
            match tokio::time::timeout_at(until, sender.ready()).await {
                Ok(ready) => ready.map_err(http)?,
                Err(_) if until < deadline.dispatch_at() => {
                    return Err(UpstreamError::NotReady {
                        addr: self.addr,
                        after: config.ready_timeout,
                    })
                }
                Err(_) => return Err(busy()),
            }
        }
        let request = req
            .next_send()
            .map_err(|why| UpstreamError::NotReplayable {
                addr: self.addr,
                why,
            })?;
        let resp = sender.try_send_request(request).await.map_err(|e| {
            let max_streams = self.h2_max_streams.get().filter(|&n| n != u32::MAX);
            unprocessed::send_error(self.addr, e, max_streams, heads::most(pools.head_limit))
        })?;
        Ok(resp.map(|body| boxed(Guarded::new(body, stream))))
    }
}

fn spawn_connection<F>(addr: SocketAddr, conn: F, panics: &PanicCounter)
where
    F: std::future::Future<Output = Result<(), hyper::Error>> + Send + 'static,
{
    guard::spawn(panics, "upstream connection", async move {
        if let Err(e) = conn.await {
            tracing::debug!(%addr, "upstream connection ended: {e}");
        }
    });
}

/// Wraps a new connection to `to` in mutual TLS when `to` asks for it (the handshake bounded by
/// the connect timeout).
pub(crate) async fn secure(
    tcp: CountingIo<TcpStream>,
    to: &Upstream<'_>,
    config: &ConnectConfig,
) -> Result<UpstreamIo, UpstreamError> {
    secure_to(tcp, to.addr, to.tls.as_ref(), config).await
}

/// Mutual TLS as for a pooled upstream (`secure`), for a connection to `addr` that is no pooled
/// upstream (opaque TCP, tunnels).
pub async fn secure_to(
    tcp: CountingIo<TcpStream>,
    addr: SocketAddr,
    tls: Option<&UpstreamTls>,
    config: &ConnectConfig,
) -> Result<UpstreamIo, UpstreamError> {
    match tls {
        None => Ok(UpstreamIo::Plain(tcp)),
        Some(tls) => {
            let timeout = config.connect_timeout;
            super::tls::connect(tcp, addr, &tls.configs, &tls.server_id, timeout).await
        }
    }
}

impl UpstreamTls {
    /// mTLS toward an endpoint expected to prove `server_id`, when this proxy has an identity
    /// (`tls`) and discovery knows the endpoint's.
    pub fn toward(
        tls: Option<&Arc<crate::mtls::reload::TlsStore>>,
        server_id: Option<&Arc<str>>,
    ) -> Option<UpstreamTls> {
        Some(UpstreamTls {
            configs: tls?.current(),
            server_id: server_id?.clone(),
        })
    }
}

/// Opens a TCP connection within the connect timeout, counting its bytes.
pub async fn connect(
    addr: SocketAddr,
    config: &ConnectConfig,
    counter: NewCounter<'_>,
) -> Result<TokioIo<CountingIo<TcpStream>>, UpstreamError> {
    Ok(TokioIo::new(connect_tcp(addr, config, counter).await?))
}

/// Opens a counted TCP connection within `config.connect_timeout`, with TCP keepalive
/// (`config.tcp_keepalive`); also used for opaque forwarding. `counter` is called only once the
/// connection is open ([`open_tcp`]).
pub async fn connect_tcp(
    addr: SocketAddr,
    config: &ConnectConfig,
    counter: NewCounter<'_>,
) -> Result<CountingIo<TcpStream>, UpstreamError> {
    let stream = open_tcp(addr, config).await?;
    Ok(CountingIo::new(stream, counter()))
}

/// Opens a TCP connection within `config.connect_timeout`, with TCP keepalive
/// (`config.tcp_keepalive`). Not counted yet: as Linkerd's `tcp_open_total` does, a connection
/// counts as opened once the handshake finished, never when it was refused or timed out.
pub async fn open_tcp(
    addr: SocketAddr,
    config: &ConnectConfig,
) -> Result<TcpStream, UpstreamError> {
    let timeout = config.connect_timeout;
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => {
            return Err(UpstreamError::ConnectTimeout {
                addr,
                after: timeout,
            })
        }
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            return Err(UpstreamError::Refused { addr })
        }
        Ok(Err(source)) => return Err(UpstreamError::Connect { addr, source }),
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(config.tcp_keepalive)
        .with_interval(config.tcp_keepalive)
        .with_retries(TCP_KEEPALIVE_PROBES);
    if let Err(e) = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(%addr, "TCP keepalive not set: {e}");
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Uncounted;

    impl ByteCounter for Uncounted {
        fn read(&self, _: u64) {}
        fn wrote(&self, _: u64) {}
    }

    #[tokio::test]
    async fn upstream_sockets_probe_a_silent_peer_with_tcp_keepalive() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = ConnectConfig {
            tcp_keepalive: Duration::from_secs(7),
            ..ConnectConfig::default()
        };
        let counter = || -> Arc<dyn ByteCounter> { Arc::new(Uncounted) };
        let io = connect_tcp(listener.local_addr().unwrap(), &config, &counter)
            .await
            .unwrap();
        let socket = socket2::SockRef::from(io.get_ref());
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.tcp_keepalive_time().unwrap(), Duration::from_secs(7));
        assert_eq!(
            socket.tcp_keepalive_interval().unwrap(),
            Duration::from_secs(7)
        );
        assert_eq!(
            socket.tcp_keepalive_retries().unwrap(),
            TCP_KEEPALIVE_PROBES
        );
    }

    /// Linkerd counts a connection in `tcp_open_total` once it is open: a connect the upstream
    /// refused opens nothing, so it is never counted (nor closed).
    #[tokio::test]
    async fn a_refused_connect_is_not_counted_as_opened() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let limits = crate::proxy::config::Limits::default();
        let pools = Pools::new(limits.connect.clone(), 8192, &PanicCounter::default());
        for version in [Version::Http1, Version::Http2] {
            let counted = std::sync::atomic::AtomicU32::new(0);
            let counter = || -> Arc<dyn ByteCounter> {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Arc::new(Uncounted)
            };
            let to = Upstream {
                addr,
                version,
                counter: &counter,
                tls: None,
            };
            let req = http::Request::get("/")
                .body(crate::proxy::body::empty())
                .unwrap();
            let mut req = crate::proxy::replay::Replayable::new(req);
            let deadline = Deadline::new(tokio::time::Instant::now(), None, &limits);
            let sent = pools.send(&to, &mut req, &deadline).await;
            assert!(
                matches!(sent, Err(UpstreamError::Refused { .. })),
                "{version:?}: {sent:?}"
            );
            assert_eq!(counted.into_inner(), 0, "{version:?}");
        }
    }
}
