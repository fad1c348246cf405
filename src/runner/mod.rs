//! Plans cases (scenario × target), runs them in parallel and emits events.
//!
//! The runner knows nothing about reports: it sends [`Event`]s down a channel, and every
//! reporter is fed from that one stream.

mod execute;
pub mod expectations;
mod federation;
pub mod pairs;
pub mod partition;
pub mod preflight;
mod s2s;
pub mod verdict;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::drive::{Transcript, TranscriptLine};
use crate::pki::Catalogue;
use crate::proto::sasl::CredentialStore;
use crate::scenario::{CaseSpec, Feature, Level, Scenario, Step};
use crate::targets::managed::{FederationSlot, Instances};
use crate::targets::{ACCOUNT_USERNAME, CaseContext, Target};
use expectations::{Deviation, Expectations};
use partition::Partition;
use verdict::Control;

/// SCRAM iteration count of the built-in accounts (RFC 7677 §4 recommends at least 4096).
const ACCOUNT_ITERATIONS: u32 = 4096;

/// The verdict of one case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The target behaved as the clause requires.
    Pass,
    /// The target broke a MUST or MUST NOT.
    Fail,
    /// The target did not follow a SHOULD or SHOULD NOT.
    Warn,
    /// The target lacks an optional feature the case needs; the detail names it and the
    /// evidence.
    Unsupported,
    /// A negative case whose positive control did not pass against the same target: its
    /// refusal says nothing.
    Inconclusive,
    /// Behaviour a MAY leaves open, reported as a fact about the target.
    Info,
    /// The harness cannot run the case here; the detail says why.
    Skip,
    /// The harness or the environment broke; nothing is known about the target.
    Error,
    /// The run was interrupted (SIGINT, SIGTERM or `--deadline`) before the case finished:
    /// nothing is known about the target. Never a pass; a run with such a case never exits 0.
    NotRun,
}

impl Outcome {
    /// Every outcome, in the order reports list them.
    pub const ALL: [Outcome; 9] = [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::Warn,
        Outcome::Unsupported,
        Outcome::Inconclusive,
        Outcome::Info,
        Outcome::Skip,
        Outcome::Error,
        Outcome::NotRun,
    ];

    /// Upper-case label for matrices.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Warn => "WARN",
            Outcome::Unsupported => "UNSUPPORTED",
            Outcome::Inconclusive => "INCONCLUSIVE",
            Outcome::Info => "INFO",
            Outcome::Skip => "SKIP",
            Outcome::Error => "ERROR",
            Outcome::NotRun => "NOT RUN",
        }
    }

    /// The lower-case name, as in `results.json`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Warn => "warn",
            Outcome::Unsupported => "unsupported",
            Outcome::Inconclusive => "inconclusive",
            Outcome::Info => "info",
            Outcome::Skip => "skip",
            Outcome::Error => "error",
            Outcome::NotRun => "not-run",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
    /// For `unsupported` (and a failed mandatory-to-implement case): the feature the target
    /// lacks.
    pub missing_feature: Option<Feature>,
    /// For a negative case: how its positive control ended against the same target.
    pub control: Option<Control>,
    /// What the harness saw on the wire, when the session ran (expectations match on it).
    pub observation: Option<crate::scenario::Observation>,
}

impl CaseResult {
    /// The level of the clause the case checks.
    pub fn level(&self) -> Level {
        self.case.requirement.level
    }

    /// Whether the outcome is what a run should accept: with no deviation recorded, anything
    /// but `fail` and `error` (a `warn` fails a run only under `--strict`, see
    /// [`Tally::has_unexpected`]); with one, exactly the recorded deviation.
    pub fn as_expected(&self) -> bool {
        match &self.expected_deviation {
            Some(_) => self.deviation_happened(),
            None => !matches!(
                self.outcome,
                Outcome::Fail | Outcome::Error | Outcome::NotRun
            ),
        }
    }

