//! SASL2 (XEP-0388) and SCRAM downgrade protection (XEP-0474) end to end over loopback: the
//! built-in client against the built-in server, and each side catching the other's deliberate
//! violations, and the built-in server refusing a replayed or wrongly bound SCRAM proof.

use crate::support::common::{alice_client, run_pair, server};
use xmpp_interop::drive::misbehaviour::server_misbehaviour;
use xmpp_interop::proto::sasl::{ClientMisbehaviour, ClientOptions};
use xmpp_interop::proto::server::ServerMisbehaviour;
use xmpp_interop::proto::{SessionEnd, Side};
use xmpp_interop::scenario::{Mechanism, Misbehaviour, SASL2_UNSUPPORTED, SaslProfile, Step};

fn rejection(end: &SessionEnd) -> (&str, Side, Step) {
    match end {
        SessionEnd::Rejected {
            condition,
            by,
            step,
            ..
        } => (condition, *by, *step),
        other => panic!("not rejected: {other}"),
    }
}

#[tokio::test]
async fn scram_plus_over_sasl2_binds_on_the_same_stream_xep0388_2_6_1() {
    let mut client = alice_client(vec![Mechanism::ScramSha256Plus], ClientOptions::default());
    client.sasl_profile = Some(SaslProfile::Sasl2);
    let mut server = server(
        vec![Mechanism::ScramSha256Plus],
        ServerMisbehaviour::default(),
    );
    server.offer_sasl2 = true;
    server.expect_sasl2 = true;
    server.downgrade_protection = true;
    let (client_end, server_end) = run_pair(client, server).await;
    let expected = SessionEnd::Authenticated {
        jid: "alice@interop.test/xmpp-interop".into(),
    };
    assert_eq!(client_end, expected);
    assert_eq!(server_end, expected);
}

#[tokio::test]
async fn a_client_catches_a_success_naming_another_account_xep0388_2_6_1() {
    let client = alice_client(vec![Mechanism::ScramSha256], ClientOptions::default());
    let mut server = server(
        vec![Mechanism::ScramSha256],
        server_misbehaviour(&[Misbehaviour::Sasl2WrongAuthorizationIdentifier]),
    );
    server.offer_sasl2 = true;
    let (client_end, server_end) = run_pair(client, server).await;
    assert_eq!(
        rejection(&client_end),
        ("authorization-identifier-mismatch", Side::Local, Step::Sasl)
    );
    assert_eq!(rejection(&server_end), ("closed", Side::Peer, Step::Sasl));
}

#[tokio::test]
async fn a_client_that_keeps_to_rfc6120_sasl_makes_a_sasl2_case_unsupported_xep0388_2_1() {
    let mut client = alice_client(vec![Mechanism::ScramSha256], ClientOptions::default());
    client.sasl_profile = Some(SaslProfile::Sasl1);
    let mut server = server(vec![Mechanism::ScramSha256], ServerMisbehaviour::default());
    server.offer_sasl2 = true;
    server.expect_sasl2 = true;
    let (_, server_end) = run_pair(client, server).await;
    assert_eq!(rejection(&server_end).0, SASL2_UNSUPPORTED);
}

#[tokio::test]
async fn a_client_detects_plus_stripped_from_the_features_by_the_hash_xep0474_4() {
    let client = alice_client(vec![Mechanism::ScramSha256], ClientOptions::default());
    let mut server = server(
        vec![Mechanism::ScramSha256],
        server_misbehaviour(&[Misbehaviour::Xep0474StrippedPlus]),
    );
    server.downgrade_protection = true;
    let (client_end, server_end) = run_pair(client, server).await;
    assert_eq!(
        rejection(&client_end),
        ("downgrade-detected", Side::Local, Step::Sasl)
    );
    assert_eq!(rejection(&server_end), ("aborted", Side::Peer, Step::Sasl));
}

#[tokio::test]
async fn an_honest_hash_authenticates_over_both_profiles_xep0474_3() {
    for profile in [SaslProfile::Sasl1, SaslProfile::Sasl2] {
        let mut client = alice_client(
            vec![Mechanism::ScramSha512Plus, Mechanism::ScramSha1],
            ClientOptions {
                require_downgrade_protection: true,
                ..ClientOptions::default()
            },
        );
        client.sasl_profile = Some(profile);
        let mut server = server(
            vec![Mechanism::ScramSha512Plus, Mechanism::ScramSha1],
            ServerMisbehaviour::default(),
        );
        server.offer_sasl2 = true;
        server.downgrade_protection = true;
        let (client_end, _) = run_pair(client, server).await;
        assert!(
            matches!(client_end, SessionEnd::Authenticated { .. }),
            "{profile:?}: {client_end}"
        );
    }
}

#[tokio::test]
async fn the_builtin_server_refuses_a_replayed_client_final_rfc5802_9() {
    let client = alice_client(
        vec![Mechanism::ScramSha256],
        ClientOptions {
            misbehaviour: ClientMisbehaviour::ReplayClientFinal,
            ..ClientOptions::default()
        },
    );
    let server = server(vec![Mechanism::ScramSha256], ServerMisbehaviour::default());
    let (client_end, _) = run_pair(client, server).await;
    assert_eq!(
        rejection(&client_end),
        ("not-authorized", Side::Peer, Step::Sasl)
    );
}

#[tokio::test]
async fn the_builtin_server_refuses_tls_unique_on_tls_1_3_rfc9266_3() {
    let client = alice_client(
        vec![Mechanism::ScramSha256Plus],
        ClientOptions {
            misbehaviour: ClientMisbehaviour::UndefinedBindingType,
            ..ClientOptions::default()
        },
    );
    let server = server(
        vec![Mechanism::ScramSha256Plus],
        ServerMisbehaviour::default(),
    );
    let (client_end, server_end) = run_pair(client, server).await;
    assert_eq!(
        rejection(&client_end),
        ("not-authorized", Side::Peer, Step::Sasl)
    );
    let SessionEnd::Rejected { detail, .. } = server_end else {
        panic!("the server authenticated");
    };
    assert!(
        detail.contains("\"tls-unique\" is not available"),
        "{detail}"
    );
}
