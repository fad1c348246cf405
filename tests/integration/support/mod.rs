//! Helpers shared by the integration-test modules: scratch directories, the harness binary,
//! peers of the tests' own, and runs of the built-in targets.

pub mod common;
pub mod external;
pub mod python_peer;
pub mod real;
pub mod runs;
pub mod scratch;
pub mod turns;

use std::process::Command;

pub use scratch::Scratch;

/// The harness binary that cargo built for these tests.
pub fn harness() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xmpp-interop"))
}
