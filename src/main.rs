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
use xmpp_interop::certify::{self, Certificate, Verdict};
use xmpp_interop::pki::{self, PkiError};
use xmpp_interop::report::html::HtmlWriter;
use xmpp_interop::report::json::JsonWriter;
use xmpp_interop::report::junit::JunitWriter;
use xmpp_interop::report::markdown::MarkdownWriter;
use xmpp_interop::report::merge::{self, ResultsError};
use xmpp_interop::report::terminal::TerminalReporter;
use xmpp_interop::report::transcripts::TranscriptWriter;
use xmpp_interop::report::{ReportEvent, Reporter, diff, pairs as pair_reports, record};
use xmpp_interop::runner::expectations::Expectations;
use xmpp_interop::runner::pairs::PairProfile;
use xmpp_interop::runner::partition::Partition;
use xmpp_interop::runner::{self, Event, Interruption, RunEnvironment, RunOptions, Stopper, Tally};
use xmpp_interop::scenario::{self, CertificateProfile, KeyType, Scenario};
use xmpp_interop::targets::{Target, file::load_targets, managed};
use xmpp_interop::transport::keylog::{self, KeyLogFile};

const EXIT_CODES: &str = "\
Exit codes:
  0  every case ended as its scenario (or a recorded expected deviation) predicts
  1  at least one case failed unexpectedly, or passed although a deviation is recorded
     (and none hit an error)
  2  usage error, or a scenario, targets or expectations file could not be loaded
  3  harness or environment error: at least one case could not be run (an `error` case, or
     `--deadline` was reached and cases are `not-run`), or reports could not be written
  130, 143  interrupted by SIGINT / SIGTERM: every managed server and command client was
     stopped, and every report was written, the unfinished cases as `not-run`; a second
     signal exits at once, without reports";

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
    /// Certify a target against a profile (certificate.json, certificate.html); make a signing
    /// key (`certify keygen`); check a certificate (`certify verify`).
    #[command(
        after_help = CERTIFY_EXIT_CODES,
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true
    )]
    Certify(CertifyArgs),
    /// Show the cells (case × target) whose verdict changed between two results.json files.
    #[command(after_help = DIFF_EXIT_CODES)]
    Diff(DiffArgs),
    /// Rebuild every report from several results.json files (the shards of one run).
    #[command(after_help = MERGE_EXIT_CODES)]
    Merge(MergeArgs),
    /// Federate every pair of managed servers (each with itself too) and check that a message
    /// crosses in both directions, and how the link was authenticated.
    #[command(after_help = PAIRS_EXIT_CODES)]
    Pairs(PairsArgs),
}

const PAIRS_EXIT_CODES: &str = "\
Profiles:
  valid-chain           both present a chain the other trusts: delivered over SASL EXTERNAL
  self-signed           self-signed, untrusted, dialback allowed: delivered over dialback
  self-signed-required  self-signed, untrusted, certificates required: not delivered, bounced
Exit codes:
  0  every message went as its profile says
  1  at least one did not
  2  usage error, or the targets file could not be loaded or has no managed server
  3  harness or environment error: a server did not start, a login failed, or reports could
     not be written";

#[derive(Args)]
struct PairsArgs {
    /// Targets file (YAML); its managed servers are paired.
    #[arg(long, value_name = "FILE", default_value = "targets/local.yaml")]
    targets: PathBuf,
    /// A profile to run (repeatable) [default: every profile].
    #[arg(long = "profile", value_name = "PROFILE")]
    profiles: Vec<String>,
    /// Directory for pairs.json, pairs.md and the transcripts.
    #[arg(long, value_name = "DIR", default_value = "reports/pairs")]
    out: PathBuf,
    /// Time limit for every network step and for a message to arrive, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    timeout: Duration,
}

const CERTIFY_EXIT_CODES: &str = "\
Exit codes of `certify`:
  0  the verdict is pass: every required case passed
  1  the verdict is fail or incomplete (a required case failed, was skipped without the
     profile allowing it, or did not run)
  2  usage error, or a profile, scenario, targets or key file could not be loaded (a profile
     naming a scenario id or tag that matches nothing is such an error)
  3  harness or environment error: a case hit an error, or the certificate could not be written
Exit codes of `certify verify`:
  0  valid: the signature holds and every scenario file has its recorded SHA-256
  1  invalid, with the reason
  2  bad input: unreadable or malformed certificate or public key
