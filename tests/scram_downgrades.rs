//! The harness as server must tell a careless client from a careful one: a client that accepts
//! what RFC 5802 / RFC 7677 tell it to refuse gets a verdict naming what it accepted.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use xmpp_interop::drive::{self, Transcript};
use xmpp_interop::pki::Catalogue;
use xmpp_interop::proto::client::ClientConfig;
use xmpp_interop::proto::sasl::{ClientOptions, CredentialStore};
use xmpp_interop::proto::server::{ServerConfig, ServerMisbehaviour};
use xmpp_interop::proto::xml::Limits;
use xmpp_interop::proto::{SessionEnd, Side};
use xmpp_interop::scenario::{
    CertificateProfile, IdentityType, KeyType, Mechanism, Misbehaviour, Step, Transport, Trust,
};
use xmpp_interop::transport::TlsSetup;

const DOMAIN: &str = "interop.test";

/// Runs a harness server with `misbehave` against a client with `options`; returns the
/// server's view.
async fn server_view(misbehave: &[Misbehaviour], options: ClientOptions) -> SessionEnd {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            DOMAIN,
        )
        .unwrap();
    let client_tls = TlsSetup::Client {
        trust_anchor: catalogue.trust_anchor(&chain, Trust::ChainRoot).unwrap(),
        domain: DOMAIN.to_owned(),
        identity: IdentityType::DEFAULT.to_vec(),
        client_certificate: None,
    };
    let server_tls = TlsSetup::Server {
        chain: chain.presented.clone(),
        key: Arc::new(chain.key_der()),
        client_trust_anchor: None,
    };
    let mut accounts = CredentialStore::new();
    accounts.add_user("alice", "secret", 4096);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let timeout = Duration::from_secs(5);
    let client = tokio::spawn(async move {
        let config = ClientConfig {
            domain: DOMAIN.to_owned(),
            transport: Transport::Starttls,
            mechanisms: vec![Mechanism::ScramSha256],
            username: "alice".to_owned(),
            password: "secret".to_owned(),
            authzid: None,
            channel_binding: None,
            sasl_options: options,
            require_tls: true,
            limits: Limits::default(),
        };
        drive::initiate(
            address,
            config,
            &client_tls,
            timeout,
            &Transcript::new("client"),
        )
        .await
    });
    let (tcp, _) = listener.accept().await.unwrap();
    let config = ServerConfig {
        domain: DOMAIN.to_owned(),
        starttls_available: true,
        mechanisms: vec![Mechanism::ScramSha256],
        accounts: Arc::new(accounts),
        misbehaviour: ServerMisbehaviour::from_scenario(misbehave),
        limits: Limits::default(),
    };
    let end = drive::respond(
        tcp,
        config,
        &server_tls,
        false,
        timeout,
        &Transcript::new("harness"),
    )
    .await
    .unwrap();
    let _ = client.await;
    end
}

fn condition_of(end: &SessionEnd) -> (&str, Side, Step) {
    match end {
        SessionEnd::Rejected {
            condition,
            by,
            step,
            ..
        } => (condition, *by, *step),
        SessionEnd::Authenticated { jid } => panic!("authenticated as {jid}"),
    }
}

#[tokio::test]
async fn a_client_that_accepts_1024_iterations_is_named_for_it_rfc7677_4() {
    let lax = ClientOptions {
        min_iterations: 1,
        ..ClientOptions::default()
    };
    let end = server_view(&[Misbehaviour::ScramLowIterationCount], lax).await;
    assert_eq!(
        condition_of(&end),
        ("accepted-low-iteration-count", Side::Local, Step::Sasl)
    );
}

#[tokio::test]
async fn a_careful_client_aborts_on_1024_iterations_rfc7677_4() {
    let end = server_view(
        &[Misbehaviour::ScramLowIterationCount],
        ClientOptions::default(),
    )
    .await;
    assert_eq!(condition_of(&end), ("aborted", Side::Peer, Step::Sasl));
}
