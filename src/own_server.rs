//! `xmpp-interop init`: everything a participant needs to test a server of their own that the
//! harness does not start — the test PKI for their domain, a targets file with an `external:`
//! target for it, and the snippet of server configuration (Prosody, ejabberd) or the written
//! instructions (any other software) that install the chain, open direct TLS and enable the
//! SASL mechanisms.

use std::fmt;
use std::path::{Path, PathBuf};

use rand::Rng as _;
use rand::distributions::Alphanumeric;

use crate::pki::{self, PkiError};
use crate::scenario::{CertificateProfile, KeyType};
use crate::targets::managed::render;

/// The Prosody snippet: two global options and one VirtualHost.
const PROSODY_TEMPLATE: &str = include_str!("../fixtures/init/prosody.cfg.lua");
/// The ejabberd snippet, for `include_config_file`.
const EJABBERD_TEMPLATE: &str = include_str!("../fixtures/init/ejabberd.yml");
/// The instructions for software without a template.
const OTHER_TEMPLATE: &str = include_str!("../fixtures/init/other.md");

/// The chain every participant's server serves: the seed's StartCom-style chain (leaf and
/// intermediate sent, root trusted), the one most c2s scenarios run on.
pub const PROFILE: CertificateProfile = CertificateProfile::StartcomChain;

/// The local part of the test account.
pub const USERNAME: &str = "xmpp-interop";

/// The server software the configuration is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Software {
    /// Prosody (0.12 and 13): a snippet to `Include`.
    Prosody,
    /// ejabberd (23.01 and later): a snippet for `include_config_file`.
    Ejabberd,
    /// Anything else: written instructions.
    Other,
}

impl Software {
    /// The target's name in the targets file, unless the user gives one.
    pub fn default_target_name(self) -> &'static str {
        match self {
            Software::Prosody => "prosody",
            Software::Ejabberd => "ejabberd",
            Software::Other => "server",
        }
    }
}

impl std::str::FromStr for Software {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "prosody" => Ok(Software::Prosody),
            "ejabberd" => Ok(Software::Ejabberd),
            "other" => Ok(Software::Other),
            _ => Err(format!(
                "unknown software {text:?}; expected prosody, ejabberd or other"
            )),
        }
    }
}

impl fmt::Display for Software {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Software::Prosody => "Prosody",
            Software::Ejabberd => "ejabberd",
            Software::Other => "your server",
        })
    }
}

/// What `init` is asked to prepare.
#[derive(Clone, Debug)]
pub struct OwnServer {
    /// The XMPP domain under test.
    pub domain: String,
    /// The software that serves it.
    pub software: Software,
    /// Where the harness connects (a host name or an IP address).
    pub host: String,
    /// The c2s port with STARTTLS.
    pub starttls_port: u16,
    /// The XEP-0368 direct-TLS c2s port.
    pub direct_tls_port: u16,
    /// The key type of the chain.
    pub key: KeyType,
    /// The target's name in the targets file.
    pub target_name: String,
}

/// What `init` wrote, and what the participant does next.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The directory, absolute.
    pub dir: PathBuf,
    /// The targets file.
    pub targets: PathBuf,
    /// The server configuration snippet, or the instructions.
    pub configuration: PathBuf,
    /// The test account's JID.
    pub jid: String,
    /// The steps left to the participant, in order, each one line.
    pub next_steps: Vec<String>,
}

/// `init` could not prepare the directory.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The domain cannot be a certificate's DNS name (a usage error).
    #[error("{0}")]
    InvalidDomain(PkiError),
    /// The target name is not one a targets file accepts (a usage error).
    #[error("{name:?} is not a usable target name; expected letters, digits, `-`, `_` or `.`")]
    InvalidName {
        /// The name as given.
        name: String,
    },
    /// The directory holds files already (a usage error).
    #[error("{} is not empty; choose another --out or pass --force to overwrite what init writes", dir.display())]
    NotEmpty {
        /// The directory.
        dir: PathBuf,
    },
    /// The PKI could not be generated or written.
    #[error("{0}")]
    Pki(PkiError),
    /// A file or directory could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl InitError {
    /// Whether the user asked for something that cannot be (exit 2), rather than the machine
    /// failing to write it (exit 3).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            InitError::InvalidDomain(_)
                | InitError::InvalidName { .. }
                | InitError::NotEmpty { .. }
        )
    }
}

