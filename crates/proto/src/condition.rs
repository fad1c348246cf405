//! The conditions a session can end with: RFC 6120 stream-error and SASL-failure conditions,
//! the stanza-error conditions of dialback, and the harness's own, each named once.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! conditions {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// A condition a refusal can carry: an RFC 6120 stream-error (§4.9.3) or SASL-failure
        /// (§6.5) condition, a stanza-error condition of dialback (XEP-0220), or one of the
        /// harness's own. Scenarios and expectations name conditions only from this set, so a
        /// misspelt one is a load error instead of a case that can never pass.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
        pub enum Condition {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
        }

        impl Condition {
            /// Every condition, in declaration order.
            pub const ALL: &'static [Condition] = &[ $( Condition::$variant, )* ];

            /// The condition as it appears on the wire and in observations.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Condition::$variant => $name, )*
                }
            }
        }
    };
}

conditions! {
    /// RFC 6120 §6.5.1: the SASL exchange was aborted.
    Aborted = "aborted",
    /// RFC 6120 §6.5.2.
    AccountDisabled = "account-disabled",
    /// RFC 6120 §4.9.3.1.
    BadFormat = "bad-format",
    /// RFC 6120 §4.9.3.2.
    BadNamespacePrefix = "bad-namespace-prefix",
    /// RFC 6120 §4.9.3.3.
    Conflict = "conflict",
    /// RFC 6120 §4.9.3.4.
    ConnectionTimeout = "connection-timeout",
    /// RFC 6120 §6.5.3.
    CredentialsExpired = "credentials-expired",
    /// RFC 6120 §6.5.4.
    EncryptionRequired = "encryption-required",
    /// RFC 6120 §4.9.3.5.
    HostGone = "host-gone",
    /// RFC 6120 §4.9.3.6.
    HostUnknown = "host-unknown",
    /// RFC 6120 §4.9.3.7.
    ImproperAddressing = "improper-addressing",
    /// RFC 6120 §6.5.5.
    IncorrectEncoding = "incorrect-encoding",
    /// RFC 6120 §4.9.3.8.
    InternalServerError = "internal-server-error",
    /// RFC 6120 §6.5.6.
    InvalidAuthzid = "invalid-authzid",
    /// RFC 6120 §4.9.3.9.
    InvalidFrom = "invalid-from",
    /// RFC 6120 §6.5.7.
    InvalidMechanism = "invalid-mechanism",
    /// RFC 6120 §4.9.3.10.
    InvalidNamespace = "invalid-namespace",
    /// RFC 6120 §4.9.3.11.
    InvalidXml = "invalid-xml",
    /// XEP-0220 §2.1.3, §2.4: `<db:result type='invalid'/>`, the dialback key did not verify.
    Invalid = "invalid",
    /// RFC 6120 §8.3.3.7 (stanza error), used by dialback.
    ItemNotFound = "item-not-found",
    /// RFC 6120 §6.5.8.
    MalformedRequest = "malformed-request",
    /// RFC 6120 §6.5.9.
    MechanismTooWeak = "mechanism-too-weak",
    /// RFC 6120 §4.9.3.12, §6.5.10.
    NotAuthorized = "not-authorized",
    /// RFC 6120 §4.9.3.13.
    NotWellFormed = "not-well-formed",
    /// RFC 6120 §8.3.3.9 (stanza error), XEP-0220 §2.5.
    NotAcceptable = "not-acceptable",
    /// RFC 6120 §4.9.3.14.
    PolicyViolation = "policy-violation",
    /// RFC 6120 §4.9.3.15.
    RemoteConnectionFailed = "remote-connection-failed",
    /// RFC 6120 §8.3.3.15 (stanza error), XEP-0220 §2.4.
    RemoteServerNotFound = "remote-server-not-found",
    /// RFC 6120 §8.3.3.16 (stanza error), XEP-0220 §2.4.
    RemoteServerTimeout = "remote-server-timeout",
    /// RFC 6120 §4.9.3.16.
    Reset = "reset",
    /// RFC 6120 §4.9.3.17.
    ResourceConstraint = "resource-constraint",
    /// RFC 6120 §4.9.3.18.
    RestrictedXml = "restricted-xml",
    /// RFC 6120 §4.9.3.19.
    SeeOtherHost = "see-other-host",
    /// RFC 6120 §8.3.3.19 (stanza error).
    ServiceUnavailable = "service-unavailable",
    /// RFC 6120 §4.9.3.20.
    SystemShutdown = "system-shutdown",
    /// RFC 6120 §6.5.11.
    TemporaryAuthFailure = "temporary-auth-failure",
    /// RFC 6120 §4.9.3.21.
    UndefinedCondition = "undefined-condition",
    /// RFC 6120 §4.9.3.22.
    UnsupportedEncoding = "unsupported-encoding",
    /// RFC 6120 §4.9.3.23.
    UnsupportedFeature = "unsupported-feature",
    /// RFC 6120 §4.9.3.24.
    UnsupportedStanzaType = "unsupported-stanza-type",
    /// RFC 6120 §4.9.3.25.
    UnsupportedVersion = "unsupported-version",
    /// Harness: a certificate was refused in the TLS handshake (its own verifier's, or the
    /// peer's `bad_certificate`-family alert).
    BadCertificate = "bad-certificate",
    /// Harness: the peer sent a TLS alert.
    TlsAlert = "tls-alert",
    /// Harness: the TLS handshake broke in another way.
    TlsError = "tls-error",
    /// Harness: the peer closed the connection or the stream.
    Closed = "closed",
    /// Harness: the peer sent nothing in time.
    Timeout = "timeout",
    /// Harness: the server did not offer the mechanism the case needs.
    MechanismNotOffered = "mechanism-not-offered",
    /// Harness: the peer does not implement SASL2 (XEP-0388).
    Sasl2Unsupported = "sasl2-unsupported",
    /// Harness: the peer does not implement SCRAM downgrade protection (XEP-0474).
    DowngradeProtectionUnsupported = "downgrade-protection-unsupported",
    /// Harness: the server did not offer STARTTLS.
    StarttlsNotOffered = "starttls-not-offered",
    /// Harness: the server answered `<starttls/>` with `<failure/>`.
    StarttlsFailure = "starttls-failure",
    /// Harness: data followed `<proceed/>` before the TLS handshake.
    StarttlsInjection = "starttls-injection",
    /// Harness: a server offered PLAIN on an unencrypted stream.
    PlainOfferedInClear = "plain-offered-in-clear",
    /// Harness: a client sent credentials on an unencrypted stream.
    CredentialsSentInClear = "credentials-sent-in-clear",
    /// Harness: a client turned to XEP-0078 non-SASL authentication (`jabber:iq:auth`).
    LegacyAuthentication = "legacy-authentication",
    /// Harness: a client chose a weaker mechanism than the one the case wants.
    ChoseWeakerMechanism = "chose-weaker-mechanism",
    /// Harness: no channel-binding type both sides can use.
    ChannelBindingUnavailable = "channel-binding-unavailable",
    /// Harness: a client retried without channel binding after its binding failed.
    FellBackWithoutChannelBinding = "fell-back-without-channel-binding",
    /// Harness: a SCRAM downgrade was detected (GS2 flag or XEP-0474 hash).
    DowngradeDetected = "downgrade-detected",
    /// Harness: the SCRAM server nonce does not extend the client's.
    NonceMismatch = "nonce-mismatch",
    /// Harness: the SCRAM server signature is wrong.
    ServerSignatureMismatch = "server-signature-mismatch",
    /// Harness: `<success/>` carried no SCRAM server-final message.
    MissingServerFinal = "missing-server-final",
    /// Harness: the SCRAM iteration count exceeds what the harness computes.
    IterationCountTooHigh = "iteration-count-too-high",
    /// Harness: the SCRAM iteration count is below RFC 7677 §4's 4096.
    IterationCountTooLow = "iteration-count-too-low",
    /// Harness: a SASL challenge could not be parsed.
    MalformedChallenge = "malformed-challenge",
    /// Harness: a challenge came where none was due.
    UnexpectedChallenge = "unexpected-challenge",
    /// Harness: an element came that the protocol does not allow there.
    UnexpectedElement = "unexpected-element",
    /// Harness: a SCRAM client proof did not verify.
    InvalidProof = "invalid-proof",
    /// Harness: a SCRAM `e=` server error.
    ServerError = "server-error",
    /// Harness: a SASL `<failure/>` without a defined condition.
    FailureWithoutCondition = "failure-without-condition",
    /// Harness: resource binding failed.
    BindFailed = "bind-failed",
    /// Harness: resource binding was not offered.
    BindNotOffered = "bind-not-offered",
    /// Harness: SASL2 `<authorization-identifier/>` differs from the authenticated account.
    AuthorizationIdentifierMismatch = "authorization-identifier-mismatch",
    /// Harness: a client went on after a wrong SASL2 authorization identifier.
    AcceptedWrongAuthorizationIdentifier = "accepted-wrong-authorization-identifier",
    /// Harness: a client went on after a malformed challenge.
    AcceptedMalformedChallenge = "accepted-malformed-challenge",
    /// Harness: a client went on with a low iteration count.
    AcceptedLowIterationCount = "accepted-low-iteration-count",
    /// Harness: a client went on with an excessive iteration count.
    AcceptedExcessiveIterationCount = "accepted-excessive-iteration-count",
    /// Harness: a client went on after an altered nonce.
    AcceptedAlteredNonce = "accepted-altered-nonce",
    /// Harness: a server accepted a replayed SCRAM client-final.
    AcceptedReplayedClientFinal = "accepted-replayed-client-final",
    /// Harness: nothing listens on the target's port.
    ConnectionRefused = "connection-refused",
    /// Harness: the connection broke.
    ConnectionError = "connection-error",
    /// Harness: a dialback verification was refused.
    DialbackRefused = "dialback-refused",
    /// Harness: no authentication method both servers accept.
    NoCommonAuthentication = "no-common-authentication",
    /// Harness: the case does not apply to this target (`skip`).
    NotApplicable = "not-applicable",
    /// In scenarios and expectations only: any SASL `<failure/>` (RFC 6120 §6.5), with or
    /// without a defined condition, but not a close or a timeout, which are no SASL refusal.
    SaslFailure = "sasl-failure",
}

