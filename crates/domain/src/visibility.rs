//! Who sees a picture, and what of it (docs/pictures.md, "Who sees what"): `sight` is the
//! rule, which the SQL function `picture_visible` (written once in `sitrep_db`) mirrors,
//! with a property test holding the two together; beside it, what a viewer is shown of the
//! content in force and of history (`redact`, `revision_readable`, `revision_content`).

use sitrep_types::{Attachment, Indicator, IndicatorType, PictureContent, Reach, Status, Tier, Tlp};
use uuid::Uuid;

use crate::Permissions;

/// Tiers in order of widening audience.
pub fn tier_rank(tier: Tier) -> i16 {
    match tier {
        Tier::Named => 0,
        Tier::Group => 1,
        Tier::GroupVirt => 2,
        Tier::GroupVirtRas => 3,
        Tier::Public => 4,
    }
}

/// The narrowest tier an organisation of `reach` reads (besides its own pictures and
/// those naming it).
pub fn min_rank(reach: Reach) -> i16 {
    match reach {
        Reach::Member => 1,
        Reach::Virt => 2,
        Reach::RasContactPoint => 3,
    }
}

/// TLP in order of strictness (CLEAR 0 … RED 4).
pub fn tlp_rank(tlp: Tlp) -> i16 {
    match tlp {
        Tlp::Clear => 0,
        Tlp::Green => 1,
        Tlp::Amber => 2,
        Tlp::AmberStrict => 3,
        Tlp::Red => 4,
    }
}

/// The widest tier a TLP reaches (for indicators stricter than their picture).
pub fn tlp_reach(tlp: Tlp) -> Tier {
    match tlp {
        Tlp::Red => Tier::Named,
        Tlp::AmberStrict => Tier::GroupVirt,
        Tlp::Amber | Tlp::Green => Tier::GroupVirtRas,
        Tlp::Clear => Tier::Public,
    }
}

/// The narrower of two tiers.
pub fn narrower(a: Tier, b: Tier) -> Tier {
    if tier_rank(a) <= tier_rank(b) { a } else { b }
}

/// The caller, as far as visibility is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub organisation: Uuid,
    pub reach: Reach,
    /// Holds `reader`, `author` or `approver`.
    pub reads_pictures: bool,
    pub secretariat: bool,
}

impl From<&Permissions> for Viewer {
    fn from(p: &Permissions) -> Self {
        Viewer {
            organisation: p.organisation_id,
            reach: p.reach,
            reads_pictures: p.can_read_pictures(),
            secretariat: p.is_secretariat(),
        }
    }
}

/// The handling of a picture as it stands now.
#[derive(Debug, Clone, Copy)]
pub struct Handling<'a> {
    pub originator: Uuid,
    pub status: Status,
    pub tier: Tier,
    pub named: &'a [Uuid],
}

/// How much of a picture a viewer sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    /// Content (less any indicators stricter than the viewer's reach).
    Full,
    /// Reference, originator, tier, TLP, status and times only (the secretariat).
    Metadata,
    /// Nothing: for this viewer the picture does not exist.
    None,
}

fn is_draft(status: Status) -> bool {
    matches!(status, Status::Draft | Status::InReview)
}

/// Whether a viewer is in the audience of `tier` (with `named` recipients) for a
/// picture of `originator`, ignoring status.
pub fn in_audience(v: &Viewer, originator: Uuid, tier: Tier, named: &[Uuid]) -> bool {
    if !v.reads_pictures {
        return false;
    }
    v.organisation == originator
        || match tier {
            Tier::Public => true,
            Tier::Named => named.contains(&v.organisation),
            other => tier_rank(other) >= min_rank(v.reach),
        }
}

/// The rule: the originator sees its own pictures, drafts included; published (and
/// later) pictures are seen by their audience; the secretariat sees the metadata of
/// every picture past draft; nobody else sees anything.
pub fn sight(v: &Viewer, h: &Handling<'_>) -> Sight {
    if v.reads_pictures && v.organisation == h.originator {
        return Sight::Full;
    }
    if is_draft(h.status) {
        return Sight::None;
    }
    if in_audience(v, h.originator, h.tier, h.named) {
        Sight::Full
    } else if v.secretariat {
        Sight::Metadata
    } else {
        Sight::None
    }
}

