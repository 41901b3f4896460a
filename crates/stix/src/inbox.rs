//! The reverse of `map`: what an organisation's TAXII inbox receives (docs/taxii.md,
//! "The inbox"). An envelope's objects are checked strictly one by one (`validate`), and
//! each `report` becomes the content of a draft picture of the receiving organisation
//! (`map_report`), with its provenance and every object it could not map written into
//! the draft's details. Pure: no I/O; the caller stores, checks the content against the
//! picture rules and writes the draft.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sitrep_domain::validation::hidden_character;
use sitrep_domain::visibility::tlp_rank;
use sitrep_types::{
    ActorType, AttributionConfidence, Classification, Consents, Credibility, Domain, GeoScope, Impact, Indicator,
    IndicatorType, Kind, Lang, LocalizedText, PictureContent, Source, SourceReliability, SourceType, Target, Tier, Tlp,
    Urgency,
};
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use crate::check::check_id;
use crate::ids::{parse_time, stix_time};

/// The most objects one envelope may carry.
pub const MAX_OBJECTS: usize = 10_000;
/// The most reports one envelope may carry. Each report is a draft written in the
/// envelope's one transaction, under the organisation's inbox lock: 500 took 2.3 s and
/// 9,999 took 59 s in a review's measurement, holding a connection and the lock
/// throughout. A sender splits more reports over several envelopes.
pub const MAX_REPORTS: usize = 200;
/// The most bytes one envelope may take (the API root's `max_content_length`).
pub const MAX_CONTENT_LENGTH: usize = 16 * 1024 * 1024;
/// Details are at most 20,000 characters; what the import writes stays below this.
const DETAILS_BUDGET: usize = 19_000;
/// The TLP of a draft whose report and objects carry no TLP marking.
pub const DEFAULT_TLP: Tlp = Tlp::AmberStrict;

/// STIX Cyber-observable types (STIX 2.1 §6): no `created` or `modified`.
const SCO_TYPES: [&str; 18] = [
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
];

/// Why a body is not a TAXII envelope at all (the whole request is refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    NotAnObject,
    UnknownKey(String),
    ObjectsNotAList,
    TooMany(usize),
    TooManyReports(usize),
}

impl std::fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvelopeError::NotAnObject => write!(f, "The body is not a TAXII envelope (a JSON object)."),
            EnvelopeError::UnknownKey(k) => write!(f, "The envelope has a property TAXII does not define: {k:.64}."),
            EnvelopeError::ObjectsNotAList => write!(f, "objects is not a list."),
            EnvelopeError::TooMany(n) => write!(f, "{n} objects: an envelope carries at most {MAX_OBJECTS}."),
            EnvelopeError::TooManyReports(n) => {
                write!(f, "{n} reports: an envelope carries at most {MAX_REPORTS}; send the rest in another.")
            }
        }
    }
}

/// The objects of a TAXII envelope (`{objects, more?, next?}`; no `objects` is none).
pub fn envelope_objects(body: Value) -> Result<Vec<Value>, EnvelopeError> {
    let Value::Object(mut envelope) = body else { return Err(EnvelopeError::NotAnObject) };
    if let Some(k) = envelope.keys().find(|k| !matches!(k.as_str(), "objects" | "more" | "next")) {
        return Err(EnvelopeError::UnknownKey(k.clone()));
    }
    let objects = match envelope.remove("objects") {
        None => Vec::new(),
        Some(Value::Array(objects)) => objects,
        Some(_) => return Err(EnvelopeError::ObjectsNotAList),
    };
    if objects.len() > MAX_OBJECTS {
        return Err(EnvelopeError::TooMany(objects.len()));
    }
    let reports = objects.iter().filter(|o| o.get("type").and_then(Value::as_str) == Some("report")).count();
    if reports > MAX_REPORTS {
        return Err(EnvelopeError::TooManyReports(reports));
    }
    Ok(objects)
}

/// What identifies one received object version: idempotency is by `id` and `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: String,
    pub type_: String,
    /// `modified`; for a marking definition `created`; for a cyber observable (which has
    /// no versions) the Unix epoch.
    pub version: DateTime<Utc>,
    /// The version as received (`modified` or `created`), if the object has one.
    pub version_text: Option<String>,
}

fn str_of<'a>(o: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    match o.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(format!("{key} is not a non-empty string")),
        None => Err(format!("{key} is missing")),
    }
}

