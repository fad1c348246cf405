//! The report layer's own view of a run: an owned, serialisable record per case and the event
//! stream every reporter consumes.
//!
//! A live run turns the runner's [`runner::Event`]s into [`ReportEvent`]s
//! ([`ReportEvent::from_runner`]); `xmpp-interop merge` makes the same events from
//! `results.json` files ([`ResultsFile`]). Reporters see only [`ReportEvent`]s, so both feed the
//! same reporters the same way, and a new reporter touches no runner code.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{transcript_path, transcripts};
use crate::runner::expectations::Deviation;
use crate::runner::{self, CaseResult, Outcome, Tally};
use crate::scenario::Step;

/// What reporters are told, in order: the run started, cases started and finished, the run
/// finished.
#[derive(Clone, Debug)]
pub enum ReportEvent {
    /// The run is about to start.
    RunStarted {
        /// How many cases will run.
        total: usize,
        /// The target columns, in order.
        targets: Vec<String>,
        /// Each target's implementation and version, in the same order.
        implementations: Vec<String>,
        /// When the run started (RFC 3339, UTC).
        started_at: String,
    },
    /// One case started.
    CaseStarted {
        /// The case id.
        case: String,
        /// The target name.
        target: String,
    },
    /// One case finished.
    CaseFinished(Arc<CaseRecord>),
    /// Every case finished.
    RunFinished {
        /// Wall time of the whole run.
        duration: Duration,
    },
}

impl ReportEvent {
    /// The report event of a runner event; a finished case is copied into a [`CaseRecord`]
    /// with its transcript rendered.
    pub fn from_runner(event: &runner::Event) -> ReportEvent {
        match event {
            runner::Event::RunStarted {
                total,
                targets,
                implementations,
            } => ReportEvent::RunStarted {
                total: *total,
                targets: targets.clone(),
                implementations: implementations.clone(),
                started_at: now_rfc3339(),
            },
            runner::Event::CaseStarted { case, target } => ReportEvent::CaseStarted {
                case: case.clone(),
                target: target.clone(),
            },
            runner::Event::CaseFinished(result) => {
                ReportEvent::CaseFinished(Arc::new(CaseRecord::from_result(result)))
            }
            // Whole milliseconds, as `results.json` keeps it, so that a merge of this run's
            // results rebuilds the very same reports.
            runner::Event::RunFinished { duration } => ReportEvent::RunFinished {
                duration: Duration::from_millis(
                    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                ),
            },
        }
    }
}

/// The current time as RFC 3339, UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// How a case ended, relative to what was predicted: the matrix label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// Passed, no deviation recorded.
    Pass,
    /// A MUST broken, no deviation recorded.
    Fail,
    /// A SHOULD not followed, no deviation recorded.
    Warn,
    /// The target lacks an optional feature the case needs.
    Unsupported,
    /// A negative case whose positive control did not pass.
    Inconclusive,
    /// What a MAY leaves open, as a fact.
    Info,
    /// Not applicable.
    Skip,
    /// The harness or the environment broke.
    Error,
    /// Failed exactly as a recorded deviation says.
    Xfail,
    /// Deviated from a SHOULD exactly as a recorded deviation says.
    Xwarn,
    /// Passed although a deviation is recorded.
    Xpass,
}

impl Verdict {
    /// The verdict of `outcome`, given whether a deviation is recorded and whether the case
    /// ended as recorded (the runner decides that).
    pub fn of(outcome: Outcome, deviation_recorded: bool, ended_as_recorded: bool) -> Verdict {
        match (deviation_recorded, outcome) {
            (true, Outcome::Pass) => Verdict::Xpass,
            (true, Outcome::Fail) if ended_as_recorded => Verdict::Xfail,
            (true, Outcome::Warn) if ended_as_recorded => Verdict::Xwarn,
            (_, Outcome::Pass) => Verdict::Pass,
            (_, Outcome::Fail) => Verdict::Fail,
            (_, Outcome::Warn) => Verdict::Warn,
            (_, Outcome::Unsupported) => Verdict::Unsupported,
            (_, Outcome::Inconclusive) => Verdict::Inconclusive,
            (_, Outcome::Info) => Verdict::Info,
            (_, Outcome::Skip) => Verdict::Skip,
            (_, Outcome::Error) => Verdict::Error,
        }
    }

