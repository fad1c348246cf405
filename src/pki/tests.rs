//! Unit tests of the catalogue: chain shape (parsed back with x509-parser), caching, the
//! unrelated root, PEM files, and path validation by rustls's own verifier.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rcgen::KeyPair;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::{CertificateError, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::*;
use crate::scenario::model::{CertificateProfile, KeyType, Trust};

const DOMAIN: &str = "xmpp.example.test";
const PROFILES: [CertificateProfile; 3] = [
    CertificateProfile::SelfSigned,
    CertificateProfile::CacertIntermediate,
    CertificateProfile::StartcomChain,
];
const KEY_TYPES: [KeyType; 2] = [KeyType::EcdsaP256, KeyType::Rsa2048];

/// One catalogue shared by every test in this binary, as cases share it in a run: the RSA pool
/// is generated once.
fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(Catalogue::new)
}

fn every_chain() -> Vec<Arc<IssuedChain>> {
    let mut chains = Vec::new();
    for profile in PROFILES {
        for key_type in KEY_TYPES {
            chains.push(catalogue().chain(profile, key_type, DOMAIN).unwrap());
        }
    }
    chains
}

fn parse<'a>(der: &'a CertificateDer<'_>) -> X509Certificate<'a> {
    X509Certificate::from_der(der).unwrap().1
}

fn dns_sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let san = cert.subject_alternative_name().unwrap().unwrap();
    san.value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => (*dns).to_owned(),
            other => panic!("unexpected SAN {other}"),
        })
        .collect()
}

fn verify(
    chain: &IssuedChain,
    anchor: CertificateDer<'static>,
    name: &str,
) -> Result<(), rustls::Error> {
    let mut roots = RootCertStore::empty();
    roots.add(anchor).unwrap();
    let provider = rustls::crypto::ring::default_provider();
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::new(provider))
        .build()
        .unwrap();
    let name = ServerName::try_from(name.to_owned()).unwrap();
    verifier
        .verify_server_cert(
            &chain.presented[0],
            &chain.presented[1..],
            &name,
            &[],
            UnixTime::now(),
        )
        .map(|_| ())
}

fn scratch_dir(test: &str) -> crate::scratch::ScratchDir {
    crate::scratch::ScratchDir::new(&format!("pki-{test}"))
}

#[test]
fn leaf_names_the_domain_in_subject_cn_and_dns_san() {
    for chain in every_chain() {
        let leaf = parse(&chain.presented[0]);
        let cn = leaf
            .subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap();
        assert_eq!(cn, DOMAIN);
        let org = leaf
            .subject()
            .iter_organization()
            .next()
            .unwrap()
            .as_str()
            .unwrap();
        assert!(org.starts_with("xmpp-interop test"), "{org}");
        assert_eq!(dns_sans(&leaf), [DOMAIN]);
        assert!(!leaf.is_ca(), "{:?} leaf must not be a CA", chain.profile);
        let eku = leaf.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && eku.client_auth);
        let ku = leaf.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature());
        assert_eq!(ku.key_encipherment(), chain.key_type == KeyType::Rsa2048);
    }
}

#[test]
fn self_signed_presents_only_the_leaf_which_is_its_own_root() {
    for key_type in KEY_TYPES {
        let chain = catalogue()
            .chain(CertificateProfile::SelfSigned, key_type, DOMAIN)
            .unwrap();
        assert_eq!(chain.presented.len(), 1);
        assert_eq!(chain.root, chain.presented[0]);
        let leaf = parse(&chain.presented[0]);
        assert_eq!(leaf.subject(), leaf.issuer());
        assert!(chain.pem.intermediates.is_empty());
    }
}

