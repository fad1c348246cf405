//! `certificate.json`: what was certified, against what, with which results, and the verdict;
//! optionally signed, and checked again by `certify verify`.
//!
//! The document is `{"body": {...}, "signature": {...} | null}`. The body holds `format`,
//! `harness`, `profile`, `target`, `date`, `scenarios_root`, `scenario_files` (path relative
//! to the scenarios root and SHA-256 of every scenario file a required case comes from),
//! `results`, `summary`, `verdict`, `verdict_reasons`, `recommended`, `warnings`,
//! `supported_features` and `unsupported_features`. The signature is Ed25519 over the
//! canonical bytes of the body ([`super::canonical`]); `signature.key_sha256` names the key.
//!
//! The verdict is strict: `pass` only when every required case passed. Required are the
//! profile's MUST and MUST NOT cases and the SHOULD cases its `require-should` names (see
//! [`super::profile`]). A `fail` of any required case, or a `warn` of a required SHOULD case,
//! makes it `fail`; an `error`, `unsupported`, `inconclusive` or `info`, a required case that
//! did not run, or a `skip` that the profile does not allow makes it `incomplete`, as does an
//! `allow-skip` requirement none of whose cases passed. The other SHOULD cases are run and
//! listed in `recommended`; when not followed they are `warnings`, which never change the
//! verdict. `supported_features` are the features the passing cases needed,
//! `unsupported_features` the ones `unsupported` cases found missing (a feature is in both
//! when the evidence disagrees, and the certificate shows that rather than choosing). Recorded deviations
//! (`--expectations`) are not consulted: a known deviation is still a deviation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::canonical::to_canonical_bytes;
use super::profile::{Profile, hex};
use super::signing;
use crate::runner::{CaseResult, Outcome};
use crate::scenario::ScenarioSet;
use crate::targets::Target;

/// The value of `body.format`.
pub const FORMAT: &str = "xmpp-interop-certificate/1";

/// The overall verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every required case passed.
    Pass,
    /// At least one required case failed.
    Fail,
    /// Nothing failed, but not every required case passed (skip, error, not run).
    Incomplete,
}

/// The whole document.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Certificate {
    /// What is signed.
    pub body: Body,
    /// The signature, if the certificate was signed.
    pub signature: Option<SignatureRecord>,
}

/// The signed part.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Body {
    /// [`FORMAT`].
    pub format: String,
    /// The harness that ran the cases.
    pub harness: Harness,
    /// The profile certified against.
    pub profile: ProfileRecord,
    /// The implementation under test.
    pub target: TargetRecord,
    /// When the certificate was made (RFC 3339, UTC).
    pub date: String,
    /// The directory the scenario file paths are relative to, as given on the command line.
    pub scenarios_root: String,
    /// Every scenario file a required or recommended case comes from.
    pub scenario_files: Vec<ScenarioFile>,
    /// One record per required case, sorted by case id.
    pub results: Vec<ResultRecord>,
    /// Outcome counts of `results`.
    pub summary: BTreeMap<String, usize>,
    /// The overall verdict.
    pub verdict: Verdict,
    /// Why the verdict is not `pass` (empty for `pass`).
    pub verdict_reasons: Vec<String>,
    /// One record per recommended case (SHOULD, not required by the profile), sorted by case
    /// id; absent from certificates before requirement levels.
    #[serde(default)]
    pub recommended: Vec<ResultRecord>,
    /// The recommended cases that did not end with a pass: shown, never blocking.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The features the passing cases needed (mechanisms, channel-binding types, ...).
    #[serde(default)]
    pub supported_features: Vec<String>,
    /// The features `unsupported` cases found the target lacking.
    #[serde(default)]
    pub unsupported_features: Vec<String>,
}

/// `body.harness`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Harness {
    /// `xmpp-interop`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// `body.profile`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProfileRecord {
    /// The profile's name.
    pub name: String,
    /// Its title.
    pub title: String,
    /// Its version.
    pub version: String,
    /// SHA-256 of the profile file.
    pub sha256: String,
    /// Each requirement: its selector and whether skips are allowed.
    pub requirements: Vec<RequirementRecord>,
}

/// One requirement of the profile.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequirementRecord {
    /// `scenario ID` or `tag TAG`.
    pub selector: String,
    /// Whether its cases may skip.
    pub allow_skip: bool,
    /// How many cases it selects.
    pub cases: usize,
}

