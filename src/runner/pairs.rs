//! The server-pair matrix: two managed servers federate with each other over loopback, a user
//! on one sends a message to a user on the other, and the matrix says whether it arrived and
//! how the receiving server authenticated the link (from its own log, through the adapter).
//!
//! Every unordered pair of managed targets, each target with itself included, runs under every
//! [`PairProfile`], and both directions are tried on the same two instances. A target paired
//! with itself runs its second instance on the peer domain `NAME-peer.TLD` (see
//! `fixtures/federation-hosts`). Each pair and profile gets fresh instances.
//!
//! [`run_all`] runs them one after another, each within a deadline, until a [`Stopper`]
//! fires, and tells its caller what happens as [`PairEvent`]s; the report layer renders the
//! [`PairRecord`]s it carries.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;

use super::federation::{account_login, loopback_address};
use super::{Interruption, Outcome, RunEnvironment, Stopper};
use crate::drive::messaging::start_errand;
use crate::drive::{Transcript, TranscriptLine};
use crate::error::HarnessError;
use crate::pki::IssuedChain;
use crate::proto::SessionEnd;
use crate::proto::client::Errand;
use crate::scenario::{CertificateProfile, KeyType, S2sAuth, Step, Transport, Trust};
use crate::targets::managed::{Federation, Instance, InstanceKey, ManagedSpec};
use crate::targets::{ACCOUNT_USERNAME, Target};

/// How both servers of a pair are set up, and what must then happen to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairProfile {
    /// Both present a chain (StartCom-style, with an intermediate) the other trusts: the
    /// message must arrive over a link authenticated with SASL EXTERNAL (XEP-0178).
    ValidChain,
    /// Both present a self-signed certificate the other does not trust, dialback allowed: the
    /// message must arrive over a link authenticated with dialback (XEP-0220).
    SelfSigned,
    /// As `self-signed`, but both require certificates: the message must not arrive, and the
    /// sender must get an error back rather than silence (RFC 6120 §8.3, §13.7.2.2).
    SelfSignedRequired,
}

impl PairProfile {
    /// Every profile, in matrix column order.
    pub const ALL: [PairProfile; 3] = [
        PairProfile::ValidChain,
        PairProfile::SelfSigned,
        PairProfile::SelfSignedRequired,
    ];

    /// The profile's name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PairProfile::ValidChain => "valid-chain",
            PairProfile::SelfSigned => "self-signed",
            PairProfile::SelfSignedRequired => "self-signed-required",
        }
    }

    /// The profile named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<PairProfile> {
        PairProfile::ALL.into_iter().find(|p| p.name() == name)
    }

    fn certificate(self) -> CertificateProfile {
        match self {
            PairProfile::ValidChain => CertificateProfile::StartcomChain,
            PairProfile::SelfSigned | PairProfile::SelfSignedRequired => {
                CertificateProfile::SelfSigned
            }
        }
    }

    fn trust(self) -> Trust {
        match self {
            PairProfile::ValidChain => Trust::ChainRoot,
            PairProfile::SelfSigned | PairProfile::SelfSignedRequired => Trust::UnrelatedRoot,
        }
    }

    fn require_certificate(self) -> bool {
        self == PairProfile::SelfSignedRequired
    }

    /// The authentication the link must use, or `None` when the message must not arrive.
    pub fn expected(self) -> Option<S2sAuth> {
        match self {
            PairProfile::ValidChain => Some(S2sAuth::External),
            PairProfile::SelfSigned => Some(S2sAuth::Dialback),
            PairProfile::SelfSignedRequired => None,
        }
    }

    /// The specification clauses the profile checks.
    pub fn clauses(self) -> &'static [&'static str] {
        match self {
            PairProfile::ValidChain => &["XEP-0178"],
            PairProfile::SelfSigned => &["XEP-0220"],
            PairProfile::SelfSignedRequired => &["RFC 6120 §8.3", "RFC 6120 §13.7.2.2"],
        }
    }

    /// What must happen to a message, in words.
    pub fn describe_expected(self) -> String {
        match self.expected() {
            Some(method) => format!("delivered, link authenticated via {method}"),
            None => "not delivered, the sender told so".to_owned(),
        }
    }
}

