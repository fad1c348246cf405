//! The ejabberd adapter: `ejabberdctl foreground` as a child with its own ctl config, config
//! dir, spool and logs; Erlang distribution on a fixed loopback port (no epmd); accounts with
//! `ejabberdctl register` once the node is up.
//!
//! As root, `ejabberdctl` would switch to the `ejabberd` user with `su`; the harness instead
//! starts it as that user directly and hands it every file of the instance. ejabberd 24 gets
//! FAST (`mod_auth_fast`) turned on; its SASL2, Bind 2 and XEP-0474 are built in.

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::process::ServerProcess;
use super::{
    Installation, Layout, ManagedError, ManagedServer, Registration, io_error, render, run_command,
    write,
};
use crate::scenario::S2sAuth;
use crate::targets::BoxFuture;

const TEMPLATE: &str = include_str!("../../../fixtures/targets/ejabberd.yml");

/// The directory holding ejabberd's Erlang applications (`/usr/lib/<multiarch>/` on Debian),
/// as the installation sees it.
fn erlang_libs(installation: &Installation) -> Option<String> {
    std::fs::read_dir(installation.host_path("/usr/lib"))
        .ok()?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .find(|dir| {
            std::fs::read_dir(dir).is_ok_and(|mut entries| {
                entries.any(|e| {
                    e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("ejabberd-"))
                })
            })
        })
        .map(|dir| installation.seen(&dir))
}

/// The installed ejabberd version, from its application resource file (asks the Erlang VM).
fn installed_version(installation: &Installation) -> Option<String> {
    let output = installation
        .command("erl", None)
        .env("ERL_LIBS", erlang_libs(installation)?)
        .args([
            "-noshell",
            "-eval",
            "application:load(ejabberd), {ok, V} = application:get_key(ejabberd, vsn), io:put_chars(V), halt().",
        ])
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (output.status.success() && !version.is_empty()).then_some(version)
}

/// The user and group ejabberd runs as when the harness is root (from the installation's own
/// `/etc/passwd`); `None` when it is not root (then ejabberd runs as the harness's own user).
fn ejabberd_user(installation: &Installation) -> Result<Option<(u32, u32)>, ManagedError> {
    let me = std::fs::metadata("/proc/self")
        .map_err(|e| ManagedError::Unavailable(format!("cannot find out who I am: {e}")))?;
    if me.uid() != 0 {
        return Ok(None);
    }
    let passwd_path = installation.host_path("/etc/passwd");
    let passwd = std::fs::read_to_string(&passwd_path).map_err(|e| {
        ManagedError::Unavailable(format!("cannot read {}: {e}", passwd_path.display()))
    })?;
    let entry = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&"ejabberd") && fields.len() > 3)
        .ok_or_else(|| {
            ManagedError::Unavailable(
                "there is no `ejabberd` user (is the ejabberd package installed?)".to_owned(),
            )
        })?;
    let number = |text: &str| {
        text.parse::<u32>().map_err(|_| {
            ManagedError::Unavailable(format!(
                "{} has a bad ejabberd entry: {text}",
                passwd_path.display()
            ))
        })
    };
    Ok(Some((number(entry[2])?, number(entry[3])?)))
}

/// Gives `path` and everything below it to `uid:gid`.
fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<(), ManagedError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io_error(path))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(io_error(path))? {
            let entry = entry.map_err(io_error(path))?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// `ejabberdctl` with the instance's own configuration, as the right user.
fn ejabberdctl(layout: &Layout, user: Option<(u32, u32)>) -> Command {
    let dir = &layout.dir;
    let seen = |sub: &str| layout.seen(&dir.join(sub));
    let mut command = layout.installation.command("ejabberdctl", user);
    command
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", layout.seen(dir))
        .env("ERL_DIST_PORT", layout.spare_port.to_string())
        .current_dir(dir)
        .arg("--ctl-config")
        .arg(seen("conf/ejabberdctl.cfg"))
        .arg("--config-dir")
        .arg(seen("conf"))
        .arg("--spool")
        .arg(seen("spool"))
        .arg("--logs")
        .arg(seen("logs"));
    command
}

/// What a release implements beyond 23.01 that needs a module: FAST (XEP-0484) in ejabberd
/// 24; SASL2, Bind 2 and XEP-0474 are part of its c2s.
fn release_modules(layout: &Layout) -> &'static str {
    if layout.major_version() >= 24 {
        "mod_auth_fast: {}"
    } else {
        ""
    }
}

/// What ejabberd logs once its modules have started. It opens its listeners before that, and
/// an account created in between fails on the account table or cache that is not there yet
/// (`{aborted,{no_exists,passwd,…}}`, `ets_cache:get_counter`), seen when two instances start
/// at once.
const STARTED: &str = " is started in the node ";

