//! The scenario vocabulary: what the harness does in a case and what it must observe.
//!
//! These types are shared by every layer above: `pki` reads the certificate profile, `drive`
//! reads the role, transport, mechanism and misbehaviour, and `runner` compares the
//! [`Observation`] a case produced with its [`Expectation`]. The protocol vocabulary (transport,
//! mechanism, channel-binding type, SASL profile, step, s2s authentication and policy, and the
//! harness's condition names) belongs to `proto` and is re-exported here, so scenarios name
//! exactly what the sessions speak.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::requirement::{Condition, Feature, Requirement, features_needed};
pub use crate::proto::{
    ChannelBindingType, DOWNGRADE_PROTECTION_UNSUPPORTED, Mechanism, NOT_APPLICABLE, S2sAuth,
    S2sPolicy, SASL2_UNSUPPORTED, SaslProfile, Step, TIMEOUT, Transport,
};

/// Which side the harness plays. The target plays the other one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The harness is the client; the target is a server.
    Client,
    /// The harness is the server; the target is a client.
    Server,
}

/// A certificate profile from the test PKI catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateProfile {
    /// A self-signed leaf: the certificate is its own root.
    SelfSigned,
    /// Root, class-3-style intermediate and leaf, as CAcert issued them.
    CacertIntermediate,
    /// Root, "Class 1 Primary Intermediate Server CA"-style intermediate and leaf, as StartCom
    /// issued them; the presenting side sends leaf and intermediate.
    StartcomChain,
    /// A leaf whose only DNS-ID is the wildcard `*.domain`: it covers every name one label below
    /// the domain, and not the domain itself (RFC 6125 §6.4.3).
    Wildcard,
    /// A leaf whose only identities are id-on-dnsSRV otherNames (RFC 4985) for
    /// `_xmpp-client.domain` and `_xmpp-server.domain` (RFC 6120 §13.7.1.2.1).
    SrvId,
    /// A leaf whose only identity is an id-on-dnsSRV otherName for `_xmpp-server.domain`: valid
    /// for server-to-server, not for a client connecting to the domain.
    SrvIdServerOnly,
    /// A leaf whose only identity is an id-on-dnsSRV otherName for `_xmpp-client.domain`: valid
    /// for a client connecting to the domain, not for server-to-server (RFC 6120 §13.7.1.2.1).
    SrvIdClientOnly,
    /// A leaf whose only identity is an id-on-xmppAddr otherName for the domain
    /// (RFC 6120 §13.7.1.4).
    Xmppaddr,
    /// A leaf with the domain in the subject CN and no subjectAltName at all (RFC 6125 §6.4.4).
    CnOnly,
    /// A leaf whose validity ended a month ago (RFC 5280 §4.1.2.5).
    Expired,
    /// A leaf whose validity starts in a month (RFC 5280 §4.1.2.5).
    NotYetValid,
    /// A leaf for another domain (`not-` plus the domain) in CN and DNS-ID.
    WrongDomain,
    /// Root, intermediate and leaf, but the presenting side sends only the leaf.
    MissingIntermediate,
    /// A chain from a root the verifying side does not trust; the presenting side sends that
    /// root along with the chain.
    UntrustedRoot,
    /// Root, issuer and leaf, where the issuer says basicConstraints CA:FALSE
    /// (RFC 5280 §4.2.1.9).
    IntermediateNotCa,
    /// Root, intermediate with pathLenConstraint 0, a second intermediate below it, and leaf
    /// (RFC 5280 §4.2.1.9, §6.1.4 (l)).
    PathlenExceeded,
    /// A leaf whose extendedKeyUsage allows only clientAuth (RFC 5280 §4.2.1.12).
    WrongEku,
    /// A leaf with a 1024-bit RSA key, issued by a CA of the chain's key type.
    #[serde(rename = "weak-rsa-1024")]
    WeakRsa1024,
    /// A client certificate for SASL EXTERNAL (XEP-0178): `alice@domain` as id-on-xmppAddr,
    /// clientAuth only.
    ClientAlice,
    /// Like `client-alice`, but for the JID `mallory@domain`.
    ClientWrongJid,
    /// Like `client-alice`, but expired a month ago.
    ClientExpired,
    /// Like `client-alice`, but issued by a root the verifying side does not trust.
    ClientUntrusted,
}

