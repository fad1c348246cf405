//! Runs one server-to-server case: the harness originates to the target (`role: originating`,
//! the harness also runs the authoritative server of its domain) or receives the target's
//! stream (`role: receiving`, the target runs its own authoritative server).
//!
//! The harness is `harness.test`, the built-in server `builtin.test`, both on ephemeral ports
//! of 127.0.0.1 here; managed servers federate over their domains' loopback addresses instead
//! (see [`super::federation`]). External servers are not run: the harness can neither
//! configure their trust nor make their domain reach it.

use std::net::Ipv4Addr;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::RunEnvironment;
use crate::drive::Transcript;
use crate::drive::s2s::{self as drive_s2s, Authorities};
use crate::error::{HarnessError, NotApplicable};
use crate::proto::s2s::authority::AuthorityConfig;
use crate::proto::s2s::dialback::DialbackSecret;
use crate::proto::s2s::originating::OriginatingConfig;
use crate::proto::s2s::receiving::ReceivingConfig;
use crate::proto::xml::Limits;
use crate::proto::{Direction, SessionEnd, Side};
use crate::scenario::{
    AuthorityAnswer, CaseSpec, DialbackKey, S2sCase, S2sDirection, Step, TIMEOUT, Transport, Trust,
};
use crate::targets::builtin_s2s::{
    OriginatorOrders, RunningAuthority, RunningOriginator, RunningReceiver,
};
use crate::targets::{BUILTIN_S2S_DOMAIN, CaseEnd, HARNESS_S2S_DOMAIN, Target};
use crate::transport::TlsSetup;
use crate::transport::tls::ClientCertificate;

/// Both sides' TLS settings for one case.
struct TlsPair {
    originating: TlsSetup,
    receiving: TlsSetup,
}

/// The receiving server presents `case.certificate` for its domain (the originating side
/// trusts per `case.trust`); the originating server presents `s2s.originating-certificate`
/// for its domain (the receiving side trusts per `s2s.originating-trust`).
fn tls_pair(
    case: &CaseSpec,
    s2s: &S2sCase,
    originating: &str,
    receiving: &str,
    environment: &RunEnvironment,
    transcript: &Transcript,
) -> Result<TlsPair, HarnessError> {
    let catalogue = &environment.catalogue;
    let receiving_chain = catalogue.chain(case.certificate, case.key, receiving)?;
    let receiving_anchor = catalogue.trust_anchor(&receiving_chain, case.trust)?;
    transcript.record(
        Direction::Note,
        format!(
            "{receiving} (receiving) presents {} {}; {originating} trusts the {} root",
            receiving_chain.profile, receiving_chain.key_type, case.trust
        ),
    );
    let (certificate, peer_trust_anchor) = match s2s.originating_certificate {
        Some(profile) => {
            let chain = catalogue.chain(profile, case.key, originating)?;
            let anchor = catalogue.trust_anchor(&chain, s2s.originating_trust)?;
            transcript.record(
                Direction::Note,
                format!(
                    "{originating} (originating) presents {} {}; {receiving} trusts the {} root",
                    chain.profile, chain.key_type, s2s.originating_trust
                ),
            );
            let certificate = ClientCertificate {
                chain: chain.presented.clone(),
                key: Arc::new(chain.key_der()),
            };
            (Some(certificate), anchor)
        }
        None => {
            transcript.record(
                Direction::Note,
                format!("{originating} (originating) presents no certificate"),
            );
            let anchor = catalogue.trust_anchor(&receiving_chain, Trust::UnrelatedRoot)?;
            (None, anchor)
        }
    };
    Ok(TlsPair {
        originating: TlsSetup::S2sOriginating {
            trust_anchor: receiving_anchor,
            domain: receiving.to_owned(),
            certificate,
            provisioned: None,
        },
        receiving: TlsSetup::S2sReceiving {
            chain: receiving_chain.presented.clone(),
            key: Arc::new(receiving_chain.key_der()),
            peer_trust_anchor,
        },
    })
}

/// Runs an s2s case against a server target: in process against the built-in server,
/// federating over loopback against a managed one; other targets cannot be made to federate.
pub(super) async fn against_server(
    case: &CaseSpec,
    s2s: &S2sCase,
    target: &Target,
    environment: &RunEnvironment,
    transcript: &Transcript,
) -> Result<CaseEnd, HarnessError> {
    let server = target.server();
    if let Some(spec) = server.and_then(|server| server.federating()) {
        return super::federation::against_managed(
            case,
            s2s,
            target,
            spec,
            environment,
            transcript,
        )
        .await;
    }
    if !server.is_some_and(|server| server.is_builtin()) {
        return Ok(CaseEnd::NotApplicable(NotApplicable(format!(
            "server-to-server cases run against the built-in server and managed servers; \
             {target} would need its own federation set-up"
        ))));
    }
    let end = match s2s.direction {
        S2sDirection::Originating => {
            harness_originates(case, s2s, target, environment, transcript).await
        }
        S2sDirection::Receiving => {
            harness_receives(case, s2s, target, environment, transcript).await
        }
    };
    end.map(CaseEnd::Session)
}

