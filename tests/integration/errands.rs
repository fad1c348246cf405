//! Errand sessions over loopback (`drive::messaging`): the client stays logged in after binding,
//! is ready once the server answered its ping, and then sends a chat message or waits for one;
//! the server is the built-in server session behind STARTTLS, plus stanzas the test injects.

use crate::support::common::{DOMAIN, tls_pair};

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use xmpp_interop::drive::Transcript;
use xmpp_interop::drive::messaging::start_errand;
use xmpp_interop::proto::client::{ClientConfig, Errand};
use xmpp_interop::proto::sasl::{ClientOptions, CredentialStore};
use xmpp_interop::proto::server::{ServerConfig, ServerMisbehaviour, ServerSession};
use xmpp_interop::proto::xml::Limits;
use xmpp_interop::proto::{Action, Session, SessionEnd, Side, TlsChannel};
use xmpp_interop::scenario::{Mechanism, Step, TIMEOUT, Transport};
use xmpp_interop::transport::{Connection, ReadOutcome, TlsSetup};

const LIMIT: Duration = Duration::from_secs(5);

/// A STARTTLS SCRAM-SHA-256 client for alice with `password` on `errand`.
fn client(password: &str, errand: Errand) -> ClientConfig {
    ClientConfig {
        domain: DOMAIN.to_owned(),
        transport: Transport::Starttls,
        mechanisms: vec![Mechanism::ScramSha256],
        username: "alice".to_owned(),
        password: password.to_owned(),
        authzid: None,
        channel_binding: None,
        sasl_options: ClientOptions::default(),
        require_tls: true,
        limits: Limits::default(),
        sasl_profile: None,
        errand,
    }
}

/// A server knowing alice (password `secret`) that, once what the client sent contains
/// `trigger`, also sends `inject`. Returns its address, the client's TLS settings and the
/// server's task, which returns everything the client sent after STARTTLS.
async fn server_injecting(
    trigger: &'static str,
    inject: &'static str,
) -> (SocketAddr, TlsSetup, JoinHandle<String>) {
    let mut accounts = CredentialStore::new();
    accounts.add_user("alice", "secret", 4096);
    let config = ServerConfig {
        domain: DOMAIN.to_owned(),
        starttls_available: true,
        mechanisms: vec![Mechanism::ScramSha256],
        preferred_mechanism: None,
        accounts: Arc::new(accounts),
        misbehaviour: ServerMisbehaviour::default(),
        limits: Limits::default(),
        offer_sasl2: false,
        expect_sasl2: false,
        downgrade_protection: false,
    };
    let (client_tls, server_tls) = tls_pair();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut connection = Connection::Plain(tcp);
        let mut session = ServerSession::new(config, None);
        let mut received = String::new();
        let mut injected = false;
        loop {
            while let Some(action) = session.poll_action() {
                match action {
                    Action::Send(bytes) => connection.write_all(&bytes, LIMIT).await.unwrap(),
                    Action::StartTls => {
                        connection
                            .upgrade_to_server_tls(&server_tls, LIMIT)
                            .await
                            .unwrap();
                        received.clear();
                        session.tls_established(TlsChannel::default());
                    }
                    Action::Close => return received,
                    other => panic!("unexpected action {other:?}"),
                }
            }
            if !injected && received.contains(trigger) {
                connection
                    .write_all(inject.as_bytes(), LIMIT)
                    .await
                    .unwrap();
                injected = true;
            }
            match connection.read(LIMIT * 2).await {
                Ok(ReadOutcome::Data(bytes)) => {
                    received.push_str(&String::from_utf8_lossy(&bytes));
                    session.receive(&bytes);
                }
                _ => return received,
            }
        }
    });
    (address, client_tls, task)
}

#[tokio::test]
async fn an_awaited_message_ends_the_errand_with_its_sender() {
    let (address, tls, _) = server_injecting(
        "errand-ready",
        "<message from='bob@remote.test/x' type='chat'><body>token-7</body></message>",
    )
    .await;
    let errand = Errand::AwaitMessage {
        body: "token-7".into(),
    };
    let transcript = Transcript::new("client");
    let running = start_errand(
        address,
        client("secret", errand),
        tls,
        LIMIT,
        LIMIT,
        transcript,
    )
    .await
    .unwrap()
    .unwrap_or_else(|end| panic!("not ready: {end}"));
    let end = running.outcome(LIMIT).await.unwrap();
    assert_eq!(
        end,
        SessionEnd::MessageReceived {
            from: "bob@remote.test/x".into()
        }
    );
}

#[tokio::test]
async fn the_message_goes_out_after_the_ready_ping_and_a_bounce_ends_it_rfc6120_8_3() {
    let (address, tls, server) = server_injecting(
        "errand-message",
        "<message type='error' id='errand-message' from='bob@remote.test'>\
         <error type='cancel'>\
         <remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
    )
    .await;
    let errand = Errand::SendMessage {
        to: "bob@remote.test".into(),
        body: "hello".into(),
    };
    let running = start_errand(
        address,
        client("secret", errand),
        tls,
        LIMIT,
        LIMIT,
        Transcript::new("client"),
    )
    .await
    .unwrap()
    .unwrap_or_else(|end| panic!("not ready: {end}"));
    let end = running.outcome(LIMIT).await.unwrap();
    let SessionEnd::Rejected {
        step,
        condition,
        by,
        ..
    } = &end
    else {
        panic!("not rejected: {end}");
    };
    assert_eq!(
        (*step, condition.as_str(), *by),
        (Step::Message, "remote-server-not-found", Side::Peer)
    );
    let sent = server.await.unwrap();
    let ping = sent.find("errand-ready").unwrap();
    let message = sent.find("errand-message").unwrap();
    assert!(ping < message, "{sent}");
    assert!(sent.contains("<body>hello</body>"), "{sent}");
}

#[tokio::test]
async fn a_quiet_server_leaves_a_ready_errand_to_the_outcome_deadline_not_the_read_limit() {
    let (address, tls, _) = server_injecting("never sent", "").await;
    let errand = Errand::SendMessage {
        to: "bob@remote.test".into(),
        body: "hello".into(),
    };
    let read_limit = Duration::from_millis(100);
    let running = start_errand(
        address,
        client("secret", errand),
        tls,
        read_limit,
        LIMIT,
        Transcript::new("client"),
    )
    .await
    .unwrap()
    .unwrap_or_else(|end| panic!("not ready: {end}"));
    let end = running.outcome(Duration::from_millis(600)).await.unwrap();
    let SessionEnd::Rejected {
        step,
        condition,
        detail,
        ..
    } = &end
    else {
        panic!("not rejected: {end}");
    };
    assert_eq!((*step, condition.as_str()), (Step::Message, TIMEOUT));
    assert!(
        detail.starts_with("nothing ended the errand within 600ms"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_refused_login_is_how_the_errand_ended_before_it_was_ready() {
    let (address, tls, _) = server_injecting("never sent", "").await;
    let errand = Errand::AwaitMessage {
        body: "token".into(),
    };
    let end = match start_errand(
        address,
        client("wrong", errand),
        tls,
        LIMIT,
        LIMIT,
        Transcript::new("client"),
    )
    .await
    .unwrap()
    {
        Ok(_) => panic!("ready despite a wrong password"),
        Err(end) => end,
    };
    let SessionEnd::Rejected {
        step, condition, ..
    } = &end
    else {
        panic!("not rejected: {end}");
    };
    assert_eq!((*step, condition.as_str()), (Step::Sasl, "not-authorized"));
}
