//! The handout (udskriften): the one-page A4 letter the applicant takes
//! home with the administrative personnummer and the first Jobnet login.
//!
//! [`render_handout`] is a pure function from [`HandoutData`] to PDF bytes:
//! no file is written, nothing is logged, and the same input gives the same
//! bytes (fixed font ids, dates and document id derived from the input), so
//! tests can pin the output.
//!
//! The page: municipality, office and the record's reference at the top; a
//! title per language; one box with the name, the personnummer, username
//! and password (the last three in a monospaced face) and a QR code to
//! jobnet.dk; then the instructions, the password lapse and the privacy
//! notice in Danish, English and the applicant's language when a catalog
//! exists for it (see [`texts`]), flowed over two columns in the largest
//! type size (9 pt down to a 6 pt floor) that keeps it all on one page.
//! The eligibility group is not an input, so it can never be printed.

pub mod face;
pub mod layout;
pub mod qr;
pub mod shape;
pub mod texts;

use chrono::{NaiveDate, NaiveTime};
use printpdf::{PdfDocument, PdfPage, PdfSaveOptions, Pt};
use zeroize::Zeroize;

use crate::credentials::{InitialPassword, LapseDays, Username};
use crate::i18n::{self, Lang};
use layout::{fonts, Canvas, Face, Fonts, Mark, PAGE_H, PAGE_W};
use shape::Dir;
use texts::LetterTexts;

/// The municipality's privacy-notice details (settings `privacy_controller`,
/// `privacy_contact`, `privacy_dpo`), filled into each language's notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivacyContacts {
    /// The data controller (dataansvarlig), e.g. "Københavns Kommune, Jobcenter København".
    pub controller: String,
    /// How to reach the controller: address, phone or e-mail.
    pub contact: String,
    /// The data protection officer (databeskyttelsesrådgiver, DPO).
    pub dpo: String,
    /// The municipality's own note on how long it keeps the data; printed
    /// after the notice's storage sentence only when set (may be empty).
    pub retention: String,
}

/// Everything printed on one handout. The issuing code builds it from the
/// record, the desk's settings and fresh [`Credentials`](crate::credentials::Credentials).
/// There is deliberately no field for the eligibility group.
#[derive(Debug)]
pub struct HandoutData<'a> {
    /// The municipality's name as staff write it, e.g. "København".
    pub municipality_name: &'a str,
    /// The kommunekode, e.g. 101 (printed with three digits).
    pub municipality_code: u16,
    /// The office, e.g. "Borgerservice Nørrebro".
    pub office: &'a str,
    /// The desk as people name it, e.g. "Skranke 3".
    pub desk_label: &'a str,
    /// The applicant's name as the identity document prints it (any script
    /// the fonts cover).
    pub applicant_name: &'a str,
    /// The administrative personnummer as shown, e.g. "010190-4127".
    pub personnummer: &'a str,
    pub username: &'a Username,
    pub password: &'a InitialPassword,
    pub issue_date: NaiveDate,
    /// The record's ID, which is also the print job's title.
    pub reference: &'a str,
    /// A training desk's handout: TRAINING across the page.
    pub training: bool,
    /// Days after registration until the unchanged password lapses.
    pub lapse: LapseDays,
    pub privacy: &'a PrivacyContacts,
    /// The applicant's language (ISO 639-1); `None` or a language without a
    /// catalog gives a Danish and English handout.
    pub language: Option<&'a str>,
}

