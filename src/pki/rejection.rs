//! [`CertificateRejection`]: why a verifier refused a certificate, in words a verdict can carry.
//!
//! rustls reports chain failures as [`CertificateError`]s (some of them wrapping a webpki
//! error); the XMPP identity check and the key-strength check report their own. Both end up
//! here, so an observation says `name-mismatch: presented [DNS:not-interop.test], expected
//! interop.test` or `issuer-not-ca` rather than a Debug dump.

use rustls::{CertificateError, OtherError};

/// Why a certificate was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertificateRejection {
    /// The certificate's notAfter has passed (RFC 5280 §4.1.2.5).
    #[error("expired")]
    Expired,
    /// The certificate's notBefore has not come yet (RFC 5280 §4.1.2.5).
    #[error("not-yet-valid")]
    NotYetValid,
    /// No path leads from the certificate to the trust anchor (RFC 5280 §6.1).
    #[error("unknown-issuer")]
    UnknownIssuer,
    /// A certificate that is not a CA issued another one (RFC 5280 §4.2.1.9).
    #[error("issuer-not-ca")]
    IssuerNotCa,
    /// A CA certificate was presented as the end entity.
    #[error("ca-used-as-end-entity")]
    CaUsedAsEndEntity,
    /// A pathLenConstraint was exceeded (RFC 5280 §4.2.1.9, §6.1.4 (l)).
    #[error("path-length-exceeded")]
    PathLengthExceeded,
    /// The extendedKeyUsage does not allow the purpose (RFC 5280 §4.2.1.12).
    #[error("bad-eku")]
    BadEku,
    /// A signature in the chain does not verify.
    #[error("bad-signature")]
    BadSignature,
    /// A signature or key algorithm the verifier does not support.
    #[error("unsupported-algorithm")]
    UnsupportedAlgorithm,
    /// The certificate is not valid DER or X.509.
    #[error("bad-encoding")]
    BadEncoding,
    /// The leaf's key is too weak (RSA under 2048 bits, RFC 7590 §3.4 via RFC 7525 §4.3).
    #[error("weak-key: {algorithm} {bits} bits")]
    WeakKey {
        /// e.g. `RSA`.
        algorithm: &'static str,
        /// The key size.
        bits: usize,
    },
    /// None of the identities the verifier accepts matches the reference identity
    /// (RFC 6125 §6, RFC 6120 §13.7.2.1).
    #[error("name-mismatch: presented [{}], expected {expected}{}", .presented.join(", "), accepting_suffix(.accepting))]
    NameMismatch {
        /// Every identity the certificate carries, e.g. `DNS:not-interop.test`.
        presented: Vec<String>,
        /// The reference identity, e.g. `interop.test`.
        expected: String,
        /// The identity types the verifier accepted, when the certificate carries a matching
        /// identity of a type it does not accept (e.g. `CN:interop.test` without `cn`).
        accepting: Option<String>,
    },
    /// Anything else rustls or webpki reported.
    #[error("other: {0}")]
    Other(String),
}

fn accepting_suffix(accepting: &Option<String>) -> String {
    accepting
        .as_ref()
        .map(|types| format!(" (accepting {types})"))
        .unwrap_or_default()
}

impl CertificateRejection {
    /// The reason behind a rustls certificate error, including the ones this crate's verifier
    /// wraps in [`CertificateError::Other`].
    pub fn from_rustls(error: &CertificateError) -> CertificateRejection {
        match error {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                CertificateRejection::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                CertificateRejection::NotYetValid
            }
            CertificateError::UnknownIssuer => CertificateRejection::UnknownIssuer,
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                CertificateRejection::BadEku
            }
            CertificateError::BadSignature => CertificateRejection::BadSignature,
            CertificateError::UnsupportedSignatureAlgorithmContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                CertificateRejection::UnsupportedAlgorithm
            }
            CertificateError::BadEncoding => CertificateRejection::BadEncoding,
            CertificateError::Other(OtherError(inner)) => {
                if let Some(ours) = inner.downcast_ref::<CertificateRejection>() {
                    ours.clone()
                } else if let Some(webpki) = inner.downcast_ref::<webpki::Error>() {
                    from_webpki(webpki)
                } else {
                    CertificateRejection::Other(inner.to_string())
                }
            }
            other => CertificateRejection::Other(format!("{other:?}")),
        }
    }

    /// This reason as the rustls error a verifier returns.
    pub fn into_rustls(self) -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(std::sync::Arc::new(
            self,
        ))))
    }
}

/// The webpki errors rustls passes on unmapped.
fn from_webpki(error: &webpki::Error) -> CertificateRejection {
    match error {
        webpki::Error::EndEntityUsedAsCa => CertificateRejection::IssuerNotCa,
        webpki::Error::CaUsedAsEndEntity => CertificateRejection::CaUsedAsEndEntity,
        webpki::Error::PathLenConstraintViolated => CertificateRejection::PathLengthExceeded,
        other => CertificateRejection::Other(format!("{other:?}")),
    }
}
