//! `run --keylog FILE` and `SSLKEYLOGFILE`: TLS secrets in the NSS key log format, from both
//! ends of every connection, good enough for tshark to decrypt a loopback capture of a case.
//!
//! The capture test needs root (to capture on `lo`) and `tshark`; without them it says so and
//! passes, except under CI (`CI` set), where `.ci/run` installs tshark and runs as root and a
//! missing prerequisite is a failure.

use crate::support::Scratch;
use crate::support::{harness, on_path};

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Runs one case (by `--filter`) from `scenario` against the built-in targets.
fn run_case(scenario: &str, case: &str, out: &Path, keylog: Option<&Path>, env: Option<&Path>) {
    let mut command = harness();
    command
        .args(["run", scenario, "--filter", case, "--no-progress", "--out"])
        .arg(out)
        .env_remove("SSLKEYLOGFILE");
    if let Some(keylog) = keylog {
        command.arg("--keylog").arg(keylog);
    }
    if let Some(env) = env {
        command.env("SSLKEYLOGFILE", env);
    }
    let output = command.output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The key log lines, counted: every TLS 1.3 connection between the harness and a built-in
/// target is logged once by its client end and once by its server end.
fn line_counts(path: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        *counts.entry(line.to_owned()).or_insert(0) += 1;
    }
    counts
}

#[test]
fn sslkeylogfile_logs_both_ends_of_a_connection_into_a_private_file() {
    let dir = Scratch::new("env");
    let keys = dir.join("keys.log");
    // The harness as TLS client against the built-in server...
    run_case(
        "scenarios/c2s/authenticate.yaml",
        "c2s-authenticate/direct-tls/plain",
        &dir.join("out-c2s"),
        None,
        Some(&keys),
    );
    // ... and as TLS server for the built-in client, appended to the same file.
    run_case(
        "scenarios/client/authenticate.yaml",
        "client-authenticate/direct-tls/self-signed/plain",
        &dir.join("out-client"),
        None,
        Some(&keys),
    );
    let mode = std::fs::metadata(&keys).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the key log must be private");
    let counts = line_counts(&keys);
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ] {
        let lines: Vec<_> = counts
            .iter()
            .filter(|(line, _)| line.starts_with(&format!("{label} ")))
            .collect();
        assert_eq!(lines.len(), 2, "{label}: one per connection: {lines:?}");
        assert!(
            lines.iter().all(|&(_, &n)| n == 2),
            "{label}: both ends of each connection log it: {lines:?}"
        );
    }
}

#[test]
fn keylog_option_wins_over_sslkeylogfile() {
    let dir = Scratch::new("option");
    let (option, env) = (dir.join("option.log"), dir.join("env.log"));
    run_case(
        "scenarios/c2s/authenticate.yaml",
        "c2s-authenticate/starttls/plain",
        &dir.join("out"),
        Some(&option),
        Some(&env),
    );
    assert!(!line_counts(&option).is_empty());
    assert!(
        !env.exists(),
        "SSLKEYLOGFILE was used although --keylog was given"
    );
}

/// Whether this process can capture with tshark; panics under CI when it cannot.
fn can_capture(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let tshark = on_path("tshark");
    if !(root && tshark) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but the capture test cannot run (root: {root}, tshark installed: {tshark}): \
             .ci/run installs tshark and runs as root"
        );
        eprintln!(
            "NOT RUN {test}: needs root (is {root}) and tshark (installed: {tshark}; apt-get install tshark)"
        );
    }
    root && tshark
}

/// The XMPP bytes tshark decrypts from the TLS connection on `port` in `capture`, given the
/// key log `keys` (or none).
fn decrypted_bytes(capture: &Path, port: u16, keys: Option<&Path>) -> Vec<u8> {
    let mut command = Command::new("tshark");
    command.arg("-r").arg(capture);
    if let Some(keys) = keys {
        command
            .arg("-o")
            .arg(format!("tls.keylog_file:{}", keys.display()));
    }
    let output = command
        .args(["-d", &format!("tcp.port=={port},tls")])
        .args(["-d", &format!("tls.port=={port},data")])
        .args(["-Y", &format!("tcp.port=={port} && data")])
        .args(["-T", "fields", "-e", "data.data"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "tshark -r failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hex: String = String::from_utf8_lossy(&output.stdout)
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect();
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[test]
fn tshark_decrypts_a_direct_tls_case_with_the_key_log_and_sees_the_auth_element() {
    if !can_capture("tshark_decrypts_a_direct_tls_case_with_the_key_log_and_sees_the_auth_element")
    {
        return;
    }
    let dir = Scratch::new("capture");
    let (capture, keys) = (dir.join("case.pcapng"), dir.join("keys.log"));
    // Every loopback TCP packet: the case's port is ephemeral, so the capture filter can
    // only narrow it to loopback TCP; the case's own port filters the decryption below.
    let mut tshark = Command::new("tshark")
        .args(["-i", "lo", "-f", "tcp and host 127.0.0.1", "-q", "-w"])
        .arg(&capture)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = tshark.stderr.take().unwrap();
    let (started, capturing) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("Capturing on") {
                let _ = started.send(());
            }
        }
    });
    assert!(
        capturing.recv_timeout(Duration::from_secs(20)).is_ok(),
        "tshark did not start capturing"
    );
    // dumpcap reports "Capturing on" a moment before packets are really captured.
    std::thread::sleep(Duration::from_secs(1));
    let out = dir.join("out");
    // XEP-0368 direct TLS: the harness as TLS server, the built-in client as TLS client,
    // authenticating with PLAIN; tshark sees the handshake from its first byte.
    run_case(
        "scenarios/client/authenticate.yaml",
        "client-authenticate/direct-tls/self-signed/plain",
        &out,
        Some(&keys),
        None,
    );
    std::thread::sleep(Duration::from_millis(500));
    let pid = i32::try_from(tshark.id()).unwrap();
    // SAFETY: signals the tshark child this test started, by its pid.
    unsafe { libc::kill(pid, libc::SIGINT) };
    assert!(tshark.wait().unwrap().success(), "tshark capture failed");

    let transcript = std::fs::read_to_string(
        out.join("transcripts/builtin-client/client-authenticate_direct-tls_self-signed_plain.txt"),
    )
    .unwrap();
    let port: u16 = transcript
        .split("listening on 127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|port| port.parse().ok())
        .expect("the transcript names the harness's port");

    let without_keys = decrypted_bytes(&capture, port, None);
    assert!(
        !String::from_utf8_lossy(&without_keys).contains("<auth "),
        "the capture shows <auth without the key log: was it TLS at all?"
    );
    let decrypted =
        String::from_utf8_lossy(&decrypted_bytes(&capture, port, Some(&keys))).into_owned();
    assert!(
        decrypted.contains("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"),
        "no <auth element in the decrypted capture: {decrypted}"
    );
    assert!(decrypted.contains("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'"));
}

#[test]
fn a_key_log_that_cannot_be_opened_is_a_usage_error_with_exit_code_2() {
    let dir = Scratch::new("unopenable");
    let output = harness()
        .args([
            "run",
            "scenarios/c2s/wrong-password.yaml",
            "--no-progress",
            "--out",
        ])
        .arg(dir.join("out"))
        .arg("--keylog")
        .arg(dir.join("no-such-dir/keys.log"))
        .env_remove("SSLKEYLOGFILE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot open the TLS key log"), "{stderr}");
    assert!(!dir.join("out/results.json").exists(), "no case may run");
}
