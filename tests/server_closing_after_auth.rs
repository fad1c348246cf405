//! A server that closes TCP right after `<auth/>` (a hostile Python server written with
//! Python's own `ssl`, `fixtures/hostile/closes_after_auth.py`) must not pass the
//! replayed-client-final case: a TCP close is no SASL refusal (RFC 6120 §6.4.5, RFC 5802 §5.1),
//! and the positive control, which this server fails too, makes the case `inconclusive`.

mod scratch;

use scratch::Scratch;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The hostile server, killed when dropped.
struct Hostile(Child);

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn scratch(name: &str) -> Scratch {
    Scratch::new(name)
}

fn harness() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xmpp-interop"))
}

/// Starts the hostile server with a startcom-chain for interop.test; returns it and its port.
fn start_hostile(pki: &Path) -> (Hostile, u16) {
    let mut child = Command::new("/usr/bin/python3")
        .arg("fixtures/hostile/closes_after_auth.py")
        .arg(pki.join("startcom-chain/fullchain.pem"))
        .arg(pki.join("startcom-chain/key.pem"))
        .arg("interop.test")
        .arg("SCRAM-SHA-256")
        .stdout(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the server prints its port");
    (Hostile(child), port)
}

#[test]
fn a_server_that_closes_tcp_after_auth_does_not_pass_the_replay_case_rfc_5802_5_1() {
    let dir = scratch("closes-after-auth");
    let pki = dir.join("pki");
    let generated = harness()
        .args([
            "pki",
            "generate",
            "--domain",
            "interop.test",
            "--profile",
            "startcom-chain",
        ])
        .arg("--out")
        .arg(&pki)
        .output()
        .unwrap();
    assert!(generated.status.success(), "{generated:?}");
    let (_server, port) = start_hostile(&pki);
    std::fs::write(
        dir.join("targets.yaml"),
        format!(
            "targets:\n  - name: closer\n    kind: server\n    external:\n      host: 127.0.0.1\n      starttls-port: {port}\n      domain: interop.test\n      account: {{ jid: alice@interop.test, password: secret }}\n      root: {}\n      certificate: {{ profile: startcom-chain }}\n",
            pki.join("startcom-chain/root.pem").display()
        ),
    )
    .unwrap();
    let out = dir.join("reports");
    let output = harness()
        .args([
            "run",
            "scenarios/c2s/scram-replayed-client-final.yaml",
            "--filter",
            "c2s-scram-replayed-client-final/scram-sha-256",
            "--no-progress",
            "--timeout",
            "5",
            "--targets",
        ])
        .arg(dir.join("targets.yaml"))
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
    let (control, observed) = outcome("c2s-authenticate/starttls/startcom-chain/scram-sha-256");
    assert_eq!(control, "fail", "{observed}");
    assert!(
        observed.as_str().unwrap().contains("(closed)"),
        "{observed}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
