//! The YAML spelling of each scenario keyword, for case ids and error messages.
//!
//! The spellings must match the `serde` renames in [`super::model`]; a unit test checks that
//! every spelling deserializes back to the value it came from.

use std::fmt;

use super::model::{
    CertificateProfile, Credentials, KeyType, Mechanism, Misbehaviour, Role, Transport, Trust,
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
    ];

    fn keyword(self) -> &'static str {
        match self {
            CertificateProfile::SelfSigned => "self-signed",
            CertificateProfile::CacertIntermediate => "cacert-intermediate",
            CertificateProfile::StartcomChain => "startcom-chain",
        }
    }
}

impl Keyword for KeyType {
    const ALL: &'static [Self] = &[KeyType::EcdsaP256, KeyType::Rsa2048];

    fn keyword(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::Rsa2048 => "rsa-2048",
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
    ];

    fn keyword(self) -> &'static str {
        self.name()
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
        }
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
    Trust,
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
    fn keywords_match_the_serde_spellings_of_every_value() {
        round_trips::<Role>();
        round_trips::<Transport>();
        round_trips::<CertificateProfile>();
        round_trips::<KeyType>();
        round_trips::<Trust>();
        round_trips::<Mechanism>();
        round_trips::<Credentials>();
        round_trips::<Misbehaviour>();
    }
}
