//! Machine-readable zones (ICAO Doc 9303) of passports and ID cards.
//!
//! Desk passport readers type the zone as keyboard input; [`parse`] reads it
//! (whitespace, CR/LF and lower case tolerated), checks every check digit, the
//! composite one included, and gives the fields with state codes mapped to ISO
//! alpha-2. Three layouts exist:
//!
//! | format | lines × chars | used by |
//! |---|---|---|
//! | TD3 | 2 × 44 | passports |
//! | TD2 | 2 × 36 | older ID cards, some residence documents |
//! | TD1 | 3 × 30 | ID cards |
//!
//! A broken check digit does not stop parsing: the fields are still returned
//! with a [`MrzProblem`] per failed check, so the clerk sees what was read and
//! what to verify by eye. Only input that is not a zone at all is an error.
//! [`format`] writes a zone from fields (for tests and specimens).

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::country;
use crate::i18n::{self, Lang};

/// Input longer than this is not a zone (the longest, TD1, is 92 bytes with
/// its line breaks); refusing early keeps a pasted file cheap.
const MAX_INPUT_BYTES: usize = 1024;

/// The layout of a zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum MrzFormat {
    /// ID cards: 3 lines of 30.
    #[serde(rename = "TD1")]
    Td1,
    /// 2 lines of 36.
    #[serde(rename = "TD2")]
    Td2,
    /// Passports: 2 lines of 44.
    #[serde(rename = "TD3")]
    Td3,
}

impl MrzFormat {
    /// `"TD1"`, `"TD2"` or `"TD3"`.
    pub fn code(self) -> &'static str {
        match self {
            MrzFormat::Td1 => "TD1",
            MrzFormat::Td2 => "TD2",
            MrzFormat::Td3 => "TD3",
        }
    }

    /// Lines and characters per line.
    pub fn shape(self) -> (usize, usize) {
        match self {
            MrzFormat::Td1 => (3, 30),
            MrzFormat::Td2 => (2, 36),
            MrzFormat::Td3 => (2, 44),
        }
    }

    /// Width of the name field.
    fn name_width(self) -> usize {
        match self {
            MrzFormat::Td1 => 30,
            MrzFormat::Td2 => 31,
            MrzFormat::Td3 => 39,
        }
    }

    /// Width of the (first) optional data field.
    fn optional_width(self) -> usize {
        match self {
            MrzFormat::Td1 => 15,
            MrzFormat::Td2 => 7,
            MrzFormat::Td3 => 14,
        }
    }
}

/// Sex as a zone writes it. `<` (unspecified) is `None` where this is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum MrzSex {
    F,
    M,
    X,
}

impl MrzSex {
    /// `"F"`, `"M"` or `"X"`.
    pub fn code(self) -> &'static str {
        match self {
            MrzSex::F => "F",
            MrzSex::M => "M",
            MrzSex::X => "X",
        }
    }
}

/// The fields of a zone, as read or to be written. Names are upper-case A–Z
/// words separated by single spaces; codes are without their `<` padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MrzFields {
    pub format: MrzFormat,
    /// `P` (passport), `I`, `ID`, `AC`…: one or two characters.
    pub document_code: String,
    /// The issuing state's ICAO code, e.g. `UTO`, `D`.
    pub issuing_state_icao: String,
    pub document_number: String,
    pub surname: String,
    pub given_names: String,
    /// The holder's nationality as an ICAO code, e.g. `SWE`, `XXA`.
    pub nationality_icao: String,
    /// `None` when the zone has fillers (date unknown).
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<MrzSex>,
    /// `None` when the zone has fillers (no expiry).
    pub expiry_date: Option<NaiveDate>,
    /// TD3: the personal number; TD2: the optional data; TD1: line 1's
    /// optional data (after any document number overflow).
    pub optional_data: String,
    /// TD1 only: line 2's optional data.
    pub optional_data_2: String,
}

/// A field of the zone that a check can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MrzField {
    DocumentCode,
    DocumentNumber,
    BirthDate,
    Sex,
    ExpiryDate,
    OptionalData,
    Composite,
}

impl MrzField {
    /// The field's name in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            MrzField::DocumentCode => "document_code",
            MrzField::DocumentNumber => "document_number",
            MrzField::BirthDate => "birth_date",
            MrzField::Sex => "sex",
            MrzField::ExpiryDate => "expiry_date",
            MrzField::OptionalData => "optional_data",
            MrzField::Composite => "composite",
        }
    }
}

/// A failed check in a zone that could still be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MrzProblem {
    /// The check digit after `field` (or the composite one) does not match.
    CheckDigit(MrzField),
    /// A date field holds no calendar date.
    Date(MrzField),
    /// The sex is not `F`, `M`, `X` or `<`.
    Sex,
    /// The document code does not belong to this layout (e.g. a visa).
    DocumentCode,
}

impl MrzProblem {
    /// The field the problem is about.
    pub fn field(self) -> MrzField {
        match self {
            MrzProblem::CheckDigit(f) | MrzProblem::Date(f) => f,
            MrzProblem::Sex => MrzField::Sex,
            MrzProblem::DocumentCode => MrzField::DocumentCode,
        }
    }

