//! Election calendar rules: the Finnish windows derived from an election day
//! (docs/pictures.md, "Elections").

use chrono::{Duration, NaiveDate};
use sitrep_types::{ElectionPhase, ElectionPhases};

/// The windows derived from an election day: the voting register is in force from day
/// −12; advance voting in Finland runs from Wednesday −11 to Tuesday −5, abroad from −11
/// to Saturday −8.
pub fn phases(day: NaiveDate) -> ElectionPhases {
    ElectionPhases {
        voting_register_in_force: day - Duration::days(12),
        advance_voting_domestic_from: day - Duration::days(11),
        advance_voting_domestic_to: day - Duration::days(5),
        advance_voting_abroad_from: day - Duration::days(11),
        advance_voting_abroad_to: day - Duration::days(8),
        election_day: day,
    }
}

/// The phase an election is in on `date`, by its calendar alone (a report's cover says
/// where the window ends): more than 60 days before election day, before the campaign;
/// from then until advance voting, the campaign (candidates are nominated by day −40, so
/// the two overlap and the calendar cannot tell them apart); advance voting while it runs
/// in Finland; the last days before election day, the campaign again; election day; the
/// three days after it, counting and results; until three weeks after it, confirmation
/// and complaints; then after the election.
pub fn phase_on(phases: &ElectionPhases, date: NaiveDate) -> ElectionPhase {
    let day = phases.election_day;
    if date == day {
        ElectionPhase::ElectionDay
    } else if date < day - Duration::days(60) {
        ElectionPhase::PreCampaign
    } else if date >= phases.advance_voting_domestic_from && date <= phases.advance_voting_domestic_to {
        ElectionPhase::AdvanceVoting
    } else if date < day {
        ElectionPhase::Campaign
    } else if date <= day + Duration::days(3) {
        ElectionPhase::CountingResults
    } else if date <= day + Duration::days(21) {
        ElectionPhase::ConfirmationComplaints
    } else {
        ElectionPhase::PostElection
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phase_follows_the_calendar_around_election_day() {
        let day = NaiveDate::from_ymd_opt(2027, 4, 18).unwrap();
        let p = phases(day);
        let on = |offset: i64| phase_on(&p, day + Duration::days(offset));
        assert_eq!(on(-61), ElectionPhase::PreCampaign);
        assert_eq!(on(-60), ElectionPhase::Campaign);
        assert_eq!(on(-11), ElectionPhase::AdvanceVoting);
        assert_eq!(on(-5), ElectionPhase::AdvanceVoting);
        assert_eq!(on(-4), ElectionPhase::Campaign);
        assert_eq!(on(0), ElectionPhase::ElectionDay);
        assert_eq!(on(3), ElectionPhase::CountingResults);
        assert_eq!(on(21), ElectionPhase::ConfirmationComplaints);
        assert_eq!(on(22), ElectionPhase::PostElection);
    }

    proptest::proptest! {
        /// The phases come in the calendar's order: a later date is never in an earlier phase.
        #[test]
        fn phases_never_go_back_in_time(offset in -400i64..400, step in 0i64..30) {
            let day = NaiveDate::from_ymd_opt(2027, 4, 18).unwrap();
            let p = phases(day);
            let order = |ph: ElectionPhase| match ph {
                ElectionPhase::PreCampaign => 0,
                ElectionPhase::CandidateNomination | ElectionPhase::Campaign => 1,
                ElectionPhase::AdvanceVoting => 2,
                ElectionPhase::ElectionDay => 3,
                ElectionPhase::CountingResults => 4,
                ElectionPhase::ConfirmationComplaints => 5,
                ElectionPhase::PostElection => 6,
            };
            let a = phase_on(&p, day + Duration::days(offset));
            let b = phase_on(&p, day + Duration::days(offset + step));
            // Advance voting ends before election day and the campaign resumes: the one
            // step back the calendar has.
            let resumed = a == ElectionPhase::AdvanceVoting && b == ElectionPhase::Campaign;
            proptest::prop_assert!(order(b) >= order(a) || resumed, "{a:?} then {b:?}");
        }
    }

    #[test]
    fn parliamentary_2027_windows_match_the_published_calendar() {
        let p = phases(NaiveDate::from_ymd_opt(2027, 4, 18).unwrap());
        assert_eq!(p.advance_voting_domestic_from, NaiveDate::from_ymd_opt(2027, 4, 7).unwrap());
        assert_eq!(p.advance_voting_domestic_to, NaiveDate::from_ymd_opt(2027, 4, 13).unwrap());
        assert_eq!(p.advance_voting_abroad_to, NaiveDate::from_ymd_opt(2027, 4, 10).unwrap());
        assert_eq!(p.voting_register_in_force, NaiveDate::from_ymd_opt(2027, 4, 6).unwrap());
    }
}