/// Why a handout could not be rendered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LetterError {
    /// A field the handout needs is empty.
    #[error("missing {field}")]
    Missing { field: &'static str },
    /// A field holds a character the embedded fonts cannot print: staff
    /// should enter the Latin form of the name.
    #[error("unprintable {ch:?} in {field}")]
    Unprintable { field: &'static str, ch: char },
    /// Even at the smallest type size the text does not fit on one page.
    #[error("does not fit on one page")]
    Overflow,
    /// The embedded fonts could not be read (a build defect).
    #[error("fonts")]
    Fonts,
}

impl LetterError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LetterError::Missing { .. } => "letter.missing",
            LetterError::Unprintable { .. } => "letter.unprintable",
            LetterError::Overflow => "letter.overflow",
            LetterError::Fonts => "letter.fonts",
        }
    }

    /// The field concerned, if any (a path such as `applicant.name`).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            LetterError::Missing { field } | LetterError::Unprintable { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The message for staff, from the catalog of `lang`.
    pub fn message(&self, lang: Lang) -> String {
        let key = format!("letter.error.{}", &self.code()["letter.".len()..]);
        match self {
            LetterError::Missing { field } => i18n::render(lang, &key, &[("field", field)]),
            LetterError::Unprintable { field, ch } => i18n::render(
                lang,
                &key,
                &[("field", field), ("char", &ch.to_string()), ("codepoint", &format!("U+{:04X}", u32::from(*ch)))],
            ),
            LetterError::Overflow | LetterError::Fonts => i18n::render(lang, &key, &[]),
        }
    }
}

/// Page margin.
const MARGIN: f32 = 40.0;
/// Body type sizes tried, largest first, in steps of a quarter point.
const BODY_MAX: f32 = 9.0;
const BODY_FLOOR: f32 = 6.0;
const COLUMNS: usize = 2;
const COLUMN_GAP: f32 = 18.0;
const LEADING: f32 = 1.28;

/// Renders the handout as PDF bytes: one A4 page, fonts embedded and subset.
/// Writes no file and logs nothing; the password leaves only in the bytes.
pub fn render_handout(data: &HandoutData<'_>) -> Result<Vec<u8>, LetterError> {
    Ok(lay_out_handout(data)?.pdf())
}

/// Lays the handout out: the one page, as marks that its PDF ([`Page::pdf`])
/// and a printer driver's page are both drawn from. Every refusal
/// (a missing field, a character no face has, text that cannot fit one
/// page) comes from here, before anything is drawn anywhere.
pub fn lay_out_handout(data: &HandoutData<'_>) -> Result<Page, LetterError> {
    let fonts = fonts().ok_or(LetterError::Fonts)?;
    let langs = texts::handout_languages(data.language);
    let password = data.password.expose_grouped();
    check_fields(fonts, data, &password)?;

    let mut canvas = Canvas::new(fonts);
    if data.training {
        watermark(fonts, &mut canvas, &langs);
    }
    canvas.fill_grey(0.0);
    let mut y = header(fonts, &mut canvas, data, &langs);
    y = titles(fonts, &mut canvas, &langs, y);
    y = personal_box(fonts, &mut canvas, data, &langs, &password, y);
    body(fonts, &mut canvas, data, &langs, y - 12.0)?;
    Ok(Page {
        marks: std::mem::take(&mut canvas.marks),
        fonts,
        reference: data.reference.to_owned(),
        date: data.issue_date,
        document_id: document_id(data),
    })
}

/// A laid-out handout: its marks, and what its PDF is named and dated by.
/// The marks hold the page's text, the password among it: they are wiped
/// when the page is dropped, and the page is never cloned or printed as
/// debug output.
pub struct Page {
    marks: Vec<Mark>,
    fonts: &'static Fonts,
    reference: String,
    date: NaiveDate,
    document_id: String,
}

impl Page {
    /// What is drawn, in order.
    pub fn marks(&self) -> &[Mark] {
        &self.marks
    }

