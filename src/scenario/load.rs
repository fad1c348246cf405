//! Loading scenario files: YAML parsing, validation and matrix expansion.
//!
//! Every error is one line of the form `FILE:LINE:COLUMN: what is wrong; expected ...`, so an
//! editor can jump to it. The CLI prints a [`LoadError`] as is and exits with code 2.
//!
//! Files come from the file system ([`load_paths`]) or from the shipped set built into the
//! binary ([`load_built_in`]); the two share every step, and an error in a built-in file names
//! its repository path marked `built-in`.

use std::fmt;
use std::path::{Path, PathBuf};

use include_dir::Dir;
use serde_saphyr::{
    DuplicateKeyPolicy, Error as YamlError, MessageFormatter, UserMessageFormatter,
};

use super::model::Scenario;
use super::raw::RawScenario;
use super::resolve::{Position, Problem, resolve};
use crate::shipped;

/// The alias-replay and size limits for one scenario file. Scenario files are small and have
/// little use for aliases, so these are tight: an alias bomb fails within microseconds.
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        with_snippet: false,
        duplicate_keys: DuplicateKeyPolicy::Error,
        budget: serde_saphyr::budget! {
            max_aliases: 256,
            max_anchors: 256,
            max_depth: 16,
            max_nodes: 10_000,
            max_total_scalar_bytes: 1024 * 1024,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 10_000,
            max_replay_stack_depth: 8,
            max_alias_expansions_per_anchor: 64,
        },
    }
}

/// A scenario file could not be loaded; the message names file, line and column.
///
/// Every variant is a problem with the input, not with the harness: the CLI prints it and exits
/// with code 2.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file or directory could not be read.
    #[error("{path}: cannot read: {source}", path = path.display())]
    Io {
        /// What could not be read.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file is not UTF-8; `line` and `column` locate the first bad byte.
    #[error(
        "{path}:{line}:{column}: not valid UTF-8; expected a UTF-8 encoded YAML file",
        path = path.display()
    )]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: u64,
        /// 1-based column (in characters) of the first invalid byte.
        column: u64,
    },
    /// A directory holds no `*.yaml` / `*.yml` files.
    #[error(
        "{path}: no scenario files found; expected at least one *.yaml or *.yml file in this directory or below",
        path = path.display()
    )]
    NoScenarios {
        /// The directory.
        path: PathBuf,
    },
    /// The file is not a valid scenario: bad YAML, an unknown or missing field, a bad value,
    /// an inconsistent combination, or an id another file already uses.
    #[error("{path}:{line}:{column}: {message}", path = path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending node.
        line: u64,
        /// 1-based column (in characters) of the offending node.
        column: u64,
        /// `what is wrong; expected ...`.
        message: String,
    },
    /// Several of the above, in file order; printed one per line.
    #[error("{}", DisplayLines(.0))]
    Many(Vec<LoadError>),
    /// One of the above in the shipped set built into the binary: every line is marked
    /// `built-in`, the path is the file's path in the repository.
    #[error("{}", DisplayBuiltIn(.0))]
    BuiltIn(Box<LoadError>),
}

/// Displays an error's lines, each marked `built-in`.
struct DisplayBuiltIn<'a>(&'a LoadError);

impl fmt::Display for DisplayBuiltIn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.0.to_string().lines().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "built-in {line}")?;
        }
        Ok(())
    }
}

/// Displays errors one per line.
struct DisplayLines<'a>(&'a [LoadError]);

impl fmt::Display for DisplayLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl LoadError {
    /// An [`LoadError::Invalid`] for `problem` in `path`.
    fn invalid(path: &Path, problem: Problem) -> LoadError {
        LoadError::Invalid {
            path: path.to_owned(),
            line: problem.at.line,
            column: problem.at.column,
            message: problem.message,
        }
    }

    /// `errors` as one error: itself if there is one, [`LoadError::Many`] otherwise.
    fn from_all(mut errors: Vec<LoadError>) -> LoadError {
        if errors.len() == 1
            && let Some(only) = errors.pop()
        {
            return only;
        }
        LoadError::Many(errors)
    }
}

/// Loads one scenario file, or every `*.yaml` / `*.yml` file under a directory (recursively,
/// in sorted path order, skipping names that start with `.`).
pub fn load_path(path: &Path) -> Result<Vec<Scenario>, LoadError> {
    load_paths(&[path.to_owned()])
}

/// Loads every scenario file named or found under `paths`; scenario ids must be unique across
/// all of them.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<Scenario>, LoadError> {
    load_from(Files::Disk, paths)
}

