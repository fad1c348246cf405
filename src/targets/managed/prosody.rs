//! The Prosody adapter: `prosody --config FILE -F` as a child, accounts with
//! `prosodyctl --config FILE register` before it starts (internal_plain storage is files).
//! Prosody 13 gets the prosody-modules of what it implements beyond 0.12 turned on (SASL2,
//! Bind 2, FAST, XEP-0474) and announces its channel-binding types (XEP-0440).
//! Adding a server means one file like this one, its template and one line in
//! [`super::SOFTWARE`].

use std::path::Path;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use sha2::{Digest as _, Sha256};

use super::process::ServerProcess;
use super::{
    Installation, Layout, ManagedError, ManagedServer, Registration, io_error, render, run_command,
    write,
};
use crate::scenario::S2sAuth;
use crate::targets::BoxFuture;

const TEMPLATE: &str = include_str!("../../../fixtures/targets/prosody.cfg.lua");

/// Prosody, started as `prosody -F` with its configuration rendered from
/// `fixtures/targets/prosody.cfg.lua`.
pub(super) struct Prosody;

/// The configuration file in the instance directory.
fn config_path(layout: &Layout) -> std::path::PathBuf {
    layout.dir.join("prosody.cfg.lua")
}

/// What a release implements beyond 0.12, as modules to enable: Prosody 13 with its
/// prosody-modules snapshot has SASL2 (XEP-0388), Bind 2 (XEP-0386), FAST (XEP-0484) and SCRAM
/// downgrade protection (XEP-0474, `mod_sasl_ssdp`).
fn release_modules(layout: &Layout) -> &'static str {
    if layout.major_version() >= 13 {
        r#""sasl2"; "sasl2_bind2"; "sasl2_fast"; "sasl_ssdp";"#
    } else {
        ""
    }
}

/// What a release implements beyond 0.12, as options: Prosody 13 binds with
/// tls-server-end-point once `tls_server_end_point_hash` is set, besides tls-exporter; 0.12
/// knows neither. The option holds the hash of the server's certificate, which the harness
/// computes (SHA-256 of the leaf's DER: the hash RFC 5929 §4.1 picks for the test PKI's ECDSA
/// and RSA leaves, signed over SHA-256; RFC 5929 names none for Ed25519) instead of `auto`,
/// which Prosody would resolve the same way: 13.0.1's mod_saslauth
/// resolves `auto` on the first connection and then clears the option, so every later
/// connection of the instance went without tls-server-end-point.
fn release_options(layout: &Layout) -> Result<String, ManagedError> {
    if layout.major_version() < 13 {
        return Ok(String::new());
    }
    let leaf = CertificateDer::from_pem_file(&layout.fullchain).map_err(|e| ManagedError::Io {
        path: layout.fullchain.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
    })?;
    let hash: String = Sha256::digest(leaf.as_ref())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(format!("tls_server_end_point_hash = \"{hash}\""))
}

/// For client-certificate cases (XEP-0178): prosody-modules' `mod_auth_ccert` authenticates
/// with SASL EXTERNAL the JID of the certificate's XmppAddr (passwords are not offered then),
/// and TLS asks for a client certificate, checks it against the client root (the instance's
/// cafile) and goes on when it does not verify, so that the module decides: it refuses an
/// unverified chain. `lsec_ignore_purpose` keeps the handshake going for any certificate
/// purpose, as Prosody's own s2s defaults do; the module still refuses a clientAuth-only
/// certificate (recorded in `expectations/servers/prosody-*.yaml`).
fn client_verify(layout: &Layout) -> &'static str {
    if layout.client_certificates {
        r#"verify = { "peer"; "client_once"; }; verifyext = { "lsec_continue"; "lsec_ignore_purpose"; };"#
    } else {
        ""
    }
}

