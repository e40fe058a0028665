//! Applicant intake: who may get an administrative personnummer, and what
//! the desk records about them before a number is drawn.
//!
//! The [`Applicant`] is the intake record as the desk, the CLI and the
//! registry exchange it (JSON, field names fixed). [`Applicant::from_json`]
//! reads it with a [`FieldError`] per bad field, and
//! [`Applicant::validate`] checks every rule at once: eligibility group and
//! nationality, age and the birth-year floor the number block can encode,
//! the municipality of stay (kommune), the identity document (BEK nr. 862 of
//! 13 June 2023 § 1 requires it assessed before a number is drawn) and the
//! names. A valid applicant comes with the Latin (MRZ) forms of the names and
//! the [`DuplicateKeys`].
//!
//! The group says something about disability and asylum status, so it is
//! never shown by `Debug` and never named in a message: messages name only
//! the field.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::cpr::Sex;
use crate::error::FieldError;
use crate::i18n::{self, Lang};
use crate::lease::FIRST_BIRTH_YEAR;
use crate::mrz::{Mrz, MrzSex};
use crate::names::{self, NameProblem};
use crate::{country, municipality};

/// The youngest age at issue: MitID's minimum.
pub const MIN_AGE: i32 = 15;

/// The largest intake document [`Applicant::from_json`] reads.
pub const MAX_JSON_BYTES: usize = 1 << 20;

const MAX_DOCUMENT_NUMBER: usize = 20;
const MAX_CASE_REF: usize = 40;
const MAX_EMAIL: usize = 254;
const MAX_ADDRESS_CHARS: usize = 200;

/// ISO 639-1 codes: the handout languages an applicant may ask for.
const ISO_639_1: [&str; 184] = [
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bh", "bi", "bm", "bn",
    "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da", "de", "dv", "dz", "ee", "el", "en",
    "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr", "fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he",
    "hi", "ho", "hr", "ht", "hu", "hy", "hz", "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja", "jv",
    "ka", "kg", "ki", "kj", "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li",
    "ln", "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb", "nd", "ne",
    "ng", "nl", "nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os", "pa", "pi", "pl", "ps", "pt", "qu", "rm",
    "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk", "sl", "sm", "sn", "so", "sq", "sr", "ss", "st",
    "su", "sv", "sw", "ta", "te", "tg", "th", "ti", "tk", "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug", "uk",
    "ur", "uz", "ve", "vi", "vo", "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu",
];

/// The legal group under which the number is given. Sensitive: `Debug`
/// prints nothing of it, and it is never printed, exported or logged.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    /// EU/EEA/Swiss citizen registering as a job seeker at the job centre.
    EuJobseeker,
    /// EU/EEA/Swiss citizen who can receive employment-oriented offers or
    /// Danish language teaching.
    EuOffers,
    /// Asylum seeker without a CPR number offered personal assistance at work
    /// (lov om kompensation til handicappede i erhverv).
    AsylumPersonalAssistance,
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Group(<redacted>)")
    }
}

impl Group {
    /// Whether the group is open only to EU/EEA/Swiss citizens.
    pub fn requires_eea_nationality(self) -> bool {
        matches!(self, Group::EuJobseeker | Group::EuOffers)
    }
}

/// The kind of identity document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentType {
    Passport,
    IdCard,
    Other,
}

/// Sex as the document states it, when it differs from the `F`/`M` the
/// personnummer carries (a document may say `X`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DocumentSex {
    F,
    M,
    X,
}

/// The identity document, assessed before a number is drawn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityDocument {
    #[serde(rename = "type")]
    pub kind: DocumentType,
    /// Letters and digits as printed.
    pub number: String,
    /// ISO 3166-1 alpha-2.
    pub issuing_state: String,
    /// `None` only for an ID card that has none, with `no_expiry_confirmed`.
    #[serde(default)]
    pub expiry_date: Option<NaiveDate>,
    /// The clerk saw the original document.
    pub original_seen: bool,
    /// What the document says when it is not the chosen `sex` (e.g. `X`).
    #[serde(default)]
    pub sex_on_document: Option<DocumentSex>,
    /// The clerk confirmed that this ID card has no expiry date.
    #[serde(default, deserialize_with = "null_as_default")]
    pub no_expiry_confirmed: bool,
}

/// How to reach the applicant; every part optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// Address in Denmark, if any (the person is not residence-registered).
    #[serde(default)]
    pub address_dk: Option<String>,
}

/// The intake record. Field names are part of the exchange format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applicant {
    /// Given names as the document prints them; empty for a single name.
    pub given_names: String,
    /// Surname (or the single name) as the document prints it.
    pub surname: String,
    pub birth_date: NaiveDate,
    /// `F` or `M`: the personnummer carries one of the two.
    pub sex: Sex,
    /// ISO 3166-1 alpha-2, or ICAO `XXA` (stateless), `XXB`, `XXC` (refugees).
    pub nationality: String,
    /// Kommunekode of the municipality where the person stays.
    pub municipality_of_stay: u16,
    pub group: Group,
    pub document: IdentityDocument,
    /// The asylum case reference; required for the asylum group only.
    #[serde(default)]
    pub asylum_case_ref: Option<String>,
    /// The person has no Danish CPR number.
    pub no_danish_cpr: bool,
    /// The person is not residence-registered in Denmark.
    pub not_residence_registered: bool,
    /// The handout language the applicant wants (ISO 639-1).
    pub language: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub contact: Contact,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// What the desk knows besides the form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntakeContext {
    /// The desk's date: ages and expiry are decided on it.
    pub today: NaiveDate,
    /// The desk's own municipality (kommunekode).
    pub desk_municipality: u16,
}

/// Something the clerk should know that does not stop the intake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub field: String,
    pub code: String,
    pub message: String,
}

/// The keys the local store and the registry compare to find duplicates.
/// Plain normalised strings; stores keep keyed hashes of them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DuplicateKeys {
    /// Issuing state and normalised document number: a match is the same person.
    pub document: String,
    /// Birth date, nationality and the folded Latin name: a match opens a review.
    pub person: String,
}

/// An applicant that passed every rule, normalised, with what the core
/// derives from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidApplicant {
    /// Names NFC-normalised, codes upper-cased, blank optional texts removed.
    pub applicant: Applicant,
    /// The surname's Latin form by the ICAO transliteration ("MUELLER").
    pub surname_latin: String,
    /// The given names' Latin form; empty for a single name.
    pub given_names_latin: String,
    pub keys: DuplicateKeys,
    /// Things to tell the clerk, e.g. which job centre is competent.
    pub notices: Vec<Notice>,
}

/// The value of one field problem: the path, the code and the rendered
/// message, built in one place so that codes and catalog keys match.
fn problem(lang: Lang, field: &str, code: &str, args: &[(&str, &str)]) -> FieldError {
    FieldError {
        field: field.to_string(),
        code: code.to_string(),
        message: i18n::render(lang, &format!("applicant.error.{code}"), args),
    }
}