impl CertificateProfile {
    /// The chain the harness provisions for a scenario with `certificate: any`.
    pub const DEFAULT_CHAIN: CertificateProfile = CertificateProfile::StartcomChain;

    /// Whether this is one of the good chains (self-signed, or issued from a root and sent
    /// with its intermediate) that differ only in shape and names, not in a fault.
    pub fn is_good_chain(self) -> bool {
        matches!(
            self,
            CertificateProfile::SelfSigned
                | CertificateProfile::CacertIntermediate
                | CertificateProfile::StartcomChain
        )
    }
}

/// The key algorithm of every certificate in a profile's chain.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// ECDSA on P-256 with SHA-256.
    #[default]
    EcdsaP256,
    /// RSA with a 2048-bit modulus, PKCS#1 v1.5 with SHA-256.
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    /// RSA with a 4096-bit modulus, PKCS#1 v1.5 with SHA-256.
    #[serde(rename = "rsa-4096")]
    Rsa4096,
    /// Ed25519 (RFC 8410).
    #[serde(rename = "ed25519")]
    Ed25519,
}

/// A kind of identity the verifying side accepts in a peer's certificate (RFC 6125 §6,
/// RFC 6120 §13.7.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityType {
    /// A dNSName subjectAltName (RFC 6125 §6.4).
    DnsId,
    /// An id-on-dnsSRV otherName for the service being used (RFC 6125 §6.5.1, RFC 4985).
    SrvId,
    /// An id-on-xmppAddr otherName (RFC 6120 §13.7.1.4).
    Xmppaddr,
    /// The subject common name, only when the certificate has no subjectAltName at all
    /// (RFC 6125 §6.4.4).
    Cn,
}

impl IdentityType {
    /// What a verifier accepts when the scenario does not say: RFC 6125's identifier types plus
    /// XMPP's XmppAddr, without the deprecated CN fallback.
    pub const DEFAULT: [IdentityType; 3] = [
        IdentityType::DnsId,
        IdentityType::SrvId,
        IdentityType::Xmppaddr,
    ];
}

/// Which TLS implementation carries the harness's side of a case (and the built-in
/// target's): rustls unless the case needs what only OpenSSL can do, such as `tls-unique`
/// (RFC 5929 §3, which needs the first Finished message). Certificates, trust and the XMPP
/// identity rules are the harness's own on either stack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsStack {
    /// rustls, the default.
    #[default]
    Rustls,
    /// The system's libssl through the `openssl` crate.
    Openssl,
}

/// A TLS protocol version a case allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
pub enum TlsVersion {
    /// TLS 1.0 (RFC 2246), which RFC 8996 §4 forbids: only for cases that check a peer refuses it.
    #[serde(rename = "TLS1.0")]
    Tls10,
    /// TLS 1.1 (RFC 4346), which RFC 8996 §5 forbids: only for cases that check a peer refuses it.
    #[serde(rename = "TLS1.1")]
    Tls11,
    /// TLS 1.2 (RFC 5246).
    #[serde(rename = "TLS1.2")]
    Tls12,
    /// TLS 1.3 (RFC 8446).
    #[serde(rename = "TLS1.3")]
    Tls13,
}

impl TlsVersion {
    /// Whether RFC 8996 forbids the version (TLS 1.0 and 1.1).
    pub fn is_deprecated(self) -> bool {
        self < TlsVersion::Tls12
    }
}

/// A class of TLS 1.2 cipher suites RFC 9325 §4.1 says not to negotiate, which a case can make
/// the OpenSSL side offer or accept alone (`tls.ciphers`), to see whether the peer refuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CipherClass {
    /// NULL encryption (MUST NOT).
    NullEncryption,
    /// RC4 (MUST NOT).
    Rc4,
    /// Under 112 bits of security: single DES and the export suites (MUST NOT).
    #[serde(rename = "below-112-bits")]
    Below112Bits,
    /// Triple DES, 112 effective bits, under 128 (SHOULD NOT).
    #[serde(rename = "3des")]
    TripleDes,
    /// RSA key transport, "static RSA" (SHOULD NOT).
    StaticRsa,
    /// Non-ephemeral finite-field or elliptic-curve Diffie-Hellman (SHOULD NOT).
    StaticDh,
}

