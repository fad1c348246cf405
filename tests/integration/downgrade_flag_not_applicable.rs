//! RFC 5802 §6: the GS2 flag `y` is a downgrade only when the server did offer channel
//! binding. Against a server that offers no `-PLUS` mechanism, `y` is the truth and accepting
//! it is right, so the harness ends the downgrade case as not applicable instead of failing a
//! conforming server (Prosody on TLS 1.3 is such a server).

use crate::support::common::{alice_client, run_pair, server};
use xmpp_interop::proto::sasl::{ClientMisbehaviour, ClientOptions};
use xmpp_interop::proto::server::ServerMisbehaviour;
use xmpp_interop::proto::{SessionEnd, Side};
use xmpp_interop::scenario::{Mechanism, NOT_APPLICABLE, Step};

/// The harness client's view of a downgrade-flag exchange with a server offering `mechanisms`.
async fn downgrade_client_view(mechanisms: Vec<Mechanism>) -> SessionEnd {
    let options = ClientOptions {
        misbehaviour: ClientMisbehaviour::DowngradeFlag,
        ..ClientOptions::default()
    };
    let client = alice_client(vec![Mechanism::ScramSha256], options);
    run_pair(client, server(mechanisms, ServerMisbehaviour::default()))
        .await
        .0
}

#[tokio::test]
async fn the_downgrade_flag_case_is_not_applicable_without_a_plus_offer_rfc5802_6() {
    let end = downgrade_client_view(vec![Mechanism::ScramSha256]).await;
    let SessionEnd::Rejected {
        step,
        condition,
        by,
        detail,
    } = end
    else {
        panic!("authenticated: {end:?}");
    };
    assert_eq!(
        (step, condition.as_str(), by),
        (Step::Sasl, NOT_APPLICABLE, Side::Local)
    );
    assert!(detail.contains("no -PLUS"), "{detail}");
}

#[tokio::test]
async fn the_downgrade_flag_is_sent_and_refused_when_plus_is_offered_rfc5802_6() {
    let end = downgrade_client_view(vec![Mechanism::ScramSha256, Mechanism::ScramSha256Plus]).await;
    let SessionEnd::Rejected { condition, by, .. } = end else {
        panic!("authenticated: {end:?}");
    };
    assert_eq!((condition.as_str(), by), ("not-authorized", Side::Peer));
}
