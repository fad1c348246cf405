//! The YAML spelling of each scenario keyword, for case ids and error messages.
//!
//! The spellings must match the `serde` renames in [`super::model`]; a unit test checks that
//! every spelling deserializes back to the value it came from.

use std::fmt;

use super::model::{
    CertificateProfile, Credentials, IdentityType, KeyType, Mechanism, Misbehaviour, Role,
    SaslProfile, Transport, Trust,
};

/// A closed set of values written as bare words in scenario files.
pub(crate) trait Keyword: Copy + Eq + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];

    /// How the value is spelled in YAML.
    fn keyword(self) -> &'static str;

    /// Every spelling, comma-separated, for "expected one of" messages.
    fn one_of() -> String {
        Self::ALL
            .iter()
            .map(|v| v.keyword())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Keyword for Role {
    const ALL: &'static [Self] = &[Role::Client, Role::Server];

    fn keyword(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }
}

impl Keyword for super::raw::RawRole {
    const ALL: &'static [Self] = &[
        Self::Client,
        Self::Server,
        Self::Originating,
        Self::Receiving,
    ];

    fn keyword(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
            Self::Originating => "originating",
            Self::Receiving => "receiving",
        }
    }
}

impl Keyword for Transport {
    const ALL: &'static [Self] = &[
        Transport::Starttls,
        Transport::DirectTls,
        Transport::Plaintext,
    ];

    fn keyword(self) -> &'static str {
        match self {
            Transport::Starttls => "starttls",
            Transport::DirectTls => "direct-tls",
            Transport::Plaintext => "plaintext",
        }
    }
}

impl Keyword for CertificateProfile {
    const ALL: &'static [Self] = &[
        CertificateProfile::SelfSigned,
        CertificateProfile::CacertIntermediate,
        CertificateProfile::StartcomChain,
        CertificateProfile::Wildcard,
        CertificateProfile::SrvId,
        CertificateProfile::SrvIdServerOnly,
        CertificateProfile::SrvIdClientOnly,
        CertificateProfile::Xmppaddr,
        CertificateProfile::CnOnly,
        CertificateProfile::Expired,
        CertificateProfile::NotYetValid,
        CertificateProfile::WrongDomain,
        CertificateProfile::MissingIntermediate,
        CertificateProfile::UntrustedRoot,
        CertificateProfile::IntermediateNotCa,
        CertificateProfile::PathlenExceeded,
        CertificateProfile::WrongEku,
        CertificateProfile::WeakRsa1024,
        CertificateProfile::ClientAlice,
        CertificateProfile::ClientWrongJid,
        CertificateProfile::ClientExpired,
        CertificateProfile::ClientUntrusted,
    ];

    fn keyword(self) -> &'static str {
        match self {
            CertificateProfile::SelfSigned => "self-signed",
            CertificateProfile::CacertIntermediate => "cacert-intermediate",
            CertificateProfile::StartcomChain => "startcom-chain",
            CertificateProfile::Wildcard => "wildcard",
            CertificateProfile::SrvId => "srv-id",
            CertificateProfile::SrvIdServerOnly => "srv-id-server-only",
            CertificateProfile::SrvIdClientOnly => "srv-id-client-only",
            CertificateProfile::Xmppaddr => "xmppaddr",
            CertificateProfile::CnOnly => "cn-only",
            CertificateProfile::Expired => "expired",
            CertificateProfile::NotYetValid => "not-yet-valid",
            CertificateProfile::WrongDomain => "wrong-domain",
            CertificateProfile::MissingIntermediate => "missing-intermediate",
            CertificateProfile::UntrustedRoot => "untrusted-root",
            CertificateProfile::IntermediateNotCa => "intermediate-not-ca",
            CertificateProfile::PathlenExceeded => "pathlen-exceeded",
            CertificateProfile::WrongEku => "wrong-eku",
            CertificateProfile::WeakRsa1024 => "weak-rsa-1024",
            CertificateProfile::ClientAlice => "client-alice",
            CertificateProfile::ClientWrongJid => "client-wrong-jid",
            CertificateProfile::ClientExpired => "client-expired",
            CertificateProfile::ClientUntrusted => "client-untrusted",
        }
    }
}

