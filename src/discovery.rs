//! DNS discovery of an XMPP service from its domain name alone: the endpoints a client or a
//! peer server must try, in the order it must try them, the DANE TLSA records of the SRV
//! targets, and the facts of the DNS data worth telling an operator.
//!
//! The rules, from the texts:
//!
//! - **SRV first** (RFC 6120 §3.2.1): `_xmpp-client._tcp.DOMAIN` for client-to-server,
//!   `_xmpp-server._tcp.DOMAIN` for server-to-server, plus the direct-TLS services
//!   `_xmpps-client._tcp` and `_xmpps-server._tcp` of XEP-0368 §3. XEP-0368 §3: "Both 'xmpp-'
//!   and 'xmpps-' records SHOULD be treated as the same record with regard to connection order
//!   as specified by RFC 2782, in that all priorities and weights are mixed", so both sets are
//!   ordered as one.
//! - **Order** (RFC 2782, "Usage rules"): lowest priority first; within one priority a weighted
//!   random choice, records of weight 0 placed first so they have a very small chance of being
//!   chosen early. [`order_by_priority_and_weight`] implements it with an injectable random
//!   source; [`DiscoverySettings::weight_seed`] makes it deterministic.
//! - **Every address** (RFC 6120 §3.2.1 steps 4–7): each target's AAAA and A records become
//!   endpoints, in that order (IPv6 first, as RFC 8305 §4 prefers), before the next target.
//! - **Target "."** (RFC 6120 §3.2.1 step 3, RFC 2782): "the service is decidedly not available
//!   at this domain" — a [`DnsFact::ServiceDeclined`], no endpoint.
//! - **Fallback** (RFC 6120 §3.2.2): only when neither the `xmpp-` nor the `xmpps-` SRV query
//!   yields any record (§3.2.1 step 9: no usable response), the domain's own AAAA/A records
//!   with port 5222 or 5269, STARTTLS. XEP-0368 defines no fallback for direct TLS, and its
//!   §7 forbids the A/AAAA fallback once an `xmpps-` record (even ".") shows the domain uses SRV.
//!   An SRV answer that yields no endpoint does not cause a fallback either (§3.2.1 step 8).
//! - **TLSA** (RFC 7673 §3): `_PORT._tcp.TARGET` for each SRV target; reported, not judged.
//!
//! A DNS server that cannot be reached is a [`DiscoveryError`] (the probe's exit code 2); an
//! error answer for one name (SERVFAIL, REFUSED) is a [`DnsFact::LookupFailed`] and discovery
//! goes on with what it has.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// How long one DNS query may take before it counts as unanswered (per attempt).
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(3);
/// How many times in all a query is sent before the server counts as unreachable.
pub const DEFAULT_QUERY_ATTEMPTS: usize = 2;
/// The bound on one whole discovery, whatever the DNS server does.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);
/// At most this many SRV targets per service are resolved (in RFC 2782 order), so a zone with
/// thousands of records cannot make discovery send thousands of queries.
pub const MAX_SRV_TARGETS: usize = 16;

/// Which side of XMPP is discovered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    /// Client-to-server: `_xmpp-client._tcp`, `_xmpps-client._tcp`, fallback port 5222.
    Client,
    /// Server-to-server: `_xmpp-server._tcp`, `_xmpps-server._tcp`, fallback port 5269.
    Server,
}

impl Service {
    /// The SRV service label (RFC 6120 §3.2.1, XEP-0368 §3), with its leading underscore.
    pub fn srv_label(self, tls: Tls) -> &'static str {
        match (self, tls) {
            (Service::Client, Tls::Starttls) => "_xmpp-client",
            (Service::Client, Tls::Direct) => "_xmpps-client",
            (Service::Server, Tls::Starttls) => "_xmpp-server",
            (Service::Server, Tls::Direct) => "_xmpps-server",
        }
    }

    /// The SRV owner name for `domain`, e.g. `_xmpp-client._tcp.example.org`.
    pub fn srv_name(self, tls: Tls, domain: &str) -> String {
        format!("{}._tcp.{domain}", self.srv_label(tls))
    }

    /// The port of the RFC 6120 §3.2.2 fallback: 5222 for clients, 5269 for servers.
    pub fn fallback_port(self) -> u16 {
        match self {
            Service::Client => 5222,
            Service::Server => 5269,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Client => "c2s",
            Service::Server => "s2s",
        })
    }
}

