//! Federating managed instances: every federating server of a domain listens on that domain's
//! loopback address and port 5269, so at most one can run per domain, and the harness's own
//! `harness.test` listener is one per machine too.
//!
//! These addresses are shared by every process on the machine, so a run claims them twice
//! before its first federating case: the process-wide floor ([`FLOOR`], for two runs in one
//! process, as in tests) and a machine-wide lock, `flock(2)` on [`lock_path`] (for two harness
//! processes, as two CI jobs on one runner). Both are held until the run's [`FederationSlot`]
//! is dropped; the kernel drops the file lock when the process exits, so a crashed run never
//! blocks the next one. A second run waits its turn and says so ([`WAITING`]), or, when the
//! slot was made with [`FederationSlot::without_waiting`], gives up at once
//! ([`HELD_ELSEWHERE`]).
//!
//! Within a run, each case starts its own instance and stops it when done, because a server
//! remembers its peers (open streams, ejabberd's back-off after a failed connection) and one
//! case must not decide the next one's verdict. Cases hold two turns: their target domain's
//! ([`FederationSlot::domain`], from before its instance starts until it is stopped: one
//! server per domain address) and the run's ([`FederationSlot::turn`], while the harness's
//! `harness.test` side federates). A server starting for the next case therefore overlaps the
//! exchange of the current one, when the two are different targets.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard};

use crate::error::HarnessError;

/// Held by the run of this process that federates right now.
static FLOOR: std::sync::LazyLock<Arc<Mutex<()>>> =
    std::sync::LazyLock::new(|| Arc::new(Mutex::new(())));

/// The name of the machine-wide lock file in the temporary directory.
pub const LOCK_FILE_NAME: &str = "xmpp-interop-federation.lock";

/// What a run says (on stderr and in the transcripts of the cases it holds up) while another
/// run holds the federation addresses.
pub const WAITING: &str = "waiting for another xmpp-interop run that federates on 127.0.0.2–6";

/// Why a federating case of a run that does not wait ends as `error`.
pub const HELD_ELSEWHERE: &str = "another run holds the federation addresses \
     (127.0.0.2–6 ports 5269 and 5270); run without --no-wait to wait for it";

/// How often a waiting run tries the machine-wide lock again.
const RETRY: Duration = Duration::from_millis(200);

/// The machine-wide lock file: [`LOCK_FILE_NAME`] in [`std::env::temp_dir`]. It is never
/// removed (removing it would let two runs lock two different files).
pub fn lock_path() -> PathBuf {
    std::env::temp_dir().join(LOCK_FILE_NAME)
}

/// An exclusive `flock(2)` on [`lock_path`]; released when dropped or when the process ends.
#[derive(Debug)]
pub struct MachineLock {
    _file: File,
}

impl MachineLock {
    /// Takes the lock if nobody holds it: `Ok(None)` when another open file (another
    /// process, or another run of this one) holds it.
    pub fn try_take() -> Result<Option<MachineLock>, HarnessError> {
        let path = lock_path();
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path);
        // A lock file another user created may be read-only for this one; flock(2) needs
        // only an open descriptor.
        let file = match opened {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                File::open(&path).map_err(|e| cannot_open(&path, e))?
            }
            Err(e) => return Err(cannot_open(&path, e)),
        };
        // SAFETY: flock(2) on a descriptor this function owns; it touches no memory.
        let status = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if status == 0 {
            return Ok(Some(MachineLock { _file: file }));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() == std::io::ErrorKind::WouldBlock {
            Ok(None)
        } else {
            Err(HarnessError::io(
                format!("cannot lock the federation lock {}", path.display()),
                error,
            ))
        }
    }
}

/// The lock file at `path` could not be opened.
fn cannot_open(path: &std::path::Path, source: std::io::Error) -> HarnessError {
    HarnessError::io(
        format!("cannot open the federation lock {}", path.display()),
        source,
    )
}

/// What a run holds while it may federate.
struct Claim {
    _floor: OwnedMutexGuard<()>,
    _machine: MachineLock,
}

/// The claim of a run, and whether it had to wait for another run to get it.
#[derive(Default)]
struct ClaimState {
    claim: Option<Claim>,
    waited_for_another_run: bool,
}

