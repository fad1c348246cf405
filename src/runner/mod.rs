//! Plans cases (scenario × target), runs them in parallel and emits events.
//!
//! The runner knows nothing about reports: it sends [`Event`]s down a channel, and every
//! reporter is fed from that one stream.

mod execute;
pub mod expectations;
mod federation;
pub mod pairs;
pub mod partition;
mod s2s;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc};

use crate::drive::TranscriptLine;
use crate::pki::Catalogue;
use crate::proto::sasl::CredentialStore;
use crate::scenario::{CaseSpec, Scenario, Step};
use crate::target::managed::{FederationSlot, Instances};
use crate::target::{ACCOUNT_USERNAME, Target};
use expectations::{Deviation, Expectations};
use partition::Partition;

/// SCRAM iteration count of the built-in accounts (RFC 7677 §4 recommends at least 4096).
const ACCOUNT_ITERATIONS: u32 = 4096;

/// The verdict of one case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The target behaved as the scenario expects.
    Pass,
    /// The target did not.
    Fail,
    /// The case does not apply; the detail says why.
    Skip,
    /// The harness or the environment broke; nothing is known about the target.
    Error,
}

impl Outcome {
    /// Upper-case label for matrices.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
            Outcome::Error => "ERROR",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
            Outcome::Error => "error",
        })
    }
}

/// Everything known about one finished case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The case that ran.
    pub case: Arc<CaseSpec>,
    /// The target's name.
    pub target: String,
    /// The verdict.
    pub outcome: Outcome,
    /// The step at which the verdict was decided (none when the harness broke before any).
    pub step: Option<Step>,
    /// What the scenario expects.
    pub expected: String,
    /// What was observed.
    pub observed: String,
    /// How long the case took.
    pub duration: Duration,
    /// The harness's (and a built-in target's) view of the session.
    pub transcript: Vec<TranscriptLine>,
    /// The known deviation recorded for this target and case, if any.
    pub expected_deviation: Option<Arc<Deviation>>,
}

impl CaseResult {
    /// Whether the outcome is what a run should accept: `pass` or `skip` with no deviation
    /// recorded, or exactly the recorded deviation.
    pub fn as_expected(&self) -> bool {
        match &self.expected_deviation {
            Some(_) => self.deviation_happened(),
            None => matches!(self.outcome, Outcome::Pass | Outcome::Skip),
        }
    }

    /// Whether the recorded deviation is what happened: its outcome, and, when it records
    /// one, the observation it was confirmed with. A case that fails in another way than
    /// recorded is a plain failure, so a new fault cannot hide behind an old record.
    pub fn deviation_happened(&self) -> bool {
        self.expected_deviation.as_ref().is_some_and(|deviation| {
            self.outcome == deviation.outcome.outcome()
                && deviation
                    .observed
                    .as_deref()
                    .is_none_or(|observed| self.observed.starts_with(observed))
        })
    }

    /// The matrix label: the outcome's, except `XFAIL` for a recorded deviation that happened
    /// and `XPASS` for a recorded deviation that no longer happens.
    pub fn label(&self) -> &'static str {
        match (&self.expected_deviation, self.outcome) {
            (Some(_), Outcome::Pass) => "XPASS",
            _ if self.deviation_happened() => "XFAIL",
            (_, outcome) => outcome.label(),
        }
    }
}

/// What the runner tells reporters.
#[derive(Clone, Debug)]
pub enum Event {
    /// The run is about to start.
    RunStarted {
        /// How many cases will run.
        total: usize,
        /// The target columns, in order.
        targets: Vec<String>,
        /// Each target's implementation and version, in the same order.
        implementations: Vec<String>,
    },
    /// One case started.
    CaseStarted {
        /// The case id.
        case: String,
        /// The target name.
        target: String,
    },
    /// One case finished.
    CaseFinished(Arc<CaseResult>),
    /// Every case finished.
    RunFinished {
        /// Wall time of the whole run.
        duration: Duration,
    },
}

/// One case to run: a scenario combination against a target.
#[derive(Clone, Debug)]
pub struct PlannedCase {
    /// The combination.
    pub case: Arc<CaseSpec>,
    /// The target.
    pub target: Arc<Target>,
    /// The deviation recorded for this target and case, if any.
    pub expected_deviation: Option<Arc<Deviation>>,
}

/// Which cases a run covers.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The targets, in column order.
    pub targets: Vec<Arc<Target>>,
    /// The cases, in the order they are reported.
    pub cases: Vec<PlannedCase>,
}

/// Pairs every case with every target whose kind fits the scenario's role, keeping only the
/// cases that match one of `filters` (an id substring or a tag) when any are given.
pub fn plan(scenarios: &[Scenario], targets: &[Target], filters: &[String]) -> Plan {
    let targets: Vec<Arc<Target>> = targets.iter().cloned().map(Arc::new).collect();
    let mut cases = Vec::new();
    for scenario in scenarios {
        for case in &scenario.cases {
            if !filters.is_empty() && !filters.iter().any(|f| matches_filter(case, f)) {
                continue;
            }
            let case = Arc::new(case.clone());
            for target in &targets {
                if target.harness_role() == case.role {
                    cases.push(PlannedCase {
                        case: Arc::clone(&case),
                        target: Arc::clone(target),
                        expected_deviation: None,
                    });
                }
            }
        }
    }
    Plan { targets, cases }
}