impl CipherClass {
    /// The OpenSSL cipher list (TLS 1.2 and below) of the class: only its suites, none of
    /// another class (static RSA without its NULL suites, NULL without the anonymous ones).
    pub fn openssl_list(self) -> &'static str {
        match self {
            CipherClass::NullEncryption => "eNULL:!aNULL",
            CipherClass::Rc4 => "RC4:!aNULL",
            CipherClass::Below112Bits => "DES:EXP:LOW:!3DES:!aNULL",
            CipherClass::TripleDes => "3DES:!aNULL",
            CipherClass::StaticRsa => "kRSA:!eNULL:!RC4:!DES:!3DES:!EXP:!LOW",
            CipherClass::StaticDh => "kDHr:kDHd:kECDHr:kECDHe:!eNULL:!aNULL",
        }
    }
}

/// The `tls:` settings of a case: which stack, which versions it may negotiate (empty:
/// the stack's defaults, TLS 1.2 and 1.3), and on OpenSSL which forbidden TLS 1.2 suites
/// alone it offers or accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsProfile {
    /// The stack.
    #[serde(default)]
    pub stack: TlsStack,
    /// The versions allowed, or empty for the stack's defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<TlsVersion>,
    /// The only TLS 1.2 suites this side offers or accepts (OpenSSL, TLS 1.2 alone), or `None`
    /// for the stack's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphers: Option<CipherClass>,
}

impl TlsProfile {
    /// Whether this is what a scenario without `tls:` gets (rustls, its default versions).
    pub fn is_default(&self) -> bool {
        *self == TlsProfile::default()
    }

    /// Whether the profile allows `version` (without a list: TLS 1.2 and 1.3).
    pub fn allows(&self, version: TlsVersion) -> bool {
        if self.versions.is_empty() {
            !version.is_deprecated()
        } else {
            self.versions.contains(&version)
        }
    }

    /// Whether the profile allows a version RFC 8996 forbids.
    pub fn allows_deprecated(&self) -> bool {
        self.versions.iter().any(|v| v.is_deprecated())
    }

    /// Whether this side offers or accepts only what RFC 8996 or RFC 9325 §4.1 says not to
    /// negotiate (a deprecated version or a forbidden class of suites), which the OpenSSL side
    /// does at security level 0, and which the built-in target, a conforming peer, refuses.
    pub fn offers_forbidden(&self) -> bool {
        self.allows_deprecated() || self.ciphers.is_some()
    }
}

impl fmt::Display for TlsProfile {
    /// `openssl`, or `openssl TLS1.2` when the versions are restricted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.stack)?;
        for version in &self.versions {
            write!(f, " {version}")?;
        }
        if let Some(ciphers) = self.ciphers {
            write!(f, " ciphers:{ciphers}")?;
        }
        Ok(())
    }
}

/// Which root the verifying side trusts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trust {
    /// The root that issued the presented chain (for `self-signed`, the certificate itself).
    #[default]
    ChainRoot,
    /// Only a root that has nothing to do with the presented chain: verification must fail.
    UnrelatedRoot,
}

/// Which credentials the client side presents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Credentials {
    /// The account's real username and password.
    #[default]
    Valid,
    /// The account's username with a wrong password.
    WrongPassword,
    /// A username the server does not know.
    UnknownUser,
}