/// Whether a viewer receives an event (feed, live stream) at the moment of delivery: an
/// event addressed to given `recipients` (a recall, an acknowledgement) goes to those
/// organisations alone; any other goes to whoever sees its picture in full as the picture
/// stands now. Mirrors the condition of `sitrep_db::events::feed`; the live stream decides
/// with this in memory for every open stream after one shared read.
pub fn receives_event(v: &Viewer, h: &Handling<'_>, recipients: Option<&[Uuid]>) -> bool {
    v.reads_pictures
        && match recipients {
            Some(orgs) => orgs.contains(&v.organisation),
            None => sight(v, h) == Sight::Full,
        }
}

/// Whether an indicator with its own `tlp` is shown to a viewer who sees the picture.
pub fn indicator_visible(v: &Viewer, h: &Handling<'_>, tlp: Tlp) -> bool {
    in_audience(v, h.originator, narrower(tlp_reach(tlp), h.tier), h.named)
}

/// Whether an attachment with its own `tlp` is shown to a viewer who sees the picture:
/// the same rule as for an indicator.
pub fn attachment_visible(v: &Viewer, h: &Handling<'_>, tlp: Tlp) -> bool {
    indicator_visible(v, h, tlp)
}

/// Whether two indicators are the same one, whatever the case, the surrounding spaces or
/// a trailing dot of the value (`Evil.Example.` is `evil.example`): so that a TLP rule
/// cannot be got round by spelling a value differently.
pub fn same_indicator(a_type: IndicatorType, a_value: &str, b_type: IndicatorType, b_value: &str) -> bool {
    fn plain(v: &str) -> String {
        v.trim().trim_end_matches('.').to_lowercase()
    }
    a_type == b_type && (a_value == b_value || plain(a_value) == plain(b_value))
}

/// An indicator as history compares it: type, value and TLP.
pub type IndicatorTlp = (IndicatorType, String, Tlp);
/// An attachment as four eyes and history compare it: its upload id, the SHA-256 of its
/// content, its TLP.
pub type AttachmentTlp = (Uuid, String, Tlp);

/// An attachment's entries in [`IndicatorHistory::attachments`]: one per content hash.
pub fn attachment_tlps(a: &sitrep_types::Attachment) -> Vec<AttachmentTlp> {
    crate::attachment::content_hashes(a).map(|h| (a.id, h.to_owned(), a.tlp)).collect()
}

/// The indicators of every revision of one picture, to decide what an old revision's
/// indicators show: a narrowing acts on history too, so an old revision's indicator is
/// shown only to a reader whom both its TLP then and its TLP now reach.
#[derive(Debug, Clone, Default)]
pub struct IndicatorHistory {
    /// The revision in force.
    pub in_force: i32,
    /// Each revision's indicators (type, value, TLP).
    pub revisions: Vec<(i32, Vec<IndicatorTlp>)>,
    /// Each revision's attachments (id, SHA-256 of the content, TLP), an image stripped at
    /// upload once more with its original's SHA-256.
    pub attachments: Vec<(i32, Vec<AttachmentTlp>)>,
}

impl IndicatorHistory {
    /// The TLP now of an indicator read in revision `read`: its TLP in the revision in
    /// force if it is there; if it was removed since, the strictest TLP it had in any
    /// revision after `read` (so that narrowing it and then removing it still hides it in
    /// history); `None` if it never appeared again after `read`.
    pub fn tlp_now(&self, read: i32, indicator: &Indicator) -> Option<Tlp> {
        let same = |(t, v, _): &&IndicatorTlp| same_indicator(*t, v, indicator.type_, &indicator.value);
        if let Some((_, list)) = self.revisions.iter().find(|(n, _)| *n == self.in_force)
            && let Some((_, _, tlp)) = list.iter().find(|i| same(i))
        {
            return Some(*tlp);
        }
        self.revisions
            .iter()
            .filter(|(n, _)| *n > read)
            .flat_map(|(_, list)| list.iter().filter(|i| same(i)).map(|(_, _, tlp)| *tlp))
            .max_by_key(|t| tlp_rank(*t))
    }
}

impl IndicatorHistory {
    /// The TLP now of an attachment read in revision `read`, by the rule of `tlp_now`: its
    /// TLP in the revision in force, else the strictest it had in any later revision.
    pub fn attachment_tlp_now(&self, read: i32, id: Uuid) -> Option<Tlp> {
        let tlp_in = |list: &Vec<AttachmentTlp>| list.iter().find(|(a, _, _)| *a == id).map(|(_, _, t)| *t);
        if let Some((_, list)) = self.attachments.iter().find(|(n, _)| *n == self.in_force)
            && let Some(tlp) = tlp_in(list)
        {
            return Some(tlp);
        }
        self.attachments
            .iter()
            .filter(|(n, _)| *n > read)
            .filter_map(|(_, list)| tlp_in(list))
            .max_by_key(|t| tlp_rank(*t))
    }

