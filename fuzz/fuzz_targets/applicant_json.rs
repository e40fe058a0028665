//! Arbitrary bytes as an intake record (the desk form's JSON, or a file given
//! to `skranke applicant check`): decoding and validation never panic, every
//! problem names a field with a code and a message, a decoded record survives
//! a JSON round trip, and validation is idempotent (a valid record, once
//! normalised, is valid again with the same duplicate keys).
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use skranke_rules::applicant::{Applicant, IntakeContext};
use skranke_rules::i18n::Lang;
use skranke_rules::FieldError;

fn assert_named(errors: &[FieldError]) {
    assert!(!errors.is_empty(), "a refusal without a problem");
    for e in errors {
        assert!(!e.field.is_empty() && !e.code.is_empty() && !e.message.is_empty(), "{e:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(today) = NaiveDate::from_ymd_opt(2026, 11, 26) else { return };
    // The desk's own municipality: Copenhagen (kommunekode 101).
    let ctx = IntakeContext { today, desk_municipality: 101 };
    let lang = if data.len() % 2 == 0 { Lang::Da } else { Lang::En };
    let applicant = match Applicant::from_json_bytes(data, lang) {
        Ok(a) => a,
        Err(errors) => return assert_named(&errors),
    };
    let text = serde_json::to_string(&applicant).expect("an applicant serialises");
    assert_eq!(Applicant::from_json(&text, lang).as_ref(), Ok(&applicant), "JSON round trip");

    let valid = match applicant.validate(&ctx, lang) {
        Ok(v) => v,
        Err(errors) => return assert_named(&errors),
    };
    let again = valid.applicant.validate(&ctx, lang).expect("a normalised valid applicant is valid");
    assert_eq!(again.applicant, valid.applicant, "normalisation is not idempotent");
    assert_eq!(again.keys, valid.keys);
    assert_eq!((again.surname_latin, again.given_names_latin), (valid.surname_latin, valid.given_names_latin));
});
