use std::collections::HashMap;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};
use sitrep_domain::picture::{CheckedContent, Deployment};
use sitrep_types::{Credibility, Domain, IndicatorType, Kind, Lang, LocalizedText, PictureContent, Tier, Tlp};
use uuid::Uuid;

use super::*;
use crate::tlp::marking_id;
use crate::{ReportVersion, picture_objects};

const ORG: Uuid = Uuid::from_u128(0xa);
const T0: &str = "2027-03-01T10:00:00.000Z";

fn sender() -> Sender<'static> {
    Sender { organisation: ORG, account: "soc-platform", peer: None }
}

fn report(refs: &[&str], markings: &[&str]) -> Value {
    json!({
        "type": "report", "spec_version": "2.1", "id": "report--6b1f2a8c-3d4e-4f5a-9b6c-7d8e9f0a1b2c",
        "created": T0, "modified": T0, "published": T0, "name": "Fake polling station changes",
        "description": "Messages claim polling stations moved.", "object_refs": refs,
        "object_marking_refs": markings,
    })
}

fn indicator(id: &str, pattern: &str, markings: &[&str]) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": id, "created": T0, "modified": T0,
        "pattern": pattern, "pattern_type": "stix", "valid_from": T0, "object_marking_refs": markings,
    })
}

const IND1: &str = "indicator--0b5a0e2c-9c1d-4c7e-8f3a-1a2b3c4d5e6f";
const IND2: &str = "indicator--1c6b1f3d-0d2e-4d8f-9a4b-2b3c4d5e6f70";
const MALWARE: &str = "malware--2d7c2a4e-1e3f-4e9a-8b5c-3c4d5e6f7081";

fn finder(objects: &[Value]) -> impl Fn(&str) -> Option<Value> + '_ {
    move |id| objects.iter().find(|o| o["id"] == id).cloned()
}

fn map(objects: &[Value]) -> Draft {
    let translations: Vec<&Value> = objects.iter().filter(|o| o["type"] == "language-content").collect();
    map_report(&objects[0], &finder(objects), &translations, &sender())
}

fn valid(c: &PictureContent) {
    CheckedContent::check(c.clone(), Deployment { tl_iv_accredited: false })
        .unwrap_or_else(|e| panic!("{e:?}: {}", serde_json::to_string_pretty(c).unwrap()));
}

#[test]
fn an_attack_id_outside_the_pinned_list_is_kept_not_mapped() {
    const KNOWN: &str = "attack-pattern--3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b";
    const UNKNOWN: &str = "attack-pattern--4f5a6b7c-8d9e-4f0a-9b1c-2d3e4f5a6b7c";
    const DEPRECATED: &str = "attack-pattern--5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d";
    let pattern = |id: &str, technique: &str| {
        json!({
            "type": "attack-pattern", "spec_version": "2.1", "id": id, "created": T0, "modified": T0,
            "name": technique, "external_references": [{"source_name": "mitre-attack", "external_id": technique}],
        })
    };
    let objects = vec![
        report(&[KNOWN, UNKNOWN, DEPRECATED], &[]),
        pattern(KNOWN, "T1566.002"),
        pattern(UNKNOWN, "T1999"),
        pattern(DEPRECATED, "T1108"),
    ];
    let draft = map(&objects);
    let c = &draft.content;
    assert_eq!(c.attack_techniques, ["T1566.002"]);
    valid(c);
    let details = c.details.as_ref().unwrap().en.as_deref().unwrap();
    let (kept, mapped) = details.split_once("### Mapped").unwrap_or_else(|| panic!("{details}"));
    let kept = kept.split_once("### Kept, not mapped").unwrap_or_else(|| panic!("{details}")).1;
    for id in [UNKNOWN, DEPRECATED] {
        assert!(kept.contains(id) && !mapped.contains(id), "{id} listed as kept: {details}");
    }
    assert!(kept.contains("ATT&CK Enterprise v18.1"), "{details}");
    assert!(mapped.contains(KNOWN) && !kept.contains(KNOWN), "{details}");
    assert_eq!(draft.referenced, vec![KNOWN, UNKNOWN, DEPRECATED]);
}

