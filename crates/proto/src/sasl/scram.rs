//! SCRAM (RFC 5802, RFC 7677) for both sides: the key derivation, the message syntax and the two
//! state machines.
//!
//! The hash is a value ([`ScramHash`]), so SCRAM-SHA-512 is one more variant; the GS2 header is
//! built from a [`ChannelBinding`], so `-PLUS` is one more flag.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha512};

use super::downgrade;
use super::saslprep::{decode_saslname, encode_saslname, saslprep};
use super::store::CredentialStore;
use super::{
    ChannelBinding, ClientCredentials, ClientError, ClientMechanism, ClientMisbehaviour,
    ClientOptions, Mechanism, SaslFailure, ServerMechanism, ServerMisbehaviour, ServerOptions,
    ServerStep,
};

/// The hash function a SCRAM mechanism is built on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScramHash {
    /// SCRAM-SHA-1 (RFC 5802).
    Sha1,
    /// SCRAM-SHA-256 (RFC 7677).
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl ScramHash {
    /// Every hash, for stores that keep keys for each.
    pub(crate) const ALL: [ScramHash; 3] = [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512];

    /// The hash of a SCRAM mechanism; `None` for mechanisms that are not SCRAM.
    pub(crate) fn of(mechanism: Mechanism) -> Option<ScramHash> {
        match mechanism {
            Mechanism::Plain | Mechanism::External => None,
            Mechanism::ScramSha1 | Mechanism::ScramSha1Plus => Some(ScramHash::Sha1),
            Mechanism::ScramSha256 | Mechanism::ScramSha256Plus => Some(ScramHash::Sha256),
            Mechanism::ScramSha512 | Mechanism::ScramSha512Plus => Some(ScramHash::Sha512),
        }
    }

    /// `Hi(password, salt, iterations)`, i.e. PBKDF2 with HMAC (RFC 5802 §2.2).
    fn hi(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => {
                let mut out = vec![0; 20];
                pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut out);
                out
            }
            ScramHash::Sha256 => {
                let mut out = vec![0; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            ScramHash::Sha512 => {
                let mut out = vec![0; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }

    /// `HMAC(key, data)`.
    pub(crate) fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => mac::<Hmac<Sha1>>(key, data),
            ScramHash::Sha256 => mac::<Hmac<Sha256>>(key, data),
            ScramHash::Sha512 => mac::<Hmac<Sha512>>(key, data),
        }
    }

    /// `H(data)`.
    pub(crate) fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => Sha1::digest(data).to_vec(),
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length (RFC 2104 §2), so this never fails; if it did, the empty
    // result would fail every comparison rather than pass one.
    <M as Mac>::new_from_slice(key)
        .map(|m| m.chain_update(data).finalize().into_bytes().to_vec())
        .unwrap_or_default()
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a server stores for one account and one hash (RFC 5802 §3): never the password.
#[derive(Clone)]
pub(crate) struct ScramKeys {
    pub(crate) salt: Vec<u8>,
    pub(crate) iterations: u32,
    pub(crate) stored_key: Vec<u8>,
    pub(crate) server_key: Vec<u8>,
}

impl ScramKeys {
    /// Derives the stored keys from an already SASLprepped password.
    pub(crate) fn derive(hash: ScramHash, password: &str, salt: &[u8], iterations: u32) -> Self {
        let salted = hash.hi(password.as_bytes(), salt, iterations);
        let client_key = hash.hmac(&salted, b"Client Key");
        ScramKeys {
            salt: salt.to_vec(),
            iterations,
            stored_key: hash.hash(&client_key),
            server_key: hash.hmac(&salted, b"Server Key"),
        }
    }
}

/// The GS2 header (RFC 5802 §7 `gs2-header`) a client sends.
fn gs2_header(binding: &ChannelBinding, authzid: Option<&str>) -> String {
    let flag = match binding {
        ChannelBinding::None => "n".to_owned(),
        ChannelBinding::NotOffered => "y".to_owned(),
        ChannelBinding::Bound { kind, .. } => format!("p={kind}"),
    };
    match authzid {
        Some(a) => format!("{flag},a={},", encode_saslname(a)),
        None => format!("{flag},,"),
    }
}

/// Whether `nonce` is a valid `c-nonce`/`s-nonce`: printable ASCII except `,`.
fn is_valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| (0x21..=0x7E).contains(&b) && b != b',')
}

fn random_nonce(bytes: usize) -> String {
    let mut buf = vec![0; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    BASE64.encode(buf)
}

/// The value of `field` if it is the attribute `name` (`name=value`).
fn attribute(field: &str, name: char) -> Option<&str> {
    field.strip_prefix(name)?.strip_prefix('=')
}

/// Parses a `posit-number` (RFC 5802 §7): digits without a leading zero, saturating.
fn parse_iteration_count(value: &str) -> Option<u64> {
    if value.starts_with('0') || value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse().unwrap_or(u64::MAX))
}

/// The client side of SCRAM.
pub(crate) struct ScramClient {
    mechanism: Mechanism,
    hash: ScramHash,
    credentials: ClientCredentials,
    options: ClientOptions,
    binding: ChannelBinding,
    state: ClientState,
}

enum ClientState {
    /// Nothing sent yet, or the exchange failed.
    Idle,
    /// client-first-message sent.
    SentClientFirst {
        nonce: String,
        gs2_header: String,
        client_first_bare: String,
    },
    /// client-final-message sent; `verified` once a server-final arrived as a challenge.
    SentClientFinal {
        server_signature: Vec<u8>,
        verified: bool,
    },
}

impl ScramClient {
    pub(crate) fn new(
        mechanism: Mechanism,
        hash: ScramHash,
        credentials: ClientCredentials,
        options: ClientOptions,
        binding: ChannelBinding,
    ) -> Self {
        ScramClient {
            mechanism,
            hash,
            credentials,
            options,
            binding,
            state: ClientState::Idle,
        }
    }

