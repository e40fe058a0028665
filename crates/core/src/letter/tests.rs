//! Handout tests. They read the PDFs back with poppler's tools (`pdftotext`,
//! `pdfinfo`, `pdffonts`, Debian's poppler-utils), fed on standard input so
//! no file is written; a missing tool fails the test with a clear message.

use std::io::Write;
use std::process::{Command, Stdio};

use super::*;
use crate::credentials::{Credentials, TestRandom};

fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> String {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{tool} is needed to check the handout but could not be run ({e}): install poppler-utils")
        });
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The page's text with every run of whitespace made one space.
fn text_of(pdf: &[u8]) -> String {
    poppler("pdftotext", &["-enc", "UTF-8", "-", "-"], pdf).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn privacy() -> PrivacyContacts {
    PrivacyContacts {
        controller: "Københavns Kommune, Jobcenter København".into(),
        contact: "Borgerservice, Nørre Allé 1, 2200 København N, tlf. 33 66 33 66".into(),
        dpo: "databeskyttelse@kk.dk".into(),
    }
}

struct Fixture {
    creds: Credentials,
    privacy: PrivacyContacts,
}

impl Fixture {
    fn new(seed: u64) -> Fixture {
        Fixture { creds: Credentials::issue(17, 42 + seed, &mut TestRandom(seed)).unwrap(), privacy: privacy() }
    }

    fn data<'a>(&'a self, name: &'a str, language: Option<&'a str>) -> HandoutData<'a> {
        HandoutData {
            municipality_name: "København",
            municipality_code: 101,
            office: "Borgerservice Nørrebro",
            desk_label: "Skranke 3",
            applicant_name: name,
            personnummer: "010190-4127",
            username: &self.creds.username,
            password: &self.creds.password,
            issue_date: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
            reference: "D17-000042",
            training: false,
            lapse: LapseDays::default(),
            privacy: &self.privacy,
            language,
        }
    }
}

const NAMES: [(&str, Option<&str>); 6] = [
    ("Łukasz Żółć", Some("pl")),
    ("Ærø Østergård", None),
    ("Γεώργιος Παπαδόπουλος", Some("el")),
    ("Десислава Петрова", Some("bg")),
    ("Ștefan Dumitrașcu", Some("ro")),
    ("Ærø Østergård", Some("en")),
];

#[test]
fn every_field_is_on_the_handout_for_names_in_any_european_script() {
    for (i, (name, lang)) in NAMES.into_iter().enumerate() {
        let f = Fixture::new(i as u64);
        let data = f.data(name, lang);
        let text = text_of(&render_handout(&data).unwrap());
        let password = f.creds.password.expose_grouped();
        let fields = [
            name,
            "010190-4127",
            data.username.as_str(),
            password.as_str(),
            "København",
            "101",
            "Borgerservice Nørrebro",
            "Skranke 3",
            "D17-000042",
            "26.11.2026",
            "jobnet.dk",
            "Københavns Kommune, Jobcenter København",
            "Borgerservice, Nørre Allé 1, 2200 København N, tlf. 33 66 33 66",
            "databeskyttelse@kk.dk",
        ];
        for field in fields {
            assert!(text.contains(field), "{field:?} missing from the {lang:?} handout for {name}:\n{text}");
        }
        for l in texts::handout_languages(lang) {
            for key in ["language", "title", "next.heading", "privacy.heading"] {
                assert!(text.contains(l.get(key)), "{key} of {} missing:\n{text}", l.code());
            }
            assert!(text.contains(&l.render("lapse", &[("days", "14")])), "lapse of {} missing", l.code());
        }
    }
}

#[test]
fn the_handout_speaks_danish_english_and_the_applicants_language_only() {
    let f = Fixture::new(1);
    let text = text_of(&render_handout(&f.data("Łukasz Żółć", Some("pl"))).unwrap());
    for code in ["da", "en", "pl"] {
        assert!(text.contains(texts::find(code).unwrap().get("next.heading")), "{code} missing");
    }
    for code in ["de", "bg", "el"] {
        assert!(!text.contains(texts::find(code).unwrap().get("next.heading")), "{code} present");
    }
}

#[test]
fn a_handout_is_one_a4_page_with_embedded_subset_fonts_under_80_kb() {
    for (i, (name, lang)) in NAMES.into_iter().enumerate() {
        let f = Fixture::new(i as u64);
        let mut data = f.data(name, lang);
        data.training = i % 2 == 0;
        let pdf = render_handout(&data).unwrap();
        assert!(pdf.len() < 80 * 1024, "{} bytes for {lang:?}", pdf.len());
        let info = poppler("pdfinfo", &["-"], &pdf);
        assert!(info.lines().any(|l| l.starts_with("Pages:") && l.ends_with(" 1")), "{info}");
        assert!(info.contains("595.28 x 841.89"), "not A4: {info}");
        let fonts = poppler("pdffonts", &["-"], &pdf);
        let rows: Vec<&str> = fonts.lines().skip(2).collect();
        assert_eq!(rows.len(), 3, "{fonts}");
        for row in rows {
            // name type... encoding emb sub uni: all three "yes".
            assert!(row.contains("yes yes yes"), "font not embedded, subset and mapped: {row}");
        }
    }
}

