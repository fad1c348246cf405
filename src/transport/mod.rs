//! Tokio TCP, STARTTLS and direct TLS, timeouts and what the handshake showed.
//!
//! A [`Connection`] starts as plain TCP and can be upgraded to TLS in place, as STARTTLS
//! requires (RFC 6120 §5.4.3.3), or be wrapped in TLS from the first byte (XEP-0368). Every read
//! takes a time limit; the caller decides what a timeout means. TLS secrets can be logged for
//! decrypting captures ([`keylog`]). TLS runs on rustls (tokio-rustls) unless the case's
//! [`TlsProfile`](crate::scenario::TlsProfile) names OpenSSL ([`openssl_stack`]), which the
//! harness uses only for what rustls cannot do (`tls-unique`).

pub mod binding;
mod counted;
pub mod keylog;
pub mod openssl_stack;
pub mod peer;
pub mod tls;
pub mod verify;
mod weak_rsa;
pub mod xmpp_stream;

use std::io;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

pub use tls::{HandshakeFailure, TlsFacts, TlsSetup};

use counted::CountedTcp;

use crate::pki::identity::{PresentedIdentity, presented_identities};
use crate::proto::sasl::{ChannelBindings, VerifiedClientCertificate};
use crate::scenario::TlsStack;

/// Size of one read from the socket.
const READ_CHUNK: usize = 16 * 1024;

/// What a read produced.
#[derive(Debug)]
pub enum ReadOutcome {
    /// Some bytes arrived.
    Data(Vec<u8>),
    /// The peer closed its side of the connection.
    Closed,
    /// Nothing arrived within the time limit.
    TimedOut,
}

/// A stream that is plain TCP, client-side TLS or server-side TLS.
#[derive(Debug)]
pub enum Connection {
    /// Unencrypted TCP.
    Plain(TcpStream),
    /// TLS where this side is the client.
    ClientTls(Box<tokio_rustls::client::TlsStream<CountedTcp>>),
    /// TLS where this side is the server.
    ServerTls(Box<tokio_rustls::server::TlsStream<CountedTcp>>),
    /// TLS over OpenSSL, either side.
    Openssl(Box<openssl_stack::OpensslStream>),
    /// The connection was consumed by a failed upgrade.
    Gone,
}

