//! Checking a picture's content against its rules (docs/pictures.md, "Model"): field limits, the tier/TLP
//! table, consents, languages, classification, and the pinned DISARM list. A rule
//! broken is a field error whose `code` names the rule.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use sitrep_types::{
    Attachment, Classification, Domain, GeoScope, Impact, Lang, LocalizedText, PictureContent, Severity, Tier, Tlp,
};

use crate::validation::{FieldErrors, Invalid, check_text};
use crate::visibility::{tier_rank, tlp_rank};

/// Codes of the sharing rules; a `422` breaking one carries it as its `code`.
pub const RULES: &[&str] = &[
    "tier_tlp_mismatch",
    "consent_missing",
    "language_missing",
    "classification_not_allowed",
    "community_required",
    "indicator_tlp_looser",
    "attachment_tlp_looser",
    "secrecy_basis_required",
    "named_recipients_mismatch",
    "severity_reason_required",
];

/// The pinned DISARM Red framework technique list (DISARMFoundation/DISARMframeworks,
/// commit 49df5f6).
pub const DISARM_VERSION: &str = "DISARM Red framework @49df5f6 (2025-02-10)";
const DISARM_LIST: &str = include_str!("../data/disarm_techniques.txt");

fn disarm_ids() -> &'static HashSet<&'static str> {
    static IDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    IDS.get_or_init(|| {
        DISARM_LIST
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split('|').next())
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .collect()
    })
}

/// The name of a DISARM technique in the pinned list.
pub fn disarm_name(id: &str) -> Option<&'static str> {
    DISARM_LIST.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let mut parts = l.split('|').map(str::trim);
        (parts.next() == Some(id)).then(|| parts.next()).flatten()
    })
}

/// A DISARM technique of the pinned list: its name and tactic (`TA02`).
pub fn disarm_technique(id: &str) -> Option<(&'static str, &'static str)> {
    disarm_techniques().find(|(t, _, _)| *t == id).map(|(_, name, tactic)| (name, tactic))
}

/// Every technique of the pinned DISARM list: id, name, tactic.
pub fn disarm_techniques() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    DISARM_LIST.lines().filter(|l| !l.starts_with('#')).filter_map(|l| {
        let mut parts = l.split('|').map(str::trim);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(id), Some(name), Some(tactic)) if !id.is_empty() => Some((id, name, tactic)),
            _ => None,
        }
    })
}

/// The pinned MITRE ATT&CK Enterprise technique list (mitre/cti, commit 421deac): its
/// active techniques and sub-techniques with the ids, phases and dates of MITRE's STIX.
pub const ATTACK_VERSION: &str = "MITRE ATT&CK Enterprise v18.1 (mitre/cti @421deac, 2025-11-13)";
const ATTACK_LIST: &str = include_str!("../data/attack_techniques.tsv");

/// One technique of the pinned ATT&CK list, as MITRE's own STIX object has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttackTechnique {
    /// `T1566`, `T1566.002`.
    pub id: &'static str,
    pub name: &'static str,
    /// Its kill-chain phases (ATT&CK tactics) in MITRE's order, comma-separated.
    phases: &'static str,
    /// The id of MITRE's `attack-pattern`.
    pub stix_id: &'static str,
    pub created: &'static str,
    pub modified: &'static str,
}

impl AttackTechnique {
    /// The kill-chain phase names (`initial-access`) of the `mitre-attack` kill chain.
    pub fn phases(&self) -> impl Iterator<Item = &'static str> {
        self.phases.split(',').filter(|p| !p.is_empty())
    }

    fn parse(line: &'static str) -> Option<Self> {
        let mut f = line.split('\t');
        let t = AttackTechnique {
            id: f.next()?,
            name: f.next()?,
            phases: f.next()?,
            stix_id: f.next()?,
            created: f.next()?,
            modified: f.next()?,
        };
        (f.next().is_none() && !t.id.is_empty()).then_some(t)
    }
}

/// Every technique of the pinned ATT&CK list, in id order.
pub fn attack_techniques() -> impl Iterator<Item = AttackTechnique> {
    ATTACK_LIST.lines().filter(|l| !l.starts_with('#')).filter_map(AttackTechnique::parse)
}

