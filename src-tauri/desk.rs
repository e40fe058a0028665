//! The desk and its staff: what the window needs at start, first start
//! (training desk, or enrolment), sign-in and sign-out.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use skranke_core::desk::{DeskInfo, DeskKind, DeskSetup};
use skranke_core::i18n::Lang;
use skranke_core::keystore::OsKeyStore;
use skranke_core::municipality;
use skranke_core::store::Store;
use skranke_core::sync::{self, Enrolment, SyncError};
use skranke_core::Error;
use tauri::{AppHandle, Manager, State};

use crate::error::{UiError, UiResult};
use crate::settings;
use crate::state::{Shell, Signed, StaffView};

/// The desk as the window shows it (`DeskView`).
#[derive(Debug, Serialize)]
pub struct DeskView {
    pub desk_id: String,
    pub municipality: String,
    pub municipality_name: Option<&'static str>,
    pub office: String,
    pub desk_number: u32,
    pub training: bool,
    pub lease_frozen: bool,
    pub frozen_reason: Option<String>,
}

impl From<DeskInfo> for DeskView {
    fn from(d: DeskInfo) -> DeskView {
        let name = d.municipality.parse::<u16>().ok().and_then(municipality::lookup).map(|m| m.name);
        DeskView {
            municipality_name: name,
            desk_id: d.desk_id,
            municipality: d.municipality,
            office: d.office,
            desk_number: d.desk_number,
            training: d.training,
            lease_frozen: d.lease_frozen,
            frozen_reason: d.frozen_reason,
        }
    }
}

/// What the window needs at start (`Startup`).
#[derive(Debug, Serialize)]
pub struct Startup {
    pub desk: Option<DeskView>,
    pub session: Option<StaffView>,
    pub lang: &'static str,
    pub idle_lock_minutes: u32,
}

/// The first-start form (`DeskInitRequest`).
#[derive(Debug, Deserialize)]
pub struct DeskInitRequest {
    /// `training` or `enrol`.
    pub mode: String,
    #[serde(default)]
    pub registry_url: String,
    #[serde(default)]
    pub enrolment_code: String,
    /// A training desk's place; an enrolled desk's comes with the code.
    #[serde(default)]
    pub municipality: String,
    #[serde(default)]
    pub office: String,
    #[serde(default)]
    pub desk_number: String,
    pub admin_name: String,
    pub admin_password: String,
}

/// The desk's state: its identity (none before first start), who is signed
/// in, the default language and the idle lock.
#[tauri::command]
pub async fn desk_status(shell: State<'_, Shell>) -> UiResult<Startup> {
    let startup = shell.with_inner(|inner, _| {
        let Some(store) = inner.store.as_mut() else {
            return Ok(Startup { desk: None, session: None, lang: "da", idle_lock_minutes: settings::IDLE_DEFAULT });
        };
        let prefs = settings::read(store);
        let desk = store.desk_info().map_err(|e| UiError::core(prefs.lang, e))?;
        // A reloaded window does not revive a session the idle lock has ended
        // (asking is not activity, so the session is not touched).
        if inner.signed.as_ref().is_some_and(|s| {
            skranke_core::staff::idle_expired(s.session.last_activity(), Utc::now(), prefs.idle_lock_minutes)
        }) {
            inner.signed = None;
        }
        Ok(Startup {
            desk: Some(desk.into()),
            session: inner.signed.as_ref().map(|s| s.view.clone()),
            lang: prefs.lang.code(),
            idle_lock_minutes: prefs.idle_lock_minutes,
        })
    })?;
    if let Some(lang) = skranke_core::i18n::Lang::from_code(startup.lang) {
        shell.set_lang(lang);
    }
    Ok(startup)
}

/// The core names the desk number `desk` and the admin's fields `admin.*`;
/// the form calls them as the window's inputs do.
fn form_field(core: &str) -> String {
    match core {
        "desk" => "desk_number".into(),
        "admin.name" => "admin_name".into(),
        "admin.password" => "admin_password".into(),
        other => other.into(),
    }
}

/// The core's error with its field names as the form calls them.
fn form_error(lang: Lang, e: Error) -> UiError {
    let mut ui = UiError::core(lang, e);
    for f in &mut ui.fields {
        f.field = form_field(&f.field);
    }
    ui
}

