//! Runs one XMPP session over a transport: the harness as initiator (client) or responder
//! (server), and the built-in targets with the same code.
//!
//! The drive loop moves bytes between a [`Connection`] and a sans-IO [`Session`], performs the
//! TLS upgrades the session asks for, and stamps every transcript line with the time since the
//! case started.
//!
//! Every network step has a deadline counted from its start, not only an idle timeout: a peer
//! that trickles one byte a second would otherwise hold a case forever. A step starts when the
//! session moves to another [`Step`] or waits for something else, and each time this side sends
//! (so each SASL round trip is a step of its own); connecting and each TLS handshake are bounded
//! as a whole. A step that runs past its deadline ends as `timeout`, with the byte count and the
//! first bytes that arrived during it in the detail.

pub mod messaging;
pub mod misbehaviour;
pub mod s2s;
pub mod transcript;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::error::HarnessError;
use crate::proto::client::{ClientConfig, ClientSession};
use crate::proto::sasl::ChannelBindings;
use crate::proto::server::{ServerConfig, ServerSession};
use crate::proto::{Action, Direction, Session, SessionEnd, Side, TlsChannel};
use crate::scenario::{Step, TIMEOUT, Transport};
use crate::transport::{Connection, ReadOutcome, TlsSetup};
pub use transcript::{Transcript, TranscriptLine};

/// How long to wait for the peer's own close after this side closed.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// How many of the bytes that arrived during a step that timed out its detail shows.
const SHOWN_BYTES: usize = 64;

