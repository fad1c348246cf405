//! A minimal conforming server and client, built from the harness's own protocol core with only
//! what RFC 6120 makes mandatory plus two common mechanisms, run over the whole shipped set:
//! no verdict may be `fail`, because no MUST is broken. Without one mandatory-to-implement
//! mechanism (RFC 6120 §13.8.1) exactly that mechanism's mandatory-to-implement case fails;
//! every other case that needs it is `unsupported` or `inconclusive`, never `fail`.
//!
//! The issue that asked for this test named the peers "only SCRAM-SHA-1, SCRAM-SHA-256 and
//! PLAIN, no -PLUS"; RFC 6120 §13.8.1 makes SCRAM-SHA-1-PLUS mandatory to implement as well
//! ("servers and clients MUST support ... the SCRAM-SHA-1 and SCRAM-SHA-1-PLUS variants"), so
//! a peer without it is not conforming, and the test shows that it fails exactly that case.

use crate::support::Scratch;
use crate::support::harness;

use std::path::Path;

/// The mechanisms of the minimal conforming peers.
const MINIMAL: &str = "[PLAIN, SCRAM-SHA-1, SCRAM-SHA-1-PLUS, SCRAM-SHA-256]";

/// Runs every shipped scenario against a built-in server and client that implement only
/// `mechanisms`, without SASL2 and XEP-0474; returns (case id, target, outcome) per cell.
fn run_minimal(name: &str, mechanisms: &str) -> Vec<(String, String, String)> {
    let dir = Scratch::new(name);
    let targets = dir.join("targets.yaml");
    let features =
        format!("{{ mechanisms: {mechanisms}, sasl2: false, downgrade-protection: false }}");
    std::fs::write(
        &targets,
        format!(
            "targets:\n  - name: minimal-server\n    builtin: server\n    features: {features}\n  - name: minimal-client\n    builtin: client\n    features: {features}\n"
        ),
    )
    .unwrap();
    let out = dir.join("reports");
    let output = harness()
        .args(["run", "scenarios/", "--no-progress", "--targets"])
        .arg(&targets)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let results = results(&out.join("results.json"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "the run itself broke: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    results
}

fn results(path: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["scenario"].as_str().unwrap().to_owned(),
                r["target"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn with_outcome<'a>(results: &'a [(String, String, String)], outcome: &str) -> Vec<&'a str> {
    results
        .iter()
        .filter(|(_, _, o)| o == outcome)
        .map(|(case, _, _)| case.as_str())
        .collect()
}

#[test]
fn a_minimal_conforming_server_and_client_break_no_must_over_the_whole_shipped_set() {
    let results = run_minimal("conforming", MINIMAL);
    assert!(results.len() > 200, "{} cells", results.len());
    assert_eq!(with_outcome(&results, "fail"), Vec::<&str>::new());
    assert_eq!(with_outcome(&results, "error"), Vec::<&str>::new());
    // What they lack is reported as unsupported, once per case that needs it.
    let unsupported = with_outcome(&results, "unsupported");
    assert!(
        unsupported.iter().any(|c| c.ends_with("/scram-sha-512")),
        "{unsupported:?}"
    );
    assert!(
        unsupported
            .iter()
            .any(|c| c.starts_with("c2s-sasl2-authenticate/")),
        "{unsupported:?}"
    );
}

#[test]
fn without_scram_sha_1_exactly_the_mandatory_to_implement_cases_fail_rfc6120_13_8_1() {
    let results = run_minimal("no-scram-sha-1", "[PLAIN, SCRAM-SHA-1-PLUS, SCRAM-SHA-256]");
    let mut failed: Vec<(&str, &str)> = results
        .iter()
        .filter(|(_, _, o)| o == "fail")
        .map(|(case, target, _)| (case.as_str(), target.as_str()))
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        [
            ("c2s-mandatory-to-implement/scram-sha-1", "minimal-server"),
            (
                "client-mandatory-to-implement/scram-sha-1",
                "minimal-client"
            ),
        ]
    );
}

/// Without any -PLUS mechanism nothing fails: over TLS 1.3 a peer that does not use channel
/// binding breaks no rule (RFC 9266 §3), and whether it has SCRAM-SHA-1-PLUS with tls-unique
/// over TLS 1.2 is beyond rustls, so the mandatory-to-implement case says `skip` with that
/// reason rather than a `fail` the harness cannot back.
#[test]
fn without_scram_sha_1_plus_nothing_fails_and_the_plus_mandatory_case_is_skipped() {
    let results = run_minimal("no-plus", "[PLAIN, SCRAM-SHA-1, SCRAM-SHA-256]");
    assert_eq!(with_outcome(&results, "fail"), Vec::<&str>::new());
    let skipped = with_outcome(&results, "skip");
    for case in [
        "c2s-mandatory-to-implement/scram-sha-1-plus",
        "client-mandatory-to-implement/scram-sha-1-plus",
    ] {
        assert!(skipped.contains(&case), "{case} not skipped: {skipped:?}");
    }
}
