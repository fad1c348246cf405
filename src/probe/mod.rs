//! `xmpp-interop probe DOMAIN`: judge a deployed XMPP service by its name, with no account.
//!
//! For each endpoint discovery found (client and server side, STARTTLS and direct TLS), the
//! probe gathers facts over a bounded number of sequential connections ([`facts`]: stream
//! features before and after TLS, TLS versions and forbidden suite classes accepted, the chain
//! and the XMPP identity check ([`chain`])), turns every fact that breaks a clause into a
//! finding with its level, clause text and a fix ([`findings`]), grades the whole, and renders
//! JSON, HTML and Markdown ([`render`]). It never attempts a login, unless given an account
//! ([`account`]): then the c2s scenarios run against the endpoints found.

pub mod account;
pub mod chain;
pub mod dane;
pub mod facts;
pub mod findings;
pub mod handshake;
pub mod render;

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use crate::discovery::{self, Discovery, DiscoveryError};
use crate::pki::Service;

pub use chain::Trust;
pub use facts::{EndpointFacts, MAX_CONNECTIONS};
pub use findings::{Finding, Grade};

/// Client-to-server or server-to-server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeService {
    /// `_xmpp-client` / `_xmpps-client`.
    C2s,
    /// `_xmpp-server` / `_xmpps-server`.
    S2s,
}

impl ProbeService {
    /// The identity service for SRV-IDs.
    pub fn pki(self) -> Service {
        match self {
            ProbeService::C2s => Service::Client,
            ProbeService::S2s => Service::Server,
        }
    }

    /// The ALPN protocol of XEP-0368 for direct TLS.
    pub fn alpn(self) -> &'static str {
        match self {
            ProbeService::C2s => "xmpp-client",
            ProbeService::S2s => "xmpp-server",
        }
    }

    /// `c2s` or `s2s`.
    pub fn label(self) -> &'static str {
        match self {
            ProbeService::C2s => "c2s",
            ProbeService::S2s => "s2s",
        }
    }
}

/// One place to connect to: a service, STARTTLS or direct TLS, a host name and port and one of
/// its addresses, and where discovery found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndpointUnderTest {
    /// c2s or s2s.
    pub service: ProbeService,
    /// Direct TLS (XEP-0368) rather than STARTTLS.
    pub direct_tls: bool,
    /// The host name (the SRV target, or the domain itself on the fallback).
    pub host: String,
    /// The port.
    pub port: u16,
    /// The address connected to.
    pub address: SocketAddr,
    /// Where discovery found it, e.g. `SRV _xmpp-client._tcp.example.org priority 0 weight 5`.
    pub origin: String,
    /// The TLSA records at `_PORT._tcp.HOST` (RFC 7673 §3), matched against the chain served.
    #[serde(skip)]
    pub tlsa: Vec<discovery::TlsaRecord>,
}

impl EndpointUnderTest {
    /// e.g. `c2s starttls xmpp.example.org:5222 (192.0.2.1:5222)`.
    pub fn label(&self) -> String {
        format!(
            "{} {} {}:{} ({})",
            self.service.label(),
            if self.direct_tls {
                "direct-tls"
            } else {
                "starttls"
            },
            self.host,
            self.port,
            self.address
        )
    }
}

impl From<&discovery::Endpoint> for EndpointUnderTest {
    fn from(endpoint: &discovery::Endpoint) -> EndpointUnderTest {
        EndpointUnderTest {
            service: match endpoint.service {
                discovery::Service::Client => ProbeService::C2s,
                discovery::Service::Server => ProbeService::S2s,
            },
            direct_tls: endpoint.tls == discovery::Tls::Direct,
            host: endpoint.host.clone(),
            port: endpoint.port,
            address: endpoint.address,
            origin: match &endpoint.origin {
                discovery::Origin::Srv {
                    name,
                    priority,
                    weight,
                } => format!("SRV {name} priority {priority} weight {weight}"),
                discovery::Origin::Fallback => {
                    "fallback to the domain's A/AAAA (RFC 6120 §3.2.2)".into()
                }
            },
            tlsa: Vec::new(),
        }
    }
}

/// What discovery said, one line each: the DNS facts, then the TLSA records (RFC 7673;
/// reported, not judged).
pub fn dns_lines(discovery: &Discovery) -> Vec<String> {
    discovery
        .facts
        .iter()
        .map(ToString::to_string)
        .chain(discovery.tlsa.iter().map(|tlsa| {
            format!(
                "TLSA {} usage {} selector {} matching {} data {}",
                tlsa.name,
                tlsa.usage,
                tlsa.selector,
                tlsa.matching,
                tlsa.data
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )
        }))
        .collect()
}

