//! `xmpp-interop pairs`: every pair of managed servers federated under each profile, reported
//! through the same reporters as a run (`results.json`, `junit.xml`, `index.html`,
//! `summary.md`, transcripts) plus the pair matrix itself (`pairs.json`, `pairs.md`, the
//! terminal view).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use tokio::sync::mpsc;
use xmpp_interop::report::pairs as pair_reports;
use xmpp_interop::runner::pairs::{self, PairEvent, PairProfile, PairRecord};
use xmpp_interop::runner::{Interruption, Outcome, RunEnvironment, Stopper};
use xmpp_interop::targets::Target;

use super::args::{parse_duration, parse_seconds};
use super::exit::{self, ExitStatus};
use super::{inputs, output, runtime};

/// The profiles as `pairs --help` explains them.
const PROFILES: &str = "\
Profiles:
  valid-chain           both present a chain the other trusts: delivered over SASL EXTERNAL
  self-signed           self-signed, untrusted, dialback allowed: delivered over dialback
  self-signed-required  self-signed, untrusted, certificates required: not delivered, bounced";

/// The help text of `pairs`: the profiles, then the exit codes.
pub fn help() -> String {
    format!("{PROFILES}\n{}", exit::PAIRS.help())
}

/// The options of `pairs`.
#[derive(Args)]
pub struct PairsArgs {
    /// Targets file (YAML); its managed servers are paired.
    #[arg(long, value_name = "FILE", default_value = "targets/local.yaml")]
    targets: PathBuf,
    /// A profile to run (repeatable) [default: every profile].
    #[arg(long = "profile", value_name = "PROFILE")]
    profiles: Vec<String>,
    /// Directory for pairs.json, pairs.md, results.json, junit.xml, index.html, summary.md
    /// and the transcripts.
    #[arg(long, value_name = "DIR", default_value = "reports/pairs")]
    out: PathBuf,
    /// Time limit for every network step and for a message to arrive, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    timeout: Duration,
    /// Deadline of one pair under one profile (both servers started, both messages sent), in
    /// seconds; a pair past it is an `error` [default: 12 × --timeout].
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pair_timeout: Option<Duration>,
    /// Time limit of all pairs (`90s`, `20m`, `1h`; a bare number is seconds). When it is
    /// reached, the running pair is cancelled, every report is written with the unfinished
    /// pairs as `not-run`, and `pairs` exits 3.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    deadline: Option<Duration>,
}

/// Pairs the managed servers of the targets file and judges the messages.
pub fn pairs(args: PairsArgs) -> ExitStatus {
    let mut profiles = Vec::new();
    for name in &args.profiles {
        match PairProfile::from_name(name) {
            Some(profile) => profiles.push(profile),
            None => {
                let known: Vec<&str> = PairProfile::ALL.iter().map(|p| p.name()).collect();
                return ExitStatus::USAGE.after_error(format_args!(
                    "unknown pair profile {name:?}; expected one of {}",
                    known.join(", ")
                ));
            }
        }
    }
    if profiles.is_empty() {
        profiles = PairProfile::ALL.to_vec();
    }
    let targets: Vec<Arc<Target>> = match inputs::targets(Some(&args.targets)) {
        Ok(targets) => targets.into_iter().map(Arc::new).collect(),
        Err(status) => return status,
    };
    let pairs = pairs::pairs(&targets);
    if pairs.is_empty() {
        return ExitStatus::USAGE.after_error(format_args!(
            "{} has no managed server to pair; expected targets with `managed:`",
            args.targets.display()
        ));
    }
    match run_pairs(&args, &pairs, &profiles) {
        Ok(ran) => match ran.interrupted {
            Some(why @ (Interruption::Interrupt | Interruption::Terminate)) => {
                ExitStatus::of_interruption(&why)
            }
            _ if ran
                .records
                .iter()
                .any(|r| matches!(r.outcome, Outcome::Error | Outcome::NotRun)) =>
            {
                ExitStatus::ENVIRONMENT
            }
            _ if ran.records.iter().any(|r| !r.pass) => ExitStatus::UNEXPECTED_FAILURE,
            _ => ExitStatus::SUCCESS,
        },
        Err(e) => ExitStatus::ENVIRONMENT.after_error(format_args!("{e:#}")),
    }
}

/// What [`run_pairs`] hands back: every message's record, and why the pairs were interrupted,
/// if they were.
struct PairsRun {
    records: Vec<PairRecord>,
    interrupted: Option<Interruption>,
}

/// Runs the pairs, feeding every reporter from the event stream, then writes the pair
/// matrix's own files and prints it. A signal or the deadline stops the pairs with every
/// report still written; a second signal exits at once.
fn run_pairs(
    args: &PairsArgs,
    pairs: &[(Arc<Target>, Arc<Target>)],
    profiles: &[PairProfile],
) -> anyhow::Result<PairsRun> {
    inputs::prepare_report_dir(&args.out)?;
    // pairs.md goes to the step summary; the generic summary.md would repeat it.
    let mut reporters = output::reporters(&args.out, output::Terminal::Own, None, None, &[]);
    let runtime = runtime::runtime(2)?;
    let environment = RunEnvironment::new(args.timeout);
    let pair_timeout = args
        .pair_timeout
        .unwrap_or_else(|| pairs::default_pair_timeout(args.timeout));
    let stopper = Stopper::new();
    let mut records = Vec::new();
    let mut implementations: Vec<(String, String)> = Vec::new();
    let mut report_failure = None;
    runtime.block_on(async {
        runtime::stop_run_on_signal_or_deadline(&stopper, args.deadline);
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let running = async {
            // Moved in, so that the channel closes when the pairs are done.
            let sender = sender;
            pairs::run_all(
                pairs,
                profiles,
                pair_timeout,
                &environment,
                &sender,
                &stopper,
            )
            .await;
        };
        let reporting = async {
            while let Some(event) = receiver.recv().await {
                match &event {
                    PairEvent::Started {
                        targets,
                        implementations: versions,
                        ..
                    } => {
                        implementations = targets.iter().cloned().zip(versions.clone()).collect();
                    }
                    PairEvent::PairStarted {
                        first,
                        second,
                        profile,
                    } => eprintln!("pairing {first} and {second} [{profile}]"),
                    PairEvent::Finished(record) => records.push(PairRecord::clone(record)),
                    PairEvent::AllFinished { .. } => {}
                }
                let Some(event) = pair_reports::report_event(&event) else {
                    continue;
                };
                for reporter in &mut reporters {
                    if let Err(e) = reporter.on_event(&event)
                        && report_failure.is_none()
                    {
                        report_failure = Some(e);
                    }
                }
            }
        };
        tokio::join!(running, reporting);
    });
    let interrupted = stopper.interruption();
    if interrupted.is_some() {
        // A cancelled pair may leave blocking work behind (a server starting); do not wait
        // for it.
        runtime.shutdown_timeout(Duration::from_secs(2));
    }
    drop(environment);
    if let Some(e) = report_failure {
        return Err(e).context("writing reports failed");
    }
    let markdown = pair_reports::write(&args.out, &records, &implementations)
        .context("writing the pair reports failed")?;
    output::append_to_step_summary(&markdown)?;
    print!(
        "{}",
        pair_reports::render_terminal(&records, &implementations, output::use_color())
    );
    Ok(PairsRun {
        records,
        interrupted,
    })
}
