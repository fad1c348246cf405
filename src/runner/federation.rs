//! Server-to-server cases against managed servers (Prosody, ejabberd, …), federating over
//! loopback: the target listens on its domain's address and port 5269, the harness plays
//! `harness.test` on its own address and port 5269, and both find each other through
//! `/etc/hosts` (see `fixtures/federation-hosts`).
//!
//! Harness originating: the harness connects to the target's s2s port; the harness's
//! authoritative server answers the target's dialback verification on `harness.test:5269`.
//! Harness receiving: the harness listens on `harness.test:5269` and makes the target connect by
//! logging its account in and sending a message to a JID on `harness.test`; dialback keys go
//! to the target's own authoritative server, its s2s port.
//!
//! Nothing here knows which server the target is: the adapter renders the configuration from
//! [`Federation`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use super::RunEnvironment;
use crate::drive::Transcript;
use crate::drive::messaging::{RunningErrand, start_errand};
use crate::drive::s2s as drive_s2s;
use crate::drive::s2s::Authorities;
use crate::error::{HarnessError, NotApplicable};
use crate::pki::IssuedChain;
use crate::pki::identity::{PresentedIdentity, presented_identities};
use crate::proto::Side;
use crate::proto::client::{ClientConfig, Errand};
use crate::proto::s2s::authority::AuthorityConfig;
use crate::proto::s2s::dialback::DialbackSecret;
use crate::proto::s2s::originating::OriginatingConfig;
use crate::proto::s2s::receiving::ReceivingConfig;
use crate::proto::sasl::ClientOptions;
use crate::proto::xml::Limits;
use crate::proto::{Direction, SessionEnd};
use crate::scenario::{AuthorityAnswer, CaseSpec, DialbackKey, S2sCase, S2sPolicy, Trust};
use crate::scenario::{
    CertificateProfile, IdentityType, Mechanism, Step, TIMEOUT, TlsProfile, Transport,
};
use crate::targets::builtin_s2s::listen_on;
use crate::targets::managed::{
    DomainTurn, Federation, FederationTurn, Instance, InstanceKey, ManagedSpec, S2S_PORT,
};
use crate::targets::{ACCOUNT_USERNAME, CaseEnd, HARNESS_S2S_DOMAIN, Target};
use crate::transport::TlsSetup;
use crate::transport::tls::ClientCertificate;
use tokio::sync::mpsc;

/// The loopback address `/etc/hosts` gives `domain`; anything else is refused, so that no
/// test ever talks to a machine beyond this one.
pub(super) async fn loopback_address(domain: &str) -> Result<Ipv4Addr, HarnessError> {
    let hint = "run ci/install-targets.sh (as root) to add fixtures/federation-hosts to /etc/hosts";
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((domain, S2S_PORT))
        .await
        .map_err(|e| HarnessError::environment(format!("{domain} does not resolve ({e}); {hint}")))?
        .collect();
    match addresses.iter().find_map(|a| match a.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => Some(ip),
        _ => None,
    }) {
        Some(ip) => Ok(ip),
        None => Err(HarnessError::environment(format!(
            "{domain} resolves to {addresses:?}, not a 127.0.0.0/8 address; {hint}"
        ))),
    }
}

/// The certificate one side presents and the root the other side trusts for it.
struct Presented {
    chain: Arc<IssuedChain>,
    trusted_root: rustls::pki_types::CertificateDer<'static>,
    trusted_root_pem: String,
}

fn presented(
    environment: &RunEnvironment,
    chain: Arc<IssuedChain>,
    trust: Trust,
    by: &str,
    trusted_by: &str,
    transcript: &Transcript,
) -> Result<Presented, HarnessError> {
    let catalogue = &environment.catalogue;
    transcript.record(
        Direction::Note,
        format!(
            "{by} presents {} {} for {}; {trusted_by} trusts the {trust} root",
            chain.profile, chain.key_type, chain.domain
        ),
    );
    Ok(Presented {
        trusted_root: catalogue.trust_anchor(&chain, trust)?,
        trusted_root_pem: catalogue.trust_anchor_pem(&chain, trust)?,
        chain,
    })
}

