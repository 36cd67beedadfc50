//! HTTP/1 on raw sockets, for tests where framing matters: a client that sends exact bytes and an
//! app that records each request exactly as it arrived (head lines as sent, body as framed), so a
//! test can tell what a proxy kept, changed or dropped — which a hyper peer would normalise away.
//!
//! The reader understands just enough of RFC 9112 §6 to find where a message ends:
//! `Content-Length`, `Transfer-Encoding` ending in `chunked` (with trailer lines), or the end of
//! the connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::net::PATIENCE;

/// One HTTP/1 message as it crossed the wire.
#[derive(Clone, Default)]
pub struct RawMessage {
    /// The start line (`GET / HTTP/1.1`, `HTTP/1.1 200 OK`).
    pub start: String,
    /// Header lines in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Trailer lines of a chunked body.
    pub trailers: Vec<(String, String)>,
}

impl std::fmt::Debug for RawMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMessage")
            .field("start", &self.start)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("trailers", &self.trailers)
            .finish()
    }
}

impl RawMessage {
    /// Every value of header `name` (case-insensitive), in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.all(name).first().copied()
    }

    /// The first value of trailer `name`.
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status of a response.
    pub fn status(&self) -> u16 {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a status line: {:?}", self.start))
    }
}

/// Reads one message from `r`; `None` at a clean end of the connection before a message starts.
/// `request_method` is the method of the request a response answers (`HEAD` has no body).
pub async fn read_message<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    request_method: Option<&str>,
) -> std::io::Result<Option<RawMessage>> {
    let mut line = String::new();
    // RFC 9112 §2.2: empty lines before a request line are tolerated.
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        if !line.trim_end().is_empty() {
            break;
        }
    }
    let mut msg = RawMessage {
        start: line.trim_end().to_string(),
        ..RawMessage::default()
    };
    msg.headers = read_fields(r).await?;
    let is_response = msg.start.starts_with("HTTP/");
    let status = if is_response { msg.status() } else { 0 };
    let bodiless = request_method == Some("HEAD")
        || (100..200).contains(&status)
        || status == 204
        || status == 304;
    if bodiless {
        return Ok(Some(msg));
    }
    let chunked = msg.all("transfer-encoding").last().is_some_and(|te| {
        te.rsplit(',')
            .next()
            .unwrap()
            .trim()
            .eq_ignore_ascii_case("chunked")
    });
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line).await?;
            let size = line.trim_end().split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size line {line:?}")))?;
            if size == 0 {
                msg.trailers = read_fields(r).await?;
                break;
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).await?;
            msg.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = msg.header("content-length") {
        let len: usize = len.trim().parse().map_err(std::io::Error::other)?;
        msg.body = vec![0; len];
        r.read_exact(&mut msg.body).await?;
    } else if is_response {
        r.read_to_end(&mut msg.body).await?;
    }
    Ok(Some(msg))
}

async fn read_fields<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Vec<(String, String)>> {
    let mut fields = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            return Ok(fields);
        }
        let (name, value) = l.split_once(':').unwrap_or((l, ""));
        fields.push((name.to_string(), value.trim().to_string()));
    }
}

/// Sends `bytes` to `addr` on a new connection and reads the responses to `requests` requests
/// (fewer if the connection ends first). `method` is the requests' method.
pub async fn exchange(
    addr: SocketAddr,
    bytes: &[u8],
    method: &str,
    requests: usize,
) -> Vec<RawMessage> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (read, mut write) = stream.into_split();
    write.write_all(bytes).await.unwrap();
    let mut reader = BufReader::new(read);
    let mut out = Vec::new();
    while out.len() < requests {
        match tokio::time::timeout(PATIENCE, read_message(&mut reader, Some(method))).await {
            Ok(Ok(Some(m))) => out.push(m),
            Ok(_) => break,
            Err(_) => panic!("no response from {addr} within {PATIENCE:?}"),
        }
    }
    drop(write);
    out
}

/// Sends `bytes` on a new connection and returns the one response.
pub async fn send(addr: SocketAddr, bytes: &[u8]) -> RawMessage {
    let method = std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.trim_start().split(' ').next())
        .unwrap_or("GET")
        .to_string();
    exchange(addr, bytes, &method, 1)
        .await
        .pop()
        .expect("a response")
}

/// What a [`RawApp`] answers to one request.
pub type Responder = Arc<dyn Fn(&RawMessage) -> Vec<u8> + Send + Sync>;

/// An app on a raw socket that records every request as it arrived and answers with the
/// responder's bytes (keep-alive: several requests per connection).
pub struct RawApp {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<RawMessage>>>,
    task: JoinHandle<()>,
}

impl RawApp {
    /// An app answering every request with `respond`'s bytes.
    pub async fn start(respond: impl Fn(&RawMessage) -> Vec<u8> + Send + Sync + 'static) -> RawApp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond: Responder = Arc::new(respond);
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, respond) = (seen.clone(), respond.clone());
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut reader = BufReader::new(read);
                    while let Ok(Ok(Some(req))) =
                        tokio::time::timeout(PATIENCE, read_message(&mut reader, None)).await
                    {
                        let answer = respond(&req);
                        seen.lock().unwrap().push(req);
                        if answer.is_empty() || write.write_all(&answer).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        RawApp {
            addr,
            requests,
            task,
        }
    }

    /// An app answering `200 OK` with a small fixed body.
    pub async fn ok() -> RawApp {
        RawApp::start(|_| b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec()).await
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<RawMessage> {
        self.requests.lock().unwrap().clone()
    }

    /// The only request received, waiting briefly for it to be recorded.
    pub async fn only_request(&self) -> RawMessage {
        crate::net::eventually_within(Duration::from_secs(5), "the app got a request", || async {
            !self.requests.lock().unwrap().is_empty()
        })
        .await;
        let all = self.requests();
        assert_eq!(all.len(), 1, "{all:#?}");
        all.into_iter().next().unwrap()
    }
}

impl Drop for RawApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A response as text, for tests that read it whole.
pub struct Reply {
    pub status: u16,
    /// The status line and header lines, CRLF-separated.
    pub head: String,
    pub body: String,
}

impl Reply {
    /// The `mesh-proxy-error` header's text, if any.
    pub fn error_text(&self) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("mesh-proxy-error")
                .then(|| value.trim())
        })
    }
}

/// Writes `request` (raw HTTP/1.1) on a new connection to `addr` and reads the one response.
pub async fn ask(addr: SocketAddr, request: &str) -> Reply {
    let m = send(addr, request.as_bytes()).await;
    let mut head = format!("{}\r\n", m.start);
    for (name, value) in &m.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    Reply {
        status: m.status(),
        head,
        body: String::from_utf8_lossy(&m.body).into_owned(),
    }
}

/// `METHOD TARGET` with `Host: host` and `extra` header lines, closing the connection after the
/// response.
pub fn request(method: &str, target: &str, host: &str, extra: &str) -> String {
    format!("{method} {target} HTTP/1.1\r\nhost: {host}\r\ncontent-length: 0\r\n{extra}connection: close\r\n\r\n")
}

/// `GET http://AUTHORITY/PATH` as to an HTTP proxy.
pub fn get(authority: &str, path: &str) -> String {
    request("GET", &format!("http://{authority}{path}"), authority, "")
}