/// A technique of the pinned ATT&CK list.
pub fn attack_technique(id: &str) -> Option<AttackTechnique> {
    static BY_ID: OnceLock<HashMap<&'static str, AttackTechnique>> = OnceLock::new();
    BY_ID.get_or_init(|| attack_techniques().map(|t| (t.id, t)).collect()).get(id).copied()
}

/// `T` + four digits, optionally `.` + three digits (DISARM and ATT&CK share the shape).
fn technique_shape(id: &str) -> bool {
    let b = id.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => b[0] == b'T' && digits(&b[1..5]),
        9 => b[0] == b'T' && digits(&b[1..5]) && b[5] == b'.' && digits(&b[6..9]),
        _ => false,
    }
}

/// Severity from the larger impact: none/minor → low, moderate → medium,
/// significant → high, severe → critical; `unknown` counts as moderate.
pub fn derived_severity(a: Impact, b: Impact) -> Severity {
    let rank = |i: Impact| match i {
        Impact::None => 0,
        Impact::Minor => 1,
        Impact::Moderate | Impact::Unknown => 2,
        Impact::Significant => 3,
        Impact::Severe => 4,
    };
    match rank(a).max(rank(b)) {
        0 | 1 => Severity::Low,
        2 => Severity::Medium,
        3 => Severity::High,
        _ => Severity::Critical,
    }
}

/// The TLPs a tier allows (docs/pictures.md, `tier_tlp_mismatch`).
pub fn tlp_allowed(tier: Tier, tlp: Tlp) -> bool {
    match tier {
        Tier::Named => matches!(tlp, Tlp::Red | Tlp::AmberStrict),
        Tier::Group | Tier::GroupVirt => !matches!(tlp, Tlp::Red),
        Tier::GroupVirtRas => matches!(tlp, Tlp::Amber | Tlp::Green | Tlp::Clear),
        Tier::Public => tlp == Tlp::Clear,
    }
}

pub(crate) fn text_in(t: &LocalizedText, lang: Lang) -> Option<&str> {
    match lang {
        Lang::Fi => t.fi.as_deref(),
        Lang::Sv => t.sv.as_deref(),
        Lang::En => t.en.as_deref(),
    }
}

pub(crate) fn check_localized(errors: &mut FieldErrors, field: &str, t: &LocalizedText, max: usize, multiline: bool) {
    for lang in Lang::ALL {
        if let Some(v) = text_in(t, *lang) {
            errors.take(check_text(&format!("{field}.{}", lang.as_str()), v, 1, max, multiline));
        }
    }
}

fn has_texts(c: &PictureContent, lang: Lang) -> bool {
    text_in(&c.title, lang).is_some() && text_in(&c.summary, lang).is_some()
}

fn geo_code_ok(code: &str) -> bool {
    let num = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = code.strip_prefix("FI-VP-") {
        return num(rest, 2) && matches!(rest.parse::<u8>(), Ok(1..=13));
    }
    if let Some(rest) = code.strip_prefix("FI-KU-") {
        return num(rest, 3);
    }
    if let Some(rest) = code.strip_prefix("FI-MK-").or_else(|| code.strip_prefix("FI-HVA-")) {
        return num(rest, 2);
    }
    code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// Deployment facts the rules depend on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deployment {
    /// Accredited to hold `TL_IV` material.
    pub tl_iv_accredited: bool,
}

/// Content that passed every rule; the only way to build one is `CheckedContent::check`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedContent {
    content: PictureContent,
    severity: Severity,
}

impl CheckedContent {
    pub fn content(&self) -> &PictureContent {
        &self.content
    }