/// What went wrong talking to the registry during enrolment, as a sentence
/// next to the field the clerk can fix: the address, or the code.
pub fn enrol_error(lang: Lang, url: &str, e: Error) -> UiError {
    let on = |field: &str, code: &str, key: &str, args: &[(&str, &str)]| UiError::field(lang, field, code, key, args);
    match e {
        Error::Sync(SyncError::BadUrl { .. }) => on("registry_url", "bad_url", "shell.enrol.bad_url", &[("url", url)]),
        Error::Sync(SyncError::InsecureUrl { .. }) => {
            on("registry_url", "insecure_url", "shell.enrol.insecure_url", &[("url", url)])
        }
        Error::Sync(SyncError::Unreachable { .. }) => {
            on("registry_url", "unreachable", "shell.enrol.unreachable", &[("url", url)])
        }
        Error::Sync(SyncError::BadAnswer { .. }) => {
            on("registry_url", "bad_answer", "shell.enrol.bad_answer", &[("url", url)])
        }
        Error::Sync(SyncError::Refused { code, .. }) if code == "enrol.code" || code == "enrol.key_in_use" => {
            on("enrolment_code", "code", "shell.enrol.code", &[])
        }
        Error::Sync(SyncError::Refused { code, .. }) if code == "enrol.rate_limited" => {
            on("enrolment_code", "rate_limited", "shell.enrol.rate_limited", &[])
        }
        Error::Sync(SyncError::EnrolmentCodeFormat) => {
            on("enrolment_code", "code_format", "shell.enrol.code_format", &[])
        }
        // The registry shows a key other than the one the code names: another
        // service at this address, or someone between the two.
        Error::Sync(SyncError::RegistryKeyMismatch { .. }) => {
            on("registry_url", "registry_key", "shell.enrol.registry_key", &[("url", url)])
        }
        Error::Sync(SyncError::AnswerUnsigned | SyncError::AnswerForged) => {
            on("registry_url", "unsigned", "shell.enrol.unsigned", &[("url", url)])
        }
        Error::Sync(SyncError::Refused { status: 404, .. }) => {
            on("registry_url", "not_registry", "shell.enrol.not_registry", &[("url", url)])
        }
        other => form_error(lang, other),
    }
}

/// Enrols this machine's desk with the registry: the municipality, office
/// and desk number come with the code, the first admin from the form.
fn enrol(shell: &Shell, request: &DeskInitRequest, lang: Lang) -> UiResult<Store> {
    let url = request.registry_url.trim();
    let code = request.enrolment_code.trim();
    let mut missing = Vec::new();
    if url.is_empty() {
        missing.extend(UiError::field(lang, "registry_url", "required", "shell.enrol.url_missing", &[]).fields);
    }
    if code.is_empty() {
        missing.extend(UiError::field(lang, "enrolment_code", "required", "shell.enrol.code_missing", &[]).fields);
    }
    if !missing.is_empty() {
        return Err(UiError::fields(missing));
    }
    let enrolment = Enrolment {
        registry_url: url,
        enrolment_code: code,
        admin_name: &request.admin_name,
        admin_password: &request.admin_password,
    };
    let (store, _) = sync::enrol(&shell.data_dir, Box::new(OsKeyStore), &enrolment, Utc::now(), lang)
        .map_err(|e| enrol_error(lang, url, e))?;
    shell.update_link(|l| l.online = Some(true));
    Ok(store)
}

/// A training desk: no registry, numbers marked with day + 60.
fn training(shell: &Shell, request: &DeskInitRequest, lang: Lang) -> UiResult<Store> {
    let desk_number = request
        .desk_number
        .trim()
        .parse::<u32>()
        .map_err(|_| UiError::field(lang, "desk_number", "desk_number_invalid", "shell.error.desk_number", &[]))?;
    let setup = DeskSetup {
        kind: DeskKind::Training,
        municipality: &request.municipality,
        office: &request.office,
        desk_number,
        admin_name: &request.admin_name,
        admin_password: &request.admin_password,
    };
    skranke_core::desk::init(&shell.data_dir, Box::new(OsKeyStore), &setup, Utc::now(), lang)
        .map_err(|e| form_error(lang, e))
}

