//! `xmpp-interop merge`: the event stream of a run, rebuilt from the `results.json` files of its
//! shards, so that every reporter (terminal matrix, JUnit, JSON, HTML, Markdown, transcripts)
//! rebuilds its report from them exactly as from a live run.
//!
//! Targets keep the order in which the shards name them; the run started when the earliest
//! shard started and lasted as long as the longest shard. A transcript is copied when the file
//! a shard's record names exists next to that shard's `results.json`; nothing else is copied.
//! A cell (case × target) present in two shards is an error.
//!
//! The files must be the shards of one run ([`check_coverage`]): every shard `1..=N` of one
//! `N`, each once. Shards of different `N`, a shard given twice, and a whole run's file (no
//! `partition`) next to shards are always errors; missing shards, or several whole runs'
//! files, are accepted only when the caller allows a partial merge (`--allow-partial`), and
//! are then named in a warning. One whole run's file alone is complete. The merged
//! `results.json` has no `partition`.

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
        /// The `results.json` that could not be read.
        path: PathBuf,
        /// The operating system's reason.
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
    /// A file's `partition` is not `K/N` with `1 <= K <= N`.
    #[error("{path}: partition {value:?} is not K/N with 1 <= K <= N; expected a results.json of `run --partition K/N`", path = path.display())]
    BadPartition {
        /// The file.
        path: PathBuf,
        /// What it says.
        value: String,
    },
    /// A whole run's file (no `partition`) among shards.
    #[error("{whole} holds a whole run (no partition) but {shard} holds shard {partition}; merge the shards of one run, or that run's own results.json alone", whole = whole.display(), shard = shard.display())]
    WholeRunAmongShards {
        /// The file without a partition.
        whole: PathBuf,
        /// A file with one.
        shard: PathBuf,
        /// Its partition.
        partition: String,
    },
    /// Shards of runs split into different numbers of shards.
    #[error("{first} is shard {first_partition} but {second} is shard {second_partition}; shards of one run share N", first = first.display(), second = second.display())]
    ShardCountsDiffer {
        /// One file.
        first: PathBuf,
        /// Its partition.
        first_partition: String,
        /// Another.
        second: PathBuf,
        /// Its partition.
        second_partition: String,
    },
    /// The same shard twice.
    #[error("shard {partition} is given twice: {first} and {second}", first = first.display(), second = second.display())]
    ShardRepeated {
        /// The partition.
        partition: String,
        /// The first file.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// Not every shard is there, and a partial merge was not allowed.
    #[error("{0}; pass --allow-partial to merge them anyway")]
    Incomplete(String),
}

/// What a set of files covers of their run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Coverage {
    /// Every shard of the run (or one whole run's file).
    Complete,
    /// Part of it (accepted only with `--allow-partial`): what is missing, for a warning.
    Partial(String),
}

/// `K/N` with `1 <= K <= N`.
fn parse_partition(value: &str) -> Option<(usize, usize)> {
    let (k, n) = value.split_once('/')?;
    let (k, n): (usize, usize) = (k.parse().ok()?, n.parse().ok()?);
    (1..=n).contains(&k).then_some((k, n))
}

/// Checks that `shards` are the shards of one run, every one once (see the module doc);
/// `allow_partial` accepts missing shards and several whole runs, reported as
/// [`Coverage::Partial`].
pub fn check_coverage(shards: &[Shard], allow_partial: bool) -> Result<Coverage, ResultsError> {
    let mut whole: Vec<&Path> = Vec::new();
    let mut parts: Vec<(&Path, &str, usize, usize)> = Vec::new();
    for shard in shards {
        match &shard.results.partition {
            None => whole.push(&shard.path),
            Some(value) => {
                let (k, n) = parse_partition(value).ok_or_else(|| ResultsError::BadPartition {
                    path: shard.path.clone(),
                    value: value.clone(),
                })?;
                parts.push((&shard.path, value, k, n));
            }
        }
    }
    if let (Some(whole), Some(&(shard, partition, ..))) = (whole.first(), parts.first()) {
        return Err(ResultsError::WholeRunAmongShards {
            whole: whole.to_path_buf(),
            shard: shard.to_owned(),
            partition: partition.to_owned(),
        });
    }
    if let Some(&(first, first_partition, _, n)) = parts.first() {
        let mut seen: HashMap<usize, &Path> = HashMap::new();
        for &(path, partition, k, other_n) in &parts {
            if other_n != n {
                return Err(ResultsError::ShardCountsDiffer {
                    first: first.to_owned(),
                    first_partition: first_partition.to_owned(),
                    second: path.to_owned(),
                    second_partition: partition.to_owned(),
                });
            }
            if let Some(earlier) = seen.insert(k, path) {
                return Err(ResultsError::ShardRepeated {
                    partition: partition.to_owned(),
                    first: earlier.to_owned(),
                    second: path.to_owned(),
                });
            }
        }
        let missing: Vec<String> = (1..=n)
            .filter(|k| !seen.contains_key(k))
            .map(|k| format!("{k}/{n}"))
            .collect();
        if missing.is_empty() {
            return Ok(Coverage::Complete);
        }
        let what = format!(
            "shard{} {} of the run are missing",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        );
        return if allow_partial {
            Ok(Coverage::Partial(what))
        } else {
            Err(ResultsError::Incomplete(what))
        };
    }
    if whole.len() > 1 {
        let what = format!(
            "{} files hold whole runs (no partition), not the shards of one run",
            whole.len()
        );
        return if allow_partial {
            Ok(Coverage::Partial(what))
        } else {
            Err(ResultsError::Incomplete(what))
        };
    }
    Ok(Coverage::Complete)
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
    let mut interruptions: Vec<&str> = Vec::new();
    for shard in shards {
        if let Some(why) = shard.results.interrupted.as_deref()
            && !interruptions.contains(&why)
        {
            interruptions.push(why);
        }
    }
    events.push(ReportEvent::RunFinished {
        duration: Duration::from_millis(longest),
        interrupted: (!interruptions.is_empty()).then(|| interruptions.join("; ")),
    });
    Ok(events)
}
