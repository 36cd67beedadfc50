//! Inbound: requests from callers (usually their outbound proxies) to the local app.
//!
//! The caller's identity comes from the `mesh-peer` header its proxy adds; that header, the
//! `mesh-hop` loop markers and any `l5d-*` headers are removed before the app sees the request.
//! Until mutual TLS, a caller that writes `mesh-peer` itself cannot be told from a proxy. The
//! authority is canonicalised against the services this workload serves, so `web-svc:8080` and
//! `web-svc.emojivoto.svc.cluster.local:8080` count as one, and picks the app port when there are
//! several ([`super::app_ports`]).
//!
//! [`handle`] reads as the walk: the caller's identity and the app port → the
//! [route match](super::route) → counted and tapped ([`super::observe`]) → the request's
//! [deadline](super::timeout) (no route timeout inbound: the caller's proxy applies it) →
//! [retry], which inbound uses only for requests the app did not process, over tries
//! sent to the app through the [connection pool](super::connect) → the response, or the
//! [rescue](super::respond) of an error.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use tokio::time::Instant;

use super::app_ports::NoAppPort;
use super::body::ProxyBody;
use super::classify::is_grpc;
use super::connect::Upstream;
use super::discovery::{target_of, Target};
use super::forward::{
    authority_of, downstream_response, upstream_request, version_of, wants_upgrade, BadResponse,
};
use super::hop::strip_before_app;
use super::metrics::{
    Direction, NoTlsReason, PeerSide, Refused, ResponseOutcome, TcpLabels, TlsStatus, TrafficLabels,
};
use super::observe::{Observation, Record};
use super::replay::Replayable;
use super::respond::{self, ProxyError, Seen, SentTo, TriesMade};
use super::retry::policy::Failure;
use super::retry::{self, RetryPolicy, SendTry, Tried, TryFailed};
use super::route::MatchedRoute;
use super::state::ProxyState;
use super::tap::{tap_peer, TapRequestInfo};
use super::timeout::{Bound, Deadline};
use super::tls::PeerTls;
use crate::admin_api::tap::ProxyDirection;
use crate::identity::Identity;

/// Where an inbound connection's requests go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppTarget {
    /// `--app`, or with several app ports, the one of the service port each request names.
    Configured(SocketAddr),
    /// The app port the caller connected to, as transparent capture tells it (the connection's
    /// original destination, or that port on loopback with `--inbound-forward localhost`).
    Captured(SocketAddr),
}

/// Handles one inbound request from `remote` by passing it to the app ([`AppTarget`]).
pub async fn handle(
    state: Arc<ProxyState>,
    target: AppTarget,
    remote: SocketAddr,
    peer_tls: Option<Arc<PeerTls>>,
    mut req: Request<Incoming>,
) -> Response<ProxyBody> {
    let start = Instant::now();
    // The proxies' own headers end here: the app sees none of them.
    let claimed = strip_before_app(req.headers_mut())
        .and_then(|v| v.to_str().ok().map(str::to_owned))
        .and_then(|v| {
            state
                .peers
                .get_or(&v, || Identity::from_header(&v).map(Arc::new))
        });
    // Over mTLS the certificate vouches for the namespace: the header's workload and pod are
    // taken only when its namespace is the certificate's (a forged one is dropped).
    let (peer, tls) = match &peer_tls {
        Some(proven) => (
            claimed.filter(|p| p.namespace == proven.id.namespace),
            TlsStatus::Secured(proven.client_id.clone()),
        ),
        None => (claimed, state.plaintext_caller_tls()),
    };
    let named = authority_of(&req);
    let config = &state.config;
    let (chosen, app) = match target {
        AppTarget::Captured(app) => (Ok(app), app),
        AppTarget::Configured(app) => {
            let chosen = state.app_ports.for_request(
                named.as_deref(),
                &config.identity.namespace,
                &config.cluster_domain,
            );
            let app = chosen.as_ref().map_or(app, |a| *a);
            (chosen, app)
        }
    };
    // A plaintext caller refused for want of identity is counted, but not under the workload its
    // header claims: a forged claim must not show in the metrics or `mesh edges`.
    let refused_plaintext = peer_tls.is_none() && config.require_identity.requires(app.port());
    let (peer, unproven_claim) = match refused_plaintext {
        true => (None, peer),
        false => (peer, None),
    };
    let raw_authority = named.unwrap_or_else(|| app.to_string());
    let fqdn_authority = state
        .own_services
        .get_or(&raw_authority, || own_service(&state, &raw_authority));
    let route = MatchedRoute::inbound(
        &state,
        fqdn_authority.as_ref().map(|(fqdn, _)| &**fqdn),
        req.method().as_str(),
        req.uri().path(),
    );
    let labels = TrafficLabels {
        direction: Direction::Inbound,
        authority: fqdn_authority.map_or_else(|| Arc::from(raw_authority.as_str()), |(_, a)| a),
        peer,
        route: route.name().clone(),
        service: None,
        tls,
    };
    let counters = state.metrics.request(&labels);
    let tap = state.tap.request(
        start,
        || TapRequestInfo {
            direction: ProxyDirection::Inbound,
            source: tap_peer(remote, labels.peer.as_deref(), labels.tls.label()),
            destination: tap_peer(app, Some(&state.identity), labels.tls.label()),
            method: req.method().clone(),
            authority: raw_authority.clone(),
            path: req.uri().path().to_string(),
            route: Some(route.name().clone()),
        },
        || req.headers().clone(),
    );

    let grpc_request = is_grpc(req.headers());
    let observation = Observation {
        metrics: state.metrics.clone(),
        errors: state.errors.clone(),
        labels,
        counters,
        route: route.clone(),
        grpc_request,
        start,
        record: Record::Effective,
        tap,
        upstream: SentTo::App(app),
    };
    if refused_plaintext {
        let from = unproven_claim
            .as_deref()
            .map(|p| {
                format!(
                    " from {} in namespace {} (its mesh-peer header, not proven)",
                    p.workload, p.namespace
                )
            })
            .unwrap_or_default();
        state
            .metrics
            .refused(Direction::Inbound, Refused::IdentityRequired);
        let err = ProxyError::IdentityRequired {
            port: app.port(),
            from,
        };
        return fail(&state, observation, err);
    }
    if let Err(NoAppPort { services }) = chosen {
        state
            .metrics
            .refused(Direction::Inbound, Refused::NoAppPort);
        let err = ProxyError::NoAppPort {
            authority: raw_authority,
            services,
        };
        return fail(&state, observation, err);
    }
    let upgrade = wants_upgrade(&req);
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let version = version_of(&req);
    let upstream = upstream_request(req, &raw_authority, upgrade, false);
    let counter = || {
        state.tcp_counter(TcpLabels {
            direction: Direction::Inbound,
            side: PeerSide::Dst,
            peer: None,
            // The app, on this pod.
            tls: TlsStatus::NotSecured(NoTlsReason::Loopback),
        })
    };
    let to = Upstream {
        addr: app,
        version,
        counter: &counter,
        // The app is on this pod: plaintext.
        tls: None,
    };
    // Inbound applies no route timeout (the caller's proxy does), and retries only requests the
    // app did not process: other failures are the caller's proxy's to retry.
    let deadline = state.deadline(start, None);
    let policy = RetryPolicy {
        route: &route,
        retryable: false,
        grpc: grpc_request,
        deadline: &deadline,
    };
    let mut tries = AppTries {
        state: &state,
        to: &to,
        deadline: &deadline,
    };
    // Dropped while awaiting the app (the caller went away), it records a cancel.
    let observation = observation.pending();
    let sent = retry::send(&policy, upstream, &mut tries).await;
    match sent {
        Ok(resp) => match downstream_response(resp, version, client_upgrade.is_some()) {
            Ok(resp) => observation.upstream(resp, client_upgrade),
            Err(BadResponse::UnsolicitedSwitch) => {
                let upstream = format!("the app at {app}");
                let err = ProxyError::UnsolicitedSwitch { upstream };
                fail(&state, observation.settle(), err)
            }
        },
        Err(err) => fail(&state, observation.settle(), err),
    }
}