impl Connection {
    /// Whether the stream is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(
            self,
            Connection::ClientTls(_) | Connection::ServerTls(_) | Connection::Openssl(_)
        )
    }

    /// Reads whatever arrives next, waiting at most `limit`.
    pub async fn read(&mut self, limit: Duration) -> io::Result<ReadOutcome> {
        let mut buf = vec![0u8; READ_CHUNK];
        let read = async {
            match self {
                Connection::Plain(s) => s.read(&mut buf).await,
                Connection::ClientTls(s) => s.read(&mut buf).await,
                Connection::ServerTls(s) => s.read(&mut buf).await,
                Connection::Openssl(s) => s.read(&mut buf).await,
                Connection::Gone => Err(gone()),
            }
        };
        match tokio::time::timeout(limit, read).await {
            Err(_) => Ok(ReadOutcome::TimedOut),
            Ok(Ok(0)) => Ok(ReadOutcome::Closed),
            Ok(Ok(n)) => {
                buf.truncate(n);
                Ok(ReadOutcome::Data(buf))
            }
            Ok(Err(e)) if is_close(&e) => Ok(ReadOutcome::Closed),
            Ok(Err(e)) => Err(e),
        }
    }

    /// Writes all of `bytes` and flushes, waiting at most `limit`.
    pub async fn write_all(&mut self, bytes: &[u8], limit: Duration) -> io::Result<()> {
        let write = async {
            match self {
                Connection::Plain(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
                Connection::ClientTls(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
                Connection::ServerTls(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
                Connection::Openssl(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
                Connection::Gone => Err(gone()),
            }
        };
        match tokio::time::timeout(limit, write).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer did not read what was sent",
            )),
        }
    }

    /// Closes the write side (sending TLS close_notify first when encrypted).
    pub async fn shutdown(&mut self, limit: Duration) {
        let shutdown = async {
            match self {
                Connection::Plain(s) => s.shutdown().await,
                Connection::ClientTls(s) => s.shutdown().await,
                Connection::ServerTls(s) => s.shutdown().await,
                Connection::Openssl(s) => s.shutdown().await,
                Connection::Gone => Ok(()),
            }
        };
        // A peer that already went away makes shutdown fail; there is nothing left to report.
        let _ = tokio::time::timeout(limit, shutdown).await;
    }

    /// The channel binding data of this connection (empty when it is not TLS). `own_leaf` is
    /// this side's certificate, needed for `tls-server-end-point` on the server side.
    pub fn channel_bindings(&self, own_leaf: Option<&CertificateDer<'_>>) -> ChannelBindings {
        match self {
            Connection::ClientTls(stream) => {
                let (_, connection) = stream.get_ref();
                let leaf = connection.peer_certificates().and_then(|c| c.first());
                binding::channel_bindings(&binding::ExporterSource::Client(connection), leaf)
            }
            Connection::ServerTls(stream) => {
                let (_, connection) = stream.get_ref();
                binding::channel_bindings(&binding::ExporterSource::Server(connection), own_leaf)
            }
            Connection::Openssl(stream) => openssl_stack::channel_bindings(stream.ssl(), own_leaf),
            Connection::Plain(_) | Connection::Gone => ChannelBindings::default(),
        }
    }

    /// On the server side, the client certificate the handshake verified (rustls only completes
    /// a handshake whose client certificate passed the verifier), with its XmppAddrs; `None`
    /// when the client presented none, and on the client side.
    pub fn client_certificate(&self) -> Option<VerifiedClientCertificate> {
        let Connection::ServerTls(stream) = self else {
            return None;
        };
        let (_, connection) = stream.get_ref();
        let leaf = connection.peer_certificates()?.first()?;
        let xmpp_addrs = presented_identities(leaf)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|identity| match identity {
                PresentedIdentity::XmppAddr(jid) => Some(jid),
                _ => None,
            })
            .collect();
        Some(VerifiedClientCertificate { xmpp_addrs })
    }

    /// On the server side of a server-to-server stream ([`TlsSetup::S2sReceiving`]), the
    /// certificate the originating server presented, judged against the setup's peer trust
    /// anchor; `None` otherwise, or when it presented none.
    pub fn s2s_peer_certificate(
        &self,
        setup: &TlsSetup,
    ) -> Option<crate::proto::s2s::PeerCertificate> {
        let (
            Connection::ServerTls(stream),
            TlsSetup::S2sReceiving {
                peer_trust_anchor, ..
            },
        ) = (self, setup)
        else {
            return None;
        };
        let (_, connection) = stream.get_ref();
        peer::s2s_peer_certificate(connection.peer_certificates()?, peer_trust_anchor)
    }

    /// Upgrades a plain connection to TLS as the client (STARTTLS or direct TLS).
    pub async fn upgrade_to_client_tls(
        &mut self,
        setup: &TlsSetup,
        limit: Duration,
    ) -> Result<TlsFacts, HandshakeFailure> {
        let Connection::Plain(tcp) = std::mem::replace(self, Connection::Gone) else {
            return Err(HandshakeFailure::local("the connection is not plain TCP"));
        };
        if setup.profile().stack == TlsStack::Openssl {
            let (tcp, received) = CountedTcp::new(tcp);
            let (stream, facts) = openssl_stack::connect(tcp, &received, setup, limit).await?;
            *self = Connection::Openssl(Box::new(stream));
            return Ok(facts);
        }
        let (config, server_name, recorder) = setup.client()?;
        let connector = TlsConnector::from(config);
        let address = tcp
            .peer_addr()
            .map_or_else(|_| "an unknown address".to_owned(), |a| a.to_string());
        let (tcp, received) = CountedTcp::new(tcp);
        let handshake = tokio::time::timeout(limit, connector.connect(server_name, tcp)).await;
        // Before anything about the peer is judged: is it the server the harness started?
        if let (Some(provisioned), Some(leaf)) =
            (setup.provisioned_leaf(), recorder.presented().first())
            && leaf != provisioned
        {
            return Err(HandshakeFailure::not_provisioned(
                &address,
                leaf,
                provisioned,
            ));
        }
        match handshake {
            Err(_) => Err(HandshakeFailure::timeout(
                limit,
                &received,
                recorder.presented(),
            )),
            Ok(Err(e)) => Err(HandshakeFailure::from_client_error(
                &e,
                recorder.presented(),
            )),
            Ok(Ok(stream)) => {
                let facts = TlsFacts::from_client(&stream, recorder.presented());
                *self = Connection::ClientTls(Box::new(stream));
                Ok(facts)
            }
        }
    }

    /// Upgrades a plain connection to TLS as the server (STARTTLS or direct TLS).
    pub async fn upgrade_to_server_tls(
        &mut self,
        setup: &TlsSetup,
        limit: Duration,
    ) -> Result<TlsFacts, HandshakeFailure> {
        let Connection::Plain(tcp) = std::mem::replace(self, Connection::Gone) else {
            return Err(HandshakeFailure::local("the connection is not plain TCP"));
        };
        if setup.profile().stack == TlsStack::Openssl {
            let (tcp, received) = CountedTcp::new(tcp);
            let (stream, facts) = openssl_stack::accept(tcp, &received, setup, limit).await?;
            *self = Connection::Openssl(Box::new(stream));
            return Ok(facts);
        }
        let acceptor = TlsAcceptor::from(setup.server()?);
        let (tcp, received) = CountedTcp::new(tcp);
        match tokio::time::timeout(limit, acceptor.accept(tcp)).await {
            Err(_) => Err(HandshakeFailure::timeout(limit, &received, Vec::new())),
            Ok(Err(e)) => Err(HandshakeFailure::from_server_error(&e)),
            Ok(Ok(stream)) => {
                let facts = TlsFacts::from_server(&stream);
                *self = Connection::ServerTls(Box::new(stream));
                Ok(facts)
            }
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "connection lost in a failed TLS upgrade",
    )
}

/// Errors that only mean the peer went away.
fn is_close(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}