    /// The faces the marks are set in, with their metrics.
    pub fn fonts(&self) -> &'static Fonts {
        self.fonts
    }

    /// The record's reference: the PDF's and a print job's title.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The page as PDF bytes: every face embedded and subset (printpdf
    /// leaves out a face the page does not use), dated at midnight of the
    /// issue date, with a document id from the record. The same page gives
    /// the same bytes.
    pub fn pdf(&self) -> Vec<u8> {
        let fonts = self.fonts;
        let mut doc = PdfDocument::new(&format!("Skranke {}", self.reference));
        for face in Face::ALL {
            doc.resources.fonts.map.insert(face.id(), printpdf::PdfFont::new(fonts.parsed(face).clone()));
        }
        let midnight = self.date.and_time(NaiveTime::MIN).and_utc().timestamp();
        if let Ok(date) = printpdf::OffsetDateTime::from_unix_timestamp(midnight) {
            let info = &mut doc.metadata.info;
            info.creation_date = date;
            info.modification_date = date;
            info.metadata_date = date;
        }
        doc.metadata.info.creator = "Skranke".to_owned();
        doc.metadata.info.producer = "Skranke".to_owned();
        doc.metadata.info.identifier = self.reference.clone();
        doc.pages = vec![PdfPage::new(Pt(PAGE_W).into(), Pt(PAGE_H).into(), Mark::pdf_ops(&self.marks))];
        let options = PdfSaveOptions { optimize: true, subset_fonts: true, secure: true, image_optimization: None };
        let mut bytes = doc.save(&options, &mut Vec::new());
        // Wipe the copies of the page's text (the password among them) that
        // the document held; the bytes are the only copy that leaves.
        for page in &mut doc.pages {
            for op in &mut page.ops {
                if let printpdf::Op::ShowText { items } = op {
                    for item in items {
                        match item {
                            printpdf::TextItem::Text(s) => s.zeroize(),
                            printpdf::TextItem::GlyphIds(glyphs) => {
                                glyphs.iter_mut().flat_map(|g| &mut g.cid).for_each(|s| s.zeroize())
                            }
                            printpdf::TextItem::Offset(_) => {}
                        }
                    }
                }
            }
        }
        fix_document_id(&mut bytes, &self.document_id);
        bytes
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        self.marks.iter_mut().for_each(Mark::wipe);
    }
}

/// Refuses empty fields and characters the fonts lack, naming the field.
fn check_fields(fonts: &Fonts, data: &HandoutData<'_>, password: &str) -> Result<(), LetterError> {
    let fields: [(&'static str, &str, Face, bool); 12] = [
        ("municipality.name", data.municipality_name, Face::Bold, true),
        ("office", data.office, Face::Regular, true),
        ("desk", data.desk_label, Face::Regular, true),
        ("applicant.name", data.applicant_name, Face::Bold, true),
        ("personnummer", data.personnummer, Face::Mono, true),
        ("username", data.username.as_str(), Face::Mono, true),
        ("password", password, Face::Mono, true),
        ("reference", data.reference, Face::Regular, true),
        ("privacy.controller", &data.privacy.controller, Face::Regular, true),
        ("privacy.contact", &data.privacy.contact, Face::Regular, true),
        ("privacy.dpo", &data.privacy.dpo, Face::Regular, true),
        ("privacy.retention", &data.privacy.retention, Face::Regular, false),
    ];
    for (field, value, face, required) in fields {
        if required && value.trim().is_empty() {
            return Err(LetterError::Missing { field });
        }
        if let Some(ch) = fonts.missing_glyph(face, value) {
            return Err(LetterError::Unprintable { field, ch });
        }
    }
    Ok(())
}

/// The labels of `key` in every handout language, each once, joined by " / ".
fn joined(langs: &[&LetterTexts], key: &str) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for l in langs {
        let t = l.get(key);
        if !seen.contains(&t) {
            seen.push(t);
        }
    }
    seen.join(" / ")
}

/// Danish and English only, for the header's administrative labels.
fn da_en<'t>(langs: &[&'t LetterTexts]) -> Vec<&'t LetterTexts> {
    langs.iter().copied().filter(|l| texts::ALWAYS.contains(&l.code())).collect()
}

/// TRAINING (and ØVELSE) diagonally across the page, in light grey, drawn
/// first so that everything else prints over it.
fn watermark(fonts: &Fonts, canvas: &mut Canvas, langs: &[&LetterTexts]) {
    canvas.fill_grey(0.86);
    let words: Vec<&str> = da_en(langs).iter().rev().map(|l| l.get("watermark")).collect();
    let angle: f32 = 55.0;
    let (sin, cos) = angle.to_radians().sin_cos();
    let size = 84.0;
    for (i, word) in words.iter().enumerate() {
        let w = fonts.width(Face::Bold, word, size);
        // Lines stacked perpendicular to the baseline, centred on the page.
        let offset = (i as f32 - (words.len() as f32 - 1.0) / 2.0) * -size * 1.1;
        let cx = PAGE_W / 2.0 - sin * offset;
        let cy = PAGE_H / 2.0 + cos * offset;
        canvas.rotated_text(Face::Bold, size, cx - cos * w / 2.0, cy - sin * w / 2.0, angle, word);
    }
}

