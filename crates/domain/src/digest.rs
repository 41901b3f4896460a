//! Digests: when a person's digest falls due, and which pictures it lists.
//!
//! A person who asks for a digest names a local time (`07:00`, `Europe/Helsinki`): one
//! message a day then. On the election day of an election that asks for it, digests fall
//! due every hour on the hour too (local time). Hourly moments inside the person's quiet
//! hours are skipped; the next one covers their window. The daily moment is never skipped:
//! the person chose it.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use sitrep_types::Domain;
use uuid::Uuid;

use crate::notify::QuietHours;
use crate::validation::Invalid;
use crate::visibility::{Handling, Sight, Viewer, sight};

/// A person's daily digest: the local time and zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestSchedule {
    pub at: NaiveTime,
    pub time_zone: Tz,
}

impl DigestSchedule {
    /// `at` as `HH:MM` (24-hour), `time_zone` an IANA name.
    pub fn parse(at: &str, time_zone: &str) -> Result<DigestSchedule, Invalid> {
        let ok = at.len() == 5 && at.as_bytes().get(2) == Some(&b':');
        let at = ok
            .then(|| NaiveTime::parse_from_str(at, "%H:%M").ok())
            .flatten()
            .ok_or_else(|| Invalid::new("digest.at", "invalid_time", "a time of day as HH:MM"))?;
        let time_zone = time_zone.parse::<Tz>().map_err(|_| {
            Invalid::new("digest.time_zone", "unknown_time_zone", "an IANA time zone such as Europe/Helsinki")
        })?;
        Ok(DigestSchedule { at, time_zone })
    }
}

/// The UTC moment of local `date` `time` in `tz`; where that local time does not exist
/// (clocks go forward over it), the first moment after the gap.
fn moment(tz: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let local: NaiveDateTime = date.and_time(time);
    (0..=4)
        .find_map(|h| tz.from_local_datetime(&(local + Duration::minutes(30 * h))).earliest())
        .map(|t| t.with_timezone(&Utc))
}

/// The latest moment at or before `now` at which the person's digest falls due: the
/// daily moment, or on one of `hourly_days` (local dates) an hour on the hour outside the
/// person's quiet hours.
pub fn latest_due(
    s: &DigestSchedule,
    hourly_days: &[NaiveDate],
    quiet: Option<&QuietHours>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let today = now.with_timezone(&s.time_zone).date_naive();
    let mut best: Option<DateTime<Utc>> = None;
    let mut consider = |m: Option<DateTime<Utc>>| {
        if let Some(m) = m.filter(|m| *m <= now)
            && best.is_none_or(|b| m > b)
        {
            best = Some(m);
        }
    };
    for day in [today.pred_opt(), Some(today)].into_iter().flatten() {
        consider(moment(s.time_zone, day, s.at));
        if hourly_days.contains(&day) {
            for hour in 0..24 {
                let m = NaiveTime::from_hms_opt(hour, 0, 0).and_then(|t| moment(s.time_zone, day, t));
                if m.is_some_and(|m| !quiet.is_some_and(|q| q.contains(m))) {
                    consider(m);
                }
            }
        }
    }
    best
}

/// Whether a picture belongs in a person's digest: one of their memberships in force
/// sees it in full now and did not write it, and their domains and elections select it
/// (urgencies choose what is mailed at once; a digest lists every urgency).
pub fn in_digest(
    viewers: &[Viewer],
    h: &Handling<'_>,
    domains: &[Domain],
    election: Option<Uuid>,
    chosen: &Chosen,
) -> bool {
    let sees = viewers.iter().any(|v| sight(v, h) == Sight::Full && v.organisation != h.originator);
    sees && (chosen.domains.is_empty() || chosen.domains.iter().any(|d| domains.contains(d)))
        && (chosen.elections.is_empty() || election.is_some_and(|e| chosen.elections.contains(&e)))
}

