//! The OpenSSL stack (the system's libssl 3 through the `openssl` crate and `tokio-openssl`),
//! for what rustls cannot do: `tls-unique` (RFC 5929 §3), which needs the first Finished
//! message of the handshake, and offering or accepting only what RFC 8996 and RFC 9325 §4.1
//! forbid (TLS 1.0 and 1.1, a class of TLS 1.2 suites), at security level 0 for that one
//! connection.
//!
//! Only the bytes go through OpenSSL. Trust and identity stay the harness's own: the client
//! side's verify callback hands the DER chain the server presented to
//! [`verify_chain_and_identity`], the verifier the rustls path uses; OpenSSL's own chain
//! building and hostname check decide nothing. The server side asks for no client
//! certificate (the scenario loader keeps client-certificate cases on rustls).
//!
//! Sessions are never resumed (no tickets, no session cache) nor renegotiated, so `tls-unique`
//! is always that of the one full handshake, the client's Finished. OpenSSL 3 negotiates the extended master secret
//! (RFC 7627) by default; whether the peer agreed is noted in the transcript.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use openssl::pkey::PKey;
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslRef,
    SslSessionCacheMode, SslVerifyMode, SslVersion,
};
use openssl::x509::{X509, X509StoreContext, X509StoreContextRef, X509VerifyResult};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, UnixTime};
use tokio_openssl::SslStream;

use super::binding::server_end_point;
use super::counted::{CountedTcp, ReceivedBytes};
use super::tls::{HandshakeFailure, PresentedChain, TlsFacts, describe_certificate, provider};
use super::verify::verify_chain_and_identity;
use super::{TlsSetup, keylog};
use crate::pki::CertificateRejection;
use crate::proto::Side;
use crate::proto::sasl::{ChannelBindingType, ChannelBindings};
use crate::scenario::{TlsProfile, TlsVersion};

/// A TLS stream over OpenSSL, either side.
pub type OpensslStream = SslStream<CountedTcp>;

/// RFC 9266 §2: the exporter label and length for `tls-exporter`.
const EXPORTER_LABEL: &str = "EXPORTER-Channel-Binding";
const EXPORTER_LENGTH: usize = 32;

/// Longer than any Finished verify_data (12 bytes in TLS 1.2, a hash length in TLS 1.3).
const FINISHED_MAX: usize = 64;

/// What the client side's verify callback decided, kept for the failure report.
#[derive(Clone, Default)]
struct Decision(Arc<Mutex<Option<Result<(), rustls::Error>>>>);

impl Decision {
    fn refusal(&self) -> Option<rustls::Error> {
        match &*self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(Err(e)) => Some(e.clone()),
            _ => None,
        }
    }
}

fn local(what: &str, e: impl std::fmt::Display) -> HandshakeFailure {
    HandshakeFailure::local(format!("OpenSSL {what}: {e}"))
}

/// The OpenSSL versions, lowest first, and the profile's spelling of each.
const VERSIONS: [(TlsVersion, SslVersion); 4] = [
    (TlsVersion::Tls10, SslVersion::TLS1),
    (TlsVersion::Tls11, SslVersion::TLS1_1),
    (TlsVersion::Tls12, SslVersion::TLS1_2),
    (TlsVersion::Tls13, SslVersion::TLS1_3),
];

/// What the transcript says when a case offers or accepts only what RFC 8996 or RFC 9325 §4.1
/// forbids: libssl refuses to build such a hello (or to pick such a suite) at its default
/// security level, so this one connection lowers it. `None` for a conforming profile.
fn lowered(profile: &TlsProfile) -> Option<String> {
    if !profile.offers_forbidden() {
        return None;
    }
    let mut what = Vec::new();
    if profile.allows_deprecated() {
        what.push("TLS 1.0 and 1.1 (RFC 8996)".to_owned());
    }
    if let Some(class) = profile.ciphers {
        what.push(format!(
            "{class} suites (RFC 9325 §4.1; this side's only TLS 1.2 suites, OpenSSL cipher list \
             `{}`)",
            class.openssl_list()
        ));
    }
    Some(format!(
        "security level lowered to 0 for this connection only, so that libssl offers and \
         accepts {}, which it refuses (all or some of them) at its default level",
        what.join(" and ")
    ))
}

