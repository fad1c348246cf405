//! Provisioning: the catalogue written out for people to configure their servers and clients
//! with before an interop event (`xmpp-interop pki generate`), and PEM certificates read back
//! (`xmpp-interop pki show`).

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::PkiError;
use super::catalogue::Catalogue;
use super::files::{self, Secrecy};
use super::recipe;
use super::summary::CertificateSummary;
use crate::scenario::model::{CertificateProfile, KeyType};

/// `manifest.json`: what was generated, for whom, and what each profile is for.
#[derive(Debug, Serialize)]
pub struct Manifest {
    /// The domain the certificates are issued for.
    pub domain: String,
    /// The key type of every chain.
    pub key: String,
    /// One entry per profile, in the order asked for.
    pub profiles: Vec<ProfileEntry>,
}

/// One profile in the manifest.
#[derive(Debug, Serialize)]
pub struct ProfileEntry {
    /// The profile's keyword, also its directory name.
    pub profile: String,
    /// What the profile is for and the verdict a conforming verifier gives.
    pub purpose: String,
    /// The leaf, then every presented intermediate (or root).
    pub presented: Vec<CertificateSummary>,
    /// The trust anchor to configure on the verifying side (`root.pem`).
    pub root: CertificateSummary,
}

/// Why a PEM file could not be read as certificates.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// No `-----BEGIN CERTIFICATE-----` block in the text.
    #[error("no PEM certificate (-----BEGIN CERTIFICATE-----) found")]
    NoCertificate,
    /// A PEM block that does not decode.
    #[error("malformed PEM: {0}")]
    Malformed(String),
    /// A certificate block that is not X.509.
    #[error("certificate #{index}: {reason}")]
    NotX509 {
        /// 0-based position in the file.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Every `CERTIFICATE` block in `pem`, summarised.
pub fn summarise_pem(pem: &[u8]) -> Result<Vec<CertificateSummary>, PemError> {
    let mut summaries = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let block = block.map_err(|e| PemError::Malformed(e.to_string()))?;
        if block.label != "CERTIFICATE" {
            continue;
        }
        let summary =
            CertificateSummary::from_der(&block.contents).map_err(|e| PemError::NotX509 {
                index: summaries.len(),
                reason: e.to_string(),
            })?;
        summaries.push(summary);
    }
    if summaries.is_empty() {
        return Err(PemError::NoCertificate);
    }
    Ok(summaries)
}

fn summary(der: &[u8]) -> Result<CertificateSummary, PkiError> {
    CertificateSummary::from_der(der).map_err(|e| PkiError::Summarise(e.to_string()))
}

/// Generates `profiles` with `key_type` for `domain` and writes
/// `out/<profile>/{cert.pem,key.pem,chain.pem,fullchain.pem,root.pem}` (keys mode 0600) and
/// `out/manifest.json`. Returns the manifest.
pub fn generate(
    domain: &str,
    out: &Path,
    profiles: &[CertificateProfile],
    key_type: KeyType,
) -> Result<Manifest, PkiError> {
    let catalogue = Catalogue::new();
    let mut entries = Vec::with_capacity(profiles.len());
    for &profile in profiles {
        let chain = catalogue.chain(profile, key_type, domain)?;
        files::write_chain_into(&out.join(profile.to_string()), &chain)?;
        entries.push(ProfileEntry {
            profile: profile.to_string(),
            purpose: recipe::purpose(profile).to_owned(),
            presented: chain
                .presented
                .iter()
                .map(|der| summary(der))
                .collect::<Result<_, _>>()?,
            root: summary(&chain.root)?,
        });
    }
    let manifest = Manifest {
        domain: domain.to_owned(),
        key: key_type.to_string(),
        profiles: entries,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(PkiError::Manifest)?;
    fs::create_dir_all(out).map_err(|source| PkiError::Io {
        path: out.to_owned(),
        source,
    })?;
    let path: PathBuf = out.join("manifest.json");
    files::write_file(&path, &format!("{json}\n"), Secrecy::Public)?;
    Ok(manifest)
}
