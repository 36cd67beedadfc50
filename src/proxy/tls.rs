//! Mutual TLS on the proxy's two edges (the configs, identities and rotation are
//! [`crate::mtls`]'s):
//!
//! - **outbound**, to an endpoint discovery says is meshed with an identity: the TCP connection
//!   is wrapped in TLS whose SNI is the identity expected ([`connect`]); the server must prove it
//!   and the client certificate proves this proxy. What runs inside is what ran in plaintext.
//! - **inbound**, a connection whose first bytes are a TLS record: its ClientHello is read
//!   ([`accept`], bounded in bytes and time); one with the mesh's ALPN, which a caller's proxy
//!   sends with this proxy's identity as SNI, is terminated (a client certificate chaining to the
//!   trust anchors is required), and the caller's identity comes from it ([`PeerTls`]); any other
//!   TLS is the app's own and passes through untouched, the bytes read replayed.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::connect::UpstreamError;
use super::detect::PrefixedIo;
use super::io::CountingIo;
use crate::mtls::configs::{peer_id, TlsConfigs, MESH_ALPN};
use crate::mtls::TlsId;

/// The most bytes read to find a ClientHello: one TLS record (2^14 bytes and its 5-byte header),
/// which holds every ClientHello real clients send.
pub const MAX_CLIENT_HELLO_BYTES: usize = (1 << 14) + 5;

/// An upstream connection: plain TCP, or TLS over it. Bytes are counted on the TCP side.
pub enum UpstreamIo {
    Plain(CountingIo<TcpStream>),
    Tls(Box<tokio_rustls::client::TlsStream<CountingIo<TcpStream>>>),
}

/// Connects TLS to the endpoint at `addr` over `tcp`, expecting it to prove `server_id` (the
/// DNS-style name), within `timeout`.
pub async fn connect(
    tcp: CountingIo<TcpStream>,
    addr: SocketAddr,
    configs: &TlsConfigs,
    server_id: &Arc<str>,
    timeout: Duration,
) -> Result<UpstreamIo, UpstreamError> {
    let tls_error = |reason: String| UpstreamError::Tls {
        addr,
        server_id: server_id.clone(),
        reason,
    };
    let name = rustls::pki_types::ServerName::try_from(server_id.to_string())
        .map_err(|e| tls_error(format!("the identity is no server name: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(configs.client.clone());
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Ok(Ok(stream)) => Ok(UpstreamIo::Tls(Box::new(stream))),
        Ok(Err(e)) => Err(tls_error(handshake_reason(&e))),
        Err(_) => Err(tls_error(format!(
            "no TLS handshake within {timeout:?} (is a mesh proxy with TLS listening there?)"
        ))),
    }
}

/// The reason of a failed handshake, in words an operator can act on.
fn handshake_reason(e: &io::Error) -> String {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))) => {
            other.0.to_string()
        }
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)) => {
            "the server's certificate does not chain to this proxy's trust anchors (another \
             trust anchor, or another mesh?)"
                .into()
        }
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Expired)) => {
            "the server's certificate has expired (its rotation stopped?)".into()
        }
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::ExpiredContext {
            not_after,
            ..
        })) => format!(
            "the server's certificate expired at {} (its rotation stopped?)",
            crate::mtls::certificate::rfc3339(unix_time(*not_after))
        ),
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidYetContext {
            not_before,
            ..
        })) => format!(
            "the server's certificate is valid only from {} (a clock behind?)",
            crate::mtls::certificate::rfc3339(unix_time(*not_before))
        ),
        Some(rustls::Error::AlertReceived(alert)) => format!(
            "the server refused this proxy's certificate (TLS alert {alert:?}: its log says why; \
             a certificate from another trust anchor, or expired?)"
        ),
        Some(rustls::Error::InvalidMessage(_)) => {
            "it answered with something that is not TLS: no mesh proxy with an identity is \
             there (a proxy without --identity-dir passes TLS on to its app)"
                .into()
        }
        Some(other) => other.to_string(),
        None if e.kind() == io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the handshake (it refused this proxy's \
             certificate, or it speaks no TLS: its log says which)"
                .into()
        }
        None => e.to_string(),
    }
}

/// rustls' whole seconds since the epoch as a `SystemTime`.
fn unix_time(t: rustls::pki_types::UnixTime) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + Duration::from_secs(t.as_secs())
}

/// The caller's identity, as its client certificate proved it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerTls {
    pub id: TlsId,
    /// `id`'s DNS-style name: the `client_id` label.
    pub client_id: Arc<str>,
}

