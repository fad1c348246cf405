//! What the chain a server presented says, judged after the handshake: each certificate
//! (subject, issuer, days to expiry, key, signature algorithm), whether the order is a path,
//! whether it is complete up to a trusted root, whether it validates (webpki, serverAuth), and
//! which XMPP identity names the domain (RFC 6120 §13.7.2.1, RFC 6125 §6: DNS-ID, SRV-ID,
//! XmppAddr, then the CN fallback), with the rule that matched.

use std::path::Path;

use rustls::RootCertStore;
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::ParsedCertificate;
use rustls_pki_types::pem::PemObject as _;
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::pki::summary::CertificateSummary;
use crate::pki::{CertificateRejection, PresentedIdentity, ReferenceIdentity, Service};
use crate::scenario::model::IdentityType;
use crate::transport::tls::provider;

/// Debian's bundle of the system's trusted roots.
pub const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The roots a probe trusts: the system's, or the ones given with `--root`.
#[derive(Debug, Clone)]
pub struct Trust {
    store: RootCertStore,
    subjects: Vec<String>,
    /// Where the roots came from, for the report.
    pub source: String,
}

/// A trust store could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TrustError {
    path: String,
    reason: String,
}

impl Trust {
    /// The certificates of the PEM files `paths` (each may hold several).
    pub fn from_pem_files(paths: &[&Path]) -> Result<Trust, TrustError> {
        let mut roots = Vec::new();
        for path in paths {
            let error = |reason: String| TrustError {
                path: path.display().to_string(),
                reason,
            };
            let iter = CertificateDer::pem_file_iter(path).map_err(|e| error(e.to_string()))?;
            let before = roots.len();
            for certificate in iter {
                roots.push(certificate.map_err(|e| error(e.to_string()))?);
            }
            if roots.len() == before {
                return Err(error("holds no PEM certificate".into()));
            }
        }
        let source = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Trust::from_certificates(roots, source))
    }

    /// The system's roots ([`SYSTEM_BUNDLE`]).
    pub fn system() -> Result<Trust, TrustError> {
        Trust::from_pem_files(&[Path::new(SYSTEM_BUNDLE)])
    }

    /// Trusts exactly `roots`.
    pub fn from_certificates(roots: Vec<CertificateDer<'static>>, source: String) -> Trust {
        let subjects = roots
            .iter()
            .filter_map(|der| {
                X509Certificate::from_der(der)
                    .ok()
                    .map(|(_, c)| c.subject().to_string())
            })
            .collect();
        let mut store = RootCertStore::empty();
        // A root rustls cannot use as an anchor is left out; it could not anchor a path anyway.
        let _ = store.add_parsable_certificates(roots);
        Trust {
            store,
            subjects,
            source,
        }
    }
}

/// One certificate as presented.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateFact {
    /// The subject DN.
    pub subject: String,
    /// The issuer DN.
    pub issuer: String,
    /// RFC 3339.
    pub not_after: String,
    /// Whole days from now to notAfter (negative once expired).
    pub days_to_expiry: i64,
    /// e.g. `EC 256 bits`, `RSA 2048 bits`, `Ed25519`.
    pub key: String,
    /// e.g. `sha256WithRSAEncryption`, `ecdsa-with-SHA256`.
    pub signature_algorithm: String,
    /// Every identity it presents, `DNS:…`, `SRV:…`, `XmppAddr:…`, `CN:…`.
    pub identities: Vec<String>,
    /// SHA-256 of the DER.
    pub sha256: String,
}

/// The chain as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct ChainFact {
    /// Leaf first, as presented.
    pub certificates: Vec<CertificateFact>,
    /// Every certificate after the leaf is the issuer of the one before it (RFC 8446 §4.4.2).
    pub in_order: bool,
    /// The last certificate presented is self-signed or was issued by a trusted root: nothing
    /// is missing between the leaf and the trust store.
    pub complete: bool,
    /// The chain validates against the trust store (webpki: signatures, validity, path,
    /// basicConstraints, serverAuth).
    pub validates: bool,
    /// Why it does not, e.g. `expired`, `unknown-issuer`.
    pub validation_error: Option<String>,
    /// The roots it was checked against.
    pub trust: String,
}