#[test]
fn an_envelope_is_an_object_of_objects_and_nothing_else() {
    assert_eq!(envelope_objects(json!({})).unwrap().len(), 0);
    assert_eq!(envelope_objects(json!({"objects": [{}], "more": false})).unwrap().len(), 1);
    assert_eq!(envelope_objects(json!([])), Err(EnvelopeError::NotAnObject));
    assert_eq!(envelope_objects(json!({"objects": {}})), Err(EnvelopeError::ObjectsNotAList));
    assert_eq!(envelope_objects(json!({"objekts": []})), Err(EnvelopeError::UnknownKey("objekts".into())));
    let many: Vec<Value> = (0..=MAX_OBJECTS).map(|_| json!({})).collect();
    assert_eq!(envelope_objects(json!({ "objects": many })), Err(EnvelopeError::TooMany(MAX_OBJECTS + 1)));
}

#[test]
fn objects_are_checked_strictly() {
    let r = report(&[IND1], &[]);
    let got = validate(&r).unwrap();
    assert_eq!((got.id.as_str(), got.type_.as_str()), ("report--6b1f2a8c-3d4e-4f5a-9b6c-7d8e9f0a1b2c", "report"));
    assert_eq!(got.version_text.as_deref(), Some(T0));
    let broken = |f: &dyn Fn(&mut Value)| {
        let mut o = r.clone();
        f(&mut o);
        validate(&o).unwrap_err()
    };
    assert!(broken(&|o| drop(o.as_object_mut().unwrap().remove("modified"))).contains("modified"));
    assert!(broken(&|o| o["modified"] = json!("2027-03-01T10:00:00Z")).contains("millisecond"));
    assert!(broken(&|o| o["modified"] = json!("2027-03-01T12:00:00.000+02:00")).contains("UTC"));
    assert!(broken(&|o| o["modified"] = json!("2027-02-01T10:00:00.000Z")).contains("before created"));
    assert!(broken(&|o| o["id"] = json!("indicator--6b1f2a8c-3d4e-4f5a-9b6c-7d8e9f0a1b2c")).contains("type"));
    assert!(broken(&|o| o["id"] = json!("report--not-a-uuid")).contains("UUID"));
    assert!(broken(&|o| o["spec_version"] = json!("2.0")).contains("2.1"));
    assert!(broken(&|o| o["object_refs"] = json!([])).contains("empty"));
    assert!(broken(&|o| o["object_refs"] = json!(["nope"])).contains("object_refs"));
    assert!(broken(&|o| o["Name"] = json!("x")).contains("property name"));
    assert!(broken(&|o| o["confidence"] = json!(101)).contains("confidence"));
    assert!(broken(&|o| o["created_by_ref"] = json!(IND1)).contains("created_by_ref"));
    assert!(broken(&|o| o["object_marking_refs"] = json!([IND1])).contains("object_marking_refs"));
    assert!(broken(&|o| o["type"] = json!("Report")).contains("type"));
    assert!(validate(&json!("report")).is_err());
    // Nanoseconds are truncated to the microseconds versions are stored with.
    let mut fine = r.clone();
    fine["modified"] = json!("2027-03-01T10:00:00.123456789Z");
    let v = validate(&fine).unwrap();
    assert_eq!(v.version.timestamp_subsec_nanos(), 123_456_000);
    assert_eq!(v.version_text.as_deref(), Some("2027-03-01T10:00:00.123456789Z"));
    // A cyber observable has no versions; a marking definition only `created`.
    let sco =
        json!({"type": "domain-name", "id": "domain-name--3e8d3b5f-2f4a-4fab-9c6d-4d5e6f708192", "value": "x.test"});
    assert_eq!(validate(&sco).unwrap().version, DateTime::<Utc>::UNIX_EPOCH);
    let mut dated = sco.clone();
    dated["created"] = json!(T0);
    assert!(validate(&dated).is_err());
    let mut marking = crate::tlp::marking_definition(Tlp::Red);
    assert!(validate(&marking).is_ok());
    marking["modified"] = json!(T0);
    assert!(validate(&marking).is_err());
    // A type Sitrep does not know is checked for the common properties only.
    let foreign = json!({"type": "x-acme-note", "spec_version": "2.1", "id": "x-acme-note--4f9e4c60-3a5b-40bc-8d7e-5e6f708192a3", "created": T0, "modified": T0});
    assert!(validate(&foreign).is_ok());
}

