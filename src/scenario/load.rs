//! Loading scenario files: YAML parsing, validation and matrix expansion.
//!
//! Every error is one line of the form `FILE:LINE:COLUMN: what is wrong; expected ...`, so an
//! editor can jump to it. The CLI prints a [`LoadError`] as is and exits with code 2.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::{
    DuplicateKeyPolicy, Error as YamlError, MessageFormatter, UserMessageFormatter,
};

use super::model::Scenario;
use super::raw::RawScenario;
use super::resolve::{Position, Problem, resolve};

/// The alias-replay and size limits for one scenario file. Scenario files are small and have
/// little use for aliases, so these are tight: an alias bomb fails within microseconds.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        with_snippet: false,
        duplicate_keys: DuplicateKeyPolicy::Error,
        budget: serde_saphyr::budget! {
            max_aliases: 256,
            max_anchors: 256,
            max_depth: 16,
            max_documents: 1,
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
        /// Why.
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
        if errors.len() == 1 {
            if let Some(only) = errors.pop() {
                return only;
            }
        }
        LoadError::Many(errors)
    }
}

/// Loads one scenario file, or every `*.yaml` / `*.yml` file under a directory (recursively).
///
/// Directory entries whose name starts with `.` are skipped; files load in sorted path order.
/// Every file is checked and all errors are returned together (see [`LoadError::Many`]).
pub fn load_path(path: &Path) -> Result<Vec<Scenario>, LoadError> {
    let metadata = std::fs::metadata(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let files = if metadata.is_dir() {
        let mut files = Vec::new();
        collect_files(path, &mut files)?;
        files.sort();
        if files.is_empty() {
            return Err(LoadError::NoScenarios {
                path: path.to_owned(),
            });
        }
        files
    } else {
        vec![path.to_owned()]
    };

    let mut errors = Vec::new();
    let mut loaded: Vec<(Scenario, Position)> = Vec::new();
    for file in &files {
        match load_file(file) {
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
    if errors.is_empty() {
        Ok(loaded.into_iter().map(|(s, _)| s).collect())
    } else {
        Err(LoadError::from_all(errors))
    }
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
fn load_file(path: &Path) -> Result<(Scenario, Position), LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
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
    let raw: RawScenario = serde_saphyr::from_str_with_options(&text, yaml_options())
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
fn yaml_problem(err: &YamlError) -> Problem {
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
        YamlError::Budget { .. }
        | YamlError::AliasReplayLimitExceeded { .. }
        | YamlError::AliasExpansionLimitExceeded { .. }
        | YamlError::AliasReplayStackDepthExceeded { .. }
        | YamlError::AliasReplayCounterOverflow { .. } => format!(
            "{} (alias bomb?); expected a small scenario file with few aliases",
            UserMessageFormatter.format_message(inner)
        ),
        other => format!(
            "{}; expected a scenario mapping (see the scenario file format)",
            UserMessageFormatter.format_message(other)
        ),
    };
    Problem { at, message }
}