    /// Whether the recorded deviation is what happened: its outcome, and the step, condition
    /// and side it records. A case that ends in another way than recorded is unexpected, so a
    /// new fault cannot hide behind an old record.
    pub fn deviation_happened(&self) -> bool {
        self.expected_deviation
            .as_ref()
            .is_some_and(|deviation| deviation.matches(self))
    }

    /// The matrix label: the outcome's, except `XFAIL` for a recorded deviation that happened
    /// and `XPASS` for a recorded deviation that no longer happens.
    pub fn label(&self) -> &'static str {
        match (&self.expected_deviation, self.outcome) {
            (Some(_), Outcome::Pass) => "XPASS",
            _ if self.deviation_happened() => match self.outcome {
                Outcome::Warn => "XWARN",
                _ => "XFAIL",
            },
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
    /// Every case finished, or was recorded as `not-run` after an interruption.
    RunFinished {
        /// Wall time of the whole run.
        duration: Duration,
        /// Why the run stopped before every case could finish, if it did.
        interrupted: Option<Interruption>,
    },
}

/// Why a run stopped starting cases and ended the running ones (recorded as `not-run`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interruption {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (a CI job killed at its time limit, `kill`).
    Terminate,
    /// `run --deadline` was reached.
    Deadline(Duration),
}

impl Interruption {
    /// Why the cases did not run, as reports say it: `interrupted by SIGTERM`, `run deadline
    /// reached (90s)`.
    pub fn reason(&self) -> String {
        match self {
            Interruption::Interrupt => "interrupted by SIGINT".to_owned(),
            Interruption::Terminate => "interrupted by SIGTERM".to_owned(),
            Interruption::Deadline(deadline) => {
                format!("run deadline reached ({}s)", deadline.as_secs_f64())
            }
        }
    }
}

impl fmt::Display for Interruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

/// Sets off an [`Interruption`] of a run started with [`run_until`]: the first call wins.
#[derive(Clone, Debug)]
pub struct Stopper(Arc<watch::Sender<Option<Interruption>>>);

impl Stopper {
    /// A stopper that has not fired.
    pub fn new() -> Stopper {
        Stopper(Arc::new(watch::Sender::new(None)))
    }

    /// Stops the run for `why`, unless it was already stopped; returns whether this call
    /// stopped it.
    pub fn stop(&self, why: Interruption) -> bool {
        self.0.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(why);
            true
        })
    }

    /// Why the run was stopped, if it was.
    pub fn interruption(&self) -> Option<Interruption> {
        self.0.borrow().clone()
    }

    /// Resolves once the run is stopped, with why.
    pub async fn stopped(&self) -> Interruption {
        let mut receiver = self.0.subscribe();
        if let Ok(value) = receiver.wait_for(Option::is_some).await
            && let Some(why) = value.clone()
        {
            return why;
        }
        // The sender lives in `self`, so the channel cannot close while this waits.
        std::future::pending().await
    }
}

impl Default for Stopper {
    fn default() -> Stopper {
        Stopper::new()
    }
}