Exit codes of `certify keygen`:
  0  written;  2  the private key file exists already;  3  cannot write";

#[derive(Args)]
struct CertifyArgs {
    #[command(subcommand)]
    command: Option<CertifyCommand>,
    #[command(flatten)]
    issue: CertifyIssueArgs,
}

#[derive(Subcommand)]
enum CertifyCommand {
    /// Write a fresh Ed25519 key pair: certify-signing-key.pem (PKCS#8, mode 0600) and
    /// certify-signing-key.pub.pem.
    #[command(after_help = CERTIFY_EXIT_CODES)]
    Keygen(CertifyKeygenArgs),
    /// Check a certificate's signature and recompute its scenario files' SHA-256 digests.
    #[command(after_help = CERTIFY_EXIT_CODES)]
    Verify(CertifyVerifyArgs),
}

#[derive(Args)]
struct CertifyIssueArgs {
    /// The profile: a YAML file, or the name of one in profiles/ (e.g. c2s-tls-sasl).
    #[arg(long, value_name = "PROFILE", required = true)]
    profile: Option<PathBuf>,
    /// The name of the target to certify (from --targets, or builtin-server / builtin-client).
    #[arg(long, value_name = "NAME", required = true)]
    target: Option<String>,
    /// Targets file (YAML) [default: the built-in server and client].
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,
    /// Directory for certificate.json, certificate.html and the run's reports.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// The scenarios directory the profile's ids and tags are resolved in; the certificate
    /// records scenario file paths relative to it.
    #[arg(long, value_name = "DIR", default_value = "scenarios")]
    scenarios: PathBuf,
    /// Sign the certificate with this Ed25519 private key (PKCS#8 PEM, from `certify keygen`).
    #[arg(long, value_name = "KEY")]
    signing_key: Option<PathBuf>,
    /// Cases to run at the same time [default: number of CPU cores].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    jobs: Option<u16>,
    /// Time limit for every network step, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    timeout: Duration,
}

#[derive(Args)]
struct CertifyKeygenArgs {
    /// Directory for the key pair.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(Args)]
struct CertifyVerifyArgs {
    /// The certificate.json to check.
    #[arg(value_name = "CERTIFICATE")]
    certificate: PathBuf,
    /// The signer's public key (PEM, from `certify keygen`).
    #[arg(long, value_name = "PUB")]
    public_key: PathBuf,
    /// Where the scenario files are [default: the scenarios_root recorded in the certificate].
    #[arg(long, value_name = "DIR")]
    scenarios_root: Option<PathBuf>,
}

const DIFF_EXIT_CODES: &str = "\
Exit codes:
  0  no cell regressed (cells may have changed, been added or removed)
  1  at least one cell that was acceptable in OLD (PASS, WARN, UNSUPPORTED, INCONCLUSIVE, INFO,
     SKIP, XFAIL, XWARN) is not in NEW (FAIL, XPASS, ERROR, or a recorded deviation that
     ended otherwise), or a cell is NOT RUN in NEW (an interrupted run) and was not in OLD
  2  usage error, or a file that cannot be read or is not a results.json (file:line:column)";

const MERGE_EXIT_CODES: &str = "\
Exit codes:
  0  every merged case ended as its scenario (or a recorded expected deviation) predicts
  1  at least one merged case failed unexpectedly or passed although a deviation is recorded
     (with --strict: or did not follow a SHOULD)
  2  usage error, a file that cannot be read or is not a results.json (file:line:column), a
     cell (case × target) present in two files, files that are not every shard 1..N of one
     run (shards missing without --allow-partial, a shard twice, different N, a whole run's
     file among shards)
  3  a merged case is an error or not-run (a shard was interrupted), or the reports could not
     be written";

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
    /// Exit 1 on a SHOULD deviation (`warn`) too, as `run --strict` does.
    #[arg(long)]
    strict: bool,
    /// Merge even when shards of the run are missing (or the files are several whole runs);
    /// a warning names what is missing.
    #[arg(long)]
    allow_partial: bool,
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

/// A duration such as `90s`, `20m`, `1h` or `1.5h`; a bare number is seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let (number, unit) = match trimmed
        .char_indices()
        .find(|(_, c)| c.is_ascii_alphabetic())
    {
        Some((at, _)) => trimmed.split_at(at),
        None => (trimmed, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?}; expected a number with s, m or h (e.g. 90s, 20m)"
            ));
        }
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 90s, 20m, 1h)"))?;
    let seconds = value * scale;
    if !(0.01..=7.0 * 86_400.0).contains(&seconds) {
        return Err(format!("{text:?} is outside 10ms..=7 days"));
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
        Command::Certify(args) => match args.command {
            Some(CertifyCommand::Keygen(args)) => certify_keygen(args),
            Some(CertifyCommand::Verify(args)) => certify_verify(args),
            None => certify_issue(args.issue),
        },
        Command::Diff(args) => diff_results(args),
        Command::Merge(args) => merge_results(args),
        Command::Pairs(args) => pairs(args),
    }
}

