//! The TLS handshakes of a probe, on either stack, each recording what it saw rather than
//! deciding anything.
//!
//! rustls carries the main handshake (TLS 1.2 and 1.3, SNI, ALPN on direct TLS) and the
//! one-version checks; its verifier records the chain and accepts it, so the probe can go on
//! to read the features behind a chain a client would refuse, and judges the chain afterwards
//! ([`super::chain`]). The handshake signature is still verified, so the server proved it
//! holds the leaf's key. OpenSSL (the system's libssl 3) offers what rustls cannot: TLS 1.0,
//! TLS 1.1 (RFC 8996 forbids both) and one class of TLS 1.2 suites RFC 9325 §4.1 forbids, at
//! security level 0 for that one connection, only to learn whether the server accepts them.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openssl::ssl::{Ssl, SslContext, SslMethod, SslOptions, SslVerifyMode, SslVersion};
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio_openssl::SslStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::scenario::CipherClass;
use crate::transport::tls::provider;
use crate::transport::verify::RecordingVerifier;

/// A TLS version the probe asks for on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Version {
    /// TLS 1.0 (RFC 8996 forbids it).
    #[serde(rename = "TLS 1.0")]
    Tls10,
    /// TLS 1.1 (RFC 8996 forbids it).
    #[serde(rename = "TLS 1.1")]
    Tls11,
    /// TLS 1.2.
    #[serde(rename = "TLS 1.2")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLS 1.3")]
    Tls13,
}

impl Version {
    /// As people write it.
    pub fn label(self) -> &'static str {
        match self {
            Version::Tls10 => "TLS 1.0",
            Version::Tls11 => "TLS 1.1",
            Version::Tls12 => "TLS 1.2",
            Version::Tls13 => "TLS 1.3",
        }
    }

    fn from_rustls(version: rustls::ProtocolVersion) -> Option<Version> {
        match version {
            rustls::ProtocolVersion::TLSv1_2 => Some(Version::Tls12),
            rustls::ProtocolVersion::TLSv1_3 => Some(Version::Tls13),
            _ => None,
        }
    }
}

/// What a completed rustls handshake showed.
#[derive(Debug, Clone)]
pub struct Negotiated {
    /// The version agreed.
    pub version: Option<Version>,
    /// The suite agreed, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// The ALPN protocol the server selected, if any.
    pub alpn: Option<String>,
    /// The chain the server presented, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
}

/// How one rustls handshake is set up.
#[derive(Debug, Clone)]
pub struct RustlsAttempt<'a> {
    /// Sent as SNI (the XMPP domain, XEP-0368).
    pub server_name: &'a str,
    /// The versions offered: both when empty.
    pub only: Option<Version>,
    /// The ALPN protocols offered (direct TLS only).
    pub alpn: Vec<Vec<u8>>,
}

/// Runs a rustls client handshake over `tcp`.
pub async fn rustls_handshake(
    tcp: TcpStream,
    attempt: &RustlsAttempt<'_>,
    limit: Duration,
) -> Result<(TlsStream<TcpStream>, Negotiated), String> {
    let provider = provider();
    let verifier = Arc::new(RecordingVerifier::new(Arc::clone(&provider)));
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = match attempt.only {
        Some(Version::Tls12) => vec![&rustls::version::TLS12],
        Some(Version::Tls13) => vec![&rustls::version::TLS13],
        _ => vec![&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    config.alpn_protocols = attempt.alpn.clone();
    config.resumption = rustls::client::Resumption::disabled();
    let server_name = ServerName::try_from(attempt.server_name.to_owned())
        .map_err(|e| format!("{:?} cannot be sent as SNI: {e}", attempt.server_name))?;
    let connector = TlsConnector::from(Arc::new(config));
    match tokio::time::timeout(limit, connector.connect(server_name, tcp)).await {
        Err(_) => Err(format!(
            "the TLS handshake did not complete within {limit:?}"
        )),
        Ok(Err(e)) => Err(describe_io_error(&e)),
        Ok(Ok(stream)) => {
            let (_, connection) = stream.get_ref();
            let negotiated = Negotiated {
                version: connection.protocol_version().and_then(Version::from_rustls),
                cipher_suite: connection
                    .negotiated_cipher_suite()
                    .map(|s| format!("{:?}", s.suite()))
                    .unwrap_or_else(|| "unknown".into()),
                alpn: connection
                    .alpn_protocol()
                    .map(|p| String::from_utf8_lossy(p).into_owned()),
                chain: verifier.presented(),
            };
            Ok((stream, negotiated))
        }
    }
}

fn describe_io_error(e: &std::io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::AlertReceived(alert)) => format!("the server sent TLS alert {alert:?}"),
        Some(other) => format!("TLS handshake failed: {other}"),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during the TLS handshake".into()
        }
        None => format!("TLS handshake failed: {e}"),
    }
}

