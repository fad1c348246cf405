//! `xmpp-interop diff OLD.json NEW.json`: the cells (case × target) whose verdict changed
//! between two runs, and whether any of them regressed.
//!
//! A cell regresses when its old verdict was acceptable (`PASS`, `WARN`, `UNSUPPORTED`,
//! `INCONCLUSIVE`, `INFO`, `SKIP`, `XFAIL`, `XWARN`) and its new one is not (`FAIL`, `XPASS`,
//! `ERROR`, or a recorded deviation that ended otherwise). It is fixed when the reverse
//! happened, or when a target that lacked a feature or did not follow a SHOULD now passes
//! (`UNSUPPORTED` or `WARN` → `PASS`). Any other difference (`PASS` → `WARN` among them: a
//! SHOULD deviation fails a run only under `--strict`) is a change. Cells only in one run are
//! listed as added or removed; they do not count as regressions.
//!
//! A cell the new run did not finish (`NOT RUN`: the run was interrupted) is listed as `NOT
//! RUN`, not as a regression of the target, but it fails the diff like one ([`Change::fails`]):
//! nothing is known about it, so the diff cannot say it did not regress. A cell that was `NOT
//! RUN` before and has a verdict now is a change, or a regression when the new verdict is not
//! acceptable.

use std::collections::BTreeMap;

use comfy_table::{Table, presets};

use super::record::{ResultsFile, Verdict};

/// A cell's verdict and whether its run accepted it.
pub type Judged = (Verdict, bool);

/// One cell whose verdict differs between the runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The case id.
    pub case: String,
    /// The target.
    pub target: String,
    /// The verdict in the old run and whether the run accepted it; `None` when the cell is
    /// new.
    pub old: Option<Judged>,
    /// The verdict in the new run and whether the run accepted it; `None` when the cell was
    /// removed.
    pub new: Option<Judged>,
    /// What the new run observed (empty for a removed cell).
    pub observed: String,
}

/// What a change means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// The cell is only in the new run.
    Added,
    /// The cell is only in the old run.
    Removed,
    /// Acceptable before, not now.
    Regression,
    /// Not acceptable before and acceptable now, or `UNSUPPORTED`/`WARN` → `PASS`.
    Fixed,
    /// Another difference.
    Changed,
    /// The new run did not finish the cell (it was interrupted): nothing is known now.
    NotRun,
}

impl ChangeKind {
    /// The word the table shows.
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Regression => "REGRESSION",
            ChangeKind::Fixed => "fixed",
            ChangeKind::Changed => "changed",
            ChangeKind::NotRun => "NOT RUN",
        }
    }
}

impl Change {
    /// What the change means.
    pub fn kind(&self) -> ChangeKind {
        match (self.old, self.new) {
            (None, _) => ChangeKind::Added,
            (_, None) => ChangeKind::Removed,
            (_, Some((Verdict::NotRun, _))) => ChangeKind::NotRun,
            (Some((Verdict::NotRun, _)), Some((_, false))) => ChangeKind::Regression,
            (Some((Verdict::NotRun, _)), Some((_, true))) => ChangeKind::Changed,
            (Some((_, true)), Some((_, false))) => ChangeKind::Regression,
            (Some((_, false)), Some((_, true))) => ChangeKind::Fixed,
            (Some((Verdict::Unsupported | Verdict::Warn, _)), Some((Verdict::Pass, _))) => {
                ChangeKind::Fixed
            }
            _ => ChangeKind::Changed,
        }
    }

    /// Whether the cell was acceptable before and is not now.
    pub fn is_regression(&self) -> bool {
        self.kind() == ChangeKind::Regression
    }

    /// Whether the change fails the diff (exit 1): a regression, or a cell the new run did
    /// not finish.
    pub fn fails(&self) -> bool {
        matches!(self.kind(), ChangeKind::Regression | ChangeKind::NotRun)
    }
}

/// The changed cells, by case id and target.
pub fn diff(old: &ResultsFile, new: &ResultsFile) -> Vec<Change> {
    let before: BTreeMap<(&str, &str), Judged> = old
        .results
        .iter()
        .map(|r| {
            (
                (r.case_id.as_str(), r.target.as_str()),
                (r.verdict(), r.as_expected()),
            )
        })
        .collect();
    let mut after: BTreeMap<(&str, &str), (Judged, &str)> = BTreeMap::new();
    for r in &new.results {
        after.insert(
            (r.case_id.as_str(), r.target.as_str()),
            ((r.verdict(), r.as_expected()), r.observed.as_str()),
        );
    }
    let mut changes = Vec::new();
    for (&(case, target), &(verdict, observed)) in &after {
        let old = before.get(&(case, target)).copied();
        if old != Some(verdict) {
            changes.push(Change {
                case: case.to_owned(),
                target: target.to_owned(),
                old,
                new: Some(verdict),
                observed: observed.to_owned(),
            });
        }
    }
    for (&(case, target), &verdict) in &before {
        if !after.contains_key(&(case, target)) {
            changes.push(Change {
                case: case.to_owned(),
                target: target.to_owned(),
                old: Some(verdict),
                new: None,
                observed: String::new(),
            });
        }
    }
    changes.sort_by(|a, b| (&a.case, &a.target).cmp(&(&b.case, &b.target)));
    changes
}

