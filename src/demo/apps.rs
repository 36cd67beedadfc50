//! The demo's four apps, emojivoto-style: `web` (HTTP JSON API and a tiny page), `emoji` and
//! `voting` (gRPC, protobuf with prost), and `vote-bot`. They talk to each other only through
//! their own outbound proxies, as meshed apps do.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use prost::Message;

use crate::grpc::{self, Code};
use crate::proxy::body::{boxed, ProxyBody};
use crate::testsvc::{grpc_call, http1_request, SyntheticBody};

/// The emoji, by shortcode, as emojivoto has them.
pub const EMOJI: [(&str, &str); 12] = [
    (":doughnut:", "🍩"),
    (":joy:", "😂"),
    (":sunglasses:", "😎"),
    (":relaxed:", "☺️"),
    (":poop:", "💩"),
    (":ghost:", "👻"),
    (":rainbow:", "🌈"),
    (":trophy:", "🏆"),
    (":champagne:", "🍾"),
    (":thumbsup:", "👍"),
    (":clap:", "👏"),
    (":ok_hand:", "👌"),
];

/// Largest request body an app reads.
const MAX_BODY: usize = 64 * 1024;

#[derive(Clone, PartialEq, Message)]
struct Emoji {
    #[prost(string, tag = "1")]
    unicode: String,
    #[prost(string, tag = "2")]
    shortcode: String,
}

#[derive(Clone, PartialEq, Message)]
struct ListAllEmojiResponse {
    #[prost(message, repeated, tag = "1")]
    list: Vec<Emoji>,
}

#[derive(Clone, PartialEq, Message)]
struct FindByShortcodeRequest {
    #[prost(string, tag = "1")]
    shortcode: String,
}

#[derive(Clone, PartialEq, Message)]
struct FindByShortcodeResponse {
    #[prost(message, optional, tag = "1")]
    emoji: Option<Emoji>,
}

#[derive(Clone, PartialEq, Message)]
struct VotingResult {
    #[prost(string, tag = "1")]
    shortcode: String,
    #[prost(int32, tag = "2")]
    votes: i32,
}

#[derive(Clone, PartialEq, Message)]
struct ResultsResponse {
    #[prost(message, repeated, tag = "1")]
    results: Vec<VotingResult>,
}

/// `:ok_hand:` → `VoteOkHand`.
pub fn vote_rpc(shortcode: &str) -> String {
    let name: String = shortcode
        .trim_matches(':')
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("Vote{name}")
}

fn grpc_ok(message: impl Message) -> Response<ProxyBody> {
    let mut trailers = HeaderMap::new();
    trailers.insert(grpc::GRPC_STATUS, HeaderValue::from(0u32));
    let body =
        SyntheticBody::new(grpc::encode_frame(&message.encode_to_vec())).with_trailers(trailers);
    let mut resp = Response::new(boxed(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(grpc::CONTENT_TYPE),
    );
    resp
}

fn grpc_error(code: Code, message: &str) -> Response<ProxyBody> {
    let mut resp = Response::new(crate::proxy::body::empty());
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(grpc::CONTENT_TYPE),
    );
    h.insert(grpc::GRPC_STATUS, HeaderValue::from(code.as_u32()));
    if let Ok(v) = HeaderValue::from_str(&grpc::encode_message(message)) {
        h.insert(grpc::GRPC_MESSAGE, v);
    }
    resp
}

/// The first message of a unary call (bounded).
async fn request_message(req: Request<Incoming>) -> Option<Bytes> {
    let body = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .ok()?
        .to_bytes();
    grpc::decode_all(&body).ok()?.into_iter().next()
}