/// Creates the desk on first start: a training desk, or one enrolled with
/// the registry (on a blocking thread: enrolment waits on the network).
#[tauri::command]
pub async fn desk_init(app: AppHandle, request: DeskInitRequest) -> UiResult<DeskView> {
    let worker = app.clone();
    let lang = app.state::<Shell>().lang();
    tauri::async_runtime::spawn_blocking(move || {
        let shell = worker.state::<Shell>();
        shell.with_inner(|inner, lang| {
            if inner.store.is_some() {
                return Err(UiError::text(lang, "shell.error.desk_exists", &[]));
            }
            let mut store = match request.mode.as_str() {
                "training" => training(&shell, &request, lang)?,
                "enrol" => enrol(&shell, &request, lang)?,
                _ => return Err(UiError::text(lang, "shell.error.desk_mode", &[])),
            };
            let info = store.desk_info().map_err(|e| UiError::core(lang, e))?;
            inner.store = Some(store);
            Ok(info.into())
        })
    })
    .await
    .map_err(|_| UiError::text(lang, "shell.error.desk_init_stopped", &[]))?
}

/// Signs a staff member in; a wrong name and a wrong password get the same sentence.
#[tauri::command]
pub async fn sign_in(shell: State<'_, Shell>, name: String, password: String) -> UiResult<StaffView> {
    shell.with_inner(|inner, lang| {
        let store = inner.store.as_mut().ok_or_else(|| UiError::text(lang, "shell.error.no_desk", &[]))?;
        let session = store.sign_in(&name, &password, Utc::now()).map_err(|e| UiError::core(lang, e))?;
        let view = StaffView {
            staff_id: session.staff_id(),
            name: name.trim().to_string(),
            role: session.role().code(),
            must_change: session.must_change(),
        };
        inner.signed = Some(Signed { session, view: view.clone() });
        Ok(view)
    })
}

/// The signed-in staff member changes their own password (the only act of
/// a session whose password an admin reset).
#[tauri::command]
pub async fn change_password(shell: State<'_, Shell>, current: String, new_password: String) -> UiResult<StaffView> {
    shell.with_session_mut(|store, signed, lang| {
        store.change_password(&mut signed.session, &current, &new_password, Utc::now(), lang).map_err(|e| {
            let mut ui = UiError::core(lang, e);
            for f in &mut ui.fields {
                if f.field == "old_password" {
                    f.field = "current_password".into();
                }
            }
            ui
        })?;
        signed.view.must_change = signed.session.must_change();
        Ok(signed.view.clone())
    })
}

/// Signs out (the Lock button and the idle lock).
#[tauri::command]
pub async fn sign_out(shell: State<'_, Shell>) -> UiResult<()> {
    shell.with_inner(|inner, _| {
        inner.signed = None;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cores_field_names_map_to_the_forms_inputs() {
        assert_eq!(form_field("desk"), "desk_number");
        assert_eq!(form_field("admin.password"), "admin_password");
        assert_eq!(form_field("municipality"), "municipality");
    }

    #[test]
    fn each_enrolment_failure_lands_on_the_field_the_clerk_can_fix() {
        let url = "https://registry.example";
        let cases: Vec<(Error, &str)> = vec![
            (SyncError::BadUrl { url: url.into() }.into(), "registry_url"),
            (SyncError::InsecureUrl { url: url.into() }.into(), "registry_url"),
            (SyncError::Unreachable { detail: "refused".into() }.into(), "registry_url"),
            (SyncError::Refused { status: 404, code: "not_found".into(), detail: None }.into(), "registry_url"),
            (SyncError::Refused { status: 403, code: "enrol.code".into(), detail: None }.into(), "enrolment_code"),
            (
                SyncError::Refused { status: 429, code: "enrol.rate_limited".into(), detail: None }.into(),
                "enrolment_code",
            ),
        ];
        for (e, field) in cases {
            let ui = enrol_error(Lang::En, url, e);
            assert_eq!(ui.fields.len(), 1, "{ui:?}");
            assert_eq!(ui.fields[0].field, field, "{ui:?}");
            assert!(!ui.message.starts_with("shell."), "{}", ui.message);
        }
    }

    #[test]
    fn an_unreachable_registry_is_named_by_its_address() {
        let ui =
            enrol_error(Lang::En, "https://reg.example:8443", SyncError::Unreachable { detail: "x".into() }.into());
        assert!(ui.message.contains("https://reg.example:8443"), "{}", ui.message);
    }
}