fn client_certificate(chain: &IssuedChain) -> ClientCertificate {
    ClientCertificate {
        chain: chain.presented.clone(),
        key: Arc::new(chain.key_der()),
    }
}

fn receiving_tls(
    presented: &Presented,
    peer_trust_anchor: rustls::pki_types::CertificateDer<'static>,
) -> TlsSetup {
    TlsSetup::S2sReceiving {
        chain: presented.chain.presented.clone(),
        key: Arc::new(presented.chain.key_der()),
        peer_trust_anchor,
    }
}

/// Runs an s2s case against a managed server.
pub(super) async fn against_managed(
    case: &CaseSpec,
    s2s: &S2sCase,
    target: &Target,
    spec: &ManagedSpec,
    environment: &RunEnvironment,
    transcript: &Transcript,
) -> Result<CaseEnd, HarnessError> {
    let end = match s2s.direction {
        crate::scenario::S2sDirection::Originating => {
            harness_originates(case, s2s, target, spec, environment, transcript).await
        }
        crate::scenario::S2sDirection::Receiving => {
            if case.transport == Transport::DirectTls {
                return Ok(CaseEnd::NotApplicable(NotApplicable(format!(
                    "{target} would choose direct TLS (XEP-0368) only from an _xmpps-server SRV \
                     record, which federation over /etc/hosts does not have"
                ))));
            }
            harness_receives(case, s2s, target, spec, environment, transcript).await
        }
    };
    end.map(CaseEnd::Session)
}

/// The harness originates from `harness.test` to the target's domain.
async fn harness_originates(
    case: &CaseSpec,
    s2s: &S2sCase,
    target: &Target,
    spec: &ManagedSpec,
    environment: &RunEnvironment,
    transcript: &Transcript,
) -> Result<SessionEnd, HarnessError> {
    // Without a certificate of its own the harness still needs one for the TLS of the
    // verification connection the target opens back; the target is told to trust nothing of it.
    let harness = match s2s.originating_certificate {
        Some(profile) => (profile, s2s.originating_trust),
        None => (case.certificate, Trust::UnrelatedRoot),
    };
    let set_up = federate(
        Certificates {
            target: (case.certificate, case.trust),
            harness,
            require_certificate: s2s.policy == S2sPolicy::RequireCertificate,
            logs_in: false,
        },
        (case, target, spec, environment, transcript),
    )
    .await?;
    if s2s.originating_certificate.is_none() {
        transcript.record(
            Direction::Note,
            "the harness presents no certificate on the stream it originates",
        );
    }
    let Federated {
        harness_side,
        target_side,
        instance,
        harness_address,
        ..
    } = &set_up;
    let secret = DialbackSecret::random();
    let harness_domain = if s2s.authority == AuthorityAnswer::Unreachable {
        transcript.record(
            Direction::Note,
            format!(
                "nothing listens for {HARNESS_S2S_DOMAIN}: its authoritative server is unreachable"
            ),
        );
        None
    } else {
        Some(
            HarnessDomain::start(
                *harness_address,
                Some(AuthorityConfig {
                    domain: HARNESS_S2S_DOMAIN.to_owned(),
                    secret: secret.clone(),
                    always_invalid: s2s.authority == AuthorityAnswer::SaysInvalid,
                    offer_starttls: true,
                    limits: Limits::default(),
                }),
                S2sPolicy::AllowDialback,
                &set_up,
                environment,
                transcript,
            )
            .await?,
        )
    };
    let tls = TlsSetup::S2sOriginating {
        trust_anchor: target_side.trusted_root.clone(),
        domain: spec.domain.clone(),
        certificate: s2s
            .originating_certificate
            .map(|_| client_certificate(&harness_side.chain)),
        provisioned: target_side.chain.presented.first().cloned(),
    };
    let config = OriginatingConfig {
        local_domain: HARNESS_S2S_DOMAIN.to_owned(),
        remote_domain: spec.domain.clone(),
        transport: case.transport,
        has_certificate: s2s.originating_certificate.is_some(),
        dialback: Some(secret),
        wrong_dialback_key: s2s.dialback_key == DialbackKey::Forged,
        limits: Limits::default(),
    };
    let end = drive_s2s::originate(
        instance.s2s_address(case.transport),
        config,
        &tls,
        environment.timeout,
        transcript,
    )
    .await;
    drop(harness_domain);
    note_log_unless_authenticated(&end, target, instance, transcript);
    end
}

