//! `summary.md`: the run as Markdown for wikis, PR comments and GitHub's job summary.
//!
//! What each target's column says (MUST violations, SHOULD deviations, unsupported features,
//! inconclusive cases), counts per target, the cells that did not end as expected and the
//! SHOULD deviations (clause, step, expected, observed), and the matrix. Up to [`FULL_MATRIX_ROWS`] rows the matrix is complete; above that, rows in which
//! every cell passed (or does not apply) are left out and counted, so the file stays small
//! enough for a PR comment; `index.html` always has every row. When asked (the CLI asks when
//! `GITHUB_STEP_SUMMARY` is set), the same Markdown is appended to that file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::record::{CaseRecord, ReportEvent, TargetSummaryRecord, Verdict, tally};
use super::{ReportError, Reporter, write_file};

/// Above this many rows the matrix shows only rows with something other than a pass.
pub const FULL_MATRIX_ROWS: usize = 300;

/// Collects results and writes `summary.md` (and appends to the job summary) at the end.
pub struct MarkdownWriter {
    path: PathBuf,
    append_to: Option<PathBuf>,
    targets: Vec<String>,
    implementations: Vec<String>,
    results: Vec<Arc<CaseRecord>>,
}

impl MarkdownWriter {
    /// Writes to `path` (usually `reports/summary.md`) and, if given, appends the same text to
    /// `append_to` (the file `GITHUB_STEP_SUMMARY` names).
    pub fn new(path: PathBuf, append_to: Option<PathBuf>) -> MarkdownWriter {
        MarkdownWriter {
            path,
            append_to,
            targets: Vec::new(),
            implementations: Vec::new(),
            results: Vec::new(),
        }
    }
}

impl Reporter for MarkdownWriter {
    fn on_event(&mut self, event: &ReportEvent) -> Result<(), ReportError> {
        match event {
            ReportEvent::RunStarted {
                targets,
                implementations,
                ..
            } => {
                self.targets = targets.clone();
                self.implementations = implementations.clone();
            }
            ReportEvent::CaseStarted { .. } => {}
            ReportEvent::CaseFinished(record) => self.results.push(Arc::clone(record)),
            ReportEvent::RunFinished {
                duration,
                interrupted,
            } => {
                let text = render(
                    &self.targets,
                    &self.implementations,
                    &self.results,
                    *duration,
                    interrupted.as_deref(),
                );
                write_file(&self.path, text.as_bytes())?;
                if let Some(summary) = &self.append_to {
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(summary)
                        .and_then(|mut file| file.write_all(text.as_bytes()))
                        .map_err(|source| ReportError::Write {
                            path: summary.clone(),
                            source,
                        })?;
                }
            }
        }
        Ok(())
    }
}

/// `text` safe inside a Markdown table cell: HTML (which GitHub would drop) and pipes
/// escaped, line breaks flattened.
fn cell(text: &str) -> String {
    code_cell(
        &text
            .replace('\\', "\\\\")
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
    )
}

/// `text` safe inside a code span in a table cell: pipes escaped, line breaks flattened.
fn code_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The verdict's label, in bold when the run does not accept it.
fn marked(verdict: Verdict, as_expected: bool) -> String {
    if as_expected {
        verdict.label().to_owned()
    } else {
        format!("**{}**", verdict.label())
    }
}

