//! The harness's own failures and the one way to say that a case is not run.
//!
//! A [`HarnessError`] means the harness or its environment broke (a certificate could not be
//! issued, a managed server did not start, a command client could not be launched, a socket
//! could not be opened): the case becomes `error`, never a verdict on the target. Typed errors
//! of the layers below convert into it with `?`; the text users read in transcripts and
//! reports is the error's `Display`, the same as before it was typed.
//!
//! A [`NotApplicable`] is the reason a case cannot be run against a target (a feature rustls
//! lacks, a target the harness cannot configure for it): the case becomes `skip` with that
//! reason.

use std::fmt;
use std::sync::Arc;

use crate::pki::PkiError;
use crate::targets::command::CommandError;
use crate::targets::managed::ManagedError;

/// The harness or its environment broke, not the target.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The test PKI could not issue or write a chain.
    #[error("test PKI: {0}")]
    Pki(#[from] PkiError),
    /// A managed server could not be prepared or reached its limits while being set up.
    #[error(transparent)]
    Managed(#[from] ManagedError),
    /// A managed target's instance did not start; shared by every case of that instance.
    #[error("managed {target} did not start: {source}")]
    ManagedStart {
        /// The target's name.
        target: String,
        /// Why its instance did not start.
        source: Arc<ManagedError>,
    },
    /// A command client could not be prepared or launched.
    #[error("{target}: {source}")]
    Command {
        /// The target's name.
        target: String,
        /// What went wrong with its command.
        source: CommandError,
    },
    /// A socket or file operation of the harness failed.
    #[error("{what}: {source}")]
    Io {
        /// What the harness was doing, in words a transcript reader understands.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Anything else the environment did wrong (a name that does not resolve to loopback, a
    /// session task that failed, a lock held elsewhere), described for the transcript.
    #[error("{0}")]
    Environment(String),
}

impl HarnessError {
    /// An environment failure described in words.
    pub fn environment(description: impl Into<String>) -> HarnessError {
        HarnessError::Environment(description.into())
    }

    /// A failed socket or file operation, with what the harness was doing.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> HarnessError {
        HarnessError::Io {
            what: what.into(),
            source,
        }
    }
}

/// Why a case cannot be run against a target; the case is judged `skip` with this reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotApplicable(pub String);

impl NotApplicable {
    /// The reason, in words.
    pub fn new(reason: impl Into<String>) -> NotApplicable {
        NotApplicable(reason.into())
    }
}

impl fmt::Display for NotApplicable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