impl Condition {
    /// The condition with this name, if it is one.
    pub fn from_name(name: &str) -> Option<Condition> {
        Condition::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// The SASL failure conditions of RFC 6120 §6.5, and the harness's name for a `<failure/>`
    /// without one.
    pub const SASL_FAILURES: [Condition; 12] = [
        Condition::Aborted,
        Condition::AccountDisabled,
        Condition::CredentialsExpired,
        Condition::EncryptionRequired,
        Condition::IncorrectEncoding,
        Condition::InvalidAuthzid,
        Condition::InvalidMechanism,
        Condition::MalformedRequest,
        Condition::MechanismTooWeak,
        Condition::NotAuthorized,
        Condition::TemporaryAuthFailure,
        Condition::FailureWithoutCondition,
    ];

    /// Whether an observed condition (as its name) is this one, or one of the group this one
    /// stands for.
    pub fn matches(self, observed: &str) -> bool {
        match self {
            Condition::SaslFailure => Condition::SASL_FAILURES
                .iter()
                .any(|failure| failure.name() == observed),
            condition => condition.name() == observed,
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The condition of a session that ended because the peer sent nothing in time.
pub const TIMEOUT: &str = Condition::Timeout.name();

/// The harness's condition for a peer that does not implement SASL2 (XEP-0388), an optional
/// extension: the verdict is `unsupported`, never `fail`.
pub const SASL2_UNSUPPORTED: &str = Condition::Sasl2Unsupported.name();

/// The harness's condition for a peer that does not implement SCRAM downgrade protection
/// (XEP-0474), an optional extension: the verdict is `unsupported`, never `fail`.
pub const DOWNGRADE_PROTECTION_UNSUPPORTED: &str = Condition::DowngradeProtectionUnsupported.name();

/// The harness's condition for a case that turned out not to apply to this peer (for example a
/// channel-binding downgrade against a server that offers no `-PLUS` mechanism): the verdict is
/// `skip`, never `pass` or `fail`.
pub const NOT_APPLICABLE: &str = Condition::NotApplicable.name();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_condition_name_deserializes_to_its_condition() {
        for &condition in Condition::ALL {
            let parsed: Condition =
                serde_saphyr::from_str(condition.name()).expect("condition name parses");
            assert_eq!(parsed, condition);
            assert_eq!(Condition::from_name(condition.name()), Some(condition));
        }
    }

    #[test]
    fn a_misspelt_condition_is_not_a_condition() {
        assert!(serde_saphyr::from_str::<Condition>("not-authorised").is_err());
        assert_eq!(Condition::from_name("not-authorised"), None);
    }

    #[test]
    fn sasl_failure_stands_for_every_rfc6120_6_5_condition_and_not_for_a_close() {
        assert!(Condition::SaslFailure.matches("not-authorized"));
        assert!(Condition::SaslFailure.matches("malformed-request"));
        assert!(Condition::SaslFailure.matches("failure-without-condition"));
        assert!(!Condition::SaslFailure.matches("closed"));
        assert!(!Condition::SaslFailure.matches("timeout"));
        assert!(Condition::NotAuthorized.matches("not-authorized"));
        assert!(!Condition::NotAuthorized.matches("malformed-request"));
    }
}
