//! Key pairs for the test PKI: fresh ECDSA P-256 and Ed25519 keys, and a per-catalogue pool of
//! RSA keys.
//!
//! ring (rcgen's backend) cannot generate RSA keys, so they come from the `rsa` crate as PKCS#8
//! DER and are loaded into rcgen. RSA generation is slow (hundreds of milliseconds per 2048-bit
//! key even optimised, seconds for 4096 bits), so a [`KeySource`] generates one RSA key per
//! size and [`KeyRole`] on first use — one for every root, one for every intermediate, one for
//! every leaf — and reuses them across all chains of its catalogue. Different chains therefore
//! share key material by design; that is harmless here because path validation matches names as
//! well as keys, the unrelated root uses its own fresh ECDSA key, and nothing in the harness
//! relies on keys being distinct between chains.
//!
//! The weak 1024-bit RSA leaf key is pooled the same way. ring refuses to sign with it, so it is
//! only ever a subject public key: the issuing CA signs, never the weak key.

use std::collections::BTreeMap;

use rcgen::{KeyPair, SubjectPublicKeyInfo};
use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rustls_pki_types::PrivatePkcs8KeyDer;

use super::PkiError;
use crate::scenario::model::KeyType;

/// The position of a certificate in its chain, which selects the pooled RSA key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
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
    /// RSA keys as PKCS#8 DER by modulus size and role, generated on first request.
    rsa: BTreeMap<(usize, KeyRole), PrivatePkcs8KeyDer<'static>>,
    /// The weak leaf key, generated on first request.
    weak_rsa: Option<WeakRsaKey>,
}

/// A 1024-bit RSA key that only ever appears as a certificate's subject key.
pub(crate) struct WeakRsaKey {
    /// The public key, for the issuer to sign.
    pub public: SubjectPublicKeyInfo,
    /// The private key as PKCS#8 DER.
    pub pkcs8: PrivatePkcs8KeyDer<'static>,
    /// The private key as PKCS#8 PEM.
    pub pem: String,
}

/// A fresh RSA private key of `bits` bits.
fn rsa_key(bits: usize) -> Result<RsaPrivateKey, PkiError> {
    RsaPrivateKey::new(&mut rand::thread_rng(), bits).map_err(PkiError::RsaGenerate)
}

/// A fresh RSA private key of `bits` bits as PKCS#8 DER.
fn rsa_pkcs8(bits: usize) -> Result<PrivatePkcs8KeyDer<'static>, PkiError> {
    let der = rsa_key(bits)?.to_pkcs8_der().map_err(PkiError::RsaEncode)?;
    Ok(PrivatePkcs8KeyDer::from(der.as_bytes().to_vec()))
}

/// A fresh key pair for an rcgen signature algorithm ring can generate.
fn generated(alg: &'static rcgen::SignatureAlgorithm, what: &str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(alg).map_err(|source| PkiError::Generate {
        what: what.into(),
        source,
    })
}

/// A fresh ECDSA P-256 key pair.
pub(crate) fn ecdsa_p256() -> Result<KeyPair, PkiError> {
    generated(&rcgen::PKCS_ECDSA_P256_SHA256, "ECDSA P-256 key")
}

impl Clone for WeakRsaKey {
    fn clone(&self) -> WeakRsaKey {
        WeakRsaKey {
            public: self.public.clone(),
            pkcs8: self.pkcs8.clone_key(),
            pem: self.pem.clone(),
        }
    }
}

/// The pooled RSA keys a chain of `key_type` may draw on: one per role, for RSA key types.
pub(crate) fn rsa_pool_entries(key_type: KeyType) -> Vec<(usize, KeyRole)> {
    let bits = match key_type {
        KeyType::EcdsaP256 | KeyType::Ed25519 => return Vec::new(),
        KeyType::Rsa2048 => 2048,
        KeyType::Rsa4096 => 4096,
    };
    [KeyRole::Root, KeyRole::Intermediate, KeyRole::Leaf]
        .into_iter()
        .map(|role| (bits, role))
        .collect()
}

/// One pooled RSA key: its modulus size and role, and the key as PKCS#8 DER.
pub(crate) type PooledRsaKey = ((usize, KeyRole), PrivatePkcs8KeyDer<'static>);

/// Generates RSA keys for pool `entries`, in parallel (RSA generation is the slowest thing the
/// harness does), so callers can do it without holding any lock.
pub(crate) fn generate_rsa(entries: &[(usize, KeyRole)]) -> Result<Vec<PooledRsaKey>, PkiError> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = entries
            .iter()
            .map(|&(bits, role)| {
                scope.spawn(move || rsa_pkcs8(bits).map(|key| ((bits, role), key)))
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker.join().unwrap_or(Err(PkiError::Recipe(
                    "an RSA key generation thread panicked",
                )))
            })
            .collect()
    })
}

