//! The local registry of running proxies: discovery on one machine, for outbound proxies and the CLI.
//!
//! Each `mesh proxy` writes one small JSON record (identity, services, inbound and admin addresses,
//! pid) into the registry directory and removes it on exit; readers skip records whose process is
//! gone, so a crashed proxy never stays discoverable. In a cluster, Kubernetes and Prometheus take
//! this role.

pub mod claim;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::identity::Identity;

/// Largest record file read; anything bigger is not a record.
const MAX_RECORD_BYTES: u64 = 64 * 1024;
/// Most records read from one directory, so a polluted directory cannot exhaust memory.
const MAX_RECORDS: usize = 10_000;

/// A service a workload serves: the Kubernetes Service name and port (`web-svc:8080`), and the
/// app port its requests go to when it is not the default (Kubernetes' `targetPort`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServicePort {
    pub name: String,
    pub port: u16,
    /// `NAME:PORT=APP_PORT`: the app's port for this service port; `None`: the default rule
    /// (`proxy::app_ports`). Left out of a record when `None`, so records of single-port
    /// workloads are what older readers expect; older readers ignore it otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_port: Option<u16>,
}

/// Why a text is not a service port (`NAME[:PORT][=APP_PORT]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServicePortError {
    #[error("{text:?}: the app port {port:?} is not a number from 1 to 65535")]
    AppPort { text: String, port: String },
    #[error("{text:?}: the port {port:?} is not a number from 1 to 65535")]
    Port { text: String, port: String },
    // The name's fault is part of the text, not a `source()`: clap shows parse errors as one text.
    #[error("{text:?}: {reason}")]
    Name {
        text: String,
        reason: crate::profile::names::NameError,
    },
}

impl std::str::FromStr for ServicePort {
    type Err = ServicePortError;
    /// `NAME[:PORT][=APP_PORT]`; the port defaults to 80.
    fn from_str(s: &str) -> Result<Self, ServicePortError> {
        let text = || s.to_string();
        let (service, app_port) = match s.split_once('=') {
            Some((service, app)) => (
                service,
                Some(app.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    ServicePortError::AppPort {
                        text: text(),
                        port: app.to_string(),
                    }
                })?),
            ),
            None => (s, None),
        };
        let (name, port) = match service.rsplit_once(':') {
            Some((name, port)) => (
                name,
                port.parse::<u16>().map_err(|_| ServicePortError::Port {
                    text: text(),
                    port: port.to_string(),
                })?,
            ),
            None => (service, 80),
        };
        crate::profile::names::check_dns1035_label(name).map_err(|reason| {
            ServicePortError::Name {
                text: text(),
                reason,
            }
        })?;
        Ok(ServicePort {
            name: name.to_string(),
            port,
            app_port,
        })
    }
}

impl std::fmt::Display for ServicePort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.name, self.port)?;
        match self.app_port {
            Some(app) => write!(f, "={app}"),
            None => Ok(()),
        }
    }
}

/// What one running proxy publishes about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyRecord {
    pub namespace: String,
    /// `deploy/web`.
    pub workload: String,
    pub pod: String,
    /// The services whose requests this proxy's inbound side accepts.
    #[serde(default)]
    pub services: Vec<ServicePort>,
    /// Where meshed callers send requests for those services (the inbound listener).
    #[serde(default)]
    pub inbound: Option<SocketAddr>,
    /// The admin port (`/metrics`, `/stats`, `/tap`).
    pub admin: SocketAddr,
    /// The outbound listener, so another proxy can tell that its `--app` would be this proxy (a
    /// loop). Absent in records of older proxies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<SocketAddr>,
    /// The TLS identity this proxy's certificate proves (its DNS-style name), when it has one
    /// (`--identity-dir`): what callers' proxies expect when they connect with mutual TLS.
    /// Absent in records of older proxies and of proxies without an identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_id: Option<String>,
    pub pid: u32,
}

impl ProxyRecord {
    /// Which of this proxy's listeners `addr` is, if any: `"inbound"`, `"outbound"` or `"admin"`.
    pub fn listener_at(&self, addr: SocketAddr) -> Option<&'static str> {
        [
            ("inbound", self.inbound),
            ("outbound", self.outbound),
            ("admin", Some(self.admin)),
        ]
        .into_iter()
        .find_map(|(name, a)| (a == Some(addr)).then_some(name))
    }

    /// The record's identity, if its workload parses.
    pub fn identity(&self) -> Option<Identity> {
        Some(Identity {
            namespace: self.namespace.clone(),
            workload: self.workload.parse().ok()?,
            pod: self.pod.clone(),
        })
    }
}

/// The default registry directory: `$XDG_RUNTIME_DIR/mesh/registry`, else `<tmp>/mesh-registry`.
pub fn default_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("mesh").join("registry"),
        _ => std::env::temp_dir().join("mesh-registry"),
    }
}

