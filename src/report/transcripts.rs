//! One transcript file per case: the verdict on top, then the protocol trace with timestamps.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{ReportError, Reporter, transcript_path, write_file};
use crate::proto::Direction;
use crate::runner::{CaseResult, Event};

/// Writes `transcripts/<target>/<case>.txt` under the report directory as cases finish.
pub struct TranscriptWriter {
    out_dir: PathBuf,
}

impl TranscriptWriter {
    /// Writes under `out_dir`.
    pub fn new(out_dir: PathBuf) -> TranscriptWriter {
        TranscriptWriter { out_dir }
    }
}

impl Reporter for TranscriptWriter {
    fn on_event(&mut self, event: &Event) -> Result<(), ReportError> {
        if let Event::CaseFinished(result) = event {
            let path = self
                .out_dir
                .join(transcript_path(&result.target, &result.case.id));
            write_file(&path, render(result).as_bytes())?;
        }
        Ok(())
    }
}

/// The text of one transcript.
pub fn render(result: &CaseResult) -> String {
    let case = &result.case;
    let mut text = String::new();
    let _ = writeln!(text, "case:      {}", case.id);
    let _ = writeln!(text, "title:     {}", case.title);
    let _ = writeln!(
        text,
        "scenario:  {} ({})",
        case.scenario,
        case.source.display()
    );
    let _ = writeln!(text, "spec:      {}", case.spec.join(", "));
    let _ = writeln!(text, "target:    {}", result.target);
    let _ = writeln!(text, "verdict:   {}", result.label());
    if let Some(deviation) = &result.expected_deviation {
        let _ = writeln!(
            text,
            "deviation: recorded as {}: {}{}",
            deviation.outcome.outcome(),
            deviation.reason,
            deviation
                .link
                .as_ref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default()
        );
    }
    if let Some(step) = result.step {
        let _ = writeln!(text, "step:      {step}");
    }
    let _ = writeln!(text, "expected:  {}", result.expected);
    let _ = writeln!(text, "observed:  {}", result.observed);
    let _ = writeln!(text, "duration:  {} ms", result.duration.as_millis());
    text.push_str(
        "\n--- trace (time since case start, whose view, direction; secrets redacted) ---\n",
    );
    let who_width = result
        .transcript
        .iter()
        .map(|l| l.who.len())
        .max()
        .unwrap_or(0);
    for line in &result.transcript {
        let arrow = match line.direction {
            Direction::Sent => "->",
            Direction::Received => "<-",
            Direction::Note => "**",
        };
        let _ = writeln!(
            text,
            "{:>9.6}s {:<who_width$} {arrow} {}",
            line.at.as_secs_f64(),
            line.who,
            line.text
        );
    }
    text
}