/// How TLS starts on an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tls {
    /// Plain TCP, then STARTTLS (RFC 6120 §5): the `xmpp-` services and the fallback.
    Starttls,
    /// TLS from the first byte (XEP-0368): the `xmpps-` services.
    Direct,
}

impl fmt::Display for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tls::Starttls => "starttls",
            Tls::Direct => "direct-tls",
        })
    }
}

/// Where an endpoint came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Origin {
    /// An SRV record: its owner name, priority and weight.
    Srv {
        name: String,
        priority: u16,
        weight: u16,
    },
    /// RFC 6120 §3.2.2: the domain's own A/AAAA records, port 5222 / 5269.
    Fallback,
}

/// One address and port to try, with what it is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Endpoint {
    pub service: Service,
    pub tls: Tls,
    /// The SRV target without its trailing dot, or the domain itself for the fallback.
    pub host: String,
    pub port: u16,
    pub address: SocketAddr,
    pub origin: Origin,
}

/// A DANE TLSA record (RFC 6698 §2.1) found at `_PORT._tcp.HOST` of an SRV target (RFC 7673).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TlsaRecord {
    /// The owner name, e.g. `_5222._tcp.xmpp.example.org`.
    pub name: String,
    /// Certificate usage: 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    pub usage: u8,
    /// Selector: 0 full certificate, 1 SubjectPublicKeyInfo.
    pub selector: u8,
    /// Matching type: 0 exact, 1 SHA-256, 2 SHA-512.
    pub matching: u8,
    /// The certificate association data (hex in JSON).
    #[serde(serialize_with = "serialize_hex")]
    pub data: Vec<u8>,
}

fn serialize_hex<S: serde::Serializer>(data: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex(data))
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The DNS record types discovery asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordKind {
    Srv,
    A,
    Aaaa,
    Tlsa,
}

impl RecordKind {
    fn record_type(self) -> RecordType {
        match self {
            RecordKind::Srv => RecordType::SRV,
            RecordKind::A => RecordType::A,
            RecordKind::Aaaa => RecordType::AAAA,
            RecordKind::Tlsa => RecordType::TLSA,
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordKind::Srv => "SRV",
            RecordKind::A => "A",
            RecordKind::Aaaa => "AAAA",
            RecordKind::Tlsa => "TLSA",
        })
    }
}

/// Something the DNS data says that is worth reporting. None of these is a finding by itself:
/// an absent `_xmpps-client` record, for example, only means the service offers no direct TLS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(
    tag = "fact",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case"
)]
pub enum DnsFact {
    /// The name has no record of this type (NXDOMAIN or an empty answer).
    RecordAbsent { name: String, record: RecordKind },
    /// An SRV record with target "." (RFC 2782; RFC 6120 §3.2.1 step 3; XEP-0368 §7): the
    /// service is decidedly not available at this domain.
    ServiceDeclined { name: String },
    /// An SRV target with neither an AAAA nor an A record: no endpoint for it.
    TargetWithoutAddress {
        srv_name: String,
        target: String,
        port: u16,
    },
    /// An SRV target that is an alias (CNAME), which RFC 2782 forbids ("Target ... MUST NOT
    /// be an alias"); resolvers follow it anyway, so the endpoints are still there.
    TargetIsAlias { target: String, canonical: String },
    /// More SRV records than [`MAX_SRV_TARGETS`]: the first ones in RFC 2782 order were used.
    SrvRecordsCapped {
        service: Service,
        found: usize,
        used: usize,
    },
    /// No SRV record for the service at all, so the RFC 6120 §3.2.2 fallback was used.
    FallbackUsed {
        service: Service,
        domain: String,
        port: u16,
    },
    /// Nothing to connect to for the service: no usable SRV record and no fallback address.
    NoEndpoint { service: Service },
    /// The DNS server answered the query with an error (SERVFAIL, REFUSED, a malformed answer).
    LookupFailed {
        name: String,
        record: RecordKind,
        reason: String,
    },
}

