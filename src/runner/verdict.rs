//! From an observation to a verdict that carries the weight of the clause the case checks.
//!
//! The order of the questions is the point: a case that cannot apply is `skip`; a target that
//! did not end as expected because it lacks an optional feature the case needs is
//! `unsupported` (a mandatory-to-implement one fails only its own case); any case whose positive
//! control did not pass against the same target is `inconclusive`, whatever it observed; what
//! remains is judged by the level of the clause: MUST and MUST NOT give `fail`, SHOULD and
//! SHOULD NOT `warn`, MAY an `info` fact, and a case that met its MUST but not the SHOULD the
//! scenario recommends on top of it gives `warn`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Outcome;
use crate::scenario::{
    CaseSpec, ChannelBindingType, Condition, Feature, KeyType, Level, NOT_APPLICABLE, Observation,
    Party, Role, Step,
};

/// How a negative case's positive control ended against the same target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// The control's case id.
    pub id: String,
    /// Its verdict.
    pub outcome: Outcome,
    /// What it observed.
    pub observed: String,
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}: {})", self.id, self.outcome, self.observed)
    }
}

/// A verdict with what it rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// The verdict.
    pub outcome: Outcome,
    /// For `unsupported` (and a failed mandatory-to-implement case): the feature the target
    /// lacks.
    pub missing_feature: Option<Feature>,
    /// What was observed, with the reason for any verdict other than the plain comparison.
    pub observed: String,
}

/// Judges `observation` for `case`, given its positive control's result when it has one.
pub fn judge(case: &CaseSpec, observation: &Observation, control: Option<&Control>) -> Judgement {
    let plain = observation.to_string();
    if let Observation::Rejected { condition, .. } = observation
        && condition == NOT_APPLICABLE
    {
        return Judgement {
            outcome: Outcome::Skip,
            missing_feature: None,
            observed: plain,
        };
    }
    if client_chain_refused_before_the_clause(case, observation) {
        return Judgement {
            outcome: Outcome::Info,
            missing_feature: None,
            observed: format!(
                "{plain}; the harness could not verify the certificate chain the client                  presented, so the exchange never reached {}: nothing of that clause is judged                  (TLS lets a client leave out the intermediates it was given)",
                case.requirement.clause
            ),
        };
    }
    let met = observation.satisfies(&case.expect);
    if !met && let Some(feature) = absent_feature(case, observation) {
        return if case.mandatory_to_implement
            && matches!(feature, Feature::Mechanism(m) if m.is_plus())
        {
            // Not offering -PLUS over TLS 1.3 is allowed (RFC 9266 §3 binds only those that
            // support channel binding there); whether the target has SCRAM-SHA-1-PLUS with
            // tls-unique over TLS 1.2 is the question of the tls-unique scenarios.
            Judgement {
                outcome: Outcome::Skip,
                missing_feature: None,
                observed: format!(
                    "{plain}; over TLS 1.3 the target does not use {feature}, which RFC 9266 §3 \
                     allows; whether it implements it with tls-unique over TLS 1.2 is what \
                     c2s-scram-plus-tls-unique and client-scram-plus-tls-unique test (OpenSSL \
                     stack)"
                ),
            }
        } else if case.mandatory_to_implement {
            Judgement {
                outcome: Outcome::Fail,
                missing_feature: Some(feature),
                observed: format!(
                    "{plain}; {feature} is mandatory to implement ({}): {}",
                    case.requirement.clause, case.requirement.text
                ),
            }
        } else {
            Judgement {
                outcome: Outcome::Unsupported,
                missing_feature: Some(feature),
                observed: format!("{plain}; the target does not support {feature}"),
            }
        };
    }
    if let Some(control) = control
        && control.outcome != Outcome::Pass
    {
        // Neither a refusal nor going on says anything about the clause when the target cannot
        // do the same thing without the fault either: a client without channel binding that
        // logs in without it breaks no channel-binding rule. What the control itself broke
        // is its own cell's verdict.
        return Judgement {
            outcome: Outcome::Inconclusive,
            missing_feature: None,
            observed: format!(
                "{plain}; inconclusive: its positive control {control} did not pass, so this \
                 says nothing about {}",
                case.requirement.clause
            ),
        };
    }
    let level = case.requirement.level;
    let outcome = match (met, level) {
        (_, Level::May) => Outcome::Info,
        (true, _) => Outcome::Pass,
        (false, level) if level.is_absolute() => Outcome::Fail,
        (false, _) => Outcome::Warn,
    };
    if outcome == Outcome::Pass
        && let Some(recommended) = &case.recommended
        && !observation.satisfies(&recommended.expect)
    {
        return Judgement {
            outcome: Outcome::Warn,
            missing_feature: None,
            observed: format!(
                "{plain}; meets {} but not {} {}: {}",
                case.requirement.clause,
                recommended.requirement.level,
                recommended.requirement.clause,
                recommended.expect
            ),
        };
    }
    Judgement {
        outcome,
        missing_feature: None,
        observed: plain,
    }
}

