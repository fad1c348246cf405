//! A server that closes TCP right after `<auth/>` (a hostile Python server written with
//! Python's own `ssl`, `fixtures/hostile/closes_after_auth.py`) must not pass the
//! replayed-client-final case: a TCP close is no SASL refusal (RFC 6120 §6.4.5, RFC 5802 §5.1),
//! and the positive control, which this server fails too, makes the case `inconclusive`.

use crate::support::Scratch;
use crate::support::external::{startcom_chain, targets_file};
use crate::support::harness;
use crate::support::python_peer::python_server;

#[test]
fn a_server_that_closes_tcp_after_auth_does_not_pass_the_replay_case_rfc5802_5_1() {
    let dir = Scratch::new("closes-after-auth");
    let pki = startcom_chain(&dir);
    let (_server, port) = python_server(
        "fixtures/hostile/closes_after_auth.py",
        &[
            pki.join("startcom-chain/fullchain.pem").as_os_str(),
            pki.join("startcom-chain/key.pem").as_os_str(),
            "interop.test".as_ref(),
            "SCRAM-SHA-256".as_ref(),
        ],
    );
    let targets = targets_file(&dir, "closer", port, &pki);
    let out = dir.join("reports");
    let output = harness()
        .args([
            "run",
            "scenarios/c2s/scram-replayed-client-final.yaml",
            "--filter",
            "c2s-scram-replayed-client-final/scram-sha-256",
            "--no-progress",
            // What is measured is the case itself, not a pre-flight login before it.
            "--no-preflight",
            "--timeout",
            "5",
            "--targets",
        ])
        .arg(&targets)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let outcome = |case: &str| {
        json["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["scenario"] == case)
            .map(|r| (r["outcome"].clone(), r["observed"].clone()))
            .unwrap_or_else(|| panic!("{case} did not run: {stdout}"))
    };
    let (replay, observed) = outcome("c2s-scram-replayed-client-final/scram-sha-256");
    assert_ne!(replay, "pass", "{observed}");
    assert_eq!(replay, "inconclusive", "{observed}");
    let (control, observed) = outcome("c2s-authenticate/starttls/scram-sha-256");
    assert_eq!(control, "fail", "{observed}");
    assert!(
        observed.as_str().unwrap().contains("(closed)"),
        "{observed}"
    );
}