/// A run's right to federate, taken in turns by its cases.
pub struct FederationSlot {
    wait: bool,
    claim: Mutex<ClaimState>,
    turns: Mutex<()>,
    domains: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// One case's turn: while it is held, nothing else of this run (or of another run on this
/// machine) federates.
pub struct FederationTurn<'a> {
    _turn: MutexGuard<'a, ()>,
}

/// One case's hold on its target domain's federation address: while it is held, no other
/// instance of this run serves that domain.
pub struct DomainTurn {
    _turn: OwnedMutexGuard<()>,
}

impl Default for FederationSlot {
    fn default() -> FederationSlot {
        FederationSlot::new()
    }
}

impl FederationSlot {
    /// Nothing claimed yet; the first federating case claims the addresses, waiting for any
    /// other run that holds them.
    pub fn new() -> FederationSlot {
        FederationSlot {
            wait: true,
            claim: Mutex::new(ClaimState::default()),
            turns: Mutex::new(()),
            domains: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Like [`FederationSlot::new`], but a claim fails at once with [`HELD_ELSEWHERE`] while
    /// another run holds the addresses (`run --no-wait`).
    pub fn without_waiting() -> FederationSlot {
        FederationSlot {
            wait: false,
            ..FederationSlot::new()
        }
    }

    /// Claims the federation addresses for this run (at once if it already holds them).
    /// `Ok(Some(waited))` when this call was held up by another run for `waited`; the first
    /// call that finds them taken prints [`WAITING`] on stderr. `Err` with [`HELD_ELSEWHERE`]
    /// when the slot does not wait, or why the lock file could not be used.
    pub async fn claim(&self) -> Result<Option<Duration>, HarnessError> {
        let started = Instant::now();
        let mut state = self.claim.lock().await;
        if state.claim.is_none() {
            let floor = if self.wait {
                Arc::clone(&FLOOR).lock_owned().await
            } else {
                Arc::clone(&FLOOR)
                    .try_lock_owned()
                    .map_err(|_| HarnessError::environment(HELD_ELSEWHERE))?
            };
            let machine = loop {
                if let Some(lock) = MachineLock::try_take()? {
                    break lock;
                }
                if !self.wait {
                    return Err(HarnessError::environment(HELD_ELSEWHERE));
                }
                if !state.waited_for_another_run {
                    state.waited_for_another_run = true;
                    eprintln!("note: {WAITING} (lock {})", lock_path().display());
                }
                tokio::time::sleep(RETRY).await;
            };
            state.claim = Some(Claim {
                _floor: floor,
                _machine: machine,
            });
        }
        let waited = started.elapsed();
        Ok((state.waited_for_another_run && waited >= RETRY).then_some(waited))
    }

    /// Waits for this case's turn, claiming the addresses first if this run does not hold
    /// them yet (see [`FederationSlot::claim`]).
    pub async fn turn(&self) -> Result<FederationTurn<'_>, HarnessError> {
        self.claim().await?;
        Ok(FederationTurn {
            _turn: self.turns.lock().await,
        })
    }

    /// Waits until no other case of this run has an instance on `domain`'s address, claiming
    /// the addresses first if this run does not hold them yet. Take it before
    /// [`FederationSlot::turn`], never after: every case takes the two in this order.
    pub async fn domain(&self, domain: &str) -> Result<DomainTurn, HarnessError> {
        self.claim().await?;
        let lock = {
            let mut domains = self.domains.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(domains.entry(domain.to_owned()).or_default())
        };
        Ok(DomainTurn {
            _turn: lock.lock_owned().await,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slot_that_does_not_wait_refuses_while_the_machine_lock_is_held_elsewhere() {
        // Another open file description holds the lock, as another process would.
        let mut held = None;
        for _ in 0..300 {
            if let Some(lock) = MachineLock::try_take().expect("lock file usable") {
                held = Some(lock);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(held.is_some(), "the federation lock stayed taken for 30 s");
        let slot = FederationSlot::without_waiting();
        let refused = slot.claim().await;
        assert!(
            matches!(refused, Err(HarnessError::Environment(ref why)) if why == HELD_ELSEWHERE),
            "{refused:?}"
        );
        drop(held);
        assert!(matches!(slot.claim().await, Ok(None)));
        assert!(slot.turn().await.is_ok());
    }
}
