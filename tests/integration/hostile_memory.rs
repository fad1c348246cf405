//! A server that sends 64 MiB inside one element (`fixtures/hostile/huge_element.py`, Python's
//! own sockets) gets a `policy-violation` verdict at the element limit (RFC 6120 §13.12: 64 KiB
//! here), within the step deadline, and the harness never buffers the element: its peak
//! resident memory stays far below 100 MiB (issue 14).
//!
//! The peak is the harness process's own, read with `wait4` when it is reaped, so harness
//! processes, servers or browsers that other tests of this binary run do not count.

use std::io::Read as _;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::Scratch;
use crate::support::external::{startcom_chain, targets_file};
use crate::support::harness;
use crate::support::python_peer::python_server;

/// Waits for `child` to end; returns its exit status and its peak resident set size in KiB.
///
/// `Child::wait` does not report resource usage, so the child is reaped with `wait4` on its
/// pid, which is why this takes `child` by value: nothing may wait for it again.
fn wait_with_peak_rss_kib(child: Child) -> (ExitStatus, i64) {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    let mut status: libc::c_int = 0;
    // SAFETY: wait4 only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to an int and a rusage struct; `pid` is our unreaped child.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    (ExitStatus::from_raw(status), usage.ru_maxrss)
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
            "c2s-authenticate/starttls/startcom-chain/scram-sha-256",
            "--no-progress",
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
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut stdout)
        .unwrap();
    let (status, peak_kib) = wait_with_peak_rss_kib(child);
    let elapsed = started.elapsed();
    let peak_mib = peak_kib / 1024;
    assert_eq!(status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("policy-violation"), "{stdout}");
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
    assert!(peak_mib < 100, "peak RSS {peak_mib} MiB");
    eprintln!("64 MiB element: verdict in {elapsed:?}, harness peak RSS {peak_mib} MiB");
}
