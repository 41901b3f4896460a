//! Evidence attachments at the edge: the upload's headers become checked values, the
//! media-type rule (the declared type is on the allow-list and the content is recognised
//! as that type), and the file name a download offers.

use crate::validation::{Invalid, check_text};

/// The media types accepted unless the deployment configures others.
pub const DEFAULT_MEDIA_TYPES: [&str; 12] = [
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/json",
    "video/mp4",
    "video/webm",
    "application/zip",
    "message/rfc822",
];

/// Types recognised by their text rather than a signature.
const TEXT_TYPES: [&str; 4] = ["text/plain", "text/csv", "application/json", "message/rfc822"];

/// The hashes an attachment's content is known by: the stored file's and, for an image
/// whose metadata was stripped at upload, the original's.
pub fn content_hashes(a: &sitrep_types::Attachment) -> impl Iterator<Item = &str> {
    std::iter::once(a.sha256.as_str()).chain(a.original_sha256.as_deref())
}

/// Whether two attachments carry the same evidence: they share a content hash. Stripping
/// an image again changes its bytes (a JPEG is encoded again with loss), so a file
/// downloaded and uploaded anew is known by its original's hash, which is the first
/// file's stored hash.
pub fn same_content(a: &sitrep_types::Attachment, b: &sitrep_types::Attachment) -> bool {
    content_hashes(a).any(|x| content_hashes(b).any(|y| x == y))
}

/// What a download answers to its `Range` header (RFC 9110, section 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// The whole file, `200`: no `Range`, a unit other than bytes, or several ranges
    /// (which are not served as multipart).
    Whole,
    /// Bytes `start..end` of the file (`end` exclusive, never empty), `206`.
    Part { start: u64, end: u64 },
    /// A range that is not valid or lies beyond the file: `416`.
    Unsatisfiable,
}

/// The answer to `Range: <value>` for a file of `size` bytes.
pub fn byte_range(value: Option<&str>, size: u64) -> ByteRange {
    let Some(value) = value else { return ByteRange::Whole };
    let Some((unit, set)) = value.trim().split_once('=') else { return ByteRange::Unsatisfiable };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return ByteRange::Whole;
    }
    if set.contains(',') {
        return ByteRange::Whole;
    }
    // Digits only (no sign, no space inside); a number too large for u64 is as large as
    // can be.
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().unwrap_or(u64::MAX))
    };
    let Some((first, last)) = set.trim().split_once('-') else { return ByteRange::Unsatisfiable };
    if first.is_empty() {
        return match number(last) {
            Some(n) if n > 0 && size > 0 => ByteRange::Part { start: size - n.min(size), end: size },
            _ => ByteRange::Unsatisfiable,
        };
    }
    let Some(start) = number(first) else { return ByteRange::Unsatisfiable };
    let end = match last {
        "" => size,
        l => match number(l) {
            Some(l) if l >= start => l.saturating_add(1).min(size),
            _ => return ByteRange::Unsatisfiable,
        },
    };
    if start >= size { ByteRange::Unsatisfiable } else { ByteRange::Part { start, end } }
}

/// How many leading bytes the signature check reads.
pub const SNIFF_BYTES: usize = 8192;

/// The essence of a `Content-Type` value (`Text/CSV; charset=utf-8` → `text/csv`), or
/// `None` if it is not `type/subtype`.
pub fn media_type_essence(value: &str) -> Option<String> {
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    let (t, s) = essence.split_once('/')?;
    let token = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b));
    (token(t) && token(s)).then_some(essence)
}

/// A header value percent-encoded as UTF-8 (RFC 3986), decoded: how non-ASCII file names
/// and descriptions travel in headers.
pub fn percent_decode(field: &str, value: &str) -> Result<String, Invalid> {
    let bad = || Invalid::new(field, "invalid_encoding", "percent-encoded UTF-8 expected");
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// A file name as stored: 1–255 characters of visible NFC text on one line, no path.
pub fn check_file_name(field: &str, name: &str) -> Result<(), Invalid> {
    check_text(field, name, 1, 255, false)?;
    if name.contains(['/', '\\']) || name == "." || name == ".." || name.trim() != name {
        return Err(Invalid::new(field, "invalid_file_name", "a file name without a path or surrounding spaces"));
    }
    Ok(())
}

/// The `Content-Disposition` of a download: always `attachment`, with an ASCII fallback
/// name (anything else replaced by `_`) and the real name as RFC 6266 / RFC 8187
/// `filename*`.
pub fn content_disposition(name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || " .-_()+,".contains(c) { c } else { '_' }).collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The declared type is not what the content is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub declared: String,
    pub found: String,
}

