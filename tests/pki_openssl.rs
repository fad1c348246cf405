//! Independent verification of the test PKI: every generated chain is written to disk with
//! `Catalogue::write_pem` and checked by `openssl verify` as well as by rustls's
//! `WebPkiServerVerifier`, and the two must agree (DESIGN.md: "Every generated certificate chain
//! is checked in tests by an independent verifier (openssl) as well as by our own code").
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
use xmpp_interop::pki::{Catalogue, IssuedChain};
use xmpp_interop::scenario::model::{CertificateProfile, KeyType, Trust};

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
