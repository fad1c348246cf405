//! External targets: servers somebody else runs (at an interop event, or a project's own CI
//! deployment). The harness only connects, with the account and trust anchor it was given.
//!
//! The chain such a server presents is either a profile of the test PKI the targets file
//! declares (`certificate: { profile, key }`), the server's own (`certificate: own`), or not
//! said. Before its first case the harness looks at it once ([`ExternalSpec::served`]): a TLS
//! handshake that records the presented chain, so that the pre-flight can check a declared
//! profile against it, cases of a given key type run on an own chain of that type, and with
//! `root: system` the one system root that issued it becomes the trust anchor.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{ServerName, UnixTime};
use rustls_pki_types::CertificateDer;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::sync::OnceCell;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::{
    BoxFuture, CaseContext, CaseEnd, Endpoint, Provision, ServerLease, ServerTarget,
    client_certificates_untrusted,
};
use crate::drive::Transcript;
use crate::error::{HarnessError, NotApplicable};
use crate::pki::{CertificateRejection, ReferenceIdentity, Service};
use crate::proto::{Direction, SessionEnd};
use crate::scenario::{CaseSpec, CertificateProfile, IdentityType, KeyType, Transport};
use crate::transport::verify::{RecordingVerifier, verify_chain_and_identity};
use crate::transport::xmpp_stream::XmppStream;

/// Time the look at the served chain gets for each network step.
const PROBE_STEP: Duration = Duration::from_secs(10);

/// What the targets file says about the chain the server presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeclaredChain {
    /// Nothing: every case runs, whatever chain it names.
    Undeclared,
    /// A profile of the test PKI (`xmpp-interop pki generate`) and its key type; the pre-flight
    /// checks it against the chain the server presents.
    Profile(CertificateProfile, KeyType),
    /// The server's own chain (`certificate: own`), from any CA.
    Own,
}

/// Which root the harness trusts for the chain the server presents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustedRoot {
    /// `root: PATH`: this root.
    File(CertificateDer<'static>),
    /// `root: system`: the system's roots, of which the one that issued the chain is used.
    System(Arc<Vec<CertificateDer<'static>>>),
}

/// What one TLS handshake showed of the chain the server presents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedChain {
    /// The leaf's key type, if it is one the harness names.
    pub key: Option<KeyType>,
    /// The leaf's key as the transcript and messages name it (`RSA 3072`, `ECDSA P-384`).
    pub key_description: String,
    /// Whether the leaf is self-issued (its own root).
    pub self_signed: bool,
    /// How many CA certificates the server sends after the leaf.
    pub intermediates: usize,
    /// The trust anchor for the chain: the `root` of the targets file, or the system root that
    /// issued the chain.
    pub anchor: Option<CertificateDer<'static>>,
    /// The chain as presented, leaf first.
    pub presented: Vec<CertificateDer<'static>>,
}

impl ServedChain {
    /// The good profile of the test PKI an own chain stands for in case ids: `self-signed` for
    /// a self-issued leaf, otherwise the default issued chain.
    pub fn stands_for(&self) -> CertificateProfile {
        if self.self_signed {
            CertificateProfile::SelfSigned
        } else {
            CertificateProfile::DEFAULT_CHAIN
        }
    }

    /// What is wrong with declaring `profile` and `key` for this chain, if anything: the leaf's
    /// key type, and the shape (a self-signed leaf, or a leaf sent with its intermediate).
    pub fn mismatch(&self, profile: CertificateProfile, key: KeyType) -> Option<String> {
        let mut wrong = Vec::new();
        if self.key != Some(key) {
            wrong.push(format!(
                "its leaf key is {}, not {key}: set `certificate.key` to the leaf's key type",
                self.key_description
            ));
        }
        let shape_fits = match profile {
            CertificateProfile::SelfSigned => self.self_signed,
            CertificateProfile::CacertIntermediate | CertificateProfile::StartcomChain => {
                !self.self_signed && self.intermediates > 0
            }
            _ => true,
        };
        if !shape_fits {
            wrong.push(format!(
                "it is {}, not the {profile} shape ({})",
                self.shape(),
                profile_shape(profile)
            ));
        }
        (!wrong.is_empty()).then(|| {
            format!(
                "the targets file declares `certificate: {{ profile: {profile}, key: {key} }}` but \
                 the chain the server presents does not match: {}; or install the chain \
                 `xmpp-interop pki generate --profile {profile} --key {key}` wrote, or say \
                 `certificate: own`",
                wrong.join("; ")
            )
        })
    }

