//! The desk and its staff: what the window needs at start, first start
//! (training desk, or enrolment), sign-in and sign-out.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use skranke_core::desk::{DeskInfo, DeskKind, DeskSetup};
use skranke_core::keystore::OsKeyStore;
use skranke_core::municipality;
use skranke_core::store::Store;
use tauri::State;

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
    pub mode: String,
    // Read once enrolment through the registry's client (core::sync) is built in.
    #[serde(default)]
    #[allow(dead_code)]
    pub registry_url: String,
    #[serde(default)]
    #[allow(dead_code)]
    pub enrolment_code: String,
    pub municipality: String,
    pub office: String,
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

/// Creates the desk: a training desk here; enrolment goes through the
/// registry's client when it is built into this version.
#[tauri::command]
pub async fn desk_init(shell: State<'_, Shell>, request: DeskInitRequest) -> UiResult<DeskView> {
    shell.with_inner(|inner, lang| {
        if inner.store.is_some() {
            return Err(UiError::text(lang, "shell.error.desk_exists", &[]));
        }
        if request.mode != "training" {
            return Err(UiError::text(lang, "shell.error.registry_unsupported", &[]));
        }
        let desk_number =
            request.desk_number.trim().parse::<u32>().map_err(|_| {
                UiError::field(lang, "desk_number", "desk_number_invalid", "shell.error.desk_number", &[])
            })?;
        let setup = DeskSetup {
            kind: DeskKind::Training,
            municipality: &request.municipality,
            office: &request.office,
            desk_number,
            admin_name: &request.admin_name,
            admin_password: &request.admin_password,
        };
        let mut store: Store =
            skranke_core::desk::init(&shell.data_dir, Box::new(OsKeyStore), &setup, Utc::now(), lang).map_err(|e| {
                let mut ui = UiError::core(lang, e);
                for f in &mut ui.fields {
                    f.field = form_field(&f.field);
                }
                ui
            })?;
        let info = store.desk_info().map_err(|e| UiError::core(lang, e))?;
        inner.store = Some(store);
        Ok(info.into())
    })
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
}
