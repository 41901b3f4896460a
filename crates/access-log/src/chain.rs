//! The hash chain of the access log, in one place: the canonical encoding of a record,
//! the link hash, the checkpoint message, and the verifier. The writer
//! (`audit::record`, with the SQL function `sitrep_audit_link` that mirrors [`link`]) and
//! `sitrep access-log verify` both use this module, so they cannot drift. Pure: no I/O.
//!
//! ```text
//! digest = SHA-256(canonical JSON of the record's content)
//! hash   = SHA-256("sitrep-audit-v1" 0x00 || prev_hash || seq as i64 BE
//!                  || at as i64 BE microseconds since the Unix epoch || digest)
//! ```
//!
//! The canonical JSON is one object with every content field (null when absent), keys
//! in byte order, no white space, strings escaped as RFC 8785 (JCS) does, integers only,
//! UUIDs lower-case hyphenated, client addresses as Rust prints `IpAddr`. `seq`, `at`,
//! `prev_hash` and `hash` are not in it: `seq` and `at` are in the link.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sitrep_types::{AccessLogCheckpoint, AccessLogEntry};
use uuid::Uuid;

/// Domain separation of record hashes.
pub const RECORD_DOMAIN: &[u8] = b"sitrep-audit-v1\0";
/// First line of a checkpoint message.
pub const CHECKPOINT_DOMAIN: &str = "sitrep-audit-checkpoint-v1";
/// `prev_hash` of the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// The content of a record, borrowed, with fields in canonical (byte) order.
#[derive(Debug, Serialize)]
pub struct Content<'a> {
    pub action: &'a str,
    pub actor_id: Option<Uuid>,
    pub actor_name: Option<&'a str>,
    pub actor_type: &'a str,
    pub client_addr: Option<String>,
    pub http_status: i16,
    pub membership_id: Option<Uuid>,
    pub object_id: Option<&'a str>,
    pub object_ids: Option<&'a [Uuid]>,
    pub object_revision: Option<i32>,
    pub object_type: Option<&'a str>,
    pub organisation_id: Option<Uuid>,
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub request_id: &'a str,
    pub roles: Vec<&'a str>,
    pub tier: Option<&'a str>,
    pub tlp: Option<&'a str>,
}

impl<'a> Content<'a> {
    pub fn of_entry(e: &'a AccessLogEntry) -> Content<'a> {
        Content {
            action: &e.action,
            actor_id: e.actor_id,
            actor_name: e.actor_name.as_deref(),
            actor_type: &e.actor_type,
            client_addr: e.client_addr.clone(),
            http_status: e.http_status,
            membership_id: e.membership_id,
            object_id: e.object_id.as_deref(),
            object_ids: e.object_ids.as_deref(),
            object_revision: e.object_revision,
            object_type: e.object_type.as_deref(),
            organisation_id: e.organisation_id,
            outcome: &e.outcome,
            reason: e.reason.as_deref(),
            request_id: &e.request_id,
            roles: e.roles.iter().map(String::as_str).collect(),
            tier: e.tier.as_deref(),
            tlp: e.tlp.as_deref(),
        }
    }

    fn fields(&self) -> Fields<'_, impl Iterator<Item = &'a str> + '_> {
        Fields {
            action: self.action,
            actor_id: self.actor_id,
            actor_name: self.actor_name,
            actor_type: self.actor_type,
            client_addr: self.client_addr.as_deref(),
            http_status: self.http_status,
            membership_id: self.membership_id,
            object_id: self.object_id,
            object_ids: self.object_ids,
            object_revision: self.object_revision,
            object_type: self.object_type,
            organisation_id: self.organisation_id,
            outcome: self.outcome,
            reason: self.reason,
            request_id: self.request_id,
            roles: self.roles.iter().copied(),
            tier: self.tier,
            tlp: self.tlp,
        }
    }

    /// The canonical JSON bytes.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        self.fields().write(&mut out);
        out
    }

    /// SHA-256 of the canonical JSON.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.canonical()).into()
    }
}

/// The content fields, borrowed, in canonical (byte) order: the one encoder of the
/// canonical JSON, used by [`Content`] (the writer) and [`Record`] (the verifier). It
/// writes straight into a buffer: no `serde_json::Value`, no allocation once the buffer
/// has grown.
struct Fields<'a, R> {
    action: &'a str,
    actor_id: Option<Uuid>,
    actor_name: Option<&'a str>,
    actor_type: &'a str,
    client_addr: Option<&'a str>,
    http_status: i16,
    membership_id: Option<Uuid>,
    object_id: Option<&'a str>,
    object_ids: Option<&'a [Uuid]>,
    object_revision: Option<i32>,
    object_type: Option<&'a str>,
    organisation_id: Option<Uuid>,
    outcome: &'a str,
    reason: Option<&'a str>,
    request_id: &'a str,
    roles: R,
    tier: Option<&'a str>,
    tlp: Option<&'a str>,
}

