//! Server-to-server federation with the managed real servers over loopback, as a user runs it:
//! the harness as originating and as receiving server against Prosody and ejabberd, and the
//! server-pair matrix (`xmpp-interop pairs`). Both leave no server process, no listening
//! federation port and no change to `/etc/hosts` behind.
//!
//! The tests take turns, with each other and with every other test that runs managed servers
//! (`support::turns`): federating servers and the harness's `harness.test` listener use fixed
//! addresses on port 5269. Two of them run two harness processes at once (issue 14 item 6),
//! which the machine-wide federation lock keeps apart.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::harness;
use crate::support::real::{
    Finished, MANAGED_SERVERS, instance_dirs, read_json, run_harness, servers_installed,
};
use crate::support::turns;
use crate::support::{Scratch, real};
use xmpp_interop::targets::managed::{MachineLock, WAITING};

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
    let _turn = turns::managed_servers_alone();
    let hosts_before = std::fs::read_to_string("/etc/hosts").unwrap();
    let out = Scratch::new("cases");
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
    for (target, domain, _) in MANAGED_SERVERS {
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
    let _turn = turns::managed_servers_alone();
    let hosts_before = std::fs::read_to_string("/etc/hosts").unwrap();
    let out = Scratch::new("pairs");
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
    // Four servers (two generations of Prosody and of ejabberd): ten pairs, each server with
    // itself too; both directions; two profiles.
    assert_eq!(pairs.len(), 40, "{stdout}");
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

/// The s2s cases two concurrent runs both plan: a certificate the target must refuse (what a
/// collision turned into false FAILs) and its positive control, against both servers.
const CONCURRENT_CASES: [&str; 4] = [
    "--filter",
    "s2s-certificate-untrusted-root",
    "--filter",
    "s2s-external/starttls",
];

/// A harness process started with `args` and `--out out`, its output captured.
fn start_harness(args: &[&str], out: &Path) -> Child {
    harness()
        .args(args)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// How a harness process ended: exit code, standard output and standard error.
struct Ended {
    pid: u32,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn wait_for(child: Child) -> Ended {
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    Ended {
        pid,
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Every case of a run's `results.json` as (scenario, target) → (outcome, observed).
fn outcomes(out: &Path) -> BTreeMap<(String, String), (String, String)> {
    let json = read_json(out, "results.json");
    json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = |key: &str| r[key].as_str().unwrap_or_default().to_owned();
            (
                (text("scenario"), text("target")),
                (text("outcome"), text("observed")),
            )
        })
        .collect()
}

/// Whether some transcript under `out/transcripts/` contains `text`.
fn transcripts_mention(out: &Path, text: &str) -> bool {
    let Ok(targets) = std::fs::read_dir(out.join("transcripts")) else {
        return false;
    };
    targets
        .filter_map(Result::ok)
        .filter_map(|target| std::fs::read_dir(target.path()).ok())
        .flatten()
        .filter_map(Result::ok)
        .any(|file| {
            std::fs::read_to_string(file.path()).is_ok_and(|transcript| transcript.contains(text))
        })
}

#[test]
fn two_runs_federating_at_once_take_turns_and_end_as_a_single_run_would() {
    let test = "two_runs_federating_at_once_take_turns_and_end_as_a_single_run_would";
    if !servers_installed(test) || !hosts_are_mapped(test) {
        return;
    }
    let _turn = turns::managed_servers_alone();
    let hosts_before = std::fs::read_to_string("/etc/hosts").unwrap();
    let mut args = vec![
        "run",
        "scenarios",
        "--targets",
        "targets/local.yaml",
        "--expectations",
        "expectations/servers",
        "--no-progress",
    ];
    args.extend(CONCURRENT_CASES);
    let alone = Scratch::new("concurrent-alone");
    let single = wait_for(start_harness(&args, &alone));
    assert_eq!(single.code, Some(0), "{}\n{}", single.stdout, single.stderr);
    let single_outcomes = outcomes(&alone);
    assert!(
        single_outcomes.keys().any(|(scenario, target)| scenario
            .starts_with("s2s-certificate-untrusted-root")
            && target == "prosody-0.12"),
        "{single_outcomes:?}"
    );
    let first_out = Scratch::new("concurrent-first");
    let second_out = Scratch::new("concurrent-second");
    let first = start_harness(&args, &first_out);
    // Both processes plan at once; whichever claims the addresses second waits.
    std::thread::sleep(Duration::from_millis(300));
    let second = start_harness(&args, &second_out);
    let (first, second) = (wait_for(first), wait_for(second));
    for (run, out) in [(&first, &first_out), (&second, &second_out)] {
        assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
        assert_eq!(
            outcomes(out)
                .into_iter()
                .map(|(case, (outcome, _))| (case, outcome))
                .collect::<BTreeMap<_, _>>(),
            single_outcomes
                .iter()
                .map(|(case, (outcome, _))| (case.clone(), outcome.clone()))
                .collect::<BTreeMap<_, _>>(),
            "a run beside another must end as a run alone: {}",
            run.stdout
        );
        assert_nothing_left_behind(run.pid, &hosts_before);
    }
    let waited: Vec<(&Ended, &Path)> = [(&first, &*first_out), (&second, &*second_out)]
        .into_iter()
        .filter(|(run, _)| run.stderr.contains(WAITING))
        .collect();
    assert_eq!(
        waited.len(),
        1,
        "exactly one run waits for the other:\n{}\n{}",
        first.stderr,
        second.stderr
    );
    assert!(
        transcripts_mention(waited[0].1, WAITING),
        "the waiting run notes it in the transcripts of the cases it held up"
    );
    for out in [alone, first_out, second_out] {
        std::fs::remove_dir_all(out).unwrap();
    }
}

#[test]
fn a_run_with_no_wait_ends_its_federating_cases_as_error_while_another_holds_the_lock() {
    let test = "a_run_with_no_wait_ends_its_federating_cases_as_error_while_another_holds_the_lock";
    if !servers_installed(test) {
        return;
    }
    let _turn = turns::managed_servers_alone();
    // This test holds the machine-wide lock, as another run would (waiting for one that
    // holds it now, such as a CI job beside this one).
    let deadline = Instant::now() + Duration::from_secs(600);
    let held = loop {
        if let Some(lock) = MachineLock::try_take().unwrap() {
            break lock;
        }
        assert!(
            Instant::now() < deadline,
            "the federation lock stayed taken"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = Scratch::new("no-wait");
    let run = wait_for(start_harness(
        &[
            "run",
            "scenarios",
            "--targets",
            "targets/local.yaml",
            "--no-progress",
            "--no-wait",
            "--filter",
            "s2s-external/starttls",
        ],
        &out,
    ));
    drop(held);
    assert_eq!(run.code, Some(3), "{}\n{}", run.stdout, run.stderr);
    let outcomes = outcomes(&out);
    for (target, _, _) in MANAGED_SERVERS {
        let (outcome, observed) =
            &outcomes[&("s2s-external/starttls".to_owned(), target.to_owned())];
        assert_eq!(outcome, "error", "{target}: {observed}");
        assert!(
            observed.contains("another run holds the federation addresses"),
            "{target}: {observed}"
        );
    }
    // The built-in server federates on ephemeral ports and runs as usual.
    assert_eq!(
        outcomes[&(
            "s2s-external/starttls".to_owned(),
            "builtin-server".to_owned()
        )]
            .0,
        "pass"
    );
    assert!(!run.stderr.contains(WAITING), "{}", run.stderr);
    assert_eq!(instance_dirs(run.pid), Vec::<std::path::PathBuf>::new());
    std::fs::remove_dir_all(&out).unwrap();
}
