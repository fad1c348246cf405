//! `xmpp-interop merge`: every report rebuilt from the `results.json` files of a run's shards,
//! through the same reporters a run uses.

use std::path::PathBuf;

use clap::Args;
use xmpp_interop::report::merge::{self, ResultsError};
use xmpp_interop::report::record::Verdict;
use xmpp_interop::report::{ReportEvent, record};

use super::args::parse_verdict;
use super::exit::ExitStatus;
use super::output;

/// The options of `merge`.
#[derive(Args)]
pub struct MergeArgs {
    /// results.json files of the shards (transcripts are copied from next to each file when
    /// they are there).
    #[arg(value_name = "RESULTS", required = true)]
    files: Vec<PathBuf>,
    /// Directory for the rebuilt reports: junit.xml, results.json, index.html, summary.md,
    /// transcripts/.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Exit 1 on a SHOULD deviation (`warn`) too, as `run --strict` does.
    #[arg(long)]
    strict: bool,
    /// Merge even when shards of the run are missing (or the files are several whole runs);
    /// a warning names what is missing.
    #[arg(long)]
    allow_partial: bool,
    /// As `run --hide`: leave out the rows and lists of this verdict (repeatable).
    #[arg(long, value_name = "VERDICT", value_parser = parse_verdict)]
    hide: Vec<Verdict>,
}

/// Checks that the shards make one run, replays them into the reporters and judges the merged
/// cases as `run` would.
pub fn merge(args: MergeArgs) -> ExitStatus {
    let shards: Result<Vec<merge::Shard>, ResultsError> =
        args.files.iter().map(|f| merge::read_results(f)).collect();
    let checked = shards.and_then(|shards| {
        let coverage = merge::check_coverage(&shards, args.allow_partial)?;
        Ok((coverage, merge::events(&shards)?))
    });
    let events = match checked {
        Ok((coverage, events)) => {
            if let merge::Coverage::Partial(what) = coverage {
                eprintln!("warning: {what}; the merged reports cover only part of the run");
            }
            events
        }
        Err(e) => return ExitStatus::USAGE.after_error(e),
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        return ExitStatus::ENVIRONMENT
            .after_error(format_args!("cannot create {}: {e}", args.out.display()));
    }
    let tally = record::tally(events.iter().filter_map(|e| match e {
        ReportEvent::CaseFinished(record) => Some(record),
        _ => None,
    }));
    let mut reporters = output::reporters(
        &args.out,
        output::Terminal::Matrix {
            color: output::use_color(),
            progress: false,
        },
        None,
        output::step_summary(),
        &args.hide,
    );
    for event in &events {
        for reporter in &mut reporters {
            if let Err(e) = reporter.on_event(event) {
                return ExitStatus::ENVIRONMENT
                    .after_error(format_args!("writing reports failed: {e}"));
            }
        }
    }
    if tally.error > 0 || tally.not_run > 0 {
        ExitStatus::ENVIRONMENT
    } else if tally.has_unexpected(args.strict) {
        ExitStatus::UNEXPECTED_FAILURE
    } else {
        ExitStatus::SUCCESS
    }
}
