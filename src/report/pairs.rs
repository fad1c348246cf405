//! Reports of the server-pair matrix (`xmpp-interop pairs`): the terminal matrix (rows: sender
//! → receiver, columns: profiles), `pairs.json` and `pairs.md` (also appended to
//! `GITHUB_STEP_SUMMARY` by the CLI); and each message as a [`CaseRecord`] in the
//! [`ReportEvent`] stream ([`report_event`]), so that the reporters of a run write
//! `results.json`, `junit.xml`, `index.html`, `summary.md` and a transcript per message
//! (`transcripts/pairs/`) for pairs too.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::ReportError;
use super::record::{CaseRecord, ReportEvent, TranscriptSource, now_rfc3339};
use super::transcripts::render_trace;
use crate::runner::Outcome;
use crate::runner::pairs::{PairEvent, PairProfile, PairRecord};
use crate::scenario::Step;
use comfy_table::{Cell, Color, ContentArrangement, Table, presets};

impl PairRecord {
    fn row(&self) -> String {
        format!("{} → {}", self.from_domain, self.to_domain)
    }

    fn cell(&self) -> String {
        let verdict = self.outcome.label();
        if matches!(self.outcome, Outcome::Error | Outcome::NotRun) {
            return verdict.to_owned();
        }
        match (self.delivered, self.method) {
            (true, Some(method)) => format!("{verdict} {method}"),
            (true, None) => format!("{verdict} delivered"),
            (false, _) => format!("{verdict} refused"),
        }
    }

    fn transcript_name(&self) -> String {
        format!(
            "{}-to-{}-{}.txt",
            self.from_domain, self.to_domain, self.profile
        )
    }
}

/// The profiles in first-seen order, and the rows (sender → receiver) likewise.
fn axes(records: &[PairRecord]) -> (Vec<String>, Vec<String>) {
    let mut profiles: Vec<String> = Vec::new();
    let mut rows: Vec<String> = Vec::new();
    for record in records {
        if !profiles.contains(&record.profile) {
            profiles.push(record.profile.clone());
        }
        if !rows.contains(&record.row()) {
            rows.push(record.row());
        }
    }
    (profiles, rows)
}

fn find<'a>(records: &'a [PairRecord], row: &str, profile: &str) -> Option<&'a PairRecord> {
    records
        .iter()
        .find(|r| r.row() == row && r.profile == profile)
}

/// The terminal matrix, the failing cells with what was expected and seen, and a summary.
pub fn render_terminal(
    records: &[PairRecord],
    implementations: &[(String, String)],
    color: bool,
) -> String {
    let (profiles, rows) = axes(records);
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    let mut header = vec![Cell::new("sender → receiver (domains)")];
    header.extend(profiles.iter().map(Cell::new));
    table.set_header(header);
    for row in &rows {
        let mut cells = vec![Cell::new(row)];
        for profile in &profiles {
            cells.push(match find(records, row, profile) {
                Some(record) => {
                    let cell = Cell::new(record.cell());
                    match (color, record.pass) {
                        (false, _) => cell,
                        (true, true) => cell.fg(Color::Green),
                        (true, false) => cell.fg(Color::Red),
                    }
                }
                None => Cell::new("·"),
            });
        }
        table.add_row(cells);
    }
    let mut out = format!("{table}\n\n");
    for (name, implementation) in implementations {
        let _ = writeln!(out, "{name}: {implementation}");
    }
    for record in records.iter().filter(|r| !r.pass) {
        let _ = write!(
            out,
            "\n{} {} [{}]\n  expected:   {}\n  observed:   {}\n",
            record.outcome.label(),
            record.row(),
            record.profile,
            record.expected,
            record.observed
        );
    }
    let passed = records.iter().filter(|r| r.pass).count();
    let _ = writeln!(
        out,
        "\n{} messages: {passed} as expected, {} not",
        records.len(),
        records.len() - passed
    );
    out
}

