//! Managed targets: real servers (Prosody, ejabberd) the harness configures, starts on free
//! loopback ports, provisions with the run's account, and stops.
//!
//! One [`Instance`] serves every case that needs the same server-side configuration (an
//! [`InstanceKey`]: certificate profile and key type); [`Instances`] starts each one on first
//! use and stops it when its last case is done. Every instance has its own directory and
//! ports, so several run side by side.
//!
//! Processes are stopped by process group id: in `Drop` (so also on panic), and through
//! [`stop_all`], which the CLI calls from its Ctrl-C handler. Nothing is found by name.

mod ejabberd;
mod federation;
mod installation;
pub(crate) mod process;
mod prosody;

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::OnceCell;

pub use federation::{
    DomainTurn, FederationSlot, FederationTurn, HELD_ELSEWHERE, LOCK_FILE_NAME, MachineLock,
    WAITING, lock_path,
};
pub use installation::Installation;
pub use process::stop_all;
use process::{InstanceDir, ServerProcess};

use super::{
    ACCOUNT_USERNAME, BoxFuture, CaseContext, CaseEnd, Endpoint, Provision, ServerLease,
    ServerTarget, profile_name,
};
use crate::drive::Transcript;
use crate::error::HarnessError;
use crate::pki::IssuedChain;
use crate::proto::{Direction, SessionEnd, Side};
use crate::scenario::{CaseSpec, CertificateProfile, KeyType, S2sAuth, Step, Transport};

/// What the harness needs from one server software to run it as a managed target: one
/// implementation per software (`prosody.rs`, `ejabberd.rs`), listed in [`SOFTWARE`].
pub(crate) trait ManagedServer: Send + Sync {
    /// The name a targets file gives it (`software: prosody`).
    fn name(&self) -> &'static str;
    /// The name reports give it ("Prosody").
    fn display_name(&self) -> &'static str;
    /// The version in `installation`, when it can be found out.
    fn version(&self, installation: &Installation) -> Option<String>;
    /// Writes the server's configuration for `layout` into the instance directory.
    fn render_config(&self, layout: &Layout) -> Result<(), ManagedError>;
    /// Whether the account is created before the server starts or while it runs.
    fn registration(&self) -> Registration;
    /// Creates the account `username` with `password` on the instance of `layout`.
    fn register<'a>(
        &'a self,
        layout: &'a Layout,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<(), ManagedError>>;
    /// Starts the configured server in its own process group and waits (up to `limit`) until
    /// it listens on its STARTTLS port.
    fn start<'a>(
        &'a self,
        layout: &'a Layout,
        limit: Duration,
    ) -> BoxFuture<'a, Result<ServerProcess, ManagedError>>;
    /// How the instance in `dir`, serving `local`, authenticated the last incoming
    /// server-to-server stream from `peer`, as its log tells (`None` when the log names no
    /// authenticated stream from `peer`).
    fn incoming_s2s_authentication(&self, dir: &Path, peer: &str, local: &str) -> Option<S2sAuth>;
}

/// When a server software can create accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Registration {
    /// Before the server starts (its storage is plain files).
    BeforeStart,
    /// Once the server runs (its storage is its own database).
    WhileRunning,
}

/// Every server software the harness can manage; a targets file names one with `software:`.
const SOFTWARE: &[&dyn ManagedServer] = &[&prosody::Prosody, &ejabberd::Ejabberd];

/// The names of [`SOFTWARE`], as a targets file spells them.
static SOFTWARE_NAMES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| SOFTWARE.iter().map(|software| software.name()).collect());