impl Keyword for KeyType {
    const ALL: &'static [Self] = &[
        KeyType::EcdsaP256,
        KeyType::Rsa2048,
        KeyType::Rsa4096,
        KeyType::Ed25519,
    ];

    fn keyword(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa4096 => "rsa-4096",
            KeyType::Ed25519 => "ed25519",
        }
    }
}

impl Keyword for IdentityType {
    const ALL: &'static [Self] = &[
        IdentityType::DnsId,
        IdentityType::SrvId,
        IdentityType::Xmppaddr,
        IdentityType::Cn,
    ];

    fn keyword(self) -> &'static str {
        match self {
            IdentityType::DnsId => "dns-id",
            IdentityType::SrvId => "srv-id",
            IdentityType::Xmppaddr => "xmppaddr",
            IdentityType::Cn => "cn",
        }
    }
}

impl Keyword for Trust {
    const ALL: &'static [Self] = &[Trust::ChainRoot, Trust::UnrelatedRoot];

    fn keyword(self) -> &'static str {
        match self {
            Trust::ChainRoot => "chain-root",
            Trust::UnrelatedRoot => "unrelated-root",
        }
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

    fn keyword(self) -> &'static str {
        self.name()
    }
}

impl Keyword for SaslProfile {
    const ALL: &'static [Self] = &[SaslProfile::Sasl1, SaslProfile::Sasl2];

    fn keyword(self) -> &'static str {
        match self {
            SaslProfile::Sasl1 => "sasl1",
            SaslProfile::Sasl2 => "sasl2",
        }
    }
}

impl Keyword for Credentials {
    const ALL: &'static [Self] = &[
        Credentials::Valid,
        Credentials::WrongPassword,
        Credentials::UnknownUser,
    ];

    fn keyword(self) -> &'static str {
        match self {
            Credentials::Valid => "valid",
            Credentials::WrongPassword => "wrong-password",
            Credentials::UnknownUser => "unknown-user",
        }
    }
}

impl Keyword for Misbehaviour {
    const ALL: &'static [Self] = &[
        Misbehaviour::ScramWrongServerSignature,
        Misbehaviour::StripStarttls,
        Misbehaviour::ScramAlteredNonce,
        Misbehaviour::ScramLowIterationCount,
        Misbehaviour::ScramExcessiveIterationCount,
        Misbehaviour::SaslMalformedBase64,
        Misbehaviour::ScramSuccessWithoutFinal,
        Misbehaviour::ScramWrongProof,
        Misbehaviour::AuthzidOtherUser,
        Misbehaviour::ScramForeignChannelBinding,
        Misbehaviour::ScramDowngradeFlag,
        Misbehaviour::Sasl2WrongAuthorizationIdentifier,
        Misbehaviour::ScramReplayedClientFinal,
        Misbehaviour::ScramUndefinedBindingType,
        Misbehaviour::Xep0474StrippedPlus,
        Misbehaviour::ScramPlusMismatchedBinding,
    ];

    fn keyword(self) -> &'static str {
        match self {
            Misbehaviour::ScramWrongServerSignature => "scram-wrong-server-signature",
            Misbehaviour::StripStarttls => "strip-starttls",
            Misbehaviour::ScramAlteredNonce => "scram-altered-nonce",
            Misbehaviour::ScramLowIterationCount => "scram-low-iteration-count",
            Misbehaviour::ScramExcessiveIterationCount => "scram-excessive-iteration-count",
            Misbehaviour::SaslMalformedBase64 => "sasl-malformed-base64",
            Misbehaviour::ScramSuccessWithoutFinal => "scram-success-without-final",
            Misbehaviour::ScramWrongProof => "scram-wrong-proof",
            Misbehaviour::AuthzidOtherUser => "authzid-other-user",
            Misbehaviour::ScramForeignChannelBinding => "scram-foreign-channel-binding",
            Misbehaviour::ScramDowngradeFlag => "scram-downgrade-flag",
            Misbehaviour::Sasl2WrongAuthorizationIdentifier => {
                "sasl2-wrong-authorization-identifier"
            }
            Misbehaviour::ScramReplayedClientFinal => "scram-replayed-client-final",
            Misbehaviour::ScramUndefinedBindingType => "scram-undefined-binding-type",
            Misbehaviour::Xep0474StrippedPlus => "xep0474-stripped-plus",
            Misbehaviour::ScramPlusMismatchedBinding => "scram-plus-mismatched-binding",
        }
    }
}

