//! Certification profiles (`profiles/*.yaml`): a named, versioned list of required scenarios,
//! selected by scenario id, case id or tag, for one kind of target.
//!
//! ```yaml
//! name: c2s-tls-sasl
//! title: c2s server TLS and SASL (RFC 6120 §5, §6, §13)
//! version: 1.0.0
//! target: server                 # the kind of target certified: server | client
//! require:
//!   - scenario: c2s-wrong-password   # a scenario id (all its cases) or a case id
//!   - tag: channel-binding           # every scenario carrying the tag
//!   - scenario: c2s-authenticate
//!     cases: ["*/plain", "starttls/scram-sha-1"]  # only these of its matrix cases
//!     allow-skip: true               # cases may skip, as long as one of them passes
//! ```
//!
//! `cases:` patterns are matched against the case id after `scenario-id/`, one `/`-separated
//! segment at a time, `*` matching any one segment; each pattern must match a case.
//!
//! Certification rests on the level of each case's clause (`requirement.level` of its
//! scenario): the MUST and MUST NOT cases a selector picks are required; its SHOULD and SHOULD
//! NOT cases are run and reported as warnings, and are required only when the optional
//! `require-should:` list (case ids or patterns, `*` any characters) names them; MAY cases are
//! never required and are left out. A selector that picks only MAY cases, and a
//! `require-should` entry that names no SHOULD case the profile picks, are errors.
//!
//! A selector that matches no scenario (for the profile's kind of target) is an error, not an
//! empty requirement; every error names `file:line:column` and the CLI exits with code 2.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;
use sha2::{Digest as _, Sha256};

use crate::scenario::{
    CaseSpec, Level, Position, Problem, Role, Scenario, yaml_options, yaml_problem,
};
use crate::shipped::{self, ShippedFile};
use crate::targets::TargetKind;

/// The kind of target a profile certifies, as written in the profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RawTargetKind {
    Server,
    Client,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Option<Spanned<String>>,
    title: Option<String>,
    version: Option<Spanned<String>>,
    #[serde(default)]
    description: String,
    target: Option<Spanned<RawTargetKind>>,
    require: Option<Spanned<Vec<Spanned<RawRequirement>>>>,
    #[serde(default, rename = "require-should")]
    require_should: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    scenario: Option<Spanned<String>>,
    tag: Option<Spanned<String>>,
    cases: Option<Vec<Spanned<String>>>,
    #[serde(default, rename = "allow-skip")]
    allow_skip: bool,
}

/// A profile could not be loaded; the message names file, line and column.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is not a valid profile, or a selector matches nothing.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    /// A bare name that is no shipped profile.
    #[error(
        "no built-in profile `{name}`; expected one of {} or the path of a profile file",
        known.join(", ")
    )]
    Unknown {
        /// The name asked for.
        name: String,
        /// The shipped profiles' names.
        known: Vec<&'static str>,
    },
}

/// Where a `--profile` value points: a file, or a profile built into the binary.
#[derive(Debug, Clone)]
pub enum ProfileSource {
    /// A profile file on the file system.
    File(PathBuf),
    /// A shipped profile, by its repository path.
    BuiltIn(ShippedFile),
}

impl ProfileSource {
    /// The file's path, or the built-in profile's repository path.
    pub fn path(&self) -> PathBuf {
        match self {
            ProfileSource::File(path) => path.clone(),
            ProfileSource::BuiltIn(file) => file.path(),
        }
    }
}

/// What `--profile VALUE` names: an existing file, or a path (more than one component or a
/// `.yaml` / `.yml` name) is a file; a bare name is the shipped profile of that name, built
/// into the binary, whatever the current directory holds.
pub fn find(value: &Path) -> Result<ProfileSource, ProfileError> {
    let is_yaml = value
        .extension()
        .is_some_and(|ext| ext == "yaml" || ext == "yml");
    if value.is_file() || value.components().count() > 1 || is_yaml {
        return Ok(ProfileSource::File(value.to_owned()));
    }
    let name = value.to_string_lossy();
    shipped::profile(&name)
        .map(ProfileSource::BuiltIn)
        .ok_or_else(|| ProfileError::Unknown {
            name: name.into_owned(),
            known: shipped::profile_names(),
        })
}