impl fmt::Display for DnsFact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsFact::RecordAbsent { name, record } => write!(f, "no {record} record at {name}"),
            DnsFact::ServiceDeclined { name } => write!(
                f,
                "{name} has SRV target \".\": the service is decidedly not available (RFC 2782)"
            ),
            DnsFact::TargetWithoutAddress {
                srv_name,
                target,
                port,
            } => write!(
                f,
                "SRV target {target}:{port} of {srv_name} has no AAAA or A record: no endpoint"
            ),
            DnsFact::TargetIsAlias { target, canonical } => write!(
                f,
                "SRV target {target} is an alias (CNAME) of {canonical}; RFC 2782: the target \
                 must not be an alias"
            ),
            DnsFact::SrvRecordsCapped {
                service,
                found,
                used,
            } => write!(
                f,
                "{found} {service} SRV records: only the first {used} in priority order were used"
            ),
            DnsFact::FallbackUsed {
                service,
                domain,
                port,
            } => write!(
                f,
                "no {service} SRV record: fell back to {domain}'s own addresses, port {port} \
                 (RFC 6120 §3.2.2)"
            ),
            DnsFact::NoEndpoint { service } => write!(f, "no {service} endpoint found"),
            DnsFact::LookupFailed {
                name,
                record,
                reason,
            } => write!(f, "the {record} query for {name} failed: {reason}"),
        }
    }
}

/// What discovery found for one domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Discovery {
    /// The domain as queried (lower case, A-labels, no trailing dot).
    pub domain: String,
    /// The endpoints in the order a client or peer server must try them, services in the order
    /// they were asked for.
    pub endpoints: Vec<Endpoint>,
    pub tlsa: Vec<TlsaRecord>,
    pub facts: Vec<DnsFact>,
}

/// Why discovery could not give an answer at all (the probe's exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("{domain:?} is not a domain name to discover: {reason}")]
    InvalidDomain { domain: String, reason: String },
    #[error("the DNS resolver could not be set up: {0}")]
    Resolver(String),
    #[error("no answer from the DNS server to the {record} query for {name}: {reason}")]
    Unreachable {
        name: String,
        record: RecordKind,
        reason: String,
    },
    #[error("DNS discovery for {domain} did not finish within {limit:?}")]
    Deadline { domain: String, limit: Duration },
}

/// How discovery queries DNS. [`DiscoverySettings::new`] gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoverySettings {
    /// `Some(address)`: ask only this DNS server (UDP, TCP when truncated or on an error),
    /// ignoring `/etc/resolv.conf` and `/etc/hosts`; `None`: the system's configuration.
    pub resolver: Option<SocketAddr>,
    /// Per query attempt ([`DEFAULT_QUERY_TIMEOUT`]).
    pub query_timeout: Duration,
    /// Attempts per query ([`DEFAULT_QUERY_ATTEMPTS`]).
    pub query_attempts: usize,
    /// Bound on the whole discovery ([`DEFAULT_DEADLINE`]).
    pub deadline: Duration,
    /// Seed of the RFC 2782 weighted choice; `None` draws one from the operating system.
    pub weight_seed: Option<u64>,
}

impl DiscoverySettings {
    pub fn new(resolver: Option<SocketAddr>) -> Self {
        DiscoverySettings {
            resolver,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            query_attempts: DEFAULT_QUERY_ATTEMPTS,
            deadline: DEFAULT_DEADLINE,
            weight_seed: None,
        }
    }
}

/// Discovers `domain`'s endpoints for `services` with the default settings.
pub async fn discover(
    domain: &str,
    services: &[Service],
    resolver: Option<SocketAddr>,
) -> Result<Discovery, DiscoveryError> {
    discover_with(domain, services, &DiscoverySettings::new(resolver)).await
}

