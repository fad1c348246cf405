//! PLAIN (RFC 4616) for both sides: `[authzid] NUL authcid NUL passwd`.
//!
//! The server parses strictly (exactly two NULs, non-empty authcid and password, UTF-8) and
//! checks the password against the stored SCRAM-SHA-256 keys. An authzid is passed on with the
//! success, for the caller to authorize (RFC 6120 §6.4.6).

use super::saslprep::saslprep;
use super::store::CredentialStore;
use super::{
    ClientCredentials, ClientError, ClientMechanism, Mechanism, SaslFailure, ServerMechanism,
    ServerStep,
};

/// The client side of PLAIN.
pub(crate) struct PlainClient {
    credentials: ClientCredentials,
}

impl PlainClient {
    pub(crate) fn new(credentials: ClientCredentials) -> Self {
        PlainClient { credentials }
    }
}

/// SASLprep for one field of the client's own message, which must not hold a NUL either.
fn field(value: &str, what: &str) -> Result<String, ClientError> {
    let prepared = saslprep(value).map_err(|e| ClientError::InvalidInput {
        what: format!("the {what} {e}"),
    })?;
    if prepared.contains('\0') {
        return Err(ClientError::InvalidInput {
            what: format!("the {what} contains a NUL"),
        });
    }
    Ok(prepared.into_owned())
}

impl ClientMechanism for PlainClient {
    fn mechanism(&self) -> Mechanism {
        Mechanism::Plain
    }

    fn initial_response(&mut self) -> Result<Vec<u8>, ClientError> {
        let authzid = match &self.credentials.authzid {
            Some(a) => field(a, "authzid")?,
            None => String::new(),
        };
        let username = field(&self.credentials.username, "username")?;
        let password = field(&self.credentials.password, "password")?;
        Ok(format!("{authzid}\0{username}\0{password}").into_bytes())
    }

    fn respond(&mut self, _challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        Err(ClientError::UnexpectedChallenge)
    }

    fn finish(&mut self, _additional_data: &[u8]) -> Result<(), ClientError> {
        Ok(())
    }
}

/// A parsed PLAIN message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PlainMessage<'a> {
    /// The authorization identity; empty when the client sent none.
    pub(crate) authzid: &'a str,
    pub(crate) authcid: &'a str,
    pub(crate) password: &'a str,
}

/// Parses `[authzid] NUL authcid NUL passwd` strictly (RFC 4616 §2).
pub(crate) fn parse(message: &[u8]) -> Result<PlainMessage<'_>, SaslFailure> {
    let message = std::str::from_utf8(message)
        .map_err(|_| SaslFailure::malformed("PLAIN message is not UTF-8"))?;
    let mut parts = message.split('\0');
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        let nuls = message.matches('\0').count();
        return Err(SaslFailure::malformed(format!(
            "PLAIN message has {nuls} NUL separators, not 2"
        )));
    };
    if authcid.is_empty() {
        return Err(SaslFailure::malformed("PLAIN authcid is empty"));
    }
    if password.is_empty() {
        return Err(SaslFailure::malformed("PLAIN password is empty"));
    }
    Ok(PlainMessage {
        authzid,
        authcid,
        password,
    })
}

/// The server side of PLAIN.
pub(crate) struct PlainServer {
    state: ServerState,
}

enum ServerState {
    /// Waiting for the message; `asked` once an empty initial response got an empty challenge.
    Start { asked: bool },
    /// Finished, successfully or not.
    Done,
}

impl PlainServer {
    pub(crate) fn new() -> Self {
        PlainServer {
            state: ServerState::Start { asked: false },
        }
    }
}