/// Loads the profile `source` points at and resolves its selectors against `scenarios`; the
/// lines of an error in a built-in profile are marked `built-in`.
pub fn load_source(
    source: &ProfileSource,
    scenarios: &[Scenario],
) -> Result<Profile, ProfileError> {
    match source {
        ProfileSource::File(path) => load(path, scenarios),
        ProfileSource::BuiltIn(file) => parse(file.contents.to_vec(), &file.path(), scenarios)
            .map_err(|e| match e {
                ProfileError::Invalid(lines) => ProfileError::Invalid(
                    lines
                        .into_iter()
                        .map(|line| format!("built-in {line}"))
                        .collect(),
                ),
                other => other,
            }),
    }
}

/// How a requirement picks cases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// A scenario id (every case of it) or one case id.
    Scenario(String),
    /// Every scenario carrying this tag.
    Tag(String),
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Scenario(id) => write!(f, "scenario {id}"),
            Selector::Tag(tag) => write!(f, "tag {tag}"),
        }
    }
}

/// One `require:` entry, resolved against the loaded scenarios.
#[derive(Clone, Debug)]
pub struct Requirement {
    /// What the entry names.
    pub selector: Selector,
    /// Whether its cases may be `skip` (then at least one must pass).
    pub allow_skip: bool,
    /// The required case ids it selects (MUST and MUST NOT, and the SHOULD cases that
    /// `require-should` names), in scenario order; empty only when it selects only SHOULD
    /// cases that are not required.
    pub cases: Vec<String>,
    /// The SHOULD and SHOULD NOT cases it selects that are not required: run, and reported as
    /// warnings when not followed.
    pub recommended: Vec<String>,
}

/// A loaded profile.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Stable name, e.g. `c2s-tls-sasl`.
    pub name: String,
    /// What it certifies, for humans.
    pub title: String,
    /// The profile's own version.
    pub version: String,
    /// Longer explanation (may be empty).
    pub description: String,
    /// The kind of target it certifies.
    pub target: TargetKind,
    /// The file it was loaded from.
    pub source: PathBuf,
    /// SHA-256 of that file, lowercase hex.
    pub sha256: String,
    /// The required entries, in file order.
    pub requirements: Vec<Requirement>,
}

impl Profile {
    /// Every required case id, once each.
    pub fn required_cases(&self) -> BTreeSet<&str> {
        self.requirements
            .iter()
            .flat_map(|r| r.cases.iter().map(String::as_str))
            .collect()
    }

    /// Every recommended (SHOULD, not required) case id, once each, none of them required.
    pub fn recommended_cases(&self) -> BTreeSet<&str> {
        let required = self.required_cases();
        self.requirements
            .iter()
            .flat_map(|r| r.recommended.iter().map(String::as_str))
            .filter(|case| !required.contains(case))
            .collect()
    }

    /// Every case a certification runs: the required and the recommended ones.
    pub fn cases_to_run(&self) -> BTreeSet<&str> {
        let mut cases = self.required_cases();
        cases.extend(self.recommended_cases());
        cases
    }

    /// Whether `case` may be `skip`: only when every entry requiring it allows that.
    pub fn skip_allowed(&self, case: &str) -> bool {
        self.requirements
            .iter()
            .filter(|r| r.cases.iter().any(|c| c == case))
            .all(|r| r.allow_skip)
    }
}

/// Loads the profile at `path` and resolves its selectors against `scenarios`.
pub fn load(path: &Path, scenarios: &[Scenario]) -> Result<Profile, ProfileError> {
    let bytes = std::fs::read(path).map_err(|source| ProfileError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(bytes, path, scenarios)
}

/// Parses the bytes of the profile at `path` (named in messages) and resolves it.
fn parse(bytes: Vec<u8>, path: &Path, scenarios: &[Scenario]) -> Result<Profile, ProfileError> {
    let sha256 = hex(&Sha256::digest(&bytes));
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid =
            String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]).into_owned();
        let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
        ProfileError::Invalid(vec![format!(
            "{}:{}:{}: not valid UTF-8; expected a UTF-8 encoded YAML file",
            path.display(),
            valid.matches('\n').count() + 1,
            valid[line_start..].chars().count() + 1
        )])
    })?;
    let located = |problem: Problem| {
        format!(
            "{}:{}:{}: {}",
            path.display(),
            problem.at.line,
            problem.at.column,
            problem.message
        )
    };
    let raw: RawProfile = serde_saphyr::from_str_with_options(&text, yaml_options())
        .map_err(|e| ProfileError::Invalid(vec![located(yaml_problem(&e))]))?;
    resolve(raw, path, sha256, scenarios)
        .map_err(|problems| ProfileError::Invalid(problems.into_iter().map(located).collect()))
}

