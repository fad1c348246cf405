//! The command-launched real clients of `targets/clients.yaml`, run through the runner as the
//! CLI runs them: go-sendxmpp 0.5, slixmpp 1.8, sendxmpp, libstrophe 0.12 and gloox from Debian
//! 12's packages; go-sendxmpp 0.14 and libstrophe 0.14 from bookworm-backports; @xmpp/client
//! and node-xmpp-client from npm; slixmpp 1.17 from PyPI; tokio-xmpp from crates.io. The harness plays the server,
//! the verdict comes from what its server side observed, and the transcript never holds the
//! client's password, neither in clear nor in its SASL PLAIN encoding.
//!
//! Without the clients installed these tests say so and pass, except under CI (`CI` set),
//! where `.ci/run` installs them (ci/install-targets.sh, which ends with
//! ci/install-clients.sh) and a missing client is a failure.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use tokio::sync::mpsc;
use xmpp_interop::runner::{self, CaseResult, Event, Outcome, RunEnvironment, RunOptions};
use xmpp_interop::scenario;
use xmpp_interop::targets::file::load_targets;

/// go-sendxmpp 0.14.1 inside the Debian root made by ci/install-backports-root.sh.
const BACKPORTS_GO_SENDXMPP: &str = "/var/lib/xmpp-interop/bookworm-backports/usr/bin/go-sendxmpp";

