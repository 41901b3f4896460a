//! Reading the access log fast for `sitrep access-log verify`: `COPY … TO STDOUT (FORMAT
//! binary)` of one `seq` range at a time, decoded straight into a reused
//! [`Record`](crate::chain::Record). The row protocol decodes every column of every row
//! into fresh values; here a record costs no allocation once the buffers have grown.
//!
//! Like [`crate::access_log::scan`], each range is its own short statement: no snapshot is
//! held for the length of the scan (see docs/access-log.md, "The head row's dead
//! versions"). The records are immutable, so reading them in several snapshots changes
//! nothing.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};

use chrono::DateTime;
use futures_util::StreamExt;
use uuid::Uuid;

use crate::DbError;
use crate::access_log::ENTRY_COLUMNS;
use sitrep_access_log::chain::{OptText, Record, TextList};

const FIELDS: i16 = 22;
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Why a scan stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScanError<E> {
    #[error(transparent)]
    Db(#[from] DbError),
    /// A stored value could not be decoded (a wrong type or length).
    #[error("record after seq {after}: {message}")]
    Decode { after: i64, message: String },
    /// `each` refused a record.
    #[error("stopped")]
    Stopped(E),
}

/// Calls `each` with every record with `seq` in `1..=upto`, in `seq` order, reading
/// `batch` `seq` values per statement.
pub async fn for_each_record<E>(
    client: &crate::Client,
    upto: i64,
    batch: i64,
    mut each: impl FnMut(&Record) -> Result<(), E>,
) -> Result<(), ScanError<E>> {
    let mut record = Record::default();
    let mut carry: Vec<u8> = Vec::new();
    let mut after = 0i64;
    let mut last = 0i64;
    while after < upto {
        let to = after.saturating_add(batch.max(1)).min(upto);
        // Integers formatted into the statement: COPY takes no parameters.
        let sql = format!(
            "COPY (SELECT {ENTRY_COLUMNS} FROM access_log WHERE seq > {after} AND seq <= {to} ORDER BY seq) \
             TO STDOUT (FORMAT binary)"
        );
        let stream = client.copy_out(sql.as_str()).await.map_err(DbError::from)?;
        let mut stream = std::pin::pin!(stream);
        carry.clear();
        let mut header = false;
        let mut done = false;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(DbError::from)?;
            let mut feed = |data: &[u8]| -> Result<usize, ScanError<E>> {
                let mut pos = 0;
                if !header {
                    let Some(skip) = header_len(data) else { return Ok(0) };
                    pos = skip;
                    header = true;
                }
                while !done {
                    match tuple(&data[pos..]).map_err(|message| ScanError::Decode { after: last, message })? {
                        Tuple::Incomplete => break,
                        Tuple::Trailer => {
                            pos += 2;
                            done = true;
                        }
                        Tuple::Row(len) => {
                            decode(&data[pos..pos + len], &mut record)
                                .map_err(|message| ScanError::Decode { after: last, message })?;
                            last = record.seq;
                            each(&record).map_err(ScanError::Stopped)?;
                            pos += len;
                        }
                    }
                }
                Ok(pos)
            };
            if carry.is_empty() {
                let used = feed(&chunk[..])?;
                carry.extend_from_slice(&chunk[used..]);
            } else {
                carry.extend_from_slice(&chunk);
                let used = feed(&carry)?;
                carry.drain(..used);
            }
        }
        if !done || !carry.is_empty() {
            return Err(ScanError::Decode { after: last, message: "the COPY stream ended early".into() });
        }
        after = to;
    }
    Ok(())
}

/// The length of the COPY header, once it is all there.
fn header_len(data: &[u8]) -> Option<usize> {
    if data.len() < SIGNATURE.len() + 8 {
        return None;
    }
    let ext = usize::try_from(be_i32(&data[SIGNATURE.len() + 4..])).unwrap_or(0);
    let len = SIGNATURE.len() + 8 + ext;
    (data.len() >= len).then_some(len)
}