#[test]
fn tlp_markings_are_known_by_id_or_declaration() {
    for tlp in Tlp::ALL {
        assert_eq!(tlp_of_marking(marking_id(*tlp), None), Some(*tlp));
    }
    assert_eq!(tlp_of_marking("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", None), Some(Tlp::Red));
    assert_eq!(tlp_of_marking("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", None), Some(Tlp::Clear));
    let own = json!({"definition_type": "tlp", "definition": {"tlp": "red"}});
    assert_eq!(tlp_of_marking("marking-definition--00000000-0000-4000-8000-000000000001", Some(&own)), Some(Tlp::Red));
    let statement = json!({"definition_type": "statement", "definition": {"statement": "Copyright"}});
    assert_eq!(tlp_of_marking("marking-definition--00000000-0000-4000-8000-000000000002", Some(&statement)), None);
}

#[test]
fn a_report_becomes_a_valid_draft_of_the_receiving_organisation_with_its_indicators() {
    let amber = marking_id(Tlp::Amber);
    let red = marking_id(Tlp::Red);
    let mut r = report(&[IND1, IND2, MALWARE], &[amber]);
    // It names another organisation as creator: provenance only.
    r["created_by_ref"] = json!(crate::ids::identity(Uuid::from_u128(0xb)));
    let objects = vec![
        r,
        indicator(IND1, "[domain-name:value = 'vaalit-example.test']", &[red]),
        indicator(IND2, "[url:value = 'https://x.test/a\\'b'] AND [url:value = 'y']", &[]),
        json!({"type": "malware", "spec_version": "2.1", "id": MALWARE, "created": T0, "modified": T0, "name": "Loader", "is_family": false}),
    ];
    let draft = map(&objects);
    let c = &draft.content;
    valid(c);
    assert_eq!((c.tlp, c.tier, c.named_recipients.clone()), (Tlp::Amber, Tier::Group, vec![]));
    assert_eq!(c.indicators.len(), 1, "the compound pattern is not read");
    assert_eq!((c.indicators[0].type_, c.indicators[0].value.as_str()), (IndicatorType::Domain, "vaalit-example.test"));
    assert_eq!(c.indicators[0].tlp, Tlp::Red, "an indicator keeps its own, stricter marking");
    assert_eq!((c.primary_domain, c.domains.clone()), (Domain::Hybrid, vec![Domain::Hybrid]));
    let details = c.details.as_ref().unwrap().en.as_deref().unwrap();
    assert!(details.contains(MALWARE) && details.contains("`malware` Sitrep does not map"), "{details}");
    assert!(details.contains(IND2) && details.contains("pattern Sitrep does not read"), "{details}");
    assert!(details.contains(&crate::ids::identity(Uuid::from_u128(0xb))), "{details}");
    assert!(details.contains("soc-platform"));
    assert_eq!(draft.referenced, vec![IND1, IND2, MALWARE]);
    assert_eq!(c.title.en.as_deref(), Some("Fake polling station changes"));
    assert_eq!(c.sources.len(), 1);
    assert!(c.sources[0].description.contains("report--6b1f2a8c"));
}

