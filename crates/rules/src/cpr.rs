//! The personnummer (CPR number) rules.
//!
//! A personnummer is `DDMMYY-SSSS`: the birth date, then a four-digit serial.
//! The serial's first digit (the number's 7th) together with `YY` gives the
//! century; the last digit gives the sex (odd: male, even: female). Numbers
//! issued since 1 October 2007 need not pass the modulus-11 check, so failing
//! it is reported, never treated as invalid.
//!
//! Digits 7–9 of a number form its [`Slot`]; the issuing engine draws numbers
//! slot by slot (see [`candidate_serials`]).

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::i18n::{self, Lang};

/// The modulus-11 weights, one per digit.
const WEIGHTS: [u32; 10] = [4, 3, 2, 7, 6, 5, 4, 3, 2, 1];

/// Sex as the personnummer's last digit carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Sex {
    /// Even last digit.
    #[serde(rename = "F")]
    Female,
    /// Odd last digit.
    #[serde(rename = "M")]
    Male,
}

impl Sex {
    /// `"F"` or `"M"`.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Female => "F",
            Sex::Male => "M",
        }
    }

    /// The sex a last digit denotes.
    pub fn of_last_digit(digit: u8) -> Sex {
        if digit % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Whether `digit` is a last digit of this sex.
    pub fn matches_last_digit(self, digit: u8) -> bool {
        Sex::of_last_digit(digit) == self
    }
}

/// Digits 7–9 of a personnummer, `0..=999`. The first of them (the number's
/// 7th digit) decides, with the birth year, whether the slot may be used for a
/// birth date at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct Slot(u16);

impl Slot {
    /// Every slot, in order.
    pub fn all() -> impl Iterator<Item = Slot> {
        (0..1000).map(Slot)
    }

    /// A slot from its three digits as a number, `0..=999`.
    pub fn new(value: u16) -> Option<Slot> {
        (value < 1000).then_some(Slot(value))
    }

    /// The slot's value, `0..=999`.
    pub fn value(self) -> u16 {
        self.0
    }

    /// The personnummer's 7th digit, which selects the century.
    pub fn seventh_digit(self) -> u8 {
        (self.0 / 100) as u8
    }

    /// Whether numbers in this slot can encode a birth in `year`.
    pub fn allows_year(self, year: i32) -> bool {
        allowed_seventh_digits(year).contains(&self.seventh_digit())
    }
}

impl TryFrom<u16> for Slot {
    type Error = String;
    fn try_from(value: u16) -> Result<Self, Self::Error> {
        Slot::new(value).ok_or_else(|| format!("slot {value} is outside 0..=999"))
    }
}