/// Municipality and office on the left; code, date, desk and reference on
/// the right. Returns the y below it.
fn header(fonts: &Fonts, canvas: &mut Canvas, data: &HandoutData<'_>, langs: &[&LetterTexts]) -> f32 {
    let top = PAGE_H - MARGIN;
    let width = PAGE_W - 2.0 * MARGIN;
    let admin = da_en(langs);
    let right: Vec<String> = vec![
        format!("{}: {:03}", joined(&admin, "label.municipality_code"), data.municipality_code),
        format!("{}: {}", joined(&admin, "label.issued"), data.issue_date.format("%d.%m.%Y")),
        format!("{}: {}", joined(&admin, "label.desk"), data.desk_label),
        format!("{}: {}", joined(&admin, "label.reference"), data.reference),
    ];
    let right_width = right.iter().map(|l| fonts.width(Face::Regular, l, 8.0)).fold(0.0, f32::max).min(width * 0.5);
    let mut ry = top - 8.0;
    for line in &right {
        for part in fonts.wrap(Face::Regular, line, 8.0, right_width) {
            let w = fonts.width(Face::Regular, &part, 8.0);
            canvas.text(Face::Regular, 8.0, PAGE_W - MARGIN - w, ry, &part);
            ry -= 10.0;
        }
    }
    let left_width = width - right_width - 12.0;
    let mut ly = top - 13.0;
    for line in fonts.wrap(Face::Bold, data.municipality_name, 14.0, left_width) {
        canvas.text(Face::Bold, 14.0, MARGIN, ly, &line);
        ly -= 17.0;
    }
    for line in fonts.wrap(Face::Regular, data.office, 10.5, left_width) {
        canvas.text(Face::Regular, 10.5, MARGIN, ly, &line);
        ly -= 13.0;
    }
    let y = ly.min(ry) - 2.0;
    canvas.fill_grey(0.3);
    canvas.fill_rect(MARGIN, y, width, 0.7);
    canvas.fill_grey(0.0);
    y - 8.0
}

/// The letter's title in each language, the first larger.
fn titles(fonts: &Fonts, canvas: &mut Canvas, langs: &[&LetterTexts], mut y: f32) -> f32 {
    let width = PAGE_W - 2.0 * MARGIN;
    for (i, lang) in langs.iter().enumerate() {
        let (face, size) = if i == 0 { (Face::Bold, 13.0) } else { (Face::Regular, 10.0) };
        for line in fonts.wrap(face, lang.get("title"), size, width) {
            y -= size;
            // A right-to-left title starts at the right margin.
            if lang.rtl() {
                let x = PAGE_W - MARGIN - fonts.width(face, &line, size);
                canvas.text_dir(face, size, x, y, &line, Dir::Rtl);
            } else {
                canvas.text_dir(face, size, MARGIN, y, &line, Dir::Ltr);
            }
            y -= size * 0.35;
        }
    }
    y - 6.0
}

