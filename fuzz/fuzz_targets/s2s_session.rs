//! The sans-IO s2s sessions (`proto::s2s`): dialback elements (`<db:result/>`,
//! `<db:verify/>`, their `type='error'` forms), s2s features, STARTTLS and EXTERNAL, fed to
//! each of the four sessions. There is no public parse function for dialback elements alone;
//! the sessions are their parsers.
//!
//! Byte 0 picks the session (bits 0-1: receiving, originating, authority, verifier), whether
//! a valid stream header is sent first (bit 2), whether TLS is up from the start (bit 3), the
//! authoritative server's answer to a `<db:verify/>` (bit 4) and the receiving server's
//! policy (bit 5). The rest is split at 0xFF bytes into reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xmpp_interop::proto::s2s::authority::{AuthorityConfig, AuthoritySession, VerifySession};
use xmpp_interop::proto::s2s::dialback::DialbackSecret;
use xmpp_interop::proto::s2s::originating::{OriginatingConfig, OriginatingSession};
use xmpp_interop::proto::s2s::receiving::{ReceivingConfig, ReceivingSession};
use xmpp_interop::proto::s2s::{DialbackAnswer, DialbackRequest, S2sPolicy};
use xmpp_interop::proto::xml::Limits;
use xmpp_interop::proto::{Action, Session, TlsChannel};
use xmpp_interop::scenario::Transport;

const ORIGINATING: &str = "harness.test";
const RECEIVING: &str = "builtin.test";
/// What an originating server opens with (to the receiving server or the authority).
const TO_RECEIVING: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
    xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' \
    from='harness.test' to='builtin.test' version='1.0'>";
/// What a receiving server (or an authority) answers with.
const FROM_RECEIVING: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
    xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' \
    from='builtin.test' to='harness.test' id='s2s-1' version='1.0'>";

fn authority(offer_starttls: bool) -> AuthorityConfig {
    AuthorityConfig {
        domain: ORIGINATING.into(),
        secret: DialbackSecret::new("s3cr3t"),
        always_invalid: false,
        offer_starttls,
        limits: Limits::default(),
    }
}

fn drive(session: &mut dyn Session, header: Option<&[u8]>, reads: &[&[u8]], valid: bool) {
    for read in header.into_iter().chain(reads.iter().copied()) {
        while let Some(action) = session.poll_action() {
            match action {
                Action::StartTls => session.tls_established(TlsChannel::default()),
                Action::VerifyDialback(_) => session.dialback_answer(if valid {
                    DialbackAnswer::Valid
                } else {
                    DialbackAnswer::Invalid
                }),
                Action::Send(_) | Action::Close => {}
            }
        }
        if session.is_finished() {
            break;
        }
        session.receive(read);
        let _ = session.take_trace();
    }
    session.peer_closed();
    while session.poll_action().is_some() {}
    let _ = session.take_trace();
    let _ = session.end().map(ToString::to_string);
    let _ = session.waiting_for();
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let with_header = flags & 0x04 != 0;
    let tls_up = flags & 0x08 != 0;
    let valid = flags & 0x10 != 0;
    let reads: Vec<&[u8]> = rest.split(|b| *b == 0xff).take(16).collect();
    match flags & 3 {
        0 => {
            let config = ReceivingConfig {
                local_domain: RECEIVING.into(),
                starttls_available: !tls_up,
                policy: if flags & 0x20 == 0 {
                    S2sPolicy::AllowDialback
                } else {
                    S2sPolicy::RequireCertificate
                },
                authority: (flags & 0x40 != 0).then(|| AuthorityConfig {
                    domain: RECEIVING.into(),
                    ..authority(false)
                }),
                limits: Limits::default(),
            };
            let mut session = ReceivingSession::new(config, tls_up, None);
            drive(
                &mut session,
                with_header.then_some(TO_RECEIVING),
                &reads,
                valid,
            );
        }
        1 => {
            let config = OriginatingConfig {
                local_domain: ORIGINATING.into(),
                remote_domain: RECEIVING.into(),
                transport: if tls_up {
                    Transport::DirectTls
                } else {
                    Transport::Starttls
                },
                has_certificate: flags & 0x20 != 0,
                dialback: Some(DialbackSecret::new("s3cr3t")),
                wrong_dialback_key: flags & 0x40 != 0,
                limits: Limits::default(),
            };
            let mut session = OriginatingSession::new(config, tls_up);
            drive(
                &mut session,
                with_header.then_some(FROM_RECEIVING),
                &reads,
                valid,
            );
        }
        2 => {
            let mut session = AuthoritySession::new(authority(flags & 0x20 != 0));
            drive(
                &mut session,
                with_header.then_some(TO_RECEIVING),
                &reads,
                valid,
            );
        }
        _ => {
            let request = DialbackRequest {
                receiving: RECEIVING.into(),
                originating: ORIGINATING.into(),
                stream_id: "s2s-1".into(),
                key: DialbackSecret::new("s3cr3t").key(RECEIVING, ORIGINATING, "s2s-1"),
            };
            let mut session = VerifySession::new(request, Limits::default());
            drive(
                &mut session,
                with_header.then_some(FROM_RECEIVING),
                &reads,
                valid,
            );
        }
    }
});