    /// Turns the server-first message into the client-final message.
    fn client_final(
        &self,
        server_first: &[u8],
        nonce: &str,
        gs2_header: &str,
        client_first_bare: &str,
    ) -> Result<(Vec<u8>, Vec<u8>), ClientError> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| ClientError::malformed("server-first-message is not UTF-8"))?;
        let mut fields = server_first.split(',');
        let first = fields.next().unwrap_or_default();
        if let Some(value) = attribute(first, 'e') {
            return Err(ClientError::ServerError {
                value: value.to_owned(),
            });
        }
        if attribute(first, 'm').is_some() {
            return Err(ClientError::malformed(
                "server-first-message has the mandatory extension m=, which is not supported",
            ));
        }
        let combined = attribute(first, 'r').ok_or_else(|| {
            ClientError::malformed(format!(
                "server-first-message starts with {first:?}, not the nonce r="
            ))
        })?;
        if !is_valid_nonce(combined) {
            return Err(ClientError::malformed(
                "server nonce has characters outside printable ASCII or a comma",
            ));
        }
        if !combined.starts_with(nonce) {
            return Err(ClientError::NonceMismatch);
        }
        let salt_field = fields.next().unwrap_or_default();
        let salt = attribute(salt_field, 's').ok_or_else(|| {
            ClientError::malformed("server-first-message has no salt s= after r=")
        })?;
        let salt = BASE64
            .decode(salt)
            .map_err(|e| ClientError::malformed(format!("salt s= is not base64: {e}")))?;
        let count_field = fields.next().unwrap_or_default();
        let count = attribute(count_field, 'i').ok_or_else(|| {
            ClientError::malformed("server-first-message has no iteration count i= after s=")
        })?;
        let count = parse_iteration_count(count).ok_or_else(|| {
            ClientError::malformed(format!(
                "iteration count i={count} is not a positive number"
            ))
        })?;
        self.check_downgrade_protection(fields)?;
        // Limits first: never spend time on a count we would refuse.
        if count < u64::from(self.options.min_iterations) {
            return Err(ClientError::IterationCountTooLow {
                count,
                min: self.options.min_iterations,
            });
        }
        let iterations = match u32::try_from(count) {
            Ok(i) if i <= self.options.max_iterations => i,
            _ => {
                return Err(ClientError::IterationCountTooHigh {
                    count,
                    max: self.options.max_iterations,
                });
            }
        };
        let password = prepare(&self.credentials.password, "password")?;

        let salted = self.hash.hi(password.as_bytes(), &salt, iterations);
        let client_key = self.hash.hmac(&salted, b"Client Key");
        let stored_key = self.hash.hash(&client_key);
        let mut channel_binding = gs2_header.as_bytes().to_vec();
        if let ChannelBinding::Bound { data, .. } = &self.binding {
            if self.options.misbehaviour == ClientMisbehaviour::ForeignChannelBinding {
                channel_binding.extend(data.iter().map(|b| !b));
            } else {
                channel_binding.extend_from_slice(data);
            }
        }
        let without_proof = format!("c={},r={combined}", BASE64.encode(channel_binding));
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let client_signature = self.hash.hmac(&stored_key, auth_message.as_bytes());
        let mut proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        if self.options.misbehaviour == ClientMisbehaviour::WrongProof {
            proof.iter_mut().for_each(|b| *b = !*b);
        }
        let server_key = self.hash.hmac(&salted, b"Server Key");
        let server_signature = self.hash.hmac(&server_key, auth_message.as_bytes());
        let message = format!("{without_proof},p={}", BASE64.encode(proof));
        Ok((message.into_bytes(), server_signature))
    }
}

impl ScramClient {
    /// Checks the XEP-0474 hash among the optional attributes after `i=` against what the
    /// stream features advertised.
    fn check_downgrade_protection<'a>(
        &self,
        extensions: impl Iterator<Item = &'a str>,
    ) -> Result<(), ClientError> {
        let mut hash = None;
        for field in extensions {
            if let Some(value) = attribute(field, downgrade::ATTRIBUTE) {
                hash = Some(value);
            }
        }
        let Some(hash) = hash else {
            return if self.options.require_downgrade_protection {
                Err(ClientError::DowngradeProtectionMissing)
            } else {
                Ok(())
            };
        };
        let Some(advertised) = &self.options.advertised else {
            return Ok(());
        };
        let received = BASE64.decode(hash).map_err(|e| {
            ClientError::malformed(format!("downgrade protection hash h= is not base64: {e}"))
        })?;
        let expected = self.hash.hash(&advertised.hash_input());
        if constant_time_eq(&received, &expected) {
            Ok(())
        } else {
            Err(ClientError::DowngradeDetected {
                advertised: format!(
                    "mechanisms [{}], channel binding types [{}]",
                    advertised.mechanisms.join(", "),
                    advertised.channel_bindings.join(", ")
                ),
            })
        }
    }
}

/// SASLprep for the client's own input.
fn prepare<'a>(value: &'a str, what: &str) -> Result<std::borrow::Cow<'a, str>, ClientError> {
    saslprep(value).map_err(|e| ClientError::InvalidInput {
        what: format!("the {what} {e}"),
    })
}

/// Checks a server-final message (RFC 5802 §7 `server-final-message`) against the expected
/// signature.
fn verify_server_final(message: &[u8], server_signature: &[u8]) -> Result<(), ClientError> {
    let message = std::str::from_utf8(message)
        .map_err(|_| ClientError::malformed("server-final-message is not UTF-8"))?;
    let first = message.split(',').next().unwrap_or_default();
    if let Some(value) = attribute(first, 'e') {
        return Err(ClientError::ServerError {
            value: value.to_owned(),
        });
    }
    let verifier = attribute(first, 'v').ok_or_else(|| {
        ClientError::malformed(format!(
            "server-final-message starts with {first:?}, not v= or e="
        ))
    })?;
    let verifier = BASE64
        .decode(verifier)
        .map_err(|e| ClientError::malformed(format!("server signature v= is not base64: {e}")))?;
    if constant_time_eq(&verifier, server_signature) {
        Ok(())
    } else {
        Err(ClientError::ServerSignatureMismatch)
    }
}

impl ClientMechanism for ScramClient {
    fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    fn initial_response(&mut self) -> Result<Vec<u8>, ClientError> {
        self.state = ClientState::Idle;
        let nonce = match &self.options.nonce {
            Some(n) if is_valid_nonce(n) => n.clone(),
            Some(n) => {
                return Err(ClientError::InvalidInput {
                    what: format!(
                        "the fixed nonce {n:?} is empty or not printable ASCII without commas"
                    ),
                });
            }
            None => random_nonce(24),
        };
        let username = prepare(&self.credentials.username, "username")?;
        if username.is_empty() {
            return Err(ClientError::InvalidInput {
                what: "the username is empty".into(),
            });
        }
        let authzid = match &self.credentials.authzid {
            Some(a) => Some(prepare(a, "authzid")?.into_owned()),
            None => None,
        };
        let gs2_header = gs2_header(&self.binding, authzid.as_deref());
        let client_first_bare = format!("n={},r={nonce}", encode_saslname(&username));
        let message = format!("{gs2_header}{client_first_bare}").into_bytes();
        self.state = ClientState::SentClientFirst {
            nonce,
            gs2_header,
            client_first_bare,
        };
        Ok(message)
    }

    fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        match std::mem::replace(&mut self.state, ClientState::Idle) {
            ClientState::SentClientFirst {
                nonce,
                gs2_header,
                client_first_bare,
            } => {
                let (message, server_signature) =
                    self.client_final(challenge, &nonce, &gs2_header, &client_first_bare)?;
                self.state = ClientState::SentClientFinal {
                    server_signature,
                    verified: false,
                };
                Ok(message)
            }
            ClientState::SentClientFinal {
                server_signature,
                verified: false,
            } => {
                // Some servers send server-final in a challenge and <success/> without data.
                verify_server_final(challenge, &server_signature)?;
                self.state = ClientState::SentClientFinal {
                    server_signature,
                    verified: true,
                };
                Ok(Vec::new())
            }
            ClientState::Idle | ClientState::SentClientFinal { verified: true, .. } => {
                Err(ClientError::UnexpectedChallenge)
            }
        }
    }

    fn finish(&mut self, additional_data: &[u8]) -> Result<(), ClientError> {
        match std::mem::replace(&mut self.state, ClientState::Idle) {
            ClientState::SentClientFinal { verified: true, .. } if additional_data.is_empty() => {
                Ok(())
            }
            ClientState::SentClientFinal {
                server_signature, ..
            } if !additional_data.is_empty() => {
                verify_server_final(additional_data, &server_signature)
            }
            _ => Err(ClientError::MissingServerFinal),
        }
    }
}

