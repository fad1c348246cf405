//! Set-up shared by the loader targets: the loaders' public entry points take a path, so each
//! input is written to a file in a private directory (on `/dev/shm` when there is one) and
//! loaded from there, exactly as the CLI loads it.
#![allow(dead_code)] // each target uses part of it

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A directory of this fuzzing process's own, created once, under `$XMPP_INTEROP_FUZZ_SCRATCH`,
/// else `/dev/shm`, else the temporary directory. libFuzzer ends the process with `exit`, so
/// nothing removes it: whoever sets the variable removes that directory.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // ci/fuzz-smoke.sh points this at a directory it removes afterwards.
        let shm = Path::new("/dev/shm");
        let base = if let Some(dir) = std::env::var_os("XMPP_INTEROP_FUZZ_SCRATCH") {
            PathBuf::from(dir)
        } else if shm.is_dir() {
            shm.to_owned()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("xmpp-interop-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        dir
    })
}

/// Writes `data` to `name` in a fresh subdirectory `sub` of the scratch directory (the
/// scenario loader looks at a file's siblings, so each input gets a directory of its own).
pub fn write_input(sub: &str, name: &str, data: &[u8]) -> PathBuf {
    let dir = scratch_dir().join(sub);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the input directory");
    let path = dir.join(name);
    std::fs::write(&path, data).expect("write the input file");
    path
}

/// The repository's root (the fuzz crate is `fuzz/` in it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fuzz/ has a parent")
        .to_owned()
}