/// Whether every client of `targets/clients.yaml` is installed. When one is not, says which
/// test does not run and which client is missing; under CI (`CI` set), where `.ci/run`
/// installs them, that is a failure.
fn clients_installed(test: &str) -> bool {
    let clients = [
        (
            "go-sendxmpp-0.5",
            Path::new("/usr/bin/go-sendxmpp").is_file(),
        ),
        (
            "go-sendxmpp-0.14 (the bookworm-backports root)",
            Path::new(BACKPORTS_GO_SENDXMPP).is_file(),
        ),
        (
            "slixmpp-1.8 (python3-slixmpp)",
            Path::new("/usr/lib/python3/dist-packages/slixmpp").is_dir(),
        ),
        (
            "slixmpp-1.17 (target/clients/slixmpp-venv)",
            Path::new("target/clients/slixmpp-venv/bin/python").is_file(),
        ),
        ("sendxmpp", Path::new("/usr/bin/sendxmpp").is_file()),
        (
            "@xmpp/client (fixtures/clients/xmppjs/node_modules)",
            Path::new("fixtures/clients/xmppjs/node_modules/@xmpp/client").is_dir(),
        ),
        (
            "libstrophe-0.12 driver (target/clients/strophe_client)",
            Path::new("target/clients/strophe_client").is_file(),
        ),
        (
            "libstrophe-0.14 driver (target/clients/strophe_client-0.14)",
            Path::new("target/clients/strophe_client-0.14").is_file(),
        ),
        (
            "tokio-xmpp driver (target/clients/tokio_xmpp_client)",
            Path::new("target/clients/tokio_xmpp_client").is_file(),
        ),
        (
            "gloox driver (target/clients/gloox_client)",
            Path::new("target/clients/gloox_client").is_file(),
        ),
        (
            "node-xmpp-client (fixtures/clients/node-xmpp-client/node_modules)",
            Path::new("fixtures/clients/node-xmpp-client/node_modules/node-xmpp-client").is_dir(),
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
        "CI is set but {test} cannot run: {} not installed (run ci/install-targets.sh, which ends with ci/install-clients.sh)",
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

/// Asserts that every result passed, naming the case and what was observed otherwise.
fn assert_all_pass(results: &[Arc<CaseResult>]) {
    for result in results {
        assert_eq!(
            result.outcome,
            Outcome::Pass,
            "{}: {}",
            result.case.id,
            result.observed
        );
    }
}

/// The result of case `id` among `results`.
fn result_of<'a>(results: &'a [Arc<CaseResult>], id: &str) -> &'a CaseResult {
    results
        .iter()
        .find(|result| result.case.id == id)
        .unwrap_or_else(|| panic!("{id} did not run"))
}

/// Runs the named cases against one target of `targets/clients.yaml`; returns the results
/// and the run's account password.
async fn run_cases(target: &str, cases: &[&str]) -> (Vec<Arc<CaseResult>>, String) {
    run_cases_from("targets/clients.yaml", target, cases).await
}

/// Runs the named cases against one target of the targets file `file`.
async fn run_cases_from(
    file: &str,
    target: &str,
    cases: &[&str],
) -> (Vec<Arc<CaseResult>>, String) {
    let targets: Vec<_> = load_targets(Path::new(file))
        .unwrap()
        .into_iter()
        .filter(|t| t.name == target)
        .collect();
    assert_eq!(targets.len(), 1, "{target} is not in {file}");
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

/// Each generation's column is named after the version its version command reports: the
/// matrix must not show a column for a release that is not the one installed.
#[test]
fn each_client_generation_reports_the_release_it_runs() {
    if !clients_installed("each_client_generation_reports_the_release_it_runs") {
        return;
    }
    let targets = load_targets(Path::new("targets/clients.yaml")).unwrap();
    let implementation = |name: &str| {
        targets
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.implementation.clone())
            .unwrap_or_else(|| panic!("{name} is in no client targets file"))
    };
    for (target, starts) in [
        ("go-sendxmpp-0.14", "Go-sendxmpp 0.14."),
        ("slixmpp-1.8", "slixmpp 1.8."),
        ("slixmpp-1.17", "slixmpp 1.17."),
        ("libstrophe-0.12", "libstrophe 0.12."),
        ("libstrophe-0.14", "libstrophe 0.14."),
        ("tokio-xmpp", "tokio-xmpp 6."),
        ("gloox", "gloox 1.0."),
    ] {
        let found = implementation(target);
        assert!(found.starts_with(starts), "{target}: {found}");
    }
}

/// tokio-xmpp (crates.io) logs in over STARTTLS and over direct TLS (XEP-0368) with only the
/// case's CA file as trust anchor, and binds SCRAM-SHA-256-PLUS to the TLS 1.3 connection with
/// tls-exporter (RFC 9266).
#[tokio::test]
async fn tokio_xmpp_logs_in_over_starttls_and_direct_tls_and_binds_with_tls_exporter() {
    if !clients_installed(
        "tokio_xmpp_logs_in_over_starttls_and_direct_tls_and_binds_with_tls_exporter",
    ) {
        return;
    }
    let (results, password) = run_cases(
        "tokio-xmpp",
        &[
            "client-authenticate/starttls/startcom-chain/plain",
            "client-authenticate/direct-tls/startcom-chain/plain",
            "client-scram-plus/starttls/scram-sha-256-plus",
        ],
    )
    .await;
    assert_all_pass(&results);
    for result in &results {
        assert!(
            transcript_lines(result)
                .iter()
                .all(|l| !l.contains(&password))
        );
    }
}

/// RFC 6120 §13.7.2: tokio-xmpp refuses a self-signed certificate it was not told to trust in
/// the TLS handshake, before any credential. The driver trusts only the case's CA file (not
/// the system store), so this also shows that the trust anchor is the one the harness gives.
#[tokio::test]
async fn tokio_xmpp_refuses_a_self_signed_chain_in_the_tls_handshake() {
    if !clients_installed("tokio_xmpp_refuses_a_self_signed_chain_in_the_tls_handshake") {
        return;
    }
    let (results, _) = run_cases(
        "tokio-xmpp",
        &["client-untrusted-root/starttls/self-signed"],
    )
    .await;
    assert_all_pass(&results);
    assert!(
        results[0].observed.starts_with("rejected at tls by target"),
        "{}",
        results[0].observed
    );
}

/// slixmpp 1.17 from PyPI, through the same driver as Debian's 1.8: SCRAM-SHA-256 over STARTTLS
/// and over direct TLS, and SASL EXTERNAL with the client certificate it is handed (XEP-0178).
#[tokio::test]
async fn slixmpp_1_17_authenticates_with_scram_over_both_transports_and_with_sasl_external() {
    if !clients_installed(
        "slixmpp_1_17_authenticates_with_scram_over_both_transports_and_with_sasl_external",
    ) {
        return;
    }
    let (results, _) = run_cases(
        "slixmpp-1.17",
        &[
            "client-authenticate/starttls/startcom-chain/scram-sha-256",
            "client-authenticate/direct-tls/startcom-chain/scram-sha-256",
            "client-sasl-external/starttls",
        ],
    )
    .await;
    assert_all_pass(&results);
}

/// libstrophe 0.14 (bookworm-backports, linked statically into the driver) binds
/// SCRAM-SHA-256-PLUS to the connection, which 0.12 cannot over TLS 1.3, logs in over direct
/// TLS, and refuses a self-signed chain in the TLS handshake.
#[tokio::test]
async fn libstrophe_0_14_binds_scram_plus_and_refuses_a_self_signed_chain() {
    if !clients_installed("libstrophe_0_14_binds_scram_plus_and_refuses_a_self_signed_chain") {
        return;
    }
    let (results, _) = run_cases(
        "libstrophe-0.14",
        &[
            "client-scram-plus/starttls/scram-sha-256-plus",
            "client-authenticate/direct-tls/startcom-chain/scram-sha-256",
            "client-untrusted-root/starttls/self-signed",
        ],
    )
    .await;
    assert_all_pass(&results);
    let refusal = result_of(&results, "client-untrusted-root/starttls/self-signed");
    assert!(
        refusal.observed.starts_with("rejected at tls by target"),
        "{}",
        refusal.observed
    );
}

/// XEP-0474: go-sendxmpp 0.14 checks the downgrade-protection hash. With the real list it logs
/// in with SCRAM-SHA-256; with the -PLUS mechanisms stripped from the features it fails the
/// authentication instead of answering (it closes the connection; its output says
/// "downgrade protection hash mismatch").
#[tokio::test]
async fn go_sendxmpp_0_14_fails_the_authentication_when_the_xep_0474_hash_shows_stripped_plus() {
    if !clients_installed(
        "go_sendxmpp_0_14_fails_the_authentication_when_the_xep_0474_hash_shows_stripped_plus",
    ) {
        return;
    }
    let (results, _) = run_cases(
        "go-sendxmpp-0.14",
        &[
            "client-xep0474-downgrade-protection/scram-sha-256",
            "client-xep0474-stripped-plus/scram-sha-256",
        ],
    )
    .await;
    assert_all_pass(&results);
    let stripped = result_of(&results, "client-xep0474-stripped-plus/scram-sha-256");
    assert!(
        stripped.observed.starts_with("rejected at sasl by target"),
        "{}",
        stripped.observed
    );
    assert!(
        transcript_lines(stripped)
            .iter()
            .any(|l| l.contains("downgrade protection hash mismatch")),
        "the client's own reason is not in the transcript"
    );
}

/// gloox (Debian 12's libgloox-dev) logs in with SCRAM-SHA-1 over STARTTLS and over direct TLS
/// once its driver loads the CA file itself (gloox 1.0.24 ignores setCACerts), and with SASL
/// EXTERNAL when it has a certificate and no password. Offered only SCRAM-SHA-256, which it
/// lacks, it turns to XEP-0078's jabber:iq:auth: `unsupported`, not a failure. It refuses a
/// self-signed chain after the handshake, before its stream header: a refusal at tls (RFC 6120
/// §13.7.2) whose reason is gloox's own certificate check (`CertSignerUnknown`).
#[tokio::test]
async fn gloox_logs_in_refuses_an_untrusted_chain_after_the_handshake_and_lacks_scram_sha_256() {
    if !clients_installed(
        "gloox_logs_in_refuses_an_untrusted_chain_after_the_handshake_and_lacks_scram_sha_256",
    ) {
        return;
    }
    let (results, password) = run_cases_from(
        "targets/clients.yaml",
        "gloox",
        &[
            "client-authenticate/starttls/startcom-chain/scram-sha-1",
            "client-authenticate/direct-tls/startcom-chain/scram-sha-1",
            "client-sasl-external/starttls",
            "client-authenticate/starttls/startcom-chain/scram-sha-256",
            "client-untrusted-root/starttls/self-signed",
        ],
    )
    .await;
    for id in [
        "client-authenticate/starttls/startcom-chain/scram-sha-1",
        "client-authenticate/direct-tls/startcom-chain/scram-sha-1",
        "client-sasl-external/starttls",
    ] {
        let result = result_of(&results, id);
        assert_eq!(result.outcome, Outcome::Pass, "{id}: {}", result.observed);
    }
    let legacy = result_of(
        &results,
        "client-authenticate/starttls/startcom-chain/scram-sha-256",
    );
    assert_eq!(legacy.outcome, Outcome::Unsupported, "{}", legacy.observed);
    assert!(
        legacy.observed.contains("(legacy-authentication)"),
        "{}",
        legacy.observed
    );
    let refusal = result_of(&results, "client-untrusted-root/starttls/self-signed");
    assert!(
        refusal
            .observed
            .starts_with("rejected at tls by target (closed): the client closed the connection right after the TLS handshake"),
        "{}",
        refusal.observed
    );
    let lines = transcript_lines(refusal);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("certificate refused") && l.contains("signer-unknown")),
        "gloox's own refusal is not in the transcript: {lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("<auth")),
        "gloox authenticated to an untrusted chain: {lines:#?}"
    );
    for result in &results {
        assert!(
            transcript_lines(result)
                .iter()
                .all(|l| !l.contains(&password))
        );
    }
}

