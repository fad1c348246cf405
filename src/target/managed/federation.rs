//! Federating managed instances: every federating server of a domain listens on that domain's
//! loopback address and port 5269, so at most one can run per domain, and the harness's own
//! `harness.test` listener is one per machine too.
//!
//! A run that federates first takes the process-wide floor ([`FLOOR`]) and keeps it until the
//! run's [`FederationSlot`] is dropped, so two runs in one process (tests) never fight over the
//! addresses. Within a run, cases take turns; each case starts its own instance and stops it
//! when done, because a server remembers its peers (open streams, ejabberd's back-off after a
//! failed connection) and one case must not decide the next one's verdict.

use std::sync::Arc;

use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard};

/// Held by the run that federates right now.
static FLOOR: std::sync::LazyLock<Arc<Mutex<()>>> =
    std::sync::LazyLock::new(|| Arc::new(Mutex::new(())));

/// A run's right to federate, taken in turns by its cases.
#[derive(Default)]
pub struct FederationSlot {
    floor: Mutex<Option<OwnedMutexGuard<()>>>,
}

/// One case's turn: while it is held, nothing else of this run (or of another run in this
/// process) federates.
pub struct FederationTurn<'a> {
    _floor: MutexGuard<'a, Option<OwnedMutexGuard<()>>>,
}

impl FederationSlot {
    /// Nothing taken yet; the floor is taken on the first turn.
    pub fn new() -> FederationSlot {
        FederationSlot::default()
    }

    /// Waits for this case's turn (and, the first time, for the process-wide floor).
    pub async fn turn(&self) -> FederationTurn<'_> {
        let mut floor = self.floor.lock().await;
        if floor.is_none() {
            *floor = Some(Arc::clone(&FLOOR).lock_owned().await);
        }
        FederationTurn { _floor: floor }
    }
}