/// Which real server a managed target launches.
#[derive(Clone, Copy)]
pub struct ServerSoftware(&'static dyn ManagedServer);

impl ServerSoftware {
    /// The software a targets file calls `name` (`prosody`, `ejabberd`).
    pub fn named(name: &str) -> Option<ServerSoftware> {
        SOFTWARE
            .iter()
            .copied()
            .find(|software| software.name() == name)
            .map(ServerSoftware)
    }

    /// Its name in a targets file.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The version installed in `installation`, when it can be found out.
    pub fn version(self, installation: &Installation) -> Option<String> {
        self.0.version(installation)
    }

    /// The implementation's name and `version`, or just its name when the version is not
    /// known.
    pub fn describe(self, version: Option<&str>) -> String {
        match version {
            Some(version) => format!("{} {version}", self.0.display_name()),
            None => format!("{} (version unknown)", self.0.display_name()),
        }
    }
}

impl fmt::Debug for ServerSoftware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq for ServerSoftware {
    fn eq(&self, other: &ServerSoftware) -> bool {
        self.name() == other.name()
    }
}

impl Eq for ServerSoftware {}

impl std::hash::Hash for ServerSoftware {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl<'de> Deserialize<'de> for ServerSoftware {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        ServerSoftware::named(&name)
            .ok_or_else(|| serde::de::Error::unknown_variant(&name, SOFTWARE_NAMES.as_slice()))
    }
}

/// A managed server target as the targets file describes it.
#[derive(Clone, Debug)]
pub struct ManagedSpec {
    /// Which server.
    pub software: ServerSoftware,
    /// The XMPP domain it serves (and its certificates name).
    pub domain: String,
    /// How long it may take to start listening.
    pub startup_timeout: Duration,
    /// Where the software is installed.
    pub installation: Installation,
    /// Its version there, found out once when the targets file is read; configurations turn
    /// on what that release implements.
    pub version: Option<String>,
}

/// A managed server could not be set up; the case is an `error`, never a `fail`.
#[derive(Debug, thiserror::Error)]
pub enum ManagedError {
    /// A file or directory could not be prepared.
    #[error("cannot prepare {path}: {source}", path = path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// No free loopback port could be found.
    #[error("no free port on 127.0.0.1: {0}")]
    NoPort(std::io::Error),
    /// The server's program could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The server exited before it listened.
    #[error("{what} exited ({status}) before listening; log tail:\n{log_tail}")]
    Exited {
        /// Which server.
        what: String,
        /// Its exit status.
        status: String,
        /// The last lines of its output.
        log_tail: String,
    },
    /// The server did not listen in time.
    #[error("{what} did not listen on {address} within {waited:?}; log tail:\n{log_tail}")]
    NotListening {
        /// Which server.
        what: String,
        /// The port it should have opened.
        address: SocketAddr,
        /// How long the harness waited.
        waited: Duration,
        /// The last lines of its output.
        log_tail: String,
    },
    /// The server listened but did not say it was ready in time.
    #[error("{what} listens but did not log `{line}` within {waited:?}; log tail:\n{log_tail}")]
    NotReady {
        /// Which server.
        what: String,
        /// The line it logs once it is ready.
        line: String,
        /// How long the harness waited.
        waited: Duration,
        /// The last lines of its output.
        log_tail: String,
    },
    /// A provisioning command (account creation) failed.
    #[error("`{command}` failed ({status}): {output}")]
    Command {
        /// The command, without secrets.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed.
        output: String,
    },
    /// The system lacks something the server needs (a user, a program).
    #[error("{0}")]
    Unavailable(String),
}

/// What decides a managed server's configuration: cases with equal keys share an instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceKey {
    /// The target's name.
    pub target: String,
    /// The certificate profile the server presents.
    pub certificate: CertificateProfile,
    /// The key type of that chain.
    pub key: KeyType,
    /// Configured for client certificates (XEP-0178): it trusts the test PKI's client root
    /// and authenticates with SASL EXTERNAL.
    pub client_certificates: bool,
}

/// How a managed instance takes part in server-to-server federation on loopback: where it
/// listens and which peers it accepts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Federation {
    /// The address `/etc/hosts` gives the instance's domain; every listener binds it, and
    /// server-to-server connections go to its port 5269.
    pub address: Ipv4Addr,
    /// PEM of the roots the instance trusts for its peers' certificates.
    pub trusted_roots_pem: String,
    /// Accept a peer only when its certificate authenticates its domain (SASL EXTERNAL); no
    /// dialback fallback.
    pub require_certificate: bool,
}

/// The standard server-to-server port (RFC 6120 §14.7) every federating instance uses: peers
/// find each other by name alone, without SRV records.
pub const S2S_PORT: u16 = 5269;

/// The port a federating instance accepts direct-TLS server-to-server connections on
/// (XEP-0368); a real deployment would publish it in an `_xmpps-server` SRV record.
pub const S2S_DIRECT_TLS_PORT: u16 = 5270;