    /// Upper-case label: `PASS`, `FAIL`, `WARN`, `UNSUPPORTED`, `INCONCLUSIVE`, `INFO`,
    /// `SKIP`, `ERROR`, `XFAIL`, `XWARN`, `XPASS`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Warn => "WARN",
            Verdict::Unsupported => "UNSUPPORTED",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::Info => "INFO",
            Verdict::Skip => "SKIP",
            Verdict::Error => "ERROR",
            Verdict::Xfail => "XFAIL",
            Verdict::Xwarn => "XWARN",
            Verdict::Xpass => "XPASS",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Everything the reports say about one finished case (one cell of the matrix). This is also
/// one element of `results` in `results.json`, so a merge reads back exactly what a run wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// The case id (the matrix row).
    #[serde(rename = "scenario")]
    pub case_id: String,
    /// The scenario document the case comes from.
    pub scenario_id: String,
    /// The target's name (the matrix column).
    pub target: String,
    /// The verdict.
    pub outcome: Outcome,
    /// The step at which the verdict was decided.
    pub step: Option<Step>,
    /// What the scenario expects.
    pub expected: String,
    /// What was observed.
    pub observed: String,
    /// How long the case took.
    pub duration_ms: u64,
    /// The scenario's title.
    pub title: String,
    /// The specification clauses the scenario checks.
    pub spec: Vec<String>,
    /// The scenario's tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The scenario file.
    pub source: String,
    /// The transcript's path relative to the report directory.
    pub transcript: String,
    /// The deviation recorded for this target and case, if any.
    pub expected_deviation: Option<Deviation>,
    /// Whether the runner accepted the outcome (`as_expected` in `results.json`). Of this the
    /// reports use only what the runner alone can decide: whether a failure with a recorded
    /// deviation failed as recorded; the rest follows from `outcome` and the deviation.
    #[serde(rename = "as_expected")]
    pub runner_accepted: bool,
    /// Where the transcript's text is, when known: a live run renders it, a merge finds the
    /// shard's file. Not part of `results.json`.
    #[serde(skip)]
    pub transcript_source: Option<TranscriptSource>,
}

/// Where a case's transcript text is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TranscriptSource {
    /// Rendered in memory (a live run).
    Text(Arc<str>),
    /// A file of an earlier run (a merge copies it rather than reading every file).
    File(std::path::PathBuf),
}

impl TranscriptSource {
    /// The size of the text in bytes; 0 when the file cannot be read.
    pub fn len(&self) -> u64 {
        match self {
            TranscriptSource::Text(text) => text.len() as u64,
            TranscriptSource::File(path) => std::fs::metadata(path).map_or(0, |m| m.len()),
        }
    }

    /// Whether there is no text.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text; `None` when the file cannot be read as UTF-8.
    pub fn text(&self) -> Option<Arc<str>> {
        match self {
            TranscriptSource::Text(text) => Some(Arc::clone(text)),
            TranscriptSource::File(path) => std::fs::read_to_string(path).ok().map(Arc::from),
        }
    }
}

impl CaseRecord {
    /// The record of a finished case, its transcript rendered.
    pub fn from_result(result: &CaseResult) -> CaseRecord {
        let case = &result.case;
        let mut record = CaseRecord {
            case_id: case.id.clone(),
            scenario_id: case.scenario.clone(),
            target: result.target.clone(),
            outcome: result.outcome,
            step: result.step,
            expected: result.expected.clone(),
            observed: result.observed.clone(),
            duration_ms: u64::try_from(result.duration.as_millis()).unwrap_or(u64::MAX),
            title: case.title.clone(),
            spec: case.spec.clone(),
            tags: case.tags.clone(),
            source: case.source.display().to_string(),
            transcript: transcript_path(&result.target, &case.id)
                .display()
                .to_string(),
            expected_deviation: result.expected_deviation.as_deref().cloned(),
            runner_accepted: result.as_expected(),
            transcript_source: None,
        };
        record.transcript_source = Some(TranscriptSource::Text(
            transcripts::render(&record, &result.transcript).into(),
        ));
        record
    }

    /// The verdict relative to the scenario and the recorded deviation.
    pub fn verdict(&self) -> Verdict {
        Verdict::of(
            self.outcome,
            self.expected_deviation.is_some(),
            self.runner_accepted,
        )
    }

    /// Whether the run accepts this case's outcome: anything but `fail` and `error` with no
    /// deviation recorded (a `warn` fails a run only under `--strict`), or exactly the recorded
    /// deviation.
    pub fn as_expected(&self) -> bool {
        match self.verdict() {
            Verdict::Xfail | Verdict::Xwarn => true,
            Verdict::Pass
            | Verdict::Warn
            | Verdict::Unsupported
            | Verdict::Inconclusive
            | Verdict::Info
            | Verdict::Skip => self.expected_deviation.is_none(),
            Verdict::Fail | Verdict::Xpass | Verdict::Error => false,
        }
    }

    /// The step as text, `none` when the harness broke before any.
    pub fn step_text(&self) -> String {
        self.step
            .map(|s| s.to_string())
            .unwrap_or_else(|| "none".to_owned())
    }
}

/// Counts every record's verdict.
pub fn tally<'a>(records: impl IntoIterator<Item = &'a Arc<CaseRecord>>) -> Tally {
    let mut tally = Tally::default();
    for record in records {
        match record.verdict() {
            Verdict::Pass => tally.pass += 1,
            Verdict::Fail => tally.fail += 1,
            Verdict::Warn => tally.warn += 1,
            Verdict::Unsupported => tally.unsupported += 1,
            Verdict::Inconclusive => tally.inconclusive += 1,
            Verdict::Info => tally.info += 1,
            Verdict::Skip => tally.skip += 1,
            Verdict::Error => tally.error += 1,
            Verdict::Xfail | Verdict::Xwarn => tally.xfail += 1,
            Verdict::Xpass => tally.xpass += 1,
        }
        if record.expected_deviation.is_some() && !record.as_expected() {
            let counted_as_xpass = record.verdict() == Verdict::Xpass;
            if !counted_as_xpass {
                tally.unmatched += 1;
            }
        }
    }
    tally
}

