//! Independent verification of the test PKI: every generated chain is written to disk with
//! `Catalogue::write_pem` (or `pki generate`) and checked by `openssl verify` as well as by
//! rustls's `WebPkiServerVerifier` and the harness's own XMPP verifier, and they must agree
//! (docs/ARCHITECTURE.md, "Testing strategy": independent verifiers).
//!
//! openssl is required: if it is missing the tests fail and say so rather than skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::{CertificateError, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use xmpp_interop::pki::{
    Catalogue, CertificateRejection, IssuedChain, ReferenceIdentity, Service, provision,
};
use xmpp_interop::scenario::model::{CertificateProfile, IdentityType, KeyType, Trust};
use xmpp_interop::transport::verify::verify_chain_and_identity;

const DOMAIN: &str = "xmpp.example.test";
const WRONG_DOMAIN: &str = "wrong.example.test";

/// Every profile × key type, as `(profile, key, directory name)`.
const CHAINS: [(CertificateProfile, KeyType, &str); 6] = [
    (
        CertificateProfile::SelfSigned,
        KeyType::EcdsaP256,
        "self-signed-ecdsa-p256",
    ),
    (
        CertificateProfile::SelfSigned,
        KeyType::Rsa2048,
        "self-signed-rsa-2048",
    ),
    (
        CertificateProfile::CacertIntermediate,
        KeyType::EcdsaP256,
        "cacert-intermediate-ecdsa-p256",
    ),
    (
        CertificateProfile::CacertIntermediate,
        KeyType::Rsa2048,
        "cacert-intermediate-rsa-2048",
    ),
    (
        CertificateProfile::StartcomChain,
        KeyType::EcdsaP256,
        "startcom-chain-ecdsa-p256",
    ),
    (
        CertificateProfile::StartcomChain,
        KeyType::Rsa2048,
        "startcom-chain-rsa-2048",
    ),
];

/// A catalogue holding every chain, written out under a fresh directory (removed on drop).
struct Written {
    catalogue: Catalogue,
    chains: Vec<(Arc<IssuedChain>, PathBuf)>,
    dir: PathBuf,
}