/// Everything a server's configuration is rendered from.
pub(crate) struct Layout {
    /// Where the software is installed; paths in the configuration are
    /// [`Installation::seen`] from there.
    pub installation: Installation,
    /// The software's version, when known.
    pub version: Option<String>,
    /// The instance's own directory (as the host sees it).
    pub dir: PathBuf,
    /// The XMPP domain.
    pub domain: String,
    /// The address every listener binds.
    pub address: Ipv4Addr,
    /// The STARTTLS (and plaintext) c2s port.
    pub starttls_port: u16,
    /// The direct-TLS (XEP-0368) c2s port.
    pub direct_tls_port: u16,
    /// A spare port for the server's own use (ejabberd's Erlang distribution).
    pub spare_port: u16,
    /// The server-to-server port (STARTTLS).
    pub s2s_port: u16,
    /// The direct-TLS server-to-server port (XEP-0368).
    pub s2s_direct_tls_port: u16,
    /// The roots the server trusts for peers' certificates, PEM: peer servers' roots when it
    /// federates, the test PKI's client root when it trusts client certificates.
    pub cafile: PathBuf,
    /// Refuse dialback: peers must authenticate with a certificate.
    pub require_certificate: bool,
    /// The leaf and intermediates, PEM.
    pub fullchain: PathBuf,
    /// The private key, PEM (PKCS#8).
    pub key: PathBuf,
    /// Leaf, intermediates and key in one PEM file.
    pub combined: PathBuf,
    /// Configured for client certificates (XEP-0178): `cafile` holds the client root, and the
    /// server asks clients for a certificate and offers SASL EXTERNAL.
    pub client_certificates: bool,
}

/// One running server.
pub struct Instance {
    /// Which server.
    pub software: ServerSoftware,
    /// Its domain.
    pub domain: String,
    starttls: SocketAddr,
    direct_tls: Result<SocketAddr, String>,
    s2s: SocketAddr,
    s2s_direct_tls: SocketAddr,
    /// How long it took from spawning to listening and provisioned.
    pub startup: Duration,
    /// Stopped first when the instance is dropped, then the directory goes.
    process: ServerProcess,
    dir: InstanceDir,
}

impl Instance {
    /// The address for a case's transport, or why the server does not listen for it (a server
    /// that cannot use the case's certificate may not open its direct-TLS port).
    pub fn address(&self, transport: Transport) -> Result<SocketAddr, String> {
        match transport {
            Transport::DirectTls => self.direct_tls.clone(),
            Transport::Starttls | Transport::Plaintext => Ok(self.starttls),
        }
    }

    /// Where it listens for STARTTLS (and plaintext) connections.
    pub fn starttls_address(&self) -> SocketAddr {
        self.starttls
    }

    /// Where it accepts server-to-server streams for `transport`.
    pub fn s2s_address(&self, transport: Transport) -> SocketAddr {
        match transport {
            Transport::DirectTls => self.s2s_direct_tls,
            Transport::Starttls | Transport::Plaintext => self.s2s,
        }
    }

    /// How this server authenticated the incoming server-to-server stream from `peer`, as its
    /// own log tells (`None` when the log names no authenticated stream from `peer`).
    pub fn incoming_s2s_authentication(&self, peer: &str) -> Option<S2sAuth> {
        self.software
            .0
            .incoming_s2s_authentication(self.dir.path(), peer, &self.domain)
    }