/// What became of an inbound connection that began with a TLS record.
pub enum Accepted<I> {
    /// Mesh TLS for this proxy, terminated: the caller's identity, and the plaintext inside.
    Mesh(
        Box<tokio_rustls::server::TlsStream<PrefixedIo<I>>>,
        Arc<PeerTls>,
    ),
    /// Not mesh TLS for this proxy (the app's own TLS, or not TLS after all): the connection as
    /// it came, every byte read replayed.
    PassThrough(PrefixedIo<I>),
    /// A mesh handshake that failed (logged with its reason), or a client gone.
    Failed(String),
}

/// Reads the ClientHello of `io` (its first bytes already read by detection) and terminates it
/// when it is mesh TLS (the mesh ALPN) with `own`'s configs; the whole exchange is bounded by
/// `timeout`.
pub async fn accept<I>(io: PrefixedIo<I>, own: &TlsConfigs, timeout: Duration) -> Accepted<I>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let (inner, replay) = io.into_parts();
    let mut read = BytesMut::from(replay.bytes());
    let mut inner = inner;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut acceptor = rustls::server::Acceptor::default();
    let mut fed = 0;
    let mine = loop {
        // Feed what was read and not yet fed.
        let mut unfed = &read[fed..];
        while !unfed.is_empty() {
            match acceptor.read_tls(&mut unfed) {
                Ok(_) => {}
                Err(_) => break,
            }
        }
        fed = read.len() - unfed.len();
        match acceptor.accept() {
            // The mesh's ALPN says a mesh proxy is calling, whatever identity it expects: one
            // that expects another (discovery out of date, a pod IP reused) is answered with
            // this proxy's certificate, so its verifier can say whose it is. An app never offers
            // that ALPN, so its own TLS is never taken for the mesh's.
            Ok(Some(hello)) => {
                break hello
                    .client_hello()
                    .alpn()
                    .is_some_and(|mut protocols| protocols.any(|p| p == MESH_ALPN))
            }
            Ok(None) if read.len() < MAX_CLIENT_HELLO_BYTES => {}
            // Not a ClientHello rustls can read, or too long: not mesh TLS.
            Ok(None) | Err(_) => break false,
        }
        let mut chunk = [0u8; 4096];
        let want = (MAX_CLIENT_HELLO_BYTES - read.len()).min(chunk.len());
        match tokio::time::timeout_at(deadline, inner.read(&mut chunk[..want])).await {
            Ok(Ok(0)) => break false,
            Ok(Ok(n)) => read.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => return Accepted::Failed(format!("reading the ClientHello: {e}")),
            Err(_) => break false,
        }
    };
    let io = PrefixedIo::new(read.freeze(), inner);
    if !mine {
        return Accepted::PassThrough(io);
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(own.server.clone());
    let stream = match tokio::time::timeout_at(deadline, acceptor.accept(io)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Accepted::Failed(client_reason(&e)),
        Err(_) => {
            return Accepted::Failed(format!(
                "the TLS handshake did not finish within {timeout:?}"
            ))
        }
    };
    let (_, conn) = stream.get_ref();
    let certs = conn.peer_certificates().unwrap_or_default();
    let Some(id) = peer_id(certs, &own.id.control_plane_namespace) else {
        return Accepted::Failed(
            "the client's certificate chains to the trust anchors but names no workload \
             identity (a SPIFFE ID or an identity DNS name)"
                .into(),
        );
    };
    let client_id = id.dns_name().into();
    Accepted::Mesh(Box::new(stream), Arc::new(PeerTls { id, client_id }))
}

/// Why a client's mesh handshake was refused.
fn client_reason(e: &io::Error) -> String {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)) => {
            "the client's certificate does not chain to this proxy's trust anchors (another \
             trust anchor, or another mesh?)"
                .into()
        }
        Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Expired)) => {
            "the client's certificate has expired".into()
        }
        Some(rustls::Error::NoCertificatesPresented) => {
            "the client sent no certificate (mesh TLS requires one)".into()
        }
        Some(other) => format!("the client's handshake failed: {other}"),
        None => format!("the client's handshake failed: {e}"),
    }
}

impl AsyncRead for UpstreamIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamIo::Plain(io) => Pin::new(io).poll_read(cx, buf),
            UpstreamIo::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpstreamIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamIo::Plain(io) => Pin::new(io).poll_write(cx, buf),
            UpstreamIo::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamIo::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            UpstreamIo::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            UpstreamIo::Plain(io) => io.is_write_vectored(),
            UpstreamIo::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamIo::Plain(io) => Pin::new(io).poll_flush(cx),
            UpstreamIo::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamIo::Plain(io) => Pin::new(io).poll_shutdown(cx),
            UpstreamIo::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }
}
