//! The originating server's certificate as a server-to-server receiving side sees it.
//!
//! [`AnyClientCertificate`] lets any client certificate through the handshake (rustls still
//! checks the handshake signature, so the peer holds the key); [`s2s_peer_certificate`] then
//! judges the chain against the receiving side's trust anchor with webpki. Whether the
//! certificate names the domain the stream claims is asked later, by the sans-IO session, once
//! the stream header says which domain that is; [`LeafServerNames`] answers it with the PKI's
//! identity checks (RFC 6120 §13.7.1.2).

use std::sync::Arc;

use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use crate::pki::{CertificateRejection, ReferenceIdentity, Service};
use crate::proto::s2s::{PeerCertificate, ServerNames};
use crate::scenario::IdentityType;

/// The identity types that authenticate a server's domain (RFC 6120 §13.7.1.2: DNS-ID,
/// SRV-ID `_xmpp-server`, and XmppAddr per §13.7.1.4).
const SERVER_IDENTITY_TYPES: [IdentityType; 3] = [
    IdentityType::DnsId,
    IdentityType::SrvId,
    IdentityType::Xmppaddr,
];

/// The server names of a presented leaf certificate, checked as a reference identity of
/// service `xmpp-server`: an `_xmpp-client` SRV-ID does not count.
#[derive(Debug)]
pub struct LeafServerNames {
    /// The leaf, DER.
    leaf: Vec<u8>,
}

impl LeafServerNames {
    /// The names of this leaf (DER).
    pub fn new(leaf: Vec<u8>) -> LeafServerNames {
        LeafServerNames { leaf }
    }
}

impl ServerNames for LeafServerNames {
    fn authenticate(&self, domain: &str) -> Result<(), String> {
        let reference = ReferenceIdentity {
            domain: domain.to_owned(),
            service: Service::Server,
            accepted: SERVER_IDENTITY_TYPES.to_vec(),
        };
        reference
            .check(&self.leaf)
            .map(|_| ())
            .map_err(|rejection: CertificateRejection| rejection.to_string())
    }
}

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
        chain_problem,
        names: Arc::new(LeafServerNames::new(leaf.to_vec())),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::Catalogue;
    use crate::proto::s2s::certificate_authenticates;
    use crate::scenario::{CertificateProfile, KeyType};

    const ORIGINATING: &str = "harness.test";

    /// A certificate of `profile` for `domain` whose chain verified.
    fn verified(profile: CertificateProfile, domain: &str) -> PeerCertificate {
        let chain = Catalogue::new()
            .chain(profile, KeyType::EcdsaP256, domain)
            .expect("test PKI issues the chain");
        PeerCertificate {
            chain_problem: None,
            names: Arc::new(LeafServerNames::new(chain.presented[0].to_vec())),
        }
    }

    #[test]
    fn only_an_xmpp_server_srv_id_authenticates_a_server_rfc6120_13_7_1_2_1() {
        let server_only = verified(CertificateProfile::SrvIdServerOnly, ORIGINATING);
        assert_eq!(
            certificate_authenticates(Some(&server_only), ORIGINATING),
            Ok(())
        );
        let client_only = verified(CertificateProfile::SrvIdClientOnly, ORIGINATING);
        let refused = certificate_authenticates(Some(&client_only), ORIGINATING).unwrap_err();
        assert!(refused.contains("name-mismatch"), "{refused}");
    }

    #[test]
    fn a_certificate_for_another_domain_does_not_authenticate_rfc6120_13_7_1_2() {
        let good = verified(CertificateProfile::StartcomChain, ORIGINATING);
        assert_eq!(certificate_authenticates(Some(&good), ORIGINATING), Ok(()));
        assert!(certificate_authenticates(Some(&good), "other.test").is_err());
        let wrong = verified(CertificateProfile::WrongDomain, ORIGINATING);
        assert!(certificate_authenticates(Some(&wrong), ORIGINATING).is_err());
    }
}
