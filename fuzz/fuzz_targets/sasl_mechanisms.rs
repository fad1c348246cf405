//! The SASL mechanisms (`proto::sasl`): PLAIN's message, SCRAM's messages and attributes, the
//! GS2 header, channel binding data, saslname escapes and the XEP-0474 attribute, through the
//! public state machines (`server_mechanism`, `client_mechanism_with_channel_binding`) and
//! `redact`, which parses every message for the transcript.
//!
//! Byte 0 picks the side (bit 7), the mechanism (bits 0-2), whether `-PLUS` was offered or
//! the client binds (bit 3), whether the connection has channel binding data (bit 4) and
//! whether XEP-0474 is in play (bit 5). The rest is split at 0xFF bytes into the messages
//! the other side sends, in order (0xFF is never valid UTF-8, so no real message needs it).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use xmpp_interop::proto::sasl::{
    Advertised, ChannelBinding, ChannelBindingType, ChannelBindings, ClientCredentials,
    ClientOptions, CredentialStore, Mechanism, ServerOptions,
    client_mechanism_with_channel_binding, redact, server_mechanism,
};

const MECHANISMS: [Mechanism; 8] = [
    Mechanism::Plain,
    Mechanism::ScramSha1,
    Mechanism::ScramSha256,
    Mechanism::ScramSha512,
    Mechanism::ScramSha1Plus,
    Mechanism::ScramSha256Plus,
    Mechanism::ScramSha512Plus,
    Mechanism::External,
];

fn store() -> &'static CredentialStore {
    static STORE: OnceLock<CredentialStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let mut store = CredentialStore::new();
        // Few iterations: the fuzzer is after parsing, not PBKDF2.
        store.add_user_with_salt("alice", "pencil", b"QSXCR+Q6sek8bf92", 2);
        store.add_user_with_salt("user", "pencil", b"QSXCR+Q6sek8bf92", 2);
        store
    })
}

fn advertised() -> Advertised {
    Advertised {
        mechanisms: vec!["SCRAM-SHA-256".into(), "SCRAM-SHA-256-PLUS".into()],
        channel_bindings: vec!["tls-exporter".into()],
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mechanism = MECHANISMS[usize::from(flags & 7)];
    let plus = flags & 0x08 != 0;
    let has_bindings = flags & 0x10 != 0;
    let downgrade = flags & 0x20 != 0;
    let messages: Vec<&[u8]> = rest.split(|b| *b == 0xff).take(8).collect();
    let bindings = if has_bindings {
        ChannelBindings {
            available: vec![
                (ChannelBindingType::TlsExporter, vec![7; 32]),
                (ChannelBindingType::TlsServerEndPoint, vec![9; 32]),
            ],
            // TLS 1.2 with the tls-unique gap, so the server's "beyond the harness" refusal
            // is reached too.
            tls_unique_defined: true,
        }
    } else {
        ChannelBindings::default()
    };

    if flags & 0x80 == 0 {
        // The harness as server, fed what a client sends.
        let options = ServerOptions {
            nonce: Some("3rfcNHYJY1ZVvWVs7j".into()),
            channel_bindings: bindings,
            plus_offered: plus,
            domain: "interop.test".into(),
            downgrade_protection: downgrade.then(advertised),
            ..ServerOptions::default()
        };
        let mut server = server_mechanism(mechanism, options);
        for message in messages {
            let _ = redact(mechanism, true, message);
            if server.step(message, store()).is_err() {
                break;
            }
        }
    } else {
        // The harness as client, fed what a server sends.
        let credentials = ClientCredentials {
            username: "user".into(),
            password: "pencil".into(),
            authzid: (flags & 0x40 != 0).then(|| "admin@interop.test".into()),
        };
        let options = ClientOptions {
            max_iterations: 64,
            min_iterations: 1,
            nonce: Some("rOprNGfwEbeRWgbNEkqO".into()),
            advertised: downgrade.then(advertised),
            ..ClientOptions::default()
        };
        let binding = if plus && has_bindings {
            ChannelBinding::Bound {
                kind: ChannelBindingType::TlsExporter,
                data: vec![7; 32],
            }
        } else if plus {
            ChannelBinding::NotOffered
        } else {
            ChannelBinding::None
        };
        let mut client =
            client_mechanism_with_channel_binding(mechanism, credentials, options, binding);
        if client.initial_response().is_err() {
            return;
        }
        let (last, challenges): (&[u8], &[&[u8]]) = match messages.split_last() {
            Some((last, challenges)) => (last, challenges),
            None => (&[], &[]),
        };
        for challenge in challenges {
            let _ = redact(mechanism, false, challenge);
            if client.respond(challenge).is_err() {
                return;
            }
        }
        let _ = client.finish(last);
    }
});
