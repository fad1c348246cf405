//! The profile → recipe mapping: what each certificate profile's chain looks like.
//!
//! This is the one place that says what a profile means. Issuing ([`super::issue`]) only follows
//! a [`ChainRecipe`]; a new profile is a new arm in [`recipe`] plus, where needed, a new field
//! here.

use rcgen::{ExtendedKeyUsagePurpose, KeyUsagePurpose};
use time::Duration;

use crate::scenario::model::CertificateProfile;

/// How to build the chain for one profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChainRecipe {
    /// The issuing CAs, root first, then each intermediate downwards. Empty: the leaf is
    /// self-signed and is its own trust anchor.
    pub cas: Vec<CaRecipe>,
    /// The end-entity certificate.
    pub leaf: LeafRecipe,
    /// Which certificates the presenting side sends.
    pub presentation: Presentation,
    /// Which root the verifying side is given for `trust: chain-root`.
    pub anchor: Anchor,
}

/// Which certificates the presenting side sends, always leaf first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Presentation {
    /// The leaf alone.
    Leaf,
    /// The leaf, then the intermediates from the bottom up.
    LeafAndIntermediates,
    /// The leaf, the intermediates from the bottom up, and the root.
    Everything,
}

/// The trust anchor the verifying side gets for `trust: chain-root`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// The root that issued the chain (for a self-signed leaf, the leaf).
    IssuingRoot,
    /// A separate root, generated with the chain, that did not issue it.
    StandIn,
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
    /// Whether basicConstraints says CA:TRUE (RFC 5280 §4.2.1.9); `false` makes a faulty
    /// issuer.
    pub is_ca: bool,
    /// The basicConstraints pathLenConstraint (RFC 5280 §4.2.1.9); `None` for unconstrained.
    pub path_len: Option<u8>,
    /// Validity relative to the moment of issuing.
    pub validity: Validity,
}

/// A name in a leaf, rendered against the chain's domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Name {
    /// The domain itself.
    Domain,
    /// `*.` plus the domain: covers every name one label below the domain, not the domain.
    WildcardBelowDomain,
    /// `not-` plus the domain: a name the verifying side must not accept for the domain.
    OtherDomain,
    /// `localpart@domain`: a bare JID.
    Jid(&'static str),
    /// A fixed text that names no domain.
    Fixed(&'static str),
}

impl Name {
    /// The name as it appears in the certificate issued for `domain`.
    pub fn render(self, domain: &str) -> String {
        match self {
            Name::Domain => domain.to_owned(),
            Name::WildcardBelowDomain => format!("*.{domain}"),
            Name::OtherDomain => format!("not-{domain}"),
            Name::Jid(localpart) => format!("{localpart}@{domain}"),
            Name::Fixed(text) => text.to_owned(),
        }
    }
}

/// One subjectAltName entry of a leaf (RFC 5280 §4.2.1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Identity {
    /// A dNSName.
    Dns(Name),
    /// An id-on-dnsSRV otherName (RFC 4985): `_service.domain`.
    Srv(&'static str),
    /// An id-on-xmppAddr otherName (RFC 6120 §13.7.1.4).
    XmppAddr(Name),
}

/// Where the leaf's key comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LeafKey {
    /// A key of the chain's key type.
    ChainKeyType,
    /// A 1024-bit RSA key, whatever the chain's key type.
    WeakRsa1024,
}

/// The end-entity certificate of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LeafRecipe {
    /// Subject organisation; always starts with `xmpp-interop test`.
    pub organization: &'static str,
    /// The subject common name.
    pub common_name: Name,
    /// The subjectAltName entries; empty: no subjectAltName extension at all.
    pub identities: Vec<Identity>,
    /// Validity relative to the moment of issuing.
    pub validity: Validity,
    /// The extendedKeyUsage purposes (RFC 5280 §4.2.1.12).
    pub extended_key_usages: Vec<ExtendedKeyUsagePurpose>,
    /// The leaf's key.
    pub key: LeafKey,
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

    /// Valid from 60 days ago until 30 days ago.
    fn ended_a_month_ago() -> Validity {
        Validity {
            not_before: Duration::days(-60),
            not_after: Duration::days(-30),
        }
    }

    /// Valid from 30 days from now until 60 days from now.
    fn starting_in_a_month() -> Validity {
        Validity {
            not_before: Duration::days(30),
            not_after: Duration::days(60),
        }
    }
}

