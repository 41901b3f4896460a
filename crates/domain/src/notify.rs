//! Who an event is e-mailed to, and when (docs/notifications.md): a person's preferences
//! (urgencies, domains, elections, quiet hours in their time zone, a confirmed address),
//! an organisation's duty addresses, and the one decision the e-mail worker makes for
//! each (event, recipient) at the moment of sending, with `sight` as it stands then.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use sitrep_types::{Domain, Tlp, Urgency};
use uuid::Uuid;

use crate::validation::Invalid;
use crate::visibility::{Handling, Sight, Viewer, sight, tlp_rank};

/// An e-mail address as a person or an administrator typed it, checked at the edge:
/// `local@domain`, ASCII, no spaces or control characters, at most 254 characters, a
/// domain of dot-separated labels (letters, digits, hyphens). Stored lower-cased in the
/// domain part only (the local part is the receiving server's business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(field: &str, value: &str) -> Result<EmailAddress, Invalid> {
        let bad = || Invalid::new(field, "invalid_email", "an e-mail address such as name@example.org");
        if value.len() > 254 || !value.is_ascii() {
            return Err(bad());
        }
        let (local, domain) = value.rsplit_once('@').ok_or_else(bad)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !local_ok || !domain_ok {
            return Err(bad());
        }
        Ok(EmailAddress(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Quiet hours: a daily window in the person's time zone in which only `immediate`
/// pictures are mailed; the rest waits for the window's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub time_zone: Tz,
}

impl QuietHours {
    /// `start` and `end` as `HH:MM` (24-hour), `time_zone` an IANA name such as
    /// `Europe/Helsinki`. A window that ends where it starts is refused.
    pub fn parse(start: &str, end: &str, time_zone: &str) -> Result<QuietHours, Invalid> {
        let time = |field: &str, v: &str| {
            let ok = v.len() == 5 && v.as_bytes().get(2) == Some(&b':');
            ok.then(|| NaiveTime::parse_from_str(v, "%H:%M").ok())
                .flatten()
                .ok_or_else(|| Invalid::new(field, "invalid_time", "a time of day as HH:MM"))
        };
        let start = time("quiet_hours.start", start)?;
        let end = time("quiet_hours.end", end)?;
        if start == end {
            return Err(Invalid::new("quiet_hours.end", "empty_window", "must differ from start"));
        }
        let time_zone = time_zone.parse::<Tz>().map_err(|_| {
            Invalid::new("quiet_hours.time_zone", "unknown_time_zone", "an IANA time zone such as Europe/Helsinki")
        })?;
        Ok(QuietHours { start, end, time_zone })
    }

    /// Whether `now` falls in the window (in the person's local time).
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        let t = now.with_timezone(&self.time_zone).time();
        if self.start < self.end { self.start <= t && t < self.end } else { t >= self.start || t < self.end }
    }

    /// When `now` is in the window: the moment it ends (UTC); otherwise `None`. Where the
    /// local end time does not exist that day (clocks go forward over it), the first
    /// moment after the gap.
    pub fn holds_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.contains(now) {
            return None;
        }
        let local = now.with_timezone(&self.time_zone);
        let mut date = local.date_naive();
        if self.start > self.end && local.time() >= self.start {
            date = date.succ_opt()?;
        }
        let end = date.and_time(self.end);
        let at =
            (0..=3).find_map(|h| self.time_zone.from_local_datetime(&(end + Duration::minutes(30 * h))).earliest())?;
        let at = at.with_timezone(&Utc);
        // Clocks turned back over the end: the first end already passed; never hold for
        // nothing.
        if at <= now { None } else { Some(at) }
    }
}

/// What a person asked to receive by e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    /// A confirmed address exists; nothing is ever mailed to an unconfirmed one.
    pub confirmed: bool,
    /// Urgencies mailed; empty: none (e-mail off).
    pub urgencies: Vec<Urgency>,
    /// Domains mailed; empty: all.
    pub domains: Vec<Domain>,
    /// Elections mailed; empty: all (also pictures of no election).
    pub elections: Vec<Uuid>,
    pub quiet_hours: Option<QuietHours>,
}

impl Default for Preferences {
    /// Before a person says anything: `immediate` only, all domains and elections, no
    /// quiet hours, and no confirmed address (so nothing is sent).
    fn default() -> Self {
        Preferences {
            confirmed: false,
            urgencies: vec![Urgency::Immediate],
            domains: Vec::new(),
            elections: Vec::new(),
            quiet_hours: None,
        }
    }
}

/// The events that are mailed; the others (recalls, acknowledgements) are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailedEvent {
    Published,
    Revised,
    Withdrawn,
}