    /// The strictest TLP that the attachment, or any attachment with the same content
    /// (SHA-256), has had in any revision: the same bytes uploaded again under a new id
    /// are the same evidence.
    pub fn attachment_strictest(&self, attachment: &sitrep_types::Attachment) -> Option<Tlp> {
        let known = |sha: &str| crate::attachment::content_hashes(attachment).any(|h| h == sha);
        self.attachments
            .iter()
            .flat_map(|(_, list)| list.iter())
            .filter(|(a, sha, _)| *a == attachment.id || known(sha))
            .map(|(_, _, tlp)| *tlp)
            .max_by_key(|t| tlp_rank(*t))
    }

    /// The strictest TLP the indicator has had in any revision.
    pub fn strictest(&self, indicator: &Indicator) -> Option<Tlp> {
        self.revisions
            .iter()
            .flat_map(|(_, list)| list.iter())
            .filter(|(t, v, _)| same_indicator(*t, v, indicator.type_, &indicator.value))
            .map(|(_, _, tlp)| *tlp)
            .max_by_key(|t| tlp_rank(*t))
    }
}

/// Whether an indicator of an old revision (revision `read`) is shown to a viewer: its TLP
/// then must reach the viewer under that revision's handling (`then`), and its TLP now
/// (or, if it is gone, its TLP then) under the picture's handling now (`now`).
pub fn history_indicator_visible(
    v: &Viewer,
    then: &Handling<'_>,
    now: &Handling<'_>,
    read: i32,
    indicator: &Indicator,
    history: &IndicatorHistory,
) -> bool {
    indicator_visible(v, then, indicator.tlp)
        && indicator_visible(v, now, history.tlp_now(read, indicator).unwrap_or(indicator.tlp))
}

/// Whether the viewer is the picture's originator or the secretariat: they see the named
/// recipients, who wrote and approved each revision, and every acknowledgement.
pub fn insider(v: &Viewer, originator: Uuid) -> bool {
    v.organisation == originator || v.secretariat
}

/// How many indicators and attachments a view left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redacted {
    pub indicators: u32,
    pub attachments: u32,
}

impl Redacted {
    pub fn any(&self) -> bool {
        self.indicators > 0 || self.attachments > 0
    }

    /// The access log's note of what was left out (`None` if nothing was).
    pub fn reason(&self) -> Option<String> {
        match (self.indicators, self.attachments) {
            (0, 0) => None,
            (i, 0) => Some(format!("indicators_redacted:{i}")),
            (0, a) => Some(format!("attachments_redacted:{a}")),
            (i, a) => Some(format!("indicators_redacted:{i} attachments_redacted:{a}")),
        }
    }
}

/// `content` of a picture of `originator` as `v` may see it: only the indicators `shows`
/// and the attachments `shows_attachment` (returns how many were left out), related pictures only those in `related_seen` (the
/// ones `v` sees fully: the others do not exist for it), named recipients only for
/// insiders.
pub fn redact(
    v: &Viewer,
    originator: Uuid,
    mut content: PictureContent,
    related_seen: &[Uuid],
    shows: impl Fn(&Indicator) -> bool,
    shows_attachment: impl Fn(&Attachment) -> bool,
) -> (PictureContent, Redacted) {
    let before = content.indicators.len();
    content.indicators.retain(|i| shows(i));
    let attachments_before = content.attachments.len();
    content.attachments.retain(|a| shows_attachment(a));
    content.related.retain(|r| related_seen.contains(&r.picture_id));
    let redacted = Redacted {
        indicators: u32::try_from(before - content.indicators.len()).unwrap_or(u32::MAX),
        attachments: u32::try_from(attachments_before - content.attachments.len()).unwrap_or(u32::MAX),
    };
    if !insider(v, originator) {
        content.named_recipients.clear();
    }
    (content, redacted)
}

/// The content in force of a picture with handling `h`, as a viewer with full sight of it
/// sees it (see `redact`).
pub fn current_content(
    v: &Viewer,
    h: &Handling<'_>,
    content: PictureContent,
    related_seen: &[Uuid],
) -> (PictureContent, Redacted) {
    redact(
        v,
        h.originator,
        content,
        related_seen,
        |i| indicator_visible(v, h, i.tlp),
        |a| attachment_visible(v, h, a.tlp),
    )
}