/// Why the system's libssl cannot express the profile at all, even at security level 0: its
/// class of suites has no member here (Debian's OpenSSL 3 has no RC4, single DES, export or
/// static DH suites in its default provider). `None` when it can.
pub(crate) fn cannot_offer(profile: &TlsProfile) -> Option<String> {
    let class = profile.ciphers?;
    let refused = SslContext::builder(SslMethod::tls())
        .and_then(|mut builder| {
            builder.set_security_level(0);
            builder.set_cipher_list(class.openssl_list())
        })
        .err()?;
    let refused: Vec<&str> = refused.errors().iter().filter_map(|e| e.reason()).collect();
    Some(format!(
        "the system's libssl ({}) has no {class} suite even at security level 0 (the OpenSSL \
         cipher list `{}` matches none: {}), so the harness can neither offer nor accept \
         one",
        openssl::version::version(),
        class.openssl_list(),
        refused.join("; ")
    ))
}

/// A context with the profile's versions (from its lowest to its highest), no session
/// resumption or renegotiation, and the key log.
fn context(method: SslMethod, profile: &TlsProfile) -> Result<SslContextBuilder, HandshakeFailure> {
    let mut builder = SslContext::builder(method).map_err(|e| local("context", e))?;
    let allowed: Vec<SslVersion> = VERSIONS
        .iter()
        .filter(|(version, _)| profile.allows(*version))
        .map(|(_, ssl)| *ssl)
        .collect();
    let (Some(lowest), Some(highest)) = (allowed.first(), allowed.last()) else {
        return Err(HandshakeFailure::local("the case allows no TLS version"));
    };
    builder
        .set_min_proto_version(Some(*lowest))
        .and_then(|()| builder.set_max_proto_version(Some(*highest)))
        .map_err(|e| local("protocol versions", e))?;
    if profile.offers_forbidden() {
        builder.set_security_level(0);
    }
    if let Some(class) = profile.ciphers {
        builder
            .set_cipher_list(class.openssl_list())
            .map_err(|e| local(&format!("{class} suites"), e))?;
    }
    // No resumption and no renegotiation: tls-unique is the client's Finished of the one full
    // handshake the connection ever has (RFC 5929 §3.1 takes the latest handshake's).
    builder.set_options(SslOptions::NO_TICKET | SslOptions::NO_RENEGOTIATION);
    builder.set_session_cache_mode(SslSessionCacheMode::OFF);
    if let Some(file) = keylog::installed_file() {
        builder.set_keylog_callback(move |_, line| file.append(&format!("{line}\n")));
    }
    Ok(builder)
}

