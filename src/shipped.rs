//! The shipped set built into the binary: the repository's `scenarios/` and `profiles/`, so a
//! binary installed or copied anywhere lists, runs and certifies without a checkout, and
//! `scenarios export` writes them out for editing. (The managed servers' configuration
//! templates are embedded where they are used, in `targets::managed`.)
//!
//! Every file keeps the path it has in the repository (`scenarios/c2s/authenticate.yaml`),
//! so reports, certificates and error messages name the same file whichever way it was read.

use std::io;
use std::path::{Path, PathBuf};

use include_dir::{Dir, DirEntry, include_dir};

/// The repository's `scenarios/` directory as it was when the binary was built.
pub static SCENARIOS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/scenarios");

/// The repository's `profiles/` directory as it was when the binary was built.
pub static PROFILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/profiles");

/// The repository directory [`SCENARIOS`] comes from, and the root of its files' paths.
pub const SCENARIOS_ROOT: &str = "scenarios";

/// The repository directory [`PROFILES`] comes from.
pub const PROFILES_ROOT: &str = "profiles";

/// One embedded file: its path in the repository and its contents.
#[derive(Debug, Clone, Copy)]
pub struct ShippedFile {
    /// The path relative to `root` (as `include_dir` records it).
    pub(crate) relative: &'static str,
    /// `scenarios` or `profiles`.
    pub(crate) root: &'static str,
    /// The bytes.
    pub contents: &'static [u8],
}

impl ShippedFile {
    /// The path in the repository, e.g. `scenarios/c2s/authenticate.yaml`.
    pub fn path(&self) -> PathBuf {
        Path::new(self.root).join(self.relative)
    }
}

/// Every file under `dir` (recursively), as [`ShippedFile`]s below `root`, sorted by path.
pub(crate) fn files_of(dir: &'static Dir<'static>, root: &'static str) -> Vec<ShippedFile> {
    let mut files = Vec::new();
    collect(dir, root, &mut files);
    files.sort_by(|a, b| a.relative.cmp(b.relative));
    files
}

fn collect(dir: &'static Dir<'static>, root: &'static str, files: &mut Vec<ShippedFile>) {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(sub) => collect(sub, root, files),
            DirEntry::File(file) => files.push(ShippedFile {
                relative: file.path().to_str().unwrap_or_default(),
                root,
                contents: file.contents(),
            }),
        }
    }
}

/// Every shipped scenario and profile file (profiles' README included), sorted by path.
pub fn all_files() -> Vec<ShippedFile> {
    let mut files = files_of(&SCENARIOS, SCENARIOS_ROOT);
    files.extend(files_of(&PROFILES, PROFILES_ROOT));
    files
}

/// The names of the shipped certification profiles (`c2s-tls-sasl`, ...), sorted.
pub fn profile_names() -> Vec<&'static str> {
    files_of(&PROFILES, PROFILES_ROOT)
        .into_iter()
        .filter_map(|file| file.relative.strip_suffix(".yaml"))
        .collect()
}

/// The shipped profile called `name`, if there is one.
pub fn profile(name: &str) -> Option<ShippedFile> {
    files_of(&PROFILES, PROFILES_ROOT)
        .into_iter()
        .find(|file| file.relative.strip_suffix(".yaml") == Some(name))
}

/// `export` would overwrite files, or could not write.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Files exist already and overwriting was not asked for.
    #[error(
        "{} exists already{}; expected a directory without the shipped files, or --force to overwrite them",
        .0[0].display(),
        match .0.len() { 1 => String::new(), n => format!(" (and {} more file(s))", n - 1) }
    )]
    Exists(Vec<PathBuf>),
    /// A directory or file could not be written.
    #[error("{path}: cannot write: {source}", path = path.display())]
    Io {
        /// What could not be written.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
}

/// Writes every shipped file below `dir` at its repository path (`DIR/scenarios/...`,
/// `DIR/profiles/...`) and returns how many. Existing files are left alone and reported,
/// before anything is written, unless `force`.
pub fn export(dir: &Path, force: bool) -> Result<usize, ExportError> {
    let files = all_files();
    if !force {
        let existing: Vec<PathBuf> = files
            .iter()
            .map(|file| dir.join(file.path()))
            .filter(|path| path.exists())
            .collect();
        if !existing.is_empty() {
            return Err(ExportError::Exists(existing));
        }
    }
    for file in &files {
        let path = dir.join(file.path());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| ExportError::Io {
                path: parent.to_owned(),
                source,
            })?;
        }
        std::fs::write(&path, file.contents).map_err(|source| ExportError::Io { path, source })?;
    }
    Ok(files.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_scenarios_are_the_repository_files_byte_for_byte() {
        let files = files_of(&SCENARIOS, SCENARIOS_ROOT);
        assert!(files.len() > 50, "{} files", files.len());
        for file in files {
            let on_disk = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(file.path()))
                .expect("every embedded file is in the checkout");
            assert_eq!(on_disk, file.contents, "{}", file.path().display());
        }
    }

    #[test]
    fn the_shipped_profiles_are_found_by_name() {
        assert!(profile_names().contains(&"c2s-tls-sasl"));
        let c2s = profile("c2s-tls-sasl").expect("shipped");
        assert_eq!(c2s.path(), Path::new("profiles/c2s-tls-sasl.yaml"));
        assert!(profile("README").is_none());
        assert!(profile("no-such-profile").is_none());
    }
}
