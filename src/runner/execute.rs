//! Runs one case: sets up the target and the harness's side, runs the session, and turns what
//! was observed into a verdict.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use super::verdict::{Control, judge};
use super::{CaseResult, Outcome, PlannedCase, RunEnvironment};
use crate::drive::{self, EnvironmentError, Transcript, TranscriptLine, misbehaviour};
use crate::pki::IssuedChain;
use crate::proto::client::{ClientConfig, Errand};
use crate::proto::sasl::ClientOptions;
use crate::proto::server::ServerConfig;
use crate::proto::xml::Limits;
use crate::proto::{Direction, SessionEnd, Side};
use crate::scenario::{
    CaseSpec, ChannelBindingType, Credentials, Expectation, Observation, Party, S2sAuth,
    S2sDirection, SaslProfile, Step, TIMEOUT, Transport, Trust,
};
use crate::targets::builtin::{ClientOrders, RunningClient, RunningServer};
use crate::targets::command::{CaseDir, Invocation, LaunchedClient};
use crate::targets::managed::{Instance, InstanceKey};
use crate::targets::{ACCOUNT_USERNAME, Adapter, BUILTIN_DOMAIN, Endpoint, Target, TargetKind};
use crate::transport::TlsSetup;
use crate::transport::tls::ClientCertificate;
use rustls::pki_types::CertificateDer;

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
    let result = if let Some(reason) = unsupported(case) {
        Ok(Ran::NotApplicable(reason.to_owned()))
    } else if let Some(s2s) = &case.s2s {
        super::s2s::against_server(case, s2s, &planned.target, environment, &transcript)
            .await
            .map(|ran| match ran {
                Ok(end) => Ran::Session(end),
                Err(reason) => Ran::NotApplicable(reason),
            })
    } else if let Adapter::Command(spec) = &planned.target.adapter
        && case.sasl.client_certificate.is_some()
        && !(spec.uses("cert_file") && spec.uses("key_file"))
    {
        Ok(Ran::NotApplicable(format!(
            "{}'s command template does not use {{cert_file}} and {{key_file}}, so it cannot \
             present a client certificate and EXTERNAL (XEP-0178) cannot be tested with it",
            planned.target
        )))
    } else {
        match planned.target.kind {
            TargetKind::Server => {
                against_server(case, &planned.target, environment, &transcript).await
            }
            TargetKind::Client => against_client(case, &planned.target, environment, &transcript)
                .await
                .map(Ran::Session),
        }
    };
    if let Some(key) = instance_key(planned) {
        environment.instances.release(&key);
    }
    match result {
        Ok(Ran::Session(end)) => match harness_view(end) {
            Ok(observation) => verdict(
                planned,
                &observation,
                control,
                started.elapsed(),
                transcript.lines(),
            ),
            Err(e) => harness_failure(planned, e.0, started.elapsed(), transcript.lines()),
        },
        Ok(Ran::NotApplicable(reason)) => {
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
        Err(e) => harness_failure(planned, e.0, started.elapsed(), transcript.lines()),
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

/// How far a case got.
enum Ran {
    /// The session ran to its end.
    Session(SessionEnd),
    /// The case does not apply to this target; why.
    NotApplicable(String),
}

/// The managed server configuration a case needs, if its target is managed.
pub(super) fn instance_key(planned: &PlannedCase) -> Option<InstanceKey> {
    match planned.target.adapter {
        // Server-to-server cases federate: their instance comes from `federation`.
        Adapter::Managed(_) if planned.case.s2s.is_none() => Some(InstanceKey {
            target: planned.target.name.clone(),
            certificate: planned.case.certificate,
            key: planned.case.key,
        }),
        _ => None,
    }
}

/// Whether the case federates on the machine's fixed addresses (an s2s case against a
/// managed server), and so needs the run's claim on them before it starts.
pub(super) fn federates(planned: &PlannedCase) -> bool {
    planned.case.s2s.is_some() && matches!(planned.target.adapter, Adapter::Managed(_))
}

/// Why the harness cannot run this case at all, if it cannot.
fn unsupported(case: &CaseSpec) -> Option<&'static str> {
    (case.sasl.mechanism.is_plus()
        && case.sasl.channel_binding == Some(ChannelBindingType::TlsUnique))
    .then_some(
        "tls-unique channel binding needs the first TLS Finished message, which rustls does \
             not expose (and TLS 1.3 does not define)",
    )
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
    let mut shown = format!(
        ", although the harness presented the {} chain ({}, {} root trusted)",
        case.certificate, case.key, case.trust
    );
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
fn harness_view(end: SessionEnd) -> Result<Observation, EnvironmentError> {
    Ok(match end {
        SessionEnd::Authenticated { jid } => Observation::Authenticated { jid },
        SessionEnd::S2sAuthenticated { method, domain } => {
            Observation::S2sAuthenticated { method, domain }
        }
        SessionEnd::MessageReceived { from } => {
            return Err(EnvironmentError(format!(
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

fn chain_for(
    case: &CaseSpec,
    environment: &RunEnvironment,
) -> Result<(Arc<IssuedChain>, TlsSetup, TlsSetup), EnvironmentError> {
    let chain = environment
        .catalogue
        .chain(case.certificate, case.key, BUILTIN_DOMAIN)
        .map_err(|e| EnvironmentError(format!("test PKI: {e}")))?;
    let anchor = environment
        .catalogue
        .trust_anchor(&chain, case.trust)
        .map_err(|e| EnvironmentError(format!("test PKI: {e}")))?;
    let client_certificate = client_certificate(case, environment, BUILTIN_DOMAIN)?;
    let server = TlsSetup::Server {
        chain: chain.presented.clone(),
        key: Arc::new(chain.key_der()),
        client_trust_anchor: client_certificate.as_ref().map(|(_, root)| root.clone()),
    };
    let client = TlsSetup::Client {
        trust_anchor: anchor,
        domain: BUILTIN_DOMAIN.to_owned(),
        identity: case.identity.clone(),
        client_certificate: client_certificate.map(|(certificate, _)| certificate),
    };
    Ok((chain, server, client))
}

/// The client certificate a case presents (XEP-0178), with the root the server side trusts
/// for client certificates (for `client-untrusted`, a root that did not issue it).
fn client_certificate(
    case: &CaseSpec,
    environment: &RunEnvironment,
    domain: &str,
) -> Result<Option<(ClientCertificate, CertificateDer<'static>)>, EnvironmentError> {
    let Some(profile) = case.sasl.client_certificate else {
        return Ok(None);
    };
    let chain = environment
        .catalogue
        .chain(profile, case.key, domain)
        .map_err(|e| EnvironmentError(format!("test PKI: {e}")))?;
    let certificate = ClientCertificate {
        chain: chain.presented.clone(),
        key: Arc::new(chain.key_der()),
    };
    Ok(Some((certificate, chain.root.clone())))
}

/// What keeps a server target up while the harness talks to it.
enum ServerHandle {
    /// A built-in server task, finished after the session.
    Builtin(RunningServer),
    /// A shared managed instance, released after the case.
    Managed(Arc<Instance>),
    /// Nothing: somebody else runs it.
    External,
}

/// The harness is the client; the target is a server.
async fn against_server(
    case: &CaseSpec,
    target: &Target,
    environment: &RunEnvironment,
    transcript: &Transcript,
) -> Result<Ran, EnvironmentError> {
    let pki = |e: crate::pki::PkiError| EnvironmentError(format!("test PKI: {e}"));
    let (handle, endpoint) = match &target.adapter {
        Adapter::BuiltinServer(features) | Adapter::BuiltinClient(features) => {
            let (chain, server_tls, _) = chain_for(case, environment)?;
            transcript.record(
                Direction::Note,
                format!(
                    "{target} presents {} ({} certificates)",
                    profile_name(&chain),
                    chain.presented.len()
                ),
            );
            let server = RunningServer::start(
                case.transport,
                features,
                server_tls,
                Arc::clone(&environment.accounts),
                environment.timeout,
                transcript.as_participant(target.name()),
            )
            .await?;
            let endpoint = Endpoint {
                address: server.address,
                domain: BUILTIN_DOMAIN.to_owned(),
                username: ACCOUNT_USERNAME.to_owned(),
                password: environment.password.clone(),
                chain_root: chain.root.clone(),
            };
            (ServerHandle::Builtin(server), endpoint)
        }
        Adapter::Managed(_) | Adapter::External(_) if case.sasl.client_certificate.is_some() => {
            return Ok(Ran::NotApplicable(format!(
                "{target} is not configured to trust the test PKI's client certificates, so \
                 EXTERNAL (XEP-0178) cannot be tested against it"
            )));
        }
        Adapter::Managed(spec) => {
            let chain = environment
                .catalogue
                .chain(case.certificate, case.key, &spec.domain)
                .map_err(pki)?;
            let key = InstanceKey {
                target: target.name.clone(),
                certificate: case.certificate,
                key: case.key,
            };
            let instance = environment
                .instances
                .get(spec, &key, &chain, ACCOUNT_USERNAME, &environment.password)
                .await
                .map_err(|e| EnvironmentError(format!("managed {target} did not start: {e}")))?;
            transcript.record(
                Direction::Note,
                format!(
                    "{target} instance for {} presents {} ({} certificates) on {} (STARTTLS) and {} (direct TLS); it started in {:.2} s",
                    instance.domain,
                    profile_name(&chain),
                    chain.presented.len(),
                    instance.starttls_address(),
                    instance
                        .address(Transport::DirectTls)
                        .map_or_else(|_| "no port".to_owned(), |a| a.to_string()),
                    instance.startup.as_secs_f64()
                ),
            );
            let address = match instance.address(case.transport) {
                Ok(address) => address,
                Err(reason) => {
                    return Ok(Ran::Session(SessionEnd::Rejected {
                        step: Step::Connect,
                        condition: "connection-refused".into(),
                        by: Side::Peer,
                        detail: reason,
                    }));
                }
            };
            let endpoint = Endpoint {
                address,
                domain: instance.domain.clone(),
                username: ACCOUNT_USERNAME.to_owned(),
                password: environment.password.clone(),
                chain_root: chain.root.clone(),
            };
            (ServerHandle::Managed(instance), endpoint)
        }
        Adapter::Command(_) => {
            return Err(EnvironmentError(format!(
                "{target} is a client; it cannot play the server"
            )));
        }
        Adapter::External(spec) => {
            if let Some(reason) = spec.inapplicable(case.certificate, case.key, case.transport) {
                return Ok(Ran::NotApplicable(reason));
            }
            let endpoint = spec
                .endpoint(case.transport)
                .await
                .map_err(EnvironmentError)?;
            transcript.record(
                Direction::Note,
                format!(
                    "{target} is external at {} ({})",
                    endpoint.address, endpoint.domain
                ),
            );
            (ServerHandle::External, endpoint)
        }
    };
    let trust_anchor = match case.trust {
        Trust::ChainRoot => endpoint.chain_root.clone(),
        Trust::UnrelatedRoot => {
            let chain = environment
                .catalogue
                .chain(case.certificate, case.key, &endpoint.domain)
                .map_err(pki)?;
            environment
                .catalogue
                .trust_anchor(&chain, Trust::UnrelatedRoot)
                .map_err(pki)?
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
        client_certificate: client_certificate(case, environment, &endpoint.domain)?
            .map(|(certificate, _)| certificate),
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
    match handle {
        ServerHandle::Builtin(server) => server.finish().await,
        ServerHandle::Managed(instance) => {
            if matches!(end, Ok(SessionEnd::Rejected { .. }) | Err(_)) {
                transcript.record(
                    Direction::Note,
                    format!("{target}'s log, last lines:\n{}", instance.log_tail()),
                );
            }
        }
        ServerHandle::External => {}
    }
    end.map(Ran::Session)
}

/// The harness is the server; the target is a client.
async fn against_client(
    case: &CaseSpec,
    target: &Target,
    environment: &RunEnvironment,
    transcript: &Transcript,
) -> Result<SessionEnd, EnvironmentError> {
    let (chain, server_tls, client_tls) = chain_for(case, environment)?;
    transcript.record(
        Direction::Note,
        format!(
            "the harness presents {} ({} certificates), {target} trusts the {} root",
            profile_name(&chain),
            chain.presented.len(),
            case.trust
        ),
    );
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| EnvironmentError(format!("the harness cannot listen on 127.0.0.1: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| EnvironmentError(format!("the harness's listener has no address: {e}")))?;
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
    let direct_tls = case.transport == Transport::DirectTls;
    match &target.adapter {
        Adapter::Command(spec) => {
            let TlsSetup::Client { trust_anchor, .. } = &client_tls else {
                return Err(EnvironmentError(
                    "the client's TLS settings are not client settings".to_owned(),
                ));
            };
            let dir = CaseDir::with_anchor(trust_anchor)
                .map_err(|e| EnvironmentError(format!("{target}: {e}")))?;
            let client_certificate = match case.sasl.client_certificate {
                Some(profile) => {
                    let chain = environment
                        .catalogue
                        .chain(profile, case.key, BUILTIN_DOMAIN)
                        .map_err(|e| EnvironmentError(format!("test PKI: {e}")))?;
                    let chain_pem =
                        format!("{}{}", chain.pem.leaf, chain.pem.intermediates.concat());
                    Some(
                        dir.with_client_certificate(&chain_pem, &chain.pem.key)
                            .map_err(|e| EnvironmentError(format!("{target}: {e}")))?,
                    )
                }
                None => None,
            };
            let host = host_name(BUILTIN_DOMAIN, address).await;
            transcript.record(
                Direction::Note,
                if host == BUILTIN_DOMAIN {
                    format!("{{host}} is {host}, which resolves to {}", address.ip())
                } else {
                    format!(
                        "{{host}} is the address {host}: {BUILTIN_DOMAIN} does not resolve to it \
                         here (ci/install-targets.sh adds it to /etc/hosts), so a client that \
                         checks the name it connects to cannot show that"
                    )
                },
            );
            let invocation = Invocation {
                host,
                port: address.port(),
                domain: BUILTIN_DOMAIN.to_owned(),
                username,
                password,
                ca_file: dir.ca_file(),
                client_certificate,
                tls: case.transport,
                targets_dir: spec.targets_dir.clone(),
            };
            let mut client = LaunchedClient::launch(spec, &invocation, &dir)
                .map_err(|e| EnvironmentError(format!("{target}: {e}")))?;
            let session = CommandSession {
                listener,
                config,
                server_tls: &server_tls,
                direct_tls,
                limit: spec.timeout,
                read_timeout: environment.timeout,
            };
            let end = session.run(&mut client, transcript).await;
            client.stop();
            transcript.record(
                Direction::Note,
                format!(
                    "{target}'s output, last lines:\n{}",
                    client.output_tail(&invocation.password)
                ),
            );
            end
        }
        Adapter::BuiltinClient(features) | Adapter::BuiltinServer(features) => {
            let client = RunningClient::start(
                address,
                ClientOrders {
                    transport: case.transport,
                    password,
                    tls: client_tls,
                    features: features.clone(),
                },
                environment.timeout,
                transcript.as_participant(target.name()),
            );
            let tcp = match tokio::time::timeout(environment.timeout, listener.accept()).await {
                Ok(Ok((tcp, _))) => tcp,
                Ok(Err(e)) => {
                    return Err(EnvironmentError(format!(
                        "accepting the client's connection failed: {e}"
                    )));
                }
                Err(_) => {
                    client.finish().await;
                    return Ok(SessionEnd::Rejected {
                        step: Step::Connect,
                        condition: TIMEOUT.into(),
                        by: Side::Peer,
                        detail: format!(
                            "the client did not connect within {:?}",
                            environment.timeout
                        ),
                    });
                }
            };
            let end = drive::respond(
                tcp,
                config,
                &server_tls,
                direct_tls,
                environment.timeout,
                transcript,
            )
            .await;
            client.finish().await;
            end
        }
        Adapter::Managed(_) | Adapter::External(_) => Err(EnvironmentError(format!(
            "{target} is a server; it cannot play the client"
        ))),
    }
}

/// What a command client is told to connect to: `domain` when it resolves to the address the
/// harness listens on, so that a client that checks the certificate against the host it was
/// given is tested as it is used; the bare address otherwise.
async fn host_name(domain: &str, address: std::net::SocketAddr) -> String {
    let resolves_here = tokio::net::lookup_host((domain, address.port()))
        .await
        .is_ok_and(|mut found| found.any(|candidate| candidate.ip() == address.ip()));
    if resolves_here {
        domain.to_owned()
    } else {
        address.ip().to_string()
    }
}

/// How long a launched client may take to exit after the harness's side is done.
const CLIENT_SETTLE: Duration = Duration::from_secs(2);

/// The harness's server side of one case against a command-launched client.
struct CommandSession<'a> {
    listener: TcpListener,
    config: ServerConfig,
    server_tls: &'a TlsSetup,
    direct_tls: bool,
    /// The client's whole time budget: it is killed when it runs out.
    limit: Duration,
    read_timeout: Duration,
}

impl CommandSession<'_> {
    /// Waits for the client's connection and serves it; the client is killed at the limit
    /// and the session judged on what was observed until then. The exit status only goes
    /// into the transcript.
    async fn run(
        self,
        client: &mut LaunchedClient,
        transcript: &Transcript,
    ) -> Result<SessionEnd, EnvironmentError> {
        transcript.record(Direction::Note, format!("started: {}", client.shown));
        let deadline = tokio::time::Instant::now() + self.limit;
        let tcp = tokio::select! {
            accepted = self.listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    return Err(EnvironmentError(format!(
                        "accepting the client's connection failed: {e}"
                    )));
                }
            },
            status = client.wait_exit(self.limit) => {
                // 126 and 127 are the shell's "cannot execute" and "not found": the client
                // under test never ran, which says nothing about it.
                if let Some(code @ (126 | 127)) = status.and_then(|s| s.code()) {
                    return Err(EnvironmentError(format!(
                        "the client command could not be run (exit {code}: not found or not \
                         executable); see its output in the transcript"
                    )));
                }
                let detail = match status {
                    Some(status) => format!("the client exited ({status}) without connecting"),
                    None => format!("the client did not connect within {:?}; killed", self.limit),
                };
                transcript.record(Direction::Note, detail.clone());
                return Ok(SessionEnd::Rejected {
                    step: Step::Connect,
                    condition: if status.is_some() { "closed" } else { TIMEOUT }.into(),
                    by: Side::Peer,
                    detail,
                });
            }
        };
        let respond = drive::respond(
            tcp,
            self.config,
            self.server_tls,
            self.direct_tls,
            self.read_timeout,
            transcript,
        );
        tokio::pin!(respond);
        let end = tokio::select! {
            end = &mut respond => end,
            () = tokio::time::sleep_until(deadline) => {
                transcript.record(
                    Direction::Note,
                    format!("the client still runs after {:?}: killed", self.limit),
                );
                client.stop();
                // The connection closes because the harness killed the client, not because
                // the client refused anything: whatever the session saw next is a timeout.
                respond.await.map(|end| match end {
                    SessionEnd::Rejected { step, .. } => SessionEnd::Rejected {
                        step,
                        condition: TIMEOUT.into(),
                        by: Side::Peer,
                        detail: format!(
                            "the client neither went on nor gave up within its {:?} limit \
                             (killed by the harness)",
                            self.limit
                        ),
                    },
                    authenticated => authenticated,
                })
            }
        };
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.wait_exit(left.min(CLIENT_SETTLE)).await {
            Some(status) => {
                transcript.record(Direction::Note, format!("the client exited: {status}"))
            }
            None => transcript.record(
                Direction::Note,
                "the client still runs after the session ended: killed",
            ),
        }
        end
    }
}

fn profile_name(chain: &IssuedChain) -> String {
    format!("{} {}", chain.profile, chain.key_type)
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
        assert!(told.contains("presented the wrong-domain chain"), "{told}");
        assert!(told.contains("RFC 6125 §6.4"), "{told}");
        assert!(told.contains(&case.title), "{told}");
    }
}