/// Runs the client handshake over `tcp` as `setup` says.
pub(crate) async fn connect(
    tcp: CountedTcp,
    received: &ReceivedBytes,
    setup: &TlsSetup,
    limit: Duration,
) -> Result<(OpensslStream, TlsFacts), HandshakeFailure> {
    let side = setup.client_side()?;
    let mut roots = RootCertStore::empty();
    roots
        .add(side.trust_anchor.clone())
        .map_err(|e| HandshakeFailure::local(format!("trust anchor unusable: {e}")))?;
    let roots = Arc::new(roots);
    let presented = PresentedChain::default();
    let decision = Decision::default();
    let mut builder = context(SslMethod::tls_client(), &setup.profile())?;
    if let Some(certificate) = side.client_certificate {
        present(
            &mut builder,
            &certificate.chain,
            certificate.key.secret_der(),
        )?;
    }
    let ssl_index = X509StoreContext::ssl_idx().map_err(|e| local("store index", e))?;
    {
        let presented = presented.clone();
        let decision = decision.clone();
        let reference = side.reference.clone();
        builder.set_verify_callback(SslVerifyMode::PEER, move |_openssl_says, store| {
            // OpenSSL calls this once per certificate; the harness decides once, on the
            // chain as presented, whatever OpenSSL's own chain building thought.
            let mut decided = decision.0.lock().unwrap_or_else(PoisonError::into_inner);
            let verdict = decided.get_or_insert_with(|| {
                let chain = presented_chain(store, ssl_index);
                let Some((leaf, intermediates)) = chain.split_first() else {
                    return Err(rustls::Error::NoCertificatesPresented);
                };
                presented.record(leaf, intermediates);
                verify_chain_and_identity(
                    leaf,
                    intermediates,
                    &roots,
                    &reference,
                    &provider(),
                    UnixTime::now(),
                )
            });
            let accepted = verdict.is_ok();
            if !accepted {
                store.set_error(X509VerifyResult::APPLICATION_VERIFICATION);
            }
            accepted
        });
    }
    let context = builder.build();
    let mut ssl = Ssl::new(&context).map_err(|e| local("connection", e))?;
    // SNI only: the identity check is the harness's, never OpenSSL's hostname check.
    ssl.set_hostname(side.domain)
        .map_err(|e| local("server name", e))?;
    let mut stream = SslStream::new(ssl, tcp).map_err(|e| local("stream", e))?;
    let chain = || {
        presented
            .presented()
            .iter()
            .map(|c| describe_certificate(c))
            .collect::<Vec<_>>()
    };
    match tokio::time::timeout(limit, Pin::new(&mut stream).connect()).await {
        Err(_) => Err(HandshakeFailure::timeout(
            limit,
            received,
            presented.presented(),
        )),
        Ok(Err(e)) => Err(match decision.refusal() {
            Some(refusal) => HandshakeFailure {
                by: Side::Local,
                condition: "bad-certificate",
                detail: format!(
                    "the client rejected the server's certificate: {}",
                    match &refusal {
                        rustls::Error::InvalidCertificate(reason) =>
                            CertificateRejection::from_rustls(reason).to_string(),
                        other => other.to_string(),
                    }
                ),
                presented_chain: chain(),
            },
            None => failure(&e, "server", chain(), &setup.profile()),
        }),
        Ok(Ok(())) => {
            let facts = facts(stream.ssl(), chain(), &setup.profile());
            Ok((stream, facts))
        }
    }
}

