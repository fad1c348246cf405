//! The reports as their readers meet them: `index.html` in headless Chromium, `junit.xml`
//! against the Ant/Jenkins JUnit schema (xmllint), `results.json` against
//! `schemas/results.schema.json` (Python jsonschema), `summary.md` and the job summary, and the
//! `merge` and `diff` commands with their exit codes.
//!
//! The fixture `tests/fixtures/results/shard-{1,2}/results.json` (shards 1/2 and 2/2 of one
//! run) holds every verdict (PASS, FAIL, WARN, UNSUPPORTED, INCONCLUSIVE, INFO, XFAIL, XWARN,
//! XPASS, SKIP, ERROR, and a recorded deviation that ended otherwise) over two targets, records
//! of an older harness (no level or clause) next to current ones, and one transcript. Tools that are not
//! installed make a test skip with a note, except under CI (`CI` set), where they must be there
//! (`.ci/run` installs them).

use crate::support::Scratch;
use crate::support::harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shards() -> Vec<PathBuf> {
    ["shard-1", "shard-2"]
        .iter()
        .map(|s| {
            Path::new("tests/fixtures/results")
                .join(s)
                .join("results.json")
        })
        .collect()
}

fn merge(files: &[PathBuf], out: &Path) -> Output {
    merge_with(files, out, &[])
}

fn merge_with(files: &[PathBuf], out: &Path, options: &[&str]) -> Output {
    harness()
        .arg("merge")
        .args(files)
        .args(options)
        .arg("--out")
        .arg(out)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap()
}

/// The fixture's shards merged into `reports/` of the returned scratch directory.
fn merged_fixture(name: &str) -> Scratch {
    let dir = Scratch::new(name);
    let out = dir.join("reports");
    let output = merge(&shards(), &out);
    // The fixture holds an ERROR cell, so the merge exits 3, as a run with an error does.
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}

/// Whether `program` can be run; when it cannot, says which test does not run (`test`); under
/// CI a missing tool is a failure.
fn tool(test: &str, program: &str, version_arg: &str) -> bool {
    let found = Command::new(program)
        .arg(version_arg)
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{program} is missing under CI; .ci/run installs it"
        );
        eprintln!("NOT RUN {test}: {program} is not installed (.ci/run installs it)");
    }
    found
}

/// Chromium's DOM of `page` after its scripts ran.
fn dump_dom(page: &Path, fragment: &str) -> String {
    let url = format!(
        "file://{}{fragment}",
        page.canonicalize().unwrap().display()
    );
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1300,900",
            "--virtual-time-budget=3000",
            "--dump-dom",
            &url,
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "chromium failed: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn rendered_cells(dom: &str) -> usize {
    dom.matches("class=\"c v-").count()
}

