//! Shared by the tests that run the managed real servers (Prosody and ejabberd) through the
//! command line.
//!
//! Without the servers installed these tests say so and pass, except under CI (`CI` set),
//! where `.ci/run` installs them and a missing server is a failure.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{harness, on_path};

/// The Debian root `targets/local.yaml` runs today's releases in (ci/install-backports-root.sh).
pub const BACKPORTS_ROOT: &str = "/var/lib/xmpp-interop/bookworm-backports";

/// The managed servers of `targets/local.yaml`: target name, domain, and how its
/// implementation's name begins in reports.
pub const MANAGED_SERVERS: [(&str, &str, &str); 4] = [
    ("prosody-0.12", "prosody.test", "Prosody 0.12."),
    ("prosody-13", "prosody13.test", "Prosody 13."),
    ("ejabberd-23", "ejabberd.test", "ejabberd 23."),
    ("ejabberd-24", "ejabberd24.test", "ejabberd 24."),
];

/// Whether all four servers are installed (Debian 12's on the host, today's in the backports
/// root). When one is not, says which test does not run and which program is missing; under
/// CI (`CI` set), where `.ci/run` installs them, that is a failure.
pub fn servers_installed(test: &str) -> bool {
    let in_root = |program: &str| {
        ["usr/bin", "usr/sbin"]
            .iter()
            .any(|dir| Path::new(BACKPORTS_ROOT).join(dir).join(program).is_file())
    };
    let missing: Vec<String> = ["prosody", "prosodyctl", "ejabberdctl"]
        .into_iter()
        .flat_map(|program| {
            let host = (!on_path(program)).then(|| program.to_owned());
            let root = (!in_root(program)).then(|| format!("{BACKPORTS_ROOT}: {program}"));
            host.into_iter().chain(root)
        })
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

/// Directories of managed instances a harness process with this pid created, on the host and
/// in the backports root.
pub fn instance_dirs(harness_pid: u32) -> Vec<PathBuf> {
    let prefix = format!("xmpp-interop-{harness_pid}-");
    [std::env::temp_dir(), Path::new(BACKPORTS_ROOT).join("tmp")]
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
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