impl<'r, R: Iterator<Item = &'r str>> Fields<'_, R> {
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"action\":");
        json_str(out, self.action);
        out.extend_from_slice(b",\"actor_id\":");
        json_opt_uuid(out, self.actor_id);
        out.extend_from_slice(b",\"actor_name\":");
        json_opt_str(out, self.actor_name);
        out.extend_from_slice(b",\"actor_type\":");
        json_str(out, self.actor_type);
        out.extend_from_slice(b",\"client_addr\":");
        json_opt_str(out, self.client_addr);
        out.extend_from_slice(b",\"http_status\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.http_status).as_bytes());
        out.extend_from_slice(b",\"membership_id\":");
        json_opt_uuid(out, self.membership_id);
        out.extend_from_slice(b",\"object_id\":");
        json_opt_str(out, self.object_id);
        out.extend_from_slice(b",\"object_ids\":");
        match self.object_ids {
            None => out.extend_from_slice(b"null"),
            Some(ids) => {
                out.push(b'[');
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json_uuid(out, id);
                }
                out.push(b']');
            }
        }
        out.extend_from_slice(b",\"object_revision\":");
        match self.object_revision {
            None => out.extend_from_slice(b"null"),
            Some(r) => out.extend_from_slice(itoa::Buffer::new().format(r).as_bytes()),
        }
        out.extend_from_slice(b",\"object_type\":");
        json_opt_str(out, self.object_type);
        out.extend_from_slice(b",\"organisation_id\":");
        json_opt_uuid(out, self.organisation_id);
        out.extend_from_slice(b",\"outcome\":");
        json_str(out, self.outcome);
        out.extend_from_slice(b",\"reason\":");
        json_opt_str(out, self.reason);
        out.extend_from_slice(b",\"request_id\":");
        json_str(out, self.request_id);
        out.extend_from_slice(b",\"roles\":[");
        for (i, role) in self.roles.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_str(out, role);
        }
        out.extend_from_slice(b"],\"tier\":");
        json_opt_str(out, self.tier);
        out.extend_from_slice(b",\"tlp\":");
        json_opt_str(out, self.tlp);
        out.push(b'}');
    }
}

/// Index of the first byte of `b` that a JSON string must escape (`"`, `\\`, a control
/// character), eight bytes at a time.
pub(crate) fn first_special(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while i + 8 <= b.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&b[i..i + 8]);
        let x = u64::from_le_bytes(word);
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        // A byte is zero, or below 0x20: the classic "has a byte less than n" test; exact
        // for bytes below 0x80, and bytes at or above 0x80 never set their high bit here.
        let hit = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (x.wrapping_sub(ONES * 0x20) & !x);
        if hit & HIGHS != 0 {
            break;
        }
        i += 8;
    }
    b[i..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).map(|p| p + i)
}

/// A JSON string as RFC 8785 (and serde_json) writes it.
fn json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut rest = s.as_bytes();
    out.push(b'"');
    while let Some(i) = first_special(rest) {
        out.extend_from_slice(&rest[..i]);
        let c = rest[i];
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]),
        }
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

fn json_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn json_uuid(out: &mut Vec<u8>, id: &Uuid) {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.push(b'"');
    out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
    out.push(b'"');
}

fn json_opt_uuid(out: &mut Vec<u8>, id: Option<Uuid>) {
    match id {
        Some(id) => json_uuid(out, &id),
        None => out.extend_from_slice(b"null"),
    }
}

/// An optional text whose buffer is kept when it is absent, so that a [`Record`] read
/// again and again allocates nothing once its buffers have grown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptText {
    text: String,
    present: bool,
}

impl OptText {
    pub fn get(&self) -> Option<&str> {
        self.present.then_some(self.text.as_str())
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.present = false;
    }

    /// Present and empty: the buffer to write the text into.
    pub fn set_empty(&mut self) -> &mut String {
        self.text.clear();
        self.present = true;
        &mut self.text
    }

    pub fn set(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.set_empty().push_str(s),
            None => self.clear(),
        }
    }
}

/// A list of texts in one buffer (`roles`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextList {
    text: String,
    ends: Vec<usize>,
}

