//! The few XMPP stream steps taken without a session: send an initial stream header, read
//! the response header and the stream features, ask for STARTTLS and read `<proceed/>`. The
//! probe reads a service's features with it, and an external target's pre-flight reaches the
//! TLS handshake that shows the chain it serves. Bytes are parsed by proto's restricted XML
//! parser ([`StreamParser`]); every read is bounded by the caller's step timeout, and the
//! parser's limits bound what a peer can make the caller buffer.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::pki::Service;
use crate::proto::NS_TLS;
use crate::proto::xml::{Element, Limits, StreamEvent, StreamHeader, StreamParser, XmlError};

/// The dialback namespace an originating server declares on its stream header (XEP-0220).
const NS_DIALBACK: &str = "jabber:server:dialback";

/// What went wrong on the stream, in the peer's terms.
#[derive(Debug, thiserror::Error)]
pub enum StreamFailure {
    /// The peer did not answer within the step's time limit.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The peer closed the connection.
    #[error("the peer closed the connection")]
    Closed,
    /// The peer sent something that is not a well-formed XMPP stream.
    #[error("not an XMPP stream: {0}")]
    Xml(#[from] XmlError),
    /// The socket failed.
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent a stream error or closed the stream instead of what was asked for.
    #[error("{0}")]
    Refused(String),
}

/// The response header and the features the receiving entity announced.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The response stream header.
    pub header: StreamHeader,
    /// `<stream:features/>`.
    pub features: Element,
}

/// An XMPP stream over any byte stream (TCP, or TLS on either stack).
pub struct XmppStream<S> {
    io: S,
    parser: StreamParser,
    limit: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> XmppStream<S> {
    /// A stream over `io` whose every read waits at most `limit`.
    pub fn new(io: S, limit: Duration) -> XmppStream<S> {
        XmppStream {
            io,
            parser: StreamParser::new(Limits::default()),
            limit,
        }
    }

    /// The byte stream back, for a TLS handshake after `<proceed/>`.
    pub fn into_inner(self) -> S {
        self.io
    }

    /// Sends the initial stream header for `domain` and reads the response header and features.
    pub async fn open(&mut self, domain: &str, service: Service) -> Result<Opened, StreamFailure> {
        let header = initial_header(domain, service);
        self.write(header.as_bytes()).await?;
        let header = match self.next_event().await? {
            StreamEvent::Header(header) => header,
            StreamEvent::Element(element) => {
                return Err(StreamFailure::Refused(format!(
                    "<{}/> before the stream header",
                    element.name
                )));
            }
            StreamEvent::Closed => return Err(StreamFailure::Closed),
        };
        loop {
            match self.next_event().await? {
                StreamEvent::Element(element) if element.name == "features" => {
                    return Ok(Opened {
                        header,
                        features: element,
                    });
                }
                StreamEvent::Element(element) if element.name == "error" => {
                    let (condition, text) = crate::proto::xml::parse_stream_error(&element);
                    return Err(StreamFailure::Refused(match text {
                        Some(text) => format!("stream error <{condition}/>: {text}"),
                        None => format!("stream error <{condition}/>"),
                    }));
                }
                StreamEvent::Element(_) => {}
                StreamEvent::Header(_) => {
                    return Err(StreamFailure::Refused("a second stream header".into()));
                }
                StreamEvent::Closed => return Err(StreamFailure::Closed),
            }
        }
    }

    /// Sends `<starttls/>` and waits for `<proceed/>`; `Ok(false)` on `<failure/>`.
    pub async fn starttls(&mut self) -> Result<bool, StreamFailure> {
        self.write(format!("<starttls xmlns='{NS_TLS}'/>").as_bytes())
            .await?;
        loop {
            match self.next_event().await? {
                StreamEvent::Element(element) if element.is("proceed", NS_TLS) => {
                    // Bytes after <proceed/> would be injected into the TLS layer; the probe
                    // starts the handshake on a fresh reading of the socket either way.
                    self.parser.restart();
                    return Ok(true);
                }
                StreamEvent::Element(element) if element.is("failure", NS_TLS) => {
                    return Ok(false);
                }
                StreamEvent::Element(_) => {}
                StreamEvent::Header(_) => {
                    return Err(StreamFailure::Refused("a second stream header".into()));
                }
                StreamEvent::Closed => return Err(StreamFailure::Closed),
            }
        }
    }

    /// Closes the stream politely and the write side of the connection.
    pub async fn close(&mut self) {
        let _ = self.write(crate::proto::xml::STREAM_CLOSE.as_bytes()).await;
        // A peer that already went away makes shutdown fail; nothing is left to learn.
        let _ = tokio::time::timeout(self.limit, self.io.shutdown()).await;
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), StreamFailure> {
        match tokio::time::timeout(self.limit, async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        })
        .await
        {
            Ok(result) => Ok(result?),
            Err(_) => Err(StreamFailure::Timeout(self.limit)),
        }
    }

    async fn next_event(&mut self) -> Result<StreamEvent, StreamFailure> {
        let deadline = tokio::time::Instant::now() + self.limit;
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            if let Some(event) = self.parser.next_event()? {
                return Ok(event);
            }
            let read = tokio::time::timeout_at(deadline, self.io.read(&mut buffer)).await;
            match read {
                Err(_) => return Err(StreamFailure::Timeout(self.limit)),
                Ok(Ok(0)) => return Err(StreamFailure::Closed),
                Ok(Ok(n)) => self.parser.feed(&buffer[..n]),
                Ok(Err(e)) => return Err(e.into()),
            }
        }
    }
}

/// The initial stream header for `domain`: `jabber:client` or `jabber:server` (with the
/// dialback namespace declared, so a server that offers dialback can say so).
fn initial_header(domain: &str, service: Service) -> String {
    let header = StreamHeader {
        default_ns: match service {
            Service::Client => "jabber:client".into(),
            Service::Server => "jabber:server".into(),
        },
        to: Some(domain.to_owned()),
        version: Some("1.0".into()),
        ..StreamHeader::default()
    }
    .to_xml();
    match service {
        Service::Client => header,
        Service::Server => header.replacen(
            "<stream:stream",
            &format!("<stream:stream xmlns:db='{NS_DIALBACK}'"),
            1,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn features_are_read_after_the_response_header_rfc6120_4_3_2() {
        let (client, mut server) = tokio::io::duplex(4096);
        let peer = tokio::spawn(async move {
            let mut seen = vec![0u8; 1024];
            let n = server.read(&mut seen).await.unwrap();
            let header = String::from_utf8_lossy(&seen[..n]).into_owned();
            server
                .write_all(
                    b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
                      xmlns:stream='http://etherx.jabber.org/streams' from='a.test' id='1' \
                      version='1.0'><stream:features><dialback xmlns='urn:xmpp:features:dialback'/>\
                      </stream:features>",
                )
                .await
                .unwrap();
            header
        });
        let mut stream = XmppStream::new(client, Duration::from_secs(5));
        let opened = stream.open("a.test", Service::Server).await.unwrap();
        assert_eq!(opened.header.default_ns, "jabber:server");
        assert!(
            opened
                .features
                .child("dialback", "urn:xmpp:features:dialback")
                .is_some()
        );
        let sent = peer.await.unwrap();
        assert!(sent.contains("xmlns:db='jabber:server:dialback'"), "{sent}");
        assert!(sent.contains("to='a.test'"), "{sent}");
    }
}