/// Loads the shipped scenarios built into the binary (the repository's `scenarios/` when it
/// was built); their sources are their repository paths, `scenarios/c2s/...`.
pub fn load_built_in() -> Result<Vec<Scenario>, LoadError> {
    load_embedded(&shipped::SCENARIOS)
}

/// Loads every scenario of `dir`, an embedded `scenarios/` directory.
fn load_embedded(dir: &'static Dir<'static>) -> Result<Vec<Scenario>, LoadError> {
    load_from(
        Files::BuiltIn(dir),
        &[PathBuf::from(shipped::SCENARIOS_ROOT)],
    )
    .map_err(|e| LoadError::BuiltIn(Box::new(e)))
}

/// The scenarios a command works on: the files and directories named on its command line,
/// or, when none is, the shipped set built into the binary. A path always wins; without one
/// the built-in set is used even in a checkout (it is the checkout's `scenarios/` as built).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScenarioSet {
    /// The shipped scenarios built into the binary.
    BuiltIn,
    /// Scenario files and directories on the file system.
    Paths(Vec<PathBuf>),
}

impl ScenarioSet {
    /// The set named by a command line's `paths`: those, or the built-in set when empty.
    pub fn from_paths(paths: &[PathBuf]) -> ScenarioSet {
        if paths.is_empty() {
            ScenarioSet::BuiltIn
        } else {
            ScenarioSet::Paths(paths.to_vec())
        }
    }

    /// Loads every scenario of the set.
    pub fn load(&self) -> Result<Vec<Scenario>, LoadError> {
        match self {
            ScenarioSet::BuiltIn => load_built_in(),
            ScenarioSet::Paths(paths) => load_paths(paths),
        }
    }

    /// The bytes of `source`, the source file of a scenario this set loaded (certificates
    /// record their digest).
    pub fn read_source(&self, source: &Path) -> std::io::Result<Vec<u8>> {
        let files = match self {
            ScenarioSet::BuiltIn => Files::BuiltIn(&shipped::SCENARIOS),
            ScenarioSet::Paths(_) => Files::Disk,
        };
        files.read(source)
    }
}

impl fmt::Display for ScenarioSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioSet::BuiltIn => f.write_str("the built-in set"),
            ScenarioSet::Paths(paths) => {
                let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                f.write_str(&shown.join(", "))
            }
        }
    }
}

/// Where scenario files are read from.
#[derive(Clone, Copy)]
enum Files {
    /// The file system.
    Disk,
    /// An embedded `scenarios/` directory; its files are named by their repository paths.
    BuiltIn(&'static Dir<'static>),
}

impl Files {
    /// Whether `path` is a directory; an error when it does not exist.
    fn is_dir(self, path: &Path) -> Result<bool, LoadError> {
        match self {
            Files::Disk => std::fs::metadata(path)
                .map(|metadata| metadata.is_dir())
                .map_err(|source| LoadError::Io {
                    path: path.to_owned(),
                    source,
                }),
            Files::BuiltIn(dir) => {
                let files = shipped::files_of(dir, shipped::SCENARIOS_ROOT);
                if files.iter().any(|file| file.path() == path) {
                    Ok(false)
                } else if files.iter().any(|file| file.path().starts_with(path)) {
                    Ok(true)
                } else {
                    Err(LoadError::Io {
                        path: path.to_owned(),
                        source: std::io::ErrorKind::NotFound.into(),
                    })
                }
            }
        }
    }

    /// Appends every non-hidden `*.yaml` / `*.yml` file below `dir` to `found`.
    fn collect(self, dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), LoadError> {
        match self {
            Files::Disk => collect_files(dir, found),
            Files::BuiltIn(embedded) => {
                found.extend(
                    shipped::files_of(embedded, shipped::SCENARIOS_ROOT)
                        .iter()
                        .map(shipped::ShippedFile::path)
                        .filter(|path| {
                            path.strip_prefix(dir).is_ok_and(|below| {
                                !below.iter().any(hidden)
                                    && below
                                        .extension()
                                        .is_some_and(|ext| ext == "yaml" || ext == "yml")
                            })
                        }),
                );
                Ok(())
            }
        }
    }

    /// The bytes of the file at `path`.
    fn read(self, path: &Path) -> std::io::Result<Vec<u8>> {
        match self {
            Files::Disk => std::fs::read(path),
            Files::BuiltIn(dir) => shipped::files_of(dir, shipped::SCENARIOS_ROOT)
                .into_iter()
                .find(|file| file.path() == path)
                .map(|file| file.contents.to_vec())
                .ok_or_else(|| std::io::ErrorKind::NotFound.into()),
        }
    }
}

