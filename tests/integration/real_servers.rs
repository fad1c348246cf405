//! The managed real servers (Prosody and ejabberd from Debian's packages), as a user meets
//! them through the command line: a few cases end as their scenarios expect, the report names
//! the detected versions, and an interrupted run leaves no server process, port or directory
//! behind.
//!
//! Without the servers installed these tests say so and pass, except under CI (`CI` set),
//! where `.ci/run` installs them and a missing server is a failure.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use crate::support::Scratch;
use crate::support::harness;
use crate::support::real::{
    Finished, MANAGED_SERVERS, instance_dirs, read_json, run_harness, servers_installed,
};
use crate::support::turns;
use tokio::sync::mpsc;
use xmpp_interop::pki::Catalogue;
use xmpp_interop::runner::{self, Event, Outcome, RunEnvironment, RunOptions};
use xmpp_interop::scenario::{self, CertificateProfile, KeyType, Transport};
use xmpp_interop::targets::file::load_targets;
use xmpp_interop::targets::managed::{
    Installation, InstanceKey, Instances, ManagedSpec, ServerSoftware,
};

/// Pids of live (not zombie) processes whose command line mentions `marker`.
fn processes_mentioning(marker: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
            state.is_some_and(|s| s != Some('Z'))
        })
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(marker))
        })
        .collect()
}