/// `body.target`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetRecord {
    /// The target's name in the targets file.
    pub name: String,
    /// `server` or `client`.
    pub kind: String,
    /// Implementation and version, as detected or declared.
    pub implementation: String,
}

/// One scenario file and its digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioFile {
    /// Path relative to `scenarios_root`, `/`-separated.
    pub path: String,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
}

/// One required case's result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResultRecord {
    /// The case id.
    pub case: String,
    /// The level of the clause it checks (`MUST`, `SHOULD`, ...); none for a case that did
    /// not run, and in certificates before requirement levels.
    #[serde(default)]
    pub level: Option<String>,
    /// `pass`, `fail`, `warn`, `unsupported`, `inconclusive`, `info`, `skip`, `error`, or
    /// `not-run`.
    pub outcome: String,
    /// Whether the outcome is what the scenario predicts (`pass`, or `skip` without a
    /// recorded deviation).
    pub as_expected: bool,
    /// Where the verdict was decided.
    pub step: Option<String>,
    /// What the scenario expects.
    pub expected: String,
    /// What was observed (for a skip: why it does not apply).
    pub observed: String,
}

/// `signature`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignatureRecord {
    /// `Ed25519`.
    pub algorithm: String,
    /// SHA-256 of the signing key's public key (DER SubjectPublicKeyInfo).
    pub key_sha256: String,
    /// What was signed: always `canonical-json(body)`.
    pub signed: String,
    /// The 64-byte signature, base64 (standard alphabet, padded).
    pub value: String,
}

/// A certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CertifyError {
    /// A scenario file could not be read for its digest.
    #[error("{path}: cannot read for its digest: {source}", path = path.display())]
    ScenarioFile {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// What made the certificate: everything besides the results.
pub struct Inputs<'a> {
    /// The profile.
    pub profile: &'a Profile,
    /// The target certified.
    pub target: &'a Target,
    /// The scenarios directory given on the command line (`scenarios` for the built-in set).
    pub scenarios_root: &'a Path,
    /// Where the scenarios were loaded from, to read their files for the digests.
    pub scenarios: &'a ScenarioSet,
    /// Every loaded case's id and source file (to find the files of required cases).
    pub sources: BTreeMap<String, PathBuf>,
}