impl From<Slot> for u16 {
    fn from(slot: Slot) -> u16 {
        slot.0
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

/// The full birth year that a 7th digit and a two-digit year denote
/// (the CPR century table).
pub fn birth_year(seventh_digit: u8, yy: u8) -> i32 {
    let yy = i32::from(yy);
    match (seventh_digit, yy) {
        (0..=3, _) => 1900 + yy,
        (4 | 9, 0..=36) => 2000 + yy,
        (4 | 9, _) => 1900 + yy,
        (_, 0..=57) => 2000 + yy,
        (_, _) => 1800 + yy,
    }
}

/// The 7th digits that can encode a birth in `year`, ascending; empty for a
/// year that no personnummer can carry (before 1858, after 2057).
pub fn allowed_seventh_digits(year: i32) -> &'static [u8] {
    match year {
        1858..=1899 => &[5, 6, 7, 8],
        1900..=1936 => &[0, 1, 2, 3],
        1937..=1999 => &[0, 1, 2, 3, 4, 9],
        2000..=2036 => &[4, 5, 6, 7, 8, 9],
        2037..=2057 => &[5, 6, 7, 8],
        _ => &[],
    }
}

/// Whether ten digits pass the modulus-11 check.
pub fn passes_modulus11(digits: &[u8; 10]) -> bool {
    let sum: u32 = digits.iter().zip(WEIGHTS).map(|(&d, w)| u32::from(d) * w).sum();
    sum % 11 == 0
}

/// The six date digits `DDMMYY` of a birth date.
fn date_digits(date: NaiveDate) -> [u8; 6] {
    let (d, m, y) = (date.day() as u8, date.month() as u8, (date.year().rem_euclid(100)) as u8);
    [d / 10, d % 10, m / 10, m % 10, y / 10, y % 10]
}

fn number_digits(date: NaiveDate, serial: u16) -> [u8; 10] {
    let dd = date_digits(date);
    let s = [(serial / 1000) as u8, (serial / 100 % 10) as u8, (serial / 10 % 10) as u8, (serial % 10) as u8];
    [dd[0], dd[1], dd[2], dd[3], dd[4], dd[5], s[0], s[1], s[2], s[3]]
}

/// The serials of one slot for one birth date and sex, in the order the
/// issuing engine tries them: the one passing modulus 11 first (there is at
/// most one, as the last digit has weight 1), then the rest, lowest first.
///
/// Empty when the slot's 7th digit cannot encode the birth year.
///
/// ```
/// use chrono::NaiveDate;
/// use skranke_rules::cpr::{candidate_serials, Sex, Slot};
/// let date = NaiveDate::from_ymd_opt(1974, 8, 12).unwrap();
/// let serials = candidate_serials(date, Sex::Female, Slot::new(400).unwrap());
/// assert_eq!(serials.len(), 5);
/// assert!(serials.iter().all(|s| s / 10 == 400 && s % 2 == 0));
/// ```
pub fn candidate_serials(birth_date: NaiveDate, sex: Sex, slot: Slot) -> Vec<u16> {
    if !slot.allows_year(birth_date.year()) {
        return Vec::new();
    }
    let first = if sex == Sex::Male { 1 } else { 0 };
    let mut out: Vec<u16> = (first..10u16).step_by(2).map(|d| slot.0 * 10 + d).collect();
    // Stable sort: modulus-11 numbers first, otherwise ascending.
    out.sort_by_key(|&serial| !passes_modulus11(&number_digits(birth_date, serial)));
    out
}

/// Why a text is not a valid personnummer. Each reason has a stable
/// [`code`](CprError::code) and a catalog message for staff.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CprError {
    /// Nothing but whitespace.
    #[error("empty")]
    Empty,
    /// Not ten digits in either accepted form.
    #[error("format")]
    Format,
    /// Letters in the serial: a healthcare replacement number.
    #[error("letters in serial")]
    LettersInSerial,
    /// Day of month 61–91: a test, training or replacement number.
    #[error("test day {0}")]
    TestDay(u8),
    /// Day of month outside 1–31 (and not a test day).
    #[error("day {0}")]
    Day(u8),
    /// Month outside 1–12.
    #[error("month {0}")]
    Month(u8),
    /// The date does not exist in the year the century table gives.
    #[error("no such date {day:02}.{month:02}.{year}")]
    NoSuchDate { day: u8, month: u8, year: i32 },
    /// The birth date lies after today.
    #[error("future {0}")]
    Future(NaiveDate),
}

impl CprError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CprError::Empty => "cpr.empty",
            CprError::Format => "cpr.format",
            CprError::LettersInSerial => "cpr.letters_in_serial",
            CprError::TestDay(_) => "cpr.test_day",
            CprError::Day(_) => "cpr.day",
            CprError::Month(_) => "cpr.month",
            CprError::NoSuchDate { .. } => "cpr.no_such_date",
            CprError::Future(_) => "cpr.future",
        }
    }

    /// The message for staff, from the catalog of `lang`.
    pub fn message(&self, lang: Lang) -> String {
        let key = format!("cpr.error.{}", &self.code()[4..]);
        match self {
            CprError::Empty | CprError::Format | CprError::LettersInSerial => i18n::render(lang, &key, &[]),
            CprError::TestDay(d) => {
                i18n::render(lang, &key, &[("day", &d.to_string()), ("real_day", &(d - 60).to_string())])
            }
            CprError::Day(d) => i18n::render(lang, &key, &[("day", &d.to_string())]),
            CprError::Month(m) => i18n::render(lang, &key, &[("month", &m.to_string())]),
            CprError::NoSuchDate { day, month, year } => i18n::render(
                lang,
                &key,
                &[("day", &day.to_string()), ("month", &month.to_string()), ("year", &year.to_string())],
            ),
            CprError::Future(date) => i18n::render(lang, &key, &[("date", &date.format("%Y-%m-%d").to_string())]),
        }
    }
}

