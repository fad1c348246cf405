//! The normative weight of a case: the level of the clause it checks (RFC 2119 keywords), the
//! optional features it needs, and the typed conditions a refusal can carry ([`Condition`], owned
//! by `proto`, which names them on the wire, and re-exported here).
//!
//! A verdict is only as true as the clause behind it: a broken MUST is a `fail`, a SHOULD not
//! followed a `warn`, what a MAY leaves open an `info`, and a target that lacks an optional
//! feature a case needs is `unsupported` rather than failing every case that needs it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::model::{ChannelBindingType, KeyType, Mechanism, SaslProfile, Transport};
pub use crate::proto::Condition;

/// An RFC 2119 requirement level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
pub enum Level {
    /// An absolute requirement: breaking it is a `fail`.
    #[serde(rename = "MUST")]
    Must,
    /// An absolute prohibition: breaking it is a `fail`.
    #[serde(rename = "MUST NOT")]
    MustNot,
    /// A recommendation: not following it is a `warn`.
    #[serde(rename = "SHOULD")]
    Should,
    /// A recommendation against: not following it is a `warn`.
    #[serde(rename = "SHOULD NOT")]
    ShouldNot,
    /// Truly optional: either behaviour conforms, so the case reports an `info` fact.
    #[serde(rename = "MAY")]
    May,
}

impl Level {
    /// Every level, strongest first.
    pub const ALL: [Level; 5] = [
        Level::Must,
        Level::MustNot,
        Level::Should,
        Level::ShouldNot,
        Level::May,
    ];

    /// The keyword as RFC 2119 writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::MustNot => "MUST NOT",
            Level::Should => "SHOULD",
            Level::ShouldNot => "SHOULD NOT",
            Level::May => "MAY",
        }
    }

    /// Whether breaking the clause is a violation (`fail`), not a deviation (`warn`) or a fact
    /// (`info`).
    pub fn is_absolute(self) -> bool {
        matches!(self, Level::Must | Level::MustNot)
    }

    /// Whether the clause is a recommendation.
    pub fn is_recommendation(self) -> bool {
        matches!(self, Level::Should | Level::ShouldNot)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// The clause a case checks, with its level and the words that carry it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// The RFC 2119 level of the sentence the target breaks when the case does not end as
    /// expected.
    pub level: Level,
    /// Where the sentence is, e.g. `RFC 6120 §6.4.6`.
    pub clause: String,
    /// The sentence (or its key part), quoted from the specification.
    pub text: String,
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.level, self.clause)
    }
}

/// Something a case needs from the target that the specifications leave optional, or that
/// RFC 6120 §13.8 makes mandatory to implement (checked once, in its own case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// A SASL mechanism.
    Mechanism(Mechanism),
    /// A channel-binding type for `-PLUS` mechanisms (XEP-0440).
    ChannelBinding(ChannelBindingType),
    /// The Extensible SASL Profile (XEP-0388).
    Sasl2,
    /// SCRAM downgrade protection (XEP-0474).
    DowngradeProtection,
    /// TLS from the first byte (XEP-0368).
    DirectTls,
    /// Certificates with Ed25519 keys (RFC 8410).
    Ed25519Certificates,
}

impl Feature {
    /// Whether RFC 6120 §13.8.1 makes the feature mandatory to implement for servers and
    /// clients: SCRAM-SHA-1 and SCRAM-SHA-1-PLUS.
    pub fn is_mandatory(self) -> bool {
        matches!(
            self,
            Feature::Mechanism(Mechanism::ScramSha1 | Mechanism::ScramSha1Plus)
        )
    }
}

impl Serialize for Feature {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Feature::Mechanism(mechanism) => write!(f, "{mechanism}"),
            Feature::ChannelBinding(kind) => write!(f, "channel binding {kind}"),
            Feature::Sasl2 => f.write_str("SASL2 (XEP-0388)"),
            Feature::DowngradeProtection => f.write_str("SCRAM downgrade protection (XEP-0474)"),
            Feature::DirectTls => f.write_str("direct TLS (XEP-0368)"),
            Feature::Ed25519Certificates => f.write_str("Ed25519 certificates"),
        }
    }
}

/// What the features of a case are, from its settings.
pub(crate) fn features_needed(
    mechanism: Mechanism,
    channel_binding: Option<ChannelBindingType>,
    profile: SaslProfile,
    downgrade_protection: bool,
    transport: Transport,
    key: KeyType,
) -> Vec<Feature> {
    let mut needs = vec![Feature::Mechanism(mechanism)];
    if let (true, Some(kind)) = (mechanism.is_plus(), channel_binding) {
        needs.push(Feature::ChannelBinding(kind));
    }
    if profile == SaslProfile::Sasl2 {
        needs.push(Feature::Sasl2);
    }
    if downgrade_protection {
        needs.push(Feature::DowngradeProtection);
    }
    if transport == Transport::DirectTls {
        needs.push(Feature::DirectTls);
    }
    if key == KeyType::Ed25519 {
        needs.push(Feature::Ed25519Certificates);
    }
    needs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_keyword_deserializes_to_its_level() {
        for level in Level::ALL {
            let parsed: Level = serde_saphyr::from_str(level.keyword()).expect("level parses");
            assert_eq!(parsed, level);
        }
    }

    #[test]
    fn only_scram_sha_1_and_its_plus_variant_are_mandatory_rfc6120_13_8_1() {
        let mandatory: Vec<Mechanism> = Mechanism::ALL
            .into_iter()
            .filter(|&m| Feature::Mechanism(m).is_mandatory())
            .collect();
        assert_eq!(
            mandatory,
            vec![Mechanism::ScramSha1Plus, Mechanism::ScramSha1]
        );
        assert!(!Feature::Sasl2.is_mandatory());
    }
}
