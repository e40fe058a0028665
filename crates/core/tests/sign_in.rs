//! The sign-in policy against the real encrypted store: lockout, password
//! strength, admin reset, `passwd`, and the idle lock.

mod common;

use chrono::Duration;
use common::*;
use skranke_core::cpr::Sex;
use skranke_core::i18n::Lang;
use skranke_core::settings::SettingKey;
use skranke_core::staff::{NewStaff, Role, StaffError};
use skranke_core::Error;

const CLERK: &str = "Clara Clerk";
const WRONG: &str = "not her password at all";
const TEMPORARY: &str = "velvet harbour mosaic 7";
const CHOSEN: &str = "copper meadow lantern 19";

fn staff_err(e: impl Into<Error>) -> StaffError {
    match e.into() {
        Error::Staff(s) => s,
        other => panic!("expected a staff error, got {other:?}"),
    }
}

fn fields(e: impl Into<Error>) -> Vec<(String, String)> {
    match e.into() {
        Error::Invalid(f) => f.into_iter().map(|f| (f.field, f.code)).collect(),
        other => panic!("expected field errors, got {other:?}"),
    }
}

fn audit_count(store: &skranke_core::store::Store, action: &str) -> i64 {
    store.connection().query_row("SELECT count(*) FROM audit WHERE action = ?1", [action], |r| r.get(0)).unwrap()
}

#[test]
fn five_failures_lock_the_account_even_against_the_right_password_until_the_minute_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    staff(&mut store, CLERK, Role::Clerk);
    let t = now();
    for i in 0..4 {
        let e = staff_err(store.sign_in(CLERK, WRONG, t + Duration::seconds(i)).unwrap_err());
        assert!(matches!(e, StaffError::SignInRefused), "failure {i}: {e:?}");
    }
    let e = staff_err(store.sign_in(CLERK, WRONG, t + Duration::seconds(4)).unwrap_err());
    let StaffError::AccountLocked { until } = e else { panic!("the fifth failure locks: {e:?}") };
    assert_eq!(until, t + Duration::seconds(4) + Duration::minutes(1));
    // The right password does not open a locked account, nor does the lock grow meanwhile.
    let e = staff_err(store.sign_in(CLERK, PASSWORD, until - Duration::seconds(1)).unwrap_err());
    assert!(matches!(e, StaffError::AccountLocked { until: u } if u == until), "{e:?}");
    assert!(e.message(Lang::En).contains("unlocks at"), "{}", e.message(Lang::En));
    // Once the period is over, the right password opens it.
    store.sign_in(CLERK, PASSWORD, until).unwrap();
    assert_eq!(audit_count(&store, "staff.locked"), 1);
    assert_eq!(audit_count(&store, "staff.sign_in_refused"), 5, "four failures and one attempt while locked");
}

#[test]
fn each_failure_after_the_fifth_doubles_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    staff(&mut store, CLERK, Role::Clerk);
    let mut t = now();
    for _ in 0..4 {
        let _ = store.sign_in(CLERK, WRONG, t);
    }
    let mut periods = Vec::new();
    for _ in 0..4 {
        let e = staff_err(store.sign_in(CLERK, WRONG, t).unwrap_err());
        let StaffError::AccountLocked { until } = e else { panic!("{e:?}") };
        periods.push(until - t);
        t = until; // wait the lock out, then fail again
    }
    assert_eq!(periods, [1, 2, 4, 8].map(Duration::minutes));
    assert_eq!(audit_count(&store, "staff.locked"), 4);
}

#[test]
fn a_successful_sign_in_resets_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    staff(&mut store, CLERK, Role::Clerk);
    for _ in 0..4 {
        let _ = store.sign_in(CLERK, WRONG, now());
    }
    store.sign_in(CLERK, PASSWORD, now()).unwrap();
    for i in 0..4 {
        let e = staff_err(store.sign_in(CLERK, WRONG, now()).unwrap_err());
        assert!(matches!(e, StaffError::SignInRefused), "failure {i} after the reset: {e:?}");
    }
    store.sign_in(CLERK, PASSWORD, now()).unwrap();
}

