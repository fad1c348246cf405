//! The Prosody adapter: `prosody --config FILE -F` as a child, accounts with
//! `prosodyctl --config FILE register` before it starts (internal_plain storage is files).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::process::ServerProcess;
use super::{Layout, ManagedError, io_error, render, run_command, write};
use crate::scenario::S2sAuth;

const TEMPLATE: &str = include_str!("../../../fixtures/targets/prosody.cfg.lua");

/// The installed Prosody version, from the first line of `prosodyctl about` ("Prosody 0.12.3").
pub(super) fn version() -> Option<String> {
    let output = Command::new("prosodyctl").arg("about").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let first = text.lines().find(|l| l.starts_with("Prosody "))?;
    Some(first.trim_start_matches("Prosody ").trim().to_owned())
}

/// Renders the configuration, creates the account and starts Prosody.
pub(super) async fn start(
    layout: &Layout,
    username: &str,
    password: &str,
    limit: Duration,
) -> Result<ServerProcess, ManagedError> {
    for sub in ["data", "certs"] {
        let path = layout.dir.join(sub);
        std::fs::create_dir_all(&path).map_err(io_error(&path))?;
    }
    let config = layout.dir.join("prosody.cfg.lua");
    write(
        &config,
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
    )?;
    let mut register = Command::new("prosodyctl");
    register
        .arg("--config")
        .arg(&config)
        .args(["register", username, &layout.domain, password]);
    run_command(
        register,
        format!("prosodyctl register {username} {}", layout.domain),
    )
    .await?;
    let mut command = Command::new("prosody");
    command.arg("--config").arg(&config).arg("-F");
    let mut process = ServerProcess::spawn(command, &layout.dir)?;
    process
        .wait_listening("prosody", &[layout.socket(layout.starttls_port)], limit)
        .await?;
    Ok(process)
}

/// How Prosody authenticated the last incoming server-to-server stream from `peer`, read from
/// its debug log: mod_saslauth logs "Accepting SASL EXTERNAL identity from PEER", and mod_s2s
/// logs "connection PEER->LOCAL is now authenticated for PEER" for every method.
pub(super) fn incoming_s2s_authentication(dir: &Path, peer: &str, local: &str) -> Option<S2sAuth> {
    let log = std::fs::read_to_string(dir.join("prosody.log")).ok()?;
    if log.contains(&format!("Accepting SASL EXTERNAL identity from {peer}")) {
        return Some(S2sAuth::External);
    }
    log.contains(&format!(
        "connection {peer}->{local} is now authenticated for {peer}"
    ))
    .then_some(S2sAuth::Dialback)
}
