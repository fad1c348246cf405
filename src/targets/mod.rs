//! Implementations under test and how the harness reaches them.
//!
//! A [`Target`] is a name, an implementation description and a [`TargetRole`]: a server the
//! harness plays the client (or peer server) against, behind [`ServerTarget`], or a client the
//! harness plays the server against, behind [`ClientTarget`]. A target cannot be a server and a
//! client at once, so the runner never meets an impossible pair.
//!
//! Server targets are built in (the harness's own server, in-process on loopback:
//! [`builtin::BuiltinServer`]), managed (a real server the harness configures, launches and
//! stops: [`managed`]) or external (already running somewhere; the harness only connects:
//! [`external`]). Client targets are the built-in client ([`builtin::BuiltinClient`]) or a
//! command the harness starts per case ([`command`]). Targets come from a targets file
//! ([`file`]) or, by default, are the two built-ins.
//!
//! For a server target the runner asks [`ServerTarget::provision`] for an [`Endpoint`] per
//! case: where to connect, which domain to ask for, which account and which trust anchor to
//! use. A client target is handed the harness's listening side ([`HarnessServerSide`]) and
//! runs the case against it ([`ClientTarget::meet`]).

pub mod builtin;
pub mod builtin_s2s;
pub mod command;
pub mod external;
pub mod file;
pub mod managed;

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use tokio::net::TcpListener;

use crate::drive::Transcript;
use crate::error::{HarnessError, NotApplicable};
use crate::pki::{Catalogue, IssuedChain};
use crate::proto::SessionEnd;
use crate::proto::sasl::CredentialStore;
use crate::proto::server::ServerConfig;
use crate::scenario::{CaseSpec, Mechanism, Role, TlsProfile};
use crate::transport::TlsSetup;
use crate::transport::tls::ClientCertificate;
use managed::{InstanceKey, Instances, ManagedSpec};

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

/// A future a target's adapter returns; boxed, so that adapters can sit behind `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a target's adapter may use while it sets up one case: the run's test PKI, accounts
/// and managed instances, the step time limit and the case's transcript.
#[derive(Clone, Copy)]
pub struct CaseContext<'a> {
    /// The run's test PKI.
    pub catalogue: &'a Catalogue,
    /// The accounts of the built-in server and of the harness's server side.
    pub accounts: &'a Arc<CredentialStore>,
    /// The password of [`ACCOUNT_USERNAME`] in this run.
    pub password: &'a str,
    /// Time limit of every network step.
    pub timeout: Duration,
    /// The run's managed instances, shared by cases with equal configuration.
    pub instances: &'a Instances,
    /// The case's transcript.
    pub transcript: &'a Transcript,
}

/// How a case ended, short of a harness failure: its session ran to an end, or the case does
/// not apply to the target.
#[derive(Debug)]
pub enum CaseEnd {
    /// The harness's session ran to its end.
    Session(SessionEnd),
    /// The case cannot be run against this target; why.
    NotApplicable(NotApplicable),
}

/// A server target set up for one case, or the case's end when setting it up already decided
/// it (the case does not apply, or the server refused the connection the case needs).
pub enum Provision {
    /// Ready: connect to the endpoint; stop the running server after the session.
    Ready {
        /// Where and as whom the harness connects.
        endpoint: Endpoint,
        /// What keeps the server up until the session is over; stopped after it.
        lease: Box<dyn ServerLease>,
    },
    /// The case ended before a session started.
    Ended(CaseEnd),
}

/// What keeps a server target up for one case.
pub trait ServerLease: Send {
    /// Stops the server (or lets go of it) once the harness's session `ended`, adding what
    /// helps to understand a failed session (a managed server's log) to the transcript.
    fn stop<'a>(
        self: Box<Self>,
        ended: &'a Result<SessionEnd, HarnessError>,
        transcript: &'a Transcript,
    ) -> BoxFuture<'a, ()>;
}

