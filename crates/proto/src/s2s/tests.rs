//! The s2s sessions against each other in memory: bytes shuttled, TLS and certificate checks
//! simulated, dialback verification answered by an in-memory authoritative server.

use super::authority::{AuthorityConfig, AuthoritySession, VerifySession};
use super::dialback::DialbackSecret;
use super::originating::{OriginatingConfig, OriginatingSession};
use super::receiving::{ReceivingConfig, ReceivingSession};
use super::*;
use crate::xml::Limits;
use crate::{Action, S2sAuth, Session, SessionEnd, Side, Step, TlsChannel, Transport};

const ORIGINATING: &str = "harness.test";
const RECEIVING: &str = "builtin.test";

/// A certificate that names exactly one domain as a server (the harness's real checks, with
/// its PKI, are tested in `xmpp_interop::transport::peer`).
#[derive(Debug)]
struct NamesOnly(&'static str);

impl ServerNames for NamesOnly {
    fn authenticate(&self, domain: &str) -> Result<(), String> {
        if domain == self.0 {
            Ok(())
        } else {
            Err(format!("name-mismatch: it names {}", self.0))
        }
    }
}

fn certificate_naming(domain: &'static str) -> PeerCertificate {
    PeerCertificate {
        chain_problem: None,
        names: std::sync::Arc::new(NamesOnly(domain)),
    }
}

fn good_certificate() -> PeerCertificate {
    certificate_naming(ORIGINATING)
}

/// Moves everything one session queued to the other; returns what was asked of the IO layer.
fn flush(from: &mut dyn Session, to: &mut dyn Session) -> (bool, Option<DialbackRequest>) {
    let mut start_tls = false;
    let mut verify = None;
    while let Some(action) = from.poll_action() {
        match action {
            Action::Send(bytes) => to.receive(&bytes),
            Action::StartTls => start_tls = true,
            Action::Close => to.peer_closed(),
            Action::VerifyDialback(request) => verify = Some(request),
        }
    }
    (start_tls, verify)
}

/// Runs the verification connection between a verifier and an authority in memory, with
/// STARTTLS (simulated) when the authority offers it.
fn verify_in_memory(request: DialbackRequest, authority: AuthorityConfig) -> DialbackAnswer {
    let mut verifier = VerifySession::new(request, Limits::default());
    let mut authority = AuthoritySession::new(authority);
    let (mut verifier_asked, mut authority_asked) = (false, false);
    for _ in 0..10 {
        verifier_asked |= flush(&mut verifier, &mut authority).0;
        authority_asked |= flush(&mut authority, &mut verifier).0;
        if verifier_asked && authority_asked {
            (verifier_asked, authority_asked) = (false, false);
            authority.tls_established(TlsChannel::default());
            verifier.tls_established(TlsChannel::default());
        }
    }
    match verifier.end() {
        Some(SessionEnd::S2sAuthenticated { .. }) => DialbackAnswer::Valid,
        Some(SessionEnd::Rejected { condition, .. }) if condition == "invalid" => {
            DialbackAnswer::Invalid
        }
        other => DialbackAnswer::Failed {
            condition: "remote-server-not-found".into(),
            detail: format!("{other:?}"),
        },
    }
}

struct Pair {
    certificate: Option<PeerCertificate>,
    policy: S2sPolicy,
    wrong_key: bool,
    authority_says_invalid: bool,
    authority_unreachable: bool,
    authority_offers_starttls: bool,
}

impl Pair {
    fn new(certificate: Option<PeerCertificate>) -> Pair {
        Pair {
            certificate,
            policy: S2sPolicy::AllowDialback,
            wrong_key: false,
            authority_says_invalid: false,
            authority_unreachable: false,
            authority_offers_starttls: false,
        }
    }

    /// Both ends' outcomes (originating, receiving).
    fn run(self) -> (SessionEnd, SessionEnd) {
        let secret = DialbackSecret::new("harness-secret");
        let mut originating = OriginatingSession::new(
            OriginatingConfig {
                local_domain: ORIGINATING.into(),
                remote_domain: RECEIVING.into(),
                transport: Transport::Starttls,
                has_certificate: self.certificate.is_some(),
                dialback: Some(secret.clone()),
                wrong_dialback_key: self.wrong_key,
                limits: Limits::default(),
            },
            false,
        );
        let mut receiving = ReceivingSession::new(
            ReceivingConfig {
                authority: None,
                local_domain: RECEIVING.into(),
                starttls_available: true,
                policy: self.policy,
                limits: Limits::default(),
            },
            false,
            None,
        );
        // TLS comes up once both sides have asked for it.
        let (mut originating_asked, mut receiving_asked) = (false, false);
        for _ in 0..20 {
            let (tls, _) = flush(&mut originating, &mut receiving);
            originating_asked |= tls;
            let (tls_back, verify) = flush(&mut receiving, &mut originating);
            receiving_asked |= tls_back;
            if originating_asked && receiving_asked {
                (originating_asked, receiving_asked) = (false, false);
                receiving.peer_certificate(self.certificate.clone());
                receiving.tls_established(TlsChannel::default());
                originating.tls_established(TlsChannel::default());
            }
            if let Some(request) = verify {
                let answer = if self.authority_unreachable {
                    DialbackAnswer::Failed {
                        condition: "remote-server-not-found".into(),
                        detail: "no authoritative server".into(),
                    }
                } else {
                    verify_in_memory(
                        request,
                        AuthorityConfig {
                            domain: ORIGINATING.into(),
                            secret: secret.clone(),
                            always_invalid: self.authority_says_invalid,
                            offer_starttls: self.authority_offers_starttls,
                            limits: Limits::default(),
                        },
                    )
                };
                receiving.dialback_answer(answer);
            }
        }
        (
            originating
                .end()
                .cloned()
                .expect("originating side decided"),
            receiving.end().cloned().expect("receiving side decided"),
        )
    }
}

fn authenticated(method: S2sAuth) -> SessionEnd {
    SessionEnd::S2sAuthenticated {
        method,
        domain: ORIGINATING.into(),
    }
}

fn rejected_at(end: &SessionEnd) -> (Step, &str, Side) {
    match end {
        SessionEnd::Rejected {
            step,
            condition,
            by,
            ..
        } => (*step, condition.as_str(), *by),
        other => panic!("expected a rejection, got {other}"),
    }
}

#[test]
fn a_certificate_for_the_originating_domain_gets_external_xep0178_rfc6120_6_4() {
    let (originating, receiving) = Pair::new(Some(good_certificate())).run();
    assert_eq!(originating, authenticated(S2sAuth::External));
    assert_eq!(receiving, authenticated(S2sAuth::External));
}

#[test]
fn without_a_certificate_dialback_is_used_and_verified_xep0220_2_1() {
    let (originating, receiving) = Pair::new(None).run();
    assert_eq!(originating, authenticated(S2sAuth::Dialback));
    assert_eq!(receiving, authenticated(S2sAuth::Dialback));
}

#[test]
fn a_forged_dialback_key_is_answered_invalid_xep0220_2_1_3() {
    let mut pair = Pair::new(None);
    pair.wrong_key = true;
    let (originating, receiving) = pair.run();
    assert_eq!(
        rejected_at(&originating),
        (Step::Dialback, "invalid", Side::Peer)
    );
    assert_eq!(
        rejected_at(&receiving),
        (Step::Dialback, "invalid", Side::Local)
    );
}

#[test]
fn an_authoritative_server_answering_invalid_makes_the_result_invalid_xep0220_2_1_3() {
    let mut pair = Pair::new(None);
    pair.authority_says_invalid = true;
    let (originating, _) = pair.run();
    assert_eq!(
        rejected_at(&originating),
        (Step::Dialback, "invalid", Side::Peer)
    );
}

#[test]
fn an_unreachable_authoritative_server_is_a_dialback_error_with_its_condition_xep0220_2_4() {
    let mut pair = Pair::new(None);
    pair.authority_unreachable = true;
    let (originating, receiving) = pair.run();
    assert_eq!(
        rejected_at(&originating),
        (Step::Dialback, "remote-server-not-found", Side::Peer)
    );
    assert_eq!(
        rejected_at(&receiving),
        (Step::Dialback, "remote-server-not-found", Side::Local)
    );
}

#[test]
fn a_receiving_server_requiring_certificates_refuses_a_dialback_only_peer() {
    let mut pair = Pair::new(None);
    pair.policy = S2sPolicy::RequireCertificate;
    let (originating, receiving) = pair.run();
    assert_eq!(
        rejected_at(&originating),
        (Step::Features, "policy-violation", Side::Peer)
    );
    assert_eq!(
        rejected_at(&receiving),
        (Step::Features, "policy-violation", Side::Local)
    );
}

#[test]
fn a_certificate_for_another_domain_gets_dialback_not_external_rfc6120_13_7_1_2() {
    let (originating, _) = Pair::new(Some(certificate_naming("wrong.test"))).run();
    assert_eq!(originating, authenticated(S2sAuth::Dialback));
}

#[test]
fn a_chain_that_did_not_verify_never_authenticates_xep0178_3() {
    let expired = PeerCertificate {
        chain_problem: Some("expired".into()),
        ..good_certificate()
    };
    let refused = certificate_authenticates(Some(&expired), ORIGINATING).unwrap_err();
    assert!(refused.contains("expired"), "{refused}");
    assert!(certificate_authenticates(None, ORIGINATING).is_err());
    assert!(certificate_authenticates(Some(&good_certificate()), "other.test").is_err());
}

/// Everything a session queued to send, as text (other actions dropped).
fn sent(session: &mut dyn Session) -> String {
    let mut text = String::new();
    while let Some(action) = session.poll_action() {
        if let Action::Send(bytes) = action {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    text
}

#[test]
fn dialback_verification_works_over_starttls_when_the_authority_offers_it_rfc6120_5_3_1() {
    let mut pair = Pair::new(None);
    pair.authority_offers_starttls = true;
    let (originating, receiving) = pair.run();
    assert_eq!(originating, authenticated(S2sAuth::Dialback));
    assert_eq!(receiving, authenticated(S2sAuth::Dialback));
}

#[test]
fn the_verifier_asks_only_after_starttls_when_the_authority_offers_it_rfc6120_5_3_1() {
    let request = DialbackRequest {
        receiving: RECEIVING.into(),
        originating: ORIGINATING.into(),
        stream_id: "s1".into(),
        key: "k".into(),
    };
    let mut verifier = VerifySession::new(request, Limits::default());
    sent(&mut verifier);
    verifier.receive(
        b"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' \
          xmlns:db='jabber:server:dialback' from='harness.test' id='a' version='1.0'>\
          <stream:features><dialback xmlns='urn:xmpp:features:dialback'/>\
          <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>",
    );
    let first = sent(&mut verifier);
    assert!(first.contains("<starttls"), "{first}");
    assert!(!first.contains("db:verify"), "{first}");
    verifier.receive(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    verifier.tls_established(TlsChannel::default());
    let reopened = sent(&mut verifier);
    assert!(reopened.contains("<stream:stream"), "{reopened}");
    verifier.receive(
        b"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' \
          xmlns:db='jabber:server:dialback' from='harness.test' id='b' version='1.0'>\
          <stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>",
    );
    let asked = sent(&mut verifier);
    assert!(
        asked.contains("<db:verify ") && asked.contains(">k</db:verify>"),
        "{asked}"
    );
}

#[test]
fn a_receiving_server_that_is_also_the_authority_answers_verify_on_the_authenticated_stream() {
    let secret = DialbackSecret::new("harness-secret");
    let mut receiving = ReceivingSession::new(
        ReceivingConfig {
            authority: Some(AuthorityConfig {
                domain: RECEIVING.into(),
                secret: secret.clone(),
                always_invalid: false,
                offer_starttls: true,
                limits: Limits::default(),
            }),
            local_domain: RECEIVING.into(),
            starttls_available: true,
            policy: S2sPolicy::AllowDialback,
            limits: Limits::default(),
        },
        true,
        Some(good_certificate()),
    );
    let header = format!(
        "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' \
         xmlns:db='jabber:server:dialback' from='{ORIGINATING}' to='{RECEIVING}' version='1.0'>"
    );
    receiving.receive(header.as_bytes());
    receiving
        .receive(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>");
    receiving.receive(header.as_bytes());
    assert_eq!(receiving.end(), Some(&authenticated(S2sAuth::External)));
    sent(&mut receiving);
    let key = secret.key(ORIGINATING, RECEIVING, "their-stream");
    receiving.receive(
        format!(
            "<db:verify from='{ORIGINATING}' to='{RECEIVING}' id='their-stream'>{key}</db:verify>"
        )
        .as_bytes(),
    );
    let answer = sent(&mut receiving);
    assert!(answer.contains("type='valid'"), "{answer}");
    assert!(
        !receiving.is_finished(),
        "the stream stays open for more questions"
    );
    receiving.receive(b"</stream:stream>");
    assert!(receiving.is_finished());
    assert_eq!(receiving.end(), Some(&authenticated(S2sAuth::External)));
}

#[test]
fn a_refused_external_falls_back_to_the_dialback_offered_on_the_same_stream_xep0178() {
    let mut originating = OriginatingSession::new(
        OriginatingConfig {
            local_domain: ORIGINATING.into(),
            remote_domain: RECEIVING.into(),
            transport: Transport::DirectTls,
            has_certificate: true,
            dialback: Some(DialbackSecret::new("harness-secret")),
            wrong_dialback_key: false,
            limits: Limits::default(),
        },
        true,
    );
    sent(&mut originating);
    originating.receive(
        format!(
            "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' \
             xmlns:db='jabber:server:dialback' from='{RECEIVING}' to='{ORIGINATING}' id='s' \
             version='1.0'><stream:features>\
             <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms>\
             <dialback xmlns='urn:xmpp:features:dialback'/></stream:features>"
        )
        .as_bytes(),
    );
    assert!(sent(&mut originating).contains("mechanism='EXTERNAL'"));
    originating
        .receive(b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>");
    let next = sent(&mut originating);
    assert!(next.contains("<db:result "), "{next}");
    assert_eq!(
        originating.end(),
        None,
        "not decided until the dialback answer"
    );
}

#[test]
fn dialback_elements_carry_the_db_prefix_the_stream_header_declares_xep0220() {
    let element = super::dialback::result_error(RECEIVING, ORIGINATING, "cancel", "item-not-found");
    let xml = element.to_xml(NS_SERVER);
    assert!(xml.starts_with("<db:result from="), "{xml}");
    assert!(xml.ends_with("</db:result>"), "{xml}");
    assert!(xml.contains("<error type='cancel'>"), "{xml}");
    assert!(!xml.contains("xmlns='jabber:server:dialback'"), "{xml}");
}
