//! The transparent-capture column of DESIGN.md's "Forwarding policy" table: where a connection
//! the capture rules redirected may go on to when no known service claims it.

use std::net::SocketAddr;

use super::{is_local, LoopSign, Policy, Refusal};

impl Policy {
    /// Whether a captured request or connection may go on to its original destination `addr`
    /// (`marked` when it carries this proxy's hop marker). Unlike explicit mode, an address
    /// discovery does not know is fine: the app connected there itself, and the proxy only
    /// passes it on (counted with `dst_*` = the address). Still refused: a loop (one of this
    /// proxy's own listeners, or the hop marker) and link-local addresses (the cloud metadata
    /// service) unless `--allow-destination` opens them; loopback never arrives here, as the
    /// rules exempt it.
    pub fn decide_original(&self, addr: SocketAddr, marked: bool) -> Result<(), Refusal> {
        if marked {
            return Err(Refusal::Loop(LoopSign::HopMarker));
        }
        if self.own.reached_by(addr).is_some() {
            return Err(Refusal::Loop(LoopSign::OwnListener));
        }
        if is_local(addr.ip()) && !self.allow.opens_local(addr) {
            return Err(Refusal::LocalAddress);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AllowList, Mode, OwnListeners};
    use super::*;

    fn policy(allow: &[&str]) -> Policy {
        Policy {
            mode: Mode::Explicit,
            own: OwnListeners {
                inbound: Some("[::]:4143".parse().unwrap()),
                outbound: Some("[::]:4140".parse().unwrap()),
                admin: Some("127.0.0.1:4191".parse().unwrap()),
            },
            allow: AllowList(allow.iter().map(|r| r.parse().unwrap()).collect()),
            opaque_ports: vec![],
        }
    }

    #[test]
    fn unknown_addresses_go_on_loops_and_link_local_do_not() {
        let p = policy(&[]);
        let decide = |a: &str, marked| p.decide_original(a.parse().unwrap(), marked);
        assert_eq!(decide("10.77.0.2:8080", false), Ok(()));
        assert_eq!(decide("[fd77::2]:8080", false), Ok(()));
        assert_eq!(
            decide("10.77.0.2:8080", true),
            Err(Refusal::Loop(LoopSign::HopMarker))
        );
        assert_eq!(
            decide("127.0.0.1:4140", false),
            Err(Refusal::Loop(LoopSign::OwnListener))
        );
        assert_eq!(
            decide("169.254.169.254:80", false),
            Err(Refusal::LocalAddress)
        );
        let open = policy(&["169.254.169.254/32:80"]);
        assert_eq!(
            open.decide_original("169.254.169.254:80".parse().unwrap(), false),
            Ok(())
        );
    }
}