#[test]
fn html_report_draws_every_cell_and_a_fragment_opens_a_failing_cells_detail_and_transcript() {
    if !tool(
        "html_report_draws_every_cell_and_a_fragment_opens_a_failing_cells_detail_and_transcript",
        "chromium",
        "--version",
    ) {
        return;
    }
    let dir = merged_fixture("html");
    let out = dir.join("reports");
    let page = out.join("index.html");
    let dom = dump_dom(&page, "#case=c2s-wrong-password%2Fplain&target=ejabberd");
    // 8 rows × 2 targets, one cell not applicable: 15 cells with a verdict.
    assert_eq!(rendered_cells(&dom), 15, "{dom}");
    for verdict in [
        "PASS",
        "FAIL",
        "WARN",
        "UNSUPPORTED",
        "INCONCLUSIVE",
        "INFO",
        "XFAIL",
        "XWARN",
        "XPASS",
        "SKIP",
        "ERROR",
    ] {
        assert!(
            dom.contains(&format!("class=\"c v-{verdict}")),
            "no {verdict} cell"
        );
    }
    let detail = &dom[dom.find("<section id=\"detail\"").unwrap()..];
    assert!(detail.starts_with("<section id=\"detail\" aria-live=\"polite\" class=\"shown\">"));
    assert!(
        detail.contains("id=\"detail-verdict\">FAIL</dd>"),
        "{detail}"
    );
    assert!(detail.contains("<dt>step</dt><dd>sasl</dd>"), "{detail}");
    assert!(
        detail.contains("<dd>rejected at sasl by target (not-authorized)</dd>"),
        "{detail}"
    );
    // Peer-controlled text is shown as text, never parsed as markup.
    assert!(
        detail.contains("authenticated as alice &lt;with&gt; a | pipe"),
        "{detail}"
    );
    assert!(detail.contains("<dd>RFC 6120 §6.5.10</dd>"), "{detail}");
    assert!(
        detail.contains("<pre id=\"transcript\">") && detail.contains("TLS established: TLSv1.3"),
        "the transcript copied by merge is embedded: {detail}"
    );
    // A cell whose transcript the shards did not have links to where it would be.
    let dom = dump_dom(&page, "#case=c2s-external%2Fstarttls&target=ejabberd");
    let detail = &dom[dom.find("<section id=\"detail\"").unwrap()..];
    assert!(
        detail.contains("id=\"detail-verdict\">ERROR</dd>"),
        "{detail}"
    );
    assert!(
        detail.contains("href=\"transcripts/ejabberd/c2s-external_starttls.txt\""),
        "{detail}"
    );
    // The page fetches nothing: no external script, style, image or font.
    let html = std::fs::read_to_string(&page).unwrap();
    for external in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!html.contains(external), "index.html loads {external}");
    }
    // The README's screenshot is made from this page.
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let status = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1300,560",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!(
            "file://{}#case=c2s-wrong-password%2Fplain&target=ejabberd",
            page.canonicalize().unwrap().display()
        ))
        .output()
        .unwrap();
    assert!(status.status.success());
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000);
}

#[test]
fn html_report_filters_by_verdict_tag_and_spec_clause_given_in_the_url() {
    if !tool(
        "html_report_filters_by_verdict_tag_and_spec_clause_given_in_the_url",
        "chromium",
        "--version",
    ) {
        return;
    }
    let dir = merged_fixture("html-filters");
    let out = dir.join("reports");
    let page = out.join("index.html");
    let dom = dump_dom(&page, "#verdict=FAIL,XPASS");
    assert!(dom.contains("2 of 8 rows"), "{dom}");
    // The rows that hold a FAIL or an XPASS, their other cells dimmed.
    assert!(
        dom.contains(">c2s-wrong-password/plain<")
            && dom.contains(">c2s-authzid-other-user/plain<")
    );
    assert!(!dom.contains(">c2s-external/starttls<"));
    assert_eq!(dom.matches("class=\"c v-PASS dim\"").count(), 1, "{dom}");
    let dom = dump_dom(&page, "#tag=external");
    assert!(dom.contains("1 of 8 rows") && dom.contains(">c2s-external/starttls<"));
    assert_eq!(rendered_cells(&dom), 2);
    let dom = dump_dom(&page, "#spec=RFC%207677%20%C2%A73");
    assert!(dom.contains("1 of 8 rows") && dom.contains(">c2s-authenticate/scram-sha-512<"));
    // The SHOULD deviations, recorded or not, are one row.
    let dom = dump_dom(&page, "#verdict=WARN,XWARN");
    assert!(
        dom.contains("1 of 8 rows") && dom.contains(">c2s-scram-iteration-count/scram-sha-256<"),
        "{dom}"
    );
    assert!(dom.contains("class=\"c v-WARN\"") && dom.contains("class=\"c v-XWARN\""));
}

