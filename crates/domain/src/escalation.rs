//! Escalation of overdue acknowledgements: which steps are due for one recipient
//! organisation of one picture. The worker records each step once per (picture,
//! organisation, step); this rule only says which steps the moment calls for.

use chrono::{DateTime, Duration, Utc};

/// A step of the escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// The organisation's duty addresses are reminded once its deadline has passed.
    Reminder,
    /// The secretariat's duty addresses are told, once the second interval has passed too.
    Secretariat,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Reminder => "reminder",
            Step::Secretariat => "secretariat",
        }
    }

    pub fn parse(s: &str) -> Option<Step> {
        match s {
            "reminder" => Some(Step::Reminder),
            "secretariat" => Some(Step::Secretariat),
            _ => None,
        }
    }
}

/// Where one recipient organisation stands on one picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The picture's acknowledgement deadline (none: nothing to acknowledge).
    pub deadline: Option<DateTime<Utc>>,
    /// The organisation sees the picture in full now.
    pub sees: bool,
    /// The organisation has acknowledged the picture (any revision).
    pub acknowledged: bool,
}

/// The steps due at `now`, in order: none before the deadline, for an organisation that
/// answered or that no longer sees the picture; the reminder once the deadline has
/// passed; the secretariat too once `escalate_after` has passed after it.
pub fn due_steps(s: Standing, now: DateTime<Utc>, escalate_after: Duration) -> Vec<Step> {
    let Some(deadline) = s.deadline else { return Vec::new() };
    if !s.sees || s.acknowledged || now <= deadline {
        return Vec::new();
    }
    if now > deadline + escalate_after { vec![Step::Reminder, Step::Secretariat] } else { vec![Step::Reminder] }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 4, 11, 8, 0, 0).unwrap() + Duration::seconds(secs)
    }

    #[test]
    fn a_silent_organisation_is_reminded_after_the_deadline_and_escalated_after_the_interval() {
        let s = Standing { deadline: Some(at(0)), sees: true, acknowledged: false };
        let after = Duration::minutes(30);
        assert_eq!(due_steps(s, at(0), after), vec![]);
        assert_eq!(due_steps(s, at(1), after), vec![Step::Reminder]);
        assert_eq!(due_steps(s, at(1800), after), vec![Step::Reminder]);
        assert_eq!(due_steps(s, at(1801), after), vec![Step::Reminder, Step::Secretariat]);
    }

    #[test]
    fn an_organisation_that_answered_or_lost_sight_is_never_escalated() {
        let late = at(100_000);
        let answered = Standing { deadline: Some(at(0)), sees: true, acknowledged: true };
        let blind = Standing { deadline: Some(at(0)), sees: false, acknowledged: false };
        let no_deadline = Standing { deadline: None, sees: true, acknowledged: false };
        for s in [answered, blind, no_deadline] {
            assert!(due_steps(s, late, Duration::zero()).is_empty(), "{s:?}");
        }
    }

    proptest! {
        /// Against the conditions written out one by one.
        #[test]
        fn due_steps_are_exactly_those_the_conditions_call_for(
            deadline in proptest::option::of(-10_000i64..10_000),
            sees: bool,
            acknowledged: bool,
            now in -20_000i64..20_000,
            after in 0i64..10_000,
        ) {
            let s = Standing { deadline: deadline.map(at), sees, acknowledged };
            let steps = due_steps(s, at(now), Duration::seconds(after));
            let silent_and_seeing = sees && !acknowledged && deadline.is_some();
            let d = deadline.unwrap_or(i64::MAX);
            prop_assert_eq!(steps.contains(&Step::Reminder), silent_and_seeing && now > d);
            prop_assert_eq!(steps.contains(&Step::Secretariat), silent_and_seeing && now > d.saturating_add(after));
            // The secretariat is never told before the organisation is reminded.
            prop_assert!(!steps.contains(&Step::Secretariat) || steps.contains(&Step::Reminder));
            prop_assert!(steps.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
