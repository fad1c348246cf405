//! Broken or hostile peers get a clear verdict within the time limit: never a hang, a panic or
//! unbounded buffering (docs/ARCHITECTURE.md, "Sans-IO"; RFC 6120 §11.1, §13.12).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xmpp_interop::drive::{self, Transcript};
use xmpp_interop::pki::Catalogue;
use xmpp_interop::proto::client::{ClientConfig, Errand};
use xmpp_interop::proto::s2s::dialback::DialbackSecret;
use xmpp_interop::proto::s2s::originating::OriginatingConfig;
use xmpp_interop::proto::sasl::{ClientOptions, CredentialStore};
use xmpp_interop::proto::server::{ServerConfig, ServerMisbehaviour};
use xmpp_interop::proto::xml::Limits;
use xmpp_interop::proto::{SessionEnd, Side};
use xmpp_interop::scenario::{
    CertificateProfile, IdentityType, KeyType, Mechanism, Step, TlsProfile, Transport, Trust,
};
use xmpp_interop::transport::TlsSetup;
use xmpp_interop::transport::tls::provider;

const DOMAIN: &str = "interop.test";
const SERVER_HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' from='interop.test' id='x1' version='1.0'>";

/// Starts a fake server that runs `behave` on the first connection.
async fn fake_server<F, Fut>(behave: F) -> SocketAddr
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((tcp, _)) = listener.accept().await {
            behave(tcp).await;
        }
    });
    address
}

fn client_tls() -> TlsSetup {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(CertificateProfile::SelfSigned, KeyType::EcdsaP256, DOMAIN)
        .unwrap();
    TlsSetup::Client {
        trust_anchor: catalogue.trust_anchor(&chain, Trust::ChainRoot).unwrap(),
        domain: DOMAIN.to_owned(),
        identity: IdentityType::DEFAULT.to_vec(),
        client_certificate: None,
        profile: TlsProfile::default(),
    }
}

fn client_config() -> ClientConfig {
    ClientConfig {
        domain: DOMAIN.to_owned(),
        transport: Transport::Starttls,
        mechanisms: vec![Mechanism::ScramSha256],
        username: "alice".to_owned(),
        password: "secret".to_owned(),
        authzid: None,
        channel_binding: None,
        sasl_options: ClientOptions::default(),
        require_tls: false,
        limits: Limits::default(),
        sasl_profile: None,
        errand: Errand::None,
    }
}

async fn connect_to(address: SocketAddr, timeout: Duration) -> (SessionEnd, Duration, Transcript) {
    connect_with(address, timeout, &client_tls()).await
}

async fn connect_with(
    address: SocketAddr,
    timeout: Duration,
    tls: &TlsSetup,
) -> (SessionEnd, Duration, Transcript) {
    let transcript = Transcript::new("harness");
    let started = Instant::now();
    let end = drive::initiate(address, client_config(), tls, timeout, &transcript)
        .await
        .expect("a misbehaving peer is the peer's fault, not an environment error");
    (end, started.elapsed(), transcript)
}

#[tokio::test]
async fn garbage_instead_of_a_stream_header_is_not_well_formed_rfc6120_4_9_3_13() {
    let address = fake_server(|mut tcp| async move {
        let mut buf = [0u8; 1024];
        let _ = tcp.read(&mut buf).await;
        let _ = tcp
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
        let _ = tcp.read(&mut buf).await;
    })
    .await;
    let (end, elapsed, transcript) = connect_to(address, Duration::from_secs(5)).await;
    let SessionEnd::Rejected {
        step,
        condition,
        by,
        detail,
    } = end
    else {
        panic!("garbage was accepted: {end}");
    };
    assert_eq!(step, Step::Stream);
    assert_eq!(condition, "not-well-formed");
    assert_eq!(by, Side::Local);
    assert!(detail.contains("refused"), "{detail}");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    let text: Vec<String> = transcript.lines().into_iter().map(|l| l.text).collect();
    assert!(
        text.iter().any(|t| t.contains("HTTP/1.1 400")),
        "the transcript must show the offending bytes: {text:?}"
    );
}