/// Discovers `domain`'s endpoints for `services` (each once, in the order given).
pub async fn discover_with(
    domain: &str,
    services: &[Service],
    settings: &DiscoverySettings,
) -> Result<Discovery, DiscoveryError> {
    let domain = normalise_domain(domain)?;
    let resolver = build_resolver(settings)?;
    let mut rng = match settings.weight_seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_entropy(),
    };
    let mut unique_services: Vec<Service> = Vec::new();
    for service in services {
        if !unique_services.contains(service) {
            unique_services.push(*service);
        }
    }
    let work = async {
        let mut discovery = Discovery {
            domain: domain.clone(),
            endpoints: Vec::new(),
            tlsa: Vec::new(),
            facts: Vec::new(),
        };
        let mut lookups = Lookups::new(&resolver);
        let srv_names = unique_services.iter().flat_map(|service| {
            [Tls::Starttls, Tls::Direct]
                .map(|tls| (service.srv_name(tls, &domain), RecordKind::Srv))
        });
        lookups.prefetch(srv_names.collect()).await;
        let mut targets = TargetCache::default();
        for service in unique_services {
            discover_service(
                &mut lookups,
                &domain,
                service,
                &mut rng,
                &mut targets,
                &mut discovery,
            )
            .await?;
        }
        Ok(discovery)
    };
    tokio::time::timeout(settings.deadline, work)
        .await
        .map_err(|_| DiscoveryError::Deadline {
            domain: domain.clone(),
            limit: settings.deadline,
        })?
}

/// One SRV record of either the `xmpp-` or the `xmpps-` service, before ordering.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SrvCandidate {
    tls: Tls,
    srv_name: String,
    priority: u16,
    weight: u16,
    port: u16,
    target: String,
}

/// Addresses and TLSA records per target, so a target named twice is queried once.
#[derive(Default)]
struct TargetCache {
    addresses: HashMap<String, Vec<IpAddr>>,
    tlsa_done: Vec<(String, u16)>,
}

async fn discover_service(
    lookups: &mut Lookups<'_>,
    domain: &str,
    service: Service,
    rng: &mut StdRng,
    targets: &mut TargetCache,
    discovery: &mut Discovery,
) -> Result<(), DiscoveryError> {
    let starttls_name = service.srv_name(Tls::Starttls, domain);
    let direct_name = service.srv_name(Tls::Direct, domain);
    let starttls = lookups.get(&starttls_name, RecordKind::Srv).await;
    let direct = lookups.get(&direct_name, RecordKind::Srv).await;
    let mut candidates = Vec::new();
    let mut any_srv_record = false;
    for (tls, name, answer) in [
        (Tls::Starttls, &starttls_name, starttls?),
        (Tls::Direct, &direct_name, direct?),
    ] {
        match answer {
            Answer::Records { records, .. } => {
                any_srv_record |= !records.is_empty();
                for record in records {
                    let RData::SRV(srv) = record else { continue };
                    if srv.target.is_root() {
                        discovery
                            .facts
                            .push(DnsFact::ServiceDeclined { name: name.clone() });
                        continue;
                    }
                    candidates.push(SrvCandidate {
                        tls,
                        srv_name: name.clone(),
                        priority: srv.priority,
                        weight: srv.weight,
                        port: srv.port,
                        target: host_name(&srv.target),
                    });
                }
            }
            Answer::Absent => discovery.facts.push(DnsFact::RecordAbsent {
                name: name.clone(),
                record: RecordKind::Srv,
            }),
            Answer::Failed(reason) => discovery.facts.push(DnsFact::LookupFailed {
                name: name.clone(),
                record: RecordKind::Srv,
                reason,
            }),
        }
    }
    let endpoints_before = discovery.endpoints.len();
    if any_srv_record {
        let mut ordered = order_by_priority_and_weight(candidates, |c| (c.priority, c.weight), rng);
        if ordered.len() > MAX_SRV_TARGETS {
            discovery.facts.push(DnsFact::SrvRecordsCapped {
                service,
                found: ordered.len(),
                used: MAX_SRV_TARGETS,
            });
            ordered.truncate(MAX_SRV_TARGETS);
        }
        let mut wanted = Vec::new();
        for candidate in &ordered {
            wanted.push((candidate.target.clone(), RecordKind::Aaaa));
            wanted.push((candidate.target.clone(), RecordKind::A));
            wanted.push((
                tlsa_name(&candidate.target, candidate.port),
                RecordKind::Tlsa,
            ));
        }
        lookups.prefetch(wanted).await;
        for candidate in ordered {
            let addresses = target_addresses(
                lookups,
                &candidate.target,
                AddressOf::SrvTarget,
                targets,
                discovery,
            )
            .await?;
            if addresses.is_empty() {
                discovery.facts.push(DnsFact::TargetWithoutAddress {
                    srv_name: candidate.srv_name.clone(),
                    target: candidate.target.clone(),
                    port: candidate.port,
                });
                continue;
            }
            target_tlsa(
                lookups,
                &candidate.target,
                candidate.port,
                targets,
                discovery,
            )
            .await?;
            for ip in addresses {
                discovery.endpoints.push(Endpoint {
                    service,
                    tls: candidate.tls,
                    host: candidate.target.clone(),
                    port: candidate.port,
                    address: SocketAddr::new(ip, candidate.port),
                    origin: Origin::Srv {
                        name: candidate.srv_name.clone(),
                        priority: candidate.priority,
                        weight: candidate.weight,
                    },
                });
            }
        }
    } else {
        let port = service.fallback_port();
        discovery.facts.push(DnsFact::FallbackUsed {
            service,
            domain: domain.to_owned(),
            port,
        });
        let addresses =
            target_addresses(lookups, domain, AddressOf::Domain, targets, discovery).await?;
        for ip in addresses {
            discovery.endpoints.push(Endpoint {
                service,
                tls: Tls::Starttls,
                host: domain.to_owned(),
                port,
                address: SocketAddr::new(ip, port),
                origin: Origin::Fallback,
            });
        }
    }
    if discovery.endpoints.len() == endpoints_before {
        discovery.facts.push(DnsFact::NoEndpoint { service });
    }
    Ok(())
}