#[test]
fn the_draft_is_never_looser_than_what_it_was_given() {
    let case = |report_marking: &[&str], other_marking: &[&str]| {
        let objects = vec![
            report(&[MALWARE, IND1], report_marking),
            json!({"type": "malware", "spec_version": "2.1", "id": MALWARE, "created": T0, "modified": T0,
                   "name": "Loader", "is_family": false, "object_marking_refs": other_marking}),
            indicator(IND1, "[ipv4-addr:value = '192.0.2.1']", &[marking_id(Tlp::Clear)]),
        ];
        let c = map(&objects).content;
        valid(&c);
        (c.tlp, c.tier, c.named_recipients, c.indicators[0].tlp)
    };
    let red = marking_id(Tlp::Red);
    assert_eq!(case(&[red], &[]), (Tlp::Red, Tier::Named, vec![ORG], Tlp::Red), "RED stays RED, named to itself");
    assert_eq!(case(&[marking_id(Tlp::Clear)], &[red]), (Tlp::Red, Tier::Named, vec![ORG], Tlp::Red));
    assert_eq!(case(&[marking_id(Tlp::Green)], &[]), (Tlp::Amber, Tier::Group, vec![], Tlp::Amber));
    assert_eq!(case(&[], &[]), (DEFAULT_TLP, Tier::Named, vec![ORG], DEFAULT_TLP), "no marking: strict default");
    assert_eq!(case(&[marking_id(Tlp::Clear)], &[]), (Tlp::Clear, Tier::Group, vec![], Tlp::Clear));
    let tlp1_red = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
    assert_eq!(case(&[marking_id(Tlp::Amber), tlp1_red], &[]).0, Tlp::Red, "the strictest of several");
}

/// The details carry the draft's TLP: an indicator value received at a stricter one, under
/// any of its spellings, is named there by its type and TLP only.
#[test]
fn a_value_received_stricter_than_the_draft_is_never_written_into_its_details() {
    let amber = marking_id(Tlp::Amber);
    let red = marking_id(Tlp::Red);
    let objects = vec![
        report(&[IND1, IND2], &[amber]),
        indicator(IND1, "[domain-name:value = 'vaalit-muutos.example']", &[red]),
        // The same value, spelled otherwise, marked AMBER: still RED for the draft's text.
        indicator(IND2, "[domain-name:value = 'Vaalit-Muutos.Example.']", &[amber]),
    ];
    let c = map(&objects).content;
    valid(&c);
    assert_eq!(c.tlp, Tlp::Amber);
    // One indicator of that value, at the strictest marking received for it.
    assert_eq!(c.indicators.len(), 1, "{:?}", c.indicators);
    assert_eq!((c.indicators[0].value.as_str(), c.indicators[0].tlp), ("vaalit-muutos.example", Tlp::Red));
    let details = serde_json::to_string(&c.details).unwrap().to_lowercase();
    assert!(!details.contains("vaalit-muutos"), "{details}");
    assert!(details.contains("received at tlp:red"), "{details}");
    // At the draft's own TLP the value is written.
    let objects = vec![report(&[IND1], &[amber]), indicator(IND1, "[domain-name:value = 'vaalit.example']", &[amber])];
    let details = serde_json::to_string(&map(&objects).content.details).unwrap();
    assert!(details.contains("vaalit.example"), "{details}");
}

#[test]
fn long_texts_are_shortened_and_kept_whole_in_the_details() {
    let mut r = report(&[IND1], &[marking_id(Tlp::Amber)]);
    r["name"] = json!("N".repeat(300));
    r["description"] = json!(format!("{}\nline two\u{202e}", "D".repeat(1500)));
    let objects = vec![r, indicator(IND1, "[domain-name:value = 'a.test']", &[])];
    let c = map(&objects).content;
    valid(&c);
    assert_eq!(c.title.en.as_ref().unwrap().chars().count(), 140);
    assert_eq!(c.summary.en.as_ref().unwrap().chars().count(), 1000);
    let details = c.details.as_ref().unwrap().en.as_deref().unwrap();
    assert!(details.contains(&"D".repeat(1500)) && details.contains("> line two"));
}

#[test]
fn a_referred_object_not_received_is_named_in_the_details() {
    let objects = vec![report(&[IND1], &[marking_id(Tlp::Amber)])];
    let c = map(&objects).content;
    valid(&c);
    assert!(c.details.as_ref().unwrap().en.as_deref().unwrap().contains("not received"));
}

