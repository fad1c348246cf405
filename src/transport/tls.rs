//! TLS set-up for one connection, what a handshake showed, and why a handshake failed.
//!
//! The client side verifies the server's chain against the scenario's single trust anchor and
//! the XMPP domain with [`XmppServerVerifier`], and records the chain the server presented even
//! when verification fails, so the transcript can say what was rejected. Both sides log their
//! secrets to the installed key log, if any ([`super::keylog`]).

use std::fmt::Write as _;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::{CertifiedKey, SigningKey, SingleCertAndKey};
use rustls::{AlertDescription, ClientConfig, RootCertStore, ServerConfig};

use super::verify::XmppServerVerifier;
use super::weak_rsa::WeakRsaKey;
use crate::pki::identity::presented_identities;
use crate::pki::summary::sha256_fingerprint;
use crate::pki::{CertificateRejection, ReferenceIdentity, Service};
use crate::proto::Side;
use crate::proto::sasl::ChannelBindingType;
use crate::scenario::model::{IdentityType, TlsProfile, TlsVersion};

/// The crypto provider every TLS configuration of the harness uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Everything one side needs to run a TLS handshake.
#[derive(Debug, Clone)]
pub enum TlsSetup {
    /// The client side: which root it trusts and which domain it expects.
    Client {
        /// The single trust anchor.
        trust_anchor: CertificateDer<'static>,
        /// The XMPP domain the certificate must be valid for (also sent as SNI).
        domain: String,
        /// The identity types that count when matching the certificate against the domain.
        identity: Vec<IdentityType>,
        /// The certificate presented when the server asks for one (XEP-0178); none if `None`.
        client_certificate: Option<ClientCertificate>,
        /// The stack and versions the handshake uses.
        profile: TlsProfile,
    },
    /// The server side: what it presents.
    Server {
        /// Leaf first, then intermediates.
        chain: Vec<CertificateDer<'static>>,
        /// The leaf's private key.
        key: Arc<PrivateKeyDer<'static>>,
        /// When set, the server asks for a client certificate and verifies one that is
        /// presented against this root (clientAuth, validity, chain); a client without one
        /// is still let in, for PLAIN and SCRAM.
        client_trust_anchor: Option<CertificateDer<'static>>,
        /// The stack and versions the handshake uses.
        profile: TlsProfile,
        /// The one channel binding type the session gets from this connection (so XEP-0440
        /// advertises only it and SCRAM-*-PLUS accepts only it), or every type it has.
        binding_only: Option<ChannelBindingType>,
    },
    /// A server-to-server originating side: verifies the receiving server's certificate for
    /// its domain as a server (SRV-ID `_xmpp-server`, RFC 6120 §13.7.2.1) and presents its
    /// own certificate, if any, as TLS client certificate.
    S2sOriginating {
        /// The single trust anchor.
        trust_anchor: CertificateDer<'static>,
        /// The receiving domain (also sent as SNI).
        domain: String,
        /// This server's certificate for its own domain; none if `None`.
        certificate: Option<ClientCertificate>,
        /// The leaf certificate the harness provisioned for the receiving server, when it
        /// started that server itself: a peer presenting another leaf is not the instance
        /// this run started (another run's server on a shared address), and the handshake
        /// ends as a harness error before anything about the peer is judged.
        provisioned: Option<CertificateDer<'static>>,
    },
    /// A server-to-server receiving side: presents its chain and asks for the originating
    /// server's certificate without refusing any in the handshake (the handshake still proves
    /// the peer holds the key); the chain is judged against `peer_trust_anchor` afterwards
    /// ([`super::peer::s2s_peer_certificate`]), so that a bad certificate leads to dialback
    /// rather than a broken handshake.
    S2sReceiving {
        /// Leaf first, then intermediates.
        chain: Vec<CertificateDer<'static>>,
        /// The leaf's private key.
        key: Arc<PrivateKeyDer<'static>>,
        /// The root originating servers' certificates must chain to.
        peer_trust_anchor: CertificateDer<'static>,
    },
}

/// The client side's settings, borrowed from a [`TlsSetup`].
pub(crate) struct ClientSide<'a> {
    /// The single trust anchor.
    pub trust_anchor: &'a CertificateDer<'static>,
    /// The domain expected (and sent as SNI).
    pub domain: &'a str,
    /// The certificate to present when asked.
    pub client_certificate: Option<&'a ClientCertificate>,
    /// The identity the server's certificate must carry.
    pub reference: ReferenceIdentity,
}

/// A client certificate chain and its key, for SASL EXTERNAL (XEP-0178).
#[derive(Debug, Clone)]
pub struct ClientCertificate {
    /// Leaf first, then intermediates.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: Arc<PrivateKeyDer<'static>>,
}