impl Certificate {
    /// Builds the (unsigned) certificate from the finished cases.
    pub fn new(
        inputs: &Inputs<'_>,
        results: &[Arc<CaseResult>],
    ) -> Result<Certificate, CertifyError> {
        let profile = inputs.profile;
        let by_case: BTreeMap<&str, &CaseResult> = results
            .iter()
            .filter(|r| r.target == inputs.target.name)
            .map(|r| (r.case.id.as_str(), r.as_ref()))
            .collect();
        let record_of = |case: &str| match by_case.get(case) {
            Some(result) => ResultRecord {
                case: case.to_owned(),
                level: Some(result.level().keyword().to_owned()),
                outcome: result.outcome.to_string(),
                as_expected: result.as_expected(),
                step: result.step.map(|s| s.to_string()),
                expected: result.expected.clone(),
                observed: result.observed.clone(),
            },
            None => ResultRecord {
                case: case.to_owned(),
                level: None,
                outcome: "not-run".to_owned(),
                as_expected: false,
                step: None,
                expected: String::new(),
                observed: "the case was not run".to_owned(),
            },
        };
        let mut records = Vec::new();
        let mut reasons = Vec::new();
        let mut failed = false;
        let mut summary = BTreeMap::new();
        for case in profile.required_cases() {
            let record = record_of(case);
            match by_case.get(case).map(|r| r.outcome) {
                Some(Outcome::Pass) => {}
                Some(Outcome::Fail) => {
                    failed = true;
                    reasons.push(format!("{case} failed: {}", record.observed));
                }
                Some(Outcome::Warn) => {
                    failed = true;
                    reasons.push(format!(
                        "{case} did not follow a SHOULD the profile requires: {}",
                        record.observed
                    ));
                }
                Some(Outcome::Error) => reasons.push(format!(
                    "{case} could not be run (error): {}",
                    record.observed
                )),
                Some(outcome @ (Outcome::Unsupported | Outcome::Inconclusive | Outcome::Info)) => {
                    reasons.push(format!("{case} ended {outcome}: {}", record.observed))
                }
                Some(Outcome::Skip) if profile.skip_allowed(case) => {}
                Some(Outcome::Skip) => reasons.push(format!(
                    "{case} was skipped and the profile does not allow that: {}",
                    record.observed
                )),
                Some(Outcome::NotRun) => {
                    reasons.push(format!("{case} did not finish: {}", record.observed))
                }
                None => reasons.push(format!("{case} was not run")),
            }
            *summary.entry(record.outcome.clone()).or_insert(0) += 1;
            records.push(record);
        }
        let mut recommended = Vec::new();
        let mut warnings = Vec::new();
        for case in profile.recommended_cases() {
            let record = record_of(case);
            match by_case.get(case).map(|r| r.outcome) {
                Some(Outcome::Pass) => {}
                Some(Outcome::Warn) => {
                    warnings.push(format!("{case}: SHOULD deviation: {}", record.observed))
                }
                Some(outcome) => {
                    warnings.push(format!("{case} ended {outcome}: {}", record.observed))
                }
                None => warnings.push(format!("{case} was not run")),
            }
            recommended.push(record);
        }
        let mut supported_features = std::collections::BTreeSet::new();
        let mut unsupported_features = std::collections::BTreeSet::new();
        for result in by_case.values() {
            match result.outcome {
                Outcome::Pass => {
                    supported_features.extend(result.case.needs().iter().map(ToString::to_string))
                }
                Outcome::Unsupported => {
                    unsupported_features.extend(result.missing_feature.map(|f| f.to_string()))
                }
                _ => {}
            }
        }
        for requirement in profile
            .requirements
            .iter()
            .filter(|r| r.allow_skip && !r.cases.is_empty())
        {
            let any_passed = requirement.cases.iter().any(|case| {
                by_case
                    .get(case.as_str())
                    .is_some_and(|r| r.outcome == Outcome::Pass)
            });
            if !any_passed {
                reasons.push(format!(
                    "no case of {} passed (skips are allowed there, but something must be tested)",
                    requirement.selector
                ));
            }
        }
        let verdict = match (failed, reasons.is_empty()) {
            (true, _) => Verdict::Fail,
            (false, true) => Verdict::Pass,
            (false, false) => Verdict::Incomplete,
        };
        Ok(Certificate {
            body: Body {
                format: FORMAT.to_owned(),
                harness: Harness {
                    name: env!("CARGO_PKG_NAME").to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                },
                profile: ProfileRecord {
                    name: profile.name.clone(),
                    title: profile.title.clone(),
                    version: profile.version.clone(),
                    sha256: profile.sha256.clone(),
                    requirements: profile
                        .requirements
                        .iter()
                        .map(|r| RequirementRecord {
                            selector: r.selector.to_string(),
                            allow_skip: r.allow_skip,
                            cases: r.cases.len(),
                        })
                        .collect(),
                },
                target: TargetRecord {
                    name: inputs.target.name.clone(),
                    kind: inputs.target.kind().to_string(),
                    implementation: inputs.target.implementation.clone(),
                },
                date: time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                scenarios_root: inputs.scenarios_root.display().to_string(),
                scenario_files: scenario_files(inputs)?,
                results: records,
                summary,
                verdict,
                verdict_reasons: reasons,
                recommended,
                warnings,
                supported_features: supported_features.into_iter().collect(),
                unsupported_features: unsupported_features.into_iter().collect(),
            },
            signature: None,
        })
    }

    /// The bytes a signature covers: the canonical JSON of the body.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let value = serde_json::to_value(&self.body).unwrap_or(serde_json::Value::Null);
        to_canonical_bytes(&value)
    }

    /// Signs the body with `key`.
    pub fn sign(&mut self, key: &SigningKey) {
        let signature = signing::sign(key, &self.signed_bytes());
        self.signature = Some(SignatureRecord {
            algorithm: "Ed25519".to_owned(),
            key_sha256: signing::key_fingerprint(&key.verifying_key()),
            signed: "canonical-json(body)".to_owned(),
            value: BASE64.encode(signature),
        });
    }
}

/// The digest of every scenario file a required or recommended case comes from, sorted by
/// path.
fn scenario_files(inputs: &Inputs<'_>) -> Result<Vec<ScenarioFile>, CertifyError> {
    let required = inputs.profile.cases_to_run();
    let mut files: Vec<&PathBuf> = inputs
        .sources
        .iter()
        .filter(|(case, _)| required.contains(case.as_str()))
        .map(|(_, source)| source)
        .collect();
    files.sort();
    files.dedup();
    files
        .into_iter()
        .map(|source| {
            let bytes =
                inputs
                    .scenarios
                    .read_source(source)
                    .map_err(|e| CertifyError::ScenarioFile {
                        path: source.clone(),
                        source: e,
                    })?;
            let relative = source.strip_prefix(inputs.scenarios_root).unwrap_or(source);
            Ok(ScenarioFile {
                path: relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/"),
                sha256: hex(&Sha256::digest(&bytes)),
            })
        })
        .collect()
}