    /// The last lines the server logged, for transcripts of failing cases.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    /// Configures and starts the server for `chain`, waits until it listens and creates the
    /// `account` (username, password) when there is one (a case that never logs in to the
    /// server needs none, and ejabberd's account creation costs a second Erlang VM). Without
    /// `federation` it listens on 127.0.0.1 only, with its server-to-server ports on free
    /// ports nobody will use. With `client_root` (PEM) it trusts that root for client
    /// certificates and authenticates them with SASL EXTERNAL.
    pub async fn start(
        spec: &ManagedSpec,
        key: &InstanceKey,
        chain: &IssuedChain,
        account: Option<(&str, &str)>,
        federation: Option<&Federation>,
        client_root: Option<&str>,
    ) -> Result<Instance, ManagedError> {
        let started = std::time::Instant::now();
        spec.installation.check()?;
        if let Some(federation) = federation {
            for port in [S2S_PORT, S2S_DIRECT_TLS_PORT] {
                wait_until_free(SocketAddr::from((federation.address, port))).await?;
            }
        }
        let (dir, layout) = prepare(spec, key, chain, federation, client_root)?;
        let software = spec.software.0;
        software.render_config(&layout)?;
        if let (Some((username, password)), Registration::BeforeStart) =
            (account, software.registration())
        {
            software.register(&layout, username, password).await?;
        }
        let mut process = software.start(&layout, spec.startup_timeout).await?;
        if let (Some((username, password)), Registration::WhileRunning) =
            (account, software.registration())
        {
            software.register(&layout, username, password).await?;
        }
        if federation.is_some() {
            // The adapters wait for the c2s port; a peer must not find the s2s ports closed.
            let s2s_ports = [layout.s2s_port, layout.s2s_direct_tls_port].map(|p| layout.socket(p));
            process
                .wait_listening("the server", &s2s_ports, spec.startup_timeout)
                .await?;
        }
        let direct_tls = layout.socket(layout.direct_tls_port);
        let direct_tls = match process
            .wait_listening("the server", &[direct_tls], DIRECT_TLS_GRACE)
            .await
        {
            Ok(()) => Ok(direct_tls),
            Err(ManagedError::NotListening { log_tail, .. }) => Err(format!(
                "the server listens for STARTTLS but did not open its direct-TLS port {direct_tls} with this certificate; its log:\n{log_tail}"
            )),
            Err(e) => return Err(e),
        };
        Ok(Instance {
            software: spec.software,
            domain: spec.domain.clone(),
            starttls: layout.socket(layout.starttls_port),
            direct_tls,
            s2s: layout.socket(layout.s2s_port),
            s2s_direct_tls: layout.socket(layout.s2s_direct_tls_port),
            startup: started.elapsed(),
            process,
            dir,
        })
    }
}

impl Layout {
    /// `port` on the instance's address.
    pub(crate) fn socket(&self, port: u16) -> SocketAddr {
        SocketAddr::from((self.address, port))
    }

    /// A file of the instance as the server sees it (inside its root, if it has one).
    pub(crate) fn seen(&self, path: &Path) -> String {
        self.installation.seen(path)
    }

    /// The version's leading number (13 for "13.0.1"), 0 when unknown.
    pub(crate) fn major_version(&self) -> u32 {
        self.version
            .as_deref()
            .and_then(|v| v.split('.').next())
            .and_then(|major| major.parse().ok())
            .unwrap_or(0)
    }
}

/// How long a server that listens on its STARTTLS port may take to open its direct-TLS port
/// too; both open together unless the server cannot use the certificate for direct TLS.
const DIRECT_TLS_GRACE: Duration = Duration::from_secs(3);

/// Distinguishes instance directories of one harness process.
static INSTANCE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Creates the instance directory, picks ports and writes the certificate files.
fn prepare(
    spec: &ManagedSpec,
    key: &InstanceKey,
    chain: &IssuedChain,
    federation: Option<&Federation>,
    client_root: Option<&str>,
) -> Result<(InstanceDir, Layout), ManagedError> {
    let serial = INSTANCE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = InstanceDir::create(spec.installation.temp_dir().join(format!(
        "xmpp-interop-{}-{}-{}-{}-{serial}",
        std::process::id(),
        sanitize(&key.target),
        key.certificate,
        key.key
    )))?;
    let intermediates = chain.pem.intermediates.concat();
    let fullchain_pem = format!("{}{intermediates}", chain.pem.leaf);
    let [
        starttls_port,
        direct_tls_port,
        spare_port,
        s2s_free,
        s2s_direct_tls_free,
    ] = distinct_free_ports()?;
    let (address, s2s_port, s2s_direct_tls_port) = match federation {
        Some(federation) => (federation.address, S2S_PORT, S2S_DIRECT_TLS_PORT),
        None => (Ipv4Addr::LOCALHOST, s2s_free, s2s_direct_tls_free),
    };
    let layout = Layout {
        installation: spec.installation.clone(),
        version: spec.version.clone(),
        domain: spec.domain.clone(),
        address,
        starttls_port,
        direct_tls_port,
        spare_port,
        s2s_port,
        s2s_direct_tls_port,
        cafile: dir.path().join("peer-roots.pem"),
        require_certificate: federation.is_some_and(|f| f.require_certificate),
        fullchain: dir.path().join("fullchain.pem"),
        key: dir.path().join("key.pem"),
        combined: dir.path().join("combined.pem"),
        client_certificates: client_root.is_some(),
        dir: dir.path().to_owned(),
    };
    write(&layout.fullchain, &fullchain_pem)?;
    let key_pem = chain.pem.key.clone();
    write(&layout.key, &key_pem)?;
    write(&layout.combined, &format!("{fullchain_pem}{key_pem}"))?;
    // Without federation no peer server ever connects: the file holds the client root of a
    // client-certificate instance, or else the instance's own root, which keeps it valid.
    let peer_roots = federation.map_or(client_root.unwrap_or(&chain.pem.root), |f| {
        f.trusted_roots_pem.as_str()
    });
    write(&layout.cafile, peer_roots)?;
    Ok((dir, layout))
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

pub(crate) fn io_error(path: &Path) -> impl Fn(std::io::Error) -> ManagedError + '_ {
    move |source| ManagedError::Io {
        path: path.to_owned(),
        source,
    }
}

