//! The Prosody adapter: `prosody --config FILE -F` as a child, accounts with
//! `prosodyctl --config FILE register` before it starts (internal_plain storage is files).
//! Adding a server means one file like this one, its template and one line in
//! [`super::SOFTWARE`].

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::process::ServerProcess;
use super::{
    Layout, ManagedError, ManagedServer, Registration, io_error, render, run_command, write,
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

impl ManagedServer for Prosody {
    fn name(&self) -> &'static str {
        "prosody"
    }

    fn display_name(&self) -> &'static str {
        "Prosody"
    }

    /// The installed Prosody version, from the first line of `prosodyctl about` ("Prosody
    /// 0.12.3").
    fn version(&self) -> Option<String> {
        let output = Command::new("prosodyctl").arg("about").output().ok()?;
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
                    ("dir", layout.dir.display().to_string()),
                    ("domain", layout.domain.clone()),
                    ("starttls_port", layout.starttls_port.to_string()),
                    ("direct_tls_port", layout.direct_tls_port.to_string()),
                    ("address", layout.address.to_string()),
                    ("s2s_port", layout.s2s_port.to_string()),
                    (
                        "s2s_direct_tls_port",
                        layout.s2s_direct_tls_port.to_string(),
                    ),
                    ("cafile", layout.cafile.display().to_string()),
                    ("s2s_secure_auth", layout.require_certificate.to_string()),
                    ("fullchain", layout.fullchain.display().to_string()),
                    ("key", layout.key.display().to_string()),
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
        let mut register = Command::new("prosodyctl");
        register.arg("--config").arg(config_path(layout)).args([
            "register",
            username,
            &layout.domain,
            password,
        ]);
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
            let mut command = Command::new("prosody");
            command.arg("--config").arg(config_path(layout)).arg("-F");
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