/// The domains and elections a person chose (empty: all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chosen {
    pub domains: Vec<Domain>,
    pub elections: Vec<Uuid>,
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;
    use proptest::prelude::*;

    use super::*;

    fn zone() -> impl Strategy<Value = Tz> {
        prop_oneof![Just(chrono_tz::Europe::Helsinki), Just(chrono_tz::UTC), Just(chrono_tz::America::New_York)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// The moment is never in the future, a daily digest is never more than a day
        /// (and a DST hour) old, on an hourly day never more than an hour old unless quiet
        /// hours hold, and it lies on the person's time or on the hour.
        #[test]
        fn a_digest_falls_due_at_the_chosen_time_or_on_the_hour_of_an_hourly_day(
            secs in 1_700_000_000i64..1_900_000_000,
            h in 0u32..24, m in 0u32..60,
            tz in zone(),
            hourly in any::<bool>(),
            quiet in any::<bool>(),
        ) {
            let now = DateTime::from_timestamp(secs, 0).unwrap();
            let s = DigestSchedule { at: NaiveTime::from_hms_opt(h, m, 0).unwrap(), time_zone: tz };
            let today = now.with_timezone(&tz).date_naive();
            let days = if hourly { vec![today] } else { vec![] };
            let q = QuietHours::parse("22:00", "07:00", tz.name()).unwrap();
            let quiet = quiet.then_some(&q);
            let due = latest_due(&s, &days, quiet, now).expect("a moment within two days");
            prop_assert!(due <= now);
            prop_assert!(now - due <= Duration::hours(25), "{due} for {now}");
            let local = due.with_timezone(&tz);
            let on_time = (local.hour(), local.minute()) == (h, m) || local.minute() == m;
            let on_hour = local.minute() == 0 && days.contains(&local.date_naive());
            prop_assert!(on_time || on_hour || tz.from_local_datetime(&local.date_naive().and_time(s.at)).earliest().is_none());
            if hourly && quiet.is_none() {
                prop_assert!(now - due < Duration::hours(1) + Duration::minutes(1), "{due} for {now} on an hourly day");
            }
            if let Some(q) = quiet
                && on_hour
                && (local.hour(), local.minute()) != (h, m)
            {
                prop_assert!(!q.contains(due), "an hourly digest inside quiet hours");
            }
        }
    }

    #[test]
    fn the_daily_moment_is_local_time_across_a_daylight_saving_change() {
        let s = DigestSchedule::parse("07:00", "Europe/Helsinki").unwrap();
        // 2027-03-28: clocks go forward at 03:00 local; 07:00 EEST is 04:00 UTC.
        let now = DateTime::parse_from_rfc3339("2027-03-28T05:00:00Z").unwrap().with_timezone(&Utc);
        let due = latest_due(&s, &[], None, now).unwrap();
        assert_eq!(due.to_rfc3339(), "2027-03-28T04:00:00+00:00");
        // The day before, 07:00 EET was 05:00 UTC.
        let before = DateTime::parse_from_rfc3339("2027-03-28T03:59:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(latest_due(&s, &[], None, before).unwrap().to_rfc3339(), "2027-03-27T05:00:00+00:00");
        assert!(DigestSchedule::parse("7:00", "Europe/Helsinki").is_err());
        assert!(DigestSchedule::parse("07:00", "Mars/Olympus").is_err());
    }

    #[test]
    fn on_an_hourly_election_day_the_digest_falls_due_every_hour_outside_quiet_hours() {
        let s = DigestSchedule::parse("07:00", "Europe/Helsinki").unwrap();
        let day = NaiveDate::from_ymd_opt(2027, 4, 18).unwrap();
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        // 14:20 local (11:20 UTC): the 14:00 digest.
        assert_eq!(latest_due(&s, &[day], None, at("2027-04-18T11:20:00Z")), Some(at("2027-04-18T11:00:00Z")));
        assert_eq!(latest_due(&s, &[], None, at("2027-04-18T11:20:00Z")), Some(at("2027-04-18T04:00:00Z")));
        // 23:30 local inside quiet hours 22–07: the 21:00 digest stands.
        let q = QuietHours::parse("22:00", "07:00", "Europe/Helsinki").unwrap();
        assert_eq!(latest_due(&s, &[day], Some(&q), at("2027-04-18T20:30:00Z")), Some(at("2027-04-18T18:00:00Z")));
    }
}
