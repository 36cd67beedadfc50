//! Which app port an inbound request goes to.
//!
//! `--app HOST:PORT` names the app, `--service NAME:PORT[=APP_PORT]` the service ports it serves.
//! A service port goes to its `APP_PORT` on the app's host when one is given. Otherwise:
//!
//! - with one service port (or none), to `--app` itself: `--service web-svc:8080 --app
//!   127.0.0.1:9999` sends to 9999, as it always has;
//! - with several service ports, to the same port on the app's host (Kubernetes' default
//!   `targetPort`): `--service zk:2181 --service zk-hs:2888 --service zk-hs:3888 --app
//!   127.0.0.1:3888` sends 2181 to 2181, 2888 to 2888 and 3888 to 3888.
//!
//! When that leaves one app address, every request goes there. With several, an HTTP request goes
//! to the app port of the service port its authority names (by name and port, else by port alone
//! when that is unambiguous); one that names none of them is refused with an explanation, never
//! guessed. Opaque TCP names no port, and in explicit mode (no traffic capture) the inbound cannot
//! learn which one the caller meant: a workload with several app ports and opaque ports is refused
//! at startup, and a connection to it that turns out not to be HTTP is closed with a logged reason.

use std::net::SocketAddr;

use super::discovery::{target_of, Target};
use super::policy::OwnListeners;
use crate::registry::ServicePort;

/// Where inbound requests go, per service port.
#[derive(Debug, Clone, Default)]
pub struct AppPorts {
    /// The app address when there is only one (every request goes there).
    single: Option<SocketAddr>,
    /// Each service port's app address (several distinct ones when `single` is `None`).
    routes: Vec<(ServicePort, SocketAddr)>,
}

/// A configuration of app ports that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppPortsError {
    /// Opaque ports on a workload with several app ports.
    #[error(
        "--service: this workload has several app ports ({services}) and --opaque-ports names \
         {opaque}: an opaque (non-HTTP) connection names no service port, and without traffic \
         capture the inbound cannot learn which port the caller meant, so it could only guess; \
         run one proxy per opaque port, send every service port to one app port \
         (NAME:PORT=APP_PORT), or leave the port out of --opaque-ports if it speaks HTTP"
    )]
    OpaqueWithSeveral { services: String, opaque: String },
    /// An app address that is one of this proxy's own listeners.
    #[error(
        "the app address {addr} is this proxy's own {listener} listener: requests for the app \
         would come back to the proxy and loop; give --app (and NAME:PORT=APP_PORT) the port the \
         app itself listens on"
    )]
    Loop { addr: SocketAddr, listener: String },
    /// An app port without an app.
    #[error(
        "--service {service}: an app port needs the app's address (--app HOST:PORT), and there \
         is none (no inbound listener)"
    )]
    WithoutApp { service: String },
}

/// An inbound request that names none of this workload's service ports, when there are several
/// app ports to choose from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoAppPort {
    /// This workload's service ports and where each goes (`zk:2181 -> 127.0.0.1:2181, …`).
    pub services: String,
}

impl AppPorts {
    /// The app ports of `services` in front of `app`; `opaque_ports` must not meet several.
    pub fn new(
        app: Option<SocketAddr>,
        services: &[ServicePort],
        opaque_ports: &[u16],
    ) -> Result<AppPorts, AppPortsError> {
        let Some(app) = app else {
            return match services.iter().find(|s| s.app_port.is_some()) {
                Some(s) => Err(AppPortsError::WithoutApp {
                    service: s.to_string(),
                }),
                None => Ok(AppPorts::default()),
            };
        };
        let mut ports: Vec<u16> = services.iter().map(|s| s.port).collect();
        ports.sort_unstable();
        ports.dedup();
        let one_port = ports.len() <= 1;
        let routes: Vec<(ServicePort, SocketAddr)> = services
            .iter()
            .map(|s| {
                let port = match s.app_port {
                    Some(p) => p,
                    None if one_port => app.port(),
                    None => s.port,
                };
                (s.clone(), SocketAddr::new(app.ip(), port))
            })
            .collect();
        let mut addrs: Vec<SocketAddr> = routes.iter().map(|(_, a)| *a).collect();
        addrs.sort_unstable();
        addrs.dedup();
        let single = match addrs.as_slice() {
            [] => Some(app),
            [one] => Some(*one),
            _ => None,
        };
        let ports = AppPorts { single, routes };
        if single.is_none() {
            tracing::info!(
                "several app ports: each inbound request goes to the app port of the service port \
                 it names ({})",
                ports.describe()
            );
            if !ports.addresses().any(|a| a == app) {
                tracing::warn!(
                    "--app {app}: no service port goes to port {} (with several service ports, \
                     each goes to the same port on the app's host unless NAME:PORT=APP_PORT says \
                     otherwise)",
                    app.port()
                );
            }
            let opaque: Vec<String> = opaque_ports
                .iter()
                .filter(|p| {
                    ports
                        .routes
                        .iter()
                        .any(|(s, a)| s.port == **p || a.port() == **p)
                })
                .map(u16::to_string)
                .collect();
            if !opaque.is_empty() {
                return Err(AppPortsError::OpaqueWithSeveral {
                    services: ports.describe(),
                    opaque: opaque.join(", "),
                });
            }
        }
        Ok(ports)
    }

