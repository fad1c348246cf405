//! The command-launched real clients of `targets/clients.yaml` (go-sendxmpp and slixmpp from
//! Debian's packages), run through the runner as the CLI runs them: the harness plays the
//! server, the verdict comes from what its server side observed, and the transcript never
//! holds the client's password, neither in clear nor in its SASL PLAIN encoding.
//!
//! Without the clients installed these tests say so and pass, except under CI (`CI` set),
//! where `.ci/run` installs them and a missing client is a failure.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use tokio::sync::mpsc;
use xmpp_interop::runner::{self, CaseResult, Event, Outcome, RunEnvironment, RunOptions};
use xmpp_interop::scenario;
use xmpp_interop::target::file::load_targets;

/// Whether go-sendxmpp and Debian's slixmpp are installed; panics under CI when they are not.
fn clients_installed() -> bool {
    let installed = Path::new("/usr/bin/go-sendxmpp").is_file()
        && Path::new("/usr/lib/python3/dist-packages/slixmpp").is_dir();
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but go-sendxmpp or python3-slixmpp is not installed: run ci/install-targets.sh"
        );
        eprintln!(
            "go-sendxmpp or python3-slixmpp not installed (ci/install-targets.sh): not tested"
        );
    }
    installed
}

/// Runs the named cases against one target of `targets/clients.yaml`; returns the results
/// and the run's account password.
async fn run_cases(target: &str, cases: &[&str]) -> (Vec<Arc<CaseResult>>, String) {
    let targets: Vec<_> = load_targets(Path::new("targets/clients.yaml"))
        .unwrap()
        .into_iter()
        .filter(|t| t.name == target)
        .collect();
    assert_eq!(targets.len(), 1, "{target} is not in targets/clients.yaml");
    let scenarios = scenario::load_path(Path::new("scenarios/client")).unwrap();
    let filters: Vec<String> = cases.iter().map(|c| (*c).to_owned()).collect();
    let plan = runner::plan(&scenarios, &targets, &filters);
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let options = RunOptions {
        jobs: 2,
        timeout: Duration::from_secs(10),
    };
    let environment = Arc::new(RunEnvironment::new(Duration::from_secs(10)));
    let password = environment.password.clone();
    tokio::spawn(runner::run(plan, options, environment, sender));
    let mut results = Vec::new();
    while let Some(event) = receiver.recv().await {
        if let Event::CaseFinished(result) = event {
            results.push(result);
        }
    }
    assert_eq!(results.len(), cases.len());
    (results, password)
}

#[tokio::test]
async fn go_sendxmpp_logging_in_with_plain_leaves_no_password_in_the_transcript() {
    if !clients_installed() {
        return;
    }
    let (results, password) = run_cases(
        "go-sendxmpp",
        &["client-authenticate/direct-tls/startcom-chain/plain"],
    )
    .await;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0alice\0{password}"));
    for result in &results {
        assert_eq!(result.outcome, Outcome::Pass, "{}", result.observed);
        let lines: Vec<&str> = result.transcript.iter().map(|l| l.text.as_str()).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("<auth") && l.contains("PLAIN")),
            "the client's <auth/> is not in the transcript: {lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("started:") && l.contains("[redacted]")),
            "the command line is not shown redacted: {lines:#?}"
        );
        for line in &lines {
            assert!(!line.contains(&password), "password in clear: {line}");
            assert!(!line.contains(&plain), "PLAIN message unredacted: {line}");
        }
    }
}

#[tokio::test]
async fn slixmpp_authenticates_with_scram_sha_256_over_starttls_to_a_trusted_chain() {
    if !clients_installed() {
        return;
    }
    let (results, password) = run_cases(
        "slixmpp",
        &["client-authenticate/starttls/startcom-chain/scram-sha-256"],
    )
    .await;
    assert_eq!(results[0].outcome, Outcome::Pass, "{}", results[0].observed);
    assert!(
        results[0]
            .transcript
            .iter()
            .all(|l| !l.text.contains(&password))
    );
}