impl ManagedServer for Prosody {
    fn name(&self) -> &'static str {
        "prosody"
    }

    fn display_name(&self) -> &'static str {
        "Prosody"
    }

    /// The installed Prosody version, from the first line of `prosodyctl about` ("Prosody
    /// 0.12.3").
    fn version(&self, installation: &Installation) -> Option<String> {
        let output = installation
            .command("prosodyctl", None)
            .arg("about")
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let first = text.lines().find(|l| l.starts_with("Prosody "))?;
        Some(first.trim_start_matches("Prosody ").trim().to_owned())
    }

    fn render_config(&self, layout: &Layout) -> Result<(), ManagedError> {
        for sub in ["data", "certs"] {
            let path = layout.dir.join(sub);
            std::fs::create_dir_all(&path).map_err(io_error(&path))?;
        }
        write(
            &config_path(layout),
            &render(
                TEMPLATE,
                &[
                    ("dir", layout.seen(&layout.dir)),
                    ("domain", layout.domain.clone()),
                    ("starttls_port", layout.starttls_port.to_string()),
                    ("direct_tls_port", layout.direct_tls_port.to_string()),
                    ("address", layout.address.to_string()),
                    ("s2s_port", layout.s2s_port.to_string()),
                    (
                        "s2s_direct_tls_port",
                        layout.s2s_direct_tls_port.to_string(),
                    ),
                    ("cafile", layout.seen(&layout.cafile)),
                    ("s2s_secure_auth", layout.require_certificate.to_string()),
                    ("fullchain", layout.seen(&layout.fullchain)),
                    ("key", layout.seen(&layout.key)),
                    ("release_modules", release_modules(layout).to_owned()),
                    ("release_options", release_options(layout)?),
                    ("client_verify", client_verify(layout).to_owned()),
                    (
                        "authentication",
                        if layout.client_certificates {
                            "ccert"
                        } else {
                            "internal_plain"
                        }
                        .to_owned(),
                    ),
                ],
            ),
        )
    }

    /// internal_plain storage is files, so `prosodyctl register` works before the server runs.
    fn registration(&self) -> Registration {
        Registration::BeforeStart
    }

    fn register<'a>(
        &'a self,
        layout: &'a Layout,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<(), ManagedError>> {
        if layout.client_certificates {
            // mod_auth_ccert keeps no accounts: the certificate's XmppAddr is the account.
            return Box::pin(async { Ok(()) });
        }
        let mut register = layout.installation.command("prosodyctl", None);
        register
            .arg("--config")
            .arg(layout.seen(&config_path(layout)))
            .args(["register", username, &layout.domain, password]);
        Box::pin(run_command(
            register,
            format!("prosodyctl register {username} {}", layout.domain),
        ))
    }

    fn start<'a>(
        &'a self,
        layout: &'a Layout,
        limit: Duration,
    ) -> BoxFuture<'a, Result<ServerProcess, ManagedError>> {
        Box::pin(async move {
            let mut command = layout.installation.command("prosody", None);
            command
                .arg("--config")
                .arg(layout.seen(&config_path(layout)))
                .arg("-F");
            let mut process = ServerProcess::spawn(command, &layout.dir)?;
            process
                .wait_listening("prosody", &[layout.socket(layout.starttls_port)], limit)
                .await?;
            Ok(process)
        })
    }

    /// Read from Prosody's debug log: mod_saslauth logs "Accepting SASL EXTERNAL identity
    /// from PEER", and mod_s2s logs "connection PEER->LOCAL is now authenticated for PEER" for
    /// every method.
    fn incoming_s2s_authentication(&self, dir: &Path, peer: &str, local: &str) -> Option<S2sAuth> {
        let log = std::fs::read_to_string(dir.join("prosody.log")).ok()?;
        if log.contains(&format!("Accepting SASL EXTERNAL identity from {peer}")) {
            return Some(S2sAuth::External);
        }
        log.contains(&format!(
            "connection {peer}->{local} is now authenticated for {peer}"
        ))
        .then_some(S2sAuth::Dialback)
    }
}
