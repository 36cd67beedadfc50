//! An IP network in CIDR notation (`10.0.0.0/8`, `fd00::/8`; a bare address is a /32 or /128), as
//! `mesh init`'s skip subnets and `mesh proxy --allow-destination` take it.
//!
//! Parsing is strict where a typo would silently change which addresses a rule covers: host bits
//! beyond the prefix (`10.1.2.3/8`) and IPv4-mapped IPv6 networks (`::ffff:10.0.0.0/104`, which
//! the kernel's IPv4 rules never see) are refused, each naming the network meant.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IPv4 or IPv6 network with no host bits set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

/// Why a CIDR does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// Several networks in one value, separated by something other than a comma (`a;b`, `a b`).
    #[error("{0:?} holds several networks: separate CIDRs with commas (10.0.0.0/8,fd00::/8)")]
    List(String),
    /// The part before `/` is not an IP address.
    #[error("{0:?} is not an IP address (a CIDR reads 10.0.0.0/8 or fd00::/8)")]
    NotAnAddress(String),
    /// An IPv4-mapped IPv6 address, which IPv4 rules never see.
    #[error("{given} is an IPv4-mapped address: write the IPv4 form, {canonical}")]
    Ipv4Mapped {
        /// The address as written.
        given: IpAddr,
        /// Its IPv4 form.
        canonical: IpAddr,
    },
    /// The prefix length is not a number within the family's width.
    #[error("the prefix length {given:?} is not 0 to {max}")]
    Prefix {
        /// The prefix as written.
        given: String,
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },
    /// Bits beyond the prefix are set.
    #[error("{given}/{prefix} has host bits set: the network is {network}/{prefix}")]
    HostBits {
        /// The address as written.
        given: IpAddr,
        /// The prefix length.
        prefix: u8,
        /// The address with its host bits cleared.
        network: IpAddr,
    },
}

impl Cidr {
    /// The network address (host bits clear).
    pub fn addr(&self) -> IpAddr {
        self.net
    }

    /// The prefix length: 0-32 for IPv4, 0-128 for IPv6.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether this is an IPv4 network.
    pub fn is_ipv4(&self) -> bool {
        self.net.is_ipv4()
    }

    /// Whether `ip` is inside the network; an address of the other family never is (callers
    /// that accept IPv4-mapped IPv6 addresses pass `ip.to_canonical()`).
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.net.is_ipv4() && masked(ip, self.prefix) == self.net
    }

    /// `nets` without duplicates and without networks inside another of the list (each rule
    /// would only repeat a wider one), in the order each kept network was first given.
    pub fn merged(nets: Vec<Cidr>) -> Vec<Cidr> {
        let mut kept: Vec<Cidr> = Vec::with_capacity(nets.len());
        for net in nets {
            if kept.iter().any(|k| net.is_within(k)) {
                continue;
            }
            // A wider network given later takes the place of the first narrower one: the
            // networks before that one are none of its, so its index survives the removal.
            let first = kept.iter().position(|k| k.is_within(&net));
            kept.retain(|k| !k.is_within(&net));
            kept.insert(first.unwrap_or(kept.len()), net);
        }
        kept
    }

    /// Whether every address of this network is inside `other`.
    pub fn is_within(&self, other: &Cidr) -> bool {
        self.prefix >= other.prefix && other.contains(self.net)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, CidrError> {
        // A list separated the wrong way would otherwise read as a bad prefix or address.
        if s.trim().contains([';', ' ', '\t', '|']) {
            return Err(CidrError::List(s.to_string()));
        }
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| CidrError::NotAnAddress(addr.to_string()))?;
        if net.to_canonical() != net {
            return Err(CidrError::Ipv4Mapped {
                given: net,
                canonical: net.to_canonical(),
            });
        }
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => {
                p.parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(|| CidrError::Prefix {
                        given: p.to_string(),
                        max,
                    })?
            }
        };
        let network = masked(net, prefix);
        if network != net {
            return Err(CidrError::HostBits {
                given: net,
                prefix,
                network,
            });
        }
        Ok(Cidr { net, prefix })
    }
}

impl fmt::Display for Cidr {
    /// `10.0.0.0/8`, `fd00::/8`: the form iptables and nft read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// `addr` with the bits beyond `prefix` cleared.
fn masked(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(ip) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from((u32::from(ip) & mask).to_be_bytes())
        }
        IpAddr::V6(ip) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from((u128::from(ip) & mask).to_be_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_networks_and_bare_addresses_and_refuses_typos() {
        let read = |s: &str| s.parse::<Cidr>().map(|c| c.to_string());
        assert_eq!(read("10.0.0.0/8").unwrap(), "10.0.0.0/8");
        assert_eq!(read(" fd00::/8").unwrap(), "fd00::/8");
        assert_eq!(read("10.1.2.3").unwrap(), "10.1.2.3/32");
        assert_eq!(read("::1").unwrap(), "::1/128");
        assert_eq!(read("0.0.0.0/0").unwrap(), "0.0.0.0/0");
        let err = |s: &str| read(s).unwrap_err().to_string();
        assert_eq!(
            err("10.1.2.3/8"),
            "10.1.2.3/8 has host bits set: the network is 10.0.0.0/8"
        );
        assert_eq!(
            err("10.0.0.0/33"),
            "the prefix length \"33\" is not 0 to 32"
        );
        assert!(err("fd00::/129").contains("0 to 128"));
        assert!(err("pods").contains("\"pods\" is not an IP address"));
        assert!(err("::ffff:10.0.0.0/104").contains("write the IPv4 form, 10.0.0.0"));
        for list in ["10.0.0.0/8;192.168.0.0/16", "10.0.0.0/8 192.168.0.0/16"] {
            assert!(err(list).contains("separate CIDRs with commas"), "{list}");
        }
    }

    #[test]
    fn a_list_keeps_only_the_widest_of_overlapping_networks_in_first_seen_order() {
        let list = |s: &str| -> Vec<String> {
            let nets = s.split(',').map(|c| c.parse().unwrap()).collect();
            Cidr::merged(nets).iter().map(Cidr::to_string).collect()
        };
        assert_eq!(
            list("10.1.0.0/16,fd00::/8,10.0.0.0/8,10.0.0.0/8,192.168.0.0/16,fd00:1::/32"),
            ["10.0.0.0/8", "fd00::/8", "192.168.0.0/16"]
        );
        assert_eq!(list("10.0.0.1,10.0.0.2"), ["10.0.0.1/32", "10.0.0.2/32"]);
    }

    #[test]
    fn contains_only_its_own_family_and_range() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.255.0.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(!net.contains("::ffff:10.0.0.1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("192.0.2.1".parse().unwrap()));
        assert!(!all.contains("::1".parse().unwrap()));
        let host: Cidr = "10.1.2.3".parse().unwrap();
        assert!(host.is_within(&net) && !net.is_within(&host));
    }
}
