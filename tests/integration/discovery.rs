//! DNS discovery (`xmpp_interop::discovery`) against the loopback DNS server of
//! `support::dns`: SRV ordering, the RFC 6120 §3.2.2 fallback and where it must not happen,
//! the facts of broken DNS data, IPv6, TLSA, and an unreachable DNS server.

use std::net::{Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use xmpp_interop::discovery::{
    Discovery, DiscoveryError, DiscoverySettings, DnsFact, MAX_SRV_TARGETS, Origin, RecordKind,
    Service, Tls, TlsaRecord, discover, discover_with,
};

use crate::support::dns::{LoopbackDns, Zone};

const DOMAIN: &str = "example.test";

async fn discover_seeded(dns: &LoopbackDns, services: &[Service], seed: u64) -> Discovery {
    let mut settings = DiscoverySettings::new(Some(dns.address()));
    settings.weight_seed = Some(seed);
    match discover_with(DOMAIN, services, &settings).await {
        Ok(discovery) => discovery,
        Err(error) => panic!("discovery failed: {error}"),
    }
}

fn ports(discovery: &Discovery) -> Vec<u16> {
    discovery.endpoints.iter().map(|e| e.port).collect()
}

fn addresses(discovery: &Discovery) -> Vec<SocketAddr> {
    discovery.endpoints.iter().map(|e| e.address).collect()
}

/// RFC 2782 (and RFC 6120 §3.2.1 step 7): the lowest priority first, whatever the order of
/// the records in the answer; a weight-0 record after a weighted one of the same priority.
#[tokio::test]
async fn srv_targets_are_ordered_by_priority_then_weight_rfc2782() {
    let dns = LoopbackDns::start(
        Zone::new()
            .srv(
                "_xmpp-client._tcp.example.test",
                20,
                0,
                5003,
                "c.example.test",
            )
            .srv(
                "_xmpp-client._tcp.example.test",
                5,
                0,
                5001,
                "a0.example.test",
            )
            .srv(
                "_xmpp-client._tcp.example.test",
                5,
                65535,
                5002,
                "a1.example.test",
            )
            .srv(
                "_xmpp-client._tcp.example.test",
                10,
                0,
                5004,
                "b.example.test",
            )
            .a("a0.example.test", [127, 0, 0, 1])
            .a("a1.example.test", [127, 0, 0, 2])
            .a("b.example.test", [127, 0, 0, 3])
            .a("c.example.test", [127, 0, 0, 4]),
    );
    for seed in 0..8 {
        let discovery = discover_seeded(&dns, &[Service::Client], seed).await;
        assert_eq!(ports(&discovery), [5002, 5001, 5004, 5003], "seed {seed}");
        let first = &discovery.endpoints[0];
        assert_eq!(first.host, "a1.example.test");
        assert_eq!(first.tls, Tls::Starttls);
        assert_eq!(
            first.origin,
            Origin::Srv {
                name: "_xmpp-client._tcp.example.test".into(),
                priority: 5,
                weight: 65535
            }
        );
    }
}

/// XEP-0368 §3: the `xmpp-` and `xmpps-` records are ordered as one set, so a direct-TLS
/// record of a lower priority comes before a STARTTLS record, and the reverse.
#[tokio::test]
async fn starttls_and_direct_tls_records_share_one_order_xep0368_3() {
    let dns = LoopbackDns::start(
        Zone::new()
            .srv(
                "_xmpp-client._tcp.example.test",
                10,
                0,
                5222,
                "xmpp.example.test",
            )
            .srv(
                "_xmpps-client._tcp.example.test",
                5,
                0,
                5223,
                "xmpp.example.test",
            )
            .srv(
                "_xmpps-server._tcp.example.test",
                10,
                0,
                5270,
                "xmpp.example.test",
            )
            .srv(
                "_xmpp-server._tcp.example.test",
                5,
                0,
                5269,
                "xmpp.example.test",
            )
            .a("xmpp.example.test", [127, 0, 0, 1]),
    );
    let discovery = discover_seeded(&dns, &[Service::Client, Service::Server], 1).await;
    let order: Vec<(Service, Tls, u16)> = discovery
        .endpoints
        .iter()
        .map(|e| (e.service, e.tls, e.port))
        .collect();
    assert_eq!(
        order,
        [
            (Service::Client, Tls::Direct, 5223),
            (Service::Client, Tls::Starttls, 5222),
            (Service::Server, Tls::Starttls, 5269),
            (Service::Server, Tls::Direct, 5270),
        ]
    );
}

/// RFC 6120 §3.2.2: with no SRV record at all, the domain's own AAAA and A records on port
/// 5222, STARTTLS; the absent `_xmpps-client` record is a fact, not an endpoint.
#[tokio::test]
async fn without_srv_records_the_domain_addresses_on_5222_are_used_rfc6120_3_2_2() {
    let dns = LoopbackDns::start(
        Zone::new()
            .a(DOMAIN, [127, 0, 0, 1])
            .aaaa(DOMAIN, Ipv6Addr::LOCALHOST),
    );
    let discovery = discover_seeded(&dns, &[Service::Client], 0).await;
    assert_eq!(
        addresses(&discovery),
        [
            "[::1]:5222".parse::<SocketAddr>().unwrap(),
            "127.0.0.1:5222".parse().unwrap()
        ]
    );
    assert!(
        discovery
            .endpoints
            .iter()
            .all(|e| e.tls == Tls::Starttls && e.origin == Origin::Fallback && e.host == DOMAIN)
    );
    assert!(discovery.facts.contains(&DnsFact::FallbackUsed {
        service: Service::Client,
        domain: DOMAIN.into(),
        port: 5222
    }));
    assert!(discovery.facts.contains(&DnsFact::RecordAbsent {
        name: "_xmpps-client._tcp.example.test".into(),
        record: RecordKind::Srv
    }));
}

/// The server side falls back to 5269 (RFC 6120 §3.2.2).
#[tokio::test]
async fn server_fallback_uses_port_5269_rfc6120_3_2_2() {
    let dns = LoopbackDns::start(Zone::new().a(DOMAIN, [127, 0, 0, 1]));
    let discovery = discover_seeded(&dns, &[Service::Server], 0).await;
    assert_eq!(
        addresses(&discovery),
        ["127.0.0.1:5269".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(discovery.endpoints[0].service, Service::Server);
}

/// XEP-0368 defines no fallback for direct TLS, and its §7 forbids the A/AAAA fallback once
/// an `xmpps-` record shows the domain uses SRV: only the direct-TLS endpoint, no port 5222.
#[tokio::test]
async fn an_xmpps_record_alone_gives_no_fallback_endpoint_xep0368_7() {
    let dns = LoopbackDns::start(
        Zone::new()
            .srv(
                "_xmpps-client._tcp.example.test",
                0,
                0,
                443,
                "tls.example.test",
            )
            .a("tls.example.test", [127, 0, 0, 2])
            .a(DOMAIN, [127, 0, 0, 1]),
    );
    let discovery = discover_seeded(&dns, &[Service::Client], 0).await;
    assert_eq!(
        addresses(&discovery),
        ["127.0.0.2:443".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(discovery.endpoints[0].tls, Tls::Direct);
    assert!(
        !discovery
            .facts
            .iter()
            .any(|fact| matches!(fact, DnsFact::FallbackUsed { .. }))
    );
}

/// RFC 6120 §3.2.1 step 3 (RFC 2782): a single SRV record with target "." means the service
/// is decidedly not available; SRV processing stops, with no fallback to the domain's address.
#[tokio::test]
async fn srv_target_dot_is_a_fact_and_stops_discovery_rfc6120_3_2_1() {
    let dns = LoopbackDns::start(
        Zone::new()
            .srv("_xmpp-client._tcp.example.test", 0, 0, 0, ".")
            .a(DOMAIN, [127, 0, 0, 1]),
    );
    let discovery = discover_seeded(&dns, &[Service::Client], 0).await;
    assert!(discovery.endpoints.is_empty(), "{:?}", discovery.endpoints);
    // The two SRV queries and nothing else: no A/AAAA query for the domain.
    assert_eq!(dns.queries(), 2);
    assert!(discovery.facts.contains(&DnsFact::ServiceDeclined {
        name: "_xmpp-client._tcp.example.test".into()
    }));
    assert!(discovery.facts.contains(&DnsFact::NoEndpoint {
        service: Service::Client
    }));
    let declined = discovery
        .facts
        .iter()
        .find(|fact| matches!(fact, DnsFact::ServiceDeclined { .. }))
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(declined.contains("decidedly not available"), "{declined}");
}

/// An SRV target without AAAA or A record gives a fact and no endpoint; the next target is
/// still used (RFC 6120 §3.2.1 step 7), and no fallback happens (step 8).
#[tokio::test]
async fn srv_target_without_address_is_a_fact_not_an_endpoint_rfc6120_3_2_1() {
    let dns = LoopbackDns::start(
        Zone::new()
            .srv(
                "_xmpp-client._tcp.example.test",
                0,
                0,
                5222,
                "gone.example.test",
            )
            .srv(
                "_xmpp-client._tcp.example.test",
                1,
                0,
                5222,
                "xmpp.example.test",
            )
            .a("xmpp.example.test", [127, 0, 0, 1])
            .a(DOMAIN, [127, 0, 0, 9]),
    );
    let discovery = discover_seeded(&dns, &[Service::Client], 0).await;
    assert_eq!(
        addresses(&discovery),
        ["127.0.0.1:5222".parse::<SocketAddr>().unwrap()]
    );
    assert!(discovery.facts.contains(&DnsFact::TargetWithoutAddress {
        srv_name: "_xmpp-client._tcp.example.test".into(),
        target: "gone.example.test".into(),
        port: 5222
    }));
}

/// RFC 2782: an SRV target "MUST NOT be an alias"; a CNAME target is reported as a fact, and
/// its addresses, reached through the alias as resolvers do, are still endpoints.
#[tokio::test]
async fn an_srv_target_that_is_an_alias_is_a_fact_rfc2782() {
    let dns = LoopbackDns::start(
        Zone::new()
            .srv(
                "_xmpp-client._tcp.example.test",
                0,
                0,
                5222,
                "alias.example.test",
            )
            .cname("alias.example.test", "real.example.test")
            .a("real.example.test", [127, 0, 0, 1]),
    );
    let discovery = discover_seeded(&dns, &[Service::Client], 0).await;
    assert_eq!(
        addresses(&discovery),
        ["127.0.0.1:5222".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(discovery.endpoints[0].host, "alias.example.test");
    assert!(discovery.facts.contains(&DnsFact::TargetIsAlias {
        target: "alias.example.test".into(),
        canonical: "real.example.test".into()
    }));
}

/// A zone with more SRV records than `MAX_SRV_TARGETS` costs a bounded number of queries:
/// the first targets in RFC 2782 order are resolved and the cap is a fact.
#[tokio::test]
async fn a_flood_of_srv_records_is_capped() {
    let mut zone = Zone::new().a("xmpp.example.test", [127, 0, 0, 1]);
    for index in 0..40u16 {
        zone = zone.srv(
            "_xmpp-client._tcp.example.test",
            index,
            0,
            6000 + index,
            &format!("t{index}.example.test"),
        );
    }
    let dns = LoopbackDns::start(zone);
    let discovery = discover_seeded(&dns, &[Service::Client], 0).await;
    assert!(discovery.facts.contains(&DnsFact::SrvRecordsCapped {
        service: Service::Client,
        found: 40,
        used: MAX_SRV_TARGETS
    }));
    let resolved_targets = discovery
        .facts
        .iter()
        .filter(|fact| matches!(fact, DnsFact::TargetWithoutAddress { .. }))
        .count();
    assert_eq!(resolved_targets, MAX_SRV_TARGETS);
    // 2 SRV (the 40-record answer is truncated over UDP and asked again over TCP: one more),
    // then per target AAAA, A and TLSA.
    assert!(
        dns.queries() <= 3 + 3 * MAX_SRV_TARGETS,
        "{}",
        dns.queries()
    );
}

/// Every address of a target becomes an endpoint, IPv6 first (RFC 6120 §3.2.1 step 6).
#[tokio::test]
async fn every_ipv6_and_ipv4_address_of_a_target_is_an_endpoint_rfc6120_3_2_1() {
    let dns = LoopbackDns::start(
        Zone::new()
            .srv(
                "_xmpp-client._tcp.example.test",
                0,
                0,
                5222,
                "xmpp.example.test",
            )
            .a("xmpp.example.test", [127, 0, 0, 1])
            .a("xmpp.example.test", [127, 0, 0, 2])
            .aaaa("xmpp.example.test", Ipv6Addr::LOCALHOST),
    );
    let discovery = discover_seeded(&dns, &[Service::Client], 0).await;
    let mut got = addresses(&discovery);
    assert_eq!(got[0], "[::1]:5222".parse::<SocketAddr>().unwrap());
    got[1..].sort();
    assert_eq!(
        got[1..],
        [
            "127.0.0.1:5222".parse::<SocketAddr>().unwrap(),
            "127.0.0.2:5222".parse().unwrap()
        ]
    );
}

/// RFC 7673 §3: the TLSA records at `_PORT._tcp.TARGET` are reported; a target without any
/// is a fact.
#[tokio::test]
async fn tlsa_records_of_srv_targets_are_reported_rfc7673_3() {
    let digest = [0xab; 32];
    let dns = LoopbackDns::start(
        Zone::new()
            .srv(
                "_xmpp-client._tcp.example.test",
                0,
                0,
                5222,
                "xmpp.example.test",
            )
            .srv(
                "_xmpp-server._tcp.example.test",
                0,
                0,
                5269,
                "s2s.example.test",
            )
            .a("xmpp.example.test", [127, 0, 0, 1])
            .a("s2s.example.test", [127, 0, 0, 1])
            .tlsa("_5222._tcp.xmpp.example.test", 3, 1, 1, &digest),
    );
    let discovery = discover_seeded(&dns, &[Service::Client, Service::Server], 0).await;
    assert_eq!(
        discovery.tlsa,
        [TlsaRecord {
            name: "_5222._tcp.xmpp.example.test".into(),
            usage: 3,
            selector: 1,
            matching: 1,
            data: digest.to_vec()
        }]
    );
    assert!(discovery.facts.contains(&DnsFact::RecordAbsent {
        name: "_5269._tcp.s2s.example.test".into(),
        record: RecordKind::Tlsa
    }));
    let json = serde_json::to_string(&discovery.tlsa).unwrap_or_default();
    assert!(json.contains(&"ab".repeat(32)), "{json}");
}

/// A SERVFAIL for one SRV name is a fact; the other service name is still used.
#[tokio::test]
async fn a_servfail_answer_is_a_fact_not_an_error() {
    let dns = LoopbackDns::start(
        Zone::new()
            .servfail("_xmpps-client._tcp.example.test")
            .srv(
                "_xmpp-client._tcp.example.test",
                0,
                0,
                5222,
                "xmpp.example.test",
            )
            .a("xmpp.example.test", [127, 0, 0, 1]),
    );
    let discovery = discover_seeded(&dns, &[Service::Client], 0).await;
    assert_eq!(ports(&discovery), [5222]);
    assert!(discovery.facts.iter().any(|fact| matches!(
        fact,
        DnsFact::LookupFailed { name, record: RecordKind::Srv, .. }
            if name == "_xmpps-client._tcp.example.test"
    )));
}

/// A resolver address where nothing listens is an error once the default per-query timeout
/// has run out for each attempt (2 × 3 s: unanswered UDP looks the same as a slow server).
#[tokio::test]
async fn a_dns_server_that_is_not_there_is_an_error_in_bounded_time() {
    let vacant = {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        socket
            .local_addr()
            .unwrap_or_else(|e| panic!("address: {e}"))
    };
    let started = Instant::now();
    let result = discover(DOMAIN, &[Service::Client], Some(vacant)).await;
    assert!(
        matches!(result, Err(DiscoveryError::Unreachable { .. })),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// A DNS server that takes the query and never answers: an error once the per-query timeout
/// and attempts are spent, well within the discovery deadline.
#[tokio::test]
async fn a_dns_server_that_never_answers_is_an_error_after_the_query_timeout() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let address = silent
        .local_addr()
        .unwrap_or_else(|e| panic!("address: {e}"));
    // A listener that accepts TCP and never answers either, so the TCP retry hangs as well.
    let _silent_tcp = TcpListener::bind(address).ok();
    let mut settings = DiscoverySettings::new(Some(address));
    settings.query_timeout = Duration::from_millis(300);
    settings.query_attempts = 1;
    settings.deadline = Duration::from_secs(10);
    let started = Instant::now();
    let result = discover_with(DOMAIN, &[Service::Client], &settings).await;
    assert!(
        matches!(
            result,
            Err(DiscoveryError::Unreachable { .. } | DiscoveryError::Deadline { .. })
        ),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(11),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}
