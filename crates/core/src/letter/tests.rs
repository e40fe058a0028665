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

/// A catalog text as the PDF's text layer holds it: without the zero-width
/// non-joiner (Persian), which breaks a join but has no glyph to carry it.
fn printed(text: &str) -> String {
    text.replace('\u{200C}', "")
}

fn privacy() -> PrivacyContacts {
    PrivacyContacts {
        controller: "Københavns Kommune, Jobcenter København".into(),
        contact: "Borgerservice, Nørre Allé 1, 2200 København N, tlf. 33 66 33 66".into(),
        dpo: "databeskyttelse@kk.dk".into(),
        retention: String::new(),
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
        retention: "Kommunen opbevarer sagens øvrige oplysninger i fem år efter sidste henvendelse, jf. arkivloven.".into(),
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
        assert!(text.contains(&printed(texts::find(code).unwrap().get("privacy.heading"))), "{code} lost text");
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
    for (training, name, lang) in
        [(false, "Γεώργιος Παπαδόπουλος", "el"), (true, "Γεώργιος Παπαδόπουλος", "el"), (false, "محمد عبدالله", "ar")]
    {
        let mut data = f.data(name, Some(lang));
        data.training = training;
        let a = render_handout(&data).unwrap();
        let b = render_handout(&data).unwrap();
        assert!(a == b, "two renderings differ ({lang}, training {training})");
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

/// The privacy notice names the controller, its contact and the data
/// protection officer (GDPR art. 13 and 37): a handout without any of them
/// is refused naming it, never printed with an empty label.
#[test]
fn a_privacy_notice_without_contact_or_officer_is_refused_naming_it() {
    for (field, clear) in [
        ("privacy.controller", (|p: &mut PrivacyContacts| p.controller.clear()) as fn(&mut PrivacyContacts)),
        ("privacy.contact", |p| p.contact.clear()),
        ("privacy.dpo", |p| p.dpo = "  ".into()),
    ] {
        let mut f = Fixture::new(12);
        clear(&mut f.privacy);
        assert_eq!(render_handout(&f.data("Ærø Østergård", None)).unwrap_err(), LetterError::Missing { field });
    }
}

/// The municipality's own retention note is optional: printed in the
/// notice when set, and nothing of it (no label, no stray space) when not.
#[test]
fn the_retention_note_prints_only_when_set() {
    let plain = Fixture::new(13);
    let without = text_of(&render_handout(&plain.data("Ærø Østergård", None)).unwrap());
    let mut noted = Fixture::new(13);
    noted.privacy.retention = "Aarhus Kommune gemmer sagen i fem år.".into();
    let with = text_of(&render_handout(&noted.data("Ærø Østergård", None)).unwrap());
    let squeeze = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(squeeze(&with).contains("Aarhus Kommune gemmer sagen i fem år."), "{with}");
    assert!(!squeeze(&without).contains("Aarhus Kommune"), "{without}");
    assert!(!squeeze(&without).contains(" . "), "an empty sentence was printed: {without}");
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

// ---- Arabic, Persian and Tigrinya: shaping and direction, checked on the
// rendered page. ----

/// Runs `tool` with `pdf` on standard input and returns its raw output.
fn tool_bytes(tool: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} is needed to check the handout but could not be run ({e})"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A page rasterised by poppler (`pdftoppm -gray`), as ink (dark) or not.
struct Ink {
    w: usize,
    h: usize,
    dark: Vec<bool>,
}

impl Ink {
    fn of_pdf(pdf: &[u8], dpi: u32) -> Ink {
        // Without an output root, pdftoppm writes the image to standard output.
        let pgm = tool_bytes("pdftoppm", &["-gray", "-r", &dpi.to_string(), "-singlefile", "-"], pdf);
        // P5 <w> <h> 255, then one byte per pixel.
        let mut fields = Vec::new();
        let mut at = 0;
        while fields.len() < 4 {
            while pgm[at].is_ascii_whitespace() {
                at += 1;
            }
            let start = at;
            while !pgm[at].is_ascii_whitespace() {
                at += 1;
            }
            fields.push(String::from_utf8_lossy(&pgm[start..at]).into_owned());
        }
        assert_eq!(fields[0], "P5", "pdftoppm -gray writes PGM");
        let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
        let pixels = &pgm[at + 1..at + 1 + w * h];
        Ink { w, h, dark: pixels.iter().map(|&p| p < 128).collect() }
    }

    /// The part holding ink, cropped to it.
    fn cropped(&self) -> Ink {
        let (mut x0, mut y0, mut x1, mut y1) = (self.w, self.h, 0, 0);
        for y in 0..self.h {
            for x in 0..self.w {
                if self.dark[y * self.w + x] {
                    (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
                }
            }
        }
        assert!(x1 > x0, "no ink on the page");
        let (w, h) = (x1 - x0, y1 - y0);
        let dark =
            (y0..y1).flat_map(|y| (x0..x1).map(move |x| (x, y))).map(|(x, y)| self.dark[y * self.w + x]).collect();
        Ink { w, h, dark }
    }

    /// How far two cropped renderings differ: the share of pixels inked in
    /// one but not the other among those inked in either, after each is
    /// thickened by a pixel (so that two rasterisations of the same glyphs
    /// at sub-pixel offsets match). 0 is identical, 1 disjoint; a different
    /// size counts as 1.
    fn difference(&self, other: &Ink) -> f64 {
        if self.w.abs_diff(other.w) > 3 || self.h.abs_diff(other.h) > 3 {
            return 1.0;
        }
        let (w, h) = (self.w.max(other.w), self.h.max(other.h));
        let at = |i: &Ink, x: usize, y: usize| x < i.w && y < i.h && i.dark[y * i.w + x];
        let near = |i: &Ink, x: usize, y: usize| {
            (x.saturating_sub(1)..=x + 1).any(|xx| (y.saturating_sub(1)..=y + 1).any(|yy| at(i, xx, yy)))
        };
        let (mut either, mut only) = (0u32, 0u32);
        for y in 0..h {
            for x in 0..w {
                let (a, b) = (at(self, x, y), at(other, x, y));
                if a || b {
                    either += 1;
                    if (a && !near(other, x, y)) || (b && !near(self, x, y)) {
                        only += 1;
                    }
                }
            }
        }
        f64::from(only) / f64::from(either.max(1))
    }
}

const RASTER_DPI: u32 = 144;
const LINE_SIZE: f32 = 24.0;

/// One line drawn by the handout's own code (`Canvas`, the same PDF save
/// options) on an otherwise empty page.
fn line_pdf(draw: impl FnOnce(&mut Canvas)) -> Vec<u8> {
    let fonts = fonts().unwrap();
    let mut canvas = Canvas::new(fonts);
    draw(&mut canvas);
    let page = Page {
        marks: std::mem::take(&mut canvas.marks),
        fonts,
        reference: "line".into(),
        date: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
        document_id: "0".repeat(32),
    };
    page.pdf()
}

/// The same line as HarfBuzz shapes it (`hb-view`, Debian's
/// libharfbuzz-bin), in the same font file and size, as a PDF.
fn harfbuzz_pdf(font_file: &str, text: &str, rtl: bool) -> Vec<u8> {
    let font = format!("{}/fonts/{font_file}", env!("CARGO_MANIFEST_DIR"));
    let size = format!("--font-size={LINE_SIZE}");
    let dir = format!("--direction={}", if rtl { "rtl" } else { "ltr" });
    let out = Command::new("hb-view")
        .args(["--output-format=pdf", "--margin=10", &size, &dir, "--font-file", &font, "--text", text, "-o", "-"])
        .output()
        .unwrap_or_else(|e| panic!("hb-view is needed as the reference shaper ({e}): install libharfbuzz-bin"));
    assert!(out.status.success(), "hb-view failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Texts of the new catalogs set in one face, compared with HarfBuzz's
/// rendering of them: joining forms, the lam-alef ligature (ar "لا", "الإ"),
/// Persian's ZWNJ and tanwin (fa), Ge'ez syllables (ti).
const REFERENCE_LINES: [(&str, &str, &str, bool); 5] = [
    ("ar", "privacy.heading", "NotoNaskhArabic-Regular.ttf", true),
    ("ar", "label.issued", "NotoNaskhArabic-Regular.ttf", true),
    ("fa", "privacy.heading", "NotoNaskhArabic-Regular.ttf", true),
    ("fa", "label.username", "NotoNaskhArabic-Regular.ttf", true),
    ("ti", "next.heading", "NotoSansEthiopic-Regular.ttf", false),
];

/// The rendered glyphs of Arabic, Persian and Tigrinya lines match an
/// independent shaper's (HarfBuzz) pixel for pixel within a pixel's
/// tolerance, and the same text written as printpdf alone would write it
/// (one cmap glyph per character, left to right) does not: the check fails
/// if shaping or direction broke.
#[test]
fn arabic_persian_and_tigrinya_lines_render_as_harfbuzz_shapes_them() {
    for (code, key, font, rtl) in REFERENCE_LINES {
        let text = texts::find(code).unwrap().get(key);
        let d = if rtl { Dir::Rtl } else { Dir::Ltr };
        let ours = line_pdf(|c| c.text_dir(Face::Regular, LINE_SIZE, 40.0, 700.0, text, d));
        let naive = line_pdf(|c| {
            let face = if rtl { Face::Arabic } else { Face::Ethiopic };
            c.chars(face, LINE_SIZE, 40.0, 700.0, text)
        });
        let reference = harfbuzz_pdf(font, text, rtl);
        let [ours, naive, reference] = [&ours, &naive, &reference].map(|p| Ink::of_pdf(p, RASTER_DPI).cropped());
        let good = ours.difference(&reference);
        let bad = naive.difference(&reference);
        assert!(good < 0.05, "{code} {key}: the handout's rendering differs from HarfBuzz's by {good:.3}");
        if rtl {
            // Ge'ez needs no shaping: for Tigrinya the naive rendering is right too.
            assert!(
                bad > 0.25,
                "{code} {key}: an unshaped rendering passes as well ({bad:.3}), so the check proves nothing"
            );
        }
    }
}

/// On the handouts in Arabic, Persian and Tigrinya the personnummer,
/// username and password read left to right, as issued, and the fonts for
/// the script are embedded and subset.
#[test]
fn rtl_and_ethiopic_handouts_keep_the_login_left_to_right_with_their_fonts_embedded() {
    for (i, code) in ["ar", "fa", "ti"].into_iter().enumerate() {
        let f = Fixture::new(20 + i as u64);
        let data = f.data("Amanuel Tesfay", Some(code));
        let pdf = render_handout(&data).unwrap();
        let text = text_of(&pdf);
        let password = f.creds.password.expose_grouped();
        for value in ["010190-4127", data.username.as_str(), password.as_str(), "Amanuel Tesfay"] {
            assert!(text.contains(value), "{value:?} not as issued on the {code} handout:\n{text}");
        }
        let fonts = poppler("pdffonts", &["-"], &pdf);
        let face = if code == "ti" { "NotoSansEthiopic" } else { "NotoNaskhArabic" };
        let rows: Vec<&str> = fonts.lines().skip(2).filter(|r| r.contains(face)).collect();
        assert!(!rows.is_empty(), "{face} not in the {code} handout: {fonts}");
        for row in rows {
            assert!(row.contains("yes yes yes"), "{code}: font not embedded, subset and mapped: {row}");
        }
        assert!(pdf.len() < 80 * 1024, "{} bytes for {code}", pdf.len());
    }
}

/// HarfBuzz's glyphs for `text` in `font_file`, left to right: (glyph id,
/// x, y) in font units (`hb-shape`, Debian's libharfbuzz-bin).
fn harfbuzz_glyphs(font_file: &str, text: &str, rtl: bool) -> Vec<(u16, i32, i32)> {
    let font = format!("{}/fonts/{font_file}", env!("CARGO_MANIFEST_DIR"));
    let dir = format!("--direction={}", if rtl { "rtl" } else { "ltr" });
    let out = Command::new("hb-shape")
        // Without the joiner controls' empty glyphs, which allsorts drops.
        .args(["--no-glyph-names", "--no-clusters", "--remove-default-ignorables", &dir, &font, text])
        .output()
        .unwrap_or_else(|e| panic!("hb-shape is needed as the reference shaper ({e}): install libharfbuzz-bin"));
    assert!(out.status.success(), "hb-shape failed: {}", String::from_utf8_lossy(&out.stderr));
    // [gid@dx,dy+advance|...], the offset only when not zero.
    let line = String::from_utf8(out.stdout).unwrap();
    let mut pen = 0;
    let mut glyphs = Vec::new();
    for item in line.trim().trim_start_matches('[').trim_end_matches(']').split('|') {
        let (head, advance) = item.split_once('+').unwrap_or((item, "0"));
        let (gid, offset) = head.split_once('@').unwrap_or((head, "0,0"));
        let (dx, dy) = offset.split_once(',').unwrap();
        let [gid, dx, dy, advance]: [i32; 4] = [gid, dx, dy, advance].map(|n| n.parse().unwrap());
        glyphs.push((gid as u16, pen + dx, dy));
        pen += advance;
    }
    glyphs
}

/// Every text of the Arabic, Persian and Tigrinya catalogs written in its
/// script alone is set in exactly HarfBuzz's glyphs at HarfBuzz's places
/// (within a font unit): joining forms, Noto Naskh's lam-alef (its `rlig`
/// pair), Persian's ZWNJ and tanwin (marks placed by GPOS anchors), Ge'ez,
/// and right-to-left order. An unshaped or left-to-right line fails.
#[test]
fn the_new_languages_texts_are_shaped_as_harfbuzz_shapes_them() {
    let fonts = fonts().unwrap();
    let mut compared = 0;
    for (code, font, rtl) in [
        ("ar", "NotoNaskhArabic-Regular.ttf", true),
        ("fa", "NotoNaskhArabic-Regular.ttf", true),
        ("ti", "NotoSansEthiopic-Regular.ttf", false),
    ] {
        let l = texts::find(code).unwrap();
        let face = if rtl { Face::Arabic } else { Face::Ethiopic };
        let upem = f32::from(fonts.parsed(face).pdf_font_metrics.units_per_em);
        for key in texts::find("en").unwrap().keys() {
            let text = l.get(key);
            // Only texts in one font: hb-shape sets a line in one.
            if text.contains(|c: char| c.is_ascii_alphabetic() || c == '{') {
                continue;
            }
            // At a size of one em in font units, x and y are font units.
            let ours = fonts.shaped(Face::Regular, text, upem, if rtl { Dir::Rtl } else { Dir::Ltr });
            assert!(ours.glyphs.iter().all(|g| g.face == face), "{code} {key}: not all in {face:?}");
            let ours: Vec<(u16, i32, i32)> =
                ours.glyphs.iter().map(|g| (g.gid, g.x.round() as i32, g.y.round() as i32)).collect();
            let reference = harfbuzz_glyphs(font, text, rtl);
            let same = ours.len() == reference.len()
                && ours
                    .iter()
                    .zip(&reference)
                    .all(|(a, b)| a.0 == b.0 && a.1.abs_diff(b.1) <= 1 && a.2.abs_diff(b.2) <= 1);
            assert!(same, "{code} {key} {text:?}:\n ours     {ours:?}\n HarfBuzz {reference:?}");
            compared += 1;
        }
    }
    assert!(compared >= 20, "only {compared} texts compared");
}

/// Every catalog fits on one page and prints in fonts that have all its
/// characters (Arabic and Ethiopic in their Noto faces).
#[test]
fn every_catalog_text_is_printable_in_the_embedded_fonts() {
    let fonts = fonts().unwrap();
    for code in texts::available() {
        let l = texts::find(code).unwrap();
        for key in ["language", "title", "next.mitid", "privacy.rights", "privacy.basis", "lapse"] {
            for face in [Face::Regular, Face::Bold] {
                assert_eq!(fonts.missing_glyph(face, l.get(key)), None, "{code} {key} {face:?}");
            }
        }
    }
}

/// Persian is written with its own yeh and kaf (ی ک), not Arabic's (ي ك),
/// and Arabic with none of Persian's letters: a mix-up would look foreign.
#[test]
fn persian_and_arabic_use_their_own_letters() {
    let text = |code: &str| {
        let l = texts::find(code).unwrap();
        ["title", "next.wait", "next.cv", "privacy.retention", "privacy.rights", "label.username"]
            .map(|k| l.get(k).to_owned())
            .concat()
    };
    let fa = text("fa");
    assert!(!fa.contains(['\u{064A}', '\u{0643}']), "Arabic yeh or kaf in Persian");
    assert!(fa.contains('\u{06CC}') && fa.contains('\u{06A9}') && fa.contains('\u{200C}'));
    assert!(!text("ar").contains(['\u{06CC}', '\u{06A9}', '\u{067E}', '\u{0686}', '\u{0698}', '\u{06AF}']));
}
