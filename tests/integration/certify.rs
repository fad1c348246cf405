//! `xmpp-interop certify` as a certifier and a checker use it: a shipped profile against the
//! built-in target passes; a signed certificate verifies, and stops verifying when a result, a
//! scenario file or the key changes; a profile naming an unknown scenario is a usage error at
//! its line and column; a required case that skips does not make a pass.

use crate::support::Scratch;
use crate::support::harness;

use std::path::{Path, PathBuf};
use std::process::Output;

fn text(output: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Copies the shipped scenario files into `dir/scenarios`, so tests can change them.
fn copy_scenarios(dir: &Path) -> PathBuf {
    let root = dir.join("scenarios");
    for sub in ["c2s", "client"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
        for entry in std::fs::read_dir(Path::new("scenarios").join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), root.join(sub).join(entry.file_name())).unwrap();
        }
    }
    root
}

fn keygen(dir: &Path) -> (PathBuf, PathBuf) {
    let output = harness()
        .args(["certify", "keygen", "--out"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    (
        dir.join("certify-signing-key.pem"),
        dir.join("certify-signing-key.pub.pem"),
    )
}

fn certify(
    profile: &str,
    target: &str,
    scenarios: &Path,
    out: &Path,
    key: Option<&Path>,
) -> Output {
    let mut command = harness();
    command
        .args([
            "certify",
            "--profile",
            profile,
            "--target",
            target,
            "--scenarios",
        ])
        .arg(scenarios)
        .arg("--out")
        .arg(out);
    if let Some(key) = key {
        command.arg("--signing-key").arg(key);
    }
    command.output().unwrap()
}

fn verify(certificate: &Path, public: &Path, root: &Path) -> Output {
    harness()
        .args(["certify", "verify"])
        .arg(certificate)
        .arg("--public-key")
        .arg(public)
        .arg("--scenarios-root")
        .arg(root)
        .output()
        .unwrap()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_shipped_profile_against_the_builtin_server_passes_and_is_written_as_json_and_html() {
    let dir = Scratch::new("builtin");
    let out = dir.join("out");
    let output = certify(
        "profiles/c2s-tls-sasl.yaml",
        "builtin-server",
        Path::new("scenarios"),
        &out,
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let certificate = read_json(&out.join("certificate.json"));
    let body = &certificate["body"];
    assert_eq!(body["verdict"], "pass");
    assert_eq!(body["profile"]["name"], "c2s-tls-sasl");
    assert_eq!(body["profile"]["version"], "2.0.0");
    assert_eq!(body["target"]["name"], "builtin-server");
    assert!(certificate["signature"].is_null());
    let results = body["results"].as_array().unwrap();
    assert!(results.len() > 20, "{}", results.len());
    assert!(
        results
            .iter()
            .all(|r| r["outcome"] == "pass" && r["as_expected"] == true)
    );
    // Exactly the profile's scenarios ran: no SCRAM-SHA-512 case, which it leaves out.
    assert!(
        results
            .iter()
            .all(|r| !r["case"].as_str().unwrap().contains("sha-512"))
    );
    let files: Vec<&str> = body["scenario_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"c2s/authenticate.yaml"), "{files:?}");
    let html = std::fs::read_to_string(out.join("certificate.html")).unwrap();
    assert!(html.contains("PASS") && html.contains("c2s-authenticate/starttls/plain"));
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
}

#[test]
fn a_signed_certificate_verifies_and_any_change_or_another_key_invalidates_it() {
    let dir = Scratch::new("sign");
    let scenarios = copy_scenarios(&dir);
    let (private, public) = keygen(&dir.join("key"));
    let (_, other_public) = keygen(&dir.join("other-key"));
    let out = dir.join("out");
    let output = certify(
        "profiles/scram-channel-binding.yaml",
        "builtin-server",
        &scenarios,
        &out,
        Some(&private),
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let certificate = out.join("certificate.json");

    let output = verify(&certificate, &public, &scenarios);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    // Another key: invalid.
    let output = verify(&certificate, &other_public, &scenarios);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("signature does not match"));

    // A result changed after signing: invalid.
    let mut tampered = read_json(&certificate);
    tampered["body"]["results"][0]["outcome"] = "fail".into();
    let tampered_path = dir.join("tampered.json");
    std::fs::write(
        &tampered_path,
        serde_json::to_vec_pretty(&tampered).unwrap(),
    )
    .unwrap();
    let output = verify(&tampered_path, &public, &scenarios);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("signature does not match"));

    // The same document re-indented is still valid: the signature covers canonical bytes.
    let compact_path = dir.join("compact.json");
    std::fs::write(
        &compact_path,
        serde_json::to_vec(&read_json(&certificate)).unwrap(),
    )
    .unwrap();
    let output = verify(&compact_path, &public, &scenarios);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    // A scenario file changed after signing: invalid, naming the file.
    let changed = scenarios.join("c2s/scram-downgrade-flag.yaml");
    let mut yaml = std::fs::read_to_string(&changed).unwrap();
    yaml.push_str("# edited\n");
    std::fs::write(&changed, yaml).unwrap();
    let output = verify(&certificate, &public, &scenarios);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("scram-downgrade-flag.yaml changed"),
        "{}",
        text(&output)
    );

    // Bad input: exit 2.
    let output = verify(&private, &public, &scenarios);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let output = verify(&certificate, &private, &scenarios);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}

#[test]
fn an_unsigned_certificate_is_invalid() {
    let dir = Scratch::new("unsigned");
    let (_, public) = keygen(&dir.join("key"));
    let out = dir.join("out");
    let output = certify(
        "profiles/client-certificate-validation.yaml",
        "builtin-client",
        Path::new("scenarios"),
        &out,
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let output = verify(
        &out.join("certificate.json"),
        &public,
        Path::new("scenarios"),
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("not signed"));
}

#[test]
fn a_profile_naming_an_unknown_scenario_exits_2_with_file_line_and_column() {
    let dir = Scratch::new("unknown");
    let profile = dir.join("bad.yaml");
    std::fs::write(
        &profile,
        "name: bad\ntitle: Bad\nversion: 0.1.0\ntarget: server\nrequire:\n  - scenario: c2s-wrong-password\n  - scenario: c2s-does-not-exist\n",
    )
    .unwrap();
    let output = certify(
        profile.to_str().unwrap(),
        "builtin-server",
        Path::new("scenarios"),
        &dir.join("out"),
        None,
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains(&format!(
            "{}:7:15: scenario or case id `c2s-does-not-exist` matches nothing",
            profile.display()
        )),
        "{}",
        text(&output)
    );
    assert!(!dir.join("out/certificate.json").exists());
}

#[test]
fn a_required_case_that_skips_makes_the_certificate_incomplete_not_pass() {
    // A server without SCRAM-SHA-1-PLUS over TLS 1.3 breaks no rule (RFC 9266 §3): the
    // mandatory-to-implement -PLUS case is skipped against it.
    let dir = Scratch::new("skip");
    let targets = dir.join("targets.yaml");
    std::fs::write(
        &targets,
        "targets:\n  - name: no-plus\n    builtin: server\n    features: { mechanisms: [SCRAM-SHA-1] }\n",
    )
    .unwrap();
    let profile = dir.join("no-plus.yaml");
    let required = "c2s-mandatory-to-implement/scram-sha-1-plus";
    std::fs::write(
        &profile,
        format!("name: no-plus\ntitle: T\nversion: 1.0.0\ntarget: server\nrequire:\n  - scenario: {required}\n"),
    )
    .unwrap();
    let out = dir.join("out");
    let certify_no_plus = || {
        harness()
            .args(["certify", "--profile"])
            .arg(&profile)
            .args(["--target", "no-plus", "--targets"])
            .arg(&targets)
            .args(["--scenarios", "scenarios", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    };
    let output = certify_no_plus();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let body = read_json(&out.join("certificate.json"))["body"].clone();
    assert_eq!(body["verdict"], "incomplete");
    assert_eq!(body["results"][0]["outcome"], "skip");
    assert!(
        body["verdict_reasons"][0]
            .as_str()
            .unwrap()
            .contains("skipped and the profile does not allow that")
    );

    // Allowing skips does not help when nothing of the requirement passed.
    std::fs::write(
        &profile,
        format!("name: no-plus\ntitle: T\nversion: 1.0.0\ntarget: server\nrequire:\n  - scenario: {required}\n    allow-skip: true\n"),
    )
    .unwrap();
    let output = certify_no_plus();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let body = read_json(&out.join("certificate.json"))["body"].clone();
    assert_eq!(body["verdict"], "incomplete");
}

#[test]
fn a_profile_for_servers_refuses_a_client_target() {
    let dir = Scratch::new("kind");
    let output = certify(
        "c2s-tls-sasl",
        "builtin-client",
        Path::new("scenarios"),
        &dir.join("out"),
        None,
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(text(&output).contains("certifies a server but target builtin-client is a client"));
}

#[test]
fn certify_help_documents_the_exit_codes_of_certify_verify_and_keygen() {
    for args in [&["certify", "--help"][..]] {
        let output = harness().args(args).output().unwrap();
        assert!(output.status.success(), "{}", text(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        for heading in [
            "Exit codes of `certify`:",
            "Exit codes of `certify verify`:",
            "Exit codes of `certify keygen`:",
        ] {
            assert!(stdout.contains(heading), "{args:?}: {stdout}");
        }
    }
}

#[test]
fn keygen_never_overwrites_a_signing_key() {
    let dir = Scratch::new("keygen");
    let (private, _) = keygen(&dir);
    let before = std::fs::read(&private).unwrap();
    let output = harness()
        .args(["certify", "keygen", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert_eq!(std::fs::read(&private).unwrap(), before);
}
