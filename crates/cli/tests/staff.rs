//! `skranke staff add|list|disable|reset|passwd` end to end through the real
//! binary, on the real OS key store (scripts/test.sh runs the tests inside a
//! Secret Service session).
#![cfg(target_os = "linux")]

mod common;

use std::path::Path;

use serde_json::Value;

use common::{at_desk, ok, refused};

const ADMIN_PW: &str = "tundra violin quarry 58";
const CLERK_PW: &str = "saffron glacier pillow 23";
const TEMP_PW: &str = "velvet harbour mosaic 7";
const CHOSEN_PW: &str = "copper meadow lantern 19";

fn admin() -> Vec<(&'static str, &'static str)> {
    vec![("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW)]
}

fn clerk(pw: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![("SKRANKE_STAFF", "Carl"), ("SKRANKE_STAFF_PASSWORD", pw)]
}

/// A training desk with the admin Ada and the clerk Carl; returns the desk ID.
fn desk_with_clerk(dir: &Path) -> String {
    let init = ["desk", "init", "--municipality", "101", "--office", "Borgerservice Nord", "--desk", "3"];
    let mut args = init.to_vec();
    args.extend(["--training", "--admin", "Ada"]);
    ok(&at_desk(dir, &args, &[("SKRANKE_STAFF_PASSWORD", ADMIN_PW)], b""));
    let mut env = admin();
    env.push(("SKRANKE_NEW_STAFF_PASSWORD", CLERK_PW));
    let out = ok(&at_desk(dir, &["staff", "add", "Carl", "--role", "clerk"], &env, b""));
    assert!(out.contains("Added Carl as clerk"), "{out}");
    let desk: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("desk.json")).unwrap()).unwrap();
    desk["desk_id"].as_str().unwrap().to_string()
}

fn listed(dir: &Path) -> Vec<Value> {
    let out = ok(&at_desk(dir, &["staff", "list", "--json"], &admin(), b""));
    serde_json::from_str::<Vec<Value>>(&out).unwrap()
}

fn carl(dir: &Path) -> Value {
    listed(dir).into_iter().find(|s| s["name"] == "Carl").unwrap()
}

fn forget(desk_id: &str) {
    skranke_core::desk::forget_keys(&skranke_core::keystore::OsKeyStore, desk_id).unwrap();
}

#[test]
fn staff_add_refuses_a_weak_password_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = desk_with_clerk(dir.path());
    let mut env = admin();
    env.push(("SKRANKE_NEW_STAFF_PASSWORD", "password1234"));
    let err = refused(&at_desk(dir.path(), &["staff", "add", "Dora", "--role", "clerk"], &env, b""));
    assert!(err.contains("password: This password is too easy to guess"), "{err}");
    let mut env = admin();
    env.push(("SKRANKE_NEW_STAFF_PASSWORD", "short"));
    let err = refused(&at_desk(dir.path(), &["staff", "add", "Dora", "--role", "clerk"], &env, b""));
    assert!(err.contains("password: ") && err.contains("12"), "{err}");
    assert_eq!(listed(dir.path()).len(), 2, "no account was added");
    forget(&desk_id);
}

#[test]
fn staff_list_shows_role_active_locked_until_and_must_change() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = desk_with_clerk(dir.path());
    let out = ok(&at_desk(dir.path(), &["staff", "list"], &admin(), b""));
    let row = out.lines().find(|l| l.contains("Carl")).unwrap().to_string();
    assert_eq!(row.split('\t').skip(2).collect::<Vec<_>>(), ["clerk", "active", "-", "-"], "{row}");
    for _ in 0..5 {
        refused(&at_desk(dir.path(), &["records", "list"], &clerk("wrong password for carl"), b""));
    }
    let out = ok(&at_desk(dir.path(), &["staff", "list"], &admin(), b""));
    let row = out.lines().find(|l| l.contains("Carl")).unwrap().to_string();
    assert!(row.contains("\tlocked until "), "{row}");
    let v = carl(dir.path());
    assert_eq!(
        (v["role"].as_str(), v["active"].as_bool(), v["must_change"].as_bool()),
        (Some("clerk"), Some(true), Some(false))
    );
    assert!(v["locked_until"].is_string(), "{v}");
    forget(&desk_id);
}

#[test]
fn a_locked_clerk_is_refused_with_the_right_password_and_told_when_it_unlocks() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = desk_with_clerk(dir.path());
    for i in 0..4 {
        let err = refused(&at_desk(dir.path(), &["records", "list"], &clerk("wrong password for carl"), b""));
        assert!(err.contains("wrong name or password"), "attempt {i}: {err}");
    }
    let err = refused(&at_desk(dir.path(), &["records", "list"], &clerk("wrong password for carl"), b""));
    assert!(err.contains("locked") && err.contains("unlocks at"), "{err}");
    let err = refused(&at_desk(dir.path(), &["records", "list"], &clerk(CLERK_PW), b""));
    assert!(err.contains("unlocks at"), "{err}");
    forget(&desk_id);
}

#[test]
fn staff_disable_stops_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = desk_with_clerk(dir.path());
    ok(&at_desk(dir.path(), &["records", "list"], &clerk(CLERK_PW), b""));
    let out = ok(&at_desk(dir.path(), &["staff", "disable", "Carl"], &admin(), b""));
    assert!(out.contains("Disabled Carl"), "{out}");
    assert_eq!(carl(dir.path())["active"], false);
    refused(&at_desk(dir.path(), &["records", "list"], &clerk(CLERK_PW), b""));
    forget(&desk_id);
}

