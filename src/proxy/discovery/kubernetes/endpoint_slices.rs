//! EndpointSlices → the addresses that serve one port of a Service, as the Kubernetes API
//! reference (discovery.k8s.io/v1, "EndpointSlice") defines them:
//!
//! - a Service port is found in its slices by **name** (`ports[].name`, empty for a Service with
//!   one unnamed port); the slice's `port` is the target port already resolved per endpoint
//!   group, so a named `targetPort` needs no pod lookup;
//! - `conditions.ready` unset means ready; a terminating endpoint is never ready;
//! - the same endpoint may appear in two slices while the controller moves it: listed once;
//! - a dual-stack Service has an `IPv4` and an `IPv6` slice for the same pods: each pod is listed
//!   once, in the preferred family when it has an address there; `FQDN` slices are not addresses.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Which address family to prefer for a pod that has both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// One address serving a service port, and the pod behind it (from the endpoint's `targetRef`;
/// `None` for endpoints written by hand, which are not pods).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SliceAddress {
    pub addr: SocketAddr,
    pub pod: Option<String>,
}

/// The name of `service`'s port `port` as its EndpointSlices carry it (`""` when unnamed), or
/// `None` when the Service has no such port (TCP).
pub fn port_name(service: &Service, port: u16) -> Option<String> {
    let ports = service.spec.as_ref()?.ports.as_ref()?;
    ports
        .iter()
        .filter(|p| p.protocol.as_deref().unwrap_or("TCP") == "TCP")
        .find(|p| p.port == i32::from(port))
        .map(|p| p.name.clone().unwrap_or_default())
}

/// The ready addresses of the port named `port_name` across `slices` (all of one Service),
/// sorted, each pod once (in `prefer`'s family when it has an address there).
pub fn ready_addresses<S: Borrow<EndpointSlice>>(
    slices: &[S],
    port_name: &str,
    prefer: Family,
) -> Vec<SliceAddress> {
    // Per pod (or per address, for endpoints without a pod), the addresses by family.
    let mut by_pod: BTreeMap<String, [BTreeSet<SocketAddr>; 2]> = BTreeMap::new();
    for slice in slices {
        let slice: &EndpointSlice = slice.borrow();
        let family = match slice.address_type.as_str() {
            "IPv4" => Family::V4,
            "IPv6" => Family::V6,
            _ => continue,
        };
        let Some(port) = slice_port(slice, port_name) else {
            continue;
        };
        for endpoint in &slice.endpoints {
            let conditions = endpoint.conditions.as_ref();
            let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
            let terminating = conditions.and_then(|c| c.terminating).unwrap_or(false);
            if !ready || terminating {
                continue;
            }
            let pod = endpoint
                .target_ref
                .as_ref()
                .filter(|r| r.kind.as_deref() == Some("Pod"))
                .and_then(|r| r.name.clone());
            for text in &endpoint.addresses {
                let Ok(ip) = text.parse::<IpAddr>() else {
                    continue;
                };
                if ip.is_ipv4() != (family == Family::V4) {
                    continue;
                }
                // An endpoint without a pod is its own group: keyed apart from pod names.
                let key = pod.clone().unwrap_or_else(|| format!("\0{ip}"));
                let slot = usize::from(family == Family::V6);
                by_pod.entry(key).or_default()[slot].insert(SocketAddr::new(ip, port));
            }
        }
    }
    let first = usize::from(prefer == Family::V6);
    let mut out: Vec<SliceAddress> = by_pod
        .into_iter()
        .flat_map(|(key, families)| {
            let pod = (!key.starts_with('\0')).then_some(key);
            let chosen = if families[first].is_empty() {
                families[1 - first].clone()
            } else {
                families[first].clone()
            };
            chosen.into_iter().map(move |addr| SliceAddress {
                addr,
                pod: pod.clone(),
            })
        })
        .collect();
    out.sort();
    out
}

