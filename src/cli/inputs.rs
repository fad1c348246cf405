//! Loading what a subcommand works on, the same way everywhere: scenarios, targets (a file or
//! the built-ins) and the report directory. Each loader prints the error and hands back the
//! exit status when it fails.

use std::path::Path;

use anyhow::Context as _;
use xmpp_interop::scenario::{Scenario, ScenarioSet};
use xmpp_interop::targets::{Target, file::load_targets};

use super::exit::ExitStatus;

/// Every scenario of `set`; a file that cannot be loaded is a usage error. The built-in set is
/// announced on stderr, so a user who meant their own files sees which ones ran.
pub fn scenarios(set: &ScenarioSet) -> Result<Vec<Scenario>, ExitStatus> {
    let scenarios = set.load().map_err(|e| ExitStatus::USAGE.after_error(e))?;
    if *set == ScenarioSet::BuiltIn {
        eprintln!(
            "scenarios: the built-in set ({} scenarios; a PATH on the command line loads others, \
             `xmpp-interop scenarios export DIR` writes these out)",
            scenarios.len()
        );
    }
    Ok(scenarios)
}

/// The targets of `file`, or the built-in server and client without one; a file that cannot
/// be loaded is a usage error.
pub fn targets(file: Option<&Path>) -> Result<Vec<Target>, ExitStatus> {
    match file {
        Some(path) => load_targets(path).map_err(|e| ExitStatus::USAGE.after_error(e)),
        None => Ok(Target::builtin()),
    }
}

/// Creates the report directory and removes what an earlier run left in it, so every
/// transcript there belongs to this run.
pub fn prepare_report_dir(out: &Path) -> anyhow::Result<()> {
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
