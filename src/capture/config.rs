//! What `mesh init` captures: the proxy's ports and user, and the ports and subnets that skip the
//! proxy. Parsed and normalised here once, so every backend renders the same decisions.

use std::fmt;
use std::str::FromStr;

/// The proxy's uid when neither `--proxy-uid` nor `--proxy-gid` is given: Linkerd's (2102), so a
/// pod injected the Linkerd way needs no flag.
pub const DEFAULT_PROXY_UID: u32 = 2102;

/// The inputs of the rule set, as `mesh init`'s flags give them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    /// Where inbound connections are redirected: the proxy's inbound listener (4143).
    pub inbound_port: u16,
    /// Where outbound connections are redirected: the proxy's outbound listener (4140).
    pub outbound_port: u16,
    /// The proxy's other inbound ports, never redirected (the admin port, 4191): a probe or a
    /// Prometheus scrape reaches the proxy itself.
    pub proxy_ports: Vec<u16>,
    /// Connections opened by this uid are the proxy's own and never redirected.
    pub proxy_uid: Option<u32>,
    /// Connections opened by this gid are the proxy's own and never redirected.
    pub proxy_gid: Option<u32>,
    /// Inbound destination ports that reach the app directly.
    pub skip_inbound_ports: PortSet,
    /// Outbound destination ports that leave the pod directly.
    pub skip_outbound_ports: PortSet,
    /// Inbound connections from these sources reach the app directly.
    pub skip_inbound_subnets: Vec<Subnet>,
    /// Outbound connections to these destinations leave the pod directly.
    pub skip_outbound_subnets: Vec<Subnet>,
}

/// An inclusive range of TCP ports (one port: `lo == hi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    /// One port.
    pub fn single(port: u16) -> Self {
        PortRange { lo: port, hi: port }
    }
}

/// A port or a range, as Linkerd's `skip-*-ports` write them: `2888`, `4000-4100`.
impl FromStr for PortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let port = |p: &str| match p.trim().parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("{s:?} is not a port (1-65535) or a range LO-HI")),
            Ok(n) => Ok(n),
        };
        let range = match s.split_once('-') {
            Some((lo, hi)) => PortRange {
                lo: port(lo)?,
                hi: port(hi)?,
            },
            None => PortRange::single(port(s)?),
        };
        if range.lo > range.hi {
            return Err(format!("{s:?}: the range's first port is above its last"));
        }
        Ok(range)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// Ports and ranges, sorted, with overlapping and adjacent ranges merged: nftables refuses a set
/// whose intervals overlap, and a merged set renders the same whatever order the flags came in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortSet(Vec<PortRange>);

impl PortSet {
    /// The set of `ranges`, merged.
    pub fn new(mut ranges: Vec<PortRange>) -> Self {
        ranges.sort();
        let mut merged: Vec<PortRange> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match merged.last_mut() {
                Some(last) if u32::from(r.lo) <= u32::from(last.hi) + 1 => {
                    last.hi = last.hi.max(r.hi);
                }
                _ => merged.push(r),
            }
        }
        PortSet(merged)
    }

    /// The merged ranges, lowest first.
    pub fn ranges(&self) -> &[PortRange] {
        &self.0
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A network whose connections skip the proxy (`--skip-inbound-subnets`, `--skip-outbound-subnets`).
pub type Subnet = crate::cidr::Cidr;

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(s: &[&str]) -> Vec<String> {
        let set = PortSet::new(s.iter().map(|p| p.parse().unwrap()).collect());
        set.ranges().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn port_sets_merge_overlapping_and_adjacent_ranges_in_any_order() {
        assert_eq!(
            ports(&["3888", "2888", "2880-2890", "2891", "9000-9001"]),
            ["2880-2891", "3888", "9000-9001"]
        );
        assert_eq!(ports(&["65535", "65534"]), ["65534-65535"]);
    }

    #[test]
    fn bad_ports_and_ranges_are_named() {
        for (input, why) in [
            ("0", "is not a port"),
            ("70000", "is not a port"),
            ("http", "is not a port"),
            ("4000-3000", "first port is above its last"),
            ("1-", "is not a port"),
        ] {
            let err = input.parse::<PortRange>().unwrap_err();
            assert!(err.contains(input) && err.contains(why), "{input}: {err}");
        }
    }

    #[test]
    fn subnets_parse_both_families_and_refuse_host_bits() {
        assert_eq!(
            "10.0.0.0/8".parse::<Subnet>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            "fd00::/8".parse::<Subnet>().unwrap().to_string(),
            "fd00::/8"
        );
        assert_eq!(
            "10.1.2.3".parse::<Subnet>().unwrap().to_string(),
            "10.1.2.3/32"
        );
        assert_eq!("0.0.0.0/0".parse::<Subnet>().unwrap().prefix(), 0);
        let err = "10.1.2.3/8".parse::<Subnet>().unwrap_err().to_string();
        assert!(
            err.contains("host bits") && err.contains("10.0.0.0/8"),
            "{err}"
        );
        let err = "10.0.0.0/33".parse::<Subnet>().unwrap_err().to_string();
        assert!(err.contains("0 to 32"), "{err}");
        assert!("fd00::/129".parse::<Subnet>().is_err());
        assert!("pods".parse::<Subnet>().is_err());
    }
}