    pub fn into_content(self) -> PictureContent {
        self.content
    }

    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// Checks every field and rule, reporting all failures at once.
    pub fn check(c: PictureContent, deployment: Deployment) -> Result<CheckedContent, FieldErrors> {
        let mut e = FieldErrors::default();

        // Domains.
        if !c.domains.contains(&c.primary_domain) {
            e.push(Invalid::new("domains", "missing_primary_domain", "must contain primary_domain"));
        }
        if c.domains.iter().collect::<HashSet<_>>().len() != c.domains.len() {
            e.push(Invalid::new("domains", "duplicate", "lists a domain twice"));
        }

        // Texts.
        check_localized(&mut e, "title", &c.title, 140, false);
        check_localized(&mut e, "summary", &c.summary, 1000, true);
        if let Some(d) = &c.details {
            check_localized(&mut e, "details", d, 20_000, true);
        }
        if !has_texts(&c, c.original_lang) {
            e.push(Invalid::new(
                "original_lang",
                "language_missing",
                "title and summary must exist in the original language",
            ));
        }

        // Severity.
        let severity = match &c.severity_override {
            Some(o) => {
                if o.reason.trim().is_empty() {
                    e.push(Invalid::new(
                        "severity_override.reason",
                        "severity_reason_required",
                        "an override needs a reason",
                    ));
                } else {
                    e.take(check_text("severity_override.reason", &o.reason, 1, 500, true));
                }
                o.severity
            }
            None => derived_severity(c.impact_on_conduct, c.impact_on_public_confidence),
        };

        // Election.
        match (c.election_id, c.election_phase) {
            (Some(_), None) => e.push(Invalid::new("election_phase", "required", "required when election_id is set")),
            (None, Some(_)) => e.push(Invalid::new("election_id", "required", "required when election_phase is set")),
            _ => {}
        }

        // Geography and targets.
        if c.geo_scope != GeoScope::National && c.geo_codes.is_empty() {
            e.push(Invalid::new("geo_codes", "required", "required unless geo_scope is national"));
        }
        if c.geo_codes.len() > 50 {
            e.push(Invalid::new("geo_codes", "too_many", "at most 50"));
        }
        for (i, code) in c.geo_codes.iter().enumerate() {
            if !geo_code_ok(code) {
                e.push(Invalid::new(format!("geo_codes[{i}]"), "invalid_value", "not a known geo code form"));
            }
        }
        if c.targets.is_empty() {
            e.push(Invalid::new("targets", "required", "needs at least one target"));
        }

        // Techniques.
        if c.domains.contains(&Domain::InformationInfluence) && c.disarm_techniques.is_empty() {
            e.push(Invalid::new("disarm_techniques", "required", "needed for information influence"));
        }
        if c.disarm_techniques.len() > 100 || c.attack_techniques.len() > 100 {
            e.push(Invalid::new("disarm_techniques", "too_many", "at most 100 techniques each"));
        }
        for (i, id) in c.disarm_techniques.iter().enumerate() {
            if !technique_shape(id) {
                e.push(Invalid::new(format!("disarm_techniques[{i}]"), "invalid_value", "not a DISARM technique id"));
            } else if !disarm_ids().contains(id.as_str()) {
                e.push(Invalid::new(
                    format!("disarm_techniques[{i}]"),
                    "unknown_technique",
                    format!("not in the pinned list ({DISARM_VERSION})"),
                ));
            }
        }
        if !c.attack_techniques.is_empty() && !c.domains.contains(&Domain::Cyber) {
            e.push(Invalid::new("attack_techniques", "cyber_only", "ATT&CK ids belong to the cyber domain"));
        }
        for (i, id) in c.attack_techniques.iter().enumerate() {
            if !technique_shape(id) {
                e.push(Invalid::new(format!("attack_techniques[{i}]"), "invalid_value", "not an ATT&CK technique id"));
            } else if attack_technique(id).is_none() {
                e.push(Invalid::new(
                    format!("attack_techniques[{i}]"),
                    "unknown_technique",
                    format!("{id} is not a technique of the pinned ATT&CK list ({ATTACK_VERSION})"),
                ));
            }
        }

        // Attachments: what may change in a revision (the facts of the file itself are
        // checked against the upload by the server).
        if c.attachments.len() > 200 {
            e.push(Invalid::new("attachments", "too_many", "at most 200"));
        }
        for (i, a) in c.attachments.iter().enumerate() {
            if c.attachments[..i].iter().any(|b| b.id == a.id) {
                e.push(Invalid::new(format!("attachments[{i}].id"), "duplicate", "lists an attachment twice"));
            }
            if tlp_rank(a.tlp) < tlp_rank(c.tlp) {
                e.push(Invalid::new(
                    format!("attachments[{i}].tlp"),
                    "attachment_tlp_looser",
                    "an attachment's TLP is the picture's or stricter",
                ));
            }
            check_localized(&mut e, &format!("attachments[{i}].description"), &a.description, 1000, true);
        }

        // Indicators, sources, actions, relations.
        if c.indicators.len() > 500 {
            e.push(Invalid::new("indicators", "too_many", "at most 500"));
        }
        for (i, ind) in c.indicators.iter().enumerate() {
            e.take(check_text(&format!("indicators[{i}].value"), &ind.value, 1, 2048, false));
            if tlp_rank(ind.tlp) < tlp_rank(c.tlp) {
                e.push(Invalid::new(
                    format!("indicators[{i}].tlp"),
                    "indicator_tlp_looser",
                    "an indicator's TLP is the picture's or stricter",
                ));
            }
        }
        if c.sources.is_empty() {
            e.push(Invalid::new("sources", "required", "needs at least one source"));
        }
        if c.sources.len() > 50 {
            e.push(Invalid::new("sources", "too_many", "at most 50"));
        }
        for (i, s) in c.sources.iter().enumerate() {
            e.take(check_text(&format!("sources[{i}].description"), &s.description, 1, 500, true));
            if let Some(url) = &s.url {
                let ok = (url.starts_with("https://") || url.starts_with("http://")) && url.len() <= 2048;
                if !ok || check_text("url", url, 1, 2048, false).is_err() {
                    e.push(Invalid::new(format!("sources[{i}].url"), "invalid_value", "an http(s) URL"));
                }
            }
        }
        if c.recommended_actions.len() > 50 {
            e.push(Invalid::new("recommended_actions", "too_many", "at most 50"));
        }
        for (i, a) in c.recommended_actions.iter().enumerate() {
            let field = format!("recommended_actions[{i}].text");
            if a.text.fi.is_none() && a.text.sv.is_none() && a.text.en.is_none() {
                e.push(Invalid::new(field.clone(), "required", "needs a text"));
            }
            check_localized(&mut e, &field, &a.text, 2000, true);
        }
        if c.related.len() > 20 {
            e.push(Invalid::new("related", "too_many", "at most 20"));
        }

        // Handling: the tier's TLPs, consents, languages, classification.
        if !tlp_allowed(c.tier, c.tlp) {
            e.push(Invalid::new(
                "tlp",
                "tier_tlp_mismatch",
                format!("tier {} does not allow TLP:{}", c.tier.as_str(), c.tlp.as_str()),
            ));
        }
        match (c.tlp, &c.tlp_community) {
            (Tlp::Green, None) => {
                e.push(Invalid::new("tlp_community", "community_required", "GREEN needs a community"))
            }
            (Tlp::Green, Some(code)) => {
                e.take(check_text("tlp_community", code, 1, 64, false));
            }
            (_, Some(_)) => e.push(Invalid::new("tlp_community", "not_allowed", "only GREEN names a community")),
            _ => {}
        }
        match c.tier {
            Tier::Named if c.named_recipients.is_empty() => e.push(Invalid::new(
                "named_recipients",
                "named_recipients_mismatch",
                "a named picture needs at least one recipient",
            )),
            Tier::Named if c.named_recipients.len() > 100 => {
                e.push(Invalid::new("named_recipients", "too_many", "at most 100"))
            }
            Tier::Named => {}
            _ if !c.named_recipients.is_empty() => e.push(Invalid::new(
                "named_recipients",
                "named_recipients_mismatch",
                "only a named picture has named recipients",
            )),
            _ => {}
        }
        match c.classification {
            Classification::TlIii | Classification::TlIi | Classification::TlI => e.push(Invalid::new(
                "classification",
                "classification_not_allowed",
                "TL III–TL I material is never stored in Sitrep",
            )),
            Classification::TlIv if !deployment.tl_iv_accredited => e.push(Invalid::new(
                "classification",
                "classification_not_allowed",
                "this deployment is not accredited for TL IV",
            )),
            Classification::TlIv if tier_rank(c.tier) > tier_rank(Tier::GroupVirt) => e.push(Invalid::new(
                "classification",
                "classification_not_allowed",
                "TL IV never goes beyond group_virt",
            )),
            _ => {}
        }
        if c.classification != Classification::UnclassifiedPublic {
            match &c.secrecy_basis {
                Some(b) => {
                    e.take(check_text("secrecy_basis", b, 1, 200, false));
                }
                None => {
                    e.push(Invalid::new("secrecy_basis", "secrecy_basis_required", "secret material states its basis"))
                }
            }
        }
        let rank = tier_rank(c.tier);
        if rank >= tier_rank(Tier::GroupVirt) && !c.originator_consents.virt {
            e.push(Invalid::new(
                "originator_consents.virt",
                "consent_missing",
                "sharing with Election-VIRT needs consent",
            ));
        }
        if rank >= tier_rank(Tier::GroupVirtRas) {
            if !c.originator_consents.ras {
                e.push(Invalid::new(
                    "originator_consents.ras",
                    "consent_missing",
                    "sharing with the RAS needs consent",
                ));
            }
            if !has_texts(&c, Lang::En) {
                e.push(Invalid::new("title.en", "language_missing", "the RAS tier needs an English title and summary"));
            }
        }
        if c.tier == Tier::Public {
            if !c.originator_consents.public {
                e.push(Invalid::new("originator_consents.public", "consent_missing", "public release needs consent"));
            }
            for lang in [Lang::Fi, Lang::Sv] {
                if !has_texts(&c, lang) {
                    e.push(Invalid::new(
                        format!("title.{}", lang.as_str()),
                        "language_missing",
                        "a public picture needs Finnish and Swedish title and summary",
                    ));
                }
            }
            if c.classification != Classification::UnclassifiedPublic {
                e.push(Invalid::new(
                    "classification",
                    "classification_not_allowed",
                    "a public picture is unclassified_public",
                ));
            }
        }
        if let (Some(from), Some(until)) = (c.valid_from, c.valid_until)
            && until <= from
        {
            e.push(Invalid::new("valid_until", "before_valid_from", "must be after valid_from"));
        }

        e.finish()?;
        Ok(CheckedContent { content: c, severity })
    }
}

