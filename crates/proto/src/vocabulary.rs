//! The protocol vocabulary: transports, SASL mechanisms and profiles, channel-binding types,
//! protocol steps and server-to-server authentication. The sessions speak it, scenarios name
//! it (`xmpp_interop::scenario` re-exports it), and each value is spelled by its `serde` name.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::keyword::Keyword;

/// How the connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// Plain TCP upgraded with `<starttls/>` (RFC 6120 §5).
    Starttls,
    /// TLS from the first byte (XEP-0368).
    DirectTls,
    /// No TLS at all.
    Plaintext,
}

/// A SASL mechanism the harness can speak on both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
pub enum Mechanism {
    /// RFC 4616.
    #[serde(rename = "PLAIN")]
    Plain,
    /// RFC 5802.
    #[serde(rename = "SCRAM-SHA-1")]
    ScramSha1,
    /// RFC 7677.
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    /// RFC 5802 with SHA-512 (IANA-registered, draft-melnikov-scram-sha-512).
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
    /// SCRAM-SHA-1 with channel binding (RFC 5802 §6).
    #[serde(rename = "SCRAM-SHA-1-PLUS")]
    ScramSha1Plus,
    /// SCRAM-SHA-256 with channel binding (RFC 7677).
    #[serde(rename = "SCRAM-SHA-256-PLUS")]
    ScramSha256Plus,
    /// SCRAM-SHA-512 with channel binding.
    #[serde(rename = "SCRAM-SHA-512-PLUS")]
    ScramSha512Plus,
    /// RFC 4422 Appendix A with a TLS client certificate (XEP-0178, RFC 6120 §6.4.5).
    #[serde(rename = "EXTERNAL")]
    External,
}

impl Mechanism {
    /// Every mechanism, in the order a client prefers them (strongest first).
    pub const ALL: [Mechanism; 8] = [
        Mechanism::External,
        Mechanism::ScramSha512Plus,
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha512,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
        Mechanism::Plain,
    ];

    /// The IANA-registered name, as it appears in `<mechanism/>`.
    pub fn name(self) -> &'static str {
        self.keyword()
    }

    /// Whether this is a `-PLUS` mechanism, which binds the exchange to the TLS channel.
    pub fn is_plus(self) -> bool {
        matches!(
            self,
            Mechanism::ScramSha1Plus | Mechanism::ScramSha256Plus | Mechanism::ScramSha512Plus
        )
    }

    /// The `-PLUS` counterpart of a SCRAM mechanism without channel binding.
    pub fn with_channel_binding(self) -> Option<Mechanism> {
        match self {
            Mechanism::ScramSha1 => Some(Mechanism::ScramSha1Plus),
            Mechanism::ScramSha256 => Some(Mechanism::ScramSha256Plus),
            Mechanism::ScramSha512 => Some(Mechanism::ScramSha512Plus),
            _ => None,
        }
    }

    /// The mechanism without channel binding of a `-PLUS` mechanism.
    pub fn without_channel_binding(self) -> Option<Mechanism> {
        match self {
            Mechanism::ScramSha1Plus => Some(Mechanism::ScramSha1),
            Mechanism::ScramSha256Plus => Some(Mechanism::ScramSha256),
            Mechanism::ScramSha512Plus => Some(Mechanism::ScramSha512),
            _ => None,
        }
    }

    /// Whether this is one of the SCRAM family (RFC 5802), with or without `-PLUS`.
    pub fn is_scram(self) -> bool {
        !matches!(self, Mechanism::Plain | Mechanism::External)
    }

    /// The mechanism with this IANA name, if the harness knows it.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A channel binding type (RFC 5056 §7, IANA "Channel-Binding Types").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelBindingType {
    /// RFC 9266: an exporter value of the TLS 1.3 connection.
    TlsExporter,
    /// RFC 5929 §4: the hash of the server's certificate.
    TlsServerEndPoint,
    /// RFC 5929 §3: the first TLS Finished message; cannot be had from rustls.
    TlsUnique,
}

impl ChannelBindingType {
    /// Every type, in the order a client prefers them.
    pub const ALL: [ChannelBindingType; 3] = [
        ChannelBindingType::TlsExporter,
        ChannelBindingType::TlsServerEndPoint,
        ChannelBindingType::TlsUnique,
    ];

    /// The registered name, as in `p=` and XEP-0440's `type` attribute.
    pub fn name(self) -> &'static str {
        self.keyword()
    }

    /// The type with this registered name.
    pub fn from_name(name: &str) -> Option<ChannelBindingType> {
        ChannelBindingType::ALL
            .into_iter()
            .find(|t| t.name() == name)
    }
}