/// Aborts a spawned task when dropped, so that a cancelled case ends its session (and kills a
/// command client with it) at once.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
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
/// cases that match one of `filters` (an id substring or a tag) when any are given, plus the
/// positive controls of the negative cases kept. Self-tests (cases that judge only the harness's
/// own verifier) go to the built-in targets only; scenarios loaded only for their controls
/// contribute just the controls that are needed.
pub fn plan(scenarios: &[Scenario], targets: &[Target], filters: &[String]) -> Plan {
    let targets: Vec<Arc<Target>> = targets.iter().cloned().map(Arc::new).collect();
    let selected =
        |scenario: &Scenario, case: &CaseSpec| !scenario.control_only && selected_by(case, filters);
    let needed_controls: HashSet<&str> = scenarios
        .iter()
        .flat_map(|scenario| {
            scenario
                .cases
                .iter()
                .filter(move |case| selected(scenario, case))
        })
        .filter_map(|case| case.control.as_deref())
        .collect();
    let mut cases = Vec::new();
    for scenario in scenarios {
        for case in &scenario.cases {
            if !selected(scenario, case) && !needed_controls.contains(case.id.as_str()) {
                continue;
            }
            let case = Arc::new(case.clone());
            for target in &targets {
                if target.harness_role() == case.role && (!case.self_test || target.is_builtin()) {
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

    /// Keeps only the cases `wanted` accepts, and the positive controls they name.
    pub fn keeping(mut self, wanted: impl Fn(&CaseSpec) -> bool) -> Plan {
        let controls: HashSet<(String, String)> = self
            .cases
            .iter()
            .filter(|planned| wanted(&planned.case))
            .filter_map(|planned| {
                let control = planned.case.control.clone()?;
                Some((control, planned.target.name.clone()))
            })
            .collect();
        self.cases.retain(|planned| {
            wanted(&planned.case)
                || controls.contains(&(planned.case.id.clone(), planned.target.name.clone()))
        });
        self
    }

    /// Keeps only the cases of one shard. A negative case and its positive control belong
    /// together, so the unit is the group of a case (named by its control's id, or its own id
    /// when it has no control) and a target: the groups sorted by that id, then target name,
    /// the `i`-th (0-based) belonging to shard `i mod N + 1` (see [`partition`]).
    pub fn partitioned(mut self, partition: Partition) -> Plan {
        // A control may have a control of its own: the group is named by the end of the chain.
        let control_of: HashMap<String, String> = self
            .cases
            .iter()
            .filter_map(|p| Some((p.case.id.clone(), p.case.control.clone()?)))
            .collect();
        let root = |id: &str| {
            let mut current = id.to_owned();
            for _ in 0..control_of.len() {
                match control_of.get(&current) {
                    Some(control) if *control != current => current = control.clone(),
                    _ => break,
                }
            }
            current
        };
        let group = |planned: &PlannedCase| (root(&planned.case.id), planned.target.name.clone());
        let groups: std::collections::BTreeSet<(String, String)> =
            self.cases.iter().map(group).collect();
        let shard_of: HashMap<(String, String), usize> = groups
            .into_iter()
            .enumerate()
            .map(|(position, key)| (key, position))
            .collect();
        self.cases.retain(|planned| {
            shard_of
                .get(&group(planned))
                .is_some_and(|&p| partition.contains(p))
        });
        self
    }
}

/// Whether `--filter` keeps `case`: no filters are given, or one of them is a substring of
/// its id or one of its tags (what `run` and `list` select by).
pub fn selected_by(case: &CaseSpec, filters: &[String]) -> bool {
    filters.is_empty()
        || filters
            .iter()
            .any(|f| case.id.contains(f.as_str()) || case.tags.iter().any(|t| t == f))
}

/// A case's deadline when none is given: this many network-step deadlines.
pub const CASE_TIMEOUT_STEPS: u32 = 6;

/// The deadline of a whole case when none is given: [`CASE_TIMEOUT_STEPS`] × `timeout`.
pub fn default_case_timeout(timeout: Duration) -> Duration {
    timeout.saturating_mul(CASE_TIMEOUT_STEPS)
}

/// How cases run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Cases running at the same time.
    pub jobs: usize,
    /// Deadline of every network step, counted from its start.
    pub timeout: Duration,
    /// Deadline of a whole case, counted from when it starts running; a case past it ends as
    /// `timeout` at the step it had reached.
    pub case_timeout: Duration,
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

    /// What a target's adapter may use while it sets up one case with `transcript`.
    pub fn case_context<'a>(&'a self, transcript: &'a Transcript) -> CaseContext<'a> {
        CaseContext {
            catalogue: &self.catalogue,
            accounts: &self.accounts,
            password: &self.password,
            timeout: self.timeout,
            instances: &self.instances,
            transcript,
        }
    }
}

/// How many federating cases (s2s against managed servers) run at once, in a lane of their
/// own beside the `--jobs` permits of the other cases: one federates while the next one's
/// fresh server starts (they hold the run's and their domain's federation turns). Two keeps
/// the lane busy; more would only wait for the run's turn.
const FEDERATING_LANE: usize = 2;

/// Where a case comes in the run: s2s cases first (`false`), by their rank within their
/// target and then the target's position; the others after them, in their sorted order.
type RunOrder = (bool, usize, Option<usize>);

/// The permits cases take before they run: federating cases from their own lane.
struct Permits {
    cases: Arc<Semaphore>,
    federating: Arc<Semaphore>,
}

/// Runs every planned case, at most `options.jobs` at a time (and at most
/// `min(options.jobs, 2)` federating cases beside them), sending events to `events`.
/// Returns when every case finished; events arrive in completion order.
pub async fn run(
    plan: Plan,
    options: RunOptions,
    environment: Arc<RunEnvironment>,
    events: mpsc::UnboundedSender<Event>,
) {
    run_until(plan, options, environment, events, Stopper::new()).await;
}

/// Like [`run`], until `stop` fires: then no case starts any more, the running ones are
/// cancelled (their sessions dropped, a command client killed), and every case that had not
/// finished is reported as [`Outcome::NotRun`] with the reason. [`Event::RunFinished`] says
/// whether, and why, the run was interrupted.
pub async fn run_until(
    plan: Plan,
    options: RunOptions,
    environment: Arc<RunEnvironment>,
    events: mpsc::UnboundedSender<Event>,
    stop: Stopper,
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
    let permits = Permits {
        cases: Arc::new(Semaphore::new(options.jobs.max(1))),
        federating: Arc::new(Semaphore::new(options.jobs.clamp(1, FEDERATING_LANE))),
    };
    let mut tasks = Vec::with_capacity(plan.cases.len());
    let mut cases = plan.cases;
    // Cases that share a managed server run one after another, so that few servers are up
    // at the same time and each stops as soon as its cases are done; see below for the
    // server-to-server cases.
    // A negative case waits for its positive control against the same target: each control
    // publishes its result once, and runs before the negatives that share its server.
    let mut controls: HashMap<(String, String), Arc<watch::Sender<Option<Control>>>> =
        HashMap::new();
    for planned in &cases {
        if let Some(control) = &planned.case.control {
            controls
                .entry((control.clone(), planned.target.name.clone()))
                .or_insert_with(|| Arc::new(watch::Sender::new(None)));
        }
    }
    let position = |planned: &PlannedCase| {
        plan.targets
            .iter()
            .position(|t| Arc::ptr_eq(t, &planned.target))
    };
    let is_control = |planned: &PlannedCase| {
        controls.contains_key(&(planned.case.id.clone(), planned.target.name.clone()))
    };
    cases.sort_by_key(|planned| {
        (
            position(planned),
            execute::instance_key(planned),
            !is_control(planned),
        )
    });
    // Server-to-server cases federate one at a time, each with a fresh server, and a server
    // starts for the next case while the current one federates only when the two are
    // different targets: so they go first, taking the targets in turn (each target's controls
    // first), in their own lane of permits while the other cases use the rest.
    let mut rank_in_target: HashMap<Option<usize>, usize> = HashMap::new();
    let mut keyed: Vec<(RunOrder, PlannedCase)> = cases
        .into_iter()
        .enumerate()
        .map(|(order, planned)| {
            let key = if planned.case.s2s.is_some() {
                let rank = rank_in_target.entry(position(&planned)).or_default();
                *rank += 1;
                (false, *rank, position(&planned))
            } else {
                (true, order, None)
            };
            (key, planned)
        })
        .collect();
    keyed.sort_by_key(|(key, _)| *key);
    let cases: Vec<PlannedCase> = keyed.into_iter().map(|(_, planned)| planned).collect();
    let planned_ids: HashSet<(String, String)> = cases
        .iter()
        .map(|p| (p.case.id.clone(), p.target.name.clone()))
        .collect();
    for planned in &cases {
        if let Some(key) = execute::instance_key(planned) {
            environment.instances.reserve(key);
        }
    }
    for planned in cases {
        let options = options.clone();
        let permits = if execute::federates(&planned) {
            Arc::clone(&permits.federating)
        } else {
            Arc::clone(&permits.cases)
        };
        let environment = Arc::clone(&environment);
        let events = events.clone();
        let publishes = controls
            .get(&(planned.case.id.clone(), planned.target.name.clone()))
            .cloned();
        let awaits = planned.case.control.as_ref().map(|id| {
            let key = (id.clone(), planned.target.name.clone());
            match controls.get(&key) {
                Some(sender) if planned_ids.contains(&key) => Ok(sender.subscribe()),
                _ => Err(id.clone()),
            }
        });
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let began: Arc<std::sync::OnceLock<Instant>> = Arc::default();
            let case = run_case(
                planned.clone(),
                environment,
                options.case_timeout,
                ControlLinks { awaits, publishes },
                permits,
                events.clone(),
                Arc::clone(&began),
            );
            // `biased`: once the run is stopped, a case that is still waiting (for its control
            // or a permit) never starts, and a running one is cancelled: dropping `case` drops
            // its `AbortOnDrop`, which aborts the session task.
            let result = tokio::select! {
                biased;
                why = stop.stopped() => not_run(&planned, &why, began.get().copied()),
                result = case => match result {
                    Some(result) => result,
                    None => return,
                },
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
        interrupted: stop.interruption(),
    });
}

/// The `not-run` result of a case an interruption ended: it had not started, or it was
/// running since `began` and was cancelled.
fn not_run(planned: &PlannedCase, why: &Interruption, began: Option<Instant>) -> CaseResult {
    let (observed, duration) = match began {
        Some(began) => (
            format!(
                "not run: {why} while the case was running (cancelled after {:.1} s; nothing is known about the target)",
                began.elapsed().as_secs_f64()
            ),
            began.elapsed(),
        ),
        None => (
            format!("not run: {why} before the case started"),
            Duration::ZERO,
        ),
    };
    CaseResult {
        case: Arc::clone(&planned.case),
        target: planned.target.name.clone(),
        outcome: Outcome::NotRun,
        step: None,
        expected: planned.case.expect.to_string(),
        observed,
        duration,
        transcript: Vec::new(),
        expected_deviation: planned.expected_deviation.clone(),
        missing_feature: None,
        control: None,
        observation: None,
    }
}

/// How a case is tied to positive controls: the one it waits for (or the id of one that is not
/// part of the run), and the negative cases it is the control of.
struct ControlLinks {
    awaits: Option<Result<watch::Receiver<Option<Control>>, String>>,
    publishes: Option<Arc<watch::Sender<Option<Control>>>>,
}

/// One case: waits for its positive control, then for a permit, then runs within
/// `case_timeout`; publishes its result to the negative cases waiting on it. `None` when the
/// run is shutting down.
async fn run_case(
    planned: PlannedCase,
    environment: Arc<RunEnvironment>,
    case_timeout: Duration,
    links: ControlLinks,
    permits: Arc<Semaphore>,
    events: mpsc::UnboundedSender<Event>,
    began: Arc<std::sync::OnceLock<Instant>>,
) -> Option<CaseResult> {
    // Waiting happens before taking a permit, so waiting cases never starve controls.
    let ControlLinks { awaits, publishes } = links;
    let control = match awaits {
        None => None,
        Some(Ok(mut receiver)) => receiver
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|control| control.clone()),
        Some(Err(id)) => Some(Control {
            id,
            outcome: Outcome::Skip,
            observed: "not part of this run".to_owned(),
        }),
    };
    // The federation addresses are claimed before the case's clock starts: time spent
    // waiting for another run is not the target's.
    let waited = if execute::federates(&planned) {
        match environment.federation.claim().await {
            Ok(waited) => waited,
            Err(why) => {
                let result =
                    execute::harness_failure(&planned, why.to_string(), Duration::ZERO, Vec::new());
                publish(publishes, &result);
                return Some(result);
            }
        }
    } else {
        None
    };
    let Ok(_permit) = permits.acquire().await else {
        return None;
    };
    let _ = events.send(Event::CaseStarted {
        case: planned.case.id.clone(),
        target: planned.target.name.clone(),
    });
    let case_started = Instant::now();
    let _ = began.set(case_started);
    let transcript = crate::drive::Transcript::new("harness");
    if let Some(waited) = waited {
        transcript.record(
            crate::proto::Direction::Note,
            format!(
                "{}: waited {:.1} s before this case started",
                crate::targets::managed::WAITING,
                waited.as_secs_f64()
            ),
        );
    }
    let mut inner = AbortOnDrop(tokio::spawn({
        let planned = planned.clone();
        let environment = Arc::clone(&environment);
        let transcript = transcript.clone();
        let control = control.clone();
        async move { execute::execute(&planned, &environment, control, transcript).await }
    }));
    let result = match tokio::time::timeout(case_timeout, &mut inner.0).await {
        Ok(Ok(result)) => result,
        Err(_) => {
            // Aborting drops what the case holds: command clients are killed with their
            // process group, built-in targets stop. Managed instances are shared and released
            // by name.
            inner.0.abort();
            let _ = (&mut inner.0).await;
            if let Some(key) = execute::instance_key(&planned) {
                environment.instances.release(&key);
            }
            execute::case_timed_out(
                &planned,
                case_timeout,
                control,
                case_started.elapsed(),
                &transcript,
            )
        }
        Ok(Err(e)) => execute::harness_failure(
            &planned,
            format!("the harness itself failed while running this case: {e}"),
            case_started.elapsed(),
            Vec::new(),
        ),
    };
    publish(publishes, &result);
    Some(result)
}

/// Hands a control's result to the negative cases waiting for it.
fn publish(publishes: Option<Arc<watch::Sender<Option<Control>>>>, result: &CaseResult) {
    if let Some(sender) = publishes {
        sender.send_replace(Some(Control {
            id: result.case.id.clone(),
            outcome: result.outcome,
            observed: result.observed.clone(),
        }));
    }
}

/// Counts of outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Cases that passed.
    pub pass: usize,
    /// Cases where a MUST or MUST NOT was broken.
    pub fail: usize,
    /// Cases where a SHOULD or SHOULD NOT was not followed.
    pub warn: usize,
    /// Cases that need an optional feature the target lacks.
    pub unsupported: usize,
    /// Negative cases whose positive control did not pass.
    pub inconclusive: usize,
    /// Cases that report what a MAY leaves open.
    pub info: usize,
    /// Cases skipped.
    pub skip: usize,
    /// Cases the harness could not run.
    pub error: usize,
    /// Cases an interruption (a signal or `--deadline`) left unfinished.
    pub not_run: usize,
    /// Cases that ended as a recorded deviation predicts (counted here, not in `fail` or
    /// `warn`).
    pub xfail: usize,
    /// Cases that passed although a deviation is recorded (counted here, not in `pass`).
    pub xpass: usize,
    /// Cases with a recorded deviation that ended neither as recorded nor with a pass (skip,
    /// unsupported, inconclusive, info, or another failure): unexpected, like an `xpass`.
    /// Counted here as well as under their outcome.
    pub unmatched: usize,
}

impl Tally {
    /// Counts one outcome.
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Pass => self.pass += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Warn => self.warn += 1,
            Outcome::Unsupported => self.unsupported += 1,
            Outcome::Inconclusive => self.inconclusive += 1,
            Outcome::Info => self.info += 1,
            Outcome::Skip => self.skip += 1,
            Outcome::Error => self.error += 1,
            Outcome::NotRun => self.not_run += 1,
        }
    }

    /// Counts one result, telling expected deviations and unexpected passes apart.
    pub fn add_result(&mut self, result: &CaseResult) {
        match (&result.expected_deviation, result.outcome) {
            // Nothing is known about a case that did not run, deviation recorded or not.
            (_, Outcome::NotRun) => self.not_run += 1,
            (Some(_), Outcome::Pass) => self.xpass += 1,
            _ if result.deviation_happened() => self.xfail += 1,
            (Some(_), outcome) => {
                self.unmatched += 1;
                self.add(outcome);
            }
            (None, outcome) => self.add(outcome),
        }
    }

    /// All cases counted.
    pub fn total(&self) -> usize {
        self.pass
            + self.fail
            + self.warn
            + self.unsupported
            + self.inconclusive
            + self.info
            + self.skip
            + self.error
            + self.not_run
            + self.xfail
            + self.xpass
    }

    /// Whether any case ended other than the clause or a recorded deviation allows: a `fail`,
    /// an `xpass`, a recorded deviation that ended otherwise, or (with `strict`) a `warn`.
    pub fn has_unexpected(&self, strict: bool) -> bool {
        self.fail > 0 || self.xpass > 0 || self.unmatched > 0 || (strict && self.warn > 0)
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} pass, {} fail, {} warn, {} unsupported, {} inconclusive, {} info",
            self.pass, self.fail, self.warn, self.unsupported, self.inconclusive, self.info
        )?;
        if self.xfail > 0 || self.xpass > 0 || self.unmatched > 0 {
            write!(
                f,
                ", {} expected deviation (xfail), {} unexpected pass (xpass)",
                self.xfail, self.xpass
            )?;
            if self.unmatched > 0 {
                write!(f, ", {} recorded deviation ended otherwise", self.unmatched)?;
            }
        }
        write!(f, ", {} skip, {} error", self.skip, self.error)?;
        if self.not_run > 0 {
            write!(f, ", {} not run", self.not_run)?;
        }
        Ok(())
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
            missing_feature: None,
            control: None,
            observation: Some(crate::scenario::Observation::Rejected {
                step: Step::Tls,
                condition: "closed".to_owned(),
                by: crate::scenario::Party::Target,
                detail: "the client closed the connection".to_owned(),
            }),
            expected_deviation: deviation.then(|| {
                Arc::new(Deviation {
                    outcome: DeviationOutcome::Fail,
                    clause: "RFC 6120 §6.4".to_owned(),
                    reason: "known".to_owned(),
                    link: None,
                    observed: None,
                })
            }),
        }
    }

    #[test]
    fn the_first_interruption_wins_and_a_not_run_case_is_counted_as_not_run_never_as_accepted() {
        let stopper = Stopper::new();
        assert_eq!(stopper.interruption(), None);
        assert!(stopper.stop(Interruption::Terminate));
        assert!(!stopper.stop(Interruption::Deadline(Duration::from_secs(2))));
        assert_eq!(stopper.interruption(), Some(Interruption::Terminate));
        assert_eq!(Interruption::Terminate.reason(), "interrupted by SIGTERM");
        assert_eq!(
            Interruption::Deadline(Duration::from_secs(90)).reason(),
            "run deadline reached (90s)"
        );
        for deviation in [false, true] {
            let not_run = result(Outcome::NotRun, deviation);
            assert!(!not_run.as_expected());
            assert_eq!(not_run.label(), "NOT RUN");
            let mut tally = Tally::default();
            tally.add_result(&not_run);
            assert_eq!((tally.not_run, tally.unmatched, tally.total()), (1, 0, 1));
        }
        assert_eq!(Outcome::NotRun.name(), "not-run");
        assert_eq!(
            serde_json::to_string(&Outcome::NotRun).unwrap(),
            "\"not-run\""
        );
    }

    #[tokio::test]
    async fn a_stopped_run_reports_every_case_as_not_run_and_says_why() {
        let scenarios =
            crate::scenario::load_path(std::path::Path::new("scenarios/c2s/wrong-password.yaml"))
                .unwrap();
        let plan = plan(&scenarios, &Target::builtin(), &[]);
        let planned = plan.cases.len();
        assert!(planned > 0);
        let stopper = Stopper::new();
        stopper.stop(Interruption::Deadline(Duration::from_secs(1)));
        let (sender, mut receiver) = mpsc::unbounded_channel();
        run_until(
            plan,
            RunOptions {
                jobs: 1,
                timeout: Duration::from_secs(5),
                case_timeout: default_case_timeout(Duration::from_secs(5)),
            },
            Arc::new(RunEnvironment::new(Duration::from_secs(5))),
            sender,
            stopper,
        )
        .await;
        let mut not_run = 0;
        let mut interrupted = None;
        while let Some(event) = receiver.recv().await {
            match event {
                Event::CaseFinished(result) => {
                    assert_eq!(result.outcome, Outcome::NotRun);
                    assert!(
                        result
                            .observed
                            .contains("run deadline reached (1s) before the case started"),
                        "{}",
                        result.observed
                    );
                    not_run += 1;
                }
                Event::RunFinished {
                    interrupted: why, ..
                } => interrupted = why,
                Event::CaseStarted { .. } => panic!("a case started after the stop"),
                Event::RunStarted { .. } => {}
            }
        }
        assert_eq!(not_run, planned);
        assert_eq!(
            interrupted,
            Some(Interruption::Deadline(Duration::from_secs(1)))
        );
    }

    #[test]
    fn a_recorded_failure_that_happens_is_an_expected_xfail() {
        let failed = result(Outcome::Fail, true);
        assert!(failed.as_expected());
        assert_eq!(failed.label(), "XFAIL");
        let mut tally = Tally::default();
        tally.add_result(&failed);
        assert_eq!((tally.xfail, tally.fail), (1, 0));
        assert!(!tally.has_unexpected(false));
    }

    #[test]
    fn a_recorded_failure_that_no_longer_happens_is_an_unexpected_xpass() {
        let passed = result(Outcome::Pass, true);
        assert!(!passed.as_expected());
        assert_eq!(passed.label(), "XPASS");
        let mut tally = Tally::default();
        tally.add_result(&passed);
        assert_eq!((tally.xpass, tally.pass), (1, 0));
        assert!(tally.has_unexpected(false));
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
                clause: "RFC 6120 §6.4".to_owned(),
                reason: "known".to_owned(),
                link: None,
                observed: Some(serde_saphyr::from_str(observed).unwrap()),
            }))
        };
        failed.expected_deviation =
            record("rejected: { step: tls, condition: closed, by: target }");
        assert!(failed.as_expected());
        assert_eq!(failed.label(), "XFAIL");
        failed.expected_deviation = record("rejected: { step: features, by: target }");
        assert!(!failed.as_expected());
        assert_eq!(failed.label(), "FAIL");
        let mut tally = Tally::default();
        tally.add_result(&failed);
        assert_eq!((tally.xfail, tally.fail), (0, 1));
        assert!(tally.has_unexpected(false));
    }

    #[test]
    fn a_recorded_deviation_that_ends_as_skip_or_unsupported_fails_the_run() {
        for outcome in [Outcome::Skip, Outcome::Unsupported, Outcome::Inconclusive] {
            let ended_otherwise = result(outcome, true);
            assert!(!ended_otherwise.as_expected(), "{outcome}");
            let mut tally = Tally::default();
            tally.add_result(&ended_otherwise);
            assert_eq!(tally.unmatched, 1, "{outcome}");
            assert!(tally.has_unexpected(false), "{outcome}");
        }
    }

    #[test]
    fn a_warn_fails_the_run_only_when_strict() {
        let warned = result(Outcome::Warn, false);
        assert!(warned.as_expected());
        let mut tally = Tally::default();
        tally.add_result(&warned);
        assert!(!tally.has_unexpected(false));
        assert!(tally.has_unexpected(true));
    }

    #[test]
    fn without_a_record_a_failure_is_unexpected() {
        let failed = result(Outcome::Fail, false);
        assert!(!failed.as_expected());
        assert_eq!(failed.label(), "FAIL");
    }
}
