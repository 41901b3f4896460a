use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use sitrep_types::{Domain, Reach, Status, Tier, Urgency};
use uuid::Uuid;

use super::*;

#[test]
fn addresses_are_checked_and_their_domain_lower_cased() {
    assert_eq!(EmailAddress::parse("email", "Duty.Desk@Example.ORG").unwrap().as_str(), "Duty.Desk@example.org");
    for bad in [
        "",
        "no-at",
        "a@b",
        "a b@example.org",
        "a@-x.org",
        "a@x..org",
        ".a@x.org",
        "a@x.org\r\nBcc: c@d.org",
        "ä@x.org",
    ] {
        assert!(EmailAddress::parse("email", bad).is_err(), "{bad:?}");
    }
}

#[test]
fn quiet_hours_over_midnight_hold_until_the_morning_in_the_persons_zone() {
    let q = QuietHours::parse("22:00", "07:00", "Europe/Helsinki").unwrap();
    // 23:30 in Helsinki in winter is 21:30 UTC; the window ends 07:00 local = 05:00 UTC.
    let now = Utc.with_ymd_and_hms(2027, 1, 10, 21, 30, 0).unwrap();
    assert_eq!(q.holds_until(now), Some(Utc.with_ymd_and_hms(2027, 1, 11, 5, 0, 0).unwrap()));
    // 12:00 local: not quiet.
    assert_eq!(q.holds_until(Utc.with_ymd_and_hms(2027, 1, 10, 10, 0, 0).unwrap()), None);
    // 03:00 local: ends the same morning.
    let early = Utc.with_ymd_and_hms(2027, 1, 10, 1, 0, 0).unwrap();
    assert_eq!(q.holds_until(early), Some(Utc.with_ymd_and_hms(2027, 1, 10, 5, 0, 0).unwrap()));
    assert!(QuietHours::parse("07:00", "07:00", "Europe/Helsinki").is_err());
    assert!(QuietHours::parse("7:00", "08:00", "Europe/Helsinki").is_err());
    assert!(QuietHours::parse("07:00", "08:00", "Mars/Olympus").is_err());
}

const ZONES: [&str; 5] = ["Europe/Helsinki", "UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"];

fn quiet() -> impl Strategy<Value = QuietHours> {
    (0u32..24, 0u32..4, 0u32..24, 0u32..4, 0usize..ZONES.len()).prop_filter_map(
        "empty window",
        |(h1, q1, h2, q2, z)| {
            QuietHours::parse(&format!("{h1:02}:{:02}", q1 * 15), &format!("{h2:02}:{:02}", q2 * 15), ZONES[z]).ok()
        },
    )
}

fn instant() -> impl Strategy<Value = chrono::DateTime<Utc>> {
    // Two years around now, to the minute: every DST change of the zones above.
    (0i64..2 * 366 * 24 * 60).prop_map(|m| Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(m))
}

proptest! {
    #[test]
    fn a_hold_ends_after_now_within_a_day_and_outside_the_window(q in quiet(), now in instant()) {
        match q.holds_until(now) {
            Some(until) => {
                prop_assert!(q.contains(now));
                prop_assert!(until > now);
                prop_assert!(until - now <= Duration::hours(26), "{now} → {until}");
                prop_assert!(!q.contains(until), "{now} → {until} is still quiet");
            }
            None => {
                // Not in the window, or a window whose end the clocks turned back over.
                let t = now.with_timezone(&q.time_zone).time();
                let inside = if q.start < q.end { q.start <= t && t < q.end } else { t >= q.start || t < q.end };
                prop_assert!(!inside || q.contains(now));
            }
        }
    }
}

const ORGS: usize = 4;

fn org(i: usize) -> Uuid {
    Uuid::from_u128(i as u128 + 1)
}

#[derive(Debug, Clone)]
struct Case {
    viewer: Viewer,
    originator: Uuid,
    status: Status,
    tier: Tier,
    named: Vec<Uuid>,
    event: MailedEvent,
    urgency: Urgency,
    domains: Vec<Domain>,
    election: Option<Uuid>,
    prefs: Preferences,
    now: chrono::DateTime<Utc>,
}

fn case() -> impl Strategy<Value = Case> {
    let viewer = (0..ORGS, prop::sample::select(Reach::ALL.to_vec()), any::<bool>(), any::<bool>()).prop_map(
        |(o, reach, reads_pictures, secretariat)| Viewer { organisation: org(o), reach, reads_pictures, secretariat },
    );
    let picture = (
        0..ORGS,
        prop::sample::select(Status::ALL.to_vec()),
        prop::sample::select(Tier::ALL.to_vec()),
        prop::collection::vec(0..ORGS, 0..3),
        prop::sample::select(vec![MailedEvent::Published, MailedEvent::Revised, MailedEvent::Withdrawn]),
        prop::sample::select(Urgency::ALL.to_vec()),
        prop::sample::subsequence(Domain::ALL.to_vec(), 1..=Domain::ALL.len()),
        prop::option::of(0u128..3),
    );
    let prefs = (
        any::<bool>(),
        prop::sample::subsequence(Urgency::ALL.to_vec(), 0..=Urgency::ALL.len()),
        prop::sample::subsequence(Domain::ALL.to_vec(), 0..=Domain::ALL.len()),
        prop::collection::vec(0u128..3, 0..2),
        prop::option::of(quiet()),
    )
        .prop_map(|(confirmed, urgencies, domains, elections, quiet_hours)| Preferences {
            confirmed,
            urgencies,
            domains,
            elections: elections.into_iter().map(Uuid::from_u128).collect(),
            quiet_hours,
        });
    (viewer, picture, prefs, instant()).prop_map(
        |(viewer, (o, status, tier, named, event, urgency, domains, election), prefs, now)| Case {
            viewer,
            originator: org(o),
            status,
            tier,
            named: named.into_iter().map(org).collect(),
            event,
            urgency,
            domains,
            election: election.map(Uuid::from_u128),
            prefs,
            now,
        },
    )
}

