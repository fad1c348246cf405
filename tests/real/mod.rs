//! Shared by the tests that run the managed real servers (Prosody and ejabberd) through the
//! command line.
//!
//! Without the servers installed these tests say so and pass, except under CI (`CI` set),
//! where `.ci/run` installs them and a missing server is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The harness binary.
pub fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xmpp-interop"))
}

/// Whether both servers are installed; panics under CI when they are not.
pub fn servers_installed() -> bool {
    let installed = ["prosody", "prosodyctl", "ejabberdctl"]
        .iter()
        .all(|program| {
            std::env::var_os("PATH").is_some_and(|path| {
                std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
            }) || Path::new("/usr/sbin").join(program).is_file()
        });
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but Prosody or ejabberd is not installed: run ci/install-targets.sh"
        );
        eprintln!("Prosody or ejabberd not installed (ci/install-targets.sh): not tested");
    }
    installed
}

pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xmpp-interop-real-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
