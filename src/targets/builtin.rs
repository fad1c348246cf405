//! The built-in server and client, run as tasks of the harness's own runtime.
//!
//! Each case gets its own instance: the server listens on an ephemeral port of 127.0.0.1 and
//! serves exactly one connection; the client connects once to the address it is given. Both are
//! stopped when their handle is finished or dropped, so a case never leaves a task behind.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{
    ACCOUNT_USERNAME, BUILTIN_DOMAIN, BoxFuture, BuiltinFeatures, BuiltinTls, CaseContext,
    ClientTarget, Endpoint, HarnessServerSide, Provision, ServerTarget, profile_name,
};
use crate::drive::{self, Transcript};
use crate::error::HarnessError;
use crate::proto::client::ClientConfig;
use crate::proto::sasl::{ClientOptions, CredentialStore};
use crate::proto::server::{ServerConfig, ServerMisbehaviour};
use crate::proto::xml::Limits;
use crate::proto::{Direction, SessionEnd, Side};
use crate::scenario::{CaseSpec, SaslProfile, Step, TIMEOUT, Transport};
use crate::transport::TlsSetup;

/// A built-in server serving one connection.
pub struct RunningServer {
    /// Where it listens.
    pub address: SocketAddr,
    task: JoinHandle<()>,
    transcript: Transcript,
}

impl RunningServer {
    /// Starts the conforming built-in server: STARTTLS required before any SASL mechanism is
    /// offered (or direct TLS); after TLS the mechanisms of `features` (by default every one it
    /// can run), over RFC 6120 SASL and, unless `features` leaves it out, SASL2 (XEP-0388), with
    /// the XEP-0474 downgrade protection hash in SCRAM server-first messages unless left out.
    pub async fn start(
        transport: Transport,
        features: &BuiltinFeatures,
        tls: TlsSetup,
        accounts: Arc<CredentialStore>,
        timeout: Duration,
        transcript: Transcript,
    ) -> Result<RunningServer, HarnessError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| HarnessError::io("built-in server cannot listen on 127.0.0.1", e))?;
        let address = listener
            .local_addr()
            .map_err(|e| HarnessError::io("built-in server has no local address", e))?;
        let config = ServerConfig {
            domain: BUILTIN_DOMAIN.to_owned(),
            starttls_available: transport != Transport::DirectTls,
            mechanisms: features.mechanisms.clone(),
            preferred_mechanism: None,
            accounts,
            misbehaviour: ServerMisbehaviour::default(),
            limits: Limits::default(),
            offer_sasl2: features.sasl2,
            expect_sasl2: false,
            downgrade_protection: features.downgrade_protection,
        };
        let own_view = transcript.clone();
        let task = tokio::spawn(async move {
            let accepted = tokio::time::timeout(timeout, listener.accept()).await;
            let Ok(Ok((tcp, _))) = accepted else {
                own_view.record(Direction::Note, "no client connected");
                return;
            };
            let direct_tls = transport == Transport::DirectTls;
            report(
                &own_view,
                drive::respond(tcp, config, &tls, direct_tls, timeout, &own_view).await,
            );
        });
        Ok(RunningServer {
            address,
            task,
            transcript,
        })
    }

    /// Waits (briefly) for the server to finish its connection, then stops it.
    pub async fn finish(mut self) {
        settle(&mut self.task, &self.transcript).await;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the built-in client is told to do.
pub struct ClientOrders {
    /// How to secure the connection.
    pub transport: Transport,
    /// The password to present (the real one, or a wrong one for negative cases).
    pub password: String,
    /// TLS settings: the one root it trusts and the domain it expects.
    pub tls: TlsSetup,
    /// What it implements.
    pub features: BuiltinFeatures,
}

/// A built-in client making one connection.
pub struct RunningClient {
    task: JoinHandle<()>,
    transcript: Transcript,
}

impl RunningClient {
    /// Starts the conforming built-in client against `address`: it requires TLS, verifies the
    /// certificate, prefers the strongest mechanism offered of those its features allow, uses
    /// SASL2 (XEP-0388) when the server offers it (unless left out), checks the SCRAM server
    /// signature and a XEP-0474 hash when one comes (unless left out).
    pub fn start(
        address: SocketAddr,
        orders: ClientOrders,
        timeout: Duration,
        transcript: Transcript,
    ) -> RunningClient {
        let config = ClientConfig {
            domain: BUILTIN_DOMAIN.to_owned(),
            transport: orders.transport,
            mechanisms: orders.features.mechanisms.clone(),
            username: ACCOUNT_USERNAME.to_owned(),
            password: orders.password,
            authzid: None,
            channel_binding: None,
            sasl_options: ClientOptions {
                ignore_downgrade_protection: !orders.features.downgrade_protection,
                ..ClientOptions::default()
            },
            require_tls: true,
            limits: Limits::default(),
            sasl_profile: (!orders.features.sasl2).then_some(SaslProfile::Sasl1),
            errand: crate::proto::client::Errand::None,
        };
        let own_view = transcript.clone();
        let task = tokio::spawn(async move {
            report(
                &own_view,
                drive::initiate(address, config, &orders.tls, timeout, &own_view).await,
            );
        });
        RunningClient { task, transcript }
    }

    /// Waits (briefly) for the client to finish, then stops it.
    pub async fn finish(mut self) {
        settle(&mut self.task, &self.transcript).await;
    }
}

impl Drop for RunningClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How long a built-in target may take to wrap up after the harness's side is done.
const SETTLE: Duration = Duration::from_secs(2);

pub(super) async fn settle(task: &mut JoinHandle<()>, transcript: &Transcript) {
    if tokio::time::timeout(SETTLE, &mut *task).await.is_err() {
        transcript.record(
            Direction::Note,
            "still running after the harness finished: stopped",
        );
        task.abort();
    }
}

pub(super) fn report(transcript: &Transcript, result: Result<SessionEnd, HarnessError>) {
    let text = match result {
        Ok(end) => format!("own view of the outcome: {end}"),
        Err(e) => format!("broke: {e}"),
    };
    transcript.record(Direction::Note, text);
}

/// The built-in server as a target: a fresh [`RunningServer`] per case, presenting the case's
/// chain for [`BUILTIN_DOMAIN`].
#[derive(Clone, Debug, Default)]
pub struct BuiltinServer {
    /// What it implements.
    pub features: BuiltinFeatures,
}

impl ServerTarget for BuiltinServer {
    fn provision<'a>(
        &'a self,
        name: &'a str,
        case: &'a CaseSpec,
        context: CaseContext<'a>,
    ) -> BoxFuture<'a, Result<Provision, HarnessError>> {
        Box::pin(async move {
            let tls = BuiltinTls::for_case(case, context.catalogue)?;
            context.transcript.record(
                Direction::Note,
                format!(
                    "{name} presents {} ({} certificates)",
                    profile_name(&tls.chain),
                    tls.chain.presented.len()
                ),
            );
            let server = RunningServer::start(
                case.transport,
                &self.features,
                tls.server,
                Arc::clone(context.accounts),
                context.timeout,
                context.transcript.as_participant(name),
            )
            .await?;
            Ok(Provision::Ready {
                endpoint: Endpoint {
                    address: server.address,
                    domain: BUILTIN_DOMAIN.to_owned(),
                    username: ACCOUNT_USERNAME.to_owned(),
                    password: context.password.to_owned(),
                    chain_root: tls.chain.root.clone(),
                },
                lease: Box::new(server),
            })
        })
    }

    fn is_builtin(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl super::ServerLease for RunningServer {
    fn stop<'a>(
        self: Box<Self>,
        _ended: &'a Result<SessionEnd, HarnessError>,
        _transcript: &'a Transcript,
    ) -> BoxFuture<'a, ()> {
        Box::pin(self.finish())
    }
}

