//! `xmpp-interop run`: scenarios against targets, with every report written, and the exit
//! status the run's verdicts give.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use xmpp_interop::report::record::Verdict;
use xmpp_interop::runner::expectations::Expectations;
use xmpp_interop::runner::partition::Partition;
use xmpp_interop::runner::{self, Interruption, Plan};

use super::args::{parse_duration, parse_seconds, parse_verdict};
use super::execute::{ExecuteSettings, execute};
use xmpp_interop::scenario::ScenarioSet;

use super::exit::ExitStatus;
use super::{inputs, runtime};

/// The options of `run`.
#[derive(Args)]
pub struct RunArgs {
    /// Scenario files or directories (searched recursively for *.yaml and *.yml) [default:
    /// the shipped scenarios built into the binary].
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Directory for index.html, summary.md, junit.xml, results.json, transcripts/ and the
    /// run's test PKI (pki/). With GITHUB_STEP_SUMMARY set, summary.md is also appended there.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Cases to run at the same time [default: number of CPU cores]; server-to-server cases
    /// against managed servers run beside them, at most min(N, 2) at a time.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    jobs: Option<u16>,
    /// Deadline of every network step (connect, stream header, features, STARTTLS, TLS
    /// handshake, each SASL round trip, bind, dialback), counted from the step's start, in
    /// seconds: a peer that trickles bytes cannot stretch it.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    timeout: Duration,
    /// Deadline of a whole case, in seconds; a case past it ends as `timeout` at the step it
    /// had reached [default: 6 × --timeout].
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    case_timeout: Option<Duration>,
    /// Run only cases whose id contains this text or that carry this tag (repeatable: a case
    /// matching any filter runs).
    #[arg(long, value_name = "TEXT")]
    filter: Vec<String>,
    /// Do not draw a progress bar (it is drawn only when stderr is a terminal anyway).
    #[arg(long)]
    no_progress: bool,
    /// Targets file (YAML): built-in, managed (Prosody, ejabberd) and external targets
    /// [default: the built-in server and client].
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,
    /// Known deviations: a directory of `<target>.yaml` files, or one such file (repeatable).
    /// A case that deviates as recorded is an expected failure (XFAIL) or warning (XWARN); one
    /// that ends otherwise fails the run. Every file must name a loaded target and every
    /// record a loaded case.
    #[arg(long, value_name = "PATH")]
    expectations: Vec<PathBuf>,
    /// Fail the run (exit 1) on a SHOULD deviation (`warn`) too, not only on a MUST violation.
    #[arg(long)]
    strict: bool,
    /// Time limit of the whole run (`90s`, `20m`, `1h`; a bare number is seconds). When it is
    /// reached, no case starts any more, the running ones are cancelled, every report is
    /// written with the unfinished cases as `not-run` ("run deadline reached"), and the run
    /// exits 3.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    deadline: Option<Duration>,
    /// Do not wait while another xmpp-interop run on this machine federates on the fixed
    /// server-to-server addresses (127.0.0.2–6): end this run's s2s cases against managed
    /// servers as `error` instead.
    #[arg(long)]
    no_wait: bool,
    /// Do not log in once to each external target before the cases. The pre-flight turns a
    /// closed port, a wrong `root`, a domain the certificate does not name or an account that
    /// cannot log in into one error (exit 3, nothing run) instead of a column of verdicts.
    #[arg(long)]
    no_preflight: bool,
    /// Leave out of the terminal matrix the rows whose every cell has this verdict, and its
    /// list below the matrix (repeatable: `--hide skip --hide unsupported`); the page opens
    /// with it unticked. Counts, exit status and the other reports are unchanged.
    #[arg(long, value_name = "VERDICT", value_parser = parse_verdict)]
    hide: Vec<Verdict>,
    #[command(flatten)]
    scale_out: ScaleOutArgs,
}

/// `run` options for splitting a run over CI jobs and for decrypting packet captures.
#[derive(Args)]
struct ScaleOutArgs {
    /// Run only shard K of N: the planned cases sorted by case id and target, the i-th
    /// (0-based) in shard i mod N + 1. Deterministic, independent of --jobs; results.json
    /// records it as "partition".
    #[arg(long, value_name = "K/N")]
    partition: Option<Partition>,
    /// Append the TLS secrets of every connection (harness and built-in targets, client and
    /// server side) to FILE in the NSS key log format, for Wireshark/tshark. FILE holds
    /// secrets: it is created with mode 0600.
    #[arg(long, value_name = "FILE", env = "SSLKEYLOGFILE")]
    keylog: Option<PathBuf>,
}

/// Loads the inputs, plans, runs with every reporter and judges the run.
pub fn run(args: RunArgs) -> ExitStatus {
    match plan(&args) {
        Ok(plan) => execute_plan(plan, &args),
        Err(status) => status,
    }
}

/// The planned cases of this run (of its shard, with `--partition`), with their recorded
/// deviations.
fn plan(args: &RunArgs) -> Result<Plan, ExitStatus> {
    let scenarios = inputs::scenarios(&ScenarioSet::from_paths(&args.paths))?;
    let targets = inputs::targets(args.targets.as_deref())?;
    let expectations = if args.expectations.is_empty() {
        Expectations::none()
    } else {
        let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        let case_ids = scenarios
            .iter()
            .flat_map(|s| s.cases.iter().map(|c| c.id.as_str()))
            .collect();
        Expectations::load_all(&args.expectations, &names, &case_ids)
            .map_err(|e| ExitStatus::USAGE.after_error(e))?
    };
    let plan = runner::plan(&scenarios, &targets, &args.filter).with_expectations(&expectations);
    if plan.cases.is_empty() {
        return Err(ExitStatus::USAGE.after_error(format_args!(
            "no case to run: the filters {:?} match nothing",
            args.filter
        )));
    }
    Ok(match args.scale_out.partition {
        Some(partition) => {
            let plan = plan.partitioned(partition);
            if plan.cases.is_empty() {
                eprintln!("note: shard {partition} holds no case (fewer cases than shards)");
            }
            plan
        }
        None => plan,
    })
}

fn execute_plan(plan: Plan, args: &RunArgs) -> ExitStatus {
    if let Err(status) = runtime::install_keylog(args.scale_out.keylog.as_deref()) {
        return status;
    }
    let settings = ExecuteSettings {
        out: Some(&args.out),
        matrix: true,
        jobs: args.jobs,
        timeout: args.timeout,
        case_timeout: args
            .case_timeout
            .unwrap_or_else(|| runner::default_case_timeout(args.timeout)),
        no_progress: args.no_progress,
        partition: args.scale_out.partition,
        deadline: args.deadline,
        no_wait: args.no_wait,
        preflight: !args.no_preflight,
        hide: &args.hide,
    };
    match execute(plan, &settings) {
        Ok(run) => match run.interrupted {
            Some(why @ (Interruption::Interrupt | Interruption::Terminate)) => {
                ExitStatus::of_interruption(&why)
            }
            // A case that did not run never lets a run pass: "could not run every case".
            _ if run.tally.error > 0 || run.tally.not_run > 0 => ExitStatus::ENVIRONMENT,
            _ if run.tally.has_unexpected(args.strict) => ExitStatus::UNEXPECTED_FAILURE,
            _ => ExitStatus::SUCCESS,
        },
        Err(e) => ExitStatus::ENVIRONMENT.after_error(format_args!("{e:#}")),
    }
}
