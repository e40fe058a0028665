//! Arbitrary bytes as a desk's passport reader types them: `mrz::parse`
//! never panics, every error and problem renders in both languages, the desk's
//! draft can be filled from any zone read, and a zone written back by
//! `mrz::format` reads as the same fields.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use skranke_rules::applicant::ApplicantDraft;
use skranke_rules::i18n::Lang;
use skranke_rules::mrz;

fuzz_target!(|data: &[u8]| {
    // Readers type keyboard input; the desk receives it as text.
    let text = String::from_utf8_lossy(data);
    let Some(today) = NaiveDate::from_ymd_opt(2026, 11, 26) else { return };
    let zone = match mrz::parse(&text, today) {
        Ok(zone) => zone,
        Err(e) => {
            assert!(!e.code().is_empty());
            for lang in Lang::ALL {
                assert!(!e.message(lang).is_empty());
            }
            return;
        }
    };
    for p in &zone.problems {
        for lang in Lang::ALL {
            assert!(!p.message(lang).is_empty());
        }
    }
    if let Some(birth) = zone.fields.birth_date {
        assert!(birth <= today, "a birth date in the future: {birth}");
    }
    let draft = ApplicantDraft::from_mrz(&zone);
    assert_eq!(draft.mrz_valid, zone.is_valid());

    // Writing the fields back gives a zone that reads again, and writing that
    // one gives the same lines (parse and format agree on every field).
    let Some(lines) = mrz::format(&zone.fields) else {
        assert!(!zone.is_valid(), "a valid zone's fields do not fit their layout: {:?}", zone.fields);
        return;
    };
    let again = mrz::parse(&lines.join("\n"), today).expect("a formatted zone parses");
    assert_eq!(mrz::format(&again.fields).as_ref(), Some(&lines), "format is not stable");
    if zone.is_valid() {
        assert!(again.is_valid(), "a valid zone written back is not valid: {lines:?}");
        assert_eq!(again.fields, zone.fields, "a valid zone does not round-trip");
    }
});
