//! Federating managed instances: every federating server of a domain listens on that domain's
//! loopback address and port 5269, so at most one can run per domain, and the harness's own
//! `harness.test` listener is one per machine too.
//!
//! A run that federates first takes the process-wide floor ([`FLOOR`]) and keeps it until the
//! run's [`FederationSlot`] is dropped, so two runs in one process (tests) never fight over the
//! addresses. Within a run, cases take turns on the slot; consecutive cases that need the same
//! configuration share the running instance, and a case that needs another configuration stops
//! it first.

use std::sync::Arc;

use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard};

use super::{Federation, Instance, InstanceKey, ManagedSpec};
use crate::pki::IssuedChain;

/// Held by the run that federates right now.
static FLOOR: std::sync::LazyLock<Arc<Mutex<()>>> =
    std::sync::LazyLock::new(|| Arc::new(Mutex::new(())));

/// What decides a federating instance's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FederationKey {
    instance: InstanceKey,
    federation: Federation,
}

#[derive(Default)]
struct SlotState {
    floor: Option<OwnedMutexGuard<()>>,
    running: Option<(FederationKey, Arc<Instance>)>,
}

/// A run's federating instance: one at a time, taken in turns.
#[derive(Default)]
pub struct FederationSlot {
    state: Mutex<SlotState>,
}

/// One case's turn: while it is held, nothing else of this run (or of another run in this
/// process) federates.
pub struct FederationTurn<'a> {
    state: MutexGuard<'a, SlotState>,
}

impl FederationSlot {
    /// No instance yet; the floor is taken on the first turn.
    pub fn new() -> FederationSlot {
        FederationSlot::default()
    }

    /// Waits for this case's turn (and, the first time, for the process-wide floor).
    pub async fn turn(&self) -> FederationTurn<'_> {
        let mut state = self.state.lock().await;
        if state.floor.is_none() {
            state.floor = Some(Arc::clone(&FLOOR).lock_owned().await);
        }
        FederationTurn { state }
    }
}

impl FederationTurn<'_> {
    /// The instance for `key` and `federation`: the running one when it has that
    /// configuration, otherwise a new one (the old one is stopped first: they share the
    /// domain's address).
    pub async fn instance(
        &mut self,
        spec: &ManagedSpec,
        key: &InstanceKey,
        chain: &IssuedChain,
        username: &str,
        password: &str,
        federation: &Federation,
    ) -> Result<Arc<Instance>, String> {
        let wanted = FederationKey {
            instance: key.clone(),
            federation: federation.clone(),
        };
        if let Some((running_key, instance)) = &self.state.running
            && *running_key == wanted
        {
            return Ok(Arc::clone(instance));
        }
        self.state.running = None;
        let instance = Arc::new(
            Instance::start(spec, key, chain, username, password, Some(federation))
                .await
                .map_err(|e| e.to_string())?,
        );
        self.state.running = Some((wanted, Arc::clone(&instance)));
        Ok(instance)
    }
}
