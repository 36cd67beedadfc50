//! The forwarding policy: whether the outbound may send a request where its caller asked.
//!
//! One pure decision per request ([`Policy::decide`]), from the proxy's [`Mode`], what the caller
//! named (a service or an address: [`Named`]), what discovery knows about it, this proxy's own
//! listener addresses ([`OwnListeners`]) and the allow list (`--allow-destination`,
//! [`AllowList`]). It is the explicit-mode column of the "Forwarding policy" table in DESIGN.md:
//!
//! | the caller named | answer |
//! |---|---|
//! | a service discovery knows | forward to its endpoints (on one machine, loopback addresses of other proxies' inbound listeners) |
//! | a service discovery does not know | 503 "no endpoints" |
//! | an address discovery knows as an endpoint | forward |
//! | any other address | 502 "unknown service", unless the allow list matches |
//! | a loopback, link-local or unspecified address | 403, unless an allow rule inside those ranges matches |
//! | one of this proxy's own listeners, or a request carrying its hop marker | 508 loop |
//! | `CONNECT` | as above, and only to an opaque port (`--opaque-ports`) |
//!
//! No answer depends on whether anything listens at the address: the decision is made before any
//! connection, so refusals cannot be used to scan ports.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::LazyLock;

use super::discovery::Endpoint;
use crate::cidr::{Cidr, CidrError};

/// How requests reach the outbound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The app sends to the outbound as to an HTTP proxy (or with the target in `Host`); the
    /// authority it names is all the proxy knows of where the request should go.
    Explicit,
}

/// What the caller named, with what discovery knows about it.
#[derive(Debug, Clone, Copy)]
pub enum Named<'a> {
    /// A service name and port, with the endpoints discovery has for it (none: unknown).
    Service {
        port: u16,
        endpoints: &'a [Endpoint],
    },
    /// An IP address and port the caller wrote itself; `known` when discovery has it as an
    /// endpoint of some service.
    Address { addr: SocketAddr, known: bool },
}

/// Why a request is not forwarded; each becomes one `ProxyError` and one
/// `proxy_refused_total{reason}` count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The destination is this proxy itself, or the request already passed through it.
    Loop(LoopSign),
    /// A service name discovery has no endpoints for.
    UnknownService,
    /// A loopback, link-local or unspecified address the caller wrote (other processes' ports on
    /// this host, the cloud metadata service), not opened by `--allow-destination`.
    LocalAddress,
    /// An address discovery does not know and no allow rule matches.
    UnknownAddress,
    /// `CONNECT` to a port not in `--opaque-ports`.
    TunnelNotOpaque,
}

/// How a loop was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopSign {
    /// The destination is one of this proxy's own listeners.
    OwnListener,
    /// The request carries this proxy's hop marker: it went out and came back.
    HopMarker,
}

/// One of this proxy's listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Inbound,
    Outbound,
    Admin,
}

/// The addresses this proxy listens on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnListeners {
    pub inbound: Option<SocketAddr>,
    pub outbound: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
}

/// The forwarding policy of one proxy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub mode: Mode,
    pub own: OwnListeners,
    pub allow: AllowList,
    /// `--opaque-ports`: the only ports `CONNECT` opens tunnels to.
    pub opaque_ports: Vec<u16>,
}

// === impl Policy ===

impl Policy {
    /// Whether a request for `named` may be forwarded; `tunnel` for `CONNECT`, `marked` when it
    /// carries this proxy's hop marker.
    pub fn decide(&self, named: Named<'_>, tunnel: bool, marked: bool) -> Result<(), Refusal> {
        let Mode::Explicit = self.mode;
        if marked {
            return Err(Refusal::Loop(LoopSign::HopMarker));
        }
        let port = match named {
            Named::Service { port, endpoints } => {
                // A service may have this proxy's inbound as an endpoint (an app calling its own
                // service goes outbound → inbound → app, as in a cluster); its outbound or admin
                // port never (a misconfigured endpoints file or record would loop).
                let loops = endpoints.iter().any(|e| {
                    matches!(
                        self.own.reached_by(e.addr),
                        Some(Listener::Outbound | Listener::Admin)
                    )
                });
                if loops {
                    return Err(Refusal::Loop(LoopSign::OwnListener));
                }
                if endpoints.is_empty() {
                    return Err(Refusal::UnknownService);
                }
                port
            }
            Named::Address { addr, known } => {
                if self.own.reached_by(addr).is_some() {
                    return Err(Refusal::Loop(LoopSign::OwnListener));
                }
                if is_local(addr.ip()) {
                    if !self.allow.opens_local(addr) {
                        return Err(Refusal::LocalAddress);
                    }
                } else if !known && !self.allow.matches(addr) {
                    return Err(Refusal::UnknownAddress);
                }
                addr.port()
            }
        };
        if tunnel && !self.opaque_ports.contains(&port) {
            return Err(Refusal::TunnelNotOpaque);
        }
        Ok(())
    }
}

// === impl OwnListeners ===

impl OwnListeners {
    /// Which of these listeners a connection to `dst` would reach. A listener on an unspecified
    /// address (`0.0.0.0`, `[::]`) is reached through loopback and through every address of this
    /// host's (the pod's) interfaces, which are looked up only when the port is one of ours.
    pub fn reached_by(&self, dst: SocketAddr) -> Option<Listener> {
        [
            (self.outbound, Listener::Outbound),
            (self.admin, Listener::Admin),
            (self.inbound, Listener::Inbound),
        ]
        .into_iter()
        .find_map(|(addr, which)| addr.filter(|a| reaches(dst, *a)).map(|_| which))
    }
}

