//! The rule set as `iptables-restore --noflush` input, one per family (`iptables` / `ip6tables`),
//! for the iptables-nft and iptables-legacy backends. Each input is one transaction (a `COMMIT`).
//!
//! Idempotence: with `--noflush`, declaring a user chain (`:MESH_INBOUND - [0:0]`) creates it or
//! empties it, so the chains' rules are replaced whole; the jumps into them from the built-in
//! `PREROUTING` and `OUTPUT` chains are added only where `iptables-save` does not show them yet
//! (as Linkerd's proxy-init does), so re-running leaves `iptables-save` unchanged.

use std::fmt::Write;

use super::rules::{Chains, Family, Match, Rule, Verdict, COMMENT_PREFIX};

/// The chain hooked to nat `PREROUTING`.
pub const INBOUND_CHAIN: &str = "MESH_INBOUND";
/// The chain hooked to nat `OUTPUT`.
pub const OUTBOUND_CHAIN: &str = "MESH_OUTBOUND";

/// At most this many ports in one `-m multiport` match (a range counts as two), the kernel
/// module's limit.
const MULTIPORT_LIMIT: usize = 15;

/// What `iptables-save -t nat` shows of mesh's rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatState {
    /// Whether the `MESH_INBOUND` chain exists.
    pub inbound_chain: bool,
    /// Whether the `MESH_OUTBOUND` chain exists.
    pub outbound_chain: bool,
    /// The rules that jump into mesh's chains, as saved (`-A PREROUTING … -j MESH_INBOUND`).
    pub jumps: Vec<String>,
}

impl NatState {
    /// Reads `iptables-save -t nat` output.
    pub fn parse(saved: &str) -> NatState {
        let mut state = NatState::default();
        for line in saved.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [chain, ..] if *chain == format!(":{INBOUND_CHAIN}") => state.inbound_chain = true,
                [chain, ..] if *chain == format!(":{OUTBOUND_CHAIN}") => {
                    state.outbound_chain = true
                }
                ["-A", "PREROUTING" | "OUTPUT", ..]
                    if words.windows(2).any(|w| {
                        w[0] == "-j" && (w[1] == INBOUND_CHAIN || w[1] == OUTBOUND_CHAIN)
                    }) =>
                {
                    state.jumps.push(line.trim().to_string())
                }
                _ => {}
            }
        }
        state
    }

    /// What `mesh init` leaves in a namespace that had none of it (for `--uninstall --dry-run`).
    pub fn as_installed() -> NatState {
        NatState {
            inbound_chain: true,
            outbound_chain: true,
            jumps: vec![
                format!("-A PREROUTING -m comment --comment \"{COMMENT_PREFIX}inbound\" -j {INBOUND_CHAIN}"),
                format!("-A OUTPUT -m comment --comment \"{COMMENT_PREFIX}outbound\" -j {OUTBOUND_CHAIN}"),
            ],
        }
    }

    /// Whether anything of mesh's is installed.
    pub fn installed(&self) -> bool {
        self.inbound_chain || self.outbound_chain || !self.jumps.is_empty()
    }

    fn jumps_to(&self, builtin: &str, chain: &str) -> bool {
        self.jumps.iter().any(|j| {
            j.starts_with(&format!("-A {builtin} ")) && j.ends_with(&format!("-j {chain}"))
        })
    }
}

/// The input `tool --noflush` (`iptables-nft-restore`, …) is given to install `chains` for
/// `family`, given what is installed already (`NatState::default()`: a namespace without mesh's
/// rules).
pub fn install_input(chains: &Chains, family: Family, state: &NatState, tool: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# mesh init: {tool} --noflush ({}; one transaction)",
        family.name()
    );
    out.push_str("*nat\n");
    let _ = writeln!(out, ":{INBOUND_CHAIN} - [0:0]");
    let _ = writeln!(out, ":{OUTBOUND_CHAIN} - [0:0]");
    for rule in chains
        .inbound
        .iter()
        .filter(|r| r.matches.applies_to(family))
    {
        push_rule(&mut out, INBOUND_CHAIN, rule, family);
    }
    for rule in chains
        .outbound
        .iter()
        .filter(|r| r.matches.applies_to(family))
    {
        push_rule(&mut out, OUTBOUND_CHAIN, rule, family);
    }
    for (builtin, chain, what) in [
        ("PREROUTING", INBOUND_CHAIN, "inbound"),
        ("OUTPUT", OUTBOUND_CHAIN, "outbound"),
    ] {
        if !state.jumps_to(builtin, chain) {
            let _ = writeln!(
                out,
                "-A {builtin} -m comment --comment \"{COMMENT_PREFIX}{what}\" -j {chain}"
            );
        }
    }
    out.push_str("COMMIT\n");
    out
}

/// The input `tool --noflush` is given to remove what `state` shows of mesh's rules: the jumps,
/// then the emptied chains. `None` when there is nothing to remove.
pub fn uninstall_input(family: Family, state: &NatState, tool: &str) -> Option<String> {
    if !state.installed() {
        return None;
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# mesh init --uninstall: {tool} --noflush ({}; one transaction)",
        family.name()
    );
    out.push_str("*nat\n");
    for jump in &state.jumps {
        // Deleting by the saved rule's own text removes exactly it, duplicates included.
        if let Some(rest) = jump.strip_prefix("-A ") {
            let _ = writeln!(out, "-D {rest}");
        }
    }
    for (present, chain) in [
        (state.inbound_chain, INBOUND_CHAIN),
        (state.outbound_chain, OUTBOUND_CHAIN),
    ] {
        if present {
            // Declaring the chain empties it (--noflush), so it can be deleted.
            let _ = writeln!(out, ":{chain} - [0:0]");
            let _ = writeln!(out, "-X {chain}");
        }
    }
    out.push_str("COMMIT\n");
    Some(out)
}

