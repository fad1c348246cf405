//! `xmpp-interop certify [keygen|verify]`: a target certified against a profile
//! (`certificate.json`, `certificate.html`, optionally signed), a signing key pair made, a
//! certificate checked.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use xmpp_interop::certify::{self, Certificate, Verdict};
use xmpp_interop::runner;
use xmpp_interop::scenario::ScenarioSet;

use super::args::parse_seconds;
use super::execute::{ExecuteSettings, Executed, execute};
use super::exit::{self, ExitStatus};
use super::inputs;

/// The options of `certify`: a subcommand, or the options of issuing a certificate.
#[derive(Args)]
pub struct CertifyArgs {
    #[command(subcommand)]
    command: Option<CertifyCommand>,
    #[command(flatten)]
    issue: CertifyIssueArgs,
}

impl CertifyArgs {
    /// The exit codes of what these arguments ask for.
    pub fn exit_codes(&self) -> &'static exit::ExitCodes {
        match self.command {
            Some(CertifyCommand::Keygen(_)) => &exit::CERTIFY_KEYGEN,
            Some(CertifyCommand::Verify(_)) => &exit::CERTIFY_VERIFY,
            None => &exit::CERTIFY,
        }
    }

    /// Issues a certificate, or runs the subcommand.
    pub fn run(self) -> ExitStatus {
        match self.command {
            Some(CertifyCommand::Keygen(args)) => keygen(args),
            Some(CertifyCommand::Verify(args)) => verify(args),
            None => issue(self.issue),
        }
    }
}

/// The help text of `certify`: its own exit codes and its subcommands'.
pub fn help() -> String {
    exit::help_of(&[&exit::CERTIFY, &exit::CERTIFY_VERIFY, &exit::CERTIFY_KEYGEN])
}

#[derive(Subcommand)]
enum CertifyCommand {
    /// Write a fresh Ed25519 key pair: certify-signing-key.pem (PKCS#8, mode 0600) and
    /// certify-signing-key.pub.pem.
    #[command(after_help = exit::CERTIFY_KEYGEN.help())]
    Keygen(CertifyKeygenArgs),
    /// Check a certificate's signature and recompute its scenario files' SHA-256 digests.
    #[command(after_help = exit::CERTIFY_VERIFY.help())]
    Verify(CertifyVerifyArgs),
}

