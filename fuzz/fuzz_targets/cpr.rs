//! Arbitrary bytes as a line given to `skranke cpr check` or typed at the
//! desk: `Personnummer::parse` never panics, every error renders in both
//! languages, and a number it accepts keeps the personnummer's invariants:
//! the date in the digits is the birth date (century from the 7th digit),
//! not after today, and the canonical forms parse back to the same number.
#![no_main]

use chrono::{Datelike, NaiveDate};
use libfuzzer_sys::fuzz_target;
use skranke_rules::cpr::{self, CprError, Personnummer, Sex};
use skranke_rules::i18n::Lang;

fuzz_target!(|data: &[u8]| {
    // The CLI reads lines as bytes and decodes them lossily.
    let text = String::from_utf8_lossy(data);
    let Some(today) = NaiveDate::from_ymd_opt(2026, 11, 26) else { return };
    let p = match Personnummer::parse(&text, today) {
        Ok(p) => p,
        Err(e) => {
            assert!(e.code().starts_with("cpr."));
            for lang in Lang::ALL {
                assert!(!e.message(lang).is_empty());
            }
            return;
        }
    };
    let d = p.digits();
    assert!(d.iter().all(|&x| x <= 9));
    let two = |i: usize| u32::from(d[i]) * 10 + u32::from(d[i + 1]);
    let birth = p.birth_date();
    assert!(birth <= today);
    assert_eq!((two(0), two(2)), (birth.day(), birth.month()));
    assert_eq!(cpr::birth_year(d[6], d[4] * 10 + d[5]), birth.year());
    assert!(cpr::allowed_seventh_digits(birth.year()).contains(&d[6]));
    assert_eq!(p.sex(), Sex::of_last_digit(d[9]));
    assert_eq!(p.passes_modulus11(), cpr::passes_modulus11(&d));
    assert_eq!(p.slot().value(), p.serial() / 10);

    // Both written forms read back as the same number.
    let canonical = p.to_string();
    assert_eq!(Personnummer::parse(&canonical, today), Ok(p));
    assert_eq!(Personnummer::parse(&canonical.replace('-', ""), today), Ok(p));
    assert_eq!(Personnummer::from_parts(birth, p.serial()), Some(p));
    // The training form is never a real number.
    assert!(matches!(Personnummer::parse(&p.training_form(), today), Err(CprError::TestDay(_))));
});
