//! `xmpp-interop`: a harness that tests how XMPP servers and clients handle TLS and SASL.
//!
//! The layers are described in `docs/ARCHITECTURE.md`; dependencies point downwards only:
//!
//! ```text
//! cli        clap parsing, exit codes (in the binary)
//! discovery  DNS: SRV (RFC 6120 §3.2, XEP-0368), fallback, TLSA of a domain; for probe
//! certify    profiles, certificates (signed), verification; uses the runner's results
//! runner     plans cases, runs them in parallel, emits events
//! report     reporters fed from one event stream: terminal matrix, JUnit, JSON, HTML, Markdown,
//!            transcripts; diff and merge of results.json
//! targets    implementations under test behind the ServerTarget / ClientTarget traits:
//!            built-in server and client, managed Prosody/ejabberd (ManagedServer), external
//!            servers, command clients; the targets file
//! error      HarnessError (the harness or its environment broke), NotApplicable (why a
//!            case is not run)
//! drive      initiator (harness as client), responder (harness as server); misbehaviour
//!            mapping from scenarios to proto's switches
//! transport  tokio TCP, STARTTLS / direct TLS with tokio-rustls, timeouts, capture
//! pki        rcgen test PKI catalogue; no async
//! scenario   serde model, loading, validation, matrix expansion
//! own_server `init`: test PKI, targets file and server configuration for a participant's
//!            own server
//! shipped    the shipped scenarios and profiles, built into the binary; export
//! proto      the crate `xmpp-interop-proto`, re-exported here: sans-IO XMPP (stream
//!            framing, features, STARTTLS, SASL, bind, s2s and dialback) and the protocol
//!            vocabulary; it cannot see tokio, rustls or any layer above
//! ```

pub mod certify;
pub mod discovery;
pub mod drive;
pub mod error;
pub mod own_server;
pub mod pki;
pub mod probe;
pub mod report;
pub mod runner;
pub mod scenario;
#[cfg(test)]
pub(crate) mod scratch;
pub mod shipped;
pub mod targets;
pub mod transport;

pub use xmpp_interop_proto as proto;
