//! `probe DOMAIN --account JID --password-file FILE` against a managed Prosody found through a
//! loopback DNS server: the c2s scenarios run as an external target with the server's own
//! chain, their verdicts fold into the probe's output, and a wrong password stops at the
//! pre-flight with one message.

use std::path::Path;
use std::time::Duration;

use xmpp_interop::pki::{Catalogue, IssuedChain};
use xmpp_interop::scenario::{CertificateProfile, KeyType, Transport};
use xmpp_interop::targets::managed::{
    Installation, Instance, InstanceKey, ManagedSpec, ServerSoftware,
};

use super::probe::{assert_matches_probe_schema, run_probe};
use crate::support::Scratch;
use crate::support::dns::{LoopbackDns, Zone};
use crate::support::real::servers_installed;
use crate::support::turns;

const DOMAIN: &str = "account-prosody.test";
const PASSWORD: &str = "probe-account-secret";

/// Starts Prosody for [`DOMAIN`] with the test PKI's cacert-intermediate chain and the account
/// `alice` with [`PASSWORD`].
async fn start_prosody() -> (Instance, std::sync::Arc<IssuedChain>) {
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::CacertIntermediate,
            KeyType::EcdsaP256,
            DOMAIN,
        )
        .unwrap();
    let spec = ManagedSpec {
        software: ServerSoftware::named("prosody").unwrap(),
        domain: DOMAIN.to_owned(),
        startup_timeout: Duration::from_secs(30),
        installation: Installation::host(),
        version: None,
    };
    let key = InstanceKey {
        target: "probe-account".to_owned(),
        certificate: CertificateProfile::CacertIntermediate,
        key: KeyType::EcdsaP256,
        client_certificates: false,
    };
    let instance = Instance::start(&spec, &key, &chain, Some(("alice", PASSWORD)), None, None)
        .await
        .unwrap();
    (instance, chain)
}

/// A zone whose SRV records send c2s (STARTTLS and, when the server has it, direct TLS) to
/// `xmpp.DOMAIN` on 127.0.0.1.
fn zone(instance: &Instance) -> Zone {
    let host = format!("xmpp.{DOMAIN}");
    let mut zone = Zone::new()
        .srv(
            &format!("_xmpp-client._tcp.{DOMAIN}"),
            0,
            0,
            instance.starttls_address().port(),
            &host,
        )
        .a(&host, [127, 0, 0, 1]);
    if let Ok(direct) = instance.address(Transport::DirectTls) {
        zone = zone.srv(
            &format!("_xmpps-client._tcp.{DOMAIN}"),
            0,
            0,
            direct.port(),
            &host,
        );
    }
    zone
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// With the account, the c2s scenarios run against the endpoints found (RFC 6120 §6: the
/// login), their counts and cases land in probe.json and the terminal, the run's reports in
/// --out/scenarios; Prosody's login passes and no case is an `error`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_with_an_account_runs_the_c2s_scenarios_and_logins_pass_rfc6120_6() {
    if !servers_installed("probe_with_an_account_runs_the_c2s_scenarios_and_logins_pass_rfc6120_6")
    {
        return;
    }
    let _turn = turns::managed_servers_shared_async().await;
    let (instance, chain) = start_prosody().await;
    let dns = LoopbackDns::start(zone(&instance));
    let dir = Scratch::new("probe-account");
    let root = dir.join("root.pem");
    std::fs::write(&root, &chain.pem.root).unwrap();
    let password = dir.join("password");
    std::fs::write(&password, format!("{PASSWORD}\n")).unwrap();
    let out = dir.join("reports");
    let resolver = dns.address().to_string();
    let jid = format!("alice@{DOMAIN}");
    let (code, stdout, stderr) = run_probe(&[
        DOMAIN,
        "--c2s",
        "--resolver",
        &resolver,
        "--root",
        path(&root),
        "--account",
        &jid,
        "--password-file",
        path(&password),
        "--json",
        "--out",
        path(&out),
    ]);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("{e}\n{stderr}\n{stdout}");
    });
    assert_matches_probe_schema(&stdout);
    let scenarios = &json["scenarios"];
    let counts = scenarios["counts"].as_object().unwrap();
    assert!(counts.get("error").is_none(), "{scenarios:#}\n{stderr}");
    assert!(counts.get("pass").is_some(), "{scenarios:#}");
    let failed = counts.get("fail").is_some() || json["grade"] == "F";
    assert_eq!(code, Some(if failed { 1 } else { 0 }), "{stderr}\n{stdout}");
    let cases = scenarios["cases"].as_array().unwrap();
    let logins: Vec<&serde_json::Value> = cases
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("c2s-authenticate"))
        .collect();
    // Every mechanism Prosody offers logs in; the ones it lacks (SCRAM-SHA-512) are
    // `unsupported`, never a failure.
    assert!(
        logins.iter().any(|login| login["verdict"] == "pass"),
        "{scenarios:#}"
    );
    for login in logins {
        assert!(
            ["pass", "unsupported"].contains(&login["verdict"].as_str().unwrap()),
            "{login}"
        );
        assert!(
            login["clause"].as_str().unwrap().starts_with("RFC"),
            "{login}"
        );
    }
    assert!(
        cases
            .iter()
            .all(|c| !c["id"].as_str().unwrap().starts_with("s2s-")),
        "{scenarios:#}"
    );
    assert!(stderr.contains(&format!("as {jid} against c2s starttls xmpp.{DOMAIN}:")));
    assert!(out.join("scenarios/results.json").is_file());
    // Item 5 of issue 17: one connection per case at most, and on it one SASL exchange, except
    // the replay cases, which abort their first exchange before the client proof and replay it
    // in the second.
    let transcripts = out.join("scenarios/transcripts/probe");
    let mut read = 0;
    for entry in std::fs::read_dir(&transcripts).unwrap() {
        let file = entry.unwrap().path();
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(text.matches("** connecting to ").count() <= 1, "{name}");
        let exchanges = text.matches("harness -> <auth ").count()
            + text.matches("harness -> <authenticate ").count();
        let allowed = if name.contains("replayed") { 2 } else { 1 };
        assert!(exchanges <= allowed, "{name}: {exchanges} SASL exchanges");
        read += 1;
    }
    assert_eq!(read, cases.len(), "one transcript per case");
    let markdown = std::fs::read_to_string(out.join("probe.md")).unwrap();
    assert!(
        markdown.contains("## Scenarios with the account"),
        "{markdown}"
    );
    // The human summary, as the README shows it.
    let (code, stdout, _) = run_probe(&[
        DOMAIN,
        "--c2s",
        "--resolver",
        &resolver,
        "--root",
        path(&root),
        "--account",
        &jid,
        "--password-file",
        path(&password),
    ]);
    assert_eq!(code, Some(if failed { 1 } else { 0 }), "{stdout}");
    assert!(
        stdout.contains("scenarios with the account against "),
        "{stdout}"
    );
    println!("{stdout}");
}