/// A leaf for servers and clients alike: the domain as CN and DNS-ID, TLS server and client
/// authentication.
fn leaf(organization: &'static str) -> LeafRecipe {
    LeafRecipe {
        organization,
        common_name: Name::Domain,
        identities: vec![Identity::Dns(Name::Domain)],
        validity: Validity::current_for_days(30),
        extended_key_usages: vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
        key: LeafKey::ChainKeyType,
    }
}

/// A client certificate for SASL EXTERNAL (XEP-0178): the JID as CN and as id-on-xmppAddr,
/// client authentication only.
fn client_leaf(localpart: &'static str) -> LeafRecipe {
    LeafRecipe {
        organization: "xmpp-interop test client",
        common_name: Name::Jid(localpart),
        identities: vec![Identity::XmppAddr(Name::Jid(localpart))],
        validity: Validity::current_for_days(30),
        extended_key_usages: vec![ExtendedKeyUsagePurpose::ClientAuth],
        key: LeafKey::ChainKeyType,
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
        is_ca: true,
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
        is_ca: true,
        path_len: Some(0),
        validity: Validity::current_for_days(1825),
    }
}

/// The root and intermediate of the generic test CA that issues the identity and faulty
/// profiles.
fn test_ca() -> Vec<CaRecipe> {
    vec![
        root("xmpp-interop test CA", None, "xmpp-interop Test Root"),
        intermediate(
            "xmpp-interop test CA",
            None,
            "xmpp-interop Test Intermediate",
        ),
    ]
}

/// A chain from the generic test CA whose server sends leaf and intermediate.
fn from_test_ca(leaf: LeafRecipe) -> ChainRecipe {
    ChainRecipe {
        cas: test_ca(),
        leaf,
        presentation: Presentation::LeafAndIntermediates,
        anchor: Anchor::IssuingRoot,
    }
}

/// A chain from a root nobody trusts, sent complete (root included), as a misconfigured server
/// would; the verifying side is given a stand-in root instead.
fn from_untrusted_ca(leaf: LeafRecipe) -> ChainRecipe {
    ChainRecipe {
        cas: vec![
            root(
                "xmpp-interop test untrusted CA",
                None,
                "xmpp-interop Untrusted Root",
            ),
            intermediate(
                "xmpp-interop test untrusted CA",
                None,
                "xmpp-interop Untrusted Intermediate",
            ),
        ],
        leaf,
        presentation: Presentation::Everything,
        anchor: Anchor::StandIn,
    }
}