impl fmt::Display for ChannelBindingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The SASL profile: how SASL is framed on the XMPP stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SaslProfile {
    /// RFC 6120 §6: `<auth/>` in `urn:ietf:params:xml:ns:xmpp-sasl`, a stream restart after
    /// `<success/>`.
    #[default]
    Sasl1,
    /// XEP-0388: `<authenticate/>` in `urn:xmpp:sasl:2`, no stream restart.
    Sasl2,
}

/// What a receiving server demands before it accepts a stream (like Prosody's
/// `s2s_secure_auth`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum S2sPolicy {
    /// EXTERNAL when the certificate is good for the claimed domain, dialback otherwise (the
    /// built-in server's default).
    #[default]
    AllowDialback,
    /// Only EXTERNAL: a peer without a good certificate is refused with `policy-violation`.
    RequireCertificate,
}

/// A protocol step: where a verdict was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// TCP connection set-up.
    Connect,
    /// Stream header exchange (RFC 6120 §4.2).
    Stream,
    /// Stream features (RFC 6120 §4.3).
    Features,
    /// The `<starttls/>` negotiation (RFC 6120 §5.4.2).
    Starttls,
    /// The TLS handshake, certificate validation included (RFC 6120 §5.4.3, §13.7).
    Tls,
    /// SASL negotiation (RFC 6120 §6).
    Sasl,
    /// Resource binding (RFC 6120 §7).
    Bind,
    /// Server dialback (XEP-0220): `<db:result/>` and the `<db:verify/>` it causes.
    Dialback,
    /// Sending or receiving a stanza after binding (server-to-server reachability).
    Message,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// How a server-to-server stream is authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum S2sAuth {
    /// SASL EXTERNAL with the originating server's certificate (RFC 6120 §6.4, XEP-0178).
    External,
    /// Server dialback (XEP-0220), verified with the originating domain's authoritative server.
    Dialback,
}

impl fmt::Display for S2sAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            S2sAuth::External => "EXTERNAL",
            S2sAuth::Dialback => "dialback",
        })
    }
}

impl Keyword for Transport {
    const ALL: &'static [Self] = &[
        Transport::Starttls,
        Transport::DirectTls,
        Transport::Plaintext,
    ];
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

impl Keyword for Mechanism {
    const ALL: &'static [Self] = &[
        Mechanism::Plain,
        Mechanism::ScramSha1,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha512Plus,
        Mechanism::External,
    ];
}

impl Keyword for ChannelBindingType {
    const ALL: &'static [Self] = &ChannelBindingType::ALL;
}

impl Keyword for SaslProfile {
    const ALL: &'static [Self] = &[SaslProfile::Sasl1, SaslProfile::Sasl2];
}

impl fmt::Display for SaslProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

impl Keyword for S2sPolicy {
    const ALL: &'static [Self] = &[S2sPolicy::AllowDialback, S2sPolicy::RequireCertificate];
}

impl Keyword for Step {
    const ALL: &'static [Self] = &[
        Step::Connect,
        Step::Stream,
        Step::Features,
        Step::Starttls,
        Step::Tls,
        Step::Sasl,
        Step::Bind,
        Step::Dialback,
        Step::Message,
    ];
}

impl Keyword for S2sAuth {
    const ALL: &'static [Self] = &[S2sAuth::External, S2sAuth::Dialback];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyword::assert_keywords_match_serde;

    #[test]
    fn keywords_match_the_serde_spellings_of_every_value() {
        assert_keywords_match_serde::<Transport>();
        assert_keywords_match_serde::<Mechanism>();
        assert_keywords_match_serde::<ChannelBindingType>();
        assert_keywords_match_serde::<SaslProfile>();
        assert_keywords_match_serde::<S2sPolicy>();
        assert_keywords_match_serde::<Step>();
        assert_keywords_match_serde::<S2sAuth>();
    }

    #[test]
    fn mechanisms_and_binding_types_are_named_as_iana_registers_them() {
        let names: Vec<&str> = Mechanism::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(
            names,
            [
                "EXTERNAL",
                "SCRAM-SHA-512-PLUS",
                "SCRAM-SHA-256-PLUS",
                "SCRAM-SHA-1-PLUS",
                "SCRAM-SHA-512",
                "SCRAM-SHA-256",
                "SCRAM-SHA-1",
                "PLAIN"
            ]
        );
        assert_eq!(
            Mechanism::from_name("SCRAM-SHA-1-PLUS"),
            Some(Mechanism::ScramSha1Plus)
        );
        assert_eq!(
            ChannelBindingType::TlsServerEndPoint.name(),
            "tls-server-end-point"
        );
        assert_eq!(Step::Starttls.to_string(), "starttls");
        assert_eq!(S2sAuth::External.to_string(), "EXTERNAL");
    }
}
