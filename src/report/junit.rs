//! `junit.xml`: one testsuite per target, one testcase per case, for CI systems.
//!
//! A failing testcase's message names the step, what was expected and what was observed, and
//! the transcript's path relative to the report directory.

use std::path::PathBuf;
use std::sync::Arc;

use junit_report::{Report, TestCase, TestSuite};

use super::{ReportError, Reporter, transcript_path, write_file};
use crate::runner::{CaseResult, Event, Outcome};

/// Collects results and writes `junit.xml` when the run finishes.
pub struct JunitWriter {
    path: PathBuf,
    targets: Vec<String>,
    results: Vec<Arc<CaseResult>>,
}

impl JunitWriter {
    /// Writes to `path` (usually `reports/junit.xml`).
    pub fn new(path: PathBuf) -> JunitWriter {
        JunitWriter {
            path,
            targets: Vec::new(),
            results: Vec::new(),
        }
    }
}

impl Reporter for JunitWriter {
    fn on_event(&mut self, event: &Event) -> Result<(), ReportError> {
        match event {
            Event::RunStarted { targets, .. } => self.targets = targets.clone(),
            Event::CaseStarted { .. } => {}
            Event::CaseFinished(result) => self.results.push(Arc::clone(result)),
            Event::RunFinished { .. } => {
                let mut xml = Vec::new();
                render(&self.targets, &self.results)
                    .write_xml(&mut xml)
                    .map_err(|e| ReportError::Render {
                        what: "junit.xml",
                        detail: e.to_string(),
                    })?;
                write_file(&self.path, &xml)?;
            }
        }
        Ok(())
    }
}

/// The JUnit report of these results.
pub fn render(targets: &[String], results: &[Arc<CaseResult>]) -> Report {
    let mut report = Report::new();
    for target in targets {
        let mut suite = TestSuite::new(target);
        let mut mine: Vec<&Arc<CaseResult>> =
            results.iter().filter(|r| &r.target == target).collect();
        mine.sort_by(|a, b| a.case.id.cmp(&b.case.id));
        for result in mine {
            suite.add_testcase(testcase(result));
        }
        report.add_testsuite(suite);
    }
    report
}

fn testcase(result: &CaseResult) -> TestCase {
    let name = &result.case.id;
    let time =
        junit_report::Duration::try_from(result.duration).unwrap_or(junit_report::Duration::ZERO);
    let transcript = transcript_path(&result.target, name);
    let step = result
        .step
        .map(|s| s.to_string())
        .unwrap_or_else(|| "none".to_owned());
    let message = format!(
        "step {step}: expected {}; observed {}; transcript {}",
        result.expected,
        result.observed,
        transcript.display()
    );
    let mut case = match (&result.expected_deviation, result.outcome) {
        (Some(deviation), Outcome::Fail) => {
            let mut case = TestCase::skipped(name);
            case.set_system_err(&format!(
                "expected deviation: {}{}; {message}",
                deviation.reason,
                deviation
                    .link
                    .as_ref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            ));
            case
        }
        (Some(deviation), Outcome::Pass) => TestCase::failure(
            name,
            time,
            "unexpected-pass",
            &format!(
                "passed although a deviation is recorded ({}); remove it from the expectations; {message}",
                deviation.reason
            ),
        ),
        (_, Outcome::Pass) => TestCase::success(name, time),
        (_, Outcome::Fail) => TestCase::failure(name, time, "fail", &message),
        (_, Outcome::Error) => TestCase::error(name, time, "error", &message),
        (_, Outcome::Skip) => TestCase::skipped(name),
    };
    case.set_classname(&format!("{}.{}", result.target, result.case.scenario));
    case.set_filepath(&result.case.source.display().to_string());
    case.set_system_out(&format!("transcript: {}", transcript.display()));
    case
}