/// The recipe for `profile`.
pub(crate) fn recipe(profile: CertificateProfile) -> ChainRecipe {
    let server_leaf = || leaf("xmpp-interop test subscriber");
    match profile {
        CertificateProfile::SelfSigned => ChainRecipe {
            cas: Vec::new(),
            leaf: leaf("xmpp-interop test self-signed"),
            presentation: Presentation::Leaf,
            anchor: Anchor::IssuingRoot,
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
            presentation: Presentation::LeafAndIntermediates,
            anchor: Anchor::IssuingRoot,
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
            presentation: Presentation::LeafAndIntermediates,
            anchor: Anchor::IssuingRoot,
        },
        CertificateProfile::Wildcard => from_test_ca(LeafRecipe {
            common_name: Name::WildcardBelowDomain,
            identities: vec![Identity::Dns(Name::WildcardBelowDomain)],
            ..server_leaf()
        }),
        CertificateProfile::SrvId => from_test_ca(LeafRecipe {
            common_name: Name::Fixed("xmpp-interop SRV-ID-only leaf"),
            identities: vec![Identity::Srv("_xmpp-client"), Identity::Srv("_xmpp-server")],
            ..server_leaf()
        }),
        CertificateProfile::SrvIdServerOnly => from_test_ca(LeafRecipe {
            common_name: Name::Fixed("xmpp-interop SRV-ID-only leaf"),
            identities: vec![Identity::Srv("_xmpp-server")],
            ..server_leaf()
        }),
        CertificateProfile::SrvIdClientOnly => from_test_ca(LeafRecipe {
            common_name: Name::Fixed("xmpp-interop SRV-ID-only leaf"),
            identities: vec![Identity::Srv("_xmpp-client")],
            ..server_leaf()
        }),
        CertificateProfile::Xmppaddr => from_test_ca(LeafRecipe {
            common_name: Name::Fixed("xmpp-interop XmppAddr-only leaf"),
            identities: vec![Identity::XmppAddr(Name::Domain)],
            ..server_leaf()
        }),
        CertificateProfile::CnOnly => from_test_ca(LeafRecipe {
            identities: Vec::new(),
            ..server_leaf()
        }),
        CertificateProfile::Expired => from_test_ca(LeafRecipe {
            validity: Validity::ended_a_month_ago(),
            ..server_leaf()
        }),
        CertificateProfile::NotYetValid => from_test_ca(LeafRecipe {
            validity: Validity::starting_in_a_month(),
            ..server_leaf()
        }),
        CertificateProfile::WrongDomain => from_test_ca(LeafRecipe {
            common_name: Name::OtherDomain,
            identities: vec![Identity::Dns(Name::OtherDomain)],
            ..server_leaf()
        }),
        CertificateProfile::MissingIntermediate => ChainRecipe {
            presentation: Presentation::Leaf,
            ..from_test_ca(server_leaf())
        },
        CertificateProfile::UntrustedRoot => from_untrusted_ca(server_leaf()),
        CertificateProfile::IntermediateNotCa => from_test_ca(server_leaf()).with_cas(vec![
            root("xmpp-interop test CA", None, "xmpp-interop Test Root"),
            CaRecipe {
                is_ca: false,
                path_len: None,
                ..intermediate(
                    "xmpp-interop test CA",
                    None,
                    "xmpp-interop Issuer Without CA:TRUE",
                )
            },
        ]),
        CertificateProfile::PathlenExceeded => from_test_ca(server_leaf()).with_cas(vec![
            root("xmpp-interop test CA", None, "xmpp-interop Test Root"),
            intermediate(
                "xmpp-interop test CA",
                None,
                "xmpp-interop Intermediate With pathlen 0",
            ),
            CaRecipe {
                path_len: None,
                ..intermediate(
                    "xmpp-interop test CA",
                    None,
                    "xmpp-interop Intermediate Below pathlen 0",
                )
            },
        ]),
        CertificateProfile::WrongEku => from_test_ca(LeafRecipe {
            extended_key_usages: vec![ExtendedKeyUsagePurpose::ClientAuth],
            ..server_leaf()
        }),
        CertificateProfile::WeakRsa1024 => from_test_ca(LeafRecipe {
            key: LeafKey::WeakRsa1024,
            ..server_leaf()
        }),
        CertificateProfile::ClientAlice => from_test_ca(client_leaf("alice")),
        CertificateProfile::ClientWrongJid => from_test_ca(client_leaf("mallory")),
        CertificateProfile::ClientExpired => from_test_ca(LeafRecipe {
            validity: Validity::ended_a_month_ago(),
            ..client_leaf("alice")
        }),
        CertificateProfile::ClientUntrusted => from_untrusted_ca(client_leaf("alice")),
    }
}