/// Which identity named the domain.
#[derive(Debug, Clone, Serialize)]
pub struct IdentityFact {
    /// The domain checked (the source domain, never the SRV target, RFC 6125 §6.2.1).
    pub domain: String,
    /// The identity that matched, e.g. `DNS:example.org`.
    pub matched: Option<String>,
    /// Its rule: `dns-id`, `srv-id`, `xmppaddr` or `cn` (the CN fallback, RFC 6125 §6.4.4).
    pub rule: Option<String>,
    /// Why nothing matched.
    pub mismatch: Option<String>,
    /// Whether a DNS-ID names the domain (RFC 6120 §13.7.1.2.1 asks providers for one).
    pub dns_id_names_domain: bool,
}

/// Describes and judges `chain` (leaf first) for `domain` and `service`.
pub fn judge(
    chain: &[CertificateDer<'static>],
    trust: &Trust,
    domain: &str,
    service: Service,
) -> Option<(ChainFact, IdentityFact)> {
    let (leaf, intermediates) = chain.split_first()?;
    let now = time::OffsetDateTime::now_utc();
    let certificates: Vec<CertificateFact> = chain.iter().map(|der| describe(der, now)).collect();
    let parsed: Vec<Option<X509Certificate<'_>>> = chain
        .iter()
        .map(|der| X509Certificate::from_der(der).ok().map(|(_, c)| c))
        .collect();
    let in_order = parsed.windows(2).all(|pair| match (&pair[0], &pair[1]) {
        (Some(child), Some(parent)) => child.issuer() == parent.subject(),
        _ => false,
    });
    let complete = match parsed.last() {
        Some(Some(last)) => {
            last.issuer() == last.subject()
                || trust
                    .subjects
                    .iter()
                    .any(|root| *root == last.issuer().to_string())
        }
        _ => false,
    };
    let validation = ParsedCertificate::try_from(leaf).and_then(|parsed| {
        verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &trust.store,
            intermediates,
            UnixTime::now(),
            provider().signature_verification_algorithms.all,
        )
    });
    let validation_error = validation.err().map(|e| match e {
        rustls::Error::InvalidCertificate(reason) => {
            CertificateRejection::from_rustls(&reason).to_string()
        }
        other => other.to_string(),
    });
    let chain_fact = ChainFact {
        certificates,
        in_order,
        complete,
        validates: validation_error.is_none(),
        validation_error,
        trust: trust.source.clone(),
    };
    Some((chain_fact, identity(leaf, domain, service)))
}

/// The XMPP identity check of `leaf` for `domain`, every rule allowed, with the rule that
/// matched.
fn identity(leaf: &CertificateDer<'_>, domain: &str, service: Service) -> IdentityFact {
    let reference = ReferenceIdentity {
        domain: domain.to_owned(),
        service,
        accepted: vec![
            IdentityType::DnsId,
            IdentityType::SrvId,
            IdentityType::Xmppaddr,
            IdentityType::Cn,
        ],
    };
    let dns_only = ReferenceIdentity {
        accepted: vec![IdentityType::DnsId],
        ..reference.clone()
    };
    let dns_id_names_domain = dns_only.check(leaf).is_ok();
    match reference.check(leaf) {
        Ok(matched) => IdentityFact {
            domain: domain.to_owned(),
            rule: Some(
                match &matched {
                    PresentedIdentity::Dns(_) => "dns-id",
                    PresentedIdentity::Srv(_) => "srv-id",
                    PresentedIdentity::XmppAddr(_) => "xmppaddr",
                    PresentedIdentity::CommonName(_) => "cn",
                    PresentedIdentity::Unsupported(_) => "other",
                }
                .to_owned(),
            ),
            matched: Some(matched.to_string()),
            mismatch: None,
            dns_id_names_domain,
        },
        Err(reason) => IdentityFact {
            domain: domain.to_owned(),
            matched: None,
            rule: None,
            mismatch: Some(reason.to_string()),
            dns_id_names_domain,
        },
    }
}

