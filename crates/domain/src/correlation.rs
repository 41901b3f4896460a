//! Correlation: pictures that share an indicator value. Values are compared in a
//! normalised form per type (`normalise`), and a picture's indicator correlates for a
//! reader only if the reader sees that picture in full and that indicator
//! (`correlates`): what is redacted for a reader never links pictures for it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sitrep_types::{Indicator, IndicatorType};

use crate::visibility::{Handling, Sight, Viewer, indicator_visible, sight};

/// Undoes the usual defanging of threat-intelligence text: `[.]`, `(.)`, `[:]`, `hxxp`.
fn refang(s: &str) -> String {
    let s = s.replace("[.]", ".").replace("(.)", ".").replace("[dot]", ".").replace("[:]", ":");
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("hxxp") { format!("http{}", &s[4..]) } else { s }
}

/// A host name as DNS compares it: lower case, without the root's trailing dot.
fn host(s: &str) -> String {
    s.trim().trim_end_matches('.').to_lowercase()
}

/// `scheme://host[:port]/path?query`: scheme and host in lower case, the default port and
/// the fragment dropped, an empty path as `/`; path and query as given (they are case
/// sensitive).
fn url(s: &str) -> String {
    let s = refang(s.trim());
    let Some((scheme, rest)) = s.split_once("://") else { return s.to_lowercase() };
    let scheme = scheme.to_ascii_lowercase();
    let rest = rest.split('#').next().unwrap_or_default();
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    // Credentials in the authority are not part of what identifies the resource.
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let mut authority = host(authority);
    for (s, port) in [("http", ":80"), ("https", ":443")] {
        if scheme == s && authority.ends_with(port) {
            authority.truncate(authority.len() - port.len());
        }
    }
    let authority = authority.trim_end_matches('.');
    let path = if path.is_empty() || path.starts_with('?') { format!("/{path}") } else { path.to_owned() };
    format!("{scheme}://{authority}{path}")
}

/// The form in which values of one type are compared, or `None` for a value that is
/// empty once normalised:
/// - URL: scheme and host lower case, default port, fragment and credentials dropped,
///   defanging undone;
/// - domain, e-mail address: lower case, defanging and a trailing dot undone;
/// - hashtag, account handle, Telegram channel: without the leading `#`/`@` (or
///   `t.me/`), lower case (platforms compare them so);
/// - hashes and fingerprints: lower case, spaces and colons dropped;
/// - IPv4, IPv6: the address in its canonical text form (RFC 5952 for IPv6; an
///   IPv4-mapped IPv6 address is the IPv4 address);
/// - phone numbers and SMS sender ids: digits and a leading `+` (sender ids: lower case,
///   spaces dropped);
/// - e-mail subjects: lower case, runs of white space as one space.
pub fn normalise(kind: IndicatorType, value: &str) -> Option<String> {
    let v = value.trim();
    let out = match kind {
        IndicatorType::Url => url(v),
        IndicatorType::Domain => host(&refang(v)),
        IndicatorType::EmailAddress => host(&refang(v).replace("[@]", "@").replace("[at]", "@")),
        IndicatorType::Hashtag => v.trim_start_matches(['#', '＃']).trim().to_lowercase(),
        IndicatorType::SocialAccount => v.trim_start_matches(['@', '＠']).trim().to_lowercase(),
        IndicatorType::TelegramChannel => {
            let lower = v.to_lowercase();
            let handle = ["https://t.me/", "http://t.me/", "t.me/", "@"]
                .iter()
                .find_map(|p| lower.strip_prefix(p))
                .unwrap_or(&lower)
                .trim_end_matches('/');
            handle.to_owned()
        }
        IndicatorType::FileSha256 | IndicatorType::ImagePhash | IndicatorType::TextFingerprint => {
            v.chars().filter(|c| !c.is_whitespace() && *c != ':').collect::<String>().to_lowercase()
        }
        IndicatorType::Ipv4 | IndicatorType::Ipv6 => {
            let bare = refang(v);
            let bare = bare.trim_start_matches('[').trim_end_matches(']');
            match bare.parse::<IpAddr>() {
                Ok(IpAddr::V6(a)) => a.to_ipv4_mapped().map_or_else(|| a.to_string(), |m: Ipv4Addr| m.to_string()),
                Ok(IpAddr::V4(a)) => a.to_string(),
                Err(_) => bare.parse::<Ipv6Addr>().map_or_else(|_| bare.to_lowercase(), |a| a.to_string()),
            }
        }
        IndicatorType::PhoneNumber => {
            let digits: String = v.chars().filter(char::is_ascii_digit).collect();
            // `00` before a number is the international prefix (`+`); `00` alone is a number.
            let international = v.trim_start().starts_with("00") && digits.len() > 2;
            let plus = v.trim_start().starts_with('+') || international;
            let digits = if international { digits[2..].to_owned() } else { digits };
            if plus && !digits.is_empty() { format!("+{digits}") } else { digits }
        }
        IndicatorType::SmsSenderId => v.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase(),
        IndicatorType::EmailSubject => v.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase(),
    };
    (!out.is_empty()).then_some(out)
}

