//! `probe`'s facts and findings against the managed Prosody and ejabberd (what the servers
//! really offer) and against small in-test listeners built to break one clause each.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use xmpp_interop::pki::Catalogue;
use xmpp_interop::probe::{self, EndpointUnderTest, ProbeService, Trust};
use xmpp_interop::scenario::{CertificateProfile, KeyType, Transport};
use xmpp_interop::targets::managed::{
    Installation, Instance, InstanceKey, ManagedSpec, ServerSoftware,
};

use crate::support::Scratch;
use crate::support::dns::{LoopbackDns, Zone};
use crate::support::real::servers_installed;
use crate::support::turns;

const LIMIT: Duration = Duration::from_secs(5);

fn endpoint(service: ProbeService, direct_tls: bool, address: SocketAddr) -> EndpointUnderTest {
    EndpointUnderTest {
        service,
        direct_tls,
        host: "127.0.0.1".into(),
        port: address.port(),
        address,
        origin: "test".into(),
        tlsa: Vec::new(),
    }
}

/// Checks a probe report's JSON against `schemas/probe.schema.json` with Python's jsonschema
/// (when installed; under CI it must be). Shared with `probe_account`.
pub(super) fn assert_matches_probe_schema(json: &str) {
    let found = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import jsonschema"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3-jsonschema is missing under CI"
        );
        eprintln!("NOT CHECKED against the schema: python3-jsonschema is not installed");
        return;
    }
    let dir = Scratch::new("probe-schema");
    let document = dir.join("probe.json");
    std::fs::write(&document, json).unwrap();
    let output = std::process::Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             jsonschema.Draft202012Validator.check_schema(schema)\n\
             jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(json.load(open(sys.argv[2])))",
            "schemas/probe.schema.json",
        ])
        .arg(&document)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Starts `software` for `domain` with the test PKI's cacert-intermediate chain.
async fn start_managed(
    software: &str,
    domain: &str,
) -> (Instance, std::sync::Arc<xmpp_interop::pki::IssuedChain>) {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::CacertIntermediate,
            KeyType::EcdsaP256,
            domain,
        )
        .unwrap();
    let spec = ManagedSpec {
        software: ServerSoftware::named(software).unwrap(),
        domain: domain.to_owned(),
        startup_timeout: Duration::from_secs(30),
        installation: Installation::host(),
        version: None,
    };
    let key = InstanceKey {
        target: format!("probe-{software}"),
        certificate: CertificateProfile::CacertIntermediate,
        key: KeyType::EcdsaP256,
        client_certificates: false,
    };
    let instance = Instance::start(&spec, &key, &chain, None, None, None)
        .await
        .unwrap();
    (instance, chain)
}

/// Starts `software` for `domain` and probes its c2s STARTTLS, c2s direct-TLS and s2s
/// STARTTLS endpoints.
async fn probe_managed(software: &str, domain: &str) -> probe::ProbeReport {
    let (instance, chain) = start_managed(software, domain).await;
    let mut endpoints = vec![endpoint(
        ProbeService::C2s,
        false,
        instance.starttls_address(),
    )];
    if let Ok(direct) = instance.address(Transport::DirectTls) {
        endpoints.push(endpoint(ProbeService::C2s, true, direct));
    }
    endpoints.push(endpoint(
        ProbeService::S2s,
        false,
        instance.s2s_address(Transport::Starttls),
    ));
    let trust = Trust::from_certificates(vec![chain.root.clone()], "the test PKI's root".into());
    probe::probe_endpoints(domain, &endpoints, Vec::new(), &trust, LIMIT, |_| {}).await
}

