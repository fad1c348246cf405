//! Shared by the tests that run the managed real servers (Prosody and ejabberd) through the
//! command line.
//!
//! Without the servers installed these tests say so and pass, except under CI (`CI` set),
//! where `.ci/run` installs them and a missing server is a failure.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{harness, on_path};

/// Whether both servers are installed. When one is not, says which test does not run and which
/// program is missing; under CI (`CI` set), where `.ci/run` installs them, that is a failure.
pub fn servers_installed(test: &str) -> bool {
    let missing: Vec<&str> = ["prosody", "prosodyctl", "ejabberdctl"]
        .into_iter()
        .filter(|program| !on_path(program))
        .collect();
    if missing.is_empty() {
        return true;
    }
    skipped(test, &format!("{} not installed", missing.join(", ")));
    false
}

/// Reports that `test` does not run because of `why`; panics under CI.
pub fn skipped(test: &str, why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {test} cannot run: {why} (ci/install-targets.sh installs it)"
    );
    eprintln!("NOT RUN {test}: {why} (ci/install-targets.sh installs it)");
}

/// Directories of managed instances a harness process with this pid created.
pub fn instance_dirs(harness_pid: u32) -> Vec<PathBuf> {
    let prefix = format!("xmpp-interop-{harness_pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// A successful run of the harness: its process id (for finding what it left behind) and
/// what it printed.
pub struct Finished {
    /// The harness's process id.
    pub pid: u32,
    /// Its standard output.
    pub stdout: String,
}

/// Runs the harness with `args` and `--out out` to its end; it must exit 0.
pub fn run_harness(args: &[&str], out: &Path) -> Finished {
    let harness = harness()
        .args(args)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = harness.id();
    let output = harness.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Finished { pid, stdout }
}

/// The JSON document `name` in `out`.
pub fn read_json(out: &Path, name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join(name)).unwrap()).unwrap()
}