/// The harness originates from `harness.test` to the target's `builtin.test`.
async fn harness_originates(
    case: &CaseSpec,
    s2s: &S2sCase,
    target: &Target,
    environment: &RunEnvironment,
    transcript: &Transcript,
) -> Result<SessionEnd, HarnessError> {
    let tls = tls_pair(
        case,
        s2s,
        HARNESS_S2S_DOMAIN,
        BUILTIN_S2S_DOMAIN,
        environment,
        transcript,
    )?;
    let secret = DialbackSecret::random();
    let authority = RunningAuthority::start(
        AuthorityConfig {
            domain: HARNESS_S2S_DOMAIN.to_owned(),
            secret: secret.clone(),
            always_invalid: s2s.authority == AuthorityAnswer::SaysInvalid,
            offer_starttls: false,
            limits: Limits::default(),
        },
        None,
        tls.originating.clone(),
        environment.timeout,
        transcript.clone(),
    )
    .await?;
    let authorities = match s2s.authority {
        AuthorityAnswer::Unreachable => {
            transcript.record(
                Direction::Note,
                format!("nothing answers for {HARNESS_S2S_DOMAIN}: its authoritative server is unreachable"),
            );
            Authorities::new()
        }
        _ => Authorities::new().with(HARNESS_S2S_DOMAIN, authority.address),
    };
    let receiver = RunningReceiver::start(
        BUILTIN_S2S_DOMAIN,
        case.transport,
        s2s.policy,
        tls.receiving,
        authorities,
        environment.timeout,
        transcript.as_participant(target.name()),
    )
    .await?;
    transcript.record(
        Direction::Note,
        format!(
            "{target} receives for {BUILTIN_S2S_DOMAIN} with policy {:?}",
            s2s.policy
        ),
    );
    let config = OriginatingConfig {
        local_domain: HARNESS_S2S_DOMAIN.to_owned(),
        remote_domain: BUILTIN_S2S_DOMAIN.to_owned(),
        transport: case.transport,
        has_certificate: s2s.originating_certificate.is_some(),
        dialback: Some(secret),
        wrong_dialback_key: s2s.dialback_key == DialbackKey::Forged,
        limits: Limits::default(),
    };
    let end = drive_s2s::originate(
        receiver.address,
        config,
        &tls.originating,
        environment.timeout,
        transcript,
    )
    .await;
    receiver.finish().await;
    drop(authority);
    end
}

/// The target originates from `builtin.test` to the harness's `harness.test`.
async fn harness_receives(
    case: &CaseSpec,
    s2s: &S2sCase,
    target: &Target,
    environment: &RunEnvironment,
    transcript: &Transcript,
) -> Result<SessionEnd, HarnessError> {
    let tls = tls_pair(
        case,
        s2s,
        BUILTIN_S2S_DOMAIN,
        HARNESS_S2S_DOMAIN,
        environment,
        transcript,
    )?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| HarnessError::io("the harness cannot listen on 127.0.0.1", e))?;
    let address = listener
        .local_addr()
        .map_err(|e| HarnessError::io("the harness's listener has no address", e))?;
    transcript.record(
        Direction::Note,
        format!("receiving for {HARNESS_S2S_DOMAIN} on {address}"),
    );
    let originator = RunningOriginator::start(
        address,
        OriginatorOrders {
            local_domain: BUILTIN_S2S_DOMAIN.to_owned(),
            remote_domain: HARNESS_S2S_DOMAIN.to_owned(),
            transport: case.transport,
            tls: tls.originating,
        },
        environment.timeout,
        transcript.as_participant(target.name()),
    )
    .await?;
    let tcp = match tokio::time::timeout(environment.timeout, listener.accept()).await {
        Ok(Ok((tcp, _))) => tcp,
        Ok(Err(e)) => {
            return Err(HarnessError::io(
                "accepting the originating server's connection failed",
                e,
            ));
        }
        Err(_) => {
            originator.finish().await;
            return Ok(SessionEnd::Rejected {
                step: Step::Connect,
                condition: TIMEOUT.into(),
                by: Side::Peer,
                detail: format!(
                    "the originating server did not connect within {:?}",
                    environment.timeout
                ),
            });
        }
    };
    let config = ReceivingConfig {
        authority: None,
        local_domain: HARNESS_S2S_DOMAIN.to_owned(),
        starttls_available: case.transport != Transport::DirectTls,
        policy: s2s.policy,
        limits: Limits::default(),
    };
    let end = drive_s2s::receive(
        tcp,
        config,
        &tls.receiving,
        case.transport == Transport::DirectTls,
        &Authorities::new().with(BUILTIN_S2S_DOMAIN, originator.authority),
        environment.timeout,
        transcript,
    )
    .await;
    originator.finish().await;
    end
}