/// ejabberd, started as `ejabberdctl foreground` with its configuration rendered from
/// `fixtures/targets/ejabberd.yml`.
pub(super) struct Ejabberd;

impl ManagedServer for Ejabberd {
    fn name(&self) -> &'static str {
        "ejabberd"
    }

    fn display_name(&self) -> &'static str {
        "ejabberd"
    }

    fn version(&self, installation: &Installation) -> Option<String> {
        installed_version(installation)
    }

    fn render_config(&self, layout: &Layout) -> Result<(), ManagedError> {
        let dir = &layout.dir;
        for sub in ["conf", "spool", "logs"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(io_error(&path))?;
        }
        let node = format!(
            "xmpp-interop-{}@localhost",
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        write(
            &dir.join("conf/ejabberd.yml"),
            &render(
                TEMPLATE,
                &[
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
                    (
                        "dialback_access",
                        if layout.require_certificate {
                            "dialback-refused"
                        } else {
                            "dialback-allowed"
                        }
                        .to_owned(),
                    ),
                    ("combined", layout.seen(&layout.combined)),
                    ("release_modules", release_modules(layout).to_owned()),
                    ("c2s_tls_verify", layout.client_certificates.to_string()),
                ],
            ),
        )?;
        // ejabberdctl resets these before reading its ctl config, so they are set there.
        write(
            &dir.join("conf/ejabberdctl.cfg"),
            &format!(
                "ERLANG_NODE={node}\nINET_DIST_INTERFACE=127.0.0.1\nERL_DIST_PORT={}\nEJABBERD_BYPASS_WARNINGS=true\n",
                layout.spare_port
            ),
        )?;
        write(
            &dir.join("conf/inetrc"),
            // Names come from /etc/hosts; DNS (SRV) queries go to 127.0.0.1, where nothing
            // answers, instead of resolv.conf's nameserver: nothing leaves loopback.
            "{resolv_conf, \"\"}.\n{nameserver, {127,0,0,1}, 53}.\n{lookup, [file, native]}.\n{host, {127,0,0,1}, [\"localhost\"]}.\n",
        )?;
        if let Some((uid, gid)) = ejabberd_user(&layout.installation)? {
            chown_tree(dir, uid, gid)?;
        }
        Ok(())
    }

    /// Accounts live in ejabberd's database, so they are created once the node is up.
    fn registration(&self) -> Registration {
        Registration::WhileRunning
    }

    fn register<'a>(
        &'a self,
        layout: &'a Layout,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<(), ManagedError>> {
        Box::pin(async move {
            let mut register = ejabberdctl(layout, ejabberd_user(&layout.installation)?);
            register.args(["register", username, &layout.domain, password]);
            run_command(
                register,
                format!("ejabberdctl register {username} {}", layout.domain),
            )
            .await
        })
    }

    fn start<'a>(
        &'a self,
        layout: &'a Layout,
        limit: Duration,
    ) -> BoxFuture<'a, Result<ServerProcess, ManagedError>> {
        Box::pin(async move {
            let mut command = ejabberdctl(layout, ejabberd_user(&layout.installation)?);
            command.arg("foreground");
            let mut process = ServerProcess::spawn(command, &layout.dir)?;
            process
                .wait_listening("ejabberd", &[layout.socket(layout.starttls_port)], limit)
                .await?;
            match process.wait_logged("ejabberd", STARTED, limit).await {
                Ok(()) => {}
                // Its certificate module (pkix) can crash while loading a chain it cannot use
                // (Ed25519), and then ejabberd listens but never logs that it started. The
                // case goes on and meets the TLS failure that shows the missing feature,
                // instead of ending as an `error` of the start.
                Err(ManagedError::NotReady { log_tail, .. }) if log_tail.contains("pkix") => {}
                Err(other) => return Err(other),
            }
            Ok(process)
        })
    }

    /// Read from ejabberd's console output (`logs/ejabberd.log` is written with a delay):
    /// ejabberd_s2s_in logs "Accepted inbound s2s MECHANISM authentication PEER -> LOCAL" with
    /// `EXTERNAL` or `dialback`.
    fn incoming_s2s_authentication(&self, dir: &Path, peer: &str, local: &str) -> Option<S2sAuth> {
        let log = std::fs::read_to_string(dir.join(super::process::SERVER_LOG)).ok()?;
        let accepted = |mechanism: &str| {
            log.contains(&format!(
                "Accepted inbound s2s {mechanism} authentication {peer} -> {local}"
            ))
        };
        if accepted("EXTERNAL") {
            Some(S2sAuth::External)
        } else if accepted("dialback") {
            Some(S2sAuth::Dialback)
        } else {
            None
        }
    }
}