/// The server side of SCRAM.
pub(crate) struct ScramServer {
    mechanism: Mechanism,
    hash: ScramHash,
    options: ServerOptions,
    state: ServerState,
}

enum ServerState {
    /// Waiting for client-first; `asked` once an empty initial response got an empty challenge.
    Start { asked: bool },
    /// server-first sent.
    SentServerFirst(Box<Exchange>),
    /// Finished, successfully or not.
    Done,
}

/// What the server remembers between server-first and client-final.
struct Exchange {
    username: String,
    authzid: Option<String>,
    known: bool,
    keys: ScramKeys,
    /// What `c=` must decode to: the GS2 header, plus the channel binding data for `p=`.
    expected_binding: Vec<u8>,
    client_first_bare: String,
    server_first: String,
    combined_nonce: String,
}

impl ScramServer {
    /// Checks the GS2 flag against the mechanism and what was offered (RFC 5802 §6); returns
    /// the channel binding data `c=` must carry after the header.
    fn check_gs2_flag(&self, flag: &str) -> Result<Vec<u8>, SaslFailure> {
        let plus = self.mechanism.is_plus();
        match flag {
            "n" if plus => Err(SaslFailure::malformed(format!(
                "client chose {} but the GS2 flag n says it does not bind the channel",
                self.mechanism
            ))),
            "n" => Ok(Vec::new()),
            "y" if plus => Err(SaslFailure::malformed(format!(
                "client chose {} but the GS2 flag y says it does not bind the channel",
                self.mechanism
            ))),
            "y" if self.options.plus_offered => Err(SaslFailure::not_authorized(
                "downgrade: the client says the server offers no channel binding (GS2 flag y), \
                 but the server offered -PLUS mechanisms (RFC 5802 §6)",
            )),
            "y" => Ok(Vec::new()),
            _ => {
                let Some(kind) = attribute(flag, 'p') else {
                    return Err(SaslFailure::malformed(format!(
                        "client-first-message GS2 flag is {flag:?}, not n, y or p="
                    )));
                };
                if !plus {
                    return Err(SaslFailure::malformed(format!(
                        "client asked for channel binding ({flag}) with {}, which is not a -PLUS \
                         mechanism",
                        self.mechanism
                    )));
                }
                let requested = super::ChannelBindingType::from_name(kind);
                let bindings = &self.options.channel_bindings;
                match requested.and_then(|k| bindings.get(k)) {
                    Some(data) => Ok(data.to_vec()),
                    None if requested == Some(super::ChannelBindingType::TlsUnique)
                        && bindings.tls_unique_defined =>
                    {
                        Err(SaslFailure::beyond_the_harness(
                            "the client binds with tls-unique on TLS 1.2, where RFC 5929 defines \
                             it, but this connection's TLS stack cannot compute it (rustls does \
                             not expose the Finished message; the OpenSSL stack does)",
                        ))
                    }
                    None => Err(SaslFailure::not_authorized(format!(
                        "channel binding type {kind:?} is not available on this connection \
                         (available: {:?})",
                        self.options
                            .channel_bindings
                            .types()
                            .iter()
                            .map(|t| t.name())
                            .collect::<Vec<_>>()
                    ))),
                }
            }
        }
    }

    pub(crate) fn new(mechanism: Mechanism, hash: ScramHash, options: ServerOptions) -> Self {
        ScramServer {
            mechanism,
            hash,
            options,
            state: ServerState::Start { asked: false },
        }
    }

    fn client_first(
        &self,
        message: &[u8],
        store: &CredentialStore,
    ) -> Result<Exchange, SaslFailure> {
        let message = std::str::from_utf8(message)
            .map_err(|_| SaslFailure::malformed("client-first-message is not UTF-8"))?;
        let mut parts = message.splitn(3, ',');
        let flag = parts.next().unwrap_or_default();
        let authzid = parts.next();
        let bare = parts.next();
        let (Some(authzid), Some(bare)) = (authzid, bare) else {
            return Err(SaslFailure::malformed(
                "client-first-message has no GS2 header (flag, authzid and two commas)",
            ));
        };
        let binding_data = self.check_gs2_flag(flag)?;
        let requested_authzid = if authzid.is_empty() {
            None
        } else {
            Some(
                attribute(authzid, 'a')
                    .and_then(decode_saslname)
                    .ok_or_else(|| {
                        SaslFailure::malformed(format!("GS2 authzid {authzid:?} is not a=saslname"))
                    })?,
            )
        };
        let gs2_header = format!("{flag},{authzid},");
        let mut expected_binding = gs2_header.as_bytes().to_vec();
        expected_binding.extend_from_slice(&binding_data);

        let mut fields = bare.split(',');
        let first = fields.next().unwrap_or_default();
        if attribute(first, 'm').is_some() {
            return Err(SaslFailure::malformed(
                "client-first-message has the mandatory extension m=, which is not supported",
            ));
        }
        let username = attribute(first, 'n').ok_or_else(|| {
            SaslFailure::malformed(format!(
                "client-first-message-bare starts with {first:?}, not n="
            ))
        })?;
        let username = decode_saslname(username).ok_or_else(|| {
            SaslFailure::malformed(format!(
                "username n={username} is empty or has an '=' not followed by 2C or 3D"
            ))
        })?;
        let username = saslprep(&username)
            .map_err(|e| SaslFailure::malformed(format!("username {e}")))?
            .into_owned();
        let nonce_field = fields.next().unwrap_or_default();
        let client_nonce = attribute(nonce_field, 'r').ok_or_else(|| {
            SaslFailure::malformed("client-first-message has no nonce r= after the username")
        })?;
        if !is_valid_nonce(client_nonce) {
            return Err(SaslFailure::malformed(
                "client nonce is empty or has characters outside printable ASCII",
            ));
        }

        let server_nonce = self
            .options
            .nonce
            .clone()
            .unwrap_or_else(|| random_nonce(18));
        let combined_nonce = match self.options.misbehaviour {
            ServerMisbehaviour::AlteredNonce => format!("{server_nonce}{client_nonce}"),
            _ => format!("{client_nonce}{server_nonce}"),
        };
        // An unknown user gets a consistent fake salt and fails only at client-final, so the
        // server-first message does not tell whether the account exists.
        let (keys, known) = match store.scram_keys(&username, self.hash) {
            Some(keys) => (keys.clone(), true),
            None => (store.fake_scram_keys(&username, self.hash), false),
        };
        let announced_iterations = match self.options.misbehaviour {
            ServerMisbehaviour::AnnouncedIterations(count) => count,
            _ => keys.iterations,
        };
        let mut server_first = format!(
            "r={combined_nonce},s={},i={announced_iterations}",
            BASE64.encode(&keys.salt),
        );
        if let Some(advertised) = &self.options.downgrade_protection {
            let hash = self.hash.hash(&advertised.hash_input());
            server_first.push_str(&format!(
                ",{}={}",
                downgrade::ATTRIBUTE,
                BASE64.encode(hash)
            ));
        }
        Ok(Exchange {
            username,
            authzid: requested_authzid,
            known,
            keys,
            expected_binding,
            client_first_bare: bare.to_owned(),
            server_first,
            combined_nonce,
        })
    }