fn exported(c: &PictureContent) -> Vec<Value> {
    picture_objects(&ReportVersion {
        picture_id: Uuid::from_u128(42),
        reference: "VTY-2027-0042",
        revision: 1,
        originator: Uuid::from_u128(0xb),
        created: DateTime::parse_from_rfc3339("2027-03-01T09:00:00Z").unwrap().with_timezone(&Utc),
        published: DateTime::parse_from_rfc3339("2027-03-01T10:00:00Z").unwrap().with_timezone(&Utc),
        modified: DateTime::parse_from_rfc3339("2027-03-02T10:00:00Z").unwrap().with_timezone(&Utc),
        revoked: false,
        content: c,
        origin: "https://sitrep.test",
    })
}

fn base() -> PictureContent {
    serde_json::from_value(json!({
        "kind": "alert", "primary_domain": "information_influence", "domains": ["information_influence"],
        "original_lang": "fi", "title": {"fi": "Väite"}, "summary": {"fi": "Tiivistelmä", "sv": "Sammanfattning", "en": "Summary"},
        "impact_on_conduct": "moderate", "impact_on_public_confidence": "significant", "urgency": "priority",
        "source_reliability": "B", "information_credibility": "2", "geo_scope": "national",
        "targets": ["voters_general"], "actor_type_suspected": "unknown", "attribution_confidence": "none",
        "disarm_techniques": ["T0101"],
        "sources": [{"source_type": "own_monitoring", "description": "Monitoring", "reliability": "B", "credibility": "2"}],
        "tlp": "AMBER", "tier": "group", "classification": "unclassified_secret", "secrecy_basis": "JulkL 24 § 1 mom 7 k"
    }))
    .unwrap()
}

fn text_in(t: &LocalizedText, lang: Lang) -> Option<&str> {
    match lang {
        Lang::Fi => t.fi.as_deref(),
        Lang::Sv => t.sv.as_deref(),
        Lang::En => t.en.as_deref(),
    }
}

prop_compose! {
    fn exportable()(
        techniques in proptest::sample::subsequence(vec!["T0101", "T0097.206", "T0002", "T0086.002"], 1..4),
        attack in proptest::sample::subsequence(vec!["T1566.002", "T1498"], 0..3),
        values in proptest::collection::btree_set("[a-z]{1,12}\\.(test|example)", 0..6),
        tlp in proptest::sample::select(vec![Tlp::Clear, Tlp::Green, Tlp::Amber, Tlp::AmberStrict, Tlp::Red]),
        lang in proptest::sample::select(vec![Lang::Fi, Lang::Sv, Lang::En]),
        kind in proptest::sample::select(Kind::ALL.to_vec()),
        credibility in proptest::sample::select(Credibility::ALL.to_vec()),
        exercise in any::<bool>(),
        title in "[A-Za-zÄÖäö0-9 ,.'\\\\-]{1,80}",
    ) -> PictureContent {
        let mut c = base();
        c.disarm_techniques = techniques.into_iter().map(str::to_owned).collect();
        c.attack_techniques = attack.into_iter().map(str::to_owned).collect();
        if !c.attack_techniques.is_empty() {
            c.domains = vec![Domain::InformationInfluence, Domain::Cyber];
        }
        c.indicators = values.into_iter().map(|v| sitrep_types::Indicator {
            type_: IndicatorType::Domain, value: v, platform: None, first_seen: None, last_seen: None, tlp,
        }).collect();
        c.tlp = tlp;
        c.original_lang = lang;
        c.kind = kind;
        c.information_credibility = credibility;
        c.is_exercise = exercise;
        let title = title.trim().to_owned();
        let title = if title.is_empty() { "x".to_owned() } else { title };
        c.title = LocalizedText { fi: Some(format!("{title} fi")), sv: Some(format!("{title} sv")), en: Some(format!("{title} en")) };
        c
    }
}

