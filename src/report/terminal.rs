//! The terminal view: a progress bar while cases run, then the matrix (rows: cases, columns:
//! targets), one summary line per target (MUST violations, SHOULD deviations, unsupported
//! features, inconclusive cases), the cells that did not end as expected and the SHOULD
//! deviations with their details (the clause's level, place and words; cells that ended alike
//! share one block), the unsupported features and inconclusive cells with what they rest on,
//! the skips (one line per target and reason), and the count line.
//!
//! Colour is used only when asked for (the CLI asks when stdout is a terminal and `NO_COLOR`
//! is not set); the progress bar only when stderr is a terminal.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::record::{CaseRecord, ReportEvent, TargetSummaryRecord, Verdict, tally};
use super::{ReportError, Reporter};

/// Shows progress on stderr and the matrix on stdout.
pub struct TerminalReporter {
    color: bool,
    progress: Option<ProgressBar>,
    targets: Vec<String>,
    implementations: Vec<String>,
    results: Vec<Arc<CaseRecord>>,
    report_dir: String,
    hidden: Vec<Verdict>,
}

impl TerminalReporter {
    /// `color`: style the matrix; `progress`: draw a progress bar on stderr; `report_dir`:
    /// shown in front of transcript paths; `hidden`: verdicts whose rows and lists are left
    /// out (`run --hide`).
    pub fn new(
        color: bool,
        progress: bool,
        report_dir: &str,
        hidden: Vec<Verdict>,
    ) -> TerminalReporter {
        TerminalReporter {
            color,
            progress: progress.then(ProgressBar::hidden),
            targets: Vec::new(),
            implementations: Vec::new(),
            results: Vec::new(),
            report_dir: report_dir.to_owned(),
            hidden,
        }
    }

    fn finish(&mut self, duration: Duration, interrupted: Option<&str>) -> Result<(), ReportError> {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        let text = render(
            &self.targets,
            &self.implementations,
            &self.results,
            &View {
                color: self.color,
                report_dir: &self.report_dir,
                hidden: &self.hidden,
            },
            duration,
            interrupted,
        );
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|source| ReportError::Write {
                path: "standard output".into(),
                source,
            })
    }
}

impl Reporter for TerminalReporter {
    fn on_event(&mut self, event: &ReportEvent) -> Result<(), ReportError> {
        match event {
            ReportEvent::RunStarted {
                total,
                targets,
                implementations,
                ..
            } => {
                self.targets = targets.clone();
                self.implementations = implementations.clone();
                if let Some(bar) = &self.progress {
                    bar.set_length(*total as u64);
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                    );
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                }
            }
            ReportEvent::CaseStarted { case, target } => {
                if let Some(bar) = &self.progress {
                    bar.set_message(format!("{case} @ {target}"));
                }
            }
            ReportEvent::CaseFinished(result) => {
                if let Some(bar) = &self.progress {
                    bar.inc(1);
                    if !result.as_expected() && result.verdict() != Verdict::NotRun {
                        bar.println(format!(
                            "{} {} @ {}: {}",
                            result.verdict(),
                            result.case_id,
                            result.target,
                            result.observed
                        ));
                    }
                }
                self.results.push(Arc::clone(result));
            }
            ReportEvent::RunFinished {
                duration,
                interrupted,
            } => self.finish(*duration, interrupted.as_deref())?,
        }
        Ok(())
    }
}

/// The matrix, the targets' implementations, the unexpected results, the expected deviations
/// and the summary line, as printed; an interrupted run (`interrupted` says why) lists its
/// `NOT RUN` cases per target and says so before the summary line.
/// How the matrix is shown.
pub struct View<'a> {
    /// Whether to style the matrix.
    pub color: bool,
    /// Shown in front of transcript paths.
    pub report_dir: &'a str,
    /// Verdicts whose rows (when every cell of a row has one of them) and whose lists are left
    /// out; the count line still counts them.
    pub hidden: &'a [Verdict],
}