/// What the probe reports is what the servers really offer: STARTTLS required with nothing
/// but `<starttls/>` before TLS on c2s, SCRAM after it, TLS 1.2 and 1.3 only (RFC 8996), a
/// chain that validates and names the domain by DNS-ID; dialback on s2s. Within the
/// documented bound of connections per endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_prosody_and_ejabberd_show_what_they_really_offer_rfc6120_5_4_1() {
    if !servers_installed("managed_prosody_and_ejabberd_show_what_they_really_offer_rfc6120_5_4_1")
    {
        return;
    }
    let _turn = turns::managed_servers_shared_async().await;
    for (software, domain) in [
        ("prosody", "probe-prosody.test"),
        ("ejabberd", "probe-ejabberd.test"),
    ] {
        let report = probe_managed(software, domain).await;
        let markdown = probe::render::markdown(&report);
        assert_matches_probe_schema(&probe::render::json(&report));
        assert_ne!(report.grade, probe::Grade::F, "{markdown}");
        assert_eq!(report.must_broken, 0, "{markdown}");
        for endpoint in &report.endpoints {
            let facts = &endpoint.facts;
            let label = facts.endpoint.label();
            assert!(
                facts.reachable && facts.stopped.is_none(),
                "{label}: {markdown}"
            );
            assert!(facts.connections <= probe::MAX_CONNECTIONS, "{label}");
            let chain = facts.chain.as_ref().unwrap();
            assert!(
                chain.validates && chain.in_order && chain.complete,
                "{label}"
            );
            assert_eq!(
                chain.certificates.len(),
                2,
                "{label}: leaf and intermediate"
            );
            let identity = facts.identity.as_ref().unwrap();
            assert_eq!(identity.rule.as_deref(), Some("dns-id"), "{label}");
            let accepted: Vec<(&str, Option<bool>)> = facts
                .versions
                .iter()
                .map(|v| (v.version.label(), v.accepted))
                .collect();
            assert_eq!(
                accepted,
                [
                    ("TLS 1.0", Some(false)),
                    ("TLS 1.1", Some(false)),
                    ("TLS 1.2", Some(true)),
                    ("TLS 1.3", Some(true))
                ],
                "{label}"
            );
            assert!(
                facts
                    .cipher_classes
                    .iter()
                    .all(|c| c.accepted != Some(true)),
                "{label}"
            );
            if !facts.endpoint.direct_tls {
                let before = facts.before_tls.as_ref().unwrap();
                assert!(
                    before.starttls_offered && before.starttls_required,
                    "{label}"
                );
                assert!(before.sasl_mechanisms.is_empty(), "{label}");
            }
            let after = facts.after_tls.as_ref().unwrap();
            match facts.endpoint.service {
                ProbeService::C2s => {
                    assert_eq!(after.content_namespace, "jabber:client");
                    assert!(
                        after.sasl_mechanisms.iter().any(|m| m == "SCRAM-SHA-1"),
                        "{label}: {:?}",
                        after.sasl_mechanisms
                    );
                }
                ProbeService::S2s => {
                    assert_eq!(after.content_namespace, "jabber:server");
                    assert!(after.dialback, "{label}: dialback after TLS");
                }
            }
        }
    }
}

/// A listener that answers the first stream with `features` and closes.
async fn plaintext_server(features: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = vec![0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let _ = socket
                .write_all(
                    format!(
                        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
                         xmlns:stream='http://etherx.jabber.org/streams' from='broken.test' \
                         id='x' version='1.0'><stream:features>{features}</stream:features>"
                    )
                    .as_bytes(),
                )
                .await;
            // <starttls/> gets a <failure/>: this server has no TLS.
            let _ = socket.read(&mut buffer).await;
            let _ = socket
                .write_all(b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>")
                .await;
        }
    });
    address
}

