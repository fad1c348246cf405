//! XMPP identity checks on a certificate (RFC 6120 §13.7.1.2, §13.7.2.1; RFC 6125 §6).
//!
//! [`presented_identities`] reads what a certificate claims: dNSName, id-on-dnsSRV and
//! id-on-xmppAddr subjectAltNames, and the subject CN when there is no subjectAltName at all.
//! [`ReferenceIdentity::check`] decides whether one of the identity types the verifying side
//! accepts names the domain it wanted. Chain validation is not done here (see
//! `transport::verify`); this module only looks at names.

use std::fmt;

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::der::{ID_ON_DNS_SRV, ID_ON_XMPP_ADDR};
use super::rejection::CertificateRejection;
use crate::scenario::keyword::Keyword;
use crate::scenario::model::IdentityType;

/// The XMPP service a connection is for, which selects the SRV-ID label (RFC 6120 §13.7.1.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// Client-to-server: `_xmpp-client`.
    Client,
    /// Server-to-server: `_xmpp-server`.
    Server,
}

impl Service {
    /// The SRV service label, with its underscore.
    pub fn label(self) -> &'static str {
        match self {
            Service::Client => "_xmpp-client",
            Service::Server => "_xmpp-server",
        }
    }
}

/// One identity a certificate presents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PresentedIdentity {
    /// A dNSName subjectAltName, possibly a wildcard.
    Dns(String),
    /// An id-on-dnsSRV otherName, `_service.domain`.
    Srv(String),
    /// An id-on-xmppAddr otherName.
    XmppAddr(String),
    /// The subject CN of a certificate without subjectAltName.
    CommonName(String),
    /// A subjectAltName entry of another kind (URI, IP, other otherName), for display only.
    Unsupported(String),
}

impl fmt::Display for PresentedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PresentedIdentity::Dns(name) => write!(f, "DNS:{name}"),
            PresentedIdentity::Srv(name) => write!(f, "SRV:{name}"),
            PresentedIdentity::XmppAddr(jid) => write!(f, "XmppAddr:{jid}"),
            PresentedIdentity::CommonName(cn) => write!(f, "CN:{cn}"),
            PresentedIdentity::Unsupported(what) => f.write_str(what),
        }
    }
}

/// The string inside an otherName value: `[0] EXPLICIT` wrapping a string with `tag`.
fn other_name_string(value: &[u8], tag: u8) -> Option<String> {
    let (_, wrapper) = x509_parser::der_parser::der::parse_der(value).ok()?;
    let inner = wrapper.as_slice().ok()?;
    let (_, string) = x509_parser::der_parser::der::parse_der(inner).ok()?;
    if string.header.raw_tag() != Some(&[tag]) {
        return None;
    }
    String::from_utf8(string.as_slice().ok()?.to_vec()).ok()
}

/// Everything `der` claims to be, in certificate order. The CN counts only when the certificate
/// has no subjectAltName extension (RFC 6125 §6.4.4).
pub fn presented_identities(der: &[u8]) -> Result<Vec<PresentedIdentity>, CertificateRejection> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|_| CertificateRejection::BadEncoding)?;
    let san = cert
        .subject_alternative_name()
        .map_err(|_| CertificateRejection::BadEncoding)?;
    let Some(san) = san else {
        return Ok(cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .map(|cn| PresentedIdentity::CommonName(cn.to_owned()))
            .collect());
    };
    let xmpp_addr = oid(&ID_ON_XMPP_ADDR);
    let dns_srv = oid(&ID_ON_DNS_SRV);
    Ok(san
        .value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => PresentedIdentity::Dns((*dns).to_owned()),
            GeneralName::OtherName(id, value) if id.to_id_string() == dns_srv => {
                match other_name_string(value, 0x16) {
                    Some(srv) => PresentedIdentity::Srv(srv),
                    None => PresentedIdentity::Unsupported("SRV:<not an IA5String>".into()),
                }
            }
            GeneralName::OtherName(id, value) if id.to_id_string() == xmpp_addr => {
                match other_name_string(value, 0x0c) {
                    Some(jid) => PresentedIdentity::XmppAddr(jid),
                    None => PresentedIdentity::Unsupported("XmppAddr:<not a UTF8String>".into()),
                }
            }
            other => PresentedIdentity::Unsupported(other.to_string()),
        })
        .collect())
}