impl TlsSetup {
    /// What the client side needs whichever stack runs it: the trust anchor, the domain, the
    /// certificate to present and the identity the server's certificate must carry.
    pub(crate) fn client_side(&self) -> Result<ClientSide<'_>, HandshakeFailure> {
        let (trust_anchor, domain, client_certificate, reference) = match self {
            TlsSetup::Client {
                trust_anchor,
                domain,
                identity,
                client_certificate,
                ..
            } => (
                trust_anchor,
                domain,
                client_certificate,
                ReferenceIdentity {
                    domain: domain.clone(),
                    service: Service::Client,
                    accepted: identity.clone(),
                },
            ),
            TlsSetup::S2sOriginating {
                trust_anchor,
                domain,
                certificate,
                ..
            } => (
                trust_anchor,
                domain,
                certificate,
                ReferenceIdentity {
                    domain: domain.clone(),
                    service: Service::Server,
                    accepted: IdentityType::DEFAULT.to_vec(),
                },
            ),
            TlsSetup::Server { .. } | TlsSetup::S2sReceiving { .. } => {
                return Err(HandshakeFailure::local(
                    "no client TLS settings for this connection",
                ));
            }
        };
        Ok(ClientSide {
            trust_anchor,
            domain,
            client_certificate: client_certificate.as_ref(),
            reference,
        })
    }

    pub(crate) fn client(
        &self,
    ) -> Result<(Arc<ClientConfig>, ServerName<'static>, PresentedChain), HandshakeFailure> {
        let ClientSide {
            trust_anchor,
            domain,
            client_certificate,
            reference,
        } = self.client_side()?;
        let mut roots = RootCertStore::empty();
        roots
            .add(trust_anchor.clone())
            .map_err(|e| HandshakeFailure::local(format!("trust anchor unusable: {e}")))?;
        let presented = PresentedChain::default();
        let verifier = Arc::new(XmppServerVerifier::new(
            Arc::new(roots),
            reference,
            provider(),
            presented.clone(),
        ));
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&rustls_versions(&self.profile()))
            .map_err(|e| HandshakeFailure::local(format!("TLS set-up failed: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match client_certificate {
            Some(certificate) => builder
                .with_client_auth_cert(certificate.chain.clone(), certificate.key.clone_key())
                .map_err(|e| {
                    HandshakeFailure::local(format!("client certificate or key unusable: {e}"))
                })?,
            None => builder.with_no_client_auth(),
        };
        if let Some(key_log) = super::keylog::installed() {
            config.key_log = key_log;
        }
        let server_name = ServerName::try_from(domain.to_owned()).map_err(|e| {
            HandshakeFailure::local(format!("domain {domain:?} unusable as TLS name: {e}"))
        })?;
        Ok((Arc::new(config), server_name, presented))
    }

    /// The stack and versions of this side (server-to-server streams always use rustls).
    pub fn profile(&self) -> TlsProfile {
        match self {
            TlsSetup::Client { profile, .. } | TlsSetup::Server { profile, .. } => profile.clone(),
            TlsSetup::S2sOriginating { .. } | TlsSetup::S2sReceiving { .. } => {
                TlsProfile::default()
            }
        }
    }

    /// The leaf the peer must present to be the instance the harness started, if it
    /// started one ([`TlsSetup::S2sOriginating`]'s `provisioned`).
    pub(crate) fn provisioned_leaf(&self) -> Option<&CertificateDer<'static>> {
        match self {
            TlsSetup::S2sOriginating { provisioned, .. } => provisioned.as_ref(),
            _ => None,
        }
    }

    pub(crate) fn server(&self) -> Result<Arc<ServerConfig>, HandshakeFailure> {
        let (chain, key, client_trust_anchor, s2s) = match self {
            TlsSetup::Server {
                chain,
                key,
                client_trust_anchor,
                ..
            } => (chain, key, client_trust_anchor.as_ref(), false),
            TlsSetup::S2sReceiving { chain, key, .. } => (chain, key, None, true),
            TlsSetup::Client { .. } | TlsSetup::S2sOriginating { .. } => {
                return Err(HandshakeFailure::local(
                    "no server TLS settings for this connection",
                ));
            }
        };
        let provider = provider();
        let signing_key: Arc<dyn SigningKey> =
            match provider.key_provider.load_private_key(key.clone_key()) {
                Ok(signing_key) => signing_key,
                Err(e) => match key.as_ref() {
                    PrivateKeyDer::Pkcs8(pkcs8) => WeakRsaKey::from_pkcs8(pkcs8.secret_pkcs8_der())
                        .map(|weak| Arc::new(weak) as Arc<dyn SigningKey>)
                        .ok_or_else(|| {
                            HandshakeFailure::local(format!("certificate or key unusable: {e}"))
                        })?,
                    _ => {
                        return Err(HandshakeFailure::local(format!(
                            "certificate or key unusable: {e}"
                        )));
                    }
                },
            };
        let certified = CertifiedKey::new(chain.clone(), signing_key);
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&rustls_versions(&self.profile()))
            .map_err(|e| HandshakeFailure::local(format!("TLS set-up failed: {e}")))?;
        let builder = match client_trust_anchor {
            None if s2s => builder.with_client_cert_verifier(Arc::new(
                super::peer::AnyClientCertificate::new(Arc::clone(&provider)),
            )),
            Some(anchor) => {
                let mut roots = RootCertStore::empty();
                roots.add(anchor.clone()).map_err(|e| {
                    HandshakeFailure::local(format!("client trust anchor unusable: {e}"))
                })?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .allow_unauthenticated()
                        .build()
                        .map_err(|e| {
                            HandshakeFailure::local(format!("client certificate verifier: {e}"))
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
        if let Some(key_log) = super::keylog::installed() {
            config.key_log = key_log;
        }
        Ok(Arc::new(config))
    }
}

/// The rustls protocol versions `profile` allows (both when it names none).
fn rustls_versions(profile: &TlsProfile) -> Vec<&'static rustls::SupportedProtocolVersion> {
    [
        (TlsVersion::Tls13, &rustls::version::TLS13),
        (TlsVersion::Tls12, &rustls::version::TLS12),
    ]
    .into_iter()
    .filter(|(version, _)| profile.allows(*version))
    .map(|(_, supported)| supported)
    .collect()
}

/// The chain a server presented, captured by the verifier before it decides.
#[derive(Debug, Clone, Default)]
pub(crate) struct PresentedChain(Arc<Mutex<Vec<CertificateDer<'static>>>>);

impl PresentedChain {
    pub(crate) fn record(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) {
        if let Ok(mut chain) = self.0.lock() {
            chain.clear();
            chain.push(end_entity.clone().into_owned());
            chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        }
    }

    pub(crate) fn presented(&self) -> Vec<CertificateDer<'static>> {
        self.0.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

/// What a completed handshake negotiated and showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFacts {
    /// e.g. `TLSv1_3`.
    pub version: String,
    /// e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// One line per certificate the server presented, leaf first (client side only).
    pub presented_chain: Vec<String>,
    /// What else the transcript should say about the handshake (the OpenSSL stack names
    /// itself and what it did about the extended master secret); empty for rustls.
    pub notes: Vec<String>,
}

impl TlsFacts {
    pub(crate) fn from_client(
        stream: &tokio_rustls::client::TlsStream<super::CountedTcp>,
        presented: Vec<CertificateDer<'static>>,
    ) -> TlsFacts {
        let (_, connection) = stream.get_ref();
        TlsFacts::negotiated(
            connection,
            presented.iter().map(|c| describe_certificate(c)).collect(),
        )
    }

    pub(crate) fn from_server(
        stream: &tokio_rustls::server::TlsStream<super::CountedTcp>,
    ) -> TlsFacts {
        let (_, connection) = stream.get_ref();
        TlsFacts::negotiated(connection, Vec::new())
    }

    fn negotiated(connection: &rustls::CommonState, presented_chain: Vec<String>) -> TlsFacts {
        TlsFacts {
            version: connection
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_else(|| "unknown".into()),
            cipher_suite: connection
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_else(|| "unknown".into()),
            presented_chain,
            notes: Vec::new(),
        }
    }
}

/// Why a TLS handshake did not complete, and who ended it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{condition}: {detail}")]
pub struct HandshakeFailure {
    /// Who ended the handshake.
    pub by: Side,
    /// `bad-certificate`, `tls-alert`, `tls-error`, `closed`, `timeout` or `harness-error`.
    pub condition: &'static str,
    /// What exactly happened.
    pub detail: String,
    /// The chain the server presented, one line per certificate (client side only).
    pub presented_chain: Vec<String>,
}

impl HandshakeFailure {
    /// A failure of the harness's own set-up: an environment error, not the peer's doing.
    pub fn local(detail: impl Into<String>) -> HandshakeFailure {
        HandshakeFailure {
            by: Side::Local,
            condition: "harness-error",
            detail: detail.into(),
            presented_chain: Vec::new(),
        }
    }

    /// The peer at `address` presented `presented`, not the leaf this run provisioned for
    /// the server it started there: another server answered, and nothing about it may be
    /// judged as the target's doing.
    pub(crate) fn not_provisioned(
        address: &str,
        presented: &CertificateDer<'_>,
        provisioned: &CertificateDer<'_>,
    ) -> HandshakeFailure {
        HandshakeFailure::local(format!(
            "reached another server on {address}: its certificate is not the one this run \
             provisioned (presented SHA-256 {}, provisioned SHA-256 {}; {})",
            sha256_fingerprint(presented),
            sha256_fingerprint(provisioned),
            describe_certificate(presented)
        ))
    }

    /// Whether the harness broke rather than the handshake.
    pub fn is_harness_error(&self) -> bool {
        self.condition == "harness-error"
    }

    /// The handshake did not complete within `limit`; `received` is what the peer had sent on
    /// the connection by then (a trickling peer and a silent one read differently).
    pub(crate) fn timeout(
        limit: Duration,
        received: &super::counted::ReceivedBytes,
        presented: Vec<CertificateDer<'static>>,
    ) -> HandshakeFailure {
        HandshakeFailure {
            by: Side::Peer,
            condition: "timeout",
            detail: format!(
                "the TLS handshake did not complete within {limit:?}; the peer had sent {received} during it"
            ),
            presented_chain: presented.iter().map(|c| describe_certificate(c)).collect(),
        }
    }

    pub(crate) fn from_client_error(
        e: &io::Error,
        presented: Vec<CertificateDer<'static>>,
    ) -> HandshakeFailure {
        let presented_chain: Vec<String> =
            presented.iter().map(|c| describe_certificate(c)).collect();
        let (by, condition, detail) = match rustls_error(e) {
            Some(rustls::Error::InvalidCertificate(reason)) => (
                Side::Local,
                "bad-certificate",
                format!(
                    "the client rejected the server's certificate: {}",
                    CertificateRejection::from_rustls(reason)
                ),
            ),
            Some(rustls::Error::AlertReceived(alert)) => (
                Side::Peer,
                alert_condition(*alert),
                format!("the server sent TLS alert {alert:?}"),
            ),
            Some(other) => (
                Side::Peer,
                "tls-error",
                format!("TLS handshake failed: {other}"),
            ),
            None if e.kind() == io::ErrorKind::UnexpectedEof => (
                Side::Peer,
                "closed",
                "the server closed the connection during the TLS handshake".into(),
            ),
            None => (
                Side::Peer,
                "tls-error",
                format!("TLS handshake failed: {e}"),
            ),
        };
        HandshakeFailure {
            by,
            condition,
            detail,
            presented_chain,
        }
    }

    pub(crate) fn from_server_error(e: &io::Error) -> HandshakeFailure {
        let (by, condition, detail) = match rustls_error(e) {
            Some(rustls::Error::InvalidCertificate(reason)) => (
                Side::Local,
                "bad-certificate",
                format!(
                    "the server rejected the client's certificate: {}",
                    CertificateRejection::from_rustls(reason)
                ),
            ),
            Some(rustls::Error::AlertReceived(alert)) => (
                Side::Peer,
                alert_condition(*alert),
                format!("the client aborted the TLS handshake with alert {alert:?}"),
            ),
            Some(other) => (
                Side::Peer,
                "tls-error",
                format!("TLS handshake failed: {other}"),
            ),
            None if e.kind() == io::ErrorKind::UnexpectedEof => (
                Side::Peer,
                "closed",
                "the client closed the connection during the TLS handshake, without an alert"
                    .into(),
            ),
            None => (
                Side::Peer,
                "tls-error",
                format!("TLS handshake failed: {e}"),
            ),
        };
        HandshakeFailure {
            by,
            condition,
            detail,
            presented_chain: Vec::new(),
        }
    }
}

fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// Alerts that say "your certificate is not acceptable" map to `bad-certificate`.
fn alert_condition(alert: AlertDescription) -> &'static str {
    match alert {
        AlertDescription::BadCertificate
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateRevoked
        | AlertDescription::CertificateExpired
        | AlertDescription::CertificateUnknown
        | AlertDescription::UnknownCA => "bad-certificate",
        _ => "tls-alert",
    }
}

/// One line describing a certificate: subject, issuer, validity, and the identities it carries
/// in XMPP terms (`DNS:`, `SRV:`, `XmppAddr:`, or `CN:` when there is no subjectAltName).
pub fn describe_certificate(der: &CertificateDer<'_>) -> String {
    match x509_parser::parse_x509_certificate(der.as_ref()) {
        Ok((_, cert)) => {
            let mut line = format!(
                "subject \"{}\", issuer \"{}\", valid {} to {}",
                cert.subject(),
                cert.issuer(),
                cert.validity().not_before,
                cert.validity().not_after
            );
            if let Ok(identities) = presented_identities(der)
                && !cert.is_ca()
            {
                let names: Vec<String> = identities.iter().map(ToString::to_string).collect();
                let _ = write!(line, ", identities [{}]", names.join(", "));
            }
            line
        }
        Err(e) => format!(
            "unparseable certificate ({} bytes): {e}",
            der.as_ref().len()
        ),
    }
}