/// What a field's JSON value must be.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Date,
    Sex,
    Municipality,
    Group,
    Bool,
    DocumentType,
    DocumentSex,
    Object(&'static [Spec]),
}

struct Spec {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn spec(name: &'static str, kind: Kind, required: bool) -> Spec {
    Spec { name, kind, required }
}

const DOCUMENT_FIELDS: &[Spec] = &[
    spec("type", Kind::DocumentType, true),
    spec("number", Kind::Text, true),
    spec("issuing_state", Kind::Text, true),
    spec("expiry_date", Kind::Date, false),
    spec("original_seen", Kind::Bool, true),
    spec("sex_on_document", Kind::DocumentSex, false),
    spec("no_expiry_confirmed", Kind::Bool, false),
];

const CONTACT_FIELDS: &[Spec] =
    &[spec("email", Kind::Text, false), spec("phone", Kind::Text, false), spec("address_dk", Kind::Text, false)];

const APPLICANT_FIELDS: &[Spec] = &[
    spec("given_names", Kind::Text, true),
    spec("surname", Kind::Text, true),
    spec("birth_date", Kind::Date, true),
    spec("sex", Kind::Sex, true),
    spec("nationality", Kind::Text, true),
    spec("municipality_of_stay", Kind::Municipality, true),
    spec("group", Kind::Group, true),
    spec("document", Kind::Object(DOCUMENT_FIELDS), true),
    spec("asylum_case_ref", Kind::Text, false),
    spec("no_danish_cpr", Kind::Bool, true),
    spec("not_residence_registered", Kind::Bool, true),
    spec("language", Kind::Text, true),
    spec("contact", Kind::Object(CONTACT_FIELDS), false),
];

impl Kind {
    /// The catalog key describing what is expected.
    fn expected(self) -> &'static str {
        match self {
            Kind::Text => "applicant.expect.text",
            Kind::Date => "applicant.expect.date",
            Kind::Sex => "applicant.expect.sex",
            Kind::Municipality => "applicant.expect.municipality",
            Kind::Group => "applicant.expect.group",
            Kind::Bool => "applicant.expect.bool",
            Kind::DocumentType => "applicant.expect.document_type",
            Kind::DocumentSex => "applicant.expect.document_sex",
            Kind::Object(_) => "applicant.expect.object",
        }
    }

    fn accepts(self, value: &Value) -> bool {
        fn is<T: for<'de> Deserialize<'de>>(value: &Value) -> bool {
            T::deserialize(value).is_ok()
        }
        match self {
            Kind::Text => value.is_string(),
            Kind::Bool => value.is_boolean(),
            Kind::Object(_) => value.is_object(),
            Kind::Date => value.is_string() && is::<NaiveDate>(value),
            Kind::Sex => is::<Sex>(value),
            Kind::Municipality => is::<u16>(value),
            Kind::Group => is::<Group>(value),
            Kind::DocumentType => is::<DocumentType>(value),
            Kind::DocumentSex => is::<DocumentSex>(value),
        }
    }
}

/// A JSON key as it may appear in a message: plain keys as they are, anything
/// else escaped and cut short (a key is input too).
fn printable_key(key: &str) -> String {
    if !key.is_empty() && key.len() <= 64 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        key.to_string()
    } else {
        let escaped: String = key.chars().take(32).flat_map(char::escape_default).collect();
        format!("\"{escaped}\"")
    }
}

fn check_object(
    object: &serde_json::Map<String, Value>,
    specs: &[Spec],
    prefix: &str,
    lang: Lang,
    errors: &mut Vec<FieldError>,
) {
    for key in object.keys() {
        if !specs.iter().any(|s| s.name == key) {
            let path = format!("{prefix}{}", printable_key(key));
            errors.push(problem(lang, &path, "unknown_field", &[("field", &path)]));
        }
    }
    for spec in specs {
        let path = format!("{prefix}{}", spec.name);
        match object.get(spec.name) {
            None | Some(Value::Null) if spec.required => {
                errors.push(problem(lang, &path, "required", &[("field", &path)]));
            }
            None | Some(Value::Null) => {}
            Some(value) if !spec.kind.accepts(value) => {
                let expected = i18n::text(lang, spec.kind.expected());
                errors.push(problem(lang, &path, "wrong_type", &[("field", &path), ("expected", expected)]));
            }
            Some(Value::Object(inner)) => {
                if let Kind::Object(inner_specs) = spec.kind {
                    check_object(inner, inner_specs, &format!("{path}."), lang, errors);
                }
            }
            Some(_) => {}
        }
    }
}

impl Applicant {
    /// Reads an intake record from JSON. Every problem the shape of the
    /// document has (syntax, unknown or missing fields, wrong types,
    /// impossible dates) is reported at once, each naming its field; the
    /// rules themselves are [`Applicant::validate`]'s.
    pub fn from_json(text: &str, lang: Lang) -> Result<Applicant, Vec<FieldError>> {
        if text.len() > MAX_JSON_BYTES {
            let max = MAX_JSON_BYTES.to_string();
            return Err(vec![problem(lang, "$", "json_too_large", &[("max", &max)])]);
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            let (line, column) = (e.line().to_string(), e.column().to_string());
            vec![problem(lang, "$", "json_syntax", &[("line", &line), ("column", &column)])]
        })?;
        let Value::Object(object) = &value else {
            return Err(vec![problem(lang, "$", "json_not_object", &[])]);
        };
        let mut errors = Vec::new();
        check_object(object, APPLICANT_FIELDS, "", lang, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        // Every field was checked above, so this only fails on a mismatch
        // between the checks and the struct: still a field error, never a panic.
        Applicant::deserialize(&value).map_err(|_| vec![problem(lang, "$", "json_shape", &[])])
    }

    /// [`Applicant::from_json`] for raw bytes (a file, standard input): text
    /// that is not UTF-8 is a field error too. A leading UTF-8 byte-order
    /// mark is no part of the record: Windows tools write one (Notepad,
    /// Windows PowerShell's `Out-File -Encoding utf8`).
    pub fn from_json_bytes(bytes: &[u8], lang: Lang) -> Result<Applicant, Vec<FieldError>> {
        if bytes.len() > MAX_JSON_BYTES {
            let max = MAX_JSON_BYTES.to_string();
            return Err(vec![problem(lang, "$", "json_too_large", &[("max", &max)])]);
        }
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        match std::str::from_utf8(bytes) {
            Ok(text) => Applicant::from_json(text, lang),
            Err(_) => Err(vec![problem(lang, "$", "json_encoding", &[])]),
        }
    }

    /// Checks every rule and returns the normalised applicant with its Latin
    /// names and duplicate keys, or every problem found, each naming its
    /// field (a JSON path) with a stable code and a message in `lang`.
    pub fn validate(&self, ctx: &IntakeContext, lang: Lang) -> Result<ValidApplicant, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut out = self.clone();
        let today = ctx.today;

