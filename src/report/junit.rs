//! `junit.xml`: one testsuite per target, one testcase per case, for CI systems.
//!
//! The document follows the Ant/Jenkins JUnit schema (`fixtures/schemas/junit.xsd`, checked
//! with `xmllint --schema` in the tests). A failing testcase's message names the step, what was
//! expected and what was observed, and the transcript's path relative to the report directory;
//! an expected deviation (XFAIL) is `<skipped>` with the recorded reason, an unexpected pass
//! (XPASS) a `<failure type="unexpected-pass">`.

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
            match record.verdict() {
                Verdict::Fail | Verdict::Xpass => counts.failures += 1,
                Verdict::Error => counts.errors += 1,
                Verdict::Skip
                | Verdict::Xfail
                | Verdict::Xwarn
                | Verdict::Unsupported
                | Verdict::Inconclusive => counts.skipped += 1,
                Verdict::Pass | Verdict::Warn | Verdict::Info => {}
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

fn testcase(out: &mut String, record: &CaseRecord) {
    let message = format!(
        "step {}: expected {}; observed {}; transcript {}",
        record.step_text(),
        record.expected,
        record.observed,
        record.transcript,
    );
    let _ = writeln!(
        out,
        "    <testcase name=\"{}\" classname=\"{}.{}\" time=\"{}\">",
        escape(&record.case_id),
        escape(&record.target),
        escape(&record.scenario_id),
        seconds(record.duration_ms),
    );
    let deviation = record.expected_deviation.as_ref().map(|d| {
        format!(
            "{}{}",
            d.reason,
            d.link
                .as_ref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default()
        )
    });
    let (element, kind, text) = match (record.verdict(), deviation) {
        (Verdict::Pass | Verdict::Warn | Verdict::Info, _) => ("", "", String::new()),
        (Verdict::Fail, _) => ("failure", "fail", message),
        (Verdict::Unsupported, _) => ("skipped", "unsupported", record.observed.clone()),
        (Verdict::Inconclusive, _) => ("skipped", "inconclusive", record.observed.clone()),
        (Verdict::Xpass, deviation) => (
            "failure",
            "unexpected-pass",
            format!(
                "passed although a deviation is recorded ({}); remove it from the expectations; {message}",
                deviation.unwrap_or_default()
            ),
        ),
        (Verdict::Error, _) => ("error", "error", message),
        (Verdict::Xfail | Verdict::Xwarn, deviation) => (
            "skipped",
            "expected-deviation",
            format!(
                "expected deviation: {}; {message}",
                deviation.unwrap_or_default()
            ),
        ),
        (Verdict::Skip, _) => ("skipped", "not-applicable", record.observed.clone()),
    };
    if !element.is_empty() {
        let _ = writeln!(
            out,
            "      <{element} type=\"{kind}\" message=\"{}\">{}</{element}>",
            escape(&text),
            escape(&text),
        );
    }
    let _ = writeln!(
        out,
        "      <system-out>source: {}\ntranscript: {}</system-out>\n    </testcase>",
        escape(&record.source),
        escape(&record.transcript),
    );
}
