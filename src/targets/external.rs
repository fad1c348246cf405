//! External targets: servers somebody else runs (at an interop event, or a project's own CI
//! deployment). The harness only connects, with the account and trust anchor it was given.

use std::net::SocketAddr;

use rustls_pki_types::CertificateDer;

use super::{
    BoxFuture, CaseContext, CaseEnd, Endpoint, Provision, ServerLease, ServerTarget,
    client_certificates_untrusted,
};
use crate::drive::Transcript;
use crate::error::{HarnessError, NotApplicable};
use crate::proto::{Direction, SessionEnd};
use crate::scenario::{CaseSpec, CertificateProfile, KeyType, Transport};

/// An external server as the targets file describes it.
#[derive(Clone, Debug)]
pub struct ExternalSpec {
    /// Host name or IP address.
    pub host: String,
    /// The c2s port with STARTTLS (also used for `plaintext` cases).
    pub starttls_port: u16,
    /// The XEP-0368 direct-TLS c2s port, if it has one.
    pub direct_tls_port: Option<u16>,
    /// The XMPP domain.
    pub domain: String,
    /// The account's local part.
    pub username: String,
    /// The account's password.
    pub password: String,
    /// The root that issued the server's chain.
    pub root: CertificateDer<'static>,
    /// The certificate profile and key the server was configured with (from
    /// `xmpp-interop pki`), when known: cases of other profiles are skipped.
    pub certificate: Option<(CertificateProfile, KeyType)>,
}

impl ExternalSpec {
    /// Why a case of this profile, key and transport cannot run here, if it cannot.
    pub fn inapplicable(
        &self,
        profile: CertificateProfile,
        key: KeyType,
        transport: Transport,
    ) -> Option<String> {
        if let Some((own_profile, own_key)) = self.certificate
            && (own_profile, own_key) != (profile, key)
        {
            return Some(format!(
                "the server presents its {own_profile} {own_key} chain, the case needs {profile} {key}"
            ));
        }
        if transport == Transport::DirectTls && self.direct_tls_port.is_none() {
            return Some("the server has no direct-TLS port".to_owned());
        }
        None
    }

    /// Resolves the address for `transport` and describes how to reach the server.
    pub async fn endpoint(&self, transport: Transport) -> Result<Endpoint, HarnessError> {
        let port = match transport {
            Transport::DirectTls => self
                .direct_tls_port
                .ok_or_else(|| HarnessError::environment("the server has no direct-TLS port"))?,
            Transport::Starttls | Transport::Plaintext => self.starttls_port,
        };
        let address: SocketAddr = tokio::net::lookup_host((self.host.as_str(), port))
            .await
            .map_err(|e| HarnessError::io(format!("cannot resolve {}", self.host), e))?
            .next()
            .ok_or_else(|| HarnessError::environment(format!("{} has no address", self.host)))?;
        Ok(Endpoint {
            address,
            domain: self.domain.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            chain_root: self.root.clone(),
        })
    }
}

impl ServerTarget for ExternalSpec {
    fn provision<'a>(
        &'a self,
        name: &'a str,
        case: &'a CaseSpec,
        context: CaseContext<'a>,
    ) -> BoxFuture<'a, Result<Provision, HarnessError>> {
        Box::pin(async move {
            if case.sasl.client_certificate.is_some() {
                return Ok(Provision::Ended(CaseEnd::NotApplicable(
                    client_certificates_untrusted(name),
                )));
            }
            if let Some(reason) = self.inapplicable(case.certificate, case.key, case.transport) {
                return Ok(Provision::Ended(CaseEnd::NotApplicable(NotApplicable(
                    reason,
                ))));
            }
            let endpoint = self.endpoint(case.transport).await?;
            context.transcript.record(
                Direction::Note,
                format!(
                    "{name} is external at {} ({})",
                    endpoint.address, endpoint.domain
                ),
            );
            Ok(Provision::Ready {
                endpoint,
                lease: Box::new(RunElsewhere),
            })
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// An external server's lease: somebody else runs it, so there is nothing to stop.
struct RunElsewhere;

impl ServerLease for RunElsewhere {
    fn stop<'a>(
        self: Box<Self>,
        _ended: &'a Result<SessionEnd, HarnessError>,
        _transcript: &'a Transcript,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}