impl TextList {
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    pub fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.ends.push(self.text.len());
    }

    /// Appends to the buffer; [`TextList::end_item`] closes the item.
    pub fn buf(&mut self) -> &mut String {
        &mut self.text
    }

    pub fn end_item(&mut self) {
        self.ends.push(self.text.len());
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let s = &self.text[start..end];
            start = end;
            s
        })
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// One record as the verifier reads it from a database or an export file: reused from
/// record to record (no allocation per record once its buffers have grown). The hashes
/// are `None` when the stored value is not 32 bytes (or not 64 hex digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub request_id: String,
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    pub actor_name: OptText,
    pub organisation_id: Option<Uuid>,
    pub membership_id: Option<Uuid>,
    pub roles: TextList,
    pub action: String,
    pub object_type: OptText,
    pub object_id: OptText,
    pub object_revision: Option<i32>,
    pub object_ids: Vec<Uuid>,
    pub has_object_ids: bool,
    pub tier: OptText,
    pub tlp: OptText,
    pub outcome: String,
    pub reason: OptText,
    pub http_status: i16,
    pub client_addr: OptText,
    pub prev_hash: Option<[u8; 32]>,
    pub hash: Option<[u8; 32]>,
}

impl Default for Record {
    fn default() -> Record {
        Record {
            seq: 0,
            at: DateTime::UNIX_EPOCH,
            request_id: String::new(),
            actor_type: String::new(),
            actor_id: None,
            actor_name: OptText::default(),
            organisation_id: None,
            membership_id: None,
            roles: TextList::default(),
            action: String::new(),
            object_type: OptText::default(),
            object_id: OptText::default(),
            object_revision: None,
            object_ids: Vec::new(),
            has_object_ids: false,
            tier: OptText::default(),
            tlp: OptText::default(),
            outcome: String::new(),
            reason: OptText::default(),
            http_status: 0,
            client_addr: OptText::default(),
            prev_hash: None,
            hash: None,
        }
    }
}

impl Record {
    /// The record of an API entry (tests, and the slow path of the export reader).
    pub fn from_entry(e: &AccessLogEntry) -> Record {
        let mut r = Record {
            seq: e.seq,
            at: e.at,
            request_id: e.request_id.clone(),
            actor_type: e.actor_type.clone(),
            actor_id: e.actor_id,
            organisation_id: e.organisation_id,
            membership_id: e.membership_id,
            action: e.action.clone(),
            object_revision: e.object_revision,
            object_ids: e.object_ids.clone().unwrap_or_default(),
            has_object_ids: e.object_ids.is_some(),
            outcome: e.outcome.clone(),
            http_status: e.http_status,
            prev_hash: parse_hash(&e.prev_hash),
            hash: parse_hash(&e.hash),
            ..Record::default()
        };
        r.actor_name.set(e.actor_name.as_deref());
        for role in &e.roles {
            r.roles.push(role);
        }
        r.object_type.set(e.object_type.as_deref());
        r.object_id.set(e.object_id.as_deref());
        r.tier.set(e.tier.as_deref());
        r.tlp.set(e.tlp.as_deref());
        r.reason.set(e.reason.as_deref());
        r.client_addr.set(e.client_addr.as_deref());
        r
    }

    fn fields(&self) -> Fields<'_, impl Iterator<Item = &str>> {
        Fields {
            action: &self.action,
            actor_id: self.actor_id,
            actor_name: self.actor_name.get(),
            actor_type: &self.actor_type,
            client_addr: self.client_addr.get(),
            http_status: self.http_status,
            membership_id: self.membership_id,
            object_id: self.object_id.get(),
            object_ids: self.has_object_ids.then_some(self.object_ids.as_slice()),
            object_revision: self.object_revision,
            object_type: self.object_type.get(),
            organisation_id: self.organisation_id,
            outcome: &self.outcome,
            reason: self.reason.get(),
            request_id: &self.request_id,
            roles: self.roles.iter(),
            tier: self.tier.get(),
            tlp: self.tlp.get(),
        }
    }

    /// Writes the canonical JSON of the content into `out` (cleared first).
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        out.clear();
        self.fields().write(out);
    }

    /// What [`ChainVerifier::push_linked`] needs of this record, its hash recomputed after
    /// its own `prev_hash` (so that records can be hashed on several threads).
    pub fn linked(&self, scratch: &mut Vec<u8>) -> Linked {
        Linked {
            seq: self.seq,
            at: self.at,
            prev_hash: self.prev_hash,
            hash: self.hash,
            // Without a readable prev_hash the record fails the link check first.
            link: self.prev_hash.map_or([0; 32], |prev| self.link_after(&prev, scratch)),
        }
    }

    /// The link hash of this record after `prev_hash`; `scratch` holds the canonical JSON.
    pub fn link_after(&self, prev_hash: &[u8; 32], scratch: &mut Vec<u8>) -> [u8; 32] {
        self.write_canonical(scratch);
        let digest: [u8; 32] = Sha256::digest(&scratch[..]).into();
        link(prev_hash, self.seq, self.at, &digest)
    }
}

/// A record with its hash recomputed from its content after its own stored `prev_hash`
/// (see [`Record::linked`]). Once the link check has found that `prev_hash` equal to the
/// hash before, `link` is exactly what the sequential check would compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Linked {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub prev_hash: Option<[u8; 32]>,
    pub hash: Option<[u8; 32]>,
    pub link: [u8; 32],
}

