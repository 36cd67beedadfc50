//! HTTP/1 to one endpoint: idle keep-alive connections, and the one case in which this layer
//! sends a request a second time.
//!
//! A server closes a kept-alive connection when its keep-alive timeout ends; if that happens just
//! as the proxy sends a request on it, the request fails though the server never saw it (the
//! keep-alive race). The pool lets idle connections go before common servers close them
//! (`ConnectConfig::idle_timeout`), and when a request on a *reused* connection fails before any
//! byte of a response arrived, it is sent once more on a fresh connection — if its body can be
//! sent again (none, or one held under the replay limit), whatever its method. A server whose
//! keep-alive timeout ends closes without reading what arrives; one that read a request and then
//! closed without a byte of answer (a crash) looks the same from here, so a non-idempotent request
//! could in that case run twice — the price of not failing every request that meets the race.
//! A request that cannot be sent again fails with [`UpstreamError::ReusedConnectionClosed`], which
//! says so and what to change.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use tokio::time::Instant;

use hyper_util::rt::TokioIo;

use super::{heads, open_tcp, spawn_connection, ConnectConfig, Pools, Upstream, UpstreamError};
use crate::proxy::body::ProxyBody;
use crate::proxy::expect::hold_body_until_continue;
use crate::proxy::io::{ByteCounter, CountingIo};
use crate::proxy::replay::{NotReplayable, Replayable};

/// The idle connections of one endpoint.
#[derive(Default)]
pub(super) struct Idle {
    conns: Mutex<Vec<Conn>>,
}

/// One HTTP/1 connection.
struct Conn {
    sender: http1::SendRequest<ProxyBody>,
    /// Bytes read from it so far.
    received: Arc<Received>,
    /// When it was last put in the pool.
    since: Instant,
}

/// Counts a connection's bytes for metrics, and keeps the count of bytes read, which tells
/// whether any byte of a response arrived before a failure.
struct Received {
    metrics: Arc<dyn ByteCounter>,
    bytes: AtomicU64,
}

impl ByteCounter for Received {
    fn read(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        self.metrics.read(n);
    }
    fn wrote(&self, n: u64) {
        self.metrics.wrote(n);
    }
    fn failed(&self, errno: i32) {
        self.metrics.failed(errno);
    }
}

impl Received {
    fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// What follows a failed send on a reused connection.
#[derive(Debug, PartialEq, Eq)]
enum AfterReuse {
    /// Send the request again on a fresh connection.
    Resend,
    /// The server closed under the request, which cannot be sent again.
    Explain(NotReplayable),
    /// Not the keep-alive race: the error goes to the caller as it is.
    Fail,
}

/// Decides on a failure of a request sent on a reused connection: only a failure before any
/// response byte that is not the request's own fault (`caused_by_request`: hyper's user errors,
/// such as the caller's body failing) is the keep-alive race.
fn after_reuse(
    response_started: bool,
    caused_by_request: bool,
    replay: Result<(), NotReplayable>,
) -> AfterReuse {
    if response_started || caused_by_request {
        return AfterReuse::Fail;
    }
    match replay {
        Ok(()) => AfterReuse::Resend,
        Err(why) => AfterReuse::Explain(why),
    }
}

impl Idle {
    /// Sends `req` on an idle connection if there is one, else on a new connection.
    pub(super) async fn send(
        &self,
        to: &Upstream<'_>,
        req: &mut Replayable,
        pools: &Pools,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let (addr, config) = (to.addr, &pools.config);
        let not_replayable = |why| UpstreamError::NotReplayable { addr, why };
        // Each send waits for the app's `100 Continue` itself (extensions are per send).
        let first = hold_body_until_continue(req.next_send().map_err(not_replayable)?);
        let Some(mut conn) = self.take(config) else {
            return self.send_fresh(to, first, pools).await;
        };
        let idle = conn.since.elapsed();
        let before = conn.received.bytes();
        match conn.sender.try_send_request(first).await {
            Ok(resp) => {
                self.recycle(conn, config);
                Ok(resp)
            }
            Err(mut e) => {
                if let Some(unsent) = e.take_message() {
                    // Closed before the request went out: nothing of it was sent.
                    return self.send_fresh(to, unsent, pools).await;
                }
                let source = e.into_error();
                let started = conn.received.bytes() != before;
                match after_reuse(started, source.is_user(), req.can_replay()) {
                    AfterReuse::Resend => {
                        tracing::debug!(%addr, ?idle, "a reused connection closed under a request: sending it again on a fresh one: {source}");
                        let again = req.next_send().map_err(not_replayable)?;
                        let again = hold_body_until_continue(again);
                        self.send_fresh(to, again, pools).await
                    }
                    AfterReuse::Explain(why) => Err(UpstreamError::ReusedConnectionClosed {
                        addr,
                        idle,
                        idle_timeout: config.idle_timeout,
                        why,
                    }),
                    AfterReuse::Fail => Err(UpstreamError::Http { addr, source }),
                }
            }
        }
    }

