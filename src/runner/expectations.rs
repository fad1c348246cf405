//! Expectations: per-target known deviations (`expectations/<kind>/<target>.yaml`), like
//! BoGo's DisabledTests, so that CI fails only when behaviour changes.
//!
//! ```yaml
//! c2s-*/scram-sha-512:                # a case id, or a pattern (`*` any characters, `?` one)
//!   outcome: fail                     # fail (a MUST broken) or warn (a SHOULD not followed)
//!   clause: RFC 6120 §6.4.6           # the clause the target breaks
//!   observed: { rejected: { step: sasl, condition: not-authorized, by: target } }
//!   reason: ignores the authzid (checked with openssl s_client ...)
//!   link: https://example.org/bug/1
//! ```
//!
//! A case that ends as recorded (the outcome, and the observation when the record gives one)
//! is an expected deviation (`XFAIL`/`XWARN`); one that passes although a deviation is recorded
//! is an unexpected pass (`XPASS`), and one that ends in any other way (another failure, skip,
//! unsupported, inconclusive) is unexpected too: both fail the run, so fixes are noticed and
//! records stay true. Loading is strict: a file named after no loaded target, a record that
//! matches no loaded case, and a case that two records match are load errors.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::{CaseResult, Outcome};
use crate::scenario::{Expectation, Position, Problem, yaml_options, yaml_problem};

/// The outcome a deviation records: only violations of the clause the case checks. A skip is
/// the harness's own decision, an error is never acceptable, and `unsupported`, `inconclusive`
/// and `info` are not deviations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviationOutcome {
    /// A MUST or MUST NOT is broken.
    Fail,
    /// A SHOULD or SHOULD NOT is not followed.
    Warn,
}

impl DeviationOutcome {
    /// The verdict this deviation predicts.
    pub fn outcome(self) -> Outcome {
        match self {
            DeviationOutcome::Fail => Outcome::Fail,
            DeviationOutcome::Warn => Outcome::Warn,
        }
    }
}

/// A known deviation of one target in one case (or in every case a pattern matches).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Deviation {
    /// The verdict the case is known to get.
    pub outcome: DeviationOutcome,
    /// The clause the target breaks, e.g. `RFC 6120 §6.4.6`.
    pub clause: String,
    /// Why, and how it was confirmed independently.
    pub reason: String,
    /// The upstream behaviour, bug or spec clause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// How the case ended when the deviation was confirmed: `authenticated`, or
    /// `{ rejected: { step, condition, by } }` (fields left out match anything, as in a
    /// scenario's `expect:`). When set, a case that ends another way is unexpected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Expectation>,
}

impl Deviation {
    /// Whether `result` ended as this deviation records.
    pub fn matches(&self, result: &CaseResult) -> bool {
        result.outcome == self.outcome.outcome()
            && self.observed.as_ref().is_none_or(|wanted| {
                result
                    .observation
                    .as_ref()
                    .is_some_and(|observation| observation.satisfies(wanted))
            })
    }
}

/// An expectations directory could not be loaded; the CLI exits with code 2.
#[derive(Debug, thiserror::Error)]
pub enum ExpectationsError {
    /// A file or the directory could not be read.
    #[error("{path}: cannot read: {source}", path = path.display())]
    Io {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// The operating system's reason.
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

/// One record: a case id or pattern and its deviation.
#[derive(Clone, Debug)]
struct Record {
    /// The case id or pattern, as written.
    pattern: String,
    /// The deviation.
    deviation: Arc<Deviation>,
}

/// Every known deviation, by target name.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    by_target: HashMap<String, Vec<Record>>,
}

impl Expectations {
    /// No recorded deviations: every case must pass.
    pub fn none() -> Expectations {
        Expectations::default()
    }

    /// Loads every path of `paths` (see [`Expectations::load`]); a target may have records in
    /// only one of them.
    pub fn load_all(
        paths: &[PathBuf],
        targets: &[&str],
        case_ids: &HashSet<&str>,
    ) -> Result<Expectations, ExpectationsError> {
        let mut all = Expectations::default();
        for path in paths {
            let loaded = Expectations::load(path, targets, case_ids)?;
            for (target, records) in loaded.by_target {
                if all.by_target.contains_key(&target) {
                    return Err(ExpectationsError::Invalid {
                        path: path.clone(),
                        line: 1,
                        column: 1,
                        message: format!(
                            "a second expectations file for target `{target}`; expected one \
                             file per target"
                        ),
                    });
                }
                all.by_target.insert(target, records);
            }
        }
        Ok(all)
    }

