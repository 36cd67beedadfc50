//! Connections to upstreams: pooled per endpoint, HTTP/1.1 (a bounded set of idle keep-alive
//! connections) or HTTP/2 (one multiplexed connection), with a bounded connect time.
//!
//! A request is sent on an idle HTTP/1 connection when one is ready; if that connection turns out
//! to have been closed by the server before the request went out, the request (not yet sent) is
//! tried once more on a fresh connection. Nothing else is retried here: retries are a policy.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::body::{boxed, Guarded, ProxyBody};
use super::guard::{self, GuardedExecutor, PanicCounter};
use super::h2_settings::{MaxStreams, SettingsSniffer};
use super::io::{ByteCounter, CountingIo};

/// Bounds of upstream connections.
#[derive(Debug, Clone)]
pub struct ConnectConfig {
    /// Longest wait for a TCP connection to be established.
    pub connect_timeout: Duration,
    /// Idle HTTP/1 connections kept per endpoint.
    pub max_idle_per_endpoint: usize,
    /// How long an idle connection is kept.
    pub idle_timeout: Duration,
    /// Endpoints with pooled connections; beyond this, requests use one-off connections.
    pub max_pooled_endpoints: usize,
    /// Longest wait for a free stream on an HTTP/2 connection.
    pub ready_timeout: Duration,
    /// Longest wait for a response head once a request is sent, when no shorter route timeout
    /// applies: an upstream that accepts but never answers cannot hold callers forever.
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
            idle_timeout: Duration::from_secs(60),
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

/// Why an upstream request failed before a response arrived.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Nothing listens at the address.
    #[error("connection to {addr} refused")]
    Refused { addr: SocketAddr },
    /// The TCP handshake did not finish in time.
    #[error("connecting to {addr} timed out after {after:?}")]
    ConnectTimeout { addr: SocketAddr, after: Duration },
    /// Another connect failure.
    #[error("connecting to {addr} failed: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// An HTTP/2 connection had no free stream in time.
    #[error("{addr}: no free HTTP/2 stream within {waited:?}")]
    Busy {
        addr: SocketAddr,
        waited: Duration,
        max_streams: Option<u32>,
    },
    /// The request was sent but no response head came within the response timeout.
    #[error("{addr}: no response within {after:?}")]
    NoResponse { addr: SocketAddr, after: Duration },
    /// The connection failed before or while the request was answered.
    #[error("{addr}: {source}")]
    Http {
        addr: SocketAddr,
        #[source]
        source: hyper::Error,
    },
}

impl UpstreamError {
    /// Whether the endpoint could not be connected at all (so it should be left out a while).
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            UpstreamError::Refused { .. }
                | UpstreamError::ConnectTimeout { .. }
                | UpstreamError::Connect { .. }
        )
    }
}

/// Creates the byte counter of a new upstream connection.
pub type NewCounter<'a> = &'a (dyn Fn() -> Arc<dyn ByteCounter> + Send + Sync);

/// Connection pools of every endpoint.
pub struct Pools {
    config: ConnectConfig,
    /// Where upstream connection tasks count their panics.
    panics: PanicCounter,
    endpoints: DashMap<(SocketAddr, Version), Arc<EndpointPool>>,
}

struct EndpointPool {
    addr: SocketAddr,
    /// The HTTP/2 server's `max_concurrent_streams`, read from its first SETTINGS frame.
    h2_max_streams: MaxStreams,
    h2: tokio::sync::Mutex<Option<http2::SendRequest<ProxyBody>>>,
    h1_idle: std::sync::Mutex<Vec<(http1::SendRequest<ProxyBody>, Instant)>>,
}

impl Pools {
    /// Empty pools; their connection tasks count panics in `panics`.
    pub fn new(config: ConnectConfig, panics: &PanicCounter) -> Self {
        Pools {
            config,
            panics: panics.clone(),
            endpoints: DashMap::new(),
        }
    }

    /// Sends `req` to `addr` over `version`. For HTTP/1 the URI must be in origin form with a `Host`
    /// header; for HTTP/2 it should carry the authority the upstream should see.
    pub async fn send(
        &self,
        addr: SocketAddr,
        version: Version,
        req: Request<ProxyBody>,
        counter: NewCounter<'_>,
    ) -> Result<Response<ProxyBody>, UpstreamError> {
        let pool = self.pool(addr, version);
        let sent = async {
            match version {
                Version::Http2 => pool.send_h2(req, self, counter).await,
                Version::Http1 => Ok(pool.send_h1(req, self, counter).await?.map(boxed)),
            }
        };
        // Dropping the send on expiry resets the HTTP/2 stream or closes the HTTP/1 connection.
        let after = self.config.response_timeout;
        tokio::time::timeout(after, sent)
            .await
            .unwrap_or(Err(UpstreamError::NoResponse { addr, after }))
    }

    /// How many requests an HTTP/2 endpoint takes at once, once its connection told us.
    pub fn max_streams(&self, addr: SocketAddr) -> Option<u32> {
        let pool = self.endpoints.get(&(addr, Version::Http2))?;
        pool.h2_max_streams.get().filter(|&n| n != u32::MAX)
    }

