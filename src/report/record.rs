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
use crate::scenario::{Level, Step};

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
    /// Every case finished, or was recorded as `not-run` after an interruption.
    RunFinished {
        /// Wall time of the whole run.
        duration: Duration,
        /// Why the run stopped before every case finished (`interrupted by SIGTERM`, `run
        /// deadline reached (90s)`), if it did.
        interrupted: Option<String>,
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
            runner::Event::RunFinished {
                duration,
                interrupted,
            } => ReportEvent::RunFinished {
                duration: Duration::from_millis(
                    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                ),
                interrupted: interrupted.as_ref().map(runner::Interruption::reason),
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
    /// An interruption (a signal or the run deadline) ended the run before the case finished.
    NotRun,
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
            (_, Outcome::NotRun) => Verdict::NotRun,
        }
    }

    /// Upper-case label: `PASS`, `FAIL`, `WARN`, `UNSUPPORTED`, `INCONCLUSIVE`, `INFO`,
    /// `SKIP`, `ERROR`, `NOT RUN`, `XFAIL`, `XWARN`, `XPASS`.
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
            Verdict::NotRun => "NOT RUN",
            Verdict::Xfail => "XFAIL",
            Verdict::Xwarn => "XWARN",
            Verdict::Xpass => "XPASS",
        }
    }
}

impl Verdict {
    /// Every verdict, in the order the page's verdict filter lists them.
    pub const ALL: [Verdict; 12] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Warn,
        Verdict::Unsupported,
        Verdict::Inconclusive,
        Verdict::Info,
        Verdict::Xfail,
        Verdict::Xwarn,
        Verdict::Xpass,
        Verdict::Skip,
        Verdict::Error,
        Verdict::NotRun,
    ];

    /// The verdict a user names on the command line: its label in any case, `not-run` for
    /// `NOT RUN`.
    pub fn from_name(name: &str) -> Option<Verdict> {
        let wanted = name.trim().to_ascii_uppercase().replace('-', " ");
        Verdict::ALL.into_iter().find(|v| v.label() == wanted)
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
    /// The deviation recorded for this target and case, if any. Files of older harnesses
    /// (a deviation without `clause`, `observed` as text) still read: see
    /// [`deviation_of_any_version`].
    #[serde(deserialize_with = "deviation_of_any_version")]
    pub expected_deviation: Option<Deviation>,
    /// The RFC 2119 level of the clause the case checks (`MUST`, `SHOULD NOT`, ...); none in
    /// files of harnesses before requirement levels.
    #[serde(default)]
    pub level: Option<Level>,
    /// Where that clause is, e.g. `RFC 6120 §6.4.6` (empty when unknown).
    #[serde(default)]
    pub clause: String,
    /// The clause's words, quoted from the specification (empty when unknown).
    #[serde(default)]
    pub requirement_text: String,
    /// For `unsupported` (and a failed mandatory-to-implement case): the feature the target
    /// lacks, e.g. `SASL2 (XEP-0388)`.
    #[serde(default)]
    pub missing_feature: Option<String>,
    /// For a negative case: its positive control against the same target and how it ended.
    #[serde(default)]
    pub control: Option<ControlRecord>,
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

/// A negative case's positive control, as `results.json` keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlRecord {
    /// The control's case id.
    pub id: String,
    /// How it ended against the same target.
    pub outcome: Outcome,
}

impl fmt::Display for ControlRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ended {}", self.id, self.outcome)
    }
}

/// Reads `expected_deviation` as this harness writes it, or as harnesses before requirement
/// levels did: `clause` missing (read as empty) and `observed` as the start of an observation
/// string (dropped: the runner already decided whether the case ended as recorded, and
/// `as_expected` keeps that decision).
fn deviation_of_any_version<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Deviation>, D::Error> {
    let Some(mut value) = Option::<serde_json::Value>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Some(fields) = value.as_object_mut() {
        fields
            .entry("clause")
            .or_insert_with(|| serde_json::Value::String(String::new()));
        if fields
            .get("observed")
            .is_some_and(serde_json::Value::is_string)
        {
            fields.remove("observed");
        }
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(serde::de::Error::custom)
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
            level: Some(case.requirement.level),
            clause: case.requirement.clause.clone(),
            requirement_text: case.requirement.text.clone(),
            missing_feature: result.missing_feature.map(|feature| feature.to_string()),
            control: result.control.as_ref().map(|control| ControlRecord {
                id: control.id.clone(),
                outcome: control.outcome,
            }),
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
            Verdict::Fail | Verdict::Xpass | Verdict::Error | Verdict::NotRun => false,
        }
    }

    /// The step as text, `none` when the harness broke before any.
    pub fn step_text(&self) -> String {
        self.step
            .map(|s| s.to_string())
            .unwrap_or_else(|| "none".to_owned())
    }

    /// Whether a deviation is recorded and the case ended neither as recorded nor with a pass
    /// (skip, unsupported, inconclusive, info, another failure or an error): unexpected, like
    /// an `XPASS`. A case that did not run is not counted here: it is counted as `not-run`.
    pub fn recorded_deviation_ended_otherwise(&self) -> bool {
        self.expected_deviation.is_some()
            && !self.as_expected()
            && !matches!(self.verdict(), Verdict::Xpass | Verdict::NotRun)
    }

    /// The clause the case checks as one line: `MUST (RFC 6120 §6.4.6): "quote"`; the parts
    /// not known (files of older harnesses) are left out, and it is empty when none is.
    pub fn requirement_line(&self) -> String {
        let mut line = self
            .level
            .map(|l| l.keyword().to_owned())
            .unwrap_or_default();
        if !self.clause.is_empty() {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&format!("({})", self.clause));
        }
        if !self.requirement_text.is_empty() {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&format!("\"{}\"", self.requirement_text));
        }
        line
    }
}