/// The SASL part of a scenario.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Sasl {
    /// The mechanism the client side uses (and the server side must offer).
    pub mechanism: Mechanism,
    /// Which credentials the client side presents.
    #[serde(default)]
    pub credentials: Credentials,
    /// The channel binding type a `-PLUS` mechanism uses; `None` lets the client choose from
    /// what the server advertises (XEP-0440).
    #[serde(default, rename = "channel-binding")]
    pub channel_binding: Option<ChannelBindingType>,
    /// The client certificate (a `client-*` profile) the client side presents in TLS, for
    /// `EXTERNAL` (XEP-0178); `None` presents none.
    #[serde(default, rename = "client-certificate")]
    pub client_certificate: Option<CertificateProfile>,
    /// Weaker mechanisms the harness as server offers beside `mechanism` (RFC 6120 §6.3.3:
    /// the client chooses). When set, `mechanism` is the one a conforming client must pick,
    /// and a client that picks one of these instead is refused with `chose-weaker-mechanism`.
    #[serde(
        default,
        rename = "also-offered",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub also_offered: Vec<Mechanism>,
    /// Which SASL profile the exchange runs over: RFC 6120 §6 (`sasl1`, the default) or the
    /// Extensible SASL Profile of XEP-0388 (`sasl2`).
    #[serde(default)]
    pub profile: SaslProfile,
    /// Whether the case is about SCRAM downgrade protection (XEP-0474): the harness as server
    /// then puts the hash of what it advertised into the server-first message; the harness as
    /// client then needs the server to send it (a server without it is `skip`).
    #[serde(default, rename = "downgrade-protection")]
    pub downgrade_protection: bool,
}

/// Which way a server-to-server case's stream goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum S2sDirection {
    /// `role: originating`: the harness originates a stream to the target's s2s port.
    Originating,
    /// `role: receiving`: the target originates a stream to the harness.
    Receiving,
}

impl fmt::Display for S2sDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            S2sDirection::Originating => "originating",
            S2sDirection::Receiving => "receiving",
        })
    }
}

/// The dialback key the harness as originating server sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DialbackKey {
    /// The XEP-0185 key of the stream.
    #[default]
    Valid,
    /// Another key: a conforming receiving server answers `<db:result type='invalid'/>`.
    Forged,
}

/// How the harness's authoritative server answers `<db:verify/>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthorityAnswer {
    /// `valid` exactly when the key is the XEP-0185 key.
    #[default]
    Honest,
    /// `invalid` whatever the key.
    SaysInvalid,
    /// Nothing listens for the harness's domain: the receiving server cannot ask, and must
    /// answer `<db:result type='error'/>` with a stanza error (XEP-0220 §2.4).
    Unreachable,
}

/// The server-to-server part of a case (`role: originating` or `role: receiving`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct S2sCase {
    /// Which way the stream goes.
    pub direction: S2sDirection,
    /// The certificate the originating server presents for its own domain as TLS client
    /// certificate; `None` presents none.
    pub originating_certificate: Option<CertificateProfile>,
    /// Which root the receiving server trusts for that certificate.
    pub originating_trust: Trust,
    /// The receiving server's policy.
    pub policy: S2sPolicy,
    /// The key the harness sends (harness originating only).
    pub dialback_key: DialbackKey,
    /// How the harness's authoritative server answers (harness originating only).
    pub authority: AuthorityAnswer,
}