/// Whose addresses are looked up: RFC 2782's no-alias rule holds for SRV targets only.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AddressOf {
    SrvTarget,
    Domain,
}

/// The AAAA then A addresses of `host`; absent records, failed lookups and (for an SRV
/// target) an alias become facts, once per host.
async fn target_addresses(
    lookups: &mut Lookups<'_>,
    host: &str,
    address_of: AddressOf,
    targets: &mut TargetCache,
    discovery: &mut Discovery,
) -> Result<Vec<IpAddr>, DiscoveryError> {
    if let Some(addresses) = targets.addresses.get(host) {
        return Ok(addresses.clone());
    }
    lookups
        .prefetch(vec![
            (host.to_owned(), RecordKind::Aaaa),
            (host.to_owned(), RecordKind::A),
        ])
        .await;
    let aaaa = lookups.get(host, RecordKind::Aaaa).await;
    let a = lookups.get(host, RecordKind::A).await;
    let mut addresses = Vec::new();
    let mut alias_of = None;
    for (kind, answer) in [(RecordKind::Aaaa, aaaa?), (RecordKind::A, a?)] {
        match answer {
            Answer::Records { records, canonical } => {
                alias_of = alias_of.or(canonical);
                addresses.extend(records.into_iter().filter_map(|record| match record {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                    _ => None,
                }));
            }
            Answer::Absent => discovery.facts.push(DnsFact::RecordAbsent {
                name: host.to_owned(),
                record: kind,
            }),
            Answer::Failed(reason) => discovery.facts.push(DnsFact::LookupFailed {
                name: host.to_owned(),
                record: kind,
                reason,
            }),
        }
    }
    if let (AddressOf::SrvTarget, Some(canonical)) = (address_of, alias_of) {
        discovery.facts.push(DnsFact::TargetIsAlias {
            target: host.to_owned(),
            canonical,
        });
    }
    targets.addresses.insert(host.to_owned(), addresses.clone());
    Ok(addresses)
}

