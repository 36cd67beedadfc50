//! `mesh init --check`: proves that capture works in this network namespace, the way Linkerd's
//! network validator does in an init container (no proxy runs yet): listen on the outbound port
//! itself, connect to a probe address as a user the rules capture, and expect this check's own
//! token back. Only a connection the rules redirected to the outbound port can carry it.
//!
//! The probe must be a connection the rules capture, so it must not belong to the proxy's user,
//! whichever uid the rules were installed with. Run as root (as an init container is), the check
//! makes the probe's socket as nobody (65534): the kernel's owner match (`-m owner`, nft's
//! `meta skuid`) reads the *filesystem* uid and gid the socket was made with, which
//! `setfsuid(2)`/`setfsgid(2)` change for this thread alone.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::unistd::{setfsgid, setfsuid, Gid, Uid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};

use super::original_dst::original_dst;

/// Where the probe connects unless `--check-probe` says otherwise: TEST-NET-1 (RFC 5737), which
/// is never routed, so nothing but the capture rules can answer.
pub const DEFAULT_PROBE: &str = "192.0.2.1:20001";

/// One check.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Where the probe connects.
    pub target: SocketAddr,
    /// The proxy's outbound port, where the rules redirect to.
    pub outbound_port: u16,
    /// How long to wait for the token.
    pub timeout: Duration,
    /// The proxy's uid and gid: the probe must not run as them, as their connections are exempt.
    pub proxy_uid: Option<u32>,
    pub proxy_gid: Option<u32>,
}

/// What a passed check saw.
#[derive(Debug, Clone, Copy)]
pub struct Redirected {
    /// Where the redirected connection was going, as the kernel reports it.
    pub original_dst: Option<SocketAddr>,
    /// The uid and gid the probe connected as.
    pub prober: Prober,
}

/// Who the probe's socket belongs to, as the capture rules' owner match sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prober {
    pub uid: u32,
    pub gid: u32,
}

/// The id a check run as root probes as: nobody's.
const NOBODY: u32 = 65534;

/// Why capture does not work.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(
        "--check runs as {what} {id}, the proxy's (--proxy-{what}): its connections are exempt \
         from capture by design, so the probe would prove nothing; run the check as root (it \
         then probes as uid {NOBODY}) or as another user"
    )]
    ProxyUser { what: &'static str, id: u32 },
    #[error(
        "cannot listen on {addr} to receive the probe: {error}; --check takes the outbound port \
         itself, so it runs before the proxy starts (as Linkerd's network validator does in an \
         init container)"
    )]
    Listen { addr: SocketAddr, error: io::Error },
    #[error(
        "connecting to the probe address {target}: {error}; the namespace has no route to it, \
         so no capture rule ever sees the connection: give it a default route, or pass \
         --check-probe an address it routes"
    )]
    NoRoute {
        target: SocketAddr,
        error: io::Error,
    },
    #[error(
        "the probe connection to {target} was not redirected to the outbound port {port}: {what}"
    )]
    NotRedirected {
        target: SocketAddr,
        port: u16,
        what: String,
    },
}

/// Runs the check.
///
/// # Errors
///
/// [`CheckError`]: the probe was not redirected, or could not prove anything.
pub async fn check(probe: &Probe) -> Result<Redirected, CheckError> {
    let prober = prober(probe)?;
    let listen = match probe.target {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::LOCALHOST, probe.outbound_port)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::LOCALHOST, probe.outbound_port)),
    };
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|error| CheckError::Listen {
            addr: listen,
            error,
        })?;
    let token = token();
    let answer = token.clone();
    let mut server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await?;
        let original = original_dst(&conn).ok();
        conn.write_all(answer.as_bytes()).await?;
        conn.shutdown().await?;
        io::Result::Ok(original)
    });
    let not_redirected = |what: String| CheckError::NotRedirected {
        target: probe.target,
        port: probe.outbound_port,
        what,
    };
    let outcome = tokio::time::timeout(probe.timeout, async {
        let socket = socket_as(probe.target, prober).map_err(Step::Connect)?;
        let mut conn = socket.connect(probe.target).await.map_err(Step::Connect)?;
        let mut got = vec![0; token.len()];
        conn.read_exact(&mut got).await.map_err(Step::Read)?;
        Ok::<_, Step>(got)
    })
    .await;
    let result = match outcome {
        Err(_) => Err(not_redirected(format!(
            "no answer within {:?}: the connection left the pod as it was (nothing answers the \
             probe address); the capture rules are absent or exempt it",
            probe.timeout
        ))),
        Ok(Err(Step::Connect(error))) if error.raw_os_error().is_some_and(is_unreachable) => {
            Err(CheckError::NoRoute {
                target: probe.target,
                error,
            })
        }
        Ok(Err(Step::Connect(e))) => Err(not_redirected(format!(
            "connecting failed ({e}) instead of reaching this check's listener"
        ))),
        Ok(Err(Step::Read(e))) => Err(not_redirected(format!(
            "something else answered (the connection ended before this check's token: {e})"
        ))),
        Ok(Ok(got)) if got == token.as_bytes() => {
            let original = match tokio::time::timeout(probe.timeout, &mut server).await {
                Ok(Ok(Ok(original))) => original,
                _ => None,
            };
            Ok(Redirected {
                original_dst: original,
                prober,
            })
        }
        Ok(Ok(_)) => Err(not_redirected(
            "something else answered (not with this check's token)".to_string(),
        )),
    };
    // On failure the listener still waits for a connection that will not come.
    server.abort();
    result
}

