//! Reports of the server-pair matrix (`xmpp-interop pairs`): the terminal matrix (rows: sender
//! → receiver, columns: profiles), `pairs.json`, `pairs.md` (also appended to
//! `GITHUB_STEP_SUMMARY` by the CLI) and a transcript per failing cell.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::ReportError;
use super::transcripts::render_trace;
use crate::runner::pairs::PairRecord;
use comfy_table::{Cell, Color, ContentArrangement, Table, presets};

impl PairRecord {
    fn row(&self) -> String {
        format!("{} → {}", self.from_domain, self.to_domain)
    }

    fn cell(&self) -> String {
        let verdict = if self.pass { "PASS" } else { "FAIL" };
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
            "\nFAIL {} [{}]\n  expected:   {}\n  observed:   {}\n",
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

/// Writes `pairs.json`, `pairs.md` and `transcripts/pairs/<cell>.txt` for every cell into
/// `out`; returns the Markdown.
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
    let transcripts = out.join("transcripts").join("pairs");
    std::fs::create_dir_all(&transcripts).map_err(|source| ReportError::Write {
        path: transcripts.clone(),
        source,
    })?;
    for record in records {
        let mut text = format!(
            "{} [{}]\nexpected: {}\nobserved: {}\n\n",
            record.row(),
            record.profile,
            record.expected,
            record.observed
        );
        text.push_str(&render_trace(&record.transcript));
        write_file(transcripts.join(record.transcript_name()), text.as_bytes())?;
    }
    Ok(markdown)
}