    /// Why the harness's verifier refuses the chain for `domain` against the anchor (as every
    /// case's handshake would), if it does: RFC 6120 §13.7.2.1 path validation and identity.
    pub fn verification_problem(&self, domain: &str) -> Option<String> {
        let anchor = self.anchor.as_ref()?;
        let (leaf, intermediates) = self.presented.split_first()?;
        let mut roots = rustls::RootCertStore::empty();
        if let Err(e) = roots.add(anchor.clone()) {
            return Some(format!("the root is no usable trust anchor: {e}"));
        }
        let reference = ReferenceIdentity {
            domain: domain.to_owned(),
            service: Service::Client,
            accepted: IdentityType::DEFAULT.to_vec(),
        };
        let verdict = verify_chain_and_identity(
            leaf,
            intermediates,
            &roots,
            &reference,
            &crate::transport::tls::provider(),
            UnixTime::now(),
        );
        verdict.err().map(|error| match error {
            rustls::Error::InvalidCertificate(reason) => {
                CertificateRejection::from_rustls(&reason).to_string()
            }
            other => other.to_string(),
        })
    }

    /// The chain's shape and key, for messages and transcripts.
    pub fn describe(&self) -> String {
        format!("{}, {} key", self.shape(), self.key_description)
    }

    fn shape(&self) -> String {
        match (self.self_signed, self.intermediates) {
            (true, _) => "a self-signed leaf".to_owned(),
            (false, 0) => "a leaf issued by a root, sent alone".to_owned(),
            (false, 1) => "a leaf sent with 1 CA certificate".to_owned(),
            (false, n) => format!("a leaf sent with {n} CA certificates"),
        }
    }
}

/// The shape of a good profile's chain, for messages.
fn profile_shape(profile: CertificateProfile) -> &'static str {
    if profile == CertificateProfile::SelfSigned {
        "a self-signed leaf"
    } else {
        "a leaf sent with its intermediate"
    }
}

/// An external server as the targets file describes it.
#[derive(Clone, Debug)]
pub struct ExternalSpec {
    /// Host name or IP address.
    pub host: String,
    /// The c2s port with STARTTLS (also used for `plaintext` cases).
    pub starttls_port: u16,
    /// The XEP-0368 direct-TLS c2s port, if it has one.
    pub direct_tls_port: Option<u16>,
    /// The XMPP domain.
    pub domain: String,
    /// The account's local part.
    pub username: String,
    /// The account's password.
    pub password: String,
    /// The root that issued the server's chain.
    pub root: TrustedRoot,
    /// What the targets file says about the server's chain.
    pub certificate: DeclaredChain,
    /// What a TLS handshake showed of the served chain, once one was made (shared by the
    /// pre-flight and the cases).
    pub served: Arc<OnceCell<Result<ServedChain, String>>>,
}

impl ExternalSpec {
    /// Whether cases need to know the served chain before they run (for an own chain's key
    /// type, or the system root that issued it).
    pub fn needs_served_chain(&self) -> bool {
        self.certificate == DeclaredChain::Own || matches!(self.root, TrustedRoot::System(_))
    }

    /// The served chain, looked at with one TLS handshake the first time it is asked for.
    pub async fn served(&self) -> &Result<ServedChain, String> {
        self.served
            .get_or_init(|| async { self.look_at_served_chain().await })
            .await
    }