#[test]
fn html_report_shows_each_targets_summary_and_the_clause_feature_and_control_of_a_cell() {
    if !tool(
        "html_report_shows_each_targets_summary_and_the_clause_feature_and_control_of_a_cell",
        "chromium",
        "--version",
    ) {
        return;
    }
    let dir = merged_fixture("html-levels");
    let out = dir.join("reports");
    let page = out.join("index.html");
    let dom = dump_dom(
        &page,
        "#case=c2s-scram-downgrade-flag%2Fscram-sha-1&target=prosody",
    );
    let summaries = &dom[dom.find("<ul id=\"targets-summary\"").unwrap()..];
    assert!(
        summaries.contains(
            "<li class=\"target-summary\"><b>prosody</b>1 MUST violation, 1 SHOULD deviation, \
             1 unsupported feature (SASL2 (XEP-0388)), 1 inconclusive</li>"
        ),
        "{summaries}"
    );
    let detail = &dom[dom.find("<section id=\"detail\"").unwrap()..];
    assert!(
        detail.contains("id=\"detail-verdict\">INCONCLUSIVE</dd>"),
        "{detail}"
    );
    assert!(
        detail.contains("id=\"detail-clause\">MUST (RFC 5802 §6)</dd>"),
        "{detail}"
    );
    assert!(
        detail.contains("“the server MUST fail authentication”"),
        "{detail}"
    );
    assert!(
        detail.contains(
            "id=\"detail-control\">c2s-scram-plus-tls-exporter/scram-sha-1-plus ended unsupported</dd>"
        ),
        "{detail}"
    );
    let dom = dump_dom(&page, "#case=c2s-sasl2%2Fscram-sha-256&target=prosody");
    let detail = &dom[dom.find("<section id=\"detail\"").unwrap()..];
    assert!(
        detail.contains("id=\"detail-verdict\">UNSUPPORTED</dd>")
            && detail.contains("id=\"detail-missing\">SASL2 (XEP-0388)</dd>"),
        "{detail}"
    );
}

#[test]
fn html_report_of_20000_cells_stays_under_5_mib_and_draws_only_the_rows_in_view() {
    if !tool(
        "html_report_of_20000_cells_stays_under_5_mib_and_draws_only_the_rows_in_view",
        "chromium",
        "--version",
    ) || !tool(
        "html_report_of_20000_cells_stays_under_5_mib_and_draws_only_the_rows_in_view",
        "python3",
        "--version",
    ) {
        return;
    }
    let dir = Scratch::new("large");
    let status = Command::new("python3")
        .args(["ci/synthetic-results.py", "2000", "10", "4"])
        .arg(dir.join("shards"))
        .status()
        .unwrap();
    assert!(status.success());
    let files: Vec<PathBuf> = (1..=4)
        .map(|k| dir.join(format!("shards/shard-{k}/results.json")))
        .collect();
    let out = dir.join("reports");
    let output = merge(&files, &out);
    assert_eq!(output.status.code(), Some(3), "synthetic runs hold errors");
    let page = out.join("index.html");
    let size = std::fs::metadata(&page).unwrap().len();
    assert!(size < 5 * 1024 * 1024, "index.html is {size} bytes");
    let dom = dump_dom(
        &page,
        "#case=c2s-synthetic-199%2Fdirect-tls%2Fsrv-id%2Fscram-sha-256-plus&target=target-9",
    );
    let cells = rendered_cells(&dom);
    assert!(
        (10..2000).contains(&cells),
        "{cells} cells drawn for 20 000: the rows in view, not all"
    );
    assert!(dom.contains("2000 of 2000 rows"), "every row is reachable");
    // The fragment scrolled the list to the last row and opened it.
    assert!(dom.contains("c2s-synthetic-199/direct-tls/srv-id/scram-sha-256-plus @ target-9"));
    assert!(dom.contains("class=\"c v-"));
}