/// node-xmpp-client 3.2.0 (npm, the library under simple-xmpp) as the driver configures it:
/// logs in with PLAIN over STARTTLS and over direct TLS (its `legacySSL`) and with SASL EXTERNAL
/// and the client certificate in its `credentials` (XEP-0178); refuses a self-signed chain with
/// only the case's CA trusted before any credential, but without a TLS alert (WARN, RFC 8446
/// §6.2), its own error in the transcript; and, having no way to require TLS, sends its PLAIN
/// password in the clear when `<starttls/>` is stripped (FAIL, RFC 6120 §13.8.3), which the
/// transcript still never shows.
#[tokio::test]
async fn node_xmpp_client_logs_in_over_both_transports_and_with_external_and_sends_plain_when_stripped()
 {
    if !clients_installed(
        "node_xmpp_client_logs_in_over_both_transports_and_with_external_and_sends_plain_when_stripped",
    ) {
        return;
    }
    let targets = load_targets(Path::new("targets/clients.yaml")).unwrap();
    let target = targets
        .iter()
        .find(|t| t.name == "node-xmpp-client")
        .expect("node-xmpp-client is in targets/clients.yaml");
    assert!(
        target.implementation.starts_with("node-xmpp-client 3.2.0"),
        "{}",
        target.implementation
    );
    let logins = [
        "client-authenticate/starttls/startcom-chain/plain",
        "client-authenticate/direct-tls/startcom-chain/plain",
        "client-sasl-external/starttls",
    ];
    let refused = "client-untrusted-root/starttls/self-signed";
    let stripped = "client-strip-starttls/plain";
    let mut cases = logins.to_vec();
    cases.extend([refused, stripped]);
    let (results, password) = run_cases("node-xmpp-client", &cases).await;
    for id in logins {
        let result = result_of(&results, id);
        assert_eq!(result.outcome, Outcome::Pass, "{id}: {}", result.observed);
    }

    let refusal = result_of(&results, refused);
    assert_eq!(refusal.outcome, Outcome::Warn, "{}", refusal.observed);
    assert!(
        refusal
            .observed
            .starts_with("rejected at tls by target (closed)"),
        "{}",
        refusal.observed
    );
    let lines = transcript_lines(refusal);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("DEPTH_ZERO_SELF_SIGNED_CERT")),
        "the library's own refusal is not in the transcript: {lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("<auth")),
        "node-xmpp-client authenticated to an untrusted chain: {lines:#?}"
    );

    let clear = result_of(&results, stripped);
    assert_eq!(clear.outcome, Outcome::Fail, "{}", clear.observed);
    assert!(
        clear
            .observed
            .starts_with("rejected at sasl by harness (credentials-sent-in-clear)"),
        "{}",
        clear.observed
    );
    let plain = base64::engine::general_purpose::STANDARD
        .encode(format!("alice@interop.test\0alice\0{password}"));
    for result in &results {
        for line in transcript_lines(result) {
            assert!(!line.contains(&password), "password in clear: {line}");
            assert!(!line.contains(&plain), "PLAIN message unredacted: {line}");
        }
    }
}