        // Names.
        let name = |field: &str, input: &str, errors: &mut Vec<FieldError>| -> Option<(String, String)> {
            let checked = names::normalise(input).and_then(|n| names::to_latin(&n).map(|latin| (n, latin)));
            match checked {
                Ok(pair) => Some(pair),
                Err(p) => {
                    errors.push(name_problem(lang, field, p));
                    None
                }
            }
        };
        let surname = name("surname", &self.surname, &mut errors);
        let given = name("given_names", &self.given_names, &mut errors);
        if let Some((s, _)) = &surname {
            if s.is_empty() {
                errors.push(problem(lang, "surname", "surname_empty", &[]));
            }
        }

        // Birth date and age.
        let birth = self.birth_date;
        if birth.year() < FIRST_BIRTH_YEAR {
            let first = FIRST_BIRTH_YEAR.to_string();
            errors.push(problem(lang, "birth_date", "born_before_first_year", &[("first_year", &first)]));
        } else if birth > today {
            errors.push(problem(lang, "birth_date", "birth_in_future", &[("date", &iso(birth))]));
        } else if age_on(birth, today) < MIN_AGE {
            let (age, min) = (age_on(birth, today).to_string(), MIN_AGE.to_string());
            errors.push(problem(lang, "birth_date", "too_young", &[("age", &age), ("min_age", &min)]));
        }

        // Eligibility: group, nationality, asylum case reference.
        out.nationality = self.nationality.trim().to_ascii_uppercase();
        if let Some(e) = nationality_problem(&out.nationality, self.group, lang) {
            errors.push(e);
        }
        out.asylum_case_ref =
            self.asylum_case_ref.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(String::from);
        match (self.group, &out.asylum_case_ref) {
            (Group::AsylumPersonalAssistance, None) => {
                errors.push(problem(lang, "asylum_case_ref", "asylum_case_ref_required", &[]))
            }
            (Group::AsylumPersonalAssistance, Some(r)) => {
                if r.chars().count() > MAX_CASE_REF {
                    let max = MAX_CASE_REF.to_string();
                    errors.push(problem(lang, "asylum_case_ref", "asylum_case_ref_too_long", &[("max", &max)]));
                } else if !r.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '/' | '.')) {
                    errors.push(problem(lang, "asylum_case_ref", "asylum_case_ref_characters", &[]));
                }
            }
            (_, Some(_)) => errors.push(problem(lang, "asylum_case_ref", "asylum_case_ref_not_allowed", &[])),
            (_, None) => {}
        }
        if !self.no_danish_cpr {
            errors.push(problem(lang, "no_danish_cpr", "has_danish_cpr", &[]));
        }
        if !self.not_residence_registered {
            errors.push(problem(lang, "not_residence_registered", "residence_registered", &[]));
        }

        // Municipality of stay and the competent job centre.
        let mut notices = Vec::new();
        match municipality::lookup(self.municipality_of_stay) {
            None => {
                let code = self.municipality_of_stay.to_string();
                errors.push(problem(lang, "municipality_of_stay", "municipality_unknown", &[("code", &code)]));
            }
            Some(m) if m.code != ctx.desk_municipality => notices.push(Notice {
                field: "municipality_of_stay".into(),
                code: "other_municipality".into(),
                message: i18n::render(
                    lang,
                    "applicant.notice.other_municipality",
                    &[("municipality", m.name), ("job_centre", &m.job_centre())],
                ),
            }),
            Some(_) => {}
        }

        // The identity document.
        let doc = &self.document;
        // Printed numbers are sometimes grouped with spaces; the number is the same.
        out.document.number = doc.number.chars().filter(|&c| c != ' ').collect::<String>().to_ascii_uppercase();
        let number = &out.document.number;
        if number.is_empty() {
            errors.push(problem(lang, "document.number", "document_number_empty", &[]));
        } else if !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
            errors.push(problem(lang, "document.number", "document_number_characters", &[]));
        } else if number.len() > MAX_DOCUMENT_NUMBER {
            let max = MAX_DOCUMENT_NUMBER.to_string();
            errors.push(problem(lang, "document.number", "document_number_too_long", &[("max", &max)]));
        }
        out.document.issuing_state = doc.issuing_state.trim().to_ascii_uppercase();
        if !country::is_alpha2(&out.document.issuing_state) {
            errors.push(country_code_problem(lang, "document.issuing_state", &out.document.issuing_state));
        }
        match doc.expiry_date {
            Some(expiry) if expiry < today => {
                errors.push(problem(lang, "document.expiry_date", "document_expired", &[("date", &iso(expiry))]))
            }
            Some(_) if doc.no_expiry_confirmed => {
                errors.push(problem(lang, "document.no_expiry_confirmed", "no_expiry_conflict", &[]))
            }
            Some(_) => {}
            None if doc.kind == DocumentType::IdCard && doc.no_expiry_confirmed => {}
            None if doc.kind == DocumentType::IdCard => {
                errors.push(problem(lang, "document.expiry_date", "expiry_unconfirmed", &[]))
            }
            None => errors.push(problem(lang, "document.expiry_date", "expiry_required", &[])),
        }
        if !doc.original_seen {
            errors.push(problem(lang, "document.original_seen", "original_not_seen", &[]));
        }
        let sex_conflict = matches!(
            (doc.sex_on_document, self.sex),
            (Some(DocumentSex::F), Sex::Male) | (Some(DocumentSex::M), Sex::Female)
        );
        if sex_conflict {
            errors.push(problem(lang, "document.sex_on_document", "sex_on_document_conflict", &[]));
        }

        // Handout language and contact.
        out.language = self.language.trim().to_ascii_lowercase();
        if !ISO_639_1.contains(&out.language.as_str()) {
            errors.push(problem(lang, "language", "language_unknown", &[]));
        }
        out.contact = Contact {
            email: blank_to_none(&self.contact.email),
            phone: blank_to_none(&self.contact.phone),
            address_dk: blank_to_none(&self.contact.address_dk)
                .map(|a| a.split_whitespace().collect::<Vec<_>>().join(" ")),
        };
        if let Some(email) = &out.contact.email {
            if !email_ok(email) {
                errors.push(problem(lang, "contact.email", "email_invalid", &[]));
            }
        }
        if let Some(phone) = &out.contact.phone {
            if !phone_ok(phone) {
                errors.push(problem(lang, "contact.phone", "phone_invalid", &[]));
            }
        }
        if let Some(address) = &self.contact.address_dk {
            if address.chars().count() > MAX_ADDRESS_CHARS {
                let max = MAX_ADDRESS_CHARS.to_string();
                errors.push(problem(lang, "contact.address_dk", "address_too_long", &[("max", &max)]));
            } else if !address.chars().all(|c| c == '\n' || safe_text_char(c)) {
                errors.push(problem(lang, "contact.address_dk", "address_characters", &[]));
            }
        }

        match (surname, given) {
            (Some((surname, surname_latin)), Some((given, given_names_latin))) if errors.is_empty() => {
                out.surname = surname;
                out.given_names = given;
                let person = format!(
                    "{}|{}|{}",
                    iso(out.birth_date),
                    out.nationality,
                    names::name_key(&surname_latin, &given_names_latin)
                );
                let keys = DuplicateKeys { document: format!("{}|{}", out.document.issuing_state, number), person };
                Ok(ValidApplicant { applicant: out, surname_latin, given_names_latin, keys, notices })
            }
            _ => Err(errors),
        }
    }
}