/// The emoji service.
pub async fn emoji(req: Request<Incoming>) -> Response<ProxyBody> {
    let all = || {
        EMOJI.iter().map(|(s, u)| Emoji {
            unicode: u.to_string(),
            shortcode: s.to_string(),
        })
    };
    match req.uri().path() {
        "/emojivoto.v1.EmojiService/ListAll" => grpc_ok(ListAllEmojiResponse {
            list: all().collect(),
        }),
        "/emojivoto.v1.EmojiService/FindByShortcode" => {
            let Some(msg) = request_message(req).await else {
                return grpc_error(Code::InvalidArgument, "expected one FindByShortcodeRequest");
            };
            let Ok(find) = FindByShortcodeRequest::decode(msg) else {
                return grpc_error(Code::InvalidArgument, "not a FindByShortcodeRequest");
            };
            grpc_ok(FindByShortcodeResponse {
                emoji: all().find(|e| e.shortcode == find.shortcode),
            })
        }
        other => grpc_error(Code::Unimplemented, &format!("no method {other}")),
    }
}

/// Votes counted by the voting service.
#[derive(Default, Clone)]
pub struct Tally(Arc<Mutex<BTreeMap<String, i32>>>);

/// The voting service; `VoteDoughnut` always fails, the demo's planted bug.
pub async fn voting(tally: Tally, req: Request<Incoming>) -> Response<ProxyBody> {
    let path = req.uri().path().to_string();
    let Some(method) = path.strip_prefix("/emojivoto.v1.VotingService/") else {
        return grpc_error(Code::Unimplemented, &format!("no method {path}"));
    };
    if method == "Results" {
        let counts = tally.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut results: Vec<VotingResult> = counts
            .into_iter()
            .map(|(shortcode, votes)| VotingResult { shortcode, votes })
            .collect();
        results.sort_by_key(|r| std::cmp::Reverse(r.votes));
        return grpc_ok(ResultsResponse { results });
    }
    if method == "VoteDoughnut" {
        return grpc_error(Code::Unknown, "ERROR");
    }
    match EMOJI.iter().find(|(s, _)| vote_rpc(s) == method) {
        Some((shortcode, _)) => {
            *tally
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(shortcode.to_string())
                .or_default() += 1;
            grpc_ok(FindByShortcodeRequest::default())
        }
        None => grpc_error(Code::Unimplemented, &format!("no method {method}")),
    }
}