    /// Why `case` cannot run here, if it cannot: its transport has no port, or it names a chain
    /// or key type other than the one the server presents. A case with `certificate: any` runs
    /// on whatever the server presents, and an own chain stands for `self-signed` or the default
    /// issued chain ([`ServedChain::stands_for`]).
    pub fn inapplicable(&self, case: &CaseSpec) -> Option<String> {
        if case.transport == Transport::DirectTls && self.direct_tls_port.is_none() {
            return Some("the server has no direct-TLS port".to_owned());
        }
        match self.certificate {
            DeclaredChain::Undeclared => None,
            DeclaredChain::Profile(own_profile, own_key) => {
                let other_profile = case.certificate_pinned && case.certificate != own_profile;
                let other_key = case.key_pinned && case.key != own_key;
                (other_profile || other_key).then(|| {
                    format!(
                        "the server presents its {own_profile} {own_key} chain, the case needs {}",
                        needed(case)
                    )
                })
            }
            DeclaredChain::Own => {
                let served = match self.served.get() {
                    Some(Ok(served)) => served,
                    Some(Err(problem)) => {
                        return Some(format!("the server's own chain is not known: {problem}"));
                    }
                    None => return Some("the server's own chain was not looked at".to_owned()),
                };
                if case.certificate_pinned && case.certificate != served.stands_for() {
                    let kind = if case.certificate.is_good_chain() {
                        ""
                    } else {
                        "faulty "
                    };
                    return Some(format!(
                        "the case needs the harness's {kind}{} chain; the server presents its own \
                         ({}, standing for {})",
                        case.certificate,
                        served.describe(),
                        served.stands_for()
                    ));
                }
                if case.key_pinned && served.key != Some(case.key) {
                    return Some(format!(
                        "the case needs a leaf key of type {}; the server's own chain has {}",
                        case.key, served.key_description
                    ));
                }
                None
            }
        }
    }

    /// Resolves the address for `transport` and describes how to reach the server.
    pub async fn endpoint(&self, transport: Transport) -> Result<Endpoint, HarnessError> {
        let port = match transport {
            Transport::DirectTls => self
                .direct_tls_port
                .ok_or_else(|| HarnessError::environment("the server has no direct-TLS port"))?,
            Transport::Starttls | Transport::Plaintext => self.starttls_port,
        };
        let address = self.address(port).await?;
        let chain_root = match &self.root {
            TrustedRoot::File(root) => root.clone(),
            TrustedRoot::System(_) => match self.served().await {
                Ok(ServedChain {
                    anchor: Some(anchor),
                    ..
                }) => anchor.clone(),
                Ok(_) => {
                    return Err(HarnessError::environment(
                        "no system root issued the chain the server presents",
                    ));
                }
                Err(problem) => return Err(HarnessError::environment(problem.clone())),
            },
        };
        Ok(Endpoint {
            address,
            domain: self.domain.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            chain_root,
        })
    }

    async fn address(&self, port: u16) -> Result<SocketAddr, HarnessError> {
        tokio::net::lookup_host((self.host.as_str(), port))
            .await
            .map_err(|e| HarnessError::io(format!("cannot resolve {}", self.host), e))?
            .next()
            .ok_or_else(|| HarnessError::environment(format!("{} has no address", self.host)))
    }

