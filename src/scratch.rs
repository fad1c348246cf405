//! Scratch directories for the unit tests: `xmpp-interop-<name>-<pid>` in the temporary
//! directory, removed when the guard is dropped, also when an assertion fails first, so a
//! test leaves no `xmpp-interop-*` directory behind (issue 14 item 7).

use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A fresh, empty directory, removed with everything in it on drop.
#[derive(Debug)]
pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    /// `xmpp-interop-<name>-<pid>` in the temporary directory, emptied and created.
    pub(crate) fn new(name: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("xmpp-interop-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDir(dir)
    }
}

impl Deref for ScratchDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for ScratchDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
