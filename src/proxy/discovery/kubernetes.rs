//! Discovery from the Kubernetes API (`mesh proxy --discovery kube`): EndpointSlices give the
//! ready pods of a service port, Services map a ClusterIP to its service, and pods say which
//! workload answers. The pure mapping from API objects to endpoints lives in the submodules;
//! watching the API (list, then watch with bookmarks, relist on 410 Gone) is kube-rs's runtime.

pub mod cluster_ips;
pub mod drive;
pub mod endpoint_slices;
pub mod pods;
pub mod resolver;