#[test]
fn every_shipped_language_fits_on_one_page_with_long_settings() {
    let f = Fixture { privacy: PrivacyContacts {
        controller: "Ringkøbing-Skjern Kommune, Jobcenter Ringkøbing-Skjern, Ved Fjorden 6, 6950 Ringkøbing".into(),
        contact: "Borgerservice Ringkøbing-Skjern, Ved Fjorden 6, 6950 Ringkøbing, telefon 99 74 24 24, borgerservice@rksk.dk".into(),
        dpo: "Databeskyttelsesrådgiver, Ringkøbing-Skjern Kommune, databeskyttelsesraadgiver@rksk.dk".into(),
    }, ..Fixture::new(3) };
    let long_name = "Maria-Magdalena Alexandra Konstantinopoulou-Wiśniewska von Hohenzollern-Sigmaringen";
    for code in texts::available() {
        let mut data = f.data(long_name, Some(code));
        data.training = true;
        data.office = "Borgerservice og Jobcenter Ringkøbing-Skjern, afdelingen for internationale borgere";
        let pdf = render_handout(&data).unwrap_or_else(|e| panic!("{code}: {e}"));
        let info = poppler("pdfinfo", &["-"], &pdf);
        assert!(info.lines().any(|l| l.starts_with("Pages:") && l.ends_with(" 1")), "{code}: {info}");
        let text = text_of(&pdf);
        assert!(text.contains(texts::find(code).unwrap().get("privacy.heading")), "{code} lost text");
    }
}

#[test]
fn text_that_cannot_fit_one_page_is_refused_not_spilled_onto_a_second() {
    let mut f = Fixture::new(4);
    f.privacy.contact = "Borgerservice ".repeat(400);
    let err = render_handout(&f.data("Ærø Østergård", Some("el"))).unwrap_err();
    assert_eq!(err, LetterError::Overflow);
}

#[test]
fn the_same_input_gives_identical_bytes() {
    let f = Fixture::new(5);
    for training in [false, true] {
        let mut data = f.data("Γεώργιος Παπαδόπουλος", Some("el"));
        data.training = training;
        let a = render_handout(&data).unwrap();
        let b = render_handout(&data).unwrap();
        assert!(a == b, "two renderings differ (training {training})");
    }
    let g = Fixture::new(6);
    assert_ne!(
        render_handout(&f.data("Ærø Østergård", None)).unwrap(),
        render_handout(&g.data("Ærø Østergård", None)).unwrap()
    );
}

#[test]
fn the_document_id_comes_from_the_record_not_from_chance() {
    let f = Fixture::new(7);
    let data = f.data("Ærø Østergård", None);
    let pdf = render_handout(&data).unwrap();
    let id = document_id(&data);
    assert!(pdf.windows(id.len()).any(|w| w == id.as_bytes()), "trailer /ID not replaced");
}

#[test]
fn training_handouts_carry_the_watermark_and_others_do_not() {
    let f = Fixture::new(8);
    let raw = |training: bool| {
        let mut data = f.data("Ærø Østergård", Some("de"));
        data.training = training;
        let pdf = render_handout(&data).unwrap();
        poppler("pdftotext", &["-raw", "-enc", "UTF-8", "-", "-"], &pdf).split_whitespace().collect::<String>()
    };
    let with = raw(true);
    assert!(with.contains("TRAINING") && with.contains("ØVELSE"), "{with}");
    let without = raw(false);
    assert!(!without.contains("TRAINING") && !without.contains("ØVELSE"));
}

#[test]
fn the_handout_never_names_an_eligibility_group() {
    // HandoutData has no field for the group; no catalog text may name one.
    for code in texts::available() {
        let l = texts::find(code).unwrap();
        let f = Fixture::new(9);
        let text = text_of(&render_handout(&f.data("Ærø Østergård", Some(code))).unwrap()).to_lowercase();
        for word in ["asyl", "handicap", "disab", "eligib", "gruppe", "group", "refugee", "flygtning", "statsløs"] {
            assert!(!text.contains(word), "{word:?} on the {} handout", l.code());
        }
    }
}

#[test]
fn a_name_the_fonts_cannot_print_is_refused_naming_the_field() {
    let f = Fixture::new(10);
    let err = render_handout(&f.data("王小明", None)).unwrap_err();
    assert_eq!(err, LetterError::Unprintable { field: "applicant.name", ch: '王' });
    assert_eq!(err.field(), Some("applicant.name"));
    assert!(err.message(Lang::Da).contains("U+738B"));
}

#[test]
fn an_empty_required_field_is_refused_naming_it() {
    let f = Fixture::new(11);
    let err = render_handout(&f.data("  ", None)).unwrap_err();
    assert_eq!(err, LetterError::Missing { field: "applicant.name" });
    let mut data = f.data("Ærø Østergård", None);
    data.reference = "";
    assert_eq!(render_handout(&data).unwrap_err(), LetterError::Missing { field: "reference" });
}

#[test]
fn the_lapse_setting_is_printed_in_words_in_every_language() {
    let f = Fixture::new(12);
    let mut data = f.data("Ærø Østergård", Some("lt"));
    data.lapse = LapseDays::new(30).unwrap();
    let text = text_of(&render_handout(&data).unwrap());
    for l in texts::handout_languages(Some("lt")) {
        assert!(text.contains(&l.render("lapse", &[("days", "30")])), "{}: {text}", l.code());
    }
}

#[test]
fn every_letter_error_has_a_message_in_both_languages() {
    let all = [
        LetterError::Missing { field: "office" },
        LetterError::Unprintable { field: "applicant.name", ch: '王' },
        LetterError::Overflow,
        LetterError::Fonts,
    ];
    for e in all {
        for lang in Lang::ALL {
            let m = e.message(lang);
            assert!(!m.starts_with("letter.") && !m.contains('{'), "{m}");
        }
    }
}