/// The TLSA records at `_PORT._tcp.HOST` (RFC 7673 §3), once per target and port.
async fn target_tlsa(
    lookups: &mut Lookups<'_>,
    host: &str,
    port: u16,
    targets: &mut TargetCache,
    discovery: &mut Discovery,
) -> Result<(), DiscoveryError> {
    let key = (host.to_owned(), port);
    if targets.tlsa_done.contains(&key) {
        return Ok(());
    }
    targets.tlsa_done.push(key);
    let name = tlsa_name(host, port);
    match lookups.get(&name, RecordKind::Tlsa).await? {
        Answer::Records { records, .. } => {
            discovery
                .tlsa
                .extend(records.into_iter().filter_map(|record| match record {
                    RData::TLSA(tlsa) => Some(TlsaRecord {
                        name: name.clone(),
                        usage: tlsa.cert_usage.into(),
                        selector: tlsa.selector.into(),
                        matching: tlsa.matching.into(),
                        data: tlsa.cert_data,
                    }),
                    _ => None,
                }));
        }
        Answer::Absent => discovery.facts.push(DnsFact::RecordAbsent {
            name,
            record: RecordKind::Tlsa,
        }),
        Answer::Failed(reason) => discovery.facts.push(DnsFact::LookupFailed {
            name,
            record: RecordKind::Tlsa,
            reason,
        }),
    }
    Ok(())
}

/// The owner name of the TLSA records of a service at `host`:`port` (RFC 6698 §3, RFC 7673 §3).
fn tlsa_name(host: &str, port: u16) -> String {
    format!("_{port}._tcp.{host}")
}

/// The queries of one discovery: asked in parallel batches ([`Lookups::prefetch`]) and taken
/// one by one in the order the rules need them ([`Lookups::get`]), so that the facts come out
/// in a fixed order while a discovery costs about one round trip per step (SRV; then the
/// targets' AAAA, A and TLSA) instead of one per query.
struct Lookups<'r> {
    resolver: &'r TokioResolver,
    ready: HashMap<(String, RecordKind), Result<Answer, DiscoveryError>>,
}

impl<'r> Lookups<'r> {
    fn new(resolver: &'r TokioResolver) -> Self {
        Lookups {
            resolver,
            ready: HashMap::new(),
        }
    }

    /// Asks every query in `wanted` not yet answered, all at once.
    async fn prefetch(&mut self, wanted: Vec<(String, RecordKind)>) {
        let mut missing: Vec<(String, RecordKind)> = Vec::new();
        for key in wanted {
            if !self.ready.contains_key(&key) && !missing.contains(&key) {
                missing.push(key);
            }
        }
        let resolver = self.resolver;
        let answers = futures_util::future::join_all(
            missing
                .iter()
                .map(|(name, kind)| query(resolver, name, *kind)),
        )
        .await;
        self.ready.extend(missing.into_iter().zip(answers));
    }

    /// The answer to one query: prefetched, or asked now.
    async fn get(&mut self, name: &str, kind: RecordKind) -> Result<Answer, DiscoveryError> {
        match self.ready.remove(&(name.to_owned(), kind)) {
            Some(answer) => answer,
            None => query(self.resolver, name, kind).await,
        }
    }
}

/// What one query gave: records of the asked type (with the name a CNAME chain on the way
/// ended at), none, or an error answer.
enum Answer {
    Records {
        records: Vec<RData>,
        canonical: Option<String>,
    },
    Absent,
    Failed(String),
}

async fn query(
    resolver: &TokioResolver,
    name: &str,
    kind: RecordKind,
) -> Result<Answer, DiscoveryError> {
    let absolute = format!("{name}.");
    let fqdn = Name::from_ascii(&absolute).map_err(|error| DiscoveryError::InvalidDomain {
        domain: name.to_owned(),
        reason: error.to_string(),
    })?;
    let record_type = kind.record_type();
    match resolver.lookup(fqdn, record_type).await {
        Ok(lookup) => {
            let records: Vec<RData> = lookup
                .answers()
                .iter()
                .filter(|record| record.record_type() == record_type)
                .map(|record| record.data.clone())
                .collect();
            let canonical = lookup
                .answers()
                .iter()
                .rev()
                .find_map(|record| match &record.data {
                    RData::CNAME(target) => Some(host_name(&target.0)),
                    _ => None,
                });
            Ok(if records.is_empty() {
                Answer::Absent
            } else {
                Answer::Records { records, canonical }
            })
        }
        Err(NetError::Dns(DnsError::NoRecordsFound(_))) => Ok(Answer::Absent),
        Err(NetError::Dns(error)) => Ok(Answer::Failed(error.to_string())),
        Err(NetError::Proto(error)) => Ok(Answer::Failed(error.to_string())),
        Err(error) => Err(DiscoveryError::Unreachable {
            name: name.to_owned(),
            record: kind,
            reason: error.to_string(),
        }),
    }
}