    /// These app ports, unless one is a listener in `own` (a loop).
    pub fn outside(self, own: &OwnListeners) -> Result<AppPorts, AppPortsError> {
        for addr in self.addresses() {
            if let Some(listener) = own.reached_by(addr) {
                return Err(AppPortsError::Loop {
                    addr,
                    listener: format!("{listener:?}").to_lowercase(),
                });
            }
        }
        Ok(self)
    }

    /// The one app address, when there is one: where opaque connections go.
    pub fn single(&self) -> Option<SocketAddr> {
        self.single
    }

    /// Every app address.
    pub fn addresses(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.single
            .into_iter()
            .chain(self.routes.iter().map(|(_, a)| *a))
    }

    /// `zk:2181 -> 127.0.0.1:2181, zk-hs:2888 -> 127.0.0.1:2888`.
    pub fn describe(&self) -> String {
        let each: Vec<String> = self
            .routes
            .iter()
            .map(|(s, a)| format!("{}:{} -> {a}", s.name, s.port))
            .collect();
        each.join(", ")
    }

    /// The app address for a request with `authority` (its `Host` or `:authority`), read as from
    /// `namespace`.
    pub fn for_request(
        &self,
        authority: Option<&str>,
        namespace: &str,
        cluster_domain: &str,
    ) -> Result<SocketAddr, NoAppPort> {
        if let Some(one) = self.single {
            return Ok(one);
        }
        let no = || NoAppPort {
            services: self.describe(),
        };
        let (name, port) = match authority.and_then(|a| target_of(a, namespace, cluster_domain)) {
            Some(Target::Service(s)) if s.namespace == namespace => (Some(s.name), s.port),
            Some(Target::Service(s)) => (None, s.port),
            Some(Target::Addr(a)) => (None, a.port()),
            Some(Target::External { port, .. }) => (None, port),
            None => return Err(no()),
        };
        let named = self
            .routes
            .iter()
            .find(|(s, _)| s.port == port && name.as_deref() == Some(s.name.as_str()));
        if let Some((_, addr)) = named {
            return Ok(*addr);
        }
        // By port alone, when every service on that port goes to one app port.
        let mut on_port = self.routes.iter().filter(|(s, _)| s.port == port);
        match on_port.next() {
            Some((_, first)) if on_port.all(|(_, a)| a == first) => Ok(*first),
            _ => Err(no()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(app: &str, services: &[&str], opaque: &[u16]) -> Result<AppPorts, AppPortsError> {
        let services: Vec<ServicePort> = services.iter().map(|s| s.parse().unwrap()).collect();
        AppPorts::new(Some(app.parse().unwrap()), &services, opaque)
    }

    fn to(p: &AppPorts, authority: &str) -> Option<u16> {
        p.for_request(Some(authority), "ns", "cluster.local")
            .ok()
            .map(|a| a.port())
    }

    #[test]
    fn one_service_port_goes_to_the_app_address() {
        let p = ports("127.0.0.1:9999", &["web-svc:8080"], &[]).unwrap();
        assert_eq!(p.single(), Some("127.0.0.1:9999".parse().unwrap()));
        for authority in ["web-svc:8080", "other:1", "127.0.0.1:4143"] {
            assert_eq!(to(&p, authority), Some(9999), "{authority}");
        }
        // Two names on one port are still one port; no service at all is the app.
        let p = ports("127.0.0.1:9999", &["a:8080", "b:8080"], &[]).unwrap();
        assert_eq!(p.single().map(|a| a.port()), Some(9999));
        let p = ports("127.0.0.1:9999", &[], &[9999]).unwrap();
        assert_eq!(p.single().map(|a| a.port()), Some(9999));
        // An explicit app port wins.
        let p = ports("127.0.0.1:9999", &["web-svc:8080=7000"], &[]).unwrap();
        assert_eq!(p.single().map(|a| a.port()), Some(7000));
    }

    #[test]
    fn several_service_ports_each_reach_their_own_app_port() {
        let p = ports(
            "127.0.0.1:3888",
            &["zk:2181", "zk-hs:2888", "zk-hs:3888"],
            &[],
        )
        .unwrap();
        assert_eq!(p.single(), None);
        assert_eq!(to(&p, "zk:2181"), Some(2181));
        assert_eq!(to(&p, "zk-hs.ns.svc.cluster.local:2888"), Some(2888));
        assert_eq!(to(&p, "zk-hs:3888"), Some(3888));
        // By port alone: the pod's address, or another namespace's view.
        assert_eq!(to(&p, "10.0.0.5:2181"), Some(2181));
        assert_eq!(to(&p, "zk.other:2181"), Some(2181));
        // Naming no service port of this workload: refused, not guessed.
        assert_eq!(to(&p, "127.0.0.1:4143"), None);
        assert_eq!(to(&p, "zk"), None);
        let no = p.for_request(None, "ns", "cluster.local").unwrap_err();
        assert_eq!(
            no.services,
            "zk:2181 -> 127.0.0.1:2181, zk-hs:2888 -> 127.0.0.1:2888, zk-hs:3888 -> 127.0.0.1:3888"
        );
    }

    #[test]
    fn explicit_app_ports_and_shared_service_ports() {
        let p = ports("127.0.0.1:1", &["a:80=8080", "b:80=9090", "c:81"], &[]).unwrap();
        assert_eq!(to(&p, "a:80"), Some(8080));
        assert_eq!(to(&p, "b:80"), Some(9090));
        assert_eq!(to(&p, "c:81"), Some(81));
        // Port 80 alone is ambiguous.
        assert_eq!(to(&p, "10.0.0.5:80"), None);
    }

    #[test]
    fn opaque_ports_with_several_app_ports_are_refused() {
        let e = ports("127.0.0.1:3888", &["zk:2181", "zk-hs:2888"], &[2888]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains(
                "several app ports (zk:2181 -> 127.0.0.1:2181, zk-hs:2888 -> 127.0.0.1:2888)"
            ),
            "{text}"
        );
        assert!(text.contains("--opaque-ports names 2888"), "{text}");
        assert!(text.contains("without traffic capture"), "{text}");
        // The app port counts too; opaque ports the workload does not serve do not matter.
        assert!(ports("127.0.0.1:1", &["a:80=3306", "b:81"], &[3306]).is_err());
        assert!(ports("127.0.0.1:1", &["a:80", "b:81"], &[3306]).is_ok());
        // One app port: opaque works as before.
        assert!(ports("127.0.0.1:2888", &["zk-hs:2888"], &[2888]).is_ok());
    }

    #[test]
    fn an_app_port_on_the_proxy_itself_is_a_loop() {
        let own = OwnListeners {
            inbound: Some("0.0.0.0:4143".parse().unwrap()),
            outbound: Some("127.0.0.1:4140".parse().unwrap()),
            admin: Some("127.0.0.1:4191".parse().unwrap()),
        };
        let e = ports("127.0.0.1:9", &["a:80", "b:4140"], &[])
            .unwrap()
            .outside(&own);
        assert_eq!(
            e.unwrap_err(),
            AppPortsError::Loop {
                addr: "127.0.0.1:4140".parse().unwrap(),
                listener: "outbound".into()
            }
        );
        let e = ports("127.0.0.1:4143", &[], &[])
            .unwrap()
            .outside(&own)
            .unwrap_err();
        assert!(e.to_string().contains("own inbound listener"), "{e}");
        assert!(ports("127.0.0.1:8080", &["a:80"], &[])
            .unwrap()
            .outside(&own)
            .is_ok());
    }

    #[test]
    fn app_ports_need_an_app() {
        let services = vec!["zk:2181=2181".parse().unwrap()];
        assert_eq!(
            AppPorts::new(None, &services, &[]).unwrap_err(),
            AppPortsError::WithoutApp {
                service: "zk:2181=2181".into()
            }
        );
    }
}
