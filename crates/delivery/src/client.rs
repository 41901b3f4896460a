//! The outbound HTTP client for webhooks: HTTPS only, certificate checks on, no
//! redirects, timeouts, and no private, loopback or link-local address unless the
//! configuration allows it — checked on the address actually connected to, so a DNS
//! answer that changes between check and use (rebinding) gains nothing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;

/// Whether an address may be a webhook target without special permission.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // An IPv4 address carried inside an IPv6 one reaches that IPv4 address: the
            // deprecated IPv4-compatible form (::10.0.0.1), NAT64 (64:ff9b::/96, RFC 6052)
            // and 6to4 (2002::/16, RFC 3056). Each is judged by the address it carries.
            let embedded =
                |hi: u16, lo: u16| IpAddr::V4(std::net::Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
            if s[..6] == [0; 6] && !(v6.is_loopback() || v6.is_unspecified()) {
                return is_public(embedded(s[6], s[7]));
            }
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public(embedded(s[1], s[2]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                // Site-local (deprecated, still routed by some networks).
                || (s[0] & 0xffc0) == 0xfec0
                // NAT64 for local use (RFC 8215), IPv4-translated (::ffff:0:0:0/96),
                // Teredo (2001::/32, which hides the IPv4 address it reaches) and the
                // discard-only prefix (100::/64).
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
                || (s[..4] == [0, 0, 0, 0] && s[4] == 0xffff && s[5] == 0)
                || (s[0] == 0x2001 && s[1] == 0)
                || (s[..4] == [0x100, 0, 0, 0])
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// Resolves names and keeps only addresses the policy allows.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| allow_private || is_public(a.ip())).collect();
            if allowed.is_empty() {
                return Err("webhook target resolves to no permitted address".into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Allow private, loopback and link-local targets (tests; never in production).
    pub allow_private: bool,
    /// Extra trusted roots (PEM), for receivers with a private CA.
    pub extra_roots: Vec<Vec<u8>>,
    pub timeout: Duration,
}

/// A client for webhook calls, with the target policy.
#[derive(Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    allow_private: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("only https:// targets")]
    NotHttps,
    #[error("the target address is not permitted")]
    AddressRefused,
    #[error("not a valid URL")]
    Invalid,
}

impl WebhookClient {
    pub fn new(options: &ClientOptions) -> anyhow::Result<WebhookClient> {
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .redirect(Policy::none())
            .timeout(options.timeout)
            .connect_timeout(Duration::from_secs(5))
            .user_agent("Sitrep-Webhooks/1")
            .dns_resolver(Arc::new(GuardedResolver { allow_private: options.allow_private }));
        for pem in &options.extra_roots {
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem)?);
        }
        Ok(WebhookClient { http: builder.build()?, allow_private: options.allow_private })
    }

    /// Checks a target URL's form and, for an address literal, the address itself
    /// (names are checked when connecting). Returns the host.
    pub fn check_target(&self, url: &str) -> Result<String, TargetError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| TargetError::Invalid)?;
        if parsed.scheme() != "https" {
            return Err(TargetError::NotHttps);
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(TargetError::Invalid);
        }
        let host = parsed.host().ok_or(TargetError::Invalid)?;
        let literal = match host {
            url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            url::Host::Domain(_) => None,
        };
        if let Some(ip) = literal
            && !self.allow_private
            && !is_public(ip)
        {
            return Err(TargetError::AddressRefused);
        }
        Ok(parsed.host_str().unwrap_or_default().trim_matches(['[', ']']).to_ascii_lowercase())
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_reserved_addresses_are_not_public() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "192.0.2.1",
            "::1",
            "fe80::1",
            "fc00::1",
            "::ffff:127.0.0.1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "::10.0.0.1",
            "::127.0.0.1",
            "::169.254.169.254",
            "64:ff9b::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:0a00:0001::1",
            "2002:a9fe:a9fe::1",
            "fec0::1",
            "::ffff:0:10.0.0.1",
            "2001:0:4136:e378::1",
            "100::1",
            "192.0.0.8",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2a00:1450:4010:c0a::64",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
            "::ffff:93.184.216.34",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn targets_must_be_https_without_credentials_and_literals_are_checked() {
        let strict = WebhookClient::new(&ClientOptions {
            allow_private: false,
            extra_roots: vec![],
            timeout: Duration::from_secs(1),
        })
        .unwrap();
        assert!(matches!(strict.check_target("http://hooks.example/x"), Err(TargetError::NotHttps)));
        assert!(matches!(strict.check_target("https://127.0.0.1:8443/x"), Err(TargetError::AddressRefused)));
        assert!(matches!(strict.check_target("https://[::1]/x"), Err(TargetError::AddressRefused)));
        assert!(matches!(strict.check_target("https://user:pw@hooks.example/"), Err(TargetError::Invalid)));
        assert_eq!(strict.check_target("https://Hooks.Example/x").unwrap(), "hooks.example");
    }
}
