//! The organisation policies the secretariat and an organisation's own `org_admin` share
//! (`require_review`, `require_totp`): the organisation may tighten what the secretariat
//! set, never loosen it.

use sitrep_types::PolicySetBy;

/// Why a policy change is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetBySecretariat;

/// The new state of a switch that is on (`Some`, with who switched it on) or off
/// (`None`), when `by` asks for `on`.
///
/// The secretariat sets either way, and what it switches on is then its own. An
/// organisation's administrator may switch on (keeping the secretariat as the owner of a
/// switch it had set already) and may switch off only what its organisation switched on.
pub fn switch(
    current: Option<PolicySetBy>,
    on: bool,
    by: PolicySetBy,
) -> Result<Option<PolicySetBy>, SetBySecretariat> {
    match (by, on) {
        (PolicySetBy::Secretariat, true) => Ok(Some(PolicySetBy::Secretariat)),
        (PolicySetBy::Secretariat, false) => Ok(None),
        (PolicySetBy::Organisation, true) => Ok(current.or(Some(PolicySetBy::Organisation))),
        (PolicySetBy::Organisation, false) => match current {
            Some(PolicySetBy::Secretariat) => Err(SetBySecretariat),
            _ => Ok(None),
        },
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SEC: PolicySetBy = PolicySetBy::Secretariat;
    const ORG: PolicySetBy = PolicySetBy::Organisation;

    #[test]
    fn the_organisation_tightens_but_never_loosens_what_the_secretariat_set() {
        assert_eq!(switch(None, true, ORG), Ok(Some(ORG)));
        assert_eq!(switch(Some(ORG), false, ORG), Ok(None));
        assert_eq!(switch(Some(SEC), false, ORG), Err(SetBySecretariat));
        assert_eq!(switch(Some(SEC), true, ORG), Ok(Some(SEC)), "switching on again keeps the secretariat's");
        assert_eq!(switch(None, false, ORG), Ok(None));
    }

    #[test]
    fn the_secretariat_sets_either_way_and_owns_what_it_switches_on() {
        assert_eq!(switch(Some(ORG), true, SEC), Ok(Some(SEC)));
        assert_eq!(switch(Some(SEC), false, SEC), Ok(None));
        assert_eq!(switch(Some(ORG), false, SEC), Ok(None));
    }

    fn by() -> impl Strategy<Value = PolicySetBy> {
        prop::sample::select(vec![SEC, ORG])
    }

    proptest! {
        /// Whatever an organisation's administrator asks, in any order, a switch the
        /// secretariat turned on stays on until the secretariat turns it off.
        #[test]
        fn no_sequence_of_organisation_changes_turns_off_the_secretariats_switch(
            steps in prop::collection::vec((by(), any::<bool>()), 1..30),
        ) {
            let mut state = None;
            let mut secretariat_wants = false;
            for (who, on) in steps {
                if who == SEC {
                    secretariat_wants = on;
                }
                match switch(state, on, who) {
                    Ok(next) => state = next,
                    Err(SetBySecretariat) => prop_assert!(who == ORG && !on && state == Some(SEC)),
                }
                if secretariat_wants {
                    prop_assert_eq!(state, Some(SEC));
                }
                if who == ORG && on {
                    prop_assert!(state.is_some(), "an organisation may always tighten");
                }
            }
        }
    }
}