#[test]
fn staff_reset_forces_a_change_and_passwd_makes_the_account_usable_again() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = desk_with_clerk(dir.path());
    // A clerk may not reset anyone.
    let mut env = clerk(CLERK_PW);
    env.push(("SKRANKE_NEW_PASSWORD", TEMP_PW));
    refused(&at_desk(dir.path(), &["staff", "reset", "Ada"], &env, b""));
    let mut env = admin();
    env.push(("SKRANKE_NEW_PASSWORD", TEMP_PW));
    let out = ok(&at_desk(dir.path(), &["staff", "reset", "Carl"], &env, b""));
    assert!(out.contains("temporary password for Carl"), "{out}");
    assert_eq!(carl(dir.path())["must_change"], true);
    // The old password is gone; the temporary one may do nothing but passwd.
    refused(&at_desk(dir.path(), &["records", "list"], &clerk(CLERK_PW), b""));
    let err = refused(&at_desk(dir.path(), &["records", "list"], &clerk(TEMP_PW), b""));
    assert!(err.contains("Choose your own password first"), "{err}");
    let mut env = clerk(TEMP_PW);
    env.push(("SKRANKE_NEW_PASSWORD", CHOSEN_PW));
    let out = ok(&at_desk(dir.path(), &["staff", "passwd"], &env, b""));
    assert!(out.contains("password of Carl is changed"), "{out}");
    assert_eq!(carl(dir.path())["must_change"], false);
    ok(&at_desk(dir.path(), &["records", "list"], &clerk(CHOSEN_PW), b""));
    forget(&desk_id);
}

#[test]
fn staff_add_temporary_makes_the_new_member_choose_their_own_password_first() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = desk_with_clerk(dir.path());
    let mut env = admin();
    env.push(("SKRANKE_NEW_STAFF_PASSWORD", TEMP_PW));
    let out = ok(&at_desk(dir.path(), &["staff", "add", "Dora", "--role", "clerk", "--temporary"], &env, b""));
    assert!(out.contains("Dora must choose their own password at the first sign-in"), "{out}");
    let dora = listed(dir.path()).into_iter().find(|s| s["name"] == "Dora").unwrap();
    assert_eq!(dora["must_change"], true);
    // Carl, added without --temporary, keeps the password he was given.
    assert_eq!(carl(dir.path())["must_change"], false);
    let as_dora = |pw: &'static str| vec![("SKRANKE_STAFF", "Dora"), ("SKRANKE_STAFF_PASSWORD", pw)];
    let err = refused(&at_desk(dir.path(), &["records", "list"], &as_dora(TEMP_PW), b""));
    assert!(err.contains("An admin set a temporary password for you"), "{err}");
    assert!(err.contains("Choose your own password first"), "{err}");
    let mut env = as_dora(TEMP_PW);
    env.push(("SKRANKE_NEW_PASSWORD", CHOSEN_PW));
    ok(&at_desk(dir.path(), &["staff", "passwd"], &env, b""));
    ok(&at_desk(dir.path(), &["records", "list"], &as_dora(CHOSEN_PW), b""));
    forget(&desk_id);
}

#[test]
fn staff_passwd_needs_the_current_password_and_a_strong_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let desk_id = desk_with_clerk(dir.path());
    let mut env = clerk("not the current one!");
    env.push(("SKRANKE_NEW_PASSWORD", CHOSEN_PW));
    refused(&at_desk(dir.path(), &["staff", "passwd"], &env, b""));
    let mut env = clerk(CLERK_PW);
    env.push(("SKRANKE_NEW_PASSWORD", "carlcarlcarl"));
    let err = refused(&at_desk(dir.path(), &["staff", "passwd"], &env, b""));
    assert!(err.contains("new_password: This password is too easy to guess"), "{err}");
    ok(&at_desk(dir.path(), &["records", "list"], &clerk(CLERK_PW), b""));
    let help = ok(&at_desk(dir.path(), &["staff", "passwd", "--help"], &[], b""));
    assert!(help.contains("SKRANKE_NEW_PASSWORD"), "{help}");
    forget(&desk_id);
}

#[test]
fn check_idle_refuses_a_session_older_than_the_desks_limit() {
    use chrono::{Duration, Utc};
    use skranke_core::keystore::OsKeyStore;
    use skranke_core::staff::StaffError;
    use skranke_core::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let desk_id = desk_with_clerk(dir.path());
    ok(&at_desk(dir.path(), &["settings", "set", "idle_lock_minutes", "2"], &admin(), b""));
    let err = refused(&at_desk(dir.path(), &["settings", "set", "idle_lock_minutes", "241"], &admin(), b""));
    assert!(err.contains("idle_lock_minutes") && err.contains("240"), "{err}");
    // The CLI's session lives for one command; the rule it checks is the core's.
    let t = Utc::now();
    let mut store = Store::open(dir.path(), Box::new(OsKeyStore), t).unwrap();
    let mut session = store.sign_in("Carl", CLERK_PW, t).unwrap();
    store.check_idle(&mut session, t + Duration::minutes(2)).unwrap();
    let late = t + Duration::minutes(4) + Duration::seconds(1);
    match store.check_idle(&mut session, late) {
        Err(StaffError::IdleLocked { minutes: 2 }) => {}
        other => panic!("expected the idle lock, got {other:?}"),
    }
    drop(store);
    forget(&desk_id);
}
