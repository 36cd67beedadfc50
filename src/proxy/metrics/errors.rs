//! `inbound_http_errors_total{error}` and `outbound_http_errors_total{error}`: the requests the
//! proxy answered itself, by a closed set of reasons ([`ErrorReason`]), as linkerd2-proxy counts
//! its own errors. Every response built by the rescue point (`respond::rescue`) is counted here,
//! whether or not the request was also counted in `response_total` (a request refused before its
//! route was known never is). Every reason is rendered from the start (at 0), so a rate can be
//! alerted on before the first error.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use super::labels::{push_label, Direction, ErrorReason};

/// Counts per direction and reason.
#[derive(Debug, Default)]
pub struct ProxyErrors {
    inbound: [AtomicU64; ErrorReason::ALL.len()],
    outbound: [AtomicU64; ErrorReason::ALL.len()],
}

impl ProxyErrors {
    /// Counts one error response.
    pub fn count(&self, direction: Direction, reason: ErrorReason) {
        self.of(direction)[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The count of `reason` in `direction` now.
    pub fn get(&self, direction: Direction, reason: ErrorReason) -> u64 {
        self.of(direction)[reason as usize].load(Ordering::Relaxed)
    }

    fn of(&self, direction: Direction) -> &[AtomicU64; ErrorReason::ALL.len()] {
        match direction {
            Direction::Inbound => &self.inbound,
            Direction::Outbound => &self.outbound,
        }
    }

    /// Appends both families to `out`; `own` are the proxy's own labels.
    pub fn render(&self, out: &mut String, own: &str) {
        for direction in [Direction::Inbound, Direction::Outbound] {
            let name = match direction {
                Direction::Inbound => "inbound_http_errors_total",
                Direction::Outbound => "outbound_http_errors_total",
            };
            let _ = writeln!(
                out,
                "# HELP {name} The total number of {} HTTP requests the proxy answered itself (mesh-proxy-error), by error.\n# TYPE {name} counter",
                direction.as_str()
            );
            for reason in ErrorReason::ALL {
                let mut labels = own.to_string();
                push_label(&mut labels, "error", reason.as_str());
                let _ = writeln!(out, "{name}{{{labels}}} {}", self.get(direction, reason));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_rendered_per_direction_from_zero() {
        let errors = ProxyErrors::default();
        errors.count(Direction::Outbound, ErrorReason::NoEndpoints);
        let mut out = String::new();
        errors.render(&mut out, r#"namespace="emojivoto""#);
        assert!(out.contains(
            "outbound_http_errors_total{namespace=\"emojivoto\",error=\"no endpoints\"} 1\n"
        ));
        assert!(out.contains(
            "inbound_http_errors_total{namespace=\"emojivoto\",error=\"no endpoints\"} 0\n"
        ));
        let samples = out.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples, 2 * ErrorReason::ALL.len());
        // The enum's order is the index: `ALL` lists every variant in it.
        for (i, reason) in ErrorReason::ALL.into_iter().enumerate() {
            assert_eq!(reason as usize, i);
        }
    }
}
