//! `run` against an external server that trickles its stream header one byte a second and never
//! finishes it: each case ends within `--case-timeout` (+1 s) as a `timeout` verdict, and the
//! run exits by itself (issue 14; deadlines in docs/ARCHITECTURE.md, "Sans-IO").

use crate::support::Scratch;
use crate::support::external::{startcom_chain, targets_file};
use crate::support::harness;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

const HEADER: &[u8] = b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' from='interop.test' id='";

/// Sends the header one byte a second, then the same id byte forever, until the peer goes.
fn trickle(mut tcp: TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = tcp.read(&mut buf);
    for byte in HEADER.iter().chain(std::iter::repeat(&b'a')) {
        if tcp.write_all(&[*byte]).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// A server on a free port that trickles on every connection (threads end with the process).
fn start_trickler() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            std::thread::spawn(move || trickle(tcp));
        }
    });
    port
}

/// Runs the two `c2s-authenticate` STARTTLS cases (PLAIN, SCRAM-SHA-256) against a fresh
/// trickler with `deadlines` (the `--timeout` and `--case-timeout` options); returns the
/// results and how long the run took.
fn run_against_trickler(name: &str, deadlines: &[&str]) -> (Vec<serde_json::Value>, Duration) {
    let dir = Scratch::new(name);
    let pki = startcom_chain(&dir);
    let port = start_trickler();
    let targets = targets_file(&dir, "trickler", port, &pki);
    let out = dir.join("reports");
    let started = Instant::now();
    let output = harness()
        .args([
            "run",
            "scenarios/c2s/authenticate.yaml",
            "--filter",
            "c2s-authenticate/starttls/scram-sha-256",
            "--filter",
            "c2s-authenticate/starttls/plain",
            "--no-progress",
            // What is measured is the case itself, not a pre-flight login before it.
            "--no-preflight",
            "--jobs",
            "2",
        ])
        .args(deadlines)
        .arg("--targets")
        .arg(&targets)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let run_took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let results = json["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 2, "both cases must run: {stdout}");
    eprintln!("the run took {run_took:?}");
    std::fs::remove_dir_all(&dir).unwrap();
    (results, run_took)
}

/// Checks that `result` is a `fail` by `timeout` at the stream step that took at least
/// `deadline` and less than a second more; returns what it observed.
fn assert_timed_out_at(result: &serde_json::Value, deadline: Duration) -> String {
    let observed = result["observed"].as_str().unwrap_or_default().to_owned();
    assert_eq!(result["outcome"], "fail", "{observed}");
    assert_eq!(result["step"], "stream", "{observed}");
    assert!(observed.contains("(timeout)"), "{observed}");
    let took = Duration::from_millis(result["duration_ms"].as_u64().unwrap_or(u64::MAX));
    eprintln!("{}: {took:?}: {observed}", result["scenario"]);
    assert!(
        took >= deadline && took < deadline + Duration::from_secs(1),
        "{} took {took:?} with a deadline of {deadline:?}",
        result["scenario"]
    );
    observed
}

#[test]
fn a_run_against_a_trickling_server_ends_each_case_at_the_case_deadline_as_timeout() {
    // The step deadline (--timeout) is far beyond the case deadline: only the case deadline
    // can end these cases in time.
    let (results, run_took) =
        run_against_trickler("case-deadline", &["--timeout", "30", "--case-timeout", "2"]);
    for result in &results {
        let observed = assert_timed_out_at(result, Duration::from_secs(2));
        assert!(
            observed.contains("the case ran past its deadline"),
            "{observed}"
        );
    }
    assert!(
        run_took < Duration::from_secs(20),
        "the run took {run_took:?}"
    );
}

#[test]
fn a_run_against_a_trickling_server_ends_each_case_at_the_step_deadline_with_what_arrived() {
    // The default case deadline (6 × --timeout) leaves the step deadline to end the cases.
    let (results, run_took) = run_against_trickler("step-deadline", &["--timeout", "2"]);
    for result in &results {
        let observed = assert_timed_out_at(result, Duration::from_secs(2));
        assert!(observed.contains("bytes arrived during it"), "{observed}");
    }
    assert!(
        run_took < Duration::from_secs(20),
        "the run took {run_took:?}"
    );
}

/// Whether process `pid` is gone (or only a zombie waiting to be reaped).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

#[test]
fn a_command_client_that_trickles_is_killed_at_the_case_deadline() {
    let dir = Scratch::new("client-case-deadline");
    let pids = dir.join("pids");
    // The client's own limit (30 s) is far beyond the case deadline: only the case deadline
    // can end the case in time, and ending it must kill the client.
    let targets = format!(
        "targets:\n  - name: trickling-client\n    kind: client\n    command:\n      argv:\n        - bash\n        - -c\n        - >-\n          echo $$ >> {};\n          exec 3<>/dev/tcp/{{host}}/{{port}};\n          for c in '<' '?' 'x' 'm' 'l' ' ' 'v' 'e' 'r' 's' 'i' 'o' 'n'; do printf '%s' \"$c\" >&3; sleep 1; done;\n          exec sleep 60\n      timeout: 30\n",
        pids.display()
    );
    std::fs::write(dir.join("targets.yaml"), targets).unwrap();
    let out = dir.join("reports");
    let started = Instant::now();
    let output = harness()
        .args([
            "run",
            "scenarios/client/authenticate.yaml",
            "--filter",
            "client-authenticate/starttls/startcom-chain/scram-sha-256",
            "--no-progress",
            "--timeout",
            "30",
            "--case-timeout",
            "2",
            "--targets",
        ])
        .arg(dir.join("targets.yaml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let run_took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let results = json["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 1, "one case must run: {stdout}");
    let observed = results[0]["observed"].as_str().unwrap_or_default();
    assert_eq!(results[0]["outcome"], "fail", "{observed}");
    assert!(observed.contains("(timeout)"), "{observed}");
    assert!(
        observed.contains("the case ran past its deadline"),
        "{observed}"
    );
    let took = Duration::from_millis(results[0]["duration_ms"].as_u64().unwrap_or(u64::MAX));
    eprintln!("the case took {took:?}, the run {run_took:?}: {observed}");
    assert!(took < Duration::from_secs(3), "the case took {took:?}");
    let started: Vec<u32> = std::fs::read_to_string(&pids)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect();
    assert!(!started.is_empty(), "the client never started: {stdout}");
    for pid in started {
        assert!(is_gone(pid), "client process {pid} outlived its case");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