    fn client_final(&self, message: &[u8], exchange: &Exchange) -> Result<ServerStep, SaslFailure> {
        let message = std::str::from_utf8(message)
            .map_err(|_| SaslFailure::malformed("client-final-message is not UTF-8"))?;
        let (without_proof, proof) = message
            .rsplit_once(',')
            .ok_or_else(|| SaslFailure::malformed("client-final-message has no proof p="))?;
        let proof = attribute(proof, 'p').ok_or_else(|| {
            SaslFailure::malformed(format!("client-final-message ends with {proof:?}, not p="))
        })?;
        let proof = BASE64
            .decode(proof)
            .map_err(|e| SaslFailure::malformed(format!("proof p= is not base64: {e}")))?;
        let mut fields = without_proof.split(',');
        let binding = fields.next().unwrap_or_default();
        let binding = attribute(binding, 'c').ok_or_else(|| {
            SaslFailure::malformed(format!(
                "client-final-message starts with {binding:?}, not c="
            ))
        })?;
        let binding = BASE64.decode(binding).map_err(|e| {
            SaslFailure::malformed(format!("channel binding c= is not base64: {e}"))
        })?;
        let nonce_field = fields.next().unwrap_or_default();
        let nonce = attribute(nonce_field, 'r').ok_or_else(|| {
            SaslFailure::malformed("client-final-message has no nonce r= after c=")
        })?;
        if binding != exchange.expected_binding {
            return Err(SaslFailure::not_authorized(format!(
                "channel binding c= decodes to {:?}, not the GS2 header and binding data {:?} of \
                 this connection (RFC 5802 §6)",
                String::from_utf8_lossy(&binding),
                String::from_utf8_lossy(&exchange.expected_binding)
            )));
        }
        if nonce != exchange.combined_nonce {
            return Err(SaslFailure::not_authorized(
                "client-final nonce r= is not the combined nonce of server-first",
            ));
        }

        let auth_message = format!(
            "{},{},{without_proof}",
            exchange.client_first_bare, exchange.server_first
        );
        let client_signature = self
            .hash
            .hmac(&exchange.keys.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        let proof_ok = proof.len() == client_signature.len()
            && constant_time_eq(&self.hash.hash(&client_key), &exchange.keys.stored_key);
        if !exchange.known || !proof_ok {
            // The same answer for both, so the failure does not tell whether the account exists.
            return Err(SaslFailure::not_authorized(format!(
                "wrong password or unknown user {:?} (client proof does not verify)",
                exchange.username
            )));
        }

        let mut signature = self
            .hash
            .hmac(&exchange.keys.server_key, auth_message.as_bytes());
        let additional_data = match self.options.misbehaviour {
            ServerMisbehaviour::WrongServerSignature => {
                signature.iter_mut().for_each(|b| *b = !*b);
                format!("v={}", BASE64.encode(signature)).into_bytes()
            }
            ServerMisbehaviour::SuccessWithoutFinal => Vec::new(),
            _ => format!("v={}", BASE64.encode(signature)).into_bytes(),
        };
        Ok(ServerStep::Success {
            authcid: exchange.username.clone(),
            authzid: exchange.authzid.clone(),
            additional_data,
        })
    }
}

impl ServerMechanism for ScramServer {
    fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    fn step(
        &mut self,
        response: &[u8],
        store: &CredentialStore,
    ) -> Result<ServerStep, SaslFailure> {
        match std::mem::replace(&mut self.state, ServerState::Done) {
            ServerState::Start { asked: false } if response.is_empty() => {
                self.state = ServerState::Start { asked: true };
                Ok(ServerStep::Challenge(Vec::new()))
            }
            ServerState::Start { .. } => {
                let exchange = self.client_first(response, store)?;
                let server_first = exchange.server_first.clone().into_bytes();
                self.state = ServerState::SentServerFirst(Box::new(exchange));
                Ok(ServerStep::Challenge(server_first))
            }
            ServerState::SentServerFirst(exchange) => self.client_final(response, &exchange),
            ServerState::Done => Err(SaslFailure::malformed(
                "client sent more data after the exchange ended",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sasl::{
        Advertised, ChannelBindingType, ChannelBindings, FailureCondition, client_mechanism,
        client_mechanism_with_channel_binding, server_mechanism,
    };

    const SHA1_CLIENT_NONCE: &str = "fyko+d2lbbFgONRv9qkxdawL";
    const SHA1_SERVER_NONCE: &str = "3rfcNHYJY1ZVvWVs7j";
    const SHA1_SALT: &str = "QSXCR+Q6sek8bf92";
    const SHA1_CLIENT_FINAL: &str =
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
    const SHA1_SERVER_FINAL: &str = "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=";

    const SHA256_CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SHA256_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const SHA256_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const SHA256_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
         p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SHA256_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn credentials(username: &str, password: &str) -> ClientCredentials {
        ClientCredentials {
            username: username.into(),
            password: password.into(),
            authzid: None,
        }
    }

    fn options(nonce: &str) -> ClientOptions {
        ClientOptions {
            nonce: Some(nonce.into()),
            ..ClientOptions::default()
        }
    }

    fn client(mechanism: Mechanism, nonce: &str) -> Box<dyn ClientMechanism> {
        client_mechanism(mechanism, credentials("user", "pencil"), options(nonce))
    }

    fn vector_store(salt: &str) -> CredentialStore {
        let mut store = CredentialStore::new();
        store.add_user_with_salt("user", "pencil", &BASE64.decode(salt).unwrap(), 4096);
        store
    }

    fn server(mechanism: Mechanism, nonce: &str) -> Box<dyn ServerMechanism> {
        server_mechanism(
            mechanism,
            ServerOptions {
                nonce: Some(nonce.into()),
                ..ServerOptions::default()
            },
        )
    }

    fn challenge(step: ServerStep) -> Vec<u8> {
        match step {
            ServerStep::Challenge(c) => c,
            other => panic!("expected a challenge, got {other:?}"),
        }
    }

    fn success(step: ServerStep) -> (String, Vec<u8>) {
        match step {
            ServerStep::Success {
                authcid,
                additional_data,
                ..
            } => (authcid, additional_data),
            other => panic!("expected success, got {other:?}"),
        }
    }

    #[test]
    fn client_reproduces_rfc5802_5_sha1_vector() {
        let mut client = client(Mechanism::ScramSha1, SHA1_CLIENT_NONCE);
        assert_eq!(
            client.initial_response().unwrap(),
            b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        );
        let server_first = format!("r={SHA1_CLIENT_NONCE}{SHA1_SERVER_NONCE},s={SHA1_SALT},i=4096");
        let client_final = client.respond(server_first.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(client_final).unwrap(), SHA1_CLIENT_FINAL);
        client.finish(SHA1_SERVER_FINAL.as_bytes()).unwrap();
    }

    #[test]
    fn client_reproduces_rfc7677_3_sha256_vector() {
        let mut client = client(Mechanism::ScramSha256, SHA256_CLIENT_NONCE);
        assert_eq!(
            client.initial_response().unwrap(),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let server_first =
            format!("r={SHA256_CLIENT_NONCE}{SHA256_SERVER_NONCE},s={SHA256_SALT},i=4096");
        let client_final = client.respond(server_first.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            SHA256_CLIENT_FINAL
        );
        client.finish(SHA256_SERVER_FINAL.as_bytes()).unwrap();
    }

    #[test]
    fn server_reproduces_rfc5802_5_sha1_vector() {
        let store = vector_store(SHA1_SALT);
        let mut server = server(Mechanism::ScramSha1, SHA1_SERVER_NONCE);
        let server_first = challenge(
            server
                .step(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", &store)
                .unwrap(),
        );
        assert_eq!(
            String::from_utf8(server_first).unwrap(),
            format!("r={SHA1_CLIENT_NONCE}{SHA1_SERVER_NONCE},s={SHA1_SALT},i=4096")
        );
        let (authcid, server_final) =
            success(server.step(SHA1_CLIENT_FINAL.as_bytes(), &store).unwrap());
        assert_eq!(authcid, "user");
        assert_eq!(String::from_utf8(server_final).unwrap(), SHA1_SERVER_FINAL);
    }

    #[test]
    fn server_reproduces_rfc7677_3_sha256_vector() {
        let store = vector_store(SHA256_SALT);
        let mut server = server(Mechanism::ScramSha256, SHA256_SERVER_NONCE);
        let server_first = challenge(
            server
                .step(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", &store)
                .unwrap(),
        );
        assert_eq!(
            String::from_utf8(server_first).unwrap(),
            format!("r={SHA256_CLIENT_NONCE}{SHA256_SERVER_NONCE},s={SHA256_SALT},i=4096")
        );
        let (authcid, server_final) =
            success(server.step(SHA256_CLIENT_FINAL.as_bytes(), &store).unwrap());
        assert_eq!(authcid, "user");
        assert_eq!(
            String::from_utf8(server_final).unwrap(),
            SHA256_SERVER_FINAL
        );
    }

    /// Vectors computed by an independent implementation (Python's hashlib and hmac,
    /// `fixtures/sasl/scram_vectors.py`), which also reproduces the RFC 5802 §5 and RFC 7677 §3
    /// vectors; the SHA-512 one has no RFC vector of its own.
    #[derive(serde::Deserialize)]
    struct IndependentVector {
        mechanism: String,
        user: String,
        password: String,
        client_nonce: String,
        server_nonce: String,
        salt: String,
        iterations: u32,
        client_first: String,
        server_first: String,
        client_final: String,
        server_final: String,
    }

    fn independent_vectors() -> Vec<IndependentVector> {
        serde_json::from_str(include_str!("../../../../fixtures/sasl/scram-vectors.json")).unwrap()
    }

    #[test]
    fn both_sides_reproduce_independently_computed_vectors_for_sha1_sha256_and_sha512() {
        let vectors = independent_vectors();
        assert_eq!(vectors.len(), 3);
        for vector in vectors {
            let mechanism = Mechanism::from_name(&vector.mechanism).unwrap();
            let mut client = client_mechanism(
                mechanism,
                credentials(&vector.user, &vector.password),
                options(&vector.client_nonce),
            );
            assert_eq!(
                client.initial_response().unwrap(),
                vector.client_first.as_bytes()
            );
            let client_final = client.respond(vector.server_first.as_bytes()).unwrap();
            assert_eq!(
                String::from_utf8(client_final).unwrap(),
                vector.client_final,
                "{}",
                vector.mechanism
            );
            client.finish(vector.server_final.as_bytes()).unwrap();

            let mut store = CredentialStore::new();
            let salt = BASE64.decode(&vector.salt).unwrap();
            store.add_user_with_salt(&vector.user, &vector.password, &salt, vector.iterations);
            let mut server = server(mechanism, &vector.server_nonce);
            let server_first =
                challenge(server.step(vector.client_first.as_bytes(), &store).unwrap());
            assert_eq!(
                String::from_utf8(server_first).unwrap(),
                vector.server_first
            );
            let (_, server_final) =
                success(server.step(vector.client_final.as_bytes(), &store).unwrap());
            assert_eq!(
                String::from_utf8(server_final).unwrap(),
                vector.server_final,
                "{}",
                vector.mechanism
            );
        }
    }

    /// Runs a whole exchange; returns the server's verdict and, if it succeeded, the client's.
    fn round_trip(
        mechanism: Mechanism,
        credentials: ClientCredentials,
        store: &CredentialStore,
        server_options: ServerOptions,
    ) -> Result<Result<String, ClientError>, SaslFailure> {
        let client_options = ClientOptions {
            min_iterations: 1,
            ..ClientOptions::default()
        };
        let mut client = client_mechanism(mechanism, credentials, client_options);
        let mut server = server_mechanism(mechanism, server_options);
        let mut message = client.initial_response().unwrap();
        loop {
            match server.step(&message, store)? {
                ServerStep::Challenge(c) => message = client.respond(&c).unwrap(),
                ServerStep::Success {
                    authcid,
                    additional_data,
                    ..
                } => {
                    return Ok(client.finish(&additional_data).map(|()| authcid));
                }
            }
        }
    }

    fn small_store() -> CredentialStore {
        let mut store = CredentialStore::new();
        store.add_user("juliet", "r0m30myr0m30", 16);
        store.add_user("we,ird=name", "p=ss,word", 16);
        store
    }

    #[test]
    fn scram_round_trip_authenticates_rfc5802_3() {
        let store = small_store();
        for mechanism in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
            let verdict = round_trip(
                mechanism,
                credentials("juliet", "r0m30myr0m30"),
                &store,
                ServerOptions::default(),
            );
            assert_eq!(verdict, Ok(Ok("juliet".to_owned())), "{mechanism}");
        }
    }

    #[test]
    fn scram_round_trip_escapes_comma_and_equals_in_username_rfc5802_5_1() {
        let store = small_store();
        let verdict = round_trip(
            Mechanism::ScramSha256,
            credentials("we,ird=name", "p=ss,word"),
            &store,
            ServerOptions::default(),
        );
        assert_eq!(verdict, Ok(Ok("we,ird=name".to_owned())));
    }

    #[test]
    fn scram_round_trip_with_authzid_and_y_flag_rfc5802_6() {
        let store = small_store();
        let mut client = client_mechanism_with_channel_binding(
            Mechanism::ScramSha1,
            ClientCredentials {
                authzid: Some("jul,iet".into()),
                ..credentials("juliet", "r0m30myr0m30")
            },
            ClientOptions {
                min_iterations: 1,
                ..ClientOptions::default()
            },
            ChannelBinding::NotOffered,
        );
        let mut server = server_mechanism(Mechanism::ScramSha1, ServerOptions::default());
        let first = client.initial_response().unwrap();
        assert!(first.starts_with(b"y,a=jul=2Ciet,n=juliet,r="));
        let server_first = challenge(server.step(&first, &store).unwrap());
        let client_final = client.respond(&server_first).unwrap();
        assert!(
            client_final.starts_with(format!("c={}", BASE64.encode("y,a=jul=2Ciet,")).as_bytes())
        );
        let (_, server_final) = success(server.step(&client_final, &store).unwrap());
        client.finish(&server_final).unwrap();
    }

    #[test]
    fn scram_round_trip_at_4096_iterations_rfc7677_4() {
        let mut store = CredentialStore::new();
        store.add_user("romeo", "juliet", 4096);
        let verdict = round_trip(
            Mechanism::ScramSha256,
            credentials("romeo", "juliet"),
            &store,
            ServerOptions::default(),
        );
        assert_eq!(verdict, Ok(Ok("romeo".to_owned())));
    }

    #[test]
    fn wrong_password_is_not_authorized_rfc6120_6_5_10() {
        let store = small_store();
        for mechanism in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
            let failure = round_trip(
                mechanism,
                credentials("juliet", "wrong"),
                &store,
                ServerOptions::default(),
            )
            .unwrap_err();
            assert_eq!(
                failure.condition,
                FailureCondition::NotAuthorized,
                "{mechanism}"
            );
        }
    }

    #[test]
    fn unknown_user_gets_a_stable_fake_salt_and_fails_at_client_final_rfc5802_9() {
        let store = small_store();
        let salt_and_count = || {
            let mut server = server_mechanism(Mechanism::ScramSha256, ServerOptions::default());
            let server_first = challenge(server.step(b"n,,n=nobody,r=abc", &store).unwrap());
            let server_first = String::from_utf8(server_first).unwrap();
            server_first.split_once(",s=").unwrap().1.to_owned()
        };
        assert_eq!(salt_and_count(), salt_and_count());
        assert!(salt_and_count().ends_with(",i=16"));
        let failure = round_trip(
            Mechanism::ScramSha256,
            credentials("nobody", "r0m30myr0m30"),
            &store,
            ServerOptions::default(),
        )
        .unwrap_err();
        assert_eq!(failure.condition, FailureCondition::NotAuthorized);
    }

    #[test]
    fn wrong_server_signature_is_caught_by_the_client_rfc5802_5_1() {
        let store = small_store();
        let verdict = round_trip(
            Mechanism::ScramSha256,
            credentials("juliet", "r0m30myr0m30"),
            &store,
            ServerOptions {
                misbehaviour: ServerMisbehaviour::WrongServerSignature,
                ..ServerOptions::default()
            },
        );
        assert_eq!(verdict, Ok(Err(ClientError::ServerSignatureMismatch)));
    }

    #[test]
    fn server_final_in_a_challenge_is_verified_then_empty_success_accepted_rfc6120_6_3_10() {
        let mut client = client(Mechanism::ScramSha1, SHA1_CLIENT_NONCE);
        client.initial_response().unwrap();
        let server_first = format!("r={SHA1_CLIENT_NONCE}{SHA1_SERVER_NONCE},s={SHA1_SALT},i=4096");
        client.respond(server_first.as_bytes()).unwrap();
        assert_eq!(client.respond(SHA1_SERVER_FINAL.as_bytes()).unwrap(), b"");
        client.finish(b"").unwrap();
    }

    /// XEP-0474 vectors computed by an independent implementation (Python's hashlib,
    /// `fixtures/sasl/xep0474_vectors.py`).
    #[derive(serde::Deserialize)]
    struct DowngradeVector {
        mechanism: String,
        mechanisms: Vec<String>,
        channel_bindings: Vec<String>,
        h: String,
    }

    fn downgrade_vectors() -> Vec<DowngradeVector> {
        serde_json::from_str(include_str!(
            "../../../../fixtures/sasl/xep0474-vectors.json"
        ))
        .unwrap()
    }

    fn advertised(vector: &DowngradeVector) -> Advertised {
        Advertised {
            mechanisms: vector.mechanisms.clone(),
            channel_bindings: vector.channel_bindings.clone(),
        }
    }

    #[test]
    fn server_first_carries_the_independently_computed_downgrade_hash_xep0474_3() {
        for vector in downgrade_vectors() {
            let mechanism = Mechanism::from_name(&vector.mechanism).unwrap();
            let store = vector_store(SHA1_SALT);
            let mut server = server_mechanism(
                mechanism,
                ServerOptions {
                    nonce: Some(SHA1_SERVER_NONCE.into()),
                    downgrade_protection: Some(advertised(&vector)),
                    ..ServerOptions::default()
                },
            );
            let server_first =
                String::from_utf8(challenge(server.step(b"n,,n=user,r=abc", &store).unwrap()))
                    .unwrap();
            assert_eq!(
                server_first,
                format!(
                    "r=abc{SHA1_SERVER_NONCE},s={SHA1_SALT},i=4096,h={}",
                    vector.h
                ),
                "{}",
                vector.mechanism
            );
        }
    }

    /// A SHA-256 client that saw `seen` advertised, after client-first.
    fn sha256_client_that_saw(seen: Option<Advertised>, require: bool) -> Box<dyn ClientMechanism> {
        let mut client = client_mechanism(
            Mechanism::ScramSha256,
            credentials("user", "pencil"),
            ClientOptions {
                nonce: Some(SHA256_CLIENT_NONCE.into()),
                advertised: seen,
                require_downgrade_protection: require,
                ..ClientOptions::default()
            },
        );
        client.initial_response().unwrap();
        client
    }

    #[test]
    fn client_accepts_a_hash_of_what_it_saw_and_detects_a_stripped_list_xep0474_4() {
        let vectors = downgrade_vectors();
        let full = &vectors[0];
        let stripped = &vectors[3];
        let server_first = format!(
            "r={SHA256_CLIENT_NONCE}xyz,s={SHA256_SALT},i=4096,h={}",
            full.h
        );

        let mut honest = sha256_client_that_saw(Some(advertised(full)), false);
        assert!(honest.respond(server_first.as_bytes()).is_ok());

        let mut victim = sha256_client_that_saw(Some(advertised(stripped)), false);
        let error = victim.respond(server_first.as_bytes()).unwrap_err();
        assert_eq!(error.code(), "downgrade-detected");
        assert!(
            error
                .to_string()
                .contains("SCRAM-SHA-256, SCRAM-SHA-1, PLAIN")
        );

        let mut garbled = sha256_client_that_saw(Some(advertised(full)), false);
        let not_base64 = format!("r={SHA256_CLIENT_NONCE}xyz,s={SHA256_SALT},i=4096,h=***");
        assert_eq!(
            garbled.respond(not_base64.as_bytes()).unwrap_err().code(),
            "malformed-challenge"
        );
    }

    #[test]
    fn a_server_without_the_hash_is_fine_unless_the_case_is_about_it_xep0474_5() {
        let server_first = format!("r={SHA256_CLIENT_NONCE}xyz,s={SHA256_SALT},i=4096");
        let mut ordinary = sha256_client_that_saw(Some(advertised(&downgrade_vectors()[0])), false);
        assert!(ordinary.respond(server_first.as_bytes()).is_ok());
        let mut about_it = sha256_client_that_saw(None, true);
        assert_eq!(
            about_it.respond(server_first.as_bytes()).unwrap_err(),
            ClientError::DowngradeProtectionMissing
        );
    }

    /// A client that has sent client-first with the RFC 5802 nonce.
    fn sha1_client_after_first(options: ClientOptions) -> Box<dyn ClientMechanism> {
        let mut client = client_mechanism(
            Mechanism::ScramSha1,
            credentials("user", "pencil"),
            ClientOptions {
                nonce: Some(SHA1_CLIENT_NONCE.into()),
                ..options
            },
        );
        client.initial_response().unwrap();
        client
    }

    #[test]
    fn huge_iteration_count_is_refused_without_hashing_rfc5802_9() {
        let mut client = sha1_client_after_first(ClientOptions::default());
        let started = std::time::Instant::now();
        let server_first = format!("r={SHA1_CLIENT_NONCE}xyz,s={SHA1_SALT},i=1000000000");
        assert_eq!(
            client.respond(server_first.as_bytes()).unwrap_err(),
            ClientError::IterationCountTooHigh {
                count: 1_000_000_000,
                max: 100_000
            }
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));

        let mut client = sha1_client_after_first(ClientOptions::default());
        let server_first =
            format!("r={SHA1_CLIENT_NONCE}xyz,s={SHA1_SALT},i=99999999999999999999999");
        assert_eq!(
            client.respond(server_first.as_bytes()).unwrap_err().code(),
            "iteration-count-too-high"
        );
    }

    #[test]
    fn low_iteration_count_is_refused_rfc7677_4() {
        let mut client = sha1_client_after_first(ClientOptions::default());
        let server_first = format!("r={SHA1_CLIENT_NONCE}xyz,s={SHA1_SALT},i=4095");
        assert_eq!(
            client.respond(server_first.as_bytes()).unwrap_err(),
            ClientError::IterationCountTooLow {
                count: 4095,
                min: 4096
            }
        );
    }

    #[test]
    fn tampered_nonce_is_refused_rfc5802_5_1() {
        let mut client = sha1_client_after_first(ClientOptions::default());
        let server_first =
            format!("r=Xyko+d2lbbFgONRv9qkxdawL{SHA1_SERVER_NONCE},s={SHA1_SALT},i=4096");
        assert_eq!(
            client.respond(server_first.as_bytes()).unwrap_err(),
            ClientError::NonceMismatch
        );
    }

    #[test]
    fn success_without_server_final_is_refused_rfc5802_5() {
        let mut client = sha1_client_after_first(ClientOptions::default());
        let server_first = format!("r={SHA1_CLIENT_NONCE}{SHA1_SERVER_NONCE},s={SHA1_SALT},i=4096");
        client.respond(server_first.as_bytes()).unwrap();
        assert_eq!(
            client.finish(b"").unwrap_err(),
            ClientError::MissingServerFinal
        );

        // Success straight after client-first is just as wrong.
        let mut client = sha1_client_after_first(ClientOptions::default());
        assert_eq!(
            client.finish(b"").unwrap_err(),
            ClientError::MissingServerFinal
        );
    }

    #[test]
    fn server_error_attribute_is_reported_rfc5802_7() {
        let mut client = sha1_client_after_first(ClientOptions::default());
        let server_first = format!("r={SHA1_CLIENT_NONCE}{SHA1_SERVER_NONCE},s={SHA1_SALT},i=4096");
        client.respond(server_first.as_bytes()).unwrap();
        assert_eq!(
            client.finish(b"e=invalid-proof").unwrap_err(),
            ClientError::ServerError {
                value: "invalid-proof".into()
            }
        );
    }

    #[test]
    fn malformed_server_messages_are_refused_rfc5802_7() {
        let nonce = SHA1_CLIENT_NONCE;
        let cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"garbage".to_vec(),
            vec![0xff, 0xfe],
            format!("r={nonce}x").into_bytes(),
            format!("r={nonce}x,s=!!!,i=4096").into_bytes(),
            format!("r={nonce}x,s={SHA1_SALT}").into_bytes(),
            format!("r={nonce}x,s={SHA1_SALT},i=").into_bytes(),
            format!("r={nonce}x,s={SHA1_SALT},i=04096").into_bytes(),
            format!("r={nonce}x,s={SHA1_SALT},i=-1").into_bytes(),
            format!("r={nonce}x,s={SHA1_SALT},i=0").into_bytes(),
            format!("r={nonce}x,i=4096,s={SHA1_SALT}").into_bytes(),
            format!("m=ext,r={nonce}x,s={SHA1_SALT},i=4096").into_bytes(),
            format!("r={nonce}\u{1}x,s={SHA1_SALT},i=4096").into_bytes(),
        ];
        for case in cases {
            let mut client = sha1_client_after_first(ClientOptions::default());
            let error = client.respond(&case).unwrap_err();
            assert_eq!(
                error.code(),
                "malformed-challenge",
                "{:?}: {error}",
                String::from_utf8_lossy(&case)
            );
        }
        for server_final in [&b"x=1"[..], b"v=!!!", &[0xff]] {
            let mut client = sha1_client_after_first(ClientOptions::default());
            let server_first = format!("r={nonce}{SHA1_SERVER_NONCE},s={SHA1_SALT},i=4096");
            client.respond(server_first.as_bytes()).unwrap();
            assert_eq!(
                client.finish(server_final).unwrap_err().code(),
                "malformed-challenge"
            );
        }
    }

    #[test]
    fn unexpected_challenges_are_refused() {
        let mut client = client(Mechanism::ScramSha256, SHA256_CLIENT_NONCE);
        assert_eq!(
            client.respond(b"r=x").unwrap_err(),
            ClientError::UnexpectedChallenge
        );
    }

    #[test]
    fn invalid_client_input_is_refused_before_sending() {
        let mut bad_nonce = client(Mechanism::ScramSha256, "a,b");
        assert_eq!(
            bad_nonce.initial_response().unwrap_err().code(),
            "invalid-input"
        );
        let mut bad_user = client_mechanism(
            Mechanism::ScramSha256,
            credentials("a\u{0}b", "x"),
            ClientOptions::default(),
        );
        assert_eq!(
            bad_user.initial_response().unwrap_err().code(),
            "invalid-input"
        );
    }

    fn server_failure(messages: &[&[u8]]) -> SaslFailure {
        let store = vector_store(SHA1_SALT);
        let mut server = server(Mechanism::ScramSha1, SHA1_SERVER_NONCE);
        let (last, first) = messages.split_last().unwrap();
        for message in first {
            server.step(message, &store).unwrap();
        }
        server.step(last, &store).unwrap_err()
    }

    #[test]
    fn server_refuses_malformed_client_first_rfc5802_7() {
        let cases: [&[u8]; 11] = [
            b"garbage",
            b"n,n=user,r=abc",
            b"x,,n=user,r=abc",
            b"n,b=x,n=user,r=abc",
            b"n,a=x=y,n=user,r=abc",
            b"n,,m=ext,n=user,r=abc",
            b"n,,r=abc,n=user",
            b"n,,n=us=er,r=abc",
            b"n,,n=user",
            b"n,,n=user,r=",
            b"n,,n=\xff,r=abc",
        ];
        for case in cases {
            let failure = server_failure(&[case]);
            assert_eq!(
                failure.condition,
                FailureCondition::MalformedRequest,
                "{case:?}"
            );
        }
    }

    #[test]
    fn server_refuses_channel_binding_request_on_non_plus_mechanism_rfc5802_6() {
        let failure = server_failure(&[b"p=tls-unique,,n=user,r=abc"]);
        assert_eq!(failure.condition, FailureCondition::MalformedRequest);
        assert!(
            failure.detail.contains("not a -PLUS mechanism"),
            "{}",
            failure.detail
        );
    }

    fn bound_round_trip(
        client_data: &[u8],
        server_data: &[u8],
        plus_offered: bool,
        mechanism: Mechanism,
        binding: ChannelBinding,
    ) -> Result<(), SaslFailure> {
        let store = small_store();
        let binding = match binding {
            ChannelBinding::Bound { kind, .. } => ChannelBinding::Bound {
                kind,
                data: client_data.to_vec(),
            },
            other => other,
        };
        let mut client = client_mechanism_with_channel_binding(
            mechanism,
            credentials("juliet", "r0m30myr0m30"),
            ClientOptions {
                min_iterations: 1,
                ..ClientOptions::default()
            },
            binding,
        );
        let mut server = server_mechanism(
            mechanism,
            ServerOptions {
                channel_bindings: ChannelBindings {
                    available: vec![(ChannelBindingType::TlsExporter, server_data.to_vec())],
                    tls_unique_defined: false,
                },
                plus_offered,
                ..ServerOptions::default()
            },
        );
        let first = challenge(server.step(&client.initial_response().unwrap(), &store)?);
        let client_final = client.respond(&first).unwrap();
        let (_, server_final) = success(server.step(&client_final, &store)?);
        client.finish(&server_final).unwrap();
        Ok(())
    }

    fn exporter() -> ChannelBinding {
        ChannelBinding::Bound {
            kind: ChannelBindingType::TlsExporter,
            data: Vec::new(),
        }
    }

    #[test]
    fn plus_round_trip_binds_the_exchange_to_the_channel_rfc5802_6() {
        for mechanism in [
            Mechanism::ScramSha1Plus,
            Mechanism::ScramSha256Plus,
            Mechanism::ScramSha512Plus,
        ] {
            assert_eq!(
                bound_round_trip(
                    b"same channel",
                    b"same channel",
                    true,
                    mechanism,
                    exporter()
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn server_refuses_binding_data_of_another_channel_rfc5802_6() {
        let failure = bound_round_trip(
            b"the client's channel",
            b"the server's channel",
            true,
            Mechanism::ScramSha256Plus,
            exporter(),
        )
        .unwrap_err();
        assert_eq!(failure.condition, FailureCondition::NotAuthorized);
        assert!(
            failure.detail.contains("channel binding"),
            "{}",
            failure.detail
        );
    }

    #[test]
    fn server_that_offered_plus_refuses_the_y_flag_as_a_downgrade_rfc5802_6() {
        let refused = bound_round_trip(
            b"",
            b"data",
            true,
            Mechanism::ScramSha256,
            ChannelBinding::NotOffered,
        )
        .unwrap_err();
        assert_eq!(refused.condition, FailureCondition::NotAuthorized);
        assert!(refused.detail.contains("downgrade"), "{}", refused.detail);
        let accepted = bound_round_trip(
            b"",
            b"data",
            false,
            Mechanism::ScramSha256,
            ChannelBinding::NotOffered,
        );
        assert_eq!(accepted, Ok(()));
    }

    #[test]
    fn plus_mechanism_without_p_flag_and_unknown_binding_types_are_refused() {
        let no_binding = bound_round_trip(
            b"",
            b"data",
            true,
            Mechanism::ScramSha256Plus,
            ChannelBinding::None,
        )
        .unwrap_err();
        assert_eq!(no_binding.condition, FailureCondition::MalformedRequest);
        let unavailable = bound_round_trip(
            b"data",
            b"data",
            true,
            Mechanism::ScramSha256Plus,
            ChannelBinding::Bound {
                kind: ChannelBindingType::TlsServerEndPoint,
                data: Vec::new(),
            },
        )
        .unwrap_err();
        assert_eq!(unavailable.condition, FailureCondition::NotAuthorized);
        assert!(
            unavailable.detail.contains("not available"),
            "{}",
            unavailable.detail
        );
    }

    #[test]
    fn server_asks_for_missing_initial_response_rfc6120_6_4_2() {
        let store = vector_store(SHA1_SALT);
        let mut server = server(Mechanism::ScramSha1, SHA1_SERVER_NONCE);
        assert_eq!(
            server.step(b"", &store).unwrap(),
            ServerStep::Challenge(Vec::new())
        );
        assert_eq!(
            server.step(b"", &store).unwrap_err().condition,
            FailureCondition::MalformedRequest
        );
    }

    #[test]
    fn server_checks_client_final_binding_nonce_and_syntax_rfc5802_5_1() {
        let first: &[u8] = b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL";
        let proof = "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
        let nonce = format!("r={SHA1_CLIENT_NONCE}{SHA1_SERVER_NONCE}");
        let not_authorized = [
            // c= is the base64 of "y,," while the client sent "n,,".
            format!("c=eSws,{nonce},{proof}"),
            format!("c=biws,r={SHA1_CLIENT_NONCE}other,{proof}"),
            format!("c=biws,{nonce},p=AAAA"),
        ];
        for case in not_authorized {
            let failure = server_failure(&[first, case.as_bytes()]);
            assert_eq!(failure.condition, FailureCondition::NotAuthorized, "{case}");
        }
        let malformed = [
            format!("c=biws,{nonce}"),
            format!("c=biws,{nonce},p=!!!"),
            format!("{nonce},c=biws,{proof}"),
            format!("c=!!!,{nonce},{proof}"),
            format!("c=biws,{proof}"),
        ];
        for case in malformed {
            let failure = server_failure(&[first, case.as_bytes()]);
            assert_eq!(
                failure.condition,
                FailureCondition::MalformedRequest,
                "{case}"
            );
        }
        // After success, any further message is refused.
        let failure = server_failure(&[first, SHA1_CLIENT_FINAL.as_bytes(), b"more"]);
        assert_eq!(failure.condition, FailureCondition::MalformedRequest);
    }
}
