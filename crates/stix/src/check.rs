//! A structural check of STIX 2.1 objects as Sitrep exports them: common and per-type
//! required properties, identifier formats (`type--UUID`, RFC 4122 variant), timestamp
//! format and precision, references and ranges. Used by the unit and integration tests;
//! it is no substitute for the OASIS validator, but it catches what a mapping gets wrong.

use serde_json::Value;
use uuid::Uuid;

use crate::ids::parse_time;

/// `Ok` if `o` is a well-formed STIX 2.1 object of a type Sitrep exports.
pub fn check(o: &Value) -> Result<(), String> {
    let obj = o.as_object().ok_or("not a JSON object")?;
    let kind = str_of(o, "type")?;
    if kind.len() < 3 || !kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err(format!("bad type {kind:?}"));
    }
    let id = str_of(o, "id")?;
    check_id(id, Some(kind))?;
    if str_of(o, "spec_version")? != "2.1" {
        return Err(format!("{id}: spec_version is not 2.1"));
    }
    if kind == "artifact" {
        return check_artifact(o, id);
    }
    let created = timestamp(o, "created")?;
    if kind != "marking-definition" {
        let modified = timestamp(o, "modified")?;
        if modified < created {
            return Err(format!("{id}: modified before created"));
        }
    } else if obj.contains_key("modified") {
        return Err(format!("{id}: marking definitions are not versioned"));
    }
    if let Some(r) = obj.get("created_by_ref") {
        check_id(r.as_str().ok_or("created_by_ref not a string")?, Some("identity"))?;
    }
    if let Some(refs) = obj.get("object_marking_refs") {
        for r in refs.as_array().ok_or("object_marking_refs not a list")? {
            check_id(r.as_str().ok_or("marking ref not a string")?, Some("marking-definition"))?;
        }
    }
    if let Some(c) = obj.get("confidence") {
        let c = c.as_u64().ok_or("confidence not an integer")?;
        if c > 100 {
            return Err(format!("{id}: confidence above 100"));
        }
    }
    if let Some(r) = obj.get("revoked")
        && !r.is_boolean()
    {
        return Err(format!("{id}: revoked not a boolean"));
    }
    if let Some(refs) = obj.get("external_references") {
        for r in refs.as_array().ok_or("external_references not a list")? {
            str_of(r, "source_name")?;
            if !["description", "url", "external_id"].iter().any(|k| r.get(*k).is_some_and(Value::is_string)) {
                return Err(format!("{id}: external reference without description, url or external_id"));
            }
        }
    }
    match kind {
        "report" => {
            str_of(o, "name")?;
            timestamp(o, "published")?;
            let refs = obj.get("object_refs").and_then(Value::as_array).ok_or("report without object_refs")?;
            if refs.is_empty() {
                return Err(format!("{id}: empty object_refs"));
            }
            for r in refs {
                let r = r.as_str().ok_or("object ref not a string")?;
                check_id(r, None)?;
                if r.starts_with("marking-definition--") {
                    return Err(format!("{id}: a marking definition in object_refs"));
                }
            }
        }
        "indicator" => {
            let pattern = str_of(o, "pattern")?;
            if !(pattern.starts_with('[') && pattern.ends_with(']')) {
                return Err(format!("{id}: pattern {pattern:?}"));
            }
            str_of(o, "pattern_type")?;
            // What stix2-validator asks of an indicator (SHOULD): a name, a description
            // and its indicator types.
            str_of(o, "name")?;
            str_of(o, "description")?;
            let types =
                obj.get("indicator_types").and_then(Value::as_array).ok_or("indicator without indicator_types")?;
            if types.is_empty() || !types.iter().all(|t| t.as_str().is_some_and(|t| !t.is_empty())) {
                return Err(format!("{id}: indicator_types empty or not strings"));
            }
            let from = timestamp(o, "valid_from")?;
            if obj.contains_key("valid_until") && timestamp(o, "valid_until")? <= from {
                return Err(format!("{id}: valid_until not after valid_from"));
            }
        }
        "attack-pattern" | "identity" => {
            str_of(o, "name")?;
        }
        "language-content" => {
            check_id(str_of(o, "object_ref")?, None)?;
            let contents = obj.get("contents").and_then(Value::as_object).ok_or("no contents")?;
            if contents.is_empty() {
                return Err(format!("{id}: empty contents"));
            }
            if obj.contains_key("object_modified") {
                timestamp(o, "object_modified")?;
            }
        }
        "marking-definition" => {
            let ext = obj.get("extensions").and_then(Value::as_object);
            let defined = obj.contains_key("definition_type") && obj.contains_key("definition");
            if ext.is_none_or(|e| e.is_empty()) && !defined {
                return Err(format!("{id}: marking definition with neither definition nor extension"));
            }
        }
        other => return Err(format!("{id}: unexpected type {other}")),
    }
    Ok(())
}