/// The deadline of the current step, and what arrived during it.
struct StepClock {
    /// How long a step may take.
    limit: Duration,
    /// When the current step started.
    started: tokio::time::Instant,
    /// The step and what the session waited for when it started.
    key: (Step, &'static str),
    /// Bytes that arrived during the step.
    arrived: usize,
    /// The first of them, up to [`SHOWN_BYTES`].
    first: Vec<u8>,
}

impl StepClock {
    fn new(limit: Duration, key: (Step, &'static str)) -> StepClock {
        StepClock {
            limit,
            started: tokio::time::Instant::now(),
            key,
            arrived: 0,
            first: Vec::new(),
        }
    }

    /// Starts a new step when `key` differs from the current one or `sent` says this side
    /// started a round trip.
    fn observe(&mut self, key: (Step, &'static str), sent: bool) {
        if sent || key != self.key {
            *self = StepClock::new(self.limit, key);
        }
    }

    /// Time left before the deadline (zero once it passed).
    fn left(&self) -> Duration {
        (self.started + self.limit).saturating_duration_since(tokio::time::Instant::now())
    }

    fn arrive(&mut self, bytes: &[u8]) {
        self.arrived += bytes.len();
        let room = SHOWN_BYTES.saturating_sub(self.first.len());
        self.first
            .extend_from_slice(&bytes[..room.min(bytes.len())]);
    }

    /// Why the step timed out, for a human: how long, what for, and what arrived meanwhile.
    fn timed_out(&self, waiting_for: &str) -> String {
        if self.arrived == 0 {
            return format!(
                "nothing arrived for {:?} while waiting for {waiting_for}",
                self.limit
            );
        }
        let more = if self.arrived > self.first.len() {
            "…"
        } else {
            ""
        };
        format!(
            "the {} step ran past its deadline of {:?} while waiting for {waiting_for}: {} \
             bytes arrived during it, starting \"{}{more}\"",
            self.key.0,
            self.limit,
            self.arrived,
            self.first.escape_ascii()
        )
    }
}

/// How far setting up a session's connection got: ready for the session, or the session
/// already ended for a protocol reason (a timeout, a refused TLS handshake), which is judged
/// like any other end.
pub(crate) enum Reached<T> {
    /// Set up; the session can run.
    Ready(T),
    /// The session ended before it started.
    Ended(SessionEnd),
}

/// Opens a TCP connection to `address` (Nagle off): ended with a timeout at the connect step
/// when nothing answers within `timeout`; a refused connection is an environment error (the
/// target is not where its definition says).
pub(crate) async fn connect(
    address: SocketAddr,
    timeout: Duration,
    transcript: &Transcript,
) -> Result<Reached<Connection>, HarnessError> {
    match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Ok(Ok(tcp)) => {
            disable_nagle(&tcp, transcript);
            Ok(Reached::Ready(Connection::Plain(tcp)))
        }
        Ok(Err(e)) => Err(HarnessError::io(format!("cannot connect to {address}"), e)),
        Err(_) => Ok(Reached::Ended(SessionEnd::Rejected {
            step: Step::Connect,
            condition: TIMEOUT.into(),
            by: Side::Peer,
            detail: format!("no TCP connection to {address} within {timeout:?}"),
        })),
    }
}

/// Connects to `address` and runs a client session there.
pub async fn initiate(
    address: SocketAddr,
    config: ClientConfig,
    tls: &TlsSetup,
    timeout: Duration,
    transcript: &Transcript,
) -> Result<SessionEnd, HarnessError> {
    let (mut connection, bindings) =
        match open_client_connection(address, config.transport, tls, timeout, transcript).await? {
            Reached::Ready(opened) => opened,
            Reached::Ended(end) => return Ok(end),
        };
    let mut session = ClientSession::new(config, bindings);
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

/// A client's connection before its session starts, with the channel bindings of a TLS
/// connection set up before the session (direct TLS).
type ClientConnection = (Connection, Option<ChannelBindings>);

/// Connects to `address` for a client session; with direct TLS (XEP-0368) the handshake runs
/// first. Ended when either failed for a protocol reason.
async fn open_client_connection(
    address: SocketAddr,
    transport: Transport,
    tls: &TlsSetup,
    timeout: Duration,
    transcript: &Transcript,
) -> Result<Reached<ClientConnection>, HarnessError> {
    transcript.record(Direction::Note, format!("connecting to {address}"));
    let mut connection = match connect(address, timeout, transcript).await? {
        Reached::Ready(connection) => connection,
        Reached::Ended(end) => return Ok(Reached::Ended(end)),
    };
    let mut bindings = None;
    if transport == Transport::DirectTls {
        match upgrade(&mut connection, tls, true, timeout, transcript).await? {
            Reached::Ready(established) => bindings = Some(established.bindings),
            Reached::Ended(end) => return Ok(Reached::Ended(end)),
        }
    }
    Ok(Reached::Ready((connection, bindings)))
}

/// Runs a server session on an accepted connection. `direct_tls` runs the handshake first.
pub async fn respond(
    tcp: TcpStream,
    config: ServerConfig,
    tls: &TlsSetup,
    direct_tls: bool,
    timeout: Duration,
    transcript: &Transcript,
) -> Result<SessionEnd, HarnessError> {
    if let Ok(peer) = tcp.peer_addr() {
        transcript.record(
            Direction::Note,
            format!("accepted a connection from {peer}"),
        );
    }
    disable_nagle(&tcp, transcript);
    let mut connection = Connection::Plain(tcp);
    let mut channel = None;
    if direct_tls {
        match upgrade(&mut connection, tls, false, timeout, transcript).await? {
            Reached::Ready(established) => channel = Some(established),
            Reached::Ended(end) => return Ok(end),
        }
    }
    let mut session = ServerSession::new(config, channel);
    drive(
        &mut session,
        &mut connection,
        tls,
        false,
        timeout,
        transcript,
        Extras::default(),
    )
    .await
}

/// XMPP is a conversation of small messages: waiting to coalesce them (Nagle's algorithm
/// against the peer's delayed ACK) would add 40 ms to every round trip.
fn disable_nagle(tcp: &TcpStream, transcript: &Transcript) {
    if let Err(e) = tcp.set_nodelay(true) {
        transcript.record(
            Direction::Note,
            format!("cannot disable Nagle's algorithm: {e}"),
        );
    }
}

/// Upgrades to TLS: ready with what the connection gives the session, or ended when the
/// handshake failed for a protocol reason.
async fn upgrade(
    connection: &mut Connection,
    tls: &TlsSetup,
    as_client: bool,
    timeout: Duration,
    transcript: &Transcript,
) -> Result<Reached<TlsChannel>, HarnessError> {
    transcript.record(Direction::Note, "TLS handshake starts");
    transcript.note_step(Step::Tls);
    let result = if as_client {
        connection.upgrade_to_client_tls(tls, timeout).await
    } else {
        connection.upgrade_to_server_tls(tls, timeout).await
    };
    match result {
        Ok(facts) => {
            transcript.record(
                Direction::Note,
                format!("TLS established: {} {}", facts.version, facts.cipher_suite),
            );
            for note in &facts.notes {
                transcript.record(Direction::Note, note.clone());
            }
            for (i, certificate) in facts.presented_chain.iter().enumerate() {
                transcript.record(
                    Direction::Note,
                    format!("server certificate #{i}: {certificate}"),
                );
            }
            let own_leaf = match tls {
                TlsSetup::Server { chain, .. } | TlsSetup::S2sReceiving { chain, .. } => {
                    chain.first()
                }
                TlsSetup::Client { .. } | TlsSetup::S2sOriginating { .. } => None,
            };
            let mut bindings = connection.channel_bindings(own_leaf);
            if let TlsSetup::Server {
                binding_only: Some(only),
                ..
            } = tls
            {
                bindings.available.retain(|(kind, _)| kind == only);
                transcript.record(
                    Direction::Note,
                    format!("this side offers channel binding type {only} alone"),
                );
            }
            let types: Vec<&str> = bindings.types().iter().map(|t| t.name()).collect();
            transcript.record(
                Direction::Note,
                format!("channel binding types available: [{}]", types.join(", ")),
            );
            let client_certificate = connection.client_certificate();
            if let Some(certificate) = &client_certificate {
                transcript.record(
                    Direction::Note,
                    format!(
                        "the client presented a certificate that verified, XmppAddrs [{}]",
                        certificate.xmpp_addrs.join(", ")
                    ),
                );
            }
            Ok(Reached::Ready(TlsChannel {
                bindings,
                client_certificate,
            }))
        }
        Err(failure) if failure.is_harness_error() => {
            Err(HarnessError::Environment(failure.detail))
        }
        Err(failure) => {
            for (i, certificate) in failure.presented_chain.iter().enumerate() {
                transcript.record(
                    Direction::Note,
                    format!("server certificate #{i}: {certificate}"),
                );
            }
            let end = SessionEnd::Rejected {
                step: Step::Tls,
                condition: failure.condition.to_owned(),
                by: failure.by,
                detail: failure.detail,
            };
            transcript.record(Direction::Note, format!("outcome: {end}"));
            Ok(Reached::Ended(end))
        }
    }
}

/// What some sessions need from the drive loop beyond bytes, TLS and time limits.
#[derive(Default)]
struct Extras<'a> {
    /// Answers the dialback verifications a receiving s2s session asks for.
    authorities: Option<&'a s2s::Authorities>,
    /// Told where the session is, for an owner waiting on it from another task. Once the
    /// session is ready ([`Session::is_ready`]) a quiet peer no longer ends it: reads wait
    /// without a limit, and the owner applies its own deadline.
    progress: Option<watch::Sender<Progress>>,
}

/// Where a session is, as its owner sees it from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Progress {
    /// The protocol step.
    step: Step,
    /// What it waits for ([`Session::waiting_for`]).
    waiting_for: &'static str,
    /// Whether it is ready ([`Session::is_ready`]).
    ready: bool,
}

impl Progress {
    fn of<S: Session>(session: &S) -> Progress {
        Progress {
            step: session.step(),
            waiting_for: session.waiting_for(),
            ready: session.is_ready(),
        }
    }
}

/// Moves bytes between connection and session until the session is finished.
async fn drive<S: Session>(
    session: &mut S,
    connection: &mut Connection,
    tls: &TlsSetup,
    as_client: bool,
    timeout: Duration,
    transcript: &Transcript,
    extras: Extras<'_>,
) -> Result<SessionEnd, HarnessError> {
    let Extras {
        authorities,
        progress,
    } = extras;
    let mut closing = false;
    let mut clock = StepClock::new(timeout, (session.step(), session.waiting_for()));
    loop {
        let mut sent = false;
        while let Some(action) = session.poll_action() {
            transcript.extend(session.take_trace());
            match action {
                Action::Send(bytes) => {
                    sent = true;
                    if let Err(e) = connection.write_all(&bytes, timeout).await {
                        transcript.record(Direction::Note, format!("write failed: {e}"));
                        session.peer_closed();
                    }
                }
                Action::StartTls => {
                    match upgrade(connection, tls, as_client, timeout, transcript).await? {
                        Reached::Ready(channel) => {
                            if !as_client {
                                let peer = connection.s2s_peer_certificate(tls);
                                s2s::note_peer_certificate(peer.as_ref(), tls, transcript);
                                session.peer_certificate(peer);
                            }
                            session.tls_established(channel);
                        }
                        Reached::Ended(end) => return Ok(end),
                    }
                }
                Action::VerifyDialback(request) => {
                    let answer =
                        s2s::ask_authority(authorities, request, tls, timeout, transcript).await;
                    session.dialback_answer(answer);
                }
                Action::Close => {
                    connection.shutdown(timeout).await;
                    closing = true;
                }
            }
        }
        transcript.extend(session.take_trace());
        if let Some(progress) = &progress {
            progress.send_if_modified(|known| {
                let now = Progress::of(session);
                let changed = *known != now;
                *known = now;
                changed
            });
        }
        if closing || session.is_finished() {
            drain(session, connection, transcript).await;
            break;
        }
        let owner_keeps_time = progress.as_ref().is_some_and(|p| p.borrow().ready);
        clock.observe((session.step(), session.waiting_for()), sent);
        transcript.note_step(session.step());
        let limit = if owner_keeps_time {
            timeout
        } else {
            clock.left()
        };
        // A step past its deadline reads nothing more: a peer that floods would otherwise
        // always have the next bytes ready.
        let read = if limit.is_zero() {
            Ok(ReadOutcome::TimedOut)
        } else {
            connection.read(limit).await
        };
        match read {
            Ok(ReadOutcome::Data(bytes)) => {
                clock.arrive(&bytes);
                session.receive(&bytes);
            }
            Ok(ReadOutcome::Closed) => session.peer_closed(),
            Ok(ReadOutcome::TimedOut) if owner_keeps_time => {}
            Ok(ReadOutcome::TimedOut) => {
                let detail = clock.timed_out(session.waiting_for());
                transcript.record(Direction::Note, detail.clone());
                if session.end().is_none() {
                    return Ok(SessionEnd::Rejected {
                        step: session.step(),
                        condition: TIMEOUT.into(),
                        by: Side::Peer,
                        detail,
                    });
                }
                break;
            }
            Err(e) => {
                transcript.record(Direction::Note, format!("read failed: {e}"));
                if session.end().is_none() {
                    return Ok(SessionEnd::Rejected {
                        step: session.step(),
                        condition: "connection-error".into(),
                        by: Side::Peer,
                        detail: format!(
                            "the connection failed while waiting for {}: {e}",
                            session.waiting_for()
                        ),
                    });
                }
                break;
            }
        }
    }
    transcript.extend(session.take_trace());
    session.end().cloned().ok_or_else(|| {
        HarnessError::environment(format!(
            "the session stopped at step {} without an outcome",
            session.step()
        ))
    })
}

/// After closing: read what the peer still sends (its own `</stream:stream>`), briefly.
async fn drain<S: Session>(session: &mut S, connection: &mut Connection, transcript: &Transcript) {
    let deadline = tokio::time::Instant::now() + CLOSE_GRACE;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        match connection.read(left).await {
            Ok(ReadOutcome::Data(bytes)) if !session.is_finished() => session.receive(&bytes),
            Ok(ReadOutcome::Data(_)) => {}
            _ => break,
        }
    }
    transcript.extend(session.take_trace());
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: (Step, &str) = (Step::Stream, "the server's stream header");

