//! Pre-flight: before the cases, one login to each external target, so that a mistake in the
//! targets file (a closed port, a root that does not verify the served chain, a domain the
//! certificate does not name, an account that cannot log in) is one configuration error that
//! says what to fix, instead of dozens of case verdicts that blame the target.

use std::fmt;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{Event, Outcome, Plan, PlannedCase, RunEnvironment, RunOptions};
use crate::scenario::{
    Credentials, Expectation, Mechanism, Observation, Party, Role, Step, Transport, Trust,
};
use crate::targets::external::{DeclaredChain, ExternalSpec, TrustedRoot};

/// What [`Misconfiguration::case`] says when the mistake showed in the TLS handshake that looks
/// at the served chain, before any login.
pub const CHAIN_LOOK: &str = "a TLS handshake that looks at the served chain";

/// A targets-file mistake the pre-flight found for one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Misconfiguration {
    /// The target's name.
    pub target: String,
    /// What the pre-flight ran: the id of the positive case it logged in with, or
    /// [`CHAIN_LOOK`].
    pub case: String,
    /// What went wrong and what to check.
    pub problem: String,
}

impl fmt::Display for Misconfiguration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.case == CHAIN_LOOK {
            ": "
        } else {
            " login with "
        };
        write!(
            f,
            "target `{}`: {} (pre-flight{what}{})",
            self.target, self.problem, self.case
        )
    }
}

/// Logs in once to every external server target of `plan` (all at the same time) and returns
/// what the targets file got wrong. A target whose login fails for another reason (a
/// mechanism it lacks, a fault of its own) is no configuration error: its cases judge it.
pub async fn check(
    plan: &Plan,
    options: RunOptions,
    environment: Arc<RunEnvironment>,
) -> Vec<Misconfiguration> {
    let mut found = Vec::new();
    let mut logins: Vec<PlannedCase> = Vec::new();
    for target in &plan.targets {
        let Some(external) = target
            .server()
            .and_then(|server| server.as_any().downcast_ref::<ExternalSpec>())
        else {
            continue;
        };
        if let Some(problem) = chain_problem(external).await {
            found.push(Misconfiguration {
                target: target.name.clone(),
                case: CHAIN_LOOK.to_owned(),
                problem,
            });
            continue;
        }
        logins.extend(login_case(plan, &target.name, external));
    }
    if logins.is_empty() {
        return found;
    }
    let preflight = Plan {
        targets: plan.targets.clone(),
        cases: logins,
    };
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let run = tokio::spawn(super::run(preflight, options, environment, sender));
    while let Some(event) = receiver.recv().await {
        if let Event::CaseFinished(result) = event
            && let Some(problem) = misconfiguration(
                result.outcome,
                result.observation.as_ref(),
                &result.observed,
            )
        {
            found.push(Misconfiguration {
                target: result.target.clone(),
                case: result.case.id.clone(),
                problem,
            });
        }
    }
    // The run task only sends events; its end is the channel's.
    let _ = run.await;
    found.sort_by(|a, b| a.target.cmp(&b.target));
    found
}

/// What is wrong with the targets file's `certificate` or `root: system` given the chain the
/// server presents, looked at with one TLS handshake; nothing to look at for a target that
/// declares neither (its login shows an unreachable server).
async fn chain_problem(external: &ExternalSpec) -> Option<String> {
    let declared = external.certificate;
    if declared == DeclaredChain::Undeclared && !external.needs_served_chain() {
        return None;
    }
    let served = match external.served().await {
        Ok(served) => served,
        Err(problem) => {
            return Some(format!(
                "the harness could not look at the chain the server presents: {problem}; \
                 check `host` and the ports"
            ));
        }
    };
    if let DeclaredChain::Profile(profile, key) = declared
        && let Some(mismatch) = served.mismatch(profile, key)
    {
        return Some(mismatch);
    }
    if matches!(external.root, TrustedRoot::System(_)) && served.anchor.is_none() {
        return Some(
            "`root: system` but no root of the system store issued the chain the server \
             presents (is it from a private CA, or does the server leave out an \
             intermediate?); check the server's chain, or name the root file in `root`"
                .to_owned(),
        );
    }
    served.verification_problem(&external.domain).map(|reason| {
        format!(
            "the chain the server presents ({}) does not verify: {reason}; check that `root` \
             is the root that issued the server's chain and `domain` is a name it carries",
            served.describe()
        )
    })
}

/// The plainest positive login of `plan` against this target: c2s over STARTTLS on the default
/// TLS stack, the chain's own root trusted, the real password, no misbehaviour, PLAIN before
/// SCRAM-SHA-1 before the rest, and one the target can run (its declared profile, a port for
/// the transport).
fn login_case(plan: &Plan, target: &str, external: &ExternalSpec) -> Option<PlannedCase> {
    let preference = |mechanism: Mechanism| match mechanism {
        Mechanism::Plain => 0,
        Mechanism::ScramSha1 => 1,
        _ => 2,
    };
    plan.cases
        .iter()
        .filter(|planned| planned.target.name == target)
        .filter(|planned| {
            let case = &planned.case;
            case.role == Role::Client
                && case.s2s.is_none()
                && case.expect == Expectation::Authenticated
                && case.transport == Transport::Starttls
                && case.trust == Trust::ChainRoot
                && case.sasl.credentials == Credentials::default()
                && case.sasl.client_certificate.is_none()
                && case.misbehave.is_empty()
                && case.tls.is_default()
                && !case.self_test
                && external.inapplicable(case).is_none()
        })
        .min_by_key(|planned| preference(planned.case.sasl.mechanism))
        .cloned()
}

