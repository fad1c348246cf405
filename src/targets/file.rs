//! The targets file (`--targets FILE`): which implementations a run tests and how to reach
//! them. Errors name `file:line:column`, like scenario errors; the CLI exits with code 2.
//!
//! ```yaml
//! targets:
//!   - name: builtin-server
//!     builtin: server
//!   - name: minimal-server      # a built-in target with less than everything
//!     builtin: server
//!     features: { mechanisms: [SCRAM-SHA-1, SCRAM-SHA-1-PLUS], sasl2: false, downgrade-protection: false }
//!   - name: prosody
//!     kind: server
//!     managed: { software: prosody, domain: prosody.test }
//!   - name: their-server
//!     kind: server
//!     implementation: Example 1.2
//!     external:
//!       host: 192.0.2.10
//!       starttls-port: 5222
//!       direct-tls-port: 5223
//!       domain: example.test
//!       account: { jid: alice@example.test, password: secret }
//!       root: their-root.pem
//!       certificate: { profile: startcom-chain, key: ecdsa-p256 }
//!   - name: their-own-chain     # a chain of its own, from a CA in the system root store
//!     kind: server
//!     external:
//!       host: 192.0.2.11
//!       starttls-port: 5222
//!       domain: example.org
//!       account: { jid: alice@example.org, password: secret }
//!       root: system
//!       certificate: own
//!   - name: go-sendxmpp
//!     kind: client
//!     command:
//!       argv: [sh, -c, "echo hi | go-sendxmpp -u {jid} -p {password} -j {host}:{port} {jid}"]
//!       env: { SSL_CERT_FILE: "{ca_file}" }
//!       timeout: 10
//!       version: [go-sendxmpp, --version]
//! ```
//!
//! A `command` client's placeholders are listed in [`super::command::PLACEHOLDERS`];
//! `version` is a command whose first output line names the implementation in reports.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::builtin::{BuiltinClient, BuiltinServer};
use super::command::{CommandSpec, check as check_command};
use super::external::{DeclaredChain, ExternalSpec, TrustedRoot};
use super::managed::{Installation, ManagedSpec, ServerSoftware};
use super::{BuiltinFeatures, Target, TargetRole};
use crate::scenario::{
    CertificateProfile, KeyType, Mechanism, Position, Problem, yaml_options, yaml_problem,
};

/// Time a managed server gets to start listening unless the file says otherwise.
const DEFAULT_STARTUP_SECONDS: u64 = 30;

/// Time a command-launched client gets per case unless the file says otherwise.
const DEFAULT_CLIENT_SECONDS: u64 = 10;

/// A targets file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is not a valid targets file.
    #[error("{path}:{line}:{column}: {message}", path = path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// `what is wrong; expected ...`.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    targets: Vec<RawTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: Spanned<String>,
    kind: Option<Spanned<RawKind>>,
    implementation: Option<String>,
    builtin: Option<Spanned<RawKind>>,
    features: Option<Spanned<RawFeatures>>,
    managed: Option<Spanned<RawManaged>>,
    external: Option<Spanned<RawExternal>>,
    command: Option<Spanned<RawCommand>>,
}

