//! The sans-IO c2s sessions (`proto::server::ServerSession`, `proto::client::ClientSession`)
//! fed fuzzed bytes: stream features, STARTTLS, RFC 6120 SASL and SASL2 (XEP-0388) elements,
//! their base64 payloads, bind, stream errors.
//!
//! Byte 0 picks the side (bit 7), whether TLS is already up (bit 6), whether a valid stream
//! header is sent first (bit 5, so the fuzzer starts past it), SASL2 (bit 4) and XEP-0474
//! (bit 3). The rest is split at 0xFF bytes into reads. `<starttls/>`/`<proceed/>` is
//! answered with a simulated TLS handshake that yields channel binding data.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use xmpp_interop::proto::client::{ClientConfig, ClientSession, Errand};
use xmpp_interop::proto::sasl::{
    ChannelBindingType, ChannelBindings, ClientOptions, CredentialStore, Mechanism,
};
use xmpp_interop::proto::server::{ServerConfig, ServerMisbehaviour, ServerSession};
use xmpp_interop::proto::xml::Limits;
use xmpp_interop::proto::{Action, Session, TlsChannel};
use xmpp_interop::scenario::{SaslProfile, Transport};

const CLIENT_HEADER: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' to='interop.test' version='1.0'>";
const SERVER_HEADER: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' from='interop.test' id='s1' version='1.0'>";

fn accounts() -> Arc<CredentialStore> {
    static STORE: OnceLock<Arc<CredentialStore>> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let mut store = CredentialStore::new();
            store.add_user_with_salt("alice", "pencil", b"QSXCR+Q6sek8bf92", 2);
            Arc::new(store)
        })
        .clone()
}

fn bindings() -> ChannelBindings {
    ChannelBindings {
        available: vec![(ChannelBindingType::TlsExporter, vec![7; 32])],
        tls_unique_defined: false,
    }
}

/// Feeds every read, carrying out the session's actions in between.
fn drive(session: &mut dyn Session, header: Option<&[u8]>, reads: &[&[u8]]) {
    let mut pending_tls = false;
    for read in header.into_iter().chain(reads.iter().copied()) {
        while let Some(action) = session.poll_action() {
            if action == Action::StartTls {
                pending_tls = true;
            }
        }
        if pending_tls {
            pending_tls = false;
            session.tls_established(TlsChannel {
                bindings: bindings(),
                client_certificate: None,
            });
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
    let tls_up = flags & 0x40 != 0;
    let with_header = flags & 0x20 != 0;
    let sasl2 = flags & 0x10 != 0;
    let downgrade = flags & 0x08 != 0;
    let reads: Vec<&[u8]> = rest.split(|b| *b == 0xff).take(16).collect();
    if flags & 0x80 == 0 {
        let config = ServerConfig {
            domain: "interop.test".into(),
            starttls_available: !tls_up,
            mechanisms: vec![
                Mechanism::ScramSha256Plus,
                Mechanism::ScramSha256,
                Mechanism::ScramSha1,
                Mechanism::Plain,
                Mechanism::External,
            ],
            preferred_mechanism: None,
            accounts: accounts(),
            misbehaviour: ServerMisbehaviour::default(),
            limits: Limits::default(),
            offer_sasl2: sasl2,
            expect_sasl2: false,
            downgrade_protection: downgrade,
        };
        let tls = tls_up.then(|| TlsChannel {
            bindings: bindings(),
            client_certificate: None,
        });
        let mut session = ServerSession::new(config, tls);
        drive(&mut session, with_header.then_some(CLIENT_HEADER), &reads);
    } else {
        let config = ClientConfig {
            domain: "interop.test".into(),
            transport: if tls_up {
                Transport::DirectTls
            } else {
                Transport::Starttls
            },
            mechanisms: vec![
                Mechanism::ScramSha256Plus,
                Mechanism::ScramSha256,
                Mechanism::ScramSha1,
                Mechanism::Plain,
            ],
            username: "alice".into(),
            password: "pencil".into(),
            channel_binding: None,
            authzid: None,
            sasl_options: ClientOptions {
                max_iterations: 64,
                min_iterations: 1,
                nonce: Some("rOprNGfwEbeRWgbNEkqO".into()),
                ..ClientOptions::default()
            },
            require_tls: true,
            limits: Limits::default(),
            sasl_profile: sasl2.then_some(SaslProfile::Sasl2),
            errand: Errand::None,
        };
        let mut session = ClientSession::new(config, tls_up.then(bindings));
        drive(&mut session, with_header.then_some(SERVER_HEADER), &reads);
    }
});