proptest! {
    /// What Sitrep exports comes back as the same techniques, indicators, labels,
    /// credibility, texts and a TLP no looser, and makes a valid draft of the receiver.
    #[test]
    fn an_exported_picture_maps_back_to_what_it_said(c in exportable()) {
        let objects = exported(&c);
        let by_id: HashMap<String, Value> = objects.iter().map(|o| (o["id"].as_str().unwrap().to_owned(), o.clone())).collect();
        for o in &objects {
            prop_assert!(validate(o).is_ok(), "{:?}: {}", validate(o), o);
        }
        let find = |id: &str| by_id.get(id).cloned().or_else(|| {
            let m = crate::disarm::marking();
            (m["id"] == id).then(|| m.clone())
        });
        let translations: Vec<&Value> = objects.iter().filter(|o| o["type"] == "language-content").collect();
        let back = map_report(&objects[0], &find, &translations, &sender()).content;
        valid(&back);
        prop_assert_eq!(&back.disarm_techniques, &{ let mut t = c.disarm_techniques.clone(); t.sort(); t });
        prop_assert_eq!(&back.attack_techniques, &{ let mut t = c.attack_techniques.clone(); t.sort(); t });
        let pairs = |x: &PictureContent| x.indicators.iter().map(|i| (i.type_, i.value.clone())).collect::<Vec<_>>();
        prop_assert_eq!(pairs(&back), pairs(&c));
        prop_assert_eq!(back.kind, c.kind);
        prop_assert_eq!(&back.domains, &c.domains);
        prop_assert_eq!(back.is_exercise, c.is_exercise);
        prop_assert_eq!(back.information_credibility, c.information_credibility);
        prop_assert_eq!(back.source_reliability, c.source_reliability);
        prop_assert_eq!(back.original_lang, c.original_lang);
        for lang in Lang::ALL {
            let want = text_in(&c.title, *lang).map(|t| format!("VTY-2027-0042: {t}"));
            prop_assert_eq!(text_in(&back.title, *lang).map(str::to_owned), want);
        }
        prop_assert!(tlp_rank(back.tlp) >= tlp_rank(c.tlp));
        prop_assert!(back.indicators.iter().all(|i| tlp_rank(i.tlp) >= tlp_rank(c.tlp)));
        prop_assert_eq!(back.named_recipients.clone(), if back.tier == Tier::Named { vec![ORG] } else { vec![] });
    }

    /// Whatever the markings, the draft's TLP is at least the strictest TLP the report
    /// or a non-indicator object it refers to names, and each indicator's at least its own.
    #[test]
    fn no_marking_is_loosened(
        on_report in proptest::collection::vec(proptest::sample::select(Tlp::ALL.to_vec()), 0..3),
        on_malware in proptest::collection::vec(proptest::sample::select(Tlp::ALL.to_vec()), 0..3),
        on_indicator in proptest::collection::vec(proptest::sample::select(Tlp::ALL.to_vec()), 0..3),
    ) {
        let ids = |t: &[Tlp]| t.iter().map(|t| marking_id(*t)).collect::<Vec<_>>();
        let objects = vec![
            report(&[MALWARE, IND1], &ids(&on_report)),
            json!({"type": "malware", "spec_version": "2.1", "id": MALWARE, "created": T0, "modified": T0,
                   "name": "Loader", "is_family": false, "object_marking_refs": ids(&on_malware)}),
            indicator(IND1, "[ipv4-addr:value = '192.0.2.1']", &ids(&on_indicator)),
        ];
        let c = map(&objects).content;
        valid(&c);
        let strictest = |t: &[Tlp]| t.iter().map(|t| tlp_rank(*t)).max();
        if let Some(r) = strictest(&on_report).max(strictest(&on_malware)) {
            prop_assert!(tlp_rank(c.tlp) >= r);
        }
        if let Some(r) = strictest(&on_indicator) {
            prop_assert!(tlp_rank(c.indicators[0].tlp) >= r);
        }
        prop_assert!(tlp_rank(c.indicators[0].tlp) >= tlp_rank(c.tlp));
    }
}