/// The chain the peer presented, leaf first, as DER.
fn presented_chain(
    store: &X509StoreContextRef,
    ssl_index: openssl::ex_data::Index<X509StoreContext, SslRef>,
) -> Vec<CertificateDer<'static>> {
    let from_ssl = store
        .ex_data(ssl_index)
        .and_then(SslRef::peer_cert_chain)
        .map(|stack| {
            stack
                .iter()
                .filter_map(|c| c.to_der().ok())
                .map(CertificateDer::from)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if !from_ssl.is_empty() {
        return from_ssl;
    }
    store
        .current_cert()
        .and_then(|c| c.to_der().ok())
        .map(CertificateDer::from)
        .into_iter()
        .collect()
}

/// Makes `builder` present `chain` (leaf first) with the leaf's key.
fn present(
    builder: &mut SslContextBuilder,
    chain: &[CertificateDer<'static>],
    key: &[u8],
) -> Result<(), HandshakeFailure> {
    let mut certificates = chain.iter().map(|c| X509::from_der(c.as_ref()));
    let leaf = certificates
        .next()
        .ok_or_else(|| HandshakeFailure::local("no certificate to present"))?
        .map_err(|e| local("certificate", e))?;
    builder
        .set_certificate(&leaf)
        .map_err(|e| local("certificate", e))?;
    for intermediate in certificates {
        builder
            .add_extra_chain_cert(intermediate.map_err(|e| local("intermediate", e))?)
            .map_err(|e| local("intermediate", e))?;
    }
    let key = PKey::private_key_from_der(key).map_err(|e| local("private key", e))?;
    builder
        .set_private_key(&key)
        .map_err(|e| local("private key", e))?;
    builder
        .check_private_key()
        .map_err(|e| local("private key", e))
}

/// Runs the server handshake over `tcp` as `setup` says.
pub(crate) async fn accept(
    tcp: CountedTcp,
    received: &ReceivedBytes,
    setup: &TlsSetup,
    limit: Duration,
) -> Result<(OpensslStream, TlsFacts), HandshakeFailure> {
    let TlsSetup::Server {
        chain,
        key,
        client_trust_anchor,
        profile,
        ..
    } = setup
    else {
        return Err(HandshakeFailure::local(
            "the OpenSSL stack serves only client-to-server streams",
        ));
    };
    if client_trust_anchor.is_some() {
        return Err(HandshakeFailure::local(
            "the OpenSSL stack does not verify client certificates",
        ));
    }
    let mut builder = context(SslMethod::tls_server(), profile)?;
    present(&mut builder, chain, key.secret_der())?;
    builder
        .set_num_tickets(0)
        .map_err(|e| local("tickets", e))?;
    let context = builder.build();
    let ssl = Ssl::new(&context).map_err(|e| local("connection", e))?;
    let mut stream = SslStream::new(ssl, tcp).map_err(|e| local("stream", e))?;
    match tokio::time::timeout(limit, Pin::new(&mut stream).accept()).await {
        Err(_) => Err(HandshakeFailure::timeout(limit, received, Vec::new())),
        Ok(Err(e)) => Err(failure(&e, "client", Vec::new(), profile)),
        Ok(Ok(())) => {
            let facts = facts(stream.ssl(), Vec::new(), profile);
            Ok((stream, facts))
        }
    }
}

/// Why the handshake failed, in the words the rustls path uses.
fn failure(
    e: &openssl::ssl::Error,
    peer: &str,
    presented_chain: Vec<String>,
    profile: &TlsProfile,
) -> HandshakeFailure {
    let reasons: Vec<String> = e
        .ssl_error()
        .map(|stack| {
            stack
                .errors()
                .iter()
                .map(|e| e.reason().unwrap_or("unknown").to_owned())
                .collect()
        })
        .unwrap_or_default();
    let text = reasons.join("; ");
    let (condition, detail) = if text.contains("alert") {
        let certificate = [
            "bad certificate",
            "unknown ca",
            "certificate",
            "unsupported cert",
        ]
        .iter()
        .any(|word| text.contains(word));
        (
            if certificate {
                "bad-certificate"
            } else {
                "tls-alert"
            },
            format!("the {peer} sent a TLS alert: {text}"),
        )
    } else if text.contains("unsupported protocol") || text.contains("wrong version number") {
        (
            "tls-error",
            format!(
                "no TLS version in common: the {peer}'s hello offered none of the versions this \
                 side allows ({profile}; {text})"
            ),
        )
    } else if text.contains("no shared cipher") {
        (
            "tls-error",
            format!(
                "no cipher suite in common: the {peer}'s hello offered none of the suites this \
                 side accepts ({text})"
            ),
        )
    } else if e.code() == ErrorCode::SYSCALL
        || e.code() == ErrorCode::ZERO_RETURN
        || text.contains("unexpected eof")
    {
        (
            "closed",
            format!("the {peer} closed the connection during the TLS handshake"),
        )
    } else {
        ("tls-error", format!("TLS handshake failed: {e}"))
    };
    let detail = match lowered(profile) {
        Some(lowered) => format!("{detail} (this side offered {profile}; {lowered})"),
        None => detail,
    };
    HandshakeFailure {
        by: Side::Peer,
        condition,
        detail,
        presented_chain,
    }
}

/// The version and suite in the spelling the rustls path uses, and the stack's own notes.
fn facts(ssl: &SslRef, presented_chain: Vec<String>, profile: &TlsProfile) -> TlsFacts {
    let version = match ssl.version2() {
        Some(SslVersion::TLS1_3) => "TLSv1_3".to_owned(),
        Some(SslVersion::TLS1_2) => "TLSv1_2".to_owned(),
        Some(SslVersion::TLS1_1) => "TLSv1_1".to_owned(),
        Some(SslVersion::TLS1) => "TLSv1_0".to_owned(),
        _ => ssl.version_str().to_owned(),
    };
    let cipher_suite = ssl
        .current_cipher()
        .map(|c| c.standard_name().unwrap_or(c.name()).to_owned())
        .unwrap_or_else(|| "unknown".into());
    let mut notes = vec![format!(
        "TLS stack: OpenSSL ({})",
        openssl::version::version()
    )];
    if let Some(lowered) = lowered(profile) {
        notes.push(format!("this side offered {profile}; {lowered}"));
    }
    if !is_tls13(ssl) {
        let ems = match ssl.extms_support() {
            Some(true) => "negotiated",
            Some(false) => "not negotiated",
            None => "unknown",
        };
        notes.push(format!(
            "extended master secret (RFC 7627): {ems}; the harness resumes no session, so \
             tls-unique is the client's Finished of this full handshake"
        ));
    }
    TlsFacts {
        version,
        cipher_suite,
        presented_chain,
        notes,
    }
}

fn is_tls13(ssl: &SslRef) -> bool {
    ssl.version2() == Some(SslVersion::TLS1_3)
}

/// The bindings of an OpenSSL connection: `tls-unique` on TLS 1.2 (RFC 5929 §3.1: the first
/// Finished message of the latest handshake, the client's on a full one), `tls-exporter` on
/// TLS 1.3 (as on the rustls path), and `tls-server-end-point` from the server's leaf
/// (`own_leaf` on the server side, the peer's on the client side).
pub(crate) fn channel_bindings(
    ssl: &SslRef,
    own_leaf: Option<&CertificateDer<'_>>,
) -> ChannelBindings {
    let mut available = Vec::new();
    let tls13 = is_tls13(ssl);
    if tls13 {
        let mut exported = vec![0; EXPORTER_LENGTH];
        if ssl
            .export_keying_material(&mut exported, EXPORTER_LABEL, None)
            .is_ok()
        {
            available.push((ChannelBindingType::TlsExporter, exported));
        }
    } else if let Some(first) = first_finished(ssl) {
        available.push((ChannelBindingType::TlsUnique, first));
    }
    let server_leaf = if ssl.is_server() {
        own_leaf.map(|leaf| leaf.as_ref().to_vec())
    } else {
        ssl.peer_certificate().and_then(|c| c.to_der().ok())
    };
    if let Some(hash) = server_leaf
        .map(CertificateDer::from)
        .as_ref()
        .and_then(server_end_point)
    {
        available.push((ChannelBindingType::TlsServerEndPoint, hash));
    }
    ChannelBindings {
        available,
        tls_unique_defined: !tls13,
    }
}

/// The first Finished message of the handshake (RFC 5929 §3.1): the client's on a full
/// handshake, the server's on a resumed one. `None` if OpenSSL has none.
pub(crate) fn first_finished(ssl: &SslRef) -> Option<Vec<u8>> {
    let own_first = ssl.is_server() == ssl.session_reused();
    let mut buffer = vec![0; FINISHED_MAX];
    let length = if own_first {
        ssl.finished(&mut buffer)
    } else {
        ssl.peer_finished(&mut buffer)
    };
    (length > 0 && length <= FINISHED_MAX).then(|| {
        buffer.truncate(length);
        buffer
    })
}