impl MailedEvent {
    /// The event type of the outbox, if it is one that is mailed.
    pub fn of(event_type: &str) -> Option<MailedEvent> {
        match event_type {
            "picture.published" => Some(MailedEvent::Published),
            "picture.revised" => Some(MailedEvent::Revised),
            "picture.withdrawn" => Some(MailedEvent::Withdrawn),
            _ => None,
        }
    }
}

/// What an event is about, as the picture stands at the moment of sending.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    pub event: MailedEvent,
    pub handling: Handling<'a>,
    pub urgency: Urgency,
    pub domains: &'a [Domain],
    pub election: Option<Uuid>,
}

/// Why a recipient gets nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The address is not confirmed.
    Unconfirmed,
    /// The recipient does not see the picture in full now (or never did).
    NotVisible,
    /// The originating organisation is not told about its own pictures.
    OwnPicture,
    /// The person's urgencies, domains or elections leave it out.
    Filtered,
    /// Duty addresses receive `immediate` publications only.
    NotForDuty,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Unconfirmed => "unconfirmed",
            Skip::NotVisible => "not_visible",
            Skip::OwnPicture => "own_picture",
            Skip::Filtered => "filtered",
            Skip::NotForDuty => "not_for_duty",
        }
    }
}

/// The decision for one (event, recipient).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mail {
    Send,
    /// Quiet hours: send at this moment (decided again then).
    HoldUntil(DateTime<Utc>),
    Skip(Skip),
}

/// For a person acting through `viewer` (one membership in force): mailed only when the
/// address is confirmed, the viewer sees the picture in full now and is not its
/// originator, and the preferences select it; held over quiet hours unless `immediate`.
pub fn for_person(viewer: &Viewer, prefs: &Preferences, about: &About<'_>, now: DateTime<Utc>) -> Mail {
    if !prefs.confirmed {
        return Mail::Skip(Skip::Unconfirmed);
    }
    if sight(viewer, &about.handling) != Sight::Full {
        return Mail::Skip(Skip::NotVisible);
    }
    if viewer.organisation == about.handling.originator {
        return Mail::Skip(Skip::OwnPicture);
    }
    let selected = prefs.urgencies.contains(&about.urgency)
        && (prefs.domains.is_empty() || prefs.domains.iter().any(|d| about.domains.contains(d)))
        && (prefs.elections.is_empty() || about.election.is_some_and(|e| prefs.elections.contains(&e)));
    if !selected {
        return Mail::Skip(Skip::Filtered);
    }
    if about.urgency != Urgency::Immediate
        && let Some(until) = prefs.quiet_hours.and_then(|q| q.holds_until(now))
    {
        return Mail::HoldUntil(until);
    }
    Mail::Send
}

/// For a duty address of the organisation `viewer` stands for (as if it read pictures):
/// the publication of an `immediate` picture the organisation sees in full and did not
/// write, once the address is confirmed.
pub fn for_duty_address(viewer: &Viewer, confirmed: bool, about: &About<'_>) -> Mail {
    if !confirmed {
        return Mail::Skip(Skip::Unconfirmed);
    }
    if sight(viewer, &about.handling) != Sight::Full {
        return Mail::Skip(Skip::NotVisible);
    }
    if viewer.organisation == about.handling.originator {
        return Mail::Skip(Skip::OwnPicture);
    }
    if about.event != MailedEvent::Published || about.urgency != Urgency::Immediate {
        return Mail::Skip(Skip::NotForDuty);
    }
    Mail::Send
}

/// Of a person's memberships in force, the decision of the first that would mail (one
/// message per person and event, whatever the number of memberships), else the first
/// refusal.
pub fn for_person_in_any(viewers: &[Viewer], prefs: &Preferences, about: &About<'_>, now: DateTime<Utc>) -> Mail {
    let mut first = Mail::Skip(Skip::NotVisible);
    for (i, v) in viewers.iter().enumerate() {
        let d = for_person(v, prefs, about, now);
        if !matches!(d, Mail::Skip(_)) {
            return d;
        }
        if i == 0 {
            first = d;
        }
    }
    first
}

/// Whether a message may carry the picture's title and summary: only up to TLP:GREEN.
/// Above it (AMBER, AMBER+STRICT, RED) a message says the reference, urgency, deadline
/// and originator, and links to the console, where the reader signs in.
pub fn text_may_be_mailed(tlp: Tlp) -> bool {
    tlp_rank(tlp) <= tlp_rank(Tlp::Green)
}

#[cfg(test)]
mod tests;
