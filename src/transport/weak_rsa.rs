//! A rustls signing key for RSA keys ring refuses (under 2048 bits), so the harness can present
//! the `weak-rsa-1024` profile and let the peer decide.
//!
//! ring only signs with RSA keys of 2048 to 8192 bits. A server that deploys a 1024-bit key
//! is exactly what a conforming client must refuse, so the harness must be able to be that
//! server: this key signs with the `rsa` crate instead, offering RSA-PSS with SHA-256 (the
//! scheme TLS 1.3 requires for RSA, RFC 8446 §4.2.3, and that rustls offers in TLS 1.2 too).

use std::sync::Arc;

use rsa::RsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::pss::Pss;
use rustls::sign::{Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme};
use sha2::{Digest, Sha256};

/// An RSA private key of any size, signing with RSA-PSS-SHA256.
#[derive(Debug)]
pub(crate) struct WeakRsaKey(Arc<RsaPrivateKey>);

impl WeakRsaKey {
    /// The key in `pkcs8`, if it is an RSA key the `rsa` crate can read.
    pub(crate) fn from_pkcs8(pkcs8: &[u8]) -> Option<WeakRsaKey> {
        RsaPrivateKey::from_pkcs8_der(pkcs8)
            .ok()
            .map(|key| WeakRsaKey(Arc::new(key)))
    }
}

impl SigningKey for WeakRsaKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered
            .contains(&SignatureScheme::RSA_PSS_SHA256)
            .then(|| Box::new(PssSigner(Arc::clone(&self.0))) as Box<dyn Signer>)
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RSA
    }
}

/// Signs one handshake with RSA-PSS-SHA256.
#[derive(Debug)]
struct PssSigner(Arc<RsaPrivateKey>);

impl Signer for PssSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let digest = Sha256::digest(message);
        self.0
            .sign_with_rng(&mut rand::thread_rng(), Pss::new::<Sha256>(), &digest)
            .map_err(|e| rustls::Error::General(format!("RSA-PSS signing failed: {e}")))
    }

    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::RSA_PSS_SHA256
    }
}
