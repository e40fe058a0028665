//! Personal names: what a name may contain, how it is normalised, and its
//! Latin form by the ICAO Doc 9303 transliteration (the form of the MRZ,
//! which CPR and Jobnet need and which the duplicate key uses).
//!
//! A name is kept as the document prints it: Ł, ß, Ø, Greek and Cyrillic stay
//! as they are, only normalised (NFC, trimmed, inner spaces collapsed,
//! typographic hyphens and apostrophes made plain). Letters must be Latin,
//! Greek or Cyrillic because those are the scripts the handout fonts print; a
//! name in any other script is refused with a request for the Latin form as
//! in the MRZ. Control characters, bidirectional overrides, emoji and other
//! symbols are refused outright: they are never part of a name and can make a
//! screen or a printout lie.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The longest name field kept, in characters after normalisation. ICAO
/// zones hold at most 39; printed names are longer but not by this much.
pub const MAX_NAME_CHARS: usize = 100;

/// Input longer than this (in bytes) is refused before any further work, so
/// that a pasted 100 KB string costs nothing.
const MAX_INPUT_BYTES: usize = 4 * MAX_NAME_CHARS;

/// Combining marks allowed on one letter (after NFC most are gone; stacks of
/// them only serve to garble a line).
const MAX_MARKS_PER_LETTER: usize = 2;

/// Why a name was refused. [`NameProblem::code`] is the stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameProblem {
    /// Longer than [`MAX_NAME_CHARS`].
    TooLong,
    /// A character that is never part of a name (control, bidirectional
    /// override, emoji, digit, symbol…).
    Character(char),
    /// A letter of a script the handout fonts cannot print.
    Script(char),
    /// Punctuation only, or a combining mark with no letter to carry it.
    NoLetters,
    /// A letter the ICAO transliteration has no Latin form for.
    NoLatinForm(char),
}

impl NameProblem {
    /// Stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            NameProblem::TooLong => "name_too_long",
            NameProblem::Character(_) => "name_character",
            NameProblem::Script(_) => "name_script",
            NameProblem::NoLetters => "name_no_letters",
            NameProblem::NoLatinForm(_) => "name_no_latin_form",
        }
    }

    /// The offending character as `U+XXXX`, for messages (the character itself
    /// may be invisible or reorder the text around it, so it is never echoed).
    pub fn character(self) -> Option<String> {
        match self {
            NameProblem::Character(c) | NameProblem::Script(c) | NameProblem::NoLatinForm(c) => {
                Some(format!("U+{:04X}", u32::from(c)))
            }
            NameProblem::TooLong | NameProblem::NoLetters => None,
        }
    }
}

/// What one character of a name is.
enum Class {
    Letter,
    Mark,
    Space,
    Hyphen,
    Apostrophe,
    Period,
}

fn is_latin(c: char) -> bool {
    c.is_ascii_alphabetic()
        || matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}') && c != '\u{00D7}' && c != '\u{00F7}'
}

fn is_greek(c: char) -> bool {
    matches!(c, '\u{0370}'..='\u{03FF}' | '\u{1F00}'..='\u{1FFF}')
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{052F}')
}

/// Blocks of letter-like symbols (circled letters, squared letters, emoji
/// letters): alphabetic to Unicode, but symbols, not a script to ask about.
fn is_symbol_block(c: char) -> bool {
    matches!(c, '\u{2100}'..='\u{2BFF}' | '\u{1F000}'..)
}

fn classify(c: char) -> Result<Class, NameProblem> {
    match c {
        '-' | '\u{2010}' | '\u{2011}' => Ok(Class::Hyphen),
        '\'' | '\u{2019}' | '\u{02BC}' => Ok(Class::Apostrophe),
        '.' => Ok(Class::Period),
        ' ' | '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => Ok(Class::Space),
        '\u{0300}'..='\u{036F}' => Ok(Class::Mark),
        _ if c.is_alphabetic() && (is_latin(c) || is_greek(c) || is_cyrillic(c)) => Ok(Class::Letter),
        _ if c.is_alphabetic() && !is_symbol_block(c) && !is_combining_mark(c) => Err(NameProblem::Script(c)),
        _ => Err(NameProblem::Character(c)),
    }
}