/// What an indicator value names, in forms compared across types, for the TLP floors of
/// what a TAXII peer sent (a value received at a TLP must not be entered again looser,
/// whatever its spelling or type). Hosts are read as a browser reads them (the WHATWG URL
/// standard, the `url` crate): IDNs as punycode, percent-encoding and `\` undone, IPv4 in
/// any of its number forms, an IPv6 zone left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosure {
    kind: IndicatorType,
    /// The value as correlation compares it (`normalise`).
    value: Option<String>,
    /// The host a URL, domain, e-mail address or IP address names, in its canonical form.
    host: Option<String>,
    /// Other hosts the text of a URL names: its user name, when that is a host name
    /// (`https://evil.example@other.example/` shows `evil.example`).
    shown: Vec<String>,
    /// The address of an e-mail address or a `mailto:` URL.
    address: Option<String>,
    /// The channel of a Telegram channel or of a `t.me` URL.
    channel: Option<String>,
}

/// The canonical form of a host as a browser reads it, or `None`.
fn parse_host(h: &str) -> Option<String> {
    let h = h.trim().trim_end_matches('.');
    if h.is_empty() {
        return None;
    }
    // An IPv6 address, with or without brackets, without its zone.
    let bare = h.trim_start_matches('[').trim_end_matches(']');
    if bare.contains(':') {
        let bare = bare.split('%').next().unwrap_or_default();
        return bare
            .parse::<Ipv6Addr>()
            .ok()
            .map(|a| a.to_ipv4_mapped().map_or_else(|| a.to_string(), |m| m.to_string()));
    }
    match url::Host::parse(h).ok()? {
        url::Host::Domain(d) => Some(d.trim_end_matches('.').to_owned()).filter(|d| !d.is_empty()),
        url::Host::Ipv4(a) => Some(a.to_string()),
        url::Host::Ipv6(a) => Some(a.to_ipv4_mapped().map_or_else(|| a.to_string(), |m| m.to_string())),
    }
}

/// A URL as a browser reads it: `scheme://` may be missing (`evil.example/login`, `//x`).
fn parse_url(v: &str) -> Option<url::Url> {
    let mut v = refang(v.trim()).replace("[@]", "@");
    // An IPv6 zone (`[fe80::1%25eth0]`), which the URL standard refuses: the address is
    // named all the same.
    if let (Some(open), Some(close)) = (v.find('['), v.find(']'))
        && let Some(zone) = v[open..close].find('%')
    {
        v.replace_range(open + zone..close, "");
    }
    let with_scheme = |v: &str| {
        if v.contains("://") || v.starts_with("//") || v.contains(":\\") || v.contains(":/") {
            v.to_owned()
        } else {
            format!("http://{v}")
        }
    };
    let u = url::Url::parse(&with_scheme(&v)).or_else(|_| url::Url::parse(&format!("http:{v}"))).ok()?;
    u.host().is_some().then_some(u)
}

/// The address of an e-mail address as people write it: `Name <a@b>`, `mailto:a@b`.
fn parse_address(v: &str) -> Option<String> {
    let v = refang(v.trim()).replace("[@]", "@").replace("[at]", "@");
    let v = match (v.rfind('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => v[a + 1..b].to_owned(),
        _ => v,
    };
    let v = v.trim();
    let v = if v.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("mailto:")) { &v[7..] } else { v };
    let v = v.split('?').next().unwrap_or_default();
    let (local, domain) = v.rsplit_once('@')?;
    let domain = parse_host(domain)?;
    Some(format!("{}@{domain}", local.trim().to_lowercase()))
}