/// Whether a positive client-certificate case (the harness plays the server) ended because
/// the harness refused the chain the client presented: a client that sends only its leaf, not
/// the intermediate it was given, never reaches the SASL exchange the case's clause is about,
/// and no MUST or SHOULD of TLS or XMPP makes it send the intermediate.
fn client_chain_refused_before_the_clause(case: &CaseSpec, observation: &Observation) -> bool {
    case.role == Role::Server
        && case.sasl.client_certificate.is_some()
        && !case.is_negative()
        && matches!(
            observation,
            Observation::Rejected {
                step: Step::Tls,
                by: Party::Harness,
                ..
            }
        )
}

/// The optional feature `observation` shows the target lacks, when the case needs it.
///
/// Only unambiguous evidence counts: a server that does not offer the mechanism (or SASL2, or
/// the XEP-0474 hash), a client that answers a SASL2 offer with RFC 6120 SASL, a positive case
/// whose client closes at the stream features where only the case's mechanism was offered, a
/// positive case whose peer cannot complete TLS with an Ed25519 certificate. A negative case's
/// client that closes at the features is left to the positive control: the close might be the
/// very refusal the case looks for.
fn absent_feature(case: &CaseSpec, observation: &Observation) -> Option<Feature> {
    let needs = case.needs();
    let needed = |feature: Feature| needs.contains(&feature).then_some(feature);
    let Observation::Rejected {
        step,
        condition,
        by,
        ..
    } = observation
    else {
        return None;
    };
    let condition = Condition::from_name(condition);
    match condition {
        Some(Condition::MechanismNotOffered) => {
            return needed(Feature::Mechanism(case.sasl.mechanism));
        }
        Some(Condition::Sasl2Unsupported) => return needed(Feature::Sasl2),
        // A client that turns to XEP-0078 where only the case's mechanism was offered has none
        // it can use (after a SASL failure, that failure stays the outcome).
        Some(Condition::LegacyAuthentication) if *step == Step::Features => {
            return needed(Feature::Mechanism(case.sasl.mechanism));
        }
        Some(Condition::DowngradeProtectionUnsupported) => {
            return needed(Feature::DowngradeProtection);
        }
        Some(Condition::ChannelBindingUnavailable) => {
            return match case.sasl.channel_binding {
                Some(kind) => needed(Feature::ChannelBinding(kind)),
                None => needed(Feature::Mechanism(case.sasl.mechanism)),
            };
        }
        _ => {}
    }
    if case.is_negative() || *by != Party::Target {
        return None;
    }
    if case.key == KeyType::Ed25519 && matches!(step, Step::Tls | Step::Starttls) {
        return needed(Feature::Ed25519Certificates);
    }
    // tls-server-end-point is asked for only by XEP-0440, an Experimental XEP: a server that
    // offers -PLUS but refuses that binding lacks an optional type.
    if case.sasl.channel_binding == Some(ChannelBindingType::TlsServerEndPoint)
        && *step == Step::Sasl
        && case.role == Role::Client
    {
        return needed(Feature::ChannelBinding(
            ChannelBindingType::TlsServerEndPoint,
        ));
    }
    // A client that closes where only the case's mechanism was offered has none it can use; one
    // that hangs there has a fault, which stays the case's verdict.
    if case.role == Role::Server && *step == Step::Features && condition == Some(Condition::Closed)
    {
        return needed(Feature::Mechanism(case.sasl.mechanism));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Mechanism, Observation};

    /// The case `id` of the shipped scenario file `path`.
    fn case(path: &str, id: &str) -> CaseSpec {
        crate::scenario::load_path(std::path::Path::new(path))
            .unwrap()
            .into_iter()
            .flat_map(|s| s.cases)
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no case {id} in {path}"))
    }

    fn rejected(step: Step, condition: &str, by: Party) -> Observation {
        Observation::Rejected {
            step,
            condition: condition.to_owned(),
            by,
            detail: "seen".to_owned(),
        }
    }

    fn authenticated() -> Observation {
        Observation::Authenticated {
            jid: "alice@example.test/r".to_owned(),
        }
    }

    fn control(outcome: Outcome) -> Control {
        Control {
            id: "the-control".to_owned(),
            outcome,
            observed: "observed".to_owned(),
        }
    }

    #[test]
    fn a_server_without_an_optional_mechanism_is_unsupported_not_failed() {
        let case = case(
            "scenarios/c2s/wrong-password.yaml",
            "c2s-wrong-password/scram-sha-512",
        );
        let seen = rejected(Step::Features, "mechanism-not-offered", Party::Target);
        let judged = judge(&case, &seen, Some(&control(Outcome::Unsupported)));
        assert_eq!(judged.outcome, Outcome::Unsupported);
        assert_eq!(
            judged.missing_feature,
            Some(Feature::Mechanism(Mechanism::ScramSha512))
        );
    }

    #[test]
    fn a_missing_mandatory_mechanism_fails_only_its_own_case_rfc6120_13_8_1() {
        let seen = rejected(Step::Features, "mechanism-not-offered", Party::Target);
        let mandatory = case(
            "scenarios/c2s/mandatory-to-implement.yaml",
            "c2s-mandatory-to-implement/scram-sha-1",
        );
        assert_eq!(judge(&mandatory, &seen, None).outcome, Outcome::Fail);
        let elsewhere = case(
            "scenarios/c2s/authenticate.yaml",
            "c2s-authenticate/starttls/scram-sha-1",
        );
        assert_eq!(judge(&elsewhere, &seen, None).outcome, Outcome::Unsupported);
    }

    #[test]
    fn a_client_that_turns_to_non_sasl_authentication_lacks_the_offered_mechanism_xep0078() {
        let legacy = rejected(Step::Features, "legacy-authentication", Party::Target);
        let optional = case(
            "scenarios/client/authenticate.yaml",
            "client-authenticate/starttls/startcom-chain/scram-sha-256",
        );
        let judged = judge(&optional, &legacy, None);
        assert_eq!(judged.outcome, Outcome::Unsupported);
        assert_eq!(
            judged.missing_feature,
            Some(Feature::Mechanism(Mechanism::ScramSha256))
        );
        let mandatory = case(
            "scenarios/client/mandatory-to-implement.yaml",
            "client-mandatory-to-implement/scram-sha-1",
        );
        assert_eq!(judge(&mandatory, &legacy, None).outcome, Outcome::Fail);
    }

    #[test]
    fn a_client_that_closes_for_lack_of_a_mechanism_is_inconclusive_on_stripped_starttls() {
        let case = case(
            "scenarios/client/strip-starttls.yaml",
            "client-strip-starttls/scram-sha-256",
        );
        let closed = rejected(Step::Features, "closed", Party::Target);
        let judged = judge(&case, &closed, Some(&control(Outcome::Unsupported)));
        assert_eq!(judged.outcome, Outcome::Inconclusive);
        assert!(
            judged.observed.contains("the-control"),
            "{}",
            judged.observed
        );
        assert_eq!(
            judge(&case, &closed, Some(&control(Outcome::Pass))).outcome,
            Outcome::Pass
        );
    }

    #[test]
    fn a_client_that_sends_its_password_on_a_stripped_stream_fails_rfc7590_3_1() {
        let case = case(
            "scenarios/client/strip-starttls.yaml",
            "client-strip-starttls/plain",
        );
        let sent = rejected(Step::Sasl, "credentials-sent-in-clear", Party::Harness);
        assert_eq!(
            judge(&case, &sent, Some(&control(Outcome::Pass))).outcome,
            Outcome::Fail
        );
    }

    #[test]
    fn a_client_without_channel_binding_that_logs_in_without_it_is_inconclusive_rfc5802_6() {
        let case = case(
            "scenarios/client/scram-plus-mismatched-binding.yaml",
            "client-scram-plus-mismatched-binding/scram-sha-1-plus",
        );
        let went_on = authenticated();
        assert_eq!(
            judge(&case, &went_on, Some(&control(Outcome::Unsupported))).outcome,
            Outcome::Inconclusive
        );
        assert_eq!(
            judge(&case, &went_on, Some(&control(Outcome::Pass))).outcome,
            Outcome::Fail
        );
    }

    #[test]
    fn a_tcp_close_after_auth_does_not_pass_the_replayed_client_final_case() {
        let case = case(
            "scenarios/c2s/scram-replayed-client-final.yaml",
            "c2s-scram-replayed-client-final/scram-sha-256",
        );
        let closed = rejected(Step::Sasl, "closed", Party::Target);
        assert_eq!(
            judge(&case, &closed, Some(&control(Outcome::Pass))).outcome,
            Outcome::Fail
        );
        let refused = rejected(Step::Sasl, "not-authorized", Party::Target);
        assert_eq!(
            judge(&case, &refused, Some(&control(Outcome::Pass))).outcome,
            Outcome::Pass
        );
    }

    #[test]
    fn a_client_chain_the_harness_refuses_is_a_fact_not_a_deviation_of_the_sasl_clause_xep0178() {
        let case = case(
            "scenarios/client/sasl-external.yaml",
            "client-sasl-external/starttls",
        );
        let refused_by_harness = rejected(Step::Tls, "bad-certificate", Party::Harness);
        let judged = judge(&case, &refused_by_harness, None);
        assert_eq!(judged.outcome, Outcome::Info);
        assert!(
            judged.observed.contains("RFC 6120 §6.3.4"),
            "{}",
            judged.observed
        );
        // The client refusing, or failing later, is still judged by the clause.
        let refused_by_client = rejected(Step::Tls, "bad-certificate", Party::Target);
        assert_eq!(
            judge(&case, &refused_by_client, None).outcome,
            Outcome::Warn
        );
        let sasl_refused = rejected(Step::Sasl, "not-authorized", Party::Harness);
        assert_eq!(judge(&case, &sasl_refused, None).outcome, Outcome::Warn);
    }

    #[test]
    fn cn_fallback_is_a_fact_either_way_rfc6125_6_4_4() {
        let case = case(
            "scenarios/client/certificate-cn-fallback.yaml",
            "client-certificate-cn-fallback",
        );
        assert_eq!(judge(&case, &authenticated(), None).outcome, Outcome::Info);
        let refused = rejected(Step::Tls, "bad-certificate", Party::Target);
        assert_eq!(judge(&case, &refused, None).outcome, Outcome::Info);
    }

    #[test]
    fn refusing_a_bad_chain_silently_is_a_should_deviation_rfc8446_6_2() {
        let case = case(
            "scenarios/client/untrusted-root.yaml",
            "client-untrusted-root/starttls/self-signed",
        );
        let silent = rejected(Step::Tls, "closed", Party::Target);
        let judged = judge(&case, &silent, Some(&control(Outcome::Pass)));
        assert_eq!(judged.outcome, Outcome::Warn);
        assert!(
            judged.observed.contains("RFC 8446 §6.2"),
            "{}",
            judged.observed
        );
        let alerted = rejected(Step::Tls, "bad-certificate", Party::Target);
        assert_eq!(
            judge(&case, &alerted, Some(&control(Outcome::Pass))).outcome,
            Outcome::Pass
        );
        assert_eq!(
            judge(&case, &authenticated(), Some(&control(Outcome::Pass))).outcome,
            Outcome::Fail
        );
    }

    #[test]
    fn a_case_the_harness_cannot_apply_is_skipped() {
        let case = case(
            "scenarios/c2s/scram-replayed-client-final.yaml",
            "c2s-scram-replayed-client-final/scram-sha-1",
        );
        let seen = rejected(Step::Sasl, NOT_APPLICABLE, Party::Target);
        assert_eq!(judge(&case, &seen, None).outcome, Outcome::Skip);
    }

    #[test]
    fn a_server_without_sasl2_is_unsupported_xep0388() {
        let case = case(
            "scenarios/c2s/sasl2-authenticate.yaml",
            "c2s-sasl2-authenticate/starttls/scram-sha-256",
        );
        let seen = rejected(Step::Features, "sasl2-unsupported", Party::Target);
        let judged = judge(&case, &seen, None);
        assert_eq!(judged.outcome, Outcome::Unsupported);
        assert_eq!(judged.missing_feature, Some(Feature::Sasl2));
    }
}
