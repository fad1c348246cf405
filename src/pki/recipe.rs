//! The profile → recipe mapping: what each certificate profile's chain looks like.
//!
//! This is the one place that says what a profile means. Issuing ([`super::issue`]) only follows
//! a [`ChainRecipe`]; a new profile (wildcard, expired, wrong EKU, missing intermediate, ...) is a
//! new arm in [`recipe`] plus, where needed, a new field here.

use rcgen::{ExtendedKeyUsagePurpose, KeyUsagePurpose};
use time::Duration;

use crate::scenario::model::{CertificateProfile, KeyType};

/// How to build the chain for one profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChainRecipe {
    /// The issuing CAs, root first, then each intermediate downwards. Empty: the leaf is
    /// self-signed and is its own trust anchor.
    pub cas: Vec<CaRecipe>,
    /// The end-entity certificate.
    pub leaf: LeafRecipe,
    /// Whether the presenting side sends the intermediates after the leaf (the root is never
    /// sent).
    pub present_intermediates: bool,
}

/// One certificate authority in a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CaRecipe {
    /// Subject organisation; always starts with `xmpp-interop test`.
    pub organization: &'static str,
    /// Subject organisational unit, if the CA being imitated had one.
    pub organizational_unit: Option<&'static str>,
    /// Subject common name.
    pub common_name: &'static str,
    /// The basicConstraints pathLenConstraint (RFC 5280 §4.2.1.9); `None` for unconstrained.
    pub path_len: Option<u8>,
    /// Validity relative to the moment of issuing.
    pub validity: Validity,
}

/// The end-entity certificate of a chain. Its subject CN and DNS SAN are the chain's domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LeafRecipe {
    /// Subject organisation; always starts with `xmpp-interop test`.
    pub organization: &'static str,
    /// Validity relative to the moment of issuing.
    pub validity: Validity,
    /// The extendedKeyUsage purposes (RFC 5280 §4.2.1.12).
    pub extended_key_usages: Vec<ExtendedKeyUsagePurpose>,
}

/// A validity period relative to the moment a certificate is issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Validity {
    /// notBefore, as an offset from now (negative: in the past).
    pub not_before: Duration,
    /// notAfter, as an offset from now.
    pub not_after: Duration,
}

impl Validity {
    /// Valid from an hour ago (tolerates clock skew between harness and target) for `days`.
    fn current_for_days(days: i64) -> Validity {
        Validity {
            not_before: Duration::hours(-1),
            not_after: Duration::days(days),
        }
    }
}

/// A leaf for servers and clients alike: TLS server and client authentication.
fn leaf(organization: &'static str) -> LeafRecipe {
    LeafRecipe {
        organization,
        validity: Validity::current_for_days(30),
        extended_key_usages: vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    }
}

/// A root CA, valid for ten years.
fn root(
    organization: &'static str,
    organizational_unit: Option<&'static str>,
    common_name: &'static str,
) -> CaRecipe {
    CaRecipe {
        organization,
        organizational_unit,
        common_name,
        path_len: None,
        validity: Validity::current_for_days(3650),
    }
}

/// An intermediate CA that may only issue end-entity certificates (pathlen 0), valid for five
/// years.
fn intermediate(
    organization: &'static str,
    organizational_unit: Option<&'static str>,
    common_name: &'static str,
) -> CaRecipe {
    CaRecipe {
        organization,
        organizational_unit,
        common_name,
        path_len: Some(0),
        validity: Validity::current_for_days(1825),
    }
}

/// The recipe for `profile`.
pub(crate) fn recipe(profile: CertificateProfile) -> ChainRecipe {
    match profile {
        CertificateProfile::SelfSigned => ChainRecipe {
            cas: Vec::new(),
            leaf: leaf("xmpp-interop test self-signed"),
            present_intermediates: false,
        },
        CertificateProfile::CacertIntermediate => ChainRecipe {
            cas: vec![
                root(
                    "xmpp-interop test CAcert",
                    Some("http://www.cacert.org"),
                    "xmpp-interop CAcert Root",
                ),
                intermediate(
                    "xmpp-interop test CAcert",
                    Some("http://www.CAcert.org"),
                    "xmpp-interop CAcert Class 3 Root",
                ),
            ],
            leaf: leaf("xmpp-interop test CAcert subscriber"),
            present_intermediates: true,
        },
        CertificateProfile::StartcomChain => ChainRecipe {
            cas: vec![
                root(
                    "xmpp-interop test StartCom Ltd.",
                    Some("Secure Digital Certificate Signing"),
                    "xmpp-interop StartCom Certification Authority",
                ),
                intermediate(
                    "xmpp-interop test StartCom Ltd.",
                    Some("Secure Digital Certificate Signing"),
                    "xmpp-interop StartCom Class 1 Primary Intermediate Server CA",
                ),
            ],
            leaf: leaf("xmpp-interop test StartCom subscriber"),
            present_intermediates: true,
        },
    }
}

/// The root CA that issued nothing: the anchor for [`crate::scenario::model::Trust::UnrelatedRoot`].
pub(crate) fn unrelated_root() -> CaRecipe {
    root(
        "xmpp-interop test unrelated",
        None,
        "xmpp-interop Unrelated Root",
    )
}

/// The keyUsage bits (RFC 5280 §4.2.1.3) of a leaf with this key type: RSA key exchange
/// (TLS 1.2 `TLS_RSA_*`) needs keyEncipherment, ECDSA keys only sign.
pub(crate) fn leaf_key_usages(key_type: KeyType) -> Vec<KeyUsagePurpose> {
    match key_type {
        KeyType::EcdsaP256 => vec![KeyUsagePurpose::DigitalSignature],
        KeyType::Rsa2048 => vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ],
    }
}

/// The keyUsage bits of a CA: it signs certificates and CRLs.
pub(crate) fn ca_key_usages() -> Vec<KeyUsagePurpose> {
    vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign]
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILES: [CertificateProfile; 3] = [
        CertificateProfile::SelfSigned,
        CertificateProfile::CacertIntermediate,
        CertificateProfile::StartcomChain,
    ];

    #[test]
    fn every_name_in_every_recipe_is_marked_as_a_test_certificate() {
        for profile in PROFILES {
            let r = recipe(profile);
            assert!(
                r.leaf.organization.starts_with("xmpp-interop test"),
                "{profile:?}"
            );
            for ca in &r.cas {
                assert!(
                    ca.organization.starts_with("xmpp-interop test"),
                    "{profile:?}"
                );
                assert!(ca.common_name.starts_with("xmpp-interop "), "{profile:?}");
            }
        }
        assert!(
            unrelated_root()
                .organization
                .starts_with("xmpp-interop test")
        );
    }

    #[test]
    fn leaf_validity_starts_an_hour_ago_and_lasts_thirty_days() {
        for profile in PROFILES {
            let v = recipe(profile).leaf.validity;
            assert_eq!(v.not_before, Duration::hours(-1));
            assert_eq!(v.not_after, Duration::days(30));
            for ca in recipe(profile).cas {
                assert!(
                    ca.validity.not_after > v.not_after,
                    "CAs outlive their leaves"
                );
            }
        }
    }
}
