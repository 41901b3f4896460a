//! The browser session: when a request may use the refresh token a browser holds in an
//! `HttpOnly` cookie, and how that cookie is read and written. The cookie is sent by the
//! browser on its own, so a request that uses it must prove it was made by Sitrep's own
//! page, not by a page of another site riding on the cookie.

/// The cookie's name. `__Secure-` makes browsers refuse it unless it is set `Secure` over
/// HTTPS.
pub const COOKIE_NAME: &str = "__Secure-sitrep_refresh";

/// The only path the browser sends the cookie to: login, refresh and logout.
pub const COOKIE_PATH: &str = "/api/v1/auth";

/// The request header that asks for the cookie: `Sitrep-Session: cookie`. A page of
/// another site cannot send a custom header to Sitrep without a CORS preflight, which
/// Sitrep never grants.
pub const MODE_HEADER: &str = "sitrep-session";

/// The one value of [`MODE_HEADER`].
pub const MODE_COOKIE: &str = "cookie";

/// Why a request that asked for the cookie was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CrossSite {
    /// `Sitrep-Session` with a value other than `cookie`.
    #[error("the Sitrep-Session header must be \"cookie\"")]
    UnknownMode,
    /// The browser says the request came from another site (`Sec-Fetch-Site`).
    #[error("the request was made by another site")]
    FetchSite,
    /// The `Origin` is not the server's own.
    #[error("the request's Origin is not this server")]
    Origin,
}

impl CrossSite {
    /// The reason recorded in the access log.
    pub fn reason(self) -> &'static str {
        match self {
            CrossSite::UnknownMode => "session_mode_unknown",
            CrossSite::FetchSite => "cross_site_fetch",
            CrossSite::Origin => "cross_origin",
        }
    }
}

/// What a request to login, refresh or logout carries, as its headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers<'a> {
    /// `Sitrep-Session`.
    pub mode: Option<&'a str>,
    /// `Origin`, as the browser sent it.
    pub origin: Option<&'a str>,
    /// `Sec-Fetch-Site`.
    pub fetch_site: Option<&'a str>,
    /// The authority the request was addressed to (`Host`, or `:authority` in HTTP/2).
    pub host: Option<&'a str>,
}

/// Whether the request uses the cookie: `Ok(false)` without `Sitrep-Session` (an API
/// client sends its refresh token in the body and no cookie is read or set), `Ok(true)`
/// when it says `cookie` and everything the browser tells about where it came from says
/// this server's own page: `Sec-Fetch-Site`, when sent, is `same-origin`, and `Origin`,
/// when sent, names the host the request was addressed to over HTTPS. A browser sends
/// both on every such `fetch`; a request without them is not from a browser and cannot
/// ride on anyone's cookie.
pub fn uses_cookie(h: &Headers<'_>) -> Result<bool, CrossSite> {
    let Some(mode) = h.mode else { return Ok(false) };
    if mode != MODE_COOKIE {
        return Err(CrossSite::UnknownMode);
    }
    if let Some(site) = h.fetch_site
        && site != "same-origin"
    {
        return Err(CrossSite::FetchSite);
    }
    if let Some(origin) = h.origin {
        let own = h.host.and_then(|host| origin.strip_prefix("https://").map(|rest| rest == host));
        if own != Some(true) || h.host.is_some_and(str::is_empty) {
            return Err(CrossSite::Origin);
        }
    }
    Ok(true)
}

