//! `junit.xml`: one testsuite per target, one testcase per case, for CI systems.
//!
//! The document follows the Ant/Jenkins JUnit schema (`fixtures/schemas/junit.xsd`, checked
//! with `xmllint --schema` in the tests). A failing testcase's message names the step, what was
//! expected and what was observed, and the transcript's path relative to the report directory.
//!
//! | verdict | JUnit |
//! | --- | --- |
//! | `FAIL` (a MUST broken) | `<failure type="fail">` |
//! | `XPASS` | `<failure type="unexpected-pass">` |
//! | a recorded deviation that ended otherwise (skip, unsupported, ...) | `<failure type="deviation-ended-otherwise">` |
//! | `ERROR` | `<error type="error">` |
//! | `WARN` (a SHOULD not followed) | passing, `SHOULD deviation: ...` in `<system-out>` |
//! | `INFO` (a MAY) | passing, `fact, not judged: ...` in `<system-out>` |
//! | `UNSUPPORTED` | `<skipped type="unsupported">` naming the missing feature |
//! | `INCONCLUSIVE` | `<skipped type="inconclusive">` naming the positive control |
//! | `SKIP` | `<skipped type="not-applicable">` |
//! | `XFAIL`, `XWARN` | `<skipped type="expected-deviation">` with the recorded reason |
//!
//! A `WARN` stays a passing testcase even under `--strict` (which only changes the exit code):
//! the document does not depend on how the run was invoked, so a merge rebuilds the same one.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use super::record::{CaseRecord, ReportEvent, Verdict};
use super::{ReportError, Reporter, write_file};

/// Collects results and writes `junit.xml` when the run finishes.
pub struct JunitWriter {
    path: PathBuf,
    targets: Vec<String>,
    implementations: Vec<String>,
    started_at: String,
    results: Vec<Arc<CaseRecord>>,
}

impl JunitWriter {
    /// Writes to `path` (usually `reports/junit.xml`).
    pub fn new(path: PathBuf) -> JunitWriter {
        JunitWriter {
            path,
            targets: Vec::new(),
            implementations: Vec::new(),
            started_at: String::new(),
            results: Vec::new(),
        }
    }
}

impl Reporter for JunitWriter {
    fn on_event(&mut self, event: &ReportEvent) -> Result<(), ReportError> {
        match event {
            ReportEvent::RunStarted {
                targets,
                implementations,
                started_at,
                ..
            } => {
                self.targets = targets.clone();
                self.implementations = implementations.clone();
                self.started_at = started_at.clone();
            }
            ReportEvent::CaseStarted { .. } => {}
            ReportEvent::CaseFinished(record) => self.results.push(Arc::clone(record)),
            ReportEvent::RunFinished { .. } => {
                let xml = render(
                    &self.targets,
                    &self.implementations,
                    &self.started_at,
                    &self.results,
                );
                write_file(&self.path, xml.as_bytes())?;
            }
        }
        Ok(())
    }
}

/// Per-suite counts, as JUnit counts them.
#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    millis: u64,
}

/// The JUnit document of these results: suites in `targets` order, testcases by case id.
pub fn render(
    targets: &[String],
    implementations: &[String],
    started_at: &str,
    results: &[Arc<CaseRecord>],
) -> String {
    let mut suites = String::new();
    let mut total = Counts::default();
    for (index, target) in targets.iter().enumerate() {
        let mut mine: Vec<&Arc<CaseRecord>> =
            results.iter().filter(|r| &r.target == target).collect();
        mine.sort_by(|a, b| a.case_id.cmp(&b.case_id));
        let mut counts = Counts::default();
        let mut cases = String::new();
        for record in mine {
            counts.tests += 1;
            counts.millis = counts.millis.saturating_add(record.duration_ms);
            match outcome_element(record).map(|element| element.element) {
                Some("failure") => counts.failures += 1,
                Some("error") => counts.errors += 1,
                Some(_) => counts.skipped += 1,
                None => {}
            }
            testcase(&mut cases, record);
        }
        let _ = writeln!(
            suites,
            "  <testsuite name=\"{}\" id=\"{index}\" package=\"xmpp-interop\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">",
            escape(target),
            counts.tests,
            counts.failures,
            counts.errors,
            counts.skipped,
            seconds(counts.millis),
            escape(started_at),
        );
        if let Some(implementation) = implementations.get(index) {
            let _ = writeln!(
                suites,
                "    <properties>\n      <property name=\"implementation\" value=\"{}\"/>\n    </properties>",
                escape(implementation)
            );
        }
        suites.push_str(&cases);
        suites.push_str("  </testsuite>\n");
        total.tests += counts.tests;
        total.failures += counts.failures;
        total.errors += counts.errors;
        total.skipped += counts.skipped;
        total.millis = total.millis.saturating_add(counts.millis);
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"xmpp-interop\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">\n{suites}</testsuites>\n",
        total.tests,
        total.failures,
        total.errors,
        seconds(total.millis),
    )
}