/// The Markdown text; `interrupted` says why the run stopped before every case finished, if
/// it did (its unfinished cases are `NOT RUN`, listed in their own section).
pub fn render(
    targets: &[String],
    implementations: &[String],
    results: &[Arc<CaseRecord>],
    duration: Duration,
    interrupted: Option<&str>,
) -> String {
    let total = tally(results);
    let mut text = String::from("# xmpp-interop results\n\n");
    if let Some(why) = interrupted {
        let _ = writeln!(
            text,
            "**Interrupted** ({}): {} of {} cases did not finish and are NOT RUN; nothing is known about them.\n",
            cell(why),
            total.not_run,
            total.total()
        );
    }
    let cases = if total.total() == 1 { "case" } else { "cases" };
    let _ = writeln!(
        text,
        "{} {cases} in {:.2} s: {total}\n",
        total.total(),
        duration.as_secs_f64()
    );
    text.push_str(
        "| target | MUST violations | SHOULD deviations | unsupported features | inconclusive |\n",
    );
    text.push_str("| --- | --- | --- | --- | --- |\n");
    for (target, summary) in TargetSummaryRecord::per_target(targets, results) {
        let features = if summary.unsupported_features.is_empty() {
            "0".to_owned()
        } else {
            format!(
                "{} ({})",
                summary.unsupported_features.len(),
                cell(&summary.unsupported_features.join(", "))
            )
        };
        let _ = writeln!(
            text,
            "| {} | {} | {} | {features} | {} |",
            cell(target),
            summary.must_violations,
            summary.should_deviations,
            summary.inconclusive
        );
    }
    // The `not run` column appears only in a run that has such cases.
    let not_run_column = total.not_run > 0;
    text.push_str("\n| target | implementation | pass | fail | warn | unsupported | inconclusive | info | xfail | xpass | skip | error |");
    text.push_str(if not_run_column { " not run |\n" } else { "\n" });
    text.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    text.push_str(if not_run_column { " --- |\n" } else { "\n" });
    for (index, target) in targets.iter().enumerate() {
        let counts = tally(results.iter().filter(|r| &r.target == target));
        let _ = write!(
            text,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(target),
            cell(implementations.get(index).map_or("", String::as_str)),
            counts.pass,
            counts.fail,
            counts.warn,
            counts.unsupported,
            counts.inconclusive,
            counts.info,
            counts.xfail,
            counts.xpass,
            counts.skip,
            counts.error
        );
        if not_run_column {
            let _ = write!(text, " {} |", counts.not_run);
        }
        text.push('\n');
    }
    let sorted = |keep: &dyn Fn(&CaseRecord) -> bool| {
        let mut kept: Vec<&Arc<CaseRecord>> = results.iter().filter(|r| keep(r)).collect();
        kept.sort_by(|a, b| (&a.case_id, &a.target).cmp(&(&b.case_id, &b.target)));
        kept
    };
    for (heading, records, accepted) in [
        (
            "Not as expected",
            sorted(&|r| !r.as_expected() && r.verdict() != Verdict::NotRun),
            false,
        ),
        (
            "SHOULD deviations",
            sorted(&|r| r.verdict() == Verdict::Warn && r.as_expected()),
            true,
        ),
        (
            "Not run (interrupted)",
            sorted(&|r| r.verdict() == Verdict::NotRun),
            false,
        ),
    ] {
        if records.is_empty() {
            continue;
        }
        let _ = write!(
            text,
            "\n## {heading}\n\n| case | target | verdict | clause | step | expected | observed |\n| --- | --- | --- | --- | --- | --- | --- |\n"
        );
        for record in records {
            let mut observed = record.observed.clone();
            if let Some(feature) = &record.missing_feature {
                observed.push_str(&format!(" [missing: {feature}]"));
            }
            if let Some(control) = &record.control {
                observed.push_str(&format!(" [control: {control}]"));
            }
            let _ = writeln!(
                text,
                "| `{}` | {} | {} | {} | {} | {} | {} |",
                code_cell(&record.case_id),
                cell(&record.target),
                marked(record.verdict(), accepted),
                cell(&record.requirement_line()),
                record.step_text(),
                cell(&record.expected),
                cell(&observed)
            );
        }
    }
    let mut rows: BTreeMap<&str, BTreeMap<&str, (Verdict, bool)>> = BTreeMap::new();
    for record in results {
        rows.entry(&record.case_id)
            .or_default()
            .insert(&record.target, (record.verdict(), record.as_expected()));
    }
    let complete = rows.len() <= FULL_MATRIX_ROWS;
    text.push_str("\n## Matrix\n\n");
    if !complete {
        let shown = rows
            .values()
            .filter(|cells| cells.values().any(|(v, _)| *v != Verdict::Pass))
            .count();
        let _ = writeln!(
            text,
            "{} rows in which every cell passed are left out ({shown} of {} shown); `index.html` has every row.\n",
            rows.len() - shown,
            rows.len()
        );
    }
    text.push_str("| case |");
    for target in targets {
        let _ = write!(text, " {} |", cell(target));
    }
    text.push_str("\n| --- |");
    text.push_str(&" --- |".repeat(targets.len()));
    text.push('\n');
    for (case, cells) in &rows {
        if !complete && cells.values().all(|(v, _)| *v == Verdict::Pass) {
            continue;
        }
        let _ = write!(text, "| `{}` |", code_cell(case));
        for target in targets {
            match cells.get(target.as_str()) {
                Some((verdict, as_expected)) => {
                    let _ = write!(text, " {} |", marked(*verdict, *as_expected));
                }
                None => text.push_str(" · |"),
            }
        }
        text.push('\n');
    }
    text
}
