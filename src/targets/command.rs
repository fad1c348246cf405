//! Command-launched client targets: a real XMPP client the harness starts once per case,
//! pointed at the harness playing the server.
//!
//! The targets file gives an argument template and environment templates with placeholders
//! (`{host} {port} {domain} {jid} {username} {password} {ca_file} {cert_file} {key_file} {tls}
//! {targets_dir}`). For each case the harness writes the trust anchor to a file in a fresh
//! directory (also the client's `HOME`), and, when the case presents a client certificate
//! (SASL EXTERNAL, XEP-0178), that certificate chain and its key; it then fills the templates and starts the command in its own process group, output to a log file.
//! The process group is killed at the timeout and on drop, like a managed server's. The verdict
//! never comes from the exit status: it comes from what the harness's server side observed.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use rustls_pki_types::CertificateDer;

use tokio::net::TcpListener;

use super::managed::process::{InstanceDir, ServerProcess};
use super::{BUILTIN_DOMAIN, BoxFuture, CaseContext, ClientTarget, HarnessServerSide};
use crate::drive::{self, Transcript};
use crate::error::{HarnessError, NotApplicable};
use crate::proto::server::ServerConfig;
use crate::proto::{Direction, SessionEnd, Side};
use crate::scenario::{CaseSpec, Step, TIMEOUT, Transport};
use crate::transport::TlsSetup;

/// Placeholders a command template may use.
pub const PLACEHOLDERS: [&str; 11] = [
    "host",
    "port",
    "domain",
    "jid",
    "username",
    "password",
    "ca_file",
    "cert_file",
    "key_file",
    "tls",
    "targets_dir",
];

/// How often the harness looks whether a launched client has exited.
const POLL: Duration = Duration::from_millis(20);

/// A command-launched client target as the targets file describes it.
#[derive(Clone, Debug)]
pub struct CommandSpec {
    /// Program and arguments, each a template.
    pub argv: Vec<String>,
    /// Environment variables set for the client, values are templates.
    pub env: Vec<(String, String)>,
    /// How long the client may run per case before it is killed.
    pub timeout: Duration,
    /// The directory of the targets file (`{targets_dir}`), for driver scripts shipped
    /// next to it.
    pub targets_dir: PathBuf,
}

/// What one case tells the client: the values of the placeholders.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The host the harness listens on: the domain's name when it resolves there, else the
    /// address.
    pub host: String,
    /// The port the harness listens on.
    pub port: u16,
    /// The XMPP domain the harness serves (and its certificate names).
    pub domain: String,
    /// The username the client logs in with.
    pub username: String,
    /// The password the client logs in with.
    pub password: String,
    /// The PEM file with the one root the client should trust.
    pub ca_file: PathBuf,
    /// The client certificate chain (PEM, leaf first) and its private key (PKCS#8 PEM) the
    /// client presents, when the case asks for one; `{cert_file}` and `{key_file}` are empty
    /// strings otherwise.
    pub client_certificate: Option<ClientCertificateFiles>,
    /// STARTTLS or direct TLS.
    pub tls: Transport,
    /// The directory of the targets file.
    pub targets_dir: PathBuf,
}

impl Invocation {
    fn value(&self, name: &str) -> Option<String> {
        Some(match name {
            "host" => self.host.clone(),
            "port" => self.port.to_string(),
            "domain" => self.domain.clone(),
            "jid" => format!("{}@{}", self.username, self.domain),
            "username" => self.username.clone(),
            "password" => self.password.clone(),
            "ca_file" => self.ca_file.display().to_string(),
            "cert_file" => self
                .client_certificate
                .as_ref()
                .map(|files| files.cert_file.display().to_string())
                .unwrap_or_default(),
            "key_file" => self
                .client_certificate
                .as_ref()
                .map(|files| files.key_file.display().to_string())
                .unwrap_or_default(),
            "tls" => self.tls.to_string(),
            "targets_dir" => self.targets_dir.display().to_string(),
            _ => return None,
        })
    }
}

