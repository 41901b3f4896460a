//! A picture version as STIX 2.1 objects: a `report`, its `attack-pattern`s and
//! `indicator`s, the `artifact`s of its attachments, and a `language-content` with the translations. Pure: the caller passes
//! content that is already redacted for the reader.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sitrep_types::{Credibility, IndicatorType, Lang, LocalizedText, PictureContent};
use uuid::Uuid;

use crate::ids::{self, stix_time};
use crate::tlp::marking_id;

/// An organisation, exported as an `identity`.
#[derive(Debug, Clone)]
pub struct Organisation<'a> {
    pub id: Uuid,
    pub code: &'a str,
    pub name: &'a str,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

/// One version of a picture's report: a revision in force, or its withdrawal.
#[derive(Debug, Clone)]
pub struct ReportVersion<'a> {
    pub picture_id: Uuid,
    /// `VTY-YYYY-NNNN`.
    pub reference: &'a str,
    pub revision: i32,
    pub originator: Uuid,
    /// When the picture was created: `created` of every version.
    pub created: DateTime<Utc>,
    /// When the picture was first published.
    pub published: DateTime<Utc>,
    /// When this version came into force: its `modified`.
    pub modified: DateTime<Utc>,
    /// The picture was withdrawn.
    pub revoked: bool,
    /// The content, as the reader may see it.
    pub content: &'a PictureContent,
    /// The server's origin (`https://host`): artifacts point at its download endpoint.
    pub origin: &'a str,
}

/// STIX `confidence` from the Admiralty information credibility (STIX 2.1 Appendix B,
/// as `stix2/confidence/scales.py`): 1 → 90, 2 → 70, 3 → 50, 4 → 30, 5 → 10; 6 (cannot be
/// judged) has no value and leaves `confidence` out.
pub fn confidence(c: Credibility) -> Option<u8> {
    match c {
        Credibility::C1 => Some(90),
        Credibility::C2 => Some(70),
        Credibility::C3 => Some(50),
        Credibility::C4 => Some(30),
        Credibility::C5 => Some(10),
        Credibility::C6 => None,
    }
}

/// The `identity` of an organisation.
pub fn identity(o: &Organisation<'_>) -> Value {
    json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": ids::identity(o.id),
        "created": stix_time(o.created),
        "modified": stix_time(o.modified.max(o.created)),
        "name": o.name,
        "identity_class": "organization",
        "external_references": [{"source_name": "sitrep", "external_id": o.code}],
        // The organisation is its own producer: what interoperability checks ask of
        // every identity that others name as their creator.
        "created_by_ref": ids::identity(o.id),
    })
}

fn text(t: &LocalizedText, lang: Lang) -> Option<&str> {
    match lang {
        Lang::Fi => t.fi.as_deref(),
        Lang::Sv => t.sv.as_deref(),
        Lang::En => t.en.as_deref(),
    }
    .filter(|s| !s.is_empty())
}

/// A STIX pattern string literal: backslash and quote escaped.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The STIX pattern of an indicator, where a STIX Cyber-observable fits its type.
pub fn pattern(kind: IndicatorType, value: &str) -> Option<String> {
    let (object_path, hash) = match kind {
        IndicatorType::Domain => ("domain-name:value", false),
        IndicatorType::Url => ("url:value", false),
        IndicatorType::Ipv4 => ("ipv4-addr:value", false),
        IndicatorType::Ipv6 => ("ipv6-addr:value", false),
        IndicatorType::EmailAddress => ("email-addr:value", false),
        IndicatorType::EmailSubject => ("email-message:subject", false),
        IndicatorType::FileSha256 => ("file:hashes.'SHA-256'", true),
        IndicatorType::SocialAccount => ("user-account:account_login", false),
        IndicatorType::SmsSenderId
        | IndicatorType::PhoneNumber
        | IndicatorType::Hashtag
        | IndicatorType::ImagePhash
        | IndicatorType::TextFingerprint
        | IndicatorType::TelegramChannel => return None,
    };
    let value = if hash { value.to_ascii_lowercase() } else { value.to_owned() };
    Some(format!("[{object_path} = {}]", literal(&value)))
}

