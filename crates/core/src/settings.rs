//! The desk's settings (indstillinger) that the handout and printing need:
//! the printer, how long an unchanged initial password lives, and the
//! municipality's privacy-notice details. Admins read and change them
//! (`skranke settings get|set`, later the app's settings screen); every
//! value is checked here, with a message that names the setting, before it
//! is stored, so the handout never meets a value it cannot print.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::credentials::LapseDays;
use crate::i18n::{self, Lang};
use crate::letter::layout::{fonts, Face};
use crate::letter::PrivacyContacts;
use crate::staff::{self, Role, Session, StaffError};
use crate::store::{Store, StoreError};
use crate::FieldError;

/// The settings this module knows, by their stored key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SettingKey {
    /// The print queue handouts go to (CUPS queue name, Windows printer name).
    Printer,
    /// Days after registration until an unchanged initial password lapses (1–365, default 14).
    PasswordLapseDays,
    /// The privacy notice's data controller (dataansvarlig).
    PrivacyController,
    /// How to reach the controller.
    PrivacyContact,
    /// The data protection officer (databeskyttelsesrådgiver).
    PrivacyDpo,
    /// The municipality's own note on how long it keeps the data (optional:
    /// printed after the notice's storage sentence only when set).
    PrivacyRetention,
    /// The handout languages offered besides Danish and English (comma
    /// separated codes; empty: every language the desk has a handout in).
    HandoutLanguages,
    /// Minutes without activity after which a signed-in session locks (1–240, default 5).
    IdleLockMinutes,
    /// The language the desk app starts in (`da` or `en`, default `da`).
    UiLanguage,
}

/// The idle lock's accepted minutes: one to four hours' worth.
pub const IDLE_LOCK_MINUTES_RANGE: std::ops::RangeInclusive<u32> = 1..=240;

/// The idle lock when none is set.
pub const IDLE_LOCK_DEFAULT: u32 = 5;

/// The longest privacy-notice text accepted, in characters: it has to fit
/// in the notice of every handout language.
pub const MAX_TEXT_CHARS: usize = crate::protocol::municipality_setting::MAX_CHARS;

/// Where the value in force comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingSource {
    /// Nothing is set: the core's default (or none).
    Default,
    /// The desk's admin set it.
    Desk,
    /// The desk's municipality set it at the registry: no desk admin can
    /// change it here.
    Municipality,
}

impl SettingKey {
    pub const ALL: [SettingKey; 9] = [
        SettingKey::Printer,
        SettingKey::PasswordLapseDays,
        SettingKey::PrivacyController,
        SettingKey::PrivacyContact,
        SettingKey::PrivacyDpo,
        SettingKey::PrivacyRetention,
        SettingKey::HandoutLanguages,
        SettingKey::IdleLockMinutes,
        SettingKey::UiLanguage,
    ];

    /// The key as stored and typed.
    pub fn code(self) -> &'static str {
        match self {
            SettingKey::Printer => "printer",
            SettingKey::PasswordLapseDays => "password_lapse_days",
            SettingKey::PrivacyController => "privacy_controller",
            SettingKey::PrivacyContact => "privacy_contact",
            SettingKey::PrivacyDpo => "privacy_dpo",
            SettingKey::PrivacyRetention => "privacy_retention",
            SettingKey::HandoutLanguages => "handout_languages",
            SettingKey::IdleLockMinutes => "idle_lock_minutes",
            SettingKey::UiLanguage => "ui_language",
        }
    }

    /// The key for its code (exact, lower case).
    pub fn parse(code: &str) -> Option<SettingKey> {
        SettingKey::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Whether a municipality may set it at the registry for its desks.
    pub fn municipal(self) -> bool {
        crate::protocol::municipality_setting::ALL.contains(&self.code())
    }

    /// Whether it may be empty (then it is not set).
    fn optional(self) -> bool {
        matches!(self, SettingKey::PrivacyRetention | SettingKey::HandoutLanguages)
    }

    /// The value in force when none is stored.
    pub fn default_value(self) -> Option<String> {
        match self {
            SettingKey::PasswordLapseDays => Some(LapseDays::default().days().to_string()),
            SettingKey::IdleLockMinutes => Some(IDLE_LOCK_DEFAULT.to_string()),
            SettingKey::UiLanguage => Some(Lang::default().code().to_string()),
            _ => None,
        }
    }
}

