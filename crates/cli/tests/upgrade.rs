//! The current release's desk and registry, upgraded in place: the
//! committed fixture `fixtures/release-74bd84f/` (made by
//! `scripts/fixtures/release.sh` with the release's own CLI and registry)
//! holds a desk enrolled at municipality 751 with two records issued online
//! and synced, then, with the registry down, a void of one of them, a
//! reprint of the other, two records issued offline from the lease and a
//! clerk added, none of it synced; the registry's database as the release's
//! migrations left it, the registry's key (which the desk pinned), the
//! desk's key-store entries, the handouts the registry has not seen, and
//! what the release's own `records list` and `sync status` showed.
//!
//! The registry's dump is restored into a fresh database, the current
//! registry's migrations run on it, and the current registry serves it with
//! the fixture's key; the current `skranke` opens the desk folder and syncs.
//!
//! The rules: an upgrade loses nothing (every record as the release left
//! it, every unsynced event still queued as the protocol's typed body, the
//! release's audit head still in the chain), and what waited then reaches
//! the registry with one sync (the offline records with the logins on their
//! handouts, the void, the reprint's password, every audit entry), after
//! which the desk issues again.
#![cfg(target_os = "linux")]

mod common;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use skranke_core::credentials::PasswordHash;
use skranke_core::keystore::{KeyStore, OsKeyStore};
use skranke_core::protocol::EventBody;
use skranke_registry::testing::{LiveRegistry, TestDatabase};
use skranke_registry::{Config, RegistryKey};

use common::{at_desk, feed_consumer, ok_json, password_in, pdftotext, username_on, RestoredDesk};

/// The release the fixture was made by (`scripts/fixtures/release.sh`'s default).
const RELEASE: &str = "release-74bd84f";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(RELEASE)
}