/// A deliberate protocol violation the harness injects (never the target).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Misbehaviour {
    /// Harness as server: the SCRAM server-final message carries a wrong server signature
    /// (RFC 5802 §5.1 `v=`); a conforming client must abort.
    ScramWrongServerSignature,
    /// Harness as server: no `<starttls/>` is offered and PLAIN is offered in the clear; a
    /// conforming client must not send credentials (RFC 6120 §5.3.1, §13.8).
    StripStarttls,
    /// Harness as server: the SCRAM server-first nonce does not start with the client's nonce
    /// (RFC 5802 §5.1); a conforming client must abort.
    ScramAlteredNonce,
    /// Harness as server: SCRAM announces 1024 iterations, below the 4096 of RFC 7677 §4; a
    /// careful client refuses.
    ScramLowIterationCount,
    /// Harness as server: SCRAM announces 10^9 iterations; a client must refuse rather than
    /// spin for minutes.
    ScramExcessiveIterationCount,
    /// Harness as server: the first SASL challenge is not valid base64 (RFC 6120 §6.4.2); a
    /// conforming client aborts the exchange.
    SaslMalformedBase64,
    /// Harness as server: `<success/>` carries no SCRAM server-final message, so the server
    /// never proves it knows the password (RFC 5802 §5.1, RFC 6120 §6.4.6).
    ScramSuccessWithoutFinal,
    /// Harness as client: the SCRAM client proof is wrong; a conforming server answers
    /// `<not-authorized/>` (RFC 5802 §5.1, RFC 6120 §6.5.10).
    ScramWrongProof,
    /// Harness as client: the authorization identity names another user; a conforming server
    /// answers `<invalid-authzid/>` (RFC 6120 §6.4.6, §6.5.6).
    AuthzidOtherUser,
    /// Harness as client with a `-PLUS` mechanism: the channel binding data belong to another
    /// connection, as a man in the middle would send them; a conforming server refuses
    /// (RFC 5802 §6).
    ScramForeignChannelBinding,
    /// Harness as client with a non-PLUS SCRAM mechanism: the GS2 flag says "y" (the server
    /// offers no channel binding) although it offered `-PLUS`; a conforming server detects the
    /// downgrade and refuses (RFC 5802 §6).
    ScramDowngradeFlag,
    /// Harness as server with SASL2: `<success/>` names another account in
    /// `<authorization-identifier/>` (XEP-0388 §2.6.1); a conforming client ends the session.
    Sasl2WrongAuthorizationIdentifier,
    /// Harness as client with SCRAM: the first exchange is aborted after server-first, and the
    /// retry sends the same client-first and then replays the client-final computed for the
    /// first exchange, as an attacker who captured it would; a conforming server chose a fresh
    /// nonce and refuses the proof with `<not-authorized/>` (RFC 5802 §5.1, §9).
    ScramReplayedClientFinal,
    /// Harness as client with a `-PLUS` mechanism: the GS2 header claims `p=tls-unique`, which
    /// TLS 1.3 does not define (RFC 9266 §3, RFC 8446 §C.5), with this connection's
    /// tls-exporter data; a conforming server fails the exchange.
    ScramUndefinedBindingType,
    /// Harness as server with downgrade protection: the stream features leave out the `-PLUS`
    /// counterparts of the offered SCRAM mechanisms while the XEP-0474 hash in the server-first
    /// message still covers them, as after a man in the middle stripped them; a conforming
    /// client detects the mismatch and aborts.
    Xep0474StrippedPlus,
    /// Harness as server with a `-PLUS` mechanism: it also offers the mechanism without
    /// `-PLUS` and checks the client's channel binding against data of another TLS connection,
    /// as the real server behind a man in the middle would; the client's binding fails with
    /// `<not-authorized/>`, and a conforming client does not then retry without channel binding
    /// and with GS2 flag `n` (a downgrade nobody can notice, RFC 5802 §6).
    ScramPlusMismatchedBinding,
}

impl Misbehaviour {
    /// The role the harness must play to inject this misbehaviour.
    pub fn role(self) -> Role {
        match self {
            Misbehaviour::ScramWrongServerSignature
            | Misbehaviour::StripStarttls
            | Misbehaviour::ScramAlteredNonce
            | Misbehaviour::ScramLowIterationCount
            | Misbehaviour::ScramExcessiveIterationCount
            | Misbehaviour::SaslMalformedBase64
            | Misbehaviour::ScramSuccessWithoutFinal
            | Misbehaviour::Sasl2WrongAuthorizationIdentifier
            | Misbehaviour::Xep0474StrippedPlus
            | Misbehaviour::ScramPlusMismatchedBinding => Role::Server,
            Misbehaviour::ScramWrongProof
            | Misbehaviour::AuthzidOtherUser
            | Misbehaviour::ScramForeignChannelBinding
            | Misbehaviour::ScramDowngradeFlag
            | Misbehaviour::ScramReplayedClientFinal
            | Misbehaviour::ScramUndefinedBindingType => Role::Client,
        }
    }
}

/// Who ended a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Party {
    /// The harness, as client or server.
    Harness,
    /// The implementation under test.
    Target,
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Party::Harness => "harness",
            Party::Target => "target",
        })
    }
}

