//! `xmpp-interop probe DOMAIN`: find a deployed service's endpoints in DNS, probe each without
//! an account, and print (or write) the findings and the grade; with `--account`, also run the
//! built-in c2s scenarios against the endpoints found and fold their verdicts in.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use xmpp_interop::discovery;
use xmpp_interop::probe::account::{self, ProbeAccount, ScenarioSummary};
use xmpp_interop::probe::{self, ProbeReport, Trust, render};
use xmpp_interop::report::record::{CaseRecord, Verdict};
use xmpp_interop::report::terminal::problem_blocks;
use xmpp_interop::runner::{self, Interruption};
use xmpp_interop::scenario::ScenarioSet;

use super::args::parse_seconds;
use super::execute::{ExecuteSettings, PreflightFailed, execute};
use super::exit::ExitStatus;
use super::runtime::runtime;

/// The options of `probe`.
#[derive(Args)]
pub struct ProbeArgs {
    /// The XMPP domain, e.g. example.org.
    #[arg(value_name = "DOMAIN")]
    domain: String,
    /// Only the client side (`_xmpp-client`, `_xmpps-client`).
    #[arg(long, conflicts_with = "s2s")]
    c2s: bool,
    /// Only the server side (`_xmpp-server`, `_xmpps-server`).
    #[arg(long)]
    s2s: bool,
    /// Ask this DNS server (ADDR:PORT) instead of the system's resolver.
    #[arg(long, value_name = "ADDR:PORT")]
    resolver: Option<SocketAddr>,
    /// Trust these roots (PEM; repeatable) instead of the system's
    /// (/etc/ssl/certs/ca-certificates.crt).
    #[arg(long = "root", value_name = "PEM")]
    roots: Vec<PathBuf>,
    /// Print the report as JSON on stdout (schemas/probe.schema.json).
    #[arg(long)]
    json: bool,
    /// Also write probe.json, probe.html and probe.md into DIR.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Seconds each step (connect, each read, each handshake) may take.
    #[arg(long, value_name = "S", default_value = "10", value_parser = parse_seconds)]
    timeout: Duration,
    /// Also log in as this account of DOMAIN and run the built-in c2s scenarios that apply
    /// against the first reachable c2s STARTTLS endpoint (and the first direct-TLS one on the
    /// same address), trusting the system's roots (or --root) for the server's own chain.
    #[arg(
        long,
        value_name = "JID",
        requires = "password_file",
        conflicts_with = "s2s"
    )]
    account: Option<String>,
    /// The password of --account: the first line of FILE.
    #[arg(long, value_name = "FILE", requires = "account")]
    password_file: Option<PathBuf>,
    /// With --account: scenario cases running at the same time (1: one after the other).
    #[arg(short, long, value_name = "N", default_value = "1", requires = "account",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
}

/// What `probe --help` says about the load it puts on a service.
const POLITENESS: &str = "Load on the service: the endpoints are probed one after the other, \
and each gets at most 10 TCP connections, one after the other: one for the stream features \
before and after TLS and the chain, one for the TLS version the first did not negotiate, one \
each for TLS 1.0 and 1.1, and one per class of RFC 9325 §4.1 suites the system's libssl can \
offer (6 classes; Debian's OpenSSL 3 has 2 of them). No login is attempted without \
--account. With --account, the c2s scenarios that apply run one after the other (--jobs 1): \
one TLS handshake to look at the chain and one login before them (the pre-flight, which stops \
everything with exit 3 if it fails), then at most one connection and one login attempt per \
case (about 100 are planned; those the server's own chain makes inapplicable are skipped \
without connecting: 79 connections against Prosody 0.12).";

/// The text after `probe --help`'s options: the load on the service, then the exit codes.
pub fn help() -> String {
    format!("{POLITENESS}\n\n{}", super::exit::PROBE.help())
}

