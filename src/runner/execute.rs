//! Runs one case: sets up the target and the harness's side, runs the session, and turns what
//! was observed into a verdict. What a target is (built in, managed, external, a command) is
//! the target's own business ([`crate::targets`]): this module asks a server target for an
//! endpoint, or hands a client target the harness's listener, and judges what the harness's
//! session observed.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use super::verdict::{Control, judge};
use super::{CaseResult, Outcome, PlannedCase, RunEnvironment};
use crate::drive::{self, Transcript, TranscriptLine, misbehaviour};
use crate::error::{HarnessError, NotApplicable};
use crate::proto::client::{ClientConfig, Errand};
use crate::proto::sasl::ClientOptions;
use crate::proto::server::ServerConfig;
use crate::proto::xml::Limits;
use crate::proto::{Direction, SessionEnd, Side};
use crate::scenario::{
    CaseSpec, Credentials, Expectation, Observation, Party, S2sAuth, S2sDirection, SaslProfile,
    Step, TIMEOUT, Transport, Trust,
};
use crate::targets::managed::InstanceKey;
use crate::targets::{
    ACCOUNT_USERNAME, BUILTIN_DOMAIN, BuiltinTls, CaseEnd, ClientTarget, HarnessServerSide,
    Provision, ServerTarget, Target, TargetRole, client_certificate, profile_name,
};
use crate::transport::{TlsSetup, openssl_stack};

/// Runs one case to its verdict.
pub(super) async fn execute(
    planned: &PlannedCase,
    environment: &RunEnvironment,
    control: Option<Control>,
    transcript: Transcript,
) -> CaseResult {
    let started = Instant::now();
    let case = &planned.case;
    let side = match &case.s2s {
        Some(s2s) if s2s.direction == S2sDirection::Originating => "originating server".to_owned(),
        Some(_) => "receiving server".to_owned(),
        None => case.role.to_string(),
    };
    transcript.record(
        Direction::Note,
        format!(
            "case {} against {} ({}): harness plays the {side} side, expects {}; checks {}: {}",
            case.id,
            planned.target,
            planned.target.implementation,
            case.expect,
            case.requirement,
            case.requirement.text
        ),
    );
    if let Some(control) = &control {
        transcript.record(
            Direction::Note,
            format!("positive control: {} ended {}", control.id, control.outcome),
        );
    }
    let result = run(planned, environment, &transcript).await;
    if let Some(key) = instance_key(planned) {
        environment.instances.release(&key);
    }
    match result {
        Ok(CaseEnd::Session(end)) => match harness_view(end) {
            Ok(observation) => verdict(
                planned,
                &observation,
                control,
                started.elapsed(),
                transcript.lines(),
            ),
            Err(e) => harness_failure(
                planned,
                e.to_string(),
                started.elapsed(),
                transcript.lines(),
            ),
        },
        Ok(CaseEnd::NotApplicable(reason)) => {
            transcript.record(Direction::Note, format!("skipped: {reason}"));
            CaseResult {
                case: Arc::clone(&planned.case),
                target: planned.target.name.clone(),
                outcome: Outcome::Skip,
                step: None,
                expected: planned.case.expect.to_string(),
                observed: format!("not run: {reason}"),
                duration: started.elapsed(),
                transcript: transcript.lines(),
                expected_deviation: planned.expected_deviation.clone(),
                missing_feature: None,
                control,
                observation: None,
            }
        }
        Err(e) => harness_failure(
            planned,
            e.to_string(),
            started.elapsed(),
            transcript.lines(),
        ),
    }
}

/// Runs the case's session against its target, or says why the case does not apply.
async fn run(
    planned: &PlannedCase,
    environment: &RunEnvironment,
    transcript: &Transcript,
) -> Result<CaseEnd, HarnessError> {
    let case = &planned.case;
    let target = &planned.target;
    if let Some(reason) = openssl_stack::cannot_offer(&case.tls) {
        return Ok(CaseEnd::NotApplicable(NotApplicable(reason)));
    }
    if let Some(s2s) = &case.s2s {
        return super::s2s::against_server(case, s2s, target, environment, transcript).await;
    }
    match &target.role {
        TargetRole::Server(server) => {
            against_server(case, target, server.as_ref(), environment, transcript).await
        }
        TargetRole::Client(client) => match client.not_applicable(&target.name, case) {
            Some(reason) => Ok(CaseEnd::NotApplicable(reason)),
            None => against_client(case, target, client.as_ref(), environment, transcript)
                .await
                .map(CaseEnd::Session),
        },
    }
}

/// The result of a case stopped at its deadline (`--case-timeout`): a `timeout` rejection by
/// the target at the step the harness's session had reached, judged like any other, so that
/// a stall meets no expectation that does not name `timeout`.
pub(super) fn case_timed_out(
    planned: &PlannedCase,
    limit: Duration,
    control: Option<Control>,
    duration: Duration,
    transcript: &Transcript,
) -> CaseResult {
    let step = transcript.last_step().unwrap_or(Step::Connect);
    let detail = format!("the case ran past its deadline of {limit:?} at the {step} step");
    transcript.record(Direction::Note, format!("case deadline: {detail}"));
    let observation = Observation::Rejected {
        step,
        condition: TIMEOUT.into(),
        by: Party::Target,
        detail,
    };
    verdict(planned, &observation, control, duration, transcript.lines())
}