/// Normalises a name as typed: NFC, trimmed, inner spaces collapsed to one,
/// hyphens and apostrophes in their plain forms. An empty or blank input
/// gives an empty name (the caller decides whether the field may be empty).
///
/// ```
/// use skranke_rules::names::normalise;
/// assert_eq!(normalise("  Anna \u{00A0} Maria ").unwrap(), "Anna Maria");
/// assert_eq!(normalise("O\u{2019}Brien").unwrap(), "O'Brien");
/// assert!(normalise("Anna\u{202E}").is_err());
/// ```
pub fn normalise(input: &str) -> Result<String, NameProblem> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(NameProblem::TooLong);
    }
    let mut out = String::with_capacity(input.len());
    let mut pending_space = false;
    let mut has_letter = false;
    // Marks in a row after the last letter; None when no letter precedes.
    let mut marks: Option<usize> = None;
    for c in input.nfc() {
        let class = classify(c)?;
        if matches!(class, Class::Space) {
            pending_space = !out.is_empty();
            marks = None;
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        match class {
            Class::Letter => {
                has_letter = true;
                marks = Some(0);
                out.push(c);
            }
            Class::Mark => match marks {
                Some(n) if n < MAX_MARKS_PER_LETTER => {
                    marks = Some(n + 1);
                    out.push(c);
                }
                Some(_) => return Err(NameProblem::Character(c)),
                None => return Err(NameProblem::NoLetters),
            },
            Class::Hyphen => {
                marks = None;
                out.push('-');
            }
            Class::Apostrophe => {
                marks = None;
                out.push('\'');
            }
            Class::Period => {
                marks = None;
                out.push('.');
            }
            Class::Space => {}
        }
    }
    if out.chars().count() > MAX_NAME_CHARS {
        return Err(NameProblem::TooLong);
    }
    if !out.is_empty() && !has_letter {
        return Err(NameProblem::NoLetters);
    }
    Ok(out)
}

/// ICAO 9303 (Part 3) Latin forms of letters that are not a base letter with
/// marks: these are looked up before decomposition, so Ä gives AE, not A.
fn icao_special(c: char) -> Option<&'static str> {
    Some(match c {
        // Latin letters with a transliteration of their own.
        'Ä' => "AE",
        'Å' => "AA",
        'Æ' => "AE",
        'Ö' => "OE",
        'Ø' => "OE",
        'Ü' => "UE",
        'ẞ' => "SS",
        'Þ' => "TH",
        'Ð' | 'Đ' => "D",
        'Ħ' => "H",
        'Ł' | 'Ŀ' => "L",
        'Ŋ' => "N",
        'Œ' => "OE",
        'Ŧ' => "T",
        'Ĳ' => "IJ",
        'ı' => "I",
        // Cyrillic (letters with marks decompose to these bases).
        'А' => "A",
        'Б' => "B",
        'В' => "V",
        'Г' | 'Ґ' => "G",
        'Д' => "D",
        'Ђ' => "D",
        'Е' | 'Э' => "E",
        'Є' => "IE",
        'Ж' => "ZH",
        'З' => "Z",
        'Ѕ' | 'Џ' => "DZ",
        'И' | 'І' => "I",
        'Ј' => "J",
        'К' => "K",
        'Л' => "L",
        'Љ' => "LJ",
        'М' => "M",
        'Н' => "N",
        'Њ' => "NJ",
        'О' => "O",
        'П' => "P",
        'Р' => "R",
        'С' => "S",
        'Т' => "T",
        'Ћ' => "C",
        'У' => "U",
        'Ф' => "F",
        'Х' => "KH",
        'Ц' => "TS",
        'Ч' => "CH",
        'Ш' => "SH",
        'Щ' => "SHCH",
        'Ъ' => "IE",
        'Ы' => "Y",
        'Ь' => "",
        'Ю' => "IU",
        'Я' => "IA",
        // Greek.
        'Α' => "A",
        'Β' => "V",
        'Γ' => "G",
        'Δ' => "D",
        'Ε' => "E",
        'Ζ' => "Z",
        'Η' => "I",
        'Θ' => "TH",
        'Ι' => "I",
        'Κ' => "K",
        'Λ' => "L",
        'Μ' => "M",
        'Ν' => "N",
        'Ξ' => "X",
        'Ο' => "O",
        'Π' => "P",
        'Ρ' => "R",
        'Σ' => "S",
        'Τ' => "T",
        'Υ' => "Y",
        'Φ' => "F",
        'Χ' => "CH",
        'Ψ' => "PS",
        'Ω' => "O",
        _ => return None,
    })
}