fn pairs(args: PairsArgs) -> ExitCode {
    let mut profiles = Vec::new();
    for name in &args.profiles {
        match PairProfile::from_name(name) {
            Some(profile) => profiles.push(profile),
            None => {
                let known: Vec<&str> = PairProfile::ALL.iter().map(|p| p.name()).collect();
                eprintln!(
                    "error: unknown pair profile {name:?}; expected one of {}",
                    known.join(", ")
                );
                return ExitCode::from(2);
            }
        }
    }
    if profiles.is_empty() {
        profiles = PairProfile::ALL.to_vec();
    }
    let targets: Vec<Arc<Target>> = match load_targets(&args.targets) {
        Ok(targets) => targets.into_iter().map(Arc::new).collect(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let pairs = runner::pairs::pairs(&targets);
    if pairs.is_empty() {
        eprintln!(
            "error: {} has no managed server to pair; expected targets with `managed:`",
            args.targets.display()
        );
        return ExitCode::from(2);
    }
    match run_pairs(&args, &pairs, &profiles) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}

fn run_pairs(
    args: &PairsArgs,
    pairs: &[(Arc<Target>, Arc<Target>)],
    profiles: &[PairProfile],
) -> anyhow::Result<bool> {
    prepare_report_dir(&args.out)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let environment = RunEnvironment::new(args.timeout);
    let mut records = Vec::new();
    let mut implementations: Vec<(String, String)> = Vec::new();
    for (first, second) in pairs {
        for target in [first, second] {
            if !implementations.iter().any(|(name, _)| *name == target.name) {
                implementations.push((target.name.clone(), target.implementation.clone()));
            }
        }
    }
    runtime.block_on(async {
        tokio::spawn(stop_servers_on_signal());
        for (first, second) in pairs {
            for &profile in profiles {
                eprintln!("pairing {first} and {second} [{profile}]");
                let cells = runner::pairs::run_pair(first, second, profile, &environment)
                    .await
                    .with_context(|| format!("pairing {first} and {second} [{profile}]"))?;
                records.extend(cells);
            }
        }
        anyhow::Ok(())
    })?;
    drop(environment);
    let markdown = pair_reports::write(&args.out, &records, &implementations)
        .context("writing the pair reports failed")?;
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty()) {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)
            .with_context(|| format!("cannot open {}", PathBuf::from(&summary).display()))?;
        file.write_all(markdown.as_bytes())
            .with_context(|| format!("cannot write {}", PathBuf::from(&summary).display()))?;
    }
    print!(
        "{}",
        pair_reports::render_terminal(&records, &implementations, use_color())
    );
    Ok(records.iter().all(|r| r.pass))
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
        "level",
    ]);
    let mut count = 0;
    // Scenarios loaded only for the controls of those asked for are not listed.
    let listed: Vec<_> = scenarios.iter().filter(|s| !s.control_only).collect();
    for scenario in &listed {
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
            // An s2s case's mechanism follows from its certificates and policy, not from `sasl:`.
            let (role, mechanism, credentials) = match &case.s2s {
                Some(s2s) => (s2s.direction.to_string(), "-".to_owned(), "-".to_owned()),
                None => (
                    case.role.to_string(),
                    case.sasl.mechanism.to_string(),
                    case.sasl.credentials.to_string(),
                ),
            };
            table.add_row([
                case.id.clone(),
                role,
                case.transport.to_string(),
                case.certificate.to_string(),
                case.key.to_string(),
                case.trust.to_string(),
                mechanism,
                credentials,
                if misbehave.is_empty() {
                    "-".to_owned()
                } else {
                    misbehave.join(",")
                },
                case.expect.to_string(),
                format!("{} {}", case.requirement.level, case.requirement.clause),
            ]);
        }
    }
    println!("{table}");
    println!("{count} cases from {} scenarios", listed.len());
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
    let expectations = if args.expectations.is_empty() {
        Expectations::none()
    } else {
        let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        let case_ids = scenarios
            .iter()
            .flat_map(|s| s.cases.iter().map(|c| c.id.as_str()))
            .collect();
        match Expectations::load_all(&args.expectations, &names, &case_ids) {
            Ok(expectations) => expectations,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let plan = runner::plan(&scenarios, &targets, &args.filter).with_expectations(&expectations);
    if plan.cases.is_empty() {
        eprintln!(
            "error: no case to run: the filters {:?} match nothing",
            args.filter
        );
        return ExitCode::from(2);
    }
    let plan = shard(plan, args.scale_out.partition);
    if let Err(code) = install_keylog(args.scale_out.keylog.as_deref()) {
        return code;
    }
    let settings = ExecuteSettings {
        out: &args.out,
        jobs: args.jobs,
        timeout: args.timeout,
        case_timeout: args
            .case_timeout
            .unwrap_or_else(|| runner::default_case_timeout(args.timeout)),
        no_progress: args.no_progress,
        partition: args.scale_out.partition,
        deadline: args.deadline,
        no_wait: args.no_wait,
    };
    match execute(plan, &settings).map(|run| (run.tally, run.interrupted)) {
        Ok((_, Some(Interruption::Interrupt))) => ExitCode::from(130),
        Ok((_, Some(Interruption::Terminate))) => ExitCode::from(143),
        // A case that did not run never lets a run pass: exit 3, "could not run every case".
        Ok((tally, _)) if tally.error > 0 || tally.not_run > 0 => ExitCode::from(3),
        Ok((tally, _)) if tally.has_unexpected(args.strict) => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}

/// The cases of one shard, when `--partition` asks for one.
fn shard(plan: runner::Plan, partition: Option<Partition>) -> runner::Plan {
    match partition {
        Some(partition) => {
            let plan = plan.partitioned(partition);
            if plan.cases.is_empty() {
                eprintln!("note: shard {partition} holds no case (fewer cases than shards)");
            }
            plan
        }
        None => plan,
    }
}

/// Opens the `--keylog` file (or `SSLKEYLOGFILE`) and makes every TLS connection log to it;
/// a file that cannot be opened is a usage error (exit 2).
fn install_keylog(path: Option<&Path>) -> Result<(), ExitCode> {
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
        Err(e) => {
            eprintln!("error: cannot open the TLS key log {}: {e}", path.display());
            Err(ExitCode::from(2))
        }
    }
}

/// Runs the plan, feeding every reporter from the event stream; returns the outcome counts.
/// How `execute` runs a plan and where its reports go (shared by `run` and `certify`).
struct ExecuteSettings<'a> {
    out: &'a Path,
    jobs: Option<u16>,
    timeout: Duration,
    case_timeout: Duration,
    no_progress: bool,
    partition: Option<Partition>,
    /// `run --deadline`: the time limit of the whole run.
    deadline: Option<Duration>,
    /// `run --no-wait`: federating cases end as `error` while another run holds the
    /// federation addresses, instead of waiting.
    no_wait: bool,
}