    /// Stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            MrzProblem::CheckDigit(_) => "check_digit",
            MrzProblem::Date(_) => "date",
            MrzProblem::Sex => "sex",
            MrzProblem::DocumentCode => "document_code",
        }
    }

    /// The message for staff.
    pub fn message(self, lang: Lang) -> String {
        let label = i18n::text(lang, &format!("mrz.field.{}", self.field().name())).to_string();
        match self {
            MrzProblem::CheckDigit(MrzField::Composite) => i18n::text(lang, "mrz.error.composite").to_string(),
            MrzProblem::CheckDigit(_) => i18n::render(lang, "mrz.error.check_digit", &[("field", &label)]),
            MrzProblem::Date(_) => i18n::render(lang, "mrz.error.date", &[("field", &label)]),
            MrzProblem::Sex => i18n::text(lang, "mrz.error.sex").to_string(),
            MrzProblem::DocumentCode => i18n::text(lang, "mrz.error.document_code").to_string(),
        }
    }
}

/// Input that is not a machine-readable zone at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MrzError {
    /// Nothing but whitespace.
    #[error("no machine-readable zone given")]
    Empty,
    /// The line count and lengths match no layout.
    #[error("lines of lengths {lengths:?} match no zone layout (3×30, 2×36, 2×44)")]
    Shape { lengths: Vec<usize> },
    /// A character that zones never hold (only A–Z, 0–9 and `<`).
    #[error("character not allowed at line {line}, position {column}")]
    Character { line: usize, column: usize },
}

impl MrzError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            MrzError::Empty => "empty",
            MrzError::Shape { .. } => "shape",
            MrzError::Character { .. } => "character",
        }
    }

    /// The message for staff.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            MrzError::Empty => i18n::text(lang, "mrz.error.empty").to_string(),
            MrzError::Shape { lengths } => {
                let lengths = lengths.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
                i18n::render(lang, "mrz.error.shape", &[("lengths", &lengths)])
            }
            MrzError::Character { line, column } => i18n::render(
                lang,
                "mrz.error.character",
                &[("line", &line.to_string()), ("column", &column.to_string())],
            ),
        }
    }
}

/// A zone as read: its fields, the states mapped to ISO alpha-2, and every
/// check that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mrz {
    pub fields: MrzFields,
    /// ISO alpha-2 of the issuing state, `None` where none exists (`UTO`, `XXA`…).
    pub issuing_state: Option<&'static str>,
    /// ISO alpha-2 of the nationality, `None` where none exists.
    pub nationality: Option<&'static str>,
    /// Failed checks; empty when the zone is valid.
    pub problems: Vec<MrzProblem>,
}

impl Mrz {
    /// Whether every check digit holds and every field could be read.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The ICAO check digit of a field: weights 7, 3, 1 repeating; digits count
/// as their value, A–Z as 10–35 and `<` as 0; the sum modulo 10.
///
/// ```
/// assert_eq!(skranke_rules::mrz::check_digit("L898902C3"), 6);
/// ```
pub fn check_digit(field: &str) -> u8 {
    let sum: u32 = field
        .bytes()
        .zip([7u32, 3, 1].into_iter().cycle())
        .map(|(b, w)| {
            let v = match b {
                b'0'..=b'9' => u32::from(b - b'0'),
                b'A'..=b'Z' => u32::from(b - b'A') + 10,
                _ => 0,
            };
            v * w
        })
        .sum();
    (sum % 10) as u8
}

/// Whether `digit` is the right check digit for `field`. A field of fillers
/// only may carry `<` instead of 0, as ICAO allows for an unused personal
/// number.
fn check_holds(field: &str, digit: u8) -> bool {
    if digit == b'<' {
        return field.bytes().all(|b| b == b'<');
    }
    digit.is_ascii_digit() && digit - b'0' == check_digit(field)
}

fn trim_fillers(s: &str) -> &str {
    s.trim_end_matches('<')
}

fn words(s: &str) -> String {
    s.split('<').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Splits the name field at its first `<<` into surname and given names.
fn split_name(field: &str) -> (String, String) {
    let field = trim_fillers(field);
    match field.split_once("<<") {
        Some((surname, given)) => (words(surname), words(given)),
        None => (words(field), String::new()),
    }
}

/// Which century a two-digit year belongs to.
#[derive(Clone, Copy)]
enum Century {
    /// Birth dates: the latest that is not after `today`.
    NotAfter(NaiveDate),
    /// Expiry dates: this century.
    This,
}

/// Reads `YYMMDD`. `Ok(None)` for fillers only, `Err` for anything else
/// that is no date.
fn read_date(field: &str, century: Century) -> Result<Option<NaiveDate>, ()> {
    if field.bytes().all(|b| b == b'<') {
        return Ok(None);
    }
    if field.len() != 6 || !field.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    let n = |i: usize| u32::from(field.as_bytes()[i] - b'0') * 10 + u32::from(field.as_bytes()[i + 1] - b'0');
    let (yy, month, day) = (n(0) as i32, n(2), n(4));
    match century {
        Century::This => NaiveDate::from_ymd_opt(2000 + yy, month, day).map(Some).ok_or(()),
        Century::NotAfter(today) => NaiveDate::from_ymd_opt(2000 + yy, month, day)
            .filter(|d| *d <= today)
            .or_else(|| NaiveDate::from_ymd_opt(1900 + yy, month, day))
            .map(Some)
            .ok_or(()),
    }
}

/// Puts the input into lines of zone characters: trims each line, drops
/// empty ones, upper-cases, and splits a zone typed as one line.
fn lines_of(text: &str) -> Result<(MrzFormat, Vec<String>), MrzError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(MrzError::Shape { lengths: vec![text.chars().count()] });
    }
    let mut lines: Vec<String> =
        text.split(['\r', '\n']).map(|l| l.trim().to_ascii_uppercase()).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        return Err(MrzError::Empty);
    }
    for (i, line) in lines.iter().enumerate() {
        if let Some(pos) = line.chars().position(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<')) {
            return Err(MrzError::Character { line: i + 1, column: pos + 1 });
        }
    }
    // Some readers send the whole zone without line breaks.
    if lines.len() == 1 {
        let one = &lines[0];
        let split = match one.len() {
            90 => Some(30),
            88 => Some(44),
            72 => Some(36),
            _ => None,
        };
        if let Some(width) = split {
            lines = one.as_bytes().chunks(width).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        }
    }
    let lengths: Vec<usize> = lines.iter().map(String::len).collect();
    let format = match lengths.as_slice() {
        [30, 30, 30] => MrzFormat::Td1,
        [36, 36] => MrzFormat::Td2,
        [44, 44] => MrzFormat::Td3,
        _ => return Err(MrzError::Shape { lengths }),
    };
    Ok((format, lines))
}

