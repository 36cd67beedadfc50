//! `proxy_refused_total{direction, reason}`: requests the forwarding policy refused, by the
//! direction of the connection they came on and a closed set of reasons. Every reason is rendered
//! from the start (at 0) in each direction it can happen in, so a rate of loops or of refused
//! local addresses can be alerted on before the first one.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use super::labels::{push_label, Direction};

/// Why a request was refused (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The destination was one of this proxy's own listeners: outbound (508), or, under capture,
    /// inbound (a caller outside the pod naming the outbound port; closed).
    LoopListener,
    /// Outbound: the request carried this proxy's `mesh-hop` marker (508).
    LoopHop,
    /// Outbound: a loopback, link-local or unspecified address the caller wrote (403).
    LocalAddress,
    /// Outbound: an address discovery does not know and no allow rule matches (502).
    UnknownAddress,
    /// Outbound: a service name discovery has no endpoints for (503).
    UnknownService,
    /// Outbound: `CONNECT` to a port not in `--opaque-ports` (403).
    TunnelNotOpaque,
    /// Inbound: with several app ports, a request naming none of the workload's service ports
    /// (421), or a non-HTTP connection, which names no port at all (closed).
    NoAppPort,
    /// Inbound: plaintext to a port that requires mutual TLS (`--require-identity`; 403).
    IdentityRequired,
}

impl Refused {
    /// Every reason, in the order rendered.
    pub const ALL: [Refused; 8] = [
        Refused::LoopListener,
        Refused::LoopHop,
        Refused::LocalAddress,
        Refused::UnknownAddress,
        Refused::UnknownService,
        Refused::TunnelNotOpaque,
        Refused::NoAppPort,
        Refused::IdentityRequired,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::LoopListener => "loop_own_listener",
            Refused::LoopHop => "loop_hop_marker",
            Refused::LocalAddress => "local_address",
            Refused::UnknownAddress => "unknown_address",
            Refused::UnknownService => "unknown_service",
            Refused::TunnelNotOpaque => "connect_not_opaque",
            Refused::NoAppPort => "no_app_port",
            Refused::IdentityRequired => "identity_required",
        }
    }

    /// Whether this reason can happen on connections of `direction`: rendered there at 0 from
    /// the start (any count that happens elsewhere is rendered too).
    pub fn happens_in(self, direction: Direction) -> bool {
        match self {
            Refused::NoAppPort | Refused::IdentityRequired => direction == Direction::Inbound,
            Refused::LoopListener => true,
            _ => direction == Direction::Outbound,
        }
    }

    fn index(self) -> usize {
        Refused::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// Counts per direction and reason.
#[derive(Debug, Default)]
pub struct Refusals([[AtomicU64; Refused::ALL.len()]; 2]);

impl Refusals {
    /// Counts one refusal on a connection of `direction`.
    pub fn count(&self, direction: Direction, reason: Refused) {
        self.0[direction_index(direction)][reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The count of `reason` in `direction` now.
    pub fn get(&self, direction: Direction, reason: Refused) -> u64 {
        self.0[direction_index(direction)][reason.index()].load(Ordering::Relaxed)
    }

    /// Appends the family to `out`; `own` are the proxy's own labels.
    pub fn render(&self, out: &mut String, own: &str) {
        let name = "proxy_refused_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests the forwarding policy refused (loops, local or unknown destinations, tunnels to non-opaque ports, no app port), by reason.\n# TYPE {name} counter"
        );
        for direction in [Direction::Inbound, Direction::Outbound] {
            for reason in Refused::ALL {
                let n = self.get(direction, reason);
                if n == 0 && !reason.happens_in(direction) {
                    continue;
                }
                let mut labels = own.to_string();
                push_label(&mut labels, "direction", direction.as_str());
                push_label(&mut labels, "reason", reason.as_str());
                let _ = writeln!(out, "{name}{{{labels}}} {n}");
            }
        }
    }
}

/// Where `direction`'s counts are kept.
pub(super) fn direction_index(direction: Direction) -> usize {
    match direction {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
    }
}
