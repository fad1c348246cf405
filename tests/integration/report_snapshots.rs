//! Snapshots (insta) of the terminal matrix, `junit.xml` and `summary.md`, from a live run of
//! the built-in targets and from a merge of the fixture shards (every verdict). Values that
//! differ between machines and runs are redacted: durations, timestamps, the harness version,
//! temporary paths and the run's random password.

use crate::support::Scratch;
use crate::support::harness;

use std::path::Path;

/// The redactions every snapshot gets; `out` is the report directory of the run.
fn settings(out: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&out.display().to_string()), "[OUT]");
    settings.add_filter(r" in \d+\.\d+ s", " in [DURATION] s");
    settings.add_filter(r#"time="\d+\.\d+""#, r#"time="[SECONDS]""#);
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIMESTAMP]");
    settings.add_filter(&regex_escape(env!("CARGO_PKG_VERSION")), "[VERSION]");
    settings.add_filter(r"pw-[0-9a-f]{32}", "[PASSWORD]");
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '-' || c == '_' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

fn reports_of(args: &[&str], out: &Path) -> (String, String, String) {
    let output = harness()
        .args(args)
        .arg("--out")
        .arg(out)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert!(
        output.status.code().is_some_and(|c| c <= 3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8(output.stdout).unwrap(),
        std::fs::read_to_string(out.join("junit.xml")).unwrap(),
        std::fs::read_to_string(out.join("summary.md")).unwrap(),
    )
}

#[test]
fn reports_of_a_live_run_of_the_built_in_targets() {
    let dir = Scratch::new("live");
    let out = dir.join("reports");
    let (terminal, junit, markdown) = reports_of(
        &[
            "run",
            "scenarios",
            "--filter",
            "c2s-wrong-password",
            "--filter",
            "client-strip-starttls",
            "--no-progress",
            "-j",
            "2",
        ],
        &out,
    );
    settings(&out).bind(|| {
        insta::assert_snapshot!("live_terminal", terminal);
        insta::assert_snapshot!("live_junit", junit);
        insta::assert_snapshot!("live_markdown", markdown);
    });
}

#[test]
fn reports_of_a_merge_holding_every_verdict() {
    let dir = Scratch::new("merge");
    let out = dir.join("reports");
    let (terminal, junit, markdown) = reports_of(
        &[
            "merge",
            "tests/fixtures/results/shard-1/results.json",
            "tests/fixtures/results/shard-2/results.json",
        ],
        &out,
    );
    settings(&out).bind(|| {
        insta::assert_snapshot!("merge_terminal", terminal);
        insta::assert_snapshot!("merge_junit", junit);
        insta::assert_snapshot!("merge_markdown", markdown);
    });
}