/// Parses a machine-readable zone as a desk reader types it. `today` decides
/// the century of the birth date (never in the future); expiry dates are
/// taken in this century.
///
/// ```
/// use chrono::NaiveDate;
/// let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
/// let zone = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
/// let mrz = skranke_rules::mrz::parse(zone, today).unwrap();
/// assert!(mrz.is_valid());
/// assert_eq!(mrz.fields.surname, "ERIKSSON");
/// assert_eq!(mrz.fields.birth_date, NaiveDate::from_ymd_opt(1974, 8, 12));
/// ```
pub fn parse(text: &str, today: NaiveDate) -> Result<Mrz, MrzError> {
    let (format, lines) = lines_of(text)?;
    // Every line is ASCII by now, so byte slicing is on character boundaries.
    let l1 = lines[0].as_str();
    let l2 = lines[1].as_str();
    let at = |line: &str, i: usize| line.as_bytes()[i];
    let slices = match format {
        MrzFormat::Td1 => {
            let l3 = lines[2].as_str();
            Slices {
                name: l3,
                number: &l1[5..14],
                number_cd: at(l1, 14),
                birth: &l2[0..6],
                birth_cd: at(l2, 6),
                sex: at(l2, 7),
                expiry: &l2[8..14],
                expiry_cd: at(l2, 14),
                nationality: &l2[15..18],
                optional: &l1[15..30],
                optional_cd: None,
                optional_2: Some(&l2[18..29]),
                composite: format!("{}{}{}{}", &l1[5..30], &l2[0..7], &l2[8..15], &l2[18..29]),
                composite_cd: at(l2, 29),
            }
        }
        MrzFormat::Td2 | MrzFormat::Td3 => {
            let end = l2.len() - 1;
            // TD3's personal number carries its own check digit.
            let (optional, optional_cd) =
                if format == MrzFormat::Td3 { (&l2[28..42], Some(at(l2, 42))) } else { (&l2[28..end], None) };
            Slices {
                name: &l1[5..],
                number: &l2[0..9],
                number_cd: at(l2, 9),
                nationality: &l2[10..13],
                birth: &l2[13..19],
                birth_cd: at(l2, 19),
                sex: at(l2, 20),
                expiry: &l2[21..27],
                expiry_cd: at(l2, 27),
                optional,
                optional_cd,
                optional_2: None,
                composite: format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..end]),
                composite_cd: at(l2, end),
            }
        }
    };
    Ok(read(format, &l1[0..2], &l1[2..5], &slices, today))
}

/// Where the fields of one zone sit, whatever its layout.
struct Slices<'a> {
    name: &'a str,
    number: &'a str,
    number_cd: u8,
    birth: &'a str,
    birth_cd: u8,
    sex: u8,
    expiry: &'a str,
    expiry_cd: u8,
    nationality: &'a str,
    optional: &'a str,
    optional_cd: Option<u8>,
    optional_2: Option<&'a str>,
    composite: String,
    composite_cd: u8,
}

