//! Sans-IO XMPP: stream framing, features, STARTTLS, SASL and resource binding, for both sides.
//!
//! Nothing here does IO or knows tokio or rustls. A session is fed the bytes that arrived and
//! told when TLS came up; it answers with [`Action`]s (bytes to send, "start TLS now", "close")
//! and, once the outcome is decided, a [`SessionEnd`]. The same code plays the harness and the
//! built-in targets, on the client side ([`client::ClientSession`]) and on the server side
//! ([`server::ServerSession`]).
//!
//! The crate also owns the protocol vocabulary the sessions speak ([`Mechanism`], [`Step`],
//! [`ChannelBindingType`], [`Transport`], [`SaslProfile`], [`S2sAuth`], [`S2sPolicy`],
//! [`Condition`] and its constants); the harness's scenarios re-export it. Its `Cargo.toml`
//! has no tokio, rustls, PKI or scenario dependency, so the compiler keeps it the lowest layer.
//! The harness (`xmpp-interop`) re-exports this crate as `xmpp_interop::proto`.

pub mod client;
pub mod condition;
pub mod keyword;
pub mod s2s;
pub mod sasl;
pub mod server;
mod session;
pub mod vocabulary;
pub mod xml;

use std::fmt;

pub use condition::{
    Condition, DOWNGRADE_PROTECTION_UNSUPPORTED, NOT_APPLICABLE, SASL2_UNSUPPORTED, TIMEOUT,
};
pub use keyword::Keyword;
pub use vocabulary::{
    ChannelBindingType, Mechanism, S2sAuth, S2sPolicy, SaslProfile, Step, Transport,
};

/// RFC 6120 §5: STARTTLS.
pub const NS_TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
/// RFC 6120 §6: SASL.
pub const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
/// XEP-0440: SASL channel-binding type capability.
pub const NS_SASL_CB: &str = "urn:xmpp:sasl-cb:0";
/// RFC 6120 §7: resource binding.
pub const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
/// XEP-0078: non-SASL authentication (obsolete), which the harness only recognises.
pub const NS_IQ_AUTH: &str = "jabber:iq:auth";
/// RFC 6120 §8.3: stanza error conditions.
pub const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";

/// What the IO layer must do next for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Everything before this has been written: run the TLS handshake now, then call
    /// `tls_established` on the session.
    StartTls,
    /// Close the connection (after everything before this has been written).
    Close,
    /// Server-to-server only: ask the originating domain's authoritative server whether this
    /// dialback key is valid (XEP-0220 §2.1.2), then call `dialback_answer` on the session.
    VerifyDialback(s2s::DialbackRequest),
}

/// Which way a transcript line went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// This side sent it.
    Sent,
    /// This side received it.
    Received,
    /// A remark of this side (a decision, a TLS event).
    Note,
}

/// One transcript line, secrets already redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    /// Which way it went.
    pub direction: Direction,
    /// What it was.
    pub text: String,
}

/// Which side of the session ended it, from the session's own point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// This session.
    Local,
    /// The other end.
    Peer,
}

/// How a session ended, as this side saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The client authenticated and bound a resource.
    Authenticated {
        /// The full JID the server bound.
        jid: String,
    },
    /// A server-to-server stream was authenticated (RFC 6120 §6.4 EXTERNAL, or XEP-0220).
    S2sAuthenticated {
        /// The method that authenticated it: SASL EXTERNAL or dialback.
        method: S2sAuth,
        /// The originating domain that was authenticated.
        domain: String,
    },
    /// A client on an errand ([`client::Errand::AwaitMessage`]) received the chat message it
    /// waited for.
    MessageReceived {
        /// The `from` of the message.
        from: String,
    },
    /// The session ended before authentication completed, or (at [`Step::Message`]) its
    /// errand failed.
    Rejected {
        /// The step at which it ended.
        step: Step,
        /// The condition code.
        condition: String,
        /// Who ended it.
        by: Side,
        /// What exactly was seen.
        detail: String,
    },
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionEnd::Authenticated { jid } => write!(f, "authenticated as {jid}"),
            SessionEnd::S2sAuthenticated { method, domain } => {
                write!(f, "s2s stream from {domain} authenticated via {method}")
            }
            SessionEnd::MessageReceived { from } => {
                write!(f, "received the awaited message from {from}")
            }
            SessionEnd::Rejected {
                step,
                condition,
                by,
                detail,
            } => {
                let who = match by {
                    Side::Local => "this side",
                    Side::Peer => "the peer",
                };
                write!(f, "rejected at {step} by {who} ({condition}): {detail}")
            }
        }
    }
}

/// What a completed TLS handshake gives a session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsChannel {
    /// What the connection offers for SASL channel binding.
    pub bindings: sasl::ChannelBindings,
    /// The client certificate the server side verified, if the client presented one (server
    /// side only; XEP-0178).
    pub client_certificate: Option<sasl::VerifiedClientCertificate>,
}

/// What the IO layer needs from a session, whichever side it plays.
pub trait Session {
    /// Feeds bytes that arrived from the peer.
    fn receive(&mut self, bytes: &[u8]);
    /// The TLS handshake requested by [`Action::StartTls`] succeeded, with what it gave.
    fn tls_established(&mut self, channel: TlsChannel);
    /// The peer closed the TCP connection.
    fn peer_closed(&mut self);
    /// The next thing the IO layer must do.
    fn poll_action(&mut self) -> Option<Action>;
    /// Transcript lines produced since the last call.
    fn take_trace(&mut self) -> Vec<TraceEntry>;
    /// How the session ended, once decided.
    fn end(&self) -> Option<&SessionEnd>;
    /// The protocol step the session is in.
    fn step(&self) -> Step;
    /// Whether the session has nothing more to do.
    fn is_finished(&self) -> bool;
    /// What the session is waiting for, for timeout messages.
    fn waiting_for(&self) -> &'static str;
    /// Whether a session that stays open after authenticating (a client on an errand) is
    /// ready for its work: from then on it waits for as long as its owner lets it.
    fn is_ready(&self) -> bool {
        false
    }
    /// Server-to-server only: the certificate the peer presented in the TLS handshake that
    /// just completed, with the verdict on its chain; called before `tls_established`. Only a
    /// receiving server looks at it; c2s sessions get the client certificate in [`TlsChannel`].
    fn peer_certificate(&mut self, _certificate: Option<s2s::PeerCertificate>) {}
    /// Server-to-server only: the authoritative server's answer to an
    /// [`Action::VerifyDialback`]. Only a session that asks receives it.
    fn dialback_answer(&mut self, _answer: s2s::DialbackAnswer) {}
}