fn resolve(
    raw: RawProfile,
    path: &Path,
    sha256: String,
    scenarios: &[Scenario],
) -> Result<Profile, Vec<Problem>> {
    let mut problems = Vec::new();
    let missing = |field: &str, expected: &str| Problem {
        at: Position::START,
        message: format!("missing required field `{field}`; expected {expected}"),
    };
    let name = match raw.name {
        Some(name) if valid_name(&name.value) => Some(name.value),
        Some(name) => {
            problems.push(Problem {
                at: Position::at(&name),
                message: format!(
                    "invalid name `{}`; expected lowercase letters, digits and `-`",
                    name.value
                ),
            });
            None
        }
        None => {
            problems.push(missing("name", "`name: some-profile`"));
            None
        }
    };
    if raw.title.is_none() {
        problems.push(missing("title", "a one-line description"));
    }
    if raw.version.is_none() {
        problems.push(missing("version", "`version: 1.0.0`"));
    }
    let target = match &raw.target {
        Some(kind) => Some(match kind.value {
            RawTargetKind::Server => TargetKind::Server,
            RawTargetKind::Client => TargetKind::Client,
        }),
        None => {
            problems.push(missing("target", "one of server, client"));
            None
        }
    };
    let mut requirements = Vec::new();
    match &raw.require {
        None => problems.push(missing(
            "require",
            "a list of `- scenario: ID` or `- tag: TAG`",
        )),
        Some(list) if list.value.is_empty() => problems.push(Problem {
            at: Position::at(list),
            message: "`require` is empty; expected at least one `- scenario: ID` or `- tag: TAG`"
                .to_owned(),
        }),
        Some(list) => {
            for entry in &list.value {
                match requirement(entry, target, scenarios, &raw.require_should) {
                    Ok(requirement) => requirements.push(requirement),
                    Err(problem) => problems.push(problem),
                }
            }
        }
    }
    let levels: std::collections::HashMap<&str, Level> = scenarios
        .iter()
        .flat_map(|s| s.cases.iter())
        .map(|c| (c.id.as_str(), c.requirement.level))
        .collect();
    for pattern in &raw.require_should {
        let names_a_selected_should_case = requirements
            .iter()
            .flat_map(|r| r.cases.iter().chain(&r.recommended))
            .any(|case| {
                glob_matches(&pattern.value, case)
                    && levels
                        .get(case.as_str())
                        .is_some_and(|level| level.is_recommendation())
            });
        if !names_a_selected_should_case {
            problems.push(Problem {
                at: Position::at(pattern),
                message: format!(
                    "`require-should` entry `{}` names no SHOULD-level case the profile selects; expected the id (or a pattern, `*` any characters) of a SHOULD or SHOULD NOT case under `require`",
                    pattern.value
                ),
            });
        }
    }
    match (name, raw.title, raw.version, target) {
        (Some(name), Some(title), Some(version), Some(target)) if problems.is_empty() => {
            Ok(Profile {
                name,
                title,
                version: version.value,
                description: raw.description,
                target,
                source: path.to_owned(),
                sha256,
                requirements,
            })
        }
        _ => Err(problems),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The role the harness plays against a target of this kind.
fn harness_role(kind: TargetKind) -> Role {
    match kind {
        TargetKind::Server => Role::Client,
        TargetKind::Client => Role::Server,
    }
}

fn requirement(
    entry: &Spanned<RawRequirement>,
    target: Option<TargetKind>,
    scenarios: &[Scenario],
    require_should: &[Spanned<String>],
) -> Result<Requirement, Problem> {
    let (selector, at) = match (&entry.value.scenario, &entry.value.tag) {
        (Some(id), None) => (Selector::Scenario(id.value.clone()), Position::at(id)),
        (None, Some(tag)) => (Selector::Tag(tag.value.clone()), Position::at(tag)),
        _ => {
            return Err(Problem {
                at: Position::at(entry),
                message: "a requirement names neither or both of `scenario` and `tag`; expected exactly one".to_owned(),
            });
        }
    };
    let mut selected: Vec<_> = scenarios
        .iter()
        .flat_map(|s| s.cases.iter().map(move |c| (s, c)))
        .filter(|(scenario, case)| match &selector {
            Selector::Scenario(id) => scenario.id == *id || case.id == *id,
            Selector::Tag(tag) => scenario.tags.contains(tag),
        })
        .collect();
    if let Some(patterns) = &entry.value.cases {
        let Selector::Scenario(_) = selector else {
            return Err(Problem {
                at: Position::at(entry),
                message: "`cases` needs `scenario`; expected `cases` only next to `scenario: ID`"
                    .to_owned(),
            });
        };
        for pattern in patterns {
            if !selected
                .iter()
                .any(|(s, c)| case_matches(&pattern.value, &s.id, &c.id))
            {
                return Err(Problem {
                    at: Position::at(pattern),
                    message: format!(
                        "case pattern `{}` matches no case of {selector}; expected segments of its case ids, `*` for any one",
                        pattern.value
                    ),
                });
            }
        }
        selected.retain(|(s, c)| {
            patterns
                .iter()
                .any(|pattern| case_matches(&pattern.value, &s.id, &c.id))
        });
    }
    if selected.is_empty() {
        let what = match &selector {
            Selector::Scenario(id) => format!("scenario or case id `{id}` matches nothing"),
            Selector::Tag(tag) => format!("tag `{tag}` matches no scenario"),
        };
        return Err(Problem {
            at,
            message: format!(
                "{what} in the loaded scenarios; expected an existing id or tag (see `xmpp-interop list`)"
            ),
        });
    }
    let Some(kind) = target else {
        return Err(Problem {
            at,
            message: "cannot check this requirement without `target`; expected `target: server` or `target: client`".to_owned(),
        });
    };
    let role = harness_role(kind);
    let of_role: Vec<&CaseSpec> = selected
        .iter()
        .filter(|(_, case)| case.role == role)
        .map(|(_, case)| *case)
        .collect();
    if of_role.is_empty() {
        return Err(Problem {
            at,
            message: format!(
                "{selector} selects only cases for the other kind of target; expected cases that test a {kind} (harness role {role})",
                role = match role {
                    Role::Client => "client",
                    Role::Server => "server",
                }
            ),
        });
    }
    let should_required = |case: &CaseSpec| {
        require_should
            .iter()
            .any(|pattern| glob_matches(&pattern.value, &case.id))
    };
    let mut cases = Vec::new();
    let mut recommended = Vec::new();
    for case in of_role {
        let level = case.requirement.level;
        if level.is_absolute() || (level.is_recommendation() && should_required(case)) {
            cases.push(case.id.clone());
        } else if level.is_recommendation() {
            recommended.push(case.id.clone());
        }
    }
    if cases.is_empty() && recommended.is_empty() {
        return Err(Problem {
            at,
            message: format!(
                "{selector} selects only MAY-level cases, which a profile never requires; expected cases whose clause is a MUST, MUST NOT, SHOULD or SHOULD NOT"
            ),
        });
    }
    Ok(Requirement {
        selector,
        allow_skip: entry.value.allow_skip,
        cases,
        recommended,
    })
}

/// Whether `id` matches `pattern`, `*` matching any characters (`/` included).
fn glob_matches(pattern: &str, id: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == id;
    };
    let Some(mut left) = id.strip_prefix(first) else {
        return false;
    };
    let mut parts: Vec<&str> = rest.split('*').collect();
    let last = parts.pop().unwrap_or_default();
    for part in parts {
        match left.find(part) {
            Some(at) => left = &left[at + part.len()..],
            None => return false,
        }
    }
    left.len() >= last.len() && left.ends_with(last)
}

/// Whether `case_id` is `scenario_id/` followed by segments matching `pattern` (`*` matches
/// any one segment).
fn case_matches(pattern: &str, scenario_id: &str, case_id: &str) -> bool {
    let Some(rest) = case_id
        .strip_prefix(scenario_id)
        .and_then(|rest| rest.strip_prefix('/'))
    else {
        return false;
    };
    let (wanted, actual): (Vec<&str>, Vec<&str>) =
        (pattern.split('/').collect(), rest.split('/').collect());
    wanted.len() == actual.len()
        && wanted
            .iter()
            .zip(&actual)
            .all(|(want, have)| *want == "*" || want == have)
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenarios() -> Vec<Scenario> {
        crate::scenario::load_paths(&[
            PathBuf::from("scenarios/c2s/wrong-password.yaml"),
            PathBuf::from("scenarios/c2s/scram-plus-tls-exporter.yaml"),
            PathBuf::from("scenarios/client/strip-starttls.yaml"),
        ])
        .unwrap()
    }

    fn load_text(text: &str) -> Result<Profile, String> {
        let dir = std::env::temp_dir().join(format!(
            "xmpp-interop-profile-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.yaml");
        std::fs::write(&path, text).unwrap();
        let result = load(&path, &scenarios())
            .map_err(|e| e.to_string().replace(&path.display().to_string(), "p.yaml"));
        std::fs::remove_dir_all(&dir).unwrap();
        result
    }

    const HEAD: &str = "name: p\ntitle: P\nversion: 1.0.0\ntarget: server\n";

    #[test]
    fn a_bare_name_is_a_built_in_profile_and_a_path_or_yaml_name_is_a_file() {
        let built_in = find(Path::new("c2s-tls-sasl")).unwrap();
        assert!(matches!(built_in, ProfileSource::BuiltIn(_)));
        assert_eq!(built_in.path(), Path::new("profiles/c2s-tls-sasl.yaml"));
        for file in ["mine.yaml", "dir/mine", "./c2s-tls-sasl"] {
            assert!(
                matches!(find(Path::new(file)), Ok(ProfileSource::File(_))),
                "{file}"
            );
        }
        let unknown = find(Path::new("c2s-tls")).unwrap_err().to_string();
        assert!(
            unknown.starts_with("no built-in profile `c2s-tls`; expected one of c2s-tls-sasl, "),
            "{unknown}"
        );
    }

    #[test]
    fn every_built_in_profile_resolves_against_the_built_in_scenarios() {
        let scenarios = crate::scenario::load_built_in().unwrap();
        for name in shipped::profile_names() {
            let source = find(Path::new(name)).unwrap();
            let profile = load_source(&source, &scenarios).unwrap();
            assert_eq!(profile.name, name);
            assert!(!profile.cases_to_run().is_empty(), "{name}");
        }
    }

    #[test]
    fn an_error_in_a_built_in_profile_names_its_repository_path_marked_built_in() {
        let broken = ShippedFile {
            relative: "broken.yaml",
            root: shipped::PROFILES_ROOT,
            contents: b"name: Broken\ntitle: B\nversion: 1.0.0\ntarget: server\nrequire: []\n",
        };
        let error = load_source(&ProfileSource::BuiltIn(broken), &scenarios())
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("built-in profiles/broken.yaml:1:7: invalid name `Broken`"),
            "{error}"
        );
    }

    #[test]
    fn selectors_resolve_to_case_ids_of_the_profiles_kind_of_target() {
        let profile = load_text(&format!(
            "{HEAD}require:\n  - scenario: c2s-wrong-password\n  - tag: channel-binding\n    allow-skip: true\n"
        ))
        .unwrap();
        assert_eq!(profile.requirements.len(), 2);
        assert!(
            profile.requirements[0]
                .cases
                .iter()
                .all(|c| c.starts_with("c2s-wrong-password/"))
        );
        let by_tag = &profile.requirements[1];
        assert!(by_tag.allow_skip);
        assert!(!by_tag.cases.is_empty());
        assert!(
            by_tag
                .cases
                .iter()
                .all(|c| c.starts_with("c2s-scram-plus-tls-exporter")),
            "{:?}",
            by_tag.cases
        );
        assert!(profile.skip_allowed(&by_tag.cases[0]));
        assert!(!profile.skip_allowed("c2s-wrong-password/plain"));
        assert_eq!(profile.sha256.len(), 64);
    }

    #[test]
    fn case_patterns_narrow_a_scenario_and_must_each_match() {
        let profile = load_text(&format!(
            "{HEAD}require:\n  - scenario: c2s-wrong-password\n    cases: [scram-sha-256, plain]\n"
        ))
        .unwrap();
        assert_eq!(
            profile.requirements[0].cases,
            [
                "c2s-wrong-password/plain",
                "c2s-wrong-password/scram-sha-256"
            ]
        );
        let error = load_text(&format!(
            "{HEAD}require:\n  - scenario: c2s-wrong-password\n    cases: [plain, '*/plain']\n"
        ))
        .unwrap_err();
        assert!(
            error.starts_with("p.yaml:7:20: case pattern `*/plain` matches no case"),
            "{error}"
        );
        assert!(case_matches("*/x", "s", "s/a/x"));
        assert!(!case_matches("*/x", "s", "s/a/y"));
        assert!(!case_matches("x", "s", "st/x"));
    }

    #[test]
    fn an_unknown_scenario_id_is_an_error_at_its_line_and_column() {
        let error = load_text(&format!(
            "{HEAD}require:\n  - scenario: c2s-wrong-password\n  - scenario: c2s-no-such-thing\n"
        ))
        .unwrap_err();
        assert_eq!(
            error,
            "p.yaml:7:15: scenario or case id `c2s-no-such-thing` matches nothing in the loaded scenarios; expected an existing id or tag (see `xmpp-interop list`)"
        );
    }

    #[test]
    fn a_tag_that_selects_only_the_other_kind_of_target_is_an_error() {
        let error = load_text(&format!(
            "{HEAD}require:\n  - scenario: client-strip-starttls\n"
        ))
        .unwrap_err();
        assert!(error.starts_with("p.yaml:6:15: scenario client-strip-starttls selects only cases for the other kind of target"), "{error}");
    }

    #[test]
    fn invalid_utf8_is_located() {
        let dir = crate::scratch::ScratchDir::new("profile-utf8");
        let path = dir.join("p.yaml");
        std::fs::write(&path, b"name: p\ntitle: T\xff\n").unwrap();
        let error = load(&path, &scenarios()).unwrap_err().to_string();
        assert!(
            error.ends_with("p.yaml:2:9: not valid UTF-8; expected a UTF-8 encoded YAML file"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_fields_and_missing_fields_are_located() {
        let error = load_text(&format!("{HEAD}require:\n  - scenari: x\n")).unwrap_err();
        assert!(
            error.starts_with("p.yaml:6:5: unknown field `scenari`"),
            "{error}"
        );
        let error = load_text("title: T\n").unwrap_err();
        assert!(
            error.contains("p.yaml:1:1: missing required field `name`"),
            "{error}"
        );
        assert!(
            error.contains("missing required field `require`"),
            "{error}"
        );
    }

    fn load_with(text: &str, scenarios: &[Scenario]) -> Result<Profile, String> {
        let dir = std::env::temp_dir().join(format!(
            "xmpp-interop-profile-levels-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.yaml");
        std::fs::write(&path, text).unwrap();
        let result = load(&path, scenarios)
            .map_err(|e| e.to_string().replace(&path.display().to_string(), "p.yaml"));
        std::fs::remove_dir_all(&dir).unwrap();
        result
    }

    fn levelled_scenarios() -> Vec<Scenario> {
        use crate::scenario::test_support::scenario;
        vec![
            scenario("c2s-must", Level::Must, &["PLAIN", "SCRAM-SHA-256"]),
            scenario("c2s-should", Level::Should, &["PLAIN", "SCRAM-SHA-256"]),
            scenario("c2s-may", Level::May, &["PLAIN"]),
        ]
    }

    #[test]
    fn must_cases_are_required_should_cases_only_when_named_and_may_cases_never() {
        let profile = load_with(
            &format!("{HEAD}require:\n  - tag: c2s\nrequire-should: [\"c2s-should/scram-*\"]\n"),
            &levelled_scenarios(),
        )
        .unwrap();
        assert_eq!(
            profile.required_cases().into_iter().collect::<Vec<_>>(),
            [
                "c2s-must/plain",
                "c2s-must/scram-sha-256",
                "c2s-should/scram-sha-256"
            ]
        );
        assert_eq!(
            profile.recommended_cases().into_iter().collect::<Vec<_>>(),
            ["c2s-should/plain"]
        );
        assert!(!profile.cases_to_run().contains("c2s-may/plain"));
    }

    #[test]
    fn a_selector_of_only_may_cases_and_a_require_should_naming_no_should_case_are_errors() {
        let error = load_with(
            &format!("{HEAD}require:\n  - scenario: c2s-may\n"),
            &levelled_scenarios(),
        )
        .unwrap_err();
        assert!(
            error.starts_with("p.yaml:6:15: scenario c2s-may selects only MAY-level cases"),
            "{error}"
        );
        let error = load_with(
            &format!("{HEAD}require:\n  - tag: c2s\nrequire-should: [c2s-must/plain]\n"),
            &levelled_scenarios(),
        )
        .unwrap_err();
        assert!(
            error.contains("`require-should` entry `c2s-must/plain` names no SHOULD-level case"),
            "{error}"
        );
    }

    #[test]
    fn a_glob_star_matches_any_characters() {
        assert!(glob_matches("c2s-*/scram-*", "c2s-x/starttls/scram-sha-1"));
        assert!(glob_matches("c2s-x/plain", "c2s-x/plain"));
        assert!(!glob_matches("c2s-x/plain", "c2s-x/plain-2"));
        assert!(!glob_matches("*-plus", "c2s-x/scram-sha-1"));
    }
}