    /// Loads `<target>.yaml` files: every `*.yaml` file of `path` when it is a directory, or
    /// `path` itself. Each file must be named after one of `targets`, and each record must
    /// match at least one of `case_ids` and no case another record of the file matches.
    pub fn load(
        path: &Path,
        targets: &[&str],
        case_ids: &HashSet<&str>,
    ) -> Result<Expectations, ExpectationsError> {
        let files = if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|source| ExpectationsError::Io {
                path: path.to_owned(),
                source,
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|file| file.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            files.sort();
            files
        } else if path.is_file() {
            vec![path.to_owned()]
        } else {
            return Err(ExpectationsError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            });
        };
        let mut expectations = Expectations::default();
        for file in files {
            let target = file
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !targets.contains(&target.as_str()) {
                return Err(ExpectationsError::Invalid {
                    path: file,
                    line: 1,
                    column: 1,
                    message: format!(
                        "no loaded target is called `{target}`; expected a file named after one \
                         of the targets ({}), so that its records are not ignored",
                        targets.join(", ")
                    ),
                });
            }
            let records = load_file(&file, case_ids)?;
            expectations.by_target.insert(target, records);
        }
        Ok(expectations)
    }

    /// The recorded deviation of `target` in `case`, if any.
    pub fn lookup(&self, target: &str, case: &str) -> Option<Arc<Deviation>> {
        self.by_target
            .get(target)?
            .iter()
            .find(|record| matches_pattern(&record.pattern, case))
            .map(|record| Arc::clone(&record.deviation))
    }
}

