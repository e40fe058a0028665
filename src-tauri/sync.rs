//! Sync as the shell runs it: "sync now" and the background thread call the
//! same `run`, on the sync's own store connection (`Shell::sync_store`), so
//! the clerk's acts never wait for the network. Every outcome updates what the
//! header shows: online, offline, syncing.

use std::time::Duration;

use chrono::Utc;
use skranke_core::keystore::OsKeyStore;
use skranke_core::store::Store;
use skranke_core::sync::{self, SyncError, SyncReport};
use skranke_core::Error;
use tauri::{AppHandle, Manager};

use crate::state::Shell;

/// How often an enrolled desk syncs by itself.
pub const BACKGROUND_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The first background sync after start: soon, so the header knows whether
/// the registry answers, but after the window is up.
pub const FIRST_SYNC_DELAY: Duration = Duration::from_secs(15);

/// Overrides both intervals in seconds; `0` turns the background sync off
/// (the end-to-end test presses "sync now" itself and wants no surprise run).
pub const INTERVAL_ENV: &str = "SKRANKE_SYNC_INTERVAL_SECS";

/// Whether an answer (or its absence) says the registry is reachable:
/// `Some(false)` only when nothing came back; a refusal is an answer.
pub fn reachability(result: &Result<impl Sized, Error>) -> Option<bool> {
    match result {
        Ok(_) => Some(true),
        Err(Error::Sync(SyncError::Unreachable { .. })) => Some(false),
        Err(Error::Sync(SyncError::Refused { .. } | SyncError::BadAnswer { .. })) => Some(true),
        Err(_) => None,
    }
}

/// Notes in the shell what an exchange with the registry showed.
pub fn note_reachability(shell: &Shell, result: &Result<impl Sized, Error>) {
    if let Some(online) = reachability(result) {
        shell.update_link(|l| l.online = Some(online));
    }
}

/// How `run` treats a sync that is already under way.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum IfBusy {
    /// Wait for it, then run (the clerk pressed "sync now").
    Wait,
    /// Leave it (the background thread comes back later).
    Skip,
}

/// One sync run as the desk. `None` when skipped because one was running.
pub fn run(shell: &Shell, if_busy: IfBusy) -> Option<Result<SyncReport, Error>> {
    let mut slot = match if_busy {
        IfBusy::Wait => shell.sync_store.lock().unwrap_or_else(|p| p.into_inner()),
        IfBusy::Skip => match shell.sync_store.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        },
    };
    if slot.is_none() {
        match Store::open(&shell.data_dir, Box::new(OsKeyStore), Utc::now()) {
            Ok(store) => *slot = Some(store),
            Err(e) => return Some(Err(e.into())),
        }
    }
    let store = slot.as_mut()?;
    if store.is_training() {
        return Some(Err(SyncError::Training.into()));
    }
    shell.update_link(|l| l.syncing = true);
    let result = sync::client_for(store).and_then(|client| sync::run(store, &client));
    let lang = shell.lang();
    shell.update_link(|l| {
        l.syncing = false;
        match &result {
            Ok(report) => {
                l.last_report = Some(report.clone());
                l.last_error = None;
            }
            Err(e) => l.last_error = Some(e.message(lang)),
        }
    });
    note_reachability(shell, &result);
    Some(result)
}

fn intervals() -> Option<(Duration, Duration)> {
    match std::env::var(INTERVAL_ENV).ok().and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(0) => None,
        Some(secs) => Some((Duration::from_secs(secs), Duration::from_secs(secs))),
        None => Some((FIRST_SYNC_DELAY, BACKGROUND_INTERVAL)),
    }
}

/// Whether the desk on this machine is one that syncs: it exists and is not
/// a training desk. Asks the clerk's store (opening it if need be), briefly.
fn desk_syncs(shell: &Shell) -> bool {
    shell.with_inner(|inner, _| Ok(inner.store.as_ref().is_some_and(|s| !s.is_training()))).unwrap_or(false)
}

/// Starts the background sync: every few minutes while the desk is
/// enrolled; a training desk never syncs (checked each round, since first
/// start may create either kind while the thread sleeps).
pub fn start_background(app: AppHandle) {
    let Some((first, every)) = intervals() else { return };
    let spawned = std::thread::Builder::new().name("skranke-sync".into()).spawn(move || {
        std::thread::sleep(first);
        loop {
            let shell = app.state::<Shell>();
            if desk_syncs(&shell) {
                // The outcome is in the shell's link state; the window reads it.
                let _ = run(&shell, IfBusy::Skip);
            }
            std::thread::sleep(every);
        }
    });
    if let Err(e) = spawned {
        eprintln!("skranke-desk: background sync not started: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_answer_means_offline_and_a_refusal_still_means_online() {
        let ok: Result<(), Error> = Ok(());
        assert_eq!(reachability(&ok), Some(true));
        let gone: Result<(), Error> = Err(SyncError::Unreachable { detail: "x".into() }.into());
        assert_eq!(reachability(&gone), Some(false));
        let refused: Result<(), Error> =
            Err(SyncError::Refused { status: 403, code: "auth".into(), detail: None }.into());
        assert_eq!(reachability(&refused), Some(true));
        let local: Result<(), Error> = Err(SyncError::Training.into());
        assert_eq!(reachability(&local), None);
    }
}