/// A Telegram channel's name from `@name`, `t.me/name`, `t.me/s/name`, a URL on them.
fn telegram_channel(host: &str, path: &str) -> Option<String> {
    if !matches!(host, "t.me" | "telegram.me" | "www.t.me" | "telegram.dog") {
        return None;
    }
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let first = segments.next()?;
    let name = if first == "s" { segments.next()? } else { first };
    Some(name.trim_start_matches('@').to_lowercase()).filter(|n| !n.is_empty())
}

impl Disclosure {
    pub fn of(kind: IndicatorType, value: &str) -> Disclosure {
        let mut d = Disclosure {
            kind,
            value: normalise(kind, value),
            host: None,
            shown: Vec::new(),
            address: None,
            channel: None,
        };
        match kind {
            IndicatorType::Url => {
                if value.trim_start().get(..7).is_some_and(|p| p.eq_ignore_ascii_case("mailto:")) {
                    d.address = parse_address(value);
                    d.host = d.address.as_deref().and_then(|a| a.rsplit_once('@')).map(|(_, h)| h.to_owned());
                } else if let Some(u) = parse_url(value) {
                    d.host = u.host_str().and_then(parse_host);
                    d.shown = [u.username()]
                        .into_iter()
                        .filter(|n| n.contains('.'))
                        .filter_map(|n| parse_host(&percent_encoding::percent_decode_str(n).decode_utf8_lossy()))
                        .collect();
                    d.channel = d.host.as_deref().and_then(|h| telegram_channel(h, u.path()));
                }
            }
            IndicatorType::Domain | IndicatorType::Ipv4 | IndicatorType::Ipv6 => {
                d.host = parse_url(value)
                    .and_then(|u| u.host_str().and_then(parse_host))
                    .or_else(|| parse_host(&refang(value)));
            }
            IndicatorType::EmailAddress => {
                d.address = parse_address(value);
                d.host = d.address.as_deref().and_then(|a| a.rsplit_once('@')).map(|(_, h)| h.to_owned());
            }
            IndicatorType::TelegramChannel => {
                let v = value.trim().to_lowercase();
                d.channel = parse_url(&v)
                    .filter(|u| u.host_str().is_some_and(|h| telegram_channel(h, "/x").is_some()))
                    .and_then(|u| u.host_str().and_then(|h| telegram_channel(h, u.path())))
                    .or_else(|| d.value.clone());
            }
            _ => {}
        }
        d
    }

    fn is_bare_host(&self) -> bool {
        matches!(self.kind, IndicatorType::Domain | IndicatorType::Ipv4 | IndicatorType::Ipv6)
    }

    /// Whether `entered` names what `self`, a received value, names: the same value (of
    /// any type, once normalised); a host received names itself and every sub-domain of it,
    /// in a URL, a domain or an e-mail address, and in what a URL shows; a host entered
    /// names the host of a received URL or address (not the other way round: a URL or an
    /// address received does not floor another one on the same host); an address, in an
    /// address or a `mailto:` URL; a Telegram channel, as a channel or a `t.me` URL.
    pub fn named_by(&self, entered: &Disclosure) -> bool {
        if self.value.is_some() && self.value == entered.value {
            return true;
        }
        if self.address.is_some() && self.address == entered.address {
            return true;
        }
        if self.channel.is_some() && self.channel == entered.channel {
            return true;
        }
        if self.is_bare_host()
            && let Some(h) = &self.host
        {
            let ip = h.parse::<IpAddr>().is_ok();
            let names = |x: &String| x == h || (!ip && x.ends_with(&format!(".{h}")));
            return entered.host.iter().chain(&entered.shown).any(names);
        }
        entered.is_bare_host() && entered.host.is_some() && entered.host == self.host
    }
}

/// Whether indicator `i` of a picture with handling `h` correlates for `v`: `v` sees the
/// picture in full (not only its metadata) and sees that indicator.
pub fn correlates(v: &Viewer, h: &Handling<'_>, i: &Indicator) -> bool {
    sight(v, h) == Sight::Full && indicator_visible(v, h, i.tlp)
}