    /// One TLS handshake (direct TLS if there is a port for it, else STARTTLS) that records the
    /// chain the server presents and judges nothing: the cases do.
    async fn look_at_served_chain(&self) -> Result<ServedChain, String> {
        let (port, starttls) = match self.direct_tls_port {
            Some(port) => (port, false),
            None => (self.starttls_port, true),
        };
        let address = self.address(port).await.map_err(|e| e.to_string())?;
        let step = |what: &str| format!("{what} at {address} took longer than {PROBE_STEP:?}");
        let mut tcp = tokio::time::timeout(PROBE_STEP, TcpStream::connect(address))
            .await
            .map_err(|_| step("connecting"))?
            .map_err(|e| format!("cannot connect to {address}: {e}"))?;
        if starttls {
            // Each read of the stream waits at most PROBE_STEP.
            let mut stream = XmppStream::new(tcp, PROBE_STEP);
            stream
                .open(&self.domain, Service::Client)
                .await
                .map_err(|e| format!("the stream at {address} before STARTTLS: {e}"))?;
            if !stream
                .starttls()
                .await
                .map_err(|e| format!("STARTTLS at {address}: {e}"))?
            {
                return Err(format!("the server at {address} refused STARTTLS"));
            }
            tcp = stream.into_inner();
        }
        let recorder = Arc::new(RecordingVerifier::new(crate::transport::tls::provider()));
        let config = rustls::ClientConfig::builder_with_provider(crate::transport::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up failed: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_no_client_auth();
        let name = ServerName::try_from(self.domain.clone())
            .map_err(|e| format!("bad domain `{}`: {e}", self.domain))?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let mut stream = tokio::time::timeout(PROBE_STEP, connector.connect(name, tcp))
            .await
            .map_err(|_| step("the TLS handshake"))?
            .map_err(|e| format!("the TLS handshake with {address} failed: {e}"))?;
        let chain = recorder.presented();
        // The chain is all the harness wanted; the server may take the close as it likes.
        let _ = tokio::time::timeout(PROBE_STEP, stream.shutdown()).await;
        describe_served(&chain, &self.root)
    }
}

/// The key type, shape and trust anchor of a presented chain (leaf first).
pub fn describe_served(
    chain: &[CertificateDer<'static>],
    root: &TrustedRoot,
) -> Result<ServedChain, String> {
    let Some((leaf_der, rest)) = chain.split_first() else {
        return Err("the server presents no certificate".to_owned());
    };
    let leaf = parse(leaf_der)?;
    let self_signed = leaf.subject().as_raw() == leaf.issuer().as_raw();
    let mut certificates = Vec::new();
    for der in rest {
        certificates.push(parse(der)?);
    }
    let intermediates = certificates
        .iter()
        .filter(|c| c.subject().as_raw() != c.issuer().as_raw())
        .count();
    let (key, key_description) = key_type(&leaf);
    let anchor = match root {
        TrustedRoot::File(root) => Some(root.clone()),
        TrustedRoot::System(roots) => {
            let top = certificates.last().unwrap_or(&leaf);
            let issuer = top.issuer().as_raw();
            roots
                .iter()
                .find(|candidate| parse(candidate).is_ok_and(|c| c.subject().as_raw() == issuer))
                .cloned()
        }
    };
    Ok(ServedChain {
        key,
        key_description,
        self_signed,
        intermediates,
        anchor,
        presented: chain.to_vec(),
    })
}

/// A certificate the server presents, parsed.
fn parse<'a>(der: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, String> {
    X509Certificate::from_der(der.as_ref())
        .map(|(_, cert)| cert)
        .map_err(|e| format!("the server presents a certificate that does not parse: {e}"))
}

/// The harness's name for a leaf's key type, if it has one, and a description either way.
fn key_type(leaf: &X509Certificate<'_>) -> (Option<KeyType>, String) {
    const P256: &str = "1.2.840.10045.3.1.7";
    const ED25519: &str = "1.3.101.112";
    let spki = leaf.public_key();
    if spki.algorithm.algorithm.to_id_string() == ED25519 {
        return (Some(KeyType::Ed25519), "Ed25519".to_owned());
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = rsa.key_size();
            let key = match bits {
                2048 => Some(KeyType::Rsa2048),
                4096 => Some(KeyType::Rsa4096),
                _ => None,
            };
            (key, format!("RSA {bits}"))
        }
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string())
                .unwrap_or_default();
            if curve == P256 {
                (Some(KeyType::EcdsaP256), "ECDSA P-256".to_owned())
            } else {
                (None, format!("ECDSA on curve {curve}"))
            }
        }
        _ => (
            None,
            format!("a {} key", spki.algorithm.algorithm.to_id_string()),
        ),
    }
}

/// What a case needs of the chain, for skip reasons.
fn needed(case: &CaseSpec) -> String {
    match (case.certificate_pinned, case.key_pinned) {
        (true, true) => format!("{} {}", case.certificate, case.key),
        (true, false) => format!("{}", case.certificate),
        (false, true) => format!("a leaf key of type {}", case.key),
        (false, false) => "any chain".to_owned(),
    }
}