    fn pool(&self, addr: SocketAddr, version: Version) -> Arc<EndpointPool> {
        if let Some(p) = self.endpoints.get(&(addr, version)) {
            return p.clone();
        }
        let pool = Arc::new(EndpointPool {
            addr,
            h2_max_streams: MaxStreams::default(),
            h2: tokio::sync::Mutex::new(None),
            h1_idle: std::sync::Mutex::new(Vec::new()),
        });
        if self.endpoints.len() < self.config.max_pooled_endpoints {
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
        req: Request<ProxyBody>,
        pools: &Pools,
        counter: NewCounter<'_>,
    ) -> Result<Response<ProxyBody>, UpstreamError> {
        let config = &pools.config;
        let mut sender = {
            let mut slot = self.h2.lock().await;
            match slot.as_ref() {
                Some(s) if !s.is_closed() => s.clone(),
                _ => {
                    let tcp = connect_tcp(self.addr, config, counter).await?;
                    let io = TokioIo::new(SettingsSniffer::new(tcp, self.h2_max_streams.clone()));
                    let streams = GuardedExecutor::new(&pools.panics, "upstream HTTP/2 stream");
                    let (sender, conn) = http2::Builder::new(streams)
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
                    *slot = Some(sender.clone());
                    sender
                }
            }
        };
        let busy = || UpstreamError::Busy {
            addr: self.addr,
            waited: config.ready_timeout,
            max_streams: self.h2_max_streams.get().filter(|&n| n != u32::MAX),
        };
        let stream = self
            .h2_max_streams
            .open(config.ready_timeout)
            .await
            .ok_or_else(busy)?;
        let http = |source| UpstreamError::Http {
            addr: self.addr,
            source,
        };
        match tokio::time::timeout(config.ready_timeout, sender.ready()).await {
            Ok(ready) => ready.map_err(http)?,
            Err(_) => return Err(busy()),
        }
        let resp = sender.send_request(req).await.map_err(http)?;
        Ok(resp.map(|body| boxed(Guarded::new(body, stream))))
    }

    async fn send_h1(
        self: &Arc<Self>,
        req: Request<ProxyBody>,
        pools: &Pools,
        counter: NewCounter<'_>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let config = &pools.config;
        let mut req = req;
        // One retry, only for a pooled connection the server had already closed (request unsent).
        for reused in [true, false] {
            let idle = if reused { self.take_idle(config) } else { None };
            let (mut sender, fresh) = match idle {
                Some(s) => (s, false),
                None => (self.connect_h1(pools, counter).await?, true),
            };
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    self.recycle(sender, config);
                    return Ok(resp);
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if !fresh => req = unsent,
                    _ => {
                        return Err(UpstreamError::Http {
                            addr: self.addr,
                            source: e.into_error(),
                        })
                    }
                },
            }
        }
        unreachable!("the second attempt always uses a fresh connection and returns")
    }

    async fn connect_h1(
        &self,
        pools: &Pools,
        counter: NewCounter<'_>,
    ) -> Result<http1::SendRequest<ProxyBody>, UpstreamError> {
        let io = connect(self.addr, &pools.config, counter).await?;
        let (sender, conn) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(|source| UpstreamError::Http {
                addr: self.addr,
                source,
            })?;
        spawn_connection(self.addr, conn.with_upgrades(), &pools.panics);
        Ok(sender)
    }

    /// An idle connection ready for a request. Connections whose last response is still being
    /// read stay pooled (they become ready when it ends); closed and expired ones are dropped.
    fn take_idle(&self, config: &ConnectConfig) -> Option<http1::SendRequest<ProxyBody>> {
        let mut idle = self.h1_idle.lock().unwrap_or_else(|p| p.into_inner());
        let mut i = idle.len();
        while i > 0 {
            i -= 1;
            let (sender, since) = &idle[i];
            if sender.is_closed() || since.elapsed() >= config.idle_timeout {
                idle.swap_remove(i);
            } else if sender.is_ready() {
                return Some(idle.swap_remove(i).0);
            }
        }
        None
    }

    /// Pools the connection right away: it is ready again once its response has been read to the
    /// end, which [`take_idle`](Self::take_idle) checks without waiting (no task per request).
    fn recycle(&self, sender: http1::SendRequest<ProxyBody>, config: &ConnectConfig) {
        let mut idle = self.h1_idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < config.max_idle_per_endpoint {
            idle.push((sender, Instant::now()));
        }
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

/// Opens a TCP connection within the connect timeout, counting its bytes.
pub async fn connect(
    addr: SocketAddr,
    config: &ConnectConfig,
    counter: NewCounter<'_>,
) -> Result<TokioIo<CountingIo<TcpStream>>, UpstreamError> {
    Ok(TokioIo::new(connect_tcp(addr, config, counter).await?))
}

/// Opens a counted TCP connection within `config.connect_timeout`, with TCP keepalive
/// (`config.tcp_keepalive`); also used for opaque forwarding.
pub async fn connect_tcp(
    addr: SocketAddr,
    config: &ConnectConfig,
    counter: NewCounter<'_>,
) -> Result<CountingIo<TcpStream>, UpstreamError> {
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
    Ok(CountingIo::new(stream, counter()))
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
}
