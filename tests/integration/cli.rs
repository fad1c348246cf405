//! The command line as a user meets it: exit codes, error messages, report files.

use crate::support::Scratch;
use crate::support::{harness, output_text};

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn a_bad_scenario_file_exits_2_naming_file_line_and_column() {
    let dir = Scratch::new("bad");
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "id: bad\ntitle: t\nspec: [RFC 6120 §5]\nrole: client\ntransport: tls\ncertificate: self-signed\nsasl:\n  mechanism: PLAIN\nexpect: authenticated\n",
    )
    .unwrap();
    let output = harness()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let (_, stderr) = output_text(&output);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(&format!("{}:5:12", file.display())),
        "stderr: {stderr}"
    );
}

#[test]
fn an_unknown_option_is_a_usage_error_with_exit_code_2() {
    let output = harness()
        .args(["run", "--no-such-option"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn help_documents_every_exit_code() {
    for args in [&["--help"][..], &["run", "--help"][..]] {
        let output = harness().args(args).output().unwrap();
        let (stdout, _) = output_text(&output);
        assert!(output.status.success());
        for code in [
            "0  every case",
            "1  at least one case failed",
            "2  usage error",
            "3  harness or environment error",
        ] {
            assert!(stdout.contains(code), "{args:?} lacks {code:?}:\n{stdout}");
        }
    }
    let output = harness().args(["run", "--help"]).output().unwrap();
    let (stdout, _) = output_text(&output);
    for option in ["--out", "--jobs", "--timeout", "--filter", "--no-progress"] {
        assert!(stdout.contains(option), "run --help lacks {option}");
    }
}

/// The exit codes each "Exit codes" block of `args --help` lists, block by block.
fn documented_exit_codes(args: &[&str]) -> Vec<Vec<u8>> {
    let output = harness().args(args).arg("--help").output().unwrap();
    let (stdout, stderr) = output_text(&output);
    assert!(output.status.success(), "{args:?}: {stderr}");
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for line in stdout.lines() {
        if line.starts_with("Exit codes") {
            blocks.push(Vec::new());
            continue;
        }
        let (Some(block), Some(listed)) = (blocks.last_mut(), line.strip_prefix("  ")) else {
            continue;
        };
        let Some((codes, _meaning)) = listed.split_once("  ") else {
            continue;
        };
        let codes: Result<Vec<u8>, _> = codes.split(", ").map(str::parse).collect();
        if let Ok(codes) = codes {
            block.extend(codes);
        }
    }
    blocks
}

#[test]
fn every_subcommands_help_lists_exactly_the_exit_codes_it_returns() {
    let run_codes = vec![0, 1, 2, 3, 130, 143];
    for (args, expected) in [
        (&["run"][..], vec![run_codes.clone()]),
        (&["list"][..], vec![vec![0, 2]]),
        (&["pki", "generate"][..], vec![vec![0, 2, 3]]),
        (&["pki", "show"][..], vec![vec![0, 2]]),
        (
            &["certify"][..],
            vec![run_codes.clone(), vec![0, 1, 2], vec![0, 2, 3]],
        ),
        (&["certify", "verify"][..], vec![vec![0, 1, 2]]),
        (&["certify", "keygen"][..], vec![vec![0, 2, 3]]),
        (&["diff"][..], vec![vec![0, 1, 2]]),
        (&["merge"][..], vec![vec![0, 1, 2, 3]]),
        (&["pairs"][..], vec![run_codes.clone()]),
    ] {
        assert_eq!(documented_exit_codes(args), expected, "{args:?} --help");
    }
}

#[test]
fn list_prints_every_expanded_case_without_running_anything() {
    let output = harness().args(["list", "scenarios"]).output().unwrap();
    let (stdout, stderr) = output_text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("c2s-authenticate/direct-tls/scram-sha-256"));
    assert!(stdout.contains("rejected at tls by harness (bad-certificate)"));
    // The tls column names the stack (and the versions when a scenario restricts them).
    let tls_unique = stdout
        .lines()
        .find(|l| l.contains("c2s-scram-plus-tls-unique/scram-sha-256-plus"))
        .unwrap();
    assert!(tls_unique.contains("openssl TLS1.2"), "{tls_unique}");
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.ends_with("scenarios") && summary.contains(" cases from "),
        "{summary}"
    );
}

#[test]
fn run_writes_junit_json_and_redacted_transcripts_into_the_out_dir() {
    let dir = Scratch::new("run");
    let out = dir.join("reports");
    let output = harness()
        .args([
            "run",
            "scenarios",
            "--filter",
            "c2s-authenticate/starttls",
            "--filter",
            "client-scram-server-signature",
            "--out",
        ])
        .arg(&out)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let (stdout, stderr) = output_text(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.contains("builtin-server"), "{stdout}");
    assert!(
        !stdout.contains('\u{1b}'),
        "NO_COLOR must give plain output"
    );
    // 7 asked for (4 mechanisms of c2s-authenticate over STARTTLS, 3 of
    // client-scram-server-signature), and the 3 positive controls of the latter.
    assert!(stdout.contains("10 cases in"), "{stdout}");

    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("<testsuite") && junit.contains("name=\"builtin-server\""));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 10);
    for result in results {
        for field in [
            "scenario",
            "target",
            "outcome",
            "step",
            "expected",
            "observed",
            "duration_ms",
        ] {
            assert!(!result[field].is_null(), "{field} missing in {result}");
        }
        assert_eq!(result["outcome"], "pass");
        let transcript = out.join(result["transcript"].as_str().unwrap());
        let trace = std::fs::read_to_string(&transcript).unwrap();
        assert!(
            !trace.contains("pw-"),
            "a password leaked into {}",
            transcript.display()
        );
        assert!(
            trace.contains("TLS established"),
            "{}",
            transcript.display()
        );
    }
    let plain = std::fs::read_to_string(
        out.join("transcripts/builtin-server/c2s-authenticate_starttls_plain.txt"),
    )
    .unwrap();
    assert!(plain.contains("[redacted]"), "{plain}");
    let keys = walk(&out.join("pki"))
        .into_iter()
        .filter(|p| p.ends_with("key.pem"))
        .collect::<Vec<_>>();
    assert!(!keys.is_empty());
    #[cfg(unix)]
    for key in keys {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", key.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn a_recorded_deviation_that_no_longer_happens_fails_the_run_as_xpass_with_exit_code_1() {
    let dir = Scratch::new("xpass");
    let expectations = dir.join("expectations");
    std::fs::create_dir_all(&expectations).unwrap();
    std::fs::write(
        expectations.join("builtin-server.yaml"),
        "c2s-wrong-password/plain:\n  outcome: fail\n  clause: RFC 6120 §6.5.10\n  reason: pretend the server accepted wrong passwords\n",
    )
    .unwrap();
    let output = harness()
        .args(["run", "scenarios/c2s/wrong-password.yaml", "--no-progress"])
        .arg("--expectations")
        .arg(&expectations)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let (stdout, stderr) = output_text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("XPASS"), "{stdout}");
    assert!(stdout.contains("1 unexpected pass (xpass)"), "{stdout}");
    let json = std::fs::read_to_string(dir.join("out/results.json")).unwrap();
    assert!(json.contains("\"expected_deviation\""), "{json}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_targets_file_exits_2_naming_file_line_and_column() {
    let dir = Scratch::new("targets");
    let file = dir.join("targets.yaml");
    std::fs::write(&file, "targets:\n  - name: x\n    builtin: sever\n").unwrap();
    let output = harness()
        .args(["run", "scenarios/c2s/wrong-password.yaml", "--targets"])
        .arg(&file)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let (_, stderr) = output_text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("targets.yaml:3:14"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `run ARGS --targets <file with targets_yaml> --out <dir>/reports` in a fresh scratch
/// directory; returns the exit code, the parsed `results.json`, and stdout and stderr.
fn run_with_targets(
    name: &str,
    targets_yaml: &str,
    args: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    let dir = Scratch::new(name);
    let targets = dir.join("targets.yaml");
    std::fs::write(&targets, targets_yaml).unwrap();
    let out = dir.join("reports");
    let output = harness()
        .arg("run")
        .args(args)
        .arg("--targets")
        .arg(&targets)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let (stdout, stderr) = output_text(&output);
    let json = std::fs::read_to_string(out.join("results.json"))
        .map(|text| serde_json::from_str(&text).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (
        output.status.code(),
        json,
        format!("stdout: {stdout}\nstderr: {stderr}"),
    )
}

/// A client command that cannot be run (shell exit 127) tells nothing about a client: the case
/// is an `error` and the run exits 3, never a `fail` of the target.
#[test]
fn a_client_command_that_is_not_installed_is_an_error_not_a_fail() {
    let (code, json, output) = run_with_targets(
        "missing-client",
        "targets:\n  - name: missing-client\n    kind: client\n    command:\n      argv: [sh, -c, \"exec no-such-xmpp-client-installed {jid}\"]\n      timeout: 5\n",
        &[
            "scenarios/client/authenticate.yaml",
            "--filter",
            "client-authenticate/starttls/startcom-chain/plain",
        ],
    );
    assert_eq!(code, Some(3), "{output}");
    assert_eq!(json["results"][0]["outcome"], "error");
    assert!(
        json["results"][0]["observed"]
            .as_str()
            .unwrap()
            .contains("exit 127"),
        "{}",
        json["results"][0]["observed"]
    );
}

#[test]
fn a_client_killed_at_its_time_limit_is_a_timeout_not_a_refusal() {
    // A "client" that opens the stream and then hangs: when the harness kills it at its limit,
    // the connection closes, but the client refused nothing. The case must show a timeout
    // (which meets no expectation) rather than "rejected by target (closed)", which would pass
    // every scenario that wants the client to give up.
    let (code, json, output) = run_with_targets(
        "hanging-client",
        "targets:\n  - name: hanging-client\n    kind: client\n    command:\n      argv:\n        - bash\n        - -c\n        - >-\n          exec 3<>/dev/tcp/{host}/{port};\n          printf '%s' \"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='{domain}' version='1.0'>\" >&3;\n          sleep 60\n      timeout: 1\n",
        &["scenarios/client/strip-starttls.yaml"],
    );
    assert_eq!(code, Some(1), "{output}");
    let results = json["results"].as_array().unwrap();
    assert!(!results.is_empty());
    // The positive controls end on the timeout: a fail for SCRAM-SHA-256, a warn for PLAIN
    // (RFC 6120 §13.8.3: clients SHOULD implement PLAIN over TLS); the stripped-STARTTLS cases
    // whose controls did not pass say nothing, so they are inconclusive rather than passed.
    for result in results {
        let case = result["scenario"].as_str().unwrap();
        let expected = if case.starts_with("client-strip-starttls") {
            "inconclusive"
        } else if case.ends_with("/plain") {
            "warn"
        } else {
            "fail"
        };
        assert_eq!(result["outcome"], expected, "{result}");
        let observed = result["observed"].as_str().unwrap();
        assert!(
            observed.contains("(timeout)") && observed.contains("killed by the harness"),
            "{observed}"
        );
    }
}

/// A targets file with one command client that opens its stream and then hangs, killed at its
/// one-second limit: every client case of `scenarios/` takes about a second, so a run of them
/// with `--jobs 1` takes minutes, and is still running when the tests below stop it.
const HANGING_CLIENT_TARGETS: &str = "targets:\n  - name: hanging-client\n    kind: client\n    command:\n      argv:\n        - bash\n        - -c\n        - >-\n          exec 3<>/dev/tcp/{host}/{port};\n          printf '%s' \"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='{domain}' version='1.0'>\" >&3;\n          sleep 60\n      timeout: 1\n";

/// Starts `run scenarios/` against the hanging client in the background, with `extra` args;
/// returns the child and the report directory.
/// The run's reports go to `reports/` in the returned scratch directory, which is removed
/// when the caller drops it.
fn start_hanging_run(name: &str, extra: &[&str]) -> (std::process::Child, Scratch) {
    let dir = Scratch::new(name);
    let targets = dir.join("targets.yaml");
    std::fs::write(&targets, HANGING_CLIENT_TARGETS).unwrap();
    let out = dir.join("reports");
    let child = harness()
        .args([
            "run",
            "scenarios/",
            "--jobs",
            "1",
            "--no-progress",
            "--targets",
        ])
        .arg(&targets)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    (child, dir)
}

/// How many transcripts (finished cases) the run has written so far.
fn transcripts_written(out: &Path) -> usize {
    let Ok(targets) = std::fs::read_dir(out.join("transcripts")) else {
        return 0;
    };
    targets
        .flatten()
        .filter_map(|dir| std::fs::read_dir(dir.path()).ok())
        .map(|files| files.count())
        .sum()
}

/// Waits for `child` to exit, at most `limit`; kills it and fails the test when it does not.
fn wait_at_most(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run did not exit within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The parsed `results.json` of an interrupted run, after checking that every other report is
/// there and that the JSON is valid against the schema (when python3-jsonschema is installed).
fn reports_of_interrupted_run(out: &Path, output: &str) -> serde_json::Value {
    for report in ["results.json", "junit.xml", "index.html", "summary.md"] {
        assert!(out.join(report).is_file(), "{report} missing; {output}");
    }
    let has_jsonschema = Command::new("/usr/bin/python3")
        .args(["-c", "import jsonschema"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_jsonschema {
        let check = Command::new("/usr/bin/python3")
            .args([
                "-c",
                "import json, sys, jsonschema\n\
                 schema = json.load(open(sys.argv[1]))\n\
                 jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(json.load(open(sys.argv[2])))",
                "schemas/results.schema.json",
            ])
            .arg(out.join("results.json"))
            .output()
            .unwrap();
        let (stdout, stderr) = output_text(&check);
        assert!(check.status.success(), "{stdout}{stderr}");
    } else {
        eprintln!("note: python3-jsonschema is not installed; results.json only parsed");
    }
    serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
}

/// Starts the hanging run, waits until a case finished, sends `signal`; returns the exit
/// status, how many cases had finished before the signal, how long the run took to exit after
/// it, the scratch directory (reports in `reports/`) and the output.
fn interrupt_hanging_run(
    name: &str,
    signal: i32,
) -> (
    std::process::ExitStatus,
    usize,
    std::time::Duration,
    Scratch,
    String,
) {
    let (mut child, dir) = start_hanging_run(name, &[]);
    let out = dir.join("reports");
    let started = std::time::Instant::now();
    while transcripts_written(&out) == 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no case finished within 60 s"
        );
        if child.try_wait().unwrap().is_some() {
            panic!("the run ended before it could be interrupted");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let finished_before_signal = transcripts_written(&out);
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped yet.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let signalled = std::time::Instant::now();
    let status = wait_at_most(&mut child, std::time::Duration::from_secs(20));
    let stopped_after = signalled.elapsed();
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr) = output_text(&output);
    (
        status,
        finished_before_signal,
        stopped_after,
        dir,
        format!("stdout: {stdout}\nstderr: {stderr}"),
    )
}

/// `kill -TERM` on a running `run` (a CI job killed at its time limit) still writes every
/// report: the cases that finished with their verdicts, every other planned case as
/// `not-run` ("interrupted by SIGTERM"); the run exits 143 soon after the signal.
#[test]
fn sigterm_on_a_running_run_writes_every_report_with_the_unfinished_cases_not_run() {
    let (status, finished_before_signal, stopped_after, dir, output) =
        interrupt_hanging_run("sigterm", libc::SIGTERM);
    let out = dir.join("reports");
    assert_eq!(status.code(), Some(143), "{output}");
    assert!(
        stopped_after < std::time::Duration::from_secs(10),
        "exited {stopped_after:?} after SIGTERM; {output}"
    );
    let json = reports_of_interrupted_run(&out, &output);
    assert_eq!(json["interrupted"], "interrupted by SIGTERM", "{output}");
    let results = json["results"].as_array().unwrap();
    let not_run: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r["outcome"] == "not-run")
        .collect();
    let finished = results.len() - not_run.len();
    assert!(
        finished >= finished_before_signal,
        "{finished} finished cases in results.json, {finished_before_signal} transcripts before the signal"
    );
    assert!(!not_run.is_empty(), "nothing was left to interrupt");
    for record in &not_run {
        let observed = record["observed"].as_str().unwrap();
        assert!(observed.contains("interrupted by SIGTERM"), "{observed}");
        assert_eq!(record["as_expected"], false, "{record}");
    }
    assert!(
        results
            .iter()
            .filter(|r| r["outcome"] != "not-run")
            .all(|r| r["outcome"] != "pass" || r["as_expected"] == true)
    );
    assert_eq!(json["summary"]["not_run"], not_run.len());
    // Every planned case is in the report once: finished or not run, none lost. The plan is
    // the server-role cases of `list` (the harness plays the server for a client target)
    // that are not self-tests of the built-in targets; at least that many are expected.
    let mut cells: Vec<(&str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["scenario"].as_str().unwrap(),
                r["target"].as_str().unwrap(),
            )
        })
        .collect();
    cells.sort_unstable();
    cells.dedup();
    assert_eq!(cells.len(), results.len(), "a case is reported twice");
    assert!(results.len() > 100, "only {} cases reported", results.len());
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert_eq!(
        junit.matches("<skipped type=\"not-run\"").count(),
        not_run.len(),
        "{junit}"
    );
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("**Interrupted** (interrupted by SIGTERM)"),
        "{summary}"
    );
    assert!(summary.contains("## Not run (interrupted)"), "{summary}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("\"interrupted\":\"interrupted by SIGTERM\""));
    assert!(output.contains("NOT RUN @ hanging-client"), "{output}");
}