impl KeySource {
    /// Which of `entries` the RSA pool does not hold yet.
    pub(crate) fn missing_rsa(&self, entries: &[(usize, KeyRole)]) -> Vec<(usize, KeyRole)> {
        entries
            .iter()
            .copied()
            .filter(|entry| !self.rsa.contains_key(entry))
            .collect()
    }

    /// Adds generated RSA keys to the pool (an entry already there is kept).
    pub(crate) fn add_rsa(&mut self, keys: Vec<PooledRsaKey>) {
        for (entry, key) in keys {
            self.rsa.entry(entry).or_insert(key);
        }
    }

    /// A key pair of `key_type` for a certificate in position `role`: fresh for ECDSA and
    /// Ed25519, from the pool for RSA.
    pub(crate) fn key_pair(
        &mut self,
        key_type: KeyType,
        role: KeyRole,
    ) -> Result<KeyPair, PkiError> {
        let bits = match key_type {
            KeyType::EcdsaP256 => return ecdsa_p256(),
            KeyType::Ed25519 => return generated(&rcgen::PKCS_ED25519, "Ed25519 key"),
            KeyType::Rsa2048 => 2048,
            KeyType::Rsa4096 => 4096,
        };
        let der = match self.rsa.get(&(bits, role)) {
            Some(der) => der,
            None => self.rsa.entry((bits, role)).or_insert(rsa_pkcs8(bits)?),
        };
        KeyPair::from_pkcs8_der_and_sign_algo(der, &rcgen::PKCS_RSA_SHA256).map_err(|source| {
            PkiError::Generate {
                what: format!("RSA-{bits} key"),
                source,
            }
        })
    }

    /// The pooled 1024-bit RSA leaf key.
    pub(crate) fn weak_rsa_1024(&mut self) -> Result<WeakRsaKey, PkiError> {
        if let Some(key) = &self.weak_rsa {
            return Ok(key.clone());
        }
        let private = rsa_key(1024)?;
        let spki = private
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| PkiError::RsaEncode(e.into()))?;
        let public = SubjectPublicKeyInfo::from_der(spki.as_bytes()).map_err(|source| {
            PkiError::Generate {
                what: "RSA-1024 public key".into(),
                source,
            }
        })?;
        let pkcs8 = private.to_pkcs8_der().map_err(PkiError::RsaEncode)?;
        let pem = private
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(PkiError::RsaEncode)?;
        let key = WeakRsaKey {
            public,
            pkcs8: PrivatePkcs8KeyDer::from(pkcs8.as_bytes().to_vec()),
            pem: pem.to_string(),
        };
        Ok(self.weak_rsa.insert(key).clone())
    }
}

/// The start of an Ed25519 key in PKCS#8 v2 (RFC 5958 OneAsymmetricKey, version 1, with the
/// public key appended), as ring writes it: SEQUENCE, INTEGER 1, AlgorithmIdentifier
/// id-Ed25519, OCTET STRING (the 32-byte seed wrapped in an OCTET STRING).
const ED25519_PKCS8_V2_HEAD: [u8; 14] = [
    0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
];

/// A private key as PEM that servers' OpenSSL reads. OpenSSL 3.0 (Debian 12) refuses an
/// Ed25519 key in PKCS#8 v2 form ("unsupported"), so such a key is written as PKCS#8 v1:
/// version 0, the same algorithm and seed, without the public key. `None` for any other key,
/// whose PEM is written as it is.
pub(crate) fn ed25519_pkcs8_v1_pem(der: &[u8]) -> Option<String> {
    let is_ed25519_v2 = der.len() == ED25519_PKCS8_V2_HEAD.len() + 34 + 35
        && der.starts_with(&ED25519_PKCS8_V2_HEAD);
    if !is_ed25519_v2 {
        return None;
    }
    let mut v1 = vec![0x30, 0x2e, 0x02, 0x01, 0x00];
    v1.extend_from_slice(&der[5..ED25519_PKCS8_V2_HEAD.len() + 34]);
    let body = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &v1);
    Some(format!(
        "-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"
    ))
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

    #[test]
    fn ed25519_keys_are_fresh_every_time() {
        let mut keys = KeySource::default();
        let a = keys.key_pair(KeyType::Ed25519, KeyRole::Leaf).unwrap();
        let b = keys.key_pair(KeyType::Ed25519, KeyRole::Leaf).unwrap();
        assert_ne!(a.public_key_der(), b.public_key_der());
        assert_eq!(a.algorithm(), &rcgen::PKCS_ED25519);
    }

    #[test]
    fn weak_rsa_key_is_1024_bits_and_generated_once() {
        use rsa::traits::PublicKeyParts;
        let mut keys = KeySource::default();
        let a = keys.weak_rsa_1024().unwrap();
        let b = keys.weak_rsa_1024().unwrap();
        assert_eq!(a.pem, b.pem);
        let private = <RsaPrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_der(
            a.pkcs8.secret_pkcs8_der(),
        )
        .unwrap();
        assert_eq!(private.size() * 8, 1024);
    }
}