/// A wrong password stops at the pre-flight login: exit 3, one message naming the account and
/// the login, no scenario run, nothing on stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_stops_at_the_preflight_login_with_exit_3() {
    if !servers_installed("a_wrong_password_stops_at_the_preflight_login_with_exit_3") {
        return;
    }
    let _turn = turns::managed_servers_shared_async().await;
    let (instance, chain) = start_prosody().await;
    let dns = LoopbackDns::start(zone(&instance));
    let dir = Scratch::new("probe-account-wrong");
    let root = dir.join("root.pem");
    std::fs::write(&root, &chain.pem.root).unwrap();
    let password = dir.join("password");
    std::fs::write(&password, "not-the-password\n").unwrap();
    let resolver = dns.address().to_string();
    let jid = format!("alice@{DOMAIN}");
    let (code, stdout, stderr) = run_probe(&[
        DOMAIN,
        "--c2s",
        "--resolver",
        &resolver,
        "--root",
        path(&root),
        "--account",
        &jid,
        "--password-file",
        path(&password),
    ]);
    assert_eq!(code, Some(3), "{stderr}\n{stdout}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains(&format!("pre-flight login as {jid} failed")),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "{stdout}");
    // The message, as the README shows it.
    println!("{stderr}");
}

/// The account must be of the domain probed, the password file must hold a password, and the
/// client side must be probed: usage errors (exit 2) before any DNS query.
#[test]
fn an_account_of_another_domain_or_an_empty_password_file_is_a_usage_error() {
    let dir = Scratch::new("probe-account-usage");
    let empty = dir.join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let password = dir.join("password");
    std::fs::write(&password, "secret\n").unwrap();
    let missing = dir.join("missing");
    // Nothing listens on the discard port: the arguments are refused before any query.
    let common = ["example.org", "--resolver", "127.0.0.1:9"];
    for (account, file, expected) in [
        ("alice@example.net", &password, "is not on example.org"),
        ("alice@example.org", &empty, "the first line is empty"),
        ("alice@example.org", &missing, "--password-file"),
        ("alice", &password, "bad account JID"),
    ] {
        let mut args = common.to_vec();
        args.extend(["--account", account, "--password-file", path(file)]);
        let (code, _, stderr) = run_probe(&args);
        assert_eq!(code, Some(2), "{account} {stderr}");
        assert!(stderr.contains(expected), "{account}: {stderr}");
    }
    let (code, _, stderr) = run_probe(&["example.org", "--account", "alice@example.org"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--password-file"), "{stderr}");
    // The scenarios are c2s: an account with only the server side probed makes no sense.
    let (code, _, stderr) = run_probe(&[
        "example.org",
        "--s2s",
        "--account",
        "alice@example.org",
        "--password-file",
        path(&password),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--s2s"), "{stderr}");
}