/// The record hash (mirrored by the SQL function `sitrep_audit_link`).
pub fn link(prev_hash: &[u8; 32], seq: i64, at: DateTime<Utc>, digest: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(RECORD_DOMAIN);
    h.update(prev_hash);
    h.update(seq.to_be_bytes());
    h.update(at.timestamp_micros().to_be_bytes());
    h.update(digest);
    h.finalize().into()
}

/// The hash a record should carry after `prev_hash`.
pub fn entry_hash(prev_hash: &[u8; 32], e: &AccessLogEntry) -> [u8; 32] {
    link(prev_hash, e.seq, e.at, &Content::of_entry(e).digest())
}

/// `at` as checkpoints print it: RFC 3339, UTC, exactly six fractional digits.
pub fn format_at(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The bytes a checkpoint signature covers:
/// `sitrep-audit-checkpoint-v1\n<seq>\n<hex hash>\n<at>\n`.
pub fn checkpoint_message(seq: i64, hash: &[u8; 32], at: DateTime<Utc>) -> Vec<u8> {
    format!("{CHECKPOINT_DOMAIN}\n{seq}\n{}\n{}\n", hex::encode(hash), format_at(at)).into_bytes()
}

/// Key id of a checkpoint key: hex of the first 8 bytes of SHA-256 of the raw public key.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// A 32-byte hash from its hex form.
pub fn parse_hash(hex_hash: &str) -> Option<[u8; 32]> {
    parse_hash_bytes(hex_hash.as_bytes())
}

/// The value of each hex digit (either case); 0xff for any other byte.
// `i` stays below 16, so `i as u8` is exact (`u8::try_from` is not const).
#[allow(clippy::cast_possible_truncation)]
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// A 32-byte hash from 64 hex digits (either case), without a branch per digit (the
/// verifier reads two per record).
pub fn parse_hash_bytes(s: &[u8]) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let (hi, lo) = (HEX_VALUES[usize::from(pair[0])], HEX_VALUES[usize::from(pair[1])]);
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    (bad & 0xf0 == 0).then_some(out)
}

/// Where and how the log breaks: the first bad record's `seq` and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub seq: i64,
    pub kind: BreakKind,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakKind {
    /// A record is missing (removed), or the records are out of order.
    Sequence,
    /// `prev_hash` is not the hash of the record before (removed, reordered, inserted).
    Link,
    /// The content or stored hash was changed.
    Hash,
    /// Time runs backwards.
    Time,
    /// A signed checkpoint disagrees with the record it names, or records after it are gone.
    Checkpoint,
    /// A checkpoint's signature does not verify.
    Signature,
    /// The input could not be read (bad line, bad field).
    Format,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "first bad record: seq {}: {}", self.seq, self.detail)
    }
}

impl std::error::Error for Break {}

fn brk(seq: i64, kind: BreakKind, detail: impl Into<String>) -> Break {
    Break { seq, kind, detail: detail.into() }
}

/// What a successful verification saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub records: u64,
    pub last_seq: i64,
    pub last_hash: [u8; 32],
    pub checkpoints: usize,
}

/// Checks records one by one in `seq` order from genesis, then the checkpoints. Memory
/// is flat in the number of records (the checkpoints are held).
pub struct ChainVerifier {
    checkpoints: Vec<(AccessLogCheckpoint, [u8; 32])>,
    next_checkpoint: usize,
    expected_seq: i64,
    prev_hash: [u8; 32],
    last_at: Option<DateTime<Utc>>,
    records: u64,
}

impl ChainVerifier {
    /// Verifies every checkpoint's signature with `key` first. Checkpoints may come in
    /// any order.
    pub fn new(key: &VerifyingKey, mut checkpoints: Vec<AccessLogCheckpoint>) -> Result<ChainVerifier, Break> {
        checkpoints.sort_by_key(|c| (c.seq, c.id));
        let kid = key_id(key);
        let mut checked = Vec::with_capacity(checkpoints.len());
        for c in checkpoints {
            let bad = |what: &str| brk(c.seq, BreakKind::Signature, format!("checkpoint #{} {what}", c.id));
            let hash = parse_hash(&c.hash).ok_or_else(|| bad("has a malformed hash"))?;
            if c.key_id != kid {
                return Err(bad(&format!("was signed by key {}, not by the given key {kid}", c.key_id)));
            }
            let sig = B64.decode(&c.signature).ok().and_then(|s| Signature::from_slice(&s).ok());
            let sig = sig.ok_or_else(|| bad("has a malformed signature"))?;
            key.verify(&checkpoint_message(c.seq, &hash, c.at), &sig)
                .map_err(|_| bad("has a signature that does not verify"))?;
            checked.push((c, hash));
        }
        Ok(ChainVerifier {
            checkpoints: checked,
            next_checkpoint: 0,
            expected_seq: 1,
            prev_hash: GENESIS,
            last_at: None,
            records: 0,
        })
    }

