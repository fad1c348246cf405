//! The one place where a scenario's [`Misbehaviour`] becomes the protocol switches that commit
//! it: [`ServerMisbehaviour`] for the harness as server, [`ClientMisbehaviour`] for the harness
//! as client.
//!
//! `proto` knows only its switches and nothing of scenarios. A new misbehaviour touches the
//! scenario vocabulary (`scenario::Misbehaviour`), the match in [`switch`] and the protocol
//! behaviour behind the switch.

use crate::proto::sasl::{self, ClientMisbehaviour};
use crate::proto::server::{EXCESSIVE_ITERATION_COUNT, LOW_ITERATION_COUNT, ServerMisbehaviour};
use crate::scenario::Misbehaviour;

/// The user an `authzid-other-user` client names as its authorization identity.
const OTHER_USER: &str = "mallory";

/// Which side's switch a misbehaviour turns on.
enum Switch {
    /// A change to the harness's server side.
    Server(fn(&mut ServerMisbehaviour)),
    /// The harness's client side commits this SASL violation.
    Client(ClientMisbehaviour),
    /// The harness's client names another user as its authorization identity.
    OtherAuthzid,
}

/// The switch that commits `misbehaviour`; exhaustive, so a new misbehaviour must be mapped.
fn switch(misbehaviour: Misbehaviour) -> Switch {
    match misbehaviour {
        Misbehaviour::StripStarttls => Switch::Server(|server| server.strip_starttls = true),
        Misbehaviour::SaslMalformedBase64 => {
            Switch::Server(|server| server.malformed_base64 = true)
        }
        Misbehaviour::ScramWrongServerSignature => Switch::Server(|server| {
            server.sasl = sasl::ServerMisbehaviour::WrongServerSignature;
        }),
        Misbehaviour::ScramAlteredNonce => Switch::Server(|server| {
            server.sasl = sasl::ServerMisbehaviour::AlteredNonce;
        }),
        Misbehaviour::ScramLowIterationCount => Switch::Server(|server| {
            server.sasl = sasl::ServerMisbehaviour::AnnouncedIterations(LOW_ITERATION_COUNT);
        }),
        Misbehaviour::ScramExcessiveIterationCount => Switch::Server(|server| {
            server.sasl = sasl::ServerMisbehaviour::AnnouncedIterations(EXCESSIVE_ITERATION_COUNT);
        }),
        Misbehaviour::ScramSuccessWithoutFinal => Switch::Server(|server| {
            server.sasl = sasl::ServerMisbehaviour::SuccessWithoutFinal;
        }),
        Misbehaviour::Sasl2WrongAuthorizationIdentifier => {
            Switch::Server(|server| server.wrong_authorization_identifier = true)
        }
        Misbehaviour::Xep0474StrippedPlus => {
            Switch::Server(|server| server.strip_plus_from_features = true)
        }
        Misbehaviour::ScramPlusMismatchedBinding => {
            Switch::Server(|server| server.mismatched_binding = true)
        }
        Misbehaviour::ScramWrongProof => Switch::Client(ClientMisbehaviour::WrongProof),
        Misbehaviour::ScramForeignChannelBinding => {
            Switch::Client(ClientMisbehaviour::ForeignChannelBinding)
        }
        Misbehaviour::ScramDowngradeFlag => Switch::Client(ClientMisbehaviour::DowngradeFlag),
        Misbehaviour::ScramReplayedClientFinal => {
            Switch::Client(ClientMisbehaviour::ReplayClientFinal)
        }
        Misbehaviour::ScramUndefinedBindingType => {
            Switch::Client(ClientMisbehaviour::UndefinedBindingType)
        }
        Misbehaviour::AuthzidOtherUser => Switch::OtherAuthzid,
    }
}

/// The server-side violations a case asks for, in the order listed (a later SASL violation
/// replaces an earlier one); client-side ones are ignored.
pub fn server_misbehaviour(misbehave: &[Misbehaviour]) -> ServerMisbehaviour {
    let mut server = ServerMisbehaviour::default();
    for &misbehaviour in misbehave {
        if let Switch::Server(turn_on) = switch(misbehaviour) {
            turn_on(&mut server);
        }
    }
    server
}

/// The client-side SASL violation a case asks for (the last one listed wins); server-side
/// ones are ignored.
pub fn client_misbehaviour(misbehave: &[Misbehaviour]) -> ClientMisbehaviour {
    misbehave
        .iter()
        .rev()
        .find_map(|&misbehaviour| match switch(misbehaviour) {
            Switch::Client(client) => Some(client),
            Switch::Server(_) | Switch::OtherAuthzid => None,
        })
        .unwrap_or_default()
}

/// The authorization identity the harness as client presents instead of its own account's,
/// if the case asks for one (RFC 6120 §6.4.6): another user of `domain`.
pub fn client_authzid(misbehave: &[Misbehaviour], domain: &str) -> Option<String> {
    misbehave
        .iter()
        .any(|&misbehaviour| matches!(switch(misbehaviour), Switch::OtherAuthzid))
        .then(|| format!("{OTHER_USER}@{domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_misbehaviour_switches_the_side_its_scenario_role_names() {
        use crate::scenario::Role;
        use crate::scenario::keyword::Keyword as _;
        for &misbehaviour in <Misbehaviour as crate::scenario::keyword::Keyword>::ALL {
            let side = match switch(misbehaviour) {
                Switch::Server(_) => Role::Server,
                Switch::Client(_) | Switch::OtherAuthzid => Role::Client,
            };
            assert_eq!(side, misbehaviour.role(), "{}", misbehaviour.keyword());
        }
    }

    #[test]
    fn the_last_sasl_violation_listed_wins_on_either_side() {
        let server = server_misbehaviour(&[
            Misbehaviour::ScramAlteredNonce,
            Misbehaviour::StripStarttls,
            Misbehaviour::ScramWrongServerSignature,
            Misbehaviour::ScramWrongProof,
        ]);
        assert_eq!(
            server,
            ServerMisbehaviour {
                strip_starttls: true,
                sasl: sasl::ServerMisbehaviour::WrongServerSignature,
                ..ServerMisbehaviour::default()
            }
        );
        let client = client_misbehaviour(&[
            Misbehaviour::ScramWrongProof,
            Misbehaviour::StripStarttls,
            Misbehaviour::ScramDowngradeFlag,
        ]);
        assert_eq!(client, ClientMisbehaviour::DowngradeFlag);
        assert_eq!(
            client_misbehaviour(&[Misbehaviour::AuthzidOtherUser]),
            ClientMisbehaviour::None
        );
        assert_eq!(
            client_authzid(&[Misbehaviour::AuthzidOtherUser], "example.test").as_deref(),
            Some("mallory@example.test")
        );
        assert_eq!(
            client_authzid(&[Misbehaviour::ScramWrongProof], "example.test"),
            None
        );
    }
}