/// Age in whole years on `today` (a person born on 29 February turns a year
/// older on 1 March in other years).
pub fn age_on(birth: NaiveDate, today: NaiveDate) -> i32 {
    let before_birthday = (today.month(), today.day()) < (birth.month(), birth.day());
    today.year() - birth.year() - i32::from(before_birthday)
}

fn iso(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

fn blank_to_none(text: &Option<String>) -> Option<String> {
    text.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(String::from)
}

/// Characters allowed in free text (address, email, a void's reason): no
/// control characters, no bidirectional or invisible formatting, no emoji or
/// pictographs. Public so that every free text on the desk is held to this
/// one rule.
pub fn safe_text_char(c: char) -> bool {
    !c.is_control()
        && !matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF0}'..='\u{FFFF}'
                | '\u{2600}'..='\u{27BF}'
                | '\u{1F000}'..
        )
}

fn email_ok(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    email.len() <= MAX_EMAIL
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.chars().all(|c| safe_text_char(c) && !c.is_whitespace() && !matches!(c, '<' | '>' | '"' | ',' | ';'))
}

fn phone_ok(phone: &str) -> bool {
    let digits = phone.bytes().filter(u8::is_ascii_digit).count();
    let body = phone.strip_prefix('+').unwrap_or(phone);
    (6..=15).contains(&digits) && body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'(' | b')'))
}

fn name_problem(lang: Lang, field: &str, p: NameProblem) -> FieldError {
    let max = names::MAX_NAME_CHARS.to_string();
    let character = p.character().unwrap_or_default();
    problem(lang, field, p.code(), &[("max", &max), ("character", &character)])
}

/// The problem with a country code that is not ISO alpha-2, with a hint for
/// the usual mistakes (Eurostat's EL, an ICAO 3-letter code).
fn country_code_problem(lang: Lang, field: &str, code: &str) -> FieldError {
    if code == "EL" {
        return problem(lang, field, "country_el", &[]);
    }
    if let Some(a2) = country::icao_to_alpha2(code).filter(|_| code.len() == 3) {
        return problem(lang, field, "country_three_letters", &[("alpha2", a2)]);
    }
    problem(lang, field, "country_unknown", &[])
}

fn nationality_problem(code: &str, group: Group, lang: Lang) -> Option<FieldError> {
    let field = "nationality";
    if code == country::DENMARK {
        return Some(problem(lang, field, "nationality_danish", &[]));
    }
    if group.requires_eea_nationality() {
        if country::is_eu_eea_or_ch(code) {
            return None;
        }
        if country::is_alpha2(code) || country::is_icao_non_nationality(code) {
            return Some(problem(lang, field, "nationality_not_eea", &[]));
        }
        return Some(country_code_problem(lang, field, code));
    }
    // The asylum group: any other state, or stateless / refugee.
    if country::is_alpha2(code) || matches!(code, "XXA" | "XXB" | "XXC") {
        return None;
    }
    Some(country_code_problem(lang, field, code))
}

/// An intake form filled from a scanned MRZ. Names are the MRZ's Latin
/// capitals: the clerk corrects them to the printed form (MRZ names lose
/// diacritics). Unknown parts are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApplicantDraft {
    pub given_names: String,
    pub surname: String,
    pub birth_date: Option<NaiveDate>,
    /// `None` when the zone says `X` or nothing: the clerk chooses.
    pub sex: Option<Sex>,
    /// ISO alpha-2, or `XXA`/`XXB`/`XXC`; `None` when the zone's code maps to neither.
    pub nationality: Option<String>,
    pub document: DocumentDraft,
    /// Whether every check digit of the zone held.
    pub mrz_valid: bool,
}

/// The document part of an [`ApplicantDraft`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DocumentDraft {
    #[serde(rename = "type")]
    pub kind: Option<DocumentType>,
    pub number: String,
    pub issuing_state: Option<String>,
    pub expiry_date: Option<NaiveDate>,
    pub sex_on_document: Option<DocumentSex>,
}

impl ApplicantDraft {
    /// Fills a draft from a parsed zone.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use skranke_rules::{applicant::ApplicantDraft, mrz};
    /// let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    /// let zone = "P<D<<MUELLER<<JUERGEN<<<<<<<<<<<<<<<<<<<<<<<\nC01X00T478D<<6408125M3010312<<<<<<<<<<<<<<<2";
    /// let draft = ApplicantDraft::from_mrz(&mrz::parse(zone, today).unwrap());
    /// assert_eq!(draft.nationality.as_deref(), Some("DE"));
    /// assert!(draft.mrz_valid);
    /// assert_eq!(draft.surname, "MUELLER");
    /// ```
    pub fn from_mrz(mrz: &Mrz) -> ApplicantDraft {
        let f = &mrz.fields;
        let kind = match f.document_code.chars().next() {
            Some('P') => Some(DocumentType::Passport),
            Some('I') => Some(DocumentType::IdCard),
            Some(_) => Some(DocumentType::Other),
            None => None,
        };
        let (sex, sex_on_document) = match f.sex {
            Some(MrzSex::F) => (Some(Sex::Female), None),
            Some(MrzSex::M) => (Some(Sex::Male), None),
            Some(MrzSex::X) => (None, Some(DocumentSex::X)),
            None => (None, None),
        };
        let nationality = mrz.nationality.map(String::from).or_else(|| {
            matches!(f.nationality_icao.as_str(), "XXA" | "XXB" | "XXC").then(|| f.nationality_icao.clone())
        });
        ApplicantDraft {
            given_names: f.given_names.clone(),
            surname: f.surname.clone(),
            birth_date: f.birth_date,
            sex,
            nationality,
            document: DocumentDraft {
                kind,
                number: f.document_number.clone(),
                issuing_state: mrz.issuing_state.map(String::from),
                expiry_date: f.expiry_date,
                sex_on_document,
            },
            mrz_valid: mrz.is_valid(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    fn ctx() -> IntakeContext {
        IntakeContext { today: today(), desk_municipality: 101 }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// The issue's example record.
    fn example_json() -> Value {
        json!({
          "given_names": "Anna Maria",
          "surname": "Eriksson",
          "birth_date": "1974-08-12",
          "sex": "F",
          "nationality": "SE",
          "municipality_of_stay": 101,
          "group": "eu-jobseeker",
          "document": {"type": "passport", "number": "L898902C3", "issuing_state": "SE",
                       "expiry_date": "2031-04-15", "original_seen": true,
                       "sex_on_document": null, "no_expiry_confirmed": false},
          "asylum_case_ref": null,
          "no_danish_cpr": true,
          "not_residence_registered": true,
          "language": "sv",
          "contact": {"email": null, "phone": null, "address_dk": null}
        })
    }

    fn example() -> Applicant {
        Applicant::from_json(&example_json().to_string(), Lang::En).unwrap()
    }

    fn asylum(nationality: &str) -> Applicant {
        let mut a = example();
        a.group = Group::AsylumPersonalAssistance;
        a.nationality = nationality.into();
        a.asylum_case_ref = Some("2026-123456".into());
        a
    }

    /// The (field, code) pairs of a refusal, for compact assertions.
    fn refusals(a: &Applicant) -> Vec<(String, String)> {
        match a.validate(&ctx(), Lang::En) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| (e.field, e.code)).collect(),
        }
    }

    fn refused_with(a: &Applicant, field: &str, code: &str) -> bool {
        refusals(a).contains(&(field.to_string(), code.to_string()))
    }

    fn json_refusals(value: &Value) -> Vec<(String, String)> {
        match Applicant::from_json(&value.to_string(), Lang::En) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| (e.field, e.code)).collect(),
        }
    }

