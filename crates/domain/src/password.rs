//! What a new password must be: long enough, not the account's username or a variant of
//! it, and not a common or breached password. The list is the one compiled into the
//! `zxcvbn` crate (its frequency dictionaries); nothing is fetched at build or run time.

use crate::validation::Invalid;

/// Longest password accepted, in characters; checked before any hashing.
pub const PASSWORD_MAX_CHARS: usize = 128;
/// Shortest password accepted (ASVS 5.0 6.2.1 recommends 15).
pub const PASSWORD_MIN_CHARS: usize = 15;

/// zxcvbn's estimate a password must reach: `Three` is at least 10^8 guesses. Anything on
/// its lists of common passwords, words and names, or made from entries of them with the
/// usual tricks (reversal, l33t, repetition, appended dates and sequences, keyboard
/// walks), scores lower.
const MIN_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// Checks a password someone is about to set. `username` is the account's, when known:
/// the password may not be it or a variant of it, and its parts count as known words.
/// Passwords are taken exactly as typed (no trimming, no normalisation) and need no
/// particular kinds of characters.
pub fn check(field: &str, password: &str, username: Option<&str>) -> Result<(), Invalid> {
    let len = password.chars().count();
    if len < PASSWORD_MIN_CHARS {
        return Err(Invalid::new(field, "too_short", format!("must be at least {PASSWORD_MIN_CHARS} characters")));
    }
    if len > PASSWORD_MAX_CHARS {
        return Err(Invalid::new(field, "too_long", format!("must be at most {PASSWORD_MAX_CHARS} characters")));
    }
    if let Some(u) = username
        && is_username_variant(password, u)
    {
        return Err(Invalid::new(field, "like_username", "must not be the username or a variant of it"));
    }
    if is_common(password, username) {
        return Err(Invalid::new(
            field,
            "too_common",
            "is a common or breached password, or made from one; a few unrelated words work well",
        ));
    }
    Ok(())
}

/// The password is on zxcvbn's lists, or easily made from their entries (and from the
/// username's parts, when given).
pub fn is_common(password: &str, username: Option<&str>) -> bool {
    let stems = username.map(username_stems).unwrap_or_default();
    let inputs: Vec<&str> = username.into_iter().chain(stems.iter().map(String::as_str)).collect();
    zxcvbn::zxcvbn(password, &inputs).score() < MIN_SCORE
}

/// The password is the username or a variant of it: any case, reversed, repeated, with
/// digits, punctuation or spaces added anywhere ("Mikko.Testaaja2024!", "ajaatsetokkim",
/// "mikkomikko"). Parts of the username (split at `.`, `_`, `-`, `@`) of four letters or
/// more count as the username.
pub fn is_username_variant(password: &str, username: &str) -> bool {
    let core = letters(password);
    if core.is_empty() {
        return false;
    }
    username_stems(username).iter().any(|stem| made_of(&core, stem))
}

/// Lower-case letters only: what is left of a text once case, digits, punctuation and
/// spaces are taken away.
fn letters(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).filter(|c| c.is_alphabetic()).collect()
}

/// The username's letters, and those of its parts long enough to be a name.
fn username_stems(username: &str) -> Vec<String> {
    let mut stems = vec![letters(username)];
    stems.extend(username.split(['.', '_', '-', '@']).map(letters).filter(|p| p.chars().count() >= 4));
    stems.retain(|s| !s.is_empty());
    stems.sort();
    stems.dedup();
    stems
}

