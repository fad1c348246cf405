//! The `xmpp-interop` command line: clap parsing, exit codes, and wiring the runner's event
//! stream to the reporters. The only place that knows about clap.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use comfy_table::{Table, presets};
use tokio::sync::mpsc;
use xmpp_interop::pki::{self, PkiError};
use xmpp_interop::report::html::HtmlWriter;
use xmpp_interop::report::json::JsonWriter;
use xmpp_interop::report::junit::JunitWriter;
use xmpp_interop::report::markdown::MarkdownWriter;
use xmpp_interop::report::merge::{self, ResultsError};
use xmpp_interop::report::terminal::TerminalReporter;
use xmpp_interop::report::transcripts::TranscriptWriter;
use xmpp_interop::report::{ReportEvent, Reporter, diff, record};
use xmpp_interop::runner::expectations::Expectations;
use xmpp_interop::runner::{self, Event, RunEnvironment, RunOptions, Tally};
use xmpp_interop::scenario::{self, CertificateProfile, KeyType, Scenario};
use xmpp_interop::target::{Target, file::load_targets, managed};

const EXIT_CODES: &str = "\
Exit codes:
  0  every case ended as its scenario (or a recorded expected deviation) predicts
  1  at least one case failed unexpectedly, or passed although a deviation is recorded
     (and none hit an error)
  2  usage error, or a scenario, targets or expectations file could not be loaded
  3  harness or environment error: at least one case could not be run, or reports could not be written
  130, 143  interrupted by SIGINT / SIGTERM; every managed server was stopped first";

/// TLS and SASL interoperability harness for XMPP servers and clients.
///
/// Runs scenarios (YAML files) against targets (implementations under test) and reports a
/// pass/fail matrix, JUnit XML, JSON, an HTML page, a Markdown summary and one transcript per
/// case; compares two runs (`diff`) and merges the shards of one (`merge`).
#[derive(Parser)]
#[command(name = "xmpp-interop", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios against targets (the built-in ones unless `--targets` says otherwise)
    /// and write reports.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Print the expanded cases without running anything.
    #[command(after_help = EXIT_CODES)]
    List(ListArgs),
    /// Generate the test PKI for provisioning, or show what a certificate holds.
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Show the cells (case × target) whose verdict changed between two results.json files.
    #[command(after_help = DIFF_EXIT_CODES)]
    Diff(DiffArgs),
    /// Rebuild every report from several results.json files (the shards of one run).
    #[command(after_help = MERGE_EXIT_CODES)]
    Merge(MergeArgs),
}

const DIFF_EXIT_CODES: &str = "\
Exit codes:
  0  no cell regressed (cells may have changed, been added or removed)
  1  at least one cell that ended as expected in OLD (PASS, SKIP, XFAIL) does not in NEW
     (FAIL, XPASS, ERROR)
  2  usage error, or a file that cannot be read or is not a results.json (file:line:column)";

const MERGE_EXIT_CODES: &str = "\
Exit codes:
  0  every merged case ended as its scenario (or a recorded expected deviation) predicts
  1  at least one merged case failed unexpectedly or passed although a deviation is recorded
  2  usage error, a file that cannot be read or is not a results.json (file:line:column), or
     a cell (case × target) present in two files
  3  a merged case is an error, or the reports could not be written";

#[derive(Args)]
struct DiffArgs {
    /// The earlier run's results.json.
    #[arg(value_name = "OLD")]
    old: PathBuf,
    /// The later run's results.json.
    #[arg(value_name = "NEW")]
    new: PathBuf,
}