/// A valid personnummer. It may fail modulus 11 and still be valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Personnummer {
    digits: [u8; 10],
    birth_date: NaiveDate,
}

impl Personnummer {
    /// Parses `DDMMYY-SSSS` or `DDMMYYSSSS`, surrounded by whitespace at most,
    /// and checks it against `today` (a birth date after today is refused).
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use skranke_rules::cpr::{Personnummer, Sex};
    /// let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    /// let p = Personnummer::parse(" 0101651234 ", today).unwrap();
    /// assert_eq!(p.to_string(), "010165-1234");
    /// assert_eq!(p.sex(), Sex::Female);
    /// assert!(!p.passes_modulus11());
    /// ```
    pub fn parse(input: &str, today: NaiveDate) -> Result<Personnummer, CprError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(CprError::Empty);
        }
        let b = s.as_bytes();
        let (date_part, serial_part) = match b.len() {
            10 => (&b[..6], &b[6..]),
            11 if b[6] == b'-' => (&b[..6], &b[7..]),
            _ => return Err(CprError::Format),
        };
        if !date_part.iter().all(u8::is_ascii_digit) {
            return Err(CprError::Format);
        }
        if !serial_part.iter().all(u8::is_ascii_digit) {
            return Err(if serial_part.iter().all(u8::is_ascii_alphanumeric) {
                CprError::LettersInSerial
            } else {
                CprError::Format
            });
        }
        let mut digits = [0u8; 10];
        for (i, &c) in date_part.iter().chain(serial_part).enumerate() {
            digits[i] = c - b'0';
        }
        let day = digits[0] * 10 + digits[1];
        let month = digits[2] * 10 + digits[3];
        let yy = digits[4] * 10 + digits[5];
        match day {
            1..=31 => {}
            61..=91 => return Err(CprError::TestDay(day)),
            _ => return Err(CprError::Day(day)),
        }
        if !(1..=12).contains(&month) {
            return Err(CprError::Month(month));
        }
        let year = birth_year(digits[6], yy);
        let birth_date = NaiveDate::from_ymd_opt(year, u32::from(month), u32::from(day))
            .ok_or(CprError::NoSuchDate { day, month, year })?;
        if birth_date > today {
            return Err(CprError::Future(birth_date));
        }
        Ok(Personnummer { digits, birth_date })
    }

    /// The number with this birth date and serial, when the serial's 7th digit
    /// can encode the birth year.
    pub fn from_parts(birth_date: NaiveDate, serial: u16) -> Option<Personnummer> {
        let slot = Slot::new(serial / 10)?;
        (serial < 10_000 && slot.allows_year(birth_date.year()))
            .then(|| Personnummer { digits: number_digits(birth_date, serial), birth_date })
    }

    /// The birth date, century resolved.
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// The sex the last digit carries.
    pub fn sex(&self) -> Sex {
        Sex::of_last_digit(self.digits[9])
    }

    /// The four-digit serial (`SSSS`).
    pub fn serial(&self) -> u16 {
        self.digits[6..].iter().fold(0u16, |acc, &d| acc * 10 + u16::from(d))
    }

    /// Digits 7–9.
    pub fn slot(&self) -> Slot {
        Slot(self.serial() / 10)
    }

    /// Whether the number passes modulus 11 (reported, never required).
    pub fn passes_modulus11(&self) -> bool {
        passes_modulus11(&self.digits)
    }

    /// The ten digits.
    pub fn digits(&self) -> [u8; 10] {
        self.digits
    }

    /// The canonical form with 60 added to the day of month, as Danish test
    /// systems write numbers that can never belong to a real person.
    pub fn training_form(&self) -> String {
        let mut d = self.digits;
        d[0] += 6;
        format_digits(&d)
    }
}

fn format_digits(d: &[u8; 10]) -> String {
    let mut s = String::with_capacity(11);
    for (i, &digit) in d.iter().enumerate() {
        if i == 6 {
            s.push('-');
        }
        s.push(char::from(b'0' + digit));
    }
    s
}