/// What one target's column says in one line, "N MUST violations, N SHOULD deviations, N
/// unsupported features (names), N inconclusive", read from records (live or merged). Counted by
/// outcome, recorded deviations included: an expected violation is still a violation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TargetSummaryRecord {
    /// Cases where a MUST or MUST NOT was broken (`fail`, `XFAIL` included).
    pub must_violations: usize,
    /// Cases where a SHOULD or SHOULD NOT was not followed (`warn`, `XWARN` included).
    pub should_deviations: usize,
    /// The optional features the target lacks (from `unsupported` cases), each once, sorted.
    pub unsupported_features: Vec<String>,
    /// Negative cases whose positive control did not pass.
    pub inconclusive: usize,
}

impl TargetSummaryRecord {
    /// The summary of `records` (one target's).
    pub fn of<'a>(records: impl IntoIterator<Item = &'a CaseRecord>) -> TargetSummaryRecord {
        let mut summary = TargetSummaryRecord::default();
        for record in records {
            match record.outcome {
                Outcome::Fail => summary.must_violations += 1,
                Outcome::Warn => summary.should_deviations += 1,
                Outcome::Inconclusive => summary.inconclusive += 1,
                Outcome::Unsupported => {
                    if let Some(feature) = &record.missing_feature
                        && !summary.unsupported_features.contains(feature)
                    {
                        summary.unsupported_features.push(feature.clone());
                    }
                }
                _ => {}
            }
        }
        summary.unsupported_features.sort();
        summary
    }

    /// The summary of every target of `targets`, in that order, from `records`.
    pub fn per_target<'a>(
        targets: &'a [String],
        records: &'a [Arc<CaseRecord>],
    ) -> Vec<(&'a str, TargetSummaryRecord)> {
        targets
            .iter()
            .map(|target| {
                (
                    target.as_str(),
                    TargetSummaryRecord::of(
                        records
                            .iter()
                            .filter(|r| &r.target == target)
                            .map(Arc::as_ref),
                    ),
                )
            })
            .collect()
    }
}