    /// Checks the next record.
    pub fn push(&mut self, e: &AccessLogEntry) -> Result<(), Break> {
        let prev = parse_hash(&e.prev_hash);
        let stored = parse_hash(&e.hash);
        self.check(e.seq, e.at, prev, stored, |prev| entry_hash(prev, e))
    }

    /// Checks the next record, read by a fast reader; `scratch` is reused for its
    /// canonical JSON.
    pub fn push_record(&mut self, r: &Record, scratch: &mut Vec<u8>) -> Result<(), Break> {
        self.check(r.seq, r.at, r.prev_hash, r.hash, |prev| r.link_after(prev, scratch))
    }

    /// Checks the next record, hashed beforehand (on another thread).
    pub fn push_linked(&mut self, l: &Linked) -> Result<(), Break> {
        self.check(l.seq, l.at, l.prev_hash, l.hash, |_| l.link)
    }

    /// The checks of one record, in the order that decides which fault is named first:
    /// `seq`, the link to the record before, time, the content hash, the checkpoints.
    /// `hash_after(prev)` recomputes the record's hash from its content after `prev`.
    pub fn check(
        &mut self,
        seq_read: i64,
        at: DateTime<Utc>,
        prev_hash: Option<[u8; 32]>,
        stored_hash: Option<[u8; 32]>,
        hash_after: impl FnOnce(&[u8; 32]) -> [u8; 32],
    ) -> Result<(), Break> {
        let seq = self.expected_seq;
        if seq_read > seq {
            return Err(brk(seq, BreakKind::Sequence, format!("missing (the next record present is seq {seq_read})")));
        }
        if seq_read < seq {
            return Err(brk(
                seq_read,
                BreakKind::Sequence,
                format!("out of order or repeated (after seq {})", seq - 1),
            ));
        }
        if prev_hash != Some(self.prev_hash) {
            return Err(brk(seq, BreakKind::Link, "prev_hash is not the hash of the record before"));
        }
        if self.last_at.is_some_and(|t| at < t) {
            return Err(brk(seq, BreakKind::Time, "its time is earlier than the record before"));
        }
        let hash = hash_after(&self.prev_hash);
        if stored_hash != Some(hash) {
            return Err(brk(seq, BreakKind::Hash, "its content does not match its hash (changed)"));
        }
        while let Some((c, signed)) = self.checkpoints.get(self.next_checkpoint) {
            if c.seq != seq {
                break;
            }
            if *signed != hash {
                return Err(brk(seq, BreakKind::Checkpoint, format!("differs from signed checkpoint #{}", c.id)));
            }
            self.next_checkpoint += 1;
        }
        self.prev_hash = hash;
        self.last_at = Some(at);
        self.expected_seq += 1;
        self.records += 1;
        Ok(())
    }

    /// The `seq` the next record should have.
    pub fn expected_seq(&self) -> i64 {
        self.expected_seq
    }

    /// Ends the check: every checkpoint must have been reached.
    pub fn finish(self) -> Result<Report, Break> {
        if let Some((c, _)) = self.checkpoints.get(self.next_checkpoint) {
            return Err(brk(
                self.expected_seq,
                BreakKind::Checkpoint,
                format!(
                    "missing: the log ends at seq {} but signed checkpoint #{} covers seq {} (tail cut off)",
                    self.expected_seq - 1,
                    c.id,
                    c.seq
                ),
            ));
        }
        Ok(Report {
            records: self.records,
            last_seq: self.expected_seq - 1,
            last_hash: self.prev_hash,
            checkpoints: self.checkpoints.len(),
        })
    }
}