/// Where a case's client certificate and key were written.
#[derive(Clone, Debug)]
pub struct ClientCertificateFiles {
    /// The certificate chain, leaf first, PEM.
    pub cert_file: PathBuf,
    /// The leaf's private key, PKCS#8 PEM, mode 0600.
    pub key_file: PathBuf,
}

/// A command-launched client could not be started; the case is an `error`.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A template names a placeholder the harness does not know.
    #[error("unknown placeholder `{{{0}}}`; expected one of {list}", list = PLACEHOLDERS.join(", "))]
    UnknownPlaceholder(String),
    /// The command template is empty.
    #[error("empty command; expected a program and its arguments")]
    Empty,
    /// The case directory or trust anchor file could not be written.
    #[error("cannot prepare {path}: {source}", path = path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The process could not be started.
    #[error("cannot start the client: {0}")]
    Spawn(String),
}

/// Fills the `{name}` placeholders of `template`. Braces around anything but a lower-case
/// name (`${HOME}`, JSON) are left as they are; a lower-case name that is not a placeholder is
/// an error, so that a typo does not reach the client.
pub fn expand(
    template: &str,
    value: impl Fn(&str) -> Option<String>,
) -> Result<String, CommandError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name = after
            .find('}')
            .map(|close| &after[..close])
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        match name {
            Some(name) => {
                out.push_str(
                    &value(name)
                        .ok_or_else(|| CommandError::UnknownPlaceholder(name.to_owned()))?,
                );
                rest = &after[name.len() + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

impl CommandSpec {
    /// Whether any template (argument or environment value) names the placeholder `name`.
    pub fn uses(&self, name: &str) -> bool {
        let needle = format!("{{{name}}}");
        self.argv
            .iter()
            .chain(self.env.iter().map(|(_, value)| value))
            .any(|template| template.contains(&needle))
    }
}

/// Checks that every template of `spec` uses known placeholders only.
pub fn check(spec: &CommandSpec) -> Result<(), CommandError> {
    if spec.argv.is_empty() {
        return Err(CommandError::Empty);
    }
    let known = |name: &str| PLACEHOLDERS.contains(&name).then(String::new);
    for template in spec.argv.iter().chain(spec.env.iter().map(|(_, v)| v)) {
        expand(template, known)?;
    }
    Ok(())
}

/// PEM text of one certificate.
pub fn certificate_pem(certificate: &CertificateDer<'_>) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(certificate.as_ref());
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// A fresh directory for one case's client, removed (with the client stopped) on drop.
pub struct CaseDir {
    dir: InstanceDir,
}

impl CaseDir {
    /// Creates a new directory under the system's temporary directory and writes `anchor` to
    /// `ca.pem` in it.
    pub fn with_anchor(anchor: &CertificateDer<'_>) -> Result<CaseDir, CommandError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "xmpp-interop-client-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let dir = InstanceDir::create(path.clone()).map_err(|e| CommandError::Io {
            path,
            source: std::io::Error::other(e.to_string()),
        })?;
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, certificate_pem(anchor)).map_err(|source| CommandError::Io {
            path: ca_file,
            source,
        })?;
        Ok(CaseDir { dir })
    }

    /// Writes the client certificate chain (`client-cert.pem`) and its key (`client-key.pem`,
    /// mode 0600) for a client that authenticates with SASL EXTERNAL.
    pub fn with_client_certificate(
        &self,
        chain_pem: &str,
        key_pem: &str,
    ) -> Result<ClientCertificateFiles, CommandError> {
        let cert_file = self.dir.path().join("client-cert.pem");
        std::fs::write(&cert_file, chain_pem).map_err(|source| CommandError::Io {
            path: cert_file.clone(),
            source,
        })?;
        let key_file = self.dir.path().join("client-key.pem");
        write_private(&key_file, key_pem).map_err(|source| CommandError::Io {
            path: key_file.clone(),
            source,
        })?;
        Ok(ClientCertificateFiles {
            cert_file,
            key_file,
        })
    }

    /// The trust anchor file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Writes `contents` to a new file only its owner may read.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// A running client process; its process group is killed on drop.
pub struct LaunchedClient {
    process: ServerProcess,
    /// The command line as started, with the password redacted.
    pub shown: String,
}

impl LaunchedClient {
    /// Fills the templates and starts the client in `dir` (its working directory and `HOME`).
    pub fn launch(
        spec: &CommandSpec,
        invocation: &Invocation,
        dir: &CaseDir,
    ) -> Result<LaunchedClient, CommandError> {
        let fill = |t: &String| expand(t, |name| invocation.value(name));
        let argv = spec.argv.iter().map(fill).collect::<Result<Vec<_>, _>>()?;
        let (program, args) = argv.split_first().ok_or(CommandError::Empty)?;
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(dir.path())
            .env("HOME", dir.path());
        for (name, template) in &spec.env {
            command.env(name, fill(template)?);
        }
        let shown = redact(&argv.join(" "), &invocation.password);
        let process = ServerProcess::spawn(command, dir.path())
            .map_err(|e| CommandError::Spawn(e.to_string()))?;
        Ok(LaunchedClient { process, shown })
    }

    /// The exit status, if the client has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.process.exit_status()
    }

    /// Waits up to `limit` for the client to exit; `None` if it is still running.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Kills the client's process group now.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// The last lines of the client's output, with `password` redacted.
    pub fn output_tail(&self, password: &str) -> String {
        redact(&self.process.log_tail(), password)
    }
}

/// `text` with every occurrence of `secret` replaced by `[redacted]`.
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "[redacted]")
    }
}

