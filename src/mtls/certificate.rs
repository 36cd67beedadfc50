//! What one X.509 certificate proves: the workload identities in its SANs and when it is valid.
//! Read with x509-parser; the chain itself is verified by rustls (webpki), never here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::id::TlsId;

/// The identities a certificate names and its validity period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// Every workload identity in its SANs: a SPIFFE ID (URI SAN) or a DNS-style identity name
    /// (DNS SAN). Other SANs are ignored.
    pub ids: Vec<TlsId>,
    /// The SANs as written, for messages about a certificate that names no identity.
    pub sans: Vec<String>,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

/// Why a certificate's facts cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a readable X.509 certificate: {0}")]
pub struct UnreadableCertificate(String);

impl CertificateFacts {
    /// Reads the facts of a DER certificate; SPIFFE IDs get `control_plane_namespace` for their
    /// DNS-style name.
    pub fn of_der(
        der: &[u8],
        control_plane_namespace: &str,
    ) -> Result<CertificateFacts, UnreadableCertificate> {
        let (_, cert) =
            X509Certificate::from_der(der).map_err(|e| UnreadableCertificate(e.to_string()))?;
        let mut ids = Vec::new();
        let mut sans = Vec::new();
        if let Ok(Some(ext)) = cert.subject_alternative_name() {
            for name in &ext.value.general_names {
                match name {
                    GeneralName::URI(uri) => {
                        sans.push(format!("URI:{uri}"));
                        if let Ok(id) = TlsId::from_spiffe(uri, control_plane_namespace) {
                            ids.push(id);
                        }
                    }
                    GeneralName::DNSName(dns) => {
                        sans.push(format!("DNS:{dns}"));
                        if let Ok(id) = TlsId::from_dns_name(dns) {
                            ids.push(id);
                        }
                    }
                    other => sans.push(other.to_string()),
                }
            }
        }
        let validity = cert.validity();
        Ok(CertificateFacts {
            ids,
            sans,
            not_before: from_unix(validity.not_before.timestamp()),
            not_after: from_unix(validity.not_after.timestamp()),
        })
    }

    /// The identity to show for this certificate: the DNS-style name when it has one (as
    /// Linkerd's certificates do), else the one its SPIFFE ID gives.
    pub fn id(&self) -> Option<&TlsId> {
        self.ids.first()
    }

    /// Whether the certificate proves `expected` (the same workload; the control-plane
    /// namespace does not matter).
    pub fn proves(&self, expected: &TlsId) -> bool {
        self.ids.iter().any(|id| id.same_workload(expected))
    }

    /// The SANs as one line, or "no SANs".
    pub fn sans_text(&self) -> String {
        if self.sans.is_empty() {
            "no SANs".into()
        } else {
            self.sans.join(", ")
        }
    }
}

/// A certificate's time (seconds since the epoch) as a `SystemTime`; times before 1970 as 1970.
pub(super) fn from_unix(seconds: i64) -> SystemTime {
    match u64::try_from(seconds) {
        Ok(s) => UNIX_EPOCH + Duration::from_secs(s),
        Err(_) => UNIX_EPOCH,
    }
}

/// A certificate's SHA-256 fingerprint (of its DER) as `openssl x509 -fingerprint -sha256` prints
/// it: uppercase hex bytes joined by `:`.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// A time as RFC 3339 UTC (`2026-12-01T18:00:00Z`), for messages about validity.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_rfc3339_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_796_150_000);
        assert_eq!(rfc3339(t), "2026-12-01T18:33:20Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }
}
