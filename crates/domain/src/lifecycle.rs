//! A picture's lifecycle and the four-eyes rule, as pure decisions: what a revise does,
//! who may approve a revision, what may be published. The HTTP handlers ask these
//! functions and carry out the answer; nothing else decides.

use sitrep_types::{PictureContent, Status, Tier, Tlp};
use uuid::Uuid;

use crate::attachment::same_content;
use crate::picture::{needs_four_eyes, only_narrows, widens};
use crate::visibility::{IndicatorHistory, same_indicator, tlp_rank};

/// Where one revision stands in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevisionState {
    /// Being written; not yet submitted (or returned to its author).
    Draft,
    /// Submitted; waits for an approver's decision.
    InReview,
    /// Approved by a second person; may be published.
    Approved,
    /// In force.
    Published,
    /// Was in force or was a draft, and a later revision took its place.
    Superseded,
    /// A proposed change that was abandoned (replaced, or the picture withdrawn).
    Rejected,
}

impl RevisionState {
    pub const ALL: [RevisionState; 6] = [
        RevisionState::Draft,
        RevisionState::InReview,
        RevisionState::Approved,
        RevisionState::Published,
        RevisionState::Superseded,
        RevisionState::Rejected,
    ];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RevisionState::Draft => "draft",
            RevisionState::InReview => "in_review",
            RevisionState::Approved => "approved",
            RevisionState::Published => "published",
            RevisionState::Superseded => "superseded",
            RevisionState::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<RevisionState> {
        RevisionState::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Who acts: a person or a service account (by API key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user: Uuid,
    pub service_account: bool,
}

/// One revision of a picture as the four-eyes rule needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenRevision {
    pub revision: i32,
    pub created_by: Uuid,
    /// Approved by a second person at some point (kept when a later revision supersedes it).
    pub approved: bool,
    /// Was in force as a published revision at some point.
    pub published: bool,
}

/// Why an approval is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalRefusal {
    /// Only a person approves; an API key never does.
    ServiceAccount,
    /// The approver wrote a revision of the chain under review.
    WroteTheChain,
    /// The approver holds a credential of a service account that wrote in the chain.
    ControlsAnAuthor,
}

/// The revisions under review for `target`: every revision after the last one that was
/// approved or published, up to `target`. Whoever wrote any of them takes part in the
/// change and cannot be its second pair of eyes.
pub fn approval_chain(history: &[WrittenRevision], target: i32) -> impl Iterator<Item = &WrittenRevision> {
    let anchor = history
        .iter()
        .filter(|r| r.revision < target && (r.approved || r.published))
        .map(|r| r.revision)
        .max()
        .unwrap_or(0);
    history.iter().filter(move |r| r.revision > anchor && r.revision <= target)
}

/// Whether `approver` may approve revision `target` of a picture with `history` (every
/// revision written so far). `controls` are the service accounts whose API keys the
/// approver created: it can write as them, so their revisions count as its own.
pub fn approval(
    approver: Actor,
    controls: &[Uuid],
    history: &[WrittenRevision],
    target: i32,
) -> Result<(), ApprovalRefusal> {
    if approver.service_account {
        return Err(ApprovalRefusal::ServiceAccount);
    }
    for r in approval_chain(history, target) {
        if r.created_by == approver.user {
            return Err(ApprovalRefusal::WroteTheChain);
        }
        if controls.contains(&r.created_by) {
            return Err(ApprovalRefusal::ControlsAnAuthor);
        }
    }
    Ok(())
}

/// A published picture as four eyes compares a change with it: the content in force, and
/// every revision's indicators (so that an indicator removed and added again with a looser
/// TLP still counts as loosened).
#[derive(Debug, Clone, Copy)]
pub struct InForce<'a> {
    pub content: &'a PictureContent,
    pub indicators: &'a IndicatorHistory,
}

/// Whether an indicator of `new` has a looser TLP than the same indicator (same type and
/// value, spelled alike: `same_indicator`) had in force or in any earlier revision.
pub fn loosens_indicator(before: InForce<'_>, new: &PictureContent) -> bool {
    new.indicators.iter().any(|n| {
        let in_force = before
            .content
            .indicators
            .iter()
            .filter(|o| same_indicator(o.type_, &o.value, n.type_, &n.value))
            .map(|o| o.tlp);
        in_force.chain(before.indicators.strictest(n)).any(|earlier| tlp_rank(n.tlp) < tlp_rank(earlier))
    })
}

