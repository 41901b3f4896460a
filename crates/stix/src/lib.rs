//! STIX 2.1 export of situation pictures (docs/taxii.md): deterministic ids, the TLP 2.0
//! marking definitions, the mapping of a picture version to STIX objects, and a
//! structural checker. Pure: no I/O. What a reader may see is decided before this crate
//! is called (the visibility rule and indicator redaction of `sitrep_domain`).

pub mod attack;
pub mod check;
pub mod disarm;
pub mod ids;
pub mod inbox;
pub mod map;
pub mod tlp;

pub use check::check;
pub use map::{Organisation, ReportVersion, confidence, identity, picture_objects};

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};
    use sitrep_types::{Credibility, PictureContent, Tlp};
    use uuid::Uuid;

    use super::*;

    fn content() -> PictureContent {
        serde_json::from_value(json!({
            "kind": "alert", "primary_domain": "information_influence",
            "domains": ["information_influence", "cyber"], "original_lang": "fi",
            "title": {"fi": "Väite", "sv": "Påstående", "en": "Claim"},
            "summary": {"fi": "Tiivistelmä", "en": "Summary"},
            "impact_on_conduct": "moderate", "impact_on_public_confidence": "minor", "urgency": "priority",
            "source_reliability": "B", "information_credibility": "2", "geo_scope": "national",
            "targets": ["voters_general"], "actor_type_suspected": "unknown", "attribution_confidence": "none",
            "disarm_techniques": ["T0101"], "attack_techniques": ["T1566.002"],
            "indicators": [
                {"type": "domain", "value": "vaalit-example.test", "tlp": "AMBER"},
                {"type": "url", "value": "https://x.test/a'b\\c", "tlp": "AMBER", "first_seen": "2027-03-01T08:00:00Z"},
                {"type": "hashtag", "value": "#vaalit", "tlp": "AMBER"}
            ],
            "sources": [{"source_type": "osint", "description": "d", "reliability": "B", "credibility": "2"}],
            "tlp": "AMBER", "tier": "group", "classification": "unclassified_secret", "secrecy_basis": "x",
            "valid_until": "2027-04-01T00:00:00Z",
            "attachments": [{
                "id": "00000000-0000-0000-0000-000000000007", "file_name": "post.png", "media_type": "image/png",
                "size": 5, "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
                "tlp": "AMBER+STRICT", "description": {"en": "Screenshot"}
            }]
        }))
        .unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn objects(c: &PictureContent, revoked: bool) -> Vec<Value> {
        picture_objects(&ReportVersion {
            picture_id: Uuid::from_u128(42),
            reference: "VTY-2027-0042",
            revision: 3,
            originator: Uuid::from_u128(1),
            created: at("2027-03-01T09:00:00.123456Z"),
            published: at("2027-03-01T10:00:00Z"),
            modified: at("2027-03-02T10:00:00.5Z"),
            revoked,
            content: c,
            origin: "https://sitrep.test",
        })
    }

    #[test]
    fn a_picture_version_is_a_valid_report_with_its_objects() {
        let c = content();
        let objs = objects(&c, false);
        for o in &objs {
            check(o).unwrap_or_else(|e| panic!("{e}: {o}"));
        }
        let types: Vec<&str> = objs.iter().map(|o| o["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            ["report", "attack-pattern", "attack-pattern", "indicator", "indicator", "artifact", "language-content"]
        );
        let report = &objs[0];
        assert_eq!(report["id"], ids::report(Uuid::from_u128(42)));
        assert_eq!(report["created"], "2027-03-01T09:00:00.123Z");
        assert_eq!(report["modified"], "2027-03-02T10:00:00.500Z");
        assert_eq!(report["confidence"], 70);
        assert_eq!(report["name"], "VTY-2027-0042: Väite");
        assert_eq!(report["object_marking_refs"], json!([tlp::marking_id(Tlp::Amber)]));
        assert!(report.get("revoked").is_none());
        let refs: Vec<&str> = report["object_refs"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
        assert_eq!(refs.len(), 6, "identity, two attack patterns, two indicators (the hashtag has no pattern), a file");
        assert_eq!(refs[0], ids::identity(Uuid::from_u128(1)));
        for o in &objs[1..] {
            assert!(o["type"] == "language-content" || refs.contains(&o["id"].as_str().unwrap()));
        }
        assert_eq!(objs[1]["id"], disarm::attack_pattern_id("T0101", true));
        assert_eq!(objs[1]["external_references"][0]["external_id"], "T0101");
        assert_eq!(objs[1]["kill_chain_phases"][0]["kill_chain_name"], "mitre-attack");
        assert_eq!(objs[2]["external_references"][0]["url"], "https://attack.mitre.org/techniques/T1566/002");
        assert_eq!(objs[2]["id"], attack::attack_pattern_id("T1566.002"));
        assert_eq!(objs[2]["kill_chain_phases"][0]["phase_name"], "initial-access");
        assert_eq!(objs[3]["pattern"], "[domain-name:value = 'vaalit-example.test']");
        assert_eq!(objs[4]["pattern"], r"[url:value = 'https://x.test/a\'b\\c']");
        assert_eq!(objs[4]["valid_from"], "2027-03-01T08:00:00.000Z");
        assert_eq!(objs[3]["valid_until"], "2027-04-01T00:00:00.000Z");
        let artifact = &objs[5];
        let aid = Uuid::from_u128(7);
        assert_eq!(artifact["id"], ids::artifact(Uuid::from_u128(42), aid, c.attachments[0].tlp));
        assert_eq!(artifact["mime_type"], "image/png");
        assert_eq!(artifact["hashes"]["SHA-256"], c.attachments[0].sha256);
        assert_eq!(
            artifact["url"],
            format!("https://sitrep.test/api/v1/pictures/{}/attachments/{aid}/content", Uuid::from_u128(42))
        );
        assert_eq!(artifact["object_marking_refs"], json!([tlp::marking_id(Tlp::AmberStrict)]));
        assert!(artifact.get("payload_bin").is_none() && artifact.get("created").is_none());
        let lc = &objs[6];
        assert_eq!(lc["object_ref"], report["id"]);
        assert_eq!(lc["object_modified"], report["modified"]);
        assert_eq!(lc["contents"]["sv"], json!({"name": "VTY-2027-0042: Påstående"}));
        assert_eq!(lc["contents"]["en"]["description"], "Summary");
    }

    #[test]
    fn a_withdrawn_version_is_revoked_and_keeps_its_ids() {
        let c = content();
        let before = objects(&c, false);
        let after = objects(&c, true);
        for (a, b) in before.iter().zip(&after) {
            assert_eq!(a["id"], b["id"]);
            // The techniques are the frameworks' objects and artifacts are observables: a
            // withdrawal revokes neither.
            assert_eq!(
                b.get("revoked").is_some(),
                !matches!(b["type"].as_str(), Some("attack-pattern" | "artifact")),
                "{b}"
            );
            check(b).unwrap();
        }
    }

    #[test]
    fn a_picture_without_techniques_indicators_or_translations_still_refers_to_its_originator() {
        let mut c = content();
        c.disarm_techniques.clear();
        c.attack_techniques.clear();
        c.indicators.clear();
        c.attachments.clear();
        c.title.sv = None;
        c.title.en = None;
        c.summary.en = None;
        c.information_credibility = Credibility::C6;
        let objs = objects(&c, false);
        assert_eq!(objs.len(), 1);
        check(&objs[0]).unwrap();
        assert!(objs[0].get("confidence").is_none());
    }

    proptest::proptest! {
        /// Whatever files a version shows, each is one artifact with its own marking and
        /// hash that the report refers to, and the report refers to no other artifact.
        #[test]
        fn every_attachment_shown_is_one_artifact_of_the_report_and_no_other(
            files in proptest::collection::vec((0u128..8, 0usize..5, proptest::array::uniform32(0u8..), 0usize..3), 0..6)
        ) {
            let mut c = content();
            let template = c.attachments[0].clone();
            c.attachments.clear();
            for (id, tlp, hash, kind) in files {
                if c.attachments.iter().any(|a| a.id == Uuid::from_u128(id)) {
                    continue;
                }
                c.attachments.push(sitrep_types::Attachment {
                    id: Uuid::from_u128(id),
                    tlp: Tlp::ALL[tlp],
                    sha256: hash.iter().map(|b| format!("{b:02x}")).collect(),
                    media_type: ["image/png", "application/pdf", "text/csv"][kind].into(),
                    ..template.clone()
                });
            }
            let objs = objects(&c, false);
            let refs: Vec<&str> =
                objs[0]["object_refs"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
            let artifacts: Vec<&Value> = objs.iter().filter(|o| o["type"] == "artifact").collect();
            proptest::prop_assert_eq!(artifacts.len(), c.attachments.len());
            proptest::prop_assert_eq!(refs.iter().filter(|r| r.starts_with("artifact--")).count(), c.attachments.len());
            for a in &c.attachments {
                let id = ids::artifact(Uuid::from_u128(42), a.id, a.tlp);
                let o = artifacts.iter().find(|o| o["id"] == id.as_str());
                proptest::prop_assert!(o.is_some(), "no artifact for {}", a.id);
                let o = o.unwrap();
                proptest::prop_assert!(check(o).is_ok(), "{:?}: {}", check(o), o);
                proptest::prop_assert!(refs.contains(&id.as_str()));
                proptest::prop_assert_eq!(&o["object_marking_refs"], &json!([tlp::marking_id(a.tlp)]));
                proptest::prop_assert_eq!(&o["hashes"]["SHA-256"], &json!(a.sha256));
                proptest::prop_assert_eq!(&o["mime_type"], &json!(a.media_type));
            }
        }
    }

    #[test]
    fn admiralty_credibility_maps_to_the_stix_scale() {
        let got: Vec<Option<u8>> = Credibility::ALL.iter().map(|c| confidence(*c)).collect();
        assert_eq!(got, [Some(90), Some(70), Some(50), Some(30), Some(10), None]);
    }

    #[test]
    fn identities_and_markings_are_valid() {
        let o = identity(&Organisation {
            id: Uuid::from_u128(1),
            code: "ORG-A",
            name: "Organisation A",
            created: at("2027-01-01T00:00:00Z"),
            modified: at("2027-01-02T00:00:00Z"),
        });
        check(&o).unwrap();
        for t in Tlp::ALL {
            check(&tlp::marking_definition(*t)).unwrap();
        }
    }

    #[test]
    fn the_checker_refuses_what_stix_forbids() {
        let good = tlp::marking_definition(Tlp::Red);
        let broken = |f: &dyn Fn(&mut Value)| {
            let mut o = objects(&content(), false)[0].clone();
            f(&mut o);
            check(&o).is_err()
        };
        assert!(check(&good).is_ok());
        assert!(broken(&|o| o["id"] = json!("report--not-a-uuid")));
        assert!(broken(&|o| o["id"] = json!("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")));
        assert!(broken(&|o| o["modified"] = json!("2027-03-02T10:00:00Z")));
        assert!(broken(&|o| o["created"] = json!("2027-03-01T09:00:00.123+00:00")));
        assert!(broken(&|o| o["object_refs"] = json!([])));
        assert!(broken(&|o| o["object_refs"] = json!([tlp::marking_id(Tlp::Red)])));
        assert!(broken(&|o| o["spec_version"] = json!("2.0")));
        assert!(broken(&|o| o["confidence"] = json!(101)));
        let indicator = |f: &dyn Fn(&mut Value)| {
            let mut o = objects(&content(), false).into_iter().find(|o| o["type"] == "indicator").unwrap();
            assert!(check(&o).is_ok());
            f(&mut o);
            check(&o).is_err()
        };
        assert!(indicator(&|o| o["indicator_types"] = json!([])));
        let artifact = |f: &dyn Fn(&mut Value)| {
            let mut o = objects(&content(), false).into_iter().find(|o| o["type"] == "artifact").unwrap();
            assert!(check(&o).is_ok());
            f(&mut o);
            check(&o).is_err()
        };
        assert!(artifact(&|o| o["payload_bin"] = json!("aGVsbG8=")));
        assert!(artifact(&|o| o["hashes"] = json!({"SHA-256": "ABC"})));
        assert!(artifact(&|o| o["url"] = json!("/api/v1/pictures")));
        assert!(artifact(&|o| o["created"] = json!("2027-03-01T09:00:00.123Z")));
        assert!(indicator(&|o| {
            o.as_object_mut().unwrap().remove("description");
        }));
        assert!(broken(&|o| {
            o.as_object_mut().unwrap().remove("published");
        }));
    }
}
