//! Where a managed server's software is installed: on the host itself, or in a Debian root of
//! its own (`root:` in the targets file, made by `ci/install-backports-root.sh`) that the
//! server runs in through chroot(8). Two releases of one server share a package name, so the
//! newer one lives in such a root beside the host's; loopback is shared with a chroot, so the
//! server listens on the host's 127.0.0.0/8 like any other instance.
//!
//! Everything that runs the software or names a file for it goes through [`Installation`]:
//! commands are wrapped in `chroot`, instance directories are made inside the root, and paths
//! in the server's configuration are the ones it sees from inside.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::ManagedError;

/// The host, or a root directory the server software runs in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Installation {
    root: Option<PathBuf>,
}

impl Installation {
    /// The software installed on the host itself.
    pub fn host() -> Installation {
        Installation { root: None }
    }

    /// The software installed in the Debian root at `root` (an absolute path).
    pub fn chroot(root: PathBuf) -> Installation {
        Installation { root: Some(root) }
    }

    /// The root directory, when there is one.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Runs `program` (as found on the installation's own PATH), as `user` (uid, gid) when
    /// given; the caller must be root for that, and for a chroot.
    pub(crate) fn command(&self, program: &str, user: Option<(u32, u32)>) -> Command {
        match &self.root {
            None => {
                let mut command = Command::new(program);
                if let Some((uid, gid)) = user {
                    use std::os::unix::process::CommandExt as _;
                    command.uid(uid).gid(gid);
                }
                command
            }
            Some(root) => {
                let mut command = Command::new("chroot");
                if let Some((uid, gid)) = user {
                    command.arg(format!("--userspec={uid}:{gid}"));
                }
                command.arg(root).arg(program);
                command
            }
        }
    }

    /// `path` inside the installation (`/etc/passwd` → `ROOT/etc/passwd`), as the host sees it.
    pub(crate) fn host_path(&self, path: &str) -> PathBuf {
        match &self.root {
            None => PathBuf::from(path),
            Some(root) => root.join(path.trim_start_matches('/')),
        }
    }

    /// A host path below the root as the server sees it (`ROOT/tmp/x` → `/tmp/x`); on the
    /// host, the path itself.
    pub(crate) fn seen(&self, path: &Path) -> String {
        let inside = match &self.root {
            Some(root) => path
                .strip_prefix(root)
                .map_or_else(|_| path.to_owned(), |rest| Path::new("/").join(rest)),
            None => path.to_owned(),
        };
        inside.display().to_string()
    }

    /// Where instance directories go: the host's temporary directory, or the root's `/tmp`.
    pub(crate) fn temp_dir(&self) -> PathBuf {
        match &self.root {
            None => std::env::temp_dir(),
            Some(root) => root.join("tmp"),
        }
    }

    /// Whether the installation can be used at all: a root must exist and the harness must
    /// be root to enter it.
    pub(crate) fn check(&self) -> Result<(), ManagedError> {
        let Some(root) = &self.root else {
            return Ok(());
        };
        if !root.join("usr/bin").is_dir() {
            return Err(ManagedError::Unavailable(format!(
                "the server's root {} does not exist (ci/install-backports-root.sh makes it, as root)",
                root.display()
            )));
        }
        let me = std::fs::metadata("/proc/self")
            .map_err(|e| ManagedError::Unavailable(format!("cannot find out who I am: {e}")))?;
        if std::os::unix::fs::MetadataExt::uid(&me) != 0 {
            return Err(ManagedError::Unavailable(format!(
                "the server runs in the root {} with chroot, which needs the harness to run as root",
                root.display()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_a_root_are_written_as_the_server_sees_them() {
        let installation = Installation::chroot(PathBuf::from("/var/lib/r"));
        assert_eq!(
            installation.host_path("/etc/passwd"),
            Path::new("/var/lib/r/etc/passwd")
        );
        assert_eq!(
            installation.seen(Path::new("/var/lib/r/tmp/i/key.pem")),
            "/tmp/i/key.pem"
        );
        assert_eq!(installation.temp_dir(), Path::new("/var/lib/r/tmp"));
        let host = Installation::host();
        assert_eq!(host.seen(Path::new("/tmp/i/key.pem")), "/tmp/i/key.pem");
        assert_eq!(host.host_path("/etc/passwd"), Path::new("/etc/passwd"));
    }

    #[test]
    fn commands_in_a_root_go_through_chroot_with_the_user_spec_first() {
        let installation = Installation::chroot(PathBuf::from("/var/lib/r"));
        let command = installation.command("ejabberdctl", Some((110, 120)));
        assert_eq!(command.get_program(), "chroot");
        let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy()).collect();
        assert_eq!(args, ["--userspec=110:120", "/var/lib/r", "ejabberdctl"]);
    }
}
