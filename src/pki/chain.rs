//! [`IssuedChain`]: one generated certificate chain, its key and its PEM renderings.

use std::fmt;

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::scenario::model::{CertificateProfile, KeyType};

/// A certificate chain issued for one domain by one profile.
#[derive(Debug)]
pub struct IssuedChain {
    /// The profile that issued the chain.
    pub profile: CertificateProfile,
    /// The key algorithm of every certificate in the chain.
    pub key_type: KeyType,
    /// The DNS name the leaf is issued for (subject CN and DNS SAN).
    pub domain: String,
    /// What the presenting side sends: leaf first, then intermediates (self-signed: leaf only;
    /// cacert-intermediate and startcom-chain: leaf + intermediate).
    pub presented: Vec<CertificateDer<'static>>,
    /// The leaf's private key (PKCS#8).
    pub key: PrivatePkcs8KeyDer<'static>,
    /// The trust anchor that validates this chain (self-signed: the leaf itself).
    pub root: CertificateDer<'static>,
    /// PEM renderings for writing files: leaf, intermediates, root, key.
    pub pem: ChainPem,
}

/// PEM renderings of an [`IssuedChain`], ready to be written to files.
#[derive(Clone)]
pub struct ChainPem {
    /// The leaf certificate.
    pub leaf: String,
    /// The presented intermediates, in presentation order (empty for a self-signed leaf).
    pub intermediates: Vec<String>,
    /// The trust anchor (for a self-signed leaf, the leaf again).
    pub root: String,
    /// The leaf's private key, PKCS#8 (`-----BEGIN PRIVATE KEY-----`); Ed25519 keys in the v1
    /// form that OpenSSL 3.0 reads.
    pub key: String,
}

impl fmt::Debug for ChainPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainPem")
            .field("leaf", &self.leaf)
            .field("intermediates", &self.intermediates)
            .field("root", &self.root)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl IssuedChain {
    /// The leaf's private key in the form rustls configurations take.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.clone_key())
    }

    /// Human-readable summary of every presented certificate (subject, issuer,
    /// notBefore/notAfter, SANs) for transcripts: one line per certificate, leaf first.
    pub fn describe(&self) -> Vec<String> {
        self.presented
            .iter()
            .enumerate()
            .map(|(i, der)| format!("#{i} {}", describe_certificate(der)))
            .collect()
    }
}

/// One line about one certificate.
fn describe_certificate(der: &CertificateDer<'_>) -> String {
    let cert = match X509Certificate::from_der(der) {
        Ok((_, cert)) => cert,
        Err(e) => return format!("unparseable certificate ({} bytes): {e}", der.len()),
    };
    let sans = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        Ok(None) => "none".to_owned(),
        Err(e) => format!("unparseable ({e})"),
    };
    let validity = cert.validity();
    format!(
        "subject=\"{}\" issuer=\"{}\" notBefore={} notAfter={} SAN=[{}] CA={} serial={}",
        cert.subject(),
        cert.issuer(),
        validity.not_before,
        validity.not_after,
        sans,
        cert.is_ca(),
        cert.raw_serial_as_string(),
    )
}
