//! A desk made by the version before the Jobnet-username fix, upgraded in
//! place: the committed fixture `fixtures/desk-before-login-fix/` (made by
//! `scripts/fixtures/desk-before-login-fix.sh` with the old CLI and the old
//! registry: the desk's folder, its key-store entries and the registry's
//! database) is brought back, and the current `skranke` opens and syncs it
//! against the current registry.
//!
//! The rule: after the upgrade every record reaches the feed with the
//! username printed on its handout and the hash of its latest handout's
//! password, whichever way it was left: synced without its login (the desk
//! sends a `login_amended` event, the registry feeds it as a correction) or
//! still unsent (the desk sends it complete). The upgrade rewrites the old
//! outbox rows into the protocol's typed event body (schema version 10), and
//! the registry accepts them as they are stored.
#![cfg(target_os = "linux")]

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;
use skranke_core::credentials::PasswordHash;
use skranke_core::keystore::OsKeyStore;
use skranke_core::protocol::EventBody;
use skranke_registry::testing::{LiveRegistry, TestDatabase};
use skranke_registry::Config;

use common::{at_desk, feed_consumer, ok_json, password_in, pdftotext, username_on, RestoredDesk};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/desk-before-login-fix")
}

#[test]
fn a_desk_from_before_the_username_fix_sends_every_login_to_the_feed_once_upgraded() {
    let keys: Value = serde_json::from_str(&std::fs::read_to_string(fixture().join("keys.json")).unwrap()).unwrap();
    let desk_id = keys["desk_id"].as_str().unwrap().to_string();
    let staff = [("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", keys["admin_password"].as_str().unwrap())];

    // The registry as it was, upgraded by the current code's migrations.
    let db = TestDatabase::create(None);
    db.execute(&std::fs::read_to_string(fixture().join("registry.sql")).unwrap());
    let reg = LiveRegistry::on(db, Config { feed_token: Some("feed-secret".into()), ..Config::default() });
    assert_eq!(
        reg.count("SELECT count(*) FROM records WHERE coalesce(content->>'jobnet_username', '') = ''"),
        2,
        "the fixture's registry holds two records without their login"
    );

    // The desk as it was: its folder and its key-store entries.
    let desk = RestoredDesk::from_fixture(&fixture(), &keys);

    // The first open upgrades the store: the two synced records get their
    // login amendment queued beside the two old rows never sent.
    let status = ok_json(&at_desk(desk.dir.path(), &["sync", "status", "--json"], &[], b""));
    let queued: Vec<String>;
    assert_eq!(status["lease_frozen"], false, "the restored desk is itself: {status}");
    {
        let store =
            skranke_core::store::Store::open(desk.dir.path(), Box::new(OsKeyStore), chrono::Utc::now()).unwrap();
        let kinds: Vec<String> = store
            .connection()
            .prepare("SELECT kind FROM outbox WHERE outcome IS NULL ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(kinds, ["reprinted", "issued", "login_amended", "login_amended"]);
        // Every row now holds the protocol's event body (schema version 10
        // rewrote the old loose keys), and its content hash is the body's.
        let rows: Vec<(String, String, String, String, bool)> = store
            .connection()
            .prepare("SELECT kind, record_id, payload, content_hash, outcome IS NULL FROM outbox ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (kind, record_id, payload, hash, _) in &rows {
            let payload: Value = serde_json::from_str(payload).unwrap();
            let body: EventBody = serde_json::from_value(serde_json::json!({ "kind": kind, "payload": payload }))
                .unwrap_or_else(|e| panic!("{kind} of {record_id} is not a typed body ({e}): {payload}"));
            assert_eq!(body.record_id(), Some(record_id.as_str()));
            assert_eq!(&body.content_hash(), hash, "{kind} of {record_id}");
            if let EventBody::Issued(r) = &body {
                assert!(!r.jobnet_username.is_empty(), "the old row's login, read from its legacy key: {payload}");
            }
        }
        // The two rows the old desk never sent.
        queued = rows
            .iter()
            .filter(|(kind, .., unanswered)| *unanswered && (kind == "issued" || kind == "reprinted"))
            .map(|(_, _, _, hash, _)| hash.clone())
            .collect();
        assert_eq!(queued.len(), 2);
        // The registry moved: point the desk at this one.
        store.connection().execute("UPDATE sync_state SET value = ?1 WHERE key = 'registry_url'", [reg.url()]).unwrap();
    }
    let report = ok_json(&at_desk(desk.dir.path(), &["sync", "--json"], &[], b""));
    assert_eq!(
        (report["pending"].as_u64(), report["invalid"].as_u64(), report["conflict"].as_u64()),
        (Some(0), Some(0), Some(0)),
        "{report}"
    );
    // The registry holds the events with the content hashes the desk's typed rows carry.
    for hash in &queued {
        assert_eq!(reg.count(&format!("SELECT count(*) FROM events WHERE content_hash = '{hash}'")), 1, "{hash}");
    }
    // A second open changes nothing: the backfill ran once, with its migration.
    let again = ok_json(&at_desk(desk.dir.path(), &["sync", "--json"], &[], b""));
    assert_eq!(again["uploaded"], 0, "{again}");

    let feed = feed_consumer(&["read", "--url", &reg.url(), "--token", "feed-secret"]);
    let handouts = fixture().join("handouts");
    for (seq, latest) in [(1, "1.pdf"), (2, "2-again.pdf"), (3, "3.pdf")] {
        let id = format!("{desk_id}-{seq}");
        let page = pdftotext(&std::fs::read(handouts.join(latest)).unwrap());
        let item = &feed["records"][&id];
        assert_eq!(item["jobnet_username"], username_on(&page).as_str(), "{id}: {item}");
        let hash = PasswordHash::from_phc(item["password_hash"].as_str().unwrap()).unwrap();
        assert!(hash.verify(&password_in(&page)), "{id}: the latest handout's password");
    }
    let first = pdftotext(&std::fs::read(handouts.join("2.pdf")).unwrap());
    let hash =
        PasswordHash::from_phc(feed["records"][format!("{desk_id}-2")]["password_hash"].as_str().unwrap()).unwrap();
    assert!(!hash.verify(&password_in(&first)), "the reprint's password, not the first");
    assert_eq!(feed["records"][format!("{desk_id}-1")]["kinds"], serde_json::json!(["issued", "login_amended"]));
    assert_eq!(
        reg.count("SELECT count(*) FROM records WHERE coalesce(content->>'jobnet_username', '') = ''"),
        0,
        "the registry now holds every login"
    );
    let records = ok_json(&at_desk(desk.dir.path(), &["records", "list", "--json"], &staff, b""));
    assert!(records.as_array().unwrap().iter().all(|r| r["standing"] == "accepted"), "{records}");
}
