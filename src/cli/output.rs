//! Where results go besides the report files' own writers: the reporters of a run, whether the
//! terminal may be coloured, and the GitHub Actions step summary.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use xmpp_interop::report::Reporter;
use xmpp_interop::report::html::HtmlWriter;
use xmpp_interop::report::json::JsonWriter;
use xmpp_interop::report::junit::JunitWriter;
use xmpp_interop::report::markdown::MarkdownWriter;
use xmpp_interop::report::record::Verdict;
use xmpp_interop::report::terminal::TerminalReporter;
use xmpp_interop::report::transcripts::TranscriptWriter;

/// What the terminal shows while reporters run.
pub enum Terminal {
    /// The case matrix (with a progress bar when `progress`), as `run` and `merge` show it.
    Matrix {
        /// Whether to colour the matrix.
        color: bool,
        /// Whether to draw a progress bar.
        progress: bool,
    },
    /// Nothing: the subcommand prints its own view (`pairs`).
    Own,
}

/// The report files every run writes into `out`: `junit.xml`, `results.json` (recording
/// `partition` when given), `index.html`, `summary.md` (appended to `step_summary` when given)
/// and the transcripts, after the terminal view `terminal` asks for. `hidden` verdicts lose
/// their rows in the terminal matrix and start unticked in the page's filter.
pub fn reporters(
    out: &Path,
    terminal: Terminal,
    partition: Option<String>,
    step_summary: Option<PathBuf>,
    hidden: &[Verdict],
) -> Vec<Box<dyn Reporter>> {
    let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
    if let Terminal::Matrix { color, progress } = terminal {
        reporters.push(Box::new(TerminalReporter::new(
            color,
            progress,
            &out.display().to_string(),
            hidden.to_vec(),
        )));
    }
    reporters.push(Box::new(JunitWriter::new(out.join("junit.xml"))));
    reporters.push(Box::new(
        JsonWriter::new(out.join("results.json")).with_partition(partition),
    ));
    reporters.push(Box::new(
        HtmlWriter::new(out.join("index.html")).hiding(hidden.to_vec()),
    ));
    reporters.push(Box::new(MarkdownWriter::new(
        out.join("summary.md"),
        step_summary,
    )));
    reporters.push(Box::new(TranscriptWriter::new(out.to_owned())));
    reporters
}

/// Whether the matrix may be coloured: stdout is a terminal and `NO_COLOR` is not set.
pub fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The GitHub Actions step summary file (`GITHUB_STEP_SUMMARY`), when it is set.
pub fn step_summary() -> Option<PathBuf> {
    std::env::var_os("GITHUB_STEP_SUMMARY")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Appends `markdown` to the step summary, when there is one.
pub fn append_to_step_summary(markdown: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let Some(summary) = step_summary() else {
        return Ok(());
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&summary)
        .with_context(|| format!("cannot open {}", summary.display()))?;
    file.write_all(markdown.as_bytes())
        .with_context(|| format!("cannot write {}", summary.display()))
}