fn read(format: MrzFormat, code: &str, state: &str, s: &Slices<'_>, today: NaiveDate) -> Mrz {
    let mut problems = Vec::new();
    let document_code = trim_fillers(code).to_string();
    let code_ok = match format {
        MrzFormat::Td3 => document_code.starts_with('P'),
        MrzFormat::Td1 | MrzFormat::Td2 => document_code.starts_with(['I', 'A', 'C']),
    };
    if !code_ok {
        problems.push(MrzProblem::DocumentCode);
    }

    // TD1 document numbers longer than 9 characters overflow into the
    // optional data: `<` stands in the check digit's place, and the rest of
    // the number follows, ending with the real check digit. Only a number
    // field full of characters overflows: one with fillers (or none at all,
    // `<` as its check digit) ends there, and the optional data is just that.
    let mut optional = trim_fillers(s.optional).to_string();
    let overflows = s.number_cd == b'<' && !s.number.contains('<') && !optional.is_empty();
    let document_number = if format == MrzFormat::Td1 && overflows {
        let (overflow, rest) = optional.split_once('<').unwrap_or((optional.as_str(), ""));
        let (tail, cd) = match overflow.len() {
            0 => ("", b'<'),
            n => (&overflow[..n - 1], overflow.as_bytes()[n - 1]),
        };
        let number = format!("{}{tail}", s.number);
        if tail.is_empty() || !check_holds(&number, cd) {
            problems.push(MrzProblem::CheckDigit(MrzField::DocumentNumber));
        }
        optional = rest.trim_start_matches('<').to_string();
        number
    } else {
        if !check_holds(s.number, s.number_cd) {
            problems.push(MrzProblem::CheckDigit(MrzField::DocumentNumber));
        }
        trim_fillers(s.number).to_string()
    };

    let birth_date = read_date(s.birth, Century::NotAfter(today)).unwrap_or_else(|()| {
        problems.push(MrzProblem::Date(MrzField::BirthDate));
        None
    });
    if !check_holds(s.birth, s.birth_cd) {
        problems.push(MrzProblem::CheckDigit(MrzField::BirthDate));
    }
    let sex = match s.sex {
        b'F' => Some(MrzSex::F),
        b'M' => Some(MrzSex::M),
        b'X' => Some(MrzSex::X),
        b'<' => None,
        _ => {
            problems.push(MrzProblem::Sex);
            None
        }
    };
    let expiry_date = read_date(s.expiry, Century::This).unwrap_or_else(|()| {
        problems.push(MrzProblem::Date(MrzField::ExpiryDate));
        None
    });
    if !check_holds(s.expiry, s.expiry_cd) {
        problems.push(MrzProblem::CheckDigit(MrzField::ExpiryDate));
    }
    if let Some(cd) = s.optional_cd {
        if !check_holds(s.optional, cd) {
            problems.push(MrzProblem::CheckDigit(MrzField::OptionalData));
        }
    }
    if !check_holds(&s.composite, s.composite_cd) {
        problems.push(MrzProblem::CheckDigit(MrzField::Composite));
    }

    let issuing_state_icao = trim_fillers(state).to_string();
    let nationality_icao = trim_fillers(s.nationality).to_string();
    let (surname, given_names) = split_name(s.name);
    Mrz {
        issuing_state: country::icao_to_alpha2(&issuing_state_icao),
        nationality: country::icao_to_alpha2(&nationality_icao),
        fields: MrzFields {
            format,
            document_code,
            issuing_state_icao,
            document_number,
            surname,
            given_names,
            nationality_icao,
            birth_date,
            sex,
            expiry_date,
            optional_data: optional,
            optional_data_2: s.optional_2.map(|o| trim_fillers(o).to_string()).unwrap_or_default(),
        },
        problems,
    }
}

/// `text` padded with `<` to `width`, or `None` when it does not fit or holds
/// characters a zone cannot.
fn pad(text: &str, width: usize) -> Option<String> {
    let ok = text.len() <= width && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'<');
    ok.then(|| format!("{text:<<width$}"))
}

fn yymmdd(date: Option<NaiveDate>) -> String {
    match date {
        Some(d) => format!("{:02}{:02}{:02}", d.year().rem_euclid(100), d.month(), d.day()),
        None => "<<<<<<".to_string(),
    }
}

/// The check digit character for a field: `<` for a field of fillers only
/// (as an unused personal number carries), else the digit.
fn cd(field: &str) -> char {
    if field.bytes().all(|b| b == b'<') {
        '<'
    } else {
        char::from(b'0' + check_digit(field))
    }
}

