//! Election calendar rules: the Finnish windows derived from an election day
//! (docs/pictures.md, "Elections").

use chrono::{Duration, NaiveDate};
use sitrep_types::ElectionPhases;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parliamentary_2027_windows_match_the_published_calendar() {
        let p = phases(NaiveDate::from_ymd_opt(2027, 4, 18).unwrap());
        assert_eq!(p.advance_voting_domestic_from, NaiveDate::from_ymd_opt(2027, 4, 7).unwrap());
        assert_eq!(p.advance_voting_domestic_to, NaiveDate::from_ymd_opt(2027, 4, 13).unwrap());
        assert_eq!(p.advance_voting_abroad_to, NaiveDate::from_ymd_opt(2027, 4, 10).unwrap());
        assert_eq!(p.voting_register_in_force, NaiveDate::from_ymd_opt(2027, 4, 6).unwrap());
    }
}
