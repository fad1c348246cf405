//! How scenario values are spelled for people: exactly as in the YAML files.

use std::fmt;

use super::model::{CertificateProfile, Credentials, KeyType, Misbehaviour, Role, Transport, Trust};

/// Implements `Display` with the YAML spelling of each variant.
macro_rules! yaml_spelling {
    ($type:ty { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $(<$type>::$variant => $text),+
                })
            }
        }
    };
}

yaml_spelling!(Role { Client => "client", Server => "server" });
yaml_spelling!(Transport { Starttls => "starttls", DirectTls => "direct-tls", Plaintext => "plaintext" });
yaml_spelling!(CertificateProfile {
    SelfSigned => "self-signed",
    CacertIntermediate => "cacert-intermediate",
    StartcomChain => "startcom-chain",
});
yaml_spelling!(KeyType { EcdsaP256 => "ecdsa-p256", Rsa2048 => "rsa-2048" });
yaml_spelling!(Trust { ChainRoot => "chain-root", UnrelatedRoot => "unrelated-root" });
yaml_spelling!(Credentials { Valid => "valid", WrongPassword => "wrong-password", UnknownUser => "unknown-user" });
yaml_spelling!(Misbehaviour {
    ScramWrongServerSignature => "scram-wrong-server-signature",
    StripStarttls => "strip-starttls",
});

#[cfg(test)]
mod tests {
    use super::*;

    /// The display spelling must be the spelling the YAML loader accepts.
    #[test]
    fn display_spelling_round_trips_through_yaml() {
        let profile: CertificateProfile =
            serde_saphyr::from_str(&CertificateProfile::CacertIntermediate.to_string()).unwrap();
        assert_eq!(profile, CertificateProfile::CacertIntermediate);
        let transport: Transport = serde_saphyr::from_str(&Transport::DirectTls.to_string()).unwrap();
        assert_eq!(transport, Transport::DirectTls);
        let misbehaviour: Misbehaviour =
            serde_saphyr::from_str(&Misbehaviour::ScramWrongServerSignature.to_string()).unwrap();
        assert_eq!(misbehaviour, Misbehaviour::ScramWrongServerSignature);
        let credentials: Credentials = serde_saphyr::from_str(&Credentials::UnknownUser.to_string()).unwrap();
        assert_eq!(credentials, Credentials::UnknownUser);
    }
}