    const HOSTILE: [&str; 8] = [
        "Robert'); DROP TABLE applicants;--",
        "' OR '1'='1",
        "Anna\u{0000}Maria",
        "Anna\u{202E}airaM",
        "Anna 😀",
        "Anna\u{200B}",
        "<script>alert(1)</script>",
        "Anna\r\nMaria",
    ];

    fn huge() -> String {
        "A".repeat(100 * 1024)
    }

    #[test]
    fn the_issue_example_is_valid_with_latin_names_and_keys() {
        let v = example().validate(&ctx(), Lang::Da).unwrap();
        assert_eq!((v.surname_latin.as_str(), v.given_names_latin.as_str()), ("ERIKSSON", "ANNA MARIA"));
        assert_eq!(v.keys.document, "SE|L898902C3");
        assert_eq!(v.keys.person, "1974-08-12|SE|ERIKSSON<<ANNA<MARIA");
        assert!(v.notices.is_empty(), "the desk's own municipality needs no notice");
    }

    #[test]
    fn eu_groups_accept_eu_eea_and_swiss_citizens() {
        for group in [Group::EuJobseeker, Group::EuOffers] {
            for nationality in ["SE", "DE", "GR", "PL", "RO", "NO", "IS", "LI", "CH", "se"] {
                let mut a = example();
                a.group = group;
                a.nationality = nationality.into();
                assert_eq!(refusals(&a), vec![], "{nationality}");
            }
        }
    }

    #[test]
    fn eu_groups_refuse_other_nationals_and_the_stateless() {
        for group in [Group::EuJobseeker, Group::EuOffers] {
            for nationality in ["US", "UA", "GB", "TR", "XXA", "XXB"] {
                let mut a = example();
                a.group = group;
                a.nationality = nationality.into();
                assert_eq!(refusals(&a), vec![("nationality".into(), "nationality_not_eea".into())], "{nationality}");
            }
        }
    }

    #[test]
    fn danish_citizens_are_refused_in_every_group() {
        let mut a = example();
        a.nationality = "DK".into();
        assert!(refused_with(&a, "nationality", "nationality_danish"));
        assert!(refused_with(&asylum("dk"), "nationality", "nationality_danish"));
    }

    #[test]
    fn the_asylum_group_takes_any_other_state_and_the_stateless_or_refugees() {
        for nationality in ["SY", "AF", "ER", "UA", "SE", "XK", "XXA", "XXB", "XXC"] {
            assert_eq!(refusals(&asylum(nationality)), vec![], "{nationality}");
        }
        for (nationality, code) in [("XXX", "country_unknown"), ("SYR", "country_three_letters"), ("EL", "country_el")]
        {
            assert_eq!(refusals(&asylum(nationality)), vec![("nationality".into(), code.into())], "{nationality}");
        }
    }

    #[test]
    fn the_asylum_group_requires_a_case_reference_and_only_it_records_one() {
        let mut a = asylum("SY");
        a.asylum_case_ref = None;
        assert!(refused_with(&a, "asylum_case_ref", "asylum_case_ref_required"));
        a.asylum_case_ref = Some("   ".into());
        assert!(refused_with(&a, "asylum_case_ref", "asylum_case_ref_required"));
        for hostile in HOSTILE {
            a.asylum_case_ref = Some(hostile.into());
            assert!(refused_with(&a, "asylum_case_ref", "asylum_case_ref_characters"), "{hostile:?}");
        }
        a.asylum_case_ref = Some(huge());
        assert!(refused_with(&a, "asylum_case_ref", "asylum_case_ref_too_long"));
        let mut eu = example();
        eu.asylum_case_ref = Some("2026-1".into());
        assert!(refused_with(&eu, "asylum_case_ref", "asylum_case_ref_not_allowed"));
    }

