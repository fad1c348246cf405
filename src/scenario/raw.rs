//! The scenario document as written: every field optional and located, before validation.
//!
//! Keeping required fields optional here lets validation report a missing field with our own
//! wording, and the [`Spanned`] wrappers let it point at the offending value.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::keyword::Keyword as _;
use super::model::{
    AuthorityAnswer, CertificateProfile, ChannelBindingType, CipherClass, Credentials, DialbackKey,
    Expectation, IdentityType, KeyType, Mechanism, Misbehaviour, Recommendation, Role,
    S2sDirection, S2sPolicy, SaslProfile, TlsStack, TlsVersion, Transport, Trust,
};
use super::requirement::Requirement;

/// `certificate:` as read: a profile of the test PKI, or `any` for a scenario whose verdict
/// does not depend on the chain the server side presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CertificateChoice {
    /// Any valid chain: the harness's default one where it provisions the chain, whatever an
    /// external server presents.
    Any,
    /// This profile and no other.
    Profile(CertificateProfile),
}

impl CertificateChoice {
    /// The choice spelled `name`, if there is one.
    pub(crate) fn from_name(name: &str) -> Option<CertificateChoice> {
        if name == "any" {
            return Some(CertificateChoice::Any);
        }
        CertificateProfile::from_keyword(name).map(CertificateChoice::Profile)
    }
}

/// `role:` as written: the two c2s roles and the two s2s directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawRole {
    /// The harness is the client.
    Client,
    /// The harness is the server.
    Server,
    /// The harness originates a server-to-server stream to the target.
    Originating,
    /// The target originates a server-to-server stream to the harness.
    Receiving,
}

impl RawRole {
    /// The c2s role that selects the targets: a server for every s2s case.
    pub(crate) fn harness_role(self) -> Role {
        match self {
            RawRole::Server => Role::Server,
            RawRole::Client | RawRole::Originating | RawRole::Receiving => Role::Client,
        }
    }

    /// The s2s direction, for the s2s roles.
    pub(crate) fn s2s(self) -> Option<S2sDirection> {
        match self {
            RawRole::Originating => Some(S2sDirection::Originating),
            RawRole::Receiving => Some(S2sDirection::Receiving),
            RawRole::Client | RawRole::Server => None,
        }
    }
}

/// One scenario file, as parsed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    /// `id:`
    pub id: Option<Spanned<String>>,
    /// `title:`
    pub title: Option<Spanned<String>>,
    /// `spec:`
    pub spec: Option<Spanned<Vec<String>>>,
    /// `tags:`
    #[serde(default)]
    pub tags: Vec<String>,
    /// `role:`
    pub role: Option<Spanned<RawRole>>,
    /// `transport:`
    pub transport: Option<Spanned<Transport>>,
    /// `certificate:` (`any` or a profile, read by [`CertificateChoice::from_name`])
    pub certificate: Option<Spanned<String>>,
    /// `key:`
    pub key: Option<Spanned<KeyType>>,
    /// `trust:`
    pub trust: Option<Spanned<Trust>>,
    /// `identity:`
    pub identity: Option<Spanned<Vec<Spanned<IdentityType>>>>,
    /// `tls:`
    pub tls: Option<Spanned<RawTls>>,
    /// `sasl:`
    pub sasl: Option<Spanned<RawSasl>>,
    /// `misbehave:`
    #[serde(default)]
    pub misbehave: Vec<Spanned<Misbehaviour>>,
    /// `s2s:`
    pub s2s: Option<Spanned<RawS2s>>,
    /// `expect:`
    pub expect: Option<Expectation>,
    /// `requirement:`
    pub requirement: Option<Spanned<Requirement>>,
    /// `recommended:`
    pub recommended: Option<Spanned<Recommendation>>,
    /// `requirement-for:`: a different requirement for the cases whose id has this matrix value.
    #[serde(rename = "requirement-for", default)]
    pub requirement_for: Option<Spanned<BTreeMap<String, Requirement>>>,
    /// `control:`
    pub control: Option<Spanned<String>>,
    /// `control-for:`: another control for the cases whose id has this matrix value.
    #[serde(rename = "control-for", default)]
    pub control_for: Option<Spanned<BTreeMap<String, String>>>,
    /// `self-test:`
    #[serde(rename = "self-test")]
    pub self_test: Option<Spanned<bool>>,
    /// `mandatory-to-implement:`
    #[serde(rename = "mandatory-to-implement")]
    pub mandatory_to_implement: Option<Spanned<bool>>,
    /// `matrix:`
    pub matrix: Option<Spanned<RawMatrix>>,
}

