//! tls-unique (RFC 5929 §3.1) from the harness's OpenSSL stack, checked against an independent
//! implementation over the same connection: CPython's `ssl` module
//! (`SSLSocket.get_channel_binding("tls-unique")`, `fixtures/tls-unique/peer.py`) computes its
//! own value on the other end of a TLS 1.2 connection and sends it over; the harness's side must
//! hold the same bytes, in both roles.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use crate::support::Scratch;
use crate::support::python_peer::python_server;
use xmpp_interop::pki::{Catalogue, IssuedChain};
use xmpp_interop::proto::sasl::ChannelBindingType;
use xmpp_interop::scenario::{
    CertificateProfile, IdentityType, KeyType, TlsProfile, TlsStack, TlsVersion, Trust,
};
use xmpp_interop::transport::{Connection, ReadOutcome, TlsSetup};

const DOMAIN: &str = "interop.test";
const PEER: &str = "fixtures/tls-unique/peer.py";
const LIMIT: Duration = Duration::from_secs(10);

fn openssl_tls12() -> TlsProfile {
    TlsProfile {
        stack: TlsStack::Openssl,
        versions: vec![TlsVersion::Tls12],
        ciphers: None,
    }
}

fn chain() -> (Catalogue, Arc<IssuedChain>) {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            DOMAIN,
        )
        .unwrap();
    (catalogue, chain)
}

/// The harness's tls-unique on `connection`, in hex.
fn harness_value(connection: &Connection, own_leaf: Option<&[u8]>) -> String {
    let leaf = own_leaf.map(|der| rustls_pki_types::CertificateDer::from(der.to_vec()));
    let bindings = connection.channel_bindings(leaf.as_ref());
    let value = bindings
        .get(ChannelBindingType::TlsUnique)
        .expect("the OpenSSL stack has tls-unique on TLS 1.2");
    assert_eq!(value.len(), 12, "TLS 1.2 verify_data is 12 bytes");
    value.iter().map(|b| format!("{b:02x}")).collect()
}

/// The line of hex the Python peer sends over TLS.
async fn python_value(connection: &mut Connection) -> String {
    let mut received = Vec::new();
    while !received.ends_with(b"\n") {
        match connection.read(LIMIT).await.unwrap() {
            ReadOutcome::Data(bytes) => received.extend(bytes),
            ReadOutcome::Closed | ReadOutcome::TimedOut => break,
        }
    }
    String::from_utf8(received).unwrap().trim().to_owned()
}

/// The harness as TLS client: its value is its own Finished; Python's server computes its side.
#[tokio::test]
async fn harness_client_tls_unique_matches_python_server_rfc5929_3_1() {
    let (catalogue, chain) = chain();
    let dir = Scratch::new("client");
    let chain_file = dir.join("chain.pem");
    let key_file = dir.join("key.pem");
    std::fs::write(
        &chain_file,
        format!("{}{}", chain.pem.leaf, chain.pem.intermediates.concat()),
    )
    .unwrap();
    std::fs::write(&key_file, &chain.pem.key).unwrap();
    let (_peer, port) = python_server(
        PEER,
        &[
            "server".as_ref(),
            chain_file.as_os_str(),
            key_file.as_os_str(),
        ],
    );
    let setup = TlsSetup::Client {
        trust_anchor: catalogue.trust_anchor(&chain, Trust::ChainRoot).unwrap(),
        domain: DOMAIN.to_owned(),
        identity: IdentityType::DEFAULT.to_vec(),
        client_certificate: None,
        profile: openssl_tls12(),
    };
    let tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .unwrap();
    let mut connection = Connection::Plain(tcp);
    let facts = connection
        .upgrade_to_client_tls(&setup, LIMIT)
        .await
        .unwrap();
    assert_eq!(facts.version, "TLSv1_2");
    let ours = harness_value(&connection, None);
    let theirs = python_value(&mut connection).await;
    println!("harness (client) tls-unique {ours}, Python (server) tls-unique {theirs}");
    assert_eq!(ours, theirs);
}

/// The harness as TLS server: its value is the client's Finished; Python's client computes its
/// own side.
#[tokio::test]
async fn harness_server_tls_unique_matches_python_client_rfc5929_3_1() {
    let (_, chain) = chain();
    let dir = Scratch::new("server");
    let root_file = dir.join("root.pem");
    std::fs::write(&root_file, &chain.pem.root).unwrap();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut python = Command::new("/usr/bin/python3")
        .arg(PEER)
        .args(["client", &port.to_string()])
        .arg(Path::new(&root_file))
        .arg(DOMAIN)
        .spawn()
        .expect("/usr/bin/python3 runs");
    let (tcp, _) = tokio::time::timeout(LIMIT, listener.accept())
        .await
        .unwrap()
        .unwrap();
    let setup = TlsSetup::Server {
        chain: chain.presented.clone(),
        key: Arc::new(chain.key_der()),
        client_trust_anchor: None,
        profile: openssl_tls12(),
        binding_only: None,
    };
    let mut connection = Connection::Plain(tcp);
    let facts = connection
        .upgrade_to_server_tls(&setup, LIMIT)
        .await
        .unwrap();
    assert_eq!(facts.version, "TLSv1_2");
    let ours = harness_value(&connection, Some(chain.presented[0].as_ref()));
    let theirs = python_value(&mut connection).await;
    connection.shutdown(LIMIT).await;
    println!("harness (server) tls-unique {ours}, Python (client) tls-unique {theirs}");
    assert_eq!(ours, theirs);
    assert!(python.wait().unwrap().success());
}