/// A server under test: the harness connects to it as a client, or federates with it.
pub trait ServerTarget: fmt::Debug + Send + Sync {
    /// Sets the server up for a client-to-server `case` of the target called `name` and says
    /// where to reach it.
    fn provision<'a>(
        &'a self,
        name: &'a str,
        case: &'a CaseSpec,
        context: CaseContext<'a>,
    ) -> BoxFuture<'a, Result<Provision, HarnessError>>;

    /// The shared managed instance a client-to-server `case` uses, which the runner releases
    /// when the case is over (also when it is cancelled); `None` for a server not shared.
    fn shared_instance(&self, name: &str, case: &CaseSpec) -> Option<InstanceKey> {
        let _ = (name, case);
        None
    }

    /// The managed server specification this target federates with on the machine's fixed
    /// loopback addresses (server-to-server cases and `pairs`); `None` for a target the
    /// harness cannot make federate that way.
    fn federating(&self) -> Option<&ManagedSpec> {
        None
    }

    /// Whether this is the harness's own server, which also runs self-tests and the
    /// in-process server-to-server cases.
    fn is_builtin(&self) -> bool {
        false
    }

    /// The adapter itself, for code that needs its concrete settings (tests of the targets
    /// file, for instance).
    fn as_any(&self) -> &dyn Any;
}

/// The harness playing the server for a client target: its listener, its session settings
/// and what a client needs to know to connect.
pub struct HarnessServerSide<'a> {
    /// Where the harness listens (127.0.0.1, an ephemeral port).
    pub listener: TcpListener,
    /// The listener's address.
    pub address: SocketAddr,
    /// The harness's server session.
    pub config: ServerConfig,
    /// The harness's server-side TLS settings.
    pub server_tls: &'a TlsSetup,
    /// Whether the client starts with TLS (XEP-0368) rather than STARTTLS.
    pub direct_tls: bool,
    /// The TLS settings a conforming client uses for this case (its trust anchor among them).
    pub client_tls: TlsSetup,
    /// The username the client presents.
    pub username: String,
    /// The password the client presents.
    pub password: String,
}

/// A client under test: the harness plays the server it connects to.
pub trait ClientTarget: fmt::Debug + Send + Sync {
    /// Why the client called `name` cannot run `case` at all, if it cannot.
    fn not_applicable(&self, name: &str, case: &CaseSpec) -> Option<NotApplicable> {
        let _ = (name, case);
        None
    }

    /// Starts the client called `name` for `case` against the harness's `side`, serves its
    /// connection, and stops it: the harness's session end.
    fn meet<'a>(
        &'a self,
        name: &'a str,
        case: &'a CaseSpec,
        side: HarnessServerSide<'a>,
        context: CaseContext<'a>,
    ) -> BoxFuture<'a, Result<SessionEnd, HarnessError>>;

    /// Whether this is the harness's own client, the only one that runs self-tests.
    fn is_builtin(&self) -> bool {
        false
    }

    /// The adapter itself, for code that needs its concrete settings (tests of the targets
    /// file, for instance).
    fn as_any(&self) -> &dyn Any;
}

/// What a target is to the harness: a server or a client, with the adapter that reaches it.
#[derive(Clone, Debug)]
pub enum TargetRole {
    /// A server under test.
    Server(Arc<dyn ServerTarget>),
    /// A client under test.
    Client(Arc<dyn ClientTarget>),
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
    /// Implementation name and version, for reports (detected where possible).
    pub implementation: String,
    /// Server or client, and how it is reached.
    pub role: TargetRole,
}

impl Target {
    /// The built-in server.
    pub fn builtin_server() -> Target {
        Target {
            name: "builtin-server".to_owned(),
            implementation: builtin_description(TargetKind::Server),
            role: TargetRole::Server(Arc::new(builtin::BuiltinServer::default())),
        }
    }