/// The harness that wrote a `results.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Harness {
    /// `xmpp-interop`.
    pub name: String,
    /// Its version.
    pub version: String,
}

impl Harness {
    /// This harness.
    pub fn this() -> Harness {
        Harness {
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// A `results.json` as read back. Its `summary` is recomputed from the results; fields it
/// does not know (a newer harness's) are ignored.
#[derive(Clone, Debug, Deserialize)]
pub struct ResultsFile {
    /// Who wrote it.
    pub harness: Harness,
    /// When the run started.
    pub started_at: String,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// The target columns, in order.
    pub targets: Vec<String>,
    /// Target name → implementation and version.
    pub implementations: BTreeMap<String, String>,
    /// Every case.
    pub results: Vec<CaseRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::expectations::DeviationOutcome;

    fn shipped_case() -> crate::scenario::CaseSpec {
        let scenarios =
            crate::scenario::load_path(std::path::Path::new("scenarios/c2s/wrong-password.yaml"))
                .unwrap();
        scenarios[0].cases[0].clone()
    }

    #[test]
    fn the_record_verdict_agrees_with_the_runner_for_every_outcome_and_deviation() {
        for outcome in [Outcome::Pass, Outcome::Fail, Outcome::Skip, Outcome::Error] {
            for recorded in [false, true] {
                let result = CaseResult {
                    case: Arc::new(shipped_case()),
                    target: "prosody".to_owned(),
                    outcome,
                    step: Some(Step::Sasl),
                    expected: "e".to_owned(),
                    observed: "o".to_owned(),
                    duration: Duration::from_millis(7),
                    transcript: Vec::new(),
                    missing_feature: None,
                    control: None,
                    observation: None,
                    expected_deviation: recorded.then(|| {
                        Arc::new(Deviation {
                            outcome: DeviationOutcome::Fail,
                            clause: "RFC 6120 §6.4".to_owned(),
                            reason: "known".to_owned(),
                            link: None,
                            observed: None,
                        })
                    }),
                };
                let record = CaseRecord::from_result(&result);
                assert_eq!(
                    record.verdict().label(),
                    result.label(),
                    "{outcome} {recorded}"
                );
                assert_eq!(record.as_expected(), result.as_expected());
                let mut runner_tally = Tally::default();
                runner_tally.add_result(&result);
                assert_eq!(tally([&Arc::new(record)]), runner_tally);
            }
        }
    }

    #[test]
    fn a_failure_the_runner_did_not_accept_as_the_recorded_deviation_is_a_plain_fail() {
        let deviation = Some(Deviation {
            outcome: DeviationOutcome::Fail,
            clause: "RFC 6120 §6.4".to_owned(),
            reason: "known".to_owned(),
            link: None,
            observed: None,
        });
        let mut record: CaseRecord = serde_json::from_value(serde_json::json!({
            "scenario": "c2s-x/plain", "scenario_id": "c2s-x", "target": "prosody",
            "outcome": "fail", "step": "tls", "expected": "authenticated",
            "observed": "rejected at tls by harness (bad-certificate): expired",
            "duration_ms": 3, "title": "t", "spec": [], "tags": [], "source": "s.yaml",
            "transcript": "transcripts/prosody/c2s-x_plain.txt",
            "expected_deviation": deviation, "as_expected": false
        }))
        .unwrap();
        assert_eq!(record.verdict(), Verdict::Fail);
        assert!(!record.as_expected());
        record.runner_accepted = true;
        assert_eq!(record.verdict(), Verdict::Xfail);
        assert!(record.as_expected());
    }

    #[test]
    fn a_record_survives_a_json_round_trip_without_its_transcript_text() {
        let mut record = CaseRecord {
            case_id: "c2s-x/plain".to_owned(),
            scenario_id: "c2s-x".to_owned(),
            target: "prosody".to_owned(),
            outcome: Outcome::Fail,
            step: Some(Step::Tls),
            expected: "authenticated".to_owned(),
            observed: "rejected".to_owned(),
            duration_ms: 12,
            title: "t".to_owned(),
            spec: vec!["RFC 6120 §5.3.1".to_owned()],
            tags: vec!["c2s".to_owned()],
            source: "scenarios/c2s/x.yaml".to_owned(),
            transcript: "transcripts/prosody/c2s-x_plain.txt".to_owned(),
            expected_deviation: None,
            runner_accepted: false,
            transcript_source: Some(TranscriptSource::Text("secret trace".into())),
        };
        let json = serde_json::to_string(&record).unwrap();
        assert!(!json.contains("secret trace"), "{json}");
        assert!(json.contains("\"scenario\":\"c2s-x/plain\""), "{json}");
        let back: CaseRecord = serde_json::from_str(&json).unwrap();
        record.transcript_source = None;
        assert_eq!(back, record);
    }
}