/// Where `web` reaches its dependencies: its own outbound proxy.
#[derive(Clone, Copy)]
pub struct WebDeps {
    pub outbound: SocketAddr,
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<ProxyBody> {
    let mut resp = Response::new(crate::proxy::body::full(value.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

const PAGE: &str = "<!doctype html><title>emojivoto on mesh</title><h1>emojivoto on mesh</h1>\
<p>Vote: <code>/api/vote?choice=:joy:</code> · list: <code>/api/list</code> · \
<a href=\"/api/leaderboard\">leaderboard</a></p>";

/// The web front end: a JSON API over emoji and voting, and a page at `/`.
pub async fn web(deps: WebDeps, req: Request<Incoming>) -> Response<ProxyBody> {
    let call = |authority: &'static str, path: String, msg: Vec<u8>| async move {
        grpc_call(deps.outbound, authority, &path, &msg, &[]).await
    };
    match req.uri().path() {
        "/" => {
            let mut resp = Response::new(crate::proxy::body::full(PAGE));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            resp
        }
        "/api/list" => match call(
            "emoji-svc:8080",
            "/emojivoto.v1.EmojiService/ListAll".into(),
            vec![],
        )
        .await
        {
            Ok(r) if r.grpc_status == Some(0) => {
                let list = r
                    .messages
                    .first()
                    .and_then(|m| ListAllEmojiResponse::decode(m.clone()).ok())
                    .unwrap_or_default();
                let items: Vec<_> = list
                    .list
                    .iter()
                    .map(|e| serde_json::json!({"shortcode": e.shortcode, "unicode": e.unicode}))
                    .collect();
                json(StatusCode::OK, serde_json::Value::Array(items))
            }
            other => upstream_failed("emoji", other),
        },
        "/api/vote" => {
            let choice = req
                .uri()
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("choice=")))
                .map(|c| c.replace("%3A", ":").replace("%3a", ":"))
                .unwrap_or_default();
            let find = FindByShortcodeRequest {
                shortcode: choice.clone(),
            }
            .encode_to_vec();
            match call(
                "emoji-svc:8080",
                "/emojivoto.v1.EmojiService/FindByShortcode".into(),
                find,
            )
            .await
            {
                Ok(r) if r.grpc_status == Some(0) => {
                    let found = r
                        .messages
                        .first()
                        .and_then(|m| FindByShortcodeResponse::decode(m.clone()).ok())
                        .and_then(|f| f.emoji);
                    if found.is_none() {
                        return json(
                            StatusCode::BAD_REQUEST,
                            serde_json::json!({"error": format!("no emoji {choice:?}")}),
                        );
                    }
                }
                other => return upstream_failed("emoji", other),
            }
            let path = format!("/emojivoto.v1.VotingService/{}", vote_rpc(&choice));
            match call("voting-svc:8080", path, vec![]).await {
                Ok(r) if r.grpc_status == Some(0) => {
                    json(StatusCode::OK, serde_json::json!({"voted": choice}))
                }
                other => upstream_failed("voting", other),
            }
        }
        "/api/leaderboard" => match call(
            "voting-svc:8080",
            "/emojivoto.v1.VotingService/Results".into(),
            vec![],
        )
        .await
        {
            Ok(r) if r.grpc_status == Some(0) => {
                let results = r
                    .messages
                    .first()
                    .and_then(|m| ResultsResponse::decode(m.clone()).ok())
                    .unwrap_or_default();
                let items: Vec<_> = results
                    .results
                    .iter()
                    .map(|v| serde_json::json!({"shortcode": v.shortcode, "votes": v.votes}))
                    .collect();
                json(StatusCode::OK, serde_json::Value::Array(items))
            }
            other => upstream_failed("voting", other),
        },
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "not found"}),
        ),
    }
}

fn upstream_failed(
    what: &str,
    result: Result<crate::testsvc::GrpcReply, crate::testsvc::ClientError>,
) -> Response<ProxyBody> {
    let why = match result {
        Ok(r) => format!(
            "{what} answered grpc-status {:?}: {}",
            r.grpc_status,
            r.grpc_message.unwrap_or_default()
        ),
        Err(e) => format!("{what}: {e}"),
    };
    json(
        StatusCode::INTERNAL_SERVER_ERROR,
        serde_json::json!({"error": why}),
    )
}

/// The vote bot: votes for a random emoji through its outbound proxy every `interval`, and asks
/// for the list and the leaderboard now and then, until `stop` completes. A zero `interval` (the
/// CLI refuses it) is taken as 1 ms: tokio's `interval` panics on zero.
pub async fn vote_bot(
    outbound: SocketAddr,
    interval: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(1)));
    let mut n: u64 = 0x2545_f491_4f6c_dd1d;
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {}
        }
        n ^= n << 13;
        n ^= n >> 7;
        n ^= n << 17;
        let path = match n % 10 {
            0 => "/api/list".to_string(),
            1 => "/api/leaderboard".to_string(),
            _ => format!(
                "/api/vote?choice={}",
                EMOJI[(n / 10 % EMOJI.len() as u64) as usize].0
            ),
        };
        let req = Request::get(format!("http://web-svc:8080{path}"))
            .body(Full::new(Bytes::new()))
            .expect("a valid request");
        let _ = http1_request(outbound, req).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vote_rpcs_are_named_as_in_the_proto() {
        assert_eq!(vote_rpc(":ok_hand:"), "VoteOkHand");
        assert_eq!(vote_rpc(":doughnut:"), "VoteDoughnut");
        let proto = include_str!("../../fixtures/demo/voting.proto");
        for (shortcode, _) in EMOJI {
            assert!(
                proto.contains(&format!("rpc {}(", vote_rpc(shortcode))),
                "{shortcode}"
            );
        }
    }
}
