//! Server-to-server over loopback: the shipped s2s scenarios, harness against the built-in
//! server in both directions, checked for what was said on the wire, and a broken originating
//! peer against the built-in receiving server.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use crate::support::runs::{find, run_builtin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xmpp_interop::drive::Transcript;
use xmpp_interop::drive::s2s::{self, Authorities};
use xmpp_interop::pki::Catalogue;
use xmpp_interop::proto::s2s::dialback::DialbackSecret;
use xmpp_interop::proto::s2s::originating::OriginatingConfig;
use xmpp_interop::proto::s2s::receiving::ReceivingConfig;
use xmpp_interop::proto::xml::Limits;
use xmpp_interop::proto::{SessionEnd, Side};
use xmpp_interop::runner::{CaseResult, Outcome};
use xmpp_interop::scenario::{CertificateProfile, KeyType, S2sPolicy, Step, Transport, Trust};
use xmpp_interop::transport::TlsSetup;

/// Whether some transcript line of `who` contains `text`.
fn said(result: &CaseResult, who: &str, text: &str) -> bool {
    result
        .transcript
        .iter()
        .any(|line| line.who == who && line.text.contains(text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_s2s_case_runs_only_against_the_server_and_passes_builtin_against_builtin() {
    let results = run_builtin("scenarios/s2s", 2).await;
    assert_eq!(results.len(), 18, "one case per s2s scenario and transport");
    for result in &results {
        assert_eq!(result.target, "builtin-server", "{}", result.case.id);
        // A MAY-level case (XEP-0178 §3 lets a receiving server fall back to dialback for a
        // certificate of another domain) reports an `info` fact; it must still be the
        // behaviour the scenario describes.
        let expected = if result.level() == xmpp_interop::scenario::Level::May {
            assert!(
                result
                    .observation
                    .as_ref()
                    .is_some_and(|o| o.satisfies(&result.case.expect)),
                "{}: {}",
                result.case.id,
                result.observed
            );
            Outcome::Info
        } else {
            Outcome::Pass
        };
        assert_eq!(
            result.outcome, expected,
            "{}: {}",
            result.case.id, result.observed
        );
    }
}

/// RFC 6120 §6.4.5, XEP-0178 §4: a good certificate is used with EXTERNAL, in both directions,
/// and no dialback key is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_certificate_authenticates_with_external_and_no_dialback_xep0178_4() {
    let results = run_builtin("scenarios/s2s", 2).await;
    for case in ["s2s-external/starttls", "s2s-external/direct-tls"] {
        let result = find(&results, case);
        assert_eq!(
            result.observed,
            "s2s stream from harness.test authenticated via EXTERNAL"
        );
        assert!(said(result, "harness", "mechanism='EXTERNAL'"), "{case}");
        assert!(
            !said(result, "harness", "jabber:server:dialback' from"),
            "{case}"
        );
    }
    let receiving = find(&results, "s2s-receiving-external/starttls");
    assert_eq!(
        receiving.observed,
        "s2s stream from builtin.test authenticated via EXTERNAL"
    );
    assert!(said(receiving, "builtin-server", "mechanism='EXTERNAL'"));
}

/// XEP-0220 §2.1.2–§2.1.3: the key goes to the authoritative server in <db:verify/>; the
/// answer decides the <db:result/>.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialback_is_decided_by_the_authoritative_server_xep0220_2_1_2() {
    let results = run_builtin("scenarios/s2s", 2).await;
    let valid = find(&results, "s2s-dialback-without-certificate/starttls");
    assert_eq!(
        valid.observed,
        "s2s stream from harness.test authenticated via dialback"
    );
    assert!(said(valid, "builtin-server", "<db:verify "));
    assert!(said(valid, "harness", "type='valid'"));
    let forged = find(&results, "s2s-dialback-forged-key");
    assert!(said(forged, "harness", "id='") && said(forged, "harness", "type='invalid'"));
    assert!(
        forged.observed.contains("<db:result type='invalid'/>"),
        "{}",
        forged.observed
    );
    // XEP-0220 §2.4: no authoritative server to ask is a dialback error with its condition.
    let unreachable = find(&results, "s2s-dialback-authority-unreachable");
    assert!(
        unreachable
            .observed
            .starts_with("rejected at dialback by target (remote-server-not-found)"),
        "{}",
        unreachable.observed
    );
    // The target's own authoritative server confirms its key when the harness receives.
    let receiving = find(&results, "s2s-receiving-dialback");
    assert_eq!(
        receiving.observed,
        "s2s stream from builtin.test authenticated via dialback"
    );
}

/// RFC 6120 §13.7.1.2: a certificate that does not authenticate the domain gets no EXTERNAL,
/// and the transcript says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_that_do_not_authenticate_the_domain_get_no_external_rfc6120_13_7_1_2() {
    let results = run_builtin("scenarios/s2s", 2).await;
    for (case, reason) in [
        ("s2s-certificate-wrong-domain", "name-mismatch"),
        ("s2s-certificate-expired", "expired"),
        ("s2s-certificate-untrusted-root", "unknown-issuer"),
        ("s2s-certificate-self-signed", "unknown-issuer"),
        ("s2s-srv-id-xmpp-client", "SRV:_xmpp-client.harness.test"),
    ] {
        let result = find(&results, case);
        assert!(
            said(result, "builtin-server", "no EXTERNAL for harness.test")
                && said(result, "builtin-server", reason),
            "{case}: the built-in server did not say {reason:?}"
        );
        assert!(!said(result, "harness", "mechanism='EXTERNAL'"), "{case}");
    }
}