/// A STIX timestamp: RFC 3339 in UTC with `Z`.
fn timestamp(o: &Map<String, Value>, key: &str, millis: bool) -> Result<DateTime<Utc>, String> {
    let s = str_of(o, key)?;
    let b = s.as_bytes();
    let zulu = b.len() >= 20 && b[10] == b'T' && b[b.len() - 1] == b'Z';
    let precise = !millis || (b.len() >= 24 && b[19] == b'.' && b[20..b.len() - 1].iter().all(u8::is_ascii_digit));
    if !zulu || !precise {
        return Err(format!(
            "{key} is not a STIX timestamp (UTC with Z{})",
            if millis { ", to the millisecond" } else { "" }
        ));
    }
    parse_time(s).ok_or_else(|| format!("{key} is not a timestamp"))
}

fn list_of_ids(o: &Map<String, Value>, key: &str, kind: Option<&str>, non_empty: bool) -> Result<(), String> {
    let Some(v) = o.get(key) else {
        return if non_empty { Err(format!("{key} is missing")) } else { Ok(()) };
    };
    let list = v.as_array().ok_or_else(|| format!("{key} is not a list"))?;
    if non_empty && list.is_empty() {
        return Err(format!("{key} is empty"));
    }
    for r in list {
        check_id(r.as_str().ok_or_else(|| format!("{key} holds a non-string"))?, kind)
            .map_err(|e| format!("{key}: {e}"))?;
    }
    Ok(())
}

/// Checks one received object strictly (STIX 2.1 common properties, and the required
/// properties of the types Sitrep maps or relates) and says what identifies its version.
pub fn validate(o: &Value) -> Result<Received, String> {
    let obj = o.as_object().ok_or("not a JSON object")?;
    let type_ = str_of(obj, "type")?;
    let type_ok = (3..=250).contains(&type_.len())
        && type_.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !type_.starts_with('-')
        && !type_.ends_with('-')
        && !type_.contains("--");
    if !type_ok {
        return Err("type is not a STIX type name (a-z, 0-9, hyphens; 3 to 250 characters)".into());
    }
    let id = str_of(obj, "id")?;
    check_id(id, Some(type_))?;
    for key in obj.keys() {
        let ok = !key.is_empty()
            && key.len() <= 250
            && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(format!("property name {key:.64?} is not a STIX property name"));
        }
    }
    let sco = SCO_TYPES.contains(&type_);
    match obj.get("spec_version") {
        Some(Value::String(v)) if v == "2.1" => {}
        None if sco => {}
        _ => return Err("spec_version is not 2.1".into()),
    }
    let (version, version_text) = if sco {
        for key in ["created", "modified"] {
            if obj.contains_key(key) {
                return Err(format!("a cyber observable has no {key}"));
            }
        }
        (DateTime::<Utc>::UNIX_EPOCH, None)
    } else if type_ == "marking-definition" {
        if obj.contains_key("modified") {
            return Err("marking definitions are not versioned (no modified)".into());
        }
        (timestamp(obj, "created", true)?, Some(str_of(obj, "created")?.to_owned()))
    } else {
        let created = timestamp(obj, "created", true)?;
        let modified = timestamp(obj, "modified", true)?;
        if modified < created {
            return Err("modified is before created".into());
        }
        (modified, Some(str_of(obj, "modified")?.to_owned()))
    };
    // Versions compare at the database's precision (microseconds): a finer timestamp is
    // the instant it names, truncated.
    let version = DateTime::from_timestamp_micros(version.timestamp_micros()).unwrap_or(version);
    if let Some(r) = obj.get("created_by_ref") {
        check_id(r.as_str().ok_or("created_by_ref is not a string")?, Some("identity"))
            .map_err(|e| format!("created_by_ref: {e}"))?;
    }
    list_of_ids(obj, "object_marking_refs", Some("marking-definition"), false)?;
    if let Some(g) = obj.get("granular_markings") {
        for m in g.as_array().ok_or("granular_markings is not a list")? {
            let m = m.as_object().ok_or("a granular marking is not an object")?;
            match (m.get("marking_ref").and_then(Value::as_str), m.get("lang").and_then(Value::as_str)) {
                (Some(r), None) => check_id(r, Some("marking-definition"))?,
                (None, Some(_)) => {}
                _ => return Err("a granular marking has exactly one of marking_ref and lang".into()),
            }
            let selectors = m.get("selectors").and_then(Value::as_array).ok_or("granular marking without selectors")?;
            if selectors.is_empty() || !selectors.iter().all(Value::is_string) {
                return Err("granular marking selectors are not a list of strings".into());
            }
        }
    }
    if let Some(l) = obj.get("labels")
        && !l.as_array().is_some_and(|l| l.iter().all(|s| s.as_str().is_some_and(|s| !s.is_empty())))
    {
        return Err("labels is not a list of strings".into());
    }
    if let Some(c) = obj.get("confidence")
        && c.as_u64().is_none_or(|c| c > 100)
    {
        return Err("confidence is not an integer from 0 to 100".into());
    }
    if let Some(r) = obj.get("revoked")
        && !r.is_boolean()
    {
        return Err("revoked is not a boolean".into());
    }
    if let Some(l) = obj.get("lang")
        && l.as_str().is_none_or(str::is_empty)
    {
        return Err("lang is not a string".into());
    }
    if let Some(refs) = obj.get("external_references") {
        for r in refs.as_array().ok_or("external_references is not a list")? {
            let r = r.as_object().ok_or("an external reference is not an object")?;
            str_of(r, "source_name").map_err(|e| format!("external reference: {e}"))?;
            for (k, v) in r {
                if k != "hashes" && !v.is_string() {
                    return Err(format!("external reference: {k:.64} is not a string"));
                }
            }
        }
    }
    if let Some(e) = obj.get("extensions")
        && !e.is_object()
    {
        return Err("extensions is not an object".into());
    }
    match type_ {
        "report" => {
            str_of(obj, "name")?;
            timestamp(obj, "published", false)?;
            list_of_ids(obj, "object_refs", None, true)?;
        }
        "indicator" => {
            str_of(obj, "pattern")?;
            str_of(obj, "pattern_type")?;
            let from = timestamp(obj, "valid_from", false)?;
            if obj.contains_key("valid_until") && timestamp(obj, "valid_until", false)? <= from {
                return Err("valid_until is not after valid_from".into());
            }
        }
        "attack-pattern" | "identity" | "campaign" | "intrusion-set" | "malware" | "threat-actor" | "tool" => {
            str_of(obj, "name")?;
        }
        "marking-definition" => {
            let defined = obj.contains_key("definition_type") && obj.get("definition").is_some_and(Value::is_object);
            let extended = obj.get("extensions").and_then(Value::as_object).is_some_and(|e| !e.is_empty());
            if !defined && !extended {
                return Err("a marking definition has a definition or an extension".into());
            }
        }
        "language-content" => {
            check_id(str_of(obj, "object_ref")?, None).map_err(|e| format!("object_ref: {e}"))?;
            if obj.get("contents").and_then(Value::as_object).is_none_or(Map::is_empty) {
                return Err("contents is not a non-empty object".into());
            }
        }
        "relationship" => {
            str_of(obj, "relationship_type")?;
            check_id(str_of(obj, "source_ref")?, None).map_err(|e| format!("source_ref: {e}"))?;
            check_id(str_of(obj, "target_ref")?, None).map_err(|e| format!("target_ref: {e}"))?;
        }
        "sighting" => {
            check_id(str_of(obj, "sighting_of_ref")?, None).map_err(|e| format!("sighting_of_ref: {e}"))?;
        }
        _ => {}
    }
    Ok(Received { id: id.to_owned(), type_: type_.to_owned(), version, version_text })
}