/// Whether moving from `old` to `new` widens the audience or loosens the TLP — the
/// changes that need four eyes once a picture is published.
pub fn widens(old: &PictureContent, new: &PictureContent) -> bool {
    let tier_up = tier_rank(new.tier) > tier_rank(old.tier);
    let tlp_looser = tlp_rank(new.tlp) < tlp_rank(old.tlp);
    let more_named = new.named_recipients.iter().any(|r| !old.named_recipients.contains(r));
    tier_up || tlp_looser || more_named
}

/// Whether `new` differs from `old` only by narrower handling — a smaller or equal tier,
/// an equal or stricter TLP, fewer named recipients, and indicators that are old ones
/// (possibly with a stricter TLP) — so that it may take effect at once, without review.
/// Any other change, including new indicator content or another GREEN community, is not.
pub fn only_narrows(old: &PictureContent, new: &PictureContent) -> bool {
    let mut same = new.clone();
    same.tier = old.tier;
    same.tlp = old.tlp;
    same.tlp_community.clone_from(&old.tlp_community);
    same.named_recipients.clone_from(&old.named_recipients);
    same.indicators.clone_from(&old.indicators);
    same.attachments.clone_from(&old.attachments);
    if same != *old || widens(old, new) {
        return false;
    }
    if new.tlp == old.tlp && new.tlp_community != old.tlp_community {
        return false;
    }
    new.indicators.iter().all(|n| {
        old.indicators.iter().any(|o| {
            o.type_ == n.type_
                && o.value == n.value
                && o.platform == n.platform
                && o.first_seen == n.first_seen
                && o.last_seen == n.last_seen
                && tlp_rank(n.tlp) >= tlp_rank(o.tlp)
        })
    }) && new.attachments.iter().all(|n| {
        old.attachments
            .iter()
            .any(|o| Attachment { tlp: o.tlp, ..n.clone() } == *o && tlp_rank(n.tlp) >= tlp_rank(o.tlp))
    })
}

