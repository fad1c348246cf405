//! A server that sends 64 MiB inside one element (`fixtures/hostile/huge_element.py`, Python's
//! own sockets) gets a `policy-violation` verdict at the element limit (RFC 6120 §13.12: 64 KiB
//! here), within the step deadline, and the harness never buffers the element: its peak
//! resident memory stays far below 100 MiB (issue 14).
//!
//! The peak is the harness process's own high-water mark (`VmHWM` in `/proc/PID/status`),
//! polled while it runs. Not `wait4`'s `ru_maxrss`: Linux carries the peak of the memory the
//! process had before `execve` over into it, and a child spawned from this test binary (which
//! hosts every integration test) starts with this binary's peak.

use std::io::Read as _;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support::Scratch;
use crate::support::external::{startcom_chain, targets_file};
use crate::support::harness;
use crate::support::python_peer::python_server;

/// The `VmHWM` line of `/proc/PID/status`, in KiB; `None` once the process is gone.
fn high_water_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Polls the high-water mark of `pid` every 2 ms until the process is gone (or a zombie);
/// the returned cell holds the largest value seen.
fn watch_high_water(pid: u32) -> Arc<AtomicU64> {
    let peak = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&peak);
    std::thread::spawn(move || {
        while let Some(kib) = high_water_kib(pid) {
            seen.fetch_max(kib, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    peak
}

#[test]
fn sixty_four_mib_in_one_element_is_a_policy_violation_and_never_buffered_rfc6120_13_12() {
    let dir = Scratch::new("huge-element");
    let (_server, port) = python_server("fixtures/hostile/huge_element.py", &["64".as_ref()]);
    // The root is never used: the server never gets as far as TLS.
    let pki = startcom_chain(&dir);
    let targets = targets_file(&dir, "huge", port, &pki);
    let started = Instant::now();
    let mut child = harness()
        .args([
            "run",
            "scenarios/c2s/authenticate.yaml",
            "--filter",
            "c2s-authenticate/starttls/scram-sha-256",
            "--no-progress",
            // What is measured is the case itself, not a pre-flight login before it.
            "--no-preflight",
            "--timeout",
            "5",
            "--targets",
        ])
        .arg(&targets)
        .arg("--out")
        .arg(dir.join("reports"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let peak_kib = watch_high_water(child.id());
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    let elapsed = started.elapsed();
    let peak_mib = peak_kib.load(Ordering::Relaxed) / 1024;
    assert!(peak_mib > 0, "no high-water mark was read for the harness");
    assert_eq!(status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("policy-violation"), "{stdout}");
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
    assert!(peak_mib < 100, "peak RSS {peak_mib} MiB");
    eprintln!("64 MiB element: verdict in {elapsed:?}, harness peak RSS {peak_mib} MiB");
}
