//! Desk settings (admin): printer, password lapse days, the municipality's
//! privacy-notice details, the handout languages, the default UI language
//! and the idle lock. They are the core's (`core::settings`): it checks the
//! role, every value and the defaults, refuses a change to a value the
//! municipality set at the registry, and audits each change; this module
//! maps the form and says which values the municipality set.
//!
//! Setting keys (shared with `skranke settings`): `printer`,
//! `password_lapse_days`, `privacy_controller`, `privacy_contact`,
//! `privacy_dpo`, `privacy_retention`, `handout_languages`, `ui_language`,
//! `idle_lock_minutes`.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use skranke_core::i18n::Lang;
use skranke_core::settings::{SettingKey, SettingSource, SettingValue};
use skranke_core::store::Store;
use tauri::State;

use crate::error::{UiError, UiResult};
use crate::state::Shell;

/// The idle lock before a desk exists (the core's default).
pub const IDLE_DEFAULT: u32 = skranke_core::settings::IDLE_LOCK_DEFAULT;

/// The settings as the window edits them (`SettingsView`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SettingsView {
    pub printer: String,
    pub printers: Vec<String>,
    pub password_lapse_days: u32,
    pub privacy_controller: String,
    pub privacy_contact: String,
    pub privacy_dpo: String,
    pub privacy_retention: String,
    pub handout_languages: String,
    pub ui_language: &'static str,
    pub idle_lock_minutes: u32,
    /// The keys whose value in force the municipality set at the registry:
    /// shown as such and not editable here.
    pub municipal: Vec<&'static str>,
}

/// What the window sends: numbers may be missing (a field with letters
/// arrives as null) and are then refused by name.
#[derive(Debug, Deserialize)]
pub struct SettingsInput {
    #[serde(default)]
    pub printer: String,
    pub password_lapse_days: Option<i64>,
    #[serde(default)]
    pub privacy_controller: String,
    #[serde(default)]
    pub privacy_contact: String,
    #[serde(default)]
    pub privacy_dpo: String,
    #[serde(default)]
    pub privacy_retention: String,
    #[serde(default)]
    pub handout_languages: String,
    #[serde(default)]
    pub ui_language: String,
    pub idle_lock_minutes: Option<i64>,
}

/// What the window needs before anyone signs in (desk-level, the core's
/// defaults for what was never set).
pub struct Prefs {
    pub lang: Lang,
    pub idle_lock_minutes: u32,
}

pub fn read(store: &Store) -> Prefs {
    Prefs {
        lang: store.ui_language().unwrap_or_default(),
        idle_lock_minutes: store.idle_lock_minutes().unwrap_or(IDLE_DEFAULT),
    }
}

/// The machine's printers, as the core lists them (CUPS destinations;
/// Windows' printers and printer connections); none when it cannot tell,
/// and then choosing a new one is refused with the reason.
fn printers() -> Vec<String> {
    skranke_core::print::printers().unwrap_or_default()
}

/// The view of the settings in force, as the core reports them (its
/// defaults for what was never set).
fn view(all: &[SettingValue]) -> SettingsView {
    let get = |k: SettingKey| all.iter().find(|v| v.key == k.code()).and_then(|v| v.value.clone()).unwrap_or_default();
    let number = |k: SettingKey| get(k).parse().unwrap_or_default();
    SettingsView {
        printer: get(SettingKey::Printer),
        printers: printers(),
        password_lapse_days: number(SettingKey::PasswordLapseDays),
        privacy_controller: get(SettingKey::PrivacyController),
        privacy_contact: get(SettingKey::PrivacyContact),
        privacy_dpo: get(SettingKey::PrivacyDpo),
        privacy_retention: get(SettingKey::PrivacyRetention),
        handout_languages: get(SettingKey::HandoutLanguages),
        ui_language: Lang::from_code(&get(SettingKey::UiLanguage)).unwrap_or_default().code(),
        idle_lock_minutes: number(SettingKey::IdleLockMinutes),
        municipal: all.iter().filter(|v| v.source == SettingSource::Municipality).map(|v| v.key).collect(),
    }
}

/// The form as the core's settings: each value as typed (a missing number
/// is empty, which the core refuses by name).
pub fn values(input: &SettingsInput) -> Vec<(SettingKey, String)> {
    let number = |n: Option<i64>| n.map(|d| d.to_string()).unwrap_or_default();
    vec![
        (SettingKey::Printer, input.printer.clone()),
        (SettingKey::PasswordLapseDays, number(input.password_lapse_days)),
        (SettingKey::PrivacyController, input.privacy_controller.clone()),
        (SettingKey::PrivacyContact, input.privacy_contact.clone()),
        (SettingKey::PrivacyDpo, input.privacy_dpo.clone()),
        (SettingKey::PrivacyRetention, input.privacy_retention.clone()),
        (SettingKey::HandoutLanguages, input.handout_languages.clone()),
        (SettingKey::UiLanguage, input.ui_language.clone()),
        (SettingKey::IdleLockMinutes, number(input.idle_lock_minutes)),
    ]
}

