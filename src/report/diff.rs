//! `xmpp-interop diff OLD.json NEW.json`: the cells (case × target) whose verdict changed
//! between two runs, and whether any of them regressed.
//!
//! A cell regresses when it ended as expected in the old run (`PASS`, `SKIP`, `XFAIL`) and does
//! not in the new one (`FAIL`, `XPASS`, `ERROR`). Cells only in one run are listed as added or
//! removed; they do not count as regressions.

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

impl Change {
    /// Whether the cell was as expected before and is not now.
    pub fn is_regression(&self) -> bool {
        matches!((self.old, self.new), (Some((_, true)), Some((_, false))))
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
        let note = match (change.old, change.new) {
            (None, _) => "added",
            (_, None) => "removed",
            _ if change.is_regression() => "REGRESSION",
            (Some((_, false)), Some((_, true))) => "fixed",
            _ => "changed",
        };
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
    format!(
        "{table}\n\n{} cells changed, {regressions} regressed\n",
        changes.len()
    )
}
