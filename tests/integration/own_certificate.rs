//! An external server with a chain of its own (`certificate: own`): the built-in server side
//! started in the test presents an RSA-2048 chain the harness did not provision for it. A
//! scenario with `certificate: any` runs on that chain, a case that needs the harness's faulty
//! `expired` chain is `skip` with that reason, `root: system` finds the system root (here
//! `SSL_CERT_FILE`) that issued the chain, and a declared profile that does not match the
//! served chain is one configuration error (exit 3) before any case.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use xmpp_interop::drive::{self, Transcript};
use xmpp_interop::pki::Catalogue;
use xmpp_interop::proto::server::ServerMisbehaviour;
use xmpp_interop::scenario::{CertificateProfile, KeyType, Mechanism, TlsProfile};
use xmpp_interop::transport::TlsSetup;

use crate::support::common::{DOMAIN, server};
use crate::support::{Scratch, harness, output_text};

const SCENARIO: &str = "title: T\nspec: [RFC 6120 §6.4]\nrole: client\ntransport: starttls\nsasl:\n  mechanism: PLAIN\nrequirement:\n  level: MUST\n  clause: RFC 6120 §6.4\n  text: \"the text\"\n";

/// Serves STARTTLS c2s sessions for alice on a loopback port with an RSA-2048 chain, until the
/// test ends; returns the port and writes the chain's root to `root`.
async fn serve_own_chain(root: &Path) -> u16 {
    let chain = Catalogue::new()
        .chain(CertificateProfile::StartcomChain, KeyType::Rsa2048, DOMAIN)
        .unwrap();
    std::fs::write(root, &chain.pem.root).unwrap();
    let tls = Arc::new(TlsSetup::Server {
        chain: chain.presented.clone(),
        key: Arc::new(chain.key_der()),
        client_trust_anchor: None,
        profile: TlsProfile::default(),
        binding_only: None,
    });
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let config = server(vec![Mechanism::Plain], ServerMisbehaviour::default());
                let _ = drive::respond(
                    tcp,
                    config,
                    &tls,
                    false,
                    Duration::from_secs(5),
                    &Transcript::new("own-chain server"),
                )
                .await;
            });
        }
    });
    port
}

fn targets(dir: &Path, port: u16, root: &str, certificate: &str) -> std::path::PathBuf {
    let path = dir.join("targets.yaml");
    std::fs::write(
        &path,
        format!(
            "targets:\n  - name: theirs\n    kind: server\n    external:\n      host: 127.0.0.1\n      starttls-port: {port}\n      domain: {DOMAIN}\n      account: {{ jid: alice@{DOMAIN}, password: secret }}\n      root: {root}\n      certificate: {certificate}\n"
        ),
    )
    .unwrap();
    path
}

/// Runs the scenarios of `dir` against `targets`, with `root: system` meaning `system_roots`.
async fn run(dir: &Path, targets: &Path, system_roots: &Path) -> (Option<i32>, String, String) {
    let mut command = harness();
    command
        .env("SSL_CERT_FILE", system_roots)
        .arg("run")
        .arg(dir.join("scenarios"))
        .args(["--no-progress", "--timeout", "5", "--targets"])
        .arg(targets)
        .arg("--out")
        .arg(dir.join("reports"));
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let (stdout, stderr) = output_text(&output);
    (output.status.code(), stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_own_chain_runs_unpinned_cases_skips_faulty_profile_ones_and_a_wrong_declaration_is_exit_3()
 {
    let dir = Scratch::new("own-certificate");
    let port = serve_own_chain(&dir.join("root.pem")).await;
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::write(
        dir.join("scenarios/any.yaml"),
        format!(
            "id: any-chain\ncertificate: any\nkey: rsa-2048\nexpect: authenticated\n{SCENARIO}"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("scenarios/expired.yaml"),
        format!(
            "id: expired-chain\ncontrol: any-chain\ncertificate: expired\nexpect:\n  rejected: {{ step: tls, condition: bad-certificate, by: harness }}\n{SCENARIO}"
        ),
    )
    .unwrap();

    let no_roots = dir.join("no-roots.pem");
    std::fs::write(&no_roots, "").unwrap();
    let own = targets(&dir, port, "root.pem", "own");
    let (code, stdout, stderr) = run(&dir, &own, &no_roots).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("2 cases") && stdout.contains("1 pass") && stdout.contains("1 skip"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "the case needs the harness's faulty expired chain; the server presents its own"
        ),
        "{stdout}"
    );

    // `root: system`: the system root that issued the chain is found and trusted.
    let system = targets(&dir, port, "system", "own");
    let (code, stdout, stderr) = run(&dir, &system, &dir.join("root.pem")).await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 pass"), "{stdout}");

    let declared = targets(
        &dir,
        port,
        "root.pem",
        "{ profile: startcom-chain, key: ecdsa-p256 }",
    );
    let (code, stdout, stderr) = run(&dir, &declared, &no_roots).await;
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    assert_eq!(
        stderr.matches("does not match").count(),
        1,
        "one configuration error: {stderr}"
    );
    assert!(
        stderr.contains("its leaf key is RSA 2048, not ecdsa-p256"),
        "{stderr}"
    );
}
