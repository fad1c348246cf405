//! [`XmppServerVerifier`]: the client side's certificate check, as RFC 6120 §13.7.2.1 asks.
//!
//! First the chain is validated against the single trust anchor with webpki (validity, path,
//! basicConstraints, pathLenConstraint, the serverAuth extendedKeyUsage, signatures), leaving
//! webpki's own DNS-name check out. Then the leaf's key must be strong enough (RSA at least
//! 2048 bits), and one of the identities the scenario accepts must name the domain
//! ([`ReferenceIdentity::check`]: DNS-ID, SRV-ID, XmppAddr, CN fallback). Every refusal is a
//! [`CertificateRejection`], carried through rustls so the verdict can say exactly why. The
//! presented chain is recorded before anything is decided, for the transcript.
//!
//! [`RecordingVerifier`] records the chain and decides nothing, for those who judge it later.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::tls::PresentedChain;
use crate::pki::{CertificateRejection, ReferenceIdentity};

/// The smallest RSA modulus accepted (RFC 7590 §3.4 defers to RFC 7525, whose §4.3 asks for at
/// least 2048 bits).
const MIN_RSA_BITS: usize = 2048;

/// Validates the chain with webpki, then applies the XMPP identity rules itself.
#[derive(Debug)]
pub(crate) struct XmppServerVerifier {
    roots: Arc<RootCertStore>,
    reference: ReferenceIdentity,
    provider: Arc<CryptoProvider>,
    presented: PresentedChain,
}

impl XmppServerVerifier {
    pub(crate) fn new(
        roots: Arc<RootCertStore>,
        reference: ReferenceIdentity,
        provider: Arc<CryptoProvider>,
        presented: PresentedChain,
    ) -> XmppServerVerifier {
        XmppServerVerifier {
            roots,
            reference,
            provider,
            presented,
        }
    }
}

/// Refuses an RSA key under [`MIN_RSA_BITS`].
fn check_key_strength(end_entity: &CertificateDer<'_>) -> Result<(), CertificateRejection> {
    let (_, cert) =
        X509Certificate::from_der(end_entity).map_err(|_| CertificateRejection::BadEncoding)?;
    match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() < MIN_RSA_BITS => {
            Err(CertificateRejection::WeakKey {
                algorithm: "RSA",
                bits: rsa.key_size(),
            })
        }
        _ => Ok(()),
    }
}

/// What [`XmppServerVerifier`] decides about a presented chain: the chain against `roots` with
/// webpki (serverAuth), then the key strength, then the XMPP identity. A refusal is a rustls
/// error whose reason [`CertificateRejection::from_rustls`] recovers.
pub fn verify_chain_and_identity(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    roots: &RootCertStore,
    reference: &ReferenceIdentity,
    provider: &CryptoProvider,
    now: UnixTime,
) -> Result<(), rustls::Error> {
    let parsed = ParsedCertificate::try_from(end_entity)?;
    verify_server_cert_signed_by_trust_anchor(
        &parsed,
        roots,
        intermediates,
        now,
        provider.signature_verification_algorithms.all,
    )?;
    check_key_strength(end_entity).map_err(CertificateRejection::into_rustls)?;
    reference
        .check(end_entity)
        .map_err(CertificateRejection::into_rustls)?;
    Ok(())
}

impl ServerCertVerifier for XmppServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.presented.record(end_entity, intermediates);
        verify_chain_and_identity(
            end_entity,
            intermediates,
            &self.roots,
            &self.reference,
            &self.provider,
            now,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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

/// Records the chain the server presents and accepts it, checking only the handshake
/// signatures, so the server still proves it holds the leaf's key. For those who judge the
/// chain afterwards instead of during the handshake: the probe, which goes on to read the
/// features behind a chain a client would refuse, and an external target's pre-flight, which
/// compares the chain with what the targets file declares.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    provider: Arc<CryptoProvider>,
    presented: PresentedChain,
}

impl RecordingVerifier {
    pub(crate) fn new(provider: Arc<CryptoProvider>) -> RecordingVerifier {
        RecordingVerifier {
            provider,
            presented: PresentedChain::default(),
        }
    }

    /// The chain the server presented, leaf first; empty before the handshake reached it.
    pub(crate) fn presented(&self) -> Vec<CertificateDer<'static>> {
        self.presented.presented()
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.presented.record(end_entity, intermediates);
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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