/// Every known key, comma-separated, for messages.
pub fn known_keys() -> String {
    SettingKey::ALL.iter().map(|k| k.code()).collect::<Vec<_>>().join(", ")
}

fn problem(key: &str, code: &str, lang: Lang, args: &[(&str, &str)]) -> FieldError {
    let mut all: Vec<(&str, &str)> = vec![("key", key)];
    all.extend_from_slice(args);
    FieldError {
        field: key.into(),
        code: code.into(),
        message: i18n::render(lang, &format!("settings.field.{code}"), &all),
    }
}

/// A key typed by staff, or a refusal naming it and listing the known ones.
pub fn parse_key(code: &str, lang: Lang) -> Result<SettingKey, FieldError> {
    SettingKey::parse(code.trim()).ok_or_else(|| {
        let mut e = problem(code.trim(), "unknown_key", lang, &[("keys", &known_keys())]);
        e.field = "key".into();
        e
    })
}

/// Checks a value for `key` and returns it as it is stored (trimmed; the
/// lapse as a plain number). Every refusal names the key.
pub fn validate(key: SettingKey, value: &str, lang: Lang) -> Result<String, FieldError> {
    let value = value.trim();
    let name = key.code();
    match key {
        SettingKey::Printer => match crate::print::check_name(value) {
            Ok(()) => Ok(value.to_owned()),
            Err(_) if cfg!(windows) => Err(problem(name, "printer_invalid_windows", lang, &[])),
            Err(_) => Err(problem(name, "printer_invalid", lang, &[])),
        },
        SettingKey::PasswordLapseDays => match value.parse::<i64>().ok().and_then(|d| LapseDays::new(d).ok()) {
            Some(days) => Ok(days.days().to_string()),
            None => {
                let range = crate::credentials::PASSWORD_LAPSE_DAYS_RANGE;
                let (min, max) = (range.start().to_string(), range.end().to_string());
                Err(problem(name, "lapse_invalid", lang, &[("min", &min), ("max", &max)]))
            }
        },
        SettingKey::IdleLockMinutes => match parse_idle_minutes(value) {
            Some(minutes) => Ok(minutes.to_string()),
            None => {
                let (min, max) =
                    (IDLE_LOCK_MINUTES_RANGE.start().to_string(), IDLE_LOCK_MINUTES_RANGE.end().to_string());
                Err(problem(name, "idle_invalid", lang, &[("min", &min), ("max", &max)]))
            }
        },
        SettingKey::UiLanguage => match Lang::from_code(value) {
            Some(l) => Ok(l.code().to_owned()),
            None => Err(problem(name, "language_invalid", lang, &[])),
        },
        _ if value.is_empty() && key.optional() => Ok(String::new()),
        SettingKey::HandoutLanguages => {
            let mut codes: Vec<&str> = Vec::new();
            for code in value.split(',').map(str::trim) {
                if crate::letter::texts::find(code).is_none() || code == "da" || code == "en" {
                    return Err(problem(name, "languages_invalid", lang, &[("code", code)]));
                }
                if !codes.contains(&code) {
                    codes.push(code);
                }
            }
            Ok(codes.join(","))
        }
        SettingKey::PrivacyController
        | SettingKey::PrivacyContact
        | SettingKey::PrivacyDpo
        | SettingKey::PrivacyRetention => {
            let chars = value.chars().count();
            if chars == 0 || chars > MAX_TEXT_CHARS || value.chars().any(char::is_control) {
                return Err(problem(name, "text_invalid", lang, &[("max", &MAX_TEXT_CHARS.to_string())]));
            }
            if let Some(ch) = fonts().and_then(|f| f.missing_glyph(Face::Regular, value)) {
                let codepoint = format!("U+{:04X}", u32::from(ch));
                return Err(problem(
                    name,
                    "text_unprintable",
                    lang,
                    &[("char", &ch.to_string()), ("codepoint", &codepoint)],
                ));
            }
            Ok(value.to_owned())
        }
    }
}

