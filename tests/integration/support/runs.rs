//! Shared by integration tests that run shipped scenarios through the runner against the
//! built-in targets, as `xmpp-interop run` does, and look at single results.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use xmpp_interop::runner::{self, CaseResult, Event, RunEnvironment, RunOptions};
use xmpp_interop::scenario;
use xmpp_interop::targets::Target;

/// Every case of the scenarios under `path` against the built-in targets, `jobs` at a time.
pub async fn run_builtin(path: &str, jobs: usize) -> Vec<Arc<CaseResult>> {
    let scenarios = scenario::load_path(Path::new(path))
        .unwrap_or_else(|e| panic!("scenarios under {path} do not load: {e}"));
    let plan = runner::plan(&scenarios, &Target::builtin(), &[]);
    let environment = Arc::new(RunEnvironment::new(Duration::from_secs(10)));
    let options = RunOptions {
        jobs,
        timeout: Duration::from_secs(10),
        case_timeout: runner::default_case_timeout(Duration::from_secs(10)),
    };
    let (sender, mut receiver) = mpsc::unbounded_channel();
    tokio::spawn(runner::run(plan, options, environment, sender));
    let mut results = Vec::new();
    while let Some(event) = receiver.recv().await {
        if let Event::CaseFinished(result) = event {
            results.push(result);
        }
    }
    results
}

/// The result of the case `case`; panics naming it when there is none.
pub fn find<'a>(results: &'a [Arc<CaseResult>], case: &str) -> &'a CaseResult {
    results
        .iter()
        .find(|r| r.case.id == case)
        .unwrap_or_else(|| panic!("no result for {case}"))
}
