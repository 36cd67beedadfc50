//! `mesh edges` as a table, laid out as `linkerd viz edges` prints it (its `viz/cmd/edges.go`):
//! SRC, DST, SRC_NS, DST_NS, with `-o wide` CLIENT_ID and SERVER_ID, then SECURED — `√` for an
//! edge whose traffic was mutual TLS, else `not secured: ` and the reason in the words of Linkerd's
//! metrics API (`Not Provided By Service Discovery`). Identities are shortened to
//! `<service-account>.<namespace>`, as Linkerd prints them.

use super::table;
use crate::viz::model::{Edge, Secured};

/// The SECURED cell of an edge whose traffic was all mutual TLS (Linkerd's, uncoloured).
pub const SECURED: &str = "√";

/// The SECURED cell of an edge whose traffic said nothing of TLS (opaque TCP alone).
pub const UNKNOWN: &str = "unknown";

/// `mesh edges` as a table (`wide` adds the proven identities, `-` where none was proven).
pub fn edges_table(edges: &[Edge], wide: bool) -> String {
    let mut header = vec!["SRC", "DST", "SRC_NS", "DST_NS"];
    if wide {
        header.extend(["CLIENT_ID", "SERVER_ID"]);
    }
    header.push("SECURED");
    let body = edges
        .iter()
        .map(|e| {
            let mut cells = vec![
                e.src.clone(),
                e.dst.clone(),
                e.src_namespace.clone(),
                e.dst_namespace.clone(),
            ];
            if wide {
                let id = |id: &Option<String>| id.as_deref().map_or("-".into(), short_id);
                cells.extend([id(&e.tls.client_id), id(&e.tls.server_id)]);
            }
            cells.push(secured_cell(e));
            cells
        })
        .collect();
    table(&header, body, header.len())
}

/// The SECURED cell: `√`, `not secured: <reason's words>`, or `unknown`.
pub fn secured_cell(edge: &Edge) -> String {
    match edge.tls.secured() {
        Secured::Yes => SECURED.to_string(),
        Secured::No(reason) => format!("not secured: {}", reason_words(reason)),
        Secured::Unknown => UNKNOWN.to_string(),
    }
}

/// An identity as Linkerd's CLI prints it: its first two labels, `<service-account>.<namespace>`
/// (`web.emojivoto` of `web.emojivoto.serviceaccount.identity.mesh.cluster.local`); a name with
/// fewer labels as it is.
pub fn short_id(id: &str) -> String {
    let mut labels = id.splitn(3, '.');
    match (labels.next(), labels.next()) {
        (Some(sa), Some(ns)) => format!("{sa}.{ns}"),
        _ => id.to_string(),
    }
}

/// A `no_tls_reason` label value in the words of Linkerd's metrics API (its `edges.go` `formatMsg`):
/// each word capitalized, `tls` and `http` upper case — `no_tls_from_remote` is
/// `No TLS From Remote`, `not_provided_by_service_discovery` `Not Provided By Service Discovery`.
/// A value Linkerd's table lacks is worded by the same rule, where Linkerd prints nothing (and so
/// a secured edge).
pub fn reason_words(reason: &str) -> String {
    let words: Vec<String> = reason
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| match w {
            "tls" | "http" => w.to_uppercase(),
            _ => {
                let mut chars = w.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_uppercase().chain(chars).collect()
                })
            }
        })
        .collect();
    words.join(" ")
}

#[cfg(test)]
pub(super) mod tests;