/// A public key from base64 (raw 32 bytes) or a PEM (SubjectPublicKeyInfo) text.
pub fn parse_public_key(text: &str) -> Option<VerifyingKey> {
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(text).ok();
    }
    let bytes: [u8; 32] = B64.decode(text).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn hashes_parse_from_hex_of_either_case_as_hex_decode_does() {
        for text in ["00".repeat(32), "aB".repeat(32), "0".repeat(63), "0".repeat(65), "g".repeat(64), String::new()] {
            let decoded: Option<[u8; 32]> = hex::decode(&text).ok().and_then(|v| v.try_into().ok());
            assert_eq!(parse_hash(&text), decoded, "{text}");
        }
    }

    fn entry(seq: i64, prev: &[u8; 32]) -> AccessLogEntry {
        let mut e = AccessLogEntry {
            seq,
            at: DateTime::parse_from_rfc3339("2026-11-23T12:00:00.123456Z").unwrap().to_utc()
                + chrono::Duration::seconds(seq),
            request_id: "019a0000-0000-7000-8000-000000000001".into(),
            actor_type: "user".into(),
            actor_id: Some(Uuid::from_u128(1)),
            actor_name: Some("ä\"\n\u{1}".into()),
            organisation_id: None,
            membership_id: None,
            roles: vec!["auditor".into()],
            action: "access_log.list".into(),
            object_type: Some("access_log".into()),
            object_id: None,
            object_revision: None,
            object_ids: Some(vec![Uuid::from_u128(2)]),
            tier: None,
            tlp: None,
            outcome: "allowed".into(),
            reason: None,
            http_status: 200,
            client_addr: Some("127.0.0.1".into()),
            prev_hash: hex::encode(prev),
            hash: String::new(),
        };
        e.hash = hex::encode(entry_hash(prev, &e));
        e
    }

    #[test]
    fn the_canonical_encoding_has_sorted_keys_and_a_fixed_form() {
        let e = entry(1, &GENESIS);
        let json = String::from_utf8(Content::of_entry(&e).canonical()).unwrap();
        assert_eq!(
            json,
            r#"{"action":"access_log.list","actor_id":"00000000-0000-0000-0000-000000000001","actor_name":"ä\"\n\u0001","actor_type":"user","client_addr":"127.0.0.1","http_status":200,"membership_id":null,"object_id":null,"object_ids":["00000000-0000-0000-0000-000000000002"],"object_revision":null,"object_type":"access_log","organisation_id":null,"outcome":"allowed","reason":null,"request_id":"019a0000-0000-7000-8000-000000000001","roles":["auditor"],"tier":null,"tlp":null}"#
        );
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn the_link_hash_matches_its_fixed_vector() {
        let at = DateTime::parse_from_rfc3339("2026-11-23T12:00:00.123456Z").unwrap().to_utc();
        let h = link(&GENESIS, 1, at, &[7; 32]);
        // Computed independently: python3 -c "import hashlib,struct;
        // print(hashlib.sha256(b'sitrep-audit-v1\0'+bytes(32)+struct.pack('>qq',1,1795435200123456)+bytes([7]*32)).hexdigest())"
        assert_eq!(hex::encode(h), "fd0029f5892b06fab3fbd4e6f21576930d80de8c830301a09cc2a53993913601");
    }

    fn checkpoint(key: &SigningKey, id: i64, e: &AccessLogEntry) -> AccessLogCheckpoint {
        let hash = parse_hash(&e.hash).unwrap();
        let sig = key.sign(&checkpoint_message(e.seq, &hash, e.at));
        AccessLogCheckpoint {
            id,
            seq: e.seq,
            hash: e.hash.clone(),
            at: e.at,
            key_id: key_id(&key.verifying_key()),
            signature: B64.encode(sig.to_bytes()),
        }
    }

    fn chain(n: i64) -> Vec<AccessLogEntry> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let e = entry(seq, &prev);
                prev = parse_hash(&e.hash).unwrap();
                e
            })
            .collect()
    }

    fn verify(key: &SigningKey, cps: Vec<AccessLogCheckpoint>, es: &[AccessLogEntry]) -> Result<Report, Break> {
        let mut v = ChainVerifier::new(&key.verifying_key(), cps)?;
        for e in es {
            v.push(e)?;
        }
        v.finish()
    }

    #[test]
    fn an_untouched_chain_verifies_and_every_tampering_names_the_first_bad_record() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let es = chain(6);
        let cp = checkpoint(&key, 1, &es[4]);
        assert_eq!(verify(&key, vec![cp.clone()], &es).unwrap().records, 6);

        let mut changed = es.clone();
        changed[2].reason = Some("x".into());
        assert_eq!(verify(&key, vec![], &changed).unwrap_err().seq, 3);

        let mut removed = es.clone();
        removed.remove(3);
        assert_eq!(verify(&key, vec![], &removed).unwrap_err().seq, 4);

        let mut swapped = es.clone();
        swapped.swap(1, 2);
        assert_eq!(verify(&key, vec![], &swapped).unwrap_err().seq, 2);
        // Swapping contents but keeping seq in place breaks the link at the first.
        let mut renumbered = swapped.clone();
        renumbered[1].seq = 2;
        renumbered[2].seq = 3;
        assert_eq!(verify(&key, vec![], &renumbered).unwrap_err().seq, 2);

        let cut = &es[..4];
        let err = verify(&key, vec![cp.clone()], cut).unwrap_err();
        assert_eq!((err.seq, err.kind), (5, BreakKind::Checkpoint));

        let mut forged = cp.clone();
        forged.seq = 4;
        assert_eq!(verify(&key, vec![forged], &es).unwrap_err().kind, BreakKind::Signature);
        let other = SigningKey::from_bytes(&[8; 32]);
        assert_eq!(verify(&other, vec![cp], &es).unwrap_err().kind, BreakKind::Signature);
    }

    #[test]
    fn public_keys_parse_from_base64_and_pem() {
        use ed25519_dalek::pkcs8::EncodePublicKey;
        let key = SigningKey::from_bytes(&[9; 32]).verifying_key();
        assert_eq!(parse_public_key(&B64.encode(key.as_bytes())), Some(key));
        let pem = key.to_public_key_pem(Default::default()).unwrap();
        assert_eq!(parse_public_key(&pem), Some(key));
        assert_eq!(parse_public_key("nonsense"), None);
    }

    /// The encoder before this one: serde_json over the `Content` struct (fields in
    /// byte order). Kept as the oracle the fast encoder must equal.
    fn serde_canonical(c: &Content<'_>) -> Vec<u8> {
        serde_json::to_vec(c).unwrap()
    }

    fn tricky_texts() -> Vec<String> {
        let mut texts: Vec<String> = vec![
            String::new(),
            "plain".into(),
            "ä\"\n\u{1}".into(),
            "quote \" backslash \\ slash / tab \t cr \r lf \n bs \u{8} ff \u{c}".into(),
            "\u{7f} del, \u{80} c1, \u{2028} line separator, \u{feff} bom".into(),
            "日本語 🦀 \u{10ffff}".into(),
            "\\u0000 not an escape".into(),
            "0123456789abcdef0123456789abcdef\"0123456789abcdef0123456789abcdef".into(),
        ];
        texts.extend((0u8..0x20).map(|c| format!("a{}b", char::from(c))));
        texts
    }

    #[test]
    fn the_fast_encoding_equals_serde_for_tricky_values() {
        let roles_sets: [&[&str]; 3] = [&[], &["auditor"], &["secretariat", "reader", "a\"b"]];
        let ids: [Option<Vec<Uuid>>; 3] =
            [None, Some(vec![]), Some(vec![Uuid::from_u128(u128::MAX), Uuid::from_u128(0xABCDEF)])];
        let addrs = ["127.0.0.1", "::1", "2001:db8::1", "::ffff:10.0.0.1", "fe80::1%eth0"];
        for text in tricky_texts() {
            for (i, roles) in roles_sets.iter().enumerate() {
                let content = Content {
                    action: &text,
                    actor_id: (i != 0).then(|| Uuid::from_u128(1)),
                    actor_name: Some(&text),
                    actor_type: "user",
                    client_addr: Some(addrs[i % addrs.len()].to_owned()),
                    http_status: [i16::MIN, 200, i16::MAX][i],
                    membership_id: None,
                    object_id: (i == 1).then_some(text.as_str()),
                    object_ids: ids[i].as_deref(),
                    object_revision: [None, Some(i32::MIN), Some(i32::MAX)][i],
                    object_type: None,
                    organisation_id: Some(Uuid::from_u128(0xFFFF_0000_FFFF_0000)),
                    outcome: "allowed",
                    reason: (i == 2).then_some(text.as_str()),
                    request_id: &text,
                    roles: roles.to_vec(),
                    tier: None,
                    tlp: Some(&text),
                };
                assert_eq!(
                    String::from_utf8(content.canonical()).unwrap(),
                    String::from_utf8(serde_canonical(&content)).unwrap()
                );
            }
        }
        for addr in addrs {
            let mut e = entry(1, &GENESIS);
            e.client_addr = Some(addr.into());
            e.roles = vec![];
            e.object_ids = None;
            assert_eq!(Content::of_entry(&e).canonical(), serde_canonical(&Content::of_entry(&e)));
        }
    }

    #[test]
    fn a_record_encodes_and_hashes_as_its_entry() {
        let mut scratch = Vec::new();
        for mut e in chain(3) {
            for text in tricky_texts() {
                e.actor_name = Some(text.clone());
                e.reason = (!text.is_empty()).then(|| text.clone());
                let prev = parse_hash(&e.prev_hash).unwrap();
                let record = Record::from_entry(&e);
                record.write_canonical(&mut scratch);
                assert_eq!(scratch, serde_canonical(&Content::of_entry(&e)));
                assert_eq!(record.link_after(&prev, &mut scratch), entry_hash(&prev, &e));
            }
        }
    }

    #[test]
    fn the_record_path_names_the_same_first_bad_record_as_the_entry_path() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let es = chain(6);
        let cp = checkpoint(&key, 1, &es[4]);
        let by_records = |cps: Vec<AccessLogCheckpoint>, es: &[AccessLogEntry]| -> Result<Report, Break> {
            let mut v = ChainVerifier::new(&key.verifying_key(), cps)?;
            let mut scratch = Vec::new();
            for e in es {
                v.push_record(&Record::from_entry(e), &mut scratch)?;
            }
            v.finish()
        };
        let mut cases: Vec<(Vec<AccessLogCheckpoint>, Vec<AccessLogEntry>)> = vec![(vec![cp.clone()], es.clone())];
        let mut changed = es.clone();
        changed[2].reason = Some("x".into());
        cases.push((vec![], changed));
        let mut removed = es.clone();
        removed.remove(3);
        cases.push((vec![], removed));
        let mut swapped = es.clone();
        swapped.swap(1, 2);
        cases.push((vec![], swapped));
        let mut earlier = es.clone();
        earlier[3].at = earlier[2].at - chrono::Duration::microseconds(1);
        cases.push((vec![], earlier));
        let mut bad_hex = es.clone();
        bad_hex[1].hash = "zz".into();
        cases.push((vec![], bad_hex));
        let mut bad_prev = es.clone();
        bad_prev[4].prev_hash.make_ascii_uppercase();
        cases.push((vec![], bad_prev));
        cases.push((vec![cp], es[..4].to_vec()));
        let by_linked = |cps: Vec<AccessLogCheckpoint>, es: &[AccessLogEntry]| -> Result<Report, Break> {
            let mut v = ChainVerifier::new(&key.verifying_key(), cps)?;
            let mut scratch = Vec::new();
            // All hashed first, as the worker threads do, then checked in order.
            let linked: Vec<Linked> = es.iter().map(|e| Record::from_entry(e).linked(&mut scratch)).collect();
            for l in &linked {
                v.push_linked(l)?;
            }
            v.finish()
        };
        for (cps, es) in cases {
            let expected = verify(&key, cps.clone(), &es);
            assert_eq!(by_records(cps.clone(), &es), expected);
            assert_eq!(by_linked(cps, &es), expected);
        }
    }

    #[test]
    fn first_special_finds_the_first_byte_to_escape() {
        let naive = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        let mut bytes: Vec<u8> = (0..=255u8).collect();
        bytes.extend("ä日🦀".bytes());
        for start in 0..bytes.len() {
            for len in [0, 1, 7, 8, 9, 17, 40] {
                let end = (start + len).min(bytes.len());
                assert_eq!(first_special(&bytes[start..end]), naive(&bytes[start..end]), "{start}..{end}");
            }
        }
        let mut long = vec![b'a'; 100];
        for i in 0..100 {
            for c in [b'"', b'\\', 0, 0x1f, b'\n'] {
                long[i] = c;
                assert_eq!(first_special(&long), Some(i));
                long[i] = b'a';
            }
        }
        assert_eq!(first_special(&long), None);
    }

    pub(crate) mod properties {
        use super::*;
        use proptest::prelude::*;

        fn uuid() -> impl Strategy<Value = Uuid> {
            any::<u128>().prop_map(Uuid::from_u128)
        }

        prop_compose! {
            fn an_entry()(
                seq in 1i64..i64::MAX,
                micros in -62_135_596_800_000_000i64..253_402_300_799_999_999,
                texts in proptest::collection::vec(any::<String>(), 6),
                opts in proptest::collection::vec(proptest::option::of(any::<String>()), 7),
                ids in proptest::collection::vec(proptest::option::of(uuid()), 3),
                roles in proptest::collection::vec(any::<String>(), 0..4),
                object_ids in proptest::option::of(proptest::collection::vec(uuid(), 0..4)),
                object_revision in any::<Option<i32>>(),
                http_status in any::<i16>(),
                hashes in any::<([u8; 32], [u8; 32])>(),
            ) -> AccessLogEntry {
                let mut texts = texts.into_iter();
                let mut opts = opts.into_iter();
                let mut next = || texts.next().unwrap_or_default();
                let mut opt = || opts.next().flatten();
                AccessLogEntry {
                    seq,
                    at: DateTime::from_timestamp_micros(micros).unwrap(),
                    request_id: next(),
                    actor_type: next(),
                    actor_id: ids[0],
                    actor_name: opt(),
                    organisation_id: ids[1],
                    membership_id: ids[2],
                    roles,
                    action: next(),
                    object_type: opt(),
                    object_id: opt(),
                    object_revision,
                    object_ids,
                    tier: opt(),
                    tlp: opt(),
                    outcome: next(),
                    reason: opt(),
                    http_status,
                    client_addr: opt(),
                    prev_hash: hex::encode(hashes.0),
                    hash: hex::encode(hashes.1),
                }
            }
        }

        pub(crate) fn entries() -> impl Strategy<Value = AccessLogEntry> {
            an_entry()
        }

        proptest! {
            #[test]
            fn the_fast_encoding_equals_serde(e in an_entry()) {
                let content = Content::of_entry(&e);
                prop_assert_eq!(content.canonical(), serde_canonical(&content));
                let mut scratch = Vec::new();
                Record::from_entry(&e).write_canonical(&mut scratch);
                prop_assert_eq!(scratch, serde_canonical(&content));
            }
        }
    }
}