/// Discovers `domain`'s endpoints for `services` (through `resolver` when given) and probes
/// each; an error only when DNS gave no answer at all.
pub async fn probe_domain(
    domain: &str,
    services: &[discovery::Service],
    resolver: Option<SocketAddr>,
    trust: &Trust,
    limit: Duration,
    progress: impl FnMut(&EndpointUnderTest),
) -> Result<ProbeReport, DiscoveryError> {
    let started = std::time::Instant::now();
    let found = discovery::discover(domain, services, resolver).await?;
    let endpoints: Vec<EndpointUnderTest> = found
        .endpoints
        .iter()
        .map(|endpoint| {
            let owner = format!("_{}._tcp.{}", endpoint.port, endpoint.host);
            EndpointUnderTest {
                tlsa: found
                    .tlsa
                    .iter()
                    .filter(|record| {
                        record
                            .name
                            .trim_end_matches('.')
                            .eq_ignore_ascii_case(&owner)
                    })
                    .cloned()
                    .collect(),
                ..EndpointUnderTest::from(endpoint)
            }
        })
        .collect();
    let mut report = probe_endpoints(
        &found.domain,
        &endpoints,
        dns_lines(&found),
        trust,
        limit,
        progress,
    )
    .await;
    // Discovery included.
    report.duration_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// One endpoint's facts and findings.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointReport {
    /// What was learnt.
    pub facts: EndpointFacts,
    /// The clauses broken, heaviest first.
    pub findings: Vec<Finding>,
}

/// The whole probe.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The schema's name and version: `xmpp-interop-probe/1`.
    pub format: &'static str,
    /// The domain probed.
    pub domain: String,
    /// When the probe started (RFC 3339).
    pub started_at: String,
    /// How long it took, in seconds (DNS discovery included).
    pub duration_seconds: f64,
    /// What DNS said, one line each (records found, records missing, TLSA).
    pub dns: Vec<String>,
    /// The roots the chains were checked against.
    pub trust: String,
    /// The most connections opened to any one endpoint.
    pub max_connections_per_endpoint: u32,
    /// Per endpoint.
    pub endpoints: Vec<EndpointReport>,
    /// `A`, `B` or `F` (see the README's grade rules).
    pub grade: Grade,
    /// Findings per level: MUST broken, SHOULD not followed.
    pub must_broken: usize,
    /// SHOULD findings.
    pub should_not_followed: usize,
    /// Endpoints the probe could not finish (unreachable, or stopped before everything was
    /// learnt; `stopped` says where): the grade covers only what was seen.
    pub not_fully_probed: usize,
    /// With `--account`: the c2s scenarios run against the endpoints found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenarios: Option<account::ScenarioSummary>,
}

impl ProbeReport {
    /// Whether any endpoint could be reached at all.
    pub fn any_reachable(&self) -> bool {
        self.endpoints.iter().any(|e| e.facts.reachable)
    }
}

/// Probes `endpoints` of `domain` one after the other, calling `progress` before each.
pub async fn probe_endpoints(
    domain: &str,
    endpoints: &[EndpointUnderTest],
    dns: Vec<String>,
    trust: &Trust,
    limit: Duration,
    mut progress: impl FnMut(&EndpointUnderTest),
) -> ProbeReport {
    let started = std::time::Instant::now();
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut reports = Vec::new();
    for endpoint in endpoints {
        progress(endpoint);
        let facts = facts::gather(endpoint, domain, trust, limit).await;
        let findings = findings::judge(&facts);
        reports.push(EndpointReport { facts, findings });
    }
    let all: Vec<Finding> = reports
        .iter()
        .flat_map(|r| r.findings.iter().cloned())
        .collect();
    ProbeReport {
        format: "xmpp-interop-probe/1",
        domain: domain.to_owned(),
        started_at,
        duration_seconds: started.elapsed().as_secs_f64(),
        dns,
        trust: trust.source.clone(),
        max_connections_per_endpoint: MAX_CONNECTIONS,
        grade: Grade::of(&all),
        must_broken: all.iter().filter(|f| f.level.is_absolute()).count(),
        should_not_followed: all.iter().filter(|f| !f.level.is_absolute()).count(),
        not_fully_probed: reports.iter().filter(|r| r.facts.stopped.is_some()).count(),
        scenarios: None,
        endpoints: reports,
    }
}