/// Loads every scenario file named or found under `paths` in `source`.
fn load_from(source: Files, paths: &[PathBuf]) -> Result<Vec<Scenario>, LoadError> {
    let mut files = Vec::new();
    for path in paths {
        if source.is_dir(path)? {
            let mut found = Vec::new();
            source.collect(path, &mut found)?;
            found.sort();
            if found.is_empty() {
                return Err(LoadError::NoScenarios {
                    path: path.to_owned(),
                });
            }
            files.append(&mut found);
        } else {
            files.push(path.to_owned());
        }
    }

    let mut errors = Vec::new();
    let mut loaded: Vec<(Scenario, Position)> = Vec::new();
    for file in &files {
        match load_file(source, file) {
            Ok((scenario, id_at)) => {
                if let Some((first, first_at)) = loaded.iter().find(|(s, _)| s.id == scenario.id) {
                    errors.push(LoadError::invalid(
                        file,
                        Problem {
                            at: id_at,
                            message: format!(
                                "duplicate scenario id `{}`, already used at {}:{}:{}; expected ids unique across all loaded files",
                                scenario.id,
                                first.source.display(),
                                first_at.line,
                                first_at.column
                            ),
                        },
                    ));
                } else {
                    loaded.push((scenario, id_at));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(LoadError::from_all(errors));
    }
    add_controls(source, &mut loaded, &files)?;
    Ok(loaded.into_iter().map(|(s, _)| s).collect())
}

/// Makes sure every `control:` names a loaded case. A control whose scenario was not asked for
/// is looked for beside the scenario that names it (the files of its directory), and that
/// scenario is loaded as `control_only`; a control found nowhere is a load error at the
/// scenario's id.
fn add_controls(
    source_files: Files,
    loaded: &mut Vec<(Scenario, Position)>,
    asked: &[PathBuf],
) -> Result<(), LoadError> {
    let mut errors = Vec::new();
    let mut index = 0;
    while index < loaded.len() {
        let missing: Vec<String> = {
            let known: std::collections::HashSet<&str> = loaded
                .iter()
                .flat_map(|(s, _)| s.cases.iter().map(|c| c.id.as_str()))
                .collect();
            let mut missing: Vec<String> = loaded[index]
                .0
                .cases
                .iter()
                .filter_map(|c| c.control.clone())
                .filter(|control| !known.contains(control.as_str()))
                .collect();
            missing.dedup();
            missing
        };
        if !missing.is_empty() {
            let source = loaded[index].0.source.clone();
            let beside = sibling_scenarios(source_files, &source, asked, loaded);
            for (scenario, at) in beside {
                let wanted = missing
                    .iter()
                    .any(|control| scenario.cases.iter().any(|c| &c.id == control));
                if wanted && !loaded.iter().any(|(s, _)| s.id == scenario.id) {
                    loaded.push((scenario, at));
                }
            }
            let known: std::collections::HashSet<&str> = loaded
                .iter()
                .flat_map(|(s, _)| s.cases.iter().map(|c| c.id.as_str()))
                .collect();
            let (scenario, id_at) = &loaded[index];
            for control in missing.iter().filter(|c| !known.contains(c.as_str())) {
                errors.push(LoadError::invalid(
                    &scenario.source,
                    Problem {
                        at: *id_at,
                        message: format!(
                            "control `{control}` of scenario `{}` is no case of the loaded \
                             scenarios or of those beside this file; expected the id of a \
                             case with the same settings and no misbehaviour",
                            scenario.id
                        ),
                    },
                ));
            }
        }
        index += 1;
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(LoadError::from_all(errors))
    }
}

/// The scenarios in the files beside `source` that were not asked for, each marked
/// `control_only`. Files that do not load are left out: only the scenario that names a
/// control found nowhere is reported.
fn sibling_scenarios(
    files_of: Files,
    source: &Path,
    asked: &[PathBuf],
    loaded: &[(Scenario, Position)],
) -> Vec<(Scenario, Position)> {
    let Some(dir) = source.parent() else {
        return Vec::new();
    };
    let mut files = Vec::new();
    if files_of.collect(dir, &mut files).is_err() {
        return Vec::new();
    }
    files.sort();
    files
        .into_iter()
        .filter(|file| !asked.contains(file) && !loaded.iter().any(|(s, _)| &s.source == file))
        .filter_map(|file| load_file(files_of, &file).ok())
        .map(|(mut scenario, at)| {
            scenario.control_only = true;
            (scenario, at)
        })
        .collect()
}

/// Whether a directory entry named `name` is hidden (and so skipped).
fn hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

/// Appends every non-hidden `*.yaml` / `*.yml` file below `dir` to `files`.
fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if hidden(&entry.file_name()) {
            continue;
        }
        let path = entry.path();
        let metadata = std::fs::metadata(&path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        if metadata.is_dir() {
            collect_files(&path, files)?;
        } else if metadata.is_file()
            && path
                .extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads, parses and resolves one scenario file.
fn load_file(files: Files, path: &Path) -> Result<(Scenario, Position), LoadError> {
    let bytes = files.read(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = position_of_byte(e.as_bytes(), e.utf8_error().valid_up_to());
        LoadError::NotUtf8 {
            path: path.to_owned(),
            line: at.line,
            column: at.column,
        }
    })?;
    load_str(&text, path)
}

/// Parses and resolves the text of one scenario file; `path` is for messages and sources.
pub(super) fn load_str(text: &str, path: &Path) -> Result<(Scenario, Position), LoadError> {
    let raw: RawScenario = serde_saphyr::from_str_with_options(text, yaml_options())
        .map_err(|e| LoadError::invalid(path, yaml_problem(&e)))?;
    resolve(raw, path).map_err(|problems| {
        LoadError::from_all(
            problems
                .into_iter()
                .map(|p| LoadError::invalid(path, p))
                .collect(),
        )
    })
}

/// The line and column of byte `offset` in `bytes`, which are valid UTF-8 before it.
fn position_of_byte(bytes: &[u8], offset: usize) -> Position {
    let before = String::from_utf8_lossy(&bytes[..offset.min(bytes.len())]);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position {
        line: before.matches('\n').count() as u64 + 1,
        column: before[line_start..].chars().count() as u64 + 1,
    }
}

/// `"a, b, c"`.
fn list(items: &[&str]) -> String {
    items.join(", ")
}

/// Our one-line wording for a parse error, and where it is.
pub(crate) fn yaml_problem(err: &YamlError) -> Problem {
    let mut inner = err.without_snippet();
    while let YamlError::AliasError { error, .. } = inner {
        inner = error.without_snippet();
    }
    let at = Position::of(err.location().unwrap_or(serde_saphyr::Location::UNKNOWN));
    let message = match inner {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => format!(
            "unknown field `{field}`; expected one of {}",
            list(expected)
        ),
        YamlError::SerdeUnknownVariant {
            variant, expected, ..
        } => format!(
            "unknown value `{variant}`; expected one of {}",
            list(expected)
        ),
        YamlError::SerdeMissingField { field, .. } => {
            format!("missing required field `{field}`; expected `{field}:` in this mapping")
        }
        YamlError::DuplicateMappingKey { key: Some(key), .. } => {
            format!("duplicate key `{key}`; expected each key once per mapping")
        }
        YamlError::DuplicateMappingKey { key: None, .. } => {
            "duplicate key; expected each key once per mapping".to_owned()
        }
        YamlError::MultipleDocuments { .. } => {
            "more than one YAML document; expected exactly one scenario per file".to_owned()
        }
        YamlError::AliasExpansionLimitExceeded {
            max_expansions_per_anchor,
            ..
        } => format!(
            "an anchor is used more than {max_expansions_per_anchor} times (alias bomb?); expected a scenario file with few aliases"
        ),
        YamlError::AliasReplayLimitExceeded {
            max_total_replayed_events,
            ..
        } => format!(
            "aliases expand to more than {max_total_replayed_events} YAML events (alias bomb?); expected a scenario file with few aliases"
        ),
        YamlError::AliasReplayStackDepthExceeded { max_depth, .. } => format!(
            "aliases nest more than {max_depth} deep (alias bomb?); expected a scenario file with few aliases"
        ),
        YamlError::Budget { .. } | YamlError::AliasReplayCounterOverflow { .. } => format!(
            "{}; expected a small scenario file with few aliases",
            UserMessageFormatter.format_message(inner)
        ),
        YamlError::Unexpected { expected, .. } => {
            format!("unexpected YAML node; expected {expected}")
        }
        YamlError::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => format!("invalid type: {unexpected}; expected {expected}"),
        other => format!(
            "{}; expected a YAML mapping in the scenario file format",
            UserMessageFormatter.format_message(other)
        ),
    };
    Problem { at, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{CertificateProfile, SaslProfile};

    /// A valid scenario body to which each test appends or substitutes lines.
    const BASE: &str = "id: t\ntitle: T\nspec: [RFC 6120]\nrole: client\nexpect: authenticated\n";

    /// `yaml` with a requirement appended (after every line the tests point at), unless it is
    /// empty or has one.
    fn with_requirement(yaml: &str) -> String {
        if yaml.is_empty() || yaml.contains("requirement") {
            yaml.to_owned()
        } else {
            format!("{yaml}\nrequirement: {{ level: MUST, clause: RFC 6120 §6, text: t }}\n")
        }
    }

    /// The error text for `yaml`, loaded as `t.yaml`.
    fn error(yaml: &str) -> String {
        match load_str(&with_requirement(yaml), Path::new("t.yaml")) {
            Ok((s, _)) => panic!("loaded {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// The scenario in `yaml`, which must load.
    fn scenario(yaml: &str) -> Scenario {
        load_str(&with_requirement(yaml), Path::new("t.yaml"))
            .unwrap()
            .0
    }

    #[test]
    fn the_built_in_set_is_the_checkouts_scenarios_with_their_repository_paths() {
        let built_in = load_built_in().expect("the shipped set loads");
        let on_disk = load_path(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
            .expect("the checkout's scenarios load");
        assert_eq!(built_in.len(), on_disk.len());
        for (embedded, file) in built_in.iter().zip(&on_disk) {
            assert_eq!(embedded.id, file.id);
            assert_eq!(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(&embedded.source),
                file.source
            );
            assert!(embedded.source.starts_with("scenarios"));
        }
    }

    /// An embedded `scenarios/` holding one file whose line 5 names an unknown transport.
    static BROKEN: Dir<'static> = Dir::new(
        "",
        &[include_dir::DirEntry::Dir(Dir::new(
            "c2s",
            &[include_dir::DirEntry::File(include_dir::File::new(
                "c2s/x.yaml",
                b"id: x\ntitle: t\nspec: [RFC 6120]\nrole: client\ntransport: tls\n\
                  certificate: self-signed\nsasl: { mechanism: PLAIN }\nexpect: authenticated\n\
                  requirement: { level: MUST, clause: RFC 6120 \xc2\xa76, text: t }\n",
            ))],
        ))],
    );

    #[test]
    fn an_error_in_a_built_in_scenario_names_its_repository_path_marked_built_in() {
        let error = load_embedded(&BROKEN).unwrap_err().to_string();
        assert!(
            error.starts_with("built-in scenarios/c2s/x.yaml:5:12: unknown value `tls`"),
            "{error}"
        );
    }

    #[test]
    fn certificate_any_pins_neither_chain_nor_key_and_provisions_the_default_chain() {
        let any = scenario(&format!(
            "{BASE}transport: starttls\ncertificate: any\nsasl: {{ mechanism: PLAIN }}\n"
        ));
        let case = &any.cases[0];
        assert_eq!(case.id, "t");
        assert_eq!(case.certificate, CertificateProfile::DEFAULT_CHAIN);
        assert!(!case.certificate_pinned && !case.key_pinned);
        let keyed = scenario(&format!(
            "{BASE}transport: starttls\ncertificate: any\nkey: rsa-2048\nsasl: {{ mechanism: PLAIN }}\n"
        ));
        assert!(!keyed.cases[0].certificate_pinned && keyed.cases[0].key_pinned);
        let matrix = scenario(&format!(
            "{BASE}transport: starttls\nsasl: {{ mechanism: PLAIN }}\nmatrix:\n  certificate: [self-signed, startcom-chain]\n"
        ));
        assert!(
            matrix
                .cases
                .iter()
                .all(|c| c.certificate_pinned && !c.key_pinned)
        );
    }

    #[test]
    fn an_unknown_certificate_is_an_error_at_its_value_listing_any_and_the_profiles() {
        let yaml = format!(
            "{BASE}transport: starttls\ncertificate: anything\nsasl: {{ mechanism: PLAIN }}\n"
        );
        let message = error(&yaml);
        assert!(
            message.starts_with(
                "t.yaml:7:14: unknown value `anything`; expected one of any, self-signed, "
            ),
            "{message}"
        );
    }

    #[test]
    fn downgrade_protection_with_a_non_scram_mechanism_points_at_the_mechanism_xep0474() {
        let yaml = format!(
            "{BASE}transport: starttls\ncertificate: self-signed\nsasl:\n  downgrade-protection: true\nmatrix:\n  sasl.mechanism: [SCRAM-SHA-1, PLAIN]\n"
        );
        assert_eq!(
            error(&yaml),
            "t.yaml:11:33: `sasl.downgrade-protection: true` (XEP-0474) protects SCRAM only, but this scenario uses PLAIN; expected a SCRAM mechanism or no downgrade-protection"
        );
    }

    #[test]
    fn sasl_profile_and_downgrade_protection_reach_every_case() {
        let yaml = format!(
            "{BASE}transport: starttls\ncertificate: self-signed\nsasl:\n  mechanism: SCRAM-SHA-256\n  profile: sasl2\n  downgrade-protection: true\n"
        );
        let loaded = scenario(&yaml);
        assert_eq!(loaded.cases[0].sasl.profile, SaslProfile::Sasl2);
        assert!(loaded.cases[0].sasl.downgrade_protection);
        let default = scenario(&format!(
            "{BASE}transport: starttls\ncertificate: self-signed\nsasl: {{ mechanism: PLAIN }}\n"
        ));
        assert_eq!(default.cases[0].sasl.profile, SaslProfile::Sasl1);
        assert!(!default.cases[0].sasl.downgrade_protection);
        let typo = error(&format!(
            "{BASE}transport: starttls\ncertificate: self-signed\nsasl: {{ mechanism: PLAIN, profile: sasl3 }}\n"
        ));
        assert!(typo.starts_with("t.yaml:8:"), "{typo}");
        assert!(typo.contains("sasl1, sasl2"), "{typo}");
    }

    #[test]
    fn tls_stack_and_versions_reach_every_case() {
        let loaded = scenario(&format!(
            "{BASE}transport: starttls\ncertificate: self-signed\ntls: {{ stack: openssl, versions: [TLS1.2] }}\nsasl: {{ mechanism: SCRAM-SHA-1-PLUS, channel-binding: tls-unique }}\n"
        ));
        let tls = &loaded.cases[0].tls;
        assert_eq!(tls.stack, crate::scenario::TlsStack::Openssl);
        assert_eq!(tls.to_string(), "openssl TLS1.2");
        let default = scenario(&format!(
            "{BASE}transport: starttls\ncertificate: self-signed\nsasl: {{ mechanism: PLAIN }}\n"
        ));
        assert!(default.cases[0].tls.is_default());
    }

    /// RFC 5929 §3.1 takes the first Finished message, which only the OpenSSL stack exposes and
    /// which RFC 9266 §3 leaves undefined for TLS 1.3.
    #[test]
    fn tls_unique_without_openssl_on_tls_1_2_points_at_the_binding_rfc5929_3_1() {
        let yaml = format!(
            "{BASE}transport: starttls\ncertificate: self-signed\ntls: {{ stack: openssl }}\nsasl: {{ mechanism: SCRAM-SHA-1-PLUS, channel-binding: tls-unique }}\n"
        );
        assert_eq!(
            error(&yaml),
            "t.yaml:9:55: `tls-unique` needs the first Finished message of a TLS 1.2 handshake (RFC 5929 §3.1; RFC 9266 §3 leaves it undefined for TLS 1.3), which only the OpenSSL stack exposes; expected `tls: { stack: openssl, versions: [TLS1.2] }`"
        );
    }

    /// RFC 8996 §4: only the OpenSSL stack can offer TLS 1.0 to see whether a peer refuses it.
    #[test]
    fn tls_1_0_on_rustls_points_at_the_version_rfc8996_4() {
        assert_eq!(
            error(&format!(
                "{BASE}transport: starttls\ncertificate: self-signed\ntls: {{ versions: [TLS1.0] }}\nsasl: {{ mechanism: PLAIN }}\n"
            )),
            "t.yaml:8:19: rustls speaks TLS 1.2 and 1.3 only, not TLS1.0; expected `stack: openssl` for a case that offers a version RFC 8996 forbids"
        );
    }

    /// RFC 9325 §4.1: a class of forbidden TLS 1.2 suites reaches the case on OpenSSL with
    /// TLS 1.2 alone; elsewhere, or misspelt, it is an error at its line and column.
    #[test]
    fn forbidden_suite_classes_need_openssl_on_tls_1_2_rfc9325_4_1() {
        let loaded = scenario(&format!(
            "{BASE}transport: starttls\ncertificate: self-signed\ntls: {{ stack: openssl, versions: [TLS1.2], ciphers: null-encryption }}\nsasl: {{ mechanism: PLAIN }}\n"
        ));
        let tls = &loaded.cases[0].tls;
        assert_eq!(
            tls.ciphers,
            Some(crate::scenario::CipherClass::NullEncryption)
        );
        assert!(tls.offers_forbidden());
        assert_eq!(tls.to_string(), "openssl TLS1.2 ciphers:null-encryption");
        assert_eq!(
            error(&format!(
                "{BASE}transport: starttls\ncertificate: self-signed\ntls: {{ versions: [TLS1.2], ciphers: static-rsa }}\nsasl: {{ mechanism: PLAIN }}\n"
            )),
            "t.yaml:8:37: only the OpenSSL stack can offer or accept `static-rsa` suites, and only TLS 1.2 chooses among them (RFC 9325 §4.1); expected `tls: { stack: openssl, versions: [TLS1.2], ciphers: static-rsa }`"
        );
        let with_tls13 = error(&format!(
            "{BASE}transport: starttls\ncertificate: self-signed\ntls: {{ stack: openssl, ciphers: rc4 }}\nsasl: {{ mechanism: PLAIN }}\n"
        ));
        assert!(with_tls13.starts_with("t.yaml:8:"), "{with_tls13}");
        let unknown = error(&format!(
            "{BASE}transport: starttls\ncertificate: self-signed\ntls: {{ stack: openssl, versions: [TLS1.2], ciphers: EXPORT }}\nsasl: {{ mechanism: PLAIN }}\n"
        ));
        assert!(unknown.starts_with("t.yaml:8:"), "{unknown}");
        assert!(
            unknown.contains("null-encryption, rc4, below-112-bits, 3des, static-rsa, static-dh"),
            "{unknown}"
        );
    }

    #[test]
    fn unknown_tls_stacks_and_repeated_versions_are_located() {
        let unknown = error(&format!(
            "{BASE}transport: starttls\ncertificate: self-signed\ntls: {{ stack: gnutls }}\nsasl: {{ mechanism: PLAIN }}\n"
        ));
        assert!(unknown.starts_with("t.yaml:8:"), "{unknown}");
        assert!(unknown.contains("rustls, openssl"), "{unknown}");
        let version = error(&format!(
            "{BASE}transport: starttls\ncertificate: self-signed\ntls: {{ stack: openssl, versions: [SSL3] }}\nsasl: {{ mechanism: PLAIN }}\n"
        ));
        assert!(
            version.contains("expected one of TLS1.0, TLS1.1, TLS1.2, TLS1.3"),
            "{version}"
        );
        assert_eq!(
            error(&format!(
                "{BASE}transport: starttls\ncertificate: self-signed\ntls: {{ versions: [TLS1.2, TLS1.2] }}\nsasl: {{ mechanism: PLAIN }}\n"
            )),
            "t.yaml:8:27: duplicate TLS version `TLS1.2` (first at line 8, column 19); expected each version once"
        );
    }

    #[test]
    fn plaintext_with_unrelated_root_points_at_the_trust_value() {
        let yaml = format!(
            "{BASE}transport: plaintext\ncertificate: self-signed\ntrust: unrelated-root\nsasl: {{ mechanism: PLAIN }}\n"
        );
        assert_eq!(
            error(&yaml),
            "t.yaml:8:8: trust `unrelated-root` is meaningless with transport `plaintext` (no certificate is ever presented); expected `chain-root` or a TLS transport"
        );
    }

    #[test]
    fn plaintext_in_matrix_with_unrelated_root_in_matrix_is_an_error() {
        let yaml = format!(
            "{BASE}certificate: self-signed\nsasl: {{ mechanism: PLAIN }}\nmatrix:\n  transport: [starttls, plaintext]\n  trust: [chain-root, unrelated-root]\n"
        );
        assert_eq!(
            error(&yaml),
            "t.yaml:10:23: trust `unrelated-root` is meaningless with transport `plaintext` (no certificate is ever presented); expected `chain-root` or a TLS transport"
        );
    }

    #[test]
    fn field_both_at_top_level_and_in_matrix_points_at_the_matrix_key() {
        let yaml = format!(
            "{BASE}transport: starttls\ncertificate: self-signed\nsasl:\n  mechanism: PLAIN\nmatrix:\n  sasl.mechanism: [PLAIN, SCRAM-SHA-1]\n  transport: [starttls]\n"
        );
        assert_eq!(
            error(&yaml),
            "t.yaml:12:3: `transport` is set both in matrix and at line 6, column 12; expected it in one place only\n\
             t.yaml:11:3: `sasl.mechanism` is set both in matrix and at line 9, column 14; expected it in one place only"
        );
    }

    #[test]
    fn duplicate_matrix_value_points_at_the_repeat() {
        let yaml = format!(
            "{BASE}transport: starttls\nsasl: {{ mechanism: PLAIN }}\nmatrix:\n  certificate: [self-signed, self-signed]\n"
        );
        assert_eq!(
            error(&yaml),
            "t.yaml:9:30: duplicate value `self-signed` in matrix `certificate` (first at line 9, column 17); expected each value once"
        );
    }

    #[test]
    fn unknown_matrix_key_and_empty_matrix_are_errors() {
        let yaml = format!(
            "{BASE}transport: starttls\ncertificate: self-signed\nsasl: {{ mechanism: PLAIN }}\nmatrix:\n  sasl.mech: [PLAIN]\n"
        );
        assert_eq!(
            error(&yaml),
            "t.yaml:10:3: unknown field `sasl.mech` in matrix; expected one of transport, certificate, key, trust, sasl.mechanism, sasl.credentials"
        );
        let yaml = format!(
            "{BASE}transport: starttls\ncertificate: self-signed\nsasl: {{ mechanism: PLAIN }}\nmatrix: {{}}\n"
        );
        assert_eq!(
            error(&yaml),
            "t.yaml:9:9: matrix is empty; expected one or more of transport, certificate, key, trust, sasl.mechanism, sasl.credentials"
        );
    }

    #[test]
    fn missing_mechanism_points_at_the_sasl_mapping() {
        let yaml = format!(
            "{BASE}transport: starttls\ncertificate: self-signed\nsasl:\n  credentials: wrong-password\n"
        );
        assert_eq!(
            error(&yaml),
            "t.yaml:9:3: missing required field `sasl.mechanism`; expected one of PLAIN, SCRAM-SHA-1, SCRAM-SHA-256, SCRAM-SHA-512, SCRAM-SHA-1-PLUS, SCRAM-SHA-256-PLUS, SCRAM-SHA-512-PLUS, EXTERNAL under `sasl:` or as a matrix list"
        );
    }

    #[test]
    fn invalid_id_points_at_the_id() {
        let yaml = BASE.replace("id: t", "id: C2S_auth")
            + "transport: starttls\ncertificate: self-signed\nsasl: { mechanism: PLAIN }\n";
        assert_eq!(
            error(&yaml),
            "t.yaml:1:5: invalid id `C2S_auth`; expected lowercase letters, digits and `-`, not starting with `-`"
        );
    }

    #[test]
    fn every_problem_in_an_empty_file_is_reported() {
        let text = error("");
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "t.yaml:1:1: missing required field `id`; expected `id: some-name`",
                "t.yaml:1:1: missing required field `title`; expected a one-line description",
                "t.yaml:1:1: missing required field `spec`; expected a list of specification clauses",
                "t.yaml:1:1: missing required field `role`; expected one of client, server, originating, receiving",
                "t.yaml:1:1: missing required field `expect`; expected `authenticated` or `rejected: { step: ... }`",
                "t.yaml:1:1: missing required field `requirement`; expected `requirement: { level: MUST, clause: RFC 6120 §6.4.6, text: ... }` quoting the clause the scenario checks",
                "t.yaml:1:1: missing required field `transport`; expected one of starttls, direct-tls, plaintext here or as a matrix list",
                "t.yaml:1:1: missing required field `certificate`; expected one of self-signed, cacert-intermediate, startcom-chain, wildcard, srv-id, srv-id-server-only, srv-id-client-only, xmppaddr, cn-only, expired, not-yet-valid, wrong-domain, missing-intermediate, untrusted-root, intermediate-not-ca, pathlen-exceeded, wrong-eku, weak-rsa-1024, client-alice, client-wrong-jid, client-expired, client-untrusted here or as a matrix list, or `any`",
                "t.yaml:1:1: missing required field `sasl.mechanism`; expected one of PLAIN, SCRAM-SHA-1, SCRAM-SHA-256, SCRAM-SHA-512, SCRAM-SHA-1-PLUS, SCRAM-SHA-256-PLUS, SCRAM-SHA-512-PLUS, EXTERNAL under `sasl:` or as a matrix list",
            ]
        );
    }

    #[test]
    fn second_yaml_document_is_an_error() {
        let yaml = format!(
            "{BASE}transport: starttls\ncertificate: self-signed\nsasl: {{ mechanism: PLAIN }}\n---\nid: u\n"
        );
        assert_eq!(
            error(&yaml),
            "t.yaml:10:1: more than one YAML document; expected exactly one scenario per file"
        );
    }

    #[test]
    fn partial_matrix_names_cases_by_matrix_values_only() {
        let yaml = format!(
            "{BASE}transport: direct-tls\nkey: rsa-2048\nsasl: {{ mechanism: SCRAM-SHA-1 }}\nmatrix:\n  certificate: [startcom-chain, self-signed]\n  sasl.credentials: [unknown-user]\n"
        );
        let s = scenario(&yaml);
        let ids: Vec<&str> = s.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "t/startcom-chain/unknown-user",
                "t/self-signed/unknown-user"
            ]
        );
        assert!(
            s.cases
                .iter()
                .all(|c| c.key == super::super::model::KeyType::Rsa2048)
        );
    }
}