fn build_resolver(settings: &DiscoverySettings) -> Result<TokioResolver, DiscoveryError> {
    let provider = TokioRuntimeProvider::default();
    let mut builder = match settings.resolver {
        Some(address) => {
            let mut name_server = NameServerConfig::udp_and_tcp(address.ip());
            for connection in &mut name_server.connections {
                connection.port = address.port();
            }
            let config = ResolverConfig::from_name_servers(vec![name_server]);
            let mut builder = TokioResolver::builder_with_config(config, provider);
            builder.options_mut().use_hosts_file = ResolveHosts::Never;
            builder
        }
        None => TokioResolver::builder(provider)
            .map_err(|error| DiscoveryError::Resolver(error.to_string()))?,
    };
    let options: &mut ResolverOpts = builder.options_mut();
    options.timeout = settings.query_timeout;
    // hickory's `attempts` counts the tries after the first one.
    options.attempts = settings.query_attempts.saturating_sub(1);
    options.try_tcp_on_error = true;
    builder
        .build()
        .map_err(|error| DiscoveryError::Resolver(error.to_string()))
}

/// Lower case, A-labels, no trailing dot; an IP address or an empty name is refused.
fn normalise_domain(domain: &str) -> Result<String, DiscoveryError> {
    let invalid = |reason: &str| DiscoveryError::InvalidDomain {
        domain: domain.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = domain.strip_suffix('.').unwrap_or(domain);
    if trimmed.is_empty() {
        return Err(invalid("empty"));
    }
    if trimmed.parse::<IpAddr>().is_ok()
        || trimmed
            .strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'))
            .is_some_and(|inner| inner.parse::<IpAddr>().is_ok())
    {
        return Err(invalid("an IP address has no SRV records"));
    }
    let name = Name::from_utf8(trimmed).map_err(|error| invalid(&error.to_string()))?;
    if name.num_labels() < 1 {
        return Err(invalid("no label"));
    }
    Ok(host_name(&name))
}

/// A DNS name as a host string: ASCII, lower case, without the trailing dot.
fn host_name(name: &Name) -> String {
    let ascii = name.to_ascii().to_ascii_lowercase();
    match ascii.strip_suffix('.') {
        Some(stripped) => stripped.to_owned(),
        None => ascii,
    }
}

/// Orders records by RFC 2782's "Usage rules": ascending priority; within one priority,
/// repeatedly a weighted random choice among the records not yet chosen, the records of
/// weight 0 placed first in the list so that they get "a very small chance of being selected"
/// (a record of weight 0 is chosen only by a random draw of 0, or when only such remain).
/// `key` gives a record's (priority, weight).
pub fn order_by_priority_and_weight<T>(
    records: Vec<T>,
    key: impl Fn(&T) -> (u16, u16),
    rng: &mut impl Rng,
) -> Vec<T> {
    let mut by_priority: Vec<T> = records;
    by_priority.sort_by_key(|record| key(record).0);
    let mut ordered = Vec::with_capacity(by_priority.len());
    let mut rest = by_priority.into_iter().peekable();
    while let Some(first) = rest.next() {
        let priority = key(&first).0;
        let mut group = vec![first];
        while let Some(next) = rest.next_if(|record| key(record).0 == priority) {
            group.push(next);
        }
        let (mut unweighted, weighted): (Vec<T>, Vec<T>) =
            group.into_iter().partition(|record| key(record).1 == 0);
        unweighted.extend(weighted);
        let mut remaining = unweighted;
        while !remaining.is_empty() {
            let total: u32 = remaining
                .iter()
                .map(|record| u32::from(key(record).1))
                .sum();
            let draw = rng.gen_range(0..=total);
            let mut running = 0u32;
            let chosen = remaining
                .iter()
                .position(|record| {
                    running += u32::from(key(record).1);
                    running >= draw
                })
                .unwrap_or(0);
            ordered.push(remaining.remove(chosen));
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(records: &[(u16, u16, &'static str)], seed: u64) -> Vec<&'static str> {
        let mut rng = StdRng::seed_from_u64(seed);
        order_by_priority_and_weight(records.to_vec(), |r| (r.0, r.1), &mut rng)
            .into_iter()
            .map(|r| r.2)
            .collect()
    }

    #[test]
    fn lower_priority_always_comes_first_rfc2782() {
        let records = [(20, 100, "c"), (10, 0, "a"), (30, 5, "d"), (10, 65535, "b")];
        for seed in 0..200 {
            let got = order(&records, seed);
            assert_eq!(got.len(), 4);
            assert!(
                got[..2].contains(&"a") && got[..2].contains(&"b"),
                "{got:?}"
            );
            assert_eq!(&got[2..], ["c", "d"], "seed {seed}");
        }
    }

    #[test]
    fn weight_sets_the_share_of_first_places_within_a_priority_rfc2782() {
        let records = [(0, 90, "heavy"), (0, 10, "light")];
        let heavy_first = (0..2000)
            .filter(|seed| order(&records, *seed)[0] == "heavy")
            .count();
        // Expected 90 / 101 of the draws (0..=100, draws 0..=90 pick the heavy one).
        assert!((1650..1900).contains(&heavy_first), "{heavy_first}");
    }

    #[test]
    fn weight_zero_is_chosen_first_only_rarely_rfc2782() {
        let records = [(0, 0, "zero"), (0, 50, "fifty")];
        let zero_first = (0..2000)
            .filter(|seed| order(&records, *seed)[0] == "zero")
            .count();
        // Only a draw of 0 out of 0..=50 picks it: about 1 in 51.
        assert!((10..120).contains(&zero_first), "{zero_first}");
    }

    #[test]
    fn the_same_seed_gives_the_same_order() {
        let records = [(0, 10, "a"), (0, 10, "b"), (0, 10, "c"), (0, 10, "d")];
        assert_eq!(order(&records, 7), order(&records, 7));
    }

    #[test]
    fn facts_and_endpoints_serialise_in_kebab_case() {
        let fact = DnsFact::TargetWithoutAddress {
            srv_name: "_xmpp-client._tcp.example.test".into(),
            target: "gone.example.test".into(),
            port: 5222,
        };
        assert_eq!(
            serde_json::to_value(&fact).ok(),
            Some(serde_json::json!({
                "fact": "target-without-address",
                "srv-name": "_xmpp-client._tcp.example.test",
                "target": "gone.example.test",
                "port": 5222
            }))
        );
        let endpoint = Endpoint {
            service: Service::Client,
            tls: Tls::Direct,
            host: "xmpp.example.test".into(),
            port: 5223,
            address: SocketAddr::from(([127, 0, 0, 1], 5223)),
            origin: Origin::Srv {
                name: "_xmpps-client._tcp.example.test".into(),
                priority: 0,
                weight: 5,
            },
        };
        assert_eq!(
            serde_json::to_value(&endpoint).ok(),
            Some(serde_json::json!({
                "service": "client",
                "tls": "direct",
                "host": "xmpp.example.test",
                "port": 5223,
                "address": "127.0.0.1:5223",
                "origin": {
                    "kind": "srv",
                    "name": "_xmpps-client._tcp.example.test",
                    "priority": 0,
                    "weight": 5
                }
            }))
        );
    }

    #[test]
    fn domain_is_normalised_and_addresses_refused() {
        assert_eq!(
            normalise_domain("Example.ORG.").ok(),
            Some("example.org".into())
        );
        assert_eq!(
            normalise_domain("bücher.example").ok(),
            Some("xn--bcher-kva.example".into())
        );
        assert!(normalise_domain("192.0.2.1").is_err());
        assert!(normalise_domain("[::1]").is_err());
        assert!(normalise_domain("").is_err());
        assert!(normalise_domain(".").is_err());
    }
}
