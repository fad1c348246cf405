//! The harness as server must tell a careless client from a careful one: a client that accepts
//! what RFC 5802 / RFC 7677 tell it to refuse gets a verdict naming what it accepted.

use crate::support::common::{alice_client, run_pair, server};
use xmpp_interop::drive::misbehaviour::server_misbehaviour;
use xmpp_interop::proto::sasl::ClientOptions;
use xmpp_interop::proto::{SessionEnd, Side};
use xmpp_interop::scenario::{Mechanism, Misbehaviour, Step};

/// Runs a harness server with `misbehave` against a client with `options`; returns the
/// server's view.
async fn server_view(misbehave: &[Misbehaviour], options: ClientOptions) -> SessionEnd {
    let client = alice_client(vec![Mechanism::ScramSha256], options);
    let server = server(vec![Mechanism::ScramSha256], server_misbehaviour(misbehave));
    run_pair(client, server).await.1
}

fn condition_of(end: &SessionEnd) -> (&str, Side, Step) {
    match end {
        SessionEnd::Rejected {
            condition,
            by,
            step,
            ..
        } => (condition, *by, *step),
        other => panic!("expected a rejection, got {other}"),
    }
}

#[tokio::test]
async fn a_client_that_accepts_1024_iterations_is_named_for_it_rfc7677_4() {
    let lax = ClientOptions {
        min_iterations: 1,
        ..ClientOptions::default()
    };
    let end = server_view(&[Misbehaviour::ScramLowIterationCount], lax).await;
    assert_eq!(
        condition_of(&end),
        ("accepted-low-iteration-count", Side::Local, Step::Sasl)
    );
}

#[tokio::test]
async fn a_careful_client_aborts_on_1024_iterations_rfc7677_4() {
    let end = server_view(
        &[Misbehaviour::ScramLowIterationCount],
        ClientOptions::default(),
    )
    .await;
    assert_eq!(condition_of(&end), ("aborted", Side::Peer, Step::Sasl));
}