/// Writes the PKI, the targets file and the configuration for `server` into `out` (created
/// when missing; refused when it holds files, unless `force`).
pub fn prepare(server: &OwnServer, out: &Path, force: bool) -> Result<Prepared, InitError> {
    if !is_target_name(&server.target_name) {
        return Err(InitError::InvalidName {
            name: server.target_name.clone(),
        });
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| InitError::Io { path, source }
    };
    if !force && std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(InitError::NotEmpty {
            dir: out.to_owned(),
        });
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let dir = std::path::absolute(out).map_err(io(out))?;
    let pki_dir = dir.join("pki");
    pki::provision::generate(&server.domain, &pki_dir, &[PROFILE], server.key).map_err(
        |e| match e {
            e @ PkiError::InvalidDomain { .. } => InitError::InvalidDomain(e),
            e => InitError::Pki(e),
        },
    )?;
    let chain_dir = pki_dir.join(PROFILE.to_string());
    let password = new_password();
    let jid = format!("{USERNAME}@{}", server.domain);
    let targets = dir.join("targets.yaml");
    std::fs::write(&targets, targets_file(server, &jid, &password)).map_err(io(&targets))?;

    let (configuration, template) = match server.software {
        Software::Prosody => (dir.join("prosody-xmpp-interop.cfg.lua"), PROSODY_TEMPLATE),
        Software::Ejabberd => (dir.join("ejabberd-xmpp-interop.yml"), EJABBERD_TEMPLATE),
        Software::Other => (dir.join("SERVER-SETUP.md"), OTHER_TEMPLATE),
    };
    let shown = |path: &Path| path.display().to_string();
    let listen_ip = match server.host.parse::<std::net::IpAddr>() {
        Ok(ip) => format!("    ip: \"{ip}\"\n"),
        Err(_) => String::new(),
    };
    let text = render(
        template,
        &[
            ("domain", server.domain.clone()),
            ("software", server.software.to_string()),
            ("snippet", shown(&configuration)),
            ("fullchain", shown(&chain_dir.join("fullchain.pem"))),
            ("key", shown(&chain_dir.join("key.pem"))),
            ("root", shown(&chain_dir.join("root.pem"))),
            ("starttls_port", server.starttls_port.to_string()),
            ("direct_tls_port", server.direct_tls_port.to_string()),
            ("listen_ip", listen_ip),
            ("jid", jid.clone()),
            ("targets", shown(&targets)),
        ],
    );
    std::fs::write(&configuration, text).map_err(io(&configuration))?;

    let next_steps = next_steps(server, &configuration, &targets, &password);
    Ok(Prepared {
        dir,
        targets,
        configuration,
        jid,
        next_steps,
    })
}

/// The targets file: one external server target for the participant's domain.
fn targets_file(server: &OwnServer, jid: &str, password: &str) -> String {
    format!(
        "# Written by `xmpp-interop init` for {software} serving {domain}.\n\
         # Run: xmpp-interop run --targets THIS-FILE\n\
         targets:\n  \
           - name: {name}\n    \
             kind: server\n    \
             external:\n      \
               host: {host}\n      \
               starttls-port: {starttls}\n      \
               direct-tls-port: {direct}\n      \
               domain: {domain}\n      \
               account: {{ jid: {jid}, password: \"{password}\" }}\n      \
               # The root of the test PKI's chain; relative to this file.\n      \
               root: pki/{profile}/root.pem\n      \
               # What the server presents; cases that need another chain are skipped.\n      \
               certificate: {{ profile: {profile}, key: {key} }}\n",
        software = server.software,
        domain = server.domain,
        name = server.target_name,
        host = server.host,
        starttls = server.starttls_port,
        direct = server.direct_tls_port,
        profile = PROFILE,
        key = server.key,
    )
}