#[test]
fn junit_xml_validates_against_the_ant_jenkins_junit_schema() {
    if !tool(
        "junit_xml_validates_against_the_ant_jenkins_junit_schema",
        "xmllint",
        "--version",
    ) {
        return;
    }
    let dir = merged_fixture("junit");
    let out = dir.join("reports");
    let junit = out.join("junit.xml");
    let output = Command::new("xmllint")
        .args(["--noout", "--schema", "fixtures/schemas/junit.xsd"])
        .arg(&junit)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<skipped type=\"expected-deviation\" message=\"expected deviation: Prosody 0.12 offers no SCRAM-SHA-512 (https://example.org/prosody/512);"));
    assert!(xml.contains("<failure type=\"unexpected-pass\""));
    assert!(xml.contains("<error type=\"error\""));
    assert!(
        xml.contains("<skipped type=\"unsupported\" message=\"the target lacks SASL2 (XEP-0388):")
    );
    assert!(xml.contains(
        "<skipped type=\"inconclusive\" message=\"positive control c2s-scram-plus-tls-exporter/scram-sha-1-plus ended unsupported:"
    ));
    assert!(xml.contains("<skipped type=\"not-applicable\""));
    // A recorded deviation that ended as `unsupported` fails, like an XPASS.
    assert!(xml.contains("<failure type=\"deviation-ended-otherwise\" message=\"a deviation is recorded (answers SASL2 &lt;authenticate/&gt; without &lt;success/&gt;) but the case ended UNSUPPORTED;"));
    // A SHOULD deviation passes and says so; an XWARN is an expected deviation.
    assert!(xml.contains("<system-out>SHOULD deviation: SHOULD (RFC 7677 §4): &quot;the hash iteration-count announced by a server SHOULD be at least 4096&quot;; step sasl:"));
    assert!(xml.contains("<skipped type=\"expected-deviation\" message=\"expected deviation: ejabberd 23.01 announces its configured count of 2048;"));
    assert!(xml.contains("<system-out>fact, not judged: MAY (RFC 8446 §6.2)"));
    // The schema is not a rubber stamp: an element JUnit does not have is refused.
    let bad = out.join("bad.xml");
    std::fs::write(
        &bad,
        xml.replacen("<system-out>", "<verdict>x</verdict><system-out>", 1),
    )
    .unwrap();
    let output = Command::new("xmllint")
        .args(["--noout", "--schema", "fixtures/schemas/junit.xsd"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success(), "the schema accepted <verdict>");
}

fn validate_json(document: &Path) -> Output {
    Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             jsonschema.Draft202012Validator.check_schema(schema)\n\
             jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(json.load(open(sys.argv[2])))",
            "schemas/results.schema.json",
        ])
        .arg(document)
        .output()
        .unwrap()
}

/// Whether python3 with jsonschema is there; when it is not, says which test does not run
/// (`test`); under CI it must be.
fn has_jsonschema(test: &str) -> bool {
    let found = Command::new("/usr/bin/python3")
        .args(["-c", "import jsonschema"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3-jsonschema is missing under CI"
        );
        eprintln!("NOT RUN {test}: python3-jsonschema is not installed (.ci/run installs it)");
    }
    found
}