/// The shared managed instance the case uses, if any; released when the case is over.
pub(super) fn instance_key(planned: &PlannedCase) -> Option<InstanceKey> {
    planned
        .target
        .server()
        .and_then(|server| server.shared_instance(&planned.target.name, &planned.case))
}

/// Whether the case federates on the machine's fixed addresses (an s2s case against a
/// managed server), and so needs the run's claim on them before it starts.
pub(super) fn federates(planned: &PlannedCase) -> bool {
    planned.case.s2s.is_some()
        && planned
            .target
            .server()
            .is_some_and(|server| server.federating().is_some())
}

/// The `error` result of a case the harness could not run.
pub(super) fn harness_failure(
    planned: &PlannedCase,
    reason: String,
    duration: Duration,
    transcript: Vec<TranscriptLine>,
) -> CaseResult {
    CaseResult {
        case: Arc::clone(&planned.case),
        target: planned.target.name.clone(),
        outcome: Outcome::Error,
        step: None,
        expected: planned.case.expect.to_string(),
        observed: format!("harness or environment error: {reason}"),
        duration,
        transcript,
        expected_deviation: planned.expected_deviation.clone(),
        missing_feature: None,
        control: None,
        observation: None,
    }
}

fn verdict(
    planned: &PlannedCase,
    observation: &Observation,
    control: Option<Control>,
    duration: Duration,
    transcript: Vec<TranscriptLine>,
) -> CaseResult {
    let judgement = judge(&planned.case, observation, control.as_ref());
    let step = match observation {
        Observation::Authenticated { .. } => Step::Bind,
        Observation::S2sAuthenticated { method, .. } => match method {
            S2sAuth::External => Step::Sasl,
            S2sAuth::Dialback => Step::Dialback,
        },
        Observation::Rejected { step, .. } => *step,
    };
    let observed = match (observation, &planned.case.expect) {
        (Observation::Authenticated { .. }, Expectation::Rejected(_)) => {
            format!(
                "{}{}",
                judgement.observed,
                went_on_regardless(&planned.case)
            )
        }
        _ => judgement.observed,
    };
    CaseResult {
        case: Arc::clone(&planned.case),
        target: planned.target.name.clone(),
        outcome: judgement.outcome,
        step: Some(step),
        expected: planned.case.expect.to_string(),
        observed,
        duration,
        transcript,
        expected_deviation: planned.expected_deviation.clone(),
        missing_feature: judgement.missing_feature,
        control,
        observation: Some(observation.clone()),
    }
}

/// For a target that authenticated where the scenario wants it to refuse: what the harness put
/// in front of it and which clauses say it should have refused, so that the verdict alone tells
/// a maintainer what to fix.
fn went_on_regardless(case: &CaseSpec) -> String {
    let chain = if case.certificate_pinned {
        format!(
            "the {} chain ({}, {} root trusted)",
            case.certificate, case.key, case.trust
        )
    } else {
        format!("the chain the server served ({} root trusted)", case.trust)
    };
    let mut shown = format!(", although the case ran on {chain}");
    if !case.misbehave.is_empty() {
        let injected: Vec<String> = case.misbehave.iter().map(ToString::to_string).collect();
        shown.push_str(&format!(" and injected {}", injected.join(", ")));
    }
    format!(
        "{shown}; the scenario expects a refusal: {} ({})",
        case.title,
        case.spec.join(", ")
    )
}

/// The harness's session end in scenario terms: this side is the harness, the peer the target.
/// Scenario cases run no errands, so a received errand message means the harness itself went
/// wrong: an environment error rather than a verdict on the target.
fn harness_view(end: SessionEnd) -> Result<Observation, HarnessError> {
    Ok(match end {
        SessionEnd::Authenticated { jid } => Observation::Authenticated { jid },
        SessionEnd::S2sAuthenticated { method, domain } => {
            Observation::S2sAuthenticated { method, domain }
        }
        SessionEnd::MessageReceived { from } => {
            return Err(HarnessError::environment(format!(
                "a scenario session ended with an errand's message from {from}, but scenario \
                 cases run no errands"
            )));
        }
        SessionEnd::Rejected {
            step,
            condition,
            by,
            detail,
        } => Observation::Rejected {
            step,
            condition,
            by: match by {
                Side::Local => Party::Harness,
                Side::Peer => Party::Target,
            },
            detail,
        },
    })
}

/// The username and password the client side presents, given the real account.
fn presented_credentials(case: &CaseSpec, username: &str, password: &str) -> (String, String) {
    match case.sasl.credentials {
        Credentials::Valid => (username.to_owned(), password.to_owned()),
        Credentials::WrongPassword => (username.to_owned(), format!("wrong-{password}")),
        Credentials::UnknownUser => ("nobody-here".to_owned(), password.to_owned()),
    }
}

