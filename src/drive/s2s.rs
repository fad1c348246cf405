//! Runs server-to-server sessions over a transport: originating, receiving, and the dialback
//! verification connection to an authoritative server (XEP-0220 §2.1.2), with the same drive
//! loop, time limits and transcript as c2s.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use super::{Extras, Reached, Transcript, disable_nagle, drive, upgrade};
use crate::error::HarnessError;
use crate::proto::s2s::authority::{AuthorityConfig, AuthoritySession, VerifySession};
use crate::proto::s2s::originating::{OriginatingConfig, OriginatingSession};
use crate::proto::s2s::receiving::{ReceivingConfig, ReceivingSession};
use crate::proto::s2s::{DialbackAnswer, DialbackRequest, PeerCertificate};
use crate::proto::xml::Limits;
use crate::proto::{Direction, SessionEnd};
use crate::scenario::{TIMEOUT, Transport};
use crate::transport::{Connection, TlsSetup};

/// Where the authoritative servers of domains listen (what DNS would say for real servers),
/// and the TLS settings for a verification connection to one that offers STARTTLS.
#[derive(Debug, Clone, Default)]
pub struct Authorities {
    routes: Vec<Route>,
    /// The first environment error a verification connection met (for example another
    /// server than the one the harness started answered): shared by the clones, so that the
    /// stream whose key was being verified ends as that error instead of being judged.
    broken: Arc<Mutex<Option<HarnessError>>>,
}

#[derive(Debug, Clone)]
struct Route {
    domain: String,
    address: SocketAddr,
    tls: Option<TlsSetup>,
}

impl Authorities {
    /// No authoritative server known.
    pub fn new() -> Authorities {
        Authorities::default()
    }

    /// The same, plus `domain`'s authoritative server at `address` (which never offers TLS).
    pub fn with(self, domain: &str, address: SocketAddr) -> Authorities {
        self.route(domain, address, None)
    }

    /// The same, plus `domain`'s authoritative server at `address`, reached with STARTTLS
    /// and `tls` (an originating-side setup) when it offers it.
    pub fn with_tls(self, domain: &str, address: SocketAddr, tls: TlsSetup) -> Authorities {
        self.route(domain, address, Some(tls))
    }

    fn route(mut self, domain: &str, address: SocketAddr, tls: Option<TlsSetup>) -> Authorities {
        self.routes.push(Route {
            domain: domain.to_ascii_lowercase(),
            address,
            tls,
        });
        self
    }

    fn note_broken(&self, error: HarnessError) {
        if let Ok(mut broken) = self.broken.lock() {
            broken.get_or_insert(error);
        }
    }

    /// Takes the first environment error noted by any clone.
    fn broken(&self) -> Option<HarnessError> {
        self.broken.lock().ok().and_then(|mut broken| broken.take())
    }

    fn find(&self, domain: &str) -> Option<&Route> {
        let domain = domain.to_ascii_lowercase();
        self.routes.iter().find(|route| route.domain == domain)
    }
}

/// Connects to `address` and runs an originating session there.
pub async fn originate(
    address: SocketAddr,
    config: OriginatingConfig,
    tls: &TlsSetup,
    timeout: Duration,
    transcript: &Transcript,
) -> Result<SessionEnd, HarnessError> {
    transcript.record(
        Direction::Note,
        format!(
            "originating a server-to-server stream from {} to {} at {address}",
            config.local_domain, config.remote_domain
        ),
    );
    let mut connection = match super::connect(address, timeout, transcript).await? {
        Reached::Ready(connection) => connection,
        Reached::Ended(end) => return Ok(end),
    };
    let direct_tls = config.transport == Transport::DirectTls;
    if direct_tls
        && let Reached::Ended(end) =
            upgrade(&mut connection, tls, true, timeout, transcript).await?
    {
        return Ok(end);
    }
    let mut session = OriginatingSession::new(config, direct_tls);
    drive(
        &mut session,
        &mut connection,
        tls,
        true,
        timeout,
        transcript,
        Extras::default(),
    )
    .await
}

/// Runs a receiving session on an accepted connection; dialback keys are checked with
/// `authorities`.
pub async fn receive(
    tcp: TcpStream,
    config: ReceivingConfig,
    tls: &TlsSetup,
    direct_tls: bool,
    authorities: &Authorities,
    timeout: Duration,
    transcript: &Transcript,
) -> Result<SessionEnd, HarnessError> {
    if let Ok(peer) = tcp.peer_addr() {
        transcript.record(
            Direction::Note,
            format!("accepted a server-to-server connection from {peer}"),
        );
    }
    disable_nagle(&tcp, transcript);
    let mut connection = Connection::Plain(tcp);
    let mut peer_certificate = None;
    if direct_tls {
        if let Reached::Ended(end) =
            upgrade(&mut connection, tls, false, timeout, transcript).await?
        {
            return Ok(end);
        }
        peer_certificate = connection.s2s_peer_certificate(tls);
        note_peer_certificate(peer_certificate.as_ref(), tls, transcript);
    }
    let mut session = ReceivingSession::new(config, direct_tls, peer_certificate);
    let end = drive(
        &mut session,
        &mut connection,
        tls,
        false,
        timeout,
        transcript,
        Extras {
            authorities: Some(authorities),
            ..Extras::default()
        },
    )
    .await?;
    // A verification that broke the harness decided nothing about the peer.
    match authorities.broken() {
        Some(error) => Err(error),
        None => Ok(end),
    }
}

