//! `xmpp-interop merge`: the event stream of a run, rebuilt from the `results.json` files of its
//! shards, so that every reporter (terminal matrix, JUnit, JSON, HTML, Markdown, transcripts)
//! rebuilds its report from them exactly as from a live run.
//!
//! Targets keep the order in which the shards name them; the run started when the earliest
//! shard started and lasted as long as the longest shard. A transcript is copied when the file
//! a shard's record names exists next to that shard's `results.json`; nothing else is copied.
//! A cell (case × target) present in two shards is an error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::record::{ReportEvent, ResultsFile, TranscriptSource};

/// A results file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}", path = path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON, or not a `results.json`.
    #[error("{path}:{line}:{column}: {message}; expected a results.json written by xmpp-interop", path = path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Two shards hold the same cell.
    #[error("case {case} @ {target} is in both {first} and {second}; shards of one run must not overlap", first = first.display(), second = second.display())]
    Duplicate {
        /// The case id.
        case: String,
        /// The target.
        target: String,
        /// The first file holding it.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// A record names a transcript outside the report directory.
    #[error("{path}: case {case} @ {target} names transcript {transcript:?}, which is not a relative path inside the report directory", path = path.display())]
    UnsafeTranscriptPath {
        /// The file.
        path: PathBuf,
        /// The case id.
        case: String,
        /// The target.
        target: String,
        /// The path it names.
        transcript: String,
    },
    /// No file was given.
    #[error("no results.json given")]
    Nothing,
}

/// One `results.json` and where it was read from.
#[derive(Clone, Debug)]
pub struct Shard {
    /// The file.
    pub path: PathBuf,
    /// Its contents.
    pub results: ResultsFile,
}

/// Reads and parses one `results.json`.
pub fn read_results(path: &Path) -> Result<Shard, ResultsError> {
    let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let results: ResultsFile = serde_json::from_str(&text).map_err(|e| ResultsError::Invalid {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned(),
    })?;
    Ok(Shard {
        path: path.to_owned(),
        results,
    })
}

/// Whether `path` is relative and stays below the directory it is joined to.
fn inside_report_dir(path: &Path) -> bool {
    !path.as_os_str().is_empty()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// The events of the run the shards are parts of: run started, every case finished (its
/// transcript text read from the shard's directory when the file is there), run finished.
pub fn events(shards: &[Shard]) -> Result<Vec<ReportEvent>, ResultsError> {
    let first = shards.first().ok_or(ResultsError::Nothing)?;
    let mut targets: Vec<String> = Vec::new();
    let mut implementations: Vec<String> = Vec::new();
    let mut started_at = first.results.started_at.clone();
    let mut longest = 0;
    let mut seen: HashMap<(&str, &str), &Path> = HashMap::new();
    let mut total = 0;
    for shard in shards {
        for target in &shard.results.targets {
            if !targets.contains(target) {
                targets.push(target.clone());
                implementations.push(
                    shard
                        .results
                        .implementations
                        .get(target)
                        .cloned()
                        .unwrap_or_default(),
                );
            }
        }
        if shard.results.started_at < started_at {
            started_at.clone_from(&shard.results.started_at);
        }
        longest = longest.max(shard.results.duration_ms);
        for record in &shard.results.results {
            let key = (record.case_id.as_str(), record.target.as_str());
            if let Some(first) = seen.insert(key, &shard.path) {
                return Err(ResultsError::Duplicate {
                    case: record.case_id.clone(),
                    target: record.target.clone(),
                    first: first.to_owned(),
                    second: shard.path.clone(),
                });
            }
            if !inside_report_dir(Path::new(&record.transcript)) {
                return Err(ResultsError::UnsafeTranscriptPath {
                    path: shard.path.clone(),
                    case: record.case_id.clone(),
                    target: record.target.clone(),
                    transcript: record.transcript.clone(),
                });
            }
            if !targets.contains(&record.target) {
                targets.push(record.target.clone());
                implementations.push(String::new());
            }
            total += 1;
        }
    }
    let mut events = Vec::with_capacity(total + 2);
    events.push(ReportEvent::RunStarted {
        total,
        targets,
        implementations,
        started_at,
    });
    for shard in shards {
        let dir = shard.path.parent().unwrap_or(Path::new("."));
        for record in &shard.results.results {
            let mut record = record.clone();
            let source = dir.join(&record.transcript);
            record.transcript_source = source.is_file().then_some(TranscriptSource::File(source));
            events.push(ReportEvent::CaseFinished(Arc::new(record)));
        }
    }
    events.push(ReportEvent::RunFinished {
        duration: Duration::from_millis(longest),
    });
    Ok(events)
}
