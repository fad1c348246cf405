//! `results.json`: every case's verdict, machine-readable; `xmpp-interop merge` and `diff`
//! read it back ([`super::record::ResultsFile`]), and `schemas/results.schema.json` describes it.
//!
//! The top-level object holds `harness` (name and version), `started_at`, `duration_ms`,
//! `targets`, `implementations` (target name → implementation and version), `interrupted` (only
//! in an interrupted run: why it stopped, e.g. `interrupted by SIGTERM` or `run deadline reached
//! (90s)`), `summary` and a
//! `results` array sorted by case id and target. `summary` holds the counts of [`Tally`] and
//! `targets`: per target name the one-line summary of its column ([`TargetSummaryRecord`]:
//! `must_violations`, `should_deviations`, `unsupported_features` (names), `inconclusive`).
//! Each result has `scenario` (the case id, i.e. the matrix row), `scenario_id` (the scenario
//! document), `target`, `outcome` (`pass|fail|warn|unsupported|inconclusive|info|skip|error|not-run`;
//! `not-run` for a case an interruption left unfinished),
//! `step`, `expected`, `observed`, `duration_ms`, `spec`, `title`, `tags`, `source`,
//! `transcript` (a path relative to the report directory), `expected_deviation` (the recorded
//! deviation `{outcome, clause, reason, link, observed}`, or null), `level` (`MUST`, `MUST
//! NOT`, `SHOULD`, `SHOULD NOT`, `MAY`), `clause`, `requirement_text` (the quoted clause),
//! `missing_feature` (for `unsupported`, or null), `control` (a negative case's positive control
//! `{id, outcome}`, or null) and `as_expected` (whether the run accepts the outcome). A run of
//! one shard (`--partition K/N`) adds a top-level `partition` (`"K/N"`); unpartitioned runs and
//! merges have none.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::record::{CaseRecord, Harness, ReportEvent, TargetSummaryRecord, tally};
use super::{ReportError, Reporter, write_file};
use crate::runner::Tally;

/// Collects results and writes `results.json` when the run finishes.
pub struct JsonWriter {
    path: PathBuf,
    started_at: String,
    targets: Vec<String>,
    implementations: BTreeMap<String, String>,
    results: Vec<Arc<CaseRecord>>,
    partition: Option<String>,
}

#[derive(Serialize)]
struct Document<'a> {
    harness: Harness,
    started_at: &'a str,
    duration_ms: u128,
    targets: &'a [String],
    implementations: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partition: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interrupted: Option<&'a str>,
    summary: Summary<'a>,
    results: Vec<&'a CaseRecord>,
}

/// `summary`: the counts, and per target the line its column says.
#[derive(Serialize)]
struct Summary<'a> {
    #[serde(flatten)]
    counts: Tally,
    targets: BTreeMap<&'a str, TargetSummaryRecord>,
}

impl JsonWriter {
    /// Writes to `path` (usually `reports/results.json`).
    pub fn new(path: PathBuf) -> JsonWriter {
        JsonWriter {
            path,
            started_at: String::new(),
            targets: Vec::new(),
            implementations: BTreeMap::new(),
            results: Vec::new(),
            partition: None,
        }
    }

    /// Records that the run covers only shard `partition` (`"K/N"`).
    pub fn with_partition(mut self, partition: Option<String>) -> JsonWriter {
        self.partition = partition;
        self
    }
}

impl Reporter for JsonWriter {
    fn on_event(&mut self, event: &ReportEvent) -> Result<(), ReportError> {
        match event {
            ReportEvent::RunStarted {
                targets,
                implementations,
                started_at,
                ..
            } => {
                self.started_at = started_at.clone();
                self.targets = targets.clone();
                self.implementations = targets
                    .iter()
                    .cloned()
                    .zip(implementations.iter().cloned())
                    .collect();
            }
            ReportEvent::CaseStarted { .. } => {}
            ReportEvent::CaseFinished(record) => self.results.push(Arc::clone(record)),
            ReportEvent::RunFinished {
                duration,
                interrupted,
            } => {
                self.results
                    .sort_by(|a, b| (&a.case_id, &a.target).cmp(&(&b.case_id, &b.target)));
                let document = Document {
                    harness: Harness::this(),
                    started_at: &self.started_at,
                    duration_ms: duration.as_millis(),
                    targets: &self.targets,
                    implementations: &self.implementations,
                    partition: self.partition.as_deref(),
                    interrupted: interrupted.as_deref(),
                    summary: Summary {
                        counts: tally(&self.results),
                        targets: TargetSummaryRecord::per_target(&self.targets, &self.results)
                            .into_iter()
                            .collect(),
                    },
                    results: self.results.iter().map(Arc::as_ref).collect(),
                };
                let json =
                    serde_json::to_vec_pretty(&document).map_err(|e| ReportError::Render {
                        what: "results.json",
                        detail: e.to_string(),
                    })?;
                write_file(&self.path, &json)?;
            }
        }
        Ok(())
    }
}