impl Case {
    fn about(&self) -> About<'_> {
        About {
            event: self.event,
            handling: Handling {
                originator: self.originator,
                status: self.status,
                tier: self.tier,
                named: &self.named,
            },
            urgency: self.urgency,
            domains: &self.domains,
            election: self.election,
        }
    }

    /// What the person asked for, written out independently of the rule.
    fn selected(&self) -> bool {
        let p = &self.prefs;
        p.urgencies.contains(&self.urgency)
            && (p.domains.is_empty() || p.domains.iter().any(|d| self.domains.contains(d)))
            && (p.elections.is_empty() || self.election.is_some_and(|e| p.elections.contains(&e)))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Nothing reaches a person who does not see the picture in full now, whose address
    /// is unconfirmed, whose organisation wrote it, or whose preferences leave it out;
    /// `immediate` is never held; everything else the person selected is sent, or held
    /// exactly while their quiet hours last.
    #[test]
    fn a_person_is_mailed_exactly_what_they_see_and_selected(c in case()) {
        let about = c.about();
        let decision = for_person(&c.viewer, &c.prefs, &about, c.now);
        let sees = sight(&c.viewer, &about.handling) == Sight::Full;
        let eligible = c.prefs.confirmed && sees && c.viewer.organisation != c.originator && c.selected();
        match decision {
            Mail::Send => {
                prop_assert!(eligible);
                prop_assert!(c.urgency == Urgency::Immediate || c.prefs.quiet_hours.is_none_or(|q| !q.contains(c.now)));
            }
            Mail::HoldUntil(until) => {
                prop_assert!(eligible);
                prop_assert!(c.urgency != Urgency::Immediate, "immediate held");
                prop_assert!(until > c.now);
                prop_assert!(c.prefs.quiet_hours.is_some_and(|q| q.contains(c.now)));
            }
            Mail::Skip(_) => prop_assert!(!eligible, "eligible but skipped: {decision:?}"),
        }
    }

    /// A duty address hears of `immediate` publications its organisation sees in full
    /// and did not write, once confirmed, and of nothing else.
    #[test]
    fn a_duty_address_is_mailed_only_immediate_publications_its_organisation_sees(c in case(), confirmed in any::<bool>()) {
        let org_viewer = Viewer { reads_pictures: true, secretariat: false, ..c.viewer };
        let about = c.about();
        let send = for_duty_address(&org_viewer, confirmed, &about) == Mail::Send;
        let expected = confirmed
            && sight(&org_viewer, &about.handling) == Sight::Full
            && org_viewer.organisation != c.originator
            && c.event == MailedEvent::Published
            && c.urgency == Urgency::Immediate;
        prop_assert_eq!(send, expected);
    }

    /// One membership that would mail is enough; none that sees the picture, nothing.
    #[test]
    fn a_person_with_several_memberships_is_mailed_if_one_of_them_would_be(
        cases in prop::collection::vec(case(), 1..4),
    ) {
        let base = &cases[0];
        let viewers: Vec<Viewer> = cases.iter().map(|c| c.viewer).collect();
        let about = base.about();
        let any = viewers.iter().any(|v| !matches!(for_person(v, &base.prefs, &about, base.now), Mail::Skip(_)));
        let decision = for_person_in_any(&viewers, &base.prefs, &about, base.now);
        prop_assert_eq!(!matches!(decision, Mail::Skip(_)), any);
    }
}

#[test]
fn immediate_is_sent_during_quiet_hours_and_routine_waits() {
    let named = [];
    let prefs = Preferences {
        confirmed: true,
        urgencies: Urgency::ALL.to_vec(),
        quiet_hours: Some(QuietHours::parse("00:00", "23:59", "UTC").unwrap()),
        ..Preferences::default()
    };
    let viewer = Viewer { organisation: org(1), reach: Reach::Member, reads_pictures: true, secretariat: false };
    let now = Utc.with_ymd_and_hms(2027, 4, 1, 12, 0, 0).unwrap();
    let about = |urgency| About {
        event: MailedEvent::Published,
        handling: Handling { originator: org(0), status: Status::Published, tier: Tier::Group, named: &named },
        urgency,
        domains: &[Domain::Cyber],
        election: None,
    };
    assert_eq!(for_person(&viewer, &prefs, &about(Urgency::Immediate), now), Mail::Send);
    assert_eq!(
        for_person(&viewer, &prefs, &about(Urgency::Routine), now),
        Mail::HoldUntil(Utc.with_ymd_and_hms(2027, 4, 1, 23, 59, 0).unwrap())
    );
    let unconfirmed = Preferences { confirmed: false, ..prefs };
    assert_eq!(for_person(&viewer, &unconfirmed, &about(Urgency::Immediate), now), Mail::Skip(Skip::Unconfirmed));
}

#[test]
fn only_clear_and_green_text_is_ever_mailed() {
    use sitrep_types::Tlp;
    assert!(text_may_be_mailed(Tlp::Clear) && text_may_be_mailed(Tlp::Green));
    assert!(!text_may_be_mailed(Tlp::Amber) && !text_may_be_mailed(Tlp::AmberStrict) && !text_may_be_mailed(Tlp::Red));
}