impl fmt::Display for Personnummer {
    /// The canonical form `DDMMYY-SSSS`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_digits(&self.digits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    const TODAY: fn() -> NaiveDate = || date(2026, 11, 26);

    /// A number with the given date digits and 7th digit, serial `d000`+`tail`.
    fn num(ddmmyy: &str, seventh: u8) -> String {
        format!("{ddmmyy}-{seventh}000")
    }

    #[test]
    fn century_table_holds_at_every_boundary_for_every_seventh_digit() {
        // (YY, expected year per 7th digit 0..=9)
        let table: [(u8, [i32; 10]); 8] = [
            (0, [1900, 1900, 1900, 1900, 2000, 2000, 2000, 2000, 2000, 2000]),
            (36, [1936, 1936, 1936, 1936, 2036, 2036, 2036, 2036, 2036, 2036]),
            (37, [1937, 1937, 1937, 1937, 1937, 2037, 2037, 2037, 2037, 1937]),
            (57, [1957, 1957, 1957, 1957, 1957, 2057, 2057, 2057, 2057, 1957]),
            (58, [1958, 1958, 1958, 1958, 1958, 1858, 1858, 1858, 1858, 1958]),
            (99, [1999, 1999, 1999, 1999, 1999, 1899, 1899, 1899, 1899, 1999]),
            (1, [1901, 1901, 1901, 1901, 2001, 2001, 2001, 2001, 2001, 2001]),
            (98, [1998, 1998, 1998, 1998, 1998, 1898, 1898, 1898, 1898, 1998]),
        ];
        for (yy, years) in table {
            for seventh in 0..=9u8 {
                assert_eq!(birth_year(seventh, yy), years[seventh as usize], "7th digit {seventh}, YY {yy:02}");
            }
        }
    }

    #[test]
    fn century_boundaries_parse_to_the_right_year() {
        // Each boundary pair of the century table, through the parser.
        let far_future = date(2099, 12, 31);
        let cases: [(&str, u8, i32); 14] = [
            ("311236", 5, 2036),
            ("010158", 5, 1858),
            ("311299", 5, 1899),
            ("010100", 0, 1900),
            ("311236", 0, 1936),
            ("010137", 4, 1937),
            ("311257", 4, 1957),
            ("010158", 4, 1958),
            ("311299", 9, 1999),
            ("010100", 4, 2000),
            ("311236", 9, 2036),
            ("010137", 5, 2037),
            ("311257", 8, 2057),
            ("010158", 8, 1858),
        ];
        for (ddmmyy, seventh, year) in cases {
            let p = Personnummer::parse(&num(ddmmyy, seventh), far_future).unwrap();
            assert_eq!(p.birth_date().year(), year, "{ddmmyy} with 7th digit {seventh}");
        }
        // 1857 cannot be written at all: YY 57 never maps to the 1800s.
        assert!((0..=9).all(|s| birth_year(s, 57) != 1857));
        // 2058 cannot be written either: YY 58 never maps to the 2000s.
        assert!((0..=9).all(|s| birth_year(s, 58) != 2058));
    }

    #[test]
    fn allowed_seventh_digits_agree_with_the_century_table() {
        for year in 1800..2100 {
            let yy = (year % 100) as u8;
            for seventh in 0..=9u8 {
                let allowed = allowed_seventh_digits(year).contains(&seventh);
                assert_eq!(allowed, birth_year(seventh, yy) == year, "year {year}, 7th digit {seventh}");
            }
        }
        assert_eq!(allowed_seventh_digits(1937), &[0, 1, 2, 3, 4, 9]);
        assert_eq!(allowed_seventh_digits(2036), &[4, 5, 6, 7, 8, 9]);
        assert!(allowed_seventh_digits(1857).is_empty());
        assert!(allowed_seventh_digits(2058).is_empty());
    }

