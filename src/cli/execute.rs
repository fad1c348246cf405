//! Running a plan with every reporter attached, shared by `run` and `certify`: the runner's
//! events go to the reporters as they come, a signal or the deadline stops the run with every
//! report still written, and the run's test PKI is saved next to the reports.

use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;
use xmpp_interop::report::ReportEvent;
use xmpp_interop::report::record::Verdict;
use xmpp_interop::runner::partition::Partition;
use xmpp_interop::runner::preflight::Misconfiguration;
use xmpp_interop::runner::{
    self, CaseResult, Event, Interruption, Plan, RunEnvironment, RunOptions, Stopper, Tally,
};
use xmpp_interop::targets::managed;

use super::{inputs, output, runtime};

/// How [`execute`] runs a plan and where its reports go.
pub struct ExecuteSettings<'a> {
    /// The report directory; `None` (`probe --account` without `--out`): no report is written.
    pub out: Option<&'a Path>,
    /// Whether to print the case matrix (`probe --account` prints its own summary instead).
    pub matrix: bool,
    /// Cases running at the same time [default: the number of CPU cores].
    pub jobs: Option<u16>,
    /// Deadline of every network step.
    pub timeout: Duration,
    /// Deadline of a whole case.
    pub case_timeout: Duration,
    /// Whether to leave out the progress bar.
    pub no_progress: bool,
    /// The shard this run is, recorded in `results.json`.
    pub partition: Option<Partition>,
    /// `run --deadline`: the time limit of the whole run.
    pub deadline: Option<Duration>,
    /// `run --no-wait`: federating cases end as `error` while another run holds the
    /// federation addresses, instead of waiting.
    pub no_wait: bool,
    /// Log in once to each external target before the cases (`run --no-preflight` turns it
    /// off): a targets-file mistake is then one error, not a column of verdicts.
    pub preflight: bool,
    /// `run --hide`: verdicts whose rows and lists the terminal leaves out.
    pub hide: &'a [Verdict],
}

/// The pre-flight found targets it cannot log in to (or whose chain it cannot use); nothing
/// was run. One message per target.
#[derive(Debug, thiserror::Error)]
#[error(
    "the targets file is wrong for {} target(s); nothing was run:\n  {}",
    .0.len(),
    .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  ")
)]
pub struct PreflightFailed(pub Vec<Misconfiguration>);

/// What [`execute`] hands back: the counts, every case (finished or `not-run`), and why the
/// run was interrupted, if it was.
pub struct Executed {
    /// The outcome counts.
    pub tally: Tally,
    /// Every case's result.
    pub results: Vec<Arc<CaseResult>>,
    /// Why the run stopped early, if it did.
    pub interrupted: Option<Interruption>,
}

/// Runs the plan, feeding every reporter from the event stream. A signal (SIGINT, SIGTERM)
/// or the deadline stops the run: the runner cancels what runs and reports the rest as
/// `not-run`, and every report is still written; a second signal exits at once.
pub fn execute(plan: Plan, settings: &ExecuteSettings<'_>) -> anyhow::Result<Executed> {
    if let Some(out) = settings.out {
        inputs::prepare_report_dir(out)?;
    }
    let jobs = settings
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let terminal = if settings.matrix {
        output::Terminal::Matrix {
            color: output::use_color(),
            progress: std::io::stderr().is_terminal() && !settings.no_progress,
        }
    } else {
        output::Terminal::Own
    };
    let mut reporters = match settings.out {
        Some(out) => output::reporters(
            out,
            terminal,
            settings.partition.map(|p| p.to_string()),
            output::step_summary(),
            settings.hide,
        ),
        None => Vec::new(),
    };
    let runtime = runtime::runtime(jobs)?;
    let mut environment = RunEnvironment::new(settings.timeout);
    if settings.no_wait {
        environment.federation = managed::FederationSlot::without_waiting();
    }
    let environment = Arc::new(environment);
    let options = RunOptions {
        jobs,
        timeout: settings.timeout,
        case_timeout: settings.case_timeout,
    };
    let misconfigured = if settings.preflight {
        runtime.block_on(runner::preflight::check(
            &plan,
            options.clone(),
            Arc::clone(&environment),
        ))
    } else {
        Vec::new()
    };
    if !misconfigured.is_empty() {
        return Err(PreflightFailed(misconfigured).into());
    }
    let mut tally = Tally::default();
    let mut results = Vec::new();
    let mut report_failure = None;
    let stopper = Stopper::new();
    runtime
        .block_on(async {
            runtime::stop_run_on_signal_or_deadline(&stopper, settings.deadline);
            let (sender, mut receiver) = mpsc::unbounded_channel();
            let run = tokio::spawn(runner::run_until(
                plan,
                options,
                Arc::clone(&environment),
                sender,
                stopper.clone(),
            ));
            while let Some(event) = receiver.recv().await {
                if let Event::CaseFinished(result) = &event {
                    tally.add_result(result);
                    results.push(Arc::clone(result));
                }
                let event = ReportEvent::from_runner(&event);
                for reporter in &mut reporters {
                    if let Err(e) = reporter.on_event(&event)
                        && report_failure.is_none()
                    {
                        report_failure = Some(e);
                    }
                }
            }
            run.await
        })
        .context("the runner stopped unexpectedly")?;
    let interrupted = stopper.interruption();
    if interrupted.is_some() {
        // A cancelled case may leave blocking work behind (a server starting); do not wait
        // for it. Dropping the run's environment stops its managed servers.
        runtime.shutdown_timeout(Duration::from_secs(2));
    }
    if let Some(e) = report_failure {
        return Err(e).context("writing reports failed");
    }
    if let Some(out) = settings.out {
        let pki_dir = out.join("pki");
        std::fs::create_dir_all(&pki_dir)
            .with_context(|| format!("cannot create {}", pki_dir.display()))?;
        environment
            .catalogue
            .write_pem(&pki_dir)
            .with_context(|| format!("cannot write the run's test PKI to {}", pki_dir.display()))?;
    }
    Ok(Executed {
        tally,
        results,
        interrupted,
    })
}