/// The value of the cookie named [`COOKIE_NAME`] in a `Cookie` header, if there is
/// exactly one. Two cookies of that name (one planted for a wider path by another
/// application on the host) are refused rather than guessed between.
pub fn read_cookie(header: &str) -> Option<&str> {
    let mut found = None;
    for pair in header.split(';') {
        let Some((name, value)) = pair.trim().split_once('=') else { continue };
        if name == COOKIE_NAME {
            if found.is_some() {
                return None;
            }
            found = Some(value);
        }
    }
    found.filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value that gives the browser `token` for `max_age_secs`.
pub fn set_cookie(token: &str, max_age_secs: u64) -> String {
    format!("{COOKIE_NAME}={token}; Path={COOKIE_PATH}; Max-Age={max_age_secs}; HttpOnly; Secure; SameSite=Strict")
}

/// The `Set-Cookie` value that makes the browser forget the cookie.
pub fn clear_cookie() -> String {
    set_cookie("", 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HOST: &str = "sitrep.example:8443";

    fn browser<'a>(origin: Option<&'a str>, site: Option<&'a str>) -> Headers<'a> {
        Headers { mode: Some("cookie"), origin, fetch_site: site, host: Some(HOST) }
    }

    #[test]
    fn a_request_without_the_header_never_uses_the_cookie() {
        let h =
            Headers { mode: None, origin: Some("https://evil.example"), fetch_site: Some("cross-site"), host: None };
        assert_eq!(uses_cookie(&h), Ok(false));
    }

    #[test]
    fn the_consoles_own_fetch_uses_the_cookie() {
        assert_eq!(uses_cookie(&browser(Some("https://sitrep.example:8443"), Some("same-origin"))), Ok(true));
    }

    #[test]
    fn another_site_or_origin_is_refused() {
        assert_eq!(uses_cookie(&browser(Some("https://evil.example"), Some("cross-site"))), Err(CrossSite::FetchSite));
        assert_eq!(uses_cookie(&browser(None, Some("same-site"))), Err(CrossSite::FetchSite));
        assert_eq!(uses_cookie(&browser(Some("https://evil.example"), None)), Err(CrossSite::Origin));
        assert_eq!(uses_cookie(&browser(Some("http://sitrep.example:8443"), None)), Err(CrossSite::Origin));
        assert_eq!(uses_cookie(&browser(Some("null"), Some("same-origin"))), Err(CrossSite::Origin));
        assert_eq!(
            uses_cookie(&browser(Some("https://sitrep.example:8443.evil.example"), None)),
            Err(CrossSite::Origin)
        );
        let h = Headers { mode: Some("Cookie "), ..browser(None, None) };
        assert_eq!(uses_cookie(&h), Err(CrossSite::UnknownMode));
    }

    #[test]
    fn the_cookie_is_read_only_when_it_is_there_once() {
        assert_eq!(read_cookie("a=1; __Secure-sitrep_refresh=sitrep_rt_x; b=2"), Some("sitrep_rt_x"));
        assert_eq!(read_cookie("__Secure-sitrep_refresh=a; __Secure-sitrep_refresh=b"), None);
        assert_eq!(read_cookie("__Secure-sitrep_refresh="), None);
        assert_eq!(read_cookie("sitrep_refresh=a"), None);
    }

    #[test]
    fn the_cookie_is_http_only_secure_strict_and_limited_to_the_auth_paths() {
        let c = set_cookie("sitrep_rt_x", 1800);
        for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/api/v1/auth;", "Max-Age=1800"] {
            assert!(c.contains(part), "{c} lacks {part}");
        }
        assert!(clear_cookie().contains("Max-Age=0"));
    }

    proptest! {
        /// Whatever a page of another site makes the browser send, the cookie is used
        /// only when every header that says where the request came from says this host.
        #[test]
        fn the_cookie_is_used_only_for_the_servers_own_origin(
            origin in proptest::option::of(prop_oneof![
                Just(format!("https://{HOST}")),
                Just(format!("http://{HOST}")),
                Just("null".to_owned()),
                "https?://[a-z.]{1,12}(:[0-9]{1,5})?",
                ".{0,8}".prop_map(|tail| format!("https://{HOST}{tail}")),
                "[a-z.]{0,8}".prop_map(|head| format!("https://{head}{HOST}")),
                ".{0,20}",
            ]),
            site in proptest::option::of(prop_oneof![
                Just("same-origin".to_owned()), Just("same-site".to_owned()),
                Just("cross-site".to_owned()), Just("none".to_owned()), ".{0,12}",
            ]),
            mode in proptest::option::of(prop_oneof![Just("cookie".to_owned()), ".{0,8}"]),
        ) {
            let h = Headers { mode: mode.as_deref(), origin: origin.as_deref(), fetch_site: site.as_deref(), host: Some(HOST) };
            let decided = uses_cookie(&h);
            let own = format!("https://{HOST}");
            if decided == Ok(true) {
                prop_assert_eq!(mode.as_deref(), Some("cookie"));
                prop_assert!(site.as_deref().is_none_or(|s| s == "same-origin"));
                prop_assert!(origin.as_deref().is_none_or(|o| o == own));
            }
            if mode.is_none() {
                prop_assert_eq!(decided, Ok(false));
            }
        }
    }
}
