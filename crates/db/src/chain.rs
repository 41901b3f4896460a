//! The hash chain of the access log, in one place: the canonical encoding of a record,
//! the link hash, the checkpoint message, and the verifier. The writer
//! (`audit::record`, with the SQL function `sitrep_audit_link` that mirrors [`link`]) and
//! `sitrep audit verify` both use this module, so they cannot drift. Pure: no I/O.
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

    /// The canonical JSON bytes. Serialising a struct of strings, integers, nulls and
    /// arrays cannot fail; should it ever, the bytes are empty and the hash will not match.
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// SHA-256 of the canonical JSON.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.canonical()).into()
    }
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
    hex::decode(hex_hash).ok()?.try_into().ok()
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
        let seq = self.expected_seq;
        if e.seq > seq {
            return Err(brk(seq, BreakKind::Sequence, format!("missing (the next record present is seq {})", e.seq)));
        }
        if e.seq < seq {
            return Err(brk(e.seq, BreakKind::Sequence, format!("out of order or repeated (after seq {})", seq - 1)));
        }
        if parse_hash(&e.prev_hash) != Some(self.prev_hash) {
            return Err(brk(seq, BreakKind::Link, "prev_hash is not the hash of the record before"));
        }
        if self.last_at.is_some_and(|t| e.at < t) {
            return Err(brk(seq, BreakKind::Time, "its time is earlier than the record before"));
        }
        let hash = entry_hash(&self.prev_hash, e);
        if parse_hash(&e.hash) != Some(hash) {
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
        self.last_at = Some(e.at);
        self.expected_seq += 1;
        self.records += 1;
        Ok(())
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
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

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
}