#[tokio::test]
async fn a_server_that_stops_mid_handshake_gets_a_timeout_verdict_not_a_hang() {
    let address = fake_server(|mut tcp| async move {
        let mut buf = [0u8; 1024];
        let _ = tcp.read(&mut buf).await;
        let _ = tcp.write_all(SERVER_HEADER.as_bytes()).await;
        let _ = tcp
            .write_all(b"<stream:features><starttls xmlns='urn:ietf:par")
            .await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let limit = Duration::from_millis(400);
    let (end, elapsed, _) = connect_to(address, limit).await;
    let SessionEnd::Rejected {
        step,
        condition,
        by,
        detail,
    } = end
    else {
        panic!("a stalled server was accepted: {end}");
    };
    assert_eq!(step, Step::Features);
    assert_eq!(condition, "timeout");
    assert_eq!(by, Side::Peer);
    assert!(detail.contains("<stream:features/>"), "{detail}");
    assert!(elapsed >= limit && elapsed < limit * 4, "took {elapsed:?}");
}

#[tokio::test]
async fn a_stanza_over_the_size_limit_is_a_policy_violation_rfc6120_13_12() {
    let address = fake_server(|mut tcp| async move {
        let mut buf = [0u8; 1024];
        let _ = tcp.read(&mut buf).await;
        let _ = tcp.write_all(SERVER_HEADER.as_bytes()).await;
        let _ = tcp
            .write_all(b"<stream:features><junk xmlns='urn:x'>")
            .await;
        let chunk = vec![b'a'; 16 * 1024];
        // Up to 16 MiB, far beyond the limit; the client must stop reading long before.
        for _ in 0..1024 {
            if tcp.write_all(&chunk).await.is_err() {
                break;
            }
        }
    })
    .await;
    let (end, elapsed, _) = connect_to(address, Duration::from_secs(5)).await;
    let SessionEnd::Rejected {
        condition,
        by,
        detail,
        ..
    } = end
    else {
        panic!("an oversized stanza was accepted: {end}");
    };
    assert_eq!(condition, "policy-violation");
    assert_eq!(by, Side::Local);
    assert!(
        detail.contains("65536"),
        "the limit should be named: {detail}"
    );
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[tokio::test]
async fn a_server_offering_no_starttls_gets_no_credentials_rfc6120_5_3_1() {
    let address = fake_server(|mut tcp| async move {
        let mut buf = [0u8; 4096];
        let _ = tcp.read(&mut buf).await;
        let _ = tcp.write_all(SERVER_HEADER.as_bytes()).await;
        let _ = tcp.write_all(b"<stream:features/>").await;
        drop(tcp);
    })
    .await;
    let (end, elapsed, _) = connect_to(address, Duration::from_secs(5)).await;
    let SessionEnd::Rejected {
        condition, step, ..
    } = end
    else {
        panic!("accepted: {end}");
    };
    // No <starttls/> offered: the careful client stops right there.
    assert_eq!(step, Step::Features);
    assert_eq!(condition, "starttls-not-offered");
    assert!(elapsed < Duration::from_secs(2));
}

/// The harness's client TLS settings and a fake server's acceptor for the same chain.
fn tls_pair() -> (TlsSetup, tokio_rustls::TlsAcceptor) {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(CertificateProfile::SelfSigned, KeyType::EcdsaP256, DOMAIN)
        .unwrap();
    let client = TlsSetup::Client {
        trust_anchor: catalogue.trust_anchor(&chain, Trust::ChainRoot).unwrap(),
        domain: DOMAIN.to_owned(),
        identity: IdentityType::DEFAULT.to_vec(),
        client_certificate: None,
        profile: TlsProfile::default(),
    };
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain.presented.clone(), chain.key_der())
        .unwrap();
    (client, tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The harness's server side: STARTTLS offered, alice known, the self-signed chain.
fn server_side() -> (ServerConfig, TlsSetup) {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(CertificateProfile::SelfSigned, KeyType::EcdsaP256, DOMAIN)
        .unwrap();
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
    let tls = TlsSetup::Server {
        chain: chain.presented.clone(),
        key: Arc::new(chain.key_der()),
        client_trust_anchor: None,
        profile: TlsProfile::default(),
        binding_only: None,
    };
    (config, tls)
}

/// Accepts one connection and runs the harness's server session on it.
async fn respond_to<F, Fut>(timeout: Duration, client: F) -> (SessionEnd, Duration, Transcript)
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let fake = tokio::spawn(async move {
        if let Ok(tcp) = TcpStream::connect(address).await {
            client(tcp).await;
        }
    });
    let (tcp, _) = listener.accept().await.unwrap();
    let (config, tls) = server_side();
    let transcript = Transcript::new("harness");
    let started = Instant::now();
    let end = drive::respond(tcp, config, &tls, false, timeout, &transcript)
        .await
        .expect("a misbehaving peer is the peer's fault, not an environment error");
    let elapsed = started.elapsed();
    fake.abort();
    (end, elapsed, transcript)
}

/// Writes `bytes` one a second (each flushed on its own: one TCP segment or TLS record each),
/// then the same attribute byte forever: a stream header that never completes. Returns when
/// the peer goes away.
async fn trickle<W: AsyncWriteExt + Unpin>(writer: &mut W, bytes: &[u8]) {
    for byte in bytes.iter().chain(std::iter::repeat(&b'a')) {
        if writer.write_all(&[*byte]).await.is_err() || writer.flush().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A step that timed out: its step, and its detail after checking condition and side.
fn timed_out(end: SessionEnd) -> (Step, String) {
    let SessionEnd::Rejected {
        step,
        condition,
        by,
        detail,
    } = end
    else {
        panic!("a stalling peer was accepted: {end}");
    };
    assert_eq!(condition, "timeout", "{detail}");
    assert_eq!(by, Side::Peer, "{detail}");
    (step, detail)
}

/// The step deadline, with the slack the brief allows (one second).
fn assert_within_deadline(elapsed: Duration, limit: Duration) {
    assert!(
        elapsed >= limit && elapsed < limit + Duration::from_secs(1),
        "took {elapsed:?} with a step deadline of {limit:?}"
    );
    eprintln!("elapsed {elapsed:?} with a step deadline of {limit:?}");
}

#[tokio::test]
async fn a_server_trickling_its_stream_header_times_out_at_the_step_deadline() {
    let address = fake_server(|mut tcp| async move {
        let mut buf = [0u8; 1024];
        let _ = tcp.read(&mut buf).await;
        trickle(&mut tcp, SERVER_HEADER.as_bytes()).await;
    })
    .await;
    let limit = Duration::from_millis(2500);
    let (end, elapsed, transcript) = connect_to(address, limit).await;
    let (step, detail) = timed_out(end);
    assert_eq!(step, Step::Stream);
    assert!(detail.contains("3 bytes arrived"), "{detail}");
    assert!(detail.contains("\"<?x\""), "{detail}");
    assert_within_deadline(elapsed, limit);
    let text: Vec<String> = transcript.lines().into_iter().map(|l| l.text).collect();
    assert!(
        text.iter().any(|t| t.contains("3 bytes arrived")),
        "the transcript must say what arrived: {text:?}"
    );
}

#[tokio::test]
async fn a_server_trickling_its_header_inside_tls_times_out_at_the_step_deadline() {
    let (client_tls, acceptor) = tls_pair();
    let address = fake_server(|mut tcp| async move {
        let mut buf = [0u8; 4096];
        let _ = tcp.read(&mut buf).await;
        let _ = tcp.write_all(SERVER_HEADER.as_bytes()).await;
        let _ = tcp
            .write_all(
                b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\
                  <required/></starttls></stream:features>",
            )
            .await;
        let _ = tcp.read(&mut buf).await;
        let _ = tcp
            .write_all(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            .await;
        let Ok(mut tls) = acceptor.accept(tcp).await else {
            return;
        };
        let _ = tls.read(&mut buf).await;
        trickle(&mut tls, SERVER_HEADER.as_bytes()).await;
    })
    .await;
    let limit = Duration::from_millis(2500);
    let (end, elapsed, transcript) = connect_with(address, limit, &client_tls).await;
    let (step, detail) = timed_out(end);
    assert_eq!(step, Step::Stream, "{detail}");
    assert!(detail.contains("3 bytes arrived"), "{detail}");
    assert_within_deadline(elapsed - tls_at(&transcript), limit);
}

/// When the transcript says the TLS handshake ended (the trickle inside TLS starts there).
fn tls_at(transcript: &Transcript) -> Duration {
    transcript
        .lines()
        .into_iter()
        .find(|l| l.text.starts_with("TLS established"))
        .map(|l| l.at)
        .expect("the TLS handshake completed")
}

#[tokio::test]
async fn a_client_trickling_its_stream_header_times_out_at_the_step_deadline() {
    let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' to='interop.test' version='1.0'>";
    let limit = Duration::from_millis(2500);
    let (end, elapsed, _) = respond_to(limit, move |mut tcp| async move {
        trickle(&mut tcp, header.as_bytes()).await;
    })
    .await;
    let (step, detail) = timed_out(end);
    assert_eq!(step, Step::Stream, "{detail}");
    assert!(detail.contains("bytes arrived"), "{detail}");
    assert!(detail.contains("\"<?x"), "{detail}");
    assert_within_deadline(elapsed, limit);
}

#[tokio::test]
async fn a_server_trickling_its_tls_handshake_times_out_at_the_step_deadline() {
    let address = fake_server(|mut tcp| async move {
        let mut buf = [0u8; 4096];
        let _ = tcp.read(&mut buf).await;
        let _ = tcp.write_all(SERVER_HEADER.as_bytes()).await;
        let _ = tcp
            .write_all(
                b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\
                  <required/></starttls></stream:features>",
            )
            .await;
        let _ = tcp.read(&mut buf).await;
        let _ = tcp
            .write_all(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            .await;
        // The ClientHello arrives; a ServerHello record starts and never finishes.
        let _ = tcp.read(&mut buf).await;
        trickle(&mut tcp, &[0x16, 0x03, 0x03, 0x40, 0x00, 0x02]).await;
    })
    .await;
    let limit = Duration::from_millis(2500);
    let (end, elapsed, transcript) = connect_to(address, limit).await;
    let (step, detail) = timed_out(end);
    assert_eq!(step, Step::Tls, "{detail}");
    // What the peer got through before the deadline is in the verdict (issue 14, item 1).
    assert!(detail.contains("the peer had sent "), "{detail}");
    assert!(detail.contains("starting 16 03 03"), "{detail}");
    let handshake_started = transcript
        .lines()
        .into_iter()
        .find(|l| l.text == "TLS handshake starts")
        .map(|l| l.at)
        .expect("the handshake started");
    assert_within_deadline(elapsed - handshake_started, limit);
}

#[tokio::test]
async fn a_client_that_stops_mid_tls_handshake_times_out_at_the_step_deadline() {
    let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
        xmlns:stream='http://etherx.jabber.org/streams' to='interop.test' version='1.0'>";
    let limit = Duration::from_millis(2500);
    let (end, elapsed, transcript) = respond_to(limit, move |mut tcp| async move {
        let mut buf = [0u8; 4096];
        let _ = tcp.write_all(header.as_bytes()).await;
        let _ = tcp.read(&mut buf).await;
        let _ = tcp
            .write_all(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            .await;
        let _ = tcp.read(&mut buf).await;
        // Half a ClientHello record header, then silence.
        let _ = tcp.write_all(&[0x16, 0x03, 0x01]).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let (step, detail) = timed_out(end);
    assert_eq!(step, Step::Tls, "{detail}");
    assert!(
        detail.contains("the peer had sent 3 bytes, starting 16 03 01 during it"),
        "{detail}"
    );
    let handshake_started = transcript
        .lines()
        .into_iter()
        .find(|l| l.text == "TLS handshake starts")
        .map(|l| l.at)
        .expect("the handshake started");
    assert_within_deadline(elapsed - handshake_started, limit);
}

#[tokio::test]
async fn a_receiving_server_trickling_its_s2s_stream_header_times_out_at_the_step_deadline() {
    let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
        xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' \
        from='builtin.test' id='s2s1' version='1.0'>";
    let address = fake_server(move |mut tcp| async move {
        let mut buf = [0u8; 4096];
        let _ = tcp.read(&mut buf).await;
        trickle(&mut tcp, header.as_bytes()).await;
    })
    .await;
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::SelfSigned,
            KeyType::EcdsaP256,
            "builtin.test",
        )
        .unwrap();
    let tls = TlsSetup::S2sOriginating {
        trust_anchor: catalogue.trust_anchor(&chain, Trust::ChainRoot).unwrap(),
        domain: "builtin.test".into(),
        certificate: None,
        provisioned: None,
    };
    let config = OriginatingConfig {
        local_domain: "harness.test".into(),
        remote_domain: "builtin.test".into(),
        transport: Transport::Starttls,
        has_certificate: false,
        dialback: Some(DialbackSecret::new("secret")),
        wrong_dialback_key: false,
        limits: Limits::default(),
    };
    let limit = Duration::from_millis(2500);
    let started = Instant::now();
    let end = drive::s2s::originate(address, config, &tls, limit, &Transcript::new("harness"))
        .await
        .expect("a misbehaving peer is the peer's fault, not an environment error");
    let (step, detail) = timed_out(end);
    assert_eq!(step, Step::Stream, "{detail}");
    assert!(detail.contains("bytes arrived"), "{detail}");
    assert_within_deadline(started.elapsed(), limit);
}
