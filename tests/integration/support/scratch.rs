//! A test's scratch directory in the temporary directory, removed when the guard is dropped:
//! also when an assertion fails before the test's end, so no test leaves an `xmpp-interop-*`
//! directory behind (issue 14 item 7).

use std::ffi::OsStr;
use std::ops::Deref;
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Scratch directories made so far by this process; numbers them apart.
static MADE: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty directory, removed with everything in it on drop.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// `xmpp-interop-<module>-<name>-<pid>-<n>` in the temporary directory, emptied first.
    /// `<module>` is the test module that asks (`cli` for `tests/integration/cli.rs`), and `<n>`
    /// counts up in this process, so two tests of the one test binary never share a directory,
    /// even when they pick the same `name`.
    #[track_caller]
    pub fn new(name: &str) -> Scratch {
        let module = Path::new(Location::caller().file())
            .file_stem()
            .map(|stem| stem.to_string_lossy().replace('_', "-"))
            .unwrap_or_default();
        let made = MADE.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "xmpp-interop-{module}-{name}-{}-{made}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<OsStr> for Scratch {
    fn as_ref(&self) -> &OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