impl ServerMechanism for PlainServer {
    fn mechanism(&self) -> Mechanism {
        Mechanism::Plain
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
                let message = parse(response)?;
                let authzid = saslprep(message.authzid)
                    .map_err(|e| SaslFailure::malformed(format!("PLAIN authzid {e}")))?;
                let authcid = saslprep(message.authcid)
                    .map_err(|e| SaslFailure::malformed(format!("PLAIN authcid {e}")))?;
                if store.verify_plain(&authcid, message.password) {
                    Ok(ServerStep::Success {
                        authcid: authcid.into_owned(),
                        authzid: Some(authzid.into_owned()).filter(|a| !a.is_empty()),
                        additional_data: Vec::new(),
                    })
                } else {
                    Err(SaslFailure::not_authorized(format!(
                        "wrong password or unknown user {authcid:?}"
                    )))
                }
            }
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
        ClientOptions, FailureCondition, ServerOptions, client_mechanism, server_mechanism,
    };

    fn store() -> CredentialStore {
        let mut store = CredentialStore::new();
        store.add_user("juliet", "r0m30myr0m30", 16);
        store
    }

    fn credentials(authzid: Option<&str>, username: &str, password: &str) -> ClientCredentials {
        ClientCredentials {
            username: username.into(),
            password: password.into(),
            authzid: authzid.map(Into::into),
        }
    }

    fn step(message: &[u8]) -> Result<ServerStep, SaslFailure> {
        server_mechanism(Mechanism::Plain, ServerOptions::default()).step(message, &store())
    }

    #[test]
    fn client_sends_authzid_nul_authcid_nul_password_rfc4616_2() {
        let mut client = client_mechanism(
            Mechanism::Plain,
            credentials(None, "juliet", "r0m30myr0m30"),
            ClientOptions::default(),
        );
        assert_eq!(
            client.initial_response().unwrap(),
            b"\0juliet\0r0m30myr0m30"
        );
        let mut client = client_mechanism(
            Mechanism::Plain,
            credentials(Some("juliet@example.com"), "juliet", "pw"),
            ClientOptions::default(),
        );
        assert_eq!(
            client.initial_response().unwrap(),
            b"juliet@example.com\0juliet\0pw"
        );
        assert_eq!(
            client.respond(b"").unwrap_err(),
            ClientError::UnexpectedChallenge
        );
        client.finish(b"").unwrap();
    }

    #[test]
    fn client_refuses_nul_in_credentials_rfc4616_2() {
        let mut client = client_mechanism(
            Mechanism::Plain,
            credentials(None, "juliet", "pass\0word"),
            ClientOptions::default(),
        );
        assert_eq!(
            client.initial_response().unwrap_err().code(),
            "invalid-input"
        );
    }

    #[test]
    fn plain_round_trip_authenticates_rfc4616_2() {
        let store = store();
        let mut client = client_mechanism(
            Mechanism::Plain,
            credentials(None, "juliet", "r0m30myr0m30"),
            ClientOptions::default(),
        );
        let mut server = server_mechanism(Mechanism::Plain, ServerOptions::default());
        let step = server
            .step(&client.initial_response().unwrap(), &store)
            .unwrap();
        assert_eq!(
            step,
            ServerStep::Success {
                authcid: "juliet".into(),
                authzid: None,
                additional_data: Vec::new()
            }
        );
        client.finish(b"").unwrap();
    }

    #[test]
    fn plain_wrong_password_and_unknown_user_are_not_authorized_rfc6120_6_5_10() {
        for message in [&b"\0juliet\0wrong"[..], b"\0romeo\0r0m30myr0m30"] {
            assert_eq!(
                step(message).unwrap_err().condition,
                FailureCondition::NotAuthorized
            );
        }
    }

    #[test]
    fn plain_authzid_is_passed_on_for_authorization_rfc6120_6_4_6() {
        let with = step(b"romeo@example.com\0juliet\0r0m30myr0m30").unwrap();
        assert!(matches!(
            with,
            ServerStep::Success { authcid, authzid: Some(authzid), .. }
                if authcid == "juliet" && authzid == "romeo@example.com"
        ));
        let without = step(b"\0juliet\0r0m30myr0m30").unwrap();
        assert!(matches!(without, ServerStep::Success { authzid: None, .. }));
    }

    #[test]
    fn plain_parser_is_strict_rfc4616_2() {
        let malformed: [&[u8]; 8] = [
            b"juliet",
            b"\0juliet",
            b"\0juliet\0pw\0",
            b"\0\0juliet\0pw",
            b"\0\0pw",
            b"\0juliet\0",
            b"\0jul\xffiet\0pw",
            b"\0jul\x07iet\0pw",
        ];
        for message in malformed {
            let failure = step(message).unwrap_err();
            assert_eq!(
                failure.condition,
                FailureCondition::MalformedRequest,
                "{message:?}"
            );
        }
        assert_eq!(
            parse(b"a\0b\0c").unwrap(),
            PlainMessage {
                authzid: "a",
                authcid: "b",
                password: "c"
            }
        );
        assert_eq!(
            parse(b"\0b\0c\0").unwrap_err().detail,
            "PLAIN message has 3 NUL separators, not 2"
        );
    }

    #[test]
    fn plain_server_asks_for_missing_initial_response_rfc6120_6_4_2() {
        let store = store();
        let mut server = server_mechanism(Mechanism::Plain, ServerOptions::default());
        assert_eq!(
            server.step(b"", &store).unwrap(),
            ServerStep::Challenge(Vec::new())
        );
        let step = server.step(b"\0juliet\0r0m30myr0m30", &store).unwrap();
        assert!(matches!(step, ServerStep::Success { .. }));
        let failure = server.step(b"\0juliet\0r0m30myr0m30", &store).unwrap_err();
        assert_eq!(failure.condition, FailureCondition::MalformedRequest);
    }
}
