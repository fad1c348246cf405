//! The binary away from its checkout, as `cargo install` leaves it: copied into an empty
//! directory and run from `/`, it runs the shipped set against the built-in targets, certifies
//! the built-in server and exports the scenarios, all from what is built into it.
//!
//! `cargo install --path .` compiles the same package as the test binary (only with the
//! release profile), so a copy of `CARGO_BIN_EXE_xmpp-interop` proves what an installed one
//! does without a second full compile.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{Scratch, output_text};

/// The harness binary copied into `dir/bin`, away from the checkout.
fn installed_copy(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let copy = bin.join("xmpp-interop");
    std::fs::copy(env!("CARGO_BIN_EXE_xmpp-interop"), &copy).unwrap();
    copy
}

/// Runs `binary ARGS` from `/`.
fn from_root(binary: &Path, args: &[&str]) -> Output {
    Command::new(binary)
        .args(args)
        .current_dir("/")
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("SSLKEYLOGFILE")
        .output()
        .unwrap()
}

/// The number in the last line of `list` output, `N cases from M scenarios`.
fn listed_cases(stdout: &str) -> usize {
    let summary = stdout.lines().last().unwrap_or_default();
    summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no case count in {summary:?}"))
}

#[test]
fn a_copied_binary_run_from_root_runs_certifies_verifies_and_exports_the_built_in_set() {
    let dir = Scratch::new("from-root");
    let binary = installed_copy(&dir);
    let path = |p: &str| dir.join(p).display().to_string();

    let run = from_root(
        &binary,
        &["run", "--no-progress", "--out", &path("reports")],
    );
    let (stdout, stderr) = output_text(&run);
    assert_eq!(run.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("scenarios: the built-in set"), "{stderr}");
    assert!(stdout.contains(" 0 fail, "), "{stdout}");
    let results = std::fs::read_to_string(dir.join("reports/results.json")).unwrap();
    assert!(
        results.contains("\"scenarios/c2s/authenticate.yaml\""),
        "results.json names the built-in files by their repository paths"
    );

    let keygen = from_root(&binary, &["certify", "keygen", "--out", &path("keys")]);
    assert_eq!(keygen.status.code(), Some(0), "{:?}", output_text(&keygen));
    let certify = from_root(
        &binary,
        &[
            "certify",
            "--profile",
            "c2s-tls-sasl",
            "--target",
            "builtin-server",
            "--signing-key",
            &path("keys/certify-signing-key.pem"),
            "--out",
            &path("certificate"),
        ],
    );
    let (stdout, stderr) = output_text(&certify);
    assert_eq!(certify.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("c2s-tls-sasl"), "{stdout}");
    let certificate = std::fs::read_to_string(dir.join("certificate/certificate.json")).unwrap();
    assert!(
        certificate.contains("\"path\": \"c2s/authenticate.yaml\""),
        "the certificate records the built-in files' digests: {certificate}"
    );
    let verify = from_root(
        &binary,
        &[
            "certify",
            "verify",
            &path("certificate/certificate.json"),
            "--public-key",
            &path("keys/certify-signing-key.pub.pem"),
        ],
    );
    let (stdout, stderr) = output_text(&verify);
    assert_eq!(verify.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("valid: ") && stdout.contains("compared with the built-in set"),
        "{stdout}"
    );

    let export = from_root(&binary, &["scenarios", "export", &path("mine")]);
    assert_eq!(export.status.code(), Some(0), "{:?}", output_text(&export));
    assert!(dir.join("mine/profiles/c2s-tls-sasl.yaml").is_file());
    let built_in = from_root(&binary, &["list"]);
    let exported = from_root(&binary, &["list", &path("mine/scenarios")]);
    let (built_in, _) = output_text(&built_in);
    let (exported, _) = output_text(&exported);
    assert_eq!(listed_cases(&exported), listed_cases(&built_in));
    assert!(listed_cases(&built_in) > 200, "{built_in}");
}

#[test]
fn export_refuses_to_overwrite_without_force_and_writes_nothing() {
    let dir = Scratch::new("export-twice");
    let binary = installed_copy(&dir);
    let target = dir.join("mine");
    let edited = target.join("scenarios/c2s/authenticate.yaml");
    std::fs::create_dir_all(edited.parent().unwrap()).unwrap();
    std::fs::write(&edited, "# my edit\n").unwrap();
    let target = target.display().to_string();

    let refused = from_root(&binary, &["scenarios", "export", &target]);
    let (_, stderr) = output_text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("authenticate.yaml exists already") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), "# my edit\n");
    assert!(!dir.join("mine/profiles").exists(), "nothing is written");

    let forced = from_root(&binary, &["scenarios", "export", &target, "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{:?}", output_text(&forced));
    assert_eq!(
        std::fs::read(&edited).unwrap(),
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/c2s/authenticate.yaml")
        )
        .unwrap()
    );
}

#[test]
fn an_explicit_path_wins_over_the_built_in_set() {
    let dir = Scratch::new("explicit");
    let binary = installed_copy(&dir);
    let file = dir.join("one.yaml");
    std::fs::write(
        &file,
        "id: only-mine\ntitle: t\nspec: [RFC 6120 §6.4]\nrole: client\ntransport: starttls\n\
         certificate: startcom-chain\nsasl: { mechanism: PLAIN }\nexpect: authenticated\n\
         requirement: { level: MUST, clause: RFC 6120 §6.4, text: t }\n",
    )
    .unwrap();
    let list = from_root(&binary, &["list", &file.display().to_string()]);
    let (stdout, stderr) = output_text(&list);
    assert_eq!(list.status.code(), Some(0), "{stderr}");
    assert_eq!(listed_cases(&stdout), 1, "{stdout}");
    assert!(!stderr.contains("built-in"), "{stderr}");
}

#[test]
fn an_unknown_profile_name_lists_the_built_in_ones_with_exit_2() {
    let dir = Scratch::new("profile");
    let binary = installed_copy(&dir);
    let output = from_root(
        &binary,
        &[
            "certify",
            "--profile",
            "c2s-tls",
            "--target",
            "builtin-server",
        ],
    );
    let (_, stderr) = output_text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no built-in profile `c2s-tls`; expected one of c2s-tls-sasl,"),
        "{stderr}"
    );
}

#[test]
fn version_names_the_commit_and_the_tls_stacks_and_man_and_completions_print() {
    let dir = Scratch::new("conventions");
    let binary = installed_copy(&dir);
    let version = from_root(&binary, &["--version"]);
    let (stdout, _) = output_text(&version);
    assert!(
        stdout.starts_with("xmpp-interop 0.") && stdout.contains("(commit "),
        "{stdout}"
    );
    assert!(stdout.contains("; TLS: rustls 0.23."), "{stdout}");
    assert!(stdout.contains(", OpenSSL 3."), "{stdout}");

    let man = from_root(&binary, &["man"]);
    let (page, _) = output_text(&man);
    assert_eq!(man.status.code(), Some(0));
    assert!(
        page.lines().any(|l| l.starts_with(".TH xmpp-interop 1")),
        "{page}"
    );
    assert!(
        page.contains("completions"),
        "the man page lists the subcommands"
    );

    for shell in ["bash", "zsh", "fish"] {
        let script = from_root(&binary, &["completions", shell]);
        let (text, stderr) = output_text(&script);
        assert_eq!(script.status.code(), Some(0), "{shell}: {stderr}");
        assert!(
            text.contains("xmpp-interop") && text.contains("export"),
            "{shell}"
        );
    }
}
