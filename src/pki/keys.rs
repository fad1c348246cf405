//! Key pairs for the test PKI: fresh ECDSA P-256 keys, and a per-catalogue pool of RSA-2048 keys.
//!
//! ring (rcgen's backend) cannot generate RSA keys, so they come from the `rsa` crate as PKCS#8
//! DER and are loaded into rcgen. RSA generation is slow (hundreds of milliseconds per key even
//! optimised), so a [`KeySource`] generates three RSA keys once, on first use — one for every
//! root, one for every intermediate, one for every leaf — and reuses them across all RSA chains
//! of its catalogue. Different chains therefore share key material by design; that is harmless
//! here because path validation matches names as well as keys, the unrelated root uses its own
//! fresh ECDSA key, and nothing in the harness relies on keys being distinct between chains.

use rcgen::KeyPair;
use rsa::RsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;
use rustls_pki_types::PrivatePkcs8KeyDer;

use super::PkiError;
use crate::scenario::model::KeyType;

/// The position of a certificate in its chain, which selects the pooled RSA key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyRole {
    /// A root CA.
    Root,
    /// An intermediate CA.
    Intermediate,
    /// The end-entity certificate.
    Leaf,
}

/// Where a catalogue's key pairs come from.
#[derive(Default)]
pub(crate) struct KeySource {
    /// The RSA pool, generated on the first RSA request.
    rsa: Option<RsaPool>,
}

/// One RSA-2048 key per [`KeyRole`], as PKCS#8 DER.
struct RsaPool {
    root: PrivatePkcs8KeyDer<'static>,
    intermediate: PrivatePkcs8KeyDer<'static>,
    leaf: PrivatePkcs8KeyDer<'static>,
}

impl RsaPool {
    fn generate() -> Result<RsaPool, PkiError> {
        Ok(RsaPool {
            root: rsa_2048()?,
            intermediate: rsa_2048()?,
            leaf: rsa_2048()?,
        })
    }

    fn get(&self, role: KeyRole) -> &PrivatePkcs8KeyDer<'static> {
        match role {
            KeyRole::Root => &self.root,
            KeyRole::Intermediate => &self.intermediate,
            KeyRole::Leaf => &self.leaf,
        }
    }
}

/// A fresh RSA-2048 private key as PKCS#8 DER.
fn rsa_2048() -> Result<PrivatePkcs8KeyDer<'static>, PkiError> {
    let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(PkiError::RsaGenerate)?;
    let der = key.to_pkcs8_der().map_err(PkiError::RsaEncode)?;
    Ok(PrivatePkcs8KeyDer::from(der.as_bytes().to_vec()))
}

/// A fresh ECDSA P-256 key pair.
pub(crate) fn ecdsa_p256() -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|source| PkiError::Generate {
        what: "ECDSA P-256 key".into(),
        source,
    })
}

impl KeySource {
    /// A key pair of `key_type` for a certificate in position `role`: fresh for ECDSA, from the
    /// pool for RSA.
    pub(crate) fn key_pair(
        &mut self,
        key_type: KeyType,
        role: KeyRole,
    ) -> Result<KeyPair, PkiError> {
        match key_type {
            KeyType::EcdsaP256 => ecdsa_p256(),
            KeyType::Rsa2048 => {
                let pool = match &mut self.rsa {
                    Some(pool) => pool,
                    empty => empty.insert(RsaPool::generate()?),
                };
                KeyPair::from_pkcs8_der_and_sign_algo(pool.get(role), &rcgen::PKCS_RSA_SHA256)
                    .map_err(|source| PkiError::Generate {
                        what: "RSA-2048 key".into(),
                        source,
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_keys_are_generated_once_and_reused_per_role() {
        let mut keys = KeySource::default();
        let a = keys.key_pair(KeyType::Rsa2048, KeyRole::Leaf).unwrap();
        let b = keys.key_pair(KeyType::Rsa2048, KeyRole::Leaf).unwrap();
        let root = keys.key_pair(KeyType::Rsa2048, KeyRole::Root).unwrap();
        assert_eq!(a.public_key_der(), b.public_key_der());
        assert_ne!(a.public_key_der(), root.public_key_der());
        assert_eq!(a.algorithm(), &rcgen::PKCS_RSA_SHA256);
    }

    #[test]
    fn ecdsa_keys_are_fresh_every_time() {
        let mut keys = KeySource::default();
        let a = keys.key_pair(KeyType::EcdsaP256, KeyRole::Leaf).unwrap();
        let b = keys.key_pair(KeyType::EcdsaP256, KeyRole::Leaf).unwrap();
        assert_ne!(a.public_key_der(), b.public_key_der());
        assert_eq!(a.algorithm(), &rcgen::PKCS_ECDSA_P256_SHA256);
    }
}