fn describe(der: &CertificateDer<'_>, now: time::OffsetDateTime) -> CertificateFact {
    let summary = CertificateSummary::from_der(der);
    let parsed = X509Certificate::from_der(der).ok().map(|(_, c)| c);
    let days_to_expiry = parsed
        .as_ref()
        .map(|c| (c.validity().not_after.to_datetime() - now).whole_days())
        .unwrap_or_default();
    let signature_algorithm = parsed
        .as_ref()
        .map(|c| {
            let oid = &c.signature_algorithm.algorithm;
            x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
                .map(str::to_owned)
                .unwrap_or_else(|_| oid.to_id_string())
        })
        .unwrap_or_else(|| "unparseable".into());
    match summary {
        Ok(summary) => CertificateFact {
            subject: summary.subject,
            issuer: summary.issuer,
            not_after: summary.not_after,
            days_to_expiry,
            key: summary.key,
            signature_algorithm,
            identities: summary.identities,
            sha256: summary.sha256_fingerprint,
        },
        Err(e) => CertificateFact {
            subject: format!("unparseable certificate: {e}"),
            issuer: String::new(),
            not_after: String::new(),
            days_to_expiry,
            key: String::new(),
            signature_algorithm,
            identities: Vec::new(),
            sha256: crate::pki::summary::sha256_fingerprint(der),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::Catalogue;
    use crate::scenario::model::{CertificateProfile, KeyType};

    const DOMAIN: &str = "interop.test";

    fn issued(profile: CertificateProfile) -> (Vec<CertificateDer<'static>>, Trust) {
        let catalogue = Catalogue::new();
        let chain = catalogue
            .chain(profile, KeyType::EcdsaP256, DOMAIN)
            .unwrap();
        (
            chain.presented.clone(),
            Trust::from_certificates(vec![chain.root.clone()], "test root".into()),
        )
    }

    /// RFC 6120 §13.7.2.1: the default leaf names the domain by DNS-ID and validates.
    #[test]
    fn a_good_chain_validates_and_names_the_domain_by_dns_id_rfc6120_13_7_2_1() {
        let (chain, trust) = issued(CertificateProfile::CacertIntermediate);
        let (chain_fact, identity) = judge(&chain, &trust, DOMAIN, Service::Client).unwrap();
        assert!(chain_fact.validates, "{:?}", chain_fact.validation_error);
        assert!(chain_fact.in_order && chain_fact.complete);
        assert_eq!(identity.rule.as_deref(), Some("dns-id"));
        assert!(chain_fact.certificates[0].days_to_expiry > 0);
    }

    /// RFC 6125 §6.2.1: a leaf naming another host does not name the source domain.
    #[test]
    fn a_leaf_for_another_name_fails_the_identity_check_rfc6125_6_2_1() {
        let (chain, trust) = issued(CertificateProfile::WrongDomain);
        let (_, identity) = judge(&chain, &trust, DOMAIN, Service::Client).unwrap();
        assert_eq!(identity.rule, None);
        assert!(
            identity
                .mismatch
                .as_deref()
                .is_some_and(|m| m.contains("not-interop.test")),
            "{identity:?}"
        );
    }

    /// RFC 5280 §4.1.2.5: an expired leaf does not validate.
    #[test]
    fn an_expired_leaf_does_not_validate_rfc5280_4_1_2_5() {
        let (chain, trust) = issued(CertificateProfile::Expired);
        let (chain_fact, _) = judge(&chain, &trust, DOMAIN, Service::Client).unwrap();
        assert_eq!(chain_fact.validation_error.as_deref(), Some("expired"));
        assert!(chain_fact.certificates[0].days_to_expiry < 0);
    }
}