/// The harness's own domain on its loopback address and port 5269: the receiving server and
/// the authoritative server of `harness.test`, for every connection the target opens.
struct HarnessDomain {
    task: tokio::task::JoinHandle<()>,
    ends: mpsc::UnboundedReceiver<Result<SessionEnd, HarnessError>>,
}

impl HarnessDomain {
    /// Listens on `address`:5269 and serves until dropped. Dialback keys of the target are
    /// checked with the target's own s2s port (STARTTLS, the harness's certificate).
    async fn start(
        address: Ipv4Addr,
        authority: Option<AuthorityConfig>,
        policy: S2sPolicy,
        set_up: &Federated<'_>,
        environment: &RunEnvironment,
        transcript: &Transcript,
    ) -> Result<HarnessDomain, HarnessError> {
        let Federated {
            harness_side,
            target_side,
            instance,
            ..
        } = set_up;
        let what = format!("{HARNESS_S2S_DOMAIN} (the harness)");
        let (listener, bound) = listen_on(&what, SocketAddr::from((address, S2S_PORT))).await?;
        transcript.record(
            Direction::Note,
            format!("{what} receives and answers dialback verifications on {bound}"),
        );
        let verification_tls = TlsSetup::S2sOriginating {
            trust_anchor: target_side.chain.root.clone(),
            domain: certificate_name(&target_side.chain),
            certificate: Some(client_certificate(&harness_side.chain)),
            provisioned: target_side.chain.presented.first().cloned(),
        };
        let authorities = Authorities::new().with_tls(
            &instance.domain,
            instance.s2s_address(Transport::Starttls),
            verification_tls,
        );
        let config = ReceivingConfig {
            local_domain: HARNESS_S2S_DOMAIN.to_owned(),
            starttls_available: true,
            policy,
            authority,
            limits: Limits::default(),
        };
        let (sender, ends) = mpsc::unbounded_channel();
        let task = tokio::spawn(drive_s2s::serve_domain(
            listener,
            config,
            receiving_tls(harness_side, target_side.trusted_root.clone()),
            authorities,
            environment.timeout,
            transcript.clone(),
            sender,
        ));
        Ok(HarnessDomain { task, ends })
    }
}

