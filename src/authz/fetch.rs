//! Fetching a client's metadata document (CIMD): a URL an anonymous caller chooses, so an
//! SSRF surface (CVE-2026-32236). Rules: no redirects, 10 s, 64 KiB; unless the operator's
//! pattern names the URL exactly (or it is localhost in development), every address the name
//! resolves to must be public unicast, and the connection goes to those checked addresses
//! (the resolver that checks them is the one the client connects with: no second lookup, no
//! DNS-rebinding window). IP literals are checked before any connection. Documents are
//! fetched directly, never through `HTTPS_PROXY`, so the address checked is the one reached.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use url::Url;

const TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The host is (or resolves to) a private, loopback, link-local or otherwise non-public
    /// address.
    #[error("Invalid client_id URL")]
    NotPublic,
    #[error("Failed to fetch client metadata")]
    Failed,
    #[error("Client metadata document too large")]
    TooLarge,
    #[error("Invalid client metadata document")]
    NotJson,
}

/// The resolver's refusal, found again in reqwest's error chain.
#[derive(Debug)]
struct NonPublicAddress(IpAddr);

impl std::fmt::Display for NonPublicAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not a public address", self.0)
    }
}

impl std::error::Error for NonPublicAddress {}

/// Resolves a name and refuses it unless every address is public.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            check_addresses(&addresses)?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Every address must be public: one private address among public ones is refused too.
fn check_addresses(
    addresses: &[SocketAddr],
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if addresses.is_empty() {
        return Err("the name resolves to no address".into());
    }
    match addresses.iter().find(|address| !is_public(address.ip())) {
        Some(address) => Err(Box::new(NonPublicAddress(address.ip()))),
        None => Ok(()),
    }
}

pub struct DocumentFetcher {
    /// Connects only to public addresses.
    checked: reqwest::Client,
    /// For exact patterns and localhost in development.
    unchecked: reqwest::Client,
}

impl DocumentFetcher {
    pub fn new() -> Result<Self, reqwest::Error> {
        let base = || {
            crate::outbound::builder()
                .no_proxy()
                .timeout(TIMEOUT)
                .connect_timeout(TIMEOUT)
        };
        Ok(Self {
            checked: base().dns_resolver(Arc::new(PublicOnly)).build()?,
            unchecked: base().build()?,
        })
    }

    /// GETs `url` and parses it as JSON. `check_addresses`: refuse non-public targets.
    pub async fn fetch(&self, url: &Url, check_addresses: bool) -> Result<Value, FetchError> {
        if check_addresses
            && let Some(ip) = literal_ip(url)
            && !is_public(ip)
        {
            return Err(FetchError::NotPublic);
        }
        let client = if check_addresses {
            &self.checked
        } else {
            &self.unchecked
        };
        let mut response = client
            .get(url.clone())
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| classify(&error))?;
        if !response.status().is_success() {
            return Err(FetchError::Failed);
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| classify(&error))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|_| FetchError::NotJson)
    }
}

fn classify(error: &reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.is::<NonPublicAddress>() {
            return FetchError::NotPublic;
        }
        source = error.source();
    }
    FetchError::Failed
}

fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Public unicast only (as ipaddr.js's `unicast` range): no loopback, private, shared (CGNAT),
/// link-local, multicast, broadcast, documentation, benchmarking or reserved IPv4 address; no
/// IPv6 address outside global unicast, nor the ones that embed IPv4 (mapped, NAT64, 6to4,
/// Teredo), unique-local, link-local or documentation.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224;
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let global_unicast = segments[0] & 0xe000 == 0x2000;
    let refused = segments[0] == 0x2002 // 6to4
        || (segments[0] == 0x2001 && segments[1] == 0) // Teredo
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x2001 && (0x10..0x30).contains(&segments[1])); // ORCHID
    global_unicast && !refused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_pass() {
        for public in ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "1.1.1.1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::ffff:8.8.8.8",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }

    #[test]
    fn one_private_address_among_public_ones_is_refused() {
        let public: SocketAddr = "8.8.8.8:0".parse().unwrap();
        let private: SocketAddr = "10.0.0.1:0".parse().unwrap();
        assert!(check_addresses(&[public]).is_ok());
        assert!(check_addresses(&[public, private]).is_err());
        assert!(check_addresses(&[]).is_err());
    }
}
