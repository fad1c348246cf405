//! The built-in server's server-to-server side, run as tasks of the harness's own runtime: a
//! receiving server that serves one stream, an originating server that opens one, and the
//! authoritative server of a domain answering `<db:verify/>` (XEP-0220 §2.1.2).
//!
//! The built-in receiving server requires TLS, offers EXTERNAL exactly when the originating
//! server's certificate chain verified and names the claimed domain (RFC 6120 §13.7.1.2,
//! `_xmpp-server` SRV-IDs only), and otherwise offers dialback unless the case's policy is
//! `require-certificate`. The built-in originating server uses EXTERNAL when offered and it has
//! a certificate, dialback otherwise, with XEP-0185 keys from a fresh secret. Every task stops
//! when its handle is finished or dropped.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::drive::Transcript;
use crate::drive::s2s::{self, Authorities};
use crate::error::HarnessError;
use crate::proto::Direction;
use crate::proto::s2s::authority::AuthorityConfig;
use crate::proto::s2s::dialback::DialbackSecret;
use crate::proto::s2s::originating::OriginatingConfig;
use crate::proto::s2s::receiving::ReceivingConfig;
use crate::proto::xml::Limits;
use crate::scenario::{S2sPolicy, Transport};
use crate::transport::TlsSetup;

async fn listen(what: &str) -> Result<(TcpListener, SocketAddr), HarnessError> {
    listen_on(what, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
}

/// How long a fixed address may stay taken by the previous case's listener, whose task ends
/// a moment after its case.
const FIXED_ADDRESS_RELEASE: Duration = Duration::from_secs(5);

/// Listens on `address` for `what`. A fixed port that is in use is tried again for a few
/// seconds: the previous case of this run may not have closed its listener yet.
pub async fn listen_on(
    what: &str,
    address: SocketAddr,
) -> Result<(TcpListener, SocketAddr), HarnessError> {
    let started = std::time::Instant::now();
    let listener = loop {
        match TcpListener::bind(address).await {
            Ok(listener) => break listener,
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && address.port() != 0
                    && started.elapsed() < FIXED_ADDRESS_RELEASE =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                return Err(HarnessError::io(
                    format!("{what} cannot listen on {address}"),
                    e,
                ));
            }
        }
    };
    let address = listener
        .local_addr()
        .map_err(|e| HarnessError::io(format!("{what} has no local address"), e))?;
    Ok((listener, address))
}

/// The authoritative server of one domain, answering verifications until stopped.
pub struct RunningAuthority {
    /// Where it listens.
    pub address: SocketAddr,
    task: JoinHandle<()>,
}

impl RunningAuthority {
    /// Starts the authoritative server for `config.domain` on a free port of 127.0.0.1, or on
    /// `address` when given. `tls` is the hosting server's TLS setup.
    pub async fn start(
        config: AuthorityConfig,
        address: Option<SocketAddr>,
        tls: TlsSetup,
        timeout: Duration,
        transcript: Transcript,
    ) -> Result<RunningAuthority, HarnessError> {
        let what = format!("the authoritative server of {}", config.domain);
        let (listener, address) = match address {
            Some(address) => listen_on(&what, address).await?,
            None => listen(&what).await?,
        };
        transcript.record(Direction::Note, format!("{what} listens on {address}"));
        let task = tokio::spawn(s2s::serve_authority(
            listener, config, tls, timeout, transcript,
        ));
        Ok(RunningAuthority { address, task })
    }
}

impl Drop for RunningAuthority {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A built-in receiving server serving one server-to-server connection.
pub struct RunningReceiver {
    /// Where it listens.
    pub address: SocketAddr,
    task: JoinHandle<()>,
    transcript: Transcript,
}

impl RunningReceiver {
    /// Starts the receiving server for `domain` with `policy`; dialback keys are checked with
    /// `authorities`.
    pub async fn start(
        domain: &str,
        transport: Transport,
        policy: S2sPolicy,
        tls: TlsSetup,
        authorities: Authorities,
        timeout: Duration,
        transcript: Transcript,
    ) -> Result<RunningReceiver, HarnessError> {
        let (listener, address) = listen("the built-in receiving server").await?;
        let config = ReceivingConfig {
            authority: None,
            local_domain: domain.to_owned(),
            starttls_available: transport != Transport::DirectTls,
            policy,
            limits: Limits::default(),
        };
        let own_view = transcript.clone();
        let task = tokio::spawn(async move {
            let accepted = tokio::time::timeout(timeout, listener.accept()).await;
            let Ok(Ok((tcp, _))) = accepted else {
                own_view.record(Direction::Note, "no originating server connected");
                return;
            };
            let direct_tls = transport == Transport::DirectTls;
            let end = s2s::receive(
                tcp,
                config,
                &tls,
                direct_tls,
                &authorities,
                timeout,
                &own_view,
            )
            .await;
            super::builtin::report(&own_view, end);
        });
        Ok(RunningReceiver {
            address,
            task,
            transcript,
        })
    }

    /// Waits (briefly) for the server to finish its connection, then stops it.
    pub async fn finish(mut self) {
        super::builtin::settle(&mut self.task, &self.transcript).await;
    }
}

impl Drop for RunningReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A built-in originating server making one server-to-server connection, with the
/// authoritative server of its domain running beside it.
pub struct RunningOriginator {
    /// Where its authoritative server listens.
    pub authority: SocketAddr,
    task: JoinHandle<()>,
    _authority: RunningAuthority,
    transcript: Transcript,
}

/// What the built-in originating server is told to do.
pub struct OriginatorOrders {
    /// Its own domain.
    pub local_domain: String,
    /// The domain it connects to.
    pub remote_domain: String,
    /// STARTTLS or direct TLS.
    pub transport: Transport,
    /// TLS: the root it trusts for the receiving server and its own certificate, if any.
    pub tls: TlsSetup,
}

impl RunningOriginator {
    /// Starts the authoritative server, then a task that connects to `address` once the
    /// caller is listening there.
    pub async fn start(
        address: SocketAddr,
        orders: OriginatorOrders,
        timeout: Duration,
        transcript: Transcript,
    ) -> Result<RunningOriginator, HarnessError> {
        let secret = DialbackSecret::random();
        let authority = RunningAuthority::start(
            AuthorityConfig {
                domain: orders.local_domain.clone(),
                secret: secret.clone(),
                always_invalid: false,
                offer_starttls: false,
                limits: Limits::default(),
            },
            None,
            orders.tls.clone(),
            timeout,
            transcript.clone(),
        )
        .await?;
        let has_certificate = matches!(
            &orders.tls,
            TlsSetup::S2sOriginating {
                certificate: Some(_),
                ..
            }
        );
        let config = OriginatingConfig {
            local_domain: orders.local_domain,
            remote_domain: orders.remote_domain,
            transport: orders.transport,
            has_certificate,
            dialback: Some(secret),
            wrong_dialback_key: false,
            limits: Limits::default(),
        };
        let own_view = transcript.clone();
        let tls = orders.tls;
        let task = tokio::spawn(async move {
            let end = s2s::originate(address, config, &tls, timeout, &own_view).await;
            super::builtin::report(&own_view, end);
        });
        Ok(RunningOriginator {
            authority: authority.address,
            task,
            _authority: authority,
            transcript,
        })
    }

    /// Waits (briefly) for the server to finish, then stops it and its authoritative server.
    pub async fn finish(mut self) {
        super::builtin::settle(&mut self.task, &self.transcript).await;
    }
}

impl Drop for RunningOriginator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
