//! Keyset pagination: `limit` (capped) and an opaque `cursor` bound to the caller.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// `?limit=&cursor=`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    /// The user it was issued to.
    u: Uuid,
    /// The list it belongs to.
    l: String,
    /// The last key of the page before.
    k: String,
}

impl PageQuery {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit.unwrap_or(DEFAULT_LIMIT) {
            n @ 1..=MAX_LIMIT => Ok(i64::from(n)),
            _ => Err(ApiError::invalid("limit", "out_of_range", "must be between 1 and 200")),
        }
    }

    /// The key after which this page starts. A cursor issued to another user or for
    /// another list is refused with `400`, as is anything that is not one of ours.
    pub fn after(&self, caller: Uuid, list: &str) -> Result<Option<String>, ApiError> {
        let Some(raw) = &self.cursor else { return Ok(None) };
        let bad = || ApiError::BadRequest { code: "invalid_cursor", detail: "The cursor is not valid here.".into() };
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if cursor.u != caller || cursor.l != list {
            return Err(bad());
        }
        Ok(Some(cursor.k))
    }
}

/// A cursor for `caller` in `list` at `key`.
pub fn cursor(caller: Uuid, list: &str, key: &str) -> String {
    let cursor = Cursor { u: caller, l: list.to_owned(), k: key.to_owned() };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

/// The cursor of the page after the one ending at `last_key`, if the page was full.
pub fn next_cursor(caller: Uuid, list: &str, page_len: usize, limit: i64, last_key: Option<&str>) -> Option<String> {
    if (page_len as i64) < limit {
        return None;
    }
    Some(cursor(caller, list, last_key?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_for_their_owner_and_list_only() {
        let me = Uuid::from_u128(1);
        let c = next_cursor(me, "users", 2, 2, Some("bob")).unwrap();
        let q = PageQuery { limit: None, cursor: Some(c) };
        assert_eq!(q.after(me, "users").unwrap().as_deref(), Some("bob"));
        assert!(q.after(Uuid::from_u128(2), "users").is_err());
        assert!(q.after(me, "organisations").is_err());
        let forged = PageQuery { limit: None, cursor: Some("not-a-cursor!".into()) };
        assert!(forged.after(me, "users").is_err());
    }

    #[test]
    fn a_short_page_has_no_next_cursor_and_limits_are_bounded() {
        assert!(next_cursor(Uuid::nil(), "users", 1, 2, Some("a")).is_none());
        assert!(PageQuery { limit: Some(0), cursor: None }.limit().is_err());
        assert!(PageQuery { limit: Some(201), cursor: None }.limit().is_err());
        assert_eq!(PageQuery::default().limit().unwrap(), 50);
    }
}