    #[test]
    fn no_message_and_no_debug_output_reveals_the_group() {
        let mut a = asylum("DK");
        a.asylum_case_ref = None;
        a.document.original_seen = false;
        for lang in Lang::ALL {
            for e in a.validate(&ctx(), lang).unwrap_err() {
                for word in ["asylum-personal-assistance", "AsylumPersonalAssistance", "handicap"] {
                    assert!(!e.message.contains(word), "{}", e.message);
                }
            }
        }
        let debug = format!("{:?}", asylum("SY").validate(&ctx(), Lang::En).unwrap());
        assert!(!debug.contains("Asylum") && !debug.contains("asylum-personal"), "{debug}");
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn birth_year_1937_is_the_floor() {
        let mut a = example();
        a.birth_date = date(1936, 12, 31);
        assert_eq!(refusals(&a), vec![("birth_date".into(), "born_before_first_year".into())]);
        a.birth_date = date(FIRST_BIRTH_YEAR, 1, 1);
        assert_eq!(refusals(&a), vec![]);
    }

    #[test]
    fn the_applicant_is_at_least_15_on_the_desks_date() {
        let mut a = example();
        a.birth_date = date(2011, 11, 26);
        assert_eq!(refusals(&a), vec![], "15 today");
        a.birth_date = date(2011, 11, 27);
        assert_eq!(refusals(&a), vec![("birth_date".into(), "too_young".into())]);
        let message = a.validate(&ctx(), Lang::En).unwrap_err().remove(0).message;
        assert!(message.contains("14") && message.contains("15"), "{message}");
        a.birth_date = date(2027, 1, 1);
        assert_eq!(refusals(&a), vec![("birth_date".into(), "birth_in_future".into())]);
    }

    #[test]
    fn a_leap_day_birthday_comes_on_1_march_in_other_years() {
        assert_eq!(age_on(date(2008, 2, 29), date(2023, 2, 28)), 14);
        assert_eq!(age_on(date(2008, 2, 29), date(2023, 3, 1)), 15);
        assert_eq!(age_on(date(2008, 2, 29), date(2024, 2, 29)), 16);
    }

    #[test]
    fn an_x_on_the_document_is_recorded_beside_the_chosen_sex() {
        let mut a = example();
        a.document.sex_on_document = Some(DocumentSex::X);
        assert_eq!(refusals(&a), vec![]);
        a.document.sex_on_document = Some(DocumentSex::F);
        assert_eq!(refusals(&a), vec![], "agreeing is redundant but true");
        a.document.sex_on_document = Some(DocumentSex::M);
        assert_eq!(refusals(&a), vec![("document.sex_on_document".into(), "sex_on_document_conflict".into())]);
    }

    #[test]
    fn sex_is_f_or_m_only() {
        let mut v = example_json();
        for bad in [json!("X"), json!("f"), json!("<"), json!(1), json!("")] {
            v["sex"] = bad.clone();
            assert_eq!(json_refusals(&v), vec![("sex".into(), "wrong_type".into())], "{bad}");
        }
    }

    #[test]
    fn an_expired_document_is_refused_and_one_expiring_today_accepted() {
        let mut a = example();
        a.document.expiry_date = Some(today());
        assert_eq!(refusals(&a), vec![]);
        a.document.expiry_date = Some(today().pred_opt().unwrap());
        assert_eq!(refusals(&a), vec![("document.expiry_date".into(), "document_expired".into())]);
    }

    #[test]
    fn only_an_id_card_confirmed_to_have_none_may_lack_an_expiry_date() {
        let mut a = example();
        a.document.expiry_date = None;
        assert_eq!(refusals(&a), vec![("document.expiry_date".into(), "expiry_required".into())]);
        a.document.kind = DocumentType::IdCard;
        assert_eq!(refusals(&a), vec![("document.expiry_date".into(), "expiry_unconfirmed".into())]);
        a.document.no_expiry_confirmed = true;
        assert_eq!(refusals(&a), vec![]);
        a.document.expiry_date = Some(date(2030, 1, 1));
        assert_eq!(refusals(&a), vec![("document.no_expiry_confirmed".into(), "no_expiry_conflict".into())]);
        let mut other = example();
        other.document.kind = DocumentType::Other;
        other.document.expiry_date = None;
        other.document.no_expiry_confirmed = true;
        assert_eq!(refusals(&other), vec![("document.expiry_date".into(), "expiry_required".into())]);
    }

    #[test]
    fn the_original_document_must_have_been_seen() {
        let mut a = example();
        a.document.original_seen = false;
        assert_eq!(refusals(&a), vec![("document.original_seen".into(), "original_not_seen".into())]);
    }

    #[test]
    fn document_numbers_are_letters_and_digits_normalised() {
        let mut a = example();
        a.document.number = " l898 902c3 ".into();
        let v = a.validate(&ctx(), Lang::En).unwrap();
        assert_eq!(v.applicant.document.number, "L898902C3");
        assert_eq!(v.keys.document, "SE|L898902C3");
        a.document.number = "  ".into();
        assert!(refused_with(&a, "document.number", "document_number_empty"));
        for hostile in HOSTILE.iter().chain(["L898-902", "Ł898902"].iter()) {
            a.document.number = hostile.to_string();
            assert!(refused_with(&a, "document.number", "document_number_characters"), "{hostile:?}");
        }
        a.document.number = huge();
        assert!(refused_with(&a, "document.number", "document_number_too_long"));
    }

    #[test]
    fn the_issuing_state_is_an_iso_alpha2_code() {
        let mut a = example();
        for (state, code) in [
            ("EL", "country_el"),
            ("SWE", "country_three_letters"),
            ("D", "country_unknown"),
            ("XXA", "country_unknown"),
            ("", "country_unknown"),
        ] {
            a.document.issuing_state = state.into();
            assert_eq!(refusals(&a), vec![("document.issuing_state".into(), code.into())], "{state}");
        }
        a.document.issuing_state = huge();
        assert!(refused_with(&a, "document.issuing_state", "country_unknown"));
        a.document.issuing_state = "dk".into();
        assert_eq!(refusals(&a), vec![], "a Danish-issued travel document is a document");
    }

    #[test]
    fn a_person_with_a_cpr_number_or_residence_registration_goes_the_ordinary_way() {
        let mut a = example();
        a.no_danish_cpr = false;
        assert_eq!(refusals(&a), vec![("no_danish_cpr".into(), "has_danish_cpr".into())]);
        let mut a = example();
        a.not_residence_registered = false;
        assert_eq!(refusals(&a), vec![("not_residence_registered".into(), "residence_registered".into())]);
    }

    #[test]
    fn the_municipality_of_stay_is_a_kommunekode_and_names_the_competent_job_centre() {
        let mut a = example();
        a.municipality_of_stay = 100;
        assert_eq!(refusals(&a), vec![("municipality_of_stay".into(), "municipality_unknown".into())]);
        a.municipality_of_stay = 461;
        let v = a.validate(&ctx(), Lang::Da).unwrap();
        assert_eq!(v.notices.len(), 1);
        assert_eq!(v.notices[0].field, "municipality_of_stay");
        assert!(v.notices[0].message.contains("Jobcenter Odense"), "{}", v.notices[0].message);
    }

    #[test]
    fn names_refuse_hostile_input_in_both_fields() {
        for field in ["surname", "given_names"] {
            for (input, code) in HOSTILE.iter().map(|h| (h.to_string(), "name_character")).chain([
                (huge(), "name_too_long"),
                ("王芳".to_string(), "name_script"),
                ("--".into(), "name_no_letters"),
            ]) {
                let mut a = example();
                if field == "surname" {
                    a.surname = input.clone();
                } else {
                    a.given_names = input.clone();
                }
                assert_eq!(refusals(&a), vec![(field.to_string(), code.to_string())], "{field} {input:?}");
            }
        }
    }

    #[test]
    fn a_message_about_a_bad_character_names_it_by_code_point_only() {
        let mut a = example();
        a.surname = "Eriksson\u{202E}".into();
        let e = a.validate(&ctx(), Lang::En).unwrap_err().remove(0);
        assert!(e.message.contains("U+202E"), "{}", e.message);
        assert!(!e.message.contains('\u{202E}'));
    }

    #[test]
    fn a_single_name_is_kept_as_surname_and_a_missing_surname_refused() {
        let mut a = example();
        a.given_names = "  ".into();
        let v = a.validate(&ctx(), Lang::En).unwrap();
        assert_eq!((v.applicant.given_names.as_str(), v.given_names_latin.as_str()), ("", ""));
        assert_eq!(v.keys.person, "1974-08-12|SE|ERIKSSON");
        a.surname = " ".into();
        assert_eq!(refusals(&a), vec![("surname".into(), "surname_empty".into())]);
    }

    #[test]
    fn printed_names_are_kept_and_latin_forms_derived() {
        let mut a = example();
        a.surname = "  Wałęsa-Øster ".into();
        a.given_names = "Ηλίας  Юрий".into();
        let v = a.validate(&ctx(), Lang::En).unwrap();
        assert_eq!(v.applicant.surname, "Wałęsa-Øster");
        assert_eq!(v.applicant.given_names, "Ηλίας Юрий");
        assert_eq!(v.surname_latin, "WALESA OESTER");
        assert_eq!(v.given_names_latin, "ILIAS IURII");
    }

    #[test]
    fn mueller_from_the_page_and_from_the_mrz_share_the_person_key() {
        let mut page = example();
        page.nationality = "DE".into();
        page.surname = "Müller".into();
        page.given_names = "Jürgen".into();
        let mut mrz = page.clone();
        mrz.surname = "MUELLER".into();
        mrz.given_names = "JUERGEN".into();
        let key = |a: &Applicant| a.validate(&ctx(), Lang::En).unwrap().keys.person;
        assert_eq!(key(&page), key(&mrz));
        let mut other = page.clone();
        other.birth_date = date(1974, 8, 13);
        assert_ne!(key(&page), key(&other), "the birth date is part of the key");
    }

    #[test]
    fn the_handout_language_is_an_iso_639_1_code() {
        let mut a = example();
        a.language = " PL ".into();
        assert_eq!(a.validate(&ctx(), Lang::En).unwrap().applicant.language, "pl");
        for bad in ["xx", "swe", "", "s", "en-GB"] {
            a.language = bad.into();
            assert_eq!(refusals(&a), vec![("language".into(), "language_unknown".into())], "{bad}");
        }
        a.language = huge();
        assert!(refused_with(&a, "language", "language_unknown"));
    }

    #[test]
    fn contact_details_are_checked_when_given() {
        let mut a = example();
        a.contact = Contact {
            email: Some("anna@example.se".into()),
            phone: Some("+46 (0)70-123 45 67".into()),
            address_dk: Some("Vesterbrogade  1,\n1620 København V".into()),
        };
        let v = a.validate(&ctx(), Lang::En).unwrap();
        assert_eq!(v.applicant.contact.address_dk.as_deref(), Some("Vesterbrogade 1, 1620 København V"));
        a.contact.email = Some("  ".into());
        assert_eq!(a.validate(&ctx(), Lang::En).unwrap().applicant.contact.email, None, "blank is absent");
        for bad in ["anna", "anna@", "@example.se", "anna@example", "a b@example.se", "anna@@example.se"] {
            a.contact.email = Some(bad.into());
            assert!(refused_with(&a, "contact.email", "email_invalid"), "{bad}");
        }
        for hostile in HOSTILE.iter().map(|h| format!("{h}@example.se")).chain([huge()]) {
            a.contact.email = Some(hostile.clone());
            assert!(refused_with(&a, "contact.email", "email_invalid"), "{hostile:?}");
        }
        a.contact.email = None;
        for bad in ["12345", "+45 12 34 56 78 90 12 34", "12345678; DROP", "+45 1234\u{0000}5678", "++4512345678"] {
            a.contact.phone = Some(bad.into());
            assert!(refused_with(&a, "contact.phone", "phone_invalid"), "{bad}");
        }
        a.contact.phone = None;
        for bad in ["Vej 1\u{202E}", "Vej 1 😀", "Vej\u{0000}1", "Vej\t1"] {
            a.contact.address_dk = Some(bad.into());
            assert!(refused_with(&a, "contact.address_dk", "address_characters"), "{bad:?}");
        }
        a.contact.address_dk = Some(huge());
        assert!(refused_with(&a, "contact.address_dk", "address_too_long"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut a = example();
        a.surname = "X\u{0000}".into();
        a.birth_date = date(1930, 1, 1);
        a.nationality = "US".into();
        a.municipality_of_stay = 5;
        a.document.expiry_date = Some(date(2020, 1, 1));
        a.document.original_seen = false;
        a.no_danish_cpr = false;
        a.language = "zz".into();
        let fields: Vec<String> = refusals(&a).into_iter().map(|(f, _)| f).collect();
        for field in [
            "surname",
            "birth_date",
            "nationality",
            "municipality_of_stay",
            "document.expiry_date",
            "document.original_seen",
            "no_danish_cpr",
            "language",
        ] {
            assert!(fields.contains(&field.to_string()), "{field} missing from {fields:?}");
        }
    }

    #[test]
    fn messages_follow_the_desks_language() {
        let mut a = example();
        a.document.original_seen = false;
        let da = a.validate(&ctx(), Lang::Da).unwrap_err().remove(0);
        let en = a.validate(&ctx(), Lang::En).unwrap_err().remove(0);
        assert_eq!((da.field.as_str(), da.code.as_str()), (en.field.as_str(), en.code.as_str()));
        assert_ne!(da.message, en.message);
        assert!(!en.message.starts_with("applicant."), "a catalog key leaked: {}", en.message);
    }

    #[test]
    fn json_syntax_errors_name_the_document_with_line_and_column() {
        let errors = Applicant::from_json("{\n  \"surname\": \"Eriksson\",,\n}", Lang::En).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].field.as_str(), errors[0].code.as_str()), ("$", "json_syntax"));
        assert!(errors[0].message.contains("line 2"), "{}", errors[0].message);
        for not_object in ["[]", "42", "\"applicant\"", "null"] {
            let errors = Applicant::from_json(not_object, Lang::En).unwrap_err();
            assert_eq!(errors[0].code, "json_not_object", "{not_object}");
        }
        for broken in ["", "{", "\u{0000}", "{\"surname\": \"\\ud800\"}"] {
            assert_eq!(Applicant::from_json(broken, Lang::En).unwrap_err()[0].field, "$", "{broken:?}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_as_a_whole() {
        let errors = Applicant::from_json_bytes(b"{\"surname\": \"\xff\"}", Lang::En).unwrap_err();
        assert_eq!((errors[0].field.as_str(), errors[0].code.as_str()), ("$", "json_encoding"));
        assert!(Applicant::from_json_bytes(example_json().to_string().as_bytes(), Lang::En).is_ok());
    }

    #[test]
    fn a_utf8_byte_order_mark_is_skipped_and_utf16_is_refused_as_a_whole() {
        let json = example_json().to_string();
        let with_bom = [&b"\xef\xbb\xbf"[..], json.as_bytes()].concat();
        assert!(Applicant::from_json_bytes(&with_bom, Lang::En).is_ok());
        let utf16: Vec<u8> = [0xfeff].into_iter().chain(json.encode_utf16()).flat_map(u16::to_le_bytes).collect();
        let errors = Applicant::from_json_bytes(&utf16, Lang::En).unwrap_err();
        assert_eq!((errors[0].field.as_str(), errors[0].code.as_str()), ("$", "json_encoding"));
    }

    #[test]
    fn deeply_nested_json_is_refused_without_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(Applicant::from_json(&deep, Lang::En).unwrap_err()[0].field, "$");
        let too_large = " ".repeat(MAX_JSON_BYTES + 1);
        assert_eq!(Applicant::from_json(&too_large, Lang::En).unwrap_err()[0].code, "json_too_large");
    }

    #[test]
    fn unknown_fields_are_refused_at_every_level() {
        let mut v = example_json();
        v["favourite_colour"] = json!("blue");
        v["document"]["colour"] = json!("red");
        v["contact"]["fax"] = json!("123");
        v["\u{202E}evil"] = json!(1);
        let refused = json_refusals(&v);
        for field in ["favourite_colour", "document.colour", "contact.fax"] {
            assert!(refused.contains(&(field.into(), "unknown_field".into())), "{field}: {refused:?}");
        }
        assert!(refused.iter().any(|(f, c)| c == "unknown_field" && f.contains("\\u{202e}")), "{refused:?}");
        // The typed struct refuses them too, for callers that use serde directly.
        let mut v = example_json();
        v["extra"] = json!(true);
        assert!(serde_json::from_value::<Applicant>(v).is_err());
    }

    #[test]
    fn missing_and_mistyped_fields_are_each_named() {
        let mut v = example_json();
        v.as_object_mut().unwrap().remove("surname");
        v["document"].as_object_mut().unwrap().remove("number");
        v["birth_date"] = json!("1974-02-30");
        v["municipality_of_stay"] = json!("0101");
        v["group"] = json!("eu");
        v["document"]["type"] = json!("driving-licence");
        v["no_danish_cpr"] = json!("yes");
        v["document"]["original_seen"] = json!(null);
        let refused = json_refusals(&v);
        for (field, code) in [
            ("surname", "required"),
            ("document.number", "required"),
            ("birth_date", "wrong_type"),
            ("municipality_of_stay", "wrong_type"),
            ("group", "wrong_type"),
            ("document.type", "wrong_type"),
            ("no_danish_cpr", "wrong_type"),
            ("document.original_seen", "required"),
        ] {
            assert!(refused.contains(&(field.into(), code.into())), "{field}/{code}: {refused:?}");
        }
        assert_eq!(refused.len(), 8, "{refused:?}");
    }

    #[test]
    fn a_municipality_code_that_overflows_is_a_type_error_not_a_crash() {
        for bad in [json!(99999999999u64), json!(-101), json!(101.5)] {
            let mut v = example_json();
            v["municipality_of_stay"] = bad;
            assert_eq!(json_refusals(&v), vec![("municipality_of_stay".into(), "wrong_type".into())]);
        }
    }

    #[test]
    fn optional_fields_may_be_missing_or_null() {
        let mut v = example_json();
        for key in ["asylum_case_ref", "contact"] {
            v.as_object_mut().unwrap().remove(key);
        }
        for key in ["sex_on_document", "no_expiry_confirmed"] {
            v["document"].as_object_mut().unwrap().remove(key);
        }
        assert!(Applicant::from_json(&v.to_string(), Lang::En).is_ok());
        v["contact"] = Value::Null;
        v["document"]["no_expiry_confirmed"] = Value::Null;
        let a = Applicant::from_json(&v.to_string(), Lang::En).unwrap();
        assert_eq!(a.contact, Contact::default());
        assert!(!a.document.no_expiry_confirmed);
    }

    #[test]
    fn hostile_strings_in_json_reach_the_field_rules() {
        let mut v = example_json();
        v["surname"] = json!("Eriksson\u{0000}");
        v["given_names"] = json!(huge());
        let a = Applicant::from_json(&v.to_string(), Lang::En).unwrap();
        assert_eq!(
            refusals(&a),
            vec![("surname".into(), "name_character".into()), ("given_names".into(), "name_too_long".into())]
        );
    }

    #[test]
    fn serialising_and_reading_back_gives_the_same_applicant() {
        let a = example();
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(Applicant::from_json(&text, Lang::En).unwrap(), a);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), example_json());
    }

    const TD3: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";

    #[test]
    fn a_draft_from_the_specimen_passport_fills_the_form() {
        let mrz = crate::mrz::parse(TD3, today()).unwrap();
        let draft = ApplicantDraft::from_mrz(&mrz);
        assert!(draft.mrz_valid);
        assert_eq!((draft.surname.as_str(), draft.given_names.as_str()), ("ERIKSSON", "ANNA MARIA"));
        assert_eq!(draft.birth_date, Some(date(1974, 8, 12)));
        assert_eq!(draft.sex, Some(Sex::Female));
        assert_eq!(draft.nationality, None, "Utopia is no state");
        assert_eq!(draft.document.kind, Some(DocumentType::Passport));
        assert_eq!(draft.document.number, "L898902C3");
        assert_eq!(draft.document.expiry_date, Some(date(2012, 4, 15)));
    }

    #[test]
    fn the_specimen_document_is_refused_at_intake_as_expired() {
        let draft = ApplicantDraft::from_mrz(&crate::mrz::parse(TD3, today()).unwrap());
        let mut a = example();
        a.surname = draft.surname;
        a.given_names = draft.given_names;
        a.document.number = draft.document.number;
        a.document.expiry_date = draft.document.expiry_date;
        assert_eq!(refusals(&a), vec![("document.expiry_date".into(), "document_expired".into())]);
    }

    #[test]
    fn a_draft_keeps_an_x_and_the_stateless_code() {
        let mut fields = crate::mrz::parse(TD3, today()).unwrap().fields;
        fields.sex = Some(MrzSex::X);
        fields.nationality_icao = "XXA".into();
        fields.document_code = "ID".into();
        fields.format = crate::mrz::MrzFormat::Td1;
        fields.optional_data.clear();
        let zone = crate::mrz::format(&fields).unwrap().join("\n");
        let draft = ApplicantDraft::from_mrz(&crate::mrz::parse(&zone, today()).unwrap());
        assert_eq!((draft.sex, draft.document.sex_on_document), (None, Some(DocumentSex::X)));
        assert_eq!(draft.nationality.as_deref(), Some("XXA"));
        assert_eq!(draft.document.kind, Some(DocumentType::IdCard));
    }

    proptest! {
        #[test]
        fn from_json_never_panics(text in any::<String>()) {
            let _ = Applicant::from_json(&text, Lang::Da);
        }

        #[test]
        fn validate_never_panics_on_any_strings(
            surname in any::<String>(), given in any::<String>(), number in any::<String>(),
            state in any::<String>(), nationality in any::<String>(), language in any::<String>(),
            email in any::<String>(), days in -40_000i64..40_000, municipality in any::<u16>(),
        ) {
            let mut a = example();
            a.surname = surname;
            a.given_names = given;
            a.document.number = number;
            a.document.issuing_state = state;
            a.nationality = nationality;
            a.language = language;
            a.contact.email = Some(email);
            a.birth_date = today() + chrono::Duration::days(days);
            a.municipality_of_stay = municipality;
            let _ = a.validate(&ctx(), Lang::En);
        }
    }
}
