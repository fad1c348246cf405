//! Implementations under test. For now the built-in server and client: our own implementations,
//! started in-process on loopback, the embedded default that makes `run scenarios/` work on a
//! bare machine and the reference the real-peer adapters are checked against.

pub mod builtin;

use std::fmt;

use crate::scenario::Role;

/// The XMPP domain of every built-in participant.
pub const BUILTIN_DOMAIN: &str = "interop.test";
/// The account every built-in participant uses.
pub const ACCOUNT_USERNAME: &str = "alice";

/// Whether a target is a server or a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// An XMPP server: the harness plays the client.
    Server,
    /// An XMPP client: the harness plays the server.
    Client,
}

/// An implementation under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// The harness's own server, conforming to RFC 6120 as far as the harness checks it.
    BuiltinServer,
    /// The harness's own client, conforming and careful.
    BuiltinClient,
}

impl Target {
    /// The targets a run uses when no others are given.
    pub fn builtin() -> Vec<Target> {
        vec![Target::BuiltinServer, Target::BuiltinClient]
    }

    /// The column name in the matrix.
    pub fn name(self) -> &'static str {
        match self {
            Target::BuiltinServer => "builtin-server",
            Target::BuiltinClient => "builtin-client",
        }
    }

    /// Server or client.
    pub fn kind(self) -> TargetKind {
        match self {
            Target::BuiltinServer => TargetKind::Server,
            Target::BuiltinClient => TargetKind::Client,
        }
    }

    /// The role the harness plays against this target.
    pub fn harness_role(self) -> Role {
        match self.kind() {
            TargetKind::Server => Role::Client,
            TargetKind::Client => Role::Server,
        }
    }

    /// Implementation name and version, for reports.
    pub fn implementation(self) -> String {
        let what = match self.kind() {
            TargetKind::Server => "server",
            TargetKind::Client => "client",
        };
        format!("xmpp-interop built-in {what} {}", env!("CARGO_PKG_VERSION"))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
