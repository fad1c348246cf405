//! The server side's account database: salted SCRAM keys per account and hash, never the
//! password (RFC 5802 §3).

use std::collections::HashMap;
use std::fmt;

use rand::RngCore as _;

use super::saslprep::saslprep;
use super::scram::{ScramHash, ScramKeys, constant_time_eq};

/// The iteration count announced for unknown users until an account is added.
const DEFAULT_FAKE_ITERATIONS: u32 = 4096;

/// Server-side account database: stores salted SCRAM keys (StoredKey, ServerKey, salt,
/// iterations) per hash (SHA-1 and SHA-256), never the password.
///
/// Usernames and passwords are SASLprepped when stored and when looked up; one that SASLprep
/// refuses is stored as given, so that a client which sends it unprepared still matches.
#[derive(Clone)]
pub struct CredentialStore {
    accounts: HashMap<String, Account>,
    /// Keys the fake salts of unknown users, so they are stable but unpredictable.
    secret: [u8; 32],
    /// The iteration count announced for unknown users: the last one an account was added with.
    fake_iterations: u32,
}

/// One account: stored keys for every SCRAM hash, each with its own salt.
#[derive(Clone)]
struct Account {
    keys: Vec<(ScramHash, ScramKeys)>,
}

impl Account {
    fn keys(&self, hash: ScramHash) -> Option<&ScramKeys> {
        self.keys.iter().find(|(h, _)| *h == hash).map(|(_, k)| k)
    }
}

fn prepared(value: &str) -> String {
    saslprep(value).map_or_else(|_| value.to_owned(), |v| v.into_owned())
}

impl CredentialStore {
    /// An empty store.
    pub fn new() -> Self {
        let mut secret = [0; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        CredentialStore {
            accounts: HashMap::new(),
            secret,
            fake_iterations: DEFAULT_FAKE_ITERATIONS,
        }
    }

    /// Adds (or replaces) an account with a random 16-byte salt per hash. An iteration count of
    /// 0 is stored as 1.
    pub fn add_user(&mut self, username: &str, password: &str, iterations: u32) {
        let salts = ScramHash::ALL.map(|_| {
            let mut salt = [0; 16];
            rand::thread_rng().fill_bytes(&mut salt);
            salt
        });
        self.insert(username, password, &salts.map(|s| s.to_vec()), iterations);
    }

    /// Adds (or replaces) an account with a given salt, the same for both hashes: for
    /// reproducing published test vectors (RFC 5802 §5, RFC 7677 §3).
    pub fn add_user_with_salt(
        &mut self,
        username: &str,
        password: &str,
        salt: &[u8],
        iterations: u32,
    ) {
        self.insert(
            username,
            password,
            &ScramHash::ALL.map(|_| salt.to_vec()),
            iterations,
        );
    }

    fn insert(&mut self, username: &str, password: &str, salts: &[Vec<u8>; 3], iterations: u32) {
        let iterations = iterations.max(1);
        let password = prepared(password);
        let account = Account {
            keys: ScramHash::ALL
                .iter()
                .zip(salts)
                .map(|(hash, salt)| (*hash, ScramKeys::derive(*hash, &password, salt, iterations)))
                .collect(),
        };
        self.accounts.insert(prepared(username), account);
        self.fake_iterations = iterations;
    }

    /// Whether an account with this username exists.
    pub fn contains(&self, username: &str) -> bool {
        self.accounts.contains_key(&prepared(username))
    }

    /// PLAIN verification against the stored SCRAM-SHA-256 keys (recompute SaltedPassword →
    /// ClientKey → StoredKey, constant-time compare).
    pub fn verify_plain(&self, username: &str, password: &str) -> bool {
        let Some(account) = self.accounts.get(&prepared(username)) else {
            return false;
        };
        let Ok(password) = saslprep(password) else {
            return false;
        };
        let Some(stored) = account.keys(ScramHash::Sha256) else {
            return false;
        };
        let candidate = ScramKeys::derive(
            ScramHash::Sha256,
            &password,
            &stored.salt,
            stored.iterations,
        );
        constant_time_eq(&candidate.stored_key, &stored.stored_key)
    }

    /// The keys of an account, if it exists (`username` already SASLprepped).
    pub(crate) fn scram_keys(&self, username: &str, hash: ScramHash) -> Option<&ScramKeys> {
        self.accounts
            .get(username)
            .and_then(|account| account.keys(hash))
    }

    /// Keys for an unknown user: a salt that is the same every time for the same name and
    /// looks random, and keys no proof matches.
    pub(crate) fn fake_scram_keys(&self, username: &str, hash: ScramHash) -> ScramKeys {
        let mut salt = hash.hmac(&self.secret, format!("salt:{hash:?}:{username}").as_bytes());
        salt.truncate(16);
        let filler = hash.hmac(&self.secret, b"keys");
        ScramKeys {
            salt,
            iterations: self.fake_iterations,
            stored_key: filler.clone(),
            server_key: filler,
        }
    }
}

impl Default for CredentialStore {
    fn default() -> Self {
        CredentialStore::new()
    }
}

impl fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<&String> = self.accounts.keys().collect();
        users.sort();
        f.debug_struct("CredentialStore")
            .field("users", &users)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keeps_keys_not_passwords_rfc5802_3() {
        let mut store = CredentialStore::new();
        store.add_user("juliet", "r0m30myr0m30", 16);
        assert!(store.contains("juliet"));
        assert!(!store.contains("romeo"));
        let keys = store.scram_keys("juliet", ScramHash::Sha256).unwrap();
        assert_eq!(keys.salt.len(), 16);
        assert_eq!(keys.iterations, 16);
        assert_eq!(keys.stored_key.len(), 32);
        assert_eq!(
            store
                .scram_keys("juliet", ScramHash::Sha1)
                .unwrap()
                .stored_key
                .len(),
            20
        );
        let debug = format!("{store:?}");
        assert!(debug.contains("juliet") && !debug.contains("r0m30"));
    }

    #[test]
    fn verify_plain_recomputes_stored_key_rfc4616_3() {
        let mut store = CredentialStore::new();
        store.add_user("juliet", "r0m30myr0m30", 16);
        assert!(store.verify_plain("juliet", "r0m30myr0m30"));
        assert!(!store.verify_plain("juliet", "r0m30myr0m31"));
        assert!(!store.verify_plain("juliet", ""));
        assert!(!store.verify_plain("romeo", "r0m30myr0m30"));
    }

    #[test]
    fn verify_plain_applies_saslprep_rfc4013_2_1() {
        let mut store = CredentialStore::new();
        store.add_user("user", "I\u{AD}X", 4);
        assert!(store.verify_plain("user", "IX"));
        assert!(store.verify_plain("user", "I\u{AD}X"));
    }

    #[test]
    fn fake_keys_are_stable_per_user_and_differ_between_users() {
        let mut store = CredentialStore::new();
        store.add_user("juliet", "pw", 7);
        let a = store.fake_scram_keys("nobody", ScramHash::Sha1);
        let b = store.fake_scram_keys("nobody", ScramHash::Sha1);
        let c = store.fake_scram_keys("someone", ScramHash::Sha1);
        assert_eq!(a.salt, b.salt);
        assert_ne!(a.salt, c.salt);
        assert_eq!(a.salt.len(), 16);
        assert_eq!(a.iterations, 7);
    }
}
