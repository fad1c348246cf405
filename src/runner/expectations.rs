//! Expectations: per-target known deviations (`expectations/<target>.yaml`), like BoGo's
//! DisabledTests, so that CI fails only when behaviour changes.
//!
//! ```yaml
//! c2s-no-sasl-before-tls/self-signed/plain:
//!   outcome: fail
//!   reason: the server offers PLAIN before TLS (checked with openssl s_client ...)
//!   link: https://example.org/bug/1
//!   observed: rejected at tls by target (closed)
//! ```
//!
//! A case that fails as recorded is an expected deviation (`XFAIL`); one that passes although
//! a deviation is recorded is an unexpected pass (`XPASS`) and fails the run, so fixes are
//! noticed and the record is cleaned up. With `observed:`, the record matches only a failure
//! whose observation starts with that text; any other failure of the case is unexpected.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::Outcome;
use crate::scenario::{Position, Problem, yaml_options, yaml_problem};

/// The outcome a deviation records. Only `fail` exists: a skip is the harness's own decision
/// and an error is never acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviationOutcome {
    /// The target does not behave as the scenario expects.
    Fail,
}

impl DeviationOutcome {
    /// The verdict this deviation predicts.
    pub fn outcome(self) -> Outcome {
        match self {
            DeviationOutcome::Fail => Outcome::Fail,
        }
    }
}

/// A known deviation of one target in one case.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Deviation {
    /// The verdict the case is known to get.
    pub outcome: DeviationOutcome,
    /// Why, and how it was confirmed independently.
    pub reason: String,
    /// The upstream behaviour, bug or spec clause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The start of the observation the deviation was confirmed with, e.g.
    /// `rejected at tls by target (closed)` or `authenticated`. When set, a case that fails
    /// with another observation is a plain failure, not this deviation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
}

/// An expectations directory could not be loaded; the CLI exits with code 2.
#[derive(Debug, thiserror::Error)]
pub enum ExpectationsError {
    /// A file or the directory could not be read.
    #[error("{path}: cannot read: {source}", path = path.display())]
    Io {
        /// What.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not a valid expectations file, or names a case that does not exist.
    #[error("{path}:{line}:{column}: {message}", path = path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// `what is wrong; expected ...`.
        message: String,
    },
}

/// Every known deviation, by target name and case id.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    by_target: HashMap<String, HashMap<String, Arc<Deviation>>>,
}

impl Expectations {
    /// No recorded deviations: every case must pass.
    pub fn none() -> Expectations {
        Expectations::default()
    }

    /// Loads `dir/<target>.yaml` for every target named in `targets` that has such a file.
    /// Every case id in a file must be one of `case_ids`, so stale records are noticed.
    pub fn load_dir(
        dir: &Path,
        targets: &[&str],
        case_ids: &HashSet<&str>,
    ) -> Result<Expectations, ExpectationsError> {
        if !dir.is_dir() {
            return Err(ExpectationsError::Io {
                path: dir.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            });
        }
        let mut expectations = Expectations::default();
        for target in targets {
            let path = dir.join(format!("{target}.yaml"));
            if !path.exists() {
                continue;
            }
            let deviations = load_file(&path, case_ids)?;
            expectations
                .by_target
                .insert((*target).to_owned(), deviations);
        }
        Ok(expectations)
    }

    /// The recorded deviation of `target` in `case`, if any.
    pub fn lookup(&self, target: &str, case: &str) -> Option<Arc<Deviation>> {
        self.by_target.get(target)?.get(case).cloned()
    }
}

fn load_file(
    path: &Path,
    case_ids: &HashSet<&str>,
) -> Result<HashMap<String, Arc<Deviation>>, ExpectationsError> {
    let text = std::fs::read_to_string(path).map_err(|source| ExpectationsError::Io {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |problem: Problem| ExpectationsError::Invalid {
        path: path.to_owned(),
        line: problem.at.line,
        column: problem.at.column,
        message: problem.message,
    };
    let raw: HashMap<Spanned<String>, Deviation> =
        serde_saphyr::from_str_with_options(&text, yaml_options())
            .map_err(|e| invalid(yaml_problem(&e)))?;
    let mut entries: Vec<(Spanned<String>, Deviation)> = raw.into_iter().collect();
    entries.sort_by_key(|(case, _)| {
        let at = Position::at(case);
        (at.line, at.column)
    });
    let mut deviations = HashMap::new();
    for (case, deviation) in entries {
        if !case_ids.contains(case.value.as_str()) {
            return Err(invalid(Problem {
                at: Position::at(&case),
                message: format!(
                    "no loaded scenario has a case `{}`; expected a case id that `list` prints",
                    case.value
                ),
            }));
        }
        deviations.insert(case.value, Arc::new(deviation));
    }
    Ok(deviations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(name: &str, file: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "xmpp-interop-expectations-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), text).unwrap();
        dir
    }

    #[test]
    fn a_recorded_deviation_is_found_by_target_and_case() {
        let dir = dir_with(
            "found",
            "prosody.yaml",
            "c2s-x/plain:\n  outcome: fail\n  reason: offers PLAIN in clear\n  link: https://example.org/1\n",
        );
        let ids = HashSet::from(["c2s-x/plain", "c2s-x/scram-sha-1"]);
        let expectations = Expectations::load_dir(&dir, &["prosody", "ejabberd"], &ids).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let deviation = expectations.lookup("prosody", "c2s-x/plain").unwrap();
        assert_eq!(deviation.outcome.outcome(), Outcome::Fail);
        assert_eq!(deviation.link.as_deref(), Some("https://example.org/1"));
        assert!(
            expectations
                .lookup("prosody", "c2s-x/scram-sha-1")
                .is_none()
        );
        assert!(expectations.lookup("ejabberd", "c2s-x/plain").is_none());
    }

    #[test]
    fn a_stale_case_id_is_an_error_naming_its_line() {
        let dir = dir_with(
            "stale",
            "prosody.yaml",
            "c2s-x/plain:\n  outcome: fail\n  reason: r\nc2s-gone/plain:\n  outcome: fail\n  reason: r\n",
        );
        let ids = HashSet::from(["c2s-x/plain"]);
        let error = Expectations::load_dir(&dir, &["prosody"], &ids)
            .unwrap_err()
            .to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(error.contains("prosody.yaml:4:1"), "{error}");
        assert!(error.contains("c2s-gone/plain"), "{error}");
    }

    #[test]
    fn only_fail_can_be_recorded_as_a_deviation() {
        let dir = dir_with(
            "outcome",
            "prosody.yaml",
            "c2s-x/plain:\n  outcome: error\n  reason: r\n",
        );
        let ids = HashSet::from(["c2s-x/plain"]);
        let error = Expectations::load_dir(&dir, &["prosody"], &ids)
            .unwrap_err()
            .to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(error.contains("unknown value `error`"), "{error}");
    }
}