/// RFC 6120 §13.8.3: a server offering PLAIN on an unencrypted stream breaks a MUST NOT.
#[tokio::test]
async fn plain_offered_before_tls_is_a_must_finding_rfc6120_13_8_3() {
    let address = plaintext_server(
        "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>",
    )
    .await;
    let trust = Trust::from_certificates(Vec::new(), "no roots".into());
    let report = probe::probe_endpoints(
        "broken.test",
        &[endpoint(ProbeService::C2s, false, address)],
        Vec::new(),
        &trust,
        LIMIT,
        |_| {},
    )
    .await;
    let findings = &report.endpoints[0].findings;
    let plain = findings
        .iter()
        .find(|f| f.clause == "RFC 6120 §13.8.3")
        .expect("a PLAIN finding");
    assert_eq!(plain.verdict, "fail");
    assert!(
        plain.observed.contains("PLAIN offered before TLS"),
        "{}",
        plain.observed
    );
    assert_eq!(report.grade, probe::Grade::F);
    assert_matches_probe_schema(&probe::render::json(&report));
    let out = Scratch::new("probe-out");
    probe::render::write_all(&report, &out.join("reports")).unwrap();
    for file in ["probe.html", "probe.md"] {
        let text = std::fs::read_to_string(out.join("reports").join(file)).unwrap();
        assert!(text.contains("RFC 6120 §13.8.3"), "{file}: {text}");
        assert!(text.contains("grade F"), "{file}: {text}");
        assert!(text.contains("PLAIN offered before TLS"), "{file}: {text}");
    }
    let facts = &report.endpoints[0].facts;
    assert_eq!(facts.starttls_proceeded, Some(false));
    assert_eq!(
        facts.before_tls.as_ref().unwrap().sasl_mechanisms,
        vec!["PLAIN".to_owned()]
    );
}

/// A direct-TLS listener presenting `chain` (leaf first) that answers every stream with SCRAM
/// and closes; every connection is served, so each handshake the probe runs completes or fails
/// on its own.
async fn direct_tls_server(chain: &xmpp_interop::pki::IssuedChain) -> SocketAddr {
    direct_tls_server_on(chain, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// [`direct_tls_server`] on a given address.
async fn direct_tls_server_on(
    chain: &xmpp_interop::pki::IssuedChain,
    address: SocketAddr,
) -> SocketAddr {
    let config =
        rustls::ServerConfig::builder_with_provider(xmpp_interop::transport::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                chain.presented.clone(),
                rustls::pki_types::PrivateKeyDer::Pkcs8(chain.key.clone_key()),
            )
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = TcpListener::bind(address).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let mut buffer = vec![0u8; 4096];
                let _ = tls.read(&mut buffer).await;
                let _ = tls
                    .write_all(
                        b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
                          xmlns:stream='http://etherx.jabber.org/streams' from='broken.test' \
                          id='y' version='1.0'><stream:features><mechanisms \
                          xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism>\
                          </mechanisms></stream:features>",
                    )
                    .await;
                let _ = tls.read(&mut buffer).await;
            });
        }
    });
    address
}

/// Probes one direct-TLS endpoint for `broken.test` that presents `chain`, trusting its root.
async fn probe_chain(chain: &xmpp_interop::pki::IssuedChain) -> probe::EndpointReport {
    let address = direct_tls_server(chain).await;
    let trust = Trust::from_certificates(vec![chain.root.clone()], "the test PKI's root".into());
    let mut report = probe::probe_endpoints(
        "broken.test",
        &[endpoint(ProbeService::C2s, true, address)],
        Vec::new(),
        &trust,
        LIMIT,
        |_| {},
    )
    .await;
    report.endpoints.remove(0)
}

/// RFC 6125 §6.2.1: a certificate naming only the SRV target host does not identify the
/// source domain, whatever DNS said; the probe checks the domain, and finds nothing names it.
#[tokio::test]
async fn a_certificate_naming_only_the_srv_target_fails_the_identity_check_rfc6125_6_2_1() {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::CacertIntermediate,
            KeyType::EcdsaP256,
            "xmpp.host.test",
        )
        .unwrap();
    let endpoint = probe_chain(&chain).await;
    let identity = endpoint.facts.identity.as_ref().unwrap();
    assert_eq!(identity.rule, None);
    let finding = endpoint
        .findings
        .iter()
        .find(|f| f.clause == "RFC 6125 §6.2.1")
        .expect("an identity finding");
    assert_eq!(finding.verdict, "fail");
    assert!(
        finding.observed.contains("DNS:xmpp.host.test"),
        "{}",
        finding.observed
    );
    // The chain itself is fine: only the name is wrong.
    assert!(endpoint.facts.chain.as_ref().unwrap().validates);
}