enum Tuple {
    Incomplete,
    Trailer,
    /// A whole row of this many bytes.
    Row(usize),
}

fn tuple(data: &[u8]) -> Result<Tuple, String> {
    if data.len() < 2 {
        return Ok(Tuple::Incomplete);
    }
    let fields = i16::from_be_bytes([data[0], data[1]]);
    if fields == -1 {
        return Ok(Tuple::Trailer);
    }
    if fields != FIELDS {
        return Err(format!("{fields} columns, expected {FIELDS}"));
    }
    let mut pos = 2;
    for _ in 0..fields {
        if data.len() < pos + 4 {
            return Ok(Tuple::Incomplete);
        }
        let len = be_i32(&data[pos..]);
        pos += 4;
        if len > 0 {
            pos += len as usize;
        }
    }
    Ok(if data.len() < pos { Tuple::Incomplete } else { Tuple::Row(pos) })
}

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The columns of one whole row.
struct Columns<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Columns<'a> {
    /// The next column's bytes, `None` for NULL.
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = be_i32(&self.data[self.pos..]);
        self.pos += 4;
        if len < 0 {
            return None;
        }
        let value = &self.data[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Some(value)
    }

    fn required(&mut self, name: &str) -> Result<&'a [u8], String> {
        self.next().ok_or_else(|| format!("{name} is null"))
    }
}

fn text<'a>(v: &'a [u8], name: &str) -> Result<&'a str, String> {
    std::str::from_utf8(v).map_err(|_| format!("{name} is not UTF-8"))
}

fn int<const N: usize>(v: &[u8], name: &str) -> Result<[u8; N], String> {
    v.try_into().map_err(|_| format!("{name} has {} bytes, expected {N}", v.len()))
}

fn uuid(v: Option<&[u8]>, name: &str) -> Result<Option<Uuid>, String> {
    v.map(|v| int::<16>(v, name).map(Uuid::from_bytes)).transpose()
}

fn opt_text(v: Option<&[u8]>, slot: &mut OptText, name: &str) -> Result<(), String> {
    slot.set(v.map(|v| text(v, name)).transpose()?);
    Ok(())
}

/// The elements of a one-dimensional array without NULLs (an empty array has no
/// dimension), each passed to `item`.
fn array<'a>(v: &'a [u8], name: &str, mut item: impl FnMut(&'a [u8]) -> Result<(), String>) -> Result<(), String> {
    let bad = || format!("{name} is not a one-dimensional array");
    if v.len() < 12 {
        return Err(bad());
    }
    let dims = be_i32(v);
    if dims == 0 {
        return Ok(());
    }
    if dims != 1 || v.len() < 20 {
        return Err(bad());
    }
    let count = be_i32(&v[12..]);
    let mut pos = 20;
    for _ in 0..count {
        let len = v.get(pos..pos + 4).map(be_i32).ok_or_else(bad)?;
        pos += 4;
        if len < 0 {
            return Err(format!("{name} has a null element"));
        }
        let element = v.get(pos..pos + len as usize).ok_or_else(bad)?;
        item(element)?;
        pos += len as usize;
    }
    Ok(())
}

fn text_array(v: &[u8], list: &mut TextList, name: &str) -> Result<(), String> {
    list.clear();
    array(v, name, |e| {
        list.push(text(e, name)?);
        Ok(())
    })
}

/// An `inet` value as Rust prints the address (the netmask is not part of the record,
/// as with `IpAddr`'s `FromSql`).
fn inet(v: &[u8], out: &mut String) -> Result<(), String> {
    let addr = match v {
        // `a.b.c.d` in decimal, as `Ipv4Addr` prints it, without the formatter.
        [2, _, _, 4, octets @ ..] => {
            for (i, octet) in octets.iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(itoa::Buffer::new().format(*octet));
            }
            return Ok(());
        }
        [3, _, _, 16, rest @ ..] if rest.len() == 16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(rest);
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return Err("client_addr is not an inet value".into()),
    };
    write!(out, "{addr}").map_err(|e| e.to_string())
}

