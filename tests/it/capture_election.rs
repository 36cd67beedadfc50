//! The field report behind issue 15: ZooKeeper's leader election broke once meshed. Three members,
//! each in its own network namespace on one bridge, each meshed (`mesh init`, `mesh proxy
//! --capture` as uid 2102), run a ZooKeeper-style election (tests/it/py/election.py: quorum ports
//! bound to the pod IP; 3888 client-speaks-first, 2888 server-speaks-first with a 2 s greeting
//! limit). A leader is elected with 2888/3888 skipped, and with them marked opaque; with neither,
//! the followers' quorum connections wait the proxies' --detect-timeout for a first byte that the
//! client never sends, and the election fails. Run with `--nocapture` to see each member's words.

use std::process::{Command, Stdio};

use crate::harness::root;
use crate::netns::{mesh_pod, skip_unless_netns, Background, Netns, SharedBinary};

const MEMBERS: usize = 3;

fn member_ip(i: usize) -> String {
    format!("10.78.0.{}", i + 1)
}

/// Three member namespaces joined by a bridge in a fourth.
struct Ensemble {
    // The proxies stop before their namespaces go.
    proxies: Vec<Background>,
    members: Vec<Netns>,
    _switch: Netns,
    _bin: SharedBinary,
}

impl Ensemble {
    fn start(tag: &str, init_flags: &[&str], proxy_flags: &[&str]) -> Ensemble {
        let switch = Netns::new(&format!("{tag}-sw"));
        switch.ip(&["link", "add", "br0", "type", "bridge"]);
        switch.ip(&["link", "set", "br0", "up"]);
        let bin = SharedBinary::new();
        let mut members = Vec::new();
        let mut proxies = Vec::new();
        for i in 0..MEMBERS {
            let ns = Netns::new(&format!("{tag}-{i}"));
            let port = format!("m{i}");
            ns.ip(&[
                "link",
                "add",
                "eth0",
                "type",
                "veth",
                "peer",
                "name",
                &port,
                "netns",
                &switch.name,
            ]);
            switch.ip(&["link", "set", &port, "master", "br0", "up"]);
            ns.ip(&[
                "addr",
                "add",
                &format!("{}/24", member_ip(i)),
                "dev",
                "eth0",
            ]);
            ns.ip(&["link", "set", "eth0", "up"]);
            proxies.push(mesh_pod(&ns, &bin, init_flags, proxy_flags));
            members.push(ns);
        }
        Ensemble {
            proxies,
            members,
            _switch: switch,
            _bin: bin,
        }
    }

    /// Runs the election in every member at once; each member's last line and exit code.
    fn elect(&self) -> Vec<(i32, String)> {
        let script = root().join("tests/it/py/election.py");
        let children: Vec<_> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, ns)| {
                let peers: Vec<String> = (0..MEMBERS).filter(|j| *j != i).map(member_ip).collect();
                let mut cmd: Command = ns.command("python3");
                cmd.arg("-u")
                    .arg(&script)
                    .arg((i + 1).to_string())
                    .arg(member_ip(i))
                    .args(&peers)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                cmd.spawn().expect("python3 runs")
            })
            .collect();
        // Each member gives up by itself within its deadline (12 s).
        children
            .into_iter()
            .enumerate()
            .map(|(i, child)| {
                let out = child.wait_with_output().unwrap();
                let stdout = String::from_utf8_lossy(&out.stdout);
                let last = stdout.lines().last().unwrap_or_default().to_string();
                println!(
                    "member {} ({}): {last}{}",
                    i + 1,
                    member_ip(i),
                    String::from_utf8_lossy(&out.stderr)
                );
                (out.status.code().unwrap_or(-1), last)
            })
            .collect()
    }

    fn assert_elected(&self, outcome: &[(i32, String)]) {
        let lines: Vec<&str> = outcome.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            lines,
            ["FOLLOWING 3", "FOLLOWING 3", "LEADING"],
            "proxy logs:\n{}",
            self.logs()
        );
        assert!(outcome.iter().all(|(code, _)| *code == 0));
    }

    fn logs(&self) -> String {
        self.proxies
            .iter()
            .map(Background::log)
            .collect::<Vec<_>>()
            .join("\n---\n")
    }
}

#[test]
fn leader_election_with_the_quorum_ports_skipped() {
    skip_unless_netns!("nft", "python3", "setpriv");
    let skip = [
        "--skip-inbound-ports",
        "2888,3888",
        "--skip-outbound-ports",
        "2888,3888",
    ];
    let ensemble = Ensemble::start("zkskip", &skip, &[]);
    let outcome = ensemble.elect();
    ensemble.assert_elected(&outcome);
}

#[test]
fn leader_election_with_the_quorum_ports_opaque() {
    skip_unless_netns!("nft", "python3", "setpriv");
    let ensemble = Ensemble::start("zkopaque", &[], &["--opaque-ports", "2888,3888"]);
    let outcome = ensemble.elect();
    ensemble.assert_elected(&outcome);
}

/// The control: meshed with neither, the election (3888, client speaks first) goes through the
/// proxies, but the quorum connections (2888, where the leader speaks first) are held for
/// --detect-timeout (10 s) waiting for the follower's first byte, past the 2 s the followers
/// wait for the leader's greeting: no leader gets a quorum.
#[test]
fn leader_election_with_neither_fails_on_the_server_speaks_first_port() {
    skip_unless_netns!("nft", "python3", "setpriv");
    let ensemble = Ensemble::start("zknone", &[], &[]);
    let outcome = ensemble.elect();
    assert!(
        outcome.iter().all(|(code, _)| *code == 1),
        "{outcome:?}\nproxy logs:\n{}",
        ensemble.logs()
    );
    for (_, follower) in &outcome[..2] {
        assert_eq!(
            follower,
            "the leader 3 sent no greeting on 2888 within 2.0s"
        );
    }
    assert!(
        outcome[2].1.starts_with("no quorum as leader"),
        "{outcome:?}"
    );
}
