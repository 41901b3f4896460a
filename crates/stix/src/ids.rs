//! Deterministic STIX identifiers (UUIDv5 under Sitrep's namespace) and the two timestamp
//! formats: STIX (millisecond precision) and TAXII (microsecond precision), both UTC `Z`.

use chrono::{DateTime, Utc};
use sha1::{Digest, Sha1};
use sitrep_types::{Tier, Tlp};
use uuid::Uuid;

/// Sitrep's UUIDv5 namespace for STIX ids. Never change it: ids of every exported
/// object would change with it.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x5a1c_7e9f_3b2d_4c8a_9e61_0d4f_2b7a_c913);

/// A name-based UUID, version 5 (RFC 9562 §5.5): SHA-1 of the namespace and the name.
/// (`uuid`'s own `v5` feature would add the `sha1_smol` crate; `sha1` is already here.)
pub fn uuid5(namespace: Uuid, name: &str) -> Uuid {
    let mut hasher = Sha1::new();
    hasher.update(namespace.as_bytes());
    hasher.update(name.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

fn id(kind: &str, name: &str) -> String {
    format!("{kind}--{}", uuid5(NAMESPACE, &format!("{kind}:{name}")))
}

/// The `report` of a picture: one id for all its revisions.
pub fn report(picture: Uuid) -> String {
    id("report", &picture.to_string())
}

/// The `language-content` carrying a picture's translations.
pub fn language_content(picture: Uuid) -> String {
    id("language-content", &picture.to_string())
}

/// Sitrep's `attack-pattern` id of a technique of a framework (`disarm`,
/// `mitre-attack`), for techniques whose framework's own STIX gives none
/// (`crate::disarm::attack_pattern_id`).
pub fn technique(framework: &str, technique: &str) -> String {
    id("attack-pattern", &format!("{framework}:{technique}"))
}

/// The `indicator` of one indicator value of a picture.
pub fn indicator(picture: Uuid, kind: &str, value: &str) -> String {
    id("indicator", &format!("{picture}:{kind}:{value}"))
}

/// The `artifact` of one attachment of a picture at one TLP. An artifact has no versions
/// in STIX, so a file whose TLP changed is another object: a client never gets the file
/// under an older, looser marking when it asks for the current one.
pub fn artifact(picture: Uuid, attachment: Uuid, tlp: Tlp) -> String {
    id("artifact", &format!("{picture}:{attachment}:{}", tlp.as_str()))
}

/// The `identity` of an organisation.
pub fn identity(organisation: Uuid) -> String {
    id("identity", &organisation.to_string())
}

/// The TAXII collection of a tier (the same in every deployment).
pub fn collection(tier: Tier) -> Uuid {
    uuid5(NAMESPACE, &format!("taxii-collection:{}", tier.as_str()))
}

/// The TAXII inbox collection of an organisation.
pub fn inbox(organisation: Uuid) -> Uuid {
    uuid5(NAMESPACE, &format!("taxii-inbox:{organisation}"))
}

/// STIX timestamp: RFC 3339, UTC, millisecond precision (`2027-03-01T12:00:00.123Z`).
pub fn stix_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// TAXII timestamp: RFC 3339, UTC, microsecond precision (`2027-03-01T12:00:00.123456Z`).
pub fn taxii_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses a TAXII or STIX timestamp (RFC 3339; any precision; `Z` or an offset).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid5_matches_the_rfc_example() {
        // RFC 9562 Appendix A.4: "www.example.com" in the DNS namespace.
        let dns = Uuid::from_u128(0x6ba7b810_9dad_11d1_80b4_00c04fd430c8);
        assert_eq!(uuid5(dns, "www.example.com").to_string(), "2ed6657d-e927-568b-95e1-2665a8aea6a2");
    }

    #[test]
    fn ids_are_stable_typed_and_distinct() {
        let p = Uuid::from_u128(7);
        assert_eq!(report(p), report(p));
        assert!(report(p).starts_with("report--"));
        let u = Uuid::parse_str(report(p).trim_start_matches("report--")).unwrap();
        assert_eq!(u.get_version_num(), 5);
        assert_ne!(report(p), report(Uuid::from_u128(8)));
        assert_ne!(technique("disarm", "T0101"), technique("disarm", "T0102"));
        assert_ne!(technique("disarm", "T0101"), technique("mitre-attack", "T0101"));
        assert_ne!(collection(Tier::Group), collection(Tier::GroupVirt));
    }

    #[test]
    fn timestamps_have_their_precision_and_zulu() {
        let t = DateTime::parse_from_rfc3339("2027-03-01T12:00:00.123456789+02:00").unwrap().with_timezone(&Utc);
        assert_eq!(stix_time(t), "2027-03-01T10:00:00.123Z");
        assert_eq!(taxii_time(t), "2027-03-01T10:00:00.123456Z");
        let whole = DateTime::parse_from_rfc3339("2027-03-01T12:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(stix_time(whole), "2027-03-01T12:00:00.000Z");
        assert_eq!(parse_time("2027-03-01T10:00:00.123456Z"), Some(t.with_nanosecond_micro()));
    }

    trait Micro {
        fn with_nanosecond_micro(self) -> Self;
    }
    impl Micro for DateTime<Utc> {
        fn with_nanosecond_micro(self) -> Self {
            DateTime::from_timestamp_micros(self.timestamp_micros()).unwrap()
        }
    }
}
