//! DISARM and ATT&CK techniques as `attack-pattern`s the way other tools already hold
//! them. A DISARM technique that DISARM's own STIX bundle has is exported as that bundle's
//! object (its id, name, description, kill-chain phase, external reference, creator and
//! licence marking: `data/disarm_stix2.jsonl`); one the bundle predates is made the same
//! way from the pinned technique list, with a Sitrep id. ATT&CK techniques are MITRE's
//! own objects (`crate::attack`). Either way one technique has one id, whichever picture
//! cites it.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::ids;

/// Where DISARM's STIX objects come from.
pub const STIX_BUNDLE: &str = "DISARMFoundation/DISARM-STIX2 output/DISARM.json @837b212 (2023-09-15)";
/// The DISARM Red framework version of that bundle.
pub const STIX_BUNDLE_VERSION: &str = "DISARM Red framework 1.3";
/// `created` and `modified` of a technique the bundle predates: the date of the pinned
/// technique list.
pub const LIST_DATE: &str = "2025-02-10T00:00:00.000Z";
/// The kill chain DISARM's bundle names its tactics in (it reuses ATT&CK's, so that
/// tools built for ATT&CK show DISARM's matrix).
pub const KILL_CHAIN: &str = "mitre-attack";
/// The source name of DISARM's external references in its bundle (the same reason).
pub const SOURCE_NAME: &str = "mitre-attack";

const BUNDLE: &str = include_str!("../data/disarm_stix2.jsonl");

/// DISARM's tactics and the kill-chain phase names its bundle gives them.
pub const TACTICS: [(&str, &str); 16] = [
    ("TA01", "plan-strategy"),
    ("TA02", "plan-objectives"),
    ("TA05", "microtarget"),
    ("TA06", "develop-content"),
    ("TA07", "select-channels-and-affordances"),
    ("TA08", "conduct-pump-priming"),
    ("TA09", "deliver-content"),
    ("TA10", "drive-offline-activity"),
    ("TA11", "persist-in-the-information-environment"),
    ("TA12", "assess-effectiveness"),
    ("TA13", "target-audience-analysis"),
    ("TA14", "develop-narratives"),
    ("TA15", "establish-social-assets"),
    ("TA16", "establish-legitimacy"),
    ("TA17", "maximise-exposure"),
    ("TA18", "drive-online-harms"),
];

struct Bundle {
    identity: Value,
    marking: Value,
    techniques: HashMap<String, Value>,
}

fn bundle() -> &'static Bundle {
    static BUNDLE_OBJECTS: OnceLock<Bundle> = OnceLock::new();
    BUNDLE_OBJECTS.get_or_init(|| {
        let mut identity = Value::Null;
        let mut marking = Value::Null;
        let mut techniques = HashMap::new();
        for line in BUNDLE.lines().filter(|l| !l.trim().is_empty()) {
            // The file is compiled in and checked by the unit tests.
            let Ok(o) = serde_json::from_str::<Value>(line) else { continue };
            match o["type"].as_str() {
                Some("identity") => identity = o,
                Some("marking-definition") => marking = o,
                Some("attack-pattern") => {
                    if let Some(t) = o["external_references"][0]["external_id"].as_str() {
                        techniques.insert(t.to_owned(), o);
                    }
                }
                _ => {}
            }
        }
        Bundle { identity, marking, techniques }
    })
}

/// The DISARM Foundation `identity`, creator of DISARM's objects.
pub fn identity() -> &'static Value {
    &bundle().identity
}

/// DISARM's licence `marking-definition` (a statement: CC BY-SA 4.0).
pub fn marking() -> &'static Value {
    &bundle().marking
}

/// The kill-chain phase name of a DISARM tactic (`TA02` → `plan-objectives`).
pub fn phase(tactic: &str) -> Option<&'static str> {
    TACTICS.iter().find(|(t, _)| *t == tactic).map(|(_, p)| *p)
}

/// Whether DISARM's bundle has this technique (its id is then DISARM's).
pub fn in_bundle(technique: &str) -> bool {
    bundle().techniques.contains_key(technique)
}

/// The `attack-pattern` id of a technique: DISARM's (or MITRE's) own when its bundle (or
/// the pinned ATT&CK list) has it, otherwise a UUIDv5 of the technique under Sitrep's
/// namespace.
pub fn attack_pattern_id(technique: &str, disarm: bool) -> String {
    if !disarm {
        return crate::attack::attack_pattern_id(technique);
    }
    match bundle().techniques.get(technique) {
        Some(o) => o["id"].as_str().unwrap_or_default().to_owned(),
        None => ids::technique("disarm", technique),
    }
}

/// The `attack-pattern` of a DISARM technique (`disarm`) or an ATT&CK technique.
pub fn attack_pattern(technique: &str, disarm: bool) -> Value {
    if disarm {
        if let Some(o) = bundle().techniques.get(technique) {
            return o.clone();
        }
        let known = sitrep_domain::picture::disarm_technique(technique);
        let mut o = json!({
            "type": "attack-pattern",
            "spec_version": "2.1",
            "id": attack_pattern_id(technique, true),
            "created": LIST_DATE,
            "modified": LIST_DATE,
            "name": known.map_or(technique, |(name, _)| name),
            "external_references": [{
                "source_name": SOURCE_NAME,
                "external_id": technique,
                "url": format!(
                    "https://github.com/DISARMFoundation/DISARMframeworks/blob/main/generated_pages/techniques/{technique}.md"
                ),
            }],
            "object_marking_refs": [marking()["id"]],
        });
        if let Some(phase) = known.and_then(|(_, tactic)| phase(tactic)) {
            o["kill_chain_phases"] = json!([{"kill_chain_name": KILL_CHAIN, "phase_name": phase}]);
        }
        o
    } else {
        crate::attack::attack_pattern(technique)
    }
}