/// RFC 6120 §5.3.1 and XEP-0220 §2.1: a peer that sends <db:result/> on the unencrypted stream
/// (TLS is required here) is refused with a stream error, not answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialback_before_tls_is_refused_by_the_builtin_receiving_server() {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            "builtin.test",
        )
        .unwrap();
    let tls = TlsSetup::S2sReceiving {
        chain: chain.presented.clone(),
        key: Arc::new(chain.key_der()),
        peer_trust_anchor: catalogue.trust_anchor(&chain, Trust::ChainRoot).unwrap(),
    };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(address).await.unwrap();
        tcp.write_all(
            b"<?xml version='1.0'?><stream:stream xmlns='jabber:server' \
              xmlns:stream='http://etherx.jabber.org/streams' \
              xmlns:db='jabber:server:dialback' from='harness.test' to='builtin.test' \
              version='1.0'><db:result from='harness.test' to='builtin.test'>abc</db:result>",
        )
        .await
        .unwrap();
        let mut seen = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut seen)).await;
        String::from_utf8_lossy(&seen).into_owned()
    });
    let (tcp, _) = listener.accept().await.unwrap();
    let config = ReceivingConfig {
        authority: None,
        local_domain: "builtin.test".into(),
        starttls_available: true,
        policy: S2sPolicy::AllowDialback,
        limits: Limits::default(),
    };
    let end = s2s::receive(
        tcp,
        config,
        &tls,
        false,
        &Authorities::new(),
        Duration::from_secs(5),
        &Transcript::new("builtin-server"),
    )
    .await
    .unwrap();
    match end {
        SessionEnd::Rejected { condition, by, .. } => {
            assert_eq!((condition.as_str(), by), ("not-authorized", Side::Local))
        }
        other => panic!("expected a refusal, got {other}"),
    }
    let seen = peer.await.unwrap();
    assert!(seen.contains("<not-authorized"), "{seen}");
    assert!(!seen.contains("type='valid'"), "{seen}");
}

