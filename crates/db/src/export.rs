//! The export formats of the access log, written by the API and read back by
//! `sitrep audit verify`: JSON Lines (one `AccessLogEntry` per line) and CSV.
//!
//! CSV (RFC 4180, `\n` line ends) has a header line with the column names below, then one
//! record per line. So that a file reads back to exactly the record that was hashed: an
//! absent value is an empty *unquoted* field; every text value (also times, UUIDs, hashes,
//! and the JSON arrays of `roles` and `object_ids`) is quoted, `"` doubled; integers are
//! bare. Times have six fractional digits.

use std::io::BufRead;

use chrono::{DateTime, Utc};
use sitrep_types::AccessLogEntry;
use uuid::Uuid;

use crate::chain::format_at;

pub const CSV_COLUMNS: [&str; 22] = [
    "seq",
    "at",
    "request_id",
    "actor_type",
    "actor_id",
    "actor_name",
    "organisation_id",
    "membership_id",
    "roles",
    "action",
    "object_type",
    "object_id",
    "object_revision",
    "object_ids",
    "tier",
    "tlp",
    "outcome",
    "reason",
    "http_status",
    "client_addr",
    "prev_hash",
    "hash",
];

/// One JSON Lines line, with its `\n`.
pub fn jsonl_line(e: &AccessLogEntry) -> String {
    let mut line = serde_json::to_string(e).unwrap_or_default();
    line.push('\n');
    line
}

/// The CSV header line.
pub fn csv_header() -> String {
    let mut line = CSV_COLUMNS.join(",");
    line.push('\n');
    line
}

fn quoted(out: &mut String, s: &str) {
    out.push('"');
    out.push_str(&s.replace('"', "\"\""));
    out.push('"');
}

/// One CSV line, with its `\n`.
pub fn csv_line(e: &AccessLogEntry) -> String {
    let mut out = String::with_capacity(512);
    let opt = |out: &mut String, v: Option<String>| {
        if let Some(v) = v {
            quoted(out, &v);
        }
    };
    let fields: [&dyn Fn(&mut String); 22] = [
        &|o| o.push_str(&e.seq.to_string()),
        &|o| quoted(o, &format_at(e.at)),
        &|o| quoted(o, &e.request_id),
        &|o| quoted(o, &e.actor_type),
        &|o| opt(o, e.actor_id.map(|u| u.to_string())),
        &|o| opt(o, e.actor_name.clone()),
        &|o| opt(o, e.organisation_id.map(|u| u.to_string())),
        &|o| opt(o, e.membership_id.map(|u| u.to_string())),
        &|o| quoted(o, &serde_json::to_string(&e.roles).unwrap_or_default()),
        &|o| quoted(o, &e.action),
        &|o| opt(o, e.object_type.clone()),
        &|o| opt(o, e.object_id.clone()),
        &|o| {
            if let Some(r) = e.object_revision {
                o.push_str(&r.to_string())
            }
        },
        &|o| opt(o, e.object_ids.as_ref().map(|ids| serde_json::to_string(ids).unwrap_or_default())),
        &|o| opt(o, e.tier.clone()),
        &|o| opt(o, e.tlp.clone()),
        &|o| quoted(o, &e.outcome),
        &|o| opt(o, e.reason.clone()),
        &|o| o.push_str(&e.http_status.to_string()),
        &|o| opt(o, e.client_addr.clone()),
        &|o| quoted(o, &e.prev_hash),
        &|o| quoted(o, &e.hash),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        f(&mut out);
    }
    out.push('\n');
    out
}

/// Reading an export failed at `line`.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ReadError {
    pub line: u64,
    pub message: String,
}

/// Reads records of a JSON Lines or CSV export one at a time.
pub struct ExportReader<R> {
    input: R,
    csv: bool,
    line: u64,
}

impl<R: BufRead> ExportReader<R> {
    /// Detects the format from the first line (a CSV header starts with `seq,`).
    pub fn new(mut input: R) -> Result<ExportReader<R>, ReadError> {
        let csv = input
            .fill_buf()
            .map(|b| b.starts_with(b"seq,"))
            .map_err(|e| ReadError { line: 1, message: e.to_string() })?;
        let mut reader = ExportReader { input, csv, line: 0 };
        if csv {
            let header = reader.csv_fields()?.unwrap_or_default();
            let names: Vec<&str> = header.iter().map(|(s, _)| s.as_str()).collect();
            if names != CSV_COLUMNS {
                return Err(ReadError { line: 1, message: "not a Sitrep access-log CSV header".into() });
            }
        }
        Ok(reader)
    }

    fn err(&self, message: impl Into<String>) -> ReadError {
        ReadError { line: self.line, message: message.into() }
    }

    fn read_line(&mut self, buf: &mut String) -> Result<usize, ReadError> {
        self.line += 1;
        self.input.read_line(buf).map_err(|e| self.err(e.to_string()))
    }

