//! The command line as a user meets it: exit codes, error messages, report files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xmpp-interop"))
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xmpp-interop-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bad_scenario_file_exits_2_naming_file_line_and_column() {
    let dir = scratch_dir("bad");
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "id: bad\ntitle: t\nspec: [RFC 6120 §5]\nrole: client\ntransport: tls\ncertificate: self-signed\nsasl:\n  mechanism: PLAIN\nexpect: authenticated\n",
    )
    .unwrap();
    let output = binary()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(&format!("{}:5:12", file.display())),
        "stderr: {stderr}"
    );
}

#[test]
fn an_unknown_option_is_a_usage_error_with_exit_code_2() {
    let output = binary().args(["run", "--no-such-option"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn help_documents_every_exit_code() {
    for args in [&["--help"][..], &["run", "--help"][..]] {
        let output = binary().args(args).output().unwrap();
        let (stdout, _) = text(&output);
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
    let output = binary().args(["run", "--help"]).output().unwrap();
    let (stdout, _) = text(&output);
    for option in ["--out", "--jobs", "--timeout", "--filter", "--no-progress"] {
        assert!(stdout.contains(option), "run --help lacks {option}");
    }
}

#[test]
fn list_prints_every_expanded_case_without_running_anything() {
    let output = binary().args(["list", "scenarios"]).output().unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("c2s-authenticate/direct-tls/startcom-chain/scram-sha-256"));
    assert!(stdout.contains("rejected at tls by harness (bad-certificate)"));
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.ends_with("scenarios") && summary.contains(" cases from "),
        "{summary}"
    );
}

#[test]
fn run_writes_junit_json_and_redacted_transcripts_into_the_out_dir() {
    let dir = scratch_dir("run");
    let out = dir.join("reports");
    let output = binary()
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
    let (stdout, stderr) = text(&output);
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
    // 15 asked for, and the 3 positive controls of client-scram-server-signature.
    assert!(stdout.contains("18 cases in"), "{stdout}");

    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("<testsuite") && junit.contains("name=\"builtin-server\""));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 18);
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
        out.join("transcripts/builtin-server/c2s-authenticate_starttls_startcom-chain_plain.txt"),
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
    let dir = scratch_dir("xpass");
    let expectations = dir.join("expectations");
    std::fs::create_dir_all(&expectations).unwrap();
    std::fs::write(
        expectations.join("builtin-server.yaml"),
        "c2s-wrong-password/plain:\n  outcome: fail\n  clause: RFC 6120 §6.5.10\n  reason: pretend the server accepted wrong passwords\n",
    )
    .unwrap();
    let output = binary()
        .args(["run", "scenarios/c2s/wrong-password.yaml", "--no-progress"])
        .arg("--expectations")
        .arg(&expectations)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("XPASS"), "{stdout}");
    assert!(stdout.contains("1 unexpected pass (xpass)"), "{stdout}");
    let json = std::fs::read_to_string(dir.join("out/results.json")).unwrap();
    assert!(json.contains("\"expected_deviation\""), "{json}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_targets_file_exits_2_naming_file_line_and_column() {
    let dir = scratch_dir("targets");
    let file = dir.join("targets.yaml");
    std::fs::write(&file, "targets:\n  - name: x\n    builtin: sever\n").unwrap();
    let output = binary()
        .args(["run", "scenarios/c2s/wrong-password.yaml", "--targets"])
        .arg(&file)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
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
    let dir = scratch_dir(name);
    let targets = dir.join("targets.yaml");
    std::fs::write(&targets, targets_yaml).unwrap();
    let out = dir.join("reports");
    let output = binary()
        .arg("run")
        .args(args)
        .arg("--targets")
        .arg(&targets)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
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
