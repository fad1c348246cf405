//! `xmpp-interop diff`: the cells whose verdict changed between two `results.json` files, and
//! whether any regressed.

use std::path::PathBuf;

use clap::Args;
use xmpp_interop::report::diff;
use xmpp_interop::report::merge;

use super::exit::ExitStatus;

/// The options of `diff`.
#[derive(Args)]
pub struct DiffArgs {
    /// The earlier run's results.json.
    #[arg(value_name = "OLD")]
    old: PathBuf,
    /// The later run's results.json.
    #[arg(value_name = "NEW")]
    new: PathBuf,
}

/// Prints the changed cells; a regression is an unexpected failure.
pub fn diff(args: DiffArgs) -> ExitStatus {
    let read =
        |path: &PathBuf| merge::read_results(path).map_err(|e| ExitStatus::USAGE.after_error(e));
    let (old, new) = match (read(&args.old), read(&args.new)) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(status), _) | (_, Err(status)) => return status,
    };
    let changes = diff::diff(&old.results, &new.results);
    print!("{}", diff::render(&changes));
    if changes.iter().any(diff::Change::fails) {
        ExitStatus::UNEXPECTED_FAILURE
    } else {
        ExitStatus::SUCCESS
    }
}
