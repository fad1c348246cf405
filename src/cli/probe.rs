//! `xmpp-interop probe DOMAIN`: find a deployed service's endpoints in DNS, probe each without
//! an account, and print (or write) the findings and the grade.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use xmpp_interop::discovery;
use xmpp_interop::probe::{self, ProbeReport, Trust, render};

use super::args::parse_seconds;
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
}

/// What `probe --help` says about the load it puts on a service.
const POLITENESS: &str = "Load on the service: the endpoints are probed one after the other, \
and each gets at most 10 TCP connections, one after the other: one for the stream features \
before and after TLS and the chain, one for the TLS version the first did not negotiate, one \
each for TLS 1.0 and 1.1, and one per class of RFC 9325 §4.1 suites the system's libssl can \
offer (6 classes; Debian's OpenSSL 3 has 2 of them). No login is ever attempted.";

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
    let report = match result {
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
    }
    if !report.any_reachable() {
        return ExitStatus::ENVIRONMENT.after_error("no endpoint could be reached over TCP");
    }
    match report.grade {
        probe::Grade::F => ExitStatus::UNEXPECTED_FAILURE,
        probe::Grade::A | probe::Grade::B => ExitStatus::SUCCESS,
    }
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