/// Why `certify verify` found a certificate invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// The certificate carries no signature.
    #[error("the certificate is not signed")]
    Unsigned,
    /// The signature is not one this code makes.
    #[error("unsupported signature: {0}")]
    Unsupported(String),
    /// The signature does not verify.
    #[error(
        "the signature does not match: the certificate was changed after signing, or signed by another key{detail}"
    )]
    BadSignature {
        /// A hint when the key fingerprints differ.
        detail: String,
    },
    /// A scenario file is gone.
    #[error("scenario file {path} is missing: {reason}")]
    MissingScenario {
        /// The file.
        path: String,
        /// Why it could not be read.
        reason: String,
    },
    /// A scenario file changed.
    #[error("scenario file {path} changed: SHA-256 {actual}, the certificate says {recorded}")]
    ChangedScenario {
        /// The file.
        path: String,
        /// Its digest now.
        actual: String,
        /// Its digest in the certificate.
        recorded: String,
    },
}

/// Parses `certificate.json`: the typed certificate and its body exactly as written (the
/// signature is checked over the latter, so no member of the file escapes it).
pub fn parse(text: &str) -> Result<(Certificate, serde_json::Value), serde_json::Error> {
    let document: serde_json::Value = serde_json::from_str(text)?;
    let certificate: Certificate = serde_json::from_value(document.clone())?;
    let body = document
        .get("body")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    Ok((certificate, body))
}

