//! The command-launched real clients of `targets/clients.yaml` (go-sendxmpp, slixmpp, sendxmpp
//! and libstrophe from Debian's packages, @xmpp/client from npm), run through the runner as the CLI runs them: the harness plays the
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
use xmpp_interop::targets::file::load_targets;

/// Whether every client of `targets/clients.yaml` is installed. When one is not, says which
/// test does not run and which client is missing; under CI (`CI` set), where `.ci/run`
/// installs them, that is a failure.
fn clients_installed(test: &str) -> bool {
    let clients = [
        ("go-sendxmpp", Path::new("/usr/bin/go-sendxmpp").is_file()),
        (
            "slixmpp (python3-slixmpp)",
            Path::new("/usr/lib/python3/dist-packages/slixmpp").is_dir(),
        ),
        ("sendxmpp", Path::new("/usr/bin/sendxmpp").is_file()),
        (
            "@xmpp/client (fixtures/clients/xmppjs/node_modules)",
            Path::new("fixtures/clients/xmppjs/node_modules/@xmpp/client").is_dir(),
        ),
        (
            "libstrophe driver (target/clients/strophe_client)",
            Path::new("target/clients/strophe_client").is_file(),
        ),
    ];
    let missing: Vec<&str> = clients
        .iter()
        .filter(|(_, installed)| !installed)
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {test} cannot run: {} not installed (run ci/install-targets.sh)",
        missing.join(", ")
    );
    eprintln!(
        "NOT RUN {test}: {} not installed (ci/install-targets.sh installs it)",
        missing.join(", ")
    );
    false
}

/// Every line of a case's transcript.
fn transcript_lines(result: &CaseResult) -> Vec<&str> {
    result.transcript.iter().map(|l| l.text.as_str()).collect()
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
        case_timeout: runner::default_case_timeout(Duration::from_secs(10)),
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
    // The plan adds the positive controls of negative cases; keep the cases asked for.
    results.retain(|result| cases.contains(&result.case.id.as_str()));
    assert_eq!(results.len(), cases.len());
    (results, password)
}

#[tokio::test]
async fn go_sendxmpp_logging_in_with_plain_leaves_no_password_in_the_transcript() {
    if !clients_installed("go_sendxmpp_logging_in_with_plain_leaves_no_password_in_the_transcript")
    {
        return;
    }
    let (results, password) = run_cases(
        "go-sendxmpp-0.5",
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
    if !clients_installed(
        "slixmpp_authenticates_with_scram_sha_256_over_starttls_to_a_trusted_chain",
    ) {
        return;
    }
    let (results, password) = run_cases(
        "slixmpp-1.8",
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

/// RFC 6120 §5.3.1, §13.8: sendxmpp run with `-t` carries on without TLS when `<starttls/>` is
/// not offered. The verdict names what it did, and its password (sent in the clear on the
/// wire) still never reaches the transcript.
#[tokio::test]
async fn sendxmpp_sending_plain_on_a_stripped_stream_is_named_for_it_and_redacted() {
    if !clients_installed(
        "sendxmpp_sending_plain_on_a_stripped_stream_is_named_for_it_and_redacted",
    ) {
        return;
    }
    let (results, password) = run_cases("sendxmpp", &["client-strip-starttls/plain"]).await;
    let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0alice\0{password}"));
    for result in &results {
        assert_eq!(result.outcome, Outcome::Fail, "{}", result.observed);
        assert!(
            result
                .observed
                .starts_with("rejected at sasl by harness (credentials-sent-in-clear)"),
            "{}",
            result.observed
        );
        for line in transcript_lines(result) {
            assert!(!line.contains(&password), "password in clear: {line}");
            assert!(!line.contains(&plain), "PLAIN message unredacted: {line}");
        }
    }
}

/// XEP-0178: libstrophe given `{cert_file}`/`{key_file}` presents the certificate. It sends the
/// leaf only, so the harness (which needs the intermediate) refuses it in the TLS handshake;
/// the transcript names the files, never the key.
#[tokio::test]
async fn libstrophe_is_handed_its_client_certificate_and_the_key_stays_out_of_the_transcript() {
    if !clients_installed(
        "libstrophe_is_handed_its_client_certificate_and_the_key_stays_out_of_the_transcript",
    ) {
        return;
    }
    let (results, _) = run_cases("libstrophe-0.12", &["client-sasl-external/starttls"]).await;
    for result in &results {
        let lines = transcript_lines(result);
        assert!(
            lines.iter().any(|l| l.contains("started:")
                && l.contains("client-cert.pem")
                && l.contains("client-key.pem")),
            "the client was not handed its certificate: {lines:#?}"
        );
        assert!(
            result
                .observed
                .starts_with("rejected at tls by harness (bad-certificate)"),
            "{}",
            result.observed
        );
        for line in &lines {
            assert!(
                !line.contains("PRIVATE KEY"),
                "key material in the transcript: {line}"
            );
        }
    }
}
