//! Implementations under test and how the harness reaches them.
//!
//! A [`Target`] is a name, a kind (server or client), an implementation description and an
//! [`Adapter`]: built in (our own server and client, in-process on loopback), managed (a real
//! server the harness configures, launches and stops: [`managed`]) or external (already running
//! somewhere; the harness only connects: [`external`]). Targets come from a targets file
//! ([`file`]) or, by default, are the two built-ins.
//!
//! For a server target the runner asks for an [`Endpoint`] per case: where to connect, which
//! domain to ask for, which account and which trust anchor to use. A client target other than
//! the built-in one is a command the harness starts per case ([`command`]), pointed at the
//! harness playing the server.

pub mod builtin;
pub mod builtin_s2s;
pub mod command;
pub mod external;
pub mod file;
pub mod managed;

use std::fmt;
use std::net::SocketAddr;

use rustls_pki_types::CertificateDer;

use crate::scenario::{Mechanism, Role};

/// The XMPP domain of every built-in participant.
pub const BUILTIN_DOMAIN: &str = "interop.test";
/// The domain the harness plays in server-to-server cases.
pub const HARNESS_S2S_DOMAIN: &str = "harness.test";
/// The domain of the built-in server in server-to-server cases.
pub const BUILTIN_S2S_DOMAIN: &str = "builtin.test";
/// The account every built-in and managed participant uses.
pub const ACCOUNT_USERNAME: &str = "alice";

/// Whether a target is a server or a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// An XMPP server: the harness plays the client.
    Server,
    /// An XMPP client: the harness plays the server.
    Client,
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetKind::Server => "server",
            TargetKind::Client => "client",
        })
    }
}

/// How the harness reaches a target.
#[derive(Clone, Debug)]
pub enum Adapter {
    /// The harness's own server, conforming to RFC 6120 as far as the harness checks it.
    BuiltinServer(BuiltinFeatures),
    /// The harness's own client, conforming and careful.
    BuiltinClient(BuiltinFeatures),
    /// A real server the harness configures, starts and stops itself.
    Managed(managed::ManagedSpec),
    /// A server somebody else runs; the harness only connects to it.
    External(external::ExternalSpec),
    /// A real client the harness starts per case with a command.
    Command(command::CommandSpec),
}

/// What a built-in target implements: everything by default, or a smaller set, so that a
/// minimal conforming peer (only the mandatory-to-implement mechanisms, say) can be run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltinFeatures {
    /// The SASL mechanisms it offers (server) or may use (client).
    pub mechanisms: Vec<Mechanism>,
    /// Whether it speaks SASL2 (XEP-0388).
    pub sasl2: bool,
    /// Whether it sends (server) or checks (client) the XEP-0474 downgrade protection hash.
    pub downgrade_protection: bool,
}

impl Default for BuiltinFeatures {
    fn default() -> BuiltinFeatures {
        BuiltinFeatures {
            mechanisms: Mechanism::ALL.to_vec(),
            sasl2: true,
            downgrade_protection: true,
        }
    }
}

/// An implementation under test.
#[derive(Clone, Debug)]
pub struct Target {
    /// The column name in the matrix; unique within a run.
    pub name: String,
    /// Server or client.
    pub kind: TargetKind,
    /// Implementation name and version, for reports (detected where possible).
    pub implementation: String,
    /// How it is reached.
    pub adapter: Adapter,
}

impl Target {
    /// The built-in server.
    pub fn builtin_server() -> Target {
        Target {
            name: "builtin-server".to_owned(),
            kind: TargetKind::Server,
            implementation: builtin_description(TargetKind::Server),
            adapter: Adapter::BuiltinServer(BuiltinFeatures::default()),
        }
    }

    /// The built-in client.
    pub fn builtin_client() -> Target {
        Target {
            name: "builtin-client".to_owned(),
            kind: TargetKind::Client,
            implementation: builtin_description(TargetKind::Client),
            adapter: Adapter::BuiltinClient(BuiltinFeatures::default()),
        }
    }

    /// The targets a run uses when no targets file is given.
    pub fn builtin() -> Vec<Target> {
        vec![Target::builtin_server(), Target::builtin_client()]
    }

    /// The column name in the matrix.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The role the harness plays against this target.
    /// Whether this is one of the harness's own targets, the only ones that run self-tests
    /// (cases that judge only the harness's own verifier).
    pub fn is_builtin(&self) -> bool {
        matches!(
            self.adapter,
            Adapter::BuiltinServer(_) | Adapter::BuiltinClient(_)
        )
    }

    /// The role the harness plays against this target.
    pub fn harness_role(&self) -> Role {
        match self.kind {
            TargetKind::Server => Role::Client,
            TargetKind::Client => Role::Server,
        }
    }
}

fn builtin_description(kind: TargetKind) -> String {
    format!("xmpp-interop built-in {kind} {}", env!("CARGO_PKG_VERSION"))
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Where and as whom the harness reaches a server target for one case.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The address for the case's transport (the STARTTLS port for `starttls` and
    /// `plaintext`, the direct-TLS port for `direct-tls`).
    pub address: SocketAddr,
    /// The domain the harness asks for (`to=`) and expects in the certificate.
    pub domain: String,
    /// The account's local part.
    pub username: String,
    /// The account's password.
    pub password: String,
    /// The root that issued the chain this server presents.
    pub chain_root: CertificateDer<'static>,
}
