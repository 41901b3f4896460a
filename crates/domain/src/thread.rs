//! Questions on a picture: who sees a thread, and who may open one or write in it.
//!
//! A thread is between the organisation that asks and the picture's originator. The two
//! parties read and write it while they see the picture in full; the secretariat oversees
//! every thread, reading the messages only where it sees the picture in full itself (a
//! thread is under the picture's TLP, so where the secretariat sees the picture as
//! metadata only it sees that the thread exists, its parties and times, and no message).
//! For anyone else a thread does not exist.

use chrono::{DateTime, Utc};
use sitrep_types::{Status, Urgency};
use uuid::Uuid;

use crate::notify::{Mail, Preferences, Skip};
use crate::visibility::{Handling, Sight, Viewer, sight};

/// How much of a thread a viewer sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadSight {
    /// The thread and its messages.
    Full,
    /// The thread's parties, times and number of messages (the secretariat, for a picture
    /// it sees as metadata only).
    Metadata,
    /// Nothing: for this viewer the thread does not exist.
    None,
}

/// Whether the viewer's organisation is a party to the thread `asking` opened on a picture.
pub fn party(v: &Viewer, h: &Handling<'_>, asking: Uuid) -> bool {
    v.organisation == h.originator || v.organisation == asking
}

/// How much of the thread that `asking` opened on the picture `h` the viewer sees now.
pub fn thread_sight(v: &Viewer, h: &Handling<'_>, asking: Uuid) -> ThreadSight {
    match sight(v, h) {
        Sight::None => ThreadSight::None,
        Sight::Full if party(v, h, asking) || v.secretariat => ThreadSight::Full,
        Sight::Full | Sight::Metadata if v.secretariat => ThreadSight::Metadata,
        Sight::Full | Sight::Metadata => ThreadSight::None,
    }
}

/// Why a viewer may not open a thread or write in one (it sees the thread, or the
/// picture, but may not write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The originator does not ask itself.
    OwnPicture,
    /// Only a published picture is asked about (not a withdrawn or closed one).
    NotPublished,
    /// The secretariat reads threads it is not a party to; it does not write in them.
    NotAParty,
}

/// Whether the viewer may open (or continue) its own organisation's thread on the
/// picture: it reads the picture in full, did not write it, and the picture is published.
/// `Ok(false)`: the picture does not exist for this viewer as one it may ask about (`404`).
pub fn may_ask(v: &Viewer, h: &Handling<'_>) -> Result<bool, Refused> {
    if !v.reads_pictures || sight(v, h) != Sight::Full {
        return Ok(false);
    }
    if v.organisation == h.originator {
        return Err(Refused::OwnPicture);
    }
    if h.status != Status::Published {
        return Err(Refused::NotPublished);
    }
    Ok(true)
}

/// Whether the viewer may write in the thread `asking` opened: a party that reads the
/// picture in full, while the picture is published. `Ok(false)`: the thread does not
/// exist for this viewer (`404`).
pub fn may_write(v: &Viewer, h: &Handling<'_>, asking: Uuid) -> Result<bool, Refused> {
    match thread_sight(v, h, asking) {
        ThreadSight::None => Ok(false),
        _ if !party(v, h, asking) || !v.reads_pictures => Err(Refused::NotAParty),
        ThreadSight::Metadata => Err(Refused::NotAParty),
        ThreadSight::Full if h.status != Status::Published => Err(Refused::NotPublished),
        ThreadSight::Full => Ok(true),
    }
}

/// The organisations a new message is for: the other party (the originator for a message
/// of the asking organisation, the asking organisation otherwise).
pub fn other_party(h: &Handling<'_>, asking: Uuid, writer: Uuid) -> Uuid {
    if writer == asking { h.originator } else { asking }
}