/// Appends the Latin form of one upper-case letter.
fn push_latin(c: char, out: &mut String) -> Result<(), NameProblem> {
    if c.is_ascii_uppercase() {
        out.push(c);
        return Ok(());
    }
    if let Some(s) = icao_special(c) {
        out.push_str(s);
        return Ok(());
    }
    // A base letter with marks (É, Ą, Ά, Й…): keep the base, drop the marks.
    let mut any = false;
    for d in std::iter::once(c).nfd() {
        if d.is_ascii_uppercase() {
            out.push(d);
            any = true;
        } else if let Some(s) = icao_special(d) {
            out.push_str(s);
            any = true;
        } else if !is_combining_mark(d) {
            return Err(NameProblem::NoLatinForm(c));
        }
    }
    if any {
        Ok(())
    } else {
        Err(NameProblem::NoLatinForm(c))
    }
}

/// The Latin form of a name by the ICAO 9303 transliteration: upper-case A–Z
/// words separated by single spaces (the MRZ's `<`). Hyphens separate words;
/// apostrophes and periods are dropped, as in the MRZ. Greek `ΟΥ` gives `OU`
/// as Greek documents write it. The input is
/// normalised first, so any string may be given.
///
/// ```
/// use skranke_rules::names::to_latin;
/// assert_eq!(to_latin("Müller").unwrap(), "MUELLER");
/// assert_eq!(to_latin("Łukasz-Ørsted").unwrap(), "LUKASZ OERSTED");
/// assert_eq!(to_latin("Ηλίας").unwrap(), "ILIAS");
/// assert_eq!(to_latin("Юлия").unwrap(), "IULIIA");
/// assert_eq!(to_latin("D'Angelo").unwrap(), "DANGELO");
/// ```
pub fn to_latin(name: &str) -> Result<String, NameProblem> {
    let name = normalise(name)?;
    let mut out = String::with_capacity(name.len());
    let mut word = String::new();
    let mut previous_greek_omicron = false;
    for c in name.chars() {
        match c {
            ' ' | '-' => {
                if !word.is_empty() {
                    if !out.is_empty() {
                        out.push(' ');
                    }
                    out.push_str(&word);
                    word.clear();
                }
            }
            '\'' | '.' => {}
            _ if is_combining_mark(c) => {}
            _ => {
                for u in c.to_uppercase() {
                    // Upper-casing ŉ gives ʼN: the apostrophe is dropped as any other.
                    if is_combining_mark(u) || u == '\u{02BC}' {
                        continue;
                    }
                    // Greek ΟΥ is one vowel, written OU (ELOT 743, as Greek
                    // passports do), not OY.
                    if matches!(u, 'Υ' | 'Ύ') && word.ends_with('O') && previous_greek_omicron {
                        word.push('U');
                    } else {
                        push_latin(u, &mut word)?;
                    }
                    previous_greek_omicron = matches!(u, 'Ο' | 'Ό');
                }
            }
        }
    }
    if !word.is_empty() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    }
    Ok(out)
}

/// Folds the letter pairs that ICAO lets a state write either way (Ä as AE or
/// A, Ö as OE or O, Ü as UE or U, Å as AA or A), so that "Müller" from the
/// page, "MUELLER" and "MULLER" from MRZs give the same key. Folding can make
/// two different names meet; a person-key match only opens a review.
fn fold_pairs(latin: &str) -> String {
    let bytes = latin.as_bytes();
    let mut out = String::with_capacity(latin.len());
    let mut i = 0;
    while i < bytes.len() {
        let pair = bytes.get(i..i + 2);
        out.push(char::from(bytes[i]));
        i += if matches!(pair, Some(b"AE" | b"OE" | b"UE" | b"AA")) { 2 } else { 1 };
    }
    out
}

