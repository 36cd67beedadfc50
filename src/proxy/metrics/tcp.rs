//! TCP series: connections opened and closed (clean, or by the OS error that ended them) and
//! bytes each way. A connection's handle counts its bytes with relaxed atomic adds and its close
//! when dropped.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counters of one TCP series.
#[derive(Default)]
pub(super) struct TcpSeries {
    opened: AtomicU64,
    closed: AtomicU64,
    read: AtomicU64,
    wrote: AtomicU64,
    /// Closes after an OS error, by errno (of the closed set the OS has); locked once per
    /// failed connection, never per byte.
    close_errors: Mutex<Vec<(i32, u64)>>,
}

/// One TCP series' counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpSnapshot {
    pub opened: u64,
    /// Every close, clean or not.
    pub closed: u64,
    pub read: u64,
    pub wrote: u64,
    /// The closes after an OS error, by errno, ascending (the rest of `closed` were clean).
    pub close_errors: Vec<(i32, u64)>,
}

/// An open TCP connection's counters; dropping it counts the connection closed, under the
/// first OS error its reads and writes met, if any.
pub struct TcpConnection {
    series: Arc<TcpSeries>,
    /// The first errno seen; 0 while none.
    errno: AtomicI32,
}

// === impl TcpSeries ===

impl TcpSeries {
    /// A copy of the counters now.
    pub(super) fn snapshot(&self) -> TcpSnapshot {
        // Under the lock a failed close takes, so `closed` covers every failed one.
        let (closed, mut close_errors) = {
            let errors = self.close_errors.lock().unwrap_or_else(|e| e.into_inner());
            (self.closed.load(Ordering::Relaxed), errors.clone())
        };
        close_errors.sort_unstable();
        TcpSnapshot {
            opened: self.opened.load(Ordering::Relaxed),
            closed,
            read: self.read.load(Ordering::Relaxed),
            wrote: self.wrote.load(Ordering::Relaxed),
            close_errors,
        }
    }
}

// === impl TcpConnection ===

impl TcpConnection {
    /// Counts a connection opened in `series`.
    pub(super) fn open(series: Arc<TcpSeries>) -> TcpConnection {
        series.opened.fetch_add(1, Ordering::Relaxed);
        TcpConnection {
            series,
            errno: AtomicI32::new(0),
        }
    }

    /// Counts bytes read from the peer.
    pub fn read(&self, n: u64) {
        self.series.read.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts bytes written to the peer.
    pub fn wrote(&self, n: u64) {
        self.series.wrote.fetch_add(n, Ordering::Relaxed);
    }

    /// Notes that a read or write failed with OS error `errno`; the first one names the close.
    pub fn failed(&self, errno: i32) {
        let _ = self
            .errno
            .compare_exchange(0, errno, Ordering::Relaxed, Ordering::Relaxed);
    }
}

impl Drop for TcpConnection {
    fn drop(&mut self) {
        let errno = self.errno.load(Ordering::Relaxed);
        if errno == 0 {
            self.series.closed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut errors = self
            .series
            .close_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match errors.iter_mut().find(|(e, _)| *e == errno) {
            Some((_, n)) => *n += 1,
            None => errors.push((errno, 1)),
        }
        self.series.closed.fetch_add(1, Ordering::Relaxed);
    }
}