impl fmt::Display for TargetSummaryRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        write!(
            f,
            "{}, {}, {}",
            plural(self.must_violations, "MUST violation", "MUST violations"),
            plural(
                self.should_deviations,
                "SHOULD deviation",
                "SHOULD deviations"
            ),
            plural(
                self.unsupported_features.len(),
                "unsupported feature",
                "unsupported features"
            ),
        )?;
        if !self.unsupported_features.is_empty() {
            write!(f, " ({})", self.unsupported_features.join(", "))?;
        }
        write!(f, ", {} inconclusive", self.inconclusive)
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
            Verdict::NotRun => tally.not_run += 1,
            Verdict::Xfail | Verdict::Xwarn => tally.xfail += 1,
            Verdict::Xpass => tally.xpass += 1,
        }
        if record.recorded_deviation_ended_otherwise() {
            tally.unmatched += 1;
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
    /// The shard this file holds (`"K/N"`, from `run --partition K/N`); none for a whole run
    /// or a merge.
    #[serde(default)]
    pub partition: Option<String>,
    /// Why the run stopped before every case finished (its unfinished cases are `not-run`);
    /// none for a run that finished.
    #[serde(default)]
    pub interrupted: Option<String>,
    /// Every case.
    pub results: Vec<CaseRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::expectations::DeviationOutcome;

    use crate::scenario::{ChannelBindingType, Feature};

    fn result(
        outcome: Outcome,
        recorded: Option<DeviationOutcome>,
        missing_feature: Option<Feature>,
    ) -> CaseResult {
        CaseResult {
            case: Arc::new(
                crate::scenario::test_support::scenario("c2s-x", Level::Must, &["SCRAM-SHA-256"])
                    .cases
                    .remove(0),
            ),
            target: "prosody".to_owned(),
            outcome,
            step: Some(Step::Sasl),
            expected: "e".to_owned(),
            observed: "o".to_owned(),
            duration: Duration::from_millis(7),
            transcript: Vec::new(),
            missing_feature,
            control: None,
            observation: None,
            expected_deviation: recorded.map(|outcome| {
                Arc::new(Deviation {
                    outcome,
                    clause: "RFC 6120 §6.4".to_owned(),
                    reason: "known".to_owned(),
                    link: None,
                    observed: None,
                })
            }),
        }
    }

    #[test]
    fn the_record_verdict_agrees_with_the_runner_for_every_outcome_and_deviation() {
        for outcome in Outcome::ALL {
            for recorded in [
                None,
                Some(DeviationOutcome::Fail),
                Some(DeviationOutcome::Warn),
            ] {
                let result = result(outcome, recorded, None);
                let record = CaseRecord::from_result(&result);
                assert_eq!(
                    record.verdict().label(),
                    result.label(),
                    "{outcome} {recorded:?}"
                );
                assert_eq!(record.as_expected(), result.as_expected());
                let mut runner_tally = Tally::default();
                runner_tally.add_result(&result);
                assert_eq!(
                    tally([&Arc::new(record)]),
                    runner_tally,
                    "{outcome} {recorded:?}"
                );
            }
        }
    }

    #[test]
    fn the_record_carries_the_level_clause_quote_missing_feature_and_control() {
        let mut unsupported = result(Outcome::Unsupported, None, Some(Feature::Sasl2));
        unsupported.control = Some(crate::runner::verdict::Control {
            id: "c2s-x/control".to_owned(),
            outcome: Outcome::Pass,
            observed: "authenticated".to_owned(),
        });
        let record = CaseRecord::from_result(&unsupported);
        assert_eq!(record.level, Some(Level::Must));
        assert_eq!(record.clause, "RFC 6120 §6.4");
        assert_eq!(
            record.requirement_line(),
            "MUST (RFC 6120 §6.4): \"the text\""
        );
        assert_eq!(record.missing_feature.as_deref(), Some("SASL2 (XEP-0388)"));
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["level"], "MUST");
        assert_eq!(json["requirement_text"], "the text");
        assert_eq!(
            json["control"],
            serde_json::json!({"id": "c2s-x/control", "outcome": "pass"})
        );
    }

    #[test]
    fn the_target_summary_counts_must_should_unsupported_features_once_and_inconclusive() {
        let results = [
            result(Outcome::Fail, None, None),
            result(Outcome::Fail, Some(DeviationOutcome::Fail), None),
            result(Outcome::Warn, None, None),
            result(Outcome::Inconclusive, None, None),
            result(
                Outcome::Unsupported,
                None,
                Some(Feature::ChannelBinding(ChannelBindingType::TlsExporter)),
            ),
            result(
                Outcome::Unsupported,
                None,
                Some(Feature::ChannelBinding(ChannelBindingType::TlsExporter)),
            ),
            result(Outcome::Pass, None, None),
            result(Outcome::Info, None, None),
        ];
        let records: Vec<CaseRecord> = results.iter().map(CaseRecord::from_result).collect();
        let from_records = TargetSummaryRecord::of(&records);
        assert_eq!(
            from_records.to_string(),
            "2 MUST violations, 1 SHOULD deviation, 1 unsupported feature (channel binding tls-exporter), 1 inconclusive"
        );
    }

    #[test]
    fn a_record_of_a_harness_before_requirement_levels_still_reads() {
        let record: CaseRecord = serde_json::from_value(serde_json::json!({
            "scenario": "c2s-x/plain", "scenario_id": "c2s-x", "target": "prosody",
            "outcome": "fail", "step": "sasl", "expected": "authenticated",
            "observed": "rejected at sasl by target (mechanism-not-offered)",
            "duration_ms": 3, "title": "t", "spec": [], "tags": [], "source": "s.yaml",
            "transcript": "transcripts/prosody/c2s-x_plain.txt",
            "expected_deviation": {"outcome": "fail", "reason": "known",
                                   "observed": "rejected at sasl by target"},
            "as_expected": true
        }))
        .unwrap();
        assert_eq!(record.verdict(), Verdict::Xfail);
        assert_eq!(
            (record.level, record.requirement_line()),
            (None, String::new())
        );
        let deviation = record.expected_deviation.unwrap();
        assert_eq!((deviation.clause.as_str(), deviation.observed), ("", None));
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
            level: Some(Level::Must),
            clause: "RFC 6120 §5.3.1".to_owned(),
            requirement_text: "quoted".to_owned(),
            missing_feature: None,
            control: Some(ControlRecord {
                id: "c2s-x/control".to_owned(),
                outcome: Outcome::Unsupported,
            }),
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