    /// The built-in client.
    pub fn builtin_client() -> Target {
        Target {
            name: "builtin-client".to_owned(),
            implementation: builtin_description(TargetKind::Client),
            role: TargetRole::Client(Arc::new(builtin::BuiltinClient::default())),
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

    /// Server or client.
    pub fn kind(&self) -> TargetKind {
        match self.role {
            TargetRole::Server(_) => TargetKind::Server,
            TargetRole::Client(_) => TargetKind::Client,
        }
    }

    /// The server adapter, if this target is a server.
    pub fn server(&self) -> Option<&dyn ServerTarget> {
        match &self.role {
            TargetRole::Server(server) => Some(server.as_ref()),
            TargetRole::Client(_) => None,
        }
    }

    /// Whether this is one of the harness's own targets, the only ones that run self-tests
    /// (cases that judge only the harness's own verifier).
    pub fn is_builtin(&self) -> bool {
        match &self.role {
            TargetRole::Server(server) => server.is_builtin(),
            TargetRole::Client(client) => client.is_builtin(),
        }
    }

    /// The role the harness plays against this target.
    pub fn harness_role(&self) -> Role {
        match self.kind() {
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

/// A chain's certificate profile and key type, as transcripts name it.
pub(crate) fn profile_name(chain: &IssuedChain) -> String {
    format!("{} {}", chain.profile, chain.key_type)
}

/// The client certificate a case presents (XEP-0178) for `domain`, with the root the server
/// side trusts for client certificates (for `client-untrusted`, a root that did not issue it).
pub(crate) fn client_certificate(
    case: &CaseSpec,
    catalogue: &Catalogue,
    domain: &str,
) -> Result<Option<(ClientCertificate, CertificateDer<'static>)>, HarnessError> {
    let Some(profile) = case.sasl.client_certificate else {
        return Ok(None);
    };
    let chain = catalogue.chain(profile, case.key, domain)?;
    let certificate = ClientCertificate {
        chain: chain.presented.clone(),
        key: Arc::new(chain.key_der()),
    };
    Ok(Some((certificate, chain.root.clone())))
}

/// Both TLS sides of a client-to-server case between the harness and a built-in participant
/// or client target: the chain for [`BUILTIN_DOMAIN`] per the case, the server side that
/// presents it, and the client side that trusts per the case.
pub(crate) struct BuiltinTls {
    /// The chain the server side presents.
    pub chain: Arc<IssuedChain>,
    /// The server side's settings.
    pub server: TlsSetup,
    /// The client side's settings.
    pub client: TlsSetup,
}

impl BuiltinTls {
    /// Issues the case's chain and sets both sides up.
    pub(crate) fn for_case(
        case: &CaseSpec,
        catalogue: &Catalogue,
    ) -> Result<BuiltinTls, HarnessError> {
        let chain = catalogue.chain(case.certificate, case.key, BUILTIN_DOMAIN)?;
        let anchor = catalogue.trust_anchor(&chain, case.trust)?;
        let client_certificate = client_certificate(case, catalogue, BUILTIN_DOMAIN)?;
        // The built-in target is a conforming peer: it keeps the harness's stack and versions,
        // except when the harness's side offers only what RFC 8996 or RFC 9325 §4.1 forbids
        // (OpenSSL's default suites include static RSA): then it is rustls, with its defaults.
        let target_profile = if case.tls.offers_forbidden() {
            TlsProfile::default()
        } else {
            case.tls.clone()
        };
        let (server_profile, client_profile) = match case.role {
            Role::Client => (target_profile, case.tls.clone()),
            Role::Server => (case.tls.clone(), target_profile),
        };
        let server = TlsSetup::Server {
            chain: chain.presented.clone(),
            key: Arc::new(chain.key_der()),
            client_trust_anchor: client_certificate.as_ref().map(|(_, root)| root.clone()),
            profile: server_profile,
            binding_only: case.sasl.channel_binding,
        };
        let client = TlsSetup::Client {
            trust_anchor: anchor,
            domain: BUILTIN_DOMAIN.to_owned(),
            identity: case.identity.clone(),
            client_certificate: client_certificate.map(|(certificate, _)| certificate),
            profile: client_profile,
        };
        Ok(BuiltinTls {
            chain,
            server,
            client,
        })
    }
}

/// Why a client-certificate case does not apply to the server called `name`: an external
/// server is not configured to trust the test PKI's client certificates (managed ones are).
pub(crate) fn client_certificates_untrusted(name: &str) -> NotApplicable {
    NotApplicable(format!(
        "{name} is not configured to trust the test PKI's client certificates, so EXTERNAL \
         (XEP-0178) cannot be tested against it"
    ))
}