/// What `execute` hands back: the counts, every case (finished or `not-run`), and why the
/// run was interrupted, if it was.
struct Executed {
    tally: Tally,
    results: Vec<Arc<runner::CaseResult>>,
    interrupted: Option<Interruption>,
}

/// Runs the plan, feeding every reporter from the event stream. A signal (SIGINT, SIGTERM)
/// or the deadline stops the run: the runner cancels what runs and reports the rest as
/// `not-run`, and every report is still written; a second signal exits at once.
fn execute(plan: runner::Plan, args: &ExecuteSettings<'_>) -> anyhow::Result<Executed> {
    prepare_report_dir(args.out)?;
    let jobs = args
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let color = use_color();
    let progress = std::io::stderr().is_terminal() && !args.no_progress;
    let mut reporters = reporters(
        args.out,
        color,
        progress,
        args.partition.map(|p| p.to_string()),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(jobs.clamp(1, 64))
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut environment = RunEnvironment::new(args.timeout);
    if args.no_wait {
        environment.federation = managed::FederationSlot::without_waiting();
    }
    let environment = Arc::new(environment);
    let options = RunOptions {
        jobs,
        timeout: args.timeout,
        case_timeout: args.case_timeout,
    };
    let mut tally = Tally::default();
    let mut results = Vec::new();
    let mut report_failure = None;
    let stopper = Stopper::new();
    runtime
        .block_on(async {
            tokio::spawn(stop_run_on_signal(stopper.clone()));
            if let Some(deadline) = args.deadline {
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
    let pki_dir = args.out.join("pki");
    std::fs::create_dir_all(&pki_dir)
        .with_context(|| format!("cannot create {}", pki_dir.display()))?;
    environment
        .catalogue
        .write_pem(&pki_dir)
        .with_context(|| format!("cannot write the run's test PKI to {}", pki_dir.display()))?;
    Ok(Executed {
        tally,
        results,
        interrupted,
    })
}

/// Every reporter of a run (or a merge), writing into `out`.
fn reporters(
    out: &Path,
    color: bool,
    progress: bool,
    partition: Option<String>,
) -> Vec<Box<dyn Reporter>> {
    vec![
        Box::new(TerminalReporter::new(
            color,
            progress,
            &out.display().to_string(),
        )),
        Box::new(JunitWriter::new(out.join("junit.xml"))),
        Box::new(JsonWriter::new(out.join("results.json")).with_partition(partition)),
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
    if changes.iter().any(diff::Change::fails) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn merge_results(args: MergeArgs) -> ExitCode {
    let shards: Result<Vec<merge::Shard>, ResultsError> =
        args.files.iter().map(|f| merge::read_results(f)).collect();
    let checked = shards.and_then(|shards| {
        let coverage = merge::check_coverage(&shards, args.allow_partial)?;
        Ok((coverage, merge::events(&shards)?))
    });
    let events = match checked {
        Ok((coverage, events)) => {
            if let merge::Coverage::Partial(what) = coverage {
                eprintln!("warning: {what}; the merged reports cover only part of the run");
            }
            events
        }
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
    let mut reporters = reporters(&args.out, use_color(), false, None);
    for event in &events {
        for reporter in &mut reporters {
            if let Err(e) = reporter.on_event(event) {
                eprintln!("error: writing reports failed: {e}");
                return ExitCode::from(3);
            }
        }
    }
    if tally.error > 0 || tally.not_run > 0 {
        ExitCode::from(3)
    } else if tally.has_unexpected(args.strict) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// On SIGINT or SIGTERM, stops the run (no case starts any more, the running ones are
/// cancelled and the reports are written, see [`runner::run_until`]) and stops every managed
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
    let code = tokio::select! {
        _ = interrupt.recv() => 130,
        _ = terminate.recv() => 143,
    };
    managed::stop_all();
    eprintln!("interrupted again: exiting without finishing the reports");
    std::process::exit(code);
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

fn certify_issue(args: CertifyIssueArgs) -> ExitCode {
    let (Some(profile_name), Some(target_name)) = (&args.profile, &args.target) else {
        eprintln!("error: certify needs --profile and --target");
        return ExitCode::from(2);
    };
    if !args.scenarios.is_dir() {
        eprintln!(
            "error: {}: not a directory; expected the scenarios directory (--scenarios DIR) the certificate's file paths are relative to",
            args.scenarios.display()
        );
        return ExitCode::from(2);
    }
    let Some(scenarios) = load(std::slice::from_ref(&args.scenarios)) else {
        return ExitCode::from(2);
    };
    let profile_path = certify::profile::resolve_path(profile_name, Path::new("profiles"));
    let profile = match certify::profile::load(&profile_path, &scenarios) {
        Ok(profile) => profile,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
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
    let Some(target) = targets.iter().find(|t| &t.name == target_name) else {
        let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        eprintln!(
            "error: no target named {target_name:?}; expected one of {}",
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    if target.kind() != profile.target {
        eprintln!(
            "error: {} certifies a {} but target {} is a {}",
            profile_path.display(),
            profile.target,
            target.name,
            target.kind()
        );
        return ExitCode::from(2);
    }
    let signing_key = match &args.signing_key {
        Some(path) => match certify::signing::load_signing_key(path) {
            Ok(key) => Some(key),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let to_run = profile.cases_to_run();
    let plan = runner::plan(&scenarios, std::slice::from_ref(target), &[])
        .keeping(|case| to_run.contains(case.id.as_str()));
    let settings = ExecuteSettings {
        out: &args.out,
        jobs: args.jobs,
        timeout: args.timeout,
        case_timeout: runner::default_case_timeout(args.timeout),
        no_progress: true,
        partition: None,
        deadline: None,
        no_wait: false,
    };
    let (tally, results) = match execute(plan, &settings) {
        Ok(Executed {
            interrupted: Some(why),
            ..
        }) => {
            eprintln!("no certificate issued: {why}; the reports list the unfinished cases");
            return ExitCode::from(match why {
                Interruption::Interrupt => 130,
                Interruption::Terminate => 143,
                Interruption::Deadline(_) => 3,
            });
        }
        Ok(done) => (done.tally, done.results),
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(3);
        }
    };
    let inputs = certify::Inputs {
        profile: &profile,
        target,
        scenarios_root: &args.scenarios,
        sources: scenarios
            .iter()
            .flat_map(|s| s.cases.iter().map(|c| (c.id.clone(), c.source.clone())))
            .collect(),
    };
    let mut certificate = match Certificate::new(&inputs, &results) {
        Ok(certificate) => certificate,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    if let Some(key) = &signing_key {
        certificate.sign(key);
    }
    if let Err(e) = write_certificate(&certificate, &args.out) {
        eprintln!("error: {e:#}");
        return ExitCode::from(3);
    }
    let body = &certificate.body;
    println!(
        "{} {} against {} ({}): {} ({} required cases)",
        body.profile.name,
        body.profile.version,
        body.target.name,
        body.target.implementation,
        match body.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Incomplete => "INCOMPLETE",
        },
        body.results.len()
    );
    for reason in &body.verdict_reasons {
        println!("  {reason}");
    }
    println!(
        "certificate: {} ({}), {}",
        args.out.join("certificate.json").display(),
        if certificate.signature.is_some() {
            "signed"
        } else {
            "not signed"
        },
        args.out.join("certificate.html").display()
    );
    match body.verdict {
        _ if tally.error > 0 => ExitCode::from(3),
        Verdict::Pass => ExitCode::SUCCESS,
        Verdict::Fail | Verdict::Incomplete => ExitCode::from(1),
    }
}

fn write_certificate(certificate: &Certificate, out: &Path) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(certificate).context("cannot render certificate.json")?;
    let json_path = out.join("certificate.json");
    std::fs::write(&json_path, json)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    let html_path = out.join("certificate.html");
    std::fs::write(&html_path, certify::html::render(certificate))
        .with_context(|| format!("cannot write {}", html_path.display()))?;
    Ok(())
}

fn certify_keygen(args: CertifyKeygenArgs) -> ExitCode {
    let private = args.out.join(certify::signing::PRIVATE_KEY_FILE);
    if private.exists() {
        eprintln!(
            "error: {} exists already; expected a directory without a signing key (keys are never overwritten)",
            private.display()
        );
        return ExitCode::from(2);
    }
    match certify::signing::generate(&args.out) {
        Ok((private, public)) => {
            println!(
                "private key: {} (mode 0600, keep it secret)",
                private.display()
            );
            println!("public key:  {}", public.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
    }
}

fn certify_verify(args: CertifyVerifyArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.certificate) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.certificate.display());
            return ExitCode::from(2);
        }
    };
    let (certificate, raw_body) = match certify::certificate::parse(&text) {
        Ok(parsed) => parsed,
        Err(e) if e.line() > 0 => {
            eprintln!(
                "error: {}:{}:{}: not a certificate: {e}",
                args.certificate.display(),
                e.line(),
                e.column()
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!(
                "error: {}: not a certificate: {e}",
                args.certificate.display()
            );
            return ExitCode::from(2);
        }
    };
    let key = match certify::signing::load_verifying_key(&args.public_key) {
        Ok(key) => key,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let root = args
        .scenarios_root
        .unwrap_or_else(|| PathBuf::from(&certificate.body.scenarios_root));
    match certify::certificate::verify(&certificate, &raw_body, &key, &root) {
        Ok(()) => {
            let body = &certificate.body;
            println!(
                "valid: {} {} for {} ({}), verdict {:?}, {} results, {} scenario files unchanged",
                body.profile.name,
                body.profile.version,
                body.target.name,
                body.target.implementation,
                body.verdict,
                body.results.len(),
                body.scenario_files.len()
            );
            ExitCode::SUCCESS
        }
        Err(invalid) => {
            println!("invalid: {invalid}");
            ExitCode::from(1)
        }
    }
}
