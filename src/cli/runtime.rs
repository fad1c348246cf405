//! What a subcommand that talks to peers sets up around its work: the tokio runtime, the TLS
//! key log, and what SIGINT, SIGTERM and `--deadline` do to a run.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use xmpp_interop::runner::{Interruption, Stopper};
use xmpp_interop::targets::managed;
use xmpp_interop::transport::keylog::{self, KeyLogFile};

use super::exit::ExitStatus;

/// A multi-threaded runtime with `workers` threads (at least one, at most 64).
pub fn runtime(workers: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.clamp(1, 64))
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Opens the `--keylog` file (or `SSLKEYLOGFILE`) and makes every TLS connection log to it;
/// a file that cannot be opened is a usage error.
pub fn install_keylog(path: Option<&Path>) -> Result<(), ExitStatus> {
    let Some(path) = path else {
        return Ok(());
    };
    match KeyLogFile::open(path) {
        Ok(file) => {
            keylog::install(Arc::new(file));
            eprintln!(
                "note: writing TLS secrets to {} (anyone with this file can decrypt the captured sessions)",
                path.display()
            );
            Ok(())
        }
        Err(e) => Err(ExitStatus::USAGE.after_error(format_args!(
            "cannot open the TLS key log {}: {e}",
            path.display()
        ))),
    }
}

/// Starts the watchers that stop a run: SIGINT and SIGTERM (see [`stop_run_on_signal`]) and,
/// when given, the run's `deadline`. Call from inside the runtime.
pub fn stop_run_on_signal_or_deadline(stopper: &Stopper, deadline: Option<Duration>) {
    tokio::spawn(stop_run_on_signal(stopper.clone()));
    if let Some(deadline) = deadline {
        let stopper = stopper.clone();
        tokio::spawn(async move {
            tokio::time::sleep(deadline).await;
            if stopper.stop(Interruption::Deadline(deadline)) {
                eprintln!(
                    "run deadline reached ({}s): cancelling the running cases and writing the reports",
                    deadline.as_secs_f64()
                );
            }
        });
    }
}

/// On SIGINT or SIGTERM, stops the run (nothing starts any more, what runs is cancelled and
/// the reports are written, see [`xmpp_interop::runner::run_until`]) and stops every managed
/// server at once; a second signal exits immediately with 128 + its number.
async fn stop_run_on_signal(stopper: Stopper) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        eprintln!("warning: cannot install signal handlers; Ctrl-C may leave servers running");
        return;
    };
    let why = tokio::select! {
        _ = interrupt.recv() => Interruption::Interrupt,
        _ = terminate.recv() => Interruption::Terminate,
    };
    stopper.stop(why.clone());
    managed::stop_all();
    eprintln!(
        "{why}: stopped every managed server; writing the reports (the unfinished cases as not-run); signal again to exit at once"
    );
    let again = tokio::select! {
        _ = interrupt.recv() => Interruption::Interrupt,
        _ = terminate.recv() => Interruption::Terminate,
    };
    managed::stop_all();
    eprintln!("interrupted again: exiting without finishing the reports");
    ExitStatus::of_interruption(&again).exit_now();
}