/// RFC 6120 §13.7.2: a chain without its intermediate cannot be validated, and the probe says
/// it is incomplete and how to fix it.
#[tokio::test]
async fn a_missing_intermediate_is_an_incomplete_chain_that_does_not_validate_rfc6120_13_7_2() {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::MissingIntermediate,
            KeyType::EcdsaP256,
            "broken.test",
        )
        .unwrap();
    let endpoint = probe_chain(&chain).await;
    let facts = endpoint.facts.chain.as_ref().unwrap();
    assert!(!facts.validates && !facts.complete, "{facts:?}");
    assert_eq!(facts.validation_error.as_deref(), Some("unknown-issuer"));
    let finding = endpoint
        .findings
        .iter()
        .find(|f| f.clause == "RFC 6120 §13.7.2")
        .expect("a chain finding");
    assert_eq!(finding.verdict, "fail");
    assert!(
        finding.observed.contains("incomplete"),
        "{}",
        finding.observed
    );
    assert!(finding.fix.contains("full chain"), "{}", finding.fix);
    // The name is right.
    assert_eq!(
        endpoint.facts.identity.as_ref().unwrap().rule.as_deref(),
        Some("dns-id")
    );
}

/// RFC 6120 §13.7.2: an expired leaf fails validation; the days to expiry are negative.
#[tokio::test]
async fn an_expired_certificate_does_not_validate_rfc6120_13_7_2() {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::Expired,
            KeyType::EcdsaP256,
            "broken.test",
        )
        .unwrap();
    let endpoint = probe_chain(&chain).await;
    let facts = endpoint.facts.chain.as_ref().unwrap();
    assert_eq!(facts.validation_error.as_deref(), Some("expired"));
    assert!(facts.certificates[0].days_to_expiry < 0);
    let finding = endpoint
        .findings
        .iter()
        .find(|f| f.clause == "RFC 6120 §13.7.2")
        .expect("a chain finding");
    assert!(finding.fix.contains("renew"), "{}", finding.fix);
    // A direct-TLS endpoint offered the ALPN protocol of XEP-0368.
    assert_eq!(
        endpoint.facts.tls.as_ref().unwrap().alpn_offered,
        vec!["xmpp-client".to_owned()]
    );
}

/// A peer that accepts and never answers costs one connection and one step timeout: the probe
/// stops there and says where, instead of hanging or opening more connections.
#[tokio::test]
async fn a_silent_peer_stops_the_probe_at_the_first_step_within_its_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let trust = Trust::from_certificates(Vec::new(), "no roots".into());
    let started = std::time::Instant::now();
    let report = probe::probe_endpoints(
        "silent.test",
        &[endpoint(ProbeService::C2s, false, address)],
        Vec::new(),
        &trust,
        Duration::from_millis(300),
        |_| {},
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let facts = &report.endpoints[0].facts;
    assert!(facts.reachable);
    assert_eq!(facts.connections, 1);
    assert!(
        facts
            .stopped
            .as_deref()
            .is_some_and(|s| s.starts_with("stream before TLS: no answer within")),
        "{:?}",
        facts.stopped
    );
    assert_eq!(report.not_fully_probed, 1);
    assert!(
        probe::render::markdown(&report).contains("1 endpoint(s) not fully probed"),
        "the summary says the grade does not cover that endpoint"
    );
}