/// The normalised values through which a picture links to others for `v`: those of the
/// indicators that correlate for it, each once.
pub fn values_for(v: &Viewer, h: &Handling<'_>, indicators: &[Indicator]) -> Vec<(IndicatorType, String)> {
    let mut out: Vec<(IndicatorType, String)> = indicators
        .iter()
        .filter(|i| correlates(v, h, i))
        .filter_map(|i| normalise(i.type_, &i.value).map(|n| (i.type_, n)))
        .collect();
    out.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use sitrep_types::{Reach, Status, Tier, Tlp};
    use uuid::Uuid;

    use super::*;

    fn n(kind: IndicatorType, v: &str) -> String {
        normalise(kind, v).unwrap()
    }

    #[test]
    fn each_type_is_compared_in_its_normal_form() {
        use IndicatorType as T;
        assert_eq!(n(T::Url, "HTTPS://Vaalit.Example:443/Polku?q=A#frag"), "https://vaalit.example/Polku?q=A");
        assert_eq!(n(T::Url, "hxxp://evil[.]example"), "http://evil.example/");
        assert_eq!(n(T::Url, "http://user:pw@Evil.Example:80?x"), "http://evil.example/?x");
        assert_ne!(n(T::Url, "https://x.example/A"), n(T::Url, "https://x.example/a"));
        assert_eq!(n(T::Domain, " Evil[.]Example. "), "evil.example");
        assert_eq!(n(T::Hashtag, "#VaaliVilppi2027"), "vaalivilppi2027");
        assert_eq!(n(T::Hashtag, "vaalivilppi2027"), "vaalivilppi2027");
        assert_eq!(n(T::SocialAccount, "@Troll_Farm"), "troll_farm");
        assert_eq!(n(T::TelegramChannel, "https://t.me/Vaalit_Uutiset/"), "vaalit_uutiset");
        assert_eq!(n(T::TelegramChannel, "@vaalit_uutiset"), "vaalit_uutiset");
        assert_eq!(n(T::FileSha256, "9F86D081 884C7D65"), "9f86d081884c7d65");
        assert_eq!(n(T::Ipv4, "192.0.2[.]10"), "192.0.2.10");
        assert_eq!(n(T::Ipv6, "2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
        assert_eq!(n(T::Ipv6, "::ffff:192.0.2.10"), "192.0.2.10");
        assert_eq!(n(T::PhoneNumber, "+358 (40) 123-4567"), "+358401234567");
        assert_eq!(n(T::PhoneNumber, "00358 40 1234567"), "+358401234567");
        assert_eq!(n(T::EmailAddress, "Vaalit[@]Example.FI"), "vaalit@example.fi");
        assert_eq!(n(T::EmailSubject, "  Tärkeä   tiedote "), "tärkeä tiedote");
        assert_eq!(normalise(T::Hashtag, " # "), None);
    }

    fn floored(received: IndicatorType, r: &str, entered: IndicatorType, e: &str) -> bool {
        Disclosure::of(received, r).named_by(&Disclosure::of(entered, e))
    }

    #[test]
    fn a_host_received_is_named_by_urls_domains_and_addresses_on_it_however_written() {
        use IndicatorType as T;
        for (kind, value) in [
            (T::Url, "https://Evil.Example:8443/x?y"),
            (T::Url, "hxxp://evil[.]example"),
            (T::Url, "hxxp://evil[.]example.:8080"),
            (T::Domain, "EVIL.example."),
            (T::EmailAddress, "info[@]evil.example"),
            // As a browser reads the URL.
            (T::Url, "https://evil.example@other.example/"),
            (T::Url, "https://evil.example\\@other.example/"),
            (T::Url, "https://evil%2Eexample/"),
            (T::Url, "https://evil\u{3002}example/"),
            // As people type it.
            (T::Url, "https://www.evil.example/"),
            (T::Domain, "www.evil.example"),
            (T::Url, "evil.example/login"),
            (T::Url, "//evil.example/login"),
            (T::Domain, "evil.example:443"),
            (T::Domain, "evil.example/"),
            (T::Domain, "https://evil.example/"),
            (T::EmailAddress, "Info <info@evil.example>"),
            (T::Url, "mailto:info@evil.example"),
        ] {
            assert!(floored(T::Domain, "evil.example", kind, value), "{} {value}", kind.as_str());
        }
        assert!(floored(T::Domain, "xn--bcher-kva.example", T::Url, "https://b\u{fc}cher.example/"));
        assert!(floored(T::Domain, "b\u{fc}cher.example", T::Url, "https://xn--bcher-kva.example/x"));
        for url in ["http://3232235777/", "http://0xC0A80101/", "http://0300.0250.0001.0001/", "http://192.168.257/"] {
            assert!(floored(T::Ipv4, "192.168.1.1", T::Url, url), "{url}");
        }
        assert!(floored(T::Ipv4, "192.168.1.1", T::Ipv4, "192.168.001.001"));
        assert!(floored(T::Ipv6, "fe80::1", T::Url, "http://[fe80::1%25eth0]/"));
        assert!(floored(T::Ipv6, "::ffff:192.0.2.10", T::Url, "http://192.0.2.10:8080/a"));
        assert!(floored(T::Ipv6, "2001:db8::1", T::Url, "https://[2001:DB8:0::1]/"));
        // Names of one spelling in several types.
        assert!(floored(T::Hashtag, "#Vaalivilppi", T::SocialAccount, "@vaalivilppi"));
        assert!(floored(T::TelegramChannel, "@vaalit_uutiset", T::Url, "https://t.me/vaalit_uutiset"));
        assert!(floored(T::TelegramChannel, "@vaalit_uutiset", T::TelegramChannel, "https://t.me/s/vaalit_uutiset"));
        assert!(floored(T::Url, "https://t.me/s/vaalit_uutiset", T::TelegramChannel, "vaalit_uutiset"));
        assert!(floored(T::EmailAddress, "info@evil.example", T::Url, "mailto:Info@Evil.Example"));
    }

    #[test]
    fn what_a_value_does_not_name_is_not_floored() {
        use IndicatorType as T;
        // Another host, also when the floored one is in the path.
        assert!(!floored(T::Domain, "evil.example", T::Url, "https://not-evil.example/evil.example"));
        assert!(!floored(T::Domain, "evil.example", T::Domain, "evilexample.example"));
        // A parent does not name its sub-domain; an IP address has no sub-domains.
        assert!(!floored(T::Domain, "sub.evil.example", T::Domain, "evil.example"));
        assert!(!floored(T::Ipv4, "1.1", T::Ipv4, "2.1.1"));
        // Two URLs or addresses that only share a host do not floor each other.
        assert!(!floored(T::Url, "https://x.example/troll_farm", T::Url, "https://x.example/someone_else"));
        assert!(!floored(T::EmailAddress, "alice@mail.example", T::EmailAddress, "bob@mail.example"));
        assert!(!floored(T::Url, "https://t.me/secret_channel", T::EmailAddress, "press@t.me"));
        assert!(!floored(T::TelegramChannel, "vaalit", T::Url, "https://t.me/vaalit_uutiset"));
        // The host of a received URL, entered alone, is floored.
        assert!(floored(T::Url, "https://x.example/troll_farm", T::Domain, "x.example"));
        assert!(!floored(T::Domain, " ", T::Domain, " "));
    }

    proptest! {
        #[test]
        fn a_domain_however_spelled_is_named_by_a_url_or_address_on_it(
            labels in prop::collection::vec("[a-z][a-z0-9]{0,11}", 2..4),
            sub in prop::option::of("[a-z0-9]{1,8}"),
            upper in any::<bool>(), dot in any::<bool>(), defang in any::<bool>(),
            scheme in prop::sample::select(vec!["http://", "https://", "hxxps://", "//", ""]),
            port in prop::option::of(1u16..),
            path in "(/[A-Za-z0-9]{0,8}){0,2}",
        ) {
            let domain = labels.join(".");
            let host = sub.map_or_else(|| domain.clone(), |s| format!("{s}.{domain}"));
            let mut spelled = if upper { host.to_uppercase() } else { host.clone() };
            if defang { spelled = spelled.replacen('.', "[.]", 1); }
            if dot { spelled.push('.'); }
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let url = format!("{scheme}{spelled}{port}{path}");
            prop_assert!(floored(IndicatorType::Domain, &domain, IndicatorType::Url, &url), "{}", url);
            let address = format!("someone@{spelled}");
            prop_assert!(floored(IndicatorType::Domain, &domain, IndicatorType::EmailAddress, &address));
            prop_assert!(floored(IndicatorType::Domain, &domain, IndicatorType::Domain, &spelled));
        }
    }

    fn any_type() -> impl Strategy<Value = IndicatorType> {
        prop::sample::select(IndicatorType::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn normalising_twice_changes_nothing(kind in any_type(), value in "\\PC{0,40}") {
            if let Some(once) = normalise(kind, &value) {
                // Defanging and prefixes are undone once; what is left is a fixed point.
                let twice = normalise(kind, &once);
                prop_assert_eq!(twice.as_deref(), Some(once.as_str()));
            }
        }

        #[test]
        fn case_and_surrounding_space_never_separate_hosts_tags_handles_or_hashes(
            kind in prop::sample::select(vec![IndicatorType::Domain, IndicatorType::Hashtag,
                IndicatorType::SocialAccount, IndicatorType::FileSha256, IndicatorType::EmailAddress]),
            value in "[A-Za-z0-9._-]{1,30}",
            pad in " {0,3}",
        ) {
            prop_assert_eq!(normalise(kind, &value), normalise(kind, &format!("{pad}{}{pad}", value.to_uppercase())));
        }

        #[test]
        fn a_url_is_the_same_whatever_the_case_of_its_host_and_scheme_and_its_default_port(
            host in "[a-z][a-z0-9-]{0,10}\\.(fi|example|test)",
            path in "(/[A-Za-z0-9]{0,6}){0,3}",
            https in any::<bool>(),
        ) {
            let scheme = if https { "https" } else { "http" };
            let port = if https { ":443" } else { ":80" };
            let plain = format!("{scheme}://{host}{path}");
            let loud = format!("{}://{}{port}{path}#x", scheme.to_uppercase(), host.to_uppercase());
            prop_assert_eq!(normalise(IndicatorType::Url, &plain), normalise(IndicatorType::Url, &loud));
        }

        #[test]
        fn an_ip_address_has_one_form(a in any::<u32>(), b in any::<u128>()) {
            let v4 = Ipv4Addr::from(a);
            prop_assert_eq!(normalise(IndicatorType::Ipv4, &v4.to_string()), Some(v4.to_string()));
            prop_assert_eq!(normalise(IndicatorType::Ipv6, &v4.to_ipv6_mapped().to_string()), Some(v4.to_string()));
            let v6 = Ipv6Addr::from(b);
            let long = v6.segments().iter().map(|s| format!("{s:04X}")).collect::<Vec<_>>().join(":");
            prop_assert_eq!(normalise(IndicatorType::Ipv6, &long), normalise(IndicatorType::Ipv6, &v6.to_string()));
        }

        /// Whatever the handling and the reader, a value correlates only if the reader
        /// sees the picture in full and the indicator.
        #[test]
        fn only_what_the_reader_sees_correlates(
            tier in prop::sample::select(Tier::ALL.to_vec()),
            tlp in prop::sample::select(Tlp::ALL.to_vec()),
            reach in prop::sample::select(Reach::ALL.to_vec()),
            status in prop::sample::select(Status::ALL.to_vec()),
            own in any::<bool>(), named in any::<bool>(), reads in any::<bool>(), secretariat in any::<bool>(),
        ) {
            let (me, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
            let v = Viewer { organisation: me, reach, reads_pictures: reads, secretariat };
            let recipients = if named { vec![me] } else { vec![] };
            let h = Handling { originator: if own { me } else { other }, status, tier, named: &recipients };
            let i = Indicator {
                type_: IndicatorType::Domain, value: "Evil.Example".into(), platform: None, first_seen: None,
                last_seen: None, tlp,
            };
            let values = values_for(&v, &h, std::slice::from_ref(&i));
            let sees = sight(&v, &h) == Sight::Full && indicator_visible(&v, &h, tlp);
            prop_assert_eq!(!values.is_empty(), sees);
            if !sees {
                prop_assert!(!correlates(&v, &h, &i));
            }
        }
    }
}
