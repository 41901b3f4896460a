//! The refresh token of a browser session, carried in an `HttpOnly` cookie instead of the
//! response body, so that no script of the page can read it (docs/auth.md, "Browser
//! sessions"). A request opts in with `Sitrep-Session: cookie`; the rule of when it may
//! is `sitrep_domain::browser_session`. Without that header login, refresh and logout
//! work exactly as for any API client.

use std::future::{Ready, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError};
use sitrep_domain::browser_session::{self, Headers};
use sitrep_types::{RefreshToken, TokenPair};

use crate::body::Json;
use crate::error::ApiError;

/// How the caller carries its refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carrier {
    /// In the JSON body (API clients): answers carry it in the body too.
    Body,
    /// In the cookie (the console): answers set the cookie and leave it out of the body.
    Cookie {
        /// The cookie the browser sent, if any.
        presented: Option<String>,
    },
}

impl Carrier {
    fn of(req: &HttpRequest) -> Result<Carrier, ApiError> {
        // A header sent twice, or not as text, counts as a value that says nothing good.
        let text = |name: &str| {
            let mut values = req.headers().get_all(name);
            let first = values.next()?;
            Some(if values.next().is_some() { "" } else { first.to_str().unwrap_or("") })
        };
        let info = req.connection_info().clone();
        let headers = Headers {
            mode: text(browser_session::MODE_HEADER),
            origin: text(header::ORIGIN.as_str()),
            fetch_site: text("sec-fetch-site"),
            host: Some(info.host()),
        };
        match browser_session::uses_cookie(&headers) {
            Ok(false) => Ok(Carrier::Body),
            Ok(true) => {
                let presented = req
                    .headers()
                    .get_all(header::COOKIE)
                    .filter_map(|v| v.to_str().ok())
                    .collect::<Vec<_>>()
                    .join("; ");
                Ok(Carrier::Cookie { presented: browser_session::read_cookie(&presented).map(str::to_owned) })
            }
            Err(refusal) => Err(ApiError::Forbidden {
                code: refusal.reason(),
                detail: "A browser session's cookie is used only by requests of this server's own page.",
            }),
        }
    }

    /// The answer that hands `pair` over: the whole pair as JSON, or, for the cookie, the
    /// refresh token in `Set-Cookie` (for as long as it may be used) and the rest as JSON.
    pub fn hand_over(&self, mut pair: TokenPair) -> HttpResponse {
        let mut res = HttpResponse::Ok();
        if let Carrier::Cookie { .. } = self {
            let token = pair.refresh_token.take().unwrap_or_default();
            res.insert_header((header::SET_COOKIE, browser_session::set_cookie(&token, pair.refresh_expires_in)));
        }
        res.json(pair)
    }

    /// The answer to a refresh that was refused: for the cookie, the browser is also told
    /// to forget it, since it will never work again.
    pub fn refused(&self, err: &ApiError) -> HttpResponse {
        let mut res = err.error_response();
        if let Carrier::Cookie { .. } = self
            && let Ok(value) = header::HeaderValue::from_str(&browser_session::clear_cookie())
        {
            res.headers_mut().append(header::SET_COOKIE, value);
        }
        res
    }

    /// The answer to a logout: `204`, forgetting the cookie.
    pub fn signed_out(&self) -> HttpResponse {
        let mut res = HttpResponse::NoContent();
        if let Carrier::Cookie { .. } = self {
            res.insert_header((header::SET_COOKIE, browser_session::clear_cookie()));
        }
        res.finish()
    }
}

impl FromRequest for Carrier {
    type Error = ApiError;
    type Future = Ready<Result<Carrier, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Carrier::of(req))
    }
}

/// The refresh token a refresh presents, and how it came: the JSON body of an API client,
/// or the cookie of a browser session (whose request then needs no body).
#[derive(Debug)]
pub struct PresentedRefresh {
    pub carrier: Carrier,
    pub token: String,
}

impl FromRequest for PresentedRefresh {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<PresentedRefresh, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let carrier = Carrier::of(req);
        let body = match carrier {
            Ok(Carrier::Body) => Some(Json::<RefreshToken>::from_request(req, payload)),
            _ => None,
        };
        Box::pin(async move {
            match (carrier?, body) {
                (Carrier::Cookie { presented }, _) => Ok(PresentedRefresh {
                    token: presented.clone().unwrap_or_default(),
                    carrier: Carrier::Cookie { presented },
                }),
                (Carrier::Body, Some(body)) => {
                    Ok(PresentedRefresh { token: body.await?.0.refresh_token, carrier: Carrier::Body })
                }
                (Carrier::Body, None) => Err(ApiError::Internal(anyhow::anyhow!("refresh body not read"))),
            }
        })
    }
}
