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
            let plus = v.trim_start().starts_with('+') || v.trim_start().starts_with("00");
            let digits =
                if v.trim_start().starts_with("00") { digits[2.min(digits.len())..].to_owned() } else { digits };
            if plus && !digits.is_empty() { format!("+{digits}") } else { digits }
        }
        IndicatorType::SmsSenderId => v.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase(),
        IndicatorType::EmailSubject => v.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase(),
    };
    (!out.is_empty()).then_some(out)
}

/// What an indicator value discloses, in forms compared across types: its normalised
/// value, and the host a URL, domain, e-mail address or IP address names (a URL's host
/// without its port, an e-mail address's domain, an address in its canonical form).
/// `https://evil.example/x`, `evil.example` and `info@evil.example` all disclose
/// `evil.example`.
pub fn disclosed(kind: IndicatorType, value: &str) -> Vec<String> {
    let Some(n) = normalise(kind, value) else { return Vec::new() };
    let host = match kind {
        IndicatorType::Url => n.split_once("://").map(|(_, rest)| {
            let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
            let bare = match authority.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or_default().to_owned(),
                None => authority
                    .rsplit_once(':')
                    .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
                    .map_or(authority.to_owned(), |(h, _)| h.to_owned()),
            };
            // A trailing dot before a port is the root's too (`evil.example.:8443`).
            let bare = bare.trim_end_matches('.').to_owned();
            match bare.parse::<IpAddr>() {
                Ok(ip) => normalise(IndicatorType::Ipv6, &ip.to_string()).unwrap_or(bare),
                Err(_) => bare,
            }
        }),
        IndicatorType::EmailAddress => n.rsplit_once('@').map(|(_, d)| d.to_owned()),
        _ => None,
    };
    let mut out = vec![n];
    out.extend(host.filter(|h| !h.is_empty()));
    out.dedup();
    out
}

/// Whether two indicators, of any types, disclose something in common ([`disclosed`]):
/// a TLP floor on one holds for the other, so that it cannot be got round by entering
/// the value as another type (a domain received RED, entered again as a URL on it).
pub fn discloses_same(a_kind: IndicatorType, a: &str, b_kind: IndicatorType, b: &str) -> bool {
    let a = disclosed(a_kind, a);
    disclosed(b_kind, b).iter().any(|k| a.contains(k))
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

    #[test]
    fn a_host_is_disclosed_by_its_urls_and_e_mail_addresses_whatever_their_type() {
        use IndicatorType as T;
        for (kind, value) in [
            (T::Url, "https://Evil.Example:8443/x?y"),
            (T::Url, "hxxp://evil[.]example"),
            (T::Domain, "EVIL.example."),
            (T::EmailAddress, "info[@]evil.example"),
        ] {
            assert!(discloses_same(T::Domain, "evil.example", kind, value), "{value}");
            assert!(discloses_same(kind, value, T::Domain, "evil.example"), "{value}");
        }
        assert!(discloses_same(T::Ipv6, "::ffff:192.0.2.10", T::Url, "http://192.0.2.10:8080/a"));
        assert!(discloses_same(T::Ipv6, "2001:db8::1", T::Url, "https://[2001:DB8:0::1]/"));
        assert!(discloses_same(T::Hashtag, "#Vaalivilppi", T::SocialAccount, "@vaalivilppi"));
        assert!(!discloses_same(T::Domain, "evil.example", T::Url, "https://not-evil.example/evil.example"));
        assert!(!discloses_same(T::Domain, "evil.example", T::Domain, "sub.evil.example"));
        assert!(!discloses_same(T::Domain, " ", T::Domain, " "));
    }

    fn any_type() -> impl Strategy<Value = IndicatorType> {
        prop::sample::select(IndicatorType::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn a_domain_however_spelled_is_disclosed_by_a_url_or_address_on_it(
            labels in prop::collection::vec("[a-z0-9]{1,12}", 2..4),
            upper in any::<bool>(), dot in any::<bool>(), defang in any::<bool>(),
            scheme in prop::sample::select(vec!["http", "https", "hxxps"]),
            port in prop::option::of(1u16..),
            path in "(/[A-Za-z0-9]{0,8}){0,2}",
        ) {
            let domain = labels.join(".");
            let mut spelled = if upper { domain.to_uppercase() } else { domain.clone() };
            if defang { spelled = spelled.replacen('.', "[.]", 1); }
            if dot { spelled.push('.'); }
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let url = format!("{scheme}://{spelled}{port}{path}");
            prop_assert!(discloses_same(IndicatorType::Domain, &domain, IndicatorType::Url, &url), "{}", url);
            let address = format!("someone@{spelled}");
            prop_assert!(discloses_same(IndicatorType::Domain, &domain, IndicatorType::EmailAddress, &address));
            prop_assert!(discloses_same(IndicatorType::Url, &url, IndicatorType::Domain, &spelled));
        }

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