/// XEP-0220 §2.4 and the step deadlines (docs/ARCHITECTURE.md, "Sans-IO"): an authoritative
/// server that accepts the verification connection and then says nothing makes the receiving
/// server answer `<db:result type='error'/>` with `remote-server-timeout` within its time
/// limit, not hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_authoritative_server_becomes_a_remote_server_timeout_xep0220_2_4() {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            "builtin.test",
        )
        .unwrap();
    let anchor = catalogue.trust_anchor(&chain, Trust::ChainRoot).unwrap();
    let receiving_tls = TlsSetup::S2sReceiving {
        chain: chain.presented.clone(),
        key: Arc::new(chain.key_der()),
        peer_trust_anchor: anchor.clone(),
    };
    let originating_tls = TlsSetup::S2sOriginating {
        trust_anchor: anchor,
        domain: "builtin.test".into(),
        certificate: None,
        provisioned: None,
    };
    let silent = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let silent_address = silent.local_addr().unwrap();
    let silent_task = tokio::spawn(async move {
        let (mut tcp, _) = silent.accept().await.unwrap();
        let mut sink = Vec::new();
        let _ = tcp.read_to_end(&mut sink).await;
    });
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let limit = Duration::from_secs(1);
    let receiving = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let config = ReceivingConfig {
            authority: None,
            local_domain: "builtin.test".into(),
            starttls_available: true,
            policy: S2sPolicy::AllowDialback,
            limits: Limits::default(),
        };
        s2s::receive(
            tcp,
            config,
            &receiving_tls,
            false,
            &Authorities::new().with("harness.test", silent_address),
            limit,
            &Transcript::new("builtin-server"),
        )
        .await
    });
    let config = OriginatingConfig {
        local_domain: "harness.test".into(),
        remote_domain: "builtin.test".into(),
        transport: Transport::Starttls,
        has_certificate: false,
        dialback: Some(DialbackSecret::new("secret")),
        wrong_dialback_key: false,
        limits: Limits::default(),
    };
    let originating = s2s::originate(
        address,
        config,
        &originating_tls,
        Duration::from_secs(5),
        &Transcript::new("harness"),
    )
    .await
    .unwrap();
    match originating {
        SessionEnd::Rejected {
            step,
            condition,
            by,
            ..
        } => assert_eq!(
            (step, condition.as_str(), by),
            (Step::Dialback, "remote-server-timeout", Side::Peer)
        ),
        other => panic!("expected a dialback error, got {other}"),
    }
    let receiving = receiving.await.unwrap().unwrap();
    assert!(
        matches!(&receiving, SessionEnd::Rejected { condition, .. } if condition == "remote-server-timeout"),
        "{receiving}"
    );
    silent_task.abort();
}

/// Issue 14 item 6: an originating harness that reaches a server presenting another leaf than
/// the one it provisioned (another run's server on a shared address) ends the case as an
/// environment error, whatever that server's certificate is; the same server presenting the
/// provisioned leaf is judged as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiving_server_with_another_leaf_than_the_provisioned_one_is_an_environment_error() {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            "builtin.test",
        )
        .unwrap();
    // The leaf of another run's PKI: same profile and name, another key and issuer.
    let elsewhere = Catalogue::new()
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            "builtin.test",
        )
        .unwrap();
    let anchor = catalogue.trust_anchor(&chain, Trust::ChainRoot).unwrap();
    for (provisioned, reached_another) in [
        (elsewhere.presented[0].clone(), true),
        (chain.presented[0].clone(), false),
    ] {
        let receiving_tls = TlsSetup::S2sReceiving {
            chain: chain.presented.clone(),
            key: Arc::new(chain.key_der()),
            peer_trust_anchor: anchor.clone(),
        };
        let originating_tls = TlsSetup::S2sOriginating {
            trust_anchor: anchor.clone(),
            domain: "builtin.test".into(),
            certificate: None,
            provisioned: Some(provisioned),
        };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let address = listener.local_addr().unwrap();
        let receiving = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let config = ReceivingConfig {
                authority: None,
                local_domain: "builtin.test".into(),
                starttls_available: true,
                policy: S2sPolicy::AllowDialback,
                limits: Limits::default(),
            };
            s2s::receive(
                tcp,
                config,
                &receiving_tls,
                false,
                &Authorities::new(),
                Duration::from_secs(2),
                &Transcript::new("builtin-server"),
            )
            .await
        });
        let config = OriginatingConfig {
            local_domain: "harness.test".into(),
            remote_domain: "builtin.test".into(),
            transport: Transport::Starttls,
            has_certificate: false,
            dialback: Some(DialbackSecret::new("secret")),
            wrong_dialback_key: false,
            limits: Limits::default(),
        };
        let originating = s2s::originate(
            address,
            config,
            &originating_tls,
            Duration::from_secs(2),
            &Transcript::new("harness"),
        )
        .await;
        if reached_another {
            let error = originating.expect_err("another server's leaf must not be judged");
            assert!(
                error.to_string().contains(&format!(
                    "reached another server on {address}: its certificate is not the one this run provisioned"
                )),
                "{error}"
            );
        } else {
            // The TLS handshake passed the check; what follows (dialback with no authority)
            // is judged as usual, not as an environment error.
            let end = originating.expect("the provisioned leaf is the instance's");
            assert!(
                !matches!(&end, SessionEnd::Rejected { step, .. } if *step == Step::Tls),
                "{end}"
            );
        }
        receiving.abort();
    }
}

