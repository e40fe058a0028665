//! Password strength for staff accounts: long enough, then hard enough to
//! guess (zxcvbn, judged with the account's name and the desk's words as the
//! ones an attacker tries first). Pure: the desk's store (`core::staff`)
//! applies it when an account is made or its password changed.

use crate::error::FieldError;
use crate::i18n::{self, Lang};

/// The shortest password accepted for a staff account.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The lowest zxcvbn score accepted (3: more than 10^8 guesses, "safely
/// unguessable" against an online attack; 4 is more than 10^10).
pub const MIN_PASSWORD_SCORE: u8 = 3;

/// The catalog key explaining a zxcvbn warning.
fn weakness_key(warning: Option<zxcvbn::feedback::Warning>) -> &'static str {
    use zxcvbn::feedback::Warning as W;
    match warning {
        Some(W::StraightRowsOfKeysAreEasyToGuess | W::ShortKeyboardPatternsAreEasyToGuess) => {
            "staff_policy.weak.keyboard"
        }
        Some(W::RepeatsLikeAaaAreEasyToGuess | W::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess) => {
            "staff_policy.weak.repeats"
        }
        Some(
            W::ThisIsATop10Password
            | W::ThisIsATop100Password
            | W::ThisIsACommonPassword
            | W::ThisIsSimilarToACommonlyUsedPassword,
        ) => "staff_policy.weak.common",
        Some(W::SequencesLikeAbcAreEasyToGuess) => "staff_policy.weak.sequence",
        Some(W::RecentYearsAreEasyToGuess | W::DatesAreOftenEasyToGuess) => "staff_policy.weak.dates",
        Some(W::AWordByItselfIsEasyToGuess) => "staff_policy.weak.word",
        Some(W::NamesAndSurnamesByThemselvesAreEasyToGuess | W::CommonNamesAndSurnamesAreEasyToGuess) => {
            "staff_policy.weak.names"
        }
        _ => "staff_policy.weak.guessable",
    }
}

/// The words an attacker would try first against an account: the staff
/// name and `context` (the desk's municipality and office), whole and word by word.
fn user_inputs<'a>(name: &'a str, context: &[&'a str]) -> Vec<&'a str> {
    let mut words = Vec::new();
    for text in std::iter::once(name).chain(context.iter().copied()) {
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        words.push(text);
        words.extend(text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() >= 3));
    }
    words
}

/// Checks a password for the account `name` against the policy: long enough,
/// then strong enough (zxcvbn with the name and `context` as known words).
/// The refusal names `field` and says why.
pub fn check_password(field: &str, password: &str, name: &str, context: &[&str], lang: Lang) -> Result<(), FieldError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(FieldError {
            field: field.into(),
            code: "staff.password_short".into(),
            message: i18n::render(lang, "staff.field.password_short", &[("min", &MIN_PASSWORD_CHARS.to_string())]),
        });
    }
    let entropy = zxcvbn::zxcvbn(password, &user_inputs(name, context));
    if u8::from(entropy.score()) < MIN_PASSWORD_SCORE {
        let why = i18n::text(lang, weakness_key(entropy.feedback().and_then(|f| f.warning())));
        return Err(FieldError {
            field: field.into(),
            code: "staff.password_weak".into(),
            message: i18n::render(lang, "staff_policy.field.password_weak", &[("why", why)]),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_characters_are_too_short_even_when_random() {
        let e = check_password("password", "Xq7#vL9!pR2", "Ana", &[], Lang::En).unwrap_err();
        assert_eq!((e.field.as_str(), e.code.as_str()), ("password", "staff.password_short"));
        assert!(check_password("password", "Xq7#vL9!pR2z", "Ana", &[], Lang::En).is_ok());
    }

    #[test]
    fn a_long_but_guessable_password_is_refused_naming_the_field_and_why() {
        for weak in ["password1234", "aaaaaaaaaaaaaaaa", "qwertyuiopasdf", "123456789012"] {
            let e = check_password("new_password", weak, "Ana", &[], Lang::En).unwrap_err();
            assert_eq!((e.field.as_str(), e.code.as_str()), ("new_password", "staff.password_weak"), "{weak}");
            assert!(e.message.starts_with("This password is too easy to guess: "), "{}", e.message);
            assert!(!e.message.contains("staff_policy."), "{}", e.message);
        }
    }

    #[test]
    fn the_staff_name_and_the_desk_count_as_guessable_words() {
        let pw = "Borgerservice Nord 101";
        assert!(check_password("password", pw, "Ana", &[], Lang::En).is_ok());
        let e = check_password("password", pw, "Ana", &["101", "Borgerservice Nord"], Lang::En).unwrap_err();
        assert_eq!(e.code, "staff.password_weak");
        assert!(check_password("password", "zorbaqwill101", "Ana", &[], Lang::En).is_ok());
        assert!(check_password("password", "zorbaqwill101", "Zorbaqwill", &[], Lang::En).is_err());
    }
}
