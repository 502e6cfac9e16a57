//! A one-zone DNS server on UDP port 53 of a loopback address, for proving that a binary
//! resolves names over DNS as a cluster's resolver answers them: A records for the names it
//! was given, an empty answer for other record types of those names, NXDOMAIN for the rest.
//! Port 53 because resolv.conf cannot name another, hence root only.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

pub struct DnsServer {
    /// Where it listens, to be written into resolv.conf as `nameserver`.
    pub address: Ipv4Addr,
    /// The names asked for, lower case, in order.
    pub asked: Arc<Mutex<Vec<String>>>,
}

impl DnsServer {
    /// Serves `records` (name → IPv4 address) on the first free `127.53.x.1:53`; `None` if no
    /// such address can be bound (not root).
    pub fn start(records: &[(&str, Ipv4Addr)]) -> Option<Self> {
        let (socket, address) = (1..=250u8).find_map(|x| {
            let address = Ipv4Addr::new(127, 53, x, 1);
            UdpSocket::bind(SocketAddr::from((address, 53)))
                .ok()
                .map(|socket| (socket, address))
        })?;
        let records: Vec<(String, Ipv4Addr)> = records
            .iter()
            .map(|(name, ip)| (name.to_ascii_lowercase(), *ip))
            .collect();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 512];
            while let Ok((length, peer)) = socket.recv_from(&mut buffer) {
                if let Some((name, reply)) = answer(&buffer[..length], &records) {
                    log.lock().unwrap().push(name);
                    let _ = socket.send_to(&reply, peer);
                }
            }
        });
        Some(Self { address, asked })
    }
}

/// The reply to one query, and the name it asked for.
fn answer(query: &[u8], records: &[(String, Ipv4Addr)]) -> Option<(String, Vec<u8>)> {
    let (name, end) = question(query)?;
    let qtype = u16::from_be_bytes([query[end], query[end + 1]]);
    let known = records.iter().find(|(known, _)| *known == name);
    let address = known.filter(|_| qtype == 1).map(|(_, ip)| *ip);
    let mut reply = Vec::with_capacity(end + 20);
    reply.extend_from_slice(&query[..2]); // id
    let rcode = if known.is_some() { 0 } else { 3 }; // NOERROR, NXDOMAIN
    reply.extend_from_slice(&[0x84 | (query[2] & 0x01), 0x80 | rcode]); // QR AA (RD), RA
    reply.extend_from_slice(&[0, 1, 0, u8::from(address.is_some()), 0, 0, 0, 0]);
    reply.extend_from_slice(&query[12..end + 4]); // the question
    if let Some(ip) = address {
        // Name by pointer to the question, A, IN, TTL 5 s, 4 bytes.
        reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4]);
        reply.extend_from_slice(&ip.octets());
    }
    Some((name, reply))
}

/// The question's name (lower case, no trailing dot) and the offset of its type.
fn question(query: &[u8]) -> Option<(String, usize)> {
    if query.len() < 12 || query[4..6] != [0, 1] {
        return None;
    }
    let mut labels = Vec::new();
    let mut at = 12;
    loop {
        let length = usize::from(*query.get(at)?);
        at += 1;
        if length == 0 {
            break;
        }
        let label = query.get(at..at + length)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        at += length;
    }
    (query.len() >= at + 4).then(|| (labels.join("."), at))
}
