//! The shipped CI examples and profiles stay usable: the example pipelines are valid YAML that
//! shard with `--partition` and merge with `xmpp-interop merge`, and every shipped profile
//! loads against the shipped scenarios (a scenario renamed under a profile breaks this test,
//! not a user's certification).

use std::path::Path;

use xmpp_interop::certify::profile;
use xmpp_interop::targets::TargetKind;

fn yaml(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_github_actions_example_shards_with_partition_and_merges() {
    let workflow = yaml("ci/examples/github-actions.yml");
    let shards = workflow["env"]["SHARDS"].as_u64().unwrap();
    let matrix = workflow["jobs"]["shard"]["strategy"]["matrix"]["shard"]
        .as_array()
        .unwrap();
    let numbers: Vec<u64> = matrix.iter().map(|n| n.as_u64().unwrap()).collect();
    assert_eq!(numbers, (1..=shards).collect::<Vec<_>>());
    let steps = |job: &str| -> String {
        workflow["jobs"][job]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|step| step.to_string())
            .collect()
    };
    assert!(steps("shard").contains("--partition ${{ matrix.shard }}/${{ env.SHARDS }}"));
    assert!(steps("merge").contains("xmpp-interop merge shards/shard*/results.json"));
    // `merge` appends summary.md to $GITHUB_STEP_SUMMARY itself: a hand-written summary step
    // would show the run twice.
    assert!(!steps("merge").contains("GITHUB_STEP_SUMMARY"));
    assert!(steps("merge").contains("merged/junit.xml"));
    assert_eq!(workflow["jobs"]["merge"]["needs"], "shard");
}

#[test]
fn the_gitlab_example_shards_with_partition_and_merges() {
    let pipeline = yaml("ci/examples/gitlab-ci.yml");
    let shard = &pipeline["xmpp-interop-shard"];
    assert_eq!(shard["parallel"], 4);
    let script = shard["script"].to_string();
    assert!(
        script.contains("--partition \\\"$CI_NODE_INDEX/$CI_NODE_TOTAL\\\""),
        "{script}"
    );
    let merge = &pipeline["xmpp-interop-merge"];
    assert!(merge["script"].to_string().contains("xmpp-interop merge"));
    assert_eq!(merge["artifacts"]["reports"]["junit"], "merged/junit.xml");
}

#[test]
fn the_example_targets_file_is_valid_yaml_with_one_external_server() {
    let targets = yaml("ci/examples/xmpp-interop-targets.yaml");
    let list = targets["targets"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["kind"], "server");
    assert!(
        list[0]["external"]["host"]
            .as_str()
            .unwrap()
            .starts_with("127.")
    );
}

#[test]
fn every_shipped_profile_loads_against_the_shipped_scenarios() {
    let scenarios = xmpp_interop::scenario::load_path(Path::new("scenarios")).unwrap();
    let mut names = Vec::new();
    for entry in std::fs::read_dir("profiles").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let loaded = profile::load(&path, &scenarios)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!loaded.required_cases().is_empty());
            names.push((loaded.name, loaded.target));
        }
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        names,
        [
            ("c2s-tls-sasl".to_owned(), TargetKind::Server),
            (
                "client-certificate-validation".to_owned(),
                TargetKind::Client
            ),
            ("s2s-authentication".to_owned(), TargetKind::Server),
            ("scram-channel-binding".to_owned(), TargetKind::Server),
        ]
    );
}