/// Whether connecting to `dst` reaches a socket listening on `listener`.
fn reaches(dst: SocketAddr, listener: SocketAddr) -> bool {
    if dst.port() != listener.port() {
        return false;
    }
    let (dst, own) = (dst.ip().to_canonical(), listener.ip().to_canonical());
    // Connecting to 0.0.0.0 or [::] reaches this host.
    let this_host = |ip: IpAddr| ip.is_loopback() || ip.is_unspecified();
    dst == own
        || (dst.is_unspecified() && this_host(own))
        || (own.is_unspecified() && crate::capture::is_host_address(dst))
}

/// Loopback (`127.0.0.0/8`, `::1`), link-local (`169.254.0.0/16`, `fe80::/10`) or unspecified
/// (`0.0.0.0`, `::`, which connect to this host); IPv4-mapped IPv6 addresses count as their IPv4.
pub fn is_local(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// The ranges [`is_local`] covers (but the unspecified addresses, which no rule's network is).
static LOCAL_RANGES: LazyLock<Vec<Cidr>> = LazyLock::new(|| {
    ["127.0.0.0/8", "169.254.0.0/16", "::1/128", "fe80::/10"]
        .iter()
        .filter_map(|net| net.parse().ok())
        .collect()
});

/// `--allow-destination` rules: addresses the outbound forwards to although discovery does not
/// know them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(pub Vec<AllowRule>);

impl AllowList {
    /// Whether some rule matches `addr`.
    pub fn matches(&self, addr: SocketAddr) -> bool {
        self.0.iter().any(|r| r.matches(addr))
    }

    /// Whether some rule that lies inside the loopback or link-local ranges matches `addr`: a
    /// broad rule (`0.0.0.0/0`) opens unknown remote addresses, never this host's ports.
    pub fn opens_local(&self, addr: SocketAddr) -> bool {
        self.0.iter().any(|r| r.is_local() && r.matches(addr))
    }
}

/// One `--allow-destination` rule: `CIDR[:PORT[-PORT]]`, e.g. `10.0.0.0/8`, `10.1.2.3:5432`,
/// `127.0.0.1/32:8000-8099`, `[fd00::/8]:443`. A bare address is a single host; without a port
/// every port matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowRule {
    net: Cidr,
    /// Inclusive port range; `None`: every port.
    ports: Option<(u16, u16)>,
}

impl AllowRule {
    /// Whether `addr` is inside the rule (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn matches(&self, addr: SocketAddr) -> bool {
        self.net.contains(addr.ip().to_canonical())
            && self
                .ports
                .is_none_or(|(lo, hi)| (lo..=hi).contains(&addr.port()))
    }

    /// Whether the whole rule lies inside one of the loopback or link-local ranges.
    fn is_local(&self) -> bool {
        LOCAL_RANGES.iter().any(|local| self.net.is_within(local))
    }
}

/// Why an `--allow-destination` rule does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{rule:?}: {why} (expected CIDR[:PORT[-PORT]], e.g. 10.0.0.0/8, 10.1.2.3:5432, [fd00::/8]:443)"
)]
pub struct AllowRuleError {
    rule: String,
    why: String,
}

impl FromStr for AllowRule {
    type Err = AllowRuleError;

    fn from_str(s: &str) -> Result<Self, AllowRuleError> {
        let fail = |why: String| AllowRuleError {
            rule: s.to_string(),
            why,
        };
        // Split into the network and the ports; IPv6 with ports needs brackets.
        let (net, ports) = if let Some(rest) = s.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| fail("a '[' without its ']'".into()))?;
            match after.strip_prefix(':') {
                Some(ports) => (inside, Some(ports)),
                None if after.is_empty() => (inside, None),
                None => return Err(fail(format!("unexpected {after:?} after ']'"))),
            }
        } else if let Some((addr, rest)) = s.split_once('/') {
            match rest.split_once(':') {
                Some((prefix, ports)) => (&s[..addr.len() + 1 + prefix.len()], Some(ports)),
                None => (s, None),
            }
        } else if s.parse::<IpAddr>().is_ok() {
            (s, None)
        } else {
            match s.rsplit_once(':') {
                Some((addr, ports)) => (addr, Some(ports)),
                None => (s, None),
            }
        };
        let net: Cidr = net.parse().map_err(|e: CidrError| fail(e.to_string()))?;
        let ports = ports
            .map(parse_ports)
            .transpose()
            .map_err(|e| fail(e.to_string()))?;
        Ok(AllowRule { net, ports })
    }
}

/// Why the ports of an allow rule do not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum PortsError {
    #[error("the port {0:?} is not a number from 1 to 65535")]
    NotAPort(String),
    #[error("the port range {0:?} is empty")]
    Empty(String),
}

/// `PORT` or `LOW-HIGH`, each 1 to 65535.
fn parse_ports(s: &str) -> Result<(u16, u16), PortsError> {
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| PortsError::NotAPort(p.to_string()))
    };
    let (lo, hi) = match s.split_once('-') {
        Some((lo, hi)) => (port(lo)?, port(hi)?),
        None => (port(s)?, port(s)?),
    };
    if lo > hi {
        return Err(PortsError::Empty(s.to_string()));
    }
    Ok((lo, hi))
}

impl fmt::Display for AllowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ports {
            Some(_) if !self.net.is_ipv4() => write!(f, "[{}]", self.net)?,
            _ => write!(f, "{}", self.net)?,
        }
        match self.ports {
            Some((lo, hi)) if lo == hi => write!(f, ":{lo}"),
            Some((lo, hi)) => write!(f, ":{lo}-{hi}"),
            None => Ok(()),
        }
    }
}

mod original;
#[cfg(test)]
mod tests;
