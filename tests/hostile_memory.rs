//! A server that sends 64 MiB inside one element (`fixtures/hostile/huge_element.py`, Python's
//! own sockets) gets a `policy-violation` verdict at the element limit (RFC 6120 §13.12: 64 KiB
//! here), within the step deadline, and the harness never buffers the element: its peak
//! resident memory stays far below 100 MiB (issue 14).
//!
//! In a file of its own: the peak is read with `getrusage(RUSAGE_CHILDREN)`, which covers every
//! child this test process waited for, so no other test may run harness processes beside it.

mod scratch;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scratch::Scratch;

/// The hostile server, killed (and waited for) when dropped.
struct Hostile(Child);

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
    let mut server = Command::new("/usr/bin/python3")
        .args(["fixtures/hostile/huge_element.py", "64"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 runs");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("the server prints its port");
    let _server = Hostile(server);
    // The root is never used: the server never gets as far as TLS.
    let generated = Command::new(env!("CARGO_BIN_EXE_xmpp-interop"))
        .args([
            "pki",
            "generate",
            "--domain",
            "interop.test",
            "--profile",
            "startcom-chain",
        ])
        .arg("--out")
        .arg(dir.join("pki"))
        .output()
        .unwrap();
    assert!(generated.status.success(), "{generated:?}");
    std::fs::write(
        dir.join("targets.yaml"),
        format!(
            "targets:\n  - name: huge\n    kind: server\n    external:\n      host: 127.0.0.1\n      starttls-port: {port}\n      domain: interop.test\n      account: {{ jid: alice@interop.test, password: secret }}\n      root: {}\n      certificate: {{ profile: startcom-chain }}\n",
            dir.join("pki/startcom-chain/root.pem").display()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_xmpp-interop"))
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
        .arg(dir.join("targets.yaml"))
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
