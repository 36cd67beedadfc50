//! The capture rule set, independent of the backend that installs it: two chains of rules read top
//! to bottom, the first match deciding. Linkerd's proxy-init (`pkg/iptables/iptables.go`) is the
//! model, with two changes: outbound subnets can be skipped (linkerd2#10726), and only loopback
//! *addresses* are exempt, so an app calling its own pod IP (which the kernel routes over `lo`)
//! still goes through the proxy.
//!
//! ```text
//! inbound  (nat PREROUTING): the proxy's own ports → return; skipped ports → return;
//!                            skipped source subnets → return; any TCP → redirect to :inbound
//! outbound (nat OUTPUT):     the proxy's uid / gid → return; to 127.0.0.0/8 or ::1 on lo → return;
//!                            skipped ports → return; skipped destination subnets → return;
//!                            any TCP → redirect to :outbound
//! ```

use super::config::{CaptureConfig, PortRange, PortSet, Subnet};

/// An address family: each has its own tables in iptables (`iptables` / `ip6tables`); nftables
/// serves both from one `inet` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// Both, IPv4 first.
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    /// "IPv4" or "IPv6", for messages.
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// What a rule matches (every rule also matches TCP only where it names ports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Every TCP connection.
    Tcp,
    /// TCP connections to these destination ports.
    DstPorts(Vec<PortRange>),
    /// Connections whose socket belongs to this uid.
    Uid(u32),
    /// Connections whose socket belongs to this gid.
    Gid(u32),
    /// Connections leaving through `lo` to a loopback address (127.0.0.0/8, ::1): other
    /// local ports the app reaches by itself. Not the pod's own IP, which also leaves through
    /// `lo`.
    LoopbackDst,
    /// Connections from this subnet.
    SrcSubnet(Subnet),
    /// Connections to this subnet.
    DstSubnet(Subnet),
}

impl Match {
    /// Whether the rule belongs in `family`'s table (a subnet exists in one family only).
    pub fn applies_to(&self, family: Family) -> bool {
        match self {
            Match::SrcSubnet(s) | Match::DstSubnet(s) => s.is_ipv4() == (family == Family::V4),
            _ => true,
        }
    }
}

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Leave the chain: the connection is not captured.
    Return,
    /// Redirect to this port on the pod itself (where the proxy listens).
    Redirect(u16),
}

/// One rule, with the comment that names why it is there (shown by `nft list ruleset` and
/// `iptables-save`, prefixed `mesh-init/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub matches: Match,
    pub verdict: Verdict,
    pub comment: &'static str,
}

/// The two chains, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chains {
    /// Hooked to nat `PREROUTING`: connections arriving at the pod.
    pub inbound: Vec<Rule>,
    /// Hooked to nat `OUTPUT`: connections the pod opens.
    pub outbound: Vec<Rule>,
}

/// The prefix of every rule's comment, so an operator reading the ruleset sees whose it is.
pub const COMMENT_PREFIX: &str = "mesh-init/";

/// The rule set `config` asks for.
pub fn chains(config: &CaptureConfig) -> Chains {
    let ret = |matches, comment| Rule {
        matches,
        verdict: Verdict::Return,
        comment,
    };
    let own_ports = PortSet::new(
        std::iter::once(config.inbound_port)
            .chain(config.proxy_ports.iter().copied())
            .map(PortRange::single)
            .collect(),
    );

    let mut inbound = vec![ret(
        Match::DstPorts(own_ports.ranges().to_vec()),
        "proxy-ports",
    )];
    if !config.skip_inbound_ports.is_empty() {
        inbound.push(ret(
            Match::DstPorts(config.skip_inbound_ports.ranges().to_vec()),
            "skip-inbound-ports",
        ));
    }
    inbound.extend(
        config
            .skip_inbound_subnets
            .iter()
            .map(|s| ret(Match::SrcSubnet(*s), "skip-inbound-subnets")),
    );
    inbound.push(Rule {
        matches: Match::Tcp,
        verdict: Verdict::Redirect(config.inbound_port),
        comment: "redirect-inbound",
    });

    let mut outbound = Vec::new();
    if let Some(uid) = config.proxy_uid {
        outbound.push(ret(Match::Uid(uid), "proxy-uid"));
    }
    if let Some(gid) = config.proxy_gid {
        outbound.push(ret(Match::Gid(gid), "proxy-gid"));
    }
    outbound.push(ret(Match::LoopbackDst, "loopback"));
    if !config.skip_outbound_ports.is_empty() {
        outbound.push(ret(
            Match::DstPorts(config.skip_outbound_ports.ranges().to_vec()),
            "skip-outbound-ports",
        ));
    }
    outbound.extend(
        config
            .skip_outbound_subnets
            .iter()
            .map(|s| ret(Match::DstSubnet(*s), "skip-outbound-subnets")),
    );
    outbound.push(Rule {
        matches: Match::Tcp,
        verdict: Verdict::Redirect(config.outbound_port),
        comment: "redirect-outbound",
    });
    Chains { inbound, outbound }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A configuration with a bit of everything: both kinds of skip in both directions and both
    /// families, a uid and a gid.
    pub(crate) fn full_config() -> CaptureConfig {
        let ports = |s: &[&str]| PortSet::new(s.iter().map(|p| p.parse().unwrap()).collect());
        CaptureConfig {
            inbound_port: 4143,
            outbound_port: 4140,
            proxy_ports: vec![4191],
            proxy_uid: Some(2102),
            proxy_gid: Some(2103),
            skip_inbound_ports: ports(&["2888", "3888"]),
            skip_outbound_ports: ports(&["2888", "3888", "5000-5010"]),
            skip_inbound_subnets: vec!["10.9.0.0/16".parse().unwrap()],
            skip_outbound_subnets: vec![
                "10.96.0.0/12".parse().unwrap(),
                "fd00:96::/64".parse().unwrap(),
            ],
        }
    }

    #[test]
    fn the_first_match_decides_so_exemptions_come_before_the_redirect() {
        let chains = chains(&full_config());
        let comments = |rules: &[Rule]| rules.iter().map(|r| r.comment).collect::<Vec<_>>();
        assert_eq!(
            comments(&chains.inbound),
            [
                "proxy-ports",
                "skip-inbound-ports",
                "skip-inbound-subnets",
                "redirect-inbound"
            ]
        );
        assert_eq!(
            comments(&chains.outbound),
            [
                "proxy-uid",
                "proxy-gid",
                "loopback",
                "skip-outbound-ports",
                "skip-outbound-subnets",
                "skip-outbound-subnets",
                "redirect-outbound"
            ]
        );
        assert_eq!(chains.inbound[3].verdict, Verdict::Redirect(4143));
        assert_eq!(chains.outbound[6].verdict, Verdict::Redirect(4140));
    }

    #[test]
    fn the_proxy_ports_are_never_redirected_inbound() {
        let chains = chains(&full_config());
        assert_eq!(
            chains.inbound[0].matches,
            Match::DstPorts(vec![PortRange::single(4143), PortRange::single(4191)])
        );
    }

    #[test]
    fn subnets_go_to_their_own_family() {
        let chains = chains(&full_config());
        let v6: Vec<_> = chains
            .outbound
            .iter()
            .filter(|r| matches!(r.matches, Match::DstSubnet(_)))
            .filter(|r| r.matches.applies_to(Family::V6))
            .collect();
        assert_eq!(v6.len(), 1);
        assert!(
            Match::LoopbackDst.applies_to(Family::V4) && Match::LoopbackDst.applies_to(Family::V6)
        );
    }
}
