//! The facts of one endpoint, gathered over a bounded number of sequential connections and
//! without any login attempt.
//!
//! Connection 1 does everything that needs a stream: the stream features before TLS
//! (STARTTLS endpoints), the TLS handshake on rustls (TLS 1.3 and 1.2 offered, SNI the domain,
//! ALPN on direct TLS), the chain, and the features after TLS. Then, once TLS was reached: one
//! connection for TLS 1.2 alone when the first negotiated 1.3 (not when that handshake
//! failed), one each for TLS 1.0 and 1.1 on OpenSSL, and one per class of RFC 9325 §4.1
//! suites the system's libssl can offer. So at most [`MAX_CONNECTIONS`] connections per
//! endpoint, one after the other.

use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpStream;

use super::EndpointUnderTest;
use super::chain::{self, ChainFact, IdentityFact, Trust};
use super::handshake::{self, OpensslOffer, RustlsAttempt, Version};
use crate::proto::client::NS_SASL2;
use crate::proto::s2s::NS_DIALBACK_FEATURE;
use crate::proto::xml::Element;
use crate::proto::{NS_SASL, NS_SASL_CB, NS_TLS};
use crate::scenario::CipherClass;
use crate::transport::xmpp_stream::{Opened, XmppStream};

/// The most connections a probe opens to one endpoint: the main one, the other TLS version,
/// TLS 1.0, TLS 1.1 and six suite classes.
pub const MAX_CONNECTIONS: u32 = 10;

/// The suite classes RFC 9325 §4.1 says not to negotiate, in the order they are tried.
pub const CLASSES: [CipherClass; 6] = [
    CipherClass::NullEncryption,
    CipherClass::Rc4,
    CipherClass::Below112Bits,
    CipherClass::TripleDes,
    CipherClass::StaticRsa,
    CipherClass::StaticDh,
];

/// What the stream header and features of one stream said.
#[derive(Debug, Clone, Serialize)]
pub struct StreamFact {
    /// The content namespace of the response stream (`jabber:client`, `jabber:server`).
    pub content_namespace: String,
    /// The response header's `from`.
    pub from: Option<String>,
    /// The response header's `version`.
    pub version: Option<String>,
    /// Every feature, as `{namespace}name`.
    pub features: Vec<String>,
    /// `<starttls/>` offered.
    pub starttls_offered: bool,
    /// `<starttls><required/></starttls>`.
    pub starttls_required: bool,
    /// SASL mechanisms (RFC 6120 §6.4.1), in the order offered.
    pub sasl_mechanisms: Vec<String>,
    /// The channel-binding types of XEP-0440.
    pub channel_binding_types: Vec<String>,
    /// The SASL2 mechanisms (XEP-0388 `<authentication/>`), when SASL2 is offered.
    pub sasl2_mechanisms: Option<Vec<String>>,
    /// The dialback feature (XEP-0220 `urn:xmpp:features:dialback`).
    pub dialback: bool,
}