#[test]
fn results_json_of_a_live_run_validates_against_the_shipped_json_schema() {
    if !has_jsonschema("results_json_of_a_live_run_validates_against_the_shipped_json_schema") {
        return;
    }
    let dir = Scratch::new("schema");
    let output = harness()
        .args([
            "run",
            "scenarios",
            "--filter",
            "c2s-wrong-password",
            "--no-progress",
            "--out",
        ])
        .arg(dir.join("run"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let document = dir.join("run/results.json");
    let output = validate_json(&document);
    assert!(
        output.status.success(),
        "{}: {}",
        document.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn results_json_of_a_merge_validates_against_the_shipped_json_schema_and_summarises_targets() {
    if !has_jsonschema(
        "results_json_of_a_merge_validates_against_the_shipped_json_schema_and_summarises_targets",
    ) {
        return;
    }
    let dir = Scratch::new("schema-merge-check");
    let merged_dir = merged_fixture("schema-merge");
    let out = merged_dir.join("reports");
    for document in [
        shards()[0].clone(),
        shards()[1].clone(),
        out.join("results.json"),
    ] {
        let output = validate_json(&document);
        assert!(
            output.status.success(),
            "{}: {}",
            document.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert!(
        merged.get("partition").is_none(),
        "a merge has no partition"
    );
    assert_eq!(
        merged["summary"]["targets"]["prosody"],
        serde_json::json!({
            "must_violations": 1,
            "should_deviations": 1,
            "unsupported_features": ["SASL2 (XEP-0388)"],
            "inconclusive": 1
        })
    );
    let unsupported = merged["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scenario"] == "c2s-sasl2/scram-sha-256" && r["target"] == "prosody")
        .unwrap();
    assert_eq!(unsupported["level"], "MUST");
    assert_eq!(unsupported["missing_feature"], "SASL2 (XEP-0388)");
    let mut broken = merged.clone();
    broken["results"][0]["outcome"] = "maybe".into();
    let path = dir.join("broken.json");
    std::fs::write(&path, broken.to_string()).unwrap();
    assert!(
        !validate_json(&path).status.success(),
        "the schema accepted outcome \"maybe\""
    );
    let mut broken = merged;
    broken["results"][0]["level"] = "RECOMMENDED".into();
    std::fs::write(&path, broken.to_string()).unwrap();
    assert!(
        !validate_json(&path).status.success(),
        "the schema accepted level \"RECOMMENDED\""
    );
}

#[test]
fn merging_a_runs_own_results_rebuilds_the_same_results_and_transcripts() {
    let dir = Scratch::new("roundtrip");
    let run = dir.join("run");
    let output = harness()
        .args([
            "run",
            "scenarios",
            "--filter",
            "c2s-wrong-password",
            "--no-progress",
            "--out",
        ])
        .arg(&run)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let merged = dir.join("merged");
    let output = merge(&[run.join("results.json")], &merged);
    assert!(output.status.success(), "{output:?}");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    assert_eq!(
        read(&run.join("results.json")),
        read(&merged.join("results.json"))
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("c2s-wrong-password/plain"), "{stdout}");
    let results: serde_json::Value =
        serde_json::from_str(&read(&run.join("results.json"))).unwrap();
    for result in results["results"].as_array().unwrap() {
        let transcript = result["transcript"].as_str().unwrap();
        assert_eq!(read(&run.join(transcript)), read(&merged.join(transcript)));
    }
    for report in ["junit.xml", "index.html", "summary.md"] {
        assert!(run.join(report).exists(), "run did not write {report}");
        assert_eq!(
            read(&run.join(report)).replace(&run.display().to_string(), "OUT"),
            read(&merged.join(report)).replace(&merged.display().to_string(), "OUT"),
            "merge rebuilt another {report} than the run wrote"
        );
    }
}

/// A copy of `file` (a results.json) with `partition` set to `value`, or removed for `None`.
fn with_partition(file: &Path, value: Option<&str>, copy: &Path) -> PathBuf {
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let fields = document.as_object_mut().unwrap();
    match value {
        Some(value) => fields.insert("partition".to_owned(), value.into()),
        None => fields.remove("partition"),
    };
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::write(copy, document.to_string()).unwrap();
    copy.to_owned()
}

#[test]
fn merge_refuses_shards_that_are_not_every_shard_of_one_run_with_exit_code_2() {
    let dir = Scratch::new("coverage");
    let refused = |files: &[PathBuf], options: &[&str], message: &str| {
        let output = merge_with(files, &dir.join("out"), options);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
        assert!(!dir.join("out/results.json").exists());
    };
    let [first, second] = [shards()[0].clone(), shards()[1].clone()];
    refused(
        std::slice::from_ref(&first),
        &[],
        "shard 2/2 of the run are missing; pass --allow-partial to merge them anyway",
    );
    refused(
        &[first.clone(), first.clone()],
        &["--allow-partial"],
        "shard 1/2 is given twice",
    );
    let of_three = with_partition(&second, Some("2/3"), &dir.join("three/results.json"));
    refused(
        &[first.clone(), of_three],
        &["--allow-partial"],
        "is shard 1/2 but",
    );
    let whole = with_partition(&second, None, &dir.join("whole/results.json"));
    refused(
        &[first.clone(), whole],
        &["--allow-partial"],
        "holds a whole run (no partition)",
    );
    let zero = with_partition(&second, Some("0/2"), &dir.join("zero/results.json"));
    refused(&[first.clone(), zero], &[], "partition \"0/2\" is not K/N");
    // With --allow-partial the shards there are merged, and a warning names what is missing.
    let output = merge_with(
        std::slice::from_ref(&first),
        &dir.join("partial"),
        &["--allow-partial"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("warning: shard 2/2 of the run are missing"),
        "{stderr}"
    );
    assert!(dir.join("partial/results.json").exists());
}

#[test]
fn merge_refuses_a_cell_present_in_two_shards_with_exit_code_2() {
    let dir = Scratch::new("duplicate");
    let files = [
        shards()[0].clone(),
        with_partition(&shards()[0], Some("2/2"), &dir.join("again/results.json")),
    ];
    let output = merge(&files, &dir.join("out"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("c2s-wrong-password/plain @ prosody is in both"),
        "{stderr}"
    );
    assert!(!dir.join("out/results.json").exists());
}

#[test]
fn merge_refuses_a_transcript_path_outside_the_report_directory() {
    let dir = Scratch::new("escape");
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&shards()[0]).unwrap()).unwrap();
    document["results"][0]["transcript"] = "../../etc/passwd".into();
    document.as_object_mut().unwrap().remove("partition");
    let file = dir.join("results.json");
    std::fs::write(&file, document.to_string()).unwrap();
    let output = merge(&[file], &dir.join("out"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("../../etc/passwd"), "{stderr}");
}

#[test]
fn markdown_summary_is_written_and_appended_to_the_github_step_summary() {
    let dir = Scratch::new("markdown");
    let step_summary = dir.join("step-summary.md");
    std::fs::write(&step_summary, "earlier step\n").unwrap();
    let output = harness()
        .arg("merge")
        .args(shards())
        .arg("--out")
        .arg(dir.join("out"))
        .env("GITHUB_STEP_SUMMARY", &step_summary)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let summary = std::fs::read_to_string(dir.join("out/summary.md")).unwrap();
    assert!(
        summary.contains("| `c2s-wrong-password/plain` | PASS | **FAIL** |"),
        "{summary}"
    );
    assert!(
        summary.contains("authenticated as alice &lt;with&gt; a \\| pipe"),
        "HTML and pipes in cells are escaped: {summary}"
    );
    assert_eq!(
        std::fs::read_to_string(&step_summary).unwrap(),
        format!("earlier step\n{summary}")
    );
}

fn diff(old: &Path, new: &Path) -> (Option<i32>, String, String) {
    let output = harness().arg("diff").arg(old).arg(new).output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn diff_of_identical_runs_exits_0_and_says_nothing_changed() {
    let (code, stdout, stderr) = diff(&shards()[0], &shards()[0]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "no cell changed\n");
}

fn line_of(text: &str, needle: &str) -> String {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle}:\n{text}"))
        .to_owned()
}

#[test]
fn diff_exits_1_when_a_cell_that_passed_now_fails_and_lists_added_and_removed_cells() {
    let dir = Scratch::new("diff");
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&shards()[0]).unwrap()).unwrap();
    let results = document["results"].as_array_mut().unwrap();
    assert_eq!(results[0]["scenario"], "c2s-wrong-password/plain");
    assert_eq!(results[0]["target"], "prosody");
    results[0]["outcome"] = "fail".into();
    results[0]["observed"] = "authenticated".into();
    results[1]["outcome"] = "pass".into();
    results[2]["target"] = "new-target".into();
    let new = dir.join("new.json");
    std::fs::write(&new, document.to_string()).unwrap();
    let (code, stdout, stderr) = diff(&shards()[0], &new);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let line = |needle: &str| line_of(&stdout, needle);
    let regressed = line("REGRESSION");
    assert!(regressed.contains("c2s-wrong-password/plain") && regressed.contains("prosody"));
    assert!(line("fixed").contains("ejabberd"));
    assert!(line("added").contains("new-target"));
    assert!(line("removed").contains("c2s-authenticate/scram-sha-512"));
    assert!(stdout.contains("4 cells changed, 1 regressed"), "{stdout}");
    // A fix alone is no regression.
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&shards()[0]).unwrap()).unwrap();
    document["results"][1]["outcome"] = "pass".into();
    let fixed = dir.join("fixed.json");
    std::fs::write(&fixed, document.to_string()).unwrap();
    let (code, stdout, _) = diff(&shards()[0], &fixed);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(line_of(&stdout, "fixed").contains("ejabberd"), "{stdout}");
}

#[test]
fn diff_names_file_line_and_column_of_a_json_syntax_error_and_exits_2() {
    let dir = Scratch::new("diff-bad");
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        "{\n  \"harness\": {\n    \"name\": \"xmpp-interop\",,\n",
    )
    .unwrap();
    let (code, _, stderr) = diff(&bad, &shards()[0]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:3:28", bad.display())),
        "{stderr}"
    );
    let (code, _, stderr) = diff(&shards()[0], &dir.join("missing.json"));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("missing.json: cannot read"), "{stderr}");
}