/// `features:` of a built-in target; what is left out is implemented.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawFeatures {
    mechanisms: Option<Vec<Mechanism>>,
    sasl2: Option<bool>,
    downgrade_protection: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommand {
    argv: Vec<String>,
    #[serde(default)]
    env: std::collections::BTreeMap<String, String>,
    timeout: Option<u64>,
    version: Option<Vec<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RawKind {
    Server,
    Client,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawManaged {
    software: ServerSoftware,
    domain: Spanned<String>,
    startup_timeout: Option<u64>,
    /// A Debian root the software is installed in, run with chroot (absolute path).
    root: Option<Spanned<PathBuf>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawExternal {
    host: String,
    starttls_port: u16,
    direct_tls_port: Option<u16>,
    domain: String,
    account: RawAccount,
    root: Spanned<PathBuf>,
    certificate: Option<Spanned<RawChain>>,
}

/// An external target's `certificate:`: `own`, or `{ profile, key }` of the test PKI.
#[derive(Debug)]
enum RawChain {
    Own,
    Declared(RawCertificate),
}

impl<'de> Deserialize<'de> for RawChain {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChainVisitor;
        impl<'de> serde::de::Visitor<'de> for ChainVisitor {
            type Value = RawChain;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`own` or `{ profile: PROFILE, key: KEY }`")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<RawChain, E> {
                if value == "own" {
                    Ok(RawChain::Own)
                } else {
                    Err(E::custom(format!(
                        "unknown certificate `{value}`; expected `own` or `{{ profile: PROFILE, key: KEY }}`"
                    )))
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawChain, A::Error> {
                RawCertificate::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawChain::Declared)
            }
        }
        deserializer.deserialize_any(ChainVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    jid: Spanned<String>,
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCertificate {
    profile: CertificateProfile,
    #[serde(default)]
    key: KeyType,
}

/// Loads a targets file; relative paths in it (an external target's `root`) are relative to
/// the file.
pub fn load_targets(path: &Path) -> Result<Vec<Target>, TargetsError> {
    let text = std::fs::read_to_string(path).map_err(|source| TargetsError::Io {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |problem: Problem| TargetsError::Invalid {
        path: path.to_owned(),
        line: problem.at.line,
        column: problem.at.column,
        message: problem.message,
    };
    let raw: RawFile = serde_saphyr::from_str_with_options(&text, yaml_options())
        .map_err(|e| invalid(yaml_problem(&e)))?;
    if raw.targets.is_empty() {
        return Err(invalid(Problem {
            at: Position::START,
            message: "no targets; expected at least one entry under `targets:`".to_owned(),
        }));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut targets: Vec<Target> = Vec::new();
    for raw_target in raw.targets {
        let name_at = Position::at(&raw_target.name);
        let target = resolve(raw_target, base).map_err(invalid)?;
        if targets.iter().any(|t| t.name == target.name) {
            return Err(invalid(Problem {
                at: name_at,
                message: format!(
                    "duplicate target name `{}`; expected names unique within the file",
                    target.name
                ),
            }));
        }
        targets.push(target);
    }
    Ok(targets)
}

fn resolve(raw: RawTarget, base: &Path) -> Result<Target, Problem> {
    let name = raw.name.value.clone();
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !name_ok {
        return Err(Problem {
            at: Position::at(&raw.name),
            message: format!(
                "bad target name `{name}`; expected letters, digits, `-`, `_` and `.` only"
            ),
        });
    }
    let adapters = usize::from(raw.builtin.is_some())
        + usize::from(raw.managed.is_some())
        + usize::from(raw.external.is_some())
        + usize::from(raw.command.is_some());
    if adapters != 1 {
        return Err(Problem {
            at: Position::at(&raw.name),
            message: format!(
                "target `{name}` has {adapters} of `builtin`, `managed`, `external`, `command`; expected exactly one"
            ),
        });
    }
    let declared_kind = raw.kind.as_ref().map(|k| (k.value, Position::at(k)));
    if let Some(builtin) = raw.builtin {
        let kind = builtin.value;
        if let Some((declared, at)) = declared_kind
            && declared != kind
        {
            return Err(Problem {
                at,
                message: "`kind` differs from `builtin`; expected the same kind or no `kind`"
                    .to_owned(),
            });
        }
        let mut target = match kind {
            RawKind::Server => Target::builtin_server(),
            RawKind::Client => Target::builtin_client(),
        };
        if let Some(features) = raw.features {
            let at = Position::at(&features);
            let features = features.value;
            let mut chosen = BuiltinFeatures::default();
            if let Some(mechanisms) = features.mechanisms {
                if mechanisms.is_empty() {
                    return Err(Problem {
                        at,
                        message: "`features.mechanisms` is empty; expected at least one SASL \
                                  mechanism"
                            .to_owned(),
                    });
                }
                // A conforming client prefers the strongest mechanism it has (RFC 6120
                // §13.8.3), whatever order the file lists them in.
                chosen.mechanisms = Mechanism::ALL
                    .into_iter()
                    .filter(|m| mechanisms.contains(m))
                    .collect();
            }
            chosen.sasl2 = features.sasl2.unwrap_or(chosen.sasl2);
            chosen.downgrade_protection = features
                .downgrade_protection
                .unwrap_or(chosen.downgrade_protection);
            let names: Vec<&str> = chosen.mechanisms.iter().map(|m| m.name()).collect();
            target.implementation = format!(
                "{} with {}{}{}",
                target.implementation,
                names.join(", "),
                if chosen.sasl2 { ", SASL2" } else { "" },
                if chosen.downgrade_protection {
                    ", XEP-0474"
                } else {
                    ""
                }
            );
            target.role = match kind {
                RawKind::Server => TargetRole::Server(Arc::new(BuiltinServer { features: chosen })),
                RawKind::Client => TargetRole::Client(Arc::new(BuiltinClient { features: chosen })),
            };
        }
        target.name = name;
        return Ok(target);
    }
    if let Some(features) = &raw.features {
        return Err(Problem {
            at: Position::at(features),
            message: "`features` belongs to a `builtin` target; expected it only there".to_owned(),
        });
    }
    let Some((kind, kind_at)) = declared_kind else {
        return Err(Problem {
            at: Position::at(&raw.name),
            message: format!(
                "target `{name}` has no `kind`; expected `kind: server` or `kind: client`"
            ),
        });
    };
    if let Some(command) = raw.command {
        if kind != RawKind::Client {
            return Err(Problem {
                at: kind_at,
                message: "a `command` target is a client; expected `kind: client`".to_owned(),
            });
        }
        let at = Position::at(&command);
        let command = command.value;
        let spec = CommandSpec {
            argv: command.argv,
            env: command.env.into_iter().collect(),
            timeout: Duration::from_secs(command.timeout.unwrap_or(DEFAULT_CLIENT_SECONDS)),
            targets_dir: std::path::absolute(base).unwrap_or_else(|_| base.to_owned()),
        };
        check_command(&spec).map_err(|e| Problem {
            at,
            message: e.to_string(),
        })?;
        let implementation = raw
            .implementation
            .or_else(|| {
                let argv = command.version.as_deref()?;
                detect_version(&with_targets_dir(argv, &spec.targets_dir))
            })
            .unwrap_or_else(|| format!("{name} (version unknown)"));
        return Ok(Target {
            name,
            implementation,
            role: TargetRole::Client(Arc::new(spec)),
        });
    }
    if kind == RawKind::Client {
        return Err(Problem {
            at: kind_at,
            message: "managed and external client targets are not supported; expected `command` (or `builtin: client`)".to_owned(),
        });
    }
    if let Some(managed) = raw.managed {
        let managed = managed.value;
        check_domain(&managed.domain)?;
        let installation = match managed.root {
            None => Installation::host(),
            Some(root) if root.value.is_absolute() => Installation::chroot(root.value),
            Some(root) => {
                return Err(Problem {
                    at: Position::at(&root),
                    message: format!(
                        "`root` must be an absolute path, not `{}`",
                        root.value.display()
                    ),
                });
            }
        };
        let version = managed.software.version(&installation);
        let implementation = raw
            .implementation
            .unwrap_or_else(|| managed.software.describe(version.as_deref()));
        return Ok(Target {
            name,
            implementation,
            role: TargetRole::Server(Arc::new(ManagedSpec {
                software: managed.software,
                domain: managed.domain.value,
                startup_timeout: Duration::from_secs(
                    managed.startup_timeout.unwrap_or(DEFAULT_STARTUP_SECONDS),
                ),
                installation,
                version,
            })),
        });
    }
    let Some(external) = raw.external else {
        return Err(Problem {
            at: Position::at(&raw.name),
            message: "no adapter; expected `builtin`, `managed` or `external`".to_owned(),
        });
    };
    let external = external.value;
    let (username, _) = external
        .account
        .jid
        .value
        .split_once('@')
        .filter(|(user, domain)| !user.is_empty() && !domain.is_empty())
        .ok_or_else(|| Problem {
            at: Position::at(&external.account.jid),
            message: format!(
                "bad account JID `{}`; expected `user@domain`",
                external.account.jid.value
            ),
        })?;
    let root =
        if external.root.value == Path::new(SYSTEM_ROOTS) {
            TrustedRoot::System(Arc::new(system_roots().map_err(|message| Problem {
                at: Position::at(&external.root),
                message,
            })?))
        } else {
            let root_path = base.join(&external.root.value);
            TrustedRoot::File(CertificateDer::from_pem_file(&root_path).map_err(|e| Problem {
            at: Position::at(&external.root),
            message: format!(
                "cannot read a PEM certificate from {}: {e}; expected the root that issued the \
                 server's chain, or `system`",
                root_path.display()
            ),
        })?)
        };
    let certificate = match external.certificate.map(|c| c.value) {
        None => DeclaredChain::Undeclared,
        Some(RawChain::Own) => DeclaredChain::Own,
        Some(RawChain::Declared(c)) => DeclaredChain::Profile(c.profile, c.key),
    };
    Ok(Target {
        name,
        implementation: raw
            .implementation
            .unwrap_or_else(|| "external server".to_owned()),
        role: TargetRole::Server(Arc::new(ExternalSpec {
            host: external.host,
            starttls_port: external.starttls_port,
            direct_tls_port: external.direct_tls_port,
            domain: external.domain,
            username: username.to_owned(),
            password: external.account.password,
            root,
            certificate,
            served: Arc::default(),
        })),
    })
}

/// `root: system`: the system's root store instead of a file (`./system` names a file).
const SYSTEM_ROOTS: &str = "system";

/// The system's root certificates: the bundle `SSL_CERT_FILE` names, else Debian's and
/// Fedora's usual places.
pub(crate) fn system_roots() -> Result<Vec<CertificateDer<'static>>, String> {
    let candidates: Vec<PathBuf> = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            PathBuf::from("/etc/ssl/certs/ca-certificates.crt"),
            PathBuf::from("/etc/pki/tls/certs/ca-bundle.crt"),
        ])
        .collect();
    for path in &candidates {
        let Ok(certificates) = CertificateDer::pem_file_iter(path) else {
            continue;
        };
        let roots: Vec<CertificateDer<'static>> = certificates.filter_map(Result::ok).collect();
        if !roots.is_empty() {
            return Ok(roots);
        }
    }
    Err(format!(
        "`root: system` but no system root store was found (looked at {}); expected a CA \
         bundle there (package ca-certificates), or a root file",
        candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// A version command's argv with `{targets_dir}` (the only placeholder it may use, since it
/// runs once, outside any case) replaced by the targets file's directory.
fn with_targets_dir(argv: &[String], targets_dir: &Path) -> Vec<String> {
    let dir = targets_dir.to_string_lossy();
    argv.iter()
        .map(|arg| arg.replace("{targets_dir}", &dir))
        .collect()
}

/// The first non-empty output line of a version command, if it runs and succeeds (a failing
/// command's first line is an error message, not a version).
fn detect_version(argv: &[String]) -> Option<String> {
    let (program, args) = argv.split_first()?;
    let output = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

fn check_domain(domain: &Spanned<String>) -> Result<(), Problem> {
    if rustls_pki_types::DnsName::try_from(domain.value.as_str()).is_err() {
        return Err(Problem {
            at: Position::at(domain),
            message: format!("bad domain `{}`; expected a DNS name", domain.value),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::TargetKind;

    fn load_text(name: &str, text: &str) -> Result<Vec<Target>, TargetsError> {
        let dir = std::env::temp_dir().join(format!(
            "xmpp-interop-targets-{name}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("targets.yaml");
        std::fs::write(&path, text).unwrap();
        let result = load_targets(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        result
    }

    fn message(result: Result<Vec<Target>, TargetsError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn the_shipped_local_targets_file_names_builtins_and_two_generations_of_prosody_and_ejabberd() {
        let targets = load_targets(Path::new("targets/local.yaml")).unwrap();
        let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "builtin-server",
                "builtin-client",
                "prosody-0.12",
                "prosody-13",
                "ejabberd-23",
                "ejabberd-24"
            ]
        );
        let managed = |index: usize| {
            targets[index]
                .server()
                .and_then(|server| server.as_any().downcast_ref::<ManagedSpec>())
        };
        assert!(
            managed(2)
                .is_some_and(|m| m.domain == "prosody.test" && m.installation.root().is_none())
        );
        assert!(managed(3).is_some_and(|m| m.domain == "prosody13.test"
            && m.installation.root()
                == Some(Path::new("/var/lib/xmpp-interop/bookworm-backports"))));
        assert_eq!(targets[1].kind(), TargetKind::Client);
    }

    #[test]
    fn a_relative_root_is_refused_with_its_position() {
        let text = "targets:\n  - name: x\n    kind: server\n    managed: { software: prosody, domain: x.test, root: var/lib/r }\n";
        let error = message(load_text("relative-root", text));
        assert!(
            error.contains(":4:") && error.contains("`root` must be an absolute path"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_field_is_an_error_naming_line_and_column() {
        let text = "targets:\n  - name: x\n    kind: server\n    managed: { software: prosody, domain: x.test, colour: red }\n";
        let error = message(load_text("unknown", text));
        assert!(error.contains("targets.yaml:4:"), "{error}");
        assert!(error.contains("unknown field `colour`"), "{error}");
    }

    #[test]
    fn an_unknown_software_is_an_error_listing_the_supported_ones() {
        let text = "targets:\n  - name: x\n    kind: server\n    managed: { software: openfire, domain: x.test }\n";
        let error = message(load_text("software", text));
        assert!(error.contains("prosody, ejabberd"), "{error}");
    }

    #[test]
    fn a_target_needs_exactly_one_adapter() {
        let text = "targets:\n  - name: both\n    builtin: server\n    managed: { software: prosody, domain: x.test }\n";
        let error = message(load_text("two", text));
        assert!(error.contains(":2:"), "{error}");
        assert!(error.contains("expected exactly one"), "{error}");
    }

    #[test]
    fn duplicate_target_names_are_an_error_at_the_second_name() {
        let text = "targets:\n  - name: a\n    builtin: server\n  - name: a\n    builtin: client\n";
        let error = message(load_text("dup", text));
        assert!(error.contains(":4:"), "{error}");
        assert!(error.contains("duplicate target name `a`"), "{error}");
    }

    #[test]
    fn managed_client_targets_are_refused_with_a_pointer_to_command() {
        let text = "targets:\n  - name: c\n    kind: client\n    managed: { software: prosody, domain: x.test }\n";
        let error = message(load_text("client", text));
        assert!(error.contains("expected `command`"), "{error}");
    }

    #[test]
    fn a_command_client_target_loads_with_its_templates_and_version() {
        let text = "targets:\n  - name: c\n    kind: client\n    command:\n      argv: [client, '{jid}']\n      env: { SSL_CERT_FILE: '{ca_file}' }\n      timeout: 3\n      version: [echo, Client 1.0]\n";
        let targets = load_text("command", text).unwrap();
        let TargetRole::Client(client) = &targets[0].role else {
            panic!("not a client: {:?}", targets[0].role);
        };
        let Some(spec) = client.as_any().downcast_ref::<CommandSpec>() else {
            panic!("not a command: {client:?}");
        };
        assert_eq!(spec.timeout, Duration::from_secs(3));
        assert_eq!(
            spec.env,
            [("SSL_CERT_FILE".to_owned(), "{ca_file}".to_owned())]
        );
        assert_eq!(targets[0].implementation, "Client 1.0");
        assert_eq!(targets[0].kind(), TargetKind::Client);
    }

    #[test]
    fn a_version_command_sees_the_targets_directory_and_a_failing_one_gives_no_version() {
        let text = "targets:\n  - name: here\n    kind: client\n    command:\n      argv: [client]\n      version: [sh, -c, 'echo in {targets_dir}']\n  - name: broken\n    kind: client\n    command:\n      argv: [client]\n      version: [sh, -c, 'echo no such driver >&2; exit 1']\n";
        let targets = load_text("version-dir", text).unwrap();
        assert!(
            targets[0].implementation.starts_with("in /"),
            "{}",
            targets[0].implementation
        );
        assert!(
            !targets[0].implementation.contains("{targets_dir}"),
            "{}",
            targets[0].implementation
        );
        assert_eq!(targets[1].implementation, "broken (version unknown)");
    }

    #[test]
    fn a_command_with_an_unknown_placeholder_is_an_error_at_its_line() {
        let text = "targets:\n  - name: c\n    kind: client\n    command:\n      argv: [client, '{pasword}']\n";
        let error = message(load_text("placeholder", text));
        assert!(error.contains(":5:"), "{error}");
        assert!(error.contains("`{pasword}`"), "{error}");
    }

    #[test]
    fn an_external_target_reads_its_root_relative_to_the_file_and_splits_the_jid() {
        let dir = crate::scratch::ScratchDir::new("targets-external");
        let catalogue = crate::pki::Catalogue::new();
        let chain = catalogue
            .chain(
                CertificateProfile::SelfSigned,
                KeyType::EcdsaP256,
                "example.test",
            )
            .unwrap();
        std::fs::write(dir.join("root.pem"), &chain.pem.root).unwrap();
        let path = dir.join("targets.yaml");
        std::fs::write(
            &path,
            "targets:\n  - name: theirs\n    kind: server\n    implementation: Example 1.2\n    external:\n      host: 127.0.0.1\n      starttls-port: 5222\n      domain: example.test\n      account: { jid: alice@example.test, password: secret }\n      root: root.pem\n      certificate: { profile: self-signed }\n",
        )
        .unwrap();
        let targets = load_targets(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let Some(external) = targets[0]
            .server()
            .and_then(|server| server.as_any().downcast_ref::<ExternalSpec>())
        else {
            panic!("not external: {:?}", targets[0].role);
        };
        assert_eq!(external.username, "alice");
        assert_eq!(external.root, TrustedRoot::File(chain.root.clone()));
        assert_eq!(
            external.certificate,
            DeclaredChain::Profile(CertificateProfile::SelfSigned, KeyType::EcdsaP256)
        );
        assert_eq!(targets[0].implementation, "Example 1.2");
    }

    fn external_text(root: &str, certificate: &str) -> String {
        format!(
            "targets:\n  - name: theirs\n    kind: server\n    external:\n      host: 127.0.0.1\n      starttls-port: 5222\n      domain: example.test\n      account: {{ jid: alice@example.test, password: secret }}\n      root: {root}\n{certificate}"
        )
    }

    fn external_of(targets: &[Target]) -> ExternalSpec {
        let Some(external) = targets[0]
            .server()
            .and_then(|server| server.as_any().downcast_ref::<ExternalSpec>())
        else {
            panic!("not external: {:?}", targets[0].role);
        };
        external.clone()
    }

    #[test]
    fn certificate_own_with_root_system_loads_the_system_roots() {
        let targets = load_text(
            "own-system",
            &external_text("system", "      certificate: own\n"),
        )
        .unwrap();
        let external = external_of(&targets);
        assert_eq!(external.certificate, DeclaredChain::Own);
        let TrustedRoot::System(roots) = &external.root else {
            panic!("not the system roots: {:?}", external.root);
        };
        assert!(!roots.is_empty());
        assert!(external.needs_served_chain());
    }

    #[test]
    fn a_certificate_that_is_neither_own_nor_a_profile_is_an_error_at_its_line() {
        let error = message(load_text(
            "cert-word",
            &external_text("system", "      certificate: mine\n"),
        ));
        assert!(error.contains("targets.yaml:10:"), "{error}");
        assert!(
            error.contains("expected `own` or `{ profile: PROFILE, key: KEY }`"),
            "{error}"
        );
    }

    #[test]
    fn a_declared_profile_with_an_unknown_key_is_an_error_at_its_line() {
        let error = message(load_text(
            "cert-key",
            &external_text(
                "system",
                "      certificate: { profile: startcom-chain, key: rsa-1024 }\n",
            ),
        ));
        assert!(error.contains("targets.yaml:10:"), "{error}");
        assert!(error.contains("rsa-1024"), "{error}");
    }

    #[test]
    fn a_missing_root_file_is_an_error_that_mentions_system() {
        let error = message(load_text(
            "root-missing",
            &external_text("nowhere.pem", "      certificate: own\n"),
        ));
        assert!(error.contains("targets.yaml:9:"), "{error}");
        assert!(error.contains("or `system`"), "{error}");
    }
}