/// Idle-lock minutes as typed: a whole number in [`IDLE_LOCK_MINUTES_RANGE`].
fn parse_idle_minutes(value: &str) -> Option<u32> {
    value.trim().parse::<u32>().ok().filter(|m| IDLE_LOCK_MINUTES_RANGE.contains(m))
}

/// One setting as staff see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettingValue {
    pub key: &'static str,
    /// The value in force: the municipality's, else the desk's, else the
    /// default, else none.
    pub value: Option<String>,
    /// Whether `value` is the default (nothing stored).
    pub default: bool,
    /// Where `value` comes from.
    pub source: SettingSource,
}

/// What the handout and printing take from the settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoutSettings {
    pub printer: Option<String>,
    pub lapse: LapseDays,
    /// Any part may be empty here: issuing refuses then, naming the settings.
    pub privacy: PrivacyContacts,
    /// The handout languages offered besides Danish and English; empty: all.
    pub languages: Vec<String>,
}

/// What applying the municipality's settings from a sync answer changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MunicipalityApplied {
    /// Keys set or changed.
    pub changed: Vec<&'static str>,
    /// Keys the municipality no longer sets (the desk's own value is in force again).
    pub removed: Vec<&'static str>,
    /// Keys whose value this desk refused (it keeps what it had), and the
    /// keys it does not know (from a newer registry), ignored.
    pub refused: Vec<String>,
}

impl MunicipalityApplied {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.removed.is_empty() && self.refused.is_empty()
    }
}