fn hash(v: &[u8]) -> Option<[u8; 32]> {
    v.try_into().ok()
}

/// One row into `r`.
fn decode(data: &[u8], r: &mut Record) -> Result<(), String> {
    let mut c = Columns { data, pos: 2 };
    r.seq = i64::from_be_bytes(int(c.required("seq")?, "seq")?);
    let micros = i64::from_be_bytes(int(c.required("at")?, "at")?);
    r.at = micros
        .checked_add(PG_EPOCH_MICROS)
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(|| format!("at is out of range ({micros})"))?;
    r.request_id.clear();
    r.request_id.push_str(text(c.required("request_id")?, "request_id")?);
    r.actor_type.clear();
    r.actor_type.push_str(text(c.required("actor_type")?, "actor_type")?);
    r.actor_id = uuid(c.next(), "actor_id")?;
    opt_text(c.next(), &mut r.actor_name, "actor_name")?;
    r.organisation_id = uuid(c.next(), "organisation_id")?;
    r.membership_id = uuid(c.next(), "membership_id")?;
    text_array(c.required("roles")?, &mut r.roles, "roles")?;
    r.action.clear();
    r.action.push_str(text(c.required("action")?, "action")?);
    opt_text(c.next(), &mut r.object_type, "object_type")?;
    opt_text(c.next(), &mut r.object_id, "object_id")?;
    r.object_revision = c.next().map(|v| int(v, "object_revision").map(i32::from_be_bytes)).transpose()?;
    r.object_ids.clear();
    r.has_object_ids = false;
    if let Some(v) = c.next() {
        r.has_object_ids = true;
        let ids = &mut r.object_ids;
        array(v, "object_ids", |e| {
            ids.push(Uuid::from_bytes(int(e, "object_ids")?));
            Ok(())
        })?;
    }
    opt_text(c.next(), &mut r.tier, "tier")?;
    opt_text(c.next(), &mut r.tlp, "tlp")?;
    r.outcome.clear();
    r.outcome.push_str(text(c.required("outcome")?, "outcome")?);
    opt_text(c.next(), &mut r.reason, "reason")?;
    r.http_status = i16::from_be_bytes(int(c.required("http_status")?, "http_status")?);
    match c.next() {
        Some(v) => inet(v, r.client_addr.set_empty())?,
        None => r.client_addr.clear(),
    }
    // Not 32 bytes: the hash cannot match, and the verifier names the record.
    r.prev_hash = c.next().and_then(hash);
    r.hash = c.next().and_then(hash);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    // Test values are a few bytes long: their lengths fit an i32.
    #[allow(clippy::cast_possible_truncation)]
    fn field(out: &mut Vec<u8>, v: Option<&[u8]>) {
        match v {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(v) => {
                out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                out.extend_from_slice(v);
            }
        }
    }

    #[allow(clippy::cast_possible_truncation)]
    fn array(elem_oid: u32, elements: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        if elements.is_empty() {
            out.extend_from_slice(&0i32.to_be_bytes());
            out.extend_from_slice(&0i32.to_be_bytes());
            out.extend_from_slice(&elem_oid.to_be_bytes());
            return out;
        }
        for v in [1i32, 0] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&elem_oid.to_be_bytes());
        out.extend_from_slice(&(elements.len() as i32).to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
        for e in elements {
            field(&mut out, Some(e));
        }
        out
    }

    /// A row as PostgreSQL's binary COPY sends it.
    fn row(client_addr: Option<&[u8]>, object_ids: Option<Vec<u8>>) -> Vec<u8> {
        let micros: i64 = 1_795_435_200_123_456 - PG_EPOCH_MICROS;
        let id = Uuid::from_u128(7);
        let mut out = FIELDS.to_be_bytes().to_vec();
        let roles = array(25, &[b"reader", "ä\"".as_bytes()]);
        let (seq, at, revision, status) =
            (5i64.to_be_bytes(), micros.to_be_bytes(), (-3i32).to_be_bytes(), 200i16.to_be_bytes());
        let values: [Option<&[u8]>; 22] = [
            Some(&seq),
            Some(&at),
            Some(b"req"),
            Some(b"user"),
            Some(id.as_bytes()),
            Some("n\u{1}ä".as_bytes()),
            None,
            None,
            Some(&roles),
            Some(b"me.view"),
            Some(b""),
            None,
            Some(&revision),
            object_ids.as_deref(),
            None,
            None,
            Some(b"allowed"),
            None,
            Some(&status),
            client_addr,
            Some(&[1; 32]),
            Some(&[2; 31]),
        ];
        for v in values {
            field(&mut out, v);
        }
        out
    }

    #[test]
    fn a_binary_row_decodes_into_the_record_the_row_protocol_gives() {
        let ids = array(2950, &[Uuid::from_u128(1).as_bytes(), Uuid::nil().as_bytes()]);
        let data = row(Some(&[3, 128, 0, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), Some(ids));
        assert!(matches!(tuple(&data), Ok(Tuple::Row(n)) if n == data.len()));
        for cut in [0, 1, 2, 5, data.len() - 1] {
            assert!(matches!(tuple(&data[..cut]), Ok(Tuple::Incomplete)), "{cut}");
        }
        let mut r = Record::default();
        decode(&data, &mut r).unwrap();
        assert_eq!(r.seq, 5);
        assert_eq!(r.at, DateTime::parse_from_rfc3339("2026-11-23T12:00:00.123456Z").unwrap().to_utc());
        assert_eq!(r.actor_id, Some(Uuid::from_u128(7)));
        assert_eq!(r.actor_name.get(), Some("n\u{1}ä"));
        assert_eq!(r.roles.iter().collect::<Vec<_>>(), ["reader", "ä\""]);
        assert_eq!((r.object_type.get(), r.object_id.get(), r.object_revision), (Some(""), None, Some(-3)));
        assert_eq!((r.has_object_ids, r.object_ids.as_slice()), (true, &[Uuid::from_u128(1), Uuid::nil()][..]));
        assert_eq!((r.http_status, r.client_addr.get()), (200, Some("2001:db8::1")));
        assert_eq!((r.prev_hash, r.hash), (Some([1; 32]), None), "a hash of 31 bytes cannot match");

        // The same buffers, another row: nothing of the first is left.
        let data = row(Some(&[2, 32, 0, 4, 10, 0, 0, 1]), Some(array(2950, &[])));
        decode(&data, &mut r).unwrap();
        assert_eq!(r.client_addr.get(), Some("10.0.0.1"));
        assert_eq!((r.has_object_ids, r.object_ids.len()), (true, 0));
        let data = row(None, None);
        decode(&data, &mut r).unwrap();
        assert_eq!((r.client_addr.get(), r.has_object_ids), (None, false));

        for octets in [[0, 0, 0, 0], [1, 9, 10, 99], [100, 199, 200, 255], [127, 0, 0, 1]] {
            let mut text = String::new();
            inet(&[[2, 32, 0, 4], octets].concat(), &mut text).unwrap();
            assert_eq!(text, Ipv4Addr::from(octets).to_string());
        }
        assert!(decode(&row(Some(&[9, 0, 0, 1, 1]), None), &mut r).is_err());
        assert!(matches!(tuple(&(-1i16).to_be_bytes()), Ok(Tuple::Trailer)));
        assert!(tuple(&3i16.to_be_bytes()).is_err());
    }

    #[test]
    fn the_copy_header_is_skipped_once_whole() {
        let mut header = SIGNATURE.to_vec();
        header.extend_from_slice(&0i32.to_be_bytes());
        header.extend_from_slice(&0i32.to_be_bytes());
        assert_eq!(header_len(&header), Some(19));
        assert_eq!(header_len(&header[..18]), None);
    }
}
