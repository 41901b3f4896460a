//! The four-eyes invariant as a state-machine property test: random sequences of
//! create, revise (including no-op revisions), submit, return, approve, publish and
//! withdraw by random people and a service account, with the organisation's review
//! policy switched on and off, run through the lifecycle decisions the way the HTTP
//! handlers run them; after every step an independent checker states the rule: every
//! publication that needs approval has one, by a person who wrote nothing in the approved
//! chain and holds no key of a service account that did.
//!
//! `PROPTEST_CASES` sets the number of sequences (4,096 by default).

use proptest::prelude::*;
use sitrep_types::{Attachment, Indicator, IndicatorType, PictureContent, Status, Tier, Tlp};
use uuid::Uuid;

use super::*;
use crate::picture::tests::sample;
use crate::visibility::IndicatorHistory;
use crate::visibility::{tier_rank, tlp_rank};

/// Approvers A, B, C; author D; service account S (author and approver roles), whose
/// API key A made.
const PEOPLE: [u128; 4] = [0xa, 0xb, 0xc, 0xd];
const SERVICE: u128 = 0x5;
const KEY_HOLDER: u128 = 0xa;

fn actor(i: usize) -> Actor {
    match i {
        4 => Actor { user: Uuid::from_u128(SERVICE), service_account: true },
        i => Actor { user: Uuid::from_u128(PEOPLE[i % 4]), service_account: false },
    }
}

fn approves(a: Actor) -> bool {
    a.user != Uuid::from_u128(0xd)
}

/// The handling variants a revision may take: (tier, TLP, the indicator's TLP or no
/// indicator, title, the attachment's TLP or no attachment).
/// Tier, TLP, the indicator's TLP, a title variant, and the attached file: its TLP and its
/// upload id (the content is always the same bytes, so a second id is the same evidence
/// uploaded again).
type Variant = (Tier, Tlp, Option<Tlp>, u8, Option<(Tlp, u128)>);
const VARIANTS: [Variant; 14] = [
    (Tier::Group, Tlp::Amber, Some(Tlp::Amber), 0, None),
    (Tier::Group, Tlp::Amber, Some(Tlp::Red), 0, None),
    (Tier::Group, Tlp::Amber, Some(Tlp::Amber), 1, None),
    (Tier::Group, Tlp::Amber, None, 0, None),
    (Tier::Group, Tlp::AmberStrict, Some(Tlp::Red), 0, None),
    (Tier::GroupVirt, Tlp::Amber, Some(Tlp::AmberStrict), 0, None),
    (Tier::GroupVirtRas, Tlp::Amber, Some(Tlp::Amber), 0, None),
    (Tier::GroupVirtRas, Tlp::Green, Some(Tlp::Amber), 1, None),
    (Tier::Public, Tlp::Clear, Some(Tlp::Clear), 0, None),
    (Tier::Named, Tlp::Red, Some(Tlp::Red), 0, None),
    (Tier::Group, Tlp::Amber, Some(Tlp::Amber), 0, Some((Tlp::Red, 0xf11e))),
    (Tier::Group, Tlp::Amber, Some(Tlp::Amber), 0, Some((Tlp::AmberStrict, 0xf11e))),
    (Tier::Group, Tlp::Amber, Some(Tlp::Amber), 0, Some((Tlp::Amber, 0xf11e))),
    (Tier::Group, Tlp::Amber, Some(Tlp::Amber), 0, Some((Tlp::Amber, 0xf11f))),
];

/// The one file the variants attach (or not), with the TLP the variant gives it.
fn attachment((tlp, id): (Tlp, u128)) -> Attachment {
    Attachment {
        id: Uuid::from_u128(id),
        file_name: "screenshot.png".into(),
        media_type: "image/png".into(),
        size: 1,
        sha256: "00".repeat(32),
        original_sha256: None,
        tlp,
        description: Default::default(),
    }
}