fn push_rule(out: &mut String, chain: &str, rule: &Rule, family: Family) {
    let verdict = match rule.verdict {
        Verdict::Return => "-j RETURN".to_string(),
        Verdict::Redirect(port) => format!("-j REDIRECT --to-ports {port}"),
    };
    for matches in render_match(&rule.matches, family) {
        let _ = writeln!(
            out,
            "-A {chain} {matches} -m comment --comment \"{COMMENT_PREFIX}{}\" {verdict}",
            rule.comment
        );
    }
}

/// The match arguments of one rule: one line, or several where a port list is longer than
/// multiport takes.
fn render_match(m: &Match, family: Family) -> Vec<String> {
    match m {
        Match::Tcp => vec!["-p tcp".into()],
        Match::DstPorts(ports) => {
            let mut lines = Vec::new();
            let mut current: Vec<String> = Vec::new();
            let mut count = 0;
            for range in ports {
                let cost = if range.lo == range.hi { 1 } else { 2 };
                if count + cost > MULTIPORT_LIMIT {
                    lines.push(std::mem::take(&mut current));
                    count = 0;
                }
                // iptables writes a range with a colon.
                current.push(if range.lo == range.hi {
                    range.lo.to_string()
                } else {
                    format!("{}:{}", range.lo, range.hi)
                });
                count += cost;
            }
            lines.push(current);
            lines
                .into_iter()
                .map(|ports| format!("-p tcp -m multiport --dports {}", ports.join(",")))
                .collect()
        }
        Match::Uid(uid) => vec![format!("-m owner --uid-owner {uid}")],
        Match::Gid(gid) => vec![format!("-m owner --gid-owner {gid}")],
        Match::LoopbackDst => vec![match family {
            Family::V4 => "-d 127.0.0.0/8 -o lo".into(),
            Family::V6 => "-d ::1/128 -o lo".into(),
        }],
        Match::SrcSubnet(s) => vec![format!("-s {s}")],
        Match::DstSubnet(s) => vec![format!("-d {s}")],
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::PortRange;
    use super::super::rules::{chains, tests::full_config};
    use super::*;

    #[test]
    fn a_fresh_namespace_gets_the_chains_and_both_jumps() {
        let input = install_input(
            &chains(&full_config()),
            Family::V4,
            &NatState::default(),
            "iptables-restore",
        );
        assert!(input.contains(
            "-A MESH_INBOUND -p tcp -m multiport --dports 2888,3888 -m comment --comment \"mesh-init/skip-inbound-ports\" -j RETURN\n"
        ));
        assert!(input.contains("-A MESH_OUTBOUND -d 127.0.0.0/8 -o lo "));
        assert!(input.contains("-A MESH_OUTBOUND -d 10.96.0.0/12 "));
        assert!(
            !input.contains("fd00:96::/64"),
            "IPv6 subnets stay out of iptables"
        );
        assert!(input.contains("-j REDIRECT --to-ports 4140\n"));
        assert!(input.contains(
            "-A PREROUTING -m comment --comment \"mesh-init/inbound\" -j MESH_INBOUND\n"
        ));
        assert!(input.ends_with("-j MESH_OUTBOUND\nCOMMIT\n"));
        let v6 = install_input(
            &chains(&full_config()),
            Family::V6,
            &NatState::default(),
            "ip6tables-restore",
        );
        assert!(v6.contains("-d ::1/128 -o lo") && v6.contains("-d fd00:96::/64"));
        assert!(!v6.contains("10.96.0.0/12"));
    }

    #[test]
    fn jumps_already_saved_are_not_added_again() {
        let saved = "*nat\n:PREROUTING ACCEPT [0:0]\n:MESH_INBOUND - [0:0]\n:MESH_OUTBOUND - [0:0]\n\
                     -A PREROUTING -m comment --comment \"mesh-init/inbound\" -j MESH_INBOUND\n\
                     -A OUTPUT -m comment --comment \"mesh-init/outbound\" -j MESH_OUTBOUND\nCOMMIT\n";
        let state = NatState::parse(saved);
        assert!(state.inbound_chain && state.outbound_chain);
        assert_eq!(state.jumps.len(), 2);
        let input = install_input(
            &chains(&full_config()),
            Family::V4,
            &state,
            "iptables-restore",
        );
        assert!(!input.contains("-A PREROUTING") && !input.contains("-A OUTPUT"));

        let removal = uninstall_input(Family::V4, &state, "iptables-restore").unwrap();
        assert!(removal.contains(
            "-D PREROUTING -m comment --comment \"mesh-init/inbound\" -j MESH_INBOUND\n"
        ));
        assert!(removal.contains(":MESH_INBOUND - [0:0]\n-X MESH_INBOUND\n"));
        assert_eq!(
            uninstall_input(Family::V4, &NatState::default(), "iptables-restore"),
            None
        );
    }

    #[test]
    fn long_port_lists_are_split_at_the_multiport_limit() {
        let ports: Vec<PortRange> = (1..=14)
            .map(|p| PortRange::single(1000 + p))
            .chain([PortRange { lo: 2000, hi: 2010 }])
            .collect();
        let lines = render_match(&Match::DstPorts(ports), Family::V4);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with("--dports 2000:2010"));
    }
}
