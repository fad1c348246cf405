//! Client sessions that stay logged in for an errand after binding: send a chat message to a
//! remote JID (so that the server opens a server-to-server connection), or wait for one (to
//! show that a message crossed from one server to another).
//!
//! The session runs in its own task with the ordinary drive loop; [`start_errand`] returns once
//! it is ready, and the caller decides how long the errand may take with
//! [`RunningErrand::outcome`].

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle};

use super::{Extras, Progress, Reached, Transcript, drive, open_client_connection};
use crate::error::HarnessError;
use crate::proto::client::{ClientConfig, ClientSession};
use crate::proto::{Direction, SessionEnd, Side};
use crate::scenario::{Step, TIMEOUT};
use crate::transport::TlsSetup;

/// A logged-in client session doing its errand in the background. Dropping it aborts the
/// session's task, which closes the connection.
pub struct RunningErrand {
    task: JoinHandle<Result<SessionEnd, HarnessError>>,
    progress: watch::Receiver<Progress>,
    transcript: Transcript,
}

/// Connects, logs in, binds, and returns once the errand session is ready, or how it ended
/// before that. `timeout` limits the connection set-up and every read until the session is
/// ready; `ready_within` limits the whole way there. Once ready, a quiet server no longer ends
/// the session: [`RunningErrand::outcome`] sets the deadline.
pub async fn start_errand(
    address: SocketAddr,
    config: ClientConfig,
    tls: TlsSetup,
    timeout: Duration,
    ready_within: Duration,
    transcript: Transcript,
) -> Result<Result<RunningErrand, SessionEnd>, HarnessError> {
    let (progress_sender, mut progress) = watch::channel(Progress {
        step: Step::Connect,
        waiting_for: "the TCP connection (and with direct TLS the TLS handshake)",
        ready: false,
    });
    let own_view = transcript.clone();
    let task = tokio::spawn(run(
        address,
        config,
        tls,
        timeout,
        own_view,
        progress_sender,
    ));
    let mut errand = RunningErrand {
        task,
        progress: progress.clone(),
        transcript,
    };
    let became_ready = tokio::time::timeout(ready_within, progress.wait_for(|p| p.ready))
        .await
        .map(|ready| ready.is_ok());
    match became_ready {
        Ok(true) => {
            errand
                .transcript
                .record(Direction::Note, "the errand session is ready");
            Ok(Ok(errand))
        }
        // The session ended (the drive loop dropped its sender) before it was ready.
        Ok(false) => joined(errand.task_result().await).map(Err),
        Err(_) => {
            let Progress {
                step, waiting_for, ..
            } = *progress.borrow();
            let detail = format!(
                "the errand session was not ready within {ready_within:?}; it was waiting for \
                 {waiting_for}"
            );
            errand
                .transcript
                .record(Direction::Note, format!("{detail}: closing the connection"));
            Ok(Err(SessionEnd::Rejected {
                step,
                condition: TIMEOUT.into(),
                by: Side::Peer,
                detail,
            }))
        }
    }
}

impl RunningErrand {
    /// How the session ended; a timeout rejected at [`Step::Message`] when nothing ended it
    /// within `within` (for [`Errand::SendMessage`](crate::proto::client::Errand::SendMessage) that means
    /// no bounce came). The connection is closed either way.
    pub async fn outcome(mut self, within: Duration) -> Result<SessionEnd, HarnessError> {
        match tokio::time::timeout(within, self.task_result()).await {
            Ok(result) => joined(result),
            Err(_) => {
                let waiting_for = self.progress.borrow().waiting_for;
                let detail = format!(
                    "nothing ended the errand within {within:?}; it waited for {waiting_for}"
                );
                self.transcript
                    .record(Direction::Note, format!("{detail}: closing the connection"));
                Ok(SessionEnd::Rejected {
                    step: Step::Message,
                    condition: TIMEOUT.into(),
                    by: Side::Peer,
                    detail,
                })
            }
        }
    }

    async fn task_result(&mut self) -> Result<Result<SessionEnd, HarnessError>, JoinError> {
        (&mut self.task).await
    }
}

impl Drop for RunningErrand {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The session's end from its finished task.
fn joined(
    result: Result<Result<SessionEnd, HarnessError>, JoinError>,
) -> Result<SessionEnd, HarnessError> {
    result
        .map_err(|e| HarnessError::environment(format!("the errand session's task failed: {e}")))?
}

/// The errand session itself: the client's connection set-up, then the drive loop reporting
/// its progress.
async fn run(
    address: SocketAddr,
    config: ClientConfig,
    tls: TlsSetup,
    timeout: Duration,
    transcript: Transcript,
    progress: watch::Sender<Progress>,
) -> Result<SessionEnd, HarnessError> {
    let (mut connection, bindings) = match open_client_connection(
        address,
        config.transport,
        &tls,
        timeout,
        &transcript,
    )
    .await?
    {
        Reached::Ready(opened) => opened,
        Reached::Ended(end) => return Ok(end),
    };
    let mut session = ClientSession::new(config, bindings);
    drive(
        &mut session,
        &mut connection,
        &tls,
        true,
        timeout,
        &transcript,
        Extras {
            progress: Some(progress),
            ..Extras::default()
        },
    )
    .await
}