impl StreamFact {
    fn from_opened(opened: &Opened) -> StreamFact {
        let features = &opened.features;
        let starttls = features.child("starttls", NS_TLS);
        let names = |parent: Option<&Element>, child: &str| -> Vec<String> {
            parent
                .map(|p| {
                    p.child_elements()
                        .filter(|e| e.name == child)
                        .map(|e| e.text().trim().to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        StreamFact {
            content_namespace: opened.header.default_ns.clone(),
            from: opened.header.from.clone(),
            version: opened.header.version.clone(),
            features: features
                .child_elements()
                .map(|e| format!("{{{}}}{}", e.ns, e.name))
                .collect(),
            starttls_offered: starttls.is_some(),
            starttls_required: starttls.is_some_and(|s| s.child("required", NS_TLS).is_some()),
            sasl_mechanisms: names(features.child("mechanisms", NS_SASL), "mechanism"),
            channel_binding_types: features
                .child("sasl-channel-binding", NS_SASL_CB)
                .map(|cb| {
                    cb.child_elements()
                        .filter_map(|e| e.attr("type").map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            sasl2_mechanisms: features
                .child("authentication", NS_SASL2)
                .map(|auth| names(Some(auth), "mechanism")),
            dialback: features.child("dialback", NS_DIALBACK_FEATURE).is_some(),
        }
    }

    /// The SASL mechanisms with channel binding (`-PLUS`).
    pub fn plus_variants(&self) -> Vec<&str> {
        self.sasl_mechanisms
            .iter()
            .chain(self.sasl2_mechanisms.iter().flatten())
            .filter(|m| m.ends_with("-PLUS"))
            .map(String::as_str)
            .collect()
    }
}

/// What the main TLS handshake negotiated.
#[derive(Debug, Clone, Serialize)]
pub struct TlsFact {
    /// `TLS 1.3` or `TLS 1.2`.
    pub version: Option<Version>,
    /// The suite.
    pub cipher_suite: String,
    /// The SNI sent: the XMPP domain (XEP-0368).
    pub sni: String,
    /// The ALPN protocols offered (direct TLS: `xmpp-client` or `xmpp-server`).
    pub alpn_offered: Vec<String>,
    /// The ALPN protocol the server selected.
    pub alpn_selected: Option<String>,
}

/// Whether the server accepted one TLS version offered alone.
#[derive(Debug, Clone, Serialize)]
pub struct VersionFact {
    /// The version.
    pub version: Version,
    /// `None`: not tested (the reason is in `detail`).
    pub accepted: Option<bool>,
    /// The suite agreed, or why the handshake failed, or why it was not tried.
    pub detail: String,
}

/// Whether the server accepted one class of TLS 1.2 suites offered alone.
#[derive(Debug, Clone, Serialize)]
pub struct ClassFact {
    /// The class.
    pub class: CipherClass,
    /// `None`: not tested (the reason is in `detail`).
    pub accepted: Option<bool>,
    /// The suite agreed, or why the handshake failed, or why it was not tried.
    pub detail: String,
}

/// Everything learnt about one endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointFacts {
    /// Which endpoint.
    pub endpoint: EndpointUnderTest,
    /// How many TCP connections the probe opened to it.
    pub connections: u32,
    /// Whether a TCP connection could be made.
    pub reachable: bool,
    /// What stopped the probe before it learnt everything, at which step.
    pub stopped: Option<String>,
    /// Before TLS (STARTTLS endpoints).
    pub before_tls: Option<StreamFact>,
    /// `<proceed/>` answered `<starttls/>` (STARTTLS endpoints; asked even when not offered,
    /// RFC 7590 §3.1).
    pub starttls_proceeded: Option<bool>,
    /// The main handshake.
    pub tls: Option<TlsFact>,
    /// The chain served.
    pub chain: Option<ChainFact>,
    /// The identity check for the domain.
    pub identity: Option<IdentityFact>,
    /// Each TLSA record of the endpoint against the chain served (DNSSEC not validated).
    pub tlsa: Vec<super::dane::TlsaMatch>,
    /// After TLS.
    pub after_tls: Option<StreamFact>,
    /// TLS 1.0, 1.1, 1.2, 1.3 each alone.
    pub versions: Vec<VersionFact>,
    /// The RFC 9325 §4.1 classes each alone.
    pub cipher_classes: Vec<ClassFact>,
}

/// Probes `endpoint` for `domain`, trusting `trust`; every step waits at most `limit`.
pub async fn gather(
    endpoint: &EndpointUnderTest,
    domain: &str,
    trust: &Trust,
    limit: Duration,
) -> EndpointFacts {
    let mut facts = EndpointFacts {
        endpoint: endpoint.clone(),
        connections: 0,
        reachable: false,
        stopped: None,
        before_tls: None,
        starttls_proceeded: None,
        tls: None,
        chain: None,
        identity: None,
        tlsa: Vec::new(),
        after_tls: None,
        versions: Vec::new(),
        cipher_classes: Vec::new(),
    };
    let service = endpoint.service.pki();
    let tcp = match connect(endpoint, limit, &mut facts.connections).await {
        Ok(tcp) => tcp,
        Err(e) => {
            facts.stopped = Some(format!("TCP connect: {e}"));
            return facts;
        }
    };
    facts.reachable = true;
    let tcp = if endpoint.direct_tls {
        tcp
    } else {
        let mut stream = XmppStream::new(tcp, limit);
        match stream.open(domain, service).await {
            Ok(opened) => facts.before_tls = Some(StreamFact::from_opened(&opened)),
            Err(e) => {
                facts.stopped = Some(format!("stream before TLS: {e}"));
                return facts;
            }
        }
        match stream.starttls().await {
            Ok(true) => facts.starttls_proceeded = Some(true),
            Ok(false) => {
                facts.starttls_proceeded = Some(false);
                facts.stopped = Some("STARTTLS: the server answered <failure/>".into());
                stream.close().await;
                return facts;
            }
            Err(e) => {
                facts.stopped = Some(format!("STARTTLS: {e}"));
                return facts;
            }
        }
        stream.into_inner()
    };
    let alpn: Vec<String> = if endpoint.direct_tls {
        vec![endpoint.service.alpn().to_owned()]
    } else {
        Vec::new()
    };
    let attempt = RustlsAttempt {
        server_name: domain,
        only: None,
        alpn: alpn.iter().map(|p| p.as_bytes().to_vec()).collect(),
    };
    let (tls, negotiated) = match handshake::rustls_handshake(tcp, &attempt, limit).await {
        Ok(done) => done,
        Err(e) => {
            // A server that refuses TLS 1.2 and 1.3 may still speak what RFC 8996 forbids.
            facts.versions =
                versions(endpoint, domain, limit, Err(&e), &mut facts.connections).await;
            facts.cipher_classes = classes(endpoint, domain, limit, &mut facts.connections).await;
            facts.stopped = Some(format!("TLS 1.2/1.3 handshake: {e}"));
            return facts;
        }
    };
    facts.tlsa = super::dane::matches(&endpoint.tlsa, &negotiated.chain);
    if let Some((chain, identity)) = chain::judge(&negotiated.chain, trust, domain, service) {
        facts.chain = Some(chain);
        facts.identity = Some(identity);
    }
    facts.tls = Some(TlsFact {
        version: negotiated.version,
        cipher_suite: negotiated.cipher_suite.clone(),
        sni: domain.to_owned(),
        alpn_offered: alpn,
        alpn_selected: negotiated.alpn.clone(),
    });
    let mut stream = XmppStream::new(tls, limit);
    match stream.open(domain, service).await {
        Ok(opened) => facts.after_tls = Some(StreamFact::from_opened(&opened)),
        Err(e) => facts.stopped = Some(format!("stream after TLS: {e}")),
    }
    stream.close().await;
    facts.versions = versions(
        endpoint,
        domain,
        limit,
        Ok(&negotiated),
        &mut facts.connections,
    )
    .await;
    facts.cipher_classes = classes(endpoint, domain, limit, &mut facts.connections).await;
    facts
}

async fn connect(
    endpoint: &EndpointUnderTest,
    limit: Duration,
    connections: &mut u32,
) -> Result<TcpStream, String> {
    *connections += 1;
    match tokio::time::timeout(limit, TcpStream::connect(endpoint.address)).await {
        Err(_) => Err(format!(
            "no answer from {} within {limit:?}",
            endpoint.address
        )),
        Ok(Err(e)) => Err(format!("{}: {e}", endpoint.address)),
        Ok(Ok(tcp)) => Ok(tcp),
    }
}

/// A fresh connection up to the point where TLS starts: right away on direct TLS, after
/// `<proceed/>` on STARTTLS.
async fn ready_for_tls(
    endpoint: &EndpointUnderTest,
    domain: &str,
    limit: Duration,
    connections: &mut u32,
) -> Result<TcpStream, String> {
    let tcp = connect(endpoint, limit, connections).await?;
    if endpoint.direct_tls {
        return Ok(tcp);
    }
    let mut stream = XmppStream::new(tcp, limit);
    stream
        .open(domain, endpoint.service.pki())
        .await
        .map_err(|e| format!("stream before TLS: {e}"))?;
    match stream.starttls().await {
        Ok(true) => Ok(stream.into_inner()),
        Ok(false) => Err("STARTTLS: <failure/>".into()),
        Err(e) => Err(format!("STARTTLS: {e}")),
    }
}

async fn versions(
    endpoint: &EndpointUnderTest,
    domain: &str,
    limit: Duration,
    main: Result<&handshake::Negotiated, &str>,
    connections: &mut u32,
) -> Vec<VersionFact> {
    let mut facts = Vec::new();
    for version in [Version::Tls10, Version::Tls11] {
        let (accepted, detail) = offer_alone(
            endpoint,
            domain,
            limit,
            OpensslOffer::Version(version),
            connections,
        )
        .await;
        facts.push(VersionFact {
            version,
            accepted,
            detail: if accepted == Some(true) {
                format!("negotiated with {detail}")
            } else {
                detail
            },
        });
    }
    let negotiated = match main {
        Ok(negotiated) => negotiated,
        Err(why) => {
            // The main connection offered both; neither was agreed.
            for version in [Version::Tls12, Version::Tls13] {
                facts.push(VersionFact {
                    version,
                    accepted: None,
                    detail: format!(
                        "not agreed on the main connection, which offered TLS 1.3 and 1.2 \
                         with rustls's suites: {why}"
                    ),
                });
            }
            return facts;
        }
    };
    for version in [Version::Tls12, Version::Tls13] {
        let fact = if negotiated.version == Some(version) {
            VersionFact {
                version,
                accepted: Some(true),
                detail: format!("negotiated with {}", negotiated.cipher_suite),
            }
        } else if version == Version::Tls13 {
            // The main handshake offered 1.3 first; the server chose 1.2.
            VersionFact {
                version,
                accepted: Some(false),
                detail: "offered with TLS 1.2 on the main connection; the server chose TLS 1.2"
                    .into(),
            }
        } else {
            match ready_for_tls(endpoint, domain, limit, connections).await {
                Err(e) => VersionFact {
                    version,
                    accepted: None,
                    detail: e,
                },
                Ok(tcp) => {
                    let attempt = RustlsAttempt {
                        server_name: domain,
                        only: Some(version),
                        alpn: Vec::new(),
                    };
                    match handshake::rustls_handshake(tcp, &attempt, limit).await {
                        Ok((_, alone)) => VersionFact {
                            version,
                            accepted: Some(true),
                            detail: format!("negotiated with {}", alone.cipher_suite),
                        },
                        Err(why) => VersionFact {
                            version,
                            accepted: Some(false),
                            detail: why,
                        },
                    }
                }
            }
        };
        facts.push(fact);
    }
    facts
}

/// Offers `offer` alone over OpenSSL on a connection of its own: whether the server accepted it
/// (`None` when the connection never reached the handshake) and the suite it negotiated, or
/// why not.
async fn offer_alone(
    endpoint: &EndpointUnderTest,
    domain: &str,
    limit: Duration,
    offer: OpensslOffer,
    connections: &mut u32,
) -> (Option<bool>, String) {
    match ready_for_tls(endpoint, domain, limit, connections).await {
        Err(e) => (None, e),
        Ok(tcp) => match handshake::openssl_handshake(tcp, domain, offer, limit).await {
            Ok(suite) => (Some(true), suite),
            Err(why) => (Some(false), why),
        },
    }
}

async fn classes(
    endpoint: &EndpointUnderTest,
    domain: &str,
    limit: Duration,
    connections: &mut u32,
) -> Vec<ClassFact> {
    let mut facts = Vec::new();
    for class in CLASSES {
        let fact = if !handshake::can_offer(class) {
            ClassFact {
                class,
                accepted: None,
                detail: format!(
                    "the system's libssl ({}) has no such suite, even at security level 0",
                    openssl::version::version()
                ),
            }
        } else {
            let (accepted, detail) = offer_alone(
                endpoint,
                domain,
                limit,
                OpensslOffer::Class(class),
                connections,
            )
            .await;
            ClassFact {
                class,
                accepted,
                detail: if accepted == Some(true) {
                    format!("negotiated {detail}")
                } else {
                    detail
                },
            }
        };
        facts.push(fact);
    }
    facts
}