fn content(variant: usize) -> PictureContent {
    let (tier, tlp, indicator, title, attached) = VARIANTS[variant % VARIANTS.len()];
    let mut c = sample();
    c.tier = tier;
    c.tlp = tlp;
    c.title.en = Some(format!("Title {title}"));
    c.indicators = indicator
        .map(|tlp| Indicator {
            type_: IndicatorType::Domain,
            value: "example.org".into(),
            platform: None,
            first_seen: None,
            last_seen: None,
            tlp,
        })
        .into_iter()
        .collect();
    c.attachments = attached.map(attachment).into_iter().collect();
    c
}

#[derive(Debug, Clone)]
enum Step {
    Create {
        by: usize,
        variant: usize,
    },
    /// `variant: None` sends an empty patch.
    Revise {
        by: usize,
        picture: usize,
        variant: Option<usize>,
    },
    Submit {
        picture: usize,
    },
    Return {
        by: usize,
        picture: usize,
    },
    Approve {
        by: usize,
        picture: usize,
    },
    Publish {
        by: usize,
        picture: usize,
    },
    Withdraw {
        by: usize,
        picture: usize,
    },
    RequireReview(bool),
}

fn step() -> impl Strategy<Value = Step> {
    let by = 0..5usize;
    let picture = 0..2usize;
    prop_oneof![
        1 => (by.clone(), 0..VARIANTS.len()).prop_map(|(by, variant)| Step::Create { by, variant }),
        3 => (by.clone(), picture.clone(), proptest::option::weighted(0.8, 0..VARIANTS.len()))
            .prop_map(|(by, picture, variant)| Step::Revise { by, picture, variant }),
        3 => picture.clone().prop_map(|picture| Step::Submit { picture }),
        1 => (by.clone(), picture.clone()).prop_map(|(by, picture)| Step::Return { by, picture }),
        3 => (by.clone(), picture.clone()).prop_map(|(by, picture)| Step::Approve { by, picture }),
        3 => (by.clone(), picture.clone()).prop_map(|(by, picture)| Step::Publish { by, picture }),
        1 => (by, picture).prop_map(|(by, picture)| Step::Withdraw { by, picture }),
        1 => any::<bool>().prop_map(Step::RequireReview),
    ]
}

#[derive(Debug, Clone)]
struct Rev {
    n: i32,
    state: RevisionState,
    content: PictureContent,
    by: Uuid,
    approved_by: Option<Uuid>,
    was_published: bool,
}

#[derive(Debug, Clone)]
struct Pic {
    status: Status,
    in_force: i32,
    pending: Option<i32>,
    revs: Vec<Rev>,
}

impl Pic {
    fn rev(&self, n: i32) -> &Rev {
        &self.revs[(n - 1) as usize]
    }
    fn rev_mut(&mut self, n: i32) -> &mut Rev {
        &mut self.revs[(n - 1) as usize]
    }
    fn target(&self) -> Option<i32> {
        match (self.status, self.pending) {
            (_, Some(n)) => Some(n),
            (Status::Draft | Status::InReview, None) => Some(self.in_force),
            _ => None,
        }
    }
    fn indicators(&self) -> IndicatorHistory {
        IndicatorHistory {
            in_force: self.in_force,
            revisions: self
                .revs
                .iter()
                .map(|r| (r.n, r.content.indicators.iter().map(|i| (i.type_, i.value.clone(), i.tlp)).collect()))
                .collect(),
            attachments: self
                .revs
                .iter()
                .map(|r| (r.n, r.content.attachments.iter().flat_map(crate::visibility::attachment_tlps).collect()))
                .collect(),
        }
    }
    fn written(&self) -> Vec<WrittenRevision> {
        self.revs
            .iter()
            .map(|r| WrittenRevision {
                revision: r.n,
                created_by: r.by,
                approved: r.approved_by.is_some(),
                published: r.was_published,
            })
            .collect()
    }
}

/// A revision put in force as published, with what the checker needs to judge it.
#[derive(Debug, Clone)]
struct Publication {
    before: Option<PictureContent>,
    review: bool,
    revs: Vec<Rev>,
    revision: i32,
}

