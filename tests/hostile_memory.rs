//! A server that sends 64 MiB inside one element (`fixtures/hostile/huge_element.py`, Python's
//! own sockets) gets a `policy-violation` verdict at the element limit (RFC 6120 §13.12: 64 KiB
//! here), within the step deadline, and the harness never buffers the element: its peak
//! resident memory stays far below 100 MiB (issue 14).
//!
//! In a file of its own: the peak is read with `getrusage(RUSAGE_CHILDREN)`, which covers every
//! child this test process waited for, so no other test may run harness processes beside it.

mod external;
mod python_peer;
mod scratch;

use std::time::{Duration, Instant};

use external::{harness, startcom_chain, targets_file};
use python_peer::python_server;
use scratch::Scratch;

/// The largest peak resident set size, in KiB, of the children waited for so far.
fn children_peak_rss_kib() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage struct; RUSAGE_CHILDREN is a valid `who`.
    let status = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(status, 0);
    usage.ru_maxrss
}

#[test]
fn sixty_four_mib_in_one_element_is_a_policy_violation_and_never_buffered_rfc6120_13_12() {
    let dir = Scratch::new("huge-element");
    let (_server, port) = python_server("fixtures/hostile/huge_element.py", &["64".as_ref()]);
    // The root is never used: the server never gets as far as TLS.
    let pki = startcom_chain(&dir);
    let targets = targets_file(&dir, "huge", port, &pki);
    let started = Instant::now();
    let output = harness()
        .args([
            "run",
            "scenarios/c2s/authenticate.yaml",
            "--filter",
            "c2s-authenticate/starttls/startcom-chain/scram-sha-256",
            "--no-progress",
            "--timeout",
            "5",
            "--targets",
        ])
        .arg(&targets)
        .arg("--out")
        .arg(dir.join("reports"))
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let peak_mib = children_peak_rss_kib() / 1024;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("policy-violation"), "{stdout}");
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
    assert!(peak_mib < 100, "peak RSS {peak_mib} MiB");
    eprintln!("64 MiB element: verdict in {elapsed:?}, harness peak RSS {peak_mib} MiB");
}
