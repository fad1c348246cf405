//! The `xmpp-interop` command line: clap parsing and one module per subcommand, as
//! cargo-nextest's `dispatch/` does it. The only place that knows about clap. What several
//! subcommands share lives once: exit codes and their help text ([`exit`]), value parsers
//! ([`args`]), loading scenarios, targets and the report directory ([`inputs`]), the runtime,
//! key log and signal handling ([`runtime`]), reporters and the step summary ([`output`]),
//! running a plan with its reports ([`execute`]), and the completions and man page generated
//! from these definitions ([`shell`]).

mod args;
mod certify;
mod diff;
mod execute;
mod exit;
mod init;
mod inputs;
mod list;
mod merge;
mod output;
mod pairs;
mod pki;
mod probe;
mod run;
mod runtime;
mod scenarios;
mod shell;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

use exit::ExitStatus;

/// What `--version` prints: the version, the git commit it was built from (`unknown` outside a
/// checkout) and the two TLS stacks (see `build.rs`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("XMPP_INTEROP_COMMIT"),
    "; TLS: rustls ",
    env!("XMPP_INTEROP_RUSTLS"),
    " with the ring crypto provider, OpenSSL ",
    env!("XMPP_INTEROP_OPENSSL"),
    " where a case asks for it)"
);

/// TLS and SASL interoperability harness for XMPP servers and clients.
///
/// Runs scenarios (YAML files) against targets (implementations under test) and reports a
/// pass/fail matrix, JUnit XML, JSON, an HTML page, a Markdown summary and one transcript per
/// case; compares two runs (`diff`) and merges the shards of one (`merge`).
#[derive(Parser)]
#[command(name = "xmpp-interop", version = VERSION, after_help = exit::TOP_LEVEL.help())]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios against targets (the built-in ones unless `--targets` says otherwise)
    /// and write reports.
    #[command(after_help = exit::RUN.help())]
    Run(run::RunArgs),
    /// Prepare testing a server of your own: test PKI for its domain, a targets file, and
    /// the configuration for Prosody or ejabberd (instructions for other software).
    #[command(after_help = exit::INIT.help())]
    Init(init::InitArgs),
    /// Print the expanded cases without running anything.
    #[command(after_help = exit::LIST.help())]
    List(list::ListArgs),
    /// Generate the test PKI for provisioning, or show what a certificate holds.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// Certify a target against a profile (certificate.json, certificate.html); make a signing
    /// key (`certify keygen`); check a certificate (`certify verify`).
    #[command(
        after_help = certify::help(),
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true
    )]
    Certify(certify::CertifyArgs),
    /// Show the cells (case × target) whose verdict changed between two results.json files.
    #[command(after_help = exit::DIFF.help())]
    Diff(diff::DiffArgs),
    /// Rebuild every report from several results.json files (the shards of one run).
    #[command(after_help = exit::MERGE.help())]
    Merge(merge::MergeArgs),
    /// Federate every pair of managed servers (each with itself too) and check that a message
    /// crosses in both directions, and how the link was authenticated.
    #[command(after_help = pairs::help())]
    Pairs(pairs::PairsArgs),
    /// Judge a deployed XMPP service by its domain name, with no account: discover its
    /// endpoints in DNS, probe each (STARTTLS, TLS versions and suites, chain, identity, SASL
    /// before and after TLS) and grade the findings.
    #[command(after_help = probe::help())]
    Probe(probe::ProbeArgs),
    /// The shipped scenarios and profiles built into the binary: write them out for editing.
    #[command(subcommand)]
    Scenarios(scenarios::ScenariosCommand),
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = exit::PRINTED.help())]
    Completions(shell::CompletionsArgs),
    /// Print the man page (roff), e.g. `xmpp-interop man > /usr/local/share/man/man1/xmpp-interop.1`.
    #[command(after_help = exit::PRINTED.help())]
    Man,
}

impl Command {
    /// The exit codes the subcommand's help documents.
    fn exit_codes(&self) -> &'static exit::ExitCodes {
        match self {
            Command::Run(_) => &exit::RUN,
            Command::Init(_) => &exit::INIT,
            Command::List(_) => &exit::LIST,
            Command::Pki(command) => command.exit_codes(),
            Command::Certify(args) => args.exit_codes(),
            Command::Diff(_) => &exit::DIFF,
            Command::Merge(_) => &exit::MERGE,
            Command::Pairs(_) => &exit::PAIRS,
            Command::Probe(_) => &exit::PROBE,
            Command::Scenarios(command) => command.exit_codes(),
            Command::Completions(_) | Command::Man => &exit::PRINTED,
        }
    }

    fn run(self) -> ExitStatus {
        match self {
            Command::Run(args) => run::run(args),
            Command::Init(args) => init::init(args),
            Command::List(args) => list::list(args),
            Command::Pki(command) => command.run(),
            Command::Certify(args) => args.run(),
            Command::Diff(args) => diff::diff(args),
            Command::Merge(args) => merge::merge(args),
            Command::Pairs(args) => pairs::pairs(args),
            Command::Probe(args) => probe::probe(args),
            Command::Scenarios(command) => command.run(),
            Command::Completions(args) => shell::completions(args, Cli::command()),
            Command::Man => shell::man(Cli::command()),
        }
    }
}

/// Parses the command line and runs the subcommand.
pub fn main() -> ExitCode {
    let command = Cli::parse().command;
    let documented = command.exit_codes();
    let status = command.run();
    debug_assert!(
        documented.documents(status),
        "exit code {} is missing from the subcommand's --help",
        status.code()
    );
    status.into()
}