/// How a session must end for the target to pass.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Expectation {
    /// The client authenticated and bound a resource.
    Authenticated,
    /// A server-to-server stream was authenticated with this method.
    S2sAuthenticated(S2sAuth),
    /// A server-to-server stream was not authenticated with this method (`any`: not at all);
    /// any refusal conforms, a stalled one too (no stanza is accepted either way).
    S2sNotAuthenticated(S2sAuthOrAny),
    /// The session ended before authentication completed.
    Rejected(Rejection),
}

/// An s2s authentication method, or every one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum S2sAuthOrAny {
    /// SASL EXTERNAL.
    External,
    /// Server dialback.
    Dialback,
    /// Whichever of the two the servers agree on.
    Any,
}

impl S2sAuthOrAny {
    /// Whether `method` is (one of) this.
    pub fn covers(self, method: S2sAuth) -> bool {
        match self {
            S2sAuthOrAny::External => method == S2sAuth::External,
            S2sAuthOrAny::Dialback => method == S2sAuth::Dialback,
            S2sAuthOrAny::Any => true,
        }
    }
}

/// A SHOULD on top of a case's MUST: a target that meets `expect:` but not this gets `warn`
/// (for example: refusing a bad certificate is a MUST, the TLS alert that says why a SHOULD).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Recommendation {
    /// How the session should end.
    pub expect: Expectation,
    /// The recommendation's clause (level SHOULD or SHOULD NOT).
    pub requirement: super::requirement::Requirement,
}

/// Where and why a session must end (fields left out match anything).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// The step at which the session ends. Left out when the specifications let a conforming
    /// peer refuse at more than one step (a stream error at the features, or a SASL or
    /// dialback failure later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
    /// The conditions a conforming refusal may carry (one, or a list when the clause allows
    /// several): RFC 6120 stream-error or SASL-failure conditions such as `not-authorized`, or
    /// the harness's own such as `bad-certificate`. Empty matches any condition but a timeout.
    #[serde(
        default,
        deserialize_with = "one_or_many",
        serialize_with = "one_or_many_out",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub condition: Vec<Condition>,
    /// Who ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Party>,
}