/// The box with the name, the number and the login, and the QR code.
fn personal_box(
    fonts: &Fonts,
    canvas: &mut Canvas,
    data: &HandoutData<'_>,
    langs: &[&LetterTexts],
    password: &str,
    top: f32,
) -> f32 {
    const PAD: f32 = 10.0;
    const QR_COL: f32 = 112.0;
    const QR_SIZE: f32 = 88.0;
    let width = PAGE_W - 2.0 * MARGIN;
    let left_w = width - 2.0 * PAD - QR_COL - 8.0;
    let x = MARGIN + PAD;

    // Long names shrink before they wrap.
    let mut name_size: f32 = 16.0;
    while name_size > 10.0 && fonts.width(Face::Bold, data.applicant_name, name_size) > left_w {
        name_size -= 0.5;
    }
    let fields: [(&str, &str, Face, f32); 4] = [
        ("label.name", data.applicant_name, Face::Bold, name_size),
        ("label.cpr", data.personnummer, Face::Mono, 16.0),
        ("label.username", data.username.as_str(), Face::Mono, 16.0),
        ("label.password", password, Face::Mono, 16.0),
    ];
    let mut y = top - PAD;
    for (key, value, face, size) in fields {
        canvas.fill_grey(0.35);
        y = label(fonts, canvas, langs, key, x, left_w, y);
        canvas.fill_grey(0.0);
        y -= 2.0;
        for line in fonts.wrap(face, value, size, left_w) {
            y -= size * 0.9;
            canvas.text(face, size, x, y, &line);
            y -= size * 0.3;
        }
        y -= 6.0;
    }

    // The QR column: where to log in, the code, the address.
    let qx = MARGIN + width - PAD - QR_COL;
    let mut qy = top - PAD;
    canvas.fill_grey(0.35);
    qy = label(fonts, canvas, langs, "label.login", qx, QR_COL, qy);
    qy -= 2.0;
    qr::draw(canvas, qr::JOBNET_URL, qx + (QR_COL - QR_SIZE) / 2.0, qy, QR_SIZE);
    qy -= QR_SIZE + 12.0;
    let site = "jobnet.dk";
    let w = fonts.width(Face::Mono, site, 13.0);
    canvas.text(Face::Mono, 13.0, qx + (QR_COL - w) / 2.0, qy, site);
    qy -= 6.0;

    let bottom = y.min(qy) - PAD + 6.0;
    canvas.stroke_grey(0.3, 0.8);
    canvas.stroke_rect(MARGIN, bottom, width, top - bottom);
    bottom
}

/// Type size of the box's labels.
const LABEL: f32 = 7.0;

/// A label of the box in every handout language, from `y` down in `width`
/// at `x`; returns the y below it. The left-to-right languages' labels are
/// joined at the left; a right-to-left language's label mirrors them at the
/// right end of the first line (or of its own line when there is no room),
/// where its reader looks first.
fn label(fonts: &Fonts, canvas: &mut Canvas, langs: &[&LetterTexts], key: &str, x: f32, width: f32, mut y: f32) -> f32 {
    let (rtl, ltr): (Vec<&LetterTexts>, Vec<&LetterTexts>) = langs.iter().copied().partition(|l| l.rtl());
    let lines = fonts.wrap(Face::Regular, &joined(&ltr, key), LABEL, width);
    let mirrored: Vec<String> =
        rtl.iter().flat_map(|l| fonts.wrap(Face::Regular, l.get(key), LABEL, width * 0.6)).collect();
    let rows = lines.len().max(1).max(mirrored.len());
    // The mirrored label shares the first rows when the left ones leave room.
    let shares = lines
        .iter()
        .zip(&mirrored)
        .all(|(l, m)| fonts.width(Face::Regular, l, LABEL) + 8.0 + fonts.width(Face::Regular, m, LABEL) <= width);
    let rows = if shares { rows } else { lines.len() + mirrored.len() };
    let offset = if shares { 0 } else { lines.len() };
    for row in 0..rows {
        y -= LABEL;
        if let Some(l) = lines.get(row) {
            canvas.text_dir(Face::Regular, LABEL, x, y, l, Dir::Ltr);
        }
        if let Some(m) = row.checked_sub(offset).and_then(|r| mirrored.get(r)) {
            let w = fonts.width(Face::Regular, m, LABEL);
            canvas.text_dir(Face::Regular, LABEL, x + width - w, y, m, Dir::Rtl);
        }
        y -= LABEL * 0.3;
    }
    y
}