/// An `artifact` as Sitrep exports it: a cyber observable (no creator, no versions)
/// with a SHA-256, a media type and the URL of the file instead of its bytes.
fn check_artifact(o: &Value, id: &str) -> Result<(), String> {
    let obj = o.as_object().ok_or("not a JSON object")?;
    for key in ["created", "modified", "created_by_ref", "revoked"] {
        if obj.contains_key(key) {
            return Err(format!("{id}: a cyber observable has no {key}"));
        }
    }
    if obj.contains_key("payload_bin") {
        return Err(format!("{id}: payload_bin: the file is only behind its URL"));
    }
    let hash = o.get("hashes").and_then(|h| h.get("SHA-256")).and_then(Value::as_str).unwrap_or_default();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(format!("{id}: hashes without a lower-case hex SHA-256"));
    }
    let url = str_of(o, "url")?;
    if !url.starts_with("https://") && !url.starts_with("http://") {
        return Err(format!("{id}: url {url:?} is not absolute"));
    }
    let mime = str_of(o, "mime_type")?;
    if !mime.split_once('/').is_some_and(|(t, s)| !t.is_empty() && !s.is_empty()) {
        return Err(format!("{id}: mime_type {mime:?}"));
    }
    if let Some(refs) = obj.get("object_marking_refs") {
        for r in refs.as_array().ok_or("object_marking_refs not a list")? {
            check_id(r.as_str().ok_or("marking ref not a string")?, Some("marking-definition"))?;
        }
    }
    Ok(())
}

fn str_of<'a>(o: &'a Value, key: &str) -> Result<&'a str, String> {
    o.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or_else(|| format!("missing {key}"))
}

/// `YYYY-MM-DDTHH:MM:SS.sss[sss…]Z`: UTC with at least millisecond precision.
fn timestamp(o: &Value, key: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let s = str_of(o, key)?;
    let b = s.as_bytes();
    let shape = b.len() >= 24
        && b[10] == b'T'
        && b[19] == b'.'
        && b[b.len() - 1] == b'Z'
        && b[20..b.len() - 1].iter().all(u8::is_ascii_digit);
    if !shape {
        return Err(format!("{key} {s:?} is not UTC with millisecond precision"));
    }
    parse_time(s).ok_or_else(|| format!("{key} {s:?} is not a timestamp"))
}

/// `type--uuid` with an RFC 4122 UUID, and of `kind` if given.
pub fn check_id(id: &str, kind: Option<&str>) -> Result<(), String> {
    let (t, u) = id.split_once("--").ok_or_else(|| format!("id {id:?} is not type--uuid"))?;
    if kind.is_some_and(|k| k != t) {
        return Err(format!("id {id:?} is not of type {}", kind.unwrap_or_default()));
    }
    let uuid = Uuid::parse_str(u).map_err(|_| format!("id {id:?} has no UUID"))?;
    if u != uuid.hyphenated().to_string() || uuid.get_variant() != uuid::Variant::RFC4122 {
        return Err(format!("id {id:?} is not a lower-case RFC 4122 UUID"));
    }
    Ok(())
}
