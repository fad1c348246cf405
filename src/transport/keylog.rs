//! TLS secrets in the NSS key log format (`--keylog FILE`, `SSLKEYLOGFILE`), so that a packet
//! capture of a case can be decrypted with Wireshark or `tshark -o tls.keylog_file:FILE`.
//!
//! The key log is a process-wide debugging switch, as `SSLKEYLOGFILE` is for browsers: once
//! [`install`]ed, every TLS configuration the harness builds (harness and built-in targets, as
//! TLS client and as TLS server) logs its secrets there. The file holds secrets that decrypt
//! every recorded session, so it is created with mode 0600 and only ever appended to.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rustls::KeyLog;

/// Appends NSS key log lines (`LABEL <client_random hex> <secret hex>`) to one file; safe to
/// share between threads, one whole line per write.
#[derive(Debug)]
pub struct KeyLogFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl KeyLogFile {
    /// Opens `path` for appending, creating it with mode 0600 if it does not exist.
    pub fn open(path: &Path) -> io::Result<KeyLogFile> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(KeyLogFile {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }
}

impl KeyLogFile {
    /// Appends one whole line (ending in a newline) to the file.
    pub(crate) fn append(&self, line: &str) {
        if let Ok(mut file) = self.file.lock()
            && let Err(e) = file.write_all(line.as_bytes())
        {
            eprintln!(
                "warning: cannot append to the TLS key log {}: {e}",
                self.path.display()
            );
        }
    }
}

impl KeyLog for KeyLogFile {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        self.append(&nss_line(label, client_random, secret));
    }
}

/// One line of the NSS key log format.
fn nss_line(label: &str, client_random: &[u8], secret: &[u8]) -> String {
    let mut line =
        String::with_capacity(label.len() + 2 * (client_random.len() + secret.len()) + 3);
    line.push_str(label);
    line.push(' ');
    for byte in client_random {
        let _ = write!(line, "{byte:02x}");
    }
    line.push(' ');
    for byte in secret {
        let _ = write!(line, "{byte:02x}");
    }
    line.push('\n');
    line
}

static INSTALLED: OnceLock<Arc<KeyLogFile>> = OnceLock::new();

/// Makes every TLS configuration built from now on log its secrets to `key_log`. Only the
/// first call in a process takes effect; returns whether this one did.
pub fn install(key_log: Arc<KeyLogFile>) -> bool {
    INSTALLED.set(key_log).is_ok()
}

/// The installed key log, if any.
pub(crate) fn installed() -> Option<Arc<dyn KeyLog>> {
    INSTALLED
        .get()
        .map(|key_log| Arc::clone(key_log) as Arc<dyn KeyLog>)
}

/// The installed key log file itself, for the OpenSSL stack, whose key log callback hands over
/// whole lines in the same format.
pub(crate) fn installed_file() -> Option<Arc<KeyLogFile>> {
    INSTALLED.get().map(Arc::clone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn lines_follow_the_nss_key_log_format() {
        assert_eq!(
            nss_line("CLIENT_RANDOM", &[0x00, 0xab], &[0x01, 0xff, 0x10]),
            "CLIENT_RANDOM 00ab 01ff10\n"
        );
    }

    #[test]
    fn the_file_is_created_private_and_appended_to_from_many_threads() {
        let path = std::env::temp_dir().join(format!("xmpp-interop-keylog-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let key_log = Arc::new(KeyLogFile::open(&path).unwrap());
        let threads: Vec<_> = (0..8u8)
            .map(|n| {
                let key_log = Arc::clone(&key_log);
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        key_log.log("SERVER_TRAFFIC_SECRET_0", &[n; 32], &[n; 48]);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 400);
        assert!(text.lines().all(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            fields.len() == 3 && fields[1].len() == 64 && fields[2].len() == 96
        }));
        std::fs::remove_file(&path).unwrap();
    }
}