/// One line of the flowed body text.
struct Line {
    face: Face,
    size: f32,
    indent: f32,
    text: String,
    bullet: bool,
    /// Space above, dropped at the top of a column.
    gap: f32,
    /// A heading: moves to the next column with the line after it.
    keep_with_next: bool,
    /// Starts a new column (each language its own column when two are printed).
    column_break: bool,
    /// Set right to left, from the column's right edge (Arabic, Persian).
    rtl: bool,
}

/// How a paragraph is set: face, size, space above, bullet or not.
#[derive(Clone, Copy)]
struct Style {
    face: Face,
    size: f32,
    gap: f32,
    bullet: bool,
    rtl: bool,
}

fn paragraph(fonts: &Fonts, out: &mut Vec<Line>, text: &str, width: f32, style: Style) {
    let Style { face, size, gap, bullet, rtl } = style;
    let indent = if bullet { size * 1.2 } else { 0.0 };
    for (i, t) in fonts.wrap(face, text, size, width - indent).into_iter().enumerate() {
        out.push(Line {
            face,
            size,
            indent,
            text: t,
            bullet: bullet && i == 0,
            gap: if i == 0 { gap } else { 0.0 },
            keep_with_next: false,
            column_break: false,
            rtl,
        });
    }
}

fn heading(out: &mut Vec<Line>, text: &str, size: f32, gap: f32, rtl: bool) {
    out.push(Line {
        face: Face::Bold,
        size,
        indent: 0.0,
        text: text.to_owned(),
        bullet: false,
        gap,
        keep_with_next: true,
        column_break: false,
        rtl,
    });
}