    /// The fields of the next CSV record, each with whether it was quoted.
    fn csv_fields(&mut self) -> Result<Option<Vec<(String, bool)>>, ReadError> {
        let mut text = String::new();
        if self.read_line(&mut text)? == 0 {
            return Ok(None);
        }
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut was_quoted = false;
        let mut in_quotes = false;
        let mut at_start = true;
        let mut chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        loop {
            if i >= chars.len() {
                if in_quotes {
                    // A quoted field spans lines.
                    let mut more = String::new();
                    if self.read_line(&mut more)? == 0 {
                        return Err(self.err("unterminated quoted field"));
                    }
                    chars.extend(more.chars());
                    continue;
                }
                break;
            }
            let c = chars[i];
            i += 1;
            if in_quotes {
                if c == '"' {
                    if chars.get(i) == Some(&'"') {
                        field.push('"');
                        i += 1;
                    } else {
                        in_quotes = false;
                    }
                } else {
                    field.push(c);
                }
                continue;
            }
            match c {
                '"' if at_start => {
                    in_quotes = true;
                    was_quoted = true;
                    at_start = false;
                }
                ',' => {
                    fields.push((std::mem::take(&mut field), was_quoted));
                    was_quoted = false;
                    at_start = true;
                }
                '\n' => break,
                '\r' if chars.get(i) == Some(&'\n') => {}
                '"' => return Err(self.err("a quote inside an unquoted field")),
                c => {
                    if was_quoted {
                        return Err(self.err("text after a closing quote"));
                    }
                    field.push(c);
                    at_start = false;
                }
            }
        }
        fields.push((field, was_quoted));
        Ok(Some(fields))
    }

    fn csv_entry(&self, f: Vec<(String, bool)>) -> Result<AccessLogEntry, ReadError> {
        if f.len() != CSV_COLUMNS.len() {
            return Err(self.err(format!("{} fields, expected {}", f.len(), CSV_COLUMNS.len())));
        }
        let bad = |col: usize| self.err(format!("bad value in column {}", CSV_COLUMNS[col]));
        let text = |col: usize| -> Result<Option<String>, ReadError> {
            let (v, q) = &f[col];
            match (q, v.is_empty()) {
                (true, _) => Ok(Some(v.clone())),
                (false, true) => Ok(None),
                (false, false) => Err(bad(col)),
            }
        };
        let req = |col: usize| text(col)?.ok_or_else(|| bad(col));
        let int = |col: usize| -> Result<Option<i64>, ReadError> {
            let (v, q) = &f[col];
            if *q {
                return Err(bad(col));
            }
            if v.is_empty() { Ok(None) } else { v.parse().map(Some).map_err(|_| bad(col)) }
        };
        let uuid = |col: usize| -> Result<Option<Uuid>, ReadError> {
            text(col)?.map(|s| Uuid::parse_str(&s).map_err(|_| bad(col))).transpose()
        };
        let at: DateTime<Utc> = DateTime::parse_from_rfc3339(&req(1)?).map_err(|_| bad(1))?.with_timezone(&Utc);
        Ok(AccessLogEntry {
            seq: int(0)?.ok_or_else(|| bad(0))?,
            at,
            request_id: req(2)?,
            actor_type: req(3)?,
            actor_id: uuid(4)?,
            actor_name: text(5)?,
            organisation_id: uuid(6)?,
            membership_id: uuid(7)?,
            roles: serde_json::from_str(&req(8)?).map_err(|_| bad(8))?,
            action: req(9)?,
            object_type: text(10)?,
            object_id: text(11)?,
            object_revision: int(12)?.map(i32::try_from).transpose().map_err(|_| bad(12))?,
            object_ids: text(13)?.map(|s| serde_json::from_str(&s).map_err(|_| bad(13))).transpose()?,
            tier: text(14)?,
            tlp: text(15)?,
            outcome: req(16)?,
            reason: text(17)?,
            http_status: int(18)?.and_then(|v| i16::try_from(v).ok()).ok_or_else(|| bad(18))?,
            client_addr: text(19)?,
            prev_hash: req(20)?,
            hash: req(21)?,
        })
    }

    /// The next record, `None` at the end.
    pub fn next_entry(&mut self) -> Result<Option<AccessLogEntry>, ReadError> {
        if self.csv {
            return match self.csv_fields()? {
                None => Ok(None),
                Some(f) => self.csv_entry(f).map(Some),
            };
        }
        let mut line = String::new();
        loop {
            line.clear();
            if self.read_line(&mut line)? == 0 {
                return Ok(None);
            }
            if !line.trim().is_empty() {
                break;
            }
        }
        serde_json::from_str(&line).map(Some).map_err(|e| self.err(e.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> AccessLogEntry {
        AccessLogEntry {
            seq: 7,
            at: DateTime::parse_from_rfc3339("2026-11-23T12:00:00.000010Z").unwrap().to_utc(),
            request_id: "r".into(),
            actor_type: "user".into(),
            actor_id: Some(Uuid::from_u128(5)),
            actor_name: Some("a,\"b\"\nc".into()),
            organisation_id: None,
            membership_id: None,
            roles: vec![],
            action: "me.view".into(),
            object_type: Some(String::new()),
            object_id: None,
            object_revision: Some(3),
            object_ids: Some(vec![Uuid::from_u128(1)]),
            tier: None,
            tlp: None,
            outcome: "allowed".into(),
            reason: None,
            http_status: 200,
            client_addr: Some("::1".into()),
            prev_hash: "00".into(),
            hash: "11".into(),
        }
    }

    #[test]
    fn both_formats_read_back_exactly_what_was_written() {
        let e = sample();
        let mut other = sample();
        other.object_type = None;
        other.object_revision = None;
        other.object_ids = None;
        for text in [
            format!("{}{}", jsonl_line(&e), jsonl_line(&other)),
            format!("{}{}{}", csv_header(), csv_line(&e), csv_line(&other)),
        ] {
            let mut r = ExportReader::new(text.as_bytes()).unwrap();
            assert_eq!(r.next_entry().unwrap(), Some(e.clone()));
            assert_eq!(r.next_entry().unwrap(), Some(other.clone()));
            assert_eq!(r.next_entry().unwrap(), None);
        }
    }
}
