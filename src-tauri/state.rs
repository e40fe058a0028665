//! The shell's state: the desk's folder, its open store, who is signed in,
//! and the language of messages. One mutex guards the store and the session:
//! the desk does one act at a time, as the store itself requires.

use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;
use skranke_core::i18n::Lang;
use skranke_core::keystore::OsKeyStore;
use skranke_core::staff::Session;
use skranke_core::store::{Store, StoreError};
use skranke_core::sync::SyncReport;
use skranke_core::Error;

use crate::error::{UiError, UiResult};

/// A signed-in staff member as the window shows them (`StaffView`).
#[derive(Debug, Clone, Serialize)]
pub struct StaffView {
    pub staff_id: i64,
    pub name: String,
    pub role: &'static str,
    /// An admin reset the password: the window shows the change form first.
    pub must_change: bool,
}

pub struct Signed {
    pub session: Session,
    pub view: StaffView,
}

#[derive(Default)]
pub struct Inner {
    pub store: Option<Store>,
    pub signed: Option<Signed>,
}

/// What the shell remembers about the registry between commands: whether it
/// answered last time, whether a sync runs now, and the last run's outcome.
#[derive(Debug, Clone, Default)]
pub struct Link {
    /// `None` until something asked the registry since start.
    pub online: Option<bool>,
    pub syncing: bool,
    pub last_report: Option<SyncReport>,
    /// The last failed run's sentence (cleared by a good run).
    pub last_error: Option<String>,
}

pub struct Shell {
    lang: Mutex<Lang>,
    pub data_dir: PathBuf,
    pub inner: Mutex<Inner>,
    /// The sync's own connection to the desk's store: a sync waits on the
    /// network for minutes at worst, and must not hold `inner` (the clerk's
    /// acts) meanwhile. SQLite's `BEGIN IMMEDIATE` orders the two writers, as
    /// it does for `skranke sync` run beside the open app. Locked only by the
    /// sync, so it also keeps two runs from overlapping.
    pub sync_store: Mutex<Option<Store>>,
    link: Mutex<Link>,
}

impl Shell {
    /// The desk's folder: `SKRANKE_DATA_DIR`, else the core's machine-wide default.
    pub fn new() -> Shell {
        let data_dir = std::env::var_os("SKRANKE_DATA_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(skranke_core::desk::default_data_dir);
        Shell {
            lang: Mutex::new(Lang::default()),
            data_dir,
            inner: Mutex::new(Inner::default()),
            sync_store: Mutex::new(None),
            link: Mutex::new(Link::default()),
        }
    }

    pub fn link(&self) -> Link {
        self.link.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn update_link(&self, f: impl FnOnce(&mut Link)) {
        if let Ok(mut l) = self.link.lock() {
            f(&mut l);
        }
    }

    pub fn lang(&self) -> Lang {
        self.lang.lock().map(|l| *l).unwrap_or_default()
    }

    pub fn set_lang(&self, lang: Lang) {
        if let Ok(mut slot) = self.lang.lock() {
            *slot = lang;
        }
    }

    fn lock(&self) -> UiResult<std::sync::MutexGuard<'_, Inner>> {
        // A poisoned lock means an earlier command panicked mid-act; the store's
        // transactions make that safe to continue from.
        Ok(self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Runs `f` with the state, opening the desk's store on first use.
    /// `Ok(None)` from the opener means this machine has no desk yet.
    pub fn with_inner<T>(&self, f: impl FnOnce(&mut Inner, Lang) -> UiResult<T>) -> UiResult<T> {
        let lang = self.lang();
        let mut inner = self.lock()?;
        if inner.store.is_none() {
            match Store::open(&self.data_dir, Box::new(OsKeyStore), chrono::Utc::now()) {
                Ok(store) => inner.store = Some(store),
                Err(StoreError::NoDesk { .. }) => {}
                Err(e) => return Err(UiError::core(lang, Error::Store(e))),
            }
        }
        f(&mut inner, lang)
    }

    /// Runs `f` with the open store; refuses when there is no desk.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store, Lang) -> UiResult<T>) -> UiResult<T> {
        self.with_inner(|inner, lang| match inner.store.as_mut() {
            Some(store) => f(store, lang),
            None => Err(UiError::text(lang, "shell.error.no_desk", &[])),
        })
    }

    /// Runs `f` with the store and the signed-in staff member.
    pub fn with_session<T>(&self, f: impl FnOnce(&mut Store, &Signed, Lang) -> UiResult<T>) -> UiResult<T> {
        self.with_session_mut(|store, signed, lang| f(store, signed, lang))
    }

    /// Runs `f` with the store and the signed-in staff member, who may change.
    /// First the core's idle lock: a session idle longer than the desk's
    /// `idle_lock_minutes` is dropped here and the window gets the code
    /// `locked`; any other session is marked active now.
    pub fn with_session_mut<T>(&self, f: impl FnOnce(&mut Store, &mut Signed, Lang) -> UiResult<T>) -> UiResult<T> {
        self.with_inner(|inner, lang| {
            let Inner { store, signed } = inner;
            let store = store.as_mut().ok_or_else(|| UiError::text(lang, "shell.error.no_desk", &[]))?;
            let current = signed.as_mut().ok_or_else(|| UiError::text(lang, "shell.error.not_signed_in", &[]))?;
            if let Err(e) = store.check_idle(&mut current.session, chrono::Utc::now()) {
                *signed = None;
                return Err(UiError::core(lang, e));
            }
            f(store, current, lang)
        })
    }
}