#[derive(Default)]
struct World {
    pictures: Vec<Pic>,
    review: bool,
    published: Vec<Publication>,
}

impl World {
    /// Carries out one step as the handlers do, through the lifecycle decisions.
    fn apply(&mut self, step: &Step) {
        let review = self.review;
        match *step {
            Step::RequireReview(on) => self.review = on,
            Step::Create { by, variant } => {
                let rev = Rev {
                    n: 1,
                    state: RevisionState::Draft,
                    content: content(variant),
                    by: actor(by).user,
                    approved_by: None,
                    was_published: false,
                };
                self.pictures.push(Pic { status: Status::Draft, in_force: 1, pending: None, revs: vec![rev] });
            }
            Step::Revise { by, picture, variant } => {
                let Some(p) = self.pictures.get_mut(picture) else { return };
                if !matches!(p.status, Status::Draft | Status::InReview | Status::Published) {
                    return;
                }
                let in_force = p.rev(p.in_force).content.clone();
                let base = p.pending.map_or(in_force.clone(), |n| p.rev(n).content.clone());
                let new = variant.map_or(base.clone(), content);
                let a = actor(by);
                let next = i32::try_from(p.revs.len()).unwrap_or(i32::MAX) + 1;
                let fresh = |state| Rev {
                    n: next,
                    state,
                    content: new.clone(),
                    by: a.user,
                    approved_by: None,
                    was_published: false,
                };
                let indicators = p.indicators();
                let before = InForce { content: &in_force, indicators: &indicators };
                match patch_outcome(p.status, before, &base, &new, approves(a), review) {
                    PatchOutcome::Unchanged => {}
                    PatchOutcome::NewDraft => {
                        let current = p.in_force;
                        p.rev_mut(current).state = RevisionState::Superseded;
                        p.revs.push(fresh(RevisionState::Draft));
                        p.in_force = next;
                        p.status = Status::Draft;
                    }
                    PatchOutcome::Immediate => {
                        if let Some(pending) = p.pending.take() {
                            p.rev_mut(pending).state = RevisionState::Rejected;
                        }
                        let current = p.in_force;
                        p.rev_mut(current).state = RevisionState::Superseded;
                        let mut r = fresh(RevisionState::Published);
                        r.was_published = true;
                        p.revs.push(r);
                        p.in_force = next;
                        self.published.push(Publication {
                            before: Some(in_force),
                            review,
                            revs: p.revs.clone(),
                            revision: next,
                        });
                    }
                    PatchOutcome::Proposed => {
                        if let Some(pending) = p.pending {
                            p.rev_mut(pending).state = RevisionState::Rejected;
                        }
                        p.revs.push(fresh(RevisionState::Draft));
                        p.pending = Some(next);
                    }
                }
            }
            Step::Submit { picture } => {
                let Some(p) = self.pictures.get_mut(picture) else { return };
                let Some(t) = p.target() else { return };
                if p.rev(t).state != RevisionState::Draft {
                    return;
                }
                p.rev_mut(t).state = RevisionState::InReview;
                if p.status == Status::Draft {
                    p.status = Status::InReview;
                }
            }
            Step::Return { by, picture } => {
                let Some(p) = self.pictures.get_mut(picture) else { return };
                let Some(t) = p.target() else { return };
                if !approves(actor(by)) || !matches!(p.rev(t).state, RevisionState::InReview | RevisionState::Approved)
                {
                    return;
                }
                p.rev_mut(t).state = RevisionState::Draft;
                if p.status == Status::InReview {
                    p.status = Status::Draft;
                }
            }
            Step::Approve { by, picture } => {
                let Some(p) = self.pictures.get_mut(picture) else { return };
                let Some(t) = p.target() else { return };
                let a = actor(by);
                if !approves(a) || p.rev(t).state != RevisionState::InReview {
                    return;
                }
                let controls =
                    if a.user == Uuid::from_u128(KEY_HOLDER) { vec![Uuid::from_u128(SERVICE)] } else { vec![] };
                if approval(a, &controls, &p.written(), t).is_ok() {
                    let r = p.rev_mut(t);
                    r.state = RevisionState::Approved;
                    r.approved_by = Some(a.user);
                }
            }
            Step::Publish { by, picture } => {
                let Some(p) = self.pictures.get_mut(picture) else { return };
                let Some(t) = p.target() else { return };
                if !approves(actor(by)) {
                    return;
                }
                let was_published = p.status == Status::Published;
                let in_force = p.rev(p.in_force).content.clone();
                let before = was_published.then_some(in_force);
                let indicators = p.indicators();
                let in_force_then = before.as_ref().map(|content| InForce { content, indicators: &indicators });
                if publication(p.rev(t).state, in_force_then, &p.rev(t).content, review).is_err() {
                    return;
                }
                if was_published && t != p.in_force {
                    let current = p.in_force;
                    p.rev_mut(current).state = RevisionState::Superseded;
                }
                let r = p.rev_mut(t);
                r.state = RevisionState::Published;
                r.was_published = true;
                p.in_force = t;
                if p.pending == Some(t) {
                    p.pending = None;
                }
                p.status = Status::Published;
                self.published.push(Publication { before, review, revs: p.revs.clone(), revision: t });
            }
            Step::Withdraw { by, picture } => {
                let Some(p) = self.pictures.get_mut(picture) else { return };
                if !approves(actor(by)) || p.status != Status::Published {
                    return;
                }
                if let Some(pending) = p.pending.take() {
                    p.rev_mut(pending).state = RevisionState::Rejected;
                }
                p.status = Status::Withdrawn;
            }
        }
    }
}

