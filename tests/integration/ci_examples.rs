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

/// action.yml is a composite action whose steps use only inputs it declares, name a shell for
/// every script, upload the reports whatever happened and end with the run's exit code.
#[test]
fn the_action_uses_only_declared_inputs_and_uploads_before_it_fails() {
    let action = yaml("action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    let declared: Vec<String> = action["inputs"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let text = std::fs::read_to_string("action.yml").unwrap();
    for (at, _) in text.match_indices("inputs.") {
        let name: String = text[at + "inputs.".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        assert!(
            declared.contains(&name),
            "action.yml uses undeclared input {name:?}"
        );
    }
    let steps = action["runs"]["steps"].as_array().unwrap();
    for step in steps {
        if step.get("run").is_some() {
            assert!(
                step.get("shell").is_some(),
                "a run step without shell: {step}"
            );
        }
    }
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .unwrap();
    assert!(upload["if"].as_str().unwrap().contains("always()"));
    let last = steps.last().unwrap();
    assert!(
        last["run"]
            .as_str()
            .unwrap()
            .contains("steps.run.outputs.exit-code"),
        "{last}"
    );
}

/// The action's run step (ci/action-run.sh) runs the installed harness with the action's
/// inputs, writes its exit code to $GITHUB_OUTPUT and exits 0 itself, so that the reports are
/// uploaded before the last step fails.
#[test]
fn the_action_run_step_passes_the_inputs_and_reports_the_exit_code() {
    let dir = crate::support::Scratch::new("action-run");
    let binary = Path::new(env!("CARGO_BIN_EXE_xmpp-interop"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |args: &str, name: &str| {
        let output_file = dir.join(format!("{name}.out"));
        let out = dir.join(name);
        let status = std::process::Command::new("bash")
            .arg("ci/action-run.sh")
            .env("PATH", &path)
            .env("SCENARIOS", "scenarios/c2s/authenticate.yaml")
            .env("ARGS", args)
            .env("OUT", &out)
            .env("TARGETS", "")
            .env("EXPECTATIONS", "")
            .env("GITHUB_OUTPUT", &output_file)
            .env_remove("GITHUB_STEP_SUMMARY")
            .output()
            .unwrap();
        assert!(status.status.success(), "{status:?}");
        (std::fs::read_to_string(output_file).unwrap(), out)
    };
    let (written, out) = run("--filter c2s-authenticate/starttls/plain --jobs 1", "ok");
    assert_eq!(written, "exit-code=0\n");
    assert!(out.join("results.json").is_file());
    let (written, _) = run("--no-such-option", "bad");
    assert_eq!(written, "exit-code=2\n");
}
