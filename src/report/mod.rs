//! Reporters fed from one event stream: terminal matrix, JUnit XML, JSON, HTML, Markdown,
//! transcripts.
//!
//! Every reporter implements [`Reporter`] and sees the same [`ReportEvent`]s in the same
//! order: a live run converts the runner's events ([`ReportEvent::from_runner`]), `merge`
//! replays `results.json` files ([`merge`]). None of them reaches into the runner. Adding a
//! reporter means adding a type here.

pub mod diff;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod merge;
pub mod pairs;
pub mod record;
pub mod terminal;
pub mod transcripts;

use std::io;
use std::path::{Path, PathBuf};

pub use record::{CaseRecord, ReportEvent, Verdict};

/// A report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file (or directory) that could not be written.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Rendering failed.
    #[error("cannot render {what}: {detail}")]
    Render {
        /// Which report could not be rendered.
        what: &'static str,
        /// What went wrong while rendering it.
        detail: String,
    },
}

/// Something that turns the event stream into output.
pub trait Reporter {
    /// Sees one event.
    fn on_event(&mut self, event: &ReportEvent) -> Result<(), ReportError>;
}

/// Where a case's transcript goes, relative to the report directory.
pub fn transcript_path(target: &str, case_id: &str) -> PathBuf {
    let file: String = case_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Path::new("transcripts")
        .join(target)
        .join(format!("{file}.txt"))
}

/// Writes `contents` to `path`, creating the parent directories.
pub(crate) fn write_file(path: &Path, contents: &[u8]) -> Result<(), ReportError> {
    let write = || -> io::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, contents)
    };
    write().map_err(|source| ReportError::Write {
        path: path.to_owned(),
        source,
    })
}
