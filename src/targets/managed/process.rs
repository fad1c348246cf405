//! A server child process in its own process group, with its output in a log file.
//!
//! The group is what gets stopped: wrapper scripts (ejabberdctl) start the real server as
//! their child, and killing the group takes both. Every live group is registered, so a
//! Ctrl-C handler can stop them all ([`stop_all`]) before the harness exits.

use std::collections::BTreeSet;
use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{ManagedError, io_error};

/// Process groups of running servers and provisioning commands.
static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Instance directories that exist right now.
static LIVE_DIRS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// How often the harness looks whether a starting server listens yet.
const POLL: Duration = Duration::from_millis(20);

/// Lines of a server's log quoted in errors.
const TAIL_LINES: usize = 30;

/// Kills every server process group this harness started and has not stopped yet, and
/// removes their directories. Safe to call at any time; the CLI calls it when it receives
/// SIGINT or SIGTERM, just before exiting.
pub fn stop_all() {
    let groups = std::mem::take(&mut *LIVE_GROUPS.lock().unwrap_or_else(PoisonError::into_inner));
    for group in groups {
        kill_group(group);
        reap(group);
    }
    let dirs = std::mem::take(&mut *LIVE_DIRS.lock().unwrap_or_else(PoisonError::into_inner));
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// An instance directory: registered so that [`stop_all`] removes it, removed on drop.
pub(crate) struct InstanceDir {
    path: PathBuf,
}

impl InstanceDir {
    /// Creates `path` afresh (removing what an earlier harness with the same pid left).
    pub(crate) fn create(path: PathBuf) -> Result<InstanceDir, ManagedError> {
        LIVE_DIRS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.clone());
        let dir = InstanceDir { path };
        if dir.path.exists() {
            std::fs::remove_dir_all(&dir.path).map_err(io_error(&dir.path))?;
        }
        std::fs::create_dir_all(&dir.path).map_err(io_error(&dir.path))?;
        Ok(dir)
    }

    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for InstanceDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
        LIVE_DIRS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.path);
    }
}

/// Runs a provisioning command to its end in its own registered process group, so that
/// [`stop_all`] stops it too; returns its output.
pub(crate) fn run_to_end(mut command: Command) -> std::io::Result<Output> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let (child, group) = {
        let mut groups = LIVE_GROUPS.lock().unwrap_or_else(PoisonError::into_inner);
        let child = command.spawn()?;
        let group = i32::try_from(child.id()).map_err(std::io::Error::other)?;
        groups.insert(group);
        (child, group)
    };
    let output = child.wait_with_output();
    LIVE_GROUPS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&group);
    output
}