/// Whether a person is mailed a new message of the thread `asking` opened on a picture,
/// the message being for the party organisation `to`: the address is confirmed and one of
/// the person's memberships in force is of `to` and reads the thread in full now (so an
/// organisation that lost sight of the picture is told nothing). Quiet hours hold it
/// unless the picture is `immediate`. The person's urgency, domain and election filters
/// are for pictures, not for answers to their own organisation's question: they do not
/// apply.
pub fn mail_for_person(
    viewers: &[Viewer],
    to: Uuid,
    prefs: &Preferences,
    h: &Handling<'_>,
    asking: Uuid,
    urgency: Urgency,
    now: DateTime<Utc>,
) -> Mail {
    if !prefs.confirmed {
        return Mail::Skip(Skip::Unconfirmed);
    }
    let reads = viewers
        .iter()
        .any(|v| v.organisation == to && party(v, h, asking) && thread_sight(v, h, asking) == ThreadSight::Full);
    if !reads {
        return Mail::Skip(Skip::NotVisible);
    }
    if urgency != Urgency::Immediate
        && let Some(until) = prefs.quiet_hours.and_then(|q| q.holds_until(now))
    {
        return Mail::HoldUntil(until);
    }
    Mail::Send
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use sitrep_types::{Reach, Tier};

    use super::*;
    use crate::visibility::in_audience;

    fn orgs() -> [Uuid; 4] {
        [Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3), Uuid::from_u128(4)]
    }

    fn viewer() -> impl Strategy<Value = Viewer> {
        (
            0..4usize,
            prop_oneof![Just(Reach::Member), Just(Reach::Virt), Just(Reach::RasContactPoint)],
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(o, reach, reads_pictures, secretariat)| Viewer {
                organisation: orgs()[o],
                reach,
                reads_pictures,
                secretariat,
            })
    }

    fn status() -> impl Strategy<Value = Status> {
        prop_oneof![
            Just(Status::Draft),
            Just(Status::InReview),
            Just(Status::Published),
            Just(Status::Superseded),
            Just(Status::Withdrawn),
            Just(Status::Closed),
        ]
    }

    fn tier() -> impl Strategy<Value = Tier> {
        prop_oneof![
            Just(Tier::Named),
            Just(Tier::Group),
            Just(Tier::GroupVirt),
            Just(Tier::GroupVirtRas),
            Just(Tier::Public)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Written out independently of `thread_sight`: a party reads a thread while it
        /// reads the picture; the secretariat reads messages only where it reads the
        /// picture in full; everyone else learns nothing.
        #[test]
        fn a_thread_is_seen_by_its_parties_and_the_secretariat_only(
            v in viewer(),
            originator in 0..4usize,
            asking in 0..4usize,
            status in status(),
            tier in tier(),
            named in proptest::sample::subsequence(orgs().to_vec(), 0..4),
        ) {
            let (originator, asking) = (orgs()[originator], orgs()[asking]);
            let h = Handling { originator, status, tier, named: &named };
            let got = thread_sight(&v, &h, asking);
            let is_party = v.organisation == originator || v.organisation == asking;
            let drafted = matches!(status, Status::Draft | Status::InReview);
            let reads_picture = v.reads_pictures
                && (v.organisation == originator || (!drafted && in_audience(&v, originator, tier, &named)));
            let expected = if reads_picture && (is_party || v.secretariat) {
                ThreadSight::Full
            } else if v.secretariat && !drafted {
                ThreadSight::Metadata
            } else {
                ThreadSight::None
            };
            prop_assert_eq!(got, expected);
            // A third organisation never learns a thread exists.
            if !is_party && !v.secretariat {
                prop_assert_eq!(got, ThreadSight::None);
            }
            // Writing: only a party that reads the picture, while it is published.
            let writes = may_write(&v, &h, asking) == Ok(true);
            prop_assert_eq!(writes, is_party && reads_picture && status == Status::Published);
            // A refusal (rather than 404) only to whom the thread exists.
            if may_write(&v, &h, asking).is_err() {
                prop_assert_ne!(got, ThreadSight::None);
            }
            // Asking: a reader of the published picture that did not write it.
            let asks = may_ask(&v, &h) == Ok(true);
            prop_assert_eq!(asks, reads_picture && v.organisation != originator && status == Status::Published);
            if may_ask(&v, &h).is_err() {
                prop_assert!(reads_picture);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Mail about a thread goes only to a person of the organisation it is for, who
        /// reads the thread now; `immediate` is never held.
        #[test]
        fn thread_mail_reaches_only_a_party_that_reads_the_thread(
            viewers in proptest::collection::vec(viewer(), 0..3),
            to in 0..4usize,
            originator in 0..4usize,
            asking in 0..4usize,
            status in status(),
            tier in tier(),
            named in proptest::sample::subsequence(orgs().to_vec(), 0..4),
            confirmed in any::<bool>(),
            quiet in any::<bool>(),
            immediate in any::<bool>(),
        ) {
            let (to, originator, asking) = (orgs()[to], orgs()[originator], orgs()[asking]);
            let h = Handling { originator, status, tier, named: &named };
            let now = DateTime::parse_from_rfc3339("2027-04-18T22:30:00Z").unwrap().with_timezone(&Utc);
            let prefs = Preferences {
                confirmed,
                quiet_hours: quiet.then(|| crate::notify::QuietHours::parse("22:00", "07:00", "UTC").unwrap()),
                ..Preferences::default()
            };
            let urgency = if immediate { Urgency::Immediate } else { Urgency::Routine };
            let got = mail_for_person(&viewers, to, &prefs, &h, asking, urgency, now);
            let reads = viewers.iter().any(|v| {
                v.organisation == to
                    && (to == originator || to == asking)
                    && thread_sight(v, &h, asking) == ThreadSight::Full
            });
            match got {
                Mail::Send => prop_assert!(confirmed && reads && (immediate || !quiet)),
                Mail::HoldUntil(_) => prop_assert!(confirmed && reads && quiet && !immediate),
                Mail::Skip(_) => prop_assert!(!confirmed || !reads),
            }
        }
    }

    #[test]
    fn the_other_party_of_a_message_is_the_side_that_did_not_write_it() {
        let [a, b, ..] = orgs();
        let h = Handling { originator: a, status: Status::Published, tier: Tier::Group, named: &[] };
        assert_eq!(other_party(&h, b, b), a);
        assert_eq!(other_party(&h, b, a), b);
    }
}