/// Issue 14 item 6, the dialback side: a receiving harness whose verification connection
/// reaches an authoritative server presenting another leaf than the one provisioned for it
/// ends the stream it was verifying as an environment error, not as a refusal of the
/// originating server; with the provisioned leaf the same stream is authenticated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialback_verification_reaching_another_authority_is_an_environment_error() {
    let catalogue = Catalogue::new();
    let receiving_chain = catalogue
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            "builtin.test",
        )
        .unwrap();
    let harness_chain = catalogue
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            "harness.test",
        )
        .unwrap();
    let anchor = catalogue
        .trust_anchor(&receiving_chain, Trust::ChainRoot)
        .unwrap();
    let secret = DialbackSecret::new("secret");
    for (authority_presents, reached_another) in [
        (
            Catalogue::new()
                .chain(
                    CertificateProfile::StartcomChain,
                    KeyType::EcdsaP256,
                    "harness.test",
                )
                .unwrap(),
            true,
        ),
        (harness_chain.clone(), false),
    ] {
        let authority = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let authority_address = authority.local_addr().unwrap();
        let authority_task = tokio::spawn(s2s::serve_authority(
            authority,
            xmpp_interop::proto::s2s::authority::AuthorityConfig {
                domain: "harness.test".into(),
                secret: secret.clone(),
                always_invalid: false,
                offer_starttls: true,
                limits: Limits::default(),
            },
            TlsSetup::S2sReceiving {
                chain: authority_presents.presented.clone(),
                key: Arc::new(authority_presents.key_der()),
                peer_trust_anchor: anchor.clone(),
            },
            Duration::from_secs(2),
            Transcript::new("authority"),
        ));
        // The harness provisioned `harness_chain` for the authority it means to reach.
        let authorities = Authorities::new().with_tls(
            "harness.test",
            authority_address,
            TlsSetup::S2sOriginating {
                trust_anchor: harness_chain.root.clone(),
                domain: "harness.test".into(),
                certificate: None,
                provisioned: harness_chain.presented.first().cloned(),
            },
        );
        let receiving_tls = TlsSetup::S2sReceiving {
            chain: receiving_chain.presented.clone(),
            key: Arc::new(receiving_chain.key_der()),
            peer_trust_anchor: anchor.clone(),
        };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let address = listener.local_addr().unwrap();
        let receiving = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let config = ReceivingConfig {
                authority: None,
                local_domain: "builtin.test".into(),
                starttls_available: true,
                policy: S2sPolicy::AllowDialback,
                limits: Limits::default(),
            };
            s2s::receive(
                tcp,
                config,
                &receiving_tls,
                false,
                &authorities,
                Duration::from_secs(2),
                &Transcript::new("harness"),
            )
            .await
        });
        let config = OriginatingConfig {
            local_domain: "harness.test".into(),
            remote_domain: "builtin.test".into(),
            transport: Transport::Starttls,
            has_certificate: false,
            dialback: Some(secret.clone()),
            wrong_dialback_key: false,
            limits: Limits::default(),
        };
        let originating_tls = TlsSetup::S2sOriginating {
            trust_anchor: anchor.clone(),
            domain: "builtin.test".into(),
            certificate: None,
            provisioned: None,
        };
        let _ = s2s::originate(
            address,
            config,
            &originating_tls,
            Duration::from_secs(2),
            &Transcript::new("builtin-originating"),
        )
        .await;
        let received = receiving.await.unwrap();
        if reached_another {
            let error = received.expect_err("another authority's answer must not be judged");
            assert!(
                error.to_string().contains(&format!(
                    "reached another server on {authority_address}: its certificate is not the one this run provisioned"
                )),
                "{error}"
            );
        } else {
            let end = received.expect("the provisioned authority verifies the key");
            assert!(matches!(end, SessionEnd::S2sAuthenticated { .. }), "{end}");
        }
        authority_task.abort();
    }
}
