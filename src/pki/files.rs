//! Writing issued chains as PEM files, for targets that read their certificates from disk.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::PkiError;
use super::chain::IssuedChain;

/// Whether a file may be readable by others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Secrecy {
    /// Certificates: default permissions.
    Public,
    /// Private keys: mode 0600 on unix, set when the file is created.
    Private,
}

pub(crate) fn write_file(path: &Path, contents: &str, secrecy: Secrecy) -> Result<(), PkiError> {
    let io_error = |source| PkiError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secrecy == Secrecy::Private {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path).map_err(io_error)?;
        // The mode above only applies to new files; tighten a pre-existing one before writing.
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io_error)?;
        return write_all(file, path, contents);
    }
    #[cfg(not(unix))]
    let _ = secrecy;
    let file = options.open(path).map_err(io_error)?;
    write_all(file, path, contents)
}

fn write_all(mut file: fs::File, path: &Path, contents: &str) -> Result<(), PkiError> {
    file.write_all(contents.as_bytes())
        .map_err(|source| PkiError::Io {
            path: path.to_owned(),
            source,
        })
}

/// Writes one chain's five files under `dir/<domain>/<profile>-<key>/` and returns their paths.
pub(crate) fn write_chain(dir: &Path, chain: &IssuedChain) -> Result<Vec<PathBuf>, PkiError> {
    let chain_dir = dir
        .join(&chain.domain)
        .join(format!("{}-{}", chain.profile, chain.key_type));
    write_chain_into(&chain_dir, chain)
}

/// Writes one chain's five files into `chain_dir` (created if needed) and returns their paths.
pub(crate) fn write_chain_into(
    chain_dir: &Path,
    chain: &IssuedChain,
) -> Result<Vec<PathBuf>, PkiError> {
    fs::create_dir_all(chain_dir).map_err(|source| PkiError::Io {
        path: chain_dir.to_owned(),
        source,
    })?;
    let intermediates = chain.pem.intermediates.concat();
    let fullchain = format!("{}{intermediates}", chain.pem.leaf);
    let files = [
        ("cert.pem", chain.pem.leaf.as_str(), Secrecy::Public),
        ("chain.pem", intermediates.as_str(), Secrecy::Public),
        ("fullchain.pem", fullchain.as_str(), Secrecy::Public),
        ("root.pem", chain.pem.root.as_str(), Secrecy::Public),
        ("key.pem", chain.pem.key.as_str(), Secrecy::Private),
    ];
    let mut written = Vec::with_capacity(files.len());
    for (name, contents, secrecy) in files {
        let path = chain_dir.join(name);
        write_file(&path, contents, secrecy)?;
        written.push(path);
    }
    Ok(written)
}