/// Every language's instructions, lapse and privacy notice at body size `s`.
fn body_lines(fonts: &Fonts, data: &HandoutData<'_>, langs: &[&LetterTexts], s: f32, width: f32) -> Vec<Line> {
    let days = data.lapse.days().to_string();
    let p = data.privacy;
    let mut out = Vec::new();
    for (i, l) in langs.iter().enumerate() {
        let rtl = l.rtl();
        heading(&mut out, l.get("language"), s + 2.0, if i == 0 { 0.0 } else { s * 1.2 }, rtl);
        if let Some(first) = out.last_mut() {
            // Two languages side by side read best; three flow on.
            first.column_break = i > 0 && langs.len() == COLUMNS;
        }
        heading(&mut out, l.get("next.heading"), s, s * 0.3, rtl);
        for key in ["next.wait", "next.login", "next.change", "next.cv", "next.mitid"] {
            paragraph(
                fonts,
                &mut out,
                l.get(key),
                width,
                Style { face: Face::Regular, size: s, gap: s * 0.15, bullet: true, rtl },
            );
        }
        let lapse = l.render("lapse", &[("days", &days)]);
        paragraph(
            fonts,
            &mut out,
            &lapse,
            width,
            Style { face: Face::Bold, size: s, gap: s * 0.4, bullet: false, rtl },
        );
        paragraph(
            fonts,
            &mut out,
            l.get("rights"),
            width,
            Style { face: Face::Regular, size: s, gap: s * 0.4, bullet: false, rtl },
        );
        heading(&mut out, l.get("privacy.heading"), s * 0.9, s * 0.5, rtl);
        let notice = [
            l.render("privacy.controller", &[("controller", &p.controller), ("contact", &p.contact), ("dpo", &p.dpo)]),
            l.get("privacy.purpose").to_owned(),
            l.get("privacy.basis").to_owned(),
            l.get("privacy.recipients").to_owned(),
            l.get("privacy.retention").to_owned(),
            // The municipality's own words, only when it has any: never an empty sentence.
            p.retention.trim().to_owned(),
            l.get("privacy.rights").to_owned(),
        ]
        .iter()
        .filter(|part| !part.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
        let small = Style { face: Face::Regular, size: s * 0.85, gap: s * 0.1, bullet: false, rtl };
        paragraph(fonts, &mut out, &notice, width, small);
    }
    out
}

/// Places `lines` in columns of height `height`: (column, baseline offset
/// from the top) per line, or `None` if they need more than [`COLUMNS`].
fn flow(lines: &[Line], height: f32) -> Option<Vec<(usize, f32)>> {
    let mut placed = Vec::with_capacity(lines.len());
    let (mut col, mut used) = (0usize, 0.0f32);
    for (i, line) in lines.iter().enumerate() {
        let lh = line.size * LEADING;
        let gap = if used == 0.0 { 0.0 } else { line.gap };
        let next = if line.keep_with_next { lines.get(i + 1).map_or(0.0, |n| n.gap + n.size * LEADING) } else { 0.0 };
        if used + gap + lh + next > height || (line.column_break && used > 0.0) {
            col += 1;
            used = 0.0;
            if col >= COLUMNS || lh + next > height {
                return None;
            }
            used += lh;
        } else {
            used += gap + lh;
        }
        placed.push((col, used - lh * 0.25));
    }
    Some(placed)
}

/// Flows the body into the columns below `top` at the largest size (in
/// quarter points, [`BODY_FLOOR`] to [`BODY_MAX`]) that fits, found by
/// bisection: the text's height grows with the size.
fn body(
    fonts: &Fonts,
    canvas: &mut Canvas,
    data: &HandoutData<'_>,
    langs: &[&LetterTexts],
    top: f32,
) -> Result<(), LetterError> {
    let col_w = (PAGE_W - 2.0 * MARGIN - COLUMN_GAP * (COLUMNS as f32 - 1.0)) / COLUMNS as f32;
    let height = top - MARGIN;
    let layout = |quarter: u32| {
        let size = quarter as f32 / 4.0;
        let lines = body_lines(fonts, data, langs, size, col_w);
        flow(&lines, height).map(|placed| (lines, placed))
    };
    let (floor, max) = ((BODY_FLOOR * 4.0) as u32, (BODY_MAX * 4.0) as u32);
    let mut best = layout(floor).ok_or(LetterError::Overflow)?;
    let (mut fits, mut fails) = (floor, max + 1);
    while fails - fits > 1 {
        let mid = (fits + fails) / 2;
        match layout(mid) {
            Some(found) => {
                best = found;
                fits = mid;
            }
            None => fails = mid,
        }
    }
    let (lines, placed) = best;
    canvas.fill_grey(0.0);
    for (line, (col, offset)) in lines.iter().zip(placed) {
        let x = MARGIN + col as f32 * (col_w + COLUMN_GAP);
        let y = top - offset;
        if line.rtl {
            // Mirrored: the bullet and the indent at the column's right edge.
            let right = x + col_w;
            if line.bullet {
                canvas.text(Face::Regular, line.size, right - fonts.width(Face::Regular, "•", line.size), y, "•");
            }
            let w = fonts.width(line.face, &line.text, line.size);
            canvas.text_dir(line.face, line.size, right - line.indent - w, y, &line.text, Dir::Rtl);
            continue;
        }
        if line.bullet {
            canvas.text(Face::Regular, line.size, x, y, "•");
        }
        canvas.text_dir(line.face, line.size, x + line.indent, y, &line.text, Dir::Ltr);
    }
    Ok(())
}

/// A 32-character document id from the record (never from the password), so
/// the same input gives the same bytes.
fn document_id(data: &HandoutData<'_>) -> String {
    let key = format!("{}|{}|{}", data.reference, data.username, data.issue_date);
    let fnv = |seed: u64| key.bytes().fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3));
    format!("{:016x}{:016x}", fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4))
}

/// printpdf writes a random trailer `/ID`; this overwrites both of its
/// strings in place with `id` (same length, so no offset moves).
fn fix_document_id(bytes: &mut [u8], id: &str) {
    let Some(at) = bytes.windows(3).rposition(|w| w == b"/ID") else { return };
    let mut pos = at + 3;
    for _ in 0..2 {
        let Some(open) = bytes[pos..].iter().position(|&b| b == b'(').map(|o| pos + o) else { return };
        let Some(close) = bytes[open..].iter().position(|&b| b == b')').map(|c| open + c) else { return };
        if close - open - 1 == id.len() {
            bytes[open + 1..close].copy_from_slice(id.as_bytes());
        }
        pos = close + 1;
    }
}

#[cfg(test)]
mod tests;
