//! The reference reader of the exports, for the tests only: it reads a JSON Lines line
//! with serde into an `AccessLogEntry`, and a CSV record with a plain character-by-character
//! splitter that keeps whether each field was quoted (the format tells an absent value,
//! an empty unquoted field, from an empty text, `""`). The fast `RecordReader` that
//! `sitrep access-log verify` uses is held to it by the tests in `export.rs`.

use std::io::BufRead;

use chrono::{DateTime, Utc};
use sitrep_types::AccessLogEntry;
use uuid::Uuid;

use super::{CSV_COLUMNS, ReadError, undefused};

/// Reads records of a JSON Lines or CSV export one at a time, through serde: the
/// reference the fast [`RecordReader`] is held to in the tests below.
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
                (true, _) => Ok(Some(undefused(v).to_owned())),
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
