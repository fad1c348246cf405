//! `xmpp-interop pki generate|show`: the test PKI written out for provisioning a target, and
//! what the certificates of a PEM file hold in XMPP terms.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use xmpp_interop::pki::{self, PkiError};
use xmpp_interop::scenario::{CertificateProfile, KeyType};

use super::exit::{self, ExitStatus};

/// The subcommands of `pki`.
#[derive(Subcommand)]
pub enum PkiCommand {
    /// Write certificate chains and keys for every (or the named) profile, plus manifest.json.
    #[command(after_help = exit::PKI_GENERATE.help())]
    Generate(PkiGenerateArgs),
    /// Print what the certificates in a PEM file hold in XMPP terms.
    #[command(after_help = exit::PKI_SHOW.help())]
    Show(PkiShowArgs),
}

impl PkiCommand {
    /// The exit codes the subcommand documents.
    pub fn exit_codes(&self) -> &'static exit::ExitCodes {
        match self {
            PkiCommand::Generate(_) => &exit::PKI_GENERATE,
            PkiCommand::Show(_) => &exit::PKI_SHOW,
        }
    }

    /// Runs the subcommand.
    pub fn run(self) -> ExitStatus {
        match self {
            PkiCommand::Generate(args) => generate(args),
            PkiCommand::Show(args) => show(args),
        }
    }
}

/// The options of `pki generate`.
#[derive(Args)]
pub struct PkiGenerateArgs {
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

/// The options of `pki show`.
#[derive(Args)]
pub struct PkiShowArgs {
    /// A PEM file with one or more certificates (e.g. fullchain.pem).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

fn generate(args: PkiGenerateArgs) -> ExitStatus {
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
            ExitStatus::SUCCESS
        }
        Err(e @ PkiError::InvalidDomain { .. }) => ExitStatus::USAGE.after_error(e),
        Err(e) => ExitStatus::ENVIRONMENT.after_error(e),
    }
}

fn show(args: PkiShowArgs) -> ExitStatus {
    let bytes = match std::fs::read(&args.file) {
        Ok(bytes) => bytes,
        Err(e) => {
            return ExitStatus::USAGE
                .after_error(format_args!("cannot read {}: {e}", args.file.display()));
        }
    };
    let summaries = match pki::provision::summarise_pem(&bytes) {
        Ok(summaries) => summaries,
        Err(e) => {
            return ExitStatus::USAGE.after_error(format_args!("{}: {e}", args.file.display()));
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
    ExitStatus::SUCCESS
}