/// Runs the probe and prints the findings.
pub fn probe(args: ProbeArgs) -> ExitStatus {
    let trust = if args.roots.is_empty() {
        match Trust::system() {
            Ok(trust) => trust,
            Err(e) => {
                return ExitStatus::ENVIRONMENT
                    .after_error(format!("cannot read the system's roots: {e}"));
            }
        }
    } else {
        let paths: Vec<&std::path::Path> = args.roots.iter().map(PathBuf::as_path).collect();
        match Trust::from_pem_files(&paths) {
            Ok(trust) => trust,
            Err(e) => return ExitStatus::USAGE.after_error(format!("--root {e}")),
        }
    };
    let with_account = match account_of(&args) {
        Ok(with_account) => with_account,
        Err(status) => return status,
    };
    let services: Vec<discovery::Service> = match (args.c2s, args.s2s) {
        (true, false) => vec![discovery::Service::Client],
        (false, true) => vec![discovery::Service::Server],
        _ => vec![discovery::Service::Client, discovery::Service::Server],
    };
    let runtime = match runtime(2) {
        Ok(runtime) => runtime,
        Err(e) => return ExitStatus::ENVIRONMENT.after_error(format!("{e:#}")),
    };
    eprintln!("discovering {} ...", args.domain);
    let result = runtime.block_on(probe::probe_domain(
        &args.domain,
        &services,
        args.resolver,
        &trust,
        args.timeout,
        |endpoint| eprintln!("probing {} ...", endpoint.label()),
    ));
    let mut report = match result {
        Ok(report) => report,
        Err(e) => return ExitStatus::USAGE.after_error(format!("DNS: {e}")),
    };
    if report.endpoints.is_empty() {
        for line in &report.dns {
            eprintln!("  {line}");
        }
        return ExitStatus::USAGE
            .after_error(format!("DNS: no endpoint to probe for {}", report.domain));
    }
    let mut scenario_problems = None;
    if let Some((account, roots)) = with_account {
        match run_scenarios(&report, account, roots, &args) {
            Ok(ran) => {
                scenario_problems = Some(ran.problems);
                report.scenarios = Some(ran.summary);
            }
            Err(status) => return status,
        }
    }
    if let Some(dir) = &args.out
        && let Err(e) = render::write_all(&report, dir)
    {
        return ExitStatus::ENVIRONMENT.after_error(format!(
            "cannot write the reports to {}: {e}",
            dir.display()
        ));
    }
    if args.json {
        print!("{}", render::json(&report));
    } else {
        print!("{}", terminal(&report));
        if let (Some(scenarios), Some(problems)) = (&report.scenarios, &scenario_problems) {
            print!("{}", scenarios_section(scenarios, problems));
        }
    }
    if !report.any_reachable() {
        return ExitStatus::ENVIRONMENT.after_error("no endpoint could be reached over TCP");
    }
    if let Some(scenarios) = &report.scenarios {
        // As `run`: a case that could not run never lets the run pass.
        if scenarios.count(Verdict::Error) > 0 || scenarios.count(Verdict::NotRun) > 0 {
            return ExitStatus::ENVIRONMENT;
        }
        if scenarios.count(Verdict::Fail) > 0 {
            return ExitStatus::UNEXPECTED_FAILURE;
        }
    }
    match report.grade {
        probe::Grade::F => ExitStatus::UNEXPECTED_FAILURE,
        probe::Grade::A | probe::Grade::B => ExitStatus::SUCCESS,
    }
}

