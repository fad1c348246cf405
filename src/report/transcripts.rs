//! One transcript file per case: the verdict on top (with the clause's level, place and words,
//! and, when there are any, the missing feature and the positive control), then the protocol
//! trace, one line per
//! element or event: milliseconds since the case started, whose view (`harness` or the
//! target's name), direction (`->` sent, `<-` received, `**` a note: TLS version, suite,
//! presented chain, alerts, SASL decisions) and the text, secrets already redacted by `drive`
//! and `proto`.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::record::{CaseRecord, ReportEvent, TranscriptSource};
use super::{ReportError, Reporter, write_file};
use crate::drive::TranscriptLine;
use crate::proto::Direction;

/// Writes `transcripts/<target>/<case>.txt` under the report directory as cases finish, for
/// every case whose transcript text is known (a merge knows only what the shards left).
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
    fn on_event(&mut self, event: &ReportEvent) -> Result<(), ReportError> {
        let ReportEvent::CaseFinished(record) = event else {
            return Ok(());
        };
        let path = self.out_dir.join(&record.transcript);
        match &record.transcript_source {
            Some(TranscriptSource::Text(text)) => write_file(&path, text.as_bytes())?,
            Some(TranscriptSource::File(source)) => copy_file(source, &path)?,
            None => {}
        }
        Ok(())
    }
}

/// Copies `source` to `path`, creating the parent directories (a merge's transcripts).
fn copy_file(source: &std::path::Path, path: &std::path::Path) -> Result<(), ReportError> {
    let copy = || -> std::io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(source, path).map(drop)
    };
    copy().map_err(|source| ReportError::Write {
        path: path.to_owned(),
        source,
    })
}

/// The text of one transcript: the record's verdict, then `lines`.
pub fn render(record: &CaseRecord, lines: &[TranscriptLine]) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "case:      {}", record.case_id);
    let _ = writeln!(text, "title:     {}", record.title);
    let _ = writeln!(
        text,
        "scenario:  {} ({})",
        record.scenario_id, record.source
    );
    let _ = writeln!(text, "spec:      {}", record.spec.join(", "));
    let requirement = record.requirement_line();
    if !requirement.is_empty() {
        let _ = writeln!(text, "clause:    {requirement}");
    }
    let _ = writeln!(text, "target:    {}", record.target);
    let _ = writeln!(text, "verdict:   {}", record.verdict());
    if let Some(feature) = &record.missing_feature {
        let _ = writeln!(text, "missing:   {feature}");
    }
    if let Some(control) = &record.control {
        let _ = writeln!(text, "control:   {control}");
    }
    if let Some(deviation) = &record.expected_deviation {
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
    if let Some(step) = record.step {
        let _ = writeln!(text, "step:      {step}");
    }
    let _ = writeln!(text, "expected:  {}", record.expected);
    let _ = writeln!(text, "observed:  {}", record.observed);
    let _ = writeln!(text, "duration:  {} ms", record.duration_ms);
    text.push_str(&render_trace(lines));
    text
}

/// The trace part of a transcript: a heading, then one line per entry.
pub fn render_trace(lines: &[TranscriptLine]) -> String {
    let mut text = String::from(
        "\n--- trace: ms since case start, whose view, -> sent / <- received / ** note; secrets redacted ---\n",
    );
    let who_width = lines.iter().map(|l| l.who.len()).max().unwrap_or(0);
    for line in lines {
        let arrow = match line.direction {
            Direction::Sent => "->",
            Direction::Received => "<-",
            Direction::Note => "**",
        };
        let _ = writeln!(
            text,
            "{:>10.3} ms {:<who_width$} {arrow} {}",
            line.at.as_secs_f64() * 1000.0,
            line.who,
            line.text
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::runner::Outcome;
    use crate::scenario::Step;

    #[test]
    fn a_transcript_shows_the_verdict_then_milliseconds_whose_view_and_direction() {
        let record = CaseRecord {
            case_id: "c2s-x/plain".to_owned(),
            scenario_id: "c2s-x".to_owned(),
            target: "prosody".to_owned(),
            outcome: Outcome::Fail,
            step: Some(Step::Sasl),
            expected: "rejected at sasl by target (not-authorized)".to_owned(),
            observed: "authenticated".to_owned(),
            duration_ms: 7,
            title: "t".to_owned(),
            spec: vec!["RFC 6120 §6.5.10".to_owned()],
            tags: Vec::new(),
            source: "scenarios/c2s/x.yaml".to_owned(),
            transcript: "transcripts/prosody/c2s-x_plain.txt".to_owned(),
            expected_deviation: None,
            level: Some(crate::scenario::Level::MustNot),
            clause: "RFC 6120 §6.5.10".to_owned(),
            requirement_text: "quoted words".to_owned(),
            missing_feature: None,
            control: Some(crate::report::record::ControlRecord {
                id: "c2s-x/control".to_owned(),
                outcome: Outcome::Pass,
            }),
            runner_accepted: false,
            transcript_source: None,
        };
        let line = |micros, who: &str, direction, text: &str| TranscriptLine {
            at: Duration::from_micros(micros),
            who: who.to_owned(),
            direction,
            text: text.to_owned(),
        };
        let text = render(
            &record,
            &[
                line(120, "harness", Direction::Note, "TLS established: TLSv1_3"),
                line(1_500, "harness", Direction::Sent, "<auth/>"),
                line(12_345, "prosody", Direction::Received, "<auth/>"),
            ],
        );
        assert!(text.starts_with("case:      c2s-x/plain\n"), "{text}");
        assert!(
            text.contains(
                "clause:    MUST NOT (RFC 6120 §6.5.10): \"quoted words\"\ntarget:    prosody\n\
                 verdict:   FAIL\ncontrol:   c2s-x/control ended pass\nstep:      sasl\n"
            ),
            "{text}"
        );
        let trace: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("---"))
            .skip(1)
            .collect();
        assert_eq!(
            trace,
            [
                "     0.120 ms harness ** TLS established: TLSv1_3",
                "     1.500 ms harness -> <auth/>",
                "    12.345 ms prosody <- <auth/>",
            ]
        );
    }
}
