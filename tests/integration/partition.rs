//! `run --partition K/N` as a CI job uses it: the shards of one set-up are disjoint, together
//! they are exactly the unpartitioned run, the same shard is the same set every time, and each
//! shard's results.json says which shard it is.

use crate::support::Scratch;
use crate::support::harness;

use std::collections::BTreeSet;
use std::path::Path;

/// Scenarios for both built-in targets, so shards mix server and client cases; the client
/// ones are negative, with positive controls loaded from beside their file.
const SCENARIOS: [&str; 3] = [
    "scenarios/c2s/authenticate.yaml",
    "scenarios/c2s/certificate-chains.yaml",
    "scenarios/client/untrusted-root.yaml",
];

/// Runs the scenarios (one shard of them if `partition` is given) and returns the
/// (case, target) pairs of results.json and its `partition` field.
fn run(
    out: &Path,
    partition: Option<&str>,
    jobs: &str,
) -> (BTreeSet<(String, String)>, serde_json::Value) {
    let mut command = harness();
    command.arg("run").args(SCENARIOS).arg("--out").arg(out);
    command.args(["--no-progress", "--jobs", jobs]);
    if let Some(partition) = partition {
        command.args(["--partition", partition]);
    }
    let output = command.output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    // A negative case and its positive control share a shard: the control ran, and passed.
    for result in json["results"].as_array().unwrap() {
        if !result["control"].is_null() {
            assert_eq!(result["control"]["outcome"], "pass", "{result}");
            assert_ne!(result["outcome"], "inconclusive", "{result}");
        }
    }
    let cases = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["scenario"].as_str().unwrap().to_owned(),
                r["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (cases, json["partition"].clone())
}

#[test]
fn shards_are_disjoint_cover_the_full_run_and_are_reproducible() {
    let dir = Scratch::new("cover");
    let (full, no_partition) = run(&dir.join("full"), None, "2");
    assert!(
        no_partition.is_null(),
        "an unpartitioned run records no partition"
    );
    assert!(full.len() > 20, "too few cases to split: {}", full.len());

    let mut union = BTreeSet::new();
    for k in 1..=3 {
        let (shard, recorded) = run(&dir.join(format!("shard{k}")), Some(&format!("{k}/3")), "2");
        assert_eq!(recorded, serde_json::json!(format!("{k}/3")));
        assert!(!shard.is_empty(), "shard {k}/3 is empty");
        assert!(
            union.is_disjoint(&shard),
            "shard {k}/3 repeats cases of earlier shards"
        );
        union.extend(shard);
    }
    assert_eq!(union, full, "the union of the shards is not the full run");

    let (first, _) = run(&dir.join("again1"), Some("2/3"), "1");
    let (second, _) = run(&dir.join("again2"), Some("2/3"), "2");
    assert_eq!(
        first, second,
        "2/3 differs between runs (or between --jobs 1 and 2)"
    );
}

#[test]
fn a_bad_partition_is_a_usage_error_with_exit_code_2() {
    for bad in ["0/3", "4/3", "1/0", "3", "x/y"] {
        let output = harness()
            .args([
                "run",
                "scenarios/c2s/wrong-password.yaml",
                "--partition",
                bad,
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("expected K/N"), "{bad}: {stderr}");
    }
}