/// DISARM's identity, its marking and every technique of the pinned list, as exported,
/// and MITRE's identity and marking (which ATT&CK techniques refer to): what TAXII serves
/// by id, and carries in a page before what refers to it.
pub fn reference_objects() -> Vec<Value> {
    let mut out = vec![identity().clone(), marking().clone(), crate::attack::identity(), crate::attack::marking()];
    out.extend(sitrep_domain::picture::disarm_techniques().map(|(t, _, _)| attack_pattern(t, true)));
    out
}

/// The pinned DISARM and ATT&CK technique lists with how TAXII exports each technique.
pub fn techniques() -> sitrep_types::Techniques {
    sitrep_types::Techniques {
        disarm_version: sitrep_domain::picture::DISARM_VERSION.to_owned(),
        disarm_stix_bundle: STIX_BUNDLE.to_owned(),
        disarm_stix_bundle_version: STIX_BUNDLE_VERSION.to_owned(),
        techniques: sitrep_domain::picture::disarm_techniques()
            .map(|(id, name, tactic)| sitrep_types::Technique {
                id: id.to_owned(),
                name: name.to_owned(),
                tactic: tactic.to_owned(),
                phase: phase(tactic).unwrap_or_default().to_owned(),
                stix_id: attack_pattern_id(id, true),
                in_stix_bundle: in_bundle(id),
            })
            .collect(),
        attack_version: sitrep_domain::picture::ATTACK_VERSION.to_owned(),
        attack_techniques: sitrep_domain::picture::attack_techniques()
            .map(|t| sitrep_types::AttackTechnique {
                id: t.id.to_owned(),
                name: t.name.to_owned(),
                phases: t.phases().map(str::to_owned).collect(),
                stix_id: t.stix_id.to_owned(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_technique_of_disarms_bundle_is_that_bundles_object() {
        let o = attack_pattern("T0002", true);
        assert_eq!(o["id"], "attack-pattern--70717452-f7e3-4ce8-956f-39a4d34c5cfb");
        assert_eq!(o["name"], "Facilitate State Propaganda");
        assert_eq!(
            o["kill_chain_phases"],
            json!([{"kill_chain_name": "mitre-attack", "phase_name": "plan-objectives"}])
        );
        assert_eq!(o["external_references"][0]["source_name"], "mitre-attack");
        assert_eq!(o["external_references"][0]["external_id"], "T0002");
        assert_eq!(o["created_by_ref"], identity()["id"]);
        assert_eq!(o["object_marking_refs"], json!([marking()["id"]]));
        assert!(o.as_object().unwrap().keys().all(|k| !k.starts_with("x_")));
        crate::check(&o).unwrap();
        assert_eq!(attack_pattern_id("T0101", true), "attack-pattern--11352e9a-a52b-4ade-ad4f-ec64a15fa1d5");
    }

    #[test]
    fn every_pinned_technique_has_one_valid_attack_pattern_with_a_kill_chain_phase() {
        let objects = reference_objects();
        for o in &objects {
            crate::check(o).unwrap_or_else(|e| panic!("{e}: {o}"));
        }
        let mut seen = std::collections::HashSet::new();
        for (t, _, tactic) in sitrep_domain::picture::disarm_techniques() {
            let o = attack_pattern(t, true);
            assert!(seen.insert(o["id"].as_str().unwrap().to_owned()), "{t}: one id per technique");
            assert_eq!(o["id"], attack_pattern_id(t, true));
            let phase_name = o["kill_chain_phases"][0]["phase_name"].as_str().unwrap_or_else(|| panic!("{t}"));
            if !in_bundle(t) {
                assert_eq!(Some(phase_name), phase(tactic), "{t}");
            }
        }
        assert!(seen.len() > 300);
        assert_eq!(bundle().techniques.len(), 294);
    }

    #[test]
    fn a_technique_the_bundle_predates_gets_a_stable_sitrep_id_and_attack_techniques_mitres() {
        let t = sitrep_domain::picture::disarm_techniques().map(|(t, _, _)| t).find(|t| !in_bundle(t)).unwrap();
        let o = attack_pattern(t, true);
        assert_eq!(o["id"], ids::technique("disarm", t));
        assert_eq!(o["external_references"][0]["external_id"], t);
        crate::check(&o).unwrap();
        let a = attack_pattern("T1566.002", false);
        assert_eq!(a["id"], attack_pattern_id("T1566.002", false));
        assert_eq!(a["id"], "attack-pattern--2b742742-28c3-4e1b-bab7-8350d6300fa7");
        assert_ne!(a["id"], attack_pattern_id("T1566.001", false));
        assert_eq!(a["external_references"][0]["url"], "https://attack.mitre.org/techniques/T1566/002");
        crate::check(&a).unwrap();
    }
}
