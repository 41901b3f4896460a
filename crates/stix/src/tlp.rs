//! The TLP 2.0 marking definitions of the OASIS extension, by their fixed ids
//! (oasis-open/cti-stix-common-objects, extension-definition-specifications/tlp-2.0).

use serde_json::{Value, json};
use sitrep_types::Tlp;

/// The OASIS TLP 2.0 property extension.
pub const EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";
/// Every TLP 2.0 marking definition was created at this instant.
pub const CREATED: &str = "2022-10-01T00:00:00.000Z";

/// The fixed id of the TLP 2.0 marking definition of `tlp`.
pub fn marking_id(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
}

/// The marking definition object of `tlp`.
pub fn marking_definition(tlp: Tlp) -> Value {
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id(tlp),
        "created": CREATED,
        "name": format!("TLP:{}", tlp.as_str()),
        "extensions": {
            EXTENSION: {"extension_type": "property-extension", "tlp_2_0": tlp.as_str().to_ascii_lowercase()}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amber_strict_has_the_oasis_shape() {
        let m = marking_definition(Tlp::AmberStrict);
        assert_eq!(m["id"], "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003");
        assert_eq!(m["name"], "TLP:AMBER+STRICT");
        assert_eq!(m["extensions"][EXTENSION]["tlp_2_0"], "amber+strict");
        assert!(m.get("definition_type").is_none());
    }
}