    async fn send_fresh(
        &self,
        to: &Upstream<'_>,
        req: Request<ProxyBody>,
        pools: &Pools,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let mut conn = Self::connect(to, pools).await?;
        match conn.sender.send_request(req).await {
            Ok(resp) => {
                self.recycle(conn, &pools.config);
                Ok(resp)
            }
            Err(source) => Err(UpstreamError::Http {
                addr: to.addr,
                source,
            }),
        }
    }

    async fn connect(to: &Upstream<'_>, pools: &Pools) -> Result<Conn, UpstreamError> {
        // Counted once open: a refused connect is no opened connection (`tcp_open_total`).
        let tcp = open_tcp(to.addr, &pools.config).await?;
        let received = Arc::new(Received {
            metrics: (to.counter)(),
            bytes: AtomicU64::new(0),
        });
        let tcp = CountingIo::new(tcp, received.clone());
        let io = TokioIo::new(super::secure(tcp, to, &pools.config).await?);
        let (sender, conn) = http1::Builder::new()
            // Response heads up to twice the head limit are read, to be explained.
            .max_buf_size(heads::most(pools.head_limit))
            .handshake(io)
            .await
            .map_err(|source| UpstreamError::Http {
                addr: to.addr,
                source,
            })?;
        spawn_connection(to.addr, conn.with_upgrades(), &pools.panics);
        Ok(Conn {
            sender,
            received,
            since: Instant::now(),
        })
    }

    /// An idle connection ready for a request. Connections whose last response is still being
    /// read stay pooled (they become ready when it ends); closed and expired ones are dropped.
    fn take(&self, config: &ConnectConfig) -> Option<Conn> {
        let mut idle = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let mut i = idle.len();
        while i > 0 {
            i -= 1;
            let conn = &idle[i];
            if conn.sender.is_closed() || conn.since.elapsed() >= config.idle_timeout {
                idle.swap_remove(i);
            } else if conn.sender.is_ready() {
                return Some(idle.swap_remove(i));
            }
        }
        None
    }

    /// Pools the connection right away: it is ready again once its response has been read to the
    /// end, which [`take`](Self::take) checks without waiting (no task per request).
    fn recycle(&self, mut conn: Conn, config: &ConnectConfig) {
        let mut idle = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < config.max_idle_per_endpoint {
            conn.since = Instant::now();
            idle.push(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_keep_alive_race_sends_a_request_again() {
        let held = Ok(());
        let too_large = Err(NotReplayable::BodyTooLarge);
        assert_eq!(after_reuse(false, false, held), AfterReuse::Resend);
        assert_eq!(
            after_reuse(false, false, too_large),
            AfterReuse::Explain(NotReplayable::BodyTooLarge)
        );
        assert_eq!(
            after_reuse(true, false, held),
            AfterReuse::Fail,
            "part of a response arrived: the server saw the request"
        );
        assert_eq!(
            after_reuse(false, true, held),
            AfterReuse::Fail,
            "the request itself failed (its body broke)"
        );
    }
}
