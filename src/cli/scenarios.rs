//! `xmpp-interop scenarios export DIR`: the shipped scenarios and profiles built into the
//! binary, written out as files for editing (then run with `run DIR/scenarios`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use xmpp_interop::shipped::{self, ExportError};

use super::exit::{self, ExitStatus};

/// `scenarios` subcommands.
#[derive(Subcommand)]
pub enum ScenariosCommand {
    /// Write the shipped scenarios and certification profiles built into the binary to
    /// DIR/scenarios/ and DIR/profiles/, for editing; existing files are not overwritten
    /// without --force.
    #[command(after_help = exit::SCENARIOS_EXPORT.help())]
    Export(ExportArgs),
}

impl ScenariosCommand {
    /// The exit codes of the subcommand.
    pub fn exit_codes(&self) -> &'static exit::ExitCodes {
        match self {
            ScenariosCommand::Export(_) => &exit::SCENARIOS_EXPORT,
        }
    }

    /// Runs the subcommand.
    pub fn run(self) -> ExitStatus {
        match self {
            ScenariosCommand::Export(args) => export(args),
        }
    }
}

/// The options of `scenarios export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The directory to write scenarios/ and profiles/ into (created when missing).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Overwrite files that exist already.
    #[arg(long)]
    force: bool,
}

fn export(args: ExportArgs) -> ExitStatus {
    match shipped::export(&args.dir, args.force) {
        Ok(count) => {
            let scenarios = args.dir.join(shipped::SCENARIOS_ROOT);
            println!(
                "wrote {count} files to {} and {}; run them with `xmpp-interop run {}`",
                scenarios.display(),
                args.dir.join(shipped::PROFILES_ROOT).display(),
                scenarios.display()
            );
            ExitStatus::SUCCESS
        }
        Err(e @ ExportError::Exists(_)) => ExitStatus::USAGE.after_error(e),
        Err(e @ ExportError::Io { .. }) => ExitStatus::ENVIRONMENT.after_error(e),
    }
}