/// Whether `v` may read a revision (`published`: it was in force as a published revision
/// at some point) with `content` of a picture of `originator` that it sees now: the
/// originator reads every one; the audience only the published ones whose own audience
/// included it — never a draft, even one replaced before publication.
pub fn revision_readable(v: &Viewer, originator: Uuid, published: bool, content: &PictureContent) -> bool {
    if v.organisation == originator && v.reads_pictures {
        return true;
    }
    published && in_audience(v, originator, content.tier, &content.named_recipients)
}

/// A revision's content (revision `read`) as `v` may see it, the picture's handling now
/// being `now`: an indicator is shown only if its TLP in that revision reaches `v` under
/// that revision's handling, and its TLP now (`history`) under the handling now — history
/// never shows what the reader could not see both then and now (returns how many were
/// left out).
pub fn revision_content(
    v: &Viewer,
    now: &Handling<'_>,
    read: i32,
    content: PictureContent,
    history: &IndicatorHistory,
    related_seen: &[Uuid],
) -> (PictureContent, Redacted) {
    let named = content.named_recipients.clone();
    let then = Handling { tier: narrower(content.tier, now.tier), named: &named, ..*now };
    redact(
        v,
        now.originator,
        content,
        related_seen,
        |i| history_indicator_visible(v, &then, now, read, i, history),
        |a| {
            attachment_visible(v, &then, a.tlp)
                && attachment_visible(v, now, history.attachment_tlp_now(read, a.id).unwrap_or(a.tlp))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: Uuid = Uuid::from_u128(1);
    const OTHER: Uuid = Uuid::from_u128(2);

    fn viewer(org: Uuid, reach: Reach) -> Viewer {
        Viewer { organisation: org, reach, reads_pictures: true, secretariat: false }
    }

    fn published(tier: Tier, named: &[Uuid]) -> Handling<'_> {
        Handling { originator: ORIGIN, status: Status::Published, tier, named }
    }

    #[test]
    fn each_reach_reads_its_tiers_and_wider() {
        let cases = [
            (Reach::Member, [false, true, true, true, true]),
            (Reach::Virt, [false, false, true, true, true]),
            (Reach::RasContactPoint, [false, false, false, true, true]),
        ];
        for (reach, expected) in cases {
            for (tier, want) in Tier::ALL.iter().zip(expected) {
                let got = sight(&viewer(OTHER, reach), &published(*tier, &[])) == Sight::Full;
                assert_eq!(got, want, "{reach:?} on {tier:?}");
            }
        }
    }

    #[test]
    fn named_pictures_reach_only_named_organisations_and_the_originator() {
        assert_eq!(sight(&viewer(OTHER, Reach::Member), &published(Tier::Named, &[])), Sight::None);
        assert_eq!(sight(&viewer(OTHER, Reach::RasContactPoint), &published(Tier::Named, &[OTHER])), Sight::Full);
        assert_eq!(sight(&viewer(ORIGIN, Reach::Member), &published(Tier::Named, &[])), Sight::Full);
    }

    #[test]
    fn drafts_are_the_originators_alone() {
        for status in [Status::Draft, Status::InReview] {
            let h = Handling { originator: ORIGIN, status, tier: Tier::Public, named: &[] };
            assert_eq!(sight(&viewer(ORIGIN, Reach::Member), &h), Sight::Full);
            assert_eq!(sight(&viewer(OTHER, Reach::Member), &h), Sight::None);
            let sec = Viewer { secretariat: true, ..viewer(OTHER, Reach::Member) };
            assert_eq!(sight(&sec, &h), Sight::None);
        }
    }

    #[test]
    fn the_secretariat_sees_metadata_outside_its_audience_and_roles_without_reading_see_nothing() {
        let sec = Viewer { organisation: OTHER, reach: Reach::Member, reads_pictures: false, secretariat: true };
        assert_eq!(sight(&sec, &published(Tier::Group, &[])), Sight::Metadata);
        assert_eq!(sight(&sec, &published(Tier::Named, &[OTHER])), Sight::Metadata);
        let reading_sec = Viewer { reads_pictures: true, ..sec };
        assert_eq!(sight(&reading_sec, &published(Tier::Group, &[])), Sight::Full);
        let auditor = Viewer { reads_pictures: false, secretariat: false, ..sec };
        assert_eq!(sight(&auditor, &published(Tier::Public, &[])), Sight::None);
        let own_auditor = Viewer { organisation: ORIGIN, ..auditor };
        assert_eq!(sight(&own_auditor, &published(Tier::Public, &[])), Sight::None);
    }

    #[test]
    fn events_reach_the_audience_now_or_only_the_addressed_organisations() {
        let member = viewer(OTHER, Reach::Member);
        let ras = viewer(OTHER, Reach::RasContactPoint);
        assert!(receives_event(&member, &published(Tier::Group, &[]), None));
        assert!(!receives_event(&ras, &published(Tier::Group, &[]), None));
        assert!(receives_event(&ras, &published(Tier::GroupVirtRas, &[]), None));
        // A picture narrowed or back in draft since the event: what counts is now.
        let draft = Handling { originator: ORIGIN, status: Status::Draft, tier: Tier::Public, named: &[] };
        assert!(!receives_event(&member, &draft, None));
        assert!(receives_event(&viewer(ORIGIN, Reach::Member), &draft, None));
        // Addressed events (recalls, acknowledgements) go to the named organisations only,
        // whatever the picture's audience.
        assert!(receives_event(&ras, &published(Tier::Named, &[]), Some(&[OTHER])));
        assert!(!receives_event(&member, &published(Tier::Public, &[]), Some(&[ORIGIN])));
        assert!(!receives_event(&member, &published(Tier::Public, &[]), Some(&[])));
        // The secretariat's metadata sight is not enough; roles that do not read get nothing.
        let sec = Viewer { organisation: OTHER, reach: Reach::Member, reads_pictures: false, secretariat: true };
        assert!(!receives_event(&sec, &published(Tier::Named, &[]), None));
        assert!(!receives_event(&sec, &published(Tier::Public, &[]), Some(&[OTHER])));
    }

    #[test]
    fn stricter_indicators_are_shown_only_within_their_own_reach() {
        let h = published(Tier::Public, &[]);
        let member = viewer(OTHER, Reach::Member);
        let virt = viewer(OTHER, Reach::Virt);
        let ras = viewer(OTHER, Reach::RasContactPoint);
        assert!(indicator_visible(&member, &h, Tlp::AmberStrict));
        assert!(indicator_visible(&virt, &h, Tlp::AmberStrict));
        assert!(!indicator_visible(&ras, &h, Tlp::AmberStrict));
        assert!(indicator_visible(&ras, &h, Tlp::Green));
        assert!(!indicator_visible(&member, &h, Tlp::Red));
        assert!(indicator_visible(&viewer(ORIGIN, Reach::Member), &h, Tlp::Red));
        let named = published(Tier::Named, &[OTHER]);
        assert!(indicator_visible(&member, &named, Tlp::Red));
    }

    #[test]
    fn only_insiders_see_named_recipients_and_related_pictures_are_only_those_seen() {
        let mut c = crate::picture::tests::sample();
        c.named_recipients = vec![OTHER];
        let seen = Uuid::from_u128(7);
        let unseen = Uuid::from_u128(8);
        c.related = [seen, unseen]
            .into_iter()
            .map(|picture_id| sitrep_types::Related { relation: sitrep_types::Relation::FollowUpOf, picture_id })
            .collect();
        let member = viewer(OTHER, Reach::Member);
        let (shown, _) = redact(&member, ORIGIN, c.clone(), &[seen], |_| true, |_| true);
        assert!(shown.named_recipients.is_empty());
        assert_eq!(shown.related.iter().map(|r| r.picture_id).collect::<Vec<_>>(), vec![seen]);
        let sec = Viewer { secretariat: true, ..viewer(Uuid::from_u128(9), Reach::Member) };
        assert_eq!(redact(&sec, ORIGIN, c.clone(), &[], |_| true, |_| true).0.named_recipients, vec![OTHER]);
        assert_eq!(
            redact(&viewer(ORIGIN, Reach::Member), ORIGIN, c, &[], |_| true, |_| true).0.named_recipients,
            vec![OTHER]
        );
    }

    #[test]
    fn the_audience_reads_only_revisions_that_were_published_and_reached_it() {
        let c = crate::picture::tests::sample();
        let member = viewer(OTHER, Reach::Member);
        assert!(revision_readable(&member, ORIGIN, true, &c));
        assert!(!revision_readable(&member, ORIGIN, false, &c), "a draft replaced before publication");
        assert!(revision_readable(&viewer(ORIGIN, Reach::Member), ORIGIN, false, &c));
        let ras = viewer(OTHER, Reach::RasContactPoint);
        assert!(!revision_readable(&ras, ORIGIN, true, &c), "a group revision never reached the RAS contact point");
    }
}