impl Drop for HarnessDomain {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The target originates from its domain to `harness.test`: the harness listens, then makes
/// the target connect by sending a message from the target's account to a JID on
/// `harness.test`.
async fn harness_receives(
    case: &CaseSpec,
    s2s: &S2sCase,
    target: &Target,
    spec: &ManagedSpec,
    environment: &RunEnvironment,
    transcript: &Transcript,
) -> Result<SessionEnd, HarnessError> {
    // A real server always presents its certificate; "presents none" becomes one the harness
    // does not trust, which leaves the same choice: dialback.
    let target_certificate = match s2s.originating_certificate {
        Some(profile) => (profile, s2s.originating_trust),
        None => (case.certificate, Trust::UnrelatedRoot),
    };
    let set_up = federate(
        Certificates {
            target: target_certificate,
            harness: (case.certificate, case.trust),
            require_certificate: false,
            logs_in: true,
        },
        (case, target, spec, environment, transcript),
    )
    .await?;
    // The stream the target opens is the one under test: it ends (and is judged) as soon as
    // the target is authenticated or refused, so this side is no authority on it.
    let mut harness_domain = HarnessDomain::start(
        set_up.harness_address,
        None,
        s2s.policy,
        &set_up,
        environment,
        transcript,
    )
    .await?;
    let trigger = trigger_outgoing(&set_up, environment, transcript).await?;
    let end = tokio::select! {
        end = harness_domain.ends.recv() => end,
        ended = trigger.outcome(environment.timeout) => {
            // The harness's own view of a stream the target did open outweighs the bounce
            // that stream's refusal causes: give it a moment to arrive.
            match tokio::time::timeout(STREAM_END_GRACE, harness_domain.ends.recv()).await {
                Ok(Some(end)) => Some(end),
                _ => Some(trigger_ended(ended?, target)),
            }
        }
    }
    .unwrap_or_else(|| Err(HarnessError::environment("the harness's listener stopped")));
    note_log_unless_authenticated(&end, target, &set_up.instance, transcript);
    end
}

/// How long the harness's stream may still take to end once the triggering session ended.
const STREAM_END_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// The verdict when the triggering session ended before any stream from the target did: the
/// target never connected (timeout) or bounced the message without authenticating a stream.
fn trigger_ended(end: SessionEnd, target: &Target) -> Result<SessionEnd, HarnessError> {
    match end {
        SessionEnd::Rejected {
            condition, detail, ..
        } => {
            let what = if condition == TIMEOUT {
                format!("{target} did not connect to {HARNESS_S2S_DOMAIN}")
            } else {
                format!(
                    "{target} bounced the message to {HARNESS_S2S_DOMAIN} without authenticating a stream to it"
                )
            };
            Ok(SessionEnd::Rejected {
                step: Step::Connect,
                condition,
                by: Side::Peer,
                detail: format!("{what}: {detail}"),
            })
        }
        other => Err(HarnessError::environment(format!(
            "the triggering session ended unexpectedly: {other}"
        ))),
    }
}

/// Logs the target's account in over c2s and sends a message to a JID on `harness.test`,
/// which makes the target open a server-to-server stream to the harness.
async fn trigger_outgoing(
    set_up: &Federated<'_>,
    environment: &RunEnvironment,
    transcript: &Transcript,
) -> Result<RunningErrand, HarnessError> {
    let instance = &set_up.instance;
    let recipient = format!("interop@{HARNESS_S2S_DOMAIN}");
    let (config, tls) = account_login(
        &set_up.target_side.chain,
        Errand::SendMessage {
            to: recipient.clone(),
            body: format!("xmpp-interop s2s trigger {:016x}", rand::random::<u64>()),
        },
        environment,
    );
    let login = transcript.as_participant("trigger");
    login.record(
        Direction::Note,
        format!(
            "logging {ACCOUNT_USERNAME}@{} in to send a message to {recipient}",
            instance.domain
        ),
    );
    match start_errand(
        instance
            .address(Transport::Starttls)
            .map_err(HarnessError::Environment)?,
        config,
        tls,
        environment.timeout,
        environment.timeout,
        login,
    )
    .await?
    {
        Ok(errand) => Ok(errand),
        Err(end) => Err(HarnessError::environment(format!(
            "the harness could not log {ACCOUNT_USERNAME}@{} in to make it send: {end}",
            instance.domain
        ))),
    }
}

/// Which chain each side presents and which root the other side trusts for it, whether the
/// target requires certificates of its peers, and whether the harness logs in to the target
/// (to make it originate), which needs the account.
struct Certificates {
    target: (CertificateProfile, Trust),
    harness: (CertificateProfile, Trust),
    require_certificate: bool,
    logs_in: bool,
}

/// One case's federation: both sides' certificates, the target's fresh instance on its
/// domain's address, and the harness's address; the turns are held as long as this lives,
/// and released after the instance is stopped (fields drop in order).
struct Federated<'a> {
    harness_side: Presented,
    target_side: Presented,
    instance: Instance,
    harness_address: Ipv4Addr,
    _turn: FederationTurn<'a>,
    _domain: DomainTurn,
}