fn kill_group(group: i32) {
    // SAFETY: kill(2) with a negative pid signals the process group `group`, which this
    // harness created with `process_group(0)` for a child it spawned; it touches no memory.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

/// Waits for the killed group leader `pid` (a child of this process), so that it does not
/// linger as a zombie after the harness exits.
fn reap(pid: i32) {
    let mut status = 0;
    // SAFETY: waitpid(2) on a child this process spawned, writing only to `status`.
    unsafe {
        libc::waitpid(pid, &mut status, 0);
    }
}

/// The file in the instance directory that receives the server's standard output and error.
pub(crate) const SERVER_LOG: &str = "server.log";

/// A running server process; killed with its whole group on drop.
pub(crate) struct ServerProcess {
    child: Child,
    group: i32,
    log: PathBuf,
    stopped: bool,
}

impl ServerProcess {
    /// Spawns `command` in a new process group, output to `dir/`[`SERVER_LOG`].
    pub(crate) fn spawn(mut command: Command, dir: &Path) -> Result<ServerProcess, ManagedError> {
        let log = dir.join(SERVER_LOG);
        let out = File::create(&log).map_err(io_error(&log))?;
        let err = out.try_clone().map_err(io_error(&log))?;
        let program = command.get_program().to_string_lossy().into_owned();
        command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let mut groups = LIVE_GROUPS.lock().unwrap_or_else(PoisonError::into_inner);
        let mut child = command
            .spawn()
            .map_err(|source| ManagedError::Spawn { program, source })?;
        let Ok(group) = i32::try_from(child.id()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ManagedError::Unavailable(format!(
                "process id {} does not fit a process group id",
                child.id()
            )));
        };
        groups.insert(group);
        Ok(ServerProcess {
            child,
            group,
            log,
            stopped: false,
        })
    }

    /// Waits until every address accepts connections; fails fast when the process exits.
    pub(crate) async fn wait_listening(
        &mut self,
        what: &str,
        addresses: &[SocketAddr],
        limit: Duration,
    ) -> Result<(), ManagedError> {
        let started = Instant::now();
        for address in addresses {
            loop {
                if let Ok(Some(status)) = self.child.try_wait() {
                    return Err(ManagedError::Exited {
                        what: what.to_owned(),
                        status: status.to_string(),
                        log_tail: self.log_tail(),
                    });
                }
                if tokio::net::TcpStream::connect(address).await.is_ok() {
                    break;
                }
                if started.elapsed() > limit {
                    return Err(ManagedError::NotListening {
                        what: what.to_owned(),
                        address: *address,
                        waited: limit,
                        log_tail: self.log_tail(),
                    });
                }
                tokio::time::sleep(POLL).await;
            }
        }
        Ok(())
    }

    /// Waits until the server's output contains `line` (a server that says when it is ready);
    /// fails fast when the process exits.
    pub(crate) async fn wait_logged(
        &mut self,
        what: &str,
        line: &str,
        limit: Duration,
    ) -> Result<(), ManagedError> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(ManagedError::Exited {
                    what: what.to_owned(),
                    status: status.to_string(),
                    log_tail: self.log_tail(),
                });
            }
            if std::fs::read_to_string(&self.log).is_ok_and(|log| log.contains(line)) {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(ManagedError::NotReady {
                    what: what.to_owned(),
                    line: line.to_owned(),
                    waited: limit,
                    log_tail: self.log_tail(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The last lines of the server's output.
    pub(crate) fn log_tail(&self) -> String {
        tail(&self.log)
    }

    /// The exit status, if the process has exited (it is reaped then).
    pub(crate) fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Kills the whole process group now and reaps the leader; `Drop` then does nothing.
    pub(crate) fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        kill_group(self.group);
        let _ = self.child.wait();
        LIVE_GROUPS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.group);
    }
}

/// The last [`TAIL_LINES`] lines of a file, or why it cannot be read.
pub(crate) fn tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> InstanceDir {
        InstanceDir::create(std::env::temp_dir().join(format!(
            "xmpp-interop-process-{name}-{}",
            std::process::id()
        )))
        .unwrap()
    }

    #[tokio::test]
    async fn a_server_that_exits_before_listening_fails_fast_with_its_log_tail() {
        let dir = scratch("exits");
        let mut command = Command::new("sh");
        command.args(["-c", "echo 'config error: no such module'; exit 3"]);
        let mut process = ServerProcess::spawn(command, dir.path()).unwrap();
        let started = Instant::now();
        let error = process
            .wait_listening(
                "server",
                &[SocketAddr::from(([127, 0, 0, 1], 9))],
                Duration::from_secs(30),
            )
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        let message = error.to_string();
        assert!(message.contains("exited"), "{message}");
        assert!(
            message.contains("config error: no such module"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn dropping_a_server_kills_its_whole_process_group_and_removes_its_directory() {
        let dir = scratch("group");
        let path = dir.path().to_owned();
        let pid_file = path.join("grandchild");
        let mut command = Command::new("sh");
        // The shell starts a grandchild, as ejabberdctl starts the Erlang VM.
        command.args([
            "-c",
            &format!("sleep 300 & echo $! > '{}'; wait", pid_file.display()),
        ]);
        let process = ServerProcess::spawn(command, &path).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&pid_file).map_or(true, |t| t.trim().is_empty()) {
            assert!(Instant::now() < deadline, "grandchild never started");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let grandchild = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .to_owned();
        drop(process);
        drop(dir);
        assert!(!path.exists());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let state = std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
                .ok()
                .and_then(|s| s.rsplit_once(") ").and_then(|(_, r)| r.chars().next()));
            if matches!(state, None | Some('Z')) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "grandchild {grandchild} survived"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
