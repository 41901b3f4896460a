//! The counts behind a report's charts (docs/reports.md, "Charts"): the included pictures
//! by domain and severity over the report's window, in hours for a window of up to two
//! days and in the deployment's local days otherwise, and acknowledgement progress per
//! recipient organisation. Pure: the caller passes only what the reader may see.
//!
//! Also the board's summary (docs/console.md, "Timeline"): the columns of its timeline
//! (local days, or the windows of an election's calendar) and the counts the database
//! grouped by local day, put into them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use sitrep_types::{AreaCounts, Domain, DomainWindowCounts, ElectionPhases, Severity, SeverityCounts, SummaryWindow};
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

/// The longest window of days the board's summary counts.
pub const SUMMARY_MAX_DAYS: i64 = 92;

/// One column for each local day from `from` to `to` (inclusive), keyed by the day.
pub fn day_windows(from: NaiveDate, to: NaiveDate) -> Vec<SummaryWindow> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .map(|d| SummaryWindow { key: d.to_string(), from: Some(d), to: Some(d) })
        .collect()
}

/// The windows of an election's calendar: before the voting register is in force; the
/// register in force before advance voting (at home or abroad, whichever starts first);
/// advance voting; the days after it (whichever ends last) before the election day; the
/// election day; after it. A window of no days is left out, so the windows follow each
/// other without a gap and the first and last are open.
pub fn phase_windows(p: &ElectionPhases) -> Vec<SummaryWindow> {
    let prev = |d: NaiveDate| d.pred_opt().unwrap_or(d);
    let next = |d: NaiveDate| d.succ_opt().unwrap_or(d);
    let advance_from = p.advance_voting_domestic_from.min(p.advance_voting_abroad_from);
    let advance_to = p.advance_voting_domestic_to.max(p.advance_voting_abroad_to);
    let w = |key: &str, from: Option<NaiveDate>, to: Option<NaiveDate>| SummaryWindow { key: key.to_owned(), from, to };
    [
        w("before_register", None, Some(prev(p.voting_register_in_force))),
        w("register", Some(p.voting_register_in_force), Some(prev(advance_from))),
        w("advance_voting", Some(advance_from), Some(advance_to)),
        w("before_day", Some(next(advance_to)), Some(prev(p.election_day))),
        w("election_day", Some(p.election_day), Some(p.election_day)),
        w("after", Some(next(p.election_day)), None),
    ]
    .into_iter()
    .filter(|w| match (w.from, w.to) {
        (Some(f), Some(t)) => f <= t,
        _ => true,
    })
    .collect()
}

/// The window `day` falls in, if any.
pub fn window_of(windows: &[SummaryWindow], day: NaiveDate) -> Option<usize> {
    windows.iter().position(|w| w.from.is_none_or(|f| f <= day) && w.to.is_none_or(|t| day <= t))
}

/// The first and last days the windows cover (absent: open).
pub fn span(windows: &[SummaryWindow]) -> (Option<NaiveDate>, Option<NaiveDate>) {
    (windows.first().and_then(|w| w.from), windows.last().and_then(|w| w.to))
}

/// The number of pictures of `domain` and `severity` published on the local `day`, as
/// the database groups them.
#[derive(Debug, Clone)]
pub struct DayCount {
    pub domain: Domain,
    pub day: NaiveDate,
    pub severity: Severity,
    pub n: u32,
}

/// The number of pictures of `severity` naming the area code `area` (absent: none).
#[derive(Debug, Clone)]
pub struct AreaCount {
    pub area: Option<String>,
    pub severity: Severity,
    pub n: u32,
}