/// A step of the probe that failed.
enum Step {
    Connect(io::Error),
    Read(io::Error),
}

/// ENETUNREACH (101) and EHOSTUNREACH (113) on Linux: the kernel had no route.
fn is_unreachable(errno: i32) -> bool {
    errno == 101 || errno == 113
}

/// Who the probe connects as: nobody (or the next lower id when the proxy is nobody) when this
/// process may change its filesystem ids (root), else itself, unless it is the proxy's user.
fn prober(probe: &Probe) -> Result<Prober, CheckError> {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    if uid == 0 {
        let taken = |id: u32| probe.proxy_uid == Some(id) || probe.proxy_gid == Some(id);
        let id = (1..=NOBODY).rev().find(|id| !taken(*id)).unwrap_or(NOBODY);
        return Ok(Prober { uid: id, gid: id });
    }
    if probe.proxy_uid == Some(uid) {
        return Err(CheckError::ProxyUser {
            what: "uid",
            id: uid,
        });
    }
    if probe.proxy_gid == Some(gid) {
        return Err(CheckError::ProxyUser {
            what: "gid",
            id: gid,
        });
    }
    Ok(Prober { uid, gid })
}

/// A socket for `target` made with `prober`'s filesystem uid and gid, which the capture rules'
/// owner match reads; this thread's own ids are put back before returning.
fn socket_as(target: SocketAddr, prober: Prober) -> io::Result<TcpSocket> {
    let gid = setfsgid(Gid::from_raw(prober.gid));
    let uid = setfsuid(Uid::from_raw(prober.uid));
    // setfsuid reports no failure: asking again returns the id now in force.
    let switched = setfsuid(Uid::from_raw(prober.uid)).as_raw() == prober.uid
        && setfsgid(Gid::from_raw(prober.gid)).as_raw() == prober.gid;
    let socket = match target {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    };
    setfsuid(uid);
    setfsgid(gid);
    if !switched {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "could not make the probe's socket as uid {} gid {}",
                prober.uid, prober.gid
            ),
        ));
    }
    socket
}

/// A token no other server would send: this process and the time.
fn token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("mesh-init-check {} {nanos}\n", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(target: SocketAddr, outbound_port: u16) -> Probe {
        Probe {
            target,
            outbound_port,
            timeout: Duration::from_secs(5),
            proxy_uid: Some(2102),
            proxy_gid: None,
        }
    }

    #[tokio::test]
    async fn a_server_that_is_not_the_check_does_not_pass_it() {
        // Without rules, a probe to a real server on loopback reaches that server, not the
        // check's listener (on another port): never a pass.
        let other = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = other.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut c, _) = other.accept().await.unwrap();
            let _ = c
                .write_all(b"HTTP/1.1 200 OK\r\n\r\nsomething else entirely\n")
                .await;
        });
        let free = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let err = check(&probe(target, port)).await.unwrap_err();
        assert!(
            err.to_string().contains("was not redirected")
                && err.to_string().contains("something else answered"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_taken_outbound_port_is_named() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = check(&probe("192.0.2.1:20001".parse().unwrap(), port))
            .await
            .unwrap_err();
        assert!(matches!(err, CheckError::Listen { .. }), "{err}");
        assert!(err.to_string().contains("before the proxy starts"), "{err}");
    }

    #[test]
    fn root_probes_as_nobody_and_another_user_only_as_itself() {
        let mut p = probe("192.0.2.1:20001".parse().unwrap(), 4140);
        let me = nix::unistd::geteuid().as_raw();
        p.proxy_uid = Some(me);
        if me == 0 {
            assert_eq!(
                prober(&p).unwrap(),
                Prober {
                    uid: NOBODY,
                    gid: NOBODY
                }
            );
            p.proxy_uid = Some(NOBODY);
            p.proxy_gid = Some(NOBODY - 1);
            assert_eq!(prober(&p).unwrap().uid, NOBODY - 2);
        } else {
            let err = prober(&p).unwrap_err();
            assert!(err.to_string().contains("exempt from capture"), "{err}");
        }
    }
}
