//! A case's transcript: what each side sent and received, with timestamps, secrets redacted.
//!
//! Several tasks of one case (the harness's session and a built-in target's) write to the same
//! transcript, so it is shared behind a mutex; each line says whose view it is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::proto::{Direction, TraceEntry};
use crate::scenario::Step;

/// One transcript line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptLine {
    /// Time since the case started.
    pub at: Duration,
    /// Whose view: `harness` or the target's name.
    pub who: String,
    /// Which way it went, from `who`'s point of view.
    pub direction: Direction,
    /// What it was, secrets redacted.
    pub text: String,
}

/// A handle to one case's transcript, writing lines as one participant.
#[derive(Debug, Clone)]
pub struct Transcript {
    start: Instant,
    who: String,
    lines: Arc<Mutex<Vec<TranscriptLine>>>,
    /// The step each participant's session was last at, for a case stopped from outside.
    steps: Arc<Mutex<HashMap<String, Step>>>,
}

impl Transcript {
    /// A new, empty transcript whose clock starts now; lines are written as `who`.
    pub fn new(who: &str) -> Transcript {
        Transcript {
            start: Instant::now(),
            who: who.to_owned(),
            lines: Arc::new(Mutex::new(Vec::new())),
            steps: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The same transcript, written as another participant.
    pub fn as_participant(&self, who: &str) -> Transcript {
        Transcript {
            start: self.start,
            who: who.to_owned(),
            lines: Arc::clone(&self.lines),
            steps: Arc::clone(&self.steps),
        }
    }

    /// Adds one line.
    pub fn record(&self, direction: Direction, text: impl Into<String>) {
        let line = TranscriptLine {
            at: self.start.elapsed(),
            who: self.who.clone(),
            direction,
            text: text.into(),
        };
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line);
        }
    }

    /// Adds the lines a session produced.
    pub fn extend(&self, entries: Vec<TraceEntry>) {
        for entry in entries {
            self.record(entry.direction, entry.text);
        }
    }

    /// Notes the step this participant's session is at.
    pub fn note_step(&self, step: Step) {
        if let Ok(mut steps) = self.steps.lock()
            && steps.get(&self.who) != Some(&step)
        {
            steps.insert(self.who.clone(), step);
        }
    }

    /// The step this participant's session was last at, if it ran one.
    pub fn last_step(&self) -> Option<Step> {
        self.steps.lock().ok()?.get(&self.who).copied()
    }

    /// Every line so far, in the order written.
    pub fn lines(&self) -> Vec<TranscriptLine> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}