/// The `tls:` mapping, as parsed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    /// `tls.stack:`
    pub stack: Option<Spanned<TlsStack>>,
    /// `tls.versions:`
    pub versions: Option<Spanned<Vec<Spanned<TlsVersion>>>>,
    /// `tls.ciphers:`
    pub ciphers: Option<Spanned<CipherClass>>,
}

/// The `sasl:` mapping, as parsed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSasl {
    /// `sasl.mechanism:`
    pub mechanism: Option<Spanned<Mechanism>>,
    /// `sasl.credentials:`
    pub credentials: Option<Spanned<Credentials>>,
    /// `sasl.channel-binding:`
    #[serde(rename = "channel-binding")]
    pub channel_binding: Option<Spanned<ChannelBindingType>>,
    /// `sasl.client-certificate:`
    #[serde(rename = "client-certificate")]
    pub client_certificate: Option<Spanned<CertificateProfile>>,
    /// `sasl.also-offered:`
    #[serde(rename = "also-offered")]
    pub also_offered: Option<Spanned<Vec<Mechanism>>>,
    /// `sasl.profile:`
    pub profile: Option<Spanned<SaslProfile>>,
    /// `sasl.downgrade-protection:`
    #[serde(rename = "downgrade-protection")]
    pub downgrade_protection: Option<Spanned<bool>>,
}

/// The `s2s:` mapping, as parsed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawS2s {
    /// `s2s.originating-certificate:`
    pub originating_certificate: Option<Spanned<CertificateProfile>>,
    /// `s2s.originating-trust:`
    pub originating_trust: Option<Spanned<Trust>>,
    /// `s2s.policy:`
    pub policy: Option<Spanned<S2sPolicy>>,
    /// `s2s.dialback-key:`
    pub dialback_key: Option<Spanned<DialbackKey>>,
    /// `s2s.authority:`
    pub authority: Option<Spanned<AuthorityAnswer>>,
}

/// One `matrix:` entry: where its key is, and its located values.
#[derive(Debug)]
pub(crate) struct Axis<T> {
    /// The key, e.g. `transport` or `sasl.mechanism`, with its location.
    pub key: Spanned<String>,
    /// The list, located at its start, each value located too.
    pub values: Spanned<Vec<Spanned<T>>>,
}

/// The `matrix:` mapping, as parsed.
///
/// Deserialized by hand so that errors about a key can point at the key itself.
#[derive(Debug, Default)]
pub(crate) struct RawMatrix {
    /// `matrix.transport:`
    pub transport: Option<Axis<Transport>>,
    /// `matrix.certificate:`
    pub certificate: Option<Axis<CertificateProfile>>,
    /// `matrix.key:`
    pub key: Option<Axis<KeyType>>,
    /// `matrix.trust:`
    pub trust: Option<Axis<Trust>>,
    /// `matrix."sasl.mechanism":`
    pub sasl_mechanism: Option<Axis<Mechanism>>,
    /// `matrix."sasl.credentials":`
    pub sasl_credentials: Option<Axis<Credentials>>,
    /// Keys that are none of the above (their values are skipped).
    pub unknown: Vec<Spanned<String>>,
}

/// The keys `matrix:` accepts, in expansion order.
pub(crate) const MATRIX_KEYS: [&str; 6] = [
    "transport",
    "certificate",
    "key",
    "trust",
    "sasl.mechanism",
    "sasl.credentials",
];

/// Reads the next value as an [`Axis`] located at `key`.
fn axis<'de, A, T>(key: Spanned<String>, map: &mut A) -> Result<Option<Axis<T>>, A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    let values = map.next_value()?;
    Ok(Some(Axis { key, values }))
}

impl<'de> Deserialize<'de> for RawMatrix {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Visits the `matrix:` mapping.
        struct MatrixVisitor;

        impl<'de> Visitor<'de> for MatrixVisitor {
            type Value = RawMatrix;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping from matrix keys to lists of values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawMatrix, A::Error> {
                let mut m = RawMatrix::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    match key.value.as_str() {
                        "transport" => m.transport = axis(key, &mut map)?,
                        "certificate" => m.certificate = axis(key, &mut map)?,
                        "key" => m.key = axis(key, &mut map)?,
                        "trust" => m.trust = axis(key, &mut map)?,
                        "sasl.mechanism" => m.sasl_mechanism = axis(key, &mut map)?,
                        "sasl.credentials" => m.sasl_credentials = axis(key, &mut map)?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            m.unknown.push(key);
                        }
                    }
                }
                Ok(m)
            }
        }

        deserializer.deserialize_map(MatrixVisitor)
    }
}