/// A published record; removes its file when dropped.
#[derive(Debug)]
pub struct Registration {
    path: PathBuf,
}

impl Registration {
    /// Writes `record` into `dir` atomically (a temporary file renamed into place).
    pub fn publish(dir: &Path, record: &ProxyRecord) -> io::Result<Registration> {
        std::fs::create_dir_all(dir)?;
        let name = format!("{}.{}.{}", record.namespace, record.pod, record.pid);
        let path = dir.join(format!("{name}.json"));
        // One temporary file per record: proxies of one process (`mesh demo`) publish at once.
        let tmp = dir.join(format!(".{name}.tmp"));
        let text = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)?;
        Ok(Registration { path })
    }

    /// Where the record lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads every live record in `dir` (missing directory: none). Unreadable or malformed files and
/// records of processes that are gone are skipped.
pub fn read_records(dir: &Path) -> Vec<ProxyRecord> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut records: Vec<ProxyRecord> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .take(MAX_RECORDS)
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            if meta.len() > MAX_RECORD_BYTES {
                return None;
            }
            let text = std::fs::read(e.path()).ok()?;
            serde_json::from_slice::<ProxyRecord>(&text).ok()
        })
        .filter(|r| process_alive(r.pid))
        .collect();
    records.sort_by(|a, b| {
        (&a.namespace, &a.workload, &a.pod).cmp(&(&b.namespace, &b.workload, &b.pod))
    });
    records
}

/// Whether a process exists (Linux: `/proc/<pid>`; elsewhere records are trusted).
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pid: u32) -> ProxyRecord {
        ProxyRecord {
            namespace: "emojivoto".into(),
            workload: "deploy/web".into(),
            pod: "web-0".into(),
            services: vec!["web-svc:8080".parse().unwrap()],
            inbound: Some("127.0.0.1:4143".parse().unwrap()),
            admin: "127.0.0.1:4191".parse().unwrap(),
            outbound: None,
            tls_id: None,
            pid,
        }
    }

    #[test]
    fn records_are_published_read_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let live = record(std::process::id());
        let reg = Registration::publish(dir.path(), &live).unwrap();
        // A record of a process that cannot exist is skipped.
        Registration::publish(dir.path(), &record(u32::MAX - 1))
            .map(std::mem::forget)
            .unwrap();
        std::fs::write(dir.path().join("garbage.json"), "{").unwrap();
        assert_eq!(read_records(dir.path()), vec![live]);
        drop(reg);
        assert!(read_records(dir.path()).is_empty());
    }

    #[test]
    fn proxies_of_one_process_publish_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let records: Vec<ProxyRecord> = (0..8)
            .map(|i| ProxyRecord {
                pod: format!("web-{i}"),
                ..record(std::process::id())
            })
            .collect();
        for _ in 0..20 {
            let published: Vec<Registration> = std::thread::scope(|s| {
                let handles: Vec<_> = records
                    .iter()
                    .map(|r| s.spawn(|| Registration::publish(dir.path(), r).unwrap()))
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert_eq!(read_records(dir.path()), records);
            drop(published);
        }
    }

    #[test]
    fn service_ports_parse() {
        assert_eq!("web-svc:8080".parse::<ServicePort>().unwrap().port, 8080);
        assert_eq!("web-svc".parse::<ServicePort>().unwrap().port, 80);
        assert!("web-svc:x".parse::<ServicePort>().is_err());
        assert!("Web:80".parse::<ServicePort>().is_err());
        let zk: ServicePort = "zk-hs:2888=12888".parse().unwrap();
        assert_eq!((zk.port, zk.app_port), (2888, Some(12888)));
        assert_eq!(zk.to_string(), "zk-hs:2888=12888");
        assert_eq!(
            "zk=2181".parse::<ServicePort>().unwrap().app_port,
            Some(2181)
        );
        assert!("zk:2181=x".parse::<ServicePort>().is_err());
        assert!("zk:2181=0".parse::<ServicePort>().is_err());
    }

    #[test]
    fn records_stay_readable_by_older_readers() {
        // A single-port record is what it always was; app ports are an optional extra field,
        // which older readers (without `deny_unknown_fields`) skip.
        let plain = serde_json::to_value(record(1)).unwrap();
        assert_eq!(
            plain["services"],
            serde_json::json!([{"name": "web-svc", "port": 8080}])
        );
        let mut zk = record(1);
        zk.services = vec!["zk-hs:2888=12888".parse().unwrap()];
        let text = serde_json::to_string(&zk).unwrap();
        assert!(text.contains(r#""app_port":12888"#), "{text}");
        #[derive(Deserialize)]
        struct OldServicePort {
            name: String,
            port: u16,
        }
        #[derive(Deserialize)]
        struct OldRecord {
            services: Vec<OldServicePort>,
        }
        let old: OldRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (old.services[0].name.as_str(), old.services[0].port),
            ("zk-hs", 2888)
        );
    }
}