    #[test]
    fn leap_days_follow_the_gregorian_calendar() {
        let far = date(2099, 1, 1);
        assert!(Personnummer::parse("290200-4000", far).is_ok(), "2000 is a leap year");
        assert_eq!(
            Personnummer::parse("290200-0000", far),
            Err(CprError::NoSuchDate { day: 29, month: 2, year: 1900 }),
            "1900 is not a leap year"
        );
        assert!(Personnummer::parse("290296-1234", far).is_ok(), "1996 is a leap year");
        assert!(Personnummer::parse("290297-1234", far).is_err(), "1997 is not");
        assert!(Personnummer::parse("290224-4000", far).is_ok(), "2024 is a leap year");
        assert!(Personnummer::parse("300296-1234", far).is_err(), "no 30 February");
        assert!(Personnummer::parse("310496-1234", far).is_err(), "no 31 April");
        let p = Personnummer::parse("290296-5234", far).unwrap();
        assert_eq!(p.birth_date(), date(1896, 2, 29), "7th digit 5 with YY 96 is 1896, a leap year");
    }

    #[test]
    fn both_written_forms_and_surrounding_whitespace_are_accepted() {
        let a = Personnummer::parse("0101651234", TODAY()).unwrap();
        let b = Personnummer::parse("010165-1234", TODAY()).unwrap();
        let c = Personnummer::parse("\t 010165-1234\r\n", TODAY()).unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(a.to_string(), "010165-1234");
        assert_eq!(a.birth_date(), date(1965, 1, 1));
    }

    #[test]
    fn malformed_input_of_every_kind_is_refused_with_a_reason() {
        use CprError::*;
        let cases: &[(&str, CprError)] = &[
            ("", Empty),
            ("   ", Empty),
            ("010165123", Format),
            ("01016512345", Format),
            ("010165 1234", Format),
            ("01016-51234", Format),
            ("010165--1234", Format),
            ("010165/1234", Format),
            ("0101651234x", Format),
            ("01O165-1234", Format),
            ("o10165-1234", Format),
            ("010165-12 4", Format),
            ("０１０１６５１２３４", Format),
            ("010165-1234\u{0}", Format),
            ("010165-1 234", Format),
            ("010165-12A4", LettersInSerial),
            ("010165-K123", LettersInSerial),
            ("000165-1234", Day(0)),
            ("320165-1234", Day(32)),
            ("600165-1234", Day(60)),
            ("920165-1234", Day(92)),
            ("610165-1234", TestDay(61)),
            ("910165-1234", TestDay(91)),
            ("010065-1234", Month(0)),
            ("011365-1234", Month(13)),
            ("310665-1234", NoSuchDate { day: 31, month: 6, year: 1965 }),
            ("010130-4000", Future(date(2030, 1, 1))),
        ];
        for (input, expected) in cases {
            assert_eq!(Personnummer::parse(input, TODAY()).as_ref(), Err(expected), "input {input:?}");
        }
    }

    #[test]
    fn a_birth_date_of_today_is_accepted_and_tomorrow_refused() {
        assert!(Personnummer::parse("261126-4000", TODAY()).is_ok());
        assert_eq!(Personnummer::parse("271126-4000", TODAY()), Err(CprError::Future(date(2026, 11, 27))));
    }

    #[test]
    fn failing_modulus_11_is_reported_but_never_invalid() {
        let p = Personnummer::parse("010165-1234", TODAY()).unwrap();
        assert!(!p.passes_modulus11());
        // 070761-4285 is a textbook modulus-11 example.
        let q = Personnummer::parse("070761-4285", TODAY()).unwrap();
        assert!(q.passes_modulus11());
        assert_eq!(q.sex(), Sex::Male);
    }

    #[test]
    fn sex_follows_the_parity_of_the_last_digit() {
        for last in 0..=9u8 {
            let p = Personnummer::parse(&format!("010165-123{last}"), TODAY()).unwrap();
            assert_eq!(p.sex(), if last % 2 == 1 { Sex::Male } else { Sex::Female });
        }
    }