/// Serves `<db:verify/>` on every connection to `listener`, one at a time, until the task
/// running it is stopped. `tls` (a receiving-side setup) serves STARTTLS when the config
/// offers it.
pub async fn serve_authority(
    listener: TcpListener,
    config: AuthorityConfig,
    tls: TlsSetup,
    timeout: Duration,
    transcript: Transcript,
) {
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            transcript.record(Direction::Note, "the authoritative server cannot accept");
            return;
        };
        transcript.record(
            Direction::Note,
            format!(
                "authoritative server of {}: verification connection from {peer}",
                config.domain
            ),
        );
        disable_nagle(&tcp, &transcript);
        let mut connection = Connection::Plain(tcp);
        let mut session = AuthoritySession::new(config.clone());
        let end = drive(
            &mut session,
            &mut connection,
            &tls,
            false,
            timeout,
            &transcript,
            Extras::default(),
        )
        .await;
        let text = match end {
            Ok(end) => format!("authoritative server's own view: {end}"),
            Err(e) => format!("authoritative server broke: {e}"),
        };
        transcript.record(Direction::Note, text);
    }
}

/// Notes what the receiving side learnt about the originating server's certificate.
pub(super) fn note_peer_certificate(
    certificate: Option<&PeerCertificate>,
    tls: &TlsSetup,
    transcript: &Transcript,
) {
    if !matches!(tls, TlsSetup::S2sReceiving { .. }) {
        return;
    }
    let text = match certificate {
        None => "the originating server presented no certificate".to_owned(),
        Some(PeerCertificate {
            chain_problem: None,
            ..
        }) => "the originating server's certificate chain verified".to_owned(),
        Some(PeerCertificate {
            chain_problem: Some(problem),
            ..
        }) => format!("the originating server's certificate chain does not verify: {problem}"),
    };
    transcript.record(Direction::Note, text);
}

/// Asks the authoritative server of the request's originating domain about the key, on a
/// connection of its own. Boxed: it runs a drive loop from inside one.
pub(super) fn ask_authority<'a>(
    authorities: Option<&'a Authorities>,
    request: DialbackRequest,
    tls: &'a TlsSetup,
    timeout: Duration,
    transcript: &'a Transcript,
) -> Pin<Box<dyn Future<Output = DialbackAnswer> + Send + 'a>> {
    Box::pin(async move {
        let domain = request.originating.clone();
        let Some(route) = authorities.and_then(|a| a.find(&domain)) else {
            return DialbackAnswer::Failed {
                condition: "remote-server-not-found".into(),
                detail: format!("no authoritative server is known for {domain}"),
            };
        };
        transcript.record(
            Direction::Note,
            format!(
                "dialback: connecting to the authoritative server of {domain} at {}",
                route.address
            ),
        );
        let address = route.address;
        let tls = route.tls.as_ref().unwrap_or(tls);
        let tcp = match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => {
                return DialbackAnswer::Failed {
                    condition: "remote-server-not-found".into(),
                    detail: format!("cannot connect to the authoritative server of {domain}: {e}"),
                };
            }
            Err(_) => {
                return DialbackAnswer::Failed {
                    condition: "remote-server-timeout".into(),
                    detail: format!("no connection to the authoritative server of {domain}"),
                };
            }
        };
        disable_nagle(&tcp, transcript);
        let mut connection = Connection::Plain(tcp);
        let mut session = VerifySession::new(request, Limits::default());
        let end = drive(
            &mut session,
            &mut connection,
            tls,
            true,
            timeout,
            transcript,
            Extras::default(),
        )
        .await;
        let answer = match end {
            Ok(SessionEnd::S2sAuthenticated { .. }) => DialbackAnswer::Valid,
            Ok(SessionEnd::Rejected { condition, .. }) if condition == "invalid" => {
                DialbackAnswer::Invalid
            }
            Ok(SessionEnd::Rejected {
                condition, detail, ..
            }) => DialbackAnswer::Failed {
                condition: if condition == TIMEOUT {
                    "remote-server-timeout".into()
                } else {
                    "remote-server-not-found".into()
                },
                detail: format!("the authoritative server of {domain} gave no answer: {detail}"),
            },
            Ok(end @ (SessionEnd::Authenticated { .. } | SessionEnd::MessageReceived { .. })) => {
                DialbackAnswer::Failed {
                    condition: "undefined-condition".into(),
                    detail: format!("a verification connection ended as a c2s session: {end}"),
                }
            }
            Err(e) => {
                let detail = e.to_string();
                if let Some(authorities) = authorities {
                    authorities.note_broken(e);
                }
                DialbackAnswer::Failed {
                    condition: "remote-server-not-found".into(),
                    detail,
                }
            }
        };
        transcript.record(
            Direction::Note,
            format!("dialback: the authoritative server of {domain} answered {answer:?}"),
        );
        answer
    })
}

/// Serves every server-to-server connection to `listener` as the receiving server of
/// `config.local_domain` (concurrently: a real peer may open a second stream while the first
/// waits), sending each session's end to `ends`, until the task running it is stopped; the
/// sessions stop with it.
pub async fn serve_domain(
    listener: TcpListener,
    config: ReceivingConfig,
    tls: TlsSetup,
    authorities: Authorities,
    timeout: Duration,
    transcript: Transcript,
    ends: tokio::sync::mpsc::UnboundedSender<Result<SessionEnd, HarnessError>>,
) {
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            transcript.record(
                Direction::Note,
                format!("{} cannot accept connections", config.local_domain),
            );
            return;
        };
        let (config, tls, authorities) = (config.clone(), tls.clone(), authorities.clone());
        let (transcript, ends) = (transcript.clone(), ends.clone());
        sessions.spawn(async move {
            let end = receive(tcp, config, &tls, false, &authorities, timeout, &transcript).await;
            let _ = ends.send(end);
        });
    }
}