/// Checks the signature of `certificate` (over `raw_body`, the body as it was read) with
/// `key`, then the digest of every scenario file under `scenarios_root`, read from `set` (the
/// directory itself, or the built-in set whose root is `scenarios`).
pub fn verify(
    certificate: &Certificate,
    raw_body: &serde_json::Value,
    key: &VerifyingKey,
    scenarios_root: &Path,
    set: &ScenarioSet,
) -> Result<(), Invalid> {
    if certificate.body.format != FORMAT {
        return Err(Invalid::Unsupported(format!(
            "certificate format {:?}; expected {FORMAT:?}",
            certificate.body.format
        )));
    }
    let Some(signature) = &certificate.signature else {
        return Err(Invalid::Unsigned);
    };
    if signature.algorithm != "Ed25519" || signature.signed != "canonical-json(body)" {
        return Err(Invalid::Unsupported(format!(
            "algorithm {:?} over {:?}; expected \"Ed25519\" over \"canonical-json(body)\"",
            signature.algorithm, signature.signed
        )));
    }
    let value = BASE64
        .decode(&signature.value)
        .map_err(|e| Invalid::Unsupported(format!("signature value is not base64: {e}")))?;
    if !signing::verify(key, &to_canonical_bytes(raw_body), &value) {
        let fingerprint = signing::key_fingerprint(key);
        let detail = if fingerprint == signature.key_sha256 {
            String::new()
        } else {
            format!(
                " (signed by key {}, checked with key {fingerprint})",
                signature.key_sha256
            )
        };
        return Err(Invalid::BadSignature { detail });
    }
    for file in &certificate.body.scenario_files {
        let path = scenarios_root.join(&file.path);
        let bytes = set
            .read_source(&path)
            .map_err(|e| Invalid::MissingScenario {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        let actual = hex(&Sha256::digest(&bytes));
        if actual != file.sha256 {
            return Err(Invalid::ChangedScenario {
                path: path.display().to_string(),
                actual,
                recorded: file.sha256.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certify::profile::{Requirement, Selector};
    use crate::runner::expectations::{Deviation, DeviationOutcome};
    use crate::targets::TargetKind;
    use std::time::Duration;

    fn cases() -> Vec<crate::scenario::CaseSpec> {
        crate::scenario::load_path(Path::new("scenarios/c2s/wrong-password.yaml")).unwrap()[0]
            .cases
            .clone()
    }

    fn profile(allow_skip: bool) -> Profile {
        Profile {
            name: "p".to_owned(),
            title: "P".to_owned(),
            version: "1".to_owned(),
            description: String::new(),
            target: TargetKind::Server,
            source: PathBuf::from("p.yaml"),
            sha256: String::new(),
            requirements: vec![Requirement {
                selector: Selector::Scenario("c2s-wrong-password".to_owned()),
                allow_skip,
                cases: cases().into_iter().map(|c| c.id).collect(),
                recommended: Vec::new(),
            }],
        }
    }

    /// Results for every case: the first `outcomes.len()` get those outcomes, the rest pass;
    /// `deviation` records a known failure for every case.
    fn results(outcomes: &[Outcome], deviation: bool, drop_last: bool) -> Vec<Arc<CaseResult>> {
        let mut cases = cases();
        if drop_last {
            cases.pop();
        }
        cases
            .into_iter()
            .enumerate()
            .map(|(i, case)| {
                Arc::new(CaseResult {
                    case: Arc::new(case),
                    target: "builtin-server".to_owned(),
                    outcome: outcomes.get(i).copied().unwrap_or(Outcome::Pass),
                    step: None,
                    expected: String::new(),
                    observed: "observed".to_owned(),
                    duration: Duration::ZERO,
                    transcript: Vec::new(),
                    missing_feature: None,
                    control: None,
                    observation: None,
                    expected_deviation: deviation.then(|| {
                        Arc::new(Deviation {
                            outcome: DeviationOutcome::Fail,
                            clause: "RFC 6120 §6.4".to_owned(),
                            reason: "known".to_owned(),
                            link: None,
                            observed: None,
                        })
                    }),
                })
            })
            .collect()
    }

    fn judge(profile: &Profile, results: &[Arc<CaseResult>]) -> (Verdict, Vec<String>) {
        let target = Target::builtin_server();
        let inputs = Inputs {
            profile,
            target: &target,
            scenarios_root: Path::new("scenarios"),
            scenarios: &ScenarioSet::BuiltIn,
            sources: BTreeMap::new(),
        };
        let body = Certificate::new(&inputs, results).unwrap().body;
        (body.verdict, body.verdict_reasons)
    }

    #[test]
    fn every_required_case_passing_is_a_pass() {
        let (verdict, reasons) = judge(&profile(false), &results(&[], false, false));
        assert_eq!((verdict, reasons.len()), (Verdict::Pass, 0));
    }

    #[test]
    fn a_failure_is_a_fail_even_when_recorded_as_a_known_deviation() {
        let failed = results(&[Outcome::Fail], true, false);
        assert!(failed[0].as_expected(), "the deviation is recorded");
        let (verdict, reasons) = judge(&profile(false), &failed);
        assert_eq!(verdict, Verdict::Fail);
        assert!(reasons[0].ends_with("failed: observed"), "{reasons:?}");
    }

    #[test]
    fn an_error_a_missing_case_or_a_disallowed_skip_is_incomplete() {
        for (outcomes, drop_last) in [
            (&[Outcome::Error][..], false),
            (&[][..], true),
            (&[Outcome::Skip][..], false),
        ] {
            let (verdict, reasons) = judge(&profile(false), &results(outcomes, false, drop_last));
            assert_eq!(verdict, Verdict::Incomplete, "{outcomes:?} {reasons:?}");
            assert_eq!(reasons.len(), 1);
        }
    }

    #[test]
    fn allowed_skips_pass_only_while_something_passed() {
        let (verdict, _) = judge(&profile(true), &results(&[Outcome::Skip], false, false));
        assert_eq!(verdict, Verdict::Pass);
        let all_skipped = [Outcome::Skip; 8];
        let (verdict, reasons) = judge(&profile(true), &results(&all_skipped, false, false));
        assert_eq!(verdict, Verdict::Incomplete);
        assert!(reasons[0].starts_with("no case of scenario c2s-wrong-password passed"));
    }

    /// A profile over a MUST scenario and a SHOULD one (both PLAIN and SCRAM-SHA-256), the
    /// SHOULD one's SCRAM case required when `require_should`.
    fn levelled(require_should: bool) -> (Profile, Vec<crate::scenario::CaseSpec>) {
        use crate::scenario::Level;
        use crate::scenario::test_support::scenario;
        let must = scenario("c2s-must", Level::Must, &["PLAIN", "SCRAM-SHA-256"]);
        let should = scenario("c2s-should", Level::Should, &["PLAIN", "SCRAM-SHA-256"]);
        let ids = |s: &crate::scenario::Scenario| s.cases.iter().map(|c| c.id.clone()).collect();
        let (required_should, recommended): (Vec<String>, Vec<String>) = should
            .cases
            .iter()
            .map(|c| c.id.clone())
            .partition(|id| require_should && id.ends_with("scram-sha-256"));
        let profile = Profile {
            name: "p".to_owned(),
            title: "P".to_owned(),
            version: "1".to_owned(),
            description: String::new(),
            target: TargetKind::Server,
            source: PathBuf::from("p.yaml"),
            sha256: String::new(),
            requirements: vec![
                Requirement {
                    selector: Selector::Scenario("c2s-must".to_owned()),
                    allow_skip: false,
                    cases: ids(&must),
                    recommended: Vec::new(),
                },
                Requirement {
                    selector: Selector::Scenario("c2s-should".to_owned()),
                    allow_skip: false,
                    cases: required_should,
                    recommended,
                },
            ],
        };
        let cases = must.cases.into_iter().chain(should.cases).collect();
        (profile, cases)
    }

    fn ended(
        cases: &[crate::scenario::CaseSpec],
        outcome_of: impl Fn(&str) -> (Outcome, Option<crate::scenario::Feature>),
    ) -> Vec<Arc<CaseResult>> {
        cases
            .iter()
            .map(|case| {
                let (outcome, missing_feature) = outcome_of(&case.id);
                Arc::new(CaseResult {
                    case: Arc::new(case.clone()),
                    target: "builtin-server".to_owned(),
                    outcome,
                    step: None,
                    expected: String::new(),
                    observed: "observed".to_owned(),
                    duration: Duration::ZERO,
                    transcript: Vec::new(),
                    missing_feature,
                    control: None,
                    observation: None,
                    expected_deviation: None,
                })
            })
            .collect()
    }

    fn body(profile: &Profile, results: &[Arc<CaseResult>]) -> Body {
        let target = Target::builtin_server();
        let inputs = Inputs {
            profile,
            target: &target,
            scenarios_root: Path::new("scenarios"),
            scenarios: &ScenarioSet::BuiltIn,
            sources: BTreeMap::new(),
        };
        Certificate::new(&inputs, results).unwrap().body
    }

    #[test]
    fn a_should_deviation_warns_without_blocking_unless_the_profile_requires_that_should() {
        let warn_on_should = |id: &str| {
            if id.starts_with("c2s-should/") {
                (Outcome::Warn, None)
            } else {
                (Outcome::Pass, None)
            }
        };
        let (profile, cases) = levelled(false);
        let certificate = body(&profile, &ended(&cases, warn_on_should));
        assert_eq!(certificate.verdict, Verdict::Pass);
        assert_eq!(certificate.recommended.len(), 2);
        assert_eq!(
            certificate.warnings,
            [
                "c2s-should/plain: SHOULD deviation: observed",
                "c2s-should/scram-sha-256: SHOULD deviation: observed"
            ]
        );
        assert_eq!(certificate.results[0].level.as_deref(), Some("MUST"));
        let (profile, cases) = levelled(true);
        let certificate = body(&profile, &ended(&cases, warn_on_should));
        assert_eq!(certificate.verdict, Verdict::Fail);
        assert_eq!(
            certificate.verdict_reasons,
            ["c2s-should/scram-sha-256 did not follow a SHOULD the profile requires: observed"]
        );
        assert_eq!(
            certificate.warnings,
            ["c2s-should/plain: SHOULD deviation: observed"]
        );
    }

    #[test]
    fn an_unsupported_required_case_is_incomplete_and_the_certificate_lists_the_features() {
        use crate::scenario::{Feature, Mechanism};
        let (profile, cases) = levelled(false);
        let results = ended(&cases, |id| {
            if id == "c2s-must/scram-sha-256" {
                (
                    Outcome::Unsupported,
                    Some(Feature::Mechanism(Mechanism::ScramSha256)),
                )
            } else {
                (Outcome::Pass, None)
            }
        });
        let certificate = body(&profile, &results);
        assert_eq!(certificate.verdict, Verdict::Incomplete);
        assert_eq!(
            certificate.verdict_reasons,
            ["c2s-must/scram-sha-256 ended unsupported: observed"]
        );
        assert_eq!(certificate.unsupported_features, ["SCRAM-SHA-256"]);
        assert!(
            certificate.supported_features.contains(&"PLAIN".to_owned()),
            "{:?}",
            certificate.supported_features
        );
    }
}