/// `run --deadline 2s` on a run that would take minutes stops it about two seconds in: the
/// running case is cancelled, every report is written with the unfinished cases `not-run`
/// ("run deadline reached"), and the run exits 3 (the harness could not run every case).
#[test]
fn a_run_deadline_cancels_the_rest_writes_every_report_and_exits_3() {
    let (mut child, dir) = start_hanging_run("deadline", &["--deadline", "2s"]);
    let out = dir.join("reports");
    let started = std::time::Instant::now();
    let status = wait_at_most(&mut child, std::time::Duration::from_secs(30));
    let took = started.elapsed();
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr) = output_text(&output);
    let output = format!("stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(status.code(), Some(3), "{output}");
    assert!(
        took < std::time::Duration::from_secs(10),
        "took {took:?}; {output}"
    );
    let json = reports_of_interrupted_run(&out, &output);
    assert_eq!(json["interrupted"], "run deadline reached (2s)", "{output}");
    let results = json["results"].as_array().unwrap();
    let not_run = results
        .iter()
        .filter(|r| r["outcome"] == "not-run")
        .inspect(|r| {
            let observed = r["observed"].as_str().unwrap();
            assert!(observed.contains("run deadline reached"), "{observed}");
        })
        .count();
    assert!(not_run > 0, "{output}");
    assert!(not_run < results.len() || results.len() > 1, "{output}");
    // The case running at the deadline was cancelled, not left to finish.
    assert!(
        results.iter().any(|r| r["outcome"] == "not-run"
            && r["observed"]
                .as_str()
                .is_some_and(|o| o.contains("while the case was running"))),
        "{output}"
    );
}

