//! The integration tests, one binary: one module per area, helpers once in `support`.
//!
//! One binary links the harness library once instead of once per test file. Tests of all
//! modules share one process and run at the same time, so what a process of their own used to
//! isolate is explicit: scratch directories are numbered per process (`support::Scratch`),
//! tests that run managed servers take turns (`support::turns`), and a test that measures a
//! child process reads that child's own resource usage (`hostile_memory`). No test changes the
//! environment or the current directory of this process; child processes get theirs through
//! `Command::env`.
//!
//! Run one module with `cargo test --test integration MODULE::`, for example
//! `cargo test --test integration reports::`.
//!
//! **Spec citations in test names.** A test that checks a clause of a specification ends its
//! name with the document and the section, lower case, digits joined by `_`: `_rfc6120_6_4_2`
//! for RFC 6120 §6.4.2, `_xep0388_2_6_1` for XEP-0388 §2.6.1 (four-digit XEP number), or just
//! `_xep0220` when the test concerns the document as a whole. One citation per name, at its
//! end; the doc comment above the test may cite more, spelled as in prose (`RFC 6120 §6.4.2`).

mod support;

mod builtin_matrix;
mod case_deadline;
mod certify;
mod ci_examples;
mod cli;
mod discovery;
mod downgrade_flag_not_applicable;
mod errands;
mod federation;
mod hostile_memory;
mod hostile_peers;
mod installed;
mod keylog;
mod mechanism_choice;
mod minimal_conforming_peers;
mod own_certificate;
mod own_server_init;
mod partition;
mod pki_cli;
mod pki_openssl;
mod probe;
mod probe_account;
mod real_clients;
mod real_servers;
mod report_snapshots;
mod reports;
mod s2s_loopback;
mod sasl2_and_downgrade_protection;
mod scenario_loading;
mod scram_downgrades;
mod server_closing_after_auth;
mod tls_unique_python;