/// Usage errors are exit 2 before anything is asked of DNS: an unreadable `--root`, and
/// `--c2s` with `--s2s`.
#[test]
fn probe_usage_errors_exit_2() {
    let output = crate::support::harness()
        .args(["probe", "example.test", "--root", "/nonexistent/root.pem"])
        .output()
        .unwrap();
    let (_, stderr) = crate::support::output_text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--root /nonexistent/root.pem"), "{stderr}");
    let output = crate::support::harness()
        .args(["probe", "example.test", "--c2s", "--s2s"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// A direct-TLS OpenSSL listener at security level 0 that accepts TLS 1.0 to 1.3 and every
/// suite libssl has (RSA chain, so static RSA is among them), the kind of configuration RFC
/// 8996 and RFC 9325 §4.1 are written against.
async fn permissive_openssl_server(chain: &xmpp_interop::pki::IssuedChain) -> SocketAddr {
    use openssl::ssl::{SslContext, SslMethod, SslOptions, SslVersion};
    let mut builder = SslContext::builder(SslMethod::tls_server()).unwrap();
    builder.clear_options(SslOptions::NO_TLSV1 | SslOptions::NO_TLSV1_1);
    builder.set_security_level(0);
    builder
        .set_min_proto_version(Some(SslVersion::TLS1))
        .unwrap();
    builder.set_cipher_list("ALL:@SECLEVEL=0").unwrap();
    let leaf = openssl::x509::X509::from_der(&chain.presented[0]).unwrap();
    builder.set_certificate(&leaf).unwrap();
    for intermediate in &chain.presented[1..] {
        builder
            .add_extra_chain_cert(openssl::x509::X509::from_der(intermediate).unwrap())
            .unwrap();
    }
    let key = openssl::pkey::PKey::private_key_from_der(chain.key.secret_pkcs8_der()).unwrap();
    builder.set_private_key(&key).unwrap();
    let acceptor = std::sync::Arc::new(builder.build());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = std::sync::Arc::clone(&acceptor);
            tokio::spawn(async move {
                let ssl = openssl::ssl::Ssl::new(&acceptor).unwrap();
                let mut tls = tokio_openssl::SslStream::new(ssl, socket).unwrap();
                if std::pin::Pin::new(&mut tls).accept().await.is_err() {
                    return;
                }
                let mut buffer = vec![0u8; 4096];
                let _ = tls.read(&mut buffer).await;
                let _ = tls
                    .write_all(
                        b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
                          xmlns:stream='http://etherx.jabber.org/streams' from='broken.test' \
                          id='z' version='1.0'><stream:features/>",
                    )
                    .await;
                let _ = tls.read(&mut buffer).await;
            });
        }
    });
    address
}

/// RFC 8996 §2, §3 and RFC 9325 §4.1: a server that still accepts TLS 1.0, TLS 1.1 and
/// static-RSA suites gets a MUST NOT finding for each version and a SHOULD NOT for the suites;
/// TLS 1.2 and 1.3 are accepted too.
#[tokio::test]
async fn tls_1_0_and_1_1_accepted_are_must_not_findings_rfc8996_2() {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::CacertIntermediate,
            KeyType::Rsa2048,
            "broken.test",
        )
        .unwrap();
    let address = permissive_openssl_server(&chain).await;
    let trust = Trust::from_certificates(vec![chain.root.clone()], "the test PKI's root".into());
    let report = probe::probe_endpoints(
        "broken.test",
        &[endpoint(ProbeService::C2s, true, address)],
        Vec::new(),
        &trust,
        LIMIT,
        |_| {},
    )
    .await;
    let endpoint = &report.endpoints[0];
    let markdown = probe::render::markdown(&report);
    let accepted: Vec<Option<bool>> = endpoint.facts.versions.iter().map(|v| v.accepted).collect();
    assert_eq!(accepted, [Some(true); 4], "{markdown}");
    let clauses: Vec<(&str, &str)> = endpoint
        .findings
        .iter()
        .map(|f| (f.verdict, f.clause))
        .collect();
    assert!(clauses.contains(&("fail", "RFC 8996 §2")), "{markdown}");
    assert!(clauses.contains(&("fail", "RFC 8996 §3")), "{markdown}");
    let static_rsa = endpoint
        .facts
        .cipher_classes
        .iter()
        .find(|c| c.class == xmpp_interop::scenario::CipherClass::StaticRsa)
        .unwrap();
    assert_eq!(static_rsa.accepted, Some(true), "{markdown}");
    assert!(clauses.contains(&("warn", "RFC 9325 §4.1")), "{markdown}");
    // MUST findings come first.
    assert_eq!(endpoint.findings[0].verdict, "fail");
    assert_eq!(report.grade, probe::Grade::F);
    assert!(endpoint.facts.connections <= probe::MAX_CONNECTIONS);
}