pub(crate) fn write(path: &Path, contents: &str) -> Result<(), ManagedError> {
    std::fs::write(path, contents).map_err(io_error(path))
}

/// How long a fixed federation port may stay taken: the previous instance's processes are
/// killed before the next one starts, but the kernel closes their sockets only once they are
/// gone, which can take a moment after the group leader was reaped.
const PORT_RELEASE_LIMIT: Duration = Duration::from_secs(5);

/// Waits until `address` can be listened on again.
async fn wait_until_free(address: SocketAddr) -> Result<(), ManagedError> {
    let started = std::time::Instant::now();
    loop {
        match TcpListener::bind(address) {
            Ok(_) => return Ok(()),
            Err(e) if started.elapsed() > PORT_RELEASE_LIMIT => {
                return Err(ManagedError::Unavailable(format!(
                    "{address} is still in use after {PORT_RELEASE_LIMIT:?} ({e}): another server \
                     or harness federates on this machine"
                )));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// `N` ports of 127.0.0.1 nobody listens on right now (the kernel's choice of ephemeral ones),
/// all different: each is held until all are chosen, since a port released at once can be
/// handed out again, and an instance whose c2s direct-TLS port is its own s2s port answers a
/// client with a server stream.
fn distinct_free_ports<const N: usize>() -> Result<[u16; N], ManagedError> {
    let mut held = Vec::with_capacity(N);
    let mut ports = [0; N];
    for port in &mut ports {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(ManagedError::NoPort)?;
        *port = listener.local_addr().map_err(ManagedError::NoPort)?.port();
        held.push(listener);
    }
    Ok(ports)
}

/// Renders a template: every `{{name}}` is replaced by its value.
pub(crate) fn render(template: &str, values: &[(&str, String)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("{{{{{name}}}}}"), value);
    }
    text
}

/// Runs a provisioning command on a blocking thread; `shown` names it in errors (no secrets).
pub(crate) async fn run_command(
    command: std::process::Command,
    shown: String,
) -> Result<(), ManagedError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = tokio::task::spawn_blocking(move || process::run_to_end(command))
        .await
        .map_err(|e| ManagedError::Unavailable(format!("`{shown}` did not finish: {e}")))?
        .map_err(|source| ManagedError::Spawn { program, source })?;
    if output.status.success() {
        return Ok(());
    }
    Err(ManagedError::Command {
        command: shown,
        status: output.status.to_string(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    })
}

/// A started instance, or why it did not start (shared by every case of its key).
type StartResult = Result<Arc<Instance>, Arc<ManagedError>>;

/// A slot for one instance: started once, shared by its cases, dropped after the last one.
struct Slot {
    instance: Arc<OnceCell<StartResult>>,
    remaining: usize,
}

/// The run's managed instances, keyed by configuration.
#[derive(Default)]
pub struct Instances {
    slots: Mutex<HashMap<InstanceKey, Slot>>,
}

impl Instances {
    /// No instances yet.
    pub fn new() -> Instances {
        Instances::default()
    }

    /// Announces one more case for `key`: the instance lives until that many are released.
    pub fn reserve(&self, key: InstanceKey) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots
            .entry(key)
            .or_insert_with(|| Slot {
                instance: Arc::new(OnceCell::new()),
                remaining: 0,
            })
            .remaining += 1;
    }

    /// The instance for `key`, started by the first case that asks (the others wait for it).
    /// A failed start is remembered, so every case of that configuration reports the same
    /// error instead of starting the server again.
    pub async fn get(
        &self,
        spec: &ManagedSpec,
        key: &InstanceKey,
        chain: &IssuedChain,
        account: (&str, &str),
        client_root: Option<&str>,
    ) -> Result<Arc<Instance>, Arc<ManagedError>> {
        let cell = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let slot = slots.entry(key.clone()).or_insert_with(|| Slot {
                instance: Arc::new(OnceCell::new()),
                remaining: 1,
            });
            Arc::clone(&slot.instance)
        };
        cell.get_or_init(|| async {
            Instance::start(spec, key, chain, Some(account), None, client_root)
                .await
                .map(Arc::new)
                .map_err(Arc::new)
        })
        .await
        .clone()
    }

    /// One case of `key` is done; the last one stops the instance.
    pub fn release(&self, key: &InstanceKey) {
        let finished = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            match slots.get_mut(key) {
                Some(slot) if slot.remaining > 1 => {
                    slot.remaining -= 1;
                    None
                }
                Some(_) => slots.remove(key),
                None => None,
            }
        };
        drop(finished);
    }
}

