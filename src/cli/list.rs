//! `xmpp-interop list`: the expanded cases of the scenarios, as a table, without running
//! anything.

use std::path::PathBuf;

use clap::Args;
use comfy_table::{Table, presets};
use xmpp_interop::runner;

use xmpp_interop::scenario::ScenarioSet;

use super::exit::ExitStatus;
use super::inputs;

/// The options of `list`.
#[derive(Args)]
pub struct ListArgs {
    /// Scenario files or directories (searched recursively for *.yaml and *.yml) [default:
    /// the shipped scenarios built into the binary].
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// List only cases whose id contains this text or that carry this tag (repeatable).
    #[arg(long, value_name = "TEXT")]
    filter: Vec<String>,
}

/// Prints one row per case that the filters keep, then the count.
pub fn list(args: ListArgs) -> ExitStatus {
    let scenarios = match inputs::scenarios(&ScenarioSet::from_paths(&args.paths)) {
        Ok(scenarios) => scenarios,
        Err(status) => return status,
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
        "tls",
        "mechanism",
        "credentials",
        "misbehave",
        "expect",
        "level",
    ]);
    let mut count = 0;
    // Scenarios loaded only for the controls of those asked for are not listed.
    let listed: Vec<_> = scenarios.iter().filter(|s| !s.control_only).collect();
    for case in listed
        .iter()
        .flat_map(|scenario| &scenario.cases)
        .filter(|case| runner::selected_by(case, &args.filter))
    {
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
            case.tls.to_string(),
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
    println!("{table}");
    println!("{count} cases from {} scenarios", listed.len());
    ExitStatus::SUCCESS
}