/// Runs `xmpp-interop probe ARGS`; returns the exit code, stdout and stderr. Shared with
/// `probe_account`.
pub(super) fn run_probe(args: &[&str]) -> (Option<i32>, String, String) {
    let output = crate::support::harness()
        .arg("probe")
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = crate::support::output_text(&output);
    (output.status.code(), stdout, stderr)
}

/// The whole command against the managed servers, found through SRV records on a loopback DNS
/// server whose targets are other names than the domain (the certificate names the domain,
/// RFC 6125 §6.2.1): every endpoint probed, exit 0, the JSON on stdout and the three files in
/// --out, progress on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_finds_the_managed_servers_through_srv_and_exits_0_rfc6120_3_2_1() {
    if !servers_installed("probe_finds_the_managed_servers_through_srv_and_exits_0_rfc6120_3_2_1") {
        return;
    }
    let _turn = turns::managed_servers_shared_async().await;
    for (software, domain) in [
        ("prosody", "cli-prosody.test"),
        ("ejabberd", "cli-ejabberd.test"),
    ] {
        let (instance, chain) = start_managed(software, domain).await;
        let host = format!("xmpp.{domain}");
        let mut zone = Zone::new()
            .srv(
                &format!("_xmpp-client._tcp.{domain}"),
                0,
                0,
                instance.starttls_address().port(),
                &host,
            )
            .srv(
                &format!("_xmpp-server._tcp.{domain}"),
                0,
                0,
                instance.s2s_address(Transport::Starttls).port(),
                &host,
            )
            .a(&host, [127, 0, 0, 1]);
        if let Ok(direct) = instance.address(Transport::DirectTls) {
            zone = zone.srv(
                &format!("_xmpps-client._tcp.{domain}"),
                0,
                0,
                direct.port(),
                &host,
            );
        }
        let dns = LoopbackDns::start(zone);
        let dir = Scratch::new("probe-cli");
        std::fs::write(dir.join("root.pem"), &chain.pem.root).unwrap();
        let resolver = dns.address().to_string();
        let root = dir.join("root.pem");
        let out = dir.join("reports");
        let (code, stdout, stderr) = run_probe(&[
            domain,
            "--resolver",
            &resolver,
            "--root",
            root.to_str().unwrap(),
            "--json",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(0), "{stderr}\n{stdout}");
        assert!(
            stderr.contains(&format!("probing c2s starttls {host}:")),
            "{stderr}"
        );
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let endpoints = json["endpoints"].as_array().unwrap();
        let expected = if instance.address(Transport::DirectTls).is_ok() {
            3
        } else {
            2
        };
        assert_eq!(endpoints.len(), expected, "{stdout}");
        for endpoint in endpoints {
            assert_eq!(
                endpoint["facts"]["identity"]["rule"], "dns-id",
                "{endpoint}"
            );
            assert!(
                endpoint["facts"]["endpoint"]["origin"]
                    .as_str()
                    .unwrap()
                    .starts_with("SRV _xmpp"),
                "{endpoint}"
            );
        }
        assert_ne!(json["grade"], "F");
        for file in ["probe.json", "probe.html", "probe.md"] {
            assert!(out.join(file).is_file(), "{file}");
        }
        // The human summary, as the README shows it.
        let (code, stdout, _) = run_probe(&[
            domain,
            "--resolver",
            &resolver,
            "--root",
            root.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(0));
        assert!(stdout.contains("grade "), "{stdout}");
        println!("{stdout}");
    }
}

/// A listener that offers PLAIN before TLS, found through DNS beside an SRV target without
/// address and without any `_xmpps-client` record: the two DNS facts are reported and are no
/// findings (XEP-0368 is optional), the PLAIN offer is a MUST NOT finding and the exit code 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_facts_are_not_findings_but_plain_before_tls_exits_1_rfc6120_13_8_3() {
    let address = plaintext_server(
        "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>",
    )
    .await;
    let dns = LoopbackDns::start(
        Zone::new()
            .srv(
                "_xmpp-client._tcp.broken.test",
                0,
                0,
                address.port(),
                "xmpp.broken.test",
            )
            .srv(
                "_xmpp-client._tcp.broken.test",
                10,
                0,
                5222,
                "ghost.broken.test",
            )
            .a("xmpp.broken.test", [127, 0, 0, 1]),
    );
    let resolver = dns.address().to_string();
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        run_probe(&["broken.test", "--c2s", "--resolver", &resolver, "--json"])
    })
    .await
    .unwrap();
    assert_eq!(code, Some(1), "{stderr}\n{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let dns_lines: Vec<&str> = json["dns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect();
    assert!(
        dns_lines
            .iter()
            .any(|l| l.contains("ghost.broken.test") && l.contains("no AAAA or A record")),
        "{dns_lines:?}"
    );
    assert!(
        dns_lines
            .iter()
            .any(|l| l.contains("_xmpps-client._tcp.broken.test")),
        "{dns_lines:?}"
    );
    let endpoints = json["endpoints"].as_array().unwrap();
    assert_eq!(
        endpoints.len(),
        1,
        "only the target with an address: {stdout}"
    );
    let clauses: Vec<&str> = endpoints[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["clause"].as_str().unwrap())
        .collect();
    assert!(clauses.contains(&"RFC 6120 §13.8.3"), "{clauses:?}");
    assert!(
        endpoints[0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| !f["observed"].as_str().unwrap().contains("xmpps")),
        "{stdout}"
    );
}