/// What the probe offers on OpenSSL: one forbidden version, or one class of TLS 1.2 suites.
#[derive(Clone, Copy, Debug)]
pub enum OpensslOffer {
    /// Only this version (TLS 1.0 or 1.1), with libssl's suites for it.
    Version(Version),
    /// TLS 1.2 with only this class's suites.
    Class(CipherClass),
}

/// Whether the system's libssl can offer `class` at all (at security level 0).
pub fn can_offer(class: CipherClass) -> bool {
    SslContext::builder(SslMethod::tls_client())
        .and_then(|mut builder| {
            builder.set_security_level(0);
            builder.set_cipher_list(class.openssl_list())
        })
        .is_ok()
}

/// Offers only `offer` over `tcp` on OpenSSL; `Ok(suite)` when the server completed the
/// handshake (it accepted what the probe offered), `Err(why)` when it did not.
pub async fn openssl_handshake(
    tcp: TcpStream,
    server_name: &str,
    offer: OpensslOffer,
    limit: Duration,
) -> Result<String, String> {
    let local = |what: &str, e: openssl::error::ErrorStack| format!("OpenSSL {what}: {e}");
    let mut builder =
        SslContext::builder(SslMethod::tls_client()).map_err(|e| local("context", e))?;
    builder.set_security_level(0);
    let (lowest, highest) = match offer {
        OpensslOffer::Version(Version::Tls10) => (SslVersion::TLS1, SslVersion::TLS1),
        OpensslOffer::Version(Version::Tls11) => (SslVersion::TLS1_1, SslVersion::TLS1_1),
        OpensslOffer::Version(Version::Tls12) | OpensslOffer::Class(_) => {
            (SslVersion::TLS1_2, SslVersion::TLS1_2)
        }
        OpensslOffer::Version(Version::Tls13) => (SslVersion::TLS1_3, SslVersion::TLS1_3),
    };
    builder
        .set_min_proto_version(Some(lowest))
        .and_then(|()| builder.set_max_proto_version(Some(highest)))
        .map_err(|e| local("protocol versions", e))?;
    if let OpensslOffer::Class(class) = offer {
        builder
            .set_cipher_list(class.openssl_list())
            .map_err(|e| local("cipher list", e))?;
    }
    builder.set_options(SslOptions::NO_TICKET | SslOptions::NO_RENEGOTIATION);
    // Nothing about the chain is decided here: only whether the server agrees to the offer.
    builder.set_verify(SslVerifyMode::NONE);
    let context = builder.build();
    let mut ssl = Ssl::new(&context).map_err(|e| local("connection", e))?;
    ssl.set_hostname(server_name)
        .map_err(|e| local("server name", e))?;
    let mut stream = SslStream::new(ssl, tcp).map_err(|e| local("stream", e))?;
    match tokio::time::timeout(limit, Pin::new(&mut stream).connect()).await {
        Err(_) => Err(format!("no handshake within {limit:?}")),
        Ok(Err(e)) => Err(match e.ssl_error() {
            Some(stack) => stack
                .errors()
                .iter()
                .filter_map(|e| e.reason())
                .collect::<Vec<_>>()
                .join("; "),
            None => e.to_string(),
        }),
        Ok(Ok(())) => {
            let suite = stream
                .ssl()
                .current_cipher()
                .map(|c| c.standard_name().unwrap_or(c.name()).to_owned())
                .unwrap_or_else(|| "unknown".into());
            let _ = tokio::time::timeout(limit, stream.shutdown()).await;
            Ok(suite)
        }
    }
}