#[derive(Args)]
struct MergeArgs {
    /// results.json files of the shards (transcripts are copied from next to each file when
    /// they are there).
    #[arg(value_name = "RESULTS", required = true)]
    files: Vec<PathBuf>,
    /// Directory for the rebuilt reports: junit.xml, results.json, index.html, summary.md,
    /// transcripts/.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

const PKI_EXIT_CODES: &str = "\
Exit codes:
  0  done
  2  usage error: bad domain, profile or key type, or a file that is unreadable or holds no PEM certificate
  3  the files could not be written";

#[derive(Subcommand)]
enum PkiCommand {
    /// Write certificate chains and keys for every (or the named) profile, plus manifest.json.
    #[command(after_help = PKI_EXIT_CODES)]
    Generate(PkiGenerateArgs),
    /// Print what the certificates in a PEM file hold in XMPP terms.
    #[command(after_help = PKI_EXIT_CODES)]
    Show(PkiShowArgs),
}

#[derive(Args)]
struct PkiGenerateArgs {
    /// The XMPP domain the certificates are issued for.
    #[arg(long, value_name = "DOMAIN")]
    domain: String,
    /// Directory for <profile>/{cert,key,chain,fullchain,root}.pem and manifest.json.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// A profile to generate (repeatable) [default: every profile].
    #[arg(long = "profile", value_name = "PROFILE")]
    profiles: Vec<CertificateProfile>,
    /// The key type of every chain.
    #[arg(long, value_name = "KEY", default_value = "ecdsa-p256")]
    key: KeyType,
}

#[derive(Args)]
struct PkiShowArgs {
    /// A PEM file with one or more certificates (e.g. fullchain.pem).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

#[derive(Args)]
struct RunArgs {
    /// Scenario files or directories (searched recursively for *.yaml and *.yml).
    #[arg(value_name = "PATH", default_value = "scenarios")]
    paths: Vec<PathBuf>,
    /// Directory for index.html, summary.md, junit.xml, results.json, transcripts/ and the
    /// run's test PKI (pki/). With GITHUB_STEP_SUMMARY set, summary.md is also appended there.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Cases to run at the same time [default: number of CPU cores].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    jobs: Option<u16>,
    /// Time limit for every network step (connect, each read, TLS handshake), in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    timeout: Duration,
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
    /// Directory of known deviations, one `<target>.yaml` per target: a case that deviates as
    /// recorded is an expected failure (XFAIL), one that no longer does fails the run (XPASS).
    #[arg(long, value_name = "DIR")]
    expectations: Option<PathBuf>,
}

#[derive(Args)]
struct ListArgs {
    /// Scenario files or directories (searched recursively for *.yaml and *.yml).
    #[arg(value_name = "PATH", default_value = "scenarios")]
    paths: Vec<PathBuf>,
    /// List only cases whose id contains this text or that carry this tag (repeatable).
    #[arg(long, value_name = "TEXT")]
    filter: Vec<String>,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.01..=3600.0).contains(&seconds) {
        return Err(format!("{seconds} s is outside 0.01..=3600"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(args),
        Command::List(args) => list(args),
        Command::Pki(PkiCommand::Generate(args)) => pki_generate(args),
        Command::Pki(PkiCommand::Show(args)) => pki_show(args),
        Command::Diff(args) => diff_results(args),
        Command::Merge(args) => merge_results(args),
    }
}

fn pki_generate(args: PkiGenerateArgs) -> ExitCode {
    let profiles = if args.profiles.is_empty() {
        CertificateProfile::all().to_vec()
    } else {
        args.profiles
    };
    match pki::provision::generate(&args.domain, &args.out, &profiles, args.key) {
        Ok(manifest) => {
            for entry in &manifest.profiles {
                println!("{:<22} {}", entry.profile, entry.purpose);
            }
            println!(
                "wrote {} profiles for {} ({}) to {}; see {}",
                manifest.profiles.len(),
                manifest.domain,
                manifest.key,
                args.out.display(),
                args.out.join("manifest.json").display()
            );
            ExitCode::SUCCESS
        }
        Err(e @ PkiError::InvalidDomain { .. }) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
    }
}

fn pki_show(args: PkiShowArgs) -> ExitCode {
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let summaries = match pki::provision::summarise_pem(&bytes) {
        Ok(summaries) => summaries,
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    for (index, cert) in summaries.iter().enumerate() {
        let position = match (index, cert.is_ca) {
            (0, false) => "end entity",
            (_, true) => "CA",
            (_, false) => "not a CA",
        };
        println!("certificate #{index} ({position})");
        println!("  subject:     {}", cert.subject);
        println!("  issuer:      {}", cert.issuer);
        println!("  valid:       {} to {}", cert.not_before, cert.not_after);
        println!("  key:         {}", cert.key);
        let eku = if cert.extended_key_usage.is_empty() {
            "any (no extendedKeyUsage)".to_owned()
        } else {
            cert.extended_key_usage.join(", ")
        };
        println!("  purposes:    {eku}");
        println!("  SHA-256:     {}", cert.sha256_fingerprint);
        if cert.identities.is_empty() {
            println!("  identities:  none");
        } else {
            println!("  identities:  {}", cert.identities.join(", "));
        }
        for line in &cert.xmpp {
            println!("  verifies for {line}");
        }
    }
    ExitCode::SUCCESS
}

/// Loads every path; prints the error and returns `None` if one cannot be loaded.
fn load(paths: &[PathBuf]) -> Option<Vec<Scenario>> {
    match scenario::load_paths(paths) {
        Ok(scenarios) => Some(scenarios),
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

fn list(args: ListArgs) -> ExitCode {
    let Some(scenarios) = load(&args.paths) else {
        return ExitCode::from(2);
    };
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header([
        "case",
        "role",
        "transport",
        "certificate",
        "key",
        "trust",
        "mechanism",
        "credentials",
        "misbehave",
        "expect",
    ]);
    let mut count = 0;
    for scenario in &scenarios {
        for case in &scenario.cases {
            if !args.filter.is_empty()
                && !args
                    .filter
                    .iter()
                    .any(|f| case.id.contains(f.as_str()) || case.tags.contains(f))
            {
                continue;
            }
            count += 1;
            let misbehave: Vec<String> = case.misbehave.iter().map(|m| m.to_string()).collect();
            table.add_row([
                case.id.clone(),
                case.role.to_string(),
                case.transport.to_string(),
                case.certificate.to_string(),
                case.key.to_string(),
                case.trust.to_string(),
                case.sasl.mechanism.to_string(),
                case.sasl.credentials.to_string(),
                if misbehave.is_empty() {
                    "-".to_owned()
                } else {
                    misbehave.join(",")
                },
                case.expect.to_string(),
            ]);
        }
    }
    println!("{table}");
    println!("{count} cases from {} scenarios", scenarios.len());
    ExitCode::SUCCESS
}

fn run(args: RunArgs) -> ExitCode {
    let Some(scenarios) = load(&args.paths) else {
        return ExitCode::from(2);
    };
    let targets = match &args.targets {
        Some(path) => match load_targets(path) {
            Ok(targets) => targets,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => Target::builtin(),
    };
    let expectations = match &args.expectations {
        Some(dir) => {
            let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
            let case_ids = scenarios
                .iter()
                .flat_map(|s| s.cases.iter().map(|c| c.id.as_str()))
                .collect();
            match Expectations::load_dir(dir, &names, &case_ids) {
                Ok(expectations) => expectations,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        None => Expectations::none(),
    };
    let plan = runner::plan(&scenarios, &targets, &args.filter).with_expectations(&expectations);
    if plan.cases.is_empty() {
        eprintln!(
            "error: no case to run: the filters {:?} match nothing",
            args.filter
        );
        return ExitCode::from(2);
    }
    match execute(plan, &args) {
        Ok(tally) if tally.error > 0 => ExitCode::from(3),
        Ok(tally) if tally.has_unexpected() => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}

/// Runs the plan, feeding every reporter from the event stream; returns the outcome counts.
fn execute(plan: runner::Plan, args: &RunArgs) -> anyhow::Result<Tally> {
    prepare_report_dir(&args.out)?;
    let jobs = args
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let color = use_color();
    let progress = std::io::stderr().is_terminal() && !args.no_progress;
    let mut reporters = reporters(&args.out, color, progress);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(jobs.clamp(1, 64))
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let environment = Arc::new(RunEnvironment::new(args.timeout));
    let options = RunOptions {
        jobs,
        timeout: args.timeout,
    };
    let mut tally = Tally::default();
    let mut report_failure = None;
    runtime
        .block_on(async {
            tokio::spawn(stop_servers_on_signal());
            let (sender, mut receiver) = mpsc::unbounded_channel();
            let run = tokio::spawn(runner::run(plan, options, Arc::clone(&environment), sender));
            while let Some(event) = receiver.recv().await {
                if let Event::CaseFinished(result) = &event {
                    tally.add_result(result);
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
    if let Some(e) = report_failure {
        return Err(e).context("writing reports failed");
    }
    let pki_dir = args.out.join("pki");
    std::fs::create_dir_all(&pki_dir)
        .with_context(|| format!("cannot create {}", pki_dir.display()))?;
    environment
        .catalogue
        .write_pem(&pki_dir)
        .with_context(|| format!("cannot write the run's test PKI to {}", pki_dir.display()))?;
    Ok(tally)
}

/// Every reporter of a run (or a merge), writing into `out`.
fn reporters(out: &Path, color: bool, progress: bool) -> Vec<Box<dyn Reporter>> {
    vec![
        Box::new(TerminalReporter::new(
            color,
            progress,
            &out.display().to_string(),
        )),
        Box::new(JunitWriter::new(out.join("junit.xml"))),
        Box::new(JsonWriter::new(out.join("results.json"))),
        Box::new(HtmlWriter::new(out.join("index.html"))),
        Box::new(MarkdownWriter::new(
            out.join("summary.md"),
            std::env::var_os("GITHUB_STEP_SUMMARY")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        )),
        Box::new(TranscriptWriter::new(out.to_owned())),
    ]
}

/// Whether the matrix may be coloured: stdout is a terminal and `NO_COLOR` is not set.
fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn diff_results(args: DiffArgs) -> ExitCode {
    let read = |path: &Path| {
        merge::read_results(path).map_err(|e| {
            eprintln!("error: {e}");
        })
    };
    let (Ok(old), Ok(new)) = (read(&args.old), read(&args.new)) else {
        return ExitCode::from(2);
    };
    let changes = diff::diff(&old.results, &new.results);
    print!("{}", diff::render(&changes));
    if changes.iter().any(diff::Change::is_regression) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn merge_results(args: MergeArgs) -> ExitCode {
    let shards: Result<Vec<merge::Shard>, ResultsError> =
        args.files.iter().map(|f| merge::read_results(f)).collect();
    let events = match shards.and_then(|shards| merge::events(&shards)) {
        Ok(events) => events,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("error: cannot create {}: {e}", args.out.display());
        return ExitCode::from(3);
    }
    let tally = record::tally(events.iter().filter_map(|e| match e {
        ReportEvent::CaseFinished(record) => Some(record),
        _ => None,
    }));
    let mut reporters = reporters(&args.out, use_color(), false);
    for event in &events {
        for reporter in &mut reporters {
            if let Err(e) = reporter.on_event(event) {
                eprintln!("error: writing reports failed: {e}");
                return ExitCode::from(3);
            }
        }
    }
    if tally.error > 0 {
        ExitCode::from(3)
    } else if tally.has_unexpected() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// On SIGINT or SIGTERM, stops every managed server this run started, then exits with the
/// conventional code 128 + signal number: no server process or listening port outlives the
/// harness.
async fn stop_servers_on_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        eprintln!("warning: cannot install signal handlers; Ctrl-C may leave servers running");
        return;
    };
    let code = tokio::select! {
        _ = interrupt.recv() => 130,
        _ = terminate.recv() => 143,
    };
    managed::stop_all();
    eprintln!("interrupted: stopped every managed server");
    std::process::exit(code);
}

/// Creates the report directory and removes what an earlier run left in it, so every
/// transcript there belongs to this run.
fn prepare_report_dir(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for stale in ["transcripts", "pki"] {
        let dir = out.join(stale);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
    }
    Ok(())
}