/// RFC 6125 §6.2.1 end to end: the SRV record points at xmpp.srvname.test, and the server's
/// certificate names only that host; the probe checks the domain srvname.test and exits 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_the_srv_target_only_exits_1_through_dns_rfc6125_6_2_1() {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::CacertIntermediate,
            KeyType::EcdsaP256,
            "xmpp.srvname.test",
        )
        .unwrap();
    let address = direct_tls_server(&chain).await;
    let dns = LoopbackDns::start(
        Zone::new()
            .srv(
                "_xmpps-client._tcp.srvname.test",
                0,
                0,
                address.port(),
                "xmpp.srvname.test",
            )
            .a("xmpp.srvname.test", [127, 0, 0, 1]),
    );
    let dir = Scratch::new("probe-srvname");
    std::fs::write(dir.join("root.pem"), &chain.pem.root).unwrap();
    let resolver = dns.address().to_string();
    let root = dir.join("root.pem");
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        run_probe(&[
            "srvname.test",
            "--c2s",
            "--resolver",
            &resolver,
            "--root",
            root.to_str().unwrap(),
        ])
    })
    .await
    .unwrap();
    assert_eq!(code, Some(1), "{stderr}\n{stdout}");
    assert!(stdout.contains("fail MUST (RFC 6125 §6.2.1)"), "{stdout}");
    assert!(stdout.contains("DNS:xmpp.srvname.test"), "{stdout}");
    assert!(stdout.contains("grade F"), "{stdout}");
    println!("{stdout}");
}