impl Mismatch {
    pub fn invalid(&self) -> Invalid {
        Invalid::new(
            "Content-Type",
            "media_type_mismatch",
            format!("declared {}, but the content is {}", self.declared, self.found),
        )
    }
}

/// Recognises a file's type while it streams past: its leading bytes for a signature,
/// every byte for whether it is text (UTF-8, no control characters but tab, line breaks
/// and form feed).
#[derive(Debug, Default)]
pub struct Sniffer {
    head: Vec<u8>,
    /// An incomplete UTF-8 sequence at the end of the last piece.
    carry: Vec<u8>,
    not_text: bool,
}

impl Sniffer {
    pub fn push(&mut self, data: &[u8]) {
        if self.head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
        }
        if self.not_text {
            return;
        }
        if data.iter().any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c) || b == 0x7f) {
            self.not_text = true;
            return;
        }
        let mut joined = std::mem::take(&mut self.carry);
        joined.extend_from_slice(data);
        match std::str::from_utf8(&joined) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => self.carry = joined[e.valid_up_to()..].to_vec(),
            Err(_) => self.not_text = true,
        }
    }

    /// The type a signature in the leading bytes says, if any.
    fn signature(&self) -> Option<&'static str> {
        infer::get(&self.head).map(|t| t.mime_type())
    }

    /// Whether the first bytes already rule `declared` out: a signature type that the
    /// signature contradicts (no need to read the rest).
    pub fn early_mismatch(&self, declared: &str) -> Option<Mismatch> {
        if self.head.len() < SNIFF_BYTES || TEXT_TYPES.contains(&declared) {
            return None;
        }
        match self.signature() {
            Some(found) if found == declared => None,
            found => Some(Mismatch { declared: declared.into(), found: found.unwrap_or("unrecognised").into() }),
        }
    }

    /// The type the whole content was recognised as, if it is `declared`; else what it is.
    pub fn verdict(self, declared: &str) -> Result<String, Mismatch> {
        let signature = self.signature();
        // A binary format's signature on content that is text through and through is a
        // coincidence (a BMP opens with "BM", and so does a line about a BMW): binary
        // formats hold bytes that text cannot. A text format's signature (HTML, XML, a
        // script) does make the content that format rather than plain text.
        let text_format = infer::get(&self.head).is_some_and(|t| t.matcher_type() == infer::MatcherType::Text);
        let text = !self.not_text && self.carry.is_empty() && (signature.is_none() || !text_format);
        let found = if TEXT_TYPES.contains(&declared) {
            if text && self.text_shape(declared) {
                return Ok(declared.to_owned());
            }
            match signature {
                Some(s) => s,
                None if text => "text/plain",
                None => "binary data",
            }
        } else {
            match signature {
                Some(s) if s == declared => return Ok(declared.to_owned()),
                Some(s) => s,
                None if text => "text/plain",
                None => "unrecognised",
            }
        };
        Err(Mismatch { declared: declared.into(), found: found.into() })
    }

    /// Whether text looks like the text type declared: JSON opens with `{` or `[`; a
    /// message opens with a header field.
    fn text_shape(&self, declared: &str) -> bool {
        let body = self.head.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(&self.head);
        match declared {
            "application/json" => {
                matches!(body.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['))
            }
            "message/rfc822" => {
                let line = body.split(|&b| b == b'\n').next().unwrap_or_default();
                match line.iter().position(|&b| b == b':') {
                    Some(colon) => colon > 0 && line[..colon].iter().all(|b| (0x21..=0x7e).contains(b)),
                    None => false,
                }
            }
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        let r = |v: &str, size| byte_range(Some(v), size);
        assert_eq!(byte_range(None, 10), ByteRange::Whole);
        assert_eq!(r("bytes=0-0", 10), ByteRange::Part { start: 0, end: 1 });
        assert_eq!(r("bytes=2-5", 10), ByteRange::Part { start: 2, end: 6 });
        assert_eq!(r("Bytes=2-", 10), ByteRange::Part { start: 2, end: 10 });
        assert_eq!(r("bytes=5-99", 10), ByteRange::Part { start: 5, end: 10 });
        assert_eq!(r("bytes=-3", 10), ByteRange::Part { start: 7, end: 10 });
        assert_eq!(r("bytes=-30", 10), ByteRange::Part { start: 0, end: 10 });
        assert_eq!(r("bytes=0-99999999999999999999999", 10), ByteRange::Part { start: 0, end: 10 });
        for unsatisfiable in [
            "bytes=10-",
            "bytes=10-20",
            "bytes=-0",
            "bytes=5-3",
            "bytes=a-b",
            "bytes=1",
            "bytes=+1-2",
            "bytes= 1 - 2x",
            "nonsense",
        ] {
            assert_eq!(r(unsatisfiable, 10), ByteRange::Unsatisfiable, "{unsatisfiable}");
        }
        assert_eq!(r("bytes=0-", 0), ByteRange::Unsatisfiable, "an empty file has no bytes to give");
        assert_eq!(r("bytes=-1", 0), ByteRange::Unsatisfiable);
        assert_eq!(r("bytes=0-1,4-5", 10), ByteRange::Whole, "several ranges: the whole file");
        assert_eq!(r("items=0-1", 10), ByteRange::Whole, "another unit is ignored");
    }

    proptest! {
        /// Any first and last byte against any size: a range is served exactly when its
        /// first byte is in the file and not after its last, and then it is the bytes
        /// from the first to the last (or the end of the file), never empty.
        #[test]
        fn a_range_is_served_exactly_when_it_starts_inside_the_file(
            size in 0u64..300,
            anywhere in 0u64..400,
            near_the_end in proptest::option::of(0u64..4),
            last in proptest::option::of(0u64..400),
            suffix in 0u64..400,
            as_suffix in any::<bool>(),
        ) {
            if as_suffix {
                let got = byte_range(Some(&format!("bytes=-{suffix}")), size);
                if suffix == 0 || size == 0 {
                    prop_assert_eq!(got, ByteRange::Unsatisfiable);
                } else {
                    prop_assert_eq!(got, ByteRange::Part { start: size.saturating_sub(suffix), end: size });
                }
                return Ok(());
            }
            // Half the time the first byte is within a few of the file's end.
            let first = near_the_end.map_or(anywhere, |d| (size + d).saturating_sub(2));
            let value = match last { Some(l) => format!("bytes={first}-{l}"), None => format!("bytes={first}-") };
            let got = byte_range(Some(&value), size);
            let valid = last.is_none_or(|l| l >= first) && first < size;
            match got {
                ByteRange::Part { start, end } => {
                    prop_assert!(valid, "{} of {}: {:?}", value, size, got);
                    prop_assert_eq!(start, first);
                    prop_assert_eq!(end, last.map_or(size, |l| (l + 1).min(size)));
                    prop_assert!(start < end && end <= size);
                }
                ByteRange::Unsatisfiable => prop_assert!(!valid, "{} of {}", value, size),
                ByteRange::Whole => prop_assert!(false, "a single range is never the whole file"),
            }
        }
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n";

    fn sniff(pieces: &[&[u8]], declared: &str) -> Result<String, Mismatch> {
        let mut s = Sniffer::default();
        for p in pieces {
            s.push(p);
        }
        s.verdict(declared)
    }

    #[test]
    fn signatures_must_match_the_declared_type_and_the_mismatch_names_both() {
        assert_eq!(sniff(&[PNG], "image/png"), Ok("image/png".into()));
        assert_eq!(sniff(&[PDF], "application/pdf"), Ok("application/pdf".into()));
        let m = sniff(&[PDF], "image/png").unwrap_err();
        assert_eq!((m.declared.as_str(), m.found.as_str()), ("image/png", "application/pdf"));
        assert!(m.invalid().message.contains("image/png") && m.invalid().message.contains("application/pdf"));
        assert_eq!(sniff(&[PNG], "text/plain").unwrap_err().found, "image/png");
        assert_eq!(sniff(&[b"just words"], "image/png").unwrap_err().found, "text/plain");
    }

    #[test]
    fn text_types_need_utf8_text_of_their_shape() {
        assert_eq!(sniff(&[b"a,b\n1,2\n"], "text/csv"), Ok("text/csv".into()));
        assert_eq!(sniff(&["päivä\n".as_bytes()], "text/plain"), Ok("text/plain".into()));
        assert_eq!(sniff(&[b" {\"a\": 1}"], "application/json"), Ok("application/json".into()));
        assert!(sniff(&[b"a,b"], "application/json").is_err());
        assert_eq!(
            sniff(&[b"From: a@example.org\r\nSubject: x\r\n\r\nbody"], "message/rfc822"),
            Ok("message/rfc822".into())
        );
        assert!(sniff(&[b"not a message"], "message/rfc822").is_err());
        assert!(sniff(&[b"a\0b"], "text/plain").is_err(), "a NUL is not text");
        assert!(sniff(&[b"\xff\xfe"], "text/plain").is_err(), "not UTF-8");
        // Text that happens to open with a binary format's magic bytes is still text.
        assert_eq!(sniff(&[b"BMW, 3 accounts"], "text/plain"), Ok("text/plain".into()));
        assert_eq!(sniff(&[b"BM,x\n"], "text/csv"), Ok("text/csv".into()));
        assert!(sniff(&[b"<?xml version=\"1.0\"?><a/>"], "text/plain").is_err(), "XML is not plain text");
        assert!(sniff(&[b"abc\xc3"], "text/plain").is_err(), "cut inside a character");
        // A character split across two pieces is still text.
        assert_eq!(sniff(&[b"p\xc3", b"\xa4iv\xc3\xa4"], "text/plain"), Ok("text/plain".into()));
    }

    #[test]
    fn a_signature_type_is_refused_early_once_the_first_bytes_contradict_it() {
        let mut s = Sniffer::default();
        s.push(&vec![b'a'; SNIFF_BYTES]);
        assert!(s.early_mismatch("image/png").is_some());
        assert!(s.early_mismatch("text/plain").is_none());
        let mut s = Sniffer::default();
        s.push(PNG);
        assert!(s.early_mismatch("image/png").is_none(), "not enough read yet");
    }

    #[test]
    fn headers_are_parsed_and_file_names_have_no_path() {
        assert_eq!(media_type_essence("Text/CSV; charset=utf-8").as_deref(), Some("text/csv"));
        assert_eq!(media_type_essence("nonsense"), None);
        assert_eq!(percent_decode("f", "p%C3%A4iv%C3%A4.png").unwrap(), "päivä.png");
        assert!(percent_decode("f", "%FF").is_err());
        assert!(percent_decode("f", "%4").is_err());
        assert!(check_file_name("f", "kuva.png").is_ok());
        for bad in ["../etc/passwd", "a\\b", "..", "", " a", "a\nb", "a\u{202e}gnp.exe"] {
            assert!(check_file_name("f", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_download_name_is_quoted_safely() {
        let d = content_disposition("päivä \"x\";.png");
        assert!(
            d.starts_with("attachment; filename=\"p_iv_ _x__.png\"; filename*=UTF-8''p%C3%A4iv%C3%A4%20%22x%22%3B.png"),
            "{d}"
        );
    }

    proptest! {
        #[test]
        fn any_text_in_any_pieces_is_text_and_any_control_byte_makes_it_not(
            text in "[a-zA-Z0-9äöå ,\\n€]{1,200}",
            cut in any::<prop::sample::Index>(),
            control in 0u8..0x20,
        ) {
            let bytes = text.as_bytes();
            let at = cut.index(bytes.len() + 1);
            prop_assert_eq!(sniff(&[&bytes[..at], &bytes[at..]], "text/plain"), Ok("text/plain".to_owned()));
            if !matches!(control, b'\t' | b'\n' | b'\r' | 0x0c) {
                let mut bad = bytes.to_vec();
                bad.insert(at, control);
                prop_assert!(sniff(&[&bad], "text/plain").is_err());
            }
            let disposition = content_disposition(&text);
            prop_assert!(!disposition.contains(['\n', '\r']));
            prop_assert!(disposition.is_ascii());
        }
    }
}
