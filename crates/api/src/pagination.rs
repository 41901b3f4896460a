//! Keyset pagination and every cursor the API hands out: `limit` (capped), list cursors
//! (`next_cursor`, TAXII's `next`), the feed's cursor and the stream's event ids
//! (`Last-Event-ID`).
//!
//! A cursor is sealed (XChaCha20-Poly1305) under a key derived from the deployment's seal
//! key, so it is the same in every process and after a restart. What it is bound to goes
//! in as associated data, not in the cursor: the caller, the list, and for a list page the
//! request's path and every query parameter but the cursor itself (filters and `limit`).
//! A cursor used by anyone else, on another list, with other filters or another limit,
//! or changed in any bit, does not open: `400 invalid_cursor`. The position inside is
//! encrypted and padded to a fixed size, so a cursor says nothing about where it points —
//! in particular a feed cursor or a stream id does not tell a reader how many events it
//! was not shown.

use std::sync::Arc;

use actix_web::HttpRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use rand::RngCore;
use rand::rngs::OsRng;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sitrep_auth::SealKey;
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
    /// `next_cursor` of the previous page, with the same filters and limit.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit.unwrap_or(DEFAULT_LIMIT) {
            n @ 1..=MAX_LIMIT => Ok(i64::from(n)),
            _ => Err(ApiError::invalid("limit", "out_of_range", "must be between 1 and 200")),
        }
    }
}

/// The format byte every cursor starts with.
const VERSION: u8 = 1;
/// The characters a cursor is written in (base64url without padding).
pub const CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]+$";
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;
/// The plaintext (a two-byte length and the key) is padded to a multiple of this, so
/// positions of any size make cursors of one length.
const PAD_TO: usize = 64;
/// Longer input is refused before it is decoded. The OpenAPI document states this bound,
/// `MAX_LIMIT` and the base64url alphabet on every `cursor` and `limit` parameter
/// (`crate::constraints`).
pub const MAX_CURSOR_CHARS: usize = 1024;
/// The purpose the cursor key is derived for.
const PURPOSE: &str = "cursors v1";

/// The key that seals cursors: derived from the seal key, which every process of a
/// deployment shares (docs/deploy.md).
#[derive(Clone)]
pub struct CursorKey {
    cipher: Arc<XChaCha20Poly1305>,
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

/// What a cursor is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A page of a list: bound to the request without its cursor too.
    List,
    /// A position in the event stream (the feed, the live stream).
    Position,
}

impl CursorKey {
    pub fn new(seal: &SealKey) -> CursorKey {
        CursorKey::from_bytes(&seal.derive(PURPOSE))
    }

    pub fn from_bytes(raw: &[u8; 32]) -> CursorKey {
        CursorKey { cipher: Arc::new(XChaCha20Poly1305::new(&Key::from(*raw))) }
    }

    /// The cursors of one list request by `caller`: bound to `list`, the request's path
    /// and its query parameters other than `cursor`.
    pub fn list(&self, req: &HttpRequest, caller: Uuid, list: &str) -> Cursors {
        self.list_with_param(req, caller, list, "cursor")
    }

    /// As [`CursorKey::list`] for a list whose cursor parameter is called `param`.
    pub fn list_with_param(&self, req: &HttpRequest, caller: Uuid, list: &str, param: &str) -> Cursors {
        let request = request_digest(req.path(), req.query_string(), param);
        Cursors { key: self.clone(), binding: binding(Kind::List, caller, list, Some(&request)) }
    }

    /// Cursors of positions in the event stream for `caller` (`list`: `feed` or `stream`).
    pub fn positions(&self, caller: Uuid, list: &str) -> Cursors {
        Cursors { key: self.clone(), binding: binding(Kind::Position, caller, list, None) }
    }

    fn seal(&self, binding: &[u8], key: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: &pad(key), aad: binding })
            // Encryption fails only for messages of gigabytes; a key is a few dozen bytes.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    fn open(&self, binding: &[u8], cursor: &str) -> Option<String> {
        if cursor.len() > MAX_CURSOR_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let (&version, rest) = bytes.split_first()?;
        if version != VERSION || rest.len() < NONCE_BYTES + TAG_BYTES {
            return None;
        }
        let (nonce, body) = rest.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
        let plain = self.cipher.decrypt(&XNonce::from(nonce), Payload { msg: body, aad: binding }).ok()?;
        unpad(&plain)
    }
}

