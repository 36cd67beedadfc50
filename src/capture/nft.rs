//! The rule set as an `nft -f -` script: one `inet` table (`mesh`) holding both families, replaced
//! whole in one transaction. The script declares the table, deletes it and declares it again with
//! its chains, so it applies the same whether or not the table exists (no state to read first),
//! and re-running it leaves `nft list ruleset` byte-identical.

use std::fmt::Write;

use super::rules::{Chains, Match, Rule, Verdict, COMMENT_PREFIX};

/// The table's family and name, as `nft list table` takes them.
pub const TABLE: &str = "inet mesh";

/// The script that installs `chains`, replacing any earlier `mesh` table.
pub fn install_script(chains: &Chains) -> String {
    let mut out = String::new();
    out.push_str(
        "# mesh init: one nftables transaction (nft -f -); the mesh table is replaced whole\n",
    );
    let _ = writeln!(out, "table {TABLE}");
    let _ = writeln!(out, "delete table {TABLE}");
    let _ = writeln!(out, "table {TABLE} {{");
    chain(&mut out, "inbound", "prerouting", &chains.inbound);
    chain(&mut out, "outbound", "output", &chains.outbound);
    out.push_str("}\n");
    out
}

/// The script that removes the `mesh` table; a no-op where there is none.
pub fn uninstall_script() -> String {
    format!("# mesh init --uninstall: one nftables transaction (nft -f -)\ntable {TABLE}\ndelete table {TABLE}\n")
}

fn chain(out: &mut String, name: &str, hook: &str, rules: &[Rule]) {
    let _ = writeln!(out, "\tchain {name} {{");
    let _ = writeln!(
        out,
        // -100 is dstnat; nft 1.0.6 takes the name for prerouting only.
        "\t\ttype nat hook {hook} priority -100; policy accept;"
    );
    for rule in rules {
        for matches in render_match(&rule.matches) {
            let verdict = match rule.verdict {
                Verdict::Return => "return".to_string(),
                Verdict::Redirect(port) => format!("redirect to :{port}"),
            };
            let _ = writeln!(
                out,
                "\t\t{matches} {verdict} comment \"{COMMENT_PREFIX}{}\"",
                rule.comment
            );
        }
    }
    out.push_str("\t}\n");
}

/// The match expressions of one rule: one, or one per family where the families differ.
fn render_match(m: &Match) -> Vec<String> {
    match m {
        Match::Tcp => vec!["meta l4proto tcp".into()],
        Match::DstPorts(ports) => {
            let list: Vec<String> = ports.iter().map(ToString::to_string).collect();
            if list.len() == 1 {
                vec![format!("tcp dport {}", list[0])]
            } else {
                vec![format!("tcp dport {{ {} }}", list.join(", "))]
            }
        }
        Match::Uid(uid) => vec![format!("meta skuid {uid}")],
        Match::Gid(gid) => vec![format!("meta skgid {gid}")],
        Match::LoopbackDst => vec![
            "oifname \"lo\" ip daddr 127.0.0.0/8".into(),
            "oifname \"lo\" ip6 daddr ::1".into(),
        ],
        Match::SrcSubnet(s) => vec![format!("{} saddr {s}", family(s.is_ipv4()))],
        Match::DstSubnet(s) => vec![format!("{} daddr {s}", family(s.is_ipv4()))],
    }
}

fn family(ipv4: bool) -> &'static str {
    if ipv4 {
        "ip"
    } else {
        "ip6"
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules::{chains, tests::full_config};
    use super::*;

    #[test]
    fn the_script_replaces_the_table_in_one_transaction() {
        let script = install_script(&chains(&full_config()));
        let lines: Vec<&str> = script.lines().collect();
        assert_eq!(
            lines[1..4],
            [
                "table inet mesh",
                "delete table inet mesh",
                "table inet mesh {"
            ]
        );
        assert!(script.contains(
            "\t\ttcp dport { 2888, 3888, 5000-5010 } return comment \"mesh-init/skip-outbound-ports\"\n"
        ));
        assert!(script.contains("\t\tip daddr 10.96.0.0/12 return"));
        assert!(script.contains("\t\tip6 daddr fd00:96::/64 return"));
        assert!(script.contains("\t\tip saddr 10.9.0.0/16 return"));
        assert!(script.contains("\t\tmeta skuid 2102 return"));
        assert!(script.contains("\t\tmeta l4proto tcp redirect to :4140 comment"));
        assert!(script.ends_with("\t}\n}\n"));
    }

    #[test]
    fn uninstalling_declares_the_table_first_so_a_missing_one_is_no_error() {
        assert!(uninstall_script().ends_with("table inet mesh\ndelete table inet mesh\n"));
    }
}