/// Whether an attachment of `new` has a looser TLP than the same attachment had in force
/// or in any earlier revision. The same attachment is the same upload (id) or the same
/// content (a shared SHA-256, of the stored file or of an image's original), as an
/// indicator is the same value: removing a file and attaching it again with a looser TLP
/// counts, and so does uploading its bytes again as a new file.
pub fn loosens_attachment(before: InForce<'_>, new: &PictureContent) -> bool {
    new.attachments.iter().any(|n| {
        let in_force = before.content.attachments.iter().filter(|o| o.id == n.id || same_content(o, n)).map(|o| o.tlp);
        in_force.chain(before.indicators.attachment_strictest(n)).any(|earlier| tlp_rank(n.tlp) < tlp_rank(earlier))
    })
}

/// Whether putting `new` in force needs a second person's approval: the organisation
/// requires review for every publication; the tier is `group_virt_ras` or `public`; or,
/// over the picture as published (`before`, none for a first publication), the TLP of the
/// picture or of any indicator is loosened.
pub fn needs_approval(before: Option<InForce<'_>>, new: &PictureContent, requires_review: bool) -> bool {
    handling_needs_approval(before.map(|b| b.content.tlp), new.tier, new.tlp, requires_review)
        || before.is_some_and(|b| loosens_indicator(b, new) || loosens_attachment(b, new))
}

/// The part of four eyes that depends on handling alone, for anything published under a
/// tier and a TLP (a picture, a report): the organisation requires review for every
/// publication; the tier is `group_virt_ras` or `public`; or the TLP is looser than the
/// TLP in force (`before`, none for a first publication).
pub fn handling_needs_approval(before: Option<Tlp>, tier: Tier, tlp: Tlp, requires_review: bool) -> bool {
    requires_review || needs_four_eyes(tier) || before.is_some_and(|b| tlp_rank(tlp) < tlp_rank(b))
}

/// What a revise (a merge patch) of a picture does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOutcome {
    /// The patch changes nothing: no revision is written.
    Unchanged,
    /// A draft (never published) gets a new draft revision, in force for its originator.
    NewDraft,
    /// A published picture's change takes effect at once: it only narrows, or an approver
    /// made it and it needs no second person.
    Immediate,
    /// A published picture's change is proposed: it waits for review while the picture
    /// keeps its state.
    Proposed,
}

/// What a revise does. `base` is the content the patch was applied to (the proposed
/// revision if there is one, else the content in force); `in_force` what readers see now.
pub fn patch_outcome(
    status: Status,
    in_force: InForce<'_>,
    base: &PictureContent,
    new: &PictureContent,
    caller_approves: bool,
    requires_review: bool,
) -> PatchOutcome {
    if new == base {
        return PatchOutcome::Unchanged;
    }
    if matches!(status, Status::Draft | Status::InReview) {
        return PatchOutcome::NewDraft;
    }
    let narrows =
        only_narrows(in_force.content, new) && !loosens_indicator(in_force, new) && !loosens_attachment(in_force, new);
    if narrows
        || (caller_approves && !widens(in_force.content, new) && !needs_approval(Some(in_force), new, requires_review))
    {
        PatchOutcome::Immediate
    } else {
        PatchOutcome::Proposed
    }
}

/// Why a publication is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishRefusal {
    /// It needs a second person's approval and has none.
    ApprovalRequired,
    /// The revision is not a draft, in review or approved.
    NotPublishable,
}

/// Whether revision `state` with `new` content may be published over the picture as
/// published (`in_force`, none for a first publication).
pub fn publication(
    state: RevisionState,
    in_force: Option<InForce<'_>>,
    new: &PictureContent,
    requires_review: bool,
) -> Result<(), PublishRefusal> {
    publishable(state, needs_approval(in_force, new, requires_review))
}

/// Whether a revision in `state` may be published, when it `needs_approval` or not.
pub fn publishable(state: RevisionState, needs_approval: bool) -> Result<(), PublishRefusal> {
    if !matches!(state, RevisionState::Draft | RevisionState::InReview | RevisionState::Approved) {
        return Err(PublishRefusal::NotPublishable);
    }
    if needs_approval && state != RevisionState::Approved {
        return Err(PublishRefusal::ApprovalRequired);
    }
    Ok(())
}