/// The SHA-256 of the leaf's SubjectPublicKeyInfo: TLSA `3 1 1` data (RFC 6698 §2.1).
fn leaf_spki_sha256(chain: &xmpp_interop::pki::IssuedChain) -> Vec<u8> {
    use sha2::Digest as _;
    use x509_parser::prelude::FromDer as _;
    let (_, leaf) =
        x509_parser::certificate::X509Certificate::from_der(&chain.presented[0]).unwrap();
    sha2::Sha256::digest(leaf.tbs_certificate.subject_pki.raw).to_vec()
}

/// Every address of an SRV target is an endpoint (RFC 6120 §3.2.1): a target with AAAA and A
/// records is probed over IPv6 and IPv4, each with its own facts, the TLSA record of the
/// target matched against the chain on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_srv_target_is_probed_over_ipv6_and_ipv4_rfc6120_3_2_1() {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::CacertIntermediate,
            KeyType::EcdsaP256,
            "dual.test",
        )
        .unwrap();
    let v4 = direct_tls_server(&chain).await;
    let Ok(v6_listener) = std::net::TcpListener::bind(("::1", v4.port())) else {
        eprintln!("NOT RUN: ::1 port {} is not free or IPv6 is off", v4.port());
        return;
    };
    drop(v6_listener);
    let v6 = direct_tls_server_on(
        &chain,
        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, v4.port())),
    )
    .await;
    let dns = LoopbackDns::start(
        Zone::new()
            .srv(
                "_xmpps-client._tcp.dual.test",
                0,
                0,
                v4.port(),
                "xmpp.dual.test",
            )
            .a("xmpp.dual.test", [127, 0, 0, 1])
            .aaaa("xmpp.dual.test", std::net::Ipv6Addr::LOCALHOST)
            .tlsa(
                &format!("_{}._tcp.xmpp.dual.test", v4.port()),
                3,
                1,
                1,
                &leaf_spki_sha256(&chain),
            ),
    );
    let trust = Trust::from_certificates(vec![chain.root.clone()], "the test PKI's root".into());
    let report = probe::probe_domain(
        "dual.test",
        &[xmpp_interop::discovery::Service::Client],
        Some(dns.address()),
        &trust,
        LIMIT,
        |_| {},
    )
    .await
    .unwrap();
    let addresses: Vec<SocketAddr> = report
        .endpoints
        .iter()
        .map(|e| e.facts.endpoint.address)
        .collect();
    assert_eq!(addresses, [v6, v4]);
    for endpoint in &report.endpoints {
        assert!(endpoint.facts.tls.is_some(), "{:?}", endpoint.facts.stopped);
        assert_eq!(
            endpoint.facts.identity.as_ref().unwrap().rule.as_deref(),
            Some("dns-id")
        );
        // RFC 7673 §3: the TLSA record of the SRV target's port matches the leaf (a fact).
        let tlsa: Vec<&str> = endpoint
            .facts
            .tlsa
            .iter()
            .map(|m| m.matched.as_str())
            .collect();
        assert_eq!(tlsa, ["the leaf"]);
    }
    assert_eq!(
        report.grade,
        probe::Grade::A,
        "{}",
        probe::render::markdown(&report)
    );
}

/// A domain DNS knows nothing about has no endpoint to probe: exit 2, the DNS facts on stderr.
#[test]
fn a_domain_without_any_record_exits_2_with_the_dns_facts() {
    let dns = LoopbackDns::start(Zone::new());
    let resolver = dns.address().to_string();
    let (code, stdout, stderr) = run_probe(&["nothing.test", "--resolver", &resolver]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("no endpoint to probe for nothing.test"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no SRV record at _xmpp-client._tcp.nothing.test"),
        "{stderr}"
    );
}
