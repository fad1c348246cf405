//! A loopback DNS server for the tests: authoritative for the records it is given (SRV, A,
//! AAAA, TLSA, CNAME), NXDOMAIN for names it does not hold, an empty NOERROR answer (NODATA)
//! for a name it holds with other types, SERVFAIL for names marked so. It answers on
//! 127.0.0.1 on one ephemeral port over UDP and TCP (RFC 1035 §4.2.2 length prefix), on its
//! own threads, so both async tests and the harness binary in a child process can use it.
//! It stops when dropped.
//!
//! ```ignore
//! let dns = LoopbackDns::start(
//!     Zone::new()
//!         .srv("_xmpp-client._tcp.example.test", 5, 0, 5222, "xmpp.example.test")
//!         .a("xmpp.example.test", [127, 0, 0, 1]),
//! );
//! discover("example.test", &[Service::Client], Some(dns.address())).await
//! ```

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA, SRV, TLSA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// How often the server threads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// The UDP payload limit without EDNS (RFC 1035 §4.2.1); longer answers are truncated.
const UDP_LIMIT: usize = 512;
/// How many CNAMEs an answer follows.
const CNAME_DEPTH: usize = 8;

/// The records the server holds. Names are given without the trailing dot.
#[derive(Clone, Debug, Default)]
pub struct Zone {
    records: Vec<(String, RData)>,
    failing: Vec<String>,
}

impl Zone {
    pub fn new() -> Self {
        Zone::default()
    }

    /// An SRV record; `target` "." declares the service not available (RFC 2782).
    pub fn srv(self, name: &str, priority: u16, weight: u16, port: u16, target: &str) -> Self {
        let target = absolute(target);
        self.with(name, RData::SRV(SRV::new(priority, weight, port, target)))
    }

    pub fn a(self, name: &str, octets: [u8; 4]) -> Self {
        self.with(name, RData::A(A(Ipv4Addr::from(octets))))
    }

    pub fn aaaa(self, name: &str, address: Ipv6Addr) -> Self {
        self.with(name, RData::AAAA(AAAA(address)))
    }

    /// A TLSA record (RFC 6698 §2.1): usage, selector, matching type, association data.
    pub fn tlsa(self, name: &str, usage: u8, selector: u8, matching: u8, data: &[u8]) -> Self {
        let tlsa = TLSA::new(
            CertUsage::from(usage),
            Selector::from(selector),
            Matching::from(matching),
            data.to_vec(),
        );
        self.with(name, RData::TLSA(tlsa))
    }

    pub fn cname(self, name: &str, target: &str) -> Self {
        self.with(name, RData::CNAME(CNAME(absolute(target))))
    }

    /// Every query for `name` is answered with SERVFAIL.
    pub fn servfail(mut self, name: &str) -> Self {
        self.failing.push(key(name));
        self
    }

    fn with(mut self, name: &str, data: RData) -> Self {
        self.records.push((key(name), data));
        self
    }

    fn holds(&self, name: &str) -> bool {
        self.records.iter().any(|(owner, _)| owner == name)
    }

    /// The response to one request, or `None` for bytes that are not a DNS query.
    fn answer(&self, request: &[u8]) -> Option<Message> {
        let request = Message::from_vec(request).ok()?;
        if request.metadata.message_type != MessageType::Query {
            return None;
        }
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.authoritative = true;
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        let Some(query) = request.queries.first().cloned() else {
            response.metadata.response_code = ResponseCode::FormErr;
            return Some(response);
        };
        response.add_query(query.clone());
        let mut name = key(&query.name.to_ascii());
        if self.failing.contains(&name) {
            response.metadata.response_code = ResponseCode::ServFail;
            return Some(response);
        }
        for _ in 0..CNAME_DEPTH {
            let matching: Vec<&RData> = self
                .records
                .iter()
                .filter(|(owner, data)| *owner == name && data.record_type() == query.query_type)
                .map(|(_, data)| data)
                .collect();
            if !matching.is_empty() {
                for data in matching {
                    response.add_answer(Record::from_rdata(absolute(&name), 60, data.clone()));
                }
                return Some(response);
            }
            let alias = self.records.iter().find_map(|(owner, data)| match data {
                RData::CNAME(target) if *owner == name => Some(target.0.clone()),
                _ => None,
            });
            match alias {
                Some(target) if query.query_type != RecordType::CNAME => {
                    response.add_answer(Record::from_rdata(
                        absolute(&name),
                        60,
                        RData::CNAME(CNAME(target.clone())),
                    ));
                    name = key(&target.to_ascii());
                }
                _ => break,
            }
        }
        if response.answers.is_empty() {
            if !self.holds(&name) {
                response.metadata.response_code = ResponseCode::NXDomain;
            }
            response.add_authority(Record::from_rdata(absolute("test"), 60, soa()));
        }
        Some(response)
    }
}