/// The steps that follow `init`, for the software at hand.
fn next_steps(
    server: &OwnServer,
    configuration: &Path,
    targets: &Path,
    password: &str,
) -> Vec<String> {
    let domain = &server.domain;
    let snippet = configuration.display();
    let mut steps = match server.software {
        Software::Prosody => vec![
            format!(
                "install the configuration: add `Include \"{snippet}\"` to prosody.cfg.lua (or copy the file into /etc/prosody/conf.d/) and let the prosody user read the key (see the file's head)"
            ),
            "restart Prosody: prosodyctl restart".to_owned(),
            format!(
                "create the test account: prosodyctl register {USERNAME} {domain} '{password}'"
            ),
        ],
        Software::Ejabberd => vec![
            format!(
                "install the configuration: add `include_config_file: \"{snippet}\"` to ejabberd.yml and let the ejabberd user read the PEM files (see the file's head)"
            ),
            "restart ejabberd: ejabberdctl restart".to_owned(),
            format!(
                "create the test account: ejabberdctl register {USERNAME} {domain} '{password}'"
            ),
        ],
        Software::Other => vec![format!(
            "configure the server as {snippet} says (chain, STARTTLS, direct TLS, mechanisms, the account {USERNAME}@{domain})"
        )],
    };
    steps.push(format!(
        "run the scenarios: xmpp-interop run --targets {}",
        targets.display()
    ));
    steps
}

/// A password for the test account: 24 letters and digits, so that it needs no quoting in a
/// shell, a YAML file or a server's configuration.
fn new_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// Whether `name` can be a target's name: non-empty, letters, digits, `-`, `_` and `.`, so it
/// is also a usable file name (reports, expectations).
fn is_target_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::{Target, file::load_targets};

    fn server(software: Software) -> OwnServer {
        OwnServer {
            domain: "their.test".to_owned(),
            software,
            host: "127.0.0.1".to_owned(),
            starttls_port: 5222,
            direct_tls_port: 5223,
            key: KeyType::EcdsaP256,
            target_name: software.default_target_name().to_owned(),
        }
    }

    #[test]
    fn init_writes_a_targets_file_the_harness_loads_with_the_chain_it_wrote() {
        let scratch = crate::scratch::ScratchDir::new("init-targets");
        let prepared = prepare(&server(Software::Prosody), &scratch, false)
            .expect("init writes into an empty directory");
        let targets: Vec<Target> =
            load_targets(&prepared.targets).expect("the targets file init writes loads");
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].name, "prosody");
        assert_eq!(prepared.jid, "xmpp-interop@their.test");
        let root = scratch.join("pki/startcom-chain/root.pem");
        assert!(root.is_file(), "the root the targets file names exists");
        let snippet = std::fs::read_to_string(&prepared.configuration).expect("snippet written");
        assert!(snippet.contains("VirtualHost \"their.test\""));
        assert!(snippet.contains("c2s_direct_tls_ports = { 5223 }"));
        assert!(
            !snippet.contains("{{"),
            "every placeholder is filled: {snippet}"
        );
    }

    #[test]
    fn init_refuses_a_directory_with_files_unless_forced() {
        let scratch = crate::scratch::ScratchDir::new("init-not-empty");
        std::fs::write(scratch.join("notes.txt"), "mine").expect("write a file");
        let refused = prepare(&server(Software::Ejabberd), &scratch, false)
            .expect_err("a directory with files is refused");
        assert!(refused.is_usage(), "{refused}");
        prepare(&server(Software::Ejabberd), &scratch, true).expect("--force writes");
        let snippet = std::fs::read_to_string(scratch.join("ejabberd-xmpp-interop.yml"))
            .expect("snippet written");
        assert!(snippet.contains("    ip: \"127.0.0.1\"\n    module: ejabberd_c2s"));
        assert!(
            !snippet.contains("{{"),
            "every placeholder is filled: {snippet}"
        );
    }

    #[test]
    fn init_refuses_a_domain_that_cannot_be_a_certificate_name() {
        let scratch = crate::scratch::ScratchDir::new("init-bad-domain");
        let mut bad = server(Software::Other);
        bad.domain = "not a domain".to_owned();
        let refused = prepare(&bad, &scratch, false).expect_err("refused");
        assert!(refused.is_usage(), "{refused}");
    }

    #[test]
    fn init_writes_instructions_for_other_software() {
        let scratch = crate::scratch::ScratchDir::new("init-other");
        let prepared = prepare(&server(Software::Other), &scratch, false).expect("written");
        let text = std::fs::read_to_string(&prepared.configuration).expect("instructions");
        assert!(text.contains("Direct TLS** (XEP-0368) on port 5223"));
        assert!(text.contains("xmpp-interop@their.test"));
        assert!(!text.contains("{{"), "every placeholder is filled: {text}");
    }
}