/// The rule, stated from the definition and independent of the decisions above: a
/// publication needs approval when review is required, its tier is `group_virt_ras` or
/// wider, or it loosens the TLP of the picture or of an indicator over what was in force
/// — unless it only narrows what was in force, which takes effect at once.
/// It then has an approver, a person, who wrote no revision after the last revision that
/// was approved or in force before it, and holds no key of a service account that did.
fn four_eyes_held(p: &Publication) -> Result<(), String> {
    let new = &p.revs[(p.revision - 1) as usize];
    // Loosened: the picture's TLP over what was in force, or an indicator's over any TLP it
    // had in a revision that was in force before (removing it and adding it back looser
    // is loosening too).
    let earlier_published = p.revs[..(p.revision - 1) as usize].iter().filter(|r| r.was_published);
    let loosened = p.before.as_ref().is_some_and(|old| tlp_rank(new.content.tlp) < tlp_rank(old.tlp))
        || earlier_published.into_iter().any(|r| {
            new.content.indicators.iter().any(|n| {
                r.content
                    .indicators
                    .iter()
                    .any(|o| o.value == n.value && o.type_ == n.type_ && tlp_rank(n.tlp) < tlp_rank(o.tlp))
            }) || new.content.attachments.iter().any(|n| {
                r.content.attachments.iter().any(|o| {
                    (o.id == n.id || crate::attachment::same_content(o, n)) && tlp_rank(n.tlp) < tlp_rank(o.tlp)
                })
            })
        });
    // A change that only narrows (same content, a narrower or equal tier, an equal or
    // stricter TLP, indicators kept or made stricter) takes effect at once, always.
    let only_narrows = p.before.as_ref().is_some_and(|old| {
        let mut same = new.content.clone();
        same.tier = old.tier;
        same.tlp = old.tlp;
        same.indicators.clone_from(&old.indicators);
        same.attachments.clone_from(&old.attachments);
        same == *old
            && tier_rank(new.content.tier) <= tier_rank(old.tier)
            && tlp_rank(new.content.tlp) >= tlp_rank(old.tlp)
            && new.content.indicators.iter().all(|n| {
                old.indicators
                    .iter()
                    .any(|o| o.value == n.value && o.type_ == n.type_ && tlp_rank(n.tlp) >= tlp_rank(o.tlp))
            })
            && new
                .content
                .attachments
                .iter()
                .all(|n| old.attachments.iter().any(|o| o.id == n.id && tlp_rank(n.tlp) >= tlp_rank(o.tlp)))
    });
    let needed =
        !only_narrows && (p.review || tier_rank(new.content.tier) >= tier_rank(Tier::GroupVirtRas) || loosened);
    if !needed {
        return Ok(());
    }
    let Some(approver) = new.approved_by else {
        return Err(format!("revision {} published without approval", p.revision));
    };
    if approver == Uuid::from_u128(SERVICE) {
        return Err("approved by a service account".into());
    }
    let last_checked = p.revs[..(p.revision - 1) as usize]
        .iter()
        .rev()
        .find(|r| r.approved_by.is_some() || r.was_published)
        .map_or(0, |r| r.n);
    for r in &p.revs[last_checked as usize..p.revision as usize] {
        if r.by == approver {
            return Err(format!("revision {} approved by {approver}, who wrote revision {}", p.revision, r.n));
        }
        if r.by == Uuid::from_u128(SERVICE) && approver == Uuid::from_u128(KEY_HOLDER) {
            return Err(format!("revision {} approved by the holder of a key that wrote revision {}", p.revision, r.n));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(4096),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_publication_that_needs_approval_has_a_second_persons(steps in proptest::collection::vec(step(), 1..60)) {
        let mut world = World::default();
        for (i, s) in steps.iter().enumerate() {
            world.apply(s);
            for p in &world.published {
                if let Err(why) = four_eyes_held(p) {
                    prop_assert!(false, "after step {i} ({s:?}): {why}");
                }
            }
        }
    }
}

#[test]
fn the_checker_catches_the_send_back_bypass() {
    // What the released code allowed: A writes, B "sends back" by writing an identical
    // revision, A approves the revision B wrote and publishes at `public`.
    let mut c = content(8);
    let r1 = Rev {
        n: 1,
        state: RevisionState::Superseded,
        content: c.clone(),
        by: actor(0).user,
        approved_by: None,
        was_published: false,
    };
    c.title.en = Some("same".into());
    let r2 = Rev {
        n: 2,
        state: RevisionState::Published,
        content: c,
        by: actor(1).user,
        approved_by: Some(actor(0).user),
        was_published: true,
    };
    let p = Publication { before: None, review: false, revs: vec![r1, r2], revision: 2 };
    assert!(four_eyes_held(&p).is_err());
}

#[test]
fn removing_an_indicator_and_adding_it_back_looser_needs_approval() {
    let mut world = World::default();
    for s in [
        Step::Create { by: 0, variant: 1 },
        Step::Publish { by: 0, picture: 0 },
        Step::Revise { by: 0, picture: 0, variant: Some(3) },
        Step::Revise { by: 0, picture: 0, variant: Some(0) },
    ] {
        world.apply(&s);
    }
    assert_eq!(world.published.len(), 2, "the removal is in force at once, the loosening is not");
    for p in &world.published {
        assert!(four_eyes_held(p).is_ok());
    }
}

#[test]
fn loosening_an_attachment_or_removing_it_and_adding_it_back_looser_needs_approval() {
    // Variant 10 attaches the file RED, 3 has no attachment, 12 attaches it AMBER: the
    // rest of the content is the same.
    let mut world = World::default();
    for s in [
        Step::Create { by: 0, variant: 10 },
        Step::Publish { by: 0, picture: 0 },
        Step::Revise { by: 0, picture: 0, variant: Some(0) },
        Step::Revise { by: 0, picture: 0, variant: Some(12) },
        Step::Revise { by: 0, picture: 0, variant: Some(11) },
    ] {
        world.apply(&s);
    }
    assert_eq!(world.published.len(), 2, "the removal is in force at once, the loosenings are not");
    for p in &world.published {
        four_eyes_held(p).unwrap();
    }
}
