//! A TCP connection whose series is known only later: an inbound connection is accepted before
//! its first bytes say whether it is mutual TLS, and so which `tls` and `client_id` label it.
//! Its bytes (the ClientHello included) are held in counters of its own until [`PendingTcp::settle`]
//! names the series, and then moved there; the connection counts as opened from then. One never
//! settled (closed during detection) is counted under its default labels when dropped.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::{Metrics, TcpConnection, TcpLabels};

/// See the module docs.
pub struct PendingTcp {
    metrics: Arc<Metrics>,
    /// The labels of [`settle_default`](Self::settle_default).
    default: TcpLabels,
    settled: OnceLock<TcpConnection>,
    read: AtomicU64,
    wrote: AtomicU64,
    errno: AtomicI32,
}

impl PendingTcp {
    /// A connection of `metrics`, counted under `default` unless settled otherwise.
    pub fn new(metrics: Arc<Metrics>, default: TcpLabels) -> PendingTcp {
        PendingTcp {
            metrics,
            default,
            settled: OnceLock::new(),
            read: AtomicU64::new(0),
            wrote: AtomicU64::new(0),
            errno: AtomicI32::new(0),
        }
    }

    /// Counts the connection under `labels` (the first call wins), with the bytes seen so far.
    /// Called by the task that polls the connection, between its reads, so no byte is counted
    /// twice or lost.
    pub fn settle(&self, labels: TcpLabels) {
        self.settled.get_or_init(|| {
            let conn = self.metrics.tcp_open(labels);
            conn.read(self.read.swap(0, Ordering::Relaxed));
            conn.wrote(self.wrote.swap(0, Ordering::Relaxed));
            match self.errno.load(Ordering::Relaxed) {
                0 => {}
                errno => conn.failed(errno),
            }
            conn
        });
    }

    /// [`settle`](Self::settle) under the default labels.
    pub fn settle_default(&self) {
        if self.settled.get().is_none() {
            self.settle(self.default.clone());
        }
    }

    /// Counts bytes read from the peer.
    pub fn read(&self, n: u64) {
        match self.settled.get() {
            Some(conn) => conn.read(n),
            None => {
                self.read.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Counts bytes written to the peer.
    pub fn wrote(&self, n: u64) {
        match self.settled.get() {
            Some(conn) => conn.wrote(n),
            None => {
                self.wrote.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Notes a failed read or write (`tcp_close_total{errno}`).
    pub fn failed(&self, errno: i32) {
        match self.settled.get() {
            Some(conn) => conn.failed(errno),
            None => {
                let _ = self
                    .errno
                    .compare_exchange(0, errno, Ordering::Relaxed, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for PendingTcp {
    fn drop(&mut self) {
        // Counted opened (and, as the settled connection drops right after, closed).
        self.settle_default();
    }
}
