//! Raw HTTP/1.1 exchanges, for requests a client library would not send as written (absolute
//! forms with userinfo, `CONNECT`, forged headers) and responses read as they come off the wire.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::net::PATIENCE;

/// A response read off the wire.
pub struct Reply {
    pub status: u16,
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

/// Writes `request` (raw HTTP/1.1) to a new connection to `addr` and reads one response: its
/// head, then a body of its `content-length` (or to the end).
pub async fn exchange(addr: SocketAddr, request: &str) -> Reply {
    let read = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before a response head: {bytes:?}");
            bytes.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
        let length = head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        });
        let mut body = bytes[head_end..].to_vec();
        while length.is_none_or(|n| body.len() < n) {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        Reply {
            status,
            head,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .unwrap_or_else(|_| panic!("no response to {request:?} within {PATIENCE:?}"))
}

/// `METHOD TARGET` with `Host: host`, closing the connection after the response.
pub fn request(method: &str, target: &str, host: &str, extra: &str) -> String {
    format!("{method} {target} HTTP/1.1\r\nhost: {host}\r\ncontent-length: 0\r\n{extra}connection: close\r\n\r\n")
}

pub fn get(authority: &str, path: &str) -> String {
    request("GET", &format!("http://{authority}{path}"), authority, "")
}