/// The target port of the port named `name` in `slice` (TCP only).
fn slice_port(slice: &EndpointSlice, name: &str) -> Option<u16> {
    slice
        .ports
        .as_ref()?
        .iter()
        .filter(|p| p.protocol.as_deref().unwrap_or("TCP") == "TCP")
        .find(|p| p.name.as_deref().unwrap_or("") == name)
        .and_then(|p| p.port)
        .and_then(|p| u16::try_from(p).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slice(
        family: &str,
        ports: serde_json::Value,
        endpoints: serde_json::Value,
    ) -> EndpointSlice {
        serde_json::from_value(json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "web-svc-x", "labels": {SERVICE_NAME_LABEL: "web-svc"}},
            "addressType": family,
            "ports": ports,
            "endpoints": endpoints,
        }))
        .unwrap()
    }

    fn pod(ip: &str, name: &str, conditions: serde_json::Value) -> serde_json::Value {
        json!({
            "addresses": [ip],
            "conditions": conditions,
            "targetRef": {"kind": "Pod", "name": name, "namespace": "emojivoto"},
        })
    }

    fn list(addrs: &[SliceAddress]) -> Vec<String> {
        addrs
            .iter()
            .map(|a| format!("{} {}", a.addr, a.pod.as_deref().unwrap_or("-")))
            .collect()
    }

    #[test]
    fn ready_endpoints_of_the_named_port_across_slices() {
        let ports = json!([{"name": "http", "port": 8080, "protocol": "TCP"},
                           {"name": "admin", "port": 9990}]);
        let a = slice(
            "IPv4",
            ports.clone(),
            json!([
                pod("10.0.0.1", "web-a", json!({"ready": true})),
                pod("10.0.0.2", "web-b", json!({})),
                pod("10.0.0.3", "web-c", json!({"ready": false})),
                pod(
                    "10.0.0.4",
                    "web-d",
                    json!({"ready": true, "terminating": true})
                ),
            ]),
        );
        // The controller moved web-b: it is in both slices for a moment.
        let b = slice(
            "IPv4",
            ports,
            json!([
                pod("10.0.0.2", "web-b", json!({"ready": true})),
                pod("10.0.0.5", "web-e", json!({"ready": true}))
            ]),
        );
        assert_eq!(
            list(&ready_addresses(&[a.clone(), b], "http", Family::V4)),
            [
                "10.0.0.1:8080 web-a",
                "10.0.0.2:8080 web-b",
                "10.0.0.5:8080 web-e"
            ]
        );
        assert_eq!(
            list(&ready_addresses(
                std::slice::from_ref(&a),
                "admin",
                Family::V4
            )),
            ["10.0.0.1:9990 web-a", "10.0.0.2:9990 web-b"]
        );
        assert!(ready_addresses(&[a], "grpc", Family::V4).is_empty());
    }

    #[test]
    fn an_unnamed_port_and_endpoints_without_pods() {
        let s = slice(
            "IPv4",
            json!([{"port": 5432}]),
            json!([{"addresses": ["192.168.1.10"]}, {"addresses": ["192.168.1.11"], "conditions": {"ready": null}}]),
        );
        assert_eq!(
            list(&ready_addresses(&[s], "", Family::V4)),
            ["192.168.1.10:5432 -", "192.168.1.11:5432 -"]
        );
    }

    #[test]
    fn dual_stack_lists_each_pod_once_in_the_preferred_family() {
        let ports = json!([{"name": "http", "port": 8080}]);
        let v4 = slice(
            "IPv4",
            ports.clone(),
            json!([
                pod("10.0.0.1", "web-a", json!({})),
                pod("10.0.0.2", "web-b", json!({}))
            ]),
        );
        // web-c has only an IPv6 address.
        let v6 = slice(
            "IPv6",
            ports,
            json!([
                pod("fd00::1", "web-a", json!({})),
                pod("fd00::3", "web-c", json!({}))
            ]),
        );
        let fqdn = slice(
            "FQDN",
            json!([{"name": "http", "port": 8080}]),
            json!([{"addresses": ["db.example"]}]),
        );
        let slices = [v4, v6, fqdn];
        assert_eq!(
            list(&ready_addresses(&slices, "http", Family::V4)),
            [
                "10.0.0.1:8080 web-a",
                "10.0.0.2:8080 web-b",
                "[fd00::3]:8080 web-c"
            ]
        );
        assert_eq!(
            list(&ready_addresses(&slices, "http", Family::V6)),
            [
                "10.0.0.2:8080 web-b",
                "[fd00::1]:8080 web-a",
                "[fd00::3]:8080 web-c"
            ]
        );
    }

    #[test]
    fn a_service_port_is_found_by_number_and_carries_its_name() {
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "web-svc", "namespace": "emojivoto"},
            "spec": {"ports": [
                {"name": "http", "port": 80, "targetPort": "web"},
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"port": 443, "targetPort": 8443, "name": "tls"},
            ]},
        }))
        .unwrap();
        assert_eq!(port_name(&svc, 80).as_deref(), Some("http"));
        assert_eq!(port_name(&svc, 53), None, "UDP is not proxied");
        assert_eq!(
            port_name(&svc, 8443),
            None,
            "a target port is not a service port"
        );
        let one: Service =
            serde_json::from_value(json!({"spec": {"ports": [{"port": 6379}]}})).unwrap();
        assert_eq!(port_name(&one, 6379).as_deref(), Some(""));
    }
}
