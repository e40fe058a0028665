//! Desk settings (admin): printer, password lapse days, the municipality's
//! privacy-notice details, the default UI language and the idle lock. They
//! live in the desk's store; each change is audited by the core.
//!
//! Setting keys (shared with `skranke settings`): `printer`,
//! `password_lapse_days`, `privacy_controller`, `privacy_contact`,
//! `privacy_dpo`, `ui_language`, `idle_lock_minutes`.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use skranke_core::i18n::{render, Lang};
use skranke_core::settings::SettingKey;
use skranke_core::staff::Role;
use skranke_core::store::Store;
use skranke_core::FieldError;
use tauri::State;

use crate::error::{UiError, UiResult};
use crate::state::Shell;

pub const IDLE_DEFAULT: u32 = skranke_core::settings::IDLE_LOCK_DEFAULT;
pub const LAPSE_DEFAULT: u32 = 14;

/// The settings as the window edits them (`SettingsView`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SettingsView {
    pub printer: String,
    pub printers: Vec<String>,
    pub password_lapse_days: u32,
    pub privacy_controller: String,
    pub privacy_contact: String,
    pub privacy_dpo: String,
    pub ui_language: &'static str,
    pub idle_lock_minutes: u32,
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
    pub ui_language: String,
    pub idle_lock_minutes: Option<i64>,
}

/// The settings in force, defaults for those never set.
pub struct Prefs {
    pub lang: Lang,
    pub idle_lock_minutes: u32,
    pub printer: String,
    pub lapse_days: u32,
    pub privacy_controller: String,
    pub privacy_contact: String,
    pub privacy_dpo: String,
}

pub fn read(store: &Store) -> Prefs {
    let get = |k: &str| store.setting(k).ok().flatten().unwrap_or_default();
    Prefs {
        lang: Lang::from_code(&get("ui_language")).unwrap_or_default(),
        idle_lock_minutes: store.idle_lock_minutes().unwrap_or(IDLE_DEFAULT),
        printer: get("printer"),
        lapse_days: get("password_lapse_days").parse().unwrap_or(LAPSE_DEFAULT),
        privacy_controller: get("privacy_controller"),
        privacy_contact: get("privacy_contact"),
        privacy_dpo: get("privacy_dpo"),
    }
}

/// The machine's print queues (CUPS `lpstat -e`); none when it cannot tell.
fn printers() -> Vec<String> {
    std::process::Command::new("lpstat")
        .arg("-e")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn view(p: Prefs) -> SettingsView {
    SettingsView {
        printer: p.printer,
        printers: printers(),
        password_lapse_days: p.lapse_days,
        privacy_controller: p.privacy_controller,
        privacy_contact: p.privacy_contact,
        privacy_dpo: p.privacy_dpo,
        ui_language: p.lang.code(),
        idle_lock_minutes: p.idle_lock_minutes,
    }
}

/// Checks the form; every problem names its field. The handout's settings
/// and the idle lock are the core's (`core::settings`); the window's own
/// language is checked here.
pub fn validate(input: &SettingsInput, lang: Lang) -> Result<Vec<(&'static str, String)>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    let lapse = input.password_lapse_days.map(|d| d.to_string()).unwrap_or_default();
    let idle = input.idle_lock_minutes.map(|m| m.to_string()).unwrap_or_default();
    for (key, value) in [
        (SettingKey::Printer, input.printer.as_str()),
        (SettingKey::PasswordLapseDays, lapse.as_str()),
        (SettingKey::PrivacyController, input.privacy_controller.as_str()),
        (SettingKey::PrivacyContact, input.privacy_contact.as_str()),
        (SettingKey::PrivacyDpo, input.privacy_dpo.as_str()),
        (SettingKey::IdleLockMinutes, idle.as_str()),
    ] {
        match skranke_core::settings::validate(key, value, lang) {
            Ok(v) => out.push((key.code(), v)),
            Err(e) => errors.push(e),
        }
    }
    match Lang::from_code(&input.ui_language) {
        Some(l) => out.push(("ui_language", l.code().to_string())),
        None => errors.push(FieldError {
            field: "ui_language".into(),
            code: "language".into(),
            message: render(lang, "shell.error.language", &[]),
        }),
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The settings in force (admin).
#[tauri::command]
pub async fn settings_get(shell: State<'_, Shell>) -> UiResult<SettingsView> {
    shell.with_session(|store, signed, lang| {
        if signed.session.role() < Role::Admin {
            // The core checks the role again on every change.
            return Err(UiError::core(
                lang,
                skranke_core::store::StoreError::Forbidden { action: "settings".into(), needed: Role::Admin }.into(),
            ));
        }
        Ok(view(read(store)))
    })
}

/// Saves every changed setting (admin; each change audited by the core).
#[tauri::command]
pub async fn settings_save(shell: State<'_, Shell>, settings: SettingsInput) -> UiResult<SettingsView> {
    let saved = shell.with_session(|store, signed, lang| {
        let values = validate(&settings, lang).map_err(UiError::fields)?;
        for (key, value) in values {
            if store.setting(key).ok().flatten().as_deref() != Some(value.as_str()) {
                store.set_setting(&signed.session, key, &value, Utc::now()).map_err(|e| UiError::core(lang, e))?;
            }
        }
        Ok(view(read(store)))
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
            ui_language: "en".into(),
            idle_lock_minutes: Some(5),
        }
    }

    #[test]
    fn valid_settings_become_the_stores_key_value_pairs() {
        let v = validate(&input(), Lang::En).unwrap();
        assert!(v.contains(&("password_lapse_days", "14".to_string())));
        assert!(v.contains(&("ui_language", "en".to_string())));
    }

    #[test]
    fn a_missing_or_out_of_range_number_is_refused_by_field() {
        let mut i = input();
        i.password_lapse_days = None;
        i.idle_lock_minutes = Some(0);
        let e = validate(&i, Lang::En).unwrap_err();
        let fields: Vec<_> = e.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"password_lapse_days") && fields.contains(&"idle_lock_minutes"), "{fields:?}");
    }

    #[test]
    fn control_characters_in_a_text_setting_are_refused() {
        let mut i = input();
        i.privacy_contact = "a\u{0}b".into();
        let e = validate(&i, Lang::Da).unwrap_err();
        assert!(e.iter().any(|f| f.field == "privacy_contact"), "{e:?}");
    }
}
