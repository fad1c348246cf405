//! Sans-IO server-to-server streams (RFC 6120 §4–§6 with `jabber:server`, XEP-0220 dialback,
//! XEP-0178 EXTERNAL for servers).
//!
//! Four sessions, each a [`Session`](super::Session) driven like the c2s ones:
//! [`originating::OriginatingSession`] opens the stream, secures it and authenticates with
//! EXTERNAL or dialback; [`receiving::ReceivingSession`] decides what to offer from the
//! originating server's certificate and its policy; [`authority::VerifySession`] is the
//! receiving server's connection to the originating domain's authoritative server
//! (`<db:verify/>`), and [`authority::AuthoritySession`] is that authoritative server.

pub mod authority;
pub mod dialback;
pub mod originating;
pub mod receiving;

use std::fmt;
use std::sync::Arc;

use super::xml::StreamHeader;
pub use crate::S2sPolicy;

/// The server content namespace (RFC 6120 §4.8.2).
pub const NS_SERVER: &str = "jabber:server";
/// The dialback namespace, bound to the `db` prefix (XEP-0220 §2).
pub const NS_DIALBACK: &str = "jabber:server:dialback";
/// The dialback stream feature (XEP-0220 §2.1).
pub const NS_DIALBACK_FEATURE: &str = "urn:xmpp:features:dialback";

/// The certificate the other server presented in TLS, as the transport saw it.
#[derive(Debug, Clone)]
pub struct PeerCertificate {
    /// Why the chain does not verify against the trusted root (path, validity, key usage);
    /// `None` when it does.
    pub chain_problem: Option<String>,
    /// Which domains the leaf names as a server; asked later, once the stream's `from` is known.
    pub names: Arc<dyn ServerNames>,
}

/// Which domains a certificate authenticates as a server (RFC 6120 §13.7.1.2): DNS-IDs,
/// `_xmpp-server` SRV-IDs and XmppAddrs. The harness answers it from its certificate checks,
/// so that this crate needs no X.509 code.
pub trait ServerNames: fmt::Debug + Send + Sync {
    /// `Ok` when the certificate names `domain` as a server; `Err` says why not.
    fn authenticate(&self, domain: &str) -> Result<(), String>;
}

/// A dialback key to check with the authoritative server of `originating` (XEP-0220 §2.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialbackRequest {
    /// The receiving server's domain (`from` of `<db:verify/>`).
    pub receiving: String,
    /// The originating domain, whose authoritative server is asked (`to` of `<db:verify/>`).
    pub originating: String,
    /// The stream id the key was generated for.
    pub stream_id: String,
    /// The key the originating server sent.
    pub key: String,
}

/// What the authoritative server said about a dialback key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialbackAnswer {
    /// `type='valid'`.
    Valid,
    /// `type='invalid'`.
    Invalid,
    /// No answer: the condition to report (XEP-0220 §2.4, e.g. `remote-server-not-found`) and
    /// what happened.
    Failed {
        /// A stanza error condition.
        condition: String,
        /// What happened.
        detail: String,
    },
}

/// Whether `certificate` authenticates `domain` for server-to-server: a chain that verified
/// and a name that matches as RFC 6120 §13.7.1.2 says, SRV-IDs only for `_xmpp-server`
/// (an `_xmpp-client` SRV-ID does not count). `Err` says why not.
pub fn certificate_authenticates(
    certificate: Option<&PeerCertificate>,
    domain: &str,
) -> Result<(), String> {
    let Some(certificate) = certificate else {
        return Err("the originating server presented no certificate".to_owned());
    };
    if let Some(problem) = &certificate.chain_problem {
        return Err(format!("its certificate chain does not verify: {problem}"));
    }
    certificate
        .names
        .authenticate(domain)
        .map_err(|why| format!("its certificate does not authenticate {domain}: {why}"))
}

/// A `jabber:server` stream header with the `db` prefix declared (XEP-0220 §2).
pub(crate) fn header_xml(header: &StreamHeader) -> String {
    let xml = header.to_xml();
    let open = xml.strip_suffix('>').unwrap_or(&xml);
    format!("{open} xmlns:db='{NS_DIALBACK}'>")
}

#[cfg(test)]
mod tests;