impl ClientTarget for CommandSpec {
    fn not_applicable(&self, name: &str, case: &CaseSpec) -> Option<NotApplicable> {
        (case.sasl.client_certificate.is_some()
            && !(self.uses("cert_file") && self.uses("key_file")))
        .then(|| {
            NotApplicable(format!(
                "{name}'s command template does not use {{cert_file}} and {{key_file}}, so it \
                 cannot present a client certificate and EXTERNAL (XEP-0178) cannot be tested \
                 with it"
            ))
        })
    }

    fn meet<'a>(
        &'a self,
        name: &'a str,
        case: &'a CaseSpec,
        side: HarnessServerSide<'a>,
        context: CaseContext<'a>,
    ) -> BoxFuture<'a, Result<SessionEnd, HarnessError>> {
        Box::pin(async move {
            let transcript = context.transcript;
            let command_error = |source| HarnessError::Command {
                target: name.to_owned(),
                source,
            };
            let TlsSetup::Client { trust_anchor, .. } = &side.client_tls else {
                return Err(HarnessError::environment(
                    "the client's TLS settings are not client settings",
                ));
            };
            let dir = CaseDir::with_anchor(trust_anchor).map_err(command_error)?;
            let client_certificate = match case.sasl.client_certificate {
                Some(profile) => {
                    let chain = context.catalogue.chain(profile, case.key, BUILTIN_DOMAIN)?;
                    let chain_pem =
                        format!("{}{}", chain.pem.leaf, chain.pem.intermediates.concat());
                    Some(
                        dir.with_client_certificate(&chain_pem, &chain.pem.key)
                            .map_err(command_error)?,
                    )
                }
                None => None,
            };
            let address = side.address;
            let host = host_name(BUILTIN_DOMAIN, address).await;
            transcript.record(
                Direction::Note,
                if host == BUILTIN_DOMAIN {
                    format!("{{host}} is {host}, which resolves to {}", address.ip())
                } else {
                    format!(
                        "{{host}} is the address {host}: {BUILTIN_DOMAIN} does not resolve to it \
                         here (ci/install-targets.sh adds it to /etc/hosts), so a client that \
                         checks the name it connects to cannot show that"
                    )
                },
            );
            let invocation = Invocation {
                host,
                port: address.port(),
                domain: BUILTIN_DOMAIN.to_owned(),
                username: side.username,
                password: side.password,
                ca_file: dir.ca_file(),
                client_certificate,
                tls: case.transport,
                targets_dir: self.targets_dir.clone(),
            };
            let mut client =
                LaunchedClient::launch(self, &invocation, &dir).map_err(command_error)?;
            let session = CommandSession {
                listener: side.listener,
                config: side.config,
                server_tls: side.server_tls,
                direct_tls: side.direct_tls,
                limit: self.timeout,
                read_timeout: context.timeout,
            };
            let end = session.run(&mut client, transcript).await;
            client.stop();
            transcript.record(
                Direction::Note,
                format!(
                    "{name}'s output, last lines:\n{}",
                    client.output_tail(&invocation.password)
                ),
            );
            end
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// What a command client is told to connect to: `domain` when it resolves to the address the
/// harness listens on, so that a client that checks the certificate against the host it was
/// given is tested as it is used; the bare address otherwise.
async fn host_name(domain: &str, address: std::net::SocketAddr) -> String {
    let resolves_here = tokio::net::lookup_host((domain, address.port()))
        .await
        .is_ok_and(|mut found| found.any(|candidate| candidate.ip() == address.ip()));
    if resolves_here {
        domain.to_owned()
    } else {
        address.ip().to_string()
    }
}

/// How long a launched client may take to exit after the harness's side is done.
const CLIENT_SETTLE: Duration = Duration::from_secs(2);

/// The harness's server side of one case against a command-launched client.
struct CommandSession<'a> {
    listener: TcpListener,
    config: ServerConfig,
    server_tls: &'a TlsSetup,
    direct_tls: bool,
    /// The client's whole time budget: it is killed when it runs out.
    limit: Duration,
    read_timeout: Duration,
}

impl CommandSession<'_> {
    /// Waits for the client's connection and serves it; the client is killed at the limit
    /// and the session judged on what was observed until then. The exit status only goes
    /// into the transcript.
    async fn run(
        self,
        client: &mut LaunchedClient,
        transcript: &Transcript,
    ) -> Result<SessionEnd, HarnessError> {
        transcript.record(Direction::Note, format!("started: {}", client.shown));
        let deadline = tokio::time::Instant::now() + self.limit;
        let tcp = tokio::select! {
            accepted = self.listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    return Err(HarnessError::io("accepting the client's connection failed", e));
                }
            },
            status = client.wait_exit(self.limit) => {
                // 126 and 127 are the shell's "cannot execute" and "not found": the client
                // under test never ran, which says nothing about it.
                if let Some(code @ (126 | 127)) = status.and_then(|s| s.code()) {
                    return Err(HarnessError::environment(format!(
                        "the client command could not be run (exit {code}: not found or not \
                         executable); see its output in the transcript"
                    )));
                }
                let detail = match status {
                    Some(status) => format!("the client exited ({status}) without connecting"),
                    None => format!("the client did not connect within {:?}; killed", self.limit),
                };
                transcript.record(Direction::Note, detail.clone());
                return Ok(SessionEnd::Rejected {
                    step: Step::Connect,
                    condition: if status.is_some() { "closed" } else { TIMEOUT }.into(),
                    by: Side::Peer,
                    detail,
                });
            }
        };
        let respond = drive::respond(
            tcp,
            self.config,
            self.server_tls,
            self.direct_tls,
            self.read_timeout,
            transcript,
        );
        tokio::pin!(respond);
        let end = tokio::select! {
            end = &mut respond => end,
            () = tokio::time::sleep_until(deadline) => {
                transcript.record(
                    Direction::Note,
                    format!("the client still runs after {:?}: killed", self.limit),
                );
                client.stop();
                // The connection closes because the harness killed the client, not because
                // the client refused anything: whatever the session saw next is a timeout.
                respond.await.map(|end| match end {
                    SessionEnd::Rejected { step, .. } => SessionEnd::Rejected {
                        step,
                        condition: TIMEOUT.into(),
                        by: Side::Peer,
                        detail: format!(
                            "the client neither went on nor gave up within its {:?} limit \
                             (killed by the harness)",
                            self.limit
                        ),
                    },
                    authenticated => authenticated,
                })
            }
        };
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.wait_exit(left.min(CLIENT_SETTLE)).await {
            Some(status) => {
                transcript.record(Direction::Note, format!("the client exited: {status}"))
            }
            None => transcript.record(
                Direction::Note,
                "the client still runs after the session ended: killed",
            ),
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation() -> Invocation {
        Invocation {
            host: "127.0.0.1".to_owned(),
            port: 5222,
            domain: "interop.test".to_owned(),
            username: "alice".to_owned(),
            password: "pw-1".to_owned(),
            ca_file: PathBuf::from("/tmp/ca.pem"),
            client_certificate: None,
            tls: Transport::DirectTls,
            targets_dir: PathBuf::from("/srv/targets"),
        }
    }

    #[test]
    fn placeholders_are_filled_and_shell_and_json_braces_are_left_alone() {
        let filled = expand(
            "x -j {host}:{port} -u {jid} ${HOME} {\"a\": 1} {tls} {ca_file}",
            |n| invocation().value(n),
        )
        .unwrap();
        assert_eq!(
            filled,
            "x -j 127.0.0.1:5222 -u alice@interop.test ${HOME} {\"a\": 1} direct-tls /tmp/ca.pem"
        );
    }

    #[test]
    fn certificate_placeholders_are_empty_without_a_client_certificate_and_paths_with_one() {
        let mut without = invocation();
        assert_eq!(
            expand("[{cert_file}][{key_file}]", |n| without.value(n)).unwrap(),
            "[][]"
        );
        without.client_certificate = Some(ClientCertificateFiles {
            cert_file: PathBuf::from("/c/client-cert.pem"),
            key_file: PathBuf::from("/c/client-key.pem"),
        });
        assert_eq!(
            expand("[{cert_file}][{key_file}]", |n| without.value(n)).unwrap(),
            "[/c/client-cert.pem][/c/client-key.pem]"
        );
    }

    #[test]
    fn a_spec_knows_which_placeholders_its_templates_use() {
        let spec = CommandSpec {
            argv: vec!["client".to_owned(), "{jid}".to_owned()],
            env: vec![("CERT".to_owned(), "{cert_file}".to_owned())],
            timeout: Duration::from_secs(1),
            targets_dir: PathBuf::from("."),
        };
        assert!(spec.uses("jid") && spec.uses("cert_file"));
        assert!(!spec.uses("key_file") && !spec.uses("password"));
    }

    #[cfg(unix)]
    #[test]
    fn the_client_key_is_written_for_its_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = CaseDir::with_anchor(&CertificateDer::from(vec![1, 2, 3])).unwrap();
        let files = dir
            .with_client_certificate("CERT PEM\n", "KEY PEM\n")
            .unwrap();
        let mode = std::fs::metadata(&files.key_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            std::fs::read_to_string(&files.cert_file).unwrap(),
            "CERT PEM\n"
        );
        assert_eq!(
            std::fs::read_to_string(&files.key_file).unwrap(),
            "KEY PEM\n"
        );
    }

    #[test]
    fn an_unknown_placeholder_is_an_error_naming_it() {
        let spec = CommandSpec {
            argv: vec!["client".to_owned(), "{passwd}".to_owned()],
            env: Vec::new(),
            timeout: Duration::from_secs(1),
            targets_dir: PathBuf::from("."),
        };
        let error = check(&spec).unwrap_err().to_string();
        assert!(error.contains("`{passwd}`"), "{error}");
    }

    #[tokio::test]
    async fn a_hanging_client_is_killed_with_its_process_group_and_its_output_is_redacted() {
        let anchor = CertificateDer::from(vec![1, 2, 3]);
        let dir = CaseDir::with_anchor(&anchor).unwrap();
        let spec = CommandSpec {
            argv: vec![
                "sh".to_owned(),
                "-c".to_owned(),
                "echo logging in with {password} from $HOME; sleep 300".to_owned(),
            ],
            env: Vec::new(),
            timeout: Duration::from_secs(1),
            targets_dir: PathBuf::from("."),
        };
        let mut client = LaunchedClient::launch(&spec, &invocation(), &dir).unwrap();
        assert!(!client.shown.contains("pw-1"), "{}", client.shown);
        assert!(client.wait_exit(Duration::from_millis(200)).await.is_none());
        client.stop();
        let output = client.output_tail("pw-1");
        assert!(output.contains("logging in with [redacted]"), "{output}");
        assert!(!output.contains("pw-1"), "{output}");
        assert!(
            std::fs::read_to_string(dir.ca_file())
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----\nAQID\n")
        );
    }
}