/// RFC 5280 §6.1: each certificate's issuer is the next one's subject, the intermediate is a CA
/// limited to issuing end entities (§4.2.1.9 pathLenConstraint 0), the root is self-issued.
#[test]
fn ca_profiles_present_leaf_then_intermediate_issued_by_the_root() {
    for profile in [
        CertificateProfile::CacertIntermediate,
        CertificateProfile::StartcomChain,
    ] {
        for key_type in KEY_TYPES {
            let chain = catalogue().chain(profile, key_type, DOMAIN).unwrap();
            assert_eq!(chain.presented.len(), 2, "{profile:?}");
            let leaf = parse(&chain.presented[0]);
            let intermediate = parse(&chain.presented[1]);
            let root = parse(&chain.root);
            assert_eq!(leaf.issuer(), intermediate.subject());
            assert_eq!(intermediate.issuer(), root.subject());
            assert_eq!(root.issuer(), root.subject());
            let bc = intermediate.basic_constraints().unwrap().unwrap().value;
            assert!(bc.ca);
            assert_eq!(bc.path_len_constraint, Some(0));
            assert!(root.is_ca());
            for cert in [&intermediate, &root] {
                let org = cert
                    .subject()
                    .iter_organization()
                    .next()
                    .unwrap()
                    .as_str()
                    .unwrap();
                assert!(org.starts_with("xmpp-interop test"), "{org}");
            }
            assert_eq!(chain.pem.intermediates.len(), 1);
        }
    }
}

#[test]
fn leaf_is_valid_from_an_hour_ago_for_thirty_days_with_a_random_serial() {
    let now = OffsetDateTime::now_utc();
    let mut serials = Vec::new();
    for chain in every_chain() {
        let leaf = parse(&chain.presented[0]);
        let not_before = leaf.validity().not_before.to_datetime();
        let not_after = leaf.validity().not_after.to_datetime();
        assert!((not_before - (now - Duration::hours(1))).abs() < Duration::minutes(5));
        assert!((not_after - (now + Duration::days(30))).abs() < Duration::minutes(5));
        for der in &chain.presented[1..] {
            assert!(parse(der).validity().not_after.to_datetime() > not_after);
        }
        assert_eq!(leaf.raw_serial().len(), 16);
        serials.push(leaf.raw_serial().to_vec());
    }
    let count = serials.len();
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), count, "serial numbers repeat");
}

#[test]
fn key_belongs_to_the_leaf_and_uses_the_requested_algorithm() {
    for chain in every_chain() {
        let algorithm = match chain.key_type {
            KeyType::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyType::Rsa2048 | KeyType::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
            KeyType::Ed25519 => &rcgen::PKCS_ED25519,
        };
        let key = KeyPair::from_pkcs8_der_and_sign_algo(&chain.key, algorithm).unwrap();
        let leaf = parse(&chain.presented[0]);
        assert_eq!(key.public_key_der(), leaf.public_key().raw);
        assert!(matches!(
            chain.key_der(),
            rustls_pki_types::PrivateKeyDer::Pkcs8(_)
        ));
        assert!(chain.pem.key.starts_with("-----BEGIN PRIVATE KEY-----"));
    }
}

#[test]
fn chain_is_generated_once_and_cached_per_profile_key_and_domain() {
    let catalogue = Catalogue::new();
    let a = catalogue
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            DOMAIN,
        )
        .unwrap();
    let b = catalogue
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            DOMAIN,
        )
        .unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    let other = catalogue
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            "other.example.test",
        )
        .unwrap();
    assert!(!Arc::ptr_eq(&a, &other));
    assert_eq!(other.domain, "other.example.test");
}