/// The cursors of one list request or one reader's event positions.
#[derive(Debug, Clone)]
pub struct Cursors {
    key: CursorKey,
    binding: Vec<u8>,
}

impl Cursors {
    /// The key a cursor names; `None` without a cursor. A cursor that does not open for
    /// this binding is `400 invalid_cursor`.
    pub fn after(&self, cursor: Option<&str>) -> Result<Option<String>, ApiError> {
        cursor.map(|c| self.key.open(&self.binding, c).ok_or_else(invalid_cursor)).transpose()
    }

    /// A cursor naming `key`.
    pub fn at(&self, key: &str) -> String {
        self.key.seal(&self.binding, key)
    }

    /// The cursor of the page after the one ending at `last_key`, if the page was full.
    pub fn next(&self, page_len: usize, limit: i64, last_key: Option<&str>) -> Option<String> {
        if (page_len as i64) < limit {
            return None;
        }
        Some(self.at(last_key?))
    }

    /// [`Cursors::after`] for a list ordered by a time and then `N` ids (pictures and
    /// reports: the time of change and the id; overdue acknowledgements: the deadline, the
    /// picture and the organisation): the position its cursor names.
    pub fn after_position<const N: usize>(&self, cursor: Option<&str>) -> Result<Option<Position<N>>, ApiError> {
        self.after(cursor)?.map(|key| parse_position(&key).ok_or_else(invalid_cursor)).transpose()
    }

    /// [`Cursors::next`] for such a list: the page's last row is at `last`.
    pub fn next_position<const N: usize>(
        &self,
        page_len: usize,
        limit: i64,
        last: Option<Position<N>>,
    ) -> Option<String> {
        let key = last.map(|(at, ids)| position_key(at, &ids));
        self.next(page_len, limit, key.as_deref())
    }
}

/// A position in a list ordered by a time and then `N` ids.
pub type Position<const N: usize> = (DateTime<Utc>, [Uuid; N]);

/// The key of a position `time|id|…`.
fn position_key(at: DateTime<Utc>, ids: &[Uuid]) -> String {
    let mut key = at.timestamp_micros().to_string();
    for id in ids {
        key.push('|');
        key.push_str(&id.to_string());
    }
    key
}

fn parse_position<const N: usize>(key: &str) -> Option<Position<N>> {
    let mut parts = key.split('|');
    let at = DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?;
    let mut ids = [Uuid::nil(); N];
    for id in &mut ids {
        *id = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some((at, ids))
}

/// `400 invalid_cursor`.
pub fn invalid_cursor() -> ApiError {
    ApiError::BadRequest { code: "invalid_cursor", detail: "The cursor is not valid here.".into() }
}

/// The associated data of a cursor: each part length-prefixed, so that no two bindings
/// run together into the same bytes.
fn binding(kind: Kind, caller: Uuid, list: &str, request: Option<&[u8; 32]>) -> Vec<u8> {
    let mut b = Vec::with_capacity(64 + list.len());
    b.extend_from_slice(b"sitrep cursor\0");
    b.push(match kind {
        Kind::List => b'L',
        Kind::Position => b'P',
    });
    b.extend_from_slice(caller.as_bytes());
    b.extend_from_slice(&(list.len() as u64).to_be_bytes());
    b.extend_from_slice(list.as_bytes());
    if let Some(request) = request {
        b.extend_from_slice(request);
    }
    b
}

/// A digest of a list request without its cursor: the path, then every decoded query
/// parameter but `param`, sorted. Reordering the parameters or encoding them differently
/// keeps it; adding, removing or changing any other parameter changes it.
pub fn request_digest(path: &str, query: &str, param: &str) -> [u8; 32] {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != param)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    let mut h = Sha256::new();
    let mut part = |s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    part(path);
    for (k, v) in &pairs {
        part(k);
        part(v);
    }
    h.finalize().into()
}

/// `len (u16) || key || zeros`, to a multiple of `PAD_TO` bytes.
fn pad(key: &str) -> Vec<u8> {
    let key = key.as_bytes();
    let len = u16::try_from(key.len()).unwrap_or(u16::MAX);
    let body = &key[..usize::from(len)];
    let size = (2 + body.len()).div_ceil(PAD_TO) * PAD_TO;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out.resize(size, 0);
    out
}