#[test]
fn an_unknown_name_gets_the_same_refusal_as_a_wrong_password_and_takes_as_long() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    staff(&mut store, CLERK, Role::Clerk);
    let timed = |store: &mut skranke_core::store::Store, name: &str| {
        let start = std::time::Instant::now();
        let e = staff_err(store.sign_in(name, WRONG, now()).unwrap_err());
        (start.elapsed(), e.message(Lang::En))
    };
    let (known, known_msg) = timed(&mut store, CLERK);
    let (unknown, unknown_msg) = timed(&mut store, "Nobody Known");
    assert_eq!(known_msg, unknown_msg);
    // Both verify one Argon2id hash (tens of milliseconds); without the decoy the unknown name would take ~0.
    assert!(unknown * 3 > known, "unknown {unknown:?} vs known {known:?}");
}

#[test]
fn weak_and_short_passwords_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let a = admin(&mut store);
    let add = |store: &mut skranke_core::store::Store, pw: &str| {
        fields(
            store
                .add_staff(
                    &a,
                    &NewStaff { name: CLERK, role: Role::Clerk, password: pw, temporary: false },
                    now(),
                    Lang::En,
                )
                .unwrap_err(),
        )
    };
    assert_eq!(add(&mut store, "short one"), [("password".to_string(), "staff.password_short".to_string())]);
    assert_eq!(add(&mut store, "password1234"), [("password".to_string(), "staff.password_weak".to_string())]);
    // The desk's office and municipality are words an attacker tries first.
    assert_eq!(
        add(&mut store, "Borgerservice Nord 101"),
        [("password".to_string(), "staff.password_weak".to_string())]
    );
}

#[test]
fn a_reset_forces_a_change_and_the_forced_session_cannot_issue() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let before = staff(&mut store, CLERK, Role::Clerk);
    let a = admin(&mut store);
    store.reset_password(&a, CLERK, TEMPORARY, now(), Lang::En).unwrap();
    assert_eq!(audit_count(&store, "staff.password_reset"), 1);
    // The old password is gone; the temporary one gives a session that must change it.
    assert!(store.sign_in(CLERK, PASSWORD, now()).is_err());
    let mut forced = store.sign_in(CLERK, TEMPORARY, now()).unwrap();
    assert!(forced.must_change());
    let listed = store.list_staff(&a).unwrap();
    assert!(listed.iter().any(|s| s.name == CLERK && s.must_change));
    let intake = intake(1, date(1980, 1, 1), Sex::Male);
    for session in [&forced, &before] {
        let e = staff_err(store.issue(session, &intake, now(), None, None).unwrap_err());
        assert!(matches!(e, StaffError::PasswordChangeRequired), "{e:?}");
        assert!(e.message(Lang::En).contains("temporary"), "{}", e.message(Lang::En));
    }
    // Changing to the temporary password again is not a change.
    let e = fields(store.change_password(&mut forced, TEMPORARY, TEMPORARY, now(), Lang::En).unwrap_err());
    assert_eq!(e, [("new_password".to_string(), "staff.password_unchanged".to_string())]);
    store.change_password(&mut forced, TEMPORARY, CHOSEN, now(), Lang::En).unwrap();
    assert!(!forced.must_change());
    store.issue(&forced, &intake, now(), None, None).unwrap();
    assert!(!store.sign_in(CLERK, CHOSEN, now()).unwrap().must_change());
}

#[test]
fn an_account_added_with_a_temporary_password_must_change_it_before_its_first_act() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let a = admin(&mut store);
    let added = store
        .add_staff(
            &a,
            &NewStaff { name: CLERK, role: Role::Clerk, password: TEMPORARY, temporary: true },
            now(),
            Lang::En,
        )
        .unwrap();
    assert!(added.must_change, "the returned account says its password is temporary");
    assert!(store.list_staff(&a).unwrap().iter().any(|s| s.name == CLERK && s.must_change));
    let detail: String = store
        .connection()
        .query_row("SELECT detail FROM audit WHERE action = 'staff.added'", [], |r| r.get(0))
        .unwrap();
    assert!(detail.ends_with("temporary:true"), "{detail}");
    let mut first = store.sign_in(CLERK, TEMPORARY, now()).unwrap();
    assert!(first.must_change());
    let e = staff_err(store.issue(&first, &intake(1, date(1980, 1, 1), Sex::Male), now(), None, None).unwrap_err());
    assert!(matches!(e, StaffError::PasswordChangeRequired), "{e:?}");
    store.change_password(&mut first, TEMPORARY, CHOSEN, now(), Lang::En).unwrap();
    assert!(!store.sign_in(CLERK, CHOSEN, now()).unwrap().must_change());
}

