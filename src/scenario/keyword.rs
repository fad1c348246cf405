//! The YAML spelling of each scenario keyword, for case ids and error messages.
//!
//! A spelling is the value's `serde` name ([`Keyword`], from `proto`, which spells the protocol
//! vocabulary the same way); this module lists the values of the scenario's own keyword sets,
//! and a unit test checks each list against `serde`.

use std::fmt;

pub use crate::proto::Keyword;

use super::model::{
    CertificateProfile, CipherClass, Credentials, IdentityType, KeyType, Misbehaviour, Role,
    TlsStack, TlsVersion, Trust,
};

impl Keyword for Role {
    const ALL: &'static [Self] = &[Role::Client, Role::Server];
}

impl Keyword for super::raw::RawRole {
    const ALL: &'static [Self] = &[
        Self::Client,
        Self::Server,
        Self::Originating,
        Self::Receiving,
    ];
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
}

impl Keyword for KeyType {
    const ALL: &'static [Self] = &[
        KeyType::EcdsaP256,
        KeyType::Rsa2048,
        KeyType::Rsa4096,
        KeyType::Ed25519,
    ];
}

impl Keyword for IdentityType {
    const ALL: &'static [Self] = &[
        IdentityType::DnsId,
        IdentityType::SrvId,
        IdentityType::Xmppaddr,
        IdentityType::Cn,
    ];
}

impl Keyword for Trust {
    const ALL: &'static [Self] = &[Trust::ChainRoot, Trust::UnrelatedRoot];
}

impl Keyword for TlsStack {
    const ALL: &'static [Self] = &[TlsStack::Rustls, TlsStack::Openssl];
}

impl Keyword for TlsVersion {
    const ALL: &'static [Self] = &[
        TlsVersion::Tls10,
        TlsVersion::Tls11,
        TlsVersion::Tls12,
        TlsVersion::Tls13,
    ];
}

impl Keyword for CipherClass {
    const ALL: &'static [Self] = &[
        CipherClass::NullEncryption,
        CipherClass::Rc4,
        CipherClass::Below112Bits,
        CipherClass::TripleDes,
        CipherClass::StaticRsa,
        CipherClass::StaticDh,
    ];
}

impl Keyword for Credentials {
    const ALL: &'static [Self] = &[
        Credentials::Valid,
        Credentials::WrongPassword,
        Credentials::UnknownUser,
    ];
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
                <$type as Keyword>::from_keyword(text).ok_or_else(|| UnknownKeyword {
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
    CertificateProfile,
    KeyType,
    IdentityType,
    Trust,
    TlsStack,
    TlsVersion,
    CipherClass,
    Credentials,
    Misbehaviour,
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;

    /// Every spelling parses back to its value, and `ALL` lists exactly the values serde knows.
    fn round_trips<T: Keyword + DeserializeOwned + std::fmt::Debug>() {
        for &value in T::ALL {
            assert_eq!(T::from_keyword(value.keyword()), Some(value));
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
        round_trips::<CertificateProfile>();
        round_trips::<KeyType>();
        round_trips::<IdentityType>();
        round_trips::<Trust>();
        round_trips::<TlsStack>();
        round_trips::<TlsVersion>();
        round_trips::<CipherClass>();
        round_trips::<Credentials>();
        round_trips::<Misbehaviour>();
    }
}
