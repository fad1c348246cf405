//! The integration tests, one binary: one module per area, helpers once in `support`.
//!
//! One binary links the harness library once instead of once per test file. Tests of all
//! modules share one process, so what a separate process used to isolate is serialized in
//! `support` where it matters.

mod support;

mod builtin_matrix;
mod case_deadline;
mod certify;
mod ci_examples;
mod cli;
mod downgrade_flag_not_applicable;
mod errands;
mod federation;
mod hostile_memory;
mod hostile_peers;
mod keylog;
mod mechanism_choice;
mod minimal_conforming_peers;
mod partition;
mod pki_cli;
mod pki_openssl;
mod real_clients;
mod real_servers;
mod report_snapshots;
mod reports;
mod s2s_loopback;
mod sasl2_and_downgrade_protection;
mod scenario_loading;
mod scram_downgrades;
mod server_closing_after_auth;