/// `condition: x` or `condition: [x, y]`; an unknown name is an error that lists the known ones.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Condition>, D::Error> {
    /// Visits a condition name or a list of them.
    struct Conditions;

    impl<'de> serde::de::Visitor<'de> for Conditions {
        type Value = Vec<Condition>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a condition name or a list of condition names")
        }

        fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Vec<Condition>, E> {
            match Condition::from_name(name) {
                Some(condition) => Ok(vec![condition]),
                None => Err(E::custom(format!(
                    "unknown condition `{name}`; expected one of {}",
                    Condition::ALL
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<Condition>, A::Error> {
            let mut conditions = Vec::new();
            while let Some(condition) = seq.next_element::<Condition>()? {
                conditions.push(condition);
            }
            Ok(conditions)
        }
    }

    deserializer.deserialize_any(Conditions)
}

/// Writes one condition as a scalar, several as a list.
fn one_or_many_out<S: Serializer>(
    conditions: &[Condition],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match conditions {
        [one] => one.serialize(serializer),
        many => many.serialize(serializer),
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expectation::Authenticated => f.write_str("authenticated"),
            Expectation::S2sAuthenticated(method) => write!(f, "s2s authenticated via {method}"),
            Expectation::S2sNotAuthenticated(S2sAuthOrAny::Any) => {
                f.write_str("s2s stream not authenticated")
            }
            Expectation::S2sNotAuthenticated(S2sAuthOrAny::External) => {
                f.write_str("s2s stream not authenticated via EXTERNAL")
            }
            Expectation::S2sNotAuthenticated(S2sAuthOrAny::Dialback) => {
                f.write_str("s2s stream not authenticated via dialback")
            }
            Expectation::Rejected(r) => {
                f.write_str("rejected")?;
                if let Some(step) = r.step {
                    write!(f, " at {step}")?;
                }
                if let Some(by) = r.by {
                    write!(f, " by {by}")?;
                }
                if !r.condition.is_empty() {
                    let names: Vec<&str> = r.condition.iter().map(|c| c.name()).collect();
                    write!(f, " ({})", names.join(" or "))?;
                }
                Ok(())
            }
        }
    }
}

/// What actually happened in a case, as the harness saw it on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Observation {
    /// The client authenticated and bound a resource.
    Authenticated {
        /// The full JID the server bound.
        jid: String,
    },
    /// A server-to-server stream was authenticated.
    S2sAuthenticated {
        /// The method that authenticated it: SASL EXTERNAL or dialback.
        method: S2sAuth,
        /// The originating domain that was authenticated.
        domain: String,
    },
    /// The session ended before authentication completed.
    Rejected {
        /// The step at which it ended.
        step: Step,
        /// The condition code (see [`Rejection::condition`]).
        condition: String,
        /// Who ended it.
        by: Party,
        /// What exactly was seen, for a human.
        detail: String,
    },
}

impl Observation {
    /// Whether this observation satisfies `expectation`.
    pub fn satisfies(&self, expectation: &Expectation) -> bool {
        match (self, expectation) {
            (Observation::Authenticated { .. }, Expectation::Authenticated) => true,
            (Observation::S2sAuthenticated { method, .. }, Expectation::S2sAuthenticated(want)) => {
                method == want
            }
            (
                Observation::S2sAuthenticated { method, .. },
                Expectation::S2sNotAuthenticated(refused),
            ) => !refused.covers(*method),
            (Observation::Rejected { .. }, Expectation::S2sNotAuthenticated(_)) => true,
            (
                Observation::Rejected {
                    step,
                    condition,
                    by,
                    ..
                },
                Expectation::Rejected(want),
            ) => {
                // A peer that stalls is never conforming unless the scenario says so: an
                // expectation without a condition must not be met by a hang.
                let condition_ok = if want.condition.is_empty() {
                    condition != TIMEOUT
                } else {
                    want.condition
                        .iter()
                        .any(|wanted| wanted.matches(condition))
                };
                want.step.is_none_or(|s| s == *step)
                    && condition_ok
                    && want.by.is_none_or(|b| b == *by)
            }
            _ => false,
        }
    }
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observation::Authenticated { jid } => write!(f, "authenticated as {jid}"),
            Observation::S2sAuthenticated { method, domain } => {
                write!(f, "s2s stream from {domain} authenticated via {method}")
            }
            Observation::Rejected {
                step,
                condition,
                by,
                detail,
            } => {
                write!(f, "rejected at {step} by {by} ({condition}): {detail}")
            }
        }
    }
}

/// One scenario file after loading: the raw document plus where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Stable identifier, unique across the loaded set.
    pub id: String,
    /// One line saying what the scenario checks.
    pub title: String,
    /// Specification clauses the scenario checks, e.g. `RFC 6120 §5.3.1`.
    pub spec: Vec<String>,
    /// Free-form labels for `--filter`.
    pub tags: Vec<String>,
    /// The file the scenario was loaded from.
    pub source: PathBuf,
    /// The expanded cases, one per matrix combination (one if there is no matrix).
    pub cases: Vec<CaseSpec>,
    /// Whether the scenario was not asked for but loaded from beside one that was, because
    /// it holds that one's positive controls: only the controls needed run.
    pub control_only: bool,
}

impl Scenario {
    /// How many cases the scenario expands into (one per matrix combination).
    pub fn case_count(&self) -> usize {
        self.cases.len()
    }
}