    #[tokio::test]
    async fn bytes_arriving_do_not_restart_a_step_but_sending_and_moving_on_do() {
        let mut clock = StepClock::new(Duration::from_secs(10), HEADER);
        clock.arrive(b"<?");
        clock.observe(HEADER, false);
        assert_eq!(clock.arrived, 2, "the same step goes on");
        clock.observe(HEADER, true);
        assert_eq!(clock.arrived, 0, "a round trip starts when this side sends");
        clock.arrive(b"<?");
        clock.observe((Step::Features, "<stream:features/>"), false);
        assert_eq!(
            clock.arrived, 0,
            "a new step starts when the session moves on"
        );
    }

    #[tokio::test]
    async fn a_timed_out_step_shows_its_byte_count_and_first_bytes_escaped() {
        let mut clock = StepClock::new(Duration::from_secs(2), HEADER);
        assert_eq!(
            clock.timed_out(HEADER.1),
            "nothing arrived for 2s while waiting for the server's stream header"
        );
        clock.arrive(b"<a\x00\xff\"");
        let detail = clock.timed_out(HEADER.1);
        assert!(detail.contains("5 bytes arrived"), "{detail}");
        assert!(detail.contains(r#"starting "<a\x00\xff\"""#), "{detail}");
        clock.arrive(&[b'a'; 100]);
        let detail = clock.timed_out(HEADER.1);
        assert!(detail.contains("105 bytes arrived"), "{detail}");
        assert_eq!(clock.first.len(), SHOWN_BYTES);
        assert!(detail.ends_with("…\""), "{detail}");
    }
}
