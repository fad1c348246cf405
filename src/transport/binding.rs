//! Channel binding data of a TLS connection: `tls-exporter` (RFC 9266) and
//! `tls-server-end-point` (RFC 5929 §4). `tls-unique` needs the Finished message, which rustls
//! does not expose.

use rustls::pki_types::CertificateDer;
use sha2::{Digest as _, Sha256, Sha384, Sha512};

use crate::proto::sasl::{ChannelBindingType, ChannelBindings};

/// RFC 9266 §2: the exporter label and length for `tls-exporter`.
const EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";
const EXPORTER_LENGTH: usize = 32;

/// The bindings of a connection: `connection` is the TLS state, `server_leaf` the server's
/// certificate (the peer's on the client side, our own on the server side).
pub(crate) fn channel_bindings(
    connection: &ExporterSource<'_>,
    server_leaf: Option<&CertificateDer<'_>>,
) -> ChannelBindings {
    let mut available = Vec::new();
    // RFC 9266 §3: defined for TLS 1.3 (TLS 1.2 only with extended master secret, which this
    // harness does not negotiate on purpose), so only offer it there.
    if connection.is_tls13() {
        let mut exported = vec![0; EXPORTER_LENGTH];
        if connection.export(&mut exported).is_ok() {
            available.push((ChannelBindingType::TlsExporter, exported));
        }
    }
    if let Some(hash) = server_leaf.and_then(server_end_point) {
        available.push((ChannelBindingType::TlsServerEndPoint, hash));
    }
    ChannelBindings {
        available,
        tls_unique_defined: !connection.is_tls13(),
    }
}

/// Either side's TLS state, for the exporter.
pub(crate) enum ExporterSource<'a> {
    /// The client side.
    Client(&'a rustls::ClientConnection),
    /// The server side.
    Server(&'a rustls::ServerConnection),
}

impl ExporterSource<'_> {
    fn is_tls13(&self) -> bool {
        let version = match self {
            ExporterSource::Client(c) => c.protocol_version(),
            ExporterSource::Server(s) => s.protocol_version(),
        };
        version == Some(rustls::ProtocolVersion::TLSv1_3)
    }

    fn export(&self, output: &mut [u8]) -> Result<(), rustls::Error> {
        match self {
            ExporterSource::Client(c) => c.export_keying_material(output, EXPORTER_LABEL, None),
            ExporterSource::Server(s) => s.export_keying_material(output, EXPORTER_LABEL, None),
        }
        .map(|_| ())
    }
}

/// RFC 5929 §4.1: the certificate hashed with the hash of its signature algorithm, SHA-256 when
/// that is MD5 or SHA-1; `None` when the algorithm has no single hash (Ed25519) or the
/// certificate does not parse.
pub fn server_end_point(certificate: &CertificateDer<'_>) -> Option<Vec<u8>> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate.as_ref()).ok()?;
    let oid = parsed.signature_algorithm.algorithm.to_id_string();
    let der = certificate.as_ref();
    match oid.as_str() {
        // sha384WithRSAEncryption, ecdsa-with-SHA384
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => Some(Sha384::digest(der).to_vec()),
        // sha512WithRSAEncryption, ecdsa-with-SHA512
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => Some(Sha512::digest(der).to_vec()),
        // Ed25519 and Ed448 sign without a separate hash: RFC 5929 gives no rule.
        "1.3.101.112" | "1.3.101.113" => None,
        // SHA-256 algorithms, and MD5 / SHA-1 ones, which RFC 5929 §4.1 maps to SHA-256.
        _ => Some(Sha256::digest(der).to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::Catalogue;
    use crate::scenario::{CertificateProfile, KeyType};

    /// RFC 5929 §4.1: an ECDSA-with-SHA256 certificate is hashed with SHA-256, whole DER.
    #[test]
    fn server_end_point_of_an_ecdsa_sha256_certificate_is_its_sha256_rfc5929_4_1() {
        let catalogue = Catalogue::new();
        let chain = catalogue
            .chain(
                CertificateProfile::SelfSigned,
                KeyType::EcdsaP256,
                "interop.test",
            )
            .unwrap();
        let leaf = &chain.presented[0];
        let expected = Sha256::digest(leaf.as_ref()).to_vec();
        assert_eq!(server_end_point(leaf), Some(expected));
    }

    #[test]
    fn garbage_is_not_a_certificate_and_has_no_end_point_hash() {
        assert_eq!(server_end_point(&CertificateDer::from(vec![1, 2, 3])), None);
    }
}
