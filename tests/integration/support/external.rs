//! An `external:` server target for tests that run the harness against a peer of their own (a
//! hostile Python server, a trickling socket): a startcom-chain for interop.test from
//! `xmpp-interop pki generate`, and a targets file naming the peer's STARTTLS port.

use std::path::{Path, PathBuf};

use super::harness;

/// Writes the test PKI's startcom-chain for interop.test into `dir/pki`; returns that directory.
pub fn startcom_chain(dir: &Path) -> PathBuf {
    let pki = dir.join("pki");
    let generated = harness()
        .args([
            "pki",
            "generate",
            "--domain",
            "interop.test",
            "--profile",
            "startcom-chain",
        ])
        .arg("--out")
        .arg(&pki)
        .output()
        .unwrap();
    assert!(generated.status.success(), "{generated:?}");
    pki
}

/// Writes `dir/targets.yaml` with one external server target `name` on 127.0.0.1:`port`
/// (STARTTLS), trusted through `pki`'s startcom-chain root; returns its path.
pub fn targets_file(dir: &Path, name: &str, port: u16, pki: &Path) -> PathBuf {
    let path = dir.join("targets.yaml");
    std::fs::write(
        &path,
        format!(
            "targets:\n  - name: {name}\n    kind: server\n    external:\n      host: 127.0.0.1\n      starttls-port: {port}\n      domain: interop.test\n      account: {{ jid: alice@interop.test, password: secret }}\n      root: {}\n      certificate: {{ profile: startcom-chain }}\n",
            pki.join("startcom-chain/root.pem").display()
        ),
    )
    .unwrap();
    path
}