/// The account of `--account` and the roots of `--root` (`None`: the system's).
type AccountAndRoots = (ProbeAccount, Option<Vec<CertificateDer<'static>>>);

/// The account and the roots its scenarios trust (`None`: the system's), when `--account` is
/// given; a bad JID, a JID of another domain, or a missing or empty password file is a usage
/// error, found before any connection.
fn account_of(args: &ProbeArgs) -> Result<Option<AccountAndRoots>, ExitStatus> {
    let (Some(jid), Some(password_file)) = (&args.account, &args.password_file) else {
        return Ok(None);
    };
    let password = read_password(password_file).map_err(|e| ExitStatus::USAGE.after_error(e))?;
    let account = ProbeAccount::of(jid, &args.domain, password)
        .map_err(|e| ExitStatus::USAGE.after_error(format!("--account: {e}")))?;
    if args.roots.is_empty() {
        return Ok(Some((account, None)));
    }
    let mut roots = Vec::new();
    for path in &args.roots {
        let certificates = CertificateDer::pem_file_iter(path).map_err(|e| {
            ExitStatus::USAGE.after_error(format!("--root {}: {e}", path.display()))
        })?;
        for certificate in certificates {
            roots.push(certificate.map_err(|e| {
                ExitStatus::USAGE.after_error(format!("--root {}: {e}", path.display()))
            })?);
        }
    }
    Ok(Some((account, Some(roots))))
}

/// The first line of `path`, without its line end; an error when the file cannot be read or
/// the line is empty.
fn read_password(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--password-file {}: {e}", path.display()))?;
    let first = text.lines().next().unwrap_or_default();
    if first.is_empty() {
        return Err(format!(
            "--password-file {}: the first line is empty; expected the password there",
            path.display()
        ));
    }
    Ok(first.to_owned())
}

/// What the scenarios gave: the summary for the reports and the terminal's FAIL/WARN blocks.
struct ScenariosRan {
    summary: ScenarioSummary,
    problems: String,
}

/// Runs the built-in c2s scenarios that apply against the endpoints `report` found, through
/// the pre-flight and the runner `run` uses; their reports go to `--out`/scenarios.
fn run_scenarios(
    report: &ProbeReport,
    account: ProbeAccount,
    roots: Option<Vec<CertificateDer<'static>>>,
    args: &ProbeArgs,
) -> Result<ScenariosRan, ExitStatus> {
    let login = format!("{}@{}", account.username, report.domain);
    let target = account::scenario_target(report, account, roots)
        .map_err(|e| ExitStatus::ENVIRONMENT.after_error(e))?;
    let scenarios = ScenarioSet::BuiltIn
        .load()
        .map_err(|e| ExitStatus::ENVIRONMENT.after_error(e))?;
    let plan = runner::plan(&scenarios, std::slice::from_ref(&target.target), &[])
        .keeping(|case| case.s2s.is_none());
    eprintln!(
        "running {} c2s cases as {login} against {} ...",
        plan.cases.len(),
        target.endpoints.join(", ")
    );
    let out = args.out.as_ref().map(|dir| dir.join("scenarios"));
    let settings = ExecuteSettings {
        out: out.as_deref(),
        matrix: false,
        jobs: Some(args.jobs),
        timeout: args.timeout,
        case_timeout: runner::default_case_timeout(args.timeout),
        no_progress: true,
        partition: None,
        deadline: None,
        no_wait: false,
        preflight: true,
        hide: &[],
    };
    let executed = match execute(plan, &settings) {
        Ok(executed) => executed,
        Err(e) => {
            return Err(match e.downcast_ref::<PreflightFailed>() {
                Some(PreflightFailed(problems)) => {
                    let each: Vec<String> = problems
                        .iter()
                        .map(|m| format!("{} ({})", m.problem, m.case))
                        .collect();
                    ExitStatus::ENVIRONMENT.after_error(format!(
                        "the pre-flight login as {login} failed; no scenario was run: {}",
                        each.join("; ")
                    ))
                }
                None => ExitStatus::ENVIRONMENT.after_error(format_args!("{e:#}")),
            });
        }
    };
    if let Some(why @ (Interruption::Interrupt | Interruption::Terminate)) = &executed.interrupted {
        return Err(ExitStatus::of_interruption(why));
    }
    let records: Vec<Arc<CaseRecord>> = executed
        .results
        .iter()
        .map(|result| Arc::new(CaseRecord::from_result(result)))
        .collect();
    let report_dir = out.as_ref().map(|dir| dir.display().to_string());
    Ok(ScenariosRan {
        summary: ScenarioSummary::of(target.endpoints, &records),
        problems: problem_blocks(&records, report_dir.as_deref(), &[]),
    })
}

/// The terminal's scenario section: the endpoints, the counts, then the blocks `run` prints
/// below its matrix.
fn scenarios_section(scenarios: &ScenarioSummary, problems: &str) -> String {
    format!(
        "scenarios with the account against {}: {}\n{problems}",
        scenarios.endpoints.join(", "),
        scenarios.counts_line()
    )
}

/// The terminal's summary: DNS facts, per endpoint its findings (or "no clause broken"), the
/// grade.
fn terminal(report: &ProbeReport) -> String {
    let mut out = format!("probe {}\n", report.domain);
    for line in &report.dns {
        out.push_str(&format!("  dns: {line}\n"));
    }
    for endpoint in &report.endpoints {
        let facts = &endpoint.facts;
        out.push_str(&format!(
            "{} [{} connections]\n",
            facts.endpoint.label(),
            facts.connections
        ));
        if let Some(stopped) = &facts.stopped {
            out.push_str(&format!("  stopped at {stopped}\n"));
        }
        if let Some(tls) = &facts.tls {
            out.push_str(&format!(
                "  {} {}",
                tls.version.map_or("unknown", |v| v.label()),
                tls.cipher_suite
            ));
            if let Some(identity) = &facts.identity {
                match &identity.rule {
                    Some(rule) => out.push_str(&format!(
                        "; {} by {rule}",
                        identity.matched.as_deref().unwrap_or_default()
                    )),
                    None => out.push_str("; the domain is not named"),
                }
            }
            out.push('\n');
        }
        if let Some(after) = &facts.after_tls
            && !after.sasl_mechanisms.is_empty()
        {
            out.push_str(&format!(
                "  SASL after TLS: {}\n",
                after.sasl_mechanisms.join(" ")
            ));
        }
        if endpoint.findings.is_empty() {
            out.push_str("  no clause broken\n");
        }
        for finding in &endpoint.findings {
            out.push_str(&format!("  {}\n", render::finding_line(finding)));
        }
    }
    out.push_str(&format!(
        "grade {}: {} MUST broken, {} SHOULD not followed ({:.2} s){}\n",
        report.grade.letter(),
        report.must_broken,
        report.should_not_followed,
        report.duration_seconds,
        render::not_fully_probed(report)
    ));
    out
}