/// Whether `id` matches `pattern`, where `*` stands for any run of characters (`/` included)
/// and `?` for one character.
pub fn matches_pattern(pattern: &str, id: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let id: Vec<char> = id.chars().collect();
    // Classic wildcard matching with one backtracking point.
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < id.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, i));
                p += 1;
            }
            Some(&c) if c == '?' || c == id[i] => {
                p += 1;
                i += 1;
            }
            _ => match star {
                Some((star_p, star_i)) => {
                    p = star_p + 1;
                    i = star_i + 1;
                    star = Some((star_p, star_i + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

fn load_file(path: &Path, case_ids: &HashSet<&str>) -> Result<Vec<Record>, ExpectationsError> {
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
    let mut sorted_ids: Vec<&str> = case_ids.iter().copied().collect();
    sorted_ids.sort_unstable();
    let mut claimed: HashMap<&str, (String, Position)> = HashMap::new();
    let mut records = Vec::new();
    for (pattern, deviation) in entries {
        let at = Position::at(&pattern);
        if deviation.clause.trim().is_empty() {
            return Err(invalid(Problem {
                at,
                message: format!(
                    "record `{}` has an empty `clause`; expected the clause the target breaks",
                    pattern.value
                ),
            }));
        }
        let matched: Vec<&str> = sorted_ids
            .iter()
            .copied()
            .filter(|id| matches_pattern(&pattern.value, id))
            .collect();
        if matched.is_empty() {
            return Err(invalid(Problem {
                at,
                message: format!(
                    "no loaded scenario has a case `{}`; expected a case id that `list` prints, \
                     or a pattern (`*`, `?`) that matches one",
                    pattern.value
                ),
            }));
        }
        for id in matched {
            if let Some((other, other_at)) = claimed.get(id) {
                return Err(invalid(Problem {
                    at,
                    message: format!(
                        "case `{id}` is matched by `{}` and by `{other}` (line {}); expected one \
                         record per case",
                        pattern.value, other_at.line
                    ),
                }));
            }
            claimed.insert(id, (pattern.value.clone(), at));
        }
        records.push(Record {
            pattern: pattern.value,
            deviation: Arc::new(deviation),
        });
    }
    Ok(records)
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

    fn load(name: &str, file: &str, text: &str, ids: &[&str]) -> Result<Expectations, String> {
        let dir = dir_with(name, file, text);
        let ids: HashSet<&str> = ids.iter().copied().collect();
        let loaded = Expectations::load(&dir, &["prosody", "ejabberd"], &ids);
        std::fs::remove_dir_all(&dir).unwrap();
        loaded.map_err(|e| e.to_string())
    }

    #[test]
    fn a_recorded_deviation_is_found_by_target_and_case() {
        let expectations = load(
            "found",
            "prosody.yaml",
            "c2s-x/plain:\n  outcome: fail\n  clause: RFC 6120 §13.8\n  reason: offers PLAIN in clear\n  link: https://example.org/1\n",
            &["c2s-x/plain", "c2s-x/scram-sha-1"],
        )
        .unwrap();
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
    fn a_pattern_covers_every_case_it_matches() {
        let expectations = load(
            "pattern",
            "prosody.yaml",
            "c2s-*/scram-sha-512:\n  outcome: warn\n  clause: RFC 7677 §4\n  reason: r\n",
            &["c2s-a/scram-sha-512", "c2s-b/scram-sha-512", "c2s-a/plain"],
        )
        .unwrap();
        assert!(
            expectations
                .lookup("prosody", "c2s-a/scram-sha-512")
                .is_some()
        );
        assert!(
            expectations
                .lookup("prosody", "c2s-b/scram-sha-512")
                .is_some()
        );
        assert!(expectations.lookup("prosody", "c2s-a/plain").is_none());
    }

    #[test]
    fn wildcards_match_runs_and_single_characters() {
        assert!(matches_pattern("c2s-*", "c2s-authenticate/starttls/plain"));
        assert!(matches_pattern("*/plain", "c2s-x/plain"));
        assert!(matches_pattern("c2s-x/scram-sha-?", "c2s-x/scram-sha-1"));
        assert!(!matches_pattern("c2s-x/scram-sha-?", "c2s-x/scram-sha-256"));
        assert!(!matches_pattern("client-*", "c2s-x/plain"));
        assert!(matches_pattern("a*b*c", "a-xx-b-yy-c"));
        assert!(!matches_pattern("a*b*c", "a-xx-c-yy-b"));
    }

    #[test]
    fn a_stale_case_id_is_an_error_naming_its_line() {
        let error = load(
            "stale",
            "prosody.yaml",
            "c2s-x/plain:\n  outcome: fail\n  clause: c\n  reason: r\nc2s-gone/plain:\n  outcome: fail\n  clause: c\n  reason: r\n",
            &["c2s-x/plain"],
        )
        .unwrap_err();
        assert!(error.contains("prosody.yaml:5:1"), "{error}");
        assert!(error.contains("c2s-gone/plain"), "{error}");
    }

    #[test]
    fn a_case_matched_by_two_records_is_an_error() {
        let error = load(
            "twice",
            "prosody.yaml",
            "c2s-x/plain:\n  outcome: fail\n  clause: c\n  reason: r\nc2s-*:\n  outcome: fail\n  clause: c\n  reason: r\n",
            &["c2s-x/plain"],
        )
        .unwrap_err();
        assert!(error.contains("prosody.yaml:5:1"), "{error}");
        assert!(
            error.contains("matched by `c2s-*` and by `c2s-x/plain`"),
            "{error}"
        );
    }

    #[test]
    fn a_file_named_after_no_loaded_target_is_an_error() {
        let error = load(
            "typo",
            "prosdy.yaml",
            "c2s-x/plain:\n  outcome: fail\n  clause: c\n  reason: r\n",
            &["c2s-x/plain"],
        )
        .unwrap_err();
        assert!(error.contains("prosdy.yaml:1:1"), "{error}");
        assert!(
            error.contains("no loaded target is called `prosdy`"),
            "{error}"
        );
    }

    #[test]
    fn only_fail_and_warn_can_be_recorded_as_a_deviation() {
        for outcome in ["error", "skip", "unsupported", "inconclusive", "pass"] {
            let error = load(
                "outcome",
                "prosody.yaml",
                &format!("c2s-x/plain:\n  outcome: {outcome}\n  clause: c\n  reason: r\n"),
                &["c2s-x/plain"],
            )
            .unwrap_err();
            assert!(
                error.contains(&format!("unknown value `{outcome}`")) || error.contains(outcome),
                "{error}"
            );
        }
    }

    #[test]
    fn a_misspelt_condition_in_a_record_is_an_error_naming_its_line() {
        let error = load(
            "condition",
            "prosody.yaml",
            "c2s-x/plain:\n  outcome: fail\n  clause: c\n  reason: r\n  observed: { rejected: { condition: not-authorised } }\n",
            &["c2s-x/plain"],
        )
        .unwrap_err();
        assert!(error.contains("prosody.yaml:5:"), "{error}");
        assert!(error.contains("not-authorised"), "{error}");
    }
}