/// What `profile` is for, and the verdict a conforming verifier gives, for the manifest.
pub(crate) fn purpose(profile: CertificateProfile) -> &'static str {
    match profile {
        CertificateProfile::SelfSigned => {
            "good when the verifier trusts this very certificate: self-signed leaf"
        }
        CertificateProfile::CacertIntermediate => {
            "good: root, CAcert-style class 3 intermediate, leaf; server sends leaf + intermediate"
        }
        CertificateProfile::StartcomChain => {
            "good: root, StartCom-style primary intermediate, leaf; server sends leaf + intermediate"
        }
        CertificateProfile::Wildcard => {
            "good for hosts one label below the domain, faulty for the domain itself: only the DNS-ID *.<domain> (RFC 6125 §6.4.3)"
        }
        CertificateProfile::SrvId => {
            "good: only SRV-IDs _xmpp-client and _xmpp-server for the domain (RFC 6120 §13.7.1.2.1)"
        }
        CertificateProfile::SrvIdServerOnly => {
            "good for s2s, faulty for c2s: only the SRV-ID _xmpp-server (RFC 6120 §13.7.1.2.1)"
        }
        CertificateProfile::SrvIdClientOnly => {
            "good for c2s, faulty for s2s: only the SRV-ID _xmpp-client (RFC 6120 §13.7.1.2.1)"
        }
        CertificateProfile::Xmppaddr => {
            "good: only an XmppAddr naming the domain (RFC 6120 §13.7.1.4)"
        }
        CertificateProfile::CnOnly => {
            "faulty unless the verifier allows CN fallback: domain in CN, no subjectAltName (RFC 6125 §6.4.4)"
        }
        CertificateProfile::Expired => "faulty: the leaf expired 30 days ago (RFC 5280 §4.1.2.5)",
        CertificateProfile::NotYetValid => {
            "faulty: the leaf becomes valid in 30 days (RFC 5280 §4.1.2.5)"
        }
        CertificateProfile::WrongDomain => "faulty: issued for not-<domain> (RFC 6125 §6.4)",
        CertificateProfile::MissingIntermediate => {
            "faulty: the server sends the leaf without its intermediate (RFC 5280 §6.1)"
        }
        CertificateProfile::UntrustedRoot => {
            "faulty: chain from a root nobody trusts, sent with that root; root.pem is a stand-in that did not issue it"
        }
        CertificateProfile::IntermediateNotCa => {
            "faulty: the issuer has basicConstraints CA:FALSE (RFC 5280 §4.2.1.9)"
        }
        CertificateProfile::PathlenExceeded => {
            "faulty: a pathlen-0 intermediate issued another CA (RFC 5280 §4.2.1.9)"
        }
        CertificateProfile::WrongEku => {
            "faulty: extendedKeyUsage clientAuth only on a server certificate (RFC 5280 §4.2.1.12)"
        }
        CertificateProfile::WeakRsa1024 => {
            "faulty: the leaf has a 1024-bit RSA key (RFC 7590 §3.4, RFC 7525 §4.3)"
        }
        CertificateProfile::ClientAlice => {
            "client certificate for SASL EXTERNAL: XmppAddr alice@<domain>, clientAuth (XEP-0178)"
        }
        CertificateProfile::ClientWrongJid => {
            "faulty client certificate: XmppAddr mallory@<domain> where alice logs in (XEP-0178)"
        }
        CertificateProfile::ClientExpired => {
            "faulty client certificate: alice@<domain>, expired 30 days ago"
        }
        CertificateProfile::ClientUntrusted => {
            "faulty client certificate: alice@<domain> from an untrusted root"
        }
    }
}

impl ChainRecipe {
    /// The same recipe with other CAs.
    fn with_cas(self, cas: Vec<CaRecipe>) -> ChainRecipe {
        ChainRecipe { cas, ..self }
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

/// The stand-in anchor of [`Anchor::StandIn`] chains: a root that did not issue them.
pub(crate) fn stand_in_root() -> CaRecipe {
    root(
        "xmpp-interop test stand-in",
        None,
        "xmpp-interop Stand-in Root (issued nothing)",
    )
}

/// The keyUsage bits (RFC 5280 §4.2.1.3) of a leaf: RSA key exchange (TLS 1.2 `TLS_RSA_*`)
/// needs keyEncipherment, ECDSA and Ed25519 keys only sign.
pub(crate) fn leaf_key_usages(rsa: bool) -> Vec<KeyUsagePurpose> {
    if rsa {
        vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ]
    } else {
        vec![KeyUsagePurpose::DigitalSignature]
    }
}

/// The keyUsage bits of a CA: it signs certificates and CRLs.
pub(crate) fn ca_key_usages() -> Vec<KeyUsagePurpose> {
    vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign]
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::scenario::keyword::Keyword;

    /// The profiles whose leaf is current; the others are deliberately expired or future.
    const CURRENT: [CertificateProfile; 3] = [
        CertificateProfile::SelfSigned,
        CertificateProfile::CacertIntermediate,
        CertificateProfile::StartcomChain,
    ];

    #[test]
    fn every_name_in_every_recipe_is_marked_as_a_test_certificate() {
        for &profile in CertificateProfile::ALL {
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
    fn weak_leaf_keys_and_stand_in_anchors_always_come_with_issuing_cas() {
        for &profile in CertificateProfile::ALL {
            let r = recipe(profile);
            if r.leaf.key == LeafKey::WeakRsa1024 || r.anchor == Anchor::StandIn {
                assert!(!r.cas.is_empty(), "{profile:?}");
            }
            if r.presentation == Presentation::Everything {
                assert!(!r.cas.is_empty(), "{profile:?}");
            }
        }
    }

    #[test]
    fn leaf_validity_starts_an_hour_ago_and_lasts_thirty_days() {
        for profile in CURRENT {
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