impl fmt::Display for PairProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What happened to one message from one server's user to the other's, under one profile.
#[derive(Clone, Debug, Serialize)]
pub struct PairRecord {
    /// The sending server's target name.
    pub from: String,
    /// The sending server's domain.
    pub from_domain: String,
    /// The receiving server's target name.
    pub to: String,
    /// The receiving server's domain.
    pub to_domain: String,
    /// How both servers were set up (a pair profile's name).
    pub profile: String,
    /// What had to happen.
    pub expected: String,
    /// Whether the message arrived.
    pub delivered: bool,
    /// How the receiving server authenticated the link, as its log says.
    pub method: Option<S2sAuth>,
    /// What happened, in words.
    pub observed: String,
    /// Whether that is what had to happen.
    pub pass: bool,
    /// The verdict: `pass` or `fail` for a message that was sent, `error` when the pair
    /// could not run or did not finish within its deadline, `not-run` when an interruption
    /// came first.
    pub outcome: Outcome,
    /// How long the message took (or how long the harness waited), in milliseconds.
    pub duration_ms: u128,
    /// Sender, receiver and the servers' log tails.
    #[serde(skip)]
    pub transcript: Vec<TranscriptLine>,
}

/// One server of a pair, as configured for one profile.
struct Side<'a> {
    target: &'a Target,
    spec: ManagedSpec,
    chain: Arc<IssuedChain>,
}

/// The domain of the second instance when a target is paired with itself:
/// `prosody.test` → `prosody-peer.test`.
pub fn peer_domain(domain: &str) -> String {
    match domain.split_once('.') {
        Some((first, rest)) => format!("{first}-peer.{rest}"),
        None => format!("{domain}-peer"),
    }
}

/// The unordered pairs of managed targets, each target with itself included, in order.
pub fn pairs(targets: &[Arc<Target>]) -> Vec<(Arc<Target>, Arc<Target>)> {
    let managed: Vec<&Arc<Target>> = targets
        .iter()
        .filter(|t| {
            t.server()
                .is_some_and(|server| server.federating().is_some())
        })
        .collect();
    let mut pairs = Vec::new();
    for (i, first) in managed.iter().enumerate() {
        for second in &managed[i..] {
            pairs.push((Arc::clone(first), Arc::clone(second)));
        }
    }
    pairs
}

/// How many step deadlines a pair gets by default: two servers start, and each of two
/// messages needs two logins, the message and the receiving server's log.
pub const PAIR_TIMEOUT_STEPS: u32 = 12;

/// The deadline of one pair under one profile when none is given: [`PAIR_TIMEOUT_STEPS`] ×
/// `timeout`.
pub fn default_pair_timeout(timeout: Duration) -> Duration {
    timeout.saturating_mul(PAIR_TIMEOUT_STEPS)
}

/// What [`run_all`] tells its caller, in order.
#[derive(Clone, Debug)]
pub enum PairEvent {
    /// The pairs are about to run.
    Started {
        /// How many messages (records) there will be: two per pair and profile.
        total: usize,
        /// The managed targets taking part, in order.
        targets: Vec<String>,
        /// Each target's implementation and version, in the same order.
        implementations: Vec<String>,
    },
    /// One pair starts under one profile.
    PairStarted {
        /// The first server's target name.
        first: String,
        /// The second server's target name.
        second: String,
        /// The profile.
        profile: PairProfile,
    },
    /// One message's record: sent, not sent because the pair broke, or not run.
    Finished(Arc<PairRecord>),
    /// Every pair finished, or was recorded as `not-run` after an interruption.
    AllFinished {
        /// Wall time of all pairs.
        duration: Duration,
        /// Why the pairs stopped before every one finished, if they did.
        interrupted: Option<Interruption>,
    },
}

