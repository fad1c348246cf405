//! Server-to-server federation with the managed real servers over loopback, as a user runs it:
//! the harness as originating and as receiving server against Prosody and ejabberd, and the
//! server-pair matrix (`xmpp-interop pairs`). Both leave no server process, no listening
//! federation port and no change to `/etc/hosts` behind.
//!
//! The tests take turns (a process-wide lock here): federating servers and the harness's
//! `harness.test` listener use fixed addresses on port 5269.

mod real;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use real::{Finished, instance_dirs, read_json, run_harness, scratch_dir, servers_installed};

static FEDERATING: Mutex<()> = Mutex::new(());

/// The federation addresses of `fixtures/federation-hosts`, each of which must be free again
/// on port 5269 after a run.
fn federation_addresses() -> Vec<Ipv4Addr> {
    std::fs::read_to_string("fixtures/federation-hosts")
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next()?.parse().ok())
        .collect()
}

fn assert_nothing_left_behind(harness_pid: u32, hosts_before: &str) {
    assert_eq!(instance_dirs(harness_pid), Vec::<std::path::PathBuf>::new());
    // The kernel closes a killed server's sockets once its last process is gone, a moment
    // after the harness reaped the group leader.
    for address in federation_addresses() {
        let socket = SocketAddr::from((address, 5269));
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpListener::bind(socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "{socket} is still taken after the run"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert_eq!(
        std::fs::read_to_string("/etc/hosts").unwrap(),
        hosts_before,
        "the run changed /etc/hosts"
    );
}

fn hosts_are_mapped(test: &str) -> bool {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let mapped = hosts.contains("harness.test") && hosts.contains("prosody-peer.test");
    if !mapped {
        real::skipped(
            test,
            "/etc/hosts lacks the .test names of fixtures/federation-hosts",
        );
    }
    mapped
}

#[test]
fn the_harness_authenticates_prosody_and_ejabberd_both_ways_with_external_and_dialback() {
    if !servers_installed(
        "the_harness_authenticates_prosody_and_ejabberd_both_ways_with_external_and_dialback",
    ) || !hosts_are_mapped(
        "the_harness_authenticates_prosody_and_ejabberd_both_ways_with_external_and_dialback",
    ) {
        return;
    }
    let _turn = FEDERATING.lock().unwrap_or_else(|e| e.into_inner());
    let hosts_before = std::fs::read_to_string("/etc/hosts").unwrap();
    let out = scratch_dir("federation-cases");
    let Finished {
        pid: harness_pid,
        stdout,
    } = run_harness(
        &[
            "run",
            "scenarios",
            "--targets",
            "targets/local.yaml",
            "--expectations",
            "expectations/servers",
            "--no-progress",
            "--filter",
            "s2s-external/starttls",
            "--filter",
            "s2s-dialback-without-certificate/starttls",
            "--filter",
            "s2s-receiving-external/starttls",
            "--filter",
            "s2s-receiving-dialback",
            "--filter",
            "s2s-dialback-forged-key",
        ],
        &out,
    );
    let json = read_json(&out, "results.json");
    let results = json["results"].as_array().unwrap();
    let observed = |case: &str, target: &str| -> String {
        results
            .iter()
            .find(|r| r["scenario"] == case && r["target"] == target)
            .and_then(|r| r["observed"].as_str())
            .unwrap_or_else(|| panic!("no result for {case} @ {target}: {stdout}"))
            .to_owned()
    };
    for (target, domain) in [("prosody", "prosody.test"), ("ejabberd", "ejabberd.test")] {
        assert_eq!(
            observed("s2s-external/starttls", target),
            "s2s stream from harness.test authenticated via EXTERNAL"
        );
        assert_eq!(
            observed("s2s-dialback-without-certificate/starttls", target),
            "s2s stream from harness.test authenticated via dialback"
        );
        assert!(
            observed("s2s-dialback-forged-key", target)
                .starts_with("rejected at dialback by target (invalid)"),
            "{stdout}"
        );
        assert_eq!(
            observed("s2s-receiving-external/starttls", target),
            format!("s2s stream from {domain} authenticated via EXTERNAL")
        );
        assert_eq!(
            observed("s2s-receiving-dialback", target),
            format!("s2s stream from {domain} authenticated via dialback")
        );
    }
    assert_nothing_left_behind(harness_pid, &hosts_before);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn every_server_pair_delivers_both_ways_and_names_how_the_link_was_authenticated() {
    if !servers_installed(
        "every_server_pair_delivers_both_ways_and_names_how_the_link_was_authenticated",
    ) || !hosts_are_mapped(
        "every_server_pair_delivers_both_ways_and_names_how_the_link_was_authenticated",
    ) {
        return;
    }
    let _turn = FEDERATING.lock().unwrap_or_else(|e| e.into_inner());
    let hosts_before = std::fs::read_to_string("/etc/hosts").unwrap();
    let out = scratch_dir("federation-pairs");
    let Finished {
        pid: harness_pid,
        stdout,
    } = run_harness(
        &[
            "pairs",
            "--targets",
            "targets/local.yaml",
            "--profile",
            "valid-chain",
            "--profile",
            "self-signed",
        ],
        &out,
    );
    let json = read_json(&out, "pairs.json");
    let pairs = json["pairs"].as_array().unwrap();
    // Prosody↔Prosody, Prosody↔ejabberd, ejabberd↔ejabberd; both directions; two profiles.
    assert_eq!(pairs.len(), 12, "{stdout}");
    for pair in pairs {
        let wanted = match pair["profile"].as_str() {
            Some("valid-chain") => "external",
            Some("self-signed") => "dialback",
            other => panic!("unexpected profile {other:?}"),
        };
        assert_eq!(pair["delivered"], true, "{pair}");
        assert_eq!(pair["method"], wanted, "{pair}");
        assert_eq!(pair["pass"], true, "{pair}");
    }
    let directions: std::collections::BTreeSet<(String, String)> = pairs
        .iter()
        .map(|p| {
            (
                p["from_domain"].as_str().unwrap().to_owned(),
                p["to_domain"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for direction in [
        ("prosody.test", "ejabberd.test"),
        ("ejabberd.test", "prosody.test"),
        ("prosody.test", "prosody-peer.test"),
        ("ejabberd-peer.test", "ejabberd.test"),
    ] {
        assert!(
            directions.contains(&(direction.0.to_owned(), direction.1.to_owned())),
            "{direction:?} missing: {stdout}"
        );
    }
    assert!(
        std::fs::read_to_string(out.join("pairs.md"))
            .unwrap()
            .contains("| prosody.test → ejabberd.test | PASS EXTERNAL | PASS dialback |"),
        "{stdout}"
    );
    assert_nothing_left_behind(harness_pid, &hosts_before);
    std::fs::remove_dir_all(&out).unwrap();
}