#[test]
fn help_documents_the_exit_codes_of_diff_and_merge() {
    for (command, codes) in [
        (
            "diff",
            &[
                "0  no cell regressed",
                "1  at least one cell",
                "2  usage error",
            ][..],
        ),
        (
            "merge",
            &[
                "0  every merged case",
                "1  at least one merged case",
                "2  usage error",
                "3  a merged case is an error",
            ][..],
        ),
    ] {
        let output = harness().args([command, "--help"]).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        for code in codes {
            assert!(
                stdout.contains(code),
                "{command} --help lacks {code:?}:\n{stdout}"
            );
        }
    }
}

#[test]
fn merge_reads_results_with_fields_a_newer_harness_adds() {
    let dir = Scratch::new("newer");
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&shards()[0]).unwrap()).unwrap();
    document["partition"] = "1/1".into();
    document["results"][0]["attempts"] = 2.into();
    let file = dir.join("results.json");
    std::fs::write(&file, document.to_string()).unwrap();
    let output = merge(&[file], &dir.join("out"));
    // shard-1 (relabelled as the only shard) holds an unexpected FAIL and no error: exit 1,
    // every report written.
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.join("out/index.html").exists());
}

/// An interrupted run's `results.json`: shard 1 of the fixture as a whole run, interrupted by
/// SIGTERM, with its first cell (`c2s-wrong-password/plain` @ prosody, a FAIL) `not-run`.
fn interrupted_results(dir: &Path) -> PathBuf {
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&shards()[0]).unwrap()).unwrap();
    document.as_object_mut().unwrap().remove("partition");
    document["interrupted"] = "interrupted by SIGTERM".into();
    let first = &mut document["results"][0];
    assert_eq!(first["scenario"], "c2s-wrong-password/plain");
    first["outcome"] = "not-run".into();
    first["observed"] = "not run: interrupted by SIGTERM before the case started".into();
    first["step"] = serde_json::Value::Null;
    first["as_expected"] = false.into();
    let path = dir.join("interrupted.json");
    std::fs::write(&path, document.to_string()).unwrap();
    path
}