/// The TLP of a marking definition: the OASIS TLP 2.0 and STIX 2.1 TLP 1.0 ones by
/// their fixed ids, or one received that declares a TLP (a TLP 2.0 extension, or
/// `definition_type: tlp`). TLP 1.0 WHITE is CLEAR.
pub fn tlp_of_marking(id: &str, definition: Option<&Value>) -> Option<Tlp> {
    let fixed = match id {
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
        | "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9" => Some(Tlp::Clear),
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
        | "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da" => Some(Tlp::Green),
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
        | "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82" => Some(Tlp::Amber),
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003" => Some(Tlp::AmberStrict),
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
        | "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed" => Some(Tlp::Red),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    let d = definition?;
    let named = d
        .get("extensions")
        .and_then(|e| e.get(crate::tlp::EXTENSION))
        .and_then(|e| e.get("tlp_2_0"))
        .or_else(|| (d.get("definition_type")?.as_str()? == "tlp").then(|| d.get("definition")?.get("tlp"))?)
        .and_then(Value::as_str)?;
    match named.to_ascii_lowercase().as_str() {
        "clear" | "white" => Some(Tlp::Clear),
        "green" => Some(Tlp::Green),
        "amber" => Some(Tlp::Amber),
        "amber+strict" => Some(Tlp::AmberStrict),
        "red" => Some(Tlp::Red),
        _ => None,
    }
}

fn stricter(a: Option<Tlp>, b: Option<Tlp>) -> Option<Tlp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if tlp_rank(b) > tlp_rank(a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Every marking an object names (object and granular markings).
fn marking_refs(o: &Value) -> Vec<&str> {
    let object = o.get("object_marking_refs").and_then(Value::as_array).into_iter().flatten();
    let granular =
        o.get("granular_markings").and_then(Value::as_array).into_iter().flatten().filter_map(|g| g.get("marking_ref"));
    object.chain(granular).filter_map(Value::as_str).collect()
}

/// The strictest TLP among the markings `o` names.
fn tlp_of(o: &Value, find: &dyn Fn(&str) -> Option<Value>) -> Option<Tlp> {
    marking_refs(o).into_iter().fold(None, |acc, r| stricter(acc, tlp_of_marking(r, find(r).as_ref())))
}

/// Who sent an envelope: provenance written into each draft.
#[derive(Debug, Clone)]
pub struct Sender<'a> {
    /// The receiving organisation: the draft is its own, whatever the report says.
    pub organisation: Uuid,
    /// The name of the service account that posted it (or, for a peer, that imports as).
    pub account: &'a str,
    /// The TAXII peer it was pulled from (its name, the origin of its API root and its
    /// collection), if not posted.
    pub peer: Option<&'a str>,
}

/// A report's draft: its content, and the objects it took from the envelope.
#[derive(Debug, Clone)]
pub struct Draft {
    pub content: PictureContent,
    /// Ids of the objects the report refers to and that were found (mapped or kept).
    pub referenced: Vec<String>,
    /// The strictest TLP marking received (of the report, what it refers to, its
    /// translations and creator); `None` when nothing was marked.
    pub received_tlp: Option<Tlp>,
}

/// Text from the envelope made fit for a picture's text: NFC, no control, invisible or
/// bidirectional characters, and on one line unless `multiline`.
fn clean(s: &str, multiline: bool) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if !multiline && (c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')) { ' ' } else { c })
        .filter(|c| !c.is_control() || (multiline && matches!(c, '\n' | '\t')))
        .filter(|c| !matches!(c, '\u{2028}' | '\u{2029}'))
        .collect();
    while let Some((c, _)) = hidden_character(&out) {
        out = out.replace(c, "");
    }
    let out: String = out.nfc().collect();
    out.trim().to_owned()
}

/// At most `max` characters, with `…` when cut.
fn cut(s: &str, max: usize) -> (String, bool) {
    if s.chars().count() <= max {
        return (s.to_owned(), false);
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    (t, true)
}

/// A received value shown in Markdown as a code span: cleaned, one line, no backticks.
fn code(s: &str) -> String {
    let s = clean(s, false).replace('`', "'");
    let (s, _) = cut(&s, 200);
    if s.is_empty() { "(empty)".into() } else { format!("`{s}`") }
}

fn lang_of(report: &Value) -> Lang {
    let tag = report.get("lang").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    let primary = tag.split(['-', '_']).next().unwrap_or_default();
    Lang::parse(primary).unwrap_or(Lang::En)
}

fn set_text(t: &mut LocalizedText, lang: Lang, value: String) {
    match lang {
        Lang::Fi => t.fi = Some(value),
        Lang::Sv => t.sv = Some(value),
        Lang::En => t.en = Some(value),
    }
}

/// Admiralty information credibility from STIX `confidence` (STIX 2.1 Appendix B):
/// 80–100 → 1, 60–79 → 2, 40–59 → 3, 20–39 → 4, 0–19 → 5; none → 6 (cannot be judged).
pub fn credibility(confidence: Option<u64>) -> Credibility {
    match confidence {
        None => Credibility::C6,
        Some(c) if c >= 80 => Credibility::C1,
        Some(c) if c >= 60 => Credibility::C2,
        Some(c) if c >= 40 => Credibility::C3,
        Some(c) if c >= 20 => Credibility::C4,
        Some(_) => Credibility::C5,
    }
}

/// The Admiralty source reliability Sitrep wrote into its own export
/// (`external_references` `sitrep`: "revision N; admiralty B2"); otherwise F.
fn reliability(report: &Value) -> SourceReliability {
    let refs = report.get("external_references").and_then(Value::as_array).into_iter().flatten();
    refs.filter(|r| r.get("source_name").and_then(Value::as_str) == Some("sitrep"))
        .filter_map(|r| r.get("description").and_then(Value::as_str))
        .find_map(|d| d.split("admiralty ").nth(1).and_then(|a| a.get(..1)).and_then(SourceReliability::parse))
        .unwrap_or(SourceReliability::F)
}

/// A STIX pattern string literal's value (`'…'` with `\\` and `\'` escapes).
fn unliteral(s: &str) -> Option<String> {
    let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                e @ ('\\' | '\'') => out.push(e),
                _ => return None,
            },
            '\'' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// An indicator's type and value, where its pattern is one comparison of the forms
/// Sitrep exports (`map::pattern`); `None` for any other pattern.
pub fn indicator_of_pattern(pattern: &str) -> Option<(IndicatorType, String)> {
    let inner = pattern.trim().strip_prefix('[')?.strip_suffix(']')?;
    let (path, literal) = inner.split_once(" = ")?;
    let kind = match path.trim() {
        "domain-name:value" => IndicatorType::Domain,
        "url:value" => IndicatorType::Url,
        "ipv4-addr:value" => IndicatorType::Ipv4,
        "ipv6-addr:value" => IndicatorType::Ipv6,
        "email-addr:value" => IndicatorType::EmailAddress,
        "email-message:subject" => IndicatorType::EmailSubject,
        "file:hashes.'SHA-256'" | "file:hashes.'SHA256'" | "file:hashes.sha256" => IndicatorType::FileSha256,
        "user-account:account_login" => IndicatorType::SocialAccount,
        _ => return None,
    };
    let value = unliteral(literal.trim())?;
    if value.is_empty() {
        return None;
    }
    Some((kind, if kind == IndicatorType::FileSha256 { value.to_ascii_lowercase() } else { value }))
}

/// A DISARM technique (`true`) or an ATT&CK technique (`false`) named by an
/// `attack-pattern`: DISARM's id for a technique of the pinned list, or an external
/// reference (`DISARM` or `mitre-attack`) whose id is one of the pinned DISARM or ATT&CK
/// lists.
fn technique_of(o: &Value) -> Option<(String, bool)> {
    let refs = o.get("external_references").and_then(Value::as_array).into_iter().flatten();
    for r in refs {
        let source = r.get("source_name").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
        let Some(id) = r.get("external_id").and_then(Value::as_str) else { continue };
        let shaped = id.len() >= 5
            && id.starts_with('T')
            && id[1..].split('.').enumerate().all(|(i, p)| p.len() == if i == 0 { 4 } else { 3 })
            && id[1..].bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && id[1..].matches('.').count() <= 1;
        if !shaped {
            continue;
        }
        let disarm_listed = sitrep_domain::picture::disarm_name(id).is_some();
        match source.as_str() {
            "disarm" if disarm_listed => return Some((id.to_owned(), true)),
            "mitre-attack" if id.starts_with("T0") && disarm_listed => return Some((id.to_owned(), true)),
            "mitre-attack" if !id.starts_with("T0") && sitrep_domain::picture::attack_technique(id).is_some() => {
                return Some((id.to_owned(), false));
            }
            _ => {}
        }
    }
    None
}

/// What the details say of one object the report refers to.
enum Line {
    Mapped(String),
    Kept(String),
    /// A mapped indicator: `prefix` (its id and version), its type and value. The value is
    /// written only if no indicator of the same value is marked stricter than the draft:
    /// the details carry the draft's TLP, and a value received at a stricter one belongs
    /// in the indicators list only, where each indicator keeps its own.
    Indicator {
        prefix: String,
        kind: IndicatorType,
        value: String,
    },
}

/// The content of the draft made from `report`, with `find` giving the objects the
/// envelope (or an earlier one of the same organisation) holds by id, and `translations`
/// the `language-content` objects of the envelope. Total: anything that does not fit is
/// listed in the details, never dropped; whether the content meets the picture rules is
/// the caller's check.
pub fn map_report(
    report: &Value,
    find: &dyn Fn(&str) -> Option<Value>,
    translations: &[&Value],
    sender: &Sender<'_>,
) -> Draft {
    let report_id = report.get("id").and_then(Value::as_str).unwrap_or_default();
    let modified = report.get("modified").and_then(Value::as_str).unwrap_or_default();
    let lang = lang_of(report);
    let mut lines: Vec<Line> = Vec::new();
    let mut referenced = Vec::new();
    let mut notes: Vec<String> = Vec::new();

    // The TLP: the strictest marking of the report and of every object it refers to,
    // except indicators, which keep their own (never looser than the picture's).
    let mut tlp = tlp_of(report, find);
    let mut indicators: Vec<(IndicatorType, String, Option<Tlp>)> = Vec::new();
    let mut disarm: BTreeSet<String> = BTreeSet::new();
    let mut attack: BTreeSet<String> = BTreeSet::new();
    let refs: Vec<&str> =
        report.get("object_refs").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let creator = report.get("created_by_ref").and_then(Value::as_str);
    for r in &refs {
        let Some(o) = find(r) else {
            lines.push(Line::Kept(format!("{}: referred to by the report, not received", code(r))));
            continue;
        };
        referenced.push((*r).to_owned());
        let type_ = o.get("type").and_then(Value::as_str).unwrap_or_default();
        let version = o.get("modified").and_then(Value::as_str).map(|m| format!(" ({})", code(m))).unwrap_or_default();
        let name = o.get("name").and_then(Value::as_str).map(|n| format!(" {}", code(n))).unwrap_or_default();
        if type_ == "indicator" {
            let pattern = o.get("pattern").and_then(Value::as_str).unwrap_or_default();
            let stix = o.get("pattern_type").and_then(Value::as_str) == Some("stix");
            match indicator_of_pattern(pattern).filter(|_| stix) {
                Some((kind, value)) => {
                    lines.push(Line::Indicator { prefix: format!("{}{version}", code(r)), kind, value: value.clone() });
                    indicators.push((kind, value, tlp_of(&o, find)));
                }
                None => {
                    tlp = stricter(tlp, tlp_of(&o, find));
                    lines.push(Line::Kept(format!(
                        "{}{version}{name}: a pattern Sitrep does not read: {}",
                        code(r),
                        code(pattern)
                    )));
                }
            }
            continue;
        }
        tlp = stricter(tlp, tlp_of(&o, find));
        match type_ {
            "attack-pattern" => match technique_of(&o) {
                Some((t, true)) => {
                    lines.push(Line::Mapped(format!("{}{name}: DISARM {t}", code(r))));
                    disarm.insert(t);
                }
                Some((t, false)) => {
                    lines.push(Line::Mapped(format!("{}{name}: ATT&CK {t}", code(r))));
                    attack.insert(t);
                }
                None => lines.push(Line::Kept(format!(
                    "{}{version}{name}: an attack pattern with no technique id of the pinned DISARM or ATT&CK lists ({})",
                    code(r),
                    sitrep_domain::picture::ATTACK_VERSION
                ))),
            },
            "identity" if Some(*r) == creator => {
                lines.push(Line::Mapped(format!("{}{name}: the report's creator, kept as provenance", code(r))));
            }
            _ => lines.push(Line::Kept(format!("{}{version}{name}: a {} Sitrep does not map", code(r), code(type_)))),
        }
    }

    // The creator and the markings, where received, belong to this draft too.
    for r in creator.into_iter().chain(marking_refs(report)) {
        if !referenced.iter().any(|x| x == r) && find(r).is_some() {
            referenced.push(r.to_owned());
        }
    }

    let mut labels_kept = Vec::new();
    let mut kind = None;
    let mut domains: Vec<Domain> = Vec::new();
    let mut is_exercise = false;
    for l in report.get("labels").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if let Some(k) = l.strip_prefix("kind:").and_then(Kind::parse) {
            kind = Some(k);
        } else if let Some(d) = l.strip_prefix("domain:").and_then(Domain::parse) {
            if !domains.contains(&d) {
                domains.push(d);
            }
        } else if l == "exercise" {
            is_exercise = true;
        } else {
            labels_kept.push(code(l));
        }
    }
    if domains.is_empty() {
        if !disarm.is_empty() {
            domains.push(Domain::InformationInfluence);
        }
        if !attack.is_empty() {
            domains.push(Domain::Cyber);
        }
        if domains.is_empty() {
            domains.push(Domain::Hybrid);
        }
    }
    let primary_domain = domains[0];

    // The translations' text and the creator's name go into the draft: so do their
    // markings.
    for t in translations.iter().filter(|t| t.get("object_ref").and_then(Value::as_str) == Some(report_id)) {
        tlp = stricter(tlp, tlp_of(t, find));
    }
    if let Some(o) = creator.and_then(find) {
        tlp = stricter(tlp, tlp_of(&o, find));
    }
    let marked = tlp.is_some();
    let received_tlp = tlp.unwrap_or(DEFAULT_TLP);
    // A GREEN picture names its community, which STIX does not carry: AMBER, stricter.
    let picture_tlp = if received_tlp == Tlp::Green { Tlp::Amber } else { received_tlp };
    let tier = if matches!(picture_tlp, Tlp::Red | Tlp::AmberStrict) { Tier::Named } else { Tier::Group };
    let classification =
        if picture_tlp == Tlp::Clear { Classification::UnclassifiedPublic } else { Classification::UnclassifiedSecret };

    // Texts: the report's name and description, in its language; translations from
    // `language-content`.
    let name = clean(report.get("name").and_then(Value::as_str).unwrap_or_default(), false);
    let description = report.get("description").and_then(Value::as_str).map(|d| clean(d, true));
    let (title_text, title_cut) = cut(&name, 140);
    let (summary_text, summary_cut) = cut(description.as_deref().filter(|d| !d.is_empty()).unwrap_or(&name), 1000);
    let mut title = LocalizedText::default();
    let mut summary = LocalizedText::default();
    set_text(&mut title, lang, title_text);
    set_text(&mut summary, lang, summary_text);
    for t in translations.iter().filter(|t| t.get("object_ref").and_then(Value::as_str) == Some(report_id)) {
        for (tag, fields) in t.get("contents").and_then(Value::as_object).into_iter().flatten() {
            let Some(other) = Lang::parse(tag.to_ascii_lowercase().split(['-', '_']).next().unwrap_or_default()) else {
                continue;
            };
            if other == lang {
                continue;
            }
            let field = |k: &str| fields.get(k).and_then(Value::as_str).map(|s| clean(s, k == "description"));
            if let Some(n) = field("name").filter(|n| !n.is_empty()) {
                set_text(&mut title, other, cut(&n, 140).0);
                let s = field("description").filter(|d| !d.is_empty()).unwrap_or(n);
                set_text(&mut summary, other, cut(&s, 1000).0);
            }
        }
    }

    let confidence = report.get("confidence").and_then(Value::as_u64);
    let information_credibility = credibility(confidence);
    let source_reliability = reliability(report);
    let creator_text = match creator {
        Some(c) => {
            let name = find(c).and_then(|o| o.get("name").and_then(Value::as_str).map(code));
            format!("{} ({})", name.unwrap_or_else(|| "not received".into()), code(c))
        }
        None => "not named".into(),
    };

    // Markings as received.
    let markings: Vec<String> = marking_refs(report)
        .into_iter()
        .map(|m| {
            let def = find(m);
            match tlp_of_marking(m, def.as_ref()) {
                Some(t) => format!("TLP:{} ({})", t.as_str(), code(m)),
                None => {
                    let statement = def
                        .as_ref()
                        .and_then(|d| d.get("definition").and_then(|d| d.get("statement")).or_else(|| d.get("name")))
                        .and_then(Value::as_str)
                        .map(|s| format!(" {}", code(s)))
                        .unwrap_or_default();
                    format!("{}{statement}, not a TLP", code(m))
                }
            }
        })
        .collect();

    if !marked {
        notes.push(format!(
            "No TLP marking on the report or what it refers to: TLP:{} until reviewed.",
            DEFAULT_TLP.as_str()
        ));
    } else if received_tlp == Tlp::Green {
        notes.push("Marked TLP:GREEN; a GREEN picture names its community, which STIX does not carry: TLP:AMBER until reviewed.".into());
    }
    if title_cut || summary_cut {
        notes.push("The name or description was longer than a title or summary: shortened; the description as received is below.".into());
    }

    let mut d = String::new();
    d.push_str("## Imported from STIX\n\n");
    match sender.peer {
        Some(peer) => d.push_str(&format!(
            "Pulled from the TAXII peer {}, imported as this organisation's service account {}.\n\n",
            code(peer),
            code(sender.account)
        )),
        None => d.push_str(&format!(
            "Received through this organisation's TAXII inbox from its service account {}.\n\n",
            code(sender.account)
        )),
    }
    d.push_str(&format!("- Report: {}, modified {}\n", code(report_id), code(modified)));
    d.push_str(&format!("- Created by, as the report names it: {creator_text}\n"));
    d.push_str(&format!("- Markings: {}\n", if markings.is_empty() { "none".to_owned() } else { markings.join("; ") }));
    d.push_str(&format!(
        "- TLP of this draft: {} (the strictest marking of the report and of what it refers to; indicators keep their own)\n",
        picture_tlp.as_str()
    ));
    d.push_str("- Set on import, to be reviewed: impacts unknown, urgency routine, national scope, target voters in general, actor unknown, no attribution.\n");
    if !labels_kept.is_empty() {
        d.push_str(&format!("- Labels not mapped: {}\n", labels_kept.join(", ")));
    }
    let external: Vec<String> = report
        .get("external_references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            ["source_name", "external_id", "url", "description"]
                .iter()
                .filter_map(|k| r.get(*k).and_then(Value::as_str).map(code))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    if !external.is_empty() {
        d.push_str(&format!("- External references: {}\n", external.join("; ")));
    }
    for n in &notes {
        d.push_str(&format!("- {n}\n"));
    }
    // The strictest marking received for each indicator value, however spelled.
    // The strictest marking received for each indicator value, however spelled (as
    // correlation compares values): one normalisation per indicator.
    let key_of = |kind: IndicatorType, value: &str| (kind, sitrep_domain::correlation::normalise(kind, value));
    let mut strictest_of: std::collections::HashMap<(IndicatorType, Option<String>), Option<Tlp>> =
        std::collections::HashMap::new();
    for (kind, value, own) in &indicators {
        let entry = strictest_of.entry(key_of(*kind, value)).or_insert(None);
        *entry = stricter(*entry, *own);
    }
    let strictest = |kind: IndicatorType, value: &str| strictest_of.get(&key_of(kind, value)).copied().flatten();
    let indicator_lines: Vec<String> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Indicator { prefix, kind, value } => Some(match strictest(*kind, value) {
                Some(own) if tlp_rank(own) > tlp_rank(picture_tlp) => format!(
                    "{prefix}: {} received at TLP:{}, stricter than this draft: its value is in the indicators list only",
                    kind.as_str(),
                    own.as_str()
                ),
                _ => format!("{prefix}: {} {}", kind.as_str(), code(value)),
            }),
            _ => None,
        })
        .collect();
    let mapped: Vec<&String> = lines
        .iter()
        .filter_map(|l| if let Line::Mapped(s) = l { Some(s) } else { None })
        .chain(&indicator_lines)
        .collect();
    let kept: Vec<&String> = lines.iter().filter_map(|l| if let Line::Kept(s) = l { Some(s) } else { None }).collect();
    let full_description = description.filter(|_| summary_cut || title_cut);
    let reserve = full_description.as_ref().map_or(0, |_| 4000);
    for (heading, items) in [("Kept, not mapped", &kept), ("Mapped", &mapped)] {
        if items.is_empty() {
            continue;
        }
        d.push_str(&format!("\n### {heading}\n\n"));
        for (i, item) in items.iter().enumerate() {
            if d.chars().count() + item.chars().count() + reserve > DETAILS_BUDGET {
                d.push_str(&format!(
                    "- … and {} more (each is listed in the inbox status of the import)\n",
                    items.len() - i
                ));
                break;
            }
            d.push_str(&format!("- {item}\n"));
        }
    }
    if let Some(full) = full_description {
        let room = DETAILS_BUDGET.saturating_sub(d.chars().count() + 40);
        let (full, _) = cut(&full, room);
        d.push_str("\n### Description as received\n\n");
        for line in full.lines() {
            d.push_str(&format!("> {line}\n"));
        }
    }
    let mut details = LocalizedText::default();
    set_text(&mut details, lang, d.trim_end().to_owned());

    // One indicator per value however spelled (as correlation compares values), under the
    // strictest marking any of its objects carried.
    let mut merged: Vec<(IndicatorType, String, Option<Tlp>)> = Vec::new();
    let mut seen: std::collections::HashSet<(IndicatorType, Option<String>)> = std::collections::HashSet::new();
    for (kind, value, _) in indicators {
        let key = key_of(kind, &value);
        if seen.insert(key.clone()) {
            let own = strictest_of.get(&key).copied().flatten();
            merged.push((kind, value, own));
        }
    }
    let indicators: Vec<Indicator> = merged
        .into_iter()
        .map(|(type_, value, own)| Indicator {
            type_,
            value,
            platform: None,
            first_seen: None,
            last_seen: None,
            // Never looser than the picture, nor than its own marking.
            tlp: stricter(Some(picture_tlp), own).unwrap_or(picture_tlp),
        })
        .collect();

    let (source_description, _) = cut(
        &format!(
            "STIX {report_id} (modified {modified}) {}; created by {}",
            match sender.peer {
                Some(peer) => format!("pulled from the TAXII peer {}", clean(peer, false)),
                None =>
                    format!("received through the TAXII inbox from service account {}", clean(sender.account, false)),
            },
            creator.unwrap_or("no one named")
        ),
        500,
    );
    let content = PictureContent {
        kind: kind.unwrap_or(Kind::Alert),
        is_exercise,
        primary_domain,
        domains,
        original_lang: lang,
        title,
        summary,
        details: Some(details),
        impact_on_conduct: Impact::Unknown,
        impact_on_public_confidence: Impact::Unknown,
        severity_override: None,
        urgency: Urgency::Routine,
        outlook: None,
        source_reliability,
        information_credibility,
        election_id: None,
        election_phase: None,
        geo_scope: GeoScope::National,
        geo_codes: Vec::new(),
        targets: vec![Target::VotersGeneral],
        actor_type_suspected: ActorType::Unknown,
        attribution_confidence: AttributionConfidence::None,
        attribution_releasable: false,
        disarm_techniques: disarm.into_iter().collect(),
        attack_techniques: attack.into_iter().collect(),
        indicators,
        sources: vec![Source {
            source_type: SourceType::OwnMonitoring,
            description: source_description,
            reliability: source_reliability,
            credibility: information_credibility,
            url: None,
            collected_at: None,
        }],
        recommended_actions: Vec::new(),
        tlp: picture_tlp,
        tlp_community: None,
        tier,
        named_recipients: if tier == Tier::Named { vec![sender.organisation] } else { Vec::new() },
        classification,
        secrecy_basis: (classification != Classification::UnclassifiedPublic)
            .then(|| "Set on import from STIX; to be confirmed in review".to_owned()),
        originator_consents: Consents::default(),
        valid_from: None,
        valid_until: None,
        related: Vec::new(),
        attachments: Vec::new(),
    };
    Draft { content, referenced, received_tlp: marked.then_some(received_tlp) }
}

/// The STIX timestamp of a version, as the status resource names it.
pub fn version_name(r: &Received) -> Option<String> {
    r.version_text.clone().or_else(|| (r.version != DateTime::<Utc>::UNIX_EPOCH).then(|| stix_time(r.version)))
}

#[cfg(test)]
mod tests;