    #[test]
    fn every_error_has_a_message_in_every_language_that_names_its_values() {
        let errors = [
            CprError::Empty,
            CprError::Format,
            CprError::LettersInSerial,
            CprError::TestDay(65),
            CprError::Day(45),
            CprError::Month(13),
            CprError::NoSuchDate { day: 29, month: 2, year: 1997 },
            CprError::Future(date(2030, 1, 1)),
        ];
        for lang in Lang::ALL {
            for e in &errors {
                let msg = e.message(lang);
                assert!(!msg.starts_with("cpr."), "missing catalog entry for {}: {msg}", e.code());
                assert!(!msg.contains('{'), "unfilled placeholder in {msg}");
            }
            assert!(CprError::TestDay(65).message(lang).contains("65"));
            assert!(CprError::Month(13).message(lang).contains("13"));
            assert!(CprError::NoSuchDate { day: 29, month: 2, year: 1997 }.message(lang).contains("1997"));
        }
    }

    #[test]
    fn candidates_put_the_modulus_11_serial_first_then_ascend() {
        let d = date(1974, 8, 12);
        for slot in Slot::all().filter(|s| s.allows_year(1974)) {
            for sex in [Sex::Female, Sex::Male] {
                let c = candidate_serials(d, sex, slot);
                assert_eq!(c.len(), 5);
                let mod11: Vec<bool> =
                    c.iter().map(|&s| Personnummer::from_parts(d, s).unwrap().passes_modulus11()).collect();
                assert!(mod11.iter().filter(|&&m| m).count() <= 1, "at most one modulus-11 serial per slot");
                let rest = if mod11[0] { &c[1..] } else { &c[..] };
                assert!(rest.windows(2).all(|w| w[0] < w[1]), "the rest ascend: {c:?}");
                assert!(!mod11[1..].contains(&true));
            }
        }
    }

    #[test]
    fn candidates_are_empty_when_the_slot_cannot_encode_the_year() {
        // 7th digit 5 cannot encode 1974; 7th digit 0 cannot encode 2010.
        assert!(candidate_serials(date(1974, 8, 12), Sex::Male, Slot::new(512).unwrap()).is_empty());
        assert!(candidate_serials(date(2010, 8, 12), Sex::Male, Slot::new(12).unwrap()).is_empty());
        assert_eq!(candidate_serials(date(2010, 8, 12), Sex::Male, Slot::new(912).unwrap()).len(), 5);
    }

    #[test]
    fn from_parts_refuses_a_serial_whose_seventh_digit_cannot_encode_the_year() {
        assert!(Personnummer::from_parts(date(1974, 8, 12), 5000).is_none());
        assert!(Personnummer::from_parts(date(1974, 8, 12), 10_000).is_none());
        assert_eq!(Personnummer::from_parts(date(1974, 8, 12), 4002).unwrap().to_string(), "120874-4002");
    }

    #[test]
    fn training_form_adds_sixty_to_the_day() {
        let p = Personnummer::from_parts(date(1974, 8, 12), 4002).unwrap();
        assert_eq!(p.training_form(), "720874-4002");
        assert_eq!(Personnummer::parse(&p.training_form(), TODAY()), Err(CprError::TestDay(72)));
    }

    proptest! {
        #[test]
        fn every_candidate_round_trips_through_the_parser(
            days in 0i64..(365 * 120),
            male in any::<bool>(),
            slot in 0u16..1000,
            dash in any::<bool>(),
        ) {
            let birth = date(1937, 1, 1) + chrono::Days::new(days as u64);
            let sex = if male { Sex::Male } else { Sex::Female };
            let slot = Slot::new(slot).unwrap();
            for serial in candidate_serials(birth, sex, slot) {
                let p = Personnummer::from_parts(birth, serial).unwrap();
                let text = if dash { p.to_string() } else { p.to_string().replace('-', "") };
                let parsed = Personnummer::parse(&text, date(2099, 12, 31)).unwrap();
                prop_assert_eq!(parsed.birth_date(), birth);
                prop_assert_eq!(parsed.sex(), sex);
                prop_assert_eq!(parsed.slot(), slot);
                prop_assert_eq!(parsed, p);
            }
        }

        #[test]
        fn the_parser_never_panics_on_any_text(s in "\\PC{0,20}") {
            let _ = Personnummer::parse(&s, date(2026, 11, 26));
        }

        #[test]
        fn the_parser_never_panics_on_digit_strings(s in "[0-9]{6}-?[0-9A-Z]{4}") {
            let _ = Personnummer::parse(&s, date(2026, 11, 26));
        }
    }
}
