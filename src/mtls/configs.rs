//! The rustls configurations of one set of [`Credentials`]: the inbound server's, which requires
//! a client certificate chaining to the trust anchors, and the outbound client's, which checks
//! that the server's certificate chains to them *and* proves the identity discovery expects.
//!
//! The client names the identity it expects as SNI, the DNS-style name
//! (`web.emojivoto.serviceaccount.identity.mesh.cluster.local`), as Linkerd's proxy does, and
//! offers the mesh's ALPN, by which the inbound side tells a mesh connection from the app's own
//! TLS ([`crate::proxy::tls::accept`]). The server's certificate is checked against that name by
//! identity ([`TlsId::same_workload`]), so a certificate that proves it only by a SPIFFE URI SAN
//! (SPIRE, csi-driver-spiffe) is accepted too, where webpki's name check would refuse it.
//! TLS 1.3 only: both ends are mesh proxies.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, OtherError, RootCertStore, ServerConfig,
    SignatureScheme,
};

use super::certificate::CertificateFacts;
use super::files::Credentials;
use super::id::TlsId;
use super::provider;

/// The ALPN protocol of proxy-to-proxy TLS: what is inside is the caller's HTTP (or bytes), which
/// the inbound side detects as on a plaintext connection.
pub const MESH_ALPN: &[u8] = b"mesh.io/proxy";

/// Both configs of one set of credentials.
#[derive(Debug, Clone)]
pub struct TlsConfigs {
    /// This proxy's identity, as the credentials prove it.
    pub id: Arc<TlsId>,
    /// `id`'s DNS-style name: the SNI callers send to reach this proxy's TLS.
    pub server_name: Arc<str>,
    pub server: Arc<ServerConfig>,
    pub client: Arc<ClientConfig>,
    /// When the certificate expires.
    pub not_after: std::time::SystemTime,
    /// The certificate chain served (to tell a rotation from a re-read of the same files).
    pub chain: Vec<rustls::pki_types::CertificateDer<'static>>,
}

/// Why the configs could not be built (a key rustls refuses; the files were checked already).
#[derive(Debug, thiserror::Error)]
#[error("building the TLS configuration: {0}")]
pub struct ConfigError(String);

impl TlsConfigs {
    /// The server and client configs of `credentials`.
    pub fn new(credentials: &Credentials) -> Result<TlsConfigs, ConfigError> {
        let provider = provider::ring();
        let certified = Arc::new(rustls::sign::CertifiedKey::new(
            credentials.chain.clone(),
            credentials.key.clone(),
        ));
        let verifier = WebPkiClientVerifier::builder_with_provider(
            credentials.roots.clone(),
            provider.clone(),
        )
        .build()
        .map_err(|e| ConfigError(e.to_string()))?;
        let mut server = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| ConfigError(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(Always(certified.clone())));
        server.alpn_protocols = vec![MESH_ALPN.to_vec()];
        // Tickets would let a resumed session skip the client certificate's check against a
        // rotated trust anchor; connections are long-lived, so the saving is small.
        server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        server.send_tls13_tickets = 0;

        let control_plane = credentials.id.control_plane_namespace.clone();
        let mut client = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| ConfigError(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(IdentityVerifier {
                roots: credentials.roots.clone(),
                provider,
                control_plane,
            }))
            .with_client_cert_resolver(Arc::new(Always(certified)));
        client.alpn_protocols = vec![MESH_ALPN.to_vec()];
        client.resumption = rustls::client::Resumption::disabled();
        Ok(TlsConfigs {
            server_name: credentials.id.dns_name().into(),
            id: Arc::new(credentials.id.clone()),
            server: Arc::new(server),
            client: Arc::new(client),
            not_after: credentials.not_after,
            chain: credentials.chain.clone(),
        })
    }
}

/// This proxy's certificate, whatever the peer asks: it has one identity.
#[derive(Debug)]
struct Always(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for Always {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

impl rustls::client::ResolvesClientCert for Always {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _schemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The outbound client's check of a server certificate: it chains to the trust anchors, and it
/// proves the identity named by the SNI.
#[derive(Debug)]
struct IdentityVerifier {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    control_plane: String,
}

/// A server certificate that chains to the trust anchors but proves another identity than the
/// one discovery expects (the text is what callers and the log read).
#[derive(Debug, thiserror::Error)]
#[error("the server's certificate is for {found}, not {expected} as discovery expects")]
pub struct WrongIdentity {
    pub expected: String,
    pub found: String,
}

impl ServerCertVerifier for IdentityVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        let expected_name = server_name.to_str();
        let expected = TlsId::from_dns_name(&expected_name).map_err(|e| {
            rustls::Error::General(format!("the expected identity is no identity name: {e}"))
        })?;
        let facts = CertificateFacts::of_der(end_entity, &self.control_plane)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        if facts.proves(&expected) {
            return Ok(ServerCertVerified::assertion());
        }
        let found = facts.id().map_or_else(
            || format!("no workload identity ({})", facts.sans_text()),
            |id| id.dns_name(),
        );
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(WrongIdentity {
                expected: expected.dns_name(),
                found,
            })),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The identity a verified peer certificate proves (the inbound side's `client_id`), `None`
/// when it names none.
pub fn peer_id(certs: &[CertificateDer<'_>], control_plane_namespace: &str) -> Option<TlsId> {
    let facts = CertificateFacts::of_der(certs.first()?, control_plane_namespace).ok()?;
    facts.id().cloned()
}