/// The settings in force (admin: the core checks the role).
#[tauri::command]
pub async fn settings_get(shell: State<'_, Shell>) -> UiResult<SettingsView> {
    shell.with_session(|store, signed, lang| {
        let all = store.settings(&signed.session).map_err(|e| UiError::core(lang, e))?;
        Ok(view(&all))
    })
}

/// Saves the form (admin): the core checks every value, refuses with every
/// problem naming its setting, and stores and audits the changed ones.
#[tauri::command]
pub async fn settings_save(shell: State<'_, Shell>, settings: SettingsInput) -> UiResult<SettingsView> {
    let saved = shell.with_session(|store, signed, lang| {
        let values = values(&settings);
        let values: Vec<(SettingKey, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let all =
            store.change_settings(&signed.session, &values, Utc::now(), lang).map_err(|e| UiError::core(lang, e))?;
        Ok(view(&all))
    })?;
    if let Some(l) = Lang::from_code(saved.ui_language) {
        shell.set_lang(l);
    }
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SettingsInput {
        SettingsInput {
            printer: "Skranke-PDF".into(),
            password_lapse_days: Some(14),
            privacy_controller: "Københavns Kommune".into(),
            privacy_contact: "kk@kk.dk".into(),
            privacy_dpo: "dpo@kk.dk".into(),
            privacy_retention: String::new(),
            handout_languages: "de,pl".into(),
            ui_language: "en".into(),
            idle_lock_minutes: Some(5),
        }
    }

    /// Every field of the form reaches the core under its setting's key.
    #[test]
    fn the_form_becomes_every_setting_of_the_core() {
        let v = values(&input());
        let keys: Vec<SettingKey> = v.iter().map(|(k, _)| *k).collect();
        for k in SettingKey::ALL {
            assert!(keys.contains(&k), "{k:?} missing");
        }
        assert!(v.contains(&(SettingKey::PasswordLapseDays, "14".to_string())));
        assert!(v.contains(&(SettingKey::UiLanguage, "en".to_string())));
        assert!(v.contains(&(SettingKey::HandoutLanguages, "de,pl".to_string())));
    }

    /// A number the window could not read arrives empty, so the core refuses it by name.
    #[test]
    fn a_missing_number_reaches_the_core_empty_and_is_refused_by_field() {
        let mut i = input();
        i.password_lapse_days = None;
        let v = values(&i);
        let (key, lapse) = v.iter().find(|(k, _)| *k == SettingKey::PasswordLapseDays).unwrap();
        let e = skranke_core::settings::validate(*key, lapse, Lang::En).unwrap_err();
        assert_eq!(e.field, "password_lapse_days");
    }

    /// The view shows the core's values in force, defaults included.
    #[test]
    fn the_view_shows_the_cores_values_and_defaults() {
        let all: Vec<SettingValue> = SettingKey::ALL
            .into_iter()
            .map(|k| SettingValue {
                key: k.code(),
                value: k.default_value(),
                default: true,
                source: skranke_core::settings::SettingSource::Default,
            })
            .collect();
        let v = view(&all);
        assert_eq!((v.password_lapse_days, v.idle_lock_minutes, v.ui_language), (14, 5, "da"));
        assert_eq!(v.printer, "");
        assert!(v.municipal.is_empty());
    }

    /// The values the municipality set are named as such, and only those.
    #[test]
    fn the_view_names_the_values_the_municipality_set() {
        let all: Vec<SettingValue> = SettingKey::ALL
            .into_iter()
            .map(|k| {
                let municipal = matches!(k, SettingKey::PrivacyDpo | SettingKey::HandoutLanguages);
                SettingValue {
                    key: k.code(),
                    value: Some(if municipal { "set".into() } else { k.default_value().unwrap_or_default() }),
                    default: false,
                    source: if municipal { SettingSource::Municipality } else { SettingSource::Desk },
                }
            })
            .collect();
        let v = view(&all);
        assert_eq!(v.municipal, vec!["privacy_dpo", "handout_languages"]);
        assert_eq!((v.privacy_dpo.as_str(), v.handout_languages.as_str()), ("set", "set"));
    }
}