#[test]
fn chain_is_shared_between_threads_asking_at_once() {
    let catalogue = Catalogue::new();
    let chains: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    catalogue.chain(
                        CertificateProfile::CacertIntermediate,
                        KeyType::EcdsaP256,
                        DOMAIN,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    assert!(chains.iter().all(|c| Arc::ptr_eq(c, &chains[0])));
}

#[test]
fn domain_that_is_not_a_dns_name_is_refused() {
    for domain in ["../etc", "a/b", "", "xmpp example"] {
        let err = catalogue()
            .chain(CertificateProfile::SelfSigned, KeyType::EcdsaP256, domain)
            .unwrap_err();
        assert!(
            matches!(err, PkiError::InvalidDomain { .. }),
            "{domain:?}: {err}"
        );
    }
}

#[test]
fn unrelated_root_differs_from_every_chain_root_and_is_cached() {
    let chains = every_chain();
    let unrelated = catalogue()
        .trust_anchor(&chains[0], Trust::UnrelatedRoot)
        .unwrap();
    for chain in &chains {
        assert_ne!(unrelated, chain.root);
        assert!(!chain.presented.contains(&unrelated));
        assert_eq!(
            catalogue().trust_anchor(chain, Trust::ChainRoot).unwrap(),
            chain.root
        );
        assert_eq!(
            catalogue()
                .trust_anchor(chain, Trust::UnrelatedRoot)
                .unwrap(),
            unrelated
        );
    }
    let root = parse(&unrelated);
    let cn = root
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap();
    assert_eq!(cn, "xmpp-interop Unrelated Root");
    assert!(root.is_ca());
}

/// RFC 5280 §6.1: the presented chain validates up to the chain's own root.
#[test]
fn rustls_accepts_every_chain_against_its_own_root_rfc5280_6_1() {
    for chain in every_chain() {
        let anchor = catalogue().trust_anchor(&chain, Trust::ChainRoot).unwrap();
        verify(&chain, anchor, DOMAIN)
            .unwrap_or_else(|e| panic!("{:?}/{:?}: {e}", chain.profile, chain.key_type));
    }
}

/// RFC 5280 §6.1: no path leads from the presented chain to an unrelated root.
#[test]
fn rustls_rejects_every_chain_against_the_unrelated_root_as_unknown_issuer_rfc5280_6_1() {
    for chain in every_chain() {
        let anchor = catalogue()
            .trust_anchor(&chain, Trust::UnrelatedRoot)
            .unwrap();
        let err = verify(&chain, anchor, DOMAIN).unwrap_err();
        assert_eq!(
            err,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
            "{:?}/{:?}",
            chain.profile,
            chain.key_type
        );
    }
}

/// RFC 6125 §6.4: the reference identity must match a DNS-ID in the certificate.
#[test]
fn rustls_rejects_every_chain_for_another_domain_rfc6125_6_4() {
    for chain in every_chain() {
        let err = verify(&chain, chain.root.clone(), "wrong.example.test").unwrap_err();
        assert!(
            matches!(
                err,
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            ),
            "{:?}/{:?}: {err}",
            chain.profile,
            chain.key_type
        );
    }
}

#[test]
fn describe_summarises_every_presented_certificate() {
    let chain = catalogue()
        .chain(
            CertificateProfile::CacertIntermediate,
            KeyType::EcdsaP256,
            DOMAIN,
        )
        .unwrap();
    let lines = chain.describe();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("#0 "), "{}", lines[0]);
    assert!(lines[0].contains(&format!("CN={DOMAIN}")), "{}", lines[0]);
    assert!(
        lines[0].contains(&format!("DNSName({DOMAIN})")),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("issuer=\"O=xmpp-interop test CAcert"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("notBefore=") && lines[0].contains("notAfter="),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("CN=xmpp-interop CAcert Class 3 Root") && lines[1].contains("CA=true"),
        "{}",
        lines[1]
    );
}

#[test]
fn write_pem_writes_five_files_per_chain_and_the_unrelated_root() {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            DOMAIN,
        )
        .unwrap();
    let dir = scratch_dir("write");
    let written = catalogue.write_pem(&dir).unwrap();
    let chain_dir = dir.join(DOMAIN).join("startcom-chain-ecdsa-p256");
    let expected: Vec<PathBuf> = [
        "cert.pem",
        "chain.pem",
        "fullchain.pem",
        "root.pem",
        "key.pem",
    ]
    .iter()
    .map(|name| chain_dir.join(name))
    .chain([dir.join("unrelated-root.pem")])
    .collect();
    assert_eq!(written, expected);
    let read = |name: &str| std::fs::read_to_string(chain_dir.join(name)).unwrap();
    assert_eq!(read("cert.pem"), chain.pem.leaf);
    assert_eq!(read("chain.pem"), chain.pem.intermediates.concat());
    assert_eq!(
        read("fullchain.pem"),
        format!("{}{}", chain.pem.leaf, chain.pem.intermediates[0])
    );
    assert_eq!(read("root.pem"), chain.pem.root);
    assert_eq!(read("key.pem"), chain.pem.key);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn write_pem_makes_private_keys_readable_by_the_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let catalogue = Catalogue::new();
    catalogue
        .chain(CertificateProfile::SelfSigned, KeyType::EcdsaP256, DOMAIN)
        .unwrap();
    let dir = scratch_dir("mode");
    let key = dir
        .join(DOMAIN)
        .join("self-signed-ecdsa-p256")
        .join("key.pem");
    // A key file left world-readable by an earlier run is tightened too.
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, "stale").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    catalogue.write_pem(&dir).unwrap();
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The subjectAltName entries of a leaf, spelled `DNS:`, `SRV:` (id-on-dnsSRV) or `XMPP:`
/// (id-on-xmppAddr), with the otherName values decoded from their `[0] EXPLICIT` wrapper.
fn identities(cert: &X509Certificate<'_>) -> Vec<String> {
    let Some(san) = cert.subject_alternative_name().unwrap() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => format!("DNS:{dns}"),
            GeneralName::OtherName(oid, value) => {
                // [0] EXPLICIT { tag, length, string } with short lengths.
                let (tag, text) = (value[2], std::str::from_utf8(&value[4..]).unwrap());
                match (oid.to_id_string().as_str(), tag) {
                    ("1.3.6.1.5.5.7.8.7", 0x16) => format!("SRV:{text}"),
                    ("1.3.6.1.5.5.7.8.5", 0x0c) => format!("XMPP:{text}"),
                    (other, tag) => panic!("unexpected otherName {other} with tag {tag:#x}"),
                }
            }
            other => panic!("unexpected SAN {other}"),
        })
        .collect()
}