/// The objects of one report version, the `report` first. Indicators the reader may not
/// see must already be gone from `v.content`.
pub fn picture_objects(v: &ReportVersion<'_>) -> Vec<Value> {
    let c = v.content;
    let created = stix_time(v.created);
    let modified = stix_time(v.modified.max(v.created));
    let identity = ids::identity(v.originator);
    let picture_marking = marking_id(c.tlp);
    let common = |kind: &str, id: String| -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("type".into(), kind.into());
        m.insert("spec_version".into(), "2.1".into());
        m.insert("id".into(), id.into());
        m.insert("created".into(), created.clone().into());
        m.insert("modified".into(), modified.clone().into());
        m.insert("created_by_ref".into(), identity.clone().into());
        if v.revoked {
            m.insert("revoked".into(), true.into());
        }
        m
    };
    let mut objects = Vec::new();
    let mut refs = vec![Value::from(identity.clone())];

    let techniques =
        c.disarm_techniques.iter().map(|t| (t, true)).chain(c.attack_techniques.iter().map(|t| (t, false)));
    for (technique, disarm) in techniques {
        // The framework's own object, the same for every picture that cites it.
        let o = crate::disarm::attack_pattern(technique, disarm);
        refs.push(o["id"].clone());
        objects.push(o);
    }

    for i in &c.indicators {
        let Some(pattern) = pattern(i.type_, &i.value) else { continue };
        let id = ids::indicator(v.picture_id, i.type_.as_str(), &i.value);
        let mut o = common("indicator", id.clone());
        let valid_from = i.first_seen.unwrap_or(v.published);
        o.insert("name".into(), format!("{}: {}", i.type_.as_str(), i.value).into());
        o.insert("description".into(), format!("{} seen in {}", i.type_.as_str(), v.reference).into());
        // Sitrep's indicators are what an influence or cyber operation used.
        o.insert("indicator_types".into(), json!(["malicious-activity"]));
        o.insert("pattern".into(), pattern.into());
        o.insert("pattern_type".into(), "stix".into());
        o.insert("valid_from".into(), stix_time(valid_from).into());
        if let Some(until) = c.valid_until.filter(|u| *u > valid_from) {
            o.insert("valid_until".into(), stix_time(until).into());
        }
        o.insert("object_marking_refs".into(), json!([marking_id(i.tlp)]));
        refs.push(id.into());
        objects.push(Value::Object(o));
    }

    for a in &c.attachments {
        // A cyber observable: no creator, no versions; the file itself stays behind the
        // download endpoint, which applies the same visibility rule.
        let id = ids::artifact(v.picture_id, a.id, a.tlp);
        objects.push(json!({
            "type": "artifact",
            "spec_version": "2.1",
            "id": id,
            "mime_type": a.media_type,
            "url": format!("{}/api/v1/pictures/{}/attachments/{}/content", v.origin, v.picture_id, a.id),
            "hashes": {"SHA-256": a.sha256},
            "object_marking_refs": [marking_id(a.tlp)],
        }));
        refs.push(id.into());
    }

    let original = c.original_lang;
    let mut report = common("report", ids::report(v.picture_id));
    let title = text(&c.title, original).or_else(|| Lang::ALL.iter().find_map(|l| text(&c.title, *l)));
    report.insert("name".into(), format!("{}: {}", v.reference, title.unwrap_or("")).trim_end().into());
    if let Some(summary) = text(&c.summary, original) {
        report.insert("description".into(), summary.into());
    }
    report.insert("report_types".into(), json!(["threat-report"]));
    report.insert("published".into(), stix_time(v.published).into());
    report.insert("object_refs".into(), Value::Array(refs));
    if let Some(confidence) = confidence(c.information_credibility) {
        report.insert("confidence".into(), confidence.into());
    }
    report.insert("lang".into(), original.as_str().into());
    let mut labels = vec![format!("kind:{}", c.kind.as_str())];
    labels.extend(c.domains.iter().map(|d| format!("domain:{}", d.as_str())));
    if c.is_exercise {
        labels.push("exercise".into());
    }
    report.insert("labels".into(), json!(labels));
    report.insert(
        "external_references".into(),
        json!([{
            "source_name": "sitrep",
            "external_id": v.reference,
            "description": format!("revision {}; admiralty {}{}", v.revision,
                c.source_reliability.as_str(), c.information_credibility.as_str()),
        }]),
    );
    report.insert("object_marking_refs".into(), json!([picture_marking]));
    let report_modified = modified.clone();

    let mut contents = Map::new();
    for lang in Lang::ALL.iter().copied().filter(|l| *l != original) {
        let mut fields = Map::new();
        if let Some(t) = text(&c.title, lang) {
            fields.insert("name".into(), format!("{}: {t}", v.reference).into());
        }
        if let Some(s) = text(&c.summary, lang) {
            fields.insert("description".into(), s.into());
        }
        if !fields.is_empty() {
            contents.insert(lang.as_str().into(), Value::Object(fields));
        }
    }
    let mut all = vec![Value::Object(report)];
    all.append(&mut objects);
    if !contents.is_empty() {
        let mut o = common("language-content", ids::language_content(v.picture_id));
        o.insert("object_ref".into(), ids::report(v.picture_id).into());
        o.insert("object_modified".into(), report_modified.into());
        o.insert("contents".into(), Value::Object(contents));
        o.insert("object_marking_refs".into(), json!([picture_marking]));
        all.push(Value::Object(o));
    }
    all
}