impl ServerTarget for ExternalSpec {
    fn provision<'a>(
        &'a self,
        name: &'a str,
        case: &'a CaseSpec,
        context: CaseContext<'a>,
    ) -> BoxFuture<'a, Result<Provision, HarnessError>> {
        Box::pin(async move {
            if case.sasl.client_certificate.is_some() {
                return Ok(Provision::Ended(CaseEnd::NotApplicable(
                    client_certificates_untrusted(name),
                )));
            }
            // Normally the pre-flight has looked already; with `--no-preflight` the first case
            // does, and a server the harness cannot look at is the harness's problem, not a
            // reason to skip.
            if self.needs_served_chain()
                && let Err(problem) = self.served().await
            {
                return Err(HarnessError::environment(format!(
                    "cannot look at the chain the server presents: {problem}"
                )));
            }
            if let Some(reason) = self.inapplicable(case) {
                return Ok(Provision::Ended(CaseEnd::NotApplicable(NotApplicable(
                    reason,
                ))));
            }
            let endpoint = self.endpoint(case.transport).await?;
            context.transcript.record(
                Direction::Note,
                format!(
                    "{name} is external at {} ({})",
                    endpoint.address, endpoint.domain
                ),
            );
            if self.certificate == DeclaredChain::Own
                && let Some(Ok(served)) = self.served.get()
            {
                context.transcript.record(
                    Direction::Note,
                    format!(
                        "{name} presents its own chain ({}), standing for {}",
                        served.describe(),
                        served.stands_for()
                    ),
                );
            }
            Ok(Provision::Ready {
                endpoint,
                lease: Box::new(RunElsewhere),
            })
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An external server's lease: somebody else runs it, so there is nothing to stop.
struct RunElsewhere;

impl ServerLease for RunElsewhere {
    fn stop<'a>(
        self: Box<Self>,
        _ended: &'a Result<SessionEnd, HarnessError>,
        _transcript: &'a Transcript,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::Catalogue;
    use crate::scenario::test_support::from_yaml;

    /// The first case of a c2s scenario with these `certificate` and `key` lines.
    fn case(settings: &str) -> CaseSpec {
        let yaml = format!(
            "id: t\ntitle: T\nspec: [RFC 6120 §6.4]\nrole: client\ntransport: starttls\n\
             {settings}\nsasl:\n  mechanism: PLAIN\nexpect: authenticated\n\
             requirement:\n  level: MUST\n  clause: RFC 6120 §6.4\n  text: \"the text\"\n"
        );
        from_yaml(&yaml, "t.yaml").cases.remove(0)
    }

    fn external(certificate: DeclaredChain, served: Option<ServedChain>) -> ExternalSpec {
        let spec = ExternalSpec {
            host: "127.0.0.1".to_owned(),
            starttls_port: 5222,
            direct_tls_port: None,
            domain: "example.test".to_owned(),
            username: "alice".to_owned(),
            password: "secret".to_owned(),
            root: TrustedRoot::System(Arc::default()),
            certificate,
            served: Arc::default(),
        };
        if let Some(served) = served {
            spec.served.set(Ok(served)).expect("not yet set");
        }
        spec
    }

    fn served(key: KeyType, self_signed: bool, intermediates: usize) -> ServedChain {
        ServedChain {
            key: Some(key),
            key_description: key.to_string(),
            self_signed,
            intermediates,
            anchor: None,
            presented: Vec::new(),
        }
    }

    #[test]
    fn certificate_any_runs_on_every_declared_or_own_chain_and_defaults_to_the_default_chain() {
        let any = case("certificate: any");
        assert!(!any.certificate_pinned && !any.key_pinned);
        assert_eq!(any.certificate, CertificateProfile::DEFAULT_CHAIN);
        let declared = external(
            DeclaredChain::Profile(CertificateProfile::CacertIntermediate, KeyType::Rsa2048),
            None,
        );
        assert_eq!(declared.inapplicable(&any), None);
        let own = external(DeclaredChain::Own, Some(served(KeyType::Rsa4096, false, 1)));
        assert_eq!(own.inapplicable(&any), None);
    }

    #[test]
    fn a_key_pinned_case_runs_only_where_the_leaf_key_matches() {
        let rsa = case("certificate: any\nkey: rsa-2048");
        assert!(rsa.key_pinned && !rsa.certificate_pinned);
        let own_rsa = external(DeclaredChain::Own, Some(served(KeyType::Rsa2048, false, 0)));
        assert_eq!(own_rsa.inapplicable(&rsa), None);
        let own_ecdsa = external(
            DeclaredChain::Own,
            Some(served(KeyType::EcdsaP256, false, 1)),
        );
        let reason = own_ecdsa.inapplicable(&rsa).unwrap_or_default();
        assert!(
            reason.contains("needs a leaf key of type rsa-2048"),
            "{reason}"
        );
        let declared = external(
            DeclaredChain::Profile(CertificateProfile::StartcomChain, KeyType::EcdsaP256),
            None,
        );
        assert!(declared.inapplicable(&rsa).is_some());
    }

    #[test]
    fn a_faulty_profile_case_is_skipped_on_an_own_chain_with_that_reason() {
        let expired = case("certificate: expired");
        let own = external(
            DeclaredChain::Own,
            Some(served(KeyType::EcdsaP256, false, 1)),
        );
        let reason = own.inapplicable(&expired).unwrap_or_default();
        assert!(
            reason.contains("needs the harness's faulty expired chain"),
            "{reason}"
        );
    }

    #[test]
    fn an_own_chain_stands_for_self_signed_or_the_default_issued_chain() {
        let issued = external(
            DeclaredChain::Own,
            Some(served(KeyType::EcdsaP256, false, 1)),
        );
        assert_eq!(
            issued.inapplicable(&case("certificate: startcom-chain")),
            None
        );
        assert!(
            issued
                .inapplicable(&case("certificate: self-signed"))
                .is_some()
        );
        let self_signed = external(
            DeclaredChain::Own,
            Some(served(KeyType::EcdsaP256, true, 0)),
        );
        assert_eq!(
            self_signed.inapplicable(&case("certificate: self-signed")),
            None
        );
    }

    #[test]
    fn an_own_chain_that_could_not_be_looked_at_runs_no_case() {
        let own = external(DeclaredChain::Own, None);
        assert!(own.inapplicable(&case("certificate: any")).is_some());
    }

    #[test]
    fn a_declared_profile_must_match_the_served_key_and_shape() {
        let startcom = served(KeyType::EcdsaP256, false, 1);
        assert_eq!(
            startcom.mismatch(CertificateProfile::StartcomChain, KeyType::EcdsaP256),
            None
        );
        let wrong_key = startcom
            .mismatch(CertificateProfile::StartcomChain, KeyType::Rsa2048)
            .unwrap_or_default();
        assert!(
            wrong_key.contains("its leaf key is ecdsa-p256, not rsa-2048"),
            "{wrong_key}"
        );
        let wrong_shape = startcom
            .mismatch(CertificateProfile::SelfSigned, KeyType::EcdsaP256)
            .unwrap_or_default();
        assert!(
            wrong_shape.contains("not the self-signed shape"),
            "{wrong_shape}"
        );
    }

    #[test]
    fn the_served_chain_of_a_test_pki_profile_is_described_by_key_shape_and_system_root() {
        let catalogue = Catalogue::new();
        let chain = catalogue
            .chain(
                CertificateProfile::StartcomChain,
                KeyType::Rsa2048,
                "example.test",
            )
            .expect("chain");
        let system = TrustedRoot::System(Arc::new(vec![chain.root.clone()]));
        let served = describe_served(&chain.presented, &system).expect("described");
        assert_eq!(served.key, Some(KeyType::Rsa2048));
        assert!(!served.self_signed);
        assert_eq!(served.intermediates, 1);
        assert_eq!(served.anchor.as_ref(), Some(&chain.root));
        let unrelated = TrustedRoot::System(Arc::new(Vec::new()));
        let served = describe_served(&chain.presented, &unrelated).expect("described");
        assert_eq!(served.anchor, None);
        let self_signed = catalogue
            .chain(
                CertificateProfile::SelfSigned,
                KeyType::Ed25519,
                "example.test",
            )
            .expect("chain");
        let served = describe_served(&self_signed.presented, &unrelated).expect("described");
        assert_eq!(served.key, Some(KeyType::Ed25519));
        assert!(served.self_signed);
    }

    #[test]
    fn the_served_chain_verifies_only_against_its_own_root_and_for_its_domain_rfc6120_13_7_2_1() {
        let catalogue = Catalogue::new();
        let chain = catalogue
            .chain(
                CertificateProfile::StartcomChain,
                KeyType::EcdsaP256,
                "example.test",
            )
            .expect("chain");
        let served = describe_served(&chain.presented, &TrustedRoot::File(chain.root.clone()))
            .expect("described");
        assert_eq!(served.verification_problem("example.test"), None);
        assert!(served.verification_problem("other.test").is_some());
        let unrelated = catalogue
            .chain(
                CertificateProfile::SelfSigned,
                KeyType::EcdsaP256,
                "example.test",
            )
            .expect("chain");
        let served = describe_served(&chain.presented, &TrustedRoot::File(unrelated.root.clone()))
            .expect("described");
        let problem = served
            .verification_problem("example.test")
            .unwrap_or_default();
        assert!(problem.contains("issuer"), "{problem}");
    }
}
