//! Helpers shared by the integration-test modules: scratch directories, the harness binary,
//! peers of the tests' own, and runs of the built-in targets.

pub mod common;
pub mod dns;
pub mod external;
pub mod python_peer;
pub mod real;
pub mod runs;
pub mod scratch;
pub mod turns;

use std::path::Path;
use std::process::{Command, Output};

pub use scratch::Scratch;

/// The harness binary that cargo built for these tests.
pub fn harness() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xmpp-interop"))
}

/// A finished process's standard output and standard error, as text.
pub fn output_text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Whether `program` is on PATH or in /usr/sbin.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        || Path::new("/usr/sbin").join(program).is_file()
}