/// The harness is the client; the target is a server.
async fn against_server(
    case: &CaseSpec,
    target: &Target,
    server: &dyn ServerTarget,
    environment: &RunEnvironment,
    transcript: &Transcript,
) -> Result<CaseEnd, HarnessError> {
    let provision = server
        .provision(&target.name, case, environment.case_context(transcript))
        .await?;
    let (endpoint, lease) = match provision {
        Provision::Ready { endpoint, lease } => (endpoint, lease),
        Provision::Ended(end) => return Ok(end),
    };
    let catalogue = &environment.catalogue;
    let trust_anchor = match case.trust {
        Trust::ChainRoot => endpoint.chain_root.clone(),
        Trust::UnrelatedRoot => {
            let chain = catalogue.chain(case.certificate, case.key, &endpoint.domain)?;
            catalogue.trust_anchor(&chain, Trust::UnrelatedRoot)?
        }
    };
    transcript.record(
        Direction::Note,
        format!("the harness trusts the {} root", case.trust),
    );
    let client_tls = TlsSetup::Client {
        trust_anchor,
        domain: endpoint.domain.clone(),
        identity: case.identity.clone(),
        client_certificate: client_certificate(case, catalogue, &endpoint.domain)?
            .map(|(certificate, _)| certificate),
        profile: case.tls.clone(),
    };
    let (username, password) = presented_credentials(case, &endpoint.username, &endpoint.password);
    let config = ClientConfig {
        domain: endpoint.domain.clone(),
        transport: case.transport,
        mechanisms: vec![case.sasl.mechanism],
        username,
        password,
        authzid: misbehaviour::client_authzid(&case.misbehave, &endpoint.domain),
        channel_binding: case.sasl.channel_binding,
        sasl_options: ClientOptions {
            misbehaviour: misbehaviour::client_misbehaviour(&case.misbehave),
            require_downgrade_protection: case.sasl.downgrade_protection,
            ..ClientOptions::default()
        },
        require_tls: false,
        limits: Limits::default(),
        sasl_profile: Some(case.sasl.profile),
        errand: Errand::None,
    };
    let end = drive::initiate(
        endpoint.address,
        config,
        &client_tls,
        environment.timeout,
        transcript,
    )
    .await;
    lease.stop(&end, transcript).await;
    end.map(CaseEnd::Session)
}

/// The harness is the server; the target is a client.
async fn against_client(
    case: &CaseSpec,
    target: &Target,
    client: &dyn ClientTarget,
    environment: &RunEnvironment,
    transcript: &Transcript,
) -> Result<SessionEnd, HarnessError> {
    let tls = BuiltinTls::for_case(case, &environment.catalogue)?;
    transcript.record(
        Direction::Note,
        format!(
            "the harness presents {} ({} certificates), {target} trusts the {} root",
            profile_name(&tls.chain),
            tls.chain.presented.len(),
            case.trust
        ),
    );
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| HarnessError::io("the harness cannot listen on 127.0.0.1", e))?;
    let address = listener
        .local_addr()
        .map_err(|e| HarnessError::io("the harness's listener has no address", e))?;
    transcript.record(Direction::Note, format!("listening on {address}"));
    let (username, password) = presented_credentials(case, ACCOUNT_USERNAME, &environment.password);
    let config = ServerConfig {
        domain: BUILTIN_DOMAIN.to_owned(),
        starttls_available: case.transport == Transport::Starttls,
        mechanisms: std::iter::once(case.sasl.mechanism)
            .chain(case.sasl.also_offered.iter().copied())
            .collect(),
        preferred_mechanism: (!case.sasl.also_offered.is_empty()).then_some(case.sasl.mechanism),
        accounts: Arc::clone(&environment.accounts),
        misbehaviour: misbehaviour::server_misbehaviour(&case.misbehave),
        limits: Limits::default(),
        offer_sasl2: case.sasl.profile == SaslProfile::Sasl2,
        expect_sasl2: case.sasl.profile == SaslProfile::Sasl2,
        downgrade_protection: case.sasl.downgrade_protection,
    };
    let side = HarnessServerSide {
        listener,
        address,
        config,
        server_tls: &tls.server,
        direct_tls: case.transport == Transport::DirectTls,
        client_tls: tls.client,
        username,
        password,
    };
    client
        .meet(
            &target.name,
            case,
            side,
            environment.case_context(transcript),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_that_accepts_a_bad_certificate_is_told_what_it_accepted_and_which_clauses_apply() {
        let scenarios = crate::scenario::load_path(std::path::Path::new(
            "scenarios/client/certificate-name-mismatch.yaml",
        ))
        .unwrap();
        let case = scenarios[0]
            .cases
            .iter()
            .find(|c| c.id.ends_with("/wrong-domain"))
            .unwrap();
        let told = went_on_regardless(case);
        assert!(told.contains("ran on the wrong-domain chain"), "{told}");
        assert!(told.contains("RFC 6125 §6.4"), "{told}");
        assert!(told.contains(&case.title), "{told}");
    }
}