/// A `not-run` cell and the run's `interrupted` reason are valid `results.json`; merging such
/// a file rebuilds every report with the cell as NOT RUN (JUnit `<skipped type="not-run">`,
/// the HTML page's NOT RUN cell and banner, the Markdown banner) and exits 3, never 0.
#[test]
fn an_interrupted_runs_results_validate_and_merge_into_reports_that_say_not_run() {
    let dir = Scratch::new("interrupted");
    let interrupted = interrupted_results(&dir);
    if has_jsonschema("an_interrupted_runs_results_validate") {
        let output = validate_json(&interrupted);
        assert!(output.status.success(), "{output:?}");
    }
    let out = dir.join("reports");
    let output = merge(std::slice::from_ref(&interrupted), &out);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(merged["interrupted"], "interrupted by SIGTERM");
    assert_eq!(merged["summary"]["not_run"], 1);
    if has_jsonschema("an_interrupted_runs_results_validate") {
        let output = validate_json(&out.join("results.json"));
        assert!(output.status.success(), "{output:?}");
    }
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    let testcase = junit
        .split("<testcase ")
        .find(|t| t.contains("c2s-wrong-password/plain") && t.contains("prosody"))
        .unwrap();
    assert!(testcase.contains("<skipped type=\"not-run\""), "{testcase}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("**Interrupted** (interrupted by SIGTERM): 1 of"),
        "{summary}"
    );
    if tool("an_interrupted_runs_results_merge", "chromium", "--version") {
        let dom = dump_dom(&out.join("index.html"), "");
        assert!(dom.contains("class=\"c v-NOT-RUN"), "no NOT RUN cell");
        assert!(
            dom.contains("Interrupted: interrupted by SIGTERM"),
            "no interruption banner"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A cell the new run did not finish is listed as NOT RUN and fails the diff (exit 1): nothing
/// is known about it, so the diff cannot say it did not regress.
#[test]
fn diff_exits_1_when_the_new_run_did_not_finish_a_cell_and_lists_it_as_not_run() {
    let dir = Scratch::new("diff-not-run");
    let interrupted = interrupted_results(&dir);
    let (code, stdout, stderr) = diff(&shards()[0], &interrupted);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let line = line_of(&stdout, "c2s-wrong-password/plain");
    assert!(line.contains("NOT RUN"), "{line}");
    assert!(!stdout.contains("REGRESSION"), "{stdout}");
    assert!(
        stdout.contains("1 not run in the new run (interrupted)"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--hide`: the terminal matrix loses the rows whose every cell has a hidden verdict (the
/// count line keeps them) and their lists, and the page opens with those verdicts unticked in
/// its filter and the rows not drawn; ticking them again is the reader's choice.
#[test]
fn hide_drops_rows_of_only_hidden_verdicts_from_the_terminal_and_unticks_them_on_the_page() {
    let dir = Scratch::new("hide");
    let out = dir.join("reports");
    let output = merge_with(&shards(), &out, &["--hide", "skip", "--hide", "error"]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "hiding changes no exit status"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    // c2s-external/starttls is SKIP for one target and ERROR for the other.
    assert!(!stdout.contains("│ c2s-external/starttls"), "{stdout}");
    assert!(stdout.contains("│ c2s-wrong-password/plain"), "{stdout}");
    assert!(
        stdout.contains("(1 rows of only SKIP, ERROR hidden)"),
        "{stdout}"
    );
    assert!(!stdout.contains("SKIP @"), "{stdout}");
    assert!(
        stdout.contains("1 skip, 1 error"),
        "the count keeps them: {stdout}"
    );
    let all = merge_with(&shards(), &dir.join("all"), &[]);
    let all = String::from_utf8_lossy(&all.stdout);
    assert!(
        all.contains("│ c2s-external/starttls") && all.contains("SKIP @"),
        "{all}"
    );
    if !tool(
        "hide_drops_rows_of_only_hidden_verdicts_from_the_terminal_and_unticks_them_on_the_page",
        "chromium",
        "--version",
    ) {
        return;
    }
    let dom = dump_dom(&out.join("index.html"), "");
    assert!(
        dom.contains("<input type=\"checkbox\" value=\"SKIP\">"),
        "SKIP is ticked: {dom}"
    );
    assert!(
        dom.contains("<input type=\"checkbox\" value=\"PASS\" checked=\"\">"),
        "{dom}"
    );
    // 15 cells with a verdict, less the SKIP and ERROR of the hidden row.
    assert_eq!(rendered_cells(&dom), 13, "{dom}");
}
