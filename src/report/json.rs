//! `results.json`: every case's verdict, machine-readable.
//!
//! The top-level object holds `harness` (name and version), `started_at`, `duration_ms`,
//! `targets`, `implementations` (target name → implementation and version), `summary` and a
//! `results` array sorted by case id and target. Each result has `scenario` (the case id, i.e.
//! the matrix row), `scenario_id` (the scenario document), `target`, `outcome`
//! (`pass|fail|skip|error`), `step`, `expected`, `observed`, `duration_ms`, `spec`, `title`,
//! `source`, `transcript` (a path relative to the report directory), `expected_deviation`
//! (the recorded deviation `{outcome, reason, link}`, or null) and `as_expected` (whether the
//! outcome is what the scenario or the recorded deviation predicts). A run of one shard
//! (`--partition K/N`) adds a top-level `partition` (`"K/N"`); unpartitioned runs have none.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::{ReportError, Reporter, transcript_path, write_file};
use crate::runner::expectations::Deviation;
use crate::runner::{CaseResult, Event, Outcome, Tally};
use crate::scenario::Step;

/// Collects results and writes `results.json` when the run finishes.
pub struct JsonWriter {
    path: PathBuf,
    started_at: String,
    targets: Vec<String>,
    implementations: BTreeMap<String, String>,
    results: Vec<Arc<CaseResult>>,
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
    summary: Tally,
    results: Vec<ResultRecord<'a>>,
}

#[derive(Serialize)]
struct Harness {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct ResultRecord<'a> {
    scenario: &'a str,
    scenario_id: &'a str,
    target: &'a str,
    outcome: Outcome,
    step: Option<Step>,
    expected: &'a str,
    observed: &'a str,
    duration_ms: u128,
    title: &'a str,
    spec: &'a [String],
    tags: &'a [String],
    source: String,
    transcript: String,
    expected_deviation: Option<&'a Deviation>,
    as_expected: bool,
}

impl JsonWriter {
    /// Writes to `path` (usually `reports/results.json`).
    pub fn new(path: PathBuf) -> JsonWriter {
        let started_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        JsonWriter {
            path,
            started_at,
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
    fn on_event(&mut self, event: &Event) -> Result<(), ReportError> {
        match event {
            Event::RunStarted {
                targets,
                implementations,
                ..
            } => {
                self.targets = targets.clone();
                self.implementations = targets
                    .iter()
                    .cloned()
                    .zip(implementations.iter().cloned())
                    .collect();
            }
            Event::CaseStarted { .. } => {}
            Event::CaseFinished(result) => self.results.push(Arc::clone(result)),
            Event::RunFinished { duration } => {
                self.results
                    .sort_by(|a, b| (&a.case.id, &a.target).cmp(&(&b.case.id, &b.target)));
                let mut summary = Tally::default();
                for result in &self.results {
                    summary.add_result(result);
                }
                let document = Document {
                    harness: Harness {
                        name: env!("CARGO_PKG_NAME"),
                        version: env!("CARGO_PKG_VERSION"),
                    },
                    started_at: &self.started_at,
                    duration_ms: duration.as_millis(),
                    targets: &self.targets,
                    implementations: &self.implementations,
                    partition: self.partition.as_deref(),
                    summary,
                    results: self.results.iter().map(|r| record(r)).collect(),
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

fn record(result: &CaseResult) -> ResultRecord<'_> {
    let case = &result.case;
    ResultRecord {
        scenario: &case.id,
        scenario_id: &case.scenario,
        target: &result.target,
        outcome: result.outcome,
        step: result.step,
        expected: &result.expected,
        observed: &result.observed,
        duration_ms: result.duration.as_millis(),
        title: &case.title,
        spec: &case.spec,
        tags: &case.tags,
        source: case.source.display().to_string(),
        transcript: transcript_path(&result.target, &case.id)
            .display()
            .to_string(),
        expected_deviation: result.expected_deviation.as_deref(),
        as_expected: result.as_expected(),
    }
}