/// The day counts put into their windows (a day in no window is not counted), in the
/// order of the domains and then of the windows; only cells with pictures.
pub fn by_window(windows: &[SummaryWindow], days: &[DayCount]) -> Vec<DomainWindowCounts> {
    let mut cells: BTreeMap<(Domain, usize), SeverityCounts> = BTreeMap::new();
    for c in days {
        if let Some(i) = window_of(windows, c.day) {
            cells.entry((c.domain, i)).or_default().add(c.severity, c.n);
        }
    }
    cells
        .into_iter()
        .filter(|(_, counts)| counts.total() > 0)
        .map(|((domain, i), counts)| DomainWindowCounts { domain, window: windows[i].key.clone(), counts })
        .collect()
}

/// The area counts by code: most pictures first, then by code; the pictures naming no
/// code (national) last.
pub fn by_area(areas: &[AreaCount]) -> Vec<AreaCounts> {
    let mut rows: BTreeMap<Option<String>, SeverityCounts> = BTreeMap::new();
    for a in areas {
        rows.entry(a.area.clone()).or_default().add(a.severity, a.n);
    }
    let mut out: Vec<AreaCounts> = rows
        .into_iter()
        .filter(|(_, counts)| counts.total() > 0)
        .map(|(area, counts)| AreaCounts { area, counts })
        .collect();
    out.sort_by(|a, b| {
        a.area.is_none().cmp(&b.area.is_none()).then(b.counts.total().cmp(&a.counts.total())).then(a.area.cmp(&b.area))
    });
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

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn an_elections_windows_follow_each_other_without_a_gap() {
        let w = phase_windows(&crate::election::phases(day("2027-04-18")));
        let keys: Vec<&str> = w.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(keys, ["before_register", "register", "advance_voting", "before_day", "election_day", "after"]);
        // The register is in force from day -12, advance voting from -11 to -5 (abroad to -8).
        assert_eq!((w[1].from, w[1].to), (Some(day("2027-04-06")), Some(day("2027-04-06"))));
        assert_eq!((w[2].from, w[2].to), (Some(day("2027-04-07")), Some(day("2027-04-13"))));
        for pair in w.windows(2) {
            assert_eq!(pair[0].to.unwrap().succ_opt(), pair[1].from, "{pair:?}");
        }
        assert_eq!(span(&w), (None, None));
        assert_eq!(window_of(&w, day("2000-01-01")), Some(0));
        assert_eq!(window_of(&w, day("2027-04-18")), Some(4));
        assert_eq!(window_of(&w, day("2099-01-01")), Some(5));
    }

    #[test]
    fn days_are_their_own_windows_and_a_day_outside_is_not_counted() {
        let w = day_windows(day("2026-11-30"), day("2026-12-02"));
        assert_eq!(w.iter().map(|w| w.key.as_str()).collect::<Vec<_>>(), ["2026-11-30", "2026-12-01", "2026-12-02"]);
        let c = |d: &str, domain, severity, n| DayCount { domain, day: day(d), severity, n };
        let cells = by_window(
            &w,
            &[
                c("2026-12-01", Domain::Cyber, Severity::High, 2),
                c("2026-12-01", Domain::Cyber, Severity::Low, 1),
                c("2026-12-03", Domain::Cyber, Severity::High, 5),
                c("2026-11-30", Domain::Hybrid, Severity::Low, 0),
            ],
        );
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].window, "2026-12-01");
        assert_eq!(cells[0].counts, SeverityCounts { low: 1, medium: 0, high: 2, critical: 0 });
    }

    #[test]
    fn areas_come_most_first_and_national_last() {
        let a = |area: Option<&str>, severity, n| AreaCount { area: area.map(str::to_owned), severity, n };
        let rows = by_area(&[
            a(None, Severity::Critical, 9),
            a(Some("FI-VP-10"), Severity::Low, 1),
            a(Some("FI-KU-091"), Severity::High, 2),
            a(Some("FI-VP-01"), Severity::Low, 1),
            a(Some("FI-VP-01"), Severity::Medium, 1),
        ]);
        let order: Vec<Option<&str>> = rows.iter().map(|r| r.area.as_deref()).collect();
        assert_eq!(order, [Some("FI-KU-091"), Some("FI-VP-01"), Some("FI-VP-10"), None]);
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