fn read_json(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

/// The fields of a record the release listed that an upgrade must keep.
fn kept(record: &Value) -> Value {
    let fields = ["record_id", "number", "birth_date", "sex", "status", "training", "source", "issued_at"];
    fields.iter().map(|f| (f.to_string(), record[*f].clone())).collect::<serde_json::Map<_, _>>().into()
}

/// An outbox row: kind, record, payload, content hash.
type Row = (String, String, String, String);

#[test]
fn a_desk_and_a_registry_of_the_current_release_lose_nothing_and_sync_once_upgraded() {
    let keys = read_json("keys.json");
    let desk_id = keys["desk_id"].as_str().unwrap().to_string();
    let staff = [("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", keys["admin_password"].as_str().unwrap())];
    let record = |n: u32| format!("{desk_id}-{n}");

    // The registry as the release left it, upgraded by the current migrations.
    let db = TestDatabase::create(None);
    db.execute(&std::fs::read_to_string(fixture().join("registry.sql")).unwrap());
    let mut reg = LiveRegistry::on(db, Config { feed_token: Some("feed-secret".into()), ..Config::default() });
    let applied: Vec<i64> = reg
        .rows("SELECT v.version::text FROM schema_version v ORDER BY v.version")
        .iter()
        .map(|r| r[0].as_deref().unwrap().parse().unwrap())
        .collect();
    let current: Vec<i64> = skranke_registry::db::MIGRATIONS.iter().map(|(v, _)| i64::from(*v)).collect();
    assert_eq!(applied, current, "every migration of the current registry ran on the release's database");
    assert_eq!(
        reg.count(&format!("SELECT count(*) FROM records WHERE desk_id = '{desk_id}'")),
        2,
        "the release's registry holds the two records synced before it went down"
    );
    assert_eq!(
        reg.count(&format!(
            "SELECT count(*) FROM events WHERE desk_id = '{desk_id}' AND kind IN ('voided', 'reprinted')"
        )) + reg.count(&format!("SELECT count(*) FROM records WHERE desk_id = '{desk_id}' AND state = 'voided'")),
        0,
        "the release's registry never saw the void or the reprint"
    );
    // The registry keeps its key across the upgrade: the desk pinned it.
    let key_text = std::fs::read_to_string(fixture().join("registry-key.json")).unwrap();
    let key = RegistryKey::from_file_json(&key_text, "registry-key.json").expect("the release's key file reads");
    assert_eq!(
        keys["keys"]["registry-key"].as_str(),
        Some(key.public_hex().as_str()),
        "the fixture's desk pinned the fixture's registry key"
    );
    // The upgrade as the operator does it: the release's key file gets a
    // duplicate secret (`key add-duplicate-secret`; `serve` refuses a key
    // without one), and the first start with it keys every duplicate hash
    // the release stored (`serve` runs `duplicates::rekey` after migrating).
    let key_dir = tempfile::tempdir().unwrap();
    let key_path = key_dir.path().join("registry-key.json");
    std::fs::write(&key_path, &key_text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    assert!(RegistryKey::from_config(Some(&key_path), None).is_err(), "the release's key file has no duplicate secret");
    skranke_registry::key::add_duplicate_secret_file(&key_path).unwrap();
    let upgraded = RegistryKey::from_config(Some(&key_path), None).unwrap();
    assert_eq!(upgraded.public_hex(), key.public_hex(), "the signing key stays");
    let secret = upgraded.duplicates().unwrap().clone();
    let rekeyed = reg.block_on(skranke_registry::duplicates::rekey(&reg.pool(), &secret)).unwrap();
    assert_eq!(rekeyed.records, 2, "the release's two records are keyed: {rekeyed:?}");
    reg.set_key(upgraded);
    reg.restart();

    // The desk as the release left it: its folder and its key-store entries.
    let desk = RestoredDesk::from_fixture(&fixture(), &keys);

    // Nothing lost: the current CLI lists every record as the release did.
    let released = read_json("records.json");
    let listed = ok_json(&at_desk(desk.dir.path(), &["records", "list", "--json"], &staff, b""));
    let sorted = |v: &Value| {
        let mut rows: Vec<Value> = v.as_array().unwrap().iter().map(kept).collect();
        rows.sort_by_key(|r| r["record_id"].as_str().unwrap().to_string());
        rows
    };
    assert_eq!(sorted(&listed), sorted(&released), "an upgrade keeps every record as the release left it");
    let by_id = |id: &str| sorted(&listed).into_iter().find(|r| r["record_id"] == id).unwrap();
    assert_eq!(
        [1, 2, 3, 4].map(|n| (by_id(&record(n))["source"].clone(), by_id(&record(n))["status"].clone())),
        [
            (json!("online"), json!("voided")),
            (json!("online"), json!("issued")),
            (json!("lease"), json!("issued")),
            (json!("lease"), json!("issued")),
        ],
        "the fixture holds two online records (one voided) and two from the lease"
    );
    let released_status = read_json("sync-status.json");
    let status = ok_json(&at_desk(desk.dir.path(), &["sync", "status", "--json"], &[], b""));
    assert_eq!(status["lease_frozen"], false, "the restored desk is itself, not a copy: {status}");
    let released_queued = released_status["queued_events"].as_u64().expect("the release's queued_events");
    assert!(released_queued >= 4, "the release left its events queued: {released_status}");
    assert!(
        status["queued_events"].as_u64().is_some_and(|now| now >= released_queued),
        "an upgrade drops no queued event: the release queued {released_queued}, now {}",
        status["queued_events"]
    );

    let queued: Vec<Row>;
    let release_head: i64;
    {
        let store =
            skranke_core::store::Store::open(desk.dir.path(), Box::new(OsKeyStore), chrono::Utc::now()).unwrap();
        let conn = store.connection();
        queued = conn
            .prepare(
                "SELECT kind, record_id, payload, content_hash FROM outbox
                 WHERE outcome IS NULL AND kind IN ('issued', 'reprinted', 'voided') ORDER BY seq",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let kinds: Vec<(&str, &str)> = queued.iter().map(|(k, id, ..)| (k.as_str(), id.as_str())).collect();
        let (r1, r2, r3, r4) = (record(1), record(2), record(3), record(4));
        assert_eq!(
            kinds,
            [("voided", r1.as_str()), ("reprinted", r2.as_str()), ("issued", r3.as_str()), ("issued", r4.as_str())],
            "an upgrade keeps every unsynced event queued, in the order the release queued them"
        );
        for (kind, record_id, payload, hash) in &queued {
            let payload: Value = serde_json::from_str(payload).unwrap();
            let body: EventBody = serde_json::from_value(json!({ "kind": kind, "payload": payload }))
                .unwrap_or_else(|e| panic!("{kind} of {record_id} is not the protocol's typed body ({e}): {payload}"));
            assert_eq!(body.record_id(), Some(record_id.as_str()), "{kind}: the row's record is the body's");
            assert_eq!(&body.content_hash(), hash, "{kind} of {record_id}: the row's hash is its body's");
        }
        // The guard the release wrote names its audit head: it is still in the chain.
        let guard: Value = serde_json::from_str(keys["keys"]["guard"].as_str().unwrap()).unwrap();
        release_head = conn
            .query_row("SELECT seq FROM audit WHERE hash = ?1", [guard["audit_hash"].as_str().unwrap()], |r| r.get(0))
            .expect("an upgrade keeps the release's audit head in the chain");
        let sent: i64 = conn
            .query_row("SELECT CAST(value AS INTEGER) FROM sync_state WHERE key = 'audit_sent_seq'", [], |r| r.get(0))
            .unwrap();
        let staff_added: i64 = conn
            .query_row("SELECT count(*) FROM audit WHERE seq > ?1 AND action = 'staff.added'", [sent], |r| r.get(0))
            .unwrap();
        assert!(sent < release_head, "the release left audit entries unsent ({sent} sent of {release_head})");
        assert!(staff_added >= 1, "among them the clerk's addition, which belongs to no record");
        // The registry moved to another port: point the desk at it.
        conn.execute("UPDATE sync_state SET value = ?1 WHERE key = 'registry_url'", [reg.url()]).unwrap();
    }

    // One sync sends everything.
    let report = ok_json(&at_desk(desk.dir.path(), &["sync", "--json"], &[], b""));
    assert_eq!(
        (report["pending"].as_u64(), report["invalid"].as_u64(), report["conflict"].as_u64()),
        (Some(0), Some(0), Some(0)),
        "the registry takes every event the release queued: {report}"
    );
    assert_eq!(
        OsKeyStore.get(&desk_id, "registry-key").unwrap().as_deref(),
        keys["keys"]["registry-key"].as_str(),
        "the desk still trusts the key it pinned: the upgraded registry signs with the release's key"
    );
    let status = ok_json(&at_desk(desk.dir.path(), &["sync", "status", "--json"], &[], b""));
    assert_eq!(status["queued_events"], 0, "nothing waits after the sync: {status}");
    assert_eq!(status["refused"], json!([]), "nothing was refused: {status}");
    for (kind, record_id, _, hash) in &queued {
        assert_eq!(
            reg.count(&format!(
                "SELECT count(*) FROM events WHERE desk_id = '{desk_id}' AND kind = '{kind}' AND content_hash = '{hash}'"
            )),
            1,
            "the registry holds the queued {kind} of {record_id} as the desk stored it"
        );
    }
    assert_eq!(
        reg.rows(&format!("SELECT record_id, state FROM records WHERE desk_id = '{desk_id}' ORDER BY record_id")),
        [1, 2, 3, 4]
            .map(|n| vec![Some(record(n)), Some(if n == 1 { "voided" } else { "received" }.to_string())])
            .to_vec(),
        "the registry holds all four records, the first voided"
    );
    // Every audit entry, the release's unsent ones among them, reached the registry's chain.
    let head = reg.rows(&format!("SELECT seq::text, hash FROM audit_heads WHERE desk_id = '{desk_id}'"));
    let (head_seq, head_hash): (i64, String) =
        (head[0][0].as_deref().unwrap().parse().unwrap(), head[0][1].clone().unwrap());
    assert!(head_seq >= release_head, "the registry's audit head ({head_seq}) is past the release's ({release_head})");
    assert_eq!(
        reg.count(&format!("SELECT count(*) FROM events WHERE desk_id = '{desk_id}' AND kind = 'audit'")),
        head_seq,
        "the registry holds every audit entry up to its head"
    );
    {
        let store =
            skranke_core::store::Store::open(desk.dir.path(), Box::new(OsKeyStore), chrono::Utc::now()).unwrap();
        let hash: String = store
            .connection()
            .query_row("SELECT hash FROM audit WHERE seq = ?1", [head_seq], |r| r.get(0))
            .expect("the registry's head is one of the desk's entries");
        assert_eq!(hash, head_hash, "the registry's audit head is the desk's entry at that seq");
    }
    let verified = ok_json(&at_desk(desk.dir.path(), &["audit", "verify", "--json"], &staff, b""));
    assert_eq!(verified["status"], "intact", "the upgraded desk's audit chain verifies: {verified}");
    assert!(
        verified["events"].as_i64() >= Some(head_seq),
        "the verified chain holds what the registry has: {verified}"
    );

    // The feed carries the offline records' logins, the reprint's password and the void.
    let feed = feed_consumer(&["read", "--url", &reg.url(), "--token", "feed-secret"]);
    let handouts = fixture().join("handouts");
    for (n, latest) in [(2, "2-again.pdf"), (3, "3.pdf"), (4, "4.pdf")] {
        let id = record(n);
        let page = pdftotext(&std::fs::read(handouts.join(latest)).unwrap());
        let item = &feed["records"][&id];
        assert_eq!(item["jobnet_username"], username_on(&page).as_str(), "{id}: the username on its handout: {item}");
        let hash = PasswordHash::from_phc(item["password_hash"].as_str().unwrap()).unwrap();
        assert!(hash.verify(&password_in(&page)), "{id}: the feed has the password of its latest handout");
    }
    for n in [3, 4] {
        let item = &feed["records"][record(n)];
        assert_eq!(item["number"], by_id(&record(n))["number"], "{}: the lease's number reached the feed", record(n));
    }
    assert_eq!(feed["records"][record(1)]["voided"], true, "the void reached the feed");
    assert_eq!(feed["records"][record(2)]["kinds"], json!(["issued", "reprinted"]), "the reprint reached the feed");

    // And the upgraded desk issues again, online, and syncs it.
    let pdfs = tempfile::tempdir().unwrap();
    let pdf = pdfs.path().join("5.pdf");
    let applicant = json!({
      "given_names": "Lina", "surname": "Berzina", "birth_date": "1994-04-08", "sex": "F",
      "nationality": "LV", "municipality_of_stay": 751, "group": "eu-jobseeker",
      "document": {"type": "passport", "number": "LV7500005", "issuing_state": "LV", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "en",
      "contact": {"email": null, "phone": null, "address_dk": null}
    });
    let args = ["issue", "--applicant", "-", "--pdf", pdf.to_str().unwrap(), "--json"];
    let issued = ok_json(&at_desk(desk.dir.path(), &args, &staff, applicant.to_string().as_bytes()));
    assert_eq!(issued["record_id"], record(5), "the upgraded desk issues the next record");
    let shown = ok_json(&at_desk(desk.dir.path(), &["records", "show", &record(5), "--json"], &staff, b""));
    assert_eq!(shown["source"], "online", "the upgraded desk gets its number from the upgraded registry");
    let report = ok_json(&at_desk(desk.dir.path(), &["sync", "--json"], &[], b""));
    assert_eq!(report["pending"], 0, "the record issued after the upgrade syncs: {report}");
    assert_eq!(
        reg.count(&format!("SELECT count(*) FROM records WHERE desk_id = '{desk_id}'")),
        5,
        "the record issued after the upgrade reaches the registry"
    );
}