/// Runs every pair under every profile, one after another, each within `pair_timeout` (a
/// pair past it is an `error`), sending what happens to `events`. When `stop` fires, the
/// running pair is cancelled (dropping its instances stops its servers) and it and every
/// pair after it are recorded as `not-run`.
pub async fn run_all(
    pairs: &[(Arc<Target>, Arc<Target>)],
    profiles: &[PairProfile],
    pair_timeout: Duration,
    environment: &RunEnvironment,
    events: &mpsc::UnboundedSender<PairEvent>,
    stop: &Stopper,
) {
    let started = Instant::now();
    let mut targets: Vec<&Target> = Vec::new();
    for target in pairs.iter().flat_map(|(first, second)| [first, second]) {
        if !targets.iter().any(|known| known.name == target.name) {
            targets.push(target);
        }
    }
    let _ = events.send(PairEvent::Started {
        total: pairs.len() * profiles.len() * 2,
        targets: targets.iter().map(|t| t.name.clone()).collect(),
        implementations: targets.iter().map(|t| t.implementation.clone()).collect(),
    });
    for (first, second) in pairs {
        for &profile in profiles {
            let unfinished =
                |outcome, observed: String| unfinished(first, second, profile, outcome, &observed);
            let records = match stop.interruption() {
                Some(why) => unfinished(Outcome::NotRun, why.reason()),
                None => {
                    let _ = events.send(PairEvent::PairStarted {
                        first: first.name.clone(),
                        second: second.name.clone(),
                        profile,
                    });
                    let running = run_pair(first, second, profile, environment);
                    tokio::select! {
                        biased;
                        why = stop.stopped() => unfinished(Outcome::NotRun, why.reason()),
                        ended = tokio::time::timeout(pair_timeout, running) => match ended {
                            Ok(Ok(records)) => records,
                            Ok(Err(e)) => unfinished(
                                Outcome::Error,
                                format!("the pair could not run: {e}"),
                            ),
                            Err(_) => unfinished(
                                Outcome::Error,
                                format!(
                                    "the pair did not finish within its deadline ({}s)",
                                    pair_timeout.as_secs_f64()
                                ),
                            ),
                        },
                    }
                }
            };
            for record in records {
                let _ = events.send(PairEvent::Finished(Arc::new(record)));
            }
        }
    }
    let _ = events.send(PairEvent::AllFinished {
        duration: started.elapsed(),
        interrupted: stop.interruption(),
    });
}

/// The records of both messages of a pair that sent none: `outcome` and `observed` say why.
fn unfinished(
    first: &Target,
    second: &Target,
    profile: PairProfile,
    outcome: Outcome,
    observed: &str,
) -> Vec<PairRecord> {
    let domain = |target: &Target| {
        target
            .server()
            .and_then(|server| server.federating())
            .map_or_else(|| target.name.clone(), |spec| spec.domain.clone())
    };
    let first_domain = domain(first);
    let mut second_domain = domain(second);
    if first.name == second.name {
        second_domain = peer_domain(&second_domain);
    }
    let record = |from: &Target, from_domain: &str, to: &Target, to_domain: &str| PairRecord {
        from: from.name.clone(),
        from_domain: from_domain.to_owned(),
        to: to.name.clone(),
        to_domain: to_domain.to_owned(),
        profile: profile.name().to_owned(),
        expected: profile.describe_expected(),
        delivered: false,
        method: None,
        observed: observed.to_owned(),
        pass: false,
        outcome,
        duration_ms: 0,
        transcript: Vec::new(),
    };
    vec![
        record(first, &first_domain, second, &second_domain),
        record(second, &second_domain, first, &first_domain),
    ]
}

