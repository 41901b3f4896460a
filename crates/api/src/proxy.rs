//! The client address behind a trusted balancer: `X-Forwarded-For` is believed only when
//! the connection comes from an address of `http.trusted_proxies`, and then only its
//! entries appended by trusted hops. The first untrusted address from the right is the
//! client; anything a client wrote itself further left is ignored.

use std::net::IpAddr;

use actix_web::http::header::HeaderMap;
use ipnet::{IpNet, Ipv4Net};

/// Addresses or networks (`10.0.0.5`, `172.30.80.0/24`, `fd00::/8`) whose
/// `X-Forwarded-For` is believed. Empty: the peer address is always the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for e in entries {
            let bad = || format!("http.trusted_proxies: {e:?} is not an address or address/prefix");
            let net = e.parse::<IpNet>().or_else(|_| e.parse::<IpAddr>().map(IpNet::from)).map_err(|_| bad())?;
            nets.push(canonical_net(net));
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
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

/// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) as the IPv4 network it is, so
/// that it matches the canonical (IPv4) form of the addresses in it.
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, |n| IpNet::V4(n.trunc())),
            None => net,
        },
        other => other,
    }
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
    fn an_ipv4_mapped_network_matches_its_ipv4_addresses_without_panicking() {
        let t = TrustedProxies::parse(&["::ffff:10.0.0.0/104".into(), "::ffff:0:0/96".into()]).unwrap();
        assert!(t.contains("10.9.8.7".parse().unwrap()));
        assert!(t.contains("::ffff:192.0.2.1".parse().unwrap()));
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
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