/// The matrix as a Markdown table, with the implementations' versions.
pub fn render_markdown(records: &[PairRecord], implementations: &[(String, String)]) -> String {
    let (profiles, rows) = axes(records);
    let mut out = String::from("## Server pairs\n\n| sender → receiver (domains) |");
    for profile in &profiles {
        let _ = write!(out, " {profile} |");
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(profiles.len()));
    out.push('\n');
    for row in &rows {
        let _ = write!(out, "| {row} |");
        for profile in &profiles {
            let text = find(records, row, profile).map_or("·".to_owned(), PairRecord::cell);
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    out.push('\n');
    for (name, implementation) in implementations {
        let _ = writeln!(out, "- {name}: {implementation}");
    }
    out
}

/// Writes `pairs.json` and `pairs.md` into `out`; returns the Markdown. The transcripts are
/// written by the run's `TranscriptWriter` from [`case_record`]s.
pub fn write(
    out: &Path,
    records: &[PairRecord],
    implementations: &[(String, String)],
) -> Result<String, ReportError> {
    let write_file = |path: PathBuf, contents: &[u8]| {
        std::fs::write(&path, contents).map_err(|source| ReportError::Write {
            path: path.clone(),
            source,
        })
    };
    let json = serde_json::json!({
        "implementations": implementations.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        "pairs": records,
    });
    let json = serde_json::to_vec_pretty(&json).map_err(|e| ReportError::Write {
        path: out.join("pairs.json"),
        source: std::io::Error::other(e),
    })?;
    write_file(out.join("pairs.json"), &json)?;
    let markdown = render_markdown(records, implementations);
    write_file(out.join("pairs.md"), markdown.as_bytes())?;
    Ok(markdown)
}

/// The report event of a pairs event; `None` for what only the terminal shows.
pub fn report_event(event: &PairEvent) -> Option<ReportEvent> {
    match event {
        PairEvent::Started {
            total,
            targets,
            implementations,
        } => Some(ReportEvent::RunStarted {
            total: *total,
            targets: targets.clone(),
            implementations: implementations.clone(),
            started_at: now_rfc3339(),
        }),
        PairEvent::PairStarted { .. } => None,
        PairEvent::Finished(record) => {
            Some(ReportEvent::CaseFinished(Arc::new(case_record(record))))
        }
        PairEvent::AllFinished {
            duration,
            interrupted,
        } => Some(ReportEvent::RunFinished {
            duration: Duration::from_millis(
                u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            ),
            interrupted: interrupted.as_ref().map(|why| why.reason()),
        }),
    }
}

/// One message as a cell of the reports: the row is `pairs/PROFILE/FROM-to-TO` (domains),
/// the column is the receiving server, the one that authenticates the link.
pub fn case_record(record: &PairRecord) -> CaseRecord {
    let profile = PairProfile::from_name(&record.profile);
    let spec: Vec<String> = profile
        .map(|p| p.clauses().iter().map(|c| (*c).to_owned()).collect())
        .unwrap_or_default();
    let sent = matches!(record.outcome, Outcome::Pass | Outcome::Fail);
    CaseRecord {
        case_id: format!(
            "pairs/{}/{}-to-{}",
            record.profile, record.from_domain, record.to_domain
        ),
        scenario_id: format!("pairs/{}", record.profile),
        target: record.to.clone(),
        outcome: record.outcome,
        step: sent.then_some(Step::Message),
        expected: record.expected.clone(),
        observed: record.observed.clone(),
        duration_ms: u64::try_from(record.duration_ms).unwrap_or(u64::MAX),
        title: format!(
            "A message from {} ({}) to {} ({}) under {}",
            record.from_domain, record.from, record.to_domain, record.to, record.profile
        ),
        clause: spec.join(", "),
        spec,
        tags: vec!["pairs".to_owned(), record.profile.clone()],
        source: String::new(),
        transcript: Path::new("transcripts")
            .join("pairs")
            .join(record.transcript_name())
            .display()
            .to_string(),
        expected_deviation: None,
        level: None,
        requirement_text: String::new(),
        missing_feature: None,
        control: None,
        runner_accepted: record.outcome == Outcome::Pass,
        transcript_source: Some(TranscriptSource::Text(transcript(record).into())),
    }
}

/// The transcript of one message: what was expected and seen, then the trace.
fn transcript(record: &PairRecord) -> String {
    let mut text = format!(
        "{} [{}]\nexpected: {}\nobserved: {}\n\n",
        record.row(),
        record.profile,
        record.expected,
        record.observed
    );
    text.push_str(&render_trace(&record.transcript));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: Outcome) -> PairRecord {
        PairRecord {
            from: "prosody".to_owned(),
            from_domain: "prosody.test".to_owned(),
            to: "ejabberd".to_owned(),
            to_domain: "ejabberd.test".to_owned(),
            profile: PairProfile::SelfSigned.name().to_owned(),
            expected: PairProfile::SelfSigned.describe_expected(),
            delivered: false,
            method: None,
            observed: "interrupted by SIGTERM".to_owned(),
            pass: false,
            outcome,
            duration_ms: 0,
            transcript: Vec::new(),
        }
    }

    #[test]
    fn a_message_is_a_cell_of_the_receiving_server_with_its_pair_transcript_xep0220() {
        let cell = case_record(&record(Outcome::Fail));
        assert_eq!(
            cell.case_id,
            "pairs/self-signed/prosody.test-to-ejabberd.test"
        );
        assert_eq!(cell.target, "ejabberd");
        assert_eq!(cell.step, Some(Step::Message));
        assert_eq!(cell.spec, ["XEP-0220"]);
        assert_eq!(
            cell.transcript,
            "transcripts/pairs/prosody.test-to-ejabberd.test-self-signed.txt"
        );
        assert!(!cell.runner_accepted);
    }

    #[test]
    fn a_pair_an_interruption_left_is_not_run_in_every_report() {
        let not_run = record(Outcome::NotRun);
        let cell = case_record(&not_run);
        assert_eq!(cell.outcome, Outcome::NotRun);
        assert_eq!(cell.step, None);
        let matrix = render_markdown(&[not_run], &[]);
        assert!(
            matrix.contains("| prosody.test → ejabberd.test | NOT RUN |"),
            "{matrix}"
        );
    }
}