fn unpad(plain: &[u8]) -> Option<String> {
    let (len, rest) = plain.split_at_checked(2)?;
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    String::from_utf8(rest.get(..len)?.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use proptest::prelude::*;

    use super::*;

    fn key() -> CursorKey {
        CursorKey::from_bytes(&[9u8; 32])
    }

    #[test]
    fn a_position_reads_back_only_with_its_own_number_of_ids() {
        let at = DateTime::from_timestamp_micros(1_733_400_000_123_456).unwrap();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(parse_position::<1>(&position_key(at, &[a])), Some((at, [a])));
        assert_eq!(parse_position::<2>(&position_key(at, &[a, b])), Some((at, [a, b])));
        assert_eq!(parse_position::<1>(&position_key(at, &[a, b])), None);
        assert_eq!(parse_position::<2>(&position_key(at, &[a])), None);
        assert_eq!(parse_position::<1>("not-a-time|x"), None);
    }

    fn request(uri: &str) -> HttpRequest {
        TestRequest::get().uri(uri).to_http_request()
    }

    #[test]
    fn list_cursors_open_for_their_caller_list_and_query_only() {
        let me = Uuid::from_u128(1);
        let page = key().list(&request("/api/v1/users?limit=2"), me, "users");
        let c = page.next(2, 2, Some("bob")).unwrap();
        let again = key().list(&request(&format!("/api/v1/users?cursor={c}&limit=2")), me, "users");
        assert_eq!(again.after(Some(&c)).unwrap().as_deref(), Some("bob"));
        for other in [
            key().list(&request("/api/v1/users?limit=2"), Uuid::from_u128(2), "users"),
            key().list(&request("/api/v1/users?limit=2"), me, "organisations"),
            key().list(&request("/api/v1/users?limit=3"), me, "users"),
            key().list(&request("/api/v1/users"), me, "users"),
            key().list(&request("/api/v1/organisations?limit=2"), me, "users"),
            key().positions(me, "users"),
            CursorKey::from_bytes(&[8u8; 32]).list(&request("/api/v1/users?limit=2"), me, "users"),
        ] {
            assert!(other.after(Some(&c)).is_err());
        }
        for forged in ["not-a-cursor!", "", "AQ", &"A".repeat(5000)] {
            assert!(again.after(Some(forged)).is_err(), "{forged}");
        }
        assert_eq!(again.after(None).unwrap(), None);
    }

    #[test]
    fn a_short_page_has_no_next_cursor_and_limits_are_bounded() {
        let page = key().list(&request("/x"), Uuid::nil(), "users");
        assert!(page.next(1, 2, Some("a")).is_none());
        assert!(PageQuery { limit: Some(0), cursor: None }.limit().is_err());
        assert!(PageQuery { limit: Some(201), cursor: None }.limit().is_err());
        assert_eq!(PageQuery::default().limit().unwrap(), 50);
    }

    #[test]
    fn the_cursor_key_is_the_same_wherever_the_seal_key_is() {
        let seal = SealKey::from_bytes(&[3u8; 32]);
        let c = CursorKey::new(&seal).positions(Uuid::nil(), "feed").at("12|3");
        let elsewhere = CursorKey::new(&SealKey::from_bytes(&[3u8; 32])).positions(Uuid::nil(), "feed");
        assert_eq!(elsewhere.after(Some(&c)).unwrap().as_deref(), Some("12|3"));
        let other = CursorKey::new(&SealKey::from_bytes(&[4u8; 32])).positions(Uuid::nil(), "feed");
        assert!(other.after(Some(&c)).is_err());
    }

    /// Query parameters as a list filter might have them (names repeat only in mutations).
    fn params() -> impl Strategy<Value = Vec<(String, String)>> {
        let name = prop::sample::select(vec![
            "limit",
            "domain",
            "severity",
            "status",
            "q",
            "tier",
            "tlp",
            "originator",
            "updated_since",
            "overdue",
        ]);
        prop::collection::btree_map(name, "[a-zA-Z0-9 :+&=%é-]{0,12}", 0..6)
            .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    fn encode(pairs: &[(String, String)]) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        s.finish()
    }

    /// A change to a query: a value changed, a parameter added, or one removed.
    #[derive(Debug, Clone)]
    enum Change {
        Value(prop::sample::Index, String),
        Add(String, String),
        Remove(prop::sample::Index),
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            (any::<prop::sample::Index>(), "[a-z0-9]{0,6}").prop_map(|(i, v)| Change::Value(i, v)),
            ("(limit|kind|election|is_exercise|tier|q)", "[a-z0-9]{0,6}").prop_map(|(k, v)| Change::Add(k, v)),
            any::<prop::sample::Index>().prop_map(Change::Remove),
        ]
    }

    /// `pairs` changed by `c`, or `None` when `c` would leave the query as it was.
    fn apply(pairs: &[(String, String)], c: &Change) -> Option<Vec<(String, String)>> {
        let mut out = pairs.to_vec();
        match c {
            Change::Value(i, v) => {
                if out.is_empty() {
                    return None;
                }
                let i = i.index(out.len());
                if out[i].1 == *v {
                    return None;
                }
                out[i].1 = v.clone();
            }
            Change::Add(k, v) => {
                if out.iter().any(|(name, _)| name == k) {
                    return None;
                }
                out.push((k.clone(), v.clone()));
            }
            Change::Remove(i) => {
                if out.is_empty() {
                    return None;
                }
                out.remove(i.index(out.len()));
            }
        }
        Some(out)
    }

    proptest! {
        #[test]
        fn a_cursor_opens_for_the_same_query_in_any_order_and_for_no_changed_one(
            pairs in params(),
            changes in prop::collection::vec(change(), 1..4),
            seed in any::<u64>(),
            key_text in "[a-z0-9|]{1,60}",
        ) {
            let me = Uuid::from_u128(7);
            let issued = key().list(&request(&format!("/api/v1/pictures?{}", encode(&pairs))), me, "pictures");
            let cursor = issued.at(&key_text);
            // The identical query, its parameters in another order, with the cursor among them.
            let mut shuffled = pairs.clone();
            shuffled.push(("cursor".into(), cursor.clone()));
            let n = shuffled.len();
            for i in 0..n {
                shuffled.swap(i, usize::try_from(seed % 1024).unwrap_or(0).wrapping_add(i * 7) % n);
            }
            let same = key().list(&request(&format!("/api/v1/pictures?{}", encode(&shuffled))), me, "pictures");
            prop_assert_eq!(same.after(Some(&cursor)).unwrap(), Some(key_text));
            // Any real change of filters or limit.
            let mut changed = pairs.clone();
            let mut any = false;
            for c in &changes {
                if let Some(next) = apply(&changed, c) {
                    changed = next;
                    any = true;
                }
            }
            let mut sorted = changed.clone();
            sorted.sort();
            let mut original = pairs.clone();
            original.sort();
            if any && sorted != original {
                let other = key().list(&request(&format!("/api/v1/pictures?{}", encode(&changed))), me, "pictures");
                prop_assert!(other.after(Some(&cursor)).is_err(), "changed query {:?} accepted", changed);
            }
        }

        #[test]
        fn a_position_cursor_opens_for_its_reader_alone_and_not_after_any_bit_flip(
            caller in any::<u128>(),
            other in any::<u128>(),
            xid in any::<u64>(),
            seq in any::<i64>(),
            flip in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let position = format!("{xid}|{seq}");
            let mine = key().positions(Uuid::from_u128(caller), "stream");
            let cursor = mine.at(&position);
            prop_assert_eq!(mine.after(Some(&cursor)).unwrap(), Some(position));
            if other != caller {
                prop_assert!(key().positions(Uuid::from_u128(other), "stream").after(Some(&cursor)).is_err());
            }
            prop_assert!(key().positions(Uuid::from_u128(caller), "feed").after(Some(&cursor)).is_err());
            let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
            let i = flip.index(bytes.len());
            bytes[i] ^= 1 << bit;
            prop_assert!(mine.after(Some(&URL_SAFE_NO_PAD.encode(&bytes))).is_err());
        }

        #[test]
        fn position_cursors_are_all_one_length_and_never_repeat(
            a in (any::<u64>(), any::<i64>()),
            b in (any::<u64>(), any::<i64>()),
        ) {
            let mine = key().positions(Uuid::from_u128(1), "feed");
            let (ca, cb) = (mine.at(&format!("{}|{}", a.0, a.1)), mine.at(&format!("{}|{}", b.0, b.1)));
            prop_assert_eq!(ca.len(), cb.len());
            prop_assert_ne!(&ca, &mine.at(&format!("{}|{}", a.0, a.1)));
        }
    }
}
