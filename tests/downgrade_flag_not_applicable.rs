//! RFC 5802 §6: the GS2 flag `y` is a downgrade only when the server did offer channel
//! binding. Against a server that offers no `-PLUS` mechanism, `y` is the truth and accepting
//! it is right, so the harness ends the downgrade case as not applicable instead of failing a
//! conforming server (Prosody on TLS 1.3 is such a server).

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use xmpp_interop::drive::{self, Transcript};
use xmpp_interop::pki::Catalogue;
use xmpp_interop::proto::client::ClientConfig;
use xmpp_interop::proto::sasl::{ClientMisbehaviour, ClientOptions, CredentialStore};
use xmpp_interop::proto::server::{ServerConfig, ServerMisbehaviour};
use xmpp_interop::proto::xml::Limits;
use xmpp_interop::proto::{SessionEnd, Side};
use xmpp_interop::scenario::{
    CertificateProfile, IdentityType, KeyType, Mechanism, NOT_APPLICABLE, Step, Transport, Trust,
};
use xmpp_interop::transport::TlsSetup;

const DOMAIN: &str = "interop.test";

/// The harness client's view of a downgrade-flag exchange with a server offering `mechanisms`.
async fn downgrade_client_view(mechanisms: Vec<Mechanism>) -> SessionEnd {
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
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let config = ServerConfig {
            domain: DOMAIN.to_owned(),
            starttls_available: true,
            mechanisms,
            accounts: Arc::new(accounts),
            misbehaviour: ServerMisbehaviour::default(),
            limits: Limits::default(),
        };
        let _ = drive::respond(
            tcp,
            config,
            &server_tls,
            false,
            timeout,
            &Transcript::new("server"),
        )
        .await;
    });
    let config = ClientConfig {
        domain: DOMAIN.to_owned(),
        transport: Transport::Starttls,
        mechanisms: vec![Mechanism::ScramSha256],
        username: "alice".to_owned(),
        password: "secret".to_owned(),
        authzid: None,
        channel_binding: None,
        sasl_options: ClientOptions {
            misbehaviour: ClientMisbehaviour::DowngradeFlag,
            ..ClientOptions::default()
        },
        require_tls: true,
        limits: Limits::default(),
    };
    let end = drive::initiate(
        address,
        config,
        &client_tls,
        timeout,
        &Transcript::new("harness"),
    )
    .await
    .unwrap();
    server.abort();
    end
}

#[tokio::test]
async fn the_downgrade_flag_case_is_not_applicable_without_a_plus_offer_rfc5802_section_6() {
    let end = downgrade_client_view(vec![Mechanism::ScramSha256]).await;
    let SessionEnd::Rejected {
        step,
        condition,
        by,
        detail,
    } = end
    else {
        panic!("authenticated: {end:?}");
    };
    assert_eq!(
        (step, condition.as_str(), by),
        (Step::Sasl, NOT_APPLICABLE, Side::Local)
    );
    assert!(detail.contains("no -PLUS"), "{detail}");
}

#[tokio::test]
async fn the_downgrade_flag_is_sent_and_refused_when_plus_is_offered_rfc5802_section_6() {
    let end = downgrade_client_view(vec![Mechanism::ScramSha256, Mechanism::ScramSha256Plus]).await;
    let SessionEnd::Rejected { condition, by, .. } = end else {
        panic!("authenticated: {end:?}");
    };
    assert_eq!((condition.as_str(), by), ("not-authorized", Side::Peer));
}