/// Respond: answers a request that cannot go on (the rescue point).
fn fail(state: &ProxyState, observation: Observation, err: ProxyError) -> Response<ProxyBody> {
    respond::rescue(
        state,
        Direction::Inbound,
        err,
        Seen::Observed(Box::new(observation)),
    )
}

/// A connection that is not HTTP, to a workload with several app ports: it names no port, so
/// it has nowhere to go (transparent capture will deliver the port it was sent to). Closed, with
/// a logged reason; startup already refuses `--opaque-ports` in this configuration.
pub fn unroutable_opaque(state: &ProxyState) {
    state
        .metrics
        .refused(Direction::Inbound, Refused::NoAppPort);
    let text = format!(
        "closed a connection that is not HTTP: this workload has several app ports ({}), and \
         without transparent capture a TCP connection does not say which one it is for; run one \
         proxy per port for such protocols, each with its own --service and --app",
        state.app_ports.describe()
    );
    state
        .errors
        .note("inbound", "unroutable opaque connection".into(), &text);
}

/// Tries of an inbound request: each sent to the app.
struct AppTries<'a> {
    state: &'a ProxyState,
    to: &'a Upstream<'a>,
    deadline: &'a Deadline,
}

impl SendTry for AppTries<'_> {
    async fn send(&mut self, req: &mut Replayable) -> Tried {
        let sent = self.state.pools.send(self.to, req, self.deadline).await;
        sent.map_err(|source| TryFailed {
            failure: match source.is_not_processed() {
                true => Failure::NotProcessed,
                false => Failure::Failed,
            },
            refused: source.is_refused_stream(),
            err: ProxyError::App {
                addr: self.to.addr,
                source,
            },
        })
    }

    async fn retrying(&mut self, _: ResponseOutcome, failed: Option<&TryFailed>) {
        // Inbound counts what the caller saw only; a refused stream waits for room.
        if failed.is_some_and(|f| f.refused) {
            let until = self.deadline.dispatch_at();
            self.state.pools.after_refusal(self.to.addr, until).await;
        }
    }

    fn expired(&self, bound: Bound, tries: TriesMade) -> ProxyError {
        ProxyError::NoResponse {
            upstream: SentTo::App(self.to.addr),
            after: bound.duration(),
            tries,
        }
    }
}

/// `(fqdn, fqdn:port)` when the authority names one of this workload's services.
fn own_service(state: &ProxyState, authority: &str) -> Option<(Arc<str>, Arc<str>)> {
    let config = &state.config;
    let Some(Target::Service(s)) = target_of(
        authority,
        &config.identity.namespace,
        &config.cluster_domain,
    ) else {
        return None;
    };
    let ours = s.namespace == config.identity.namespace
        && config
            .services
            .iter()
            .any(|own| own.name == s.name && own.port == s.port);
    ours.then(|| (Arc::from(s.fqdn()), Arc::from(s.authority())))
}