/// Whether a tier needs an approver who is not the author to publish at it.
pub fn needs_four_eyes(tier: Tier) -> bool {
    tier_rank(tier) >= tier_rank(Tier::GroupVirtRas)
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use sitrep_types::*;

    /// A valid group/AMBER information-influence picture to vary in tests.
    pub fn sample() -> PictureContent {
        serde_json::from_value(serde_json::json!({
            "kind": "alert",
            "primary_domain": "information_influence",
            "domains": ["information_influence"],
            "original_lang": "fi",
            "title": {"fi": "Harhaanjohtava väite", "sv": "Vilseledande påstående", "en": "False claim"},
            "summary": {"fi": "Tiivistelmä", "sv": "Sammanfattning", "en": "Summary"},
            "impact_on_conduct": "moderate",
            "impact_on_public_confidence": "significant",
            "urgency": "priority",
            "source_reliability": "B",
            "information_credibility": "2",
            "geo_scope": "national",
            "targets": ["voters_general"],
            "actor_type_suspected": "unknown",
            "attribution_confidence": "none",
            "disarm_techniques": ["T0097.206", "T0101"],
            "sources": [{"source_type": "own_monitoring", "description": "Monitoring", "reliability": "B", "credibility": "2"}],
            "tlp": "AMBER",
            "tier": "group",
            "classification": "unclassified_secret",
            "secrecy_basis": "JulkL 24 § 1 mom 7 k"
        }))
        .unwrap()
    }

    fn codes(c: PictureContent) -> Vec<&'static str> {
        match CheckedContent::check(c, Deployment::default()) {
            Ok(_) => vec![],
            Err(e) => e.0.into_iter().map(|i| i.code).collect(),
        }
    }

    #[test]
    fn the_sample_is_valid_and_severity_follows_the_larger_impact() {
        let checked = CheckedContent::check(sample(), Deployment::default()).unwrap();
        assert_eq!(checked.severity(), Severity::High);
        assert_eq!(derived_severity(Impact::None, Impact::Minor), Severity::Low);
        assert_eq!(derived_severity(Impact::Severe, Impact::None), Severity::Critical);
    }

    #[test]
    fn every_cell_of_the_tier_tlp_table() {
        let allowed = [
            (Tier::Named, vec![Tlp::Red, Tlp::AmberStrict]),
            (Tier::Group, vec![Tlp::AmberStrict, Tlp::Amber, Tlp::Green, Tlp::Clear]),
            (Tier::GroupVirt, vec![Tlp::AmberStrict, Tlp::Amber, Tlp::Green, Tlp::Clear]),
            (Tier::GroupVirtRas, vec![Tlp::Amber, Tlp::Green, Tlp::Clear]),
            (Tier::Public, vec![Tlp::Clear]),
        ];
        for (tier, ok) in allowed {
            for tlp in Tlp::ALL {
                assert_eq!(tlp_allowed(tier, *tlp), ok.contains(tlp), "{tier:?}/{tlp:?}");
            }
        }
        let mut c = sample();
        c.tlp = Tlp::Red;
        assert!(codes(c).contains(&"tier_tlp_mismatch"));
    }

    #[test]
    fn wider_tiers_need_consents_languages_and_classification() {
        let mut c = sample();
        c.tier = Tier::GroupVirt;
        assert_eq!(codes(c.clone()), ["consent_missing"]);
        c.originator_consents.virt = true;
        assert!(codes(c.clone()).is_empty());
        c.tier = Tier::GroupVirtRas;
        c.title.en = None;
        assert_eq!(codes(c.clone()), ["consent_missing", "language_missing"]);
        c.originator_consents.ras = true;
        c.title.en = Some("False claim".into());
        assert!(codes(c.clone()).is_empty());
        c.tier = Tier::Public;
        c.tlp = Tlp::Clear;
        c.originator_consents.public = true;
        assert_eq!(codes(c.clone()), ["classification_not_allowed"]);
        c.classification = Classification::UnclassifiedPublic;
        c.secrecy_basis = None;
        assert!(codes(c.clone()).is_empty());
        c.summary.sv = None;
        assert_eq!(codes(c), ["language_missing"]);
    }

    #[test]
    fn classification_rules() {
        let mut c = sample();
        c.classification = Classification::TlIii;
        assert_eq!(codes(c.clone()), ["classification_not_allowed"]);
        c.classification = Classification::TlIv;
        assert_eq!(codes(c.clone()), ["classification_not_allowed"]);
        let accredited = Deployment { tl_iv_accredited: true };
        assert!(CheckedContent::check(c.clone(), accredited).is_ok());
        c.tier = Tier::GroupVirtRas;
        c.originator_consents = Consents { virt: true, ras: true, ..Default::default() };
        assert!(CheckedContent::check(c, accredited).is_err());
        let mut c = sample();
        c.secrecy_basis = None;
        assert_eq!(codes(c), ["secrecy_basis_required"]);
    }

    #[test]
    fn green_needs_a_community_and_named_needs_recipients() {
        let mut c = sample();
        c.tlp = Tlp::Green;
        assert_eq!(codes(c.clone()), ["community_required"]);
        c.tlp_community = Some("FI-ELECSEC".into());
        assert!(codes(c).is_empty());
        let mut c = sample();
        c.tier = Tier::Named;
        c.tlp = Tlp::Red;
        assert_eq!(codes(c.clone()), ["named_recipients_mismatch"]);
        c.named_recipients = vec![uuid::Uuid::nil()];
        assert!(codes(c).is_empty());
    }

    #[test]
    fn disarm_ids_are_checked_for_shape_and_against_the_pinned_list() {
        for (id, code) in [("T49", "invalid_value"), ("T0049.3", "invalid_value"), ("T9999", "unknown_technique")] {
            let mut c = sample();
            c.disarm_techniques = vec![id.into()];
            assert_eq!(codes(c), [code], "{id}");
        }
        let mut c = sample();
        c.disarm_techniques.clear();
        assert_eq!(codes(c), ["required"]);
    }

    #[test]
    fn attack_ids_are_checked_for_shape_and_against_the_pinned_list() {
        let mut c = sample();
        c.domains.push(Domain::Cyber);
        for (id, code) in [
            ("T15", "invalid_value"),
            ("T1566.02", "invalid_value"),
            ("T9999", "unknown_technique"),
            ("T1566.999", "unknown_technique"),
            // Deprecated in ATT&CK ("Redundant Access"): not in the list.
            ("T1108", "unknown_technique"),
            // A DISARM id is not an ATT&CK one.
            ("T0002", "unknown_technique"),
        ] {
            let mut c = c.clone();
            c.attack_techniques = vec![id.into()];
            assert_eq!(codes(c), [code], "{id}");
        }
        let mut unknown = c.clone();
        unknown.attack_techniques = vec!["T1566.002".into(), "T1999".into()];
        let Err(FieldErrors(e)) = CheckedContent::check(unknown, Deployment::default()) else {
            panic!("T1999 accepted")
        };
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "attack_techniques[1]");
        assert!(e[0].message.contains("T1999") && e[0].message.contains(ATTACK_VERSION), "{}", e[0].message);
        let mut known = c;
        known.attack_techniques = vec!["T1566".into(), "T1566.002".into(), "T1059.001".into()];
        assert!(codes(known).is_empty());
    }

    #[test]
    fn the_pinned_attack_list_parses_whole_with_unique_ids_and_phases() {
        let all: Vec<_> = attack_techniques().collect();
        let lines = ATTACK_LIST.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(all.len(), lines, "every line parses");
        assert_eq!(all.len(), 691);
        let ids: HashSet<_> = all.iter().map(|t| t.id).collect();
        let stix: HashSet<_> = all.iter().map(|t| t.stix_id).collect();
        assert_eq!((ids.len(), stix.len()), (all.len(), all.len()));
        for t in &all {
            assert!(technique_shape(t.id), "{}", t.id);
            assert!(t.stix_id.starts_with("attack-pattern--"), "{}", t.id);
            assert!(t.phases().count() >= 1, "{} has a tactic", t.id);
            // A sub-technique's technique is in the list too.
            if let Some((parent, _)) = t.id.split_once('.') {
                assert!(attack_technique(parent).is_some(), "{}", t.id);
            }
        }
        let t = attack_technique("T1566.002").unwrap();
        assert_eq!(t.name, "Spearphishing Link");
        assert_eq!(t.phases().collect::<Vec<_>>(), ["initial-access"]);
        assert_eq!(t.stix_id, "attack-pattern--2b742742-28c3-4e1b-bab7-8350d6300fa7");
        let t = attack_technique("T1055.011").unwrap();
        assert_eq!(t.phases().collect::<Vec<_>>(), ["defense-evasion", "privilege-escalation"]);
    }

    #[test]
    fn indicators_may_not_be_looser_than_their_picture() {
        let mut c = sample();
        let ind = |tlp| Indicator {
            type_: IndicatorType::Domain,
            value: "vaalit-fi.example".into(),
            platform: None,
            first_seen: None,
            last_seen: None,
            tlp,
        };
        c.indicators = vec![ind(Tlp::AmberStrict), ind(Tlp::Green)];
        assert_eq!(codes(c), ["indicator_tlp_looser"]);
    }

    #[test]
    fn overrides_need_reasons_and_texts_have_limits() {
        let mut c = sample();
        c.severity_override = Some(SeverityOverride { severity: Severity::Critical, reason: " ".into() });
        assert_eq!(codes(c.clone()), ["severity_reason_required"]);
        c.severity_override = Some(SeverityOverride { severity: Severity::Critical, reason: "Election night".into() });
        assert_eq!(CheckedContent::check(c, Deployment::default()).unwrap().severity(), Severity::Critical);
        let mut c = sample();
        c.title.fi = Some("x".repeat(141));
        assert_eq!(codes(c), ["too_long"]);
        let mut c = sample();
        c.original_lang = Lang::En;
        c.summary.en = None;
        assert_eq!(codes(c), ["language_missing"]);
    }

    #[test]
    fn only_handling_that_narrows_counts_as_narrowing() {
        let ind = |value: &str, tlp| Indicator {
            type_: IndicatorType::Domain,
            value: value.into(),
            platform: None,
            first_seen: None,
            last_seen: None,
            tlp,
        };
        let mut old = sample();
        old.indicators = vec![ind("a.example", Tlp::Amber), ind("b.example", Tlp::Amber)];
        let mut new = old.clone();
        new.tlp = Tlp::AmberStrict;
        new.indicators = vec![ind("a.example", Tlp::Red)];
        assert!(only_narrows(&old, &new), "stricter TLP and fewer, stricter indicators");
        let mut swapped = new.clone();
        swapped.indicators = vec![ind("evil.example", Tlp::Red)];
        assert!(!only_narrows(&old, &swapped), "new indicator content is not narrowing");
        let mut looser = new.clone();
        looser.indicators = vec![ind("a.example", Tlp::Green)];
        assert!(!only_narrows(&old, &looser));
        let mut texts = new.clone();
        texts.summary.fi = Some("muutettu".into());
        assert!(!only_narrows(&old, &texts), "a content change needs review");
        let mut green = sample();
        green.tlp = Tlp::Green;
        green.tlp_community = Some("FI-ELECSEC".into());
        let mut other = green.clone();
        other.tlp_community = Some("EU-RAS".into());
        assert!(!only_narrows(&green, &other), "another community is not narrower");
        let mut wider = sample();
        wider.tier = Tier::GroupVirt;
        assert!(!only_narrows(&sample(), &wider));
    }

    #[test]
    fn widening_is_tier_up_tlp_down_or_new_recipients() {
        let old = sample();
        let mut new = sample();
        assert!(!widens(&old, &new));
        new.tlp = Tlp::Green;
        assert!(widens(&old, &new));
        let mut new = sample();
        new.tier = Tier::GroupVirt;
        assert!(widens(&old, &new));
        let mut new = sample();
        new.tlp = Tlp::AmberStrict;
        assert!(!widens(&old, &new));
    }
}
