//! Shared by integration tests: one client session against one server session over loopback,
//! both sides configured by the test, with a trusted StartCom-style chain for interop.test.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use xmpp_interop::drive::{self, Transcript};
use xmpp_interop::pki::Catalogue;
use xmpp_interop::proto::SessionEnd;
use xmpp_interop::proto::client::{ClientConfig, Errand};
use xmpp_interop::proto::sasl::{ClientOptions, CredentialStore};
use xmpp_interop::proto::server::{ServerConfig, ServerMisbehaviour};
use xmpp_interop::proto::xml::Limits;
use xmpp_interop::scenario::{
    CertificateProfile, IdentityType, KeyType, Mechanism, TlsProfile, Transport, Trust,
};
use xmpp_interop::transport::TlsSetup;

/// The domain both sides use.
pub const DOMAIN: &str = "interop.test";

/// A STARTTLS client for alice (password `secret`) using `mechanisms` with `options`.
pub fn alice_client(mechanisms: Vec<Mechanism>, options: ClientOptions) -> ClientConfig {
    ClientConfig {
        domain: DOMAIN.to_owned(),
        transport: Transport::Starttls,
        mechanisms,
        username: "alice".to_owned(),
        password: "secret".to_owned(),
        authzid: None,
        channel_binding: None,
        sasl_options: options,
        require_tls: true,
        limits: Limits::default(),
        sasl_profile: None,
        errand: Errand::None,
    }
}

/// A STARTTLS server knowing alice, offering `mechanisms`, misbehaving as told.
pub fn server(mechanisms: Vec<Mechanism>, misbehaviour: ServerMisbehaviour) -> ServerConfig {
    let mut accounts = CredentialStore::new();
    accounts.add_user("alice", "secret", 4096);
    ServerConfig {
        domain: DOMAIN.to_owned(),
        starttls_available: true,
        mechanisms,
        preferred_mechanism: None,
        accounts: Arc::new(accounts),
        misbehaviour,
        limits: Limits::default(),
        offer_sasl2: false,
        expect_sasl2: false,
        downgrade_protection: false,
    }
}

/// TLS for both sides: a StartCom-style chain for interop.test, and a client trusting its
/// root. Returns (client's settings, server's settings).
pub fn tls_pair() -> (TlsSetup, TlsSetup) {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            DOMAIN,
        )
        .unwrap();
    let client = TlsSetup::Client {
        trust_anchor: catalogue.trust_anchor(&chain, Trust::ChainRoot).unwrap(),
        domain: DOMAIN.to_owned(),
        identity: IdentityType::DEFAULT.to_vec(),
        client_certificate: None,
        profile: TlsProfile::default(),
    };
    let server = TlsSetup::Server {
        chain: chain.presented.clone(),
        key: Arc::new(chain.key_der()),
        client_trust_anchor: None,
        profile: TlsProfile::default(),
        binding_only: None,
    };
    (client, server)
}

/// Runs `client` against `server` over loopback; returns (client's view, server's view).
pub async fn run_pair(client: ClientConfig, server: ServerConfig) -> (SessionEnd, SessionEnd) {
    let (client_tls, server_tls) = tls_pair();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let timeout = Duration::from_secs(5);
    let server_side = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        drive::respond(
            tcp,
            server,
            &server_tls,
            false,
            timeout,
            &Transcript::new("server"),
        )
        .await
        .unwrap()
    });
    let client_end = drive::initiate(
        address,
        client,
        &client_tls,
        timeout,
        &Transcript::new("client"),
    )
    .await
    .unwrap();
    let server_end = server_side.await.unwrap();
    (client_end, server_end)
}
