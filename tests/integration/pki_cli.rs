//! `xmpp-interop pki generate` and `pki show` as a participant meets them before an interop
//! event: files, modes, the manifest, and exit code 2 for bad input.

use crate::support::Scratch;
use crate::support::{harness, output_text};

use std::path::Path;
use std::process::Output;

fn generate(dir: &Path, extra: &[&str]) -> Output {
    harness()
        .args(["pki", "generate", "--domain", "example.org", "--out"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn generate_writes_five_files_per_profile_and_a_manifest() {
    let dir = Scratch::new("generate");
    let output = generate(&dir, &[]);
    let (stdout, stderr) = output_text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("wrote 22 profiles for example.org (ecdsa-p256)"),
        "{stdout}"
    );
    for profile in ["self-signed", "srv-id", "weak-rsa-1024", "client-alice"] {
        for file in [
            "cert.pem",
            "key.pem",
            "chain.pem",
            "fullchain.pem",
            "root.pem",
        ] {
            assert!(dir.join(profile).join(file).is_file(), "{profile}/{file}");
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("xmppaddr/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["domain"], "example.org");
    let profiles = manifest["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 22);
    let srv = profiles.iter().find(|p| p["profile"] == "srv-id").unwrap();
    let leaf = &srv["presented"][0];
    assert_eq!(
        leaf["identities"],
        serde_json::json!([
            "SRV:_xmpp-client.example.org",
            "SRV:_xmpp-server.example.org"
        ])
    );
    assert_eq!(leaf["sha256_fingerprint"].as_str().unwrap().len(), 95);
    assert!(
        srv["purpose"]
            .as_str()
            .unwrap()
            .contains("RFC 6120 §13.7.1.2.1")
    );
    assert!(leaf["not_after"].as_str().unwrap().ends_with('Z'));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn generate_only_the_named_profiles_with_the_named_key() {
    let dir = Scratch::new("named");
    let output = generate(
        &dir,
        &[
            "--profile",
            "wildcard",
            "--profile",
            "expired",
            "--key",
            "ed25519",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{:?}", output_text(&output));
    let mut entries: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["expired", "manifest.json", "wildcard"]);
    let show = harness()
        .args(["pki", "show"])
        .arg(dir.join("wildcard/cert.pem"))
        .output()
        .unwrap();
    let (stdout, _) = output_text(&show);
    assert!(stdout.contains("key:         Ed25519"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// RFC 6120 §13.7.1.2.1, §13.7.1.4, RFC 6125 §6.4.4: `show` says what each identity verifies
/// for.
#[test]
fn show_explains_identities_in_xmpp_terms_rfc6120_13_7_1_2_1() {
    let dir = Scratch::new("show");
    let output = generate(
        &dir,
        &[
            "--profile",
            "srv-id-server-only",
            "--profile",
            "cn-only",
            "--profile",
            "client-alice",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{:?}", output_text(&output));
    let show = |path: &str| {
        let output = harness()
            .args(["pki", "show"])
            .arg(dir.join(path))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{:?}", output_text(&output));
        output_text(&output).0
    };
    let srv = show("srv-id-server-only/fullchain.pem");
    assert!(
        srv.contains("verifies for SRV-ID _xmpp-server.example.org: the domain example.org for server-to-server only"),
        "{srv}"
    );
    assert!(srv.contains("certificate #1 (CA)"), "{srv}");
    let cn = show("cn-only/cert.pem");
    assert!(
        cn.contains("only for verifiers that allow CN fallback (RFC 6125 §6.4.4)"),
        "{cn}"
    );
    let alice = show("client-alice/cert.pem");
    assert!(
        alice.contains("XmppAddr alice@example.org: a client certificate for alice@example.org"),
        "{alice}"
    );
    assert!(alice.contains("purposes:    clientAuth"), "{alice}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn show_of_an_unreadable_or_non_pem_file_exits_2_saying_why() {
    let dir = Scratch::new("bad-input");
    let missing = harness()
        .args(["pki", "show"])
        .arg(dir.join("missing.pem"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        output_text(&missing).1.contains("error: cannot read"),
        "{:?}",
        output_text(&missing)
    );

    let not_pem = dir.join("notes.txt");
    std::fs::write(&not_pem, "just some words\n").unwrap();
    let output = harness()
        .args(["pki", "show"])
        .arg(&not_pem)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        output_text(&output)
            .1
            .contains("no PEM certificate (-----BEGIN CERTIFICATE-----) found"),
        "{:?}",
        output_text(&output)
    );

    let garbage = dir.join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let output = harness()
        .args(["pki", "show"])
        .arg(&garbage)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{:?}", output_text(&output));
    assert!(
        output_text(&output).1.contains("certificate #0"),
        "{:?}",
        output_text(&output)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn generate_with_a_bad_domain_or_profile_exits_2() {
    let dir = Scratch::new("bad-args");
    let output = harness()
        .args(["pki", "generate", "--domain", "not a domain", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output_text(&output).1.contains("is not a valid DNS name"));
    let output = generate(&dir, &["--profile", "nope"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        output_text(&output)
            .1
            .contains("expected one of self-signed")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
