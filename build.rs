//! Build script: what `--version` names and what the shipped set is made of.
//!
//! - `XMPP_INTEROP_COMMIT`: the short git commit of the checkout (`git rev-parse --short
//!   HEAD`), or `unknown` outside a git checkout (a crate tarball, a copied source tree).
//! - `XMPP_INTEROP_RUSTLS`: the version of rustls in `Cargo.lock`, the default TLS stack of
//!   the harness and its built-in targets.
//! - `XMPP_INTEROP_OPENSSL`: the version of the system's libssl the `openssl` crate is built
//!   against (`pkg-config --modversion openssl`), the second stack of the cases that ask for it
//!   (tls-unique, TLS 1.0/1.1); `unknown` without pkg-config.
//! - The shipped set (`scenarios/`, `profiles/`) is embedded with `include_dir!`, which stable
//!   rustc does not track: watching both directories here rebuilds the binary when a file in
//!   them changes, so the embedded set is never older than the checkout.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=scenarios");
    println!("cargo:rerun-if-changed=profiles");
    println!("cargo:rustc-env=XMPP_INTEROP_COMMIT={}", commit());
    println!("cargo:rustc-env=XMPP_INTEROP_RUSTLS={}", rustls_version());
    println!("cargo:rustc-env=XMPP_INTEROP_OPENSSL={}", openssl_version());
}

/// The libssl version pkg-config reports, or `unknown`.
fn openssl_version() -> String {
    Command::new("pkg-config")
        .args(["--modversion", "openssl"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The short commit of HEAD, watching the files that change when HEAD moves; `unknown` when
/// git or the checkout is missing.
fn commit() -> String {
    let Some(short) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".to_owned();
    };
    // HEAD names the branch; the branch's ref (loose or packed) names the commit. In a
    // worktree these live in different directories, which `--git-path` resolves.
    for file in ["HEAD", "packed-refs"] {
        watch_git_path(file);
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch_git_path(&branch);
    }
    short
}

/// Rebuilds when the git file `name` (relative to the git directory) changes, if it exists:
/// cargo reruns a build script on every build when a watched file is missing.
fn watch_git_path(name: &str) {
    if let Some(path) = git(&["rev-parse", "--git-path", name])
        && Path::new(&path).exists()
    {
        println!("cargo:rerun-if-changed={path}");
    }
}

/// The trimmed standard output of a successful `git ARGS`.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The version of the `rustls` package in `Cargo.lock`, or `unknown` without one.
fn rustls_version() -> String {
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"rustls\""
            && let Some(version) = lines
                .next()
                .and_then(|next| next.trim().strip_prefix("version = \""))
                .and_then(|rest| rest.strip_suffix('"'))
        {
            return version.to_owned();
        }
    }
    "unknown".to_owned()
}