/// What the municipality's settings in a sync answer would change here:
/// each value checked as a desk admin's would be (a value this desk cannot
/// print is refused and the key keeps what it had; a key it does not know,
/// from a newer registry, is refused too), and the keys absent from the
/// answer, which are the desk's own again.
fn municipality_plan(
    conn: &rusqlite::Connection,
    values: &std::collections::BTreeMap<String, String>,
) -> Result<(Vec<(&'static str, String)>, MunicipalityApplied), StoreError> {
    use rusqlite::OptionalExtension;
    let mut writes = Vec::new();
    let mut plan = MunicipalityApplied::default();
    let mut held = conn.prepare_cached("SELECT value FROM municipality_setting WHERE key = ?1")?;
    for (code, value) in values {
        match SettingKey::parse(code).filter(|k| k.municipal()).map(|k| (k, validate(k, value, Lang::En))) {
            Some((key, Ok(value))) => {
                let now: Option<String> = held.query_row([key.code()], |r| r.get(0)).optional()?;
                if now.as_deref() != Some(value.as_str()) {
                    plan.changed.push(key.code());
                    writes.push((key.code(), value));
                }
            }
            _ => plan.refused.push(code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect()),
        }
    }
    for key in SettingKey::ALL.into_iter().filter(|k| k.municipal() && !values.contains_key(k.code())) {
        if held.query_row([key.code()], |r| r.get::<_, String>(0)).optional()?.is_some() {
            plan.removed.push(key.code());
        }
    }
    Ok((writes, plan))
}

impl Store {
    /// Applies the settings the desk's municipality set at the registry
    /// (from a verified sync answer; see `municipality_plan`) in one act,
    /// audited once with the keys that changed, and only when something
    /// does: a sync that brings the same settings writes nothing.
    pub(crate) fn apply_municipality_settings(
        &mut self,
        values: &std::collections::BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<MunicipalityApplied, StoreError> {
        let (_, plan) = self.read(|tx, _| municipality_plan(tx, values))?;
        if plan.changed.is_empty() && plan.removed.is_empty() {
            return Ok(plan);
        }
        self.act(|tx, ctx| {
            let (writes, plan) = municipality_plan(tx, values)?;
            let at = crate::store::timestamp(now);
            for (key, value) in &writes {
                tx.prepare_cached(
                    "INSERT INTO municipality_setting (key, value, received_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, received_at = excluded.received_at",
                )?
                .execute((key, value, &at))?;
            }
            for key in &plan.removed {
                tx.prepare_cached("DELETE FROM municipality_setting WHERE key = ?1")?.execute([key])?;
            }
            let detail = format!(
                "set:{};removed:{};refused:{}",
                plan.changed.join(","),
                plan.removed.join(","),
                plan.refused.join(",")
            );
            crate::audit::append(
                tx,
                &ctx.desk_id,
                &crate::audit::Event::desk("desk.municipality_settings", now).detail(&detail),
            )?;
            Ok(plan)
        })
    }
}

impl Store {
    fn setting_value(&self, key: SettingKey) -> Result<SettingValue, StoreError> {
        let stored = self.setting(key.code())?.filter(|v| !(v.is_empty() && key.optional()));
        let source = match stored {
            None => SettingSource::Default,
            Some(_) if self.municipality_set(key)? => SettingSource::Municipality,
            Some(_) => SettingSource::Desk,
        };
        Ok(SettingValue {
            key: key.code(),
            value: stored.or_else(|| key.default_value()),
            default: source == SettingSource::Default,
            source,
        })
    }

    /// Whether the desk's municipality set `key` at the registry.
    fn municipality_set(&self, key: SettingKey) -> Result<bool, StoreError> {
        Ok(self
            .connection()
            .prepare_cached("SELECT count(*) FROM municipality_setting WHERE key = ?1")?
            .query_row([key.code()], |r| r.get::<_, i64>(0))?
            > 0)
    }

    /// Refuses a new value for a setting the municipality set, naming it:
    /// the same value (a whole form saved again) is no change.
    fn check_change(&self, key: SettingKey, value: &str, lang: Lang) -> Result<Option<FieldError>, StoreError> {
        if self.setting(key.code())?.as_deref() == Some(value) {
            return Ok(None);
        }
        if self.municipality_set(key)? {
            return Ok(Some(problem(key.code(), "set_by_municipality", lang, &[])));
        }
        // A new printer must be one this PC has (and, on Windows, one whose
        // queue keeps no copies); the one already set is not asked again,
        // so that a printer away for a while does not block the rest of
        // the form.
        if key == SettingKey::Printer {
            if let Err(e) = crate::print::check_installed(value) {
                return Ok(Some(FieldError {
                    field: key.code().into(),
                    code: e.code().into(),
                    message: e.message(lang),
                }));
            }
        }
        Ok(None)
    }

    /// Every setting with the value in force (admin).
    pub fn settings(&mut self, session: &Session) -> Result<Vec<SettingValue>, StaffError> {
        self.read(|tx, _| staff::authorize(tx, session, Role::Admin, "settings"))?;
        Ok(SettingKey::ALL.into_iter().map(|k| self.setting_value(k)).collect::<Result<_, _>>()?)
    }

    /// One setting (admin).
    pub fn get_setting(&mut self, session: &Session, key: SettingKey) -> Result<SettingValue, StaffError> {
        self.read(|tx, _| staff::authorize(tx, session, Role::Admin, "settings"))?;
        Ok(self.setting_value(key)?)
    }

    /// Checks and stores a setting (admin), audited by key (never the value).
    /// Returns the value as stored.
    pub fn change_setting(
        &mut self,
        session: &Session,
        key: SettingKey,
        value: &str,
        now: DateTime<Utc>,
        lang: Lang,
    ) -> Result<String, StaffError> {
        let value = validate(key, value, lang).map_err(|e| StaffError::Invalid(vec![e]))?;
        if let Some(e) = self.check_change(key, &value, lang)? {
            return Err(StaffError::Invalid(vec![e]));
        }
        self.set_setting(session, key.code(), &value, now)?;
        Ok(value)
    }

    /// Checks every value of a form and stores those that changed (admin),
    /// in one transaction, each change audited by key. Refused with every
    /// problem at once, each naming its setting, and then nothing is stored.
    /// Returns every setting in force afterwards.
    pub fn change_settings(
        &mut self,
        session: &Session,
        values: &[(SettingKey, &str)],
        now: DateTime<Utc>,
        lang: Lang,
    ) -> Result<Vec<SettingValue>, StaffError> {
        self.read(|tx, _| staff::authorize(tx, session, Role::Admin, "settings"))?;
        let mut checked = Vec::with_capacity(values.len());
        let mut errors = Vec::new();
        for &(key, value) in values {
            match validate(key, value, lang) {
                Ok(v) => match self.check_change(key, &v, lang)? {
                    Some(e) => errors.push(e),
                    None => checked.push((key, v)),
                },
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(StaffError::Invalid(errors));
        }
        let mut changed = Vec::new();
        for (key, value) in checked {
            if self.setting(key.code())?.as_deref() != Some(value.as_str()) {
                changed.push((key, value));
            }
        }
        self.set_settings(session, &changed, now)?;
        Ok(SettingKey::ALL.into_iter().map(|k| self.setting_value(k)).collect::<Result<_, _>>()?)
    }

    /// The language the desk app starts in (desk-level): the stored one, else Danish.
    pub fn ui_language(&self) -> Result<Lang, StoreError> {
        Ok(self.setting(SettingKey::UiLanguage.code())?.as_deref().and_then(Lang::from_code).unwrap_or_default())
    }

    /// The idle lock in minutes (desk-level). A stored value that no longer
    /// parses falls back to the default rather than to no lock at all.
    pub fn idle_lock_minutes(&self) -> Result<u32, StoreError> {
        let stored = self.setting(SettingKey::IdleLockMinutes.code())?;
        Ok(stored.as_deref().and_then(parse_idle_minutes).unwrap_or(IDLE_LOCK_DEFAULT))
    }

    /// The settings the handout needs (desk-level: no staff needed to read them).
    pub fn handout_settings(&self) -> Result<HandoutSettings, StoreError> {
        let get = |k: SettingKey| -> Result<String, StoreError> { Ok(self.setting(k.code())?.unwrap_or_default()) };
        let lapse = match self.setting(SettingKey::PasswordLapseDays.code())? {
            // Stored values were validated; one that no longer parses is
            // refused as a stored value that does not convert, not guessed.
            Some(v) => LapseDays::new(v.trim().parse::<i64>().unwrap_or(0)).map_err(|e| {
                StoreError::Database(rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                ))
            })?,
            None => LapseDays::default(),
        };
        Ok(HandoutSettings {
            printer: self.setting(SettingKey::Printer.code())?.filter(|p| !p.trim().is_empty()),
            lapse,
            privacy: PrivacyContacts {
                controller: get(SettingKey::PrivacyController)?,
                contact: get(SettingKey::PrivacyContact)?,
                dpo: get(SettingKey::PrivacyDpo)?,
                retention: get(SettingKey::PrivacyRetention)?,
            },
            languages: get(SettingKey::HandoutLanguages)?
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_parses_back_from_its_code_and_unknown_keys_name_the_known_ones() {
        for k in SettingKey::ALL {
            assert_eq!(SettingKey::parse(k.code()), Some(k));
        }
        let e = parse_key("colour", Lang::En).unwrap_err();
        assert_eq!(e.field, "key");
        assert!(e.message.contains("colour") && e.message.contains("password_lapse_days"), "{}", e.message);
    }

    #[test]
    fn lapse_days_must_be_a_whole_number_from_1_to_365() {
        assert_eq!(validate(SettingKey::PasswordLapseDays, " 30 ", Lang::En).unwrap(), "30");
        assert_eq!(validate(SettingKey::PasswordLapseDays, "365", Lang::En).unwrap(), "365");
        for bad in ["0", "366", "-1", "14.5", "fourteen", ""] {
            let e = validate(SettingKey::PasswordLapseDays, bad, Lang::En).unwrap_err();
            assert_eq!(e.field, "password_lapse_days", "{bad}");
            assert!(e.message.contains("365"), "{}", e.message);
            let shown = StaffError::Invalid(vec![e]).message(Lang::En);
            assert!(shown.starts_with("password_lapse_days: "), "{shown}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_printer_name_must_be_a_queue_name_that_cannot_read_as_an_option() {
        assert_eq!(validate(SettingKey::Printer, "skranke-test", Lang::En).unwrap(), "skranke-test");
        for bad in ["", "-d", "a b", "a/b"] {
            let e = validate(SettingKey::Printer, bad, Lang::Da).unwrap_err();
            assert_eq!(e.field, "printer");
            assert!(e.message.contains("lpstat"), "{}", e.message);
        }
    }

    #[test]
    fn privacy_texts_must_be_printable_one_line_and_not_too_long() {
        let ok = validate(SettingKey::PrivacyController, "  Københavns Kommune ", Lang::En).unwrap();
        assert_eq!(ok, "Københavns Kommune");
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        for bad in ["", "a\nb", long.as_str()] {
            let e = validate(SettingKey::PrivacyDpo, bad, Lang::En).unwrap_err();
            assert_eq!((e.field.as_str(), e.code.as_str()), ("privacy_dpo", "text_invalid"));
        }
        let e = validate(SettingKey::PrivacyContact, "kontakt 漢字", Lang::En).unwrap_err();
        assert_eq!(e.code, "text_unprintable");
        assert_eq!(e.field, "privacy_contact");
        assert!(e.message.contains("U+6F22"), "{}", e.message);
    }

    #[test]
    fn only_the_lapse_the_idle_lock_and_the_ui_language_have_a_default() {
        assert_eq!(SettingKey::PasswordLapseDays.default_value().as_deref(), Some("14"));
        assert_eq!(SettingKey::IdleLockMinutes.default_value().as_deref(), Some("5"));
        assert_eq!(SettingKey::UiLanguage.default_value().as_deref(), Some("da"));
        assert_eq!(SettingKey::Printer.default_value(), None);
    }

    /// The desk app's language is a core setting: Danish or English, by code, nothing else.
    #[test]
    fn the_ui_language_is_da_or_en() {
        assert_eq!(validate(SettingKey::UiLanguage, " en ", Lang::Da).unwrap(), "en");
        assert_eq!(validate(SettingKey::UiLanguage, "da", Lang::Da).unwrap(), "da");
        for bad in ["", "de", "english"] {
            let e = validate(SettingKey::UiLanguage, bad, Lang::En).unwrap_err();
            assert_eq!((e.field.as_str(), e.code.as_str()), ("ui_language", "language_invalid"), "{bad}");
            assert!(!e.message.starts_with("settings."), "{}", e.message);
        }
    }

    /// A form with one bad value stores none of its values; a good form
    /// stores the changed ones, each audited by key only.
    #[test]
    fn a_settings_form_is_stored_whole_or_not_at_all() {
        use crate::desk::{self, DeskKind, DeskSetup};
        use crate::keystore::MemoryKeyStore;
        let dir = tempfile::tempdir().unwrap();
        let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap();
        let setup = DeskSetup {
            kind: DeskKind::Training,
            municipality: "101",
            office: "Borgerservice",
            desk_number: 1,
            admin_name: "Ada",
            admin_password: "a long enough password",
        };
        let mut store = desk::init(dir.path(), Box::new(MemoryKeyStore::new()), &setup, now, Lang::En).unwrap();
        let admin = store.sign_in("Ada", "a long enough password", now).unwrap();
        let audits = |store: &Store| -> i64 {
            store
                .connection()
                .query_row("SELECT count(*) FROM audit WHERE action = 'desk.setting_changed'", [], |r| r.get(0))
                .unwrap()
        };
        let before = audits(&store);
        let bad = [(SettingKey::UiLanguage, "en"), (SettingKey::IdleLockMinutes, "0"), (SettingKey::PrivacyDpo, "")];
        let Err(StaffError::Invalid(errors)) = store.change_settings(&admin, &bad, now, Lang::En) else {
            panic!("stored")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["idle_lock_minutes", "privacy_dpo"]);
        assert_eq!(store.ui_language().unwrap(), Lang::Da, "nothing stored");
        let good = [(SettingKey::UiLanguage, "en"), (SettingKey::IdleLockMinutes, "5")];
        let all = store.change_settings(&admin, &good, now, Lang::En).unwrap();
        assert_eq!(store.ui_language().unwrap(), Lang::En);
        assert!(all.iter().any(|v| v.key == "ui_language" && v.value.as_deref() == Some("en") && !v.default));
        // The idle lock was already 5 (the default, unstored): stored now, so two changes.
        assert_eq!(audits(&store), before + 2);
    }

    /// The municipality's settings from a sync answer: in force over the
    /// desk's own, applied in one act audited once, a repeat changes and
    /// audits nothing, a value the desk cannot print (or a key it does not
    /// know) is refused and the key keeps what it had, a removed key is the
    /// desk's own again, and a desk admin cannot change what the
    /// municipality set (saving the same value again is no change).
    #[test]
    fn the_municipalitys_settings_win_over_the_desks_and_only_it_changes_them() {
        use std::collections::BTreeMap;

        use crate::desk::{self, DeskKind, DeskSetup};
        use crate::keystore::MemoryKeyStore;
        let dir = tempfile::tempdir().unwrap();
        let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap();
        let setup = DeskSetup {
            kind: DeskKind::Training,
            municipality: "751",
            office: "Borgerservice",
            desk_number: 1,
            admin_name: "Ada",
            admin_password: "a long enough password",
        };
        let mut store = desk::init(dir.path(), Box::new(MemoryKeyStore::new()), &setup, now, Lang::En).unwrap();
        let admin = store.sign_in("Ada", "a long enough password", now).unwrap();
        store.change_setting(&admin, SettingKey::PrivacyDpo, "desk-dpo@example.dk", now, Lang::En).unwrap();
        let audits = |store: &Store| -> i64 {
            store
                .connection()
                .query_row("SELECT count(*) FROM audit WHERE action = 'desk.municipality_settings'", [], |r| r.get(0))
                .unwrap()
        };
        let source = |store: &Store, key: SettingKey| store.setting_value(key).unwrap();

        let mut sent: BTreeMap<String, String> = [
            ("privacy_dpo", "dpo@aarhus.dk"),
            ("privacy_controller", "Aarhus Kommune"),
            ("idle_lock_minutes", "9999"),
            ("colour", "red"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let applied = store.apply_municipality_settings(&sent, now).unwrap();
        assert_eq!(applied.changed, ["privacy_controller", "privacy_dpo"]);
        assert_eq!(applied.refused, ["colour", "idle_lock_minutes"]);
        assert_eq!(audits(&store), 1);
        let dpo = source(&store, SettingKey::PrivacyDpo);
        assert_eq!((dpo.value.as_deref(), dpo.source), (Some("dpo@aarhus.dk"), SettingSource::Municipality));
        assert_eq!(store.handout_settings().unwrap().privacy.dpo, "dpo@aarhus.dk");
        assert_eq!(source(&store, SettingKey::IdleLockMinutes).source, SettingSource::Default);

        // The same answer again: nothing changes, nothing is audited.
        assert!(store.apply_municipality_settings(&sent, now).unwrap().changed.is_empty());
        assert_eq!(audits(&store), 1);

        // The desk admin may not change it, but may save the form unchanged.
        let Err(StaffError::Invalid(errors)) =
            store.change_setting(&admin, SettingKey::PrivacyDpo, "mine@example.dk", now, Lang::En)
        else {
            panic!("changed")
        };
        assert_eq!((errors[0].field.as_str(), errors[0].code.as_str()), ("privacy_dpo", "set_by_municipality"));
        store.change_settings(&admin, &[(SettingKey::PrivacyDpo, "dpo@aarhus.dk")], now, Lang::En).unwrap();

        // Removed at the registry: the desk's own value is in force again.
        sent.remove("privacy_dpo");
        let applied = store.apply_municipality_settings(&sent, now).unwrap();
        assert_eq!(applied.removed, ["privacy_dpo"]);
        let dpo = source(&store, SettingKey::PrivacyDpo);
        assert_eq!((dpo.value.as_deref(), dpo.source), (Some("desk-dpo@example.dk"), SettingSource::Desk));
        assert_eq!(audits(&store), 2);
    }

    #[test]
    fn idle_lock_minutes_must_be_a_whole_number_from_1_to_240() {
        assert_eq!(validate(SettingKey::IdleLockMinutes, " 1 ", Lang::En).unwrap(), "1");
        assert_eq!(validate(SettingKey::IdleLockMinutes, "240", Lang::En).unwrap(), "240");
        for bad in ["0", "241", "-5", "2.5", "five", ""] {
            let e = validate(SettingKey::IdleLockMinutes, bad, Lang::Da).unwrap_err();
            assert_eq!((e.field.as_str(), e.code.as_str()), ("idle_lock_minutes", "idle_invalid"), "{bad}");
            assert!(e.message.contains("240"), "{}", e.message);
        }
    }
}
