//! Integration tests for scenario loading: fixtures in `tests/fixtures/` in, exact scenarios or
//! exact `FILE:LINE:COLUMN: ...` messages out.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use xmpp_interop::scenario::{
    CertificateProfile, Condition, Credentials, DialbackKey, Expectation, KeyType, LoadError,
    Mechanism, Misbehaviour, Party, Rejection, Role, S2sAuth, S2sDirection, S2sPolicy, Step,
    Transport, Trust, load_path,
};

const GOOD: &str = "tests/fixtures/scenarios-good";
const BAD: &str = "tests/fixtures/scenarios-bad";

/// The message of loading `name` from the bad fixtures, which must fail.
fn error_for(name: &str) -> String {
    let path = Path::new(BAD).join(name);
    match load_path(&path) {
        Ok(s) => panic!("{} loaded: {s:?}", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn minimal_file_loads_with_defaults_filled_in() {
    let scenarios = load_path(&Path::new(GOOD).join("minimal.yaml")).unwrap();
    assert_eq!(scenarios.len(), 1);
    let s = &scenarios[0];
    assert_eq!(s.id, "minimal");
    assert!(s.tags.is_empty());
    assert_eq!(s.case_count(), 1);
    let case = &s.cases[0];
    assert_eq!(case.id, "minimal");
    assert_eq!(case.scenario, "minimal");
    assert_eq!(case.spec, vec!["RFC 6120 §6.4".to_owned()]);
    assert_eq!(case.role, Role::Client);
    assert_eq!(case.transport, Transport::Starttls);
    assert_eq!(case.certificate, CertificateProfile::StartcomChain);
    assert_eq!(case.key, KeyType::EcdsaP256);
    assert_eq!(case.trust, Trust::ChainRoot);
    assert_eq!(case.sasl.mechanism, Mechanism::ScramSha256);
    assert_eq!(case.sasl.credentials, Credentials::Valid);
    assert!(case.misbehave.is_empty());
    assert_eq!(case.expect, Expectation::Authenticated);
    assert_eq!(case.source, Path::new(GOOD).join("minimal.yaml"));
}

#[test]
fn rejection_expectation_and_misbehaviour_load_from_a_yml_file() {
    let scenarios = load_path(&Path::new(GOOD).join("server-rejects.yml")).unwrap();
    let case = &scenarios[0].cases[0];
    assert_eq!(case.role, Role::Server);
    assert_eq!(case.key, KeyType::Rsa2048);
    assert_eq!(
        case.misbehave,
        vec![Misbehaviour::ScramWrongServerSignature]
    );
    assert_eq!(
        case.expect,
        Expectation::Rejected(Rejection {
            step: Some(Step::Sasl),
            condition: vec![Condition::ServerSignatureMismatch],
            by: Some(Party::Target),
        })
    );
}

#[test]
fn full_matrix_expands_to_144_cases_in_fixed_key_order_last_key_fastest() {
    let scenarios = load_path(&Path::new(GOOD).join("c2s/auth-matrix.yaml")).unwrap();
    let s = &scenarios[0];
    assert_eq!(s.case_count(), 2 * 3 * 2 * 2 * 3 * 2);
    let ids: Vec<&str> = s.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids[..3],
        [
            "c2s-auth/starttls/self-signed/ecdsa-p256/chain-root/plain/valid",
            "c2s-auth/starttls/self-signed/ecdsa-p256/chain-root/plain/wrong-password",
            "c2s-auth/starttls/self-signed/ecdsa-p256/chain-root/scram-sha-1/valid",
        ]
    );
    assert_eq!(
        ids[143],
        "c2s-auth/direct-tls/startcom-chain/rsa-2048/unrelated-root/scram-sha-256/wrong-password"
    );
    let last = &s.cases[143];
    assert_eq!(last.transport, Transport::DirectTls);
    assert_eq!(last.certificate, CertificateProfile::StartcomChain);
    assert_eq!(last.key, KeyType::Rsa2048);
    assert_eq!(last.trust, Trust::UnrelatedRoot);
    assert_eq!(last.sasl.mechanism, Mechanism::ScramSha256);
    assert_eq!(last.sasl.credentials, Credentials::WrongPassword);
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 144);
}

#[test]
fn directory_loads_recursively_in_sorted_path_order_skipping_dotfiles_and_other_extensions() {
    let scenarios = load_path(Path::new(GOOD)).unwrap();
    let sources: Vec<PathBuf> = scenarios.iter().map(|s| s.source.clone()).collect();
    assert_eq!(
        sources,
        [
            Path::new(GOOD).join("c2s/auth-matrix.yaml"),
            Path::new(GOOD).join("minimal.yaml"),
            Path::new(GOOD).join("server-rejects.yml"),
        ]
    );
}

#[test]
fn directory_without_scenario_files_is_an_error_saying_so() {
    assert_eq!(
        error_for("no-scenarios"),
        "tests/fixtures/scenarios-bad/no-scenarios: no scenario files found; expected at least one *.yaml or *.yml file in this directory or below"
    );
}

#[test]
fn unknown_top_level_field_names_field_location_and_expected_fields() {
    assert_eq!(
        error_for("unknown-field.yaml"),
        "tests/fixtures/scenarios-bad/unknown-field.yaml:5:1: unknown field `transprot`; expected one of id, title, spec, tags, role, transport, certificate, key, trust, identity, tls, sasl, misbehave, s2s, expect, requirement, recommended, requirement-for, control, control-for, self-test, mandatory-to-implement, matrix"
    );
}

#[test]
fn bad_value_in_matrix_list_points_at_the_value() {
    assert_eq!(
        error_for("bad-matrix-value.yaml"),
        "tests/fixtures/scenarios-bad/bad-matrix-value.yaml:10:25: unknown value `tls`; expected one of starttls, direct-tls, plaintext"
    );
}

#[test]
fn unknown_field_under_sasl_lists_sasl_fields() {
    assert_eq!(
        error_for("unknown-sasl-field.yaml"),
        "tests/fixtures/scenarios-bad/unknown-sasl-field.yaml:9:3: unknown field `password`; expected one of mechanism, credentials, channel-binding, client-certificate, also-offered, profile, downgrade-protection"
    );
}

/// XEP-0178 §3: EXTERNAL authenticates with a client certificate, so a scenario must name one.
#[test]
fn external_without_a_client_certificate_points_at_the_mechanism_xep0178_3() {
    assert_eq!(
        error_for("external-without-client-certificate.yaml"),
        "tests/fixtures/scenarios-bad/external-without-client-certificate.yaml:8:14: EXTERNAL needs a client certificate; expected `sasl.client-certificate: client-alice` (or another client-* profile)"
    );
}

#[test]
fn server_profile_as_client_certificate_points_at_the_value() {
    assert_eq!(
        error_for("server-profile-as-client-certificate.yaml"),
        "tests/fixtures/scenarios-bad/server-profile-as-client-certificate.yaml:9:23: `self-signed` is a server certificate profile; expected one of client-alice, client-wrong-jid, client-expired, client-untrusted"
    );
}

#[test]
fn missing_required_field_is_named_at_document_start() {
    assert_eq!(
        error_for("missing-certificate.yaml"),
        "tests/fixtures/scenarios-bad/missing-certificate.yaml:1:1: missing required field `certificate`; expected one of self-signed, cacert-intermediate, startcom-chain, wildcard, srv-id, srv-id-server-only, srv-id-client-only, xmppaddr, cn-only, expired, not-yet-valid, wrong-domain, missing-intermediate, untrusted-root, intermediate-not-ca, pathlen-exceeded, wrong-eku, weak-rsa-1024, client-alice, client-wrong-jid, client-expired, client-untrusted here or as a matrix list, or `any`"
    );
}

#[test]
fn misbehaviour_for_the_other_role_points_at_the_misbehaviour() {
    assert_eq!(
        error_for("role-mismatch.yaml"),
        "tests/fixtures/scenarios-bad/role-mismatch.yaml:9:13: misbehaviour `scram-wrong-server-signature` needs the harness in role server, but this scenario has role client; expected role: server or no such misbehaviour"
    );
}

#[test]
fn empty_matrix_list_points_at_the_list() {
    assert_eq!(
        error_for("empty-matrix-list.yaml"),
        "tests/fixtures/scenarios-bad/empty-matrix-list.yaml:10:14: matrix `transport` list is empty; expected at least one of starttls, direct-tls, plaintext"
    );
}

#[test]
fn duplicated_mapping_key_points_at_the_second_occurrence() {
    assert_eq!(
        error_for("duplicate-key.yaml"),
        "tests/fixtures/scenarios-bad/duplicate-key.yaml:7:1: duplicate key `transport`; expected each key once per mapping"
    );
}

#[test]
fn duplicate_ids_across_files_name_both_files_and_id_lines() {
    assert_eq!(
        error_for("duplicate-ids"),
        "tests/fixtures/scenarios-bad/duplicate-ids/b/same.yaml:2:5: duplicate scenario id `same-id`, already used at tests/fixtures/scenarios-bad/duplicate-ids/a/same.yaml:2:5; expected ids unique across all loaded files"
    );
}

#[test]
fn non_utf8_file_is_named_with_the_position_of_the_bad_byte() {
    assert_eq!(
        error_for("not-utf8.yaml"),
        "tests/fixtures/scenarios-bad/not-utf8.yaml:1:8: not valid UTF-8; expected a UTF-8 encoded YAML file"
    );
}

#[test]
fn billion_laughs_alias_bomb_fails_fast() {
    let start = Instant::now();
    let message = error_for("billion-laughs.yaml");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(
        message,
        "tests/fixtures/scenarios-bad/billion-laughs.yaml:13:38: aliases expand to more than 10000 YAML events (alias bomb?); expected a scenario file with few aliases"
    );
}

#[test]
fn one_anchor_used_too_often_exceeds_the_alias_limit_with_a_clear_error() {
    let start = Instant::now();
    let message = error_for("wide-alias-bomb.yaml");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(
        message,
        "tests/fixtures/scenarios-bad/wide-alias-bomb.yaml:3:264: an anchor is used more than 64 times (alias bomb?); expected a scenario file with few aliases"
    );
}

#[test]
fn bad_directory_reports_every_bad_file_one_per_line() {
    let err = load_path(Path::new(BAD)).unwrap_err();
    let LoadError::Many(errors) = &err else {
        panic!("expected several errors, got {err}");
    };
    let text = err.to_string();
    assert_eq!(text.lines().count(), errors.len());
    for line in text.lines() {
        assert!(line.starts_with("tests/fixtures/scenarios-bad/"), "{line}");
    }
    assert!(text.contains("unknown-field.yaml:5:1: unknown field `transprot`"));
    assert!(text.contains("duplicate-ids/b/same.yaml:2:5: duplicate scenario id `same-id`"));
}

/// RFC 6125 §6: the identity types a verifier accepts are a set; a repeat is a mistake.
#[test]
fn repeated_identity_type_points_at_the_repeat_rfc6125_6() {
    assert_eq!(
        error_for("duplicate-identity.yaml"),
        "tests/fixtures/scenarios-bad/duplicate-identity.yaml:7:24: duplicate identity type `dns-id` (first at line 7, column 12); expected each type once"
    );
}

#[test]
fn unknown_identity_type_points_at_the_value_and_lists_the_known_ones() {
    let message = error_for("unknown-identity.yaml");
    assert!(
        message.starts_with("tests/fixtures/scenarios-bad/unknown-identity.yaml:7:"),
        "{message}"
    );
    assert!(
        message.contains("uri-id") && message.contains("dns-id, srv-id, xmppaddr, cn"),
        "{message}"
    );
}

#[test]
fn also_offered_is_refused_when_the_harness_is_the_client_and_points_at_it() {
    let error = error_for("also-offered-client-role.yaml");
    assert!(
        error.contains("also-offered-client-role.yaml:9:17:"),
        "{error}"
    );
    assert!(error.contains("needs `role: server`"), "{error}");
}

#[test]
fn an_originating_s2s_scenario_loads_with_its_s2s_section_xep0220() {
    let scenarios = load_path(Path::new("scenarios/s2s/dialback-forged-key.yaml")).unwrap();
    let case = &scenarios[0].cases[0];
    // The target of an s2s case is a server, so the planner pairs it with server targets.
    assert_eq!(case.role, Role::Client);
    let s2s = case.s2s.as_ref().expect("an s2s case");
    assert_eq!(s2s.direction, S2sDirection::Originating);
    assert_eq!(s2s.dialback_key, DialbackKey::Forged);
    assert_eq!(s2s.policy, S2sPolicy::AllowDialback);
    assert_eq!(s2s.originating_certificate, None);
    assert_eq!(
        case.expect,
        Expectation::Rejected(Rejection {
            step: Some(Step::Dialback),
            condition: vec![Condition::Invalid],
            by: Some(Party::Target),
        })
    );
    let external = load_path(Path::new("scenarios/s2s/receiving-external.yaml")).unwrap();
    let case = &external[0].cases[0];
    assert_eq!(
        case.expect,
        Expectation::S2sAuthenticated(S2sAuth::External)
    );
    assert_eq!(
        case.s2s.as_ref().map(|s| s.direction),
        Some(S2sDirection::Receiving)
    );
}

#[test]
fn a_c2s_scenario_has_no_s2s_section() {
    let scenarios = load_path(&Path::new(GOOD).join("minimal.yaml")).unwrap();
    assert_eq!(scenarios[0].cases[0].s2s, None);
}

#[test]
fn s2s_dialback_key_with_role_receiving_points_at_the_value() {
    assert_eq!(
        error_for("s2s-dialback-key-receiving.yaml"),
        "tests/fixtures/scenarios-bad/s2s-dialback-key-receiving.yaml:8:17: `s2s.dialback-key` needs `role: originating`: only the harness as originating server sends the key and runs the authoritative server"
    );
}

#[test]
fn s2s_section_with_a_c2s_role_points_at_the_section() {
    assert_eq!(
        error_for("s2s-section-client-role.yaml"),
        "tests/fixtures/scenarios-bad/s2s-section-client-role.yaml:10:3: `s2s:` needs `role: originating` or `role: receiving`"
    );
}

#[test]
fn unknown_s2s_field_points_at_the_key() {
    assert_eq!(
        error_for("s2s-unknown-field.yaml"),
        "tests/fixtures/scenarios-bad/s2s-unknown-field.yaml:8:3: unknown field `originating-cert`; expected one of originating-certificate, originating-trust, policy, dialback-key, authority"
    );
}

#[test]
fn client_profile_as_originating_certificate_points_at_the_value() {
    assert_eq!(
        error_for("s2s-client-profile.yaml"),
        "tests/fixtures/scenarios-bad/s2s-client-profile.yaml:8:28: `client-alice` is a client certificate profile; a server presents a server profile such as startcom-chain, wrong-domain or srv-id-server-only"
    );
}

/// Writes `text` as a scenario file of its own directory and loads that directory.
fn load_text(name: &str, text: &str) -> Result<Vec<xmpp_interop::scenario::Scenario>, String> {
    let dir =
        std::env::temp_dir().join(format!("xmpp-interop-levels-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("scenario.yaml"), text).unwrap();
    let loaded = load_path(&dir.join("scenario.yaml")).map_err(|e| e.to_string());
    std::fs::remove_dir_all(&dir).unwrap();
    loaded
}

const NEGATIVE_WITHOUT_CONTROL: &str = "id: c2s-neg
title: t
spec: [RFC 6120 §6.5.10]
requirement: { level: MUST, clause: RFC 6120 §6.5.10, text: quoted }
role: client
transport: starttls
certificate: startcom-chain
sasl: { mechanism: PLAIN, credentials: wrong-password }
expect:
  rejected: { step: sasl, condition: not-authorized, by: target }
";

#[test]
fn a_scenario_without_a_requirement_is_a_load_error_naming_the_field() {
    let text = NEGATIVE_WITHOUT_CONTROL.replace(
        "requirement: { level: MUST, clause: RFC 6120 §6.5.10, text: quoted }\n",
        "",
    );
    let error = load_text("no-requirement", &text).unwrap_err();
    assert!(
        error.contains("scenario.yaml:1:1: missing required field `requirement`"),
        "{error}"
    );
}

#[test]
fn a_negative_scenario_without_a_positive_control_is_a_load_error() {
    let error = load_text("no-control", NEGATIVE_WITHOUT_CONTROL).unwrap_err();
    assert!(
        error.contains("scenario.yaml:1:5: a negative scenario needs `control: CASE-ID`"),
        "{error}"
    );
}

#[test]
fn a_misspelt_condition_is_a_load_error_with_line_and_column() {
    let text = format!("{NEGATIVE_WITHOUT_CONTROL}self-test: true\n")
        .replace("not-authorized", "not-authorised");
    let error = load_text("misspelt-condition", &text).unwrap_err();
    assert!(error.contains("scenario.yaml:10:"), "{error}");
    assert!(error.contains("not-authorised"), "{error}");
}

#[test]
fn a_misspelt_level_is_a_load_error() {
    let text = format!("{NEGATIVE_WITHOUT_CONTROL}self-test: true\n")
        .replace("level: MUST", "level: MUSTN'T");
    let error = load_text("misspelt-level", &text).unwrap_err();
    assert!(error.contains("scenario.yaml:4:"), "{error}");
}

#[test]
fn a_control_that_names_no_case_is_a_load_error() {
    let text = format!("{NEGATIVE_WITHOUT_CONTROL}control: c2s-nowhere/{{sasl.mechanism}}\n");
    let error = load_text("stale-control", &text).unwrap_err();
    assert!(error.contains("control `c2s-nowhere/plain`"), "{error}");
}

#[test]
fn a_control_is_filled_in_per_case_and_its_scenario_loaded_from_beside_the_file() {
    let cases = load_path(Path::new("scenarios/client/strip-starttls.yaml")).unwrap();
    let strip = cases
        .iter()
        .find(|s| s.id == "client-strip-starttls")
        .unwrap();
    assert!(!strip.control_only);
    let controls: Vec<&str> = strip
        .cases
        .iter()
        .filter_map(|c| c.control.as_deref())
        .collect();
    assert_eq!(
        controls,
        [
            "client-authenticate/starttls/startcom-chain/plain",
            "client-authenticate/starttls/startcom-chain/scram-sha-256"
        ]
    );
    let authenticate = cases
        .iter()
        .find(|s| s.id == "client-authenticate")
        .unwrap();
    assert!(authenticate.control_only, "loaded only for its controls");
}

#[test]
fn requirement_for_gives_one_matrix_value_its_own_level() {
    let scenarios =
        load_path(Path::new("scenarios/client/certificate-name-mismatch.yaml")).unwrap();
    let level = |suffix: &str| {
        scenarios[0]
            .cases
            .iter()
            .find(|c| c.id.ends_with(suffix))
            .map(|c| c.requirement.level)
            .unwrap()
    };
    assert_eq!(level("/wrong-domain"), xmpp_interop::scenario::Level::Must);
    assert_eq!(level("/cn-only"), xmpp_interop::scenario::Level::May);
}

#[test]
fn every_shipped_scenario_names_its_clause_and_every_negative_one_its_control_or_self_test() {
    let scenarios = load_path(Path::new("scenarios")).unwrap();
    for case in scenarios.iter().flat_map(|s| &s.cases) {
        assert!(!case.requirement.text.trim().is_empty(), "{}", case.id);
        if matches!(case.expect, Expectation::Rejected(_)) {
            assert!(
                case.control.is_some() || case.self_test,
                "{} has no control",
                case.id
            );
        }
    }
}
