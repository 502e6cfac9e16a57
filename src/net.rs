//! Who is the client: the peer, unless the peer is a trusted proxy
//! (`stagedoor.listen.trustedProxies`), in which case the last hop of `X-Forwarded-For` that
//! is not itself a trusted proxy. By default no proxy is trusted and forwarding headers are
//! ignored: any client can write them.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// Kept short in the store and the audit trail: a user agent is informative, not evidence.
const MAX_USER_AGENT_CHARS: usize = 256;

/// Who signed in, as far as the request tells.
#[derive(Debug, Default, Clone)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl ClientInfo {
    /// The user agent, and the client address the web layer worked out (the peer, or what a
    /// trusted proxy forwarded).
    pub fn from_request(headers: &HeaderMap, ip: Option<std::net::IpAddr>) -> Self {
        Self {
            user_agent: headers
                .get(http::header::USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect()),
            ip: ip.map(|ip| ip.to_string()),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl std::fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "[{}]", entries.join(", "))
    }
}

impl TrustedProxies {
    /// CIDRs (`10.0.0.0/8`, `fd00::/8`) or single addresses. Returns the index and the text
    /// of the first entry that is neither.
    pub fn parse(entries: &[String]) -> Result<Self, (usize, String)> {
        entries
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| (index, entry.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `address` is one of the entries (IPv4-mapped IPv6 addresses as IPv4).
    pub fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client behind `peer`. `forwarded_for`: every `X-Forwarded-For` header value, in
    /// the order received (each a comma-separated list, the nearest hop last).
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl Iterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // A hop that is not an address ends the walk: the proxy that wrote it is the
            // last one known.
            let Ok(address) = hop.parse::<IpAddr>() else {
                return client;
            };
            client = address.to_canonical();
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

/// Whether `url` points at this machine.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether a listen host (`localhost` or an address) is this machine only.
pub fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_info_keeps_a_short_user_agent_and_the_given_address() {
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", "Mozilla/5.0".repeat(100).parse().unwrap());
        let info = ClientInfo::from_request(&headers, Some([203, 0, 113, 7].into()));
        assert_eq!(info.ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(
            info.user_agent.unwrap().chars().count(),
            MAX_USER_AGENT_CHARS
        );
    }

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&entries.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    fn client(proxies: &TrustedProxies, peer: &str, headers: &[&str]) -> String {
        proxies
            .client_address(peer.parse().unwrap(), headers.iter().copied())
            .to_string()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::default();
        assert_eq!(client(&none, "203.0.113.9", &["1.1.1.1"]), "203.0.113.9");
    }

    #[test]
    fn the_client_is_the_last_hop_that_is_not_a_trusted_proxy() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.1"]);
        // The client forged the first entry; the ingress (10.0.0.5) appended the real one.
        assert_eq!(
            client(&trusted, "10.0.0.5", &["6.6.6.6, 198.51.100.7"]),
            "198.51.100.7"
        );
        assert_eq!(
            client(
                &trusted,
                "10.0.0.5",
                &["6.6.6.6", "198.51.100.7, 192.0.2.1"]
            ),
            "198.51.100.7",
            "several headers, several proxies"
        );
        assert_eq!(
            client(&trusted, "203.0.113.9", &["198.51.100.7"]),
            "203.0.113.9",
            "an untrusted peer's header is ignored"
        );
        assert_eq!(client(&trusted, "10.0.0.5", &[]), "10.0.0.5");
        assert_eq!(
            client(&trusted, "10.0.0.5", &["junk, 10.1.1.1"]),
            "10.1.1.1",
            "a malformed hop stops the walk"
        );
        assert_eq!(
            client(&trusted, "::ffff:10.0.0.5", &["198.51.100.7"]),
            "198.51.100.7",
            "IPv4-mapped peers"
        );
    }

    #[test]
    fn entries_must_be_addresses_or_networks() {
        assert_eq!(
            TrustedProxies::parse(&["10.0.0.0/8".into(), "ingress".into()]).unwrap_err(),
            (1, "ingress".to_owned())
        );
    }
}
