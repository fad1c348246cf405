//! `xmpp-interop init`: prepares a directory for testing a participant's own server (test PKI,
//! targets file, server configuration snippet) and prints the steps that follow.

use std::path::PathBuf;

use clap::Args;
use xmpp_interop::own_server::{self, OwnServer, Software};
use xmpp_interop::scenario::KeyType;

use super::exit::ExitStatus;

/// The options of `init`.
#[derive(Args)]
pub struct InitArgs {
    /// The XMPP domain of the server under test (the chain is issued for it).
    #[arg(long, value_name = "DOMAIN")]
    domain: String,
    /// The server software: prosody or ejabberd get a configuration snippet, other gets
    /// written instructions.
    #[arg(long, value_name = "SOFTWARE", value_parser = ["prosody", "ejabberd", "other"])]
    software: String,
    /// The directory to write into (created when missing; must be empty unless --force).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Where the harness connects to the server: a host name or an IP address.
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    host: String,
    /// The c2s port with STARTTLS.
    #[arg(long, value_name = "PORT", default_value_t = 5222)]
    starttls_port: u16,
    /// The direct-TLS (XEP-0368) c2s port the configuration opens.
    #[arg(long, value_name = "PORT", default_value_t = 5223)]
    direct_tls_port: u16,
    /// The key type of the chain. RSA-2048 runs the most cases: the scenarios that need a key
    /// of their own need an RSA one (static-RSA suites, TLS 1.2 with an RSA certificate), except
    /// the Ed25519 one; none needs an ECDSA key.
    #[arg(long, value_name = "KEY", default_value = "rsa-2048")]
    key: KeyType,
    /// The target's name in the targets file and the reports [default: the software's name,
    /// or `server`].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Overwrite the files init writes in a directory that is not empty.
    #[arg(long)]
    force: bool,
}

/// Runs `init`.
pub fn init(args: InitArgs) -> ExitStatus {
    let software: Software = match args.software.parse() {
        Ok(software) => software,
        Err(message) => return ExitStatus::USAGE.after_error(message),
    };
    let server = OwnServer {
        domain: args.domain,
        software,
        host: args.host,
        starttls_port: args.starttls_port,
        direct_tls_port: args.direct_tls_port,
        key: args.key,
        target_name: args
            .name
            .unwrap_or_else(|| software.default_target_name().to_owned()),
    };
    match own_server::prepare(&server, &args.out, args.force) {
        Ok(prepared) => {
            let chain = format!("pki/{}/", own_server::PROFILE);
            let targets = file_name(&prepared.targets);
            let configuration = file_name(&prepared.configuration);
            let width = [&chain, &targets, &configuration]
                .iter()
                .map(|name| name.len())
                .max()
                .unwrap_or(0);
            println!("wrote to {}:", prepared.dir.display());
            println!(
                "  {chain:<width$}  the test chain for {} (the harness trusts its root.pem)",
                server.domain
            );
            println!(
                "  {targets:<width$}  the external target `{}`, account {}",
                server.target_name, prepared.jid
            );
            let what = match software {
                Software::Other => "what to configure, step by step",
                Software::Prosody | Software::Ejabberd => "the configuration to include",
            };
            println!("  {configuration:<width$}  {what}");
            println!("next:");
            for (number, step) in prepared.next_steps.iter().enumerate() {
                println!("  {}. {step}", number + 1);
            }
            ExitStatus::SUCCESS
        }
        Err(e) if e.is_usage() => ExitStatus::USAGE.after_error(e),
        Err(e) => ExitStatus::ENVIRONMENT.after_error(e),
    }
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}