#[derive(Args)]
struct CertifyIssueArgs {
    /// The profile: the name of a shipped one, built into the binary (c2s-tls-sasl,
    /// scram-channel-binding, client-certificate-validation, s2s-authentication), or the path
    /// of a profile file (a path, or a name ending in .yaml).
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
    /// records scenario file paths relative to it [default: the built-in set, recorded as
    /// `scenarios`, the repository directory it comes from].
    #[arg(long, value_name = "DIR")]
    scenarios: Option<PathBuf>,
    /// Sign the certificate with this Ed25519 private key (PKCS#8 PEM, from `certify keygen`).
    #[arg(long, value_name = "KEY")]
    signing_key: Option<PathBuf>,
    /// Cases to run at the same time [default: number of CPU cores]; server-to-server cases
    /// against managed servers run beside them, at most min(N, 2) at a time.
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

fn issue(args: CertifyIssueArgs) -> ExitStatus {
    match issue_certificate(&args) {
        Ok(status) | Err(status) => status,
    }
}

/// Runs the profile's cases against the target and writes the certificate; `Err` carries the
/// status of what stopped it before a verdict.
fn issue_certificate(args: &CertifyIssueArgs) -> Result<ExitStatus, ExitStatus> {
    let (Some(profile_name), Some(target_name)) = (&args.profile, &args.target) else {
        return Err(ExitStatus::USAGE.after_error("certify needs --profile and --target"));
    };
    let (set, scenarios_root) = match &args.scenarios {
        Some(dir) if !dir.is_dir() => {
            return Err(ExitStatus::USAGE.after_error(format_args!(
                "{}: not a directory; expected the scenarios directory (--scenarios DIR) the certificate's file paths are relative to",
                dir.display()
            )));
        }
        Some(dir) => (ScenarioSet::Paths(vec![dir.clone()]), dir.clone()),
        None => (
            ScenarioSet::BuiltIn,
            PathBuf::from(xmpp_interop::shipped::SCENARIOS_ROOT),
        ),
    };
    let scenarios = inputs::scenarios(&set)?;
    let profile_source =
        certify::profile::find(profile_name).map_err(|e| ExitStatus::USAGE.after_error(e))?;
    let profile_path = profile_source.path();
    let profile = certify::profile::load_source(&profile_source, &scenarios)
        .map_err(|e| ExitStatus::USAGE.after_error(e))?;
    let targets = inputs::targets(args.targets.as_deref())?;
    let Some(target) = targets.iter().find(|t| &t.name == target_name) else {
        let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        return Err(ExitStatus::USAGE.after_error(format_args!(
            "no target named {target_name:?}; expected one of {}",
            names.join(", ")
        )));
    };
    if target.kind() != profile.target {
        return Err(ExitStatus::USAGE.after_error(format_args!(
            "{} certifies a {} but target {} is a {}",
            profile_path.display(),
            profile.target,
            target.name,
            target.kind()
        )));
    }
    let signing_key = match &args.signing_key {
        Some(path) => Some(
            certify::signing::load_signing_key(path)
                .map_err(|e| ExitStatus::USAGE.after_error(e))?,
        ),
        None => None,
    };
    let to_run = profile.cases_to_run();
    let plan = runner::plan(&scenarios, std::slice::from_ref(target), &[])
        .keeping(|case| to_run.contains(case.id.as_str()));
    let settings = ExecuteSettings {
        out: Some(&args.out),
        matrix: true,
        jobs: args.jobs,
        timeout: args.timeout,
        case_timeout: runner::default_case_timeout(args.timeout),
        no_progress: true,
        partition: None,
        deadline: None,
        no_wait: false,
        preflight: true,
        hide: &[],
    };
    let (tally, results) = match execute(plan, &settings) {
        Ok(Executed {
            interrupted: Some(why),
            ..
        }) => {
            eprintln!("no certificate issued: {why}; the reports list the unfinished cases");
            return Err(ExitStatus::of_interruption(&why));
        }
        Ok(done) => (done.tally, done.results),
        Err(e) => return Err(ExitStatus::ENVIRONMENT.after_error(format_args!("{e:#}"))),
    };
    let inputs = certify::Inputs {
        profile: &profile,
        target,
        scenarios_root: &scenarios_root,
        scenarios: &set,
        sources: scenarios
            .iter()
            .flat_map(|s| s.cases.iter().map(|c| (c.id.clone(), c.source.clone())))
            .collect(),
    };
    let mut certificate =
        Certificate::new(&inputs, &results).map_err(|e| ExitStatus::ENVIRONMENT.after_error(e))?;
    if let Some(key) = &signing_key {
        certificate.sign(key);
    }
    write_certificate(&certificate, &args.out)
        .map_err(|e| ExitStatus::ENVIRONMENT.after_error(format_args!("{e:#}")))?;
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
    Ok(match body.verdict {
        _ if tally.error > 0 => ExitStatus::ENVIRONMENT,
        Verdict::Pass => ExitStatus::SUCCESS,
        Verdict::Fail | Verdict::Incomplete => ExitStatus::UNEXPECTED_FAILURE,
    })
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

fn keygen(args: CertifyKeygenArgs) -> ExitStatus {
    let private = args.out.join(certify::signing::PRIVATE_KEY_FILE);
    if private.exists() {
        return ExitStatus::USAGE.after_error(format_args!(
            "{} exists already; expected a directory without a signing key (keys are never overwritten)",
            private.display()
        ));
    }
    match certify::signing::generate(&args.out) {
        Ok((private, public)) => {
            println!(
                "private key: {} (mode 0600, keep it secret)",
                private.display()
            );
            println!("public key:  {}", public.display());
            ExitStatus::SUCCESS
        }
        Err(e) => ExitStatus::ENVIRONMENT.after_error(e),
    }
}

fn verify(args: CertifyVerifyArgs) -> ExitStatus {
    let text = match std::fs::read_to_string(&args.certificate) {
        Ok(text) => text,
        Err(e) => {
            return ExitStatus::USAGE.after_error(format_args!(
                "cannot read {}: {e}",
                args.certificate.display()
            ));
        }
    };
    let (certificate, raw_body) = match certify::certificate::parse(&text) {
        Ok(parsed) => parsed,
        Err(e) if e.line() > 0 => {
            return ExitStatus::USAGE.after_error(format_args!(
                "{}:{}:{}: not a certificate: {e}",
                args.certificate.display(),
                e.line(),
                e.column()
            ));
        }
        Err(e) => {
            return ExitStatus::USAGE.after_error(format_args!(
                "{}: not a certificate: {e}",
                args.certificate.display()
            ));
        }
    };
    let key = match certify::signing::load_verifying_key(&args.public_key) {
        Ok(key) => key,
        Err(e) => return ExitStatus::USAGE.after_error(e),
    };
    let (root, set) = verify_scenarios(args.scenarios_root, &certificate.body.scenarios_root);
    match certify::certificate::verify(&certificate, &raw_body, &key, &root, &set) {
        Ok(()) => {
            let body = &certificate.body;
            println!(
                "valid: {} {} for {} ({}), verdict {:?}, {} results, {} scenario files unchanged ({})",
                body.profile.name,
                body.profile.version,
                body.target.name,
                body.target.implementation,
                body.verdict,
                body.results.len(),
                body.scenario_files.len(),
                match set {
                    ScenarioSet::BuiltIn => "compared with the built-in set".to_owned(),
                    ScenarioSet::Paths(_) => format!("compared with {}", root.display()),
                }
            );
            ExitStatus::SUCCESS
        }
        Err(invalid) => {
            println!("invalid: {invalid}");
            ExitStatus::UNEXPECTED_FAILURE
        }
    }
}

/// Where `certify verify` reads the scenario files: `--scenarios-root DIR` when given, else the
/// recorded root when it is a directory here; a recorded `scenarios` that is not (the built-in
/// set's root, away from a checkout) is compared with the built-in set.
fn verify_scenarios(asked: Option<PathBuf>, recorded: &str) -> (PathBuf, ScenarioSet) {
    let root = asked.clone().unwrap_or_else(|| PathBuf::from(recorded));
    if asked.is_none() && !root.is_dir() && recorded == xmpp_interop::shipped::SCENARIOS_ROOT {
        (root, ScenarioSet::BuiltIn)
    } else {
        (root.clone(), ScenarioSet::Paths(vec![root]))
    }
}