#[cfg(test)]
mod machine;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::tests::sample;
    use sitrep_types::{IndicatorType, Tier, Tlp};

    const A: Uuid = Uuid::from_u128(0xa);
    const B: Uuid = Uuid::from_u128(0xb);
    const SA: Uuid = Uuid::from_u128(0x5a);

    fn written(revision: i32, by: Uuid) -> WrittenRevision {
        WrittenRevision { revision, created_by: by, approved: false, published: false }
    }

    fn person(user: Uuid) -> Actor {
        Actor { user, service_account: false }
    }

    #[test]
    fn revision_states_round_trip() {
        for s in RevisionState::ALL {
            assert_eq!(RevisionState::parse(s.as_str()), Some(s));
        }
        assert_eq!(RevisionState::parse("returned"), None);
    }

    #[test]
    fn whoever_wrote_any_revision_since_the_last_approval_cannot_approve() {
        // A wrote r1, B revised it (r2), A revised again (r3): neither approves r3.
        let history = [written(1, A), written(2, B), written(3, A)];
        assert_eq!(approval(person(A), &[], &history, 3), Err(ApprovalRefusal::WroteTheChain));
        assert_eq!(approval(person(B), &[], &history, 3), Err(ApprovalRefusal::WroteTheChain));
        assert_eq!(approval(person(Uuid::from_u128(0xc)), &[], &history, 3), Ok(()));
    }

    #[test]
    fn an_approved_or_published_revision_starts_a_new_chain() {
        let mut history = [written(1, B), written(2, A)];
        history[0].published = true;
        assert_eq!(approval(person(B), &[], &history, 2), Ok(()));
        history[0].published = false;
        history[0].approved = true;
        assert_eq!(approval(person(B), &[], &history, 2), Ok(()));
    }

    #[test]
    fn service_accounts_never_approve_and_their_key_holders_count_as_authors() {
        let history = [written(1, SA)];
        assert_eq!(
            approval(Actor { user: SA, service_account: true }, &[], &[written(1, A)], 1),
            Err(ApprovalRefusal::ServiceAccount)
        );
        assert_eq!(approval(person(A), &[SA], &history, 1), Err(ApprovalRefusal::ControlsAnAuthor));
        assert_eq!(approval(person(A), &[], &history, 1), Ok(()));
    }

    #[test]
    fn loosening_an_indicator_needs_approval_and_narrowing_it_does_not() {
        let mut old = sample();
        old.indicators = vec![sitrep_types::Indicator {
            type_: IndicatorType::Domain,
            value: "example.org".into(),
            platform: None,
            first_seen: None,
            last_seen: None,
            tlp: Tlp::Red,
        }];
        let mut looser = old.clone();
        looser.indicators[0].tlp = Tlp::Amber;
        let none = IndicatorHistory::default();
        let before = |c| InForce { content: c, indicators: &none };
        assert!(needs_approval(Some(before(&old)), &looser, false));
        assert_eq!(
            publication(RevisionState::InReview, Some(before(&old)), &looser, false),
            Err(PublishRefusal::ApprovalRequired)
        );
        assert_eq!(patch_outcome(Status::Published, before(&old), &old, &looser, true, false), PatchOutcome::Proposed);
        // The reverse only narrows: at once.
        assert_eq!(
            patch_outcome(Status::Published, before(&looser), &looser, &old, false, false),
            PatchOutcome::Immediate
        );
    }

    #[test]
    fn an_indicator_removed_and_added_again_looser_or_spelled_otherwise_is_loosened() {
        let mut red = sample();
        red.indicators = vec![sitrep_types::Indicator {
            type_: IndicatorType::Domain,
            value: "evil.example".into(),
            platform: None,
            first_seen: None,
            last_seen: None,
            tlp: Tlp::Red,
        }];
        let mut without = red.clone();
        without.indicators.clear();
        let history = IndicatorHistory {
            in_force: 2,
            revisions: vec![(1, vec![(IndicatorType::Domain, "evil.example".into(), Tlp::Red)]), (2, vec![])],
            attachments: Vec::new(),
        };
        let mut back = red.clone();
        back.indicators[0].tlp = Tlp::Amber;
        let before = InForce { content: &without, indicators: &history };
        assert!(needs_approval(Some(before), &back, false));
        assert_eq!(patch_outcome(Status::Published, before, &without, &back, true, false), PatchOutcome::Proposed);
        // In one step: the RED one kept, the same value spelled otherwise added as AMBER.
        let mut both = red.clone();
        let mut other = red.indicators[0].clone();
        other.value = "Evil.Example.".into();
        other.tlp = Tlp::Amber;
        both.indicators.push(other);
        let none = IndicatorHistory::default();
        assert!(needs_approval(Some(InForce { content: &red, indicators: &none }), &both, false));
    }

    #[test]
    fn a_patch_that_changes_nothing_writes_nothing() {
        let c = sample();
        let none = IndicatorHistory::default();
        for status in [Status::Draft, Status::InReview, Status::Published] {
            let before = InForce { content: &c, indicators: &none };
            assert_eq!(patch_outcome(status, before, &c, &c, true, false), PatchOutcome::Unchanged);
        }
    }

    #[test]
    fn review_required_and_wide_tiers_need_approval_to_publish() {
        let c = sample();
        assert_eq!(publication(RevisionState::Draft, None, &c, false), Ok(()));
        assert_eq!(publication(RevisionState::Draft, None, &c, true), Err(PublishRefusal::ApprovalRequired));
        let mut public = c.clone();
        public.tier = Tier::Public;
        assert_eq!(publication(RevisionState::InReview, None, &public, false), Err(PublishRefusal::ApprovalRequired));
        assert_eq!(publication(RevisionState::Approved, None, &public, false), Ok(()));
        assert_eq!(publication(RevisionState::Rejected, None, &c, false), Err(PublishRefusal::NotPublishable));
    }

    fn file(id: u128, sha: u8, original: Option<u8>, tlp: Tlp) -> sitrep_types::Attachment {
        sitrep_types::Attachment {
            id: Uuid::from_u128(id),
            file_name: "photo.jpg".into(),
            media_type: "image/jpeg".into(),
            size: 1,
            sha256: format!("{sha:064x}"),
            original_sha256: original.map(|o| format!("{o:064x}")),
            tlp,
            description: Default::default(),
        }
    }

    proptest::proptest! {
        /// A stripped image's bytes come back different when it is downloaded and uploaded
        /// again: whatever a new file's own bytes, if the bytes it was made from are the
        /// stored or the original bytes of a file the picture had, in force or in any
        /// revision, it is that file, and a looser TLP than that file ever had needs four
        /// eyes; a file of other bytes does not.
        #[test]
        fn a_file_made_from_an_earlier_files_bytes_is_that_file(
            earlier in proptest::collection::vec((proptest::bool::ANY, 0usize..5, proptest::bool::ANY), 1..5),
            pick in 0usize..5,
            stored_or_original in proptest::bool::ANY,
            fresh in 16u8..32,
            tlp in 0usize..5,
        ) {
            let mut in_force = sample();
            let mut history = IndicatorHistory { in_force: 2, ..IndicatorHistory::default() };
            let mut old = Vec::new();
            for (i, (stripped, t, current)) in earlier.iter().enumerate() {
                let i = u8::try_from(i).unwrap();
                let f = file(100 + u128::from(i), 1 + i, stripped.then_some(8 + i), Tlp::ALL[*t]);
                if *current {
                    in_force.attachments.push(f.clone());
                } else {
                    history.attachments.push((1, crate::visibility::attachment_tlps(&f)));
                }
                old.push(f);
            }
            let source = &old[pick % old.len()];
            let from = if stored_or_original { Some(source.sha256.clone()) } else { source.original_sha256.clone() };
            let mut new = in_force.clone();
            let mut n = file(999, fresh, None, Tlp::ALL[tlp]);
            n.original_sha256 = from.clone();
            new.attachments.push(n.clone());
            let before = InForce { content: &in_force, indicators: &history };
            let strictest = old
                .iter()
                .filter(|o| from.as_deref().is_some_and(|h| o.sha256 == h || o.original_sha256.as_deref() == Some(h)))
                .map(|o| tlp_rank(o.tlp))
                .max();
            let expected = strictest.is_some_and(|s| tlp_rank(n.tlp) < s);
            proptest::prop_assert_eq!(loosens_attachment(before, &new), expected);
        }
    }
}