/// A name as one line: given names, then the surname (or the single name).
///
/// ```
/// use skranke_rules::names::full_name;
/// assert_eq!(full_name(" Jürgen ", "Müller"), "Jürgen Müller");
/// assert_eq!(full_name("", "ALI"), "ALI");
/// ```
pub fn full_name(given: &str, surname: &str) -> String {
    [given.trim(), surname.trim()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ")
}

/// The normalised Latin name used in the person duplicate key:
/// `SURNAME<<GIVEN<NAMES` as in an MRZ, with the ICAO either-way letter pairs
/// folded. Both arguments are Latin forms from [`to_latin`].
///
/// ```
/// use skranke_rules::names::{name_key, to_latin};
/// let page = name_key(&to_latin("Müller").unwrap(), &to_latin("Jürgen").unwrap());
/// assert_eq!(page, name_key("MUELLER", "JUERGEN"));
/// assert_eq!(page, name_key("MULLER", "JURGEN"));
/// ```
pub fn name_key(surname_latin: &str, given_names_latin: &str) -> String {
    let join = |s: &str| s.split_whitespace().collect::<Vec<_>>().join("<");
    let mut key = fold_pairs(&join(surname_latin));
    let given = join(given_names_latin);
    if !given.is_empty() {
        key.push_str("<<");
        key.push_str(&fold_pairs(&given));
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_trimmed_and_inner_spaces_collapsed() {
        assert_eq!(normalise("  Anna    Maria  ").unwrap(), "Anna Maria");
        assert_eq!(normalise("Anna\u{2003}Maria").unwrap(), "Anna Maria");
        assert_eq!(normalise("   ").unwrap(), "");
    }

    #[test]
    fn names_are_nfc_normalised() {
        // "é" typed as e + combining acute becomes the single code point.
        assert_eq!(normalise("Ame\u{0301}lie").unwrap(), "Am\u{00E9}lie");
    }

    #[test]
    fn printed_forms_are_kept_as_they_are() {
        for name in
            ["Łukasz", "Straße", "Søren", "Ørsted", "Ηλίας", "Юлия", "Nguyễn", "Anne-Sophie", "O'Neill", "St. John"]
        {
            assert_eq!(normalise(name).unwrap(), name);
        }
    }

    #[test]
    fn typographic_hyphens_and_apostrophes_become_plain() {
        assert_eq!(normalise("Anne\u{2010}Sophie").unwrap(), "Anne-Sophie");
        assert_eq!(normalise("O\u{2019}Neill").unwrap(), "O'Neill");
    }

    #[test]
    fn control_bidi_emoji_digits_and_symbols_are_refused() {
        for (name, c) in [
            ("Anna\u{0000}", '\u{0000}'),
            ("Anna\tMaria", '\t'),
            ("Anna\nMaria", '\n'),
            ("Anna\u{202E}airaM", '\u{202E}'),
            ("Anna\u{2066}", '\u{2066}'),
            ("Anna\u{200B}", '\u{200B}'),
            ("Anna\u{00AD}", '\u{00AD}'),
            ("Anna\u{FEFF}", '\u{FEFF}'),
            ("Anna 😀", '😀'),
            ("Anna 🅰", '🅰'),
            ("Ⓐnna", 'Ⓐ'),
            ("Robert'); DROP TABLE applicants;--", ')'),
            ("Anna1", '1'),
            ("Anna<Maria", '<'),
            ("Anna, Maria", ','),
        ] {
            assert_eq!(normalise(name), Err(NameProblem::Character(c)), "{name:?}");
        }
    }

    #[test]
    fn letters_of_other_scripts_ask_for_the_latin_form() {
        for (name, c) in [("محمد", 'م'), ("王芳", '王'), ("אברהם", 'א'), ("Anna ქეთი", 'ქ'), ("अनिल", 'अ')]
        {
            assert_eq!(normalise(name), Err(NameProblem::Script(c)), "{name:?}");
        }
    }

    #[test]
    fn a_name_needs_a_letter_and_marks_need_a_letter() {
        assert_eq!(normalise("-"), Err(NameProblem::NoLetters));
        assert_eq!(normalise("' ."), Err(NameProblem::NoLetters));
        assert_eq!(normalise("\u{0301}Anna"), Err(NameProblem::NoLetters));
        assert_eq!(normalise("A\u{0331}\u{0332}\u{0333}"), Err(NameProblem::Character('\u{0333}')));
    }

    #[test]
    fn long_names_are_refused_and_huge_input_cheaply() {
        assert!(normalise(&"a".repeat(MAX_NAME_CHARS)).is_ok());
        assert_eq!(normalise(&"a".repeat(MAX_NAME_CHARS + 1)), Err(NameProblem::TooLong));
        assert_eq!(normalise(&"a".repeat(100 * 1024)), Err(NameProblem::TooLong));
    }

    #[test]
    fn icao_transliteration_of_latin_letters() {
        for (name, latin) in [
            ("Eriksson", "ERIKSSON"),
            ("Müller", "MUELLER"),
            ("Jäger", "JAEGER"),
            ("Åse", "AASE"),
            ("Søren Ærø", "SOEREN AEROE"),
            ("Straße", "STRASSE"),
            ("Łódź", "LODZ"),
            ("Þórunn", "THORUNN"),
            ("Đorđević", "DORDEVIC"),
            ("François", "FRANCOIS"),
            ("Ñúñez", "NUNEZ"),
            ("Nguyễn", "NGUYEN"),
            ("Anne-Sophie", "ANNE SOPHIE"),
            ("O'Neill", "ONEILL"),
            ("St. John", "ST JOHN"),
            ("Œdipe", "OEDIPE"),
            ("ŉa", "NA"),
            ("Ștefan Țurcanu", "STEFAN TURCANU"),
            ("Trương", "TRUONG"),
        ] {
            assert_eq!(to_latin(name).unwrap(), latin, "{name}");
        }
    }

    #[test]
    fn icao_transliteration_of_greek_and_cyrillic() {
        for (name, latin) in [
            ("Παπαδόπουλος", "PAPADOPOULOS"),
            ("Γιώργος", "GIORGOS"),
            ("Θεοφάνης", "THEOFANIS"),
            ("Χρήστος", "CHRISTOS"),
            ("Ψαρράς", "PSARRAS"),
            ("Иванов", "IVANOV"),
            ("Жуков", "ZHUKOV"),
            ("Щукин", "SHCHUKIN"),
            ("Хрущёв", "KHRUSHCHEV"),
            ("Цветаева", "TSVETAEVA"),
            ("Юрий", "IURII"),
            ("Ольга", "OLGA"),
            ("Марʼяна", "MARIANA"),
        ] {
            assert_eq!(to_latin(name).unwrap(), latin, "{name}");
        }
    }

    #[test]
    fn a_latin_letter_without_an_icao_form_is_reported() {
        assert_eq!(to_latin("Ƨam"), Err(NameProblem::NoLatinForm('Ƨ')));
    }

    #[test]
    fn the_person_key_matches_page_and_mrz_spellings() {
        let page = name_key(&to_latin("Müller").unwrap(), &to_latin("Anna-Maria").unwrap());
        assert_eq!(page, name_key("MUELLER", "ANNA MARIA"));
        assert_eq!(page, name_key("MULLER", "ANNA MARIA"));
        assert_eq!(name_key(&to_latin("Åberg").unwrap(), ""), name_key("ABERG", ""));
        assert_ne!(name_key("MULLER", "ANNA"), name_key("MILLER", "ANNA"));
        assert_ne!(name_key("ANNA", "MARIA"), name_key("MARIA", "ANNA"), "surname and given names keep their roles");
    }

    proptest! {
        #[test]
        fn normalise_never_panics_and_is_idempotent(s in any::<String>()) {
            if let Ok(n) = normalise(&s) {
                prop_assert_eq!(normalise(&n), Ok(n.clone()));
                prop_assert!(n.chars().count() <= MAX_NAME_CHARS);
                prop_assert!(!n.chars().any(|c| c.is_control()));
            }
        }

        #[test]
        fn a_latin_form_holds_only_mrz_letters(s in "[A-Za-zÀ-ÿĀ-ſА-яΑ-ω' .-]{0,40}") {
            if let Ok(latin) = to_latin(&s) {
                prop_assert!(latin.bytes().all(|b| b.is_ascii_uppercase() || b == b' '));
                prop_assert!(!latin.contains("  ") && !latin.starts_with(' ') && !latin.ends_with(' '));
            }
        }
    }
}
