//! The s2s sessions against each other in memory: bytes shuttled, TLS and certificate checks
//! simulated, dialback verification answered by an in-memory authoritative server.

use super::authority::{AuthorityConfig, AuthoritySession, VerifySession};
use super::dialback::DialbackSecret;
use super::originating::{OriginatingConfig, OriginatingSession};
use super::receiving::{ReceivingConfig, ReceivingSession};
use super::*;
use crate::pki::Catalogue;
use crate::proto::xml::Limits;
use crate::proto::{Action, Session, SessionEnd, Side, TlsChannel};
use crate::scenario::{CertificateProfile, KeyType, S2sAuth, Step, Transport};

const ORIGINATING: &str = "harness.test";
const RECEIVING: &str = "builtin.test";

fn leaf(profile: CertificateProfile, domain: &str) -> Vec<u8> {
    let chain = Catalogue::new()
        .chain(profile, KeyType::EcdsaP256, domain)
        .expect("test PKI issues the chain");
    chain.presented[0].to_vec()
}

fn good_certificate() -> PeerCertificate {
    PeerCertificate {
        leaf: leaf(CertificateProfile::StartcomChain, ORIGINATING),
        chain_problem: None,
    }
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

/// Runs the verification connection between a verifier and an authority in memory.
fn verify_in_memory(request: DialbackRequest, authority: AuthorityConfig) -> DialbackAnswer {
    let mut verifier = VerifySession::new(request, Limits::default());
    let mut authority = AuthoritySession::new(authority);
    for _ in 0..10 {
        flush(&mut verifier, &mut authority);
        flush(&mut authority, &mut verifier);
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
}

impl Pair {
    fn new(certificate: Option<PeerCertificate>) -> Pair {
        Pair {
            certificate,
            policy: S2sPolicy::AllowDialback,
            wrong_key: false,
            authority_says_invalid: false,
            authority_unreachable: false,
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
                            offer_starttls: false,
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
    let wrong = PeerCertificate {
        leaf: leaf(CertificateProfile::WrongDomain, ORIGINATING),
        chain_problem: None,
    };
    let (originating, _) = Pair::new(Some(wrong)).run();
    assert_eq!(originating, authenticated(S2sAuth::Dialback));
}

#[test]
fn only_an_xmpp_server_srv_id_authenticates_a_server_rfc6120_13_7_1_2_1() {
    let server_only = PeerCertificate {
        leaf: leaf(CertificateProfile::SrvIdServerOnly, ORIGINATING),
        chain_problem: None,
    };
    assert_eq!(
        certificate_authenticates(Some(&server_only), ORIGINATING),
        Ok(())
    );
    let client_only = PeerCertificate {
        leaf: leaf(CertificateProfile::SrvIdClientOnly, ORIGINATING),
        chain_problem: None,
    };
    let refused = certificate_authenticates(Some(&client_only), ORIGINATING).unwrap_err();
    assert!(refused.contains("name-mismatch"), "{refused}");
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