/// The whole terminal report of a finished run, as [`TerminalReporter`] prints it.
pub fn render(
    targets: &[String],
    implementations: &[String],
    results: &[Arc<CaseRecord>],
    view: &View<'_>,
    duration: Duration,
    interrupted: Option<&str>,
) -> String {
    let View {
        color,
        report_dir,
        hidden,
    } = *view;
    let shown = |verdict: Verdict| !hidden.contains(&verdict);
    let mut rows: BTreeMap<&str, BTreeMap<&str, &CaseRecord>> = BTreeMap::new();
    for result in results {
        rows.entry(&result.case_id)
            .or_default()
            .insert(&result.target, result);
    }
    let tally = tally(results);
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    if color {
        table.enforce_styling();
    } else {
        table.force_no_tty();
    }
    let mut header = vec![Cell::new("case")];
    header.extend(targets.iter().map(Cell::new));
    table.set_header(header);
    let mut rows_hidden = 0;
    for (case, cells) in &rows {
        if !cells.values().any(|result| shown(result.verdict())) {
            rows_hidden += 1;
            continue;
        }
        let mut row = vec![Cell::new(case)];
        for target in targets {
            row.push(match cells.get(target.as_str()) {
                Some(result) => outcome_cell(result, color),
                None => Cell::new("·"),
            });
        }
        table.add_row(row);
    }
    let mut text = format!("{table}\n");
    if rows_hidden > 0 {
        let names: Vec<&str> = hidden.iter().map(|v| v.label()).collect();
        text.push_str(&format!(
            "({rows_hidden} rows of only {} hidden)\n",
            names.join(", ")
        ));
    }
    if implementations
        .iter()
        .any(|i| !i.starts_with("xmpp-interop built-in"))
    {
        text.push('\n');
        for (target, implementation) in targets.iter().zip(implementations) {
            text.push_str(&format!("{target}: {implementation}\n"));
        }
    }
    let summaries = TargetSummaryRecord::per_target(targets, results);
    if !summaries.is_empty() {
        let width = targets.iter().map(|t| t.chars().count()).max().unwrap_or(0);
        text.push('\n');
        for (target, summary) in summaries {
            text.push_str(&format!("{target:<width$}  {summary}\n"));
        }
    }
    let sorted = |keep: &dyn Fn(&CaseRecord) -> bool| {
        let mut kept: Vec<&Arc<CaseRecord>> = results.iter().filter(|r| keep(r)).collect();
        kept.sort_by(|a, b| (&a.case_id, &a.target).cmp(&(&b.case_id, &b.target)));
        kept
    };
    // Recorded deviations that happened, one line per target and reason (a record with a
    // pattern covers several cases with one reason).
    let mut deviations: BTreeMap<(&str, &'static str, &str), Vec<&str>> = BTreeMap::new();
    for result in
        sorted(&|r| r.expected_deviation.is_some() && r.as_expected() && shown(r.verdict()))
    {
        if let Some(deviation) = &result.expected_deviation {
            deviations
                .entry((
                    result.target.as_str(),
                    result.verdict().label(),
                    deviation.reason.as_str(),
                ))
                .or_default()
                .push(&result.case_id);
        }
    }
    if !deviations.is_empty() {
        text.push_str("\nexpected deviations:\n");
        for ((target, label, reason), cases) in deviations {
            text.push_str(&format!(
                "  {label} @ {target}: {} — {reason}\n",
                case_list(&cases)
            ));
        }
    }
    text.push_str(&problem_blocks(results, Some(report_dir), hidden));

    // Accepted cells that say something about the target without judging it, one line per
    // missing feature and per control that did not pass, so that one absent mechanism is one
    // line, not one per case.
    let mut explained: BTreeMap<(&str, &'static str, String), Vec<&str>> = BTreeMap::new();
    for result in sorted(&|r| r.as_expected() && shown(r.verdict())) {
        let why = match (result.verdict(), &result.missing_feature, &result.control) {
            (Verdict::Unsupported, Some(feature), _) => format!("lacks {feature}"),
            (Verdict::Inconclusive, _, Some(control)) => format!(
                "its positive control {} ended {}",
                control.id, control.outcome
            ),
            (Verdict::Unsupported | Verdict::Inconclusive, _, _) => result.observed.clone(),
            _ => continue,
        };
        explained
            .entry((result.target.as_str(), result.verdict().label(), why))
            .or_default()
            .push(&result.case_id);
    }
    if !explained.is_empty() {
        text.push('\n');
    }
    for ((target, label, why), cases) in explained {
        text.push_str(&format!(
            "{label} @ {target}: {why} ({})\n",
            case_list(&cases)
        ));
    }
    // Skips, one line per target and reason.
    let mut skipped: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for result in sorted(&|r| r.verdict() == Verdict::Skip && r.as_expected() && shown(r.verdict()))
    {
        skipped
            .entry((result.target.as_str(), result.observed.as_str()))
            .or_default()
            .push(&result.case_id);
    }
    if !skipped.is_empty() {
        text.push('\n');
    }
    for ((target, why), cases) in skipped {
        text.push_str(&format!("SKIP @ {target}: {why} ({})\n", case_list(&cases)));
    }
    let mut not_run: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for result in sorted(&|r| r.verdict() == Verdict::NotRun) {
        not_run
            .entry(result.target.as_str())
            .or_default()
            .push(&result.case_id);
    }
    if !not_run.is_empty() {
        text.push('\n');
    }
    for (target, cases) in not_run {
        text.push_str(&format!("NOT RUN @ {target}: {}\n", case_list(&cases)));
    }
    if let Some(why) = interrupted {
        text.push_str(&format!(
            "\ninterrupted: {why}; the cases that did not finish are NOT RUN\n"
        ));
    }
    let cases = if tally.total() == 1 { "case" } else { "cases" };
    text.push_str(&format!(
        "\n{} {cases} in {:.2} s: {tally}\n",
        tally.total(),
        duration.as_secs_f64()
    ));
    text
}

/// The blocks below the matrix for the cells a run does not accept, then the SHOULD deviations
/// it accepts, each with what its verdict rests on; cells that ended the same way for the same
/// reason are one block. `report_dir` is where the transcripts are (`None`: none were written,
/// and no transcript line is printed).
pub fn problem_blocks(
    results: &[Arc<CaseRecord>],
    report_dir: Option<&str>,
    hidden: &[Verdict],
) -> String {
    let shown = |verdict: Verdict| !hidden.contains(&verdict);
    let sorted = |keep: &dyn Fn(&CaseRecord) -> bool| {
        let mut kept: Vec<&Arc<CaseRecord>> = results.iter().filter(|r| keep(r)).collect();
        kept.sort_by(|a, b| (&a.case_id, &a.target).cmp(&(&b.case_id, &b.target)));
        kept
    };
    let mut text = String::new();
    // The cells the run does not accept, then the SHOULD deviations it accepts (they fail a
    // run only under --strict), each with what the verdict rests on.
    let problems =
        sorted(&|r| !r.as_expected() && r.verdict() != Verdict::NotRun && shown(r.verdict()));
    let should_deviations =
        sorted(&|r| r.verdict() == Verdict::Warn && r.as_expected() && shown(r.verdict()));
    // Cells that ended the same way for the same reason (57 cases that could not connect) are
    // one block listing the cases, not 57 identical ones.
    let mut blocks: Vec<Vec<&Arc<CaseRecord>>> = Vec::new();
    let mut block_of: BTreeMap<(Verdict, &str, &str, String, &str), usize> = BTreeMap::new();
    for result in problems.into_iter().chain(should_deviations) {
        // An error says nothing about the clause: one block per target and error.
        let error = result.verdict() == Verdict::Error;
        let same = (
            result.verdict(),
            result.target.as_str(),
            result.observed.as_str(),
            if error {
                String::new()
            } else {
                result.requirement_line()
            },
            if error { "" } else { result.expected.as_str() },
        );
        match block_of.get(&same) {
            Some(&index) => blocks[index].push(result),
            None => {
                block_of.insert(same, blocks.len());
                blocks.push(vec![result]);
            }
        }
    }
    for block in blocks {
        let result = block[0];
        // A merge knows the transcripts only of the shards that left them.
        let transcript = match report_dir {
            None => None,
            Some(dir) if result.transcript_source.is_some() => Some(format!(
                "{}/{}",
                dir.trim_end_matches('/'),
                result.transcript
            )),
            Some(_) => Some(format!(
                "none ({} was not found next to the merged results)",
                result.transcript
            )),
        };
        let heading = if result.verdict() == Verdict::Warn {
            " (SHOULD deviation)"
        } else {
            ""
        };
        if block.len() == 1 {
            text.push_str(&format!(
                "\n{} {} @ {}{heading}\n",
                result.verdict(),
                result.case_id,
                result.target
            ));
        } else {
            let ids: Vec<&str> = block.iter().map(|r| r.case_id.as_str()).collect();
            text.push_str(&format!(
                "\n{} @ {}{heading}, the same in {}\n",
                result.verdict(),
                result.target,
                case_list(&ids)
            ));
        }
        // The clause and expectation of one case, unless the block's cases differ in them.
        let alike = block.iter().all(|r| {
            r.requirement_line() == result.requirement_line() && r.expected == result.expected
        });
        let requirement = result.requirement_line();
        if alike && !requirement.is_empty() {
            text.push_str(&format!("  clause:     {requirement}\n"));
        }
        if result.recorded_deviation_ended_otherwise()
            && let Some(deviation) = &result.expected_deviation
        {
            text.push_str(&format!(
                "  recorded:   {} ({}), but the case ended {}\n",
                deviation.outcome.outcome(),
                deviation.reason,
                result.outcome
            ));
        }
        text.push_str(&format!("  step:       {}\n", result.step_text()));
        if alike {
            text.push_str(&format!("  expected:   {}\n", result.expected));
        }
        text.push_str(&format!("  observed:   {}\n", result.observed));
        if let Some(feature) = &result.missing_feature {
            text.push_str(&format!("  missing:    {feature}\n"));
        }
        if let Some(control) = &result.control {
            text.push_str(&format!("  control:    {control}\n"));
        }
        if let Some(transcript) = transcript {
            let first = if block.len() == 1 {
                ""
            } else {
                " (first case)"
            };
            text.push_str(&format!("  transcript: {transcript}{first}\n"));
        }
    }
    text
}

/// `cases` for one line: how many, and the first three ids.
fn case_list(cases: &[&str]) -> String {
    let shown: Vec<&str> = cases.iter().take(3).copied().collect();
    let more = match cases.len() - shown.len() {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    let count = if cases.len() == 1 { "case" } else { "cases" };
    format!("{} {count}: {}{more}", cases.len(), shown.join(", "))
}

fn outcome_cell(result: &CaseRecord, color: bool) -> Cell {
    let verdict = result.verdict();
    let cell = Cell::new(verdict.label());
    if !color {
        return cell;
    }
    cell.fg(match verdict {
        Verdict::Xfail | Verdict::Xwarn => Color::Cyan,
        Verdict::Xpass | Verdict::Fail => Color::Red,
        Verdict::Warn => Color::Yellow,
        Verdict::Pass => Color::Green,
        Verdict::Unsupported => Color::Blue,
        Verdict::Info => Color::DarkCyan,
        Verdict::Inconclusive => Color::DarkYellow,
        Verdict::Skip => Color::Grey,
        Verdict::Error => Color::Magenta,
        Verdict::NotRun => Color::DarkGrey,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{CaseResult, Outcome};
    use crate::scenario::{Level, Step};

    fn record(id: &str, level: Level, outcome: Outcome, observed: &str) -> Arc<CaseRecord> {
        let mut case = crate::scenario::test_support::scenario(id, level, &["PLAIN"])
            .cases
            .remove(0);
        case.id = id.to_owned();
        Arc::new(CaseRecord::from_result(&CaseResult {
            case: Arc::new(case),
            target: "participant".to_owned(),
            outcome,
            step: Some(Step::Connect),
            expected: "authenticated".to_owned(),
            observed: observed.to_owned(),
            duration: Duration::from_millis(1),
            transcript: Vec::new(),
            expected_deviation: None,
            missing_feature: None,
            control: None,
            observation: None,
        }))
    }

    fn rendered(results: &[Arc<CaseRecord>]) -> String {
        rendered_hiding(results, &[])
    }

    fn rendered_hiding(results: &[Arc<CaseRecord>], hidden: &[Verdict]) -> String {
        render(
            &["participant".to_owned()],
            &["external".to_owned()],
            results,
            &View {
                color: false,
                report_dir: "reports",
                hidden,
            },
            Duration::from_secs(1),
            None,
        )
    }

    #[test]
    fn identical_errors_are_one_block_listing_their_cases() {
        let refused = "cannot connect to 127.0.0.1:1: Connection refused";
        let text = rendered(&[
            record("c2s-a", Level::Must, Outcome::Error, refused),
            record("c2s-b", Level::Should, Outcome::Error, refused),
            record("c2s-c", Level::Must, Outcome::Error, "another error"),
        ]);
        assert!(
            text.contains("ERROR @ participant, the same in 2 cases: c2s-a, c2s-b\n"),
            "{text}"
        );
        assert_eq!(text.matches(refused).count(), 1, "{text}");
        // Their clauses differ, so the block names none.
        assert!(!text.contains("  clause:     SHOULD"), "{text}");
        assert!(text.contains("ERROR c2s-c @ participant\n"), "{text}");
    }

    #[test]
    fn failures_group_only_under_the_same_clause_and_expectation() {
        let seen = "rejected at tls by harness (bad-certificate): unknown issuer";
        let text = rendered(&[
            record("c2s-a", Level::Must, Outcome::Fail, seen),
            record("c2s-b", Level::Must, Outcome::Fail, seen),
            record("c2s-c", Level::Should, Outcome::Fail, seen),
        ]);
        assert!(
            text.contains("FAIL @ participant, the same in 2 cases: c2s-a, c2s-b\n"),
            "{text}"
        );
        assert!(text.contains("FAIL c2s-c @ participant\n"), "{text}");
        assert_eq!(text.matches(seen).count(), 2, "{text}");
    }

    #[test]
    fn hidden_verdicts_lose_their_rows_and_lists_but_not_their_count() {
        let results = [
            record(
                "c2s-a",
                Level::Must,
                Outcome::Skip,
                "not run: no direct-TLS port",
            ),
            record("c2s-b", Level::Must, Outcome::Fail, "rejected"),
        ];
        let text = rendered_hiding(&results, &[Verdict::Skip]);
        assert!(!text.contains("│ c2s-a"), "{text}");
        assert!(text.contains("│ c2s-b"), "{text}");
        assert!(text.contains("(1 rows of only SKIP hidden)"), "{text}");
        assert!(!text.contains("SKIP @"), "{text}");
        assert!(text.contains("1 skip"), "{text}");
        let all = rendered(&results);
        assert!(all.contains("│ c2s-a") && all.contains("SKIP @"), "{all}");
    }
}
