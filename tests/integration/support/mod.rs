//! Helpers shared by the integration-test modules: scratch directories, the harness binary,
//! peers of the tests' own, and runs of the built-in targets.

pub mod common;
pub mod external;
pub mod python_peer;
pub mod real;
pub mod runs;
pub mod scratch;
pub mod turns;