/// `--deadline` takes a simple duration (`90s`, `20m`, `1h`); anything else is a usage error,
/// and `run --help` documents the option and exit code 3 for a deadline that was reached.
#[test]
fn a_deadline_that_is_not_a_duration_is_a_usage_error_and_help_documents_it() {
    let output = harness()
        .args(["run", "scenarios/", "--deadline", "soon"])
        .output()
        .unwrap();
    let (_, stderr) = output_text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--deadline"), "{stderr}");
    let help = harness().args(["run", "--help"]).output().unwrap();
    let (help, _) = output_text(&help);
    assert!(help.contains("--deadline <DURATION>"), "{help}");
    assert!(help.contains("`--deadline` was reached"), "{help}");
    assert!(help.contains("130, 143"), "{help}");
}

/// Ctrl-C (SIGINT) is an interruption like SIGTERM: every report is written with the
/// unfinished cases `not-run` ("interrupted by SIGINT"), and the run exits 130.
#[test]
fn sigint_on_a_running_run_writes_every_report_and_exits_130() {
    let (status, _, _, dir, output) = interrupt_hanging_run("sigint", libc::SIGINT);
    let out = dir.join("reports");
    assert_eq!(status.code(), Some(130), "{output}");
    let json = reports_of_interrupted_run(&out, &output);
    assert_eq!(json["interrupted"], "interrupted by SIGINT", "{output}");
    assert!(json["summary"]["not_run"].as_u64().unwrap() > 0, "{output}");
}