fn leaf_of(profile: CertificateProfile) -> Arc<IssuedChain> {
    catalogue()
        .chain(profile, KeyType::EcdsaP256, "interop.test")
        .unwrap()
}

/// RFC 6125 §6.4.3 (wildcard in the left-most label), RFC 4985 (SRVName), RFC 6120 §13.7.1.4
/// (XmppAddr), RFC 6125 §6.4.4 (CN only without subjectAltName).
#[test]
fn identity_profiles_carry_exactly_their_identities_rfc6125_6_4_rfc6120_13_7_1_4() {
    let expect = [
        (CertificateProfile::Wildcard, vec!["DNS:*.interop.test"]),
        (
            CertificateProfile::SrvId,
            vec![
                "SRV:_xmpp-client.interop.test",
                "SRV:_xmpp-server.interop.test",
            ],
        ),
        (
            CertificateProfile::SrvIdServerOnly,
            vec!["SRV:_xmpp-server.interop.test"],
        ),
        (
            CertificateProfile::SrvIdClientOnly,
            vec!["SRV:_xmpp-client.interop.test"],
        ),
        (CertificateProfile::Xmppaddr, vec!["XMPP:interop.test"]),
        (CertificateProfile::CnOnly, vec![]),
        (
            CertificateProfile::WrongDomain,
            vec!["DNS:not-interop.test"],
        ),
        (
            CertificateProfile::ClientAlice,
            vec!["XMPP:alice@interop.test"],
        ),
        (
            CertificateProfile::ClientWrongJid,
            vec!["XMPP:mallory@interop.test"],
        ),
    ];
    for (profile, want) in expect {
        let chain = leaf_of(profile);
        let leaf = parse(&chain.presented[0]);
        assert_eq!(identities(&leaf), want, "{profile}");
    }
    let cn_only = leaf_of(CertificateProfile::CnOnly);
    let leaf = parse(&cn_only.presented[0]);
    let cn = leaf.subject().iter_common_name().next().unwrap();
    assert_eq!(cn.as_str().unwrap(), "interop.test");
    let srv = leaf_of(CertificateProfile::SrvId);
    let leaf = parse(&srv.presented[0]);
    let cn = leaf.subject().iter_common_name().next().unwrap();
    assert!(
        !cn.as_str().unwrap().contains("interop.test"),
        "no CN fallback"
    );
}