/// Runs one pair under one profile: both directions on the same two fresh instances.
pub async fn run_pair(
    first: &Target,
    second: &Target,
    profile: PairProfile,
    environment: &RunEnvironment,
) -> Result<Vec<PairRecord>, HarnessError> {
    let _turn = environment.federation.turn().await?;
    let (Some(first_spec), Some(second_spec)) = (
        first.server().and_then(|server| server.federating()),
        second.server().and_then(|server| server.federating()),
    ) else {
        return Err(HarnessError::environment(
            "server pairs are made of managed targets only",
        ));
    };
    let mut second_spec = second_spec.clone();
    if first.name == second.name {
        second_spec.domain = peer_domain(&second_spec.domain);
    }
    let catalogue = &environment.catalogue;
    let side = |target, spec: &ManagedSpec| -> Result<Side<'_>, HarnessError> {
        Ok(Side {
            target,
            chain: catalogue.chain(profile.certificate(), KeyType::default(), &spec.domain)?,
            spec: spec.clone(),
        })
    };
    let sides = [side(first, first_spec)?, side(second, &second_spec)?];
    let mut instances = Vec::new();
    for (index, me) in sides.iter().enumerate() {
        let other = &sides[1 - index];
        let federation = Federation {
            address: loopback_address(&me.spec.domain).await?,
            trusted_roots_pem: catalogue.trust_anchor_pem(&other.chain, profile.trust())?,
            require_certificate: profile.require_certificate(),
        };
        let key = InstanceKey {
            target: me.target.name.clone(),
            certificate: profile.certificate(),
            key: KeyType::default(),
            client_certificates: false,
        };
        let instance = Instance::start(
            &me.spec,
            &key,
            &me.chain,
            Some((ACCOUNT_USERNAME, &environment.password)),
            Some(&federation),
            None,
        )
        .await
        .map_err(|e| {
            HarnessError::environment(format!(
                "managed {} ({}) did not start: {e}",
                me.target, me.spec.domain
            ))
        })?;
        instances.push(instance);
    }
    let mut results = Vec::new();
    for (from, to) in [(0, 1), (1, 0)] {
        results.push(
            send_one(
                (&sides[from], &instances[from]),
                (&sides[to], &instances[to]),
                profile,
                environment,
            )
            .await?,
        );
    }
    Ok(results)
}

