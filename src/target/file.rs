//! The targets file (`--targets FILE`): which implementations a run tests and how to reach
//! them. Errors name `file:line:column`, like scenario errors; the CLI exits with code 2.
//!
//! ```yaml
//! targets:
//!   - name: builtin-server
//!     builtin: server
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
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::external::ExternalSpec;
use super::managed::{ManagedSpec, ServerSoftware};
use super::{Adapter, Target, TargetKind};
use crate::scenario::{CertificateProfile, KeyType, Position, Problem, yaml_options, yaml_problem};

/// Time a managed server gets to start listening unless the file says otherwise.
const DEFAULT_STARTUP_SECONDS: u64 = 30;

/// A targets file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
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
    managed: Option<Spanned<RawManaged>>,
    external: Option<Spanned<RawExternal>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RawKind {
    Server,
    Client,
}

impl From<RawKind> for TargetKind {
    fn from(kind: RawKind) -> TargetKind {
        match kind {
            RawKind::Server => TargetKind::Server,
            RawKind::Client => TargetKind::Client,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawManaged {
    software: ServerSoftware,
    domain: Spanned<String>,
    startup_timeout: Option<u64>,
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
    certificate: Option<RawCertificate>,
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
        + usize::from(raw.external.is_some());
    if adapters != 1 {
        return Err(Problem {
            at: Position::at(&raw.name),
            message: format!(
                "target `{name}` has {adapters} of `builtin`, `managed`, `external`; expected exactly one"
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
        target.name = name;
        return Ok(target);
    }
    let Some((kind, kind_at)) = declared_kind else {
        return Err(Problem {
            at: Position::at(&raw.name),
            message: format!(
                "target `{name}` has no `kind`; expected `kind: server` or `kind: client`"
            ),
        });
    };
    if kind == RawKind::Client {
        return Err(Problem {
            at: kind_at,
            message: "managed and external client targets are not supported yet; expected `kind: server` (or `builtin: client`)".to_owned(),
        });
    }
    if let Some(managed) = raw.managed {
        let managed = managed.value;
        check_domain(&managed.domain)?;
        let implementation = raw
            .implementation
            .unwrap_or_else(|| managed.software.describe());
        return Ok(Target {
            name,
            kind: kind.into(),
            implementation,
            adapter: Adapter::Managed(ManagedSpec {
                software: managed.software,
                domain: managed.domain.value,
                startup_timeout: Duration::from_secs(
                    managed.startup_timeout.unwrap_or(DEFAULT_STARTUP_SECONDS),
                ),
            }),
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
    let root_path = base.join(&external.root.value);
    let root = CertificateDer::from_pem_file(&root_path).map_err(|e| Problem {
        at: Position::at(&external.root),
        message: format!(
            "cannot read a PEM certificate from {}: {e}; expected the root that issued the server's chain",
            root_path.display()
        ),
    })?;
    Ok(Target {
        name,
        kind: kind.into(),
        implementation: raw
            .implementation
            .unwrap_or_else(|| "external server".to_owned()),
        adapter: Adapter::External(ExternalSpec {
            host: external.host,
            starttls_port: external.starttls_port,
            direct_tls_port: external.direct_tls_port,
            domain: external.domain,
            username: username.to_owned(),
            password: external.account.password,
            root,
            certificate: external.certificate.map(|c| (c.profile, c.key)),
        }),
    })
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