/// One fully resolved combination: everything a case needs besides the target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseSpec {
    /// `scenario-id` or `scenario-id/value/value...` for matrix cases.
    pub id: String,
    /// The scenario's id.
    pub scenario: String,
    /// The scenario's title.
    pub title: String,
    /// The scenario's specification clauses.
    pub spec: Vec<String>,
    /// The scenario's tags.
    pub tags: Vec<String>,
    /// The file the scenario was loaded from.
    pub source: PathBuf,
    /// Which side the harness plays.
    pub role: Role,
    /// How the connection is secured.
    pub transport: Transport,
    /// The certificate profile the server side presents.
    pub certificate: CertificateProfile,
    /// The key algorithm of that certificate chain.
    pub key: KeyType,
    /// Whether the scenario names `certificate` (or a matrix of them): `false` for
    /// `certificate: any`, whose verdict does not depend on the chain, so that an external
    /// server runs the case on whatever valid chain it presents (`certificate` is then the
    /// default chain the harness provisions for managed and built-in targets).
    #[serde(skip)]
    pub certificate_pinned: bool,
    /// Whether the scenario names `key` (or a matrix of them): an external server runs the case
    /// only when its leaf key is of this type. Left out, `key` is the default the harness
    /// provisions.
    #[serde(skip)]
    pub key_pinned: bool,
    /// Which root the client side trusts.
    pub trust: Trust,
    /// Which identity types the verifying side accepts in the presented certificate.
    pub identity: Vec<IdentityType>,
    /// The TLS stack and versions of the harness's side (and of a built-in target's).
    #[serde(skip_serializing_if = "TlsProfile::is_default")]
    pub tls: TlsProfile,
    /// Mechanism and credentials.
    pub sasl: Sasl,
    /// Protocol violations the harness injects.
    pub misbehave: Vec<Misbehaviour>,
    /// For server-to-server cases: direction, certificates, policy, dialback behaviour. `role`
    /// is then `client` (the target is a server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s2s: Option<S2sCase>,
    /// How the session must end.
    pub expect: Expectation,
    /// The clause the case checks and its level.
    pub requirement: Requirement,
    /// A SHOULD on top of `expect`: meeting `expect` but not this is a `warn`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended: Option<Recommendation>,
    /// The positive control of a negative case: the id of the case with the same settings and
    /// no misbehaviour, which the same target must pass for a refusal here to mean anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<String>,
    /// Whether the verdict depends only on the harness's own verifier judging a chain it
    /// provisioned itself: such a case runs only against the built-in targets.
    pub self_test: bool,
    /// Whether the case checks that the target implements the features it needs at all (RFC
    /// 6120 §13.8): their absence is a violation here, and `unsupported` everywhere else.
    pub mandatory_to_implement: bool,
}

impl CaseSpec {
    /// The features the case needs from the target.
    pub fn needs(&self) -> Vec<Feature> {
        if self.s2s.is_some() {
            return Vec::new();
        }
        features_needed(
            self.sasl.mechanism,
            self.sasl.channel_binding,
            self.sasl.profile,
            self.sasl.downgrade_protection,
            self.transport,
            self.key,
        )
    }

    /// Whether the case expects the target to refuse something.
    pub fn is_negative(&self) -> bool {
        matches!(
            self.expect,
            Expectation::Rejected(_) | Expectation::S2sNotAuthenticated(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(condition: &str, by: Party) -> Observation {
        Observation::Rejected {
            step: Step::Sasl,
            condition: condition.to_owned(),
            by,
            detail: String::new(),
        }
    }

    fn expect(condition: Option<&str>, by: Option<Party>) -> Expectation {
        Expectation::Rejected(Rejection {
            step: Some(Step::Sasl),
            condition: condition
                .map(|name| Condition::from_name(name).expect("a known condition"))
                .into_iter()
                .collect(),
            by,
        })
    }

    #[test]
    fn fields_left_out_of_an_expectation_match_anything() {
        let observed = rejected("aborted", Party::Target);
        assert!(observed.satisfies(&expect(None, None)));
        assert!(observed.satisfies(&expect(Some("aborted"), Some(Party::Target))));
        assert!(!observed.satisfies(&expect(Some("closed"), None)));
        assert!(!observed.satisfies(&expect(None, Some(Party::Harness))));
        assert!(!observed.satisfies(&Expectation::Authenticated));
    }

    #[test]
    fn a_peer_that_stalls_meets_only_an_expectation_that_names_the_timeout() {
        let stalled = rejected(TIMEOUT, Party::Target);
        assert!(!stalled.satisfies(&expect(None, Some(Party::Target))));
        assert!(stalled.satisfies(&expect(Some(TIMEOUT), Some(Party::Target))));
    }
}
