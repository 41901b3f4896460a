//! The counts behind a report's charts (docs/reports.md, "Charts"): the included pictures
//! by domain and severity over the report's window, in hours for a window of up to two
//! days and in the deployment's local days otherwise, and acknowledgement progress per
//! recipient organisation. Pure: the caller passes only what the reader may see.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use sitrep_types::{Domain, Severity};
use uuid::Uuid;

/// The longest window counted by the hour.
pub const HOURLY_UP_TO: Duration = Duration::hours(48);
/// The most bars a chart has: a longer window is cut at its end.
pub const MAX_BUCKETS: usize = 62;

/// How a window is cut into bars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Buckets {
    /// Whole hours (UTC hours, labelled in local time) from `start`.
    Hours { start: DateTime<Utc>, count: usize },
    /// Local days from `start`.
    Days { start: NaiveDate, count: usize },
}

/// The bars of the window `from`..`to` (`from` < `to`) in time zone `tz`.
pub fn buckets(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> Buckets {
    if to - from <= HOURLY_UP_TO {
        let start =
            from.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap_or(from);
        let hours = (to - start).num_hours() + i64::from((to - start).num_seconds() % 3600 != 0);
        Buckets::Hours { start, count: usize::try_from(hours.max(1)).unwrap_or(1).min(MAX_BUCKETS) }
    } else {
        let start = from.with_timezone(&tz).date_naive();
        let end = to.with_timezone(&tz).date_naive();
        let days = (end - start).num_days() + 1;
        Buckets::Days { start, count: usize::try_from(days.max(1)).unwrap_or(1).min(MAX_BUCKETS) }
    }
}

impl Buckets {
    pub fn count(&self) -> usize {
        match self {
            Buckets::Hours { count, .. } | Buckets::Days { count, .. } => *count,
        }
    }

    /// The bar `t` falls in, if any.
    pub fn index(&self, t: DateTime<Utc>, tz: Tz) -> Option<usize> {
        let i = match self {
            Buckets::Hours { start, .. } => {
                if t < *start {
                    return None;
                }
                (t - *start).num_hours()
            }
            Buckets::Days { start, .. } => (t.with_timezone(&tz).date_naive() - *start).num_days(),
        };
        usize::try_from(i).ok().filter(|i| *i < self.count())
    }

    /// The label of each bar: `14:00` (with the date at midnight and on the first bar) or
    /// `5.12.`.
    pub fn labels(&self, tz: Tz) -> Vec<String> {
        (0..self.count())
            .map(|i| match self {
                Buckets::Hours { start, .. } => {
                    let local = tz.from_utc_datetime(&(*start + Duration::hours(i as i64)).naive_utc());
                    if i == 0 || local.hour() == 0 { local.format("%-d.%-m. %H:00") } else { local.format("%H:00") }
                        .to_string()
                }
                Buckets::Days { start, .. } => (*start + Duration::days(i as i64)).format("%-d.%-m.").to_string(),
            })
            .collect()
    }
}

/// One included picture as the charts count it.
#[derive(Debug, Clone)]
pub struct Counted {
    pub published_at: DateTime<Utc>,
    pub domains: Vec<Domain>,
    pub severity: Severity,
}

/// Per domain, per severity: the count of pictures in each bar. A picture counts once in
/// each of its domains, in the bar of its publication; one published outside the window
/// is not counted. Only domains and severities that occur are present.
pub fn by_domain_and_severity(
    items: &[Counted],
    buckets: &Buckets,
    tz: Tz,
) -> BTreeMap<Domain, BTreeMap<Severity, Vec<u32>>> {
    let mut out: BTreeMap<Domain, BTreeMap<Severity, Vec<u32>>> = BTreeMap::new();
    for item in items {
        let Some(i) = buckets.index(item.published_at, tz) else { continue };
        let mut domains = item.domains.clone();
        domains.sort();
        domains.dedup();
        for d in domains {
            let series = out.entry(d).or_default().entry(item.severity).or_insert_with(|| vec![0; buckets.count()]);
            series[i] += 1;
        }
    }
    out
}

/// One included picture's acknowledgements as the reader may know them: the recipient
/// organisations and whether each has acknowledged.
#[derive(Debug, Clone)]
pub struct AckState {
    pub recipients: Vec<(Uuid, bool)>,
}

/// Per recipient organisation: (acknowledged, pictures it was asked to acknowledge).
pub fn ack_progress(items: &[AckState]) -> BTreeMap<Uuid, (u32, u32)> {
    let mut out: BTreeMap<Uuid, (u32, u32)> = BTreeMap::new();
    for item in items {
        let mut seen = std::collections::BTreeSet::new();
        for (org, done) in &item.recipients {
            if !seen.insert(*org) {
                continue;
            }
            let e = out.entry(*org).or_default();
            e.1 += 1;
            e.0 += u32::from(*done);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TZ: Tz = chrono_tz::Europe::Helsinki;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn two_days_are_counted_by_the_hour_and_a_week_by_local_day() {
        let b = buckets(at("2026-12-05T10:30:00Z"), at("2026-12-06T10:30:00Z"), TZ);
        assert_eq!(b, Buckets::Hours { start: at("2026-12-05T10:00:00Z"), count: 25 });
        assert_eq!(b.labels(TZ)[0], "5.12. 12:00");
        assert_eq!(b.index(at("2026-12-05T10:59:59Z"), TZ), Some(0));
        assert_eq!(b.index(at("2026-12-05T09:59:59Z"), TZ), None);
        // 23:30 UTC on the 1st is already the 2nd in Helsinki.
        let w = buckets(at("2026-12-01T00:00:00Z"), at("2026-12-07T12:00:00Z"), TZ);
        assert_eq!(w.count(), 7);
        assert_eq!(w.index(at("2026-12-01T23:30:00Z"), TZ), Some(1));
        assert_eq!(w.labels(TZ)[6], "7.12.");
    }

    #[test]
    fn acknowledgements_count_once_per_picture_and_organisation() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let p = ack_progress(&[
            AckState { recipients: vec![(a, true), (b, false), (a, true)] },
            AckState { recipients: vec![(a, false)] },
        ]);
        assert_eq!(p[&a], (1, 2));
        assert_eq!(p[&b], (0, 1));
    }

    fn domain() -> impl Strategy<Value = Domain> {
        prop::sample::select(vec![Domain::InformationInfluence, Domain::Hybrid, Domain::Cyber])
    }

    fn severity() -> impl Strategy<Value = Severity> {
        prop::sample::select(vec![Severity::Low, Severity::Medium, Severity::High, Severity::Critical])
    }

    proptest! {
        /// Every picture published in the window is counted exactly once in each of its
        /// domains, in a bar that holds its publication; none outside the window is.
        #[test]
        fn each_picture_in_the_window_counts_once_per_domain(
            span_hours in 1i64..24 * 40,
            items in prop::collection::vec((-100i64..24 * 45, prop::collection::vec(domain(), 1..3), severity()), 0..40),
        ) {
            let from = at("2026-11-01T06:15:00Z");
            let to = from + Duration::hours(span_hours);
            let b = buckets(from, to, TZ);
            let counted: Vec<Counted> = items.iter().map(|(h, d, s)| Counted {
                published_at: from + Duration::hours(*h) + Duration::minutes(7), domains: d.clone(), severity: *s,
            }).collect();
            let charts = by_domain_and_severity(&counted, &b, TZ);
            for d in [Domain::InformationInfluence, Domain::Hybrid, Domain::Cyber] {
                let expected = counted.iter()
                    .filter(|c| c.domains.contains(&d) && b.index(c.published_at, TZ).is_some())
                    .map(|_| 1u32)
                    .sum::<u32>();
                let got: u32 = charts.get(&d).map_or(0, |s| s.values().flatten().sum());
                prop_assert_eq!(got, expected, "{:?}", d);
            }
            // A picture inside the window always has a bar.
            for c in &counted {
                if c.published_at >= from && c.published_at < to && b.count() < MAX_BUCKETS {
                    prop_assert!(b.index(c.published_at, TZ).is_some(), "{} not counted", c.published_at);
                }
            }
        }
    }
}
