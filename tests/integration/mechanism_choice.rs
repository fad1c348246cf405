//! The harness as server offering SCRAM and PLAIN (RFC 6120 §6.3.3): a client that can do
//! SCRAM must choose it; one that sends PLAIN instead is named for it.

use crate::support::common::{alice_client, run_pair, server};
use xmpp_interop::proto::sasl::ClientOptions;
use xmpp_interop::proto::server::ServerMisbehaviour;
use xmpp_interop::proto::{SessionEnd, Side};
use xmpp_interop::scenario::{Mechanism, Step};

async fn server_view(client_mechanisms: Vec<Mechanism>) -> SessionEnd {
    let client = alice_client(client_mechanisms, ClientOptions::default());
    let mut offering = server(
        vec![Mechanism::ScramSha256, Mechanism::Plain],
        ServerMisbehaviour::default(),
    );
    offering.preferred_mechanism = Some(Mechanism::ScramSha256);
    run_pair(client, offering).await.1
}

#[tokio::test]
async fn a_client_that_sends_plain_while_scram_is_offered_is_refused_rfc6120_6_3_3() {
    match server_view(vec![Mechanism::Plain]).await {
        SessionEnd::Rejected {
            step,
            condition,
            by,
            detail,
        } => {
            assert_eq!(
                (step, condition.as_str(), by),
                (Step::Sasl, "chose-weaker-mechanism", Side::Local)
            );
            assert!(
                detail.contains("chose PLAIN") && detail.contains("SCRAM-SHA-256"),
                "{detail}"
            );
        }
        other => panic!("expected a rejection, got {other}"),
    }
}

#[tokio::test]
async fn a_client_that_can_do_scram_chooses_it_over_plain_and_authenticates() {
    let end = server_view(vec![Mechanism::ScramSha256, Mechanism::Plain]).await;
    assert!(matches!(end, SessionEnd::Authenticated { .. }), "{end}");
}