impl Drop for Written {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_every_chain(test: &str) -> Written {
    require_openssl();
    let dir = std::env::temp_dir().join(format!(
        "xmpp-interop-pki-openssl-{}-{test}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let catalogue = Catalogue::new();
    let started = Instant::now();
    let chains: Vec<_> = CHAINS
        .iter()
        .map(|&(profile, key_type, name)| {
            let chain = catalogue.chain(profile, key_type, DOMAIN).unwrap();
            (chain, dir.join(DOMAIN).join(name))
        })
        .collect();
    eprintln!(
        "{test}: generated {} chains in {:?}",
        chains.len(),
        started.elapsed()
    );
    catalogue.write_pem(&dir).unwrap();
    Written {
        catalogue,
        chains,
        dir,
    }
}

fn require_openssl() {
    match Command::new("openssl").arg("version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`openssl version` failed ({}): these tests need the openssl CLI as an independent verifier",
            out.status
        ),
        Err(e) => panic!(
            "cannot run `openssl` ({e}): these tests need the openssl CLI as an independent verifier; install it"
        ),
    }
}

/// `openssl verify -CAfile <ca_file> [-untrusted chain.pem] -purpose sslserver -verify_hostname
/// <name> cert.pem`: `Ok` if openssl says OK, otherwise its complaint.
fn openssl_verify(chain_dir: &Path, ca_file: &Path, name: &str) -> Result<(), String> {
    let mut command = Command::new("openssl");
    command.arg("verify").arg("-CAfile").arg(ca_file);
    let untrusted = chain_dir.join("chain.pem");
    // openssl refuses an -untrusted file without certificates (the self-signed profile).
    if std::fs::metadata(&untrusted).unwrap().len() > 0 {
        command.arg("-untrusted").arg(untrusted);
    }
    command
        .args(["-purpose", "sslserver", "-verify_hostname", name])
        .arg(chain_dir.join("cert.pem"));
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() && stdout.trim_end().ends_with(": OK") {
        Ok(())
    } else {
        Err(format!("{} {stdout}{stderr}", out.status))
    }
}

/// rustls's verifier, trusting only `anchor`.
fn rustls_verify(
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

/// RFC 5280 §6.1: leaf (+ presented intermediates) validate up to the chain's root, for the
/// domain, with the serverAuth purpose.
#[test]
fn openssl_and_rustls_accept_every_chain_against_its_own_root_rfc5280_6_1() {
    let written = write_every_chain("accept");
    for (chain, chain_dir) in &written.chains {
        let anchor = written
            .catalogue
            .trust_anchor(chain, Trust::ChainRoot)
            .unwrap();
        let openssl = openssl_verify(chain_dir, &chain_dir.join("root.pem"), DOMAIN);
        let ours = rustls_verify(chain, anchor, DOMAIN);
        assert!(
            openssl.is_ok(),
            "openssl rejects {}: {openssl:?}",
            chain_dir.display()
        );
        assert!(
            ours.is_ok(),
            "rustls rejects {}: {ours:?}",
            chain_dir.display()
        );
    }
}

/// RFC 5280 §6.1: nothing in the catalogue chains up to the unrelated root.
#[test]
fn openssl_and_rustls_reject_every_chain_against_the_unrelated_root_rfc5280_6_1() {
    let written = write_every_chain("unrelated");
    let unrelated = written.dir.join("unrelated-root.pem");
    for (chain, chain_dir) in &written.chains {
        let anchor = written
            .catalogue
            .trust_anchor(chain, Trust::UnrelatedRoot)
            .unwrap();
        let openssl = openssl_verify(chain_dir, &unrelated, DOMAIN);
        let ours = rustls_verify(chain, anchor, DOMAIN);
        let message = openssl.expect_err("openssl accepts a chain under the unrelated root");
        // Error 20 for a chain whose issuer is unknown, error 18 for an untrusted self-signed
        // leaf ("self signed" before OpenSSL 3).
        assert!(
            message.contains("unable to get local issuer certificate")
                || message.contains("self-signed certificate")
                || message.contains("self signed certificate"),
            "openssl rejects {} for another reason: {message}",
            chain_dir.display()
        );
        assert_eq!(
            ours,
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            )),
            "rustls on {}",
            chain_dir.display()
        );
    }
}

/// RFC 6125 §6.4: a DNS-ID that does not match the reference identity is not accepted.
#[test]
fn openssl_and_rustls_reject_every_chain_for_another_domain_rfc6125_6_4() {
    let written = write_every_chain("hostname");
    for (chain, chain_dir) in &written.chains {
        let openssl = openssl_verify(chain_dir, &chain_dir.join("root.pem"), WRONG_DOMAIN);
        let ours = rustls_verify(chain, chain.root.clone(), WRONG_DOMAIN);
        let message = openssl.expect_err("openssl accepts a chain for another domain");
        assert!(
            message.contains("hostname mismatch"),
            "openssl rejects {} for another reason: {message}",
            chain_dir.display()
        );
        assert!(
            matches!(
                ours,
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "rustls on {}: {ours:?}",
            chain_dir.display()
        );
    }
}

/// `openssl verify -auth_level 2 -CAfile <ca> [-untrusted chain.pem] -purpose <purpose>
/// [-verify_hostname <name>] cert.pem`. `-auth_level 2` asks for at least 112-bit security
/// (RSA 2048), the floor RFC 7525 §4.3 (via RFC 7590 §3.4) sets.
fn openssl_verify_with(
    chain_dir: &Path,
    ca_file: &Path,
    purpose: &str,
    hostname: Option<&str>,
) -> Result<(), String> {
    let mut command = Command::new("openssl");
    command
        .arg("verify")
        .args(["-auth_level", "2"])
        .arg("-CAfile")
        .arg(ca_file);
    let untrusted = chain_dir.join("chain.pem");
    if std::fs::metadata(&untrusted).unwrap().len() > 0 {
        command.arg("-untrusted").arg(untrusted);
    }
    command.args(["-purpose", purpose]);
    if let Some(name) = hostname {
        command.args(["-verify_hostname", name]);
    }
    command.arg(chain_dir.join("cert.pem"));
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() && stdout.trim_end().ends_with(": OK") {
        Ok(())
    } else {
        Err(format!("{} {stdout}{stderr}", out.status))
    }
}

/// The harness's own verifier (webpki chain, key strength, XMPP identity) on a chain.
fn our_verify(
    presented: &[CertificateDer<'static>],
    anchor: CertificateDer<'static>,
    accepted: &[IdentityType],
) -> Result<(), CertificateRejection> {
    let mut roots = RootCertStore::empty();
    roots.add(anchor).unwrap();
    let reference = ReferenceIdentity {
        domain: DOMAIN.to_owned(),
        service: Service::Client,
        accepted: accepted.to_vec(),
    };
    verify_chain_and_identity(
        &presented[0],
        &presented[1..],
        &roots,
        &reference,
        &rustls::crypto::ring::default_provider(),
        UnixTime::now(),
    )
    .map_err(|e| match e {
        rustls::Error::InvalidCertificate(reason) => CertificateRejection::from_rustls(&reason),
        other => panic!("not a certificate error: {other:?}"),
    })
}

/// How far openssl can judge a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpensslJudges {
    /// Chain and hostname (`-verify_hostname`): openssl's DNS-ID rules are RFC 6125's.
    ChainAndName,
    /// Only the chain: the identity is XMPP-specific (SRV-ID, XmppAddr) or relies on CN
    /// fallback, which openssl applies and RFC 6125 §6.4.4 leaves to the verifier.
    ChainOnly,
}

/// Every server profile, whether a conforming c2s client accepts it for `DOMAIN` with the
/// default identity types, and how far openssl can judge it; with the clause each proves.
const SERVER_PROFILES: [(CertificateProfile, bool, OpensslJudges, &str); 18] = [
    (
        CertificateProfile::SelfSigned,
        true,
        OpensslJudges::ChainAndName,
        "RFC 5280 §6.1",
    ),
    (
        CertificateProfile::CacertIntermediate,
        true,
        OpensslJudges::ChainAndName,
        "RFC 5280 §6.1",
    ),
    (
        CertificateProfile::StartcomChain,
        true,
        OpensslJudges::ChainAndName,
        "RFC 5280 §6.1",
    ),
    (
        CertificateProfile::Wildcard,
        false,
        OpensslJudges::ChainAndName,
        "RFC 6125 §6.4.3",
    ),
    (
        CertificateProfile::SrvId,
        true,
        OpensslJudges::ChainOnly,
        "RFC 6120 §13.7.1.2.1",
    ),
    (
        CertificateProfile::SrvIdServerOnly,
        false,
        OpensslJudges::ChainOnly,
        "RFC 6120 §13.7.1.2.1",
    ),
    (
        CertificateProfile::SrvIdClientOnly,
        true,
        OpensslJudges::ChainOnly,
        "RFC 6120 §13.7.1.2.1",
    ),
    (
        CertificateProfile::Xmppaddr,
        true,
        OpensslJudges::ChainOnly,
        "RFC 6120 §13.7.1.4",
    ),
    (
        CertificateProfile::CnOnly,
        false,
        OpensslJudges::ChainOnly,
        "RFC 6125 §6.4.4",
    ),
    (
        CertificateProfile::Expired,
        false,
        OpensslJudges::ChainAndName,
        "RFC 5280 §4.1.2.5",
    ),
    (
        CertificateProfile::NotYetValid,
        false,
        OpensslJudges::ChainAndName,
        "RFC 5280 §4.1.2.5",
    ),
    (
        CertificateProfile::WrongDomain,
        false,
        OpensslJudges::ChainAndName,
        "RFC 6125 §6.4",
    ),
    (
        CertificateProfile::MissingIntermediate,
        false,
        OpensslJudges::ChainAndName,
        "RFC 5280 §6.1",
    ),
    (
        CertificateProfile::UntrustedRoot,
        false,
        OpensslJudges::ChainAndName,
        "RFC 5280 §6.1",
    ),
    (
        CertificateProfile::IntermediateNotCa,
        false,
        OpensslJudges::ChainAndName,
        "RFC 5280 §4.2.1.9",
    ),
    (
        CertificateProfile::PathlenExceeded,
        false,
        OpensslJudges::ChainAndName,
        "RFC 5280 §4.2.1.9",
    ),
    (
        CertificateProfile::WrongEku,
        false,
        OpensslJudges::ChainAndName,
        "RFC 5280 §4.2.1.12",
    ),
    (
        CertificateProfile::WeakRsa1024,
        false,
        OpensslJudges::ChainAndName,
        "RFC 7525 §4.3",
    ),
];

/// Generates every server profile with `key_type` under `dir` and requires openssl and our
/// verifier to agree on each (see the test below for what "agree" means per profile).
fn agree_on_every_server_profile(dir: &Path, key_type: KeyType) {
    let profiles: Vec<CertificateProfile> = SERVER_PROFILES.iter().map(|p| p.0).collect();
    let started = Instant::now();
    let manifest = provision::generate(DOMAIN, dir, &profiles, key_type).unwrap();
    eprintln!(
        "generated {} profiles in {:?}",
        manifest.profiles.len(),
        started.elapsed()
    );
    // Both judge the files `pki generate` wrote: exactly the same bytes.
    for (profile, conforming, judges, clause) in SERVER_PROFILES {
        let chain_dir = dir.join(profile.to_string());
        let presented = read_certificates(&chain_dir.join("fullchain.pem"));
        let anchor = read_certificates(&chain_dir.join("root.pem")).remove(0);
        let ours = our_verify(&presented, anchor, &IdentityType::DEFAULT);
        assert_eq!(
            ours.is_ok(),
            conforming,
            "{profile} {key_type} ({clause}): our verifier says {ours:?}"
        );
        match judges {
            OpensslJudges::ChainAndName => {
                let openssl = openssl_verify_with(
                    &chain_dir,
                    &chain_dir.join("root.pem"),
                    "sslserver",
                    Some(DOMAIN),
                );
                assert_eq!(
                    openssl.is_ok(),
                    ours.is_ok(),
                    "{profile} {key_type} ({clause}): openssl {openssl:?}, ours {ours:?}"
                );
            }
            OpensslJudges::ChainOnly => {
                let openssl =
                    openssl_verify_with(&chain_dir, &chain_dir.join("root.pem"), "sslserver", None);
                let our_chain_ok = matches!(
                    ours,
                    Ok(()) | Err(CertificateRejection::NameMismatch { .. })
                );
                assert!(
                    openssl.is_ok() && our_chain_ok,
                    "{profile} {key_type} ({clause}): chain alone: openssl {openssl:?}, ours {ours:?}"
                );
            }
        }
    }
}

/// RFC 6120 §13.7.2.1 with RFC 5280 §6.1 and RFC 6125 §6: for every server profile, openssl
/// and the harness's verifier agree on accept/reject. Where openssl cannot judge the
/// XMPP-specific identity, both judge the chain alone (ours: accepted, or refused only for the
/// name), and the identity verdict is checked against the conforming one.
#[test]
fn openssl_and_our_verifier_agree_on_every_server_profile_rfc6120_13_7_2_1() {
    require_openssl();
    let dir = std::env::temp_dir().join(format!(
        "xmpp-interop-pki-openssl-{}-profiles",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    agree_on_every_server_profile(&dir, KeyType::EcdsaP256);
    // RFC 6125 §6.4.3: the wildcard issued for the parent domain covers DOMAIN, for both.
    let parent = DOMAIN.split_once('.').unwrap().1;
    let wildcard_dir = dir.join("parent");
    provision::generate(
        parent,
        &wildcard_dir,
        &[CertificateProfile::Wildcard],
        KeyType::EcdsaP256,
    )
    .unwrap();
    let wildcard_dir = wildcard_dir.join("wildcard");
    assert_eq!(
        our_verify(
            &read_certificates(&wildcard_dir.join("fullchain.pem")),
            read_certificates(&wildcard_dir.join("root.pem")).remove(0),
            &IdentityType::DEFAULT
        ),
        Ok(())
    );
    assert_eq!(
        openssl_verify_with(
            &wildcard_dir,
            &wildcard_dir.join("root.pem"),
            "sslserver",
            Some(DOMAIN)
        ),
        Ok(())
    );
    // RFC 6125 §6.4.4: with CN fallback allowed, both accept the CN-only certificate by name.
    let cn_dir = dir.join("cn-only");
    let cn_presented = read_certificates(&cn_dir.join("fullchain.pem"));
    let cn_anchor = read_certificates(&cn_dir.join("root.pem")).remove(0);
    assert_eq!(
        our_verify(
            &cn_presented,
            cn_anchor,
            &[IdentityType::DnsId, IdentityType::Cn]
        ),
        Ok(())
    );
    assert_eq!(
        openssl_verify_with(&cn_dir, &cn_dir.join("root.pem"), "sslserver", Some(DOMAIN)),
        Ok(())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// RFC 6120 §13.7.2.1, RFC 8410: the same agreement with RSA-2048 and Ed25519 chains (the
/// 1024-bit RSA leaf stays 1024-bit whatever the chain's key type).
#[test]
fn openssl_and_our_verifier_agree_with_rsa_and_ed25519_keys_rfc6120_13_7_2_1() {
    require_openssl();
    for key_type in [KeyType::Rsa2048, KeyType::Ed25519] {
        let dir = std::env::temp_dir().join(format!(
            "xmpp-interop-pki-openssl-{}-profiles-{key_type}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        agree_on_every_server_profile(&dir, key_type);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// XEP-0178 client certificates, chain and purpose only (the JID is an XMPP matter that
/// openssl cannot judge): openssl accepts alice's and the wrong-JID certificate for
/// `-purpose sslclient` and refuses them for `sslserver` (RFC 5280 §4.2.1.12); it refuses the
/// expired and the untrusted one (RFC 5280 §6.1).
#[test]
fn openssl_judges_client_certificates_by_chain_and_purpose_rfc5280_4_2_1_12() {
    require_openssl();
    let dir = std::env::temp_dir().join(format!(
        "xmpp-interop-pki-openssl-{}-clients",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let clients = [
        (CertificateProfile::ClientAlice, true),
        (CertificateProfile::ClientWrongJid, true),
        (CertificateProfile::ClientExpired, false),
        (CertificateProfile::ClientUntrusted, false),
    ];
    let profiles: Vec<CertificateProfile> = clients.iter().map(|c| c.0).collect();
    provision::generate(DOMAIN, &dir, &profiles, KeyType::EcdsaP256).unwrap();
    for (profile, chain_ok) in clients {
        let chain_dir = dir.join(profile.to_string());
        let root = chain_dir.join("root.pem");
        let as_client = openssl_verify_with(&chain_dir, &root, "sslclient", None);
        assert_eq!(as_client.is_ok(), chain_ok, "{profile}: {as_client:?}");
        let as_server = openssl_verify_with(&chain_dir, &root, "sslserver", None);
        assert!(
            as_server.is_err(),
            "{profile} accepted as a server certificate"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn read_certificates(path: &Path) -> Vec<CertificateDer<'static>> {
    let pem = std::fs::read(path).unwrap();
    x509_parser::pem::Pem::iter_from_buffer(&pem)
        .map(|block| CertificateDer::from(block.unwrap().contents))
        .collect()
}

/// Participants load the written keys into servers built on OpenSSL 3.0, which refuses Ed25519
/// keys in PKCS#8 v2 form: every written key, Ed25519 included, must be readable by `openssl
/// pkey` (RFC 8410 §7).
#[test]
fn openssl_reads_every_written_private_key_ed25519_included_rfc8410_7() {
    require_openssl();
    let dir = std::env::temp_dir().join(format!(
        "xmpp-interop-pki-openssl-{}-keys",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let catalogue = Catalogue::new();
    for key_type in [KeyType::EcdsaP256, KeyType::Ed25519] {
        catalogue
            .chain(CertificateProfile::StartcomChain, key_type, DOMAIN)
            .unwrap();
    }
    catalogue.write_pem(&dir).unwrap();
    for name in ["startcom-chain-ecdsa-p256", "startcom-chain-ed25519"] {
        let key = dir.join(DOMAIN).join(name).join("key.pem");
        let out = Command::new("openssl")
            .args(["pkey", "-noout", "-in"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl cannot read {}: {}",
            key.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
