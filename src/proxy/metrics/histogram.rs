//! A latency histogram with Linkerd's buckets, updated with atomics only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use crate::admin_api::stats::LATENCY_BOUNDS_MS;

/// Buckets: one per bound, plus `+Inf`.
pub const BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// Latency histogram: per-bucket counts (not cumulative) and the sum in microseconds.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    sum_us: AtomicU64,
}

/// A copy of a histogram's counts at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistogramSnapshot {
    pub buckets: [u64; BUCKETS],
    pub sum_us: u64,
}

impl Default for HistogramSnapshot {
    fn default() -> Self {
        HistogramSnapshot {
            buckets: [0; BUCKETS],
            sum_us: 0,
        }
    }
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        // A latency of exactly 1ms belongs in `le="1"`, as Prometheus buckets are inclusive.
        let i = LATENCY_BOUNDS_MS
            .iter()
            .position(|&b| us <= b * 1000)
            .unwrap_or(BUCKETS - 1);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The current counts.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut s = HistogramSnapshot {
            buckets: [0; BUCKETS],
            sum_us: self.sum_us.load(Ordering::Relaxed),
        };
        for (d, b) in s.buckets.iter_mut().zip(&self.buckets) {
            *d = b.load(Ordering::Relaxed);
        }
        s
    }
}

impl HistogramSnapshot {
    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// Adds another snapshot's counts to this one.
    pub fn add(&mut self, other: &HistogramSnapshot) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.sum_us += other.sum_us;
    }

    /// The increase since `earlier` (saturating: counters never go down).
    pub fn since(&self, earlier: &HistogramSnapshot) -> HistogramSnapshot {
        let mut d = *self;
        for (a, b) in d.buckets.iter_mut().zip(&earlier.buckets) {
            *a = a.saturating_sub(*b);
        }
        d.sum_us = d.sum_us.saturating_sub(earlier.sum_us);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_are_inclusive() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(1000));
        h.observe(Duration::from_micros(1001));
        h.observe(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.buckets[0], 1);
        assert_eq!(s.buckets[1], 1);
        assert_eq!(s.buckets[BUCKETS - 1], 1);
        assert_eq!(s.count(), 3);
        assert_eq!(s.sum_us, 60_002_001);
    }
}