/// The configuration mistake a pre-flight login's result shows, if it shows one. A timeout or a
/// broken stream is not one: a hostile or broken server is judged by its cases.
fn misconfiguration(
    outcome: Outcome,
    observation: Option<&Observation>,
    observed: &str,
) -> Option<String> {
    if outcome == Outcome::Error {
        return Some(if observed.contains("cannot connect") {
            format!(
                "the harness could not reach the server: {observed}; check `host` and the ports"
            )
        } else {
            format!("the login could not run: {observed}")
        });
    }
    let Some(Observation::Rejected {
        step,
        condition,
        by,
        detail,
    }) = observation
    else {
        return None;
    };
    match (step, condition.as_str(), by) {
        (_, "connection-refused" | "connection-error", _) => Some(format!(
            "the harness could not reach the server: {detail}; check `host` and the ports"
        )),
        (Step::Tls | Step::Starttls, "bad-certificate", Party::Harness) => Some(format!(
            "the chain the server presents does not verify: {detail}; check that `root` \
             is the root that issued the server's chain and `domain` is a name it carries"
        )),
        (
            Step::Sasl,
            "not-authorized" | "account-disabled" | "credentials-expired",
            Party::Target,
        ) => Some(format!(
            "the account cannot log in: {detail}; check the account's JID and password"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(step: Step, condition: &str, by: Party) -> Observation {
        Observation::Rejected {
            step,
            condition: condition.to_owned(),
            by,
            detail: "seen".to_owned(),
        }
    }

    #[test]
    fn an_unverifiable_chain_names_the_root_and_domain_to_check() {
        let seen = rejected(Step::Tls, "bad-certificate", Party::Harness);
        let problem = misconfiguration(Outcome::Fail, Some(&seen), "").unwrap_or_default();
        assert!(problem.contains("check that `root`"), "{problem}");
    }

    #[test]
    fn a_refused_login_names_the_account_settings() {
        let seen = rejected(Step::Sasl, "not-authorized", Party::Target);
        let problem = misconfiguration(Outcome::Fail, Some(&seen), "").unwrap_or_default();
        assert!(
            problem.contains("the account's JID and password"),
            "{problem}"
        );
    }

    #[test]
    fn a_missing_mechanism_or_a_target_fault_is_left_to_the_cases() {
        for seen in [
            rejected(Step::Features, "mechanism-not-offered", Party::Harness),
            rejected(Step::Sasl, "malformed-request", Party::Target),
            rejected(Step::Tls, "bad-certificate", Party::Target),
        ] {
            assert_eq!(misconfiguration(Outcome::Fail, Some(&seen), ""), None);
        }
        let passed = Observation::Authenticated {
            jid: "alice@example.test/r".to_owned(),
        };
        assert_eq!(misconfiguration(Outcome::Pass, Some(&passed), ""), None);
    }

    #[test]
    fn a_case_the_harness_could_not_run_is_an_unreachable_server() {
        let problem = misconfiguration(
            Outcome::Error,
            None,
            "cannot connect to 127.0.0.1:1: Connection refused",
        )
        .unwrap_or_default();
        assert!(problem.contains("Connection refused"), "{problem}");
    }

    fn external_serving(
        chain: &crate::pki::IssuedChain,
        root: &rustls_pki_types::CertificateDer<'static>,
        certificate: DeclaredChain,
    ) -> ExternalSpec {
        let root = TrustedRoot::File(root.clone());
        let served = crate::targets::external::describe_served(&chain.presented, &root);
        ExternalSpec {
            host: "127.0.0.1".to_owned(),
            starttls_port: 5222,
            direct_tls_port: None,
            domain: "example.test".to_owned(),
            username: "alice".to_owned(),
            password: "secret".to_owned(),
            root,
            certificate,
            served: std::sync::Arc::new(tokio::sync::OnceCell::new_with(Some(served))),
        }
    }

    #[tokio::test]
    async fn a_declared_profile_is_checked_against_the_served_chain_and_an_own_chain_against_its_root()
     {
        use crate::scenario::{CertificateProfile, KeyType};
        let catalogue = crate::pki::Catalogue::new();
        let chain = catalogue
            .chain(
                CertificateProfile::StartcomChain,
                KeyType::EcdsaP256,
                "example.test",
            )
            .unwrap();
        let truthful =
            DeclaredChain::Profile(CertificateProfile::StartcomChain, KeyType::EcdsaP256);
        assert_eq!(
            chain_problem(&external_serving(&chain, &chain.root, truthful)).await,
            None
        );
        let wrong_key = DeclaredChain::Profile(CertificateProfile::StartcomChain, KeyType::Rsa2048);
        let problem = chain_problem(&external_serving(&chain, &chain.root, wrong_key))
            .await
            .unwrap_or_default();
        assert!(problem.contains("set `certificate.key`"), "{problem}");
        assert_eq!(
            chain_problem(&external_serving(&chain, &chain.root, DeclaredChain::Own)).await,
            None
        );
        let other = catalogue
            .chain(
                CertificateProfile::SelfSigned,
                KeyType::EcdsaP256,
                "example.test",
            )
            .unwrap();
        let problem = chain_problem(&external_serving(&chain, &other.root, DeclaredChain::Own))
            .await
            .unwrap_or_default();
        assert!(problem.contains("check that `root`"), "{problem}");
    }
}