impl Plan {
    /// Attaches the recorded deviations to the cases they concern.
    pub fn with_expectations(mut self, expectations: &Expectations) -> Plan {
        for planned in &mut self.cases {
            planned.expected_deviation =
                expectations.lookup(&planned.target.name, &planned.case.id);
        }
        self
    }

    /// Keeps only the cases of one shard: the planned cases sorted by case id, then target
    /// name, the `i`-th (0-based) belonging to shard `i mod N + 1` (see [`partition`]).
    pub fn partitioned(mut self, partition: Partition) -> Plan {
        let mut order: Vec<usize> = (0..self.cases.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&self.cases[a], &self.cases[b]);
            (&a.case.id, &a.target.name).cmp(&(&b.case.id, &b.target.name))
        });
        let mut keep = vec![false; self.cases.len()];
        for (position, &index) in order.iter().enumerate() {
            keep[index] = partition.contains(position);
        }
        let mut keep = keep.into_iter();
        self.cases.retain(|_| keep.next().unwrap_or(false));
        self
    }
}

fn matches_filter(case: &CaseSpec, filter: &str) -> bool {
    case.id.contains(filter) || case.tags.iter().any(|t| t == filter)
}

/// How cases run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Cases running at the same time.
    pub jobs: usize,
    /// Time limit of every network step.
    pub timeout: Duration,
}

/// What every case of a run shares: the test PKI and the built-in accounts.
pub struct RunEnvironment {
    /// Certificates, generated on first use.
    pub catalogue: Arc<Catalogue>,
    /// Accounts of the harness's server and the built-in server.
    pub accounts: Arc<CredentialStore>,
    /// The password of [`ACCOUNT_USERNAME`].
    pub password: String,
    /// Time limit of every network step.
    pub timeout: Duration,
    /// The managed servers of this run, started on demand and shared by cases.
    pub instances: Instances,
    /// The run's federating managed server (server-to-server cases), one at a time.
    pub federation: FederationSlot,
}

impl RunEnvironment {
    /// A fresh PKI catalogue and one account with a random password.
    pub fn new(timeout: Duration) -> RunEnvironment {
        let password = format!("pw-{:032x}", rand::random::<u128>());
        let mut accounts = CredentialStore::new();
        accounts.add_user(ACCOUNT_USERNAME, &password, ACCOUNT_ITERATIONS);
        RunEnvironment {
            catalogue: Arc::new(Catalogue::new()),
            accounts: Arc::new(accounts),
            password,
            timeout,
            instances: Instances::new(),
            federation: FederationSlot::new(),
        }
    }
}

/// Runs every planned case, at most `options.jobs` at a time, sending events to `events`.
/// Returns when every case finished; events arrive in completion order.
pub async fn run(
    plan: Plan,
    options: RunOptions,
    environment: Arc<RunEnvironment>,
    events: mpsc::UnboundedSender<Event>,
) {
    let started = Instant::now();
    let _ = events.send(Event::RunStarted {
        total: plan.cases.len(),
        targets: plan.targets.iter().map(|t| t.name.clone()).collect(),
        implementations: plan
            .targets
            .iter()
            .map(|t| t.implementation.clone())
            .collect(),
    });
    let permits = Arc::new(Semaphore::new(options.jobs.max(1)));
    let mut tasks = Vec::with_capacity(plan.cases.len());
    let mut cases = plan.cases;
    // Cases that share a managed server run one after another, so that few servers are up
    // at the same time and each stops as soon as its cases are done.
    cases.sort_by_key(|planned| {
        let position = plan
            .targets
            .iter()
            .position(|t| Arc::ptr_eq(t, &planned.target));
        (position, execute::instance_key(planned))
    });
    for planned in &cases {
        if let Some(key) = execute::instance_key(planned) {
            environment.instances.reserve(key);
        }
    }
    for planned in cases {
        let permits = Arc::clone(&permits);
        let environment = Arc::clone(&environment);
        let events = events.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(_permit) = permits.acquire().await else {
                return;
            };
            let _ = events.send(Event::CaseStarted {
                case: planned.case.id.clone(),
                target: planned.target.name.clone(),
            });
            let case_started = Instant::now();
            let inner = tokio::spawn({
                let planned = planned.clone();
                async move { execute::execute(&planned, &environment).await }
            });
            let result = match inner.await {
                Ok(result) => result,
                Err(e) => execute::harness_failure(
                    &planned,
                    format!("the harness itself failed while running this case: {e}"),
                    case_started.elapsed(),
                    Vec::new(),
                ),
            };
            let _ = events.send(Event::CaseFinished(Arc::new(result)));
        }));
    }
    for task in tasks {
        // Each task reports its own failure as an `error` case; nothing is left to collect.
        let _ = task.await;
    }
    let _ = events.send(Event::RunFinished {
        duration: started.elapsed(),
    });
}