/// `core` is `stem` or its reverse, once or more, in any order.
fn made_of(core: &str, stem: &str) -> bool {
    let reversed: String = stem.chars().rev().collect();
    let mut rest = core;
    while !rest.is_empty() {
        // Both can match here only if they are equal (they have the same length).
        match rest.strip_prefix(stem).or_else(|| rest.strip_prefix(reversed.as_str())) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn code(password: &str, username: &str) -> Option<&'static str> {
        check("p", password, Some(username)).err().map(|e| e.code)
    }

    #[test]
    fn the_reviewers_examples_are_refused() {
        assert_eq!(code("passwordpassword", "someone"), Some("too_common"));
        assert_eq!(code("mikko.testaaja", "mikko.testaaja"), Some("too_short"));
        assert_eq!(code("Mikko.Testaaja2024!", "mikko.testaaja"), Some("like_username"));
        assert_eq!(code("ajaatset.okkim!!!", "mikko.testaaja"), Some("like_username"));
        assert_eq!(code("testaajatestaaja1", "mikko.testaaja"), Some("like_username"));
        assert_eq!(code("MIKKOMIKKOMIKKO99", "mikko@example.fi"), Some("like_username"));
    }

    #[test]
    fn common_and_breached_passwords_and_their_tricks_are_refused() {
        for p in [
            "123456789012345",
            "qwertyuiopasdfgh",
            "iloveyouiloveyou",
            "P@ssw0rdP@ssw0rd",
            "trustno1trustno1",
            "aaaaaaaaaaaaaaaa",
            "abcdefghijklmnop",
            "Password12345678",
            "football20242024",
        ] {
            assert_eq!(code(p, "someone"), Some("too_common"), "{p}");
        }
    }

    #[test]
    fn long_unrelated_phrases_and_random_strings_pass() {
        for p in [
            "a long enough password for tests",
            "a brand new long password",
            "aino.author-correct-horse-battery",
            "vaalit kahvi mustikka 1917",
            "G7#kq9!vXz2@Lm4p",
            "😀 ankka lentää yli järven",
        ] {
            assert_eq!(code(p, "aino.author"), None, "{p}");
        }
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(code(&"x".repeat(PASSWORD_MAX_CHARS + 1), "u.ser"), Some("too_long"));
        assert_eq!(code("short", "u.ser"), Some("too_short"));
        assert_eq!(code(&"😀".repeat(14), "u.ser"), Some("too_short"));
    }

    #[test]
    fn a_password_that_only_mentions_the_username_is_not_a_variant() {
        assert!(!is_username_variant("mikko likes cold coffee at dawn", "mikko.testaaja"));
        assert!(!is_username_variant("1234567890!!!!!", "mikko.testaaja"));
        // Short parts of a username are not names of their own.
        assert!(!is_username_variant("abcabcabcabcabc", "abc.def-ghij"));
        assert!(is_username_variant("ghijghij1234567", "abc.def-ghij"));
    }

    /// A username and a variant of it built the ways people build them.
    fn username_and_variant() -> impl Strategy<Value = (String, String)> {
        let username = (
            "[a-z]{3,10}",
            proptest::option::of("[a-z]{4,10}"),
            prop_oneof![Just("."), Just("_"), Just("-"), Just("@")],
        );
        username.prop_flat_map(|(first, second, sep)| {
            let username = match &second {
                Some(s) => format!("{first}{sep}{s}"),
                None => first.clone(),
            };
            let mut stems = vec![username.replace(['.', '_', '-', '@'], "")];
            if first.len() >= 4 {
                stems.push(first.clone());
            }
            stems.extend(second);
            (
                Just(username),
                proptest::sample::select(stems),
                proptest::collection::vec(any::<bool>(), 1..4),
                proptest::collection::vec(any::<bool>(), 30),
                "[0-9!._ -]{0,6}",
                "[0-9!._ -]{0,6}",
            )
                .prop_map(|(username, stem, reversals, upper, before, after)| {
                    let body: String = reversals
                        .iter()
                        .map(|&rev| if rev { stem.chars().rev().collect::<String>() } else { stem.clone() })
                        .collect();
                    let cased: String = body
                        .chars()
                        .zip(upper.iter().cycle())
                        .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c })
                        .collect();
                    (username, format!("{before}{cased}{after}"))
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_variant_of_the_username_is_refused((username, variant) in username_and_variant()) {
            prop_assert!(is_username_variant(&variant, &username), "{variant:?} of {username:?}");
            prop_assert!(check("p", &variant, Some(&username)).is_err());
        }

        #[test]
        fn random_long_passwords_are_accepted(
            username in "[a-z]{3,10}\\.[a-z]{4,10}",
            password in "[a-zA-Z0-9!#%&*+=?@^_~]{22,40}",
        ) {
            prop_assume!(!is_username_variant(&password, &username));
            prop_assert_eq!(check("p", &password, Some(&username)), Ok(()));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn the_rule_never_panics_and_is_decided_by_the_text_alone(
            password in "\\PC{0,140}",
            username in "[a-z0-9._@-]{3,20}",
        ) {
            let once = check("p", &password, Some(&username));
            prop_assert_eq!(once, check("p", &password, Some(&username)));
        }
    }
}