async fn send_one(
    (sender, sender_instance): (&Side<'_>, &Instance),
    (receiver, receiver_instance): (&Side<'_>, &Instance),
    profile: PairProfile,
    environment: &RunEnvironment,
) -> Result<PairRecord, HarnessError> {
    let transcript = Transcript::new("pairs");
    let body = format!("xmpp-interop pair message {:016x}", rand::random::<u64>());
    let to_jid = format!("{ACCOUNT_USERNAME}@{}", receiver.spec.domain);
    let timeout = environment.timeout;
    let c2s = |instance: &Instance| {
        instance
            .address(Transport::Starttls)
            .map_err(HarnessError::Environment)
    };
    let (config, tls) = account_login(
        &receiver.chain,
        Errand::AwaitMessage { body: body.clone() },
        environment,
    );
    let waiting = start_errand(
        c2s(receiver_instance)?,
        config,
        tls,
        timeout,
        timeout,
        transcript.as_participant(&format!("receiver@{}", receiver.spec.domain)),
    )
    .await?
    .map_err(|end| {
        HarnessError::environment(format!(
            "the receiving user could not log in to {}: {end}",
            receiver.spec.domain
        ))
    })?;
    let started = Instant::now();
    let (config, tls) = account_login(
        &sender.chain,
        Errand::SendMessage {
            to: to_jid.clone(),
            body,
        },
        environment,
    );
    let sending = start_errand(
        c2s(sender_instance)?,
        config,
        tls,
        timeout,
        timeout,
        transcript.as_participant(&format!("sender@{}", sender.spec.domain)),
    )
    .await?
    .map_err(|end| {
        HarnessError::environment(format!(
            "the sending user could not log in to {}: {end}",
            sender.spec.domain
        ))
    })?;
    let first_end = tokio::select! {
        arrived = waiting.outcome(timeout) => FirstEnd::Receiver(arrived?),
        bounced = sending.outcome(timeout) => FirstEnd::Sender(bounced?),
    };
    let duration = started.elapsed();
    let method = if matches!(
        first_end,
        FirstEnd::Receiver(SessionEnd::MessageReceived { .. })
    ) {
        logged_authentication(receiver_instance, &sender.spec.domain).await
    } else {
        None
    };
    // Whether the message arrived, whether the sender was told it did not, and in words.
    let (delivered, bounced, observed) = match first_end {
        FirstEnd::Receiver(SessionEnd::MessageReceived { from }) => {
            let how = method.map_or_else(
                || "the receiving server's log names no authenticated link".to_owned(),
                |m| format!("link authenticated via {m}"),
            );
            (
                true,
                false,
                format!(
                    "delivered from {from} in {} ms, {how}",
                    duration.as_millis()
                ),
            )
        }
        FirstEnd::Sender(SessionEnd::Rejected {
            step: Step::Message,
            condition,
            ..
        }) if condition != crate::scenario::TIMEOUT => (
            false,
            true,
            format!("not delivered: the sender got <{condition}/> back"),
        ),
        FirstEnd::Receiver(end) | FirstEnd::Sender(end) => {
            (false, false, format!("not delivered: {end}"))
        }
    };
    let pass = match profile.expected() {
        Some(wanted) => delivered && method == Some(wanted),
        None => bounced,
    };
    if !pass {
        for (who, instance) in [(sender, sender_instance), (receiver, receiver_instance)] {
            transcript.record(
                crate::proto::Direction::Note,
                format!(
                    "{} ({}) log ends:\n{}",
                    who.target,
                    who.spec.domain,
                    instance.log_tail()
                ),
            );
        }
    }
    Ok(PairRecord {
        from: sender.target.name.clone(),
        from_domain: sender.spec.domain.clone(),
        to: receiver.target.name.clone(),
        to_domain: receiver.spec.domain.clone(),
        profile: profile.name().to_owned(),
        expected: profile.describe_expected(),
        delivered,
        method,
        observed,
        pass,
        outcome: if pass { Outcome::Pass } else { Outcome::Fail },
        duration_ms: duration.as_millis(),
        transcript: transcript.lines(),
    })
}

/// How long a server's log may lag behind a delivered message.
const LOG_LAG: std::time::Duration = std::time::Duration::from_secs(2);

/// How `instance` authenticated the stream from `peer`, as its log says once it has caught up
/// with the delivery (servers write their logs asynchronously).
async fn logged_authentication(instance: &Instance, peer: &str) -> Option<S2sAuth> {
    let deadline = Instant::now() + LOG_LAG;
    loop {
        let method = instance.incoming_s2s_authentication(peer);
        if method.is_some() || Instant::now() >= deadline {
            return method;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Which session ended first.
enum FirstEnd {
    Receiver(SessionEnd),
    Sender(SessionEnd),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_paired_with_itself_gets_the_peer_domain_of_its_own() {
        assert_eq!(peer_domain("prosody.test"), "prosody-peer.test");
        assert_eq!(peer_domain("chat.example.test"), "chat-peer.example.test");
        assert_eq!(peer_domain("localhost"), "localhost-peer");
    }

    #[test]
    fn profile_names_round_trip_and_say_what_must_happen() {
        for profile in PairProfile::ALL {
            assert_eq!(PairProfile::from_name(profile.name()), Some(profile));
        }
        assert_eq!(PairProfile::from_name("valid"), None);
        assert_eq!(PairProfile::ValidChain.expected(), Some(S2sAuth::External));
        assert_eq!(PairProfile::SelfSigned.expected(), Some(S2sAuth::Dialback));
        assert_eq!(PairProfile::SelfSignedRequired.expected(), None);
    }
}