/// Counts of outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Cases that passed.
    pub pass: usize,
    /// Cases that failed.
    pub fail: usize,
    /// Cases skipped.
    pub skip: usize,
    /// Cases the harness could not run.
    pub error: usize,
    /// Cases that failed as a recorded deviation predicts (counted here, not in `fail`).
    pub xfail: usize,
    /// Cases that passed although a deviation is recorded (counted here, not in `pass`).
    pub xpass: usize,
}

impl Tally {
    /// Counts one outcome.
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Pass => self.pass += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Skip => self.skip += 1,
            Outcome::Error => self.error += 1,
        }
    }

    /// Counts one result, telling expected deviations and unexpected passes apart.
    pub fn add_result(&mut self, result: &CaseResult) {
        match (&result.expected_deviation, result.outcome) {
            (Some(_), Outcome::Pass) => self.xpass += 1,
            _ if result.deviation_happened() => self.xfail += 1,
            (_, outcome) => self.add(outcome),
        }
    }

    /// All cases counted.
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.skip + self.error + self.xfail + self.xpass
    }

    /// Whether any case ended other than the scenario or a recorded deviation predicts.
    pub fn has_unexpected(&self) -> bool {
        self.fail > 0 || self.xpass > 0
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} pass, {} fail", self.pass, self.fail)?;
        if self.xfail > 0 || self.xpass > 0 {
            write!(
                f,
                ", {} expected deviation (xfail), {} unexpected pass (xpass)",
                self.xfail, self.xpass
            )?;
        }
        write!(f, ", {} skip, {} error", self.skip, self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expectations::DeviationOutcome;

    /// A shipped case, so that these tests follow the scenario model as it grows.
    fn shipped_case() -> CaseSpec {
        let scenarios =
            crate::scenario::load_path(std::path::Path::new("scenarios/c2s/wrong-password.yaml"))
                .unwrap();
        scenarios[0].cases[0].clone()
    }

    fn result(outcome: Outcome, deviation: bool) -> CaseResult {
        CaseResult {
            case: Arc::new(shipped_case()),
            target: "prosody".to_owned(),
            outcome,
            step: None,
            expected: String::new(),
            observed: "rejected at tls by target (closed): the client closed the connection"
                .to_owned(),
            duration: Duration::ZERO,
            transcript: Vec::new(),
            expected_deviation: deviation.then(|| {
                Arc::new(Deviation {
                    outcome: DeviationOutcome::Fail,
                    reason: "known".to_owned(),
                    link: None,
                    observed: None,
                })
            }),
        }
    }

    #[test]
    fn a_recorded_failure_that_happens_is_an_expected_xfail() {
        let failed = result(Outcome::Fail, true);
        assert!(failed.as_expected());
        assert_eq!(failed.label(), "XFAIL");
        let mut tally = Tally::default();
        tally.add_result(&failed);
        assert_eq!((tally.xfail, tally.fail), (1, 0));
        assert!(!tally.has_unexpected());
    }

    #[test]
    fn a_recorded_failure_that_no_longer_happens_is_an_unexpected_xpass() {
        let passed = result(Outcome::Pass, true);
        assert!(!passed.as_expected());
        assert_eq!(passed.label(), "XPASS");
        let mut tally = Tally::default();
        tally.add_result(&passed);
        assert_eq!((tally.xpass, tally.pass), (1, 0));
        assert!(tally.has_unexpected());
    }

    #[test]
    fn an_error_stays_an_error_even_with_a_recorded_deviation() {
        let broken = result(Outcome::Error, true);
        assert!(!broken.as_expected());
        assert_eq!(broken.label(), "ERROR");
    }

    #[test]
    fn a_failure_other_than_the_recorded_observation_is_a_plain_failure() {
        let mut failed = result(Outcome::Fail, true);
        let record = |observed: &str| {
            Some(Arc::new(Deviation {
                outcome: DeviationOutcome::Fail,
                reason: "known".to_owned(),
                link: None,
                observed: Some(observed.to_owned()),
            }))
        };
        failed.expected_deviation = record("rejected at tls by target (closed)");
        assert!(failed.as_expected());
        assert_eq!(failed.label(), "XFAIL");
        failed.expected_deviation = record("rejected at features by target (closed)");
        assert!(!failed.as_expected());
        assert_eq!(failed.label(), "FAIL");
        let mut tally = Tally::default();
        tally.add_result(&failed);
        assert_eq!((tally.xfail, tally.fail), (0, 1));
        assert!(tally.has_unexpected());
    }

    #[test]
    fn without_a_record_a_failure_is_unexpected() {
        let failed = result(Outcome::Fail, false);
        assert!(!failed.as_expected());
        assert_eq!(failed.label(), "FAIL");
    }
}
