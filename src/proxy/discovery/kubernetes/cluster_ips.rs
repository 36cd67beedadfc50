//! Services → which service a ClusterIP and port belong to, so that a connection captured on its
//! way to a ClusterIP (an unaware app calling `web-svc`, resolved by DNS) is balanced over the
//! service's pods instead of left to kube-proxy's per-connection choice. Headless Services
//! (`clusterIP: None`) have no such address; each of a dual-stack Service's `clusterIPs` does.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::core::v1::Service;

use super::super::ServiceName;

/// ClusterIP:port → service, for the Services seen.
#[derive(Debug, Default, Clone)]
pub struct ClusterIps(HashMap<SocketAddr, ServiceName>);

impl ClusterIps {
    /// The map of every TCP port of every Service in `services` that has a ClusterIP.
    pub fn new<'a>(services: impl IntoIterator<Item = &'a Service>, cluster_domain: &str) -> Self {
        let mut map = HashMap::new();
        for service in services {
            let (Some(name), Some(namespace), Some(spec)) = (
                service.metadata.name.as_ref(),
                service.metadata.namespace.as_ref(),
                service.spec.as_ref(),
            ) else {
                continue;
            };
            let ips: Vec<IpAddr> = spec
                .cluster_ips
                .iter()
                .flatten()
                .chain(spec.cluster_ip.iter())
                .filter_map(|ip| ip.parse().ok())
                .collect();
            for port in spec.ports.iter().flatten() {
                if port.protocol.as_deref().unwrap_or("TCP") != "TCP" {
                    continue;
                }
                let Ok(number) = u16::try_from(port.port) else {
                    continue;
                };
                for ip in &ips {
                    map.insert(
                        SocketAddr::new(*ip, number),
                        ServiceName {
                            name: name.clone(),
                            namespace: namespace.clone(),
                            cluster_domain: cluster_domain.to_string(),
                            port: number,
                        },
                    );
                }
            }
        }
        ClusterIps(map)
    }

    /// The service whose ClusterIP and port `addr` is (IPv4-mapped IPv6 addresses are read as
    /// IPv4, as a dual-stack listener reports them).
    pub fn service_at(&self, addr: SocketAddr) -> Option<&ServiceName> {
        let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
        self.0.get(&addr)
    }

    /// How many ClusterIP:port pairs are known.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_cluster_ip_and_tcp_port_names_its_service() {
        let services: Vec<Service> = serde_json::from_value(json!([
            {"metadata": {"name": "web-svc", "namespace": "emojivoto"},
             "spec": {"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10", "fd00:96::10"],
                      "ports": [{"name": "http", "port": 80, "targetPort": 8080},
                                {"name": "dns", "port": 53, "protocol": "UDP"}]}},
            {"metadata": {"name": "zk-hs", "namespace": "default"},
             "spec": {"clusterIP": "None", "ports": [{"port": 2181}]}},
            {"metadata": {"name": "no-ns"}, "spec": {"clusterIP": "10.96.0.11", "ports": [{"port": 1}]}},
        ]))
        .unwrap();
        let map = ClusterIps::new(&services, "cluster.local");
        let at = |a: &str| {
            map.service_at(a.parse().unwrap())
                .map(ServiceName::authority)
        };
        assert_eq!(
            at("10.96.0.10:80").as_deref(),
            Some("web-svc.emojivoto.svc.cluster.local:80")
        );
        assert_eq!(
            at("[fd00:96::10]:80").as_deref(),
            Some("web-svc.emojivoto.svc.cluster.local:80")
        );
        assert_eq!(
            at("[::ffff:10.96.0.10]:80").as_deref(),
            Some("web-svc.emojivoto.svc.cluster.local:80")
        );
        assert_eq!(at("10.96.0.10:53"), None, "UDP");
        assert_eq!(at("10.96.0.10:8080"), None, "a target port");
        assert_eq!(
            map.len(),
            2,
            "headless and namespace-less services add nothing"
        );
    }
}
