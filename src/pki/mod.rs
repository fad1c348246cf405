//! The test PKI: certificate chains generated per run with rcgen; no async.
//!
//! A [`Catalogue`] issues, on first use, the chain a [`CertificateProfile`] describes for a key
//! type and a domain, and caches it for the rest of the run. What each profile looks like is
//! decided in one place, [`recipe`]; issuing follows that recipe. All names carry
//! `xmpp-interop test` so no one mistakes these certificates for real ones.
//!
//! [`CertificateProfile`]: crate::scenario::model::CertificateProfile

mod catalogue;
mod chain;
mod der;
mod files;
pub mod identity;
mod issue;
mod keys;
pub mod provision;
mod recipe;
mod rejection;
pub mod summary;

use std::path::PathBuf;

pub use catalogue::Catalogue;
pub use chain::{ChainPem, IssuedChain};
pub use identity::{PresentedIdentity, ReferenceIdentity, Service};
pub use rejection::CertificateRejection;

/// Why the test PKI could not produce or write a chain.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The domain is not a syntactically valid DNS name.
    #[error("{domain:?} is not a valid DNS name for a test certificate")]
    InvalidDomain {
        /// The domain as given.
        domain: String,
    },
    /// rcgen refused to generate a key or certificate.
    #[error("generating {what}: {source}")]
    Generate {
        /// What was being generated.
        what: String,
        /// rcgen's reason.
        #[source]
        source: rcgen::Error,
    },
    /// Generating an RSA key failed.
    #[error("generating an RSA key: {0}")]
    RsaGenerate(#[source] rsa::Error),
    /// Encoding an RSA key as PKCS#8 failed.
    #[error("encoding an RSA key as PKCS#8: {0}")]
    RsaEncode(#[source] rsa::pkcs8::Error),
    /// A recipe asks for something issuing cannot do (a programming error in `recipe`).
    #[error("certificate recipe cannot be issued: {0}")]
    Recipe(&'static str),
    /// A generated certificate could not be read back for the manifest.
    #[error("summarising a generated certificate: {0}")]
    Summarise(String),
    /// The manifest could not be serialised.
    #[error("writing manifest.json: {0}")]
    Manifest(#[source] serde_json::Error),
    /// Writing a PEM file or its directory failed.
    #[error("writing {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests;
