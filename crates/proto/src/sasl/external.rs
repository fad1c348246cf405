//! EXTERNAL (RFC 4422 Appendix A) with a TLS client certificate, for both sides (XEP-0178,
//! RFC 6120 §6.4.5).
//!
//! The message is the authorization identity, or empty to let the server derive it from the
//! certificate. The TLS layer verifies the certificate; this code only sees the XmppAddrs of a
//! certificate that verified ([`VerifiedClientCertificate`]). The server derives the identity
//! from the certificate's single XmppAddr, which must be a bare JID of an account of this
//! domain; with an authzid, the session checks that the derived account may act as it.

use super::store::CredentialStore;
use super::{
    ClientError, ClientMechanism, Mechanism, SaslFailure, ServerMechanism, ServerStep,
    VerifiedClientCertificate,
};

/// The client side of EXTERNAL.
pub(crate) struct ExternalClient {
    authzid: Option<String>,
}

impl ExternalClient {
    pub(crate) fn new(authzid: Option<String>) -> Self {
        ExternalClient { authzid }
    }
}

impl ClientMechanism for ExternalClient {
    fn mechanism(&self) -> Mechanism {
        Mechanism::External
    }

    fn initial_response(&mut self) -> Result<Vec<u8>, ClientError> {
        Ok(self.authzid.clone().unwrap_or_default().into_bytes())
    }

    fn respond(&mut self, _challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        Err(ClientError::UnexpectedChallenge)
    }

    fn finish(&mut self, _additional_data: &[u8]) -> Result<(), ClientError> {
        Ok(())
    }
}

/// The server side of EXTERNAL.
pub(crate) struct ExternalServer {
    certificate: Option<VerifiedClientCertificate>,
    domain: String,
}

impl ExternalServer {
    pub(crate) fn new(certificate: Option<VerifiedClientCertificate>, domain: String) -> Self {
        ExternalServer {
            certificate,
            domain,
        }
    }

    /// The account the certificate's XmppAddr names, if it is one of ours.
    fn account(&self, store: &CredentialStore) -> Result<String, SaslFailure> {
        let Some(certificate) = &self.certificate else {
            return Err(SaslFailure::not_authorized(
                "no verified client certificate on this connection (XEP-0178 §3)",
            ));
        };
        let jid = match certificate.xmpp_addrs.as_slice() {
            [] => {
                return Err(SaslFailure::not_authorized(
                    "the client certificate names no XmppAddr",
                ));
            }
            [jid] => jid,
            several => {
                return Err(SaslFailure::not_authorized(format!(
                    "the client certificate names {} XmppAddrs and no authzid picks one",
                    several.len()
                )));
            }
        };
        let not_ours = || {
            SaslFailure::not_authorized(format!(
                "the client certificate is for {jid:?}, which is no account of {}",
                self.domain
            ))
        };
        let (local, domain) = jid.split_once('@').ok_or_else(not_ours)?;
        if !domain.eq_ignore_ascii_case(&self.domain) || !store.contains(local) {
            return Err(not_ours());
        }
        Ok(local.to_owned())
    }
}

impl ServerMechanism for ExternalServer {
    fn mechanism(&self) -> Mechanism {
        Mechanism::External
    }

    /// The first message is the whole exchange; an empty one (`=`, or no initial response)
    /// asks for the identity of the certificate.
    fn step(
        &mut self,
        response: &[u8],
        store: &CredentialStore,
    ) -> Result<ServerStep, SaslFailure> {
        let authzid = std::str::from_utf8(response)
            .map_err(|_| SaslFailure::malformed("the EXTERNAL authzid is not UTF-8"))?;
        let authcid = self.account(store)?;
        Ok(ServerStep::Success {
            authcid,
            authzid: (!authzid.is_empty()).then(|| authzid.to_owned()),
            additional_data: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sasl::FailureCondition;

    const DOMAIN: &str = "interop.test";

    fn store() -> CredentialStore {
        let mut store = CredentialStore::new();
        store.add_user("alice", "pencil", 4096);
        store
    }

    fn server(addrs: &[&str]) -> ExternalServer {
        let certificate = VerifiedClientCertificate {
            xmpp_addrs: addrs.iter().map(|a| (*a).to_owned()).collect(),
        };
        ExternalServer::new(Some(certificate), DOMAIN.to_owned())
    }

    #[test]
    fn external_client_sends_the_authzid_or_nothing_xep0178_3() {
        let mut empty = ExternalClient::new(None);
        assert_eq!(empty.initial_response(), Ok(Vec::new()));
        let mut with = ExternalClient::new(Some("alice@interop.test".into()));
        assert_eq!(with.initial_response(), Ok(b"alice@interop.test".to_vec()));
        assert_eq!(with.respond(b"x"), Err(ClientError::UnexpectedChallenge));
    }

    #[test]
    fn external_server_derives_the_account_from_the_xmppaddr_xep0178_3() {
        let step = server(&["alice@interop.test"]).step(b"", &store());
        assert_eq!(
            step,
            Ok(ServerStep::Success {
                authcid: "alice".into(),
                authzid: None,
                additional_data: Vec::new(),
            })
        );
    }

    #[test]
    fn external_server_passes_an_authzid_on_for_authorization_rfc6120_6_4_6() {
        let step = server(&["alice@interop.test"]).step(b"mallory@interop.test", &store());
        assert!(matches!(
            step,
            Ok(ServerStep::Success { authcid, authzid: Some(authzid), .. })
                if authcid == "alice" && authzid == "mallory@interop.test"
        ));
    }

    #[test]
    fn external_server_refuses_a_certificate_for_another_jid_xep0178_3() {
        for addrs in [
            &["mallory@interop.test"][..],
            &["alice@elsewhere.test"],
            &["interop.test"],
            &[],
            &["alice@interop.test", "bob@interop.test"],
        ] {
            let failure = server(addrs).step(b"", &store()).unwrap_err();
            assert_eq!(
                failure.condition,
                FailureCondition::NotAuthorized,
                "{addrs:?}"
            );
        }
    }

    #[test]
    fn external_server_without_a_verified_certificate_refuses_rfc6120_6_4_5() {
        let mut server = ExternalServer::new(None, DOMAIN.to_owned());
        let failure = server.step(b"", &store()).unwrap_err();
        assert_eq!(failure.condition, FailureCondition::NotAuthorized);
        let failure = self::server(&["alice@interop.test"])
            .step(&[0xff], &store())
            .unwrap_err();
        assert_eq!(failure.condition, FailureCondition::MalformedRequest);
    }
}
