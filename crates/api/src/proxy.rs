//! The client address behind a trusted balancer: `X-Forwarded-For` is believed only when
//! the connection comes from an address of `http.trusted_proxies`, and then only its
//! entries appended by trusted hops. The first untrusted address from the right is the
//! client; anything a client wrote itself further left is ignored.

use std::net::IpAddr;

use actix_web::http::header::HeaderMap;

/// Addresses or networks (`10.0.0.5`, `172.30.80.0/24`, `fd00::/8`) whose
/// `X-Forwarded-For` is believed. Empty: the peer address is always the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for e in entries {
            let bad = || format!("http.trusted_proxies: {e:?} is not an address or address/prefix");
            let (addr, len) = match e.split_once('/') {
                Some((a, l)) => (a.parse::<IpAddr>().map_err(|_| bad())?, Some(l.parse::<u8>().map_err(|_| bad())?)),
                None => (e.parse::<IpAddr>().map_err(|_| bad())?, None),
            };
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let len = len.unwrap_or(max);
            if len > max {
                return Err(bad());
            }
            nets.push((addr, len));
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|&(net, len)| match (canonical(net), ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), len),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), len),
            _ => false,
        })
    }

    /// The client's address: `peer` unless `peer` is trusted and `X-Forwarded-For` names
    /// someone; an entry that does not parse stops the walk (the peer is kept).
    pub fn client_address(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?;
        if !self.contains(peer) {
            return Some(peer);
        }
        let mut hops: Vec<&str> = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(text) = value.to_str() else { return Some(peer) };
            hops.extend(text.split(',').map(str::trim));
        }
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else { return Some(peer) };
            if !self.contains(ip) {
                return Some(canonical(ip));
            }
        }
        Some(peer)
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(net: &[u8], addr: &[u8], len: u8) -> bool {
    let full = usize::from(len / 8);
    let rest = len % 8;
    if net[..full] != addr[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (net[full] & mask) == (addr[full] & mask)
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append(HeaderName::from_static("x-forwarded-for"), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let t = TrustedProxies::default();
        assert_eq!(t.client_address(ip("10.0.0.1"), &headers(&["1.2.3.4"])), ip("10.0.0.1"));
    }

    #[test]
    fn a_trusted_balancer_names_the_client_and_a_forged_entry_is_ignored() {
        let t = TrustedProxies::parse(&["172.30.80.10".into(), "10.1.0.0/16".into()]).unwrap();
        let from = ip("172.30.80.10");
        assert_eq!(t.client_address(from, &headers(&["203.0.113.7"])), ip("203.0.113.7"));
        // The client wrote its own X-Forwarded-For; the balancer appended what it saw.
        assert_eq!(t.client_address(from, &headers(&["6.6.6.6, 203.0.113.7"])), ip("203.0.113.7"));
        assert_eq!(t.client_address(from, &headers(&["6.6.6.6", "203.0.113.7, 10.1.2.3"])), ip("203.0.113.7"));
        // An untrusted peer cannot claim anything.
        assert_eq!(t.client_address(ip("203.0.113.9"), &headers(&["1.1.1.1"])), ip("203.0.113.9"));
        // Garbage or no header: the peer.
        assert_eq!(t.client_address(from, &headers(&["nonsense"])), from);
        assert_eq!(t.client_address(from, &headers(&[])), from);
    }

    #[test]
    fn networks_match_by_prefix_and_bad_entries_are_refused() {
        let t = TrustedProxies::parse(&["fd00::/8".into(), "192.168.4.0/22".into()]).unwrap();
        assert!(t.contains("fd12::1".parse().unwrap()));
        assert!(t.contains("192.168.7.255".parse().unwrap()));
        assert!(!t.contains("192.168.8.1".parse().unwrap()));
        assert!(t.contains("::ffff:192.168.5.1".parse().unwrap()));
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["balancer".into()]).is_err());
    }
}
