//! Desk settings (admin): printer, password lapse days, the municipality's
//! privacy-notice details, the default UI language and the idle lock. They
//! live in the desk's store; each change is audited by the core.
//!
//! Setting keys (shared with `skranke settings`): `printer`,
//! `password_lapse_days`, `privacy_controller`, `privacy_contact`,
//! `privacy_dpo`, `ui_language`, `idle_lock_minutes`.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use skranke_core::i18n::Lang;
use skranke_core::staff::Role;
use skranke_core::store::Store;
use skranke_core::FieldError;
use tauri::State;

use crate::error::{UiError, UiResult};
use crate::state::Shell;

pub const IDLE_DEFAULT: u32 = 5;
pub const LAPSE_DEFAULT: u32 = 14;
const TEXT_MAX: usize = 200;

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
        idle_lock_minutes: get("idle_lock_minutes").parse().unwrap_or(IDLE_DEFAULT),
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

/// Checks the form; every problem names its field.
pub fn validate(input: &SettingsInput, lang: Lang) -> Result<Vec<(&'static str, String)>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut range = |field: &'static str, value: Option<i64>, min: i64, max: i64| -> Option<String> {
        match value {
            Some(v) if (min..=max).contains(&v) => Some(v.to_string()),
            _ => {
                let (lo, hi) = (min.to_string(), max.to_string());
                errors.push(FieldError {
                    field: field.into(),
                    code: "range".into(),
                    message: skranke_core::i18n::render(lang, "shell.error.range", &[("min", &lo), ("max", &hi)]),
                });
                None
            }
        }
    };
    let lapse = range("password_lapse_days", input.password_lapse_days, 1, 365);
    let idle = range("idle_lock_minutes", input.idle_lock_minutes, 1, 60);
    let mut out = vec![];
    for (field, value) in [
        ("printer", &input.printer),
        ("privacy_controller", &input.privacy_controller),
        ("privacy_contact", &input.privacy_contact),
        ("privacy_dpo", &input.privacy_dpo),
    ] {
        let v = value.trim();
        if v.chars().count() > TEXT_MAX || v.chars().any(char::is_control) {
            let max = TEXT_MAX.to_string();
            errors.push(FieldError {
                field: field.into(),
                code: "text".into(),
                message: skranke_core::i18n::render(lang, "shell.error.text_long", &[("max", &max)]),
            });
        } else {
            out.push((field, v.to_string()));
        }
    }
    let ui = Lang::from_code(&input.ui_language);
    if ui.is_none() {
        errors.push(FieldError {
            field: "ui_language".into(),
            code: "language".into(),
            message: skranke_core::i18n::render(lang, "shell.error.language", &[]),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    out.push(("password_lapse_days", lapse.unwrap_or_default()));
    out.push(("idle_lock_minutes", idle.unwrap_or_default()));
    out.push(("ui_language", ui.map(|l| l.code().to_string()).unwrap_or_default()));
    Ok(out)
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
        assert_eq!(fields, ["password_lapse_days", "idle_lock_minutes"]);
    }

    #[test]
    fn control_characters_in_a_text_setting_are_refused() {
        let mut i = input();
        i.privacy_contact = "a\u{0}b".into();
        assert_eq!(validate(&i, Lang::Da).unwrap_err()[0].field, "privacy_contact");
    }
}
