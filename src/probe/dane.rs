//! Whether the TLSA records DNS gave for an endpoint (RFC 7673 §3: `_PORT._tcp.HOST` of the SRV
//! target) match the chain it served (RFC 6698 §2.1: usage, selector, matching type). A fact,
//! not a finding: the probe does not validate DNSSEC, and DANE only binds when the records are
//! "secure" (RFC 7673 §3.1), so it cannot say what a DANE-validating peer would decide.

use rustls::pki_types::CertificateDer;
use serde::Serialize;
use sha2::{Digest, Sha256, Sha512};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::discovery::TlsaRecord;

/// One TLSA record and what it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsaMatch {
    /// e.g. `_5222._tcp.xmpp.example.org 3 1 1`.
    pub record: String,
    /// e.g. `the leaf`, `certificate 1 of the chain`, or `no certificate presented`.
    pub matched: String,
}

/// Each of `records` against `chain` (leaf first).
pub fn matches(records: &[TlsaRecord], chain: &[CertificateDer<'_>]) -> Vec<TlsaMatch> {
    records
        .iter()
        .map(|record| {
            // Usages 0 and 2 name a CA, 1 and 3 the end entity (RFC 6698 §2.1.1).
            let candidates: Vec<usize> = match record.usage {
                1 | 3 => vec![0],
                _ => (1..chain.len()).collect(),
            };
            let found = candidates
                .into_iter()
                .find(|&n| chain.get(n).is_some_and(|c| association(record, c)));
            TlsaMatch {
                record: format!(
                    "{} {} {} {}",
                    record.name, record.usage, record.selector, record.matching
                ),
                matched: match found {
                    Some(0) => "the leaf".into(),
                    Some(n) => format!("certificate {n} of the chain"),
                    None => "no certificate presented".into(),
                },
            }
        })
        .collect()
}

/// Whether `certificate`'s selected part, hashed as the record says, is the record's data.
fn association(record: &TlsaRecord, certificate: &CertificateDer<'_>) -> bool {
    let selected: Vec<u8> = match record.selector {
        0 => certificate.to_vec(),
        1 => match X509Certificate::from_der(certificate) {
            Ok((_, parsed)) => parsed.tbs_certificate.subject_pki.raw.to_vec(),
            Err(_) => return false,
        },
        _ => return false,
    };
    let digest: Vec<u8> = match record.matching {
        0 => selected,
        1 => Sha256::digest(&selected).to_vec(),
        2 => Sha512::digest(&selected).to_vec(),
        _ => return false,
    };
    digest == record.data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::Catalogue;
    use crate::scenario::model::{CertificateProfile, KeyType};

    fn record(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> TlsaRecord {
        TlsaRecord {
            name: "_5222._tcp.xmpp.interop.test".into(),
            usage,
            selector,
            matching,
            data,
        }
    }

    /// RFC 6698 §2.1: DANE-EE SPKI SHA-256 matches the leaf, DANE-TA full certificate matches
    /// the intermediate, and a record for another key matches nothing.
    #[test]
    fn tlsa_records_match_the_certificate_their_usage_and_selector_name_rfc6698_2_1() {
        let catalogue = Catalogue::new();
        let chain = catalogue
            .chain(
                CertificateProfile::CacertIntermediate,
                KeyType::EcdsaP256,
                "interop.test",
            )
            .unwrap();
        let (_, leaf) = X509Certificate::from_der(&chain.presented[0]).unwrap();
        let spki = leaf.tbs_certificate.subject_pki.raw.to_vec();
        let records = [
            record(3, 1, 1, Sha256::digest(&spki).to_vec()),
            record(2, 0, 0, chain.presented[1].to_vec()),
            record(3, 1, 1, vec![0; 32]),
        ];
        let matched: Vec<String> = matches(&records, &chain.presented)
            .into_iter()
            .map(|m| m.matched)
            .collect();
        assert_eq!(
            matched,
            [
                "the leaf",
                "certificate 1 of the chain",
                "no certificate presented"
            ]
        );
    }
}