/// `text` escaped for XML, with characters XML 1.0 cannot carry (control characters a peer
/// may have sent) replaced by U+FFFD.
fn escape(text: &str) -> String {
    let allowed: String = text
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect();
    quick_xml::escape::escape(allowed.as_str()).into_owned()
}

fn seconds(millis: u64) -> String {
    format!("{}.{:03}", millis / 1000, millis % 1000)
}

/// The child element that says how a testcase ended, when it did not simply pass.
struct OutcomeElement {
    /// `failure`, `error` or `skipped`.
    element: &'static str,
    /// Its `type`.
    kind: &'static str,
    /// Its message.
    text: String,
}

/// The recorded deviation's reason and link, as one text.
fn deviation_text(record: &CaseRecord) -> String {
    record
        .expected_deviation
        .as_ref()
        .map(|d| {
            format!(
                "{}{}",
                d.reason,
                d.link
                    .as_ref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default()
}

fn outcome_element(record: &CaseRecord) -> Option<OutcomeElement> {
    let message = format!(
        "step {}: expected {}; observed {}; transcript {}",
        record.step_text(),
        record.expected,
        record.observed,
        record.transcript,
    );
    let clause = record.requirement_line();
    let (element, kind, text) = match record.verdict() {
        Verdict::Error => ("error", "error", message),
        // Interrupted: nothing is known, so not a failure of the target, never a pass.
        Verdict::NotRun => ("skipped", "not-run", record.observed.clone()),
        Verdict::Xpass => (
            "failure",
            "unexpected-pass",
            format!(
                "passed although a deviation is recorded ({}); remove it from the expectations; {message}",
                deviation_text(record)
            ),
        ),
        verdict if record.recorded_deviation_ended_otherwise() => (
            "failure",
            "deviation-ended-otherwise",
            format!(
                "a deviation is recorded ({}) but the case ended {}; {message}",
                deviation_text(record),
                verdict.label()
            ),
        ),
        Verdict::Fail if clause.is_empty() => ("failure", "fail", message),
        Verdict::Fail => ("failure", "fail", format!("{clause} broken; {message}")),
        Verdict::Pass | Verdict::Warn | Verdict::Info => return None,
        Verdict::Unsupported => (
            "skipped",
            "unsupported",
            match &record.missing_feature {
                Some(feature) => format!("the target lacks {feature}: {}", record.observed),
                None => record.observed.clone(),
            },
        ),
        Verdict::Inconclusive => (
            "skipped",
            "inconclusive",
            match &record.control {
                Some(control) => {
                    format!("positive control {control}: {}", record.observed)
                }
                None => record.observed.clone(),
            },
        ),
        Verdict::Xfail | Verdict::Xwarn => (
            "skipped",
            "expected-deviation",
            format!("expected deviation: {}; {message}", deviation_text(record)),
        ),
        Verdict::Skip => ("skipped", "not-applicable", record.observed.clone()),
    };
    Some(OutcomeElement {
        element,
        kind,
        text,
    })
}

fn testcase(out: &mut String, record: &CaseRecord) {
    let _ = writeln!(
        out,
        "    <testcase name=\"{}\" classname=\"{}.{}\" time=\"{}\">",
        escape(&record.case_id),
        escape(&record.target),
        escape(&record.scenario_id),
        seconds(record.duration_ms),
    );
    if let Some(OutcomeElement {
        element,
        kind,
        text,
    }) = outcome_element(record)
    {
        let _ = writeln!(
            out,
            "      <{element} type=\"{kind}\" message=\"{}\">{}</{element}>",
            escape(&text),
            escape(&text),
        );
    }
    let mut notes = String::new();
    let clause = record.requirement_line();
    match record.verdict() {
        Verdict::Warn => notes.push_str(&format!(
            "SHOULD deviation: {clause}; step {}: expected {}; observed {}\n",
            record.step_text(),
            record.expected,
            record.observed
        )),
        Verdict::Info => notes.push_str(&format!(
            "fact, not judged: {clause}; observed {}\n",
            record.observed
        )),
        _ if !clause.is_empty() => notes.push_str(&format!("clause: {clause}\n")),
        _ => {}
    }
    let _ = writeln!(
        out,
        "      <system-out>{}source: {}\ntranscript: {}</system-out>\n    </testcase>",
        escape(&notes),
        escape(&record.source),
        escape(&record.transcript),
    );
}
