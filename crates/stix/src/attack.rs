//! MITRE ATT&CK Enterprise techniques as MITRE's own STIX has them: a technique of the
//! pinned list (`sitrep_domain::picture::ATTACK_VERSION`) is exported under MITRE's id,
//! name, dates, `mitre-attack` external reference and kill-chain phases, created by The
//! MITRE Corporation under its copyright marking, so that a tool that already holds
//! ATT&CK links a picture to the technique it has.

use serde_json::{Value, json};
use sitrep_domain::picture::{AttackTechnique, attack_technique};

use crate::ids;

/// The kill chain and external-reference source name of ATT&CK's STIX.
pub const SOURCE_NAME: &str = "mitre-attack";
/// MITRE's `identity`, creator of every ATT&CK object.
pub const IDENTITY_ID: &str = "identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5";
/// MITRE's copyright `marking-definition` on every ATT&CK object.
pub const MARKING_ID: &str = "marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168";
/// `created` and `modified` of an ATT&CK id outside the pinned list (a picture stored
/// before the list was): the list's date.
const LIST_DATE: &str = "2025-11-13T00:00:00.000Z";

/// The MITRE Corporation as ATT&CK v18.1's `identity` object has it (its empty
/// description and custom `x_mitre_*` property left out), in STIX 2.1.
pub fn identity() -> Value {
    json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": IDENTITY_ID,
        "created": "2017-06-01T00:00:00.000Z",
        "modified": "2025-03-19T15:00:40.855Z",
        "name": "The MITRE Corporation",
        "identity_class": "organization",
        "object_marking_refs": [MARKING_ID],
    })
}

/// ATT&CK v18.1's copyright statement marking, in STIX 2.1.
pub fn marking() -> Value {
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": MARKING_ID,
        "created": "2017-06-01T00:00:00.000Z",
        "created_by_ref": IDENTITY_ID,
        "definition_type": "statement",
        "definition": {
            "statement": "Copyright 2015-2025, The MITRE Corporation. MITRE ATT&CK and ATT&CK are registered trademarks of The MITRE Corporation."
        },
    })
}

/// The `attack-pattern` id of an ATT&CK technique: MITRE's for one of the pinned list,
/// otherwise a UUIDv5 of the technique under Sitrep's namespace.
pub fn attack_pattern_id(technique: &str) -> String {
    attack_technique(technique).map_or_else(|| ids::technique(SOURCE_NAME, technique), |t| t.stix_id.to_owned())
}

/// The URL ATT&CK's STIX gives a technique (`T1566.002` → `…/techniques/T1566/002`).
fn url(technique: &str) -> String {
    format!("https://attack.mitre.org/techniques/{}", technique.replace('.', "/"))
}

/// The `attack-pattern` of an ATT&CK technique.
pub fn attack_pattern(technique: &str) -> Value {
    match attack_technique(technique) {
        Some(t) => pinned(&t),
        None => json!({
            "type": "attack-pattern",
            "spec_version": "2.1",
            "id": attack_pattern_id(technique),
            "created": LIST_DATE,
            "modified": LIST_DATE,
            "name": technique,
            "external_references": [{"source_name": SOURCE_NAME, "external_id": technique, "url": url(technique)}],
        }),
    }
}

fn pinned(t: &AttackTechnique) -> Value {
    json!({
        "type": "attack-pattern",
        "spec_version": "2.1",
        "id": t.stix_id,
        "created": t.created,
        "modified": t.modified,
        "created_by_ref": IDENTITY_ID,
        "name": t.name,
        "external_references": [{"source_name": SOURCE_NAME, "url": url(t.id), "external_id": t.id}],
        "kill_chain_phases": t.phases()
            .map(|p| json!({"kill_chain_name": SOURCE_NAME, "phase_name": p}))
            .collect::<Vec<_>>(),
        "object_marking_refs": [MARKING_ID],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_technique_is_mitres_object_with_its_id_reference_and_phases() {
        // As mitre/cti's enterprise-attack/attack-pattern/attack-pattern--0042a9f5-….json
        // has it at the pinned commit.
        let o = attack_pattern("T1055.011");
        assert_eq!(o["id"], "attack-pattern--0042a9f5-f053-4769-b3ef-9ad018dfa298");
        assert_eq!(o["name"], "Extra Window Memory Injection");
        assert_eq!(o["created"], "2020-01-14T17:18:32.126Z");
        assert_eq!(o["modified"], "2025-10-24T17:48:19.059Z");
        assert_eq!(
            o["external_references"],
            json!([{"source_name": "mitre-attack", "url": "https://attack.mitre.org/techniques/T1055/011", "external_id": "T1055.011"}])
        );
        assert_eq!(
            o["kill_chain_phases"],
            json!([
                {"kill_chain_name": "mitre-attack", "phase_name": "defense-evasion"},
                {"kill_chain_name": "mitre-attack", "phase_name": "privilege-escalation"}
            ])
        );
        assert_eq!(o["created_by_ref"], identity()["id"]);
        assert_eq!(o["object_marking_refs"], json!([marking()["id"]]));
        crate::check(&o).unwrap();
        assert_eq!(attack_pattern_id("T1055.011"), o["id"]);
        let top = attack_pattern("T1566");
        assert_eq!(top["external_references"][0]["url"], "https://attack.mitre.org/techniques/T1566");
        assert_eq!(
            top["kill_chain_phases"],
            json!([{"kill_chain_name": "mitre-attack", "phase_name": "initial-access"}])
        );
    }

    #[test]
    fn every_pinned_technique_maps_to_one_valid_object_of_its_own() {
        let mut seen = std::collections::HashSet::new();
        for t in sitrep_domain::picture::attack_techniques() {
            let o = attack_pattern(t.id);
            crate::check(&o).unwrap_or_else(|e| panic!("{e}: {o}"));
            assert!(seen.insert(o["id"].as_str().unwrap().to_owned()), "{}: one id per technique", t.id);
            assert_eq!(o["external_references"][0]["external_id"], t.id);
            assert!(!o["kill_chain_phases"].as_array().unwrap().is_empty(), "{}", t.id);
        }
        assert_eq!(seen.len(), 691);
        crate::check(&identity()).unwrap();
        crate::check(&marking()).unwrap();
    }

    #[test]
    fn an_id_outside_the_list_keeps_a_stable_sitrep_id_and_no_creator() {
        let o = attack_pattern("T1999.001");
        assert_eq!(o["id"], ids::technique("mitre-attack", "T1999.001"));
        assert_eq!(attack_pattern_id("T1999.001"), o["id"]);
        assert_ne!(attack_pattern_id("T1999.001"), attack_pattern_id("T1999.002"));
        assert!(o.get("created_by_ref").is_none() && o.get("kill_chain_phases").is_none());
        crate::check(&o).unwrap();
    }
}