/// A word that is not one of a keyword set's spellings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown value `{value}`; expected one of {expected}")]
pub struct UnknownKeyword {
    /// The word as given.
    pub value: String,
    /// Every spelling, comma-separated.
    pub expected: String,
}

/// Command-line arguments take the same spellings as YAML files.
macro_rules! from_str_as_keyword {
    ($($type:ty),+ $(,)?) => {
        $(impl std::str::FromStr for $type {
            type Err = UnknownKeyword;

            fn from_str(text: &str) -> Result<Self, UnknownKeyword> {
                <$type as Keyword>::ALL
                    .iter()
                    .copied()
                    .find(|value| value.keyword() == text)
                    .ok_or_else(|| UnknownKeyword {
                        value: text.to_owned(),
                        expected: <$type as Keyword>::one_of(),
                    })
            }
        })+
    };
}

from_str_as_keyword!(CertificateProfile, KeyType);

impl CertificateProfile {
    /// Every profile of the catalogue, in declaration order.
    pub fn all() -> &'static [CertificateProfile] {
        <CertificateProfile as Keyword>::ALL
    }

    /// Whether this is a client certificate profile (for SASL EXTERNAL, XEP-0178).
    pub fn is_client_certificate(self) -> bool {
        matches!(
            self,
            CertificateProfile::ClientAlice
                | CertificateProfile::ClientWrongJid
                | CertificateProfile::ClientExpired
                | CertificateProfile::ClientUntrusted
        )
    }
}

/// People see scenario values spelled exactly as in the YAML files.
macro_rules! display_as_keyword {
    ($($type:ty),+ $(,)?) => {
        $(impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.keyword())
            }
        })+
    };
}

display_as_keyword!(
    Role,
    Transport,
    CertificateProfile,
    KeyType,
    IdentityType,
    Trust,
    Credentials,
    Misbehaviour,
    SaslProfile,
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;

    /// Every spelling parses back to its value, and `ALL` lists exactly the values serde knows.
    fn round_trips<T: Keyword + DeserializeOwned + std::fmt::Debug>() {
        for &value in T::ALL {
            let parsed: T = serde_saphyr::from_str(value.keyword()).unwrap();
            assert_eq!(parsed, value);
        }
        let err = serde_saphyr::from_str::<T>("no-such-keyword").unwrap_err();
        match err.without_snippet() {
            serde_saphyr::Error::SerdeUnknownVariant { expected, .. } => {
                let ours: Vec<&str> = T::ALL.iter().map(|v| v.keyword()).collect();
                assert_eq!(expected, &ours);
            }
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn profiles_and_key_types_parse_from_their_keywords() {
        for &profile in CertificateProfile::all() {
            assert_eq!(profile.keyword().parse::<CertificateProfile>(), Ok(profile));
        }
        assert_eq!("ed25519".parse::<KeyType>(), Ok(KeyType::Ed25519));
        let err = "rsa-512".parse::<KeyType>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown value `rsa-512`; expected one of ecdsa-p256, rsa-2048, rsa-4096, ed25519"
        );
    }

    #[test]
    fn keywords_match_the_serde_spellings_of_every_value() {
        round_trips::<Role>();
        round_trips::<Transport>();
        round_trips::<CertificateProfile>();
        round_trips::<KeyType>();
        round_trips::<IdentityType>();
        round_trips::<Trust>();
        round_trips::<Mechanism>();
        round_trips::<Credentials>();
        round_trips::<Misbehaviour>();
        round_trips::<SaslProfile>();
    }
}
