//! [`Catalogue`]: the per-run cache of issued chains, shared by cases running in parallel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rustls_pki_types::{CertificateDer, DnsName};

use super::PkiError;
use super::chain::IssuedChain;
use super::files;
use super::issue::{issue_chain, issue_unrelated_root};
use super::keys::{KeySource, generate_rsa, rsa_pool_entries};
use crate::scenario::model::{CertificateProfile, KeyType, Trust};

/// Generates chains lazily and caches them: thread-safe (`&self` methods, Mutex inside), because
/// many cases run in parallel and share the catalogue.
///
/// Chains are issued under the lock, so each is generated exactly once even when several cases
/// ask at the same moment. The slow part, the RSA key pool (see [`super::keys`]), is generated
/// outside it, so cases that need no new RSA key are not held up.
#[derive(Default)]
pub struct Catalogue {
    state: Mutex<State>,
    /// Held while RSA keys are generated outside `state`: chains that need no new RSA key go
    /// on meanwhile, and a second RSA request waits here instead of generating the same keys.
    rsa_generation: Mutex<()>,
}

/// Everything generated so far.
#[derive(Default)]
struct State {
    keys: KeySource,
    chains: BTreeMap<(CertificateProfile, KeyType, String), Arc<IssuedChain>>,
    /// The unrelated root as DER and PEM.
    unrelated_root: Option<(CertificateDer<'static>, String)>,
}

impl State {
    fn unrelated_root(&mut self) -> Result<&(CertificateDer<'static>, String), PkiError> {
        match &mut self.unrelated_root {
            Some(root) => Ok(root),
            empty => {
                let cert = issue_unrelated_root()?;
                Ok(empty.insert((cert.der().clone(), cert.pem())))
            }
        }
    }
}

impl Catalogue {
    /// An empty catalogue; nothing is generated until asked for.
    pub fn new() -> Catalogue {
        Catalogue::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // State is only ever extended with complete entries, so a panic elsewhere while the
        // lock was held cannot have left it inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The chain for this profile/key/domain, generated on first use and cached.
    ///
    /// `domain` must be a syntactically valid DNS name (it ends up in certificates and in file
    /// paths).
    pub fn chain(
        &self,
        profile: CertificateProfile,
        key_type: KeyType,
        domain: &str,
    ) -> Result<Arc<IssuedChain>, PkiError> {
        if DnsName::try_from(domain).is_err() {
            return Err(PkiError::InvalidDomain {
                domain: domain.to_owned(),
            });
        }
        let cache_key = (profile, key_type, domain.to_owned());
        let pool_entries = rsa_pool_entries(key_type);
        if !self.lock().keys.missing_rsa(&pool_entries).is_empty() {
            let _generating = self
                .rsa_generation
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let missing = self.lock().keys.missing_rsa(&pool_entries);
            if !missing.is_empty() {
                let generated = generate_rsa(&missing)?;
                self.lock().keys.add_rsa(generated);
            }
        }
        let mut state = self.lock();
        if let Some(chain) = state.chains.get(&cache_key) {
            return Ok(Arc::clone(chain));
        }
        let chain = Arc::new(issue_chain(profile, key_type, domain, &mut state.keys)?);
        state.chains.insert(cache_key, Arc::clone(&chain));
        Ok(chain)
    }

    /// The root the verifying side trusts for `trust`: `ChainRoot` → `chain.root`;
    /// `UnrelatedRoot` → a root CA ("xmpp-interop Unrelated Root") that issued nothing in the
    /// catalogue (generated once, cached).
    pub fn trust_anchor(
        &self,
        chain: &IssuedChain,
        trust: Trust,
    ) -> Result<CertificateDer<'static>, PkiError> {
        match trust {
            Trust::ChainRoot => Ok(chain.root.clone()),
            Trust::UnrelatedRoot => Ok(self.lock().unrelated_root()?.0.clone()),
        }
    }

    /// The same root as [`Catalogue::trust_anchor`], PEM-encoded (for a real server's CA file).
    pub fn trust_anchor_pem(&self, chain: &IssuedChain, trust: Trust) -> Result<String, PkiError> {
        match trust {
            Trust::ChainRoot => Ok(chain.pem.root.clone()),
            Trust::UnrelatedRoot => Ok(self.lock().unrelated_root()?.1.clone()),
        }
    }

    /// Writes every chain generated so far under
    /// `dir/<domain>/<profile>-<key>/{cert.pem (leaf), chain.pem (intermediates), fullchain.pem
    /// (leaf+intermediates), root.pem, key.pem}` plus `dir/unrelated-root.pem`. Private keys get
    /// mode 0600 (on unix). Returns the paths written.
    pub fn write_pem(&self, dir: &Path) -> Result<Vec<PathBuf>, PkiError> {
        let mut state = self.lock();
        let unrelated_pem = state.unrelated_root()?.1.clone();
        let mut written = Vec::new();
        for chain in state.chains.values() {
            written.extend(files::write_chain(dir, chain)?);
        }
        let path = dir.join("unrelated-root.pem");
        files::write_file(&path, &unrelated_pem, files::Secrecy::Public)?;
        written.push(path);
        Ok(written)
    }
}
