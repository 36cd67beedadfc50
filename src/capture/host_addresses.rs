//! Whether an address belongs to this network namespace (the pod's IPs), for the proxy's loop
//! check: a listener on `0.0.0.0`/`[::]` is reached through every address of the pod, and under
//! capture a caller can name any of them (`10.1.2.3:4140` from outside the pod would otherwise
//! turn the outbound proxy into an open relay through the inbound).

use std::net::IpAddr;

/// Whether `ip` is an address of one of this namespace's interfaces (`getifaddrs(3)`). Loopback and
/// unspecified addresses count as this host too. When the interfaces cannot be listed the answer is
/// `true`: refusing a rare connection beats relaying one in a loop or for a stranger.
pub fn is_host_address(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    if ip.is_loopback() || ip.is_unspecified() {
        return true;
    }
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        return true;
    };
    interfaces
        .filter_map(|interface| interface.address)
        .any(|address| {
            let found = if let Some(v4) = address.as_sockaddr_in() {
                IpAddr::V4(v4.ip())
            } else if let Some(v6) = address.as_sockaddr_in6() {
                IpAddr::V6(v6.ip())
            } else {
                return false;
            };
            found == ip
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_this_host_and_a_documentation_address_is_not() {
        assert!(is_host_address("127.0.0.1".parse().unwrap()));
        assert!(is_host_address("::ffff:127.0.0.1".parse().unwrap()));
        assert!(is_host_address("0.0.0.0".parse().unwrap()));
        // TEST-NET-3 (RFC 5737) is assigned to no interface.
        assert!(!is_host_address("203.0.113.77".parse().unwrap()));
    }
}
