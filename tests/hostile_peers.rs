//! Broken or hostile peers get a clear verdict within the time limit: never a hang, a panic or
//! unbounded buffering (DESIGN.md "Hostile peers", RFC 6120 §11.1, §13.12).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xmpp_interop::drive::{self, Transcript};
use xmpp_interop::pki::Catalogue;
use xmpp_interop::proto::client::{ClientConfig, Errand};
use xmpp_interop::proto::sasl::ClientOptions;
use xmpp_interop::proto::xml::Limits;
use xmpp_interop::proto::{SessionEnd, Side};
use xmpp_interop::scenario::{
    CertificateProfile, IdentityType, KeyType, Mechanism, Step, Transport, Trust,
};
use xmpp_interop::transport::TlsSetup;

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
    let transcript = Transcript::new("harness");
    let started = Instant::now();
    let end = drive::initiate(
        address,
        client_config(),
        &client_tls(),
        timeout,
        &transcript,
    )
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