/// A `prosodyctl` that registers nothing and a `prosody` that never listens: a pair of them
/// hangs while its servers start, until the harness is stopped. `prosody` leaves `started`
/// beside itself, so that a test knows the pair is running.
fn never_listening_prosody(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let scripts = [
        ("prosodyctl", "#!/bin/sh\nexit 0\n".to_owned()),
        (
            "prosody",
            format!(
                "#!/bin/sh\n: > '{}'\nexec /bin/sleep 600\n",
                bin.join("started").display()
            ),
        ),
    ];
    for (name, script) in scripts {
        let path = bin.join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

#[test]
fn sigterm_during_pairs_writes_every_report_with_the_unfinished_pairs_not_run() {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    if !hosts.contains("prosody-peer.test") {
        eprintln!(
            "note: /etc/hosts does not map the federation domains (fixtures/federation-hosts); skipped"
        );
        return;
    }
    // pairs claims the fixed federation addresses, as the federation tests do.
    let _turn = crate::support::turns::managed_servers_alone();
    let dir = Scratch::new("pairs-sigterm");
    let bin = never_listening_prosody(&dir);
    let targets = dir.join("targets.yaml");
    std::fs::write(
        &targets,
        "targets:\n  - name: prosody\n    kind: server\n    managed: { software: prosody, domain: prosody.test }\n",
    )
    .unwrap();
    let out = dir.join("reports");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = harness()
        .args([
            "pairs",
            "--profile",
            "valid-chain",
            "--profile",
            "self-signed",
        ])
        .arg("--targets")
        .arg(&targets)
        .arg("--out")
        .arg(&out)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !bin.join("started").exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "no server started within 120 s"
        );
        if child.try_wait().unwrap().is_some() {
            let (stdout, stderr) = output_text(&child.wait_with_output().unwrap());
            panic!("pairs ended before it could be interrupted: {stdout}{stderr}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped yet.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = wait_at_most(&mut child, std::time::Duration::from_secs(20));
    let (stdout, stderr) = output_text(&child.wait_with_output().unwrap());
    let output = format!("stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(status.code(), Some(143), "{output}");
    let results = reports_of_interrupted_run(&out, &output);
    assert_eq!(results["interrupted"], "interrupted by SIGTERM", "{output}");
    let cells = results["results"].as_array().unwrap();
    // One pair (prosody with itself), two profiles, two directions.
    assert_eq!(cells.len(), 4, "{output}");
    for cell in cells {
        assert_eq!(cell["outcome"], "not-run", "{cell}");
        assert_eq!(cell["observed"], "interrupted by SIGTERM", "{cell}");
    }
    let pairs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("pairs.json")).unwrap()).unwrap();
    assert_eq!(pairs["pairs"].as_array().unwrap().len(), 4, "{output}");
    assert!(
        std::fs::read_to_string(out.join("pairs.md"))
            .unwrap()
            .contains("| prosody.test → prosody-peer.test | NOT RUN | NOT RUN |"),
        "{output}"
    );
    assert!(
        stdout.contains("4 messages: 0 as expected, 4 not"),
        "{output}"
    );
}