/// RFC 5280 §4.1.2.5: the validity period of the faulty leaves.
#[test]
fn expired_and_not_yet_valid_leaves_lie_outside_now_rfc5280_4_1_2_5() {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    for profile in [
        CertificateProfile::Expired,
        CertificateProfile::ClientExpired,
    ] {
        let chain = leaf_of(profile);
        let leaf = parse(&chain.presented[0]);
        assert!(leaf.validity().not_after.timestamp() < now, "{profile}");
    }
    let chain = leaf_of(CertificateProfile::NotYetValid);
    let leaf = parse(&chain.presented[0]);
    assert!(leaf.validity().not_before.timestamp() > now);
}

/// RFC 5280 §4.2.1.9: basicConstraints of the faulty issuers, and what each server sends.
#[test]
fn faulty_chains_have_the_shape_their_profile_names_rfc5280_4_2_1_9() {
    let missing = leaf_of(CertificateProfile::MissingIntermediate);
    assert_eq!(missing.presented.len(), 1);
    assert!(missing.pem.intermediates.is_empty());

    let not_ca = leaf_of(CertificateProfile::IntermediateNotCa);
    assert_eq!(not_ca.presented.len(), 2);
    assert!(!parse(&not_ca.presented[1]).is_ca());

    let pathlen = leaf_of(CertificateProfile::PathlenExceeded);
    assert_eq!(pathlen.presented.len(), 3);
    let upper = parse(&pathlen.presented[2]);
    let constraints = upper.basic_constraints().unwrap().unwrap().value;
    assert_eq!(constraints.path_len_constraint, Some(0));
    assert!(parse(&pathlen.presented[1]).is_ca());

    let untrusted = leaf_of(CertificateProfile::UntrustedRoot);
    assert_eq!(untrusted.presented.len(), 3, "leaf, intermediate, root");
    assert_ne!(untrusted.presented[2], untrusted.root);
    assert!(
        parse(&untrusted.root)
            .subject()
            .to_string()
            .contains("Stand-in")
    );
}

/// RFC 5280 §4.2.1.12: wrong-eku and client certificates allow clientAuth only.
#[test]
fn wrong_eku_and_client_leaves_allow_client_auth_only_rfc5280_4_2_1_12() {
    for profile in [
        CertificateProfile::WrongEku,
        CertificateProfile::ClientAlice,
        CertificateProfile::ClientUntrusted,
    ] {
        let chain = leaf_of(profile);
        let leaf = parse(&chain.presented[0]);
        let eku = leaf.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth, "{profile}");
    }
}

#[test]
fn weak_rsa_1024_leaf_has_a_1024_bit_key_signed_by_the_chain_key_type() {
    let chain = leaf_of(CertificateProfile::WeakRsa1024);
    let leaf = parse(&chain.presented[0]);
    match leaf.public_key().parsed().unwrap() {
        x509_parser::public_key::PublicKey::RSA(rsa) => assert_eq!(rsa.key_size(), 1024),
        other => panic!("{other:?}"),
    }
    let issuer = parse(&chain.presented[1]);
    assert!(matches!(
        issuer.public_key().parsed().unwrap(),
        x509_parser::public_key::PublicKey::EC(_)
    ));
    assert!(chain.pem.key.starts_with("-----BEGIN PRIVATE KEY-----"));
}

/// RFC 8410: Ed25519 chains validate with rustls (ring verifies Ed25519 signatures).
#[test]
fn ed25519_chain_validates_against_its_root_rfc8410() {
    let chain = catalogue()
        .chain(CertificateProfile::StartcomChain, KeyType::Ed25519, DOMAIN)
        .unwrap();
    verify(&chain, chain.root.clone(), DOMAIN).unwrap();
    let leaf = parse(&chain.presented[0]);
    assert_eq!(
        leaf.public_key().algorithm.algorithm.to_id_string(),
        "1.3.101.112"
    );
}
