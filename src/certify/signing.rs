//! Ed25519 keys for certificates: generation (PKCS#8 PEM private key, mode 0600, and an SPKI
//! PEM public key), loading, signing and verifying.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest as _, Sha256};

use super::profile::hex;

/// File name of the private key `keygen` writes.
pub const PRIVATE_KEY_FILE: &str = "certify-signing-key.pem";
/// File name of the public key `keygen` writes.
pub const PUBLIC_KEY_FILE: &str = "certify-signing-key.pub.pem";

/// A key file could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing failed.
    #[error("{path}: {source}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is not a key of the expected kind.
    #[error("{path}: {detail}", path = path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// Writes a fresh key pair into `dir` ([`PRIVATE_KEY_FILE`] with mode 0600, never overwriting
/// an existing one, and [`PUBLIC_KEY_FILE`]); returns both paths.
pub fn generate(dir: &Path) -> Result<(PathBuf, PathBuf), KeyError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| KeyError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let private_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Malformed {
            path: dir.join(PRIVATE_KEY_FILE),
            detail: format!("cannot encode the private key: {e}"),
        })?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Malformed {
            path: dir.join(PUBLIC_KEY_FILE),
            detail: format!("cannot encode the public key: {e}"),
        })?;
    let private_path = dir.join(PRIVATE_KEY_FILE);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private_path)
        .map_err(io(&private_path))?;
    file.write_all(private_pem.as_bytes())
        .map_err(io(&private_path))?;
    let public_path = dir.join(PUBLIC_KEY_FILE);
    std::fs::write(&public_path, public_pem.as_bytes()).map_err(io(&public_path))?;
    Ok((private_path, public_path))
}

/// Loads a PKCS#8 PEM Ed25519 private key.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| KeyError::Malformed {
        path: path.to_owned(),
        detail: format!("not a PKCS#8 PEM Ed25519 private key: {e}"),
    })
}

/// Loads an SPKI PEM Ed25519 public key.
pub fn load_verifying_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    VerifyingKey::from_public_key_pem(&text).map_err(|e| KeyError::Malformed {
        path: path.to_owned(),
        detail: format!("not a PEM Ed25519 public key (SubjectPublicKeyInfo): {e}"),
    })
}

/// SHA-256 of the public key's DER SubjectPublicKeyInfo, lowercase hex: names the key in a
/// certificate (`openssl pkey -pubin -outform DER | sha256sum` gives the same).
pub fn key_fingerprint(key: &VerifyingKey) -> String {
    match key.to_public_key_der() {
        Ok(der) => hex(&Sha256::digest(der.as_bytes())),
        Err(_) => hex(&Sha256::digest(key.as_bytes())),
    }
}

/// The Ed25519 signature of `message`.
pub fn sign(key: &SigningKey, message: &[u8]) -> [u8; 64] {
    key.sign(message).to_bytes()
}

/// Whether `signature` is `key`'s Ed25519 signature of `message` (strict verification).
pub fn verify(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(signature) = Signature::from_slice(signature) else {
        return false;
    };
    key.verify_strict(message, &signature).is_ok() && key.verify(message, &signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn generated_keys_round_trip_through_pem_and_sign_and_verify() {
        let dir = crate::scratch::ScratchDir::new("keys");
        let (private, public) = generate(&dir).unwrap();
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            std::fs::read_to_string(&private)
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        let signing = load_signing_key(&private).unwrap();
        let verifying = load_verifying_key(&public).unwrap();
        let signature = sign(&signing, b"body");
        assert!(verify(&verifying, b"body", &signature));
        assert!(!verify(&verifying, b"bodY", &signature));
        assert!(!verify(&verifying, b"body", &signature[..63]));
        assert!(
            matches!(generate(&dir), Err(KeyError::Io { .. })),
            "an existing private key must not be overwritten"
        );
        assert!(matches!(
            load_verifying_key(&private),
            Err(KeyError::Malformed { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