/// Issues both sides' chains, takes the target domain's turn, starts the target, then takes
/// the run's federation turn: the next case's server starts while this one federates.
async fn federate<'a>(
    certificates: Certificates,
    (case, target, spec, environment, transcript): (
        &CaseSpec,
        &Target,
        &ManagedSpec,
        &'a RunEnvironment,
        &Transcript,
    ),
) -> Result<Federated<'a>, HarnessError> {
    let catalogue = &environment.catalogue;
    let target_address = loopback_address(&spec.domain).await?;
    let harness_address = loopback_address(HARNESS_S2S_DOMAIN).await?;
    let (profile, trust) = certificates.target;
    let target_side = presented(
        environment,
        catalogue.chain(profile, case.key, &spec.domain)?,
        trust,
        target.name(),
        "the harness",
        transcript,
    )?;
    let (profile, trust) = certificates.harness;
    let harness_side = presented(
        environment,
        catalogue.chain(profile, case.key, HARNESS_S2S_DOMAIN)?,
        trust,
        "the harness",
        target.name(),
        transcript,
    )?;
    let federation = Federation {
        address: target_address,
        trusted_roots_pem: harness_side.trusted_root_pem.clone(),
        require_certificate: certificates.require_certificate,
    };
    let key = InstanceKey {
        target: target.name.clone(),
        certificate: certificates.target.0,
        key: case.key,
        client_certificates: false,
    };
    let domain = environment.federation.domain(&spec.domain).await?;
    let instance = Instance::start(
        spec,
        &key,
        &target_side.chain,
        certificates
            .logs_in
            .then_some((ACCOUNT_USERNAME, environment.password.as_str())),
        Some(&federation),
        None,
    )
    .await
    .map_err(|e| HarnessError::ManagedStart {
        target: target.name.clone(),
        source: Arc::new(e),
    })?;
    let turn = environment.federation.turn().await?;
    note_instance(target, &instance, &federation, transcript);
    Ok(Federated {
        harness_side,
        target_side,
        instance,
        harness_address,
        _turn: turn,
        _domain: domain,
    })
}

/// Appends the target's log tail to the transcript of a case that did not authenticate.
fn note_log_unless_authenticated(
    end: &Result<SessionEnd, HarnessError>,
    target: &Target,
    instance: &Instance,
    transcript: &Transcript,
) {
    if !matches!(end, Ok(SessionEnd::S2sAuthenticated { .. })) {
        transcript.record(
            Direction::Note,
            format!("{target}'s log ends:\n{}", instance.log_tail()),
        );
    }
}

/// The c2s login of the account on the server that presents `chain`, doing `errand`. It
/// trusts that server's root and asks for the name the certificate carries: a login that
/// only makes a server federate judges nothing about its c2s side.
pub(super) fn account_login(
    chain: &IssuedChain,
    errand: Errand,
    environment: &RunEnvironment,
) -> (ClientConfig, TlsSetup) {
    let config = ClientConfig {
        domain: chain.domain.clone(),
        transport: Transport::Starttls,
        mechanisms: vec![Mechanism::ScramSha1, Mechanism::Plain],
        username: ACCOUNT_USERNAME.to_owned(),
        password: environment.password.clone(),
        channel_binding: None,
        authzid: None,
        sasl_options: ClientOptions::default(),
        require_tls: true,
        limits: Limits::default(),
        sasl_profile: None,
        errand,
    };
    let tls = TlsSetup::Client {
        trust_anchor: chain.root.clone(),
        domain: certificate_name(chain),
        identity: IdentityType::DEFAULT.to_vec(),
        client_certificate: None,
        profile: TlsProfile::default(),
    };
    (config, tls)
}

/// The name a certificate is for (its first DNS identity), which is what a TLS client must
/// ask for when the harness only needs the connection, not a judgement of the certificate:
/// dialback verification (which rests on DNS, XEP-0220 §2.1.2) and the c2s login that triggers
/// the target.
pub(super) fn certificate_name(chain: &IssuedChain) -> String {
    chain
        .presented
        .first()
        .and_then(|leaf| presented_identities(leaf).ok())
        .and_then(|identities| {
            identities.into_iter().find_map(|identity| match identity {
                PresentedIdentity::Dns(name) => Some(name),
                _ => None,
            })
        })
        .unwrap_or_else(|| chain.domain.clone())
}

fn note_instance(
    target: &Target,
    instance: &Instance,
    federation: &Federation,
    transcript: &Transcript,
) {
    transcript.record(
        Direction::Note,
        format!(
            "{} ({}) federates on {} with {}; it started in {:.2} s",
            instance.domain,
            target.implementation,
            instance.s2s_address(crate::scenario::Transport::Starttls),
            if federation.require_certificate {
                "certificates required (no dialback)"
            } else {
                "dialback allowed for peers without a good certificate"
            },
            instance.startup.as_secs_f64()
        ),
    );
}