/// The changes as a table and a summary line.
pub fn render(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "no cell changed\n".to_owned();
    }
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    table.force_no_tty();
    table.set_header(["case", "target", "old", "new", "", "observed now"]);
    for change in changes {
        let show = |v: Option<Judged>| v.map_or("-", |(v, _)| v.label());
        let note = change.kind().label();
        table.add_row([
            change.case.as_str(),
            change.target.as_str(),
            show(change.old),
            show(change.new),
            note,
            change.observed.as_str(),
        ]);
    }
    let regressions = changes.iter().filter(|c| c.is_regression()).count();
    let not_run = changes
        .iter()
        .filter(|c| c.kind() == ChangeKind::NotRun)
        .count();
    let not_run = if not_run > 0 {
        format!(", {not_run} not run in the new run (interrupted)")
    } else {
        String::new()
    };
    format!(
        "{table}\n\n{} cells changed, {regressions} regressed{not_run}\n",
        changes.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::record::{CaseRecord, Harness};
    use crate::runner::Outcome;
    use crate::runner::expectations::{Deviation, DeviationOutcome};

    fn record(outcome: Outcome, recorded: Option<DeviationOutcome>, accepted: bool) -> CaseRecord {
        CaseRecord {
            case_id: "c2s-x/plain".to_owned(),
            scenario_id: "c2s-x".to_owned(),
            target: "prosody".to_owned(),
            outcome,
            step: None,
            expected: "authenticated".to_owned(),
            observed: "observed".to_owned(),
            duration_ms: 1,
            title: "t".to_owned(),
            spec: Vec::new(),
            tags: Vec::new(),
            source: "s.yaml".to_owned(),
            transcript: "transcripts/prosody/c2s-x_plain.txt".to_owned(),
            expected_deviation: recorded.map(|outcome| Deviation {
                outcome,
                clause: "RFC 6120 §6.4".to_owned(),
                reason: "known".to_owned(),
                link: None,
                observed: None,
            }),
            level: None,
            clause: String::new(),
            requirement_text: String::new(),
            missing_feature: None,
            control: None,
            runner_accepted: accepted,
            transcript_source: None,
        }
    }

    fn file(record: CaseRecord) -> ResultsFile {
        ResultsFile {
            harness: Harness::this(),
            started_at: String::new(),
            duration_ms: 0,
            targets: vec!["prosody".to_owned()],
            implementations: BTreeMap::new(),
            partition: None,
            interrupted: None,
            results: vec![record],
        }
    }

    fn kind(old: CaseRecord, new: CaseRecord) -> Option<ChangeKind> {
        diff(&file(old), &file(new)).first().map(Change::kind)
    }

    #[test]
    fn every_acceptable_old_verdict_that_becomes_fail_xpass_or_error_is_a_regression() {
        let acceptable = [
            record(Outcome::Pass, None, true),
            record(Outcome::Warn, None, true),
            record(Outcome::Unsupported, None, true),
            record(Outcome::Inconclusive, None, true),
            record(Outcome::Info, None, true),
            record(Outcome::Skip, None, true),
            record(Outcome::Fail, Some(DeviationOutcome::Fail), true),
            record(Outcome::Warn, Some(DeviationOutcome::Warn), true),
        ];
        let unacceptable = [
            record(Outcome::Fail, None, false),
            record(Outcome::Pass, Some(DeviationOutcome::Fail), false),
            record(Outcome::Error, None, false),
            record(Outcome::Skip, Some(DeviationOutcome::Fail), false),
        ];
        for old in &acceptable {
            for new in &unacceptable {
                assert_eq!(
                    kind(old.clone(), new.clone()),
                    Some(ChangeKind::Regression),
                    "{} -> {}",
                    old.verdict(),
                    new.verdict()
                );
            }
        }
    }

    #[test]
    fn a_cell_the_new_run_did_not_finish_is_not_run_and_fails_the_diff_but_is_no_regression() {
        let not_run = || record(Outcome::NotRun, None, false);
        for old in [
            record(Outcome::Pass, None, true),
            record(Outcome::Fail, None, false),
        ] {
            let changes = diff(&file(old), &file(not_run()));
            assert_eq!(changes.len(), 1);
            assert_eq!(changes[0].kind(), ChangeKind::NotRun);
            assert!(changes[0].fails());
            assert!(!changes[0].is_regression());
            assert!(render(&changes).contains("1 not run in the new run"));
        }
        assert_eq!(
            kind(not_run(), record(Outcome::Pass, None, true)),
            Some(ChangeKind::Changed)
        );
        assert_eq!(
            kind(not_run(), record(Outcome::Fail, None, false)),
            Some(ChangeKind::Regression)
        );
    }

    #[test]
    fn pass_to_warn_is_a_change_and_unsupported_to_pass_a_fix() {
        let pass = || record(Outcome::Pass, None, true);
        assert_eq!(
            kind(pass(), record(Outcome::Warn, None, true)),
            Some(ChangeKind::Changed)
        );
        assert_eq!(
            kind(record(Outcome::Unsupported, None, true), pass()),
            Some(ChangeKind::Fixed)
        );
        assert_eq!(
            kind(record(Outcome::Fail, None, false), pass()),
            Some(ChangeKind::Fixed)
        );
        assert_eq!(kind(pass(), pass()), None);
    }
}