/// The authority record of negative answers, so resolvers can tell them from referrals.
fn soa() -> RData {
    RData::SOA(SOA::new(
        absolute("ns.test"),
        absolute("hostmaster.test"),
        1,
        3600,
        600,
        86400,
        60,
    ))
}

fn key(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    lower.strip_suffix('.').unwrap_or(&lower).to_owned()
}

/// `name` as an absolute DNS name; "." or "" is the root. Test data, so a bad name is a bug.
fn absolute(name: &str) -> Name {
    let name = key(name);
    if name.is_empty() {
        return Name::root();
    }
    Name::from_ascii(format!("{name}.")).unwrap_or_else(|error| panic!("test zone {name}: {error}"))
}

/// A running loopback DNS server; dropping it stops it.
pub struct LoopbackDns {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    queries: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<()>>,
}

impl LoopbackDns {
    /// Starts serving `zone` on 127.0.0.1, UDP and TCP on the same ephemeral port.
    pub fn start(zone: Zone) -> LoopbackDns {
        let (udp, tcp) = bind_pair();
        let address = udp
            .local_addr()
            .unwrap_or_else(|error| panic!("local address: {error}"));
        let zone = Arc::new(zone);
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(AtomicUsize::new(0));
        let udp_thread = {
            let (zone, stop, queries) = (zone.clone(), stop.clone(), queries.clone());
            std::thread::spawn(move || serve_udp(udp, &zone, &stop, &queries))
        };
        let tcp_thread = {
            let (zone, stop, queries) = (zone, stop.clone(), queries.clone());
            std::thread::spawn(move || serve_tcp(tcp, &zone, &stop, &queries))
        };
        LoopbackDns {
            address,
            stop,
            queries,
            threads: vec![udp_thread, tcp_thread],
        }
    }

    /// Where to send queries (`--resolver` of the probe).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// How many queries were answered so far (UDP and TCP).
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

impl Drop for LoopbackDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A UDP socket and a TCP listener on the same free port of 127.0.0.1.
fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|error| panic!("udp: {error}"));
        let Ok(address) = udp.local_addr() else {
            continue;
        };
        if let Ok(tcp) = TcpListener::bind(address) {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

fn serve_udp(socket: UdpSocket, zone: &Zone, stop: &AtomicBool, queries: &AtomicUsize) {
    if socket.set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    let mut buffer = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let (length, peer) = match socket.recv_from(&mut buffer) {
            Ok(received) => received,
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                continue;
            }
            Err(_) => continue,
        };
        let Some(response) = zone.answer(&buffer[..length]) else {
            continue;
        };
        queries.fetch_add(1, Ordering::SeqCst);
        let Ok(mut bytes) = response.to_vec() else {
            continue;
        };
        if bytes.len() > UDP_LIMIT {
            let Ok(truncated) = response.truncate().to_vec() else {
                continue;
            };
            bytes = truncated;
        }
        let _ = socket.send_to(&bytes, peer);
    }
}

fn serve_tcp(
    listener: TcpListener,
    zone: &Arc<Zone>,
    stop: &Arc<AtomicBool>,
    queries: &Arc<AtomicUsize>,
) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    let mut connections = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (zone, stop, queries) = (zone.clone(), stop.clone(), queries.clone());
                connections.push(std::thread::spawn(move || {
                    serve_tcp_connection(stream, &zone, &stop, &queries)
                }));
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
    for connection in connections {
        let _ = connection.join();
    }
}

fn serve_tcp_connection(
    mut stream: TcpStream,
    zone: &Zone,
    stop: &AtomicBool,
    queries: &AtomicUsize,
) {
    if stream.set_nonblocking(false).is_err() || stream.set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    let mut pending = Vec::new();
    let mut buffer = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut buffer) {
            Ok(0) => return,
            Ok(read) => pending.extend_from_slice(&buffer[..read]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                continue;
            }
            Err(_) => return,
        }
        while pending.len() >= 2 {
            let length = usize::from(u16::from_be_bytes([pending[0], pending[1]]));
            if pending.len() < 2 + length {
                break;
            }
            let request: Vec<u8> = pending.drain(..2 + length).skip(2).collect();
            let Some(response) = zone.answer(&request) else {
                return;
            };
            queries.fetch_add(1, Ordering::SeqCst);
            let Ok(bytes) = response.to_vec() else {
                return;
            };
            let Ok(prefix) = u16::try_from(bytes.len()) else {
                return;
            };
            if stream.write_all(&prefix.to_be_bytes()).is_err() || stream.write_all(&bytes).is_err()
            {
                return;
            }
        }
    }
}