/// Writes a zone from fields, with every check digit. `None` when a field
/// does not fit its layout (names are not truncated; a document number longer
/// than 9 characters fits only in TD1, through the overflow rule).
///
/// ```
/// use skranke_rules::mrz::{format, parse};
/// let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
/// let zone = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<";
/// let mrz = parse(zone, today).unwrap();
/// assert_eq!(format(&mrz.fields).unwrap().join("\n"), zone);
/// ```
pub fn format(fields: &MrzFields) -> Option<Vec<String>> {
    let f = fields;
    let code = pad(&f.document_code, 2)?;
    let state = pad(&f.issuing_state_icao, 3)?;
    let nationality = pad(&f.nationality_icao, 3)?;
    let mut name = f.surname.split_whitespace().collect::<Vec<_>>().join("<");
    if !f.given_names.trim().is_empty() {
        name.push_str("<<");
        name.push_str(&f.given_names.split_whitespace().collect::<Vec<_>>().join("<"));
    }
    let name = pad(&name, f.format.name_width())?;
    let birth = yymmdd(f.birth_date);
    let expiry = yymmdd(f.expiry_date);
    let sex = f.sex.map_or("<", MrzSex::code);
    match f.format {
        MrzFormat::Td1 => {
            let (number, optional1) = if f.document_number.len() > 9 {
                let (main, tail) = f.document_number.split_at(9);
                let number = pad(main, 9)?;
                let overflow = format!("{tail}{}", cd(&f.document_number));
                let rest = if f.optional_data.is_empty() { String::new() } else { format!("<{}", f.optional_data) };
                (format!("{number}<"), pad(&format!("{overflow}{rest}"), 15)?)
            } else {
                let number = pad(&f.document_number, 9)?;
                let digit = cd(&number);
                (format!("{number}{digit}"), pad(&f.optional_data, 15)?)
            };
            let line1 = format!("{code}{state}{number}{optional1}");
            let optional2 = pad(&f.optional_data_2, 11)?;
            let mut line2 = format!("{birth}{}{sex}{expiry}{}{nationality}{optional2}", cd(&birth), cd(&expiry));
            let composite = format!("{}{}{}{}", &line1[5..30], &line2[0..7], &line2[8..15], &line2[18..29]);
            line2.push(char::from(b'0' + check_digit(&composite)));
            Some(vec![line1, line2, name])
        }
        MrzFormat::Td2 | MrzFormat::Td3 => {
            let number = pad(&f.document_number, 9)?;
            let optional = pad(&f.optional_data, f.format.optional_width())?;
            if !f.optional_data_2.is_empty() {
                return None;
            }
            let optional = if f.format == MrzFormat::Td3 { format!("{optional}{}", cd(&optional)) } else { optional };
            let line1 = format!("{code}{state}{name}");
            let mut line2 = format!(
                "{number}{}{nationality}{birth}{}{sex}{expiry}{}{optional}",
                cd(&number),
                cd(&birth),
                cd(&expiry)
            );
            let composite = format!("{}{}{}", &line2[0..10], &line2[13..20], &line2[21..]);
            line2.push(char::from(b'0' + check_digit(&composite)));
            Some(vec![line1, line2])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TD3: [&str; 2] =
        ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];
    const TD1: [&str; 3] =
        ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"];

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn check_digits_of_the_icao_specimens_computed_by_hand() {
        // L898902C3: L=21, 8, 9, 8, 9, 0, 2, C=12, 3 with weights 7,3,1:
        // 147+24+9+56+27+0+14+36+3 = 316 -> 6.
        assert_eq!(check_digit("L898902C3"), 6);
        // 740812: 49+12+0+56+3+2 = 122 -> 2.
        assert_eq!(check_digit("740812"), 2);
        // 120415: 7+6+0+28+3+5 = 49 -> 9.
        assert_eq!(check_digit("120415"), 9);
        assert_eq!(check_digit("ZE184226B<<<<<"), 1);
        assert_eq!(check_digit("L898902C3674081221204159ZE184226B<<<<<1"), 0);
        // D23145890: D=13 -> 91+6+3+7+12+5+56+27+0 = 207 -> 7.
        assert_eq!(check_digit("D23145890"), 7);
        assert_eq!(check_digit("D231458907<<<<<<<<<<<<<<<74081221204159<<<<<<<<<<<"), 6);
    }

    #[test]
    fn the_td3_passport_specimen_parses_with_every_field() {
        let mrz = parse(&TD3.join("\n"), today()).unwrap();
        assert!(mrz.is_valid(), "{:?}", mrz.problems);
        let f = &mrz.fields;
        assert_eq!(f.format, MrzFormat::Td3);
        assert_eq!(f.document_code, "P");
        assert_eq!(f.issuing_state_icao, "UTO");
        assert_eq!(mrz.issuing_state, None, "Utopia is no state");
        assert_eq!(f.document_number, "L898902C3");
        assert_eq!((f.surname.as_str(), f.given_names.as_str()), ("ERIKSSON", "ANNA MARIA"));
        assert_eq!(f.nationality_icao, "UTO");
        assert_eq!(mrz.nationality, None);
        assert_eq!(f.birth_date, date(1974, 8, 12));
        assert_eq!(f.sex, Some(MrzSex::F));
        assert_eq!(f.expiry_date, date(2012, 4, 15), "an expired document is still a valid zone");
        assert_eq!(f.optional_data, "ZE184226B");
    }

    #[test]
    fn the_td1_id_card_specimen_parses_with_every_field() {
        let mrz = parse(&TD1.join("\n"), today()).unwrap();
        assert!(mrz.is_valid(), "{:?}", mrz.problems);
        let f = &mrz.fields;
        assert_eq!(f.format, MrzFormat::Td1);
        assert_eq!(f.document_code, "I");
        assert_eq!(f.document_number, "D23145890");
        assert_eq!((f.surname.as_str(), f.given_names.as_str()), ("ERIKSSON", "ANNA MARIA"));
        assert_eq!(f.birth_date, date(1974, 8, 12));
        assert_eq!(f.expiry_date, date(2012, 4, 15));
        assert_eq!(f.sex, Some(MrzSex::F));
        assert_eq!((f.optional_data.as_str(), f.optional_data_2.as_str()), ("", ""));
    }

    #[test]
    fn reader_noise_is_tolerated() {
        let noisy = format!("\r\n  {}  \r\n\r\n{}\t\r\n", TD3[0].to_lowercase(), TD3[1]);
        assert!(parse(&noisy, today()).unwrap().is_valid());
        // Keyboard-wedge readers end lines with a bare CR (the Enter key).
        assert!(parse(&format!("{}\r{}\r", TD3[0], TD3[1]), today()).unwrap().is_valid());
        // A zone typed without line breaks.
        assert!(parse(&TD1.concat(), today()).unwrap().is_valid());
        assert!(parse(&TD3.concat(), today()).unwrap().is_valid());
    }

    /// Every check digit position of a layout, with the problem breaking it gives.
    fn check_positions(format: MrzFormat) -> Vec<(usize, usize, MrzField)> {
        use MrzField::*;
        match format {
            MrzFormat::Td3 => vec![
                (1, 9, DocumentNumber),
                (1, 19, BirthDate),
                (1, 27, ExpiryDate),
                (1, 42, OptionalData),
                (1, 43, Composite),
            ],
            MrzFormat::Td1 => vec![(0, 14, DocumentNumber), (1, 6, BirthDate), (1, 14, ExpiryDate), (1, 29, Composite)],
            MrzFormat::Td2 => vec![(1, 9, DocumentNumber), (1, 19, BirthDate), (1, 27, ExpiryDate), (1, 35, Composite)],
        }
    }

    fn with_char(lines: &[&str], line: usize, pos: usize, c: u8) -> String {
        let mut owned: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
        owned[line][pos] = c;
        owned.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect::<Vec<_>>().join("\n")
    }

    fn next_digit(c: u8) -> u8 {
        if c.is_ascii_digit() {
            b'0' + (c - b'0' + 1) % 10
        } else {
            b'1'
        }
    }

    /// What breaking the check digit of `field` must report: that check, and
    /// the composite one, which covers every other check digit.
    fn expected_for_broken(field: MrzField) -> Vec<MrzProblem> {
        let mut expected = vec![MrzProblem::CheckDigit(field)];
        if field != MrzField::Composite {
            expected.push(MrzProblem::CheckDigit(MrzField::Composite));
        }
        expected
    }

    #[test]
    fn each_broken_td3_check_digit_is_named() {
        for (line, pos, field) in check_positions(MrzFormat::Td3) {
            let broken = with_char(&TD3, line, pos, next_digit(TD3[line].as_bytes()[pos]));
            let mrz = parse(&broken, today()).unwrap();
            assert_eq!(mrz.problems, expected_for_broken(field), "{field:?}");
            assert!(!mrz.is_valid());
        }
    }

    #[test]
    fn each_broken_td1_check_digit_is_named() {
        for (line, pos, field) in check_positions(MrzFormat::Td1) {
            let broken = with_char(&TD1, line, pos, next_digit(TD1[line].as_bytes()[pos]));
            let mrz = parse(&broken, today()).unwrap();
            assert_eq!(mrz.problems, expected_for_broken(field), "{field:?}");
            assert!(!mrz.is_valid());
        }
    }

    #[test]
    fn a_changed_data_character_breaks_its_check_and_the_composite() {
        // Birth date 740812 -> 740813: its own check and the composite fail.
        let broken = with_char(&TD3, 1, 18, b'3');
        let mrz = parse(&broken, today()).unwrap();
        assert_eq!(
            mrz.problems,
            vec![MrzProblem::CheckDigit(MrzField::BirthDate), MrzProblem::CheckDigit(MrzField::Composite)]
        );
        // The optional data of TD1 has no check digit of its own: only the composite.
        let broken = with_char(&TD1, 1, 20, b'B');
        assert_eq!(parse(&broken, today()).unwrap().problems, vec![MrzProblem::CheckDigit(MrzField::Composite)]);
    }

    #[test]
    fn a_td2_zone_is_checked_like_the_others() {
        let fields = MrzFields {
            format: MrzFormat::Td2,
            document_code: "I".into(),
            issuing_state_icao: "UTO".into(),
            document_number: "D23145890".into(),
            surname: "ERIKSSON".into(),
            given_names: "ANNA MARIA".into(),
            nationality_icao: "UTO".into(),
            birth_date: date(1974, 8, 12),
            sex: Some(MrzSex::F),
            expiry_date: date(2012, 4, 15),
            optional_data: String::new(),
            optional_data_2: String::new(),
        };
        let lines = format(&fields).unwrap();
        assert_eq!(lines, ["I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"]);
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(parse(&lines.join("\n"), today()).unwrap().fields, fields);
        for (line, pos, field) in check_positions(MrzFormat::Td2) {
            let broken = with_char(&refs, line, pos, next_digit(refs[line].as_bytes()[pos]));
            assert_eq!(parse(&broken, today()).unwrap().problems, expected_for_broken(field), "{field:?}");
        }
    }

    #[test]
    fn germany_d_maps_to_de() {
        let mut fields = parse(&TD3.join("\n"), today()).unwrap().fields;
        fields.issuing_state_icao = "D".into();
        fields.nationality_icao = "D".into();
        let zone = format(&fields).unwrap();
        assert!(zone[0].starts_with("P<D<<ERIKSSON"));
        let mrz = parse(&zone.join("\n"), today()).unwrap();
        assert!(mrz.is_valid());
        assert_eq!((mrz.issuing_state, mrz.nationality), (Some("DE"), Some("DE")));
        assert_eq!(mrz.fields.nationality_icao, "D");
    }

    #[test]
    fn birth_dates_are_never_in_the_future_and_expiry_is_this_century() {
        assert_eq!(read_date("261126", Century::NotAfter(today())), Ok(date(2026, 11, 26)));
        assert_eq!(read_date("261127", Century::NotAfter(today())), Ok(date(1926, 11, 27)));
        assert_eq!(read_date("740812", Century::NotAfter(today())), Ok(date(1974, 8, 12)));
        assert_eq!(read_date("740812", Century::This), Ok(date(2074, 8, 12)));
        assert_eq!(read_date("<<<<<<", Century::This), Ok(None));
        for bad in ["741312", "740230", "7408<2", "ABCDEF"] {
            assert_eq!(read_date(bad, Century::This), Err(()), "{bad}");
        }
    }

    #[test]
    fn an_impossible_date_with_a_matching_check_digit_is_still_reported() {
        let mut lines: Vec<String> = TD3.iter().map(|s| s.to_string()).collect();
        // Month 13, with its check digit and the composite recomputed.
        let birth = "741312";
        let line2 = format!("{}{}{}{}", &lines[1][..13], birth, check_digit(birth), &lines[1][20..43]);
        let composite = format!("{}{}{}", &line2[0..10], &line2[13..20], &line2[21..43]);
        lines[1] = format!("{line2}{}", check_digit(&composite));
        let mrz = parse(&lines.join("\n"), today()).unwrap();
        assert_eq!(mrz.problems, vec![MrzProblem::Date(MrzField::BirthDate)]);
        assert_eq!(mrz.fields.birth_date, None);
    }

    #[test]
    fn unspecified_sex_and_unknown_states_read_as_null() {
        let mut fields = parse(&TD3.join("\n"), today()).unwrap().fields;
        fields.sex = None;
        fields.nationality_icao = "XXA".into();
        let mrz = parse(&format(&fields).unwrap().join("\n"), today()).unwrap();
        assert!(mrz.is_valid());
        assert_eq!((mrz.fields.sex, mrz.nationality), (None, None));
        assert_eq!(mrz.fields.nationality_icao, "XXA");
    }

    #[test]
    fn visas_and_bad_sex_codes_are_reported() {
        let visa = with_char(&TD3, 0, 0, b'V');
        assert_eq!(parse(&visa, today()).unwrap().problems, vec![MrzProblem::DocumentCode]);
        // The sex is covered by no check digit, so only its own problem shows.
        let sex = with_char(&TD3, 1, 20, b'Q');
        assert_eq!(parse(&sex, today()).unwrap().problems, vec![MrzProblem::Sex]);
    }

    #[test]
    fn what_is_not_a_zone_is_an_error_naming_the_problem() {
        assert_eq!(parse("", today()), Err(MrzError::Empty));
        assert_eq!(parse(" \r\n\n", today()), Err(MrzError::Empty));
        assert_eq!(parse(TD3[0], today()), Err(MrzError::Shape { lengths: vec![44] }));
        assert_eq!(parse(&format!("{}\n{}X", TD3[0], TD3[1]), today()), Err(MrzError::Shape { lengths: vec![44, 45] }));
        assert_eq!(
            parse(&format!("{}\n{}", TD3[0], TD3[1].replace('F', "é")), today()),
            Err(MrzError::Character { line: 2, column: 21 })
        );
        assert_eq!(parse("P<UTO\u{0000}", today()), Err(MrzError::Character { line: 1, column: 6 }));
        assert!(matches!(parse(&"<".repeat(100 * 1024), today()), Err(MrzError::Shape { .. })));
        assert!(matches!(parse("'; DROP TABLE records;--", today()), Err(MrzError::Character { .. })));
    }

    #[test]
    fn a_long_td1_document_number_overflows_into_the_optional_data() {
        let mut fields = parse(&TD1.join("\n"), today()).unwrap().fields;
        fields.document_number = "D23145890AB112".into();
        fields.optional_data = "XY1".into();
        let zone = format(&fields).unwrap();
        assert_eq!(&zone[0][5..15], "D23145890<");
        let mrz = parse(&zone.join("\n"), today()).unwrap();
        assert!(mrz.is_valid(), "{:?}", mrz.problems);
        assert_eq!(mrz.fields, fields);
        // Breaking the overflow's check digit is reported on the number.
        let cd_pos = 15 + "AB112".len();
        let refs: Vec<&str> = zone.iter().map(String::as_str).collect();
        let broken = with_char(&refs, 0, cd_pos, next_digit(refs[0].as_bytes()[cd_pos]));
        let problems = parse(&broken, today()).unwrap().problems;
        assert!(problems.contains(&MrzProblem::CheckDigit(MrzField::DocumentNumber)), "{problems:?}");
    }

    /// Found by the `mrz` fuzz target: a TD1 zone without a document number
    /// (fillers, `<` as check digit) and with optional data was read as an
    /// overflowing number, so writing it back gave another zone.
    #[test]
    fn a_td1_zone_without_a_document_number_keeps_its_optional_data() {
        let zone = "I<UTO<<<<<<<<<<<<<A<<<<<<<<<A<\n7408122F1204159UTO<<<<<<<<<<<0\nERIKSSON<<ANNA<MARIA<<<<<<<<<<";
        let mrz = parse(zone, today()).unwrap();
        assert_eq!(mrz.fields.document_number, "");
        assert_eq!(mrz.fields.optional_data, "<<<A<<<<<<<<<A");
        assert!(!mrz.problems.contains(&MrzProblem::CheckDigit(MrzField::DocumentNumber)), "{:?}", mrz.problems);
        let written = format(&mrz.fields).unwrap();
        assert_eq!(written[0], zone.lines().next().unwrap());
        assert_eq!(parse(&written.join("\n"), today()).unwrap().fields, mrz.fields);
    }

    #[test]
    fn an_unused_personal_number_may_carry_a_filler_or_zero_check_digit() {
        let mut fields = parse(&TD3.join("\n"), today()).unwrap().fields;
        fields.optional_data = String::new();
        let zone = format(&fields).unwrap();
        assert_eq!(zone[1].as_bytes()[42], b'<');
        assert!(parse(&zone.join("\n"), today()).unwrap().is_valid());
        let zero = zone[1][..42].to_string() + "0" + &zone[1][43..];
        assert!(parse(&format!("{}\n{}", zone[0], zero), today()).unwrap().is_valid());
    }

    fn name_words(max_total: usize) -> impl Strategy<Value = (String, String)> {
        (prop::collection::vec("[A-Z]{1,8}", 1..3), prop::collection::vec("[A-Z]{1,8}", 0..3))
            .prop_map(|(s, g)| (s.join(" "), g.join(" ")))
            .prop_filter("fits the name field", move |(s, g)| s.len() + 2 + g.len() <= max_total)
    }

    fn any_fields() -> impl Strategy<Value = MrzFields> {
        let formats = prop_oneof![Just(MrzFormat::Td1), Just(MrzFormat::Td2), Just(MrzFormat::Td3)];
        let states = prop_oneof![Just("UTO"), Just("D"), Just("SWE"), Just("XXA"), Just("POL")];
        let sexes = prop_oneof![Just(None), Just(Some(MrzSex::F)), Just(Some(MrzSex::M)), Just(Some(MrzSex::X))];
        // Birth dates up to today (so the century is unambiguous within 100
        // years); expiry dates in this century; either may be absent.
        let birth = prop_oneof![Just(None), (0i64..36_500).prop_map(|d| Some(today() - chrono::Duration::days(d)))];
        let expiry = prop_oneof![
            Just(None),
            (0i64..36_524).prop_map(|d| NaiveDate::from_ymd_opt(2000, 1, 1).map(|s| s + chrono::Duration::days(d)))
        ];
        (formats, states.clone(), states, sexes, birth, expiry, "[A-Z0-9]{1,9}", "[A-Z0-9]{0,7}", "[A-Z0-9]{0,11}")
            .prop_flat_map(|(format, issuer, nat, sex, birth, expiry, number, optional, optional2)| {
                (
                    Just((format, issuer, nat, sex, birth, expiry, number, optional, optional2)),
                    name_words(format.name_width()),
                )
            })
            .prop_map(|((format, issuer, nat, sex, birth, expiry, number, optional, optional2), (surname, given))| {
                MrzFields {
                    format,
                    document_code: if format == MrzFormat::Td3 { "P".into() } else { "ID".into() },
                    issuing_state_icao: issuer.into(),
                    document_number: number,
                    surname,
                    given_names: given,
                    nationality_icao: nat.into(),
                    birth_date: birth,
                    sex,
                    expiry_date: expiry,
                    optional_data: optional,
                    optional_data_2: if format == MrzFormat::Td1 { optional2 } else { String::new() },
                }
            })
    }

    proptest! {
        #[test]
        fn any_formatted_zone_parses_back_to_its_fields(fields in any_fields()) {
            let zone = format(&fields).expect("generated fields fit their layout");
            let (lines, width) = fields.format.shape();
            prop_assert_eq!(zone.len(), lines);
            prop_assert!(zone.iter().all(|l| l.len() == width));
            let mrz = parse(&zone.join("\n"), today()).unwrap();
            prop_assert!(mrz.is_valid(), "{:?}", mrz.problems);
            prop_assert_eq!(mrz.fields, fields);
        }

        #[test]
        fn long_td1_numbers_round_trip_through_the_overflow(number in "[A-Z0-9]{10,14}", optional in "[A-Z0-9]{0,3}") {
            let mut fields = parse(&TD1.join("\n"), today()).unwrap().fields;
            fields.document_number = number;
            fields.optional_data = optional;
            let zone = format(&fields).expect("fits");
            let mrz = parse(&zone.join("\n"), today()).unwrap();
            prop_assert!(mrz.is_valid(), "{:?}", mrz.problems);
            prop_assert_eq!(mrz.fields, fields);
        }

        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = parse(&text, today());
        }

        #[test]
        fn parse_never_panics_on_zone_shaped_input(lines in prop::collection::vec("[A-Z0-9<]{30}", 3)) {
            let _ = parse(&lines.join("\n"), today());
        }

        #[test]
        fn parse_never_panics_on_td1_overflow_shapes(optional in "[A-Z0-9<]{15}") {
            let line1 = format!("I<UTOD23145890<{optional}");
            let _ = parse(&format!("{line1}\n{}\n{}", TD1[1], TD1[2]), today());
        }
    }
}