/// The built-in client as a target: a fresh [`RunningClient`] per case, trusting the root the
/// case names.
#[derive(Clone, Debug, Default)]
pub struct BuiltinClient {
    /// What it implements.
    pub features: BuiltinFeatures,
}

impl ClientTarget for BuiltinClient {
    fn meet<'a>(
        &'a self,
        name: &'a str,
        case: &'a CaseSpec,
        side: HarnessServerSide<'a>,
        context: CaseContext<'a>,
    ) -> BoxFuture<'a, Result<SessionEnd, HarnessError>> {
        Box::pin(async move {
            let client = RunningClient::start(
                side.address,
                ClientOrders {
                    transport: case.transport,
                    password: side.password,
                    tls: side.client_tls,
                    features: self.features.clone(),
                },
                context.timeout,
                context.transcript.as_participant(name),
            );
            let tcp = match tokio::time::timeout(context.timeout, side.listener.accept()).await {
                Ok(Ok((tcp, _))) => tcp,
                Ok(Err(e)) => {
                    return Err(HarnessError::io(
                        "accepting the client's connection failed",
                        e,
                    ));
                }
                Err(_) => {
                    client.finish().await;
                    return Ok(SessionEnd::Rejected {
                        step: Step::Connect,
                        condition: TIMEOUT.into(),
                        by: Side::Peer,
                        detail: format!("the client did not connect within {:?}", context.timeout),
                    });
                }
            };
            let end = drive::respond(
                tcp,
                side.config,
                side.server_tls,
                side.direct_tls,
                context.timeout,
                context.transcript,
            )
            .await;
            client.finish().await;
            end
        })
    }

    fn is_builtin(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
