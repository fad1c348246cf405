//! The originating server's certificate as a server-to-server receiving side sees it.
//!
//! [`AnyClientCertificate`] lets any client certificate through the handshake (rustls still
//! checks the handshake signature, so the peer holds the key); [`s2s_peer_certificate`] then
//! judges the chain against the receiving side's trust anchor with webpki. Whether the
//! certificate names the domain the stream claims is decided later, by the sans-IO session,
//! once the stream header says which domain that is.

use std::sync::Arc;

use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use crate::pki::CertificateRejection;
use crate::proto::s2s::PeerCertificate;

/// Asks for a client certificate, accepts none or any, verifies the handshake signature.
#[derive(Debug)]
pub(crate) struct AnyClientCertificate {
    provider: Arc<CryptoProvider>,
}

impl AnyClientCertificate {
    pub(crate) fn new(provider: Arc<CryptoProvider>) -> AnyClientCertificate {
        AnyClientCertificate { provider }
    }
}

impl ClientCertVerifier for AnyClientCertificate {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
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
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
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

/// The certificate the originating server presented (leaf first, then what it sent along),
/// with the verdict on its chain against `anchor` (path, validity, signatures and the
/// serverAuth key usage a server certificate carries); `None` if it presented none.
pub fn s2s_peer_certificate(
    presented: &[CertificateDer<'_>],
    anchor: &CertificateDer<'static>,
) -> Option<PeerCertificate> {
    let (leaf, intermediates) = presented.split_first()?;
    let chain_problem = chain_problem(leaf, intermediates, anchor).err();
    Some(PeerCertificate {
        leaf: leaf.to_vec(),
        chain_problem,
    })
}

fn chain_problem(
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    anchor: &CertificateDer<'static>,
) -> Result<(), String> {
    let mut roots = RootCertStore::empty();
    roots
        .add(anchor.clone())
        .map_err(|e| format!("the trust anchor is unusable: {e}"))?;
    let parsed = ParsedCertificate::try_from(leaf).map_err(|e| e.to_string())?;
    let provider = super::tls::provider();
    verify_server_cert_signed_by_trust_anchor(
        &parsed,
        &roots,
        intermediates,
        UnixTime::now(),
        provider.signature_verification_algorithms.all,
    )
    .map_err(|e| match e {
        rustls::Error::InvalidCertificate(reason) => {
            CertificateRejection::from_rustls(&reason).to_string()
        }
        other => other.to_string(),
    })
}
