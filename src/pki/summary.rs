//! [`CertificateSummary`]: what one certificate holds, in XMPP terms, for `pki show` and the
//! provisioning manifest.

use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::identity::{PresentedIdentity, presented_identities};

/// One certificate, summarised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateSummary {
    /// The subject distinguished name (RFC 4514 order as x509-parser prints it).
    pub subject: String,
    /// The issuer distinguished name.
    pub issuer: String,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// Whether basicConstraints says CA:TRUE.
    pub is_ca: bool,
    /// The subjectAltName entries, e.g. `DNS:interop.test`, `SRV:_xmpp-client.interop.test`,
    /// `XmppAddr:alice@interop.test`; or `CN:...` when there is no subjectAltName.
    pub identities: Vec<String>,
    /// The extendedKeyUsage purposes, e.g. `serverAuth`; empty when the extension is absent.
    pub extended_key_usage: Vec<String>,
    /// The public key, e.g. `EC P-256`, `RSA 2048 bits`, `Ed25519`.
    pub key: String,
    /// SHA-256 of the DER, upper-case hex pairs joined by `:` (as `openssl x509 -fingerprint`).
    pub sha256_fingerprint: String,
    /// Where the certificate would verify as an XMPP identity (see [`xmpp_uses`]); empty for a
    /// CA.
    pub xmpp: Vec<String>,
}

/// Why a certificate could not be summarised.
#[derive(Debug, thiserror::Error)]
#[error("not an X.509 certificate: {0}")]
pub struct NotACertificate(String);

/// The SHA-256 fingerprint of `der`, as openssl prints it.
pub fn sha256_fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What each identity lets the certificate stand for under RFC 6120 §13.7 / RFC 6125 §6.
pub fn xmpp_uses(identities: &[PresentedIdentity]) -> Vec<String> {
    identities
        .iter()
        .map(|identity| match identity {
            PresentedIdentity::Dns(name) if name.starts_with("*.") => format!(
                "DNS-ID {name}: any domain one label below {} (c2s and s2s; RFC 6125 §6.4.3)",
                &name[2..]
            ),
            PresentedIdentity::Dns(name) => {
                format!("DNS-ID {name}: the domain {name} (c2s and s2s; RFC 6125 §6.4)")
            }
            PresentedIdentity::Srv(name) => match name.split_once('.') {
                Some(("_xmpp-client", domain)) => format!(
                    "SRV-ID {name}: the domain {domain} for client-to-server only (RFC 6120 §13.7.1.2.1)"
                ),
                Some(("_xmpp-server", domain)) => format!(
                    "SRV-ID {name}: the domain {domain} for server-to-server only (RFC 6120 §13.7.1.2.1)"
                ),
                _ => format!("SRV-ID {name}: not an XMPP service"),
            },
            PresentedIdentity::XmppAddr(jid) if jid.contains('@') => format!(
                "XmppAddr {jid}: a client certificate for {jid} (SASL EXTERNAL, XEP-0178)"
            ),
            PresentedIdentity::XmppAddr(jid) => format!(
                "XmppAddr {jid}: the domain {jid}, for verifiers that accept XmppAddr (RFC 6120 §13.7.1.4)"
            ),
            PresentedIdentity::CommonName(cn) if cn.contains(char::is_whitespace) => {
                format!("CN {cn}: not a domain name")
            }
            PresentedIdentity::CommonName(cn) => format!(
                "CN {cn}: the domain {cn} only for verifiers that allow CN fallback (RFC 6125 §6.4.4)"
            ),
            PresentedIdentity::Unsupported(what) => format!("{what}: no XMPP meaning"),
        })
        .collect()
}

impl CertificateSummary {
    /// Summarises the DER certificate `der`.
    pub fn from_der(der: &[u8]) -> Result<CertificateSummary, NotACertificate> {
        let (_, cert) =
            X509Certificate::from_der(der).map_err(|e| NotACertificate(e.to_string()))?;
        let identities = presented_identities(der).map_err(|e| NotACertificate(e.to_string()))?;
        let extended_key_usage = match cert.extended_key_usage() {
            Ok(Some(eku)) => {
                let eku = eku.value;
                [
                    (eku.server_auth, "serverAuth"),
                    (eku.client_auth, "clientAuth"),
                    (eku.code_signing, "codeSigning"),
                    (eku.email_protection, "emailProtection"),
                    (eku.any, "anyExtendedKeyUsage"),
                ]
                .into_iter()
                .filter(|(set, _)| *set)
                .map(|(_, name)| name.to_owned())
                .collect()
            }
            _ => Vec::new(),
        };
        let key = match cert.public_key().parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
                format!("RSA {} bits", rsa.key_size())
            }
            Ok(x509_parser::public_key::PublicKey::EC(ec)) => {
                format!("EC {} bits", ec.key_size())
            }
            _ if cert.public_key().algorithm.algorithm.to_id_string() == "1.3.101.112" => {
                "Ed25519".to_owned()
            }
            _ => cert.public_key().algorithm.algorithm.to_id_string(),
        };
        let rfc3339 = |t: x509_parser::time::ASN1Time| {
            t.to_datetime()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| t.to_string())
        };
        Ok(CertificateSummary {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: rfc3339(cert.validity().not_before),
            not_after: rfc3339(cert.validity().not_after),
            is_ca: cert.is_ca(),
            identities: identities.iter().map(ToString::to_string).collect(),
            extended_key_usage,
            key,
            sha256_fingerprint: sha256_fingerprint(der),
            // A CA's names identify the CA, not an XMPP service.
            xmpp: if cert.is_ca() {
                Vec::new()
            } else {
                xmpp_uses(&identities)
            },
        })
    }
}