#[test]
fn a_reset_unlocks_a_locked_account() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    staff(&mut store, CLERK, Role::Clerk);
    for _ in 0..5 {
        let _ = store.sign_in(CLERK, WRONG, now());
    }
    let a = admin(&mut store);
    assert!(store.list_staff(&a).unwrap().iter().any(|s| s.name == CLERK && s.locked_at(now()).is_some()));
    store.reset_password(&a, CLERK, TEMPORARY, now(), Lang::En).unwrap();
    store.sign_in(CLERK, TEMPORARY, now()).unwrap();
}

#[test]
fn only_an_admin_resets_and_only_with_a_strong_temporary_password() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let clerk = staff(&mut store, CLERK, Role::Clerk);
    let e = staff_err(store.reset_password(&clerk, ADMIN, TEMPORARY, now(), Lang::En).unwrap_err());
    assert!(matches!(e, StaffError::Forbidden { .. }), "{e:?}");
    let a = admin(&mut store);
    let e = fields(store.reset_password(&a, CLERK, "qwertyuiop12", now(), Lang::En).unwrap_err());
    assert_eq!(e, [("password".to_string(), "staff.password_weak".to_string())]);
    let e = staff_err(store.reset_password(&a, "Nobody Known", TEMPORARY, now(), Lang::En).unwrap_err());
    assert!(matches!(e, StaffError::StaffNotFound { .. }), "{e:?}");
}

#[test]
fn passwd_requires_the_current_password_and_a_wrong_one_counts_as_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let mut me = staff(&mut store, CLERK, Role::Clerk);
    let e = fields(store.change_password(&mut me, WRONG, CHOSEN, now(), Lang::En).unwrap_err());
    assert_eq!(e, [("old_password".to_string(), "staff.old_password_wrong".to_string())]);
    // Both problems at once when the new one is weak too.
    let e = fields(store.change_password(&mut me, WRONG, "letmein", now(), Lang::En).unwrap_err());
    let names: Vec<&str> = e.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names, ["old_password", "new_password"]);
    assert!(store.sign_in(CLERK, CHOSEN, now()).is_err(), "nothing changed");
    for _ in 0..2 {
        let _ = store.change_password(&mut me, WRONG, CHOSEN, now(), Lang::En);
    }
    // The fifth wrong current password locks the account like five failed sign-ins.
    let e = staff_err(store.change_password(&mut me, WRONG, CHOSEN, now(), Lang::En).unwrap_err());
    assert!(matches!(e, StaffError::AccountLocked { .. }), "{e:?}");
    let later = now() + Duration::minutes(2);
    store.change_password(&mut me, PASSWORD, CHOSEN, later, Lang::En).unwrap();
    assert_eq!(audit_count(&store, "staff.password_changed"), 1);
    store.sign_in(CLERK, CHOSEN, later).unwrap();
    assert!(store.sign_in(CLERK, PASSWORD, later).is_err());
}

#[test]
fn an_idle_session_is_refused_after_the_set_minutes_and_accepted_before() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let a = admin(&mut store);
    let mut session = a.clone();
    // The default is five minutes.
    assert_eq!(store.idle_lock_minutes().unwrap(), 5);
    store.check_idle(&mut session, now() + Duration::minutes(5)).unwrap();
    // Activity moved the clock: five more minutes from there are fine, one second beyond is not.
    let last = now() + Duration::minutes(5);
    assert_eq!(session.last_activity(), last);
    store.check_idle(&mut session, last + Duration::minutes(5)).unwrap();
    let last = last + Duration::minutes(5);
    let e = staff_err(store.check_idle(&mut session, last + Duration::minutes(5) + Duration::seconds(1)).unwrap_err());
    assert!(matches!(e, StaffError::IdleLocked { minutes: 5 }), "{e:?}");
    assert_eq!(e.code(), "staff.locked");
    // A changed setting applies to sessions already signed in.
    store.change_setting(&a, SettingKey::IdleLockMinutes, "30", now(), Lang::En).unwrap();
    let mut fresh = admin(&mut store);
    store.check_idle(&mut fresh, now() + Duration::minutes(30)).unwrap();
    assert!(store.check_idle(&mut fresh, now() + Duration::minutes(61)).is_err());
}