impl ServerTarget for ManagedSpec {
    fn provision<'a>(
        &'a self,
        name: &'a str,
        case: &'a CaseSpec,
        context: CaseContext<'a>,
    ) -> BoxFuture<'a, Result<Provision, HarnessError>> {
        Box::pin(async move {
            let chain = context
                .catalogue
                .chain(case.certificate, case.key, &self.domain)?;
            // XEP-0178 cases get an instance that trusts the root of the test PKI's client
            // certificates (the one `client-alice` comes from; `client-untrusted` is issued
            // by another).
            let client_root = match case.sasl.client_certificate {
                Some(_) => Some(
                    context
                        .catalogue
                        .chain(CertificateProfile::ClientAlice, case.key, &self.domain)?
                        .pem
                        .root
                        .clone(),
                ),
                None => None,
            };
            let key = instance_key(name, case);
            let instance = context
                .instances
                .get(
                    self,
                    &key,
                    &chain,
                    (ACCOUNT_USERNAME, context.password),
                    client_root.as_deref(),
                )
                .await
                .map_err(|source| HarnessError::ManagedStart {
                    target: name.to_owned(),
                    source,
                })?;
            context.transcript.record(
                Direction::Note,
                format!(
                    "{name} instance for {} presents {} ({} certificates) on {} (STARTTLS) and {} (direct TLS); it started in {:.2} s",
                    instance.domain,
                    profile_name(&chain),
                    chain.presented.len(),
                    instance.starttls_address(),
                    instance
                        .address(Transport::DirectTls)
                        .map_or_else(|_| "no port".to_owned(), |a| a.to_string()),
                    instance.startup.as_secs_f64()
                ),
            );
            let address = match instance.address(case.transport) {
                Ok(address) => address,
                Err(reason) => {
                    return Ok(Provision::Ended(CaseEnd::Session(SessionEnd::Rejected {
                        step: Step::Connect,
                        condition: "connection-refused".into(),
                        by: Side::Peer,
                        detail: reason,
                    })));
                }
            };
            Ok(Provision::Ready {
                endpoint: Endpoint {
                    address,
                    domain: instance.domain.clone(),
                    username: ACCOUNT_USERNAME.to_owned(),
                    password: context.password.to_owned(),
                    chain_root: chain.root.clone(),
                },
                lease: Box::new(SharedInstance {
                    target: name.to_owned(),
                    instance,
                }),
            })
        })
    }

    /// Server-to-server cases federate: their instance is their own, not a shared one.
    fn shared_instance(&self, name: &str, case: &CaseSpec) -> Option<InstanceKey> {
        case.s2s.is_none().then(|| instance_key(name, case))
    }

    fn federating(&self) -> Option<&ManagedSpec> {
        Some(self)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The shared instance a client-to-server case of the target `name` runs against.
fn instance_key(name: &str, case: &CaseSpec) -> InstanceKey {
    InstanceKey {
        target: name.to_owned(),
        certificate: case.certificate,
        key: case.key,
        client_certificates: case.sasl.client_certificate.is_some(),
    }
}

/// A case's hold on a shared managed instance; the runner releases the instance by key.
struct SharedInstance {
    target: String,
    instance: Arc<Instance>,
}

impl ServerLease for SharedInstance {
    /// Keeps the instance running for the other cases, and shows its log after a session that
    /// did not authenticate.
    fn stop<'a>(
        self: Box<Self>,
        ended: &'a Result<SessionEnd, HarnessError>,
        transcript: &'a Transcript,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if matches!(ended, Ok(SessionEnd::Rejected { .. }) | Err(_)) {
                transcript.record(
                    Direction::Note,
                    format!(
                        "{}'s log, last lines:\n{}",
                        self.target,
                        self.instance.log_tail()
                    ),
                );
            }
        })
    }
}