fn oid(arcs: &[u64]) -> String {
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether a presented DNS name (possibly `*.rest`) matches `reference` (RFC 6125 §6.4.1,
/// §6.4.3): ASCII case-insensitive, a trailing dot ignored, `*` only as the whole left-most
/// label and matching exactly one non-empty label. Partial-label wildcards (`x*.example`)
/// never match (RFC 9525 §6.3 forbids them; RFC 6125 only allowed them).
pub fn dns_name_matches(presented: &str, reference: &str) -> bool {
    let presented = presented.trim_end_matches('.').to_ascii_lowercase();
    let reference = reference.trim_end_matches('.').to_ascii_lowercase();
    if presented.is_empty() || reference.is_empty() {
        return false;
    }
    match presented.split_once('.') {
        Some(("*", rest)) => match reference.split_once('.') {
            Some((label, reference_rest)) => {
                !label.is_empty() && !rest.contains('*') && rest == reference_rest
            }
            None => false,
        },
        _ => !presented.contains('*') && presented == reference,
    }
}

/// What the verifying side looks for: the domain it connected to, the service, and which
/// identity types it accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceIdentity {
    /// The XMPP domain (RFC 6120 §13.7.2.1: the source domain of the connection).
    pub domain: String,
    /// The service, for SRV-IDs.
    pub service: Service,
    /// The identity types that count.
    pub accepted: Vec<IdentityType>,
}

impl ReferenceIdentity {
    /// The identity type of `presented`, if it names this reference identity.
    fn matching_type(&self, presented: &PresentedIdentity) -> Option<IdentityType> {
        match presented {
            PresentedIdentity::Dns(name) => {
                dns_name_matches(name, &self.domain).then_some(IdentityType::DnsId)
            }
            PresentedIdentity::Srv(name) => {
                let (service, domain) = name.split_once('.')?;
                (service.eq_ignore_ascii_case(self.service.label())
                    && !domain.contains('*')
                    && dns_name_matches(domain, &self.domain))
                .then_some(IdentityType::SrvId)
            }
            PresentedIdentity::XmppAddr(jid) => (!jid.contains('*')
                && dns_name_matches(jid, &self.domain))
            .then_some(IdentityType::Xmppaddr),
            PresentedIdentity::CommonName(cn) => {
                dns_name_matches(cn, &self.domain).then_some(IdentityType::Cn)
            }
            PresentedIdentity::Unsupported(_) => None,
        }
    }

    /// Accepts the leaf `der` when one of its identities of an accepted type names the domain;
    /// returns the matching identity.
    pub fn check(&self, der: &[u8]) -> Result<PresentedIdentity, CertificateRejection> {
        let presented = presented_identities(der)?;
        let mut matched_but_not_accepted = false;
        for identity in &presented {
            match self.matching_type(identity) {
                Some(kind) if self.accepted.contains(&kind) => return Ok(identity.clone()),
                Some(_) => matched_but_not_accepted = true,
                None => {}
            }
        }
        Err(CertificateRejection::NameMismatch {
            presented: presented.iter().map(ToString::to_string).collect(),
            expected: match self.service {
                Service::Client => self.domain.clone(),
                Service::Server => format!("{} (server-to-server)", self.domain),
            },
            accepting: matched_but_not_accepted.then(|| {
                self.accepted
                    .iter()
                    .map(|kind| kind.keyword())
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::Catalogue;
    use crate::scenario::model::{CertificateProfile, KeyType};

    const DOMAIN: &str = "interop.test";

    fn leaf(catalogue: &Catalogue, profile: CertificateProfile) -> Vec<u8> {
        let chain = catalogue
            .chain(profile, KeyType::EcdsaP256, DOMAIN)
            .unwrap();
        chain.presented[0].to_vec()
    }

    fn reference(service: Service, accepted: &[IdentityType]) -> ReferenceIdentity {
        ReferenceIdentity {
            domain: DOMAIN.into(),
            service,
            accepted: accepted.to_vec(),
        }
    }

    /// RFC 6125 §6.4.1: exact match, case-insensitive, trailing dot ignored.
    #[test]
    fn dns_names_match_exactly_ignoring_case_rfc6125_6_4_1() {
        assert!(dns_name_matches("Interop.TEST", "interop.test"));
        assert!(dns_name_matches("interop.test.", "interop.test"));
        assert!(!dns_name_matches("xinterop.test", "interop.test"));
        assert!(!dns_name_matches("", "interop.test"));
    }

    /// RFC 6125 §6.4.3: `*` only as the whole left-most label, matching exactly one label.
    #[test]
    fn wildcard_matches_one_left_most_label_only_rfc6125_6_4_3() {
        assert!(dns_name_matches("*.example.test", "xmpp.example.test"));
        assert!(!dns_name_matches("*.example.test", "example.test"));
        assert!(!dns_name_matches("*.example.test", "a.b.example.test"));
        assert!(!dns_name_matches("xmpp.*.test", "xmpp.example.test"));
        assert!(!dns_name_matches("x*.example.test", "xmpp.example.test"));
        assert!(!dns_name_matches("*", "test"));
    }

    /// RFC 6120 §13.7.1.2.1, RFC 6125 §6.5.1: an SRV-ID counts only for its own service.
    #[test]
    fn srv_id_counts_for_its_service_only_rfc6120_13_7_1_2_1() {
        let catalogue = Catalogue::new();
        let server_only = leaf(&catalogue, CertificateProfile::SrvIdServerOnly);
        let both = leaf(&catalogue, CertificateProfile::SrvId);
        let c2s = reference(Service::Client, &IdentityType::DEFAULT);
        let s2s = reference(Service::Server, &IdentityType::DEFAULT);
        assert_eq!(
            c2s.check(&both).unwrap(),
            PresentedIdentity::Srv("_xmpp-client.interop.test".into())
        );
        assert_eq!(
            c2s.check(&server_only).unwrap_err().to_string(),
            "name-mismatch: presented [SRV:_xmpp-server.interop.test], expected interop.test"
        );
        assert!(s2s.check(&server_only).is_ok());
        let no_srv = reference(Service::Client, &[IdentityType::DnsId]);
        assert!(no_srv.check(&both).is_err());
    }

    /// RFC 6125 §6.4.4: the CN counts only without subjectAltName, and only if allowed.
    #[test]
    fn cn_counts_only_when_accepted_and_there_is_no_san_rfc6125_6_4_4() {
        let catalogue = Catalogue::new();
        let cn_only = leaf(&catalogue, CertificateProfile::CnOnly);
        let default = reference(Service::Client, &IdentityType::DEFAULT);
        assert_eq!(
            default.check(&cn_only).unwrap_err().to_string(),
            "name-mismatch: presented [CN:interop.test], expected interop.test (accepting dns-id, srv-id, xmppaddr)"
        );
        let with_cn = reference(Service::Client, &[IdentityType::DnsId, IdentityType::Cn]);
        assert_eq!(
            with_cn.check(&cn_only).unwrap(),
            PresentedIdentity::CommonName(DOMAIN.into())
        );
        // The SRV-ID leaf has a CN, but also a subjectAltName: its CN is never considered.
        let srv = leaf(&catalogue, CertificateProfile::SrvId);
        let cn_only_accepted = reference(Service::Client, &[IdentityType::Cn]);
        assert!(cn_only_accepted.check(&srv).is_err());
    }

    /// RFC 6120 §13.7.1.4: an XmppAddr naming the domain identifies the server.
    #[test]
    fn xmppaddr_names_the_domain_when_accepted_rfc6120_13_7_1_4() {
        let catalogue = Catalogue::new();
        let xmppaddr = leaf(&catalogue, CertificateProfile::Xmppaddr);
        assert_eq!(
            reference(Service::Client, &IdentityType::DEFAULT)
                .check(&xmppaddr)
                .unwrap(),
            PresentedIdentity::XmppAddr(DOMAIN.into())
        );
        assert!(
            reference(Service::Client, &[IdentityType::DnsId])
                .check(&xmppaddr)
                .is_err()
        );
    }

    #[test]
    fn wrong_domain_mismatch_lists_what_was_presented_rfc6125_6_4() {
        let catalogue = Catalogue::new();
        let wrong = leaf(&catalogue, CertificateProfile::WrongDomain);
        assert_eq!(
            reference(Service::Client, &IdentityType::DEFAULT)
                .check(&wrong)
                .unwrap_err()
                .to_string(),
            "name-mismatch: presented [DNS:not-interop.test], expected interop.test"
        );
        // RFC 6125 §6.4.3: `*.interop.test` covers one label below, not `interop.test`.
        let wildcard = leaf(&catalogue, CertificateProfile::Wildcard);
        assert_eq!(
            reference(Service::Client, &IdentityType::DEFAULT)
                .check(&wildcard)
                .unwrap_err()
                .to_string(),
            "name-mismatch: presented [DNS:*.interop.test], expected interop.test"
        );
        let below = ReferenceIdentity {
            domain: "chat.interop.test".into(),
            service: Service::Client,
            accepted: IdentityType::DEFAULT.to_vec(),
        };
        assert_eq!(
            below.check(&wildcard).unwrap(),
            PresentedIdentity::Dns("*.interop.test".into())
        );
    }
}