/// The c2s ports a rendered configuration in `dir` names.
fn configured_ports(dir: &Path) -> Vec<u16> {
    let config = std::fs::read_to_string(dir.join("prosody.cfg.lua"))
        .or_else(|_| std::fs::read_to_string(dir.join("conf/ejabberd.yml")))
        .unwrap_or_default();
    config
        .lines()
        .filter(|l| l.contains("ports = {") || l.trim_start().starts_with("port:"))
        .flat_map(|l| {
            l.split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse::<u16>().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn a_few_cases_end_as_expected_against_both_generations_of_prosody_and_ejabberd_and_the_report_names_their_versions()
 {
    if !servers_installed(
        "a_few_cases_end_as_expected_against_both_generations_of_prosody_and_ejabberd_and_the_report_names_their_versions",
    ) {
        return;
    }
    let _turn = turns::managed_servers_shared();
    let out = Scratch::new("few");
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
            "--jobs",
            "2",
            "--filter",
            "c2s-wrong-password",
            "--filter",
            "c2s-authenticate/direct-tls/",
        ],
        &out,
    );
    let json = read_json(&out, "results.json");
    let implementations = &json["implementations"];
    for (target, _, implementation) in MANAGED_SERVERS {
        assert!(
            implementations[target]
                .as_str()
                .unwrap()
                .starts_with(implementation),
            "{target}: {implementations}"
        );
    }
    let results = json["results"].as_array().unwrap();
    let builtin = results
        .iter()
        .filter(|r| r["target"] == "builtin-server")
        .count();
    assert!(builtin >= 6, "{stdout}");
    for (target, _, _) in MANAGED_SERVERS {
        let mine: Vec<_> = results.iter().filter(|r| r["target"] == target).collect();
        assert_eq!(mine.len(), builtin, "{target}: {stdout}");
        assert!(
            mine.iter()
                .all(|r| r["as_expected"] == true && r["outcome"] != "error"),
            "{target}: {stdout}"
        );
    }
    assert_eq!(instance_dirs(harness_pid), Vec::<PathBuf>::new());
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn sigint_mid_run_leaves_no_server_process_port_or_directory_behind() {
    if !servers_installed("sigint_mid_run_leaves_no_server_process_port_or_directory_behind") {
        return;
    }
    let _turn = turns::managed_servers_shared();
    let out = Scratch::new("sigint");
    let mut harness = harness()
        .args(["run", "scenarios/c2s", "--targets", "targets/local.yaml"])
        .args(["--no-progress", "--jobs", "2", "--timeout", "60"])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let marker = format!("xmpp-interop-{}-", harness.id());
    // Freeze the first managed servers that come up, so that the run is certainly still
    // going (its cases wait for frozen servers) when it is interrupted.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut frozen: Vec<i32> = Vec::new();
    let mut ports: Vec<u16> = Vec::new();
    while frozen.is_empty() || ports.is_empty() {
        assert!(Instant::now() < deadline, "no managed server came up");
        for pid in processes_mentioning(&marker) {
            if !frozen.contains(&pid) {
                send_signal(pid, "STOP");
                frozen.push(pid);
            }
        }
        ports = instance_dirs(harness.id())
            .iter()
            .flat_map(|d| configured_ports(d))
            .collect();
        std::thread::sleep(Duration::from_millis(5));
    }
    let dirs = instance_dirs(harness.id());
    assert!(!dirs.is_empty());
    send_signal(i32::try_from(harness.id()).unwrap(), "INT");
    let status = harness.wait().unwrap();
    assert_eq!(status.code(), Some(130), "harness exit: {status}");
    // SIGKILL to a process group is delivered at once, but the kernel may need a moment to
    // tear down the processes and their sockets.
    let settle = Instant::now() + Duration::from_secs(5);
    while !processes_mentioning(&marker).is_empty() && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(processes_mentioning(&marker), Vec::<i32>::new());
    for port in ports {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert!(
            TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err(),
            "port {port} still accepts connections"
        );
    }
    for dir in dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
    std::fs::remove_dir_all(&out).unwrap();
}

/// Sends a signal with kill(1), so the test needs no unsafe code.
fn send_signal(pid: i32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success() || signal == "STOP", "kill -{signal} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_target_is_reached_with_the_account_and_root_its_targets_file_gives_and_a_wrong_one_fails_the_preflight()
 {
    if !servers_installed(
        "an_external_target_is_reached_with_the_account_and_root_its_targets_file_gives_and_a_wrong_one_fails_the_preflight",
    ) {
        return;
    }
    let _turn = turns::managed_servers_shared_async().await;
    // A Prosody this test runs itself stands in for a participant's server at an interop
    // event: its own domain, its own account, a startcom-style chain.
    let catalogue = Catalogue::new();
    let chain = catalogue
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            "participant.test",
        )
        .unwrap();
    let spec = ManagedSpec {
        software: ServerSoftware::named("prosody").expect("prosody is a known server software"),
        domain: "participant.test".to_owned(),
        startup_timeout: Duration::from_secs(30),
        installation: Installation::host(),
        version: None,
    };
    let key = InstanceKey {
        target: "participant".to_owned(),
        certificate: CertificateProfile::StartcomChain,
        key: KeyType::EcdsaP256,
        client_certificates: false,
    };
    let instances = Instances::new();
    let server = instances
        .get(&spec, &key, &chain, ("bob", "bobs-password"), None)
        .await
        .unwrap();
    let dir = Scratch::new("external");
    std::fs::write(dir.join("participant-root.pem"), &chain.pem.root).unwrap();
    std::fs::write(
        dir.join("targets.yaml"),
        format!(
            "targets:\n  - name: participant\n    kind: server\n    external:\n      host: 127.0.0.1\n      starttls-port: {}\n      direct-tls-port: {}\n      domain: participant.test\n      account: {{ jid: bob@participant.test, password: bobs-password }}\n      root: participant-root.pem\n      certificate: {{ profile: startcom-chain }}\n",
            server.address(Transport::Starttls).unwrap().port(),
            server.address(Transport::DirectTls).unwrap().port()
        ),
    )
    .unwrap();
    let targets = load_targets(&dir.join("targets.yaml")).unwrap();
    let scenarios = scenario::load_path(Path::new("scenarios/c2s")).unwrap();
    let filters: Vec<String> = [
        "c2s-wrong-password/plain",
        "c2s-wrong-password/scram-sha-256",
        "c2s-authenticate/starttls/scram-sha-256",
        "c2s-authenticate/direct-tls/plain",
        "c2s-certificate-chains/starttls/self-signed",
    ]
    .map(str::to_owned)
    .to_vec();
    let plan = runner::plan(&scenarios, &targets, &filters);
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let options = RunOptions {
        jobs: 2,
        timeout: Duration::from_secs(10),
        case_timeout: runner::default_case_timeout(Duration::from_secs(10)),
    };
    let environment = Arc::new(RunEnvironment::new(Duration::from_secs(10)));
    tokio::spawn(runner::run(plan, options, environment, sender));
    let mut results = Vec::new();
    while let Some(event) = receiver.recv().await {
        if let Event::CaseFinished(result) = event {
            results.push(result);
        }
    }
    // The five asked for, and the positive control of the wrong-password case.
    assert_eq!(results.len(), 6);
    for result in &results {
        if result.case.certificate == CertificateProfile::StartcomChain {
            assert_eq!(
                result.outcome,
                Outcome::Pass,
                "{}: {}",
                result.case.id,
                result.observed
            );
        } else {
            assert_eq!(result.outcome, Outcome::Skip, "{}", result.case.id);
            assert!(
                result.observed.contains("presents its startcom-chain"),
                "{}",
                result.observed
            );
        }
    }
    // The pre-flight logs in once; a mistake in the targets file is one misconfiguration
    // naming what to check, not a column of verdicts.
    let targets_yaml = std::fs::read_to_string(dir.join("targets.yaml")).unwrap();
    let preflight = |yaml: String| {
        let dir = &dir;
        let scenarios = &scenarios;
        let filters = &filters;
        async move {
            std::fs::write(dir.join("preflight.yaml"), yaml).unwrap();
            let targets = load_targets(&dir.join("preflight.yaml")).unwrap();
            let plan = runner::plan(scenarios, &targets, filters);
            let options = RunOptions {
                jobs: 2,
                timeout: Duration::from_secs(10),
                case_timeout: runner::default_case_timeout(Duration::from_secs(10)),
            };
            let environment = Arc::new(RunEnvironment::new(Duration::from_secs(10)));
            runner::preflight::check(&plan, options, environment).await
        }
    };
    assert_eq!(preflight(targets_yaml.clone()).await, Vec::new());
    let other_root = Catalogue::new()
        .chain(
            CertificateProfile::StartcomChain,
            KeyType::EcdsaP256,
            "participant.test",
        )
        .unwrap();
    std::fs::write(dir.join("other-root.pem"), &other_root.pem.root).unwrap();
    let wrong_root =
        preflight(targets_yaml.replace("participant-root.pem", "other-root.pem")).await;
    assert_eq!(wrong_root.len(), 1, "{wrong_root:?}");
    assert!(
        wrong_root[0].problem.contains("check that `root`"),
        "{}",
        wrong_root[0]
    );
    let wrong_password = preflight(targets_yaml.replace("bobs-password", "not-bobs")).await;
    assert_eq!(wrong_password.len(), 1, "{wrong_password:?}");
    assert!(
        wrong_password[0]
            .problem
            .contains("the account's JID and password"),
        "{}",
        wrong_password[0]
    );
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}
