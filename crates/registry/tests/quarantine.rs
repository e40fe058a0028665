//! A desk copied to a second PC together with its key store: its rollback
//! guard matches, so neither copy can know, and the registry sees the fork
//! only as a forked audit chain. What it must do: quarantine the desk ID
//! (once, in `operator_log`, with a notice to the desk), hand it no lease
//! and no online number from then on, and still take everything either copy
//! uploads, so that nothing issued is lost; the copy's numbers are disputed.
//! Real desks (SQLCipher stores) against the real registry.

mod common;
mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use skranke_core::alloc::NumberSource;
use skranke_core::keystore::KeyStore;
use skranke_core::store::Store;
use skranke_core::sync::{self, HttpAllocator};
use skranke_protocol::{header, signing_message};
use skranke_rules::cpr::Sex;
use support::*;

fn checkpoint(store: &Store) {
    store.connection().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
}

/// The desk's signing key, from the key store it was enrolled with.
fn signing_key(keys: &dyn KeyStore, desk_id: &str) -> SigningKey {
    let seed = keys.get(desk_id, sync::SIGNING_KEY).unwrap().expect("the desk's signing key");
    SigningKey::from_bytes(&hex::decode(seed).unwrap().try_into().unwrap())
}

/// One POST signed as the desk signs it: the status and the JSON answer.
fn signed_post(url: &str, desk_id: &str, key: &SigningKey, path: &str, body: &Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let timestamp = Utc::now().timestamp();
    let nonce = common::random_hex(16);
    let signature = key.sign(&signing_message("POST", path, timestamp, &nonce, &bytes));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut answer = agent
        .post(&format!("{url}{path}"))
        .header("content-type", "application/json")
        .header(header::DESK, desk_id)
        .header(header::TIMESTAMP, timestamp.to_string())
        .header(header::NONCE, nonce)
        .header(header::SIGNATURE, hex::encode(signature.to_bytes()))
        .send(&bytes[..])
        .unwrap();
    let status = answer.status().as_u16();
    let text = answer.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn lease(url: &str, desk_id: &str, key: &SigningKey) -> (u16, Value) {
    let body = json!({ "idempotency_key": format!("{desk_id}/lease/{}", common::random_hex(8)), "units": 1 });
    signed_post(url, desk_id, key, "/v1/lease", &body)
}

fn allocate(url: &str, desk_id: &str, key: &SigningKey) -> (u16, Value) {
    let body = json!({
        "idempotency_key": format!("{desk_id}/allocate/{}", common::random_hex(8)),
        "birth_date": "1993-03-03",
        "sex": "F",
    });
    signed_post(url, desk_id, key, "/v1/allocate", &body)
}

fn quarantined(reg: &LiveRegistry, desk_id: &str) -> bool {
    reg.count(&format!("SELECT count(*) FROM desks WHERE desk_id = '{desk_id}' AND quarantined_at IS NOT NULL")) == 1
}

/// The rule of issue 17 ("Forks"): two copies of one desk (disk and key
/// ring copied) that both issue offline and sync fork the desk's audit
/// chain; the registry then quarantines the desk ID once (`quarantined_at`,
/// one `desk_quarantined` in `operator_log` naming the desk and the audit
/// seq of the fork, one notice the desk sees), refuses it leases and online
/// numbers with `desk.quarantined` while another desk still leases, keeps
/// taking its uploads (sync completes with nothing pending, a record issued
/// after the quarantine is accepted), and records the copy's numbers as
/// disputed. The operator's desk list shows the state.
#[test]
fn a_desk_whose_audit_chain_forks_is_quarantined_and_gets_no_numbers_but_loses_nothing() {
    let reg = LiveRegistry::start();
    let url = reg.url();
    let keys = Arc::new(CopyableKeyStore::default());
    let mut a = TestDesk::enrol(&reg, &url, 147, 2, keys.clone());
    let client_a = a.client(&url);
    a.issue(0, date(1982, 2, 1), Sex::Female, None).unwrap();
    sync::run(&mut a.store, &client_a).unwrap();
    let other_keys = Arc::new(CopyableKeyStore::default());
    let other = TestDesk::enrol(&reg, &url, 101, 3, other_keys.clone());

    // The copy: same disk, same key ring.
    checkpoint(&a.store);
    let dir_b = tempfile::tempdir().unwrap();
    copy_desk_folder(a.dir.path(), dir_b.path());
    let keys_b: Arc<dyn KeyStore> = Arc::new(keys.snapshot());
    let mut store_b = Store::open(dir_b.path(), Box::new(keys_b.clone()), Utc::now()).unwrap();
    let session = store_b.sign_in(ADMIN, PASSWORD, Utc::now()).unwrap();
    let mut b = TestDesk { dir: dir_b, store: store_b, id: a.id.clone(), session, keystore: keys_b };
    let client_b = b.client(&url);
    let key = signing_key(keys.as_ref(), &a.id);
    assert_eq!(lease(&url, &a.id, &key).0, 200, "before the fork the desk leases");

    // Both issue offline and sync: the copy's audit entries fork the chain.
    for i in 0..2 {
        a.issue(10 + i, date(1990, 6, 10 + i as u32), Sex::Male, None).unwrap();
    }
    let mut b_numbers = Vec::new();
    for i in 0..2 {
        b_numbers.push(b.issue(20 + i, date(1991, 7, 20 + i as u32), Sex::Male, None).unwrap().number.to_string());
    }
    let ra = sync::run(&mut a.store, &client_a).unwrap();
    assert!(!quarantined(&reg, &a.id), "one history alone is no fork: {ra:?}");
    let rb = sync::run(&mut b.store, &client_b).unwrap();
    assert_eq!(rb.pending, 0, "the copy's uploads are all taken: {rb:?}");
    assert!(
        reg.count(&format!(
            "SELECT count(*) FROM conflicts WHERE desk_id = '{}' AND body->>'kind' = 'audit'
             AND reason IN ('conflict:audit_chain', 'conflict:idempotency_key')",
            a.id
        )) > 0,
        "the copy's audit entries are kept as a forked chain"
    );

    // Quarantined, once, naming the fork's first audit entry and nothing more.
    assert!(quarantined(&reg, &a.id));
    let logged = reg.rows(&format!(
        "SELECT detail::text FROM operator_log WHERE action = 'desk_quarantined' AND detail->>'desk_id' = '{}'",
        a.id
    ));
    assert_eq!(logged.len(), 1, "{logged:?}");
    let detail: Value = serde_json::from_str(logged[0][0].as_deref().unwrap()).unwrap();
    let first_forked = reg.count(&format!(
        "SELECT min((body->'payload'->>'seq')::bigint) FROM conflicts WHERE desk_id = '{}' AND body->>'kind' = 'audit'",
        a.id
    ));
    assert_eq!(detail, json!({ "desk_id": a.id, "audit_seq": first_forked }));

    // Refused numbers, by lease and online; another desk still leases.
    for (status, problem) in [lease(&url, &a.id, &key), allocate(&url, &a.id, &key)] {
        assert_eq!((status, problem["code"].as_str()), (403, Some("desk.quarantined")), "{problem}");
    }
    let give_back = json!({ "idempotency_key": format!("{}/return/1", a.id), "units": [], "records_issued": 0 });
    let (status, problem) = signed_post(&url, &a.id, &key, "/v1/lease/return", &give_back);
    assert_eq!((status, problem["code"].as_str()), (403, Some("desk.quarantined")), "its units stay bound to it");
    let (status, answer) = lease(&url, &other.id, &signing_key(other_keys.as_ref(), &other.id));
    assert_eq!(status, 200, "{answer}");
    assert!(!quarantined(&reg, &other.id));

    // Online issue gets no number from the registry: the record, if the desk
    // issues it at all, comes from its lease.
    let online_before =
        reg.count(&format!("SELECT count(*) FROM numbers WHERE origin = 'online' AND desk_id = '{}'", a.id));
    let online = HttpAllocator::new(&client_a);
    match a.issue(30, date(1993, 3, 3), Sex::Female, Some(&online)) {
        Ok(r) => assert_eq!(r.source, NumberSource::Lease, "{r:?}"),
        Err(e) => assert!(format!("{e:?}").contains("desk.quarantined"), "{e:?}"),
    }
    let online_after =
        reg.count(&format!("SELECT count(*) FROM numbers WHERE origin = 'online' AND desk_id = '{}'", a.id));
    assert_eq!(online_after, online_before, "no online number for a quarantined desk");

    // Uploads still come in: a record issued now is accepted, and both copies sync to the end.
    let records_before = reg.count(&format!("SELECT count(*) FROM records WHERE desk_id = '{}'", a.id));
    let after = a.issue(40, date(1994, 4, 4), Sex::Male, None).unwrap();
    let ra = sync::run(&mut a.store, &client_a).unwrap();
    assert_eq!(ra.pending, 0, "{ra:?}");
    assert_eq!(reg.count(&format!("SELECT count(*) FROM records WHERE record_id = '{}'", after.record_id)), 1);
    assert!(reg.count(&format!("SELECT count(*) FROM records WHERE desk_id = '{}'", a.id)) > records_before);
    let rb = sync::run(&mut b.store, &client_b).unwrap();
    assert_eq!(rb.pending, 0, "{rb:?}");

    // Told once, seen at both copies; logged once however often the fork shows again.
    assert_eq!(
        reg.count(&format!("SELECT count(*) FROM notices WHERE desk_id = '{}' AND kind = 'desk_quarantined'", a.id)),
        1
    );
    for store in [&mut a.store, &mut b.store] {
        let status = sync::status(store, Utc::now()).unwrap();
        assert!(status.notices.iter().any(|n| n.kind == "desk_quarantined"), "{:?}", status.notices);
    }
    assert_eq!(reg.count("SELECT count(*) FROM operator_log WHERE action = 'desk_quarantined'"), 1);

    // Both branches' numbers are recorded: the copy's are disputed.
    for n in &b_numbers {
        let digits = n.replace('-', "");
        let disputed = reg.count(&format!(
            "SELECT count(*) FROM disputed_numbers WHERE number = '{digits}' AND desk_id = '{}'",
            a.id
        ));
        assert_eq!(disputed, 1, "{n} is disputed");
    }

    // The operator's list shows the desk quarantined, and the other desk active.
    let pool = reg.pool();
    let desks = reg.block_on(async move { skranke_registry::ops::desks(&pool).await }).unwrap();
    let state = |id: &str| desks.iter().find(|d| d.desk_id == id).map(|d| d.state);
    assert_eq!(state(&a.id), Some(skranke_registry::revocation::DeskState::Quarantined));
    assert_eq!(state(&other.id), Some(skranke_registry::revocation::DeskState::Active));
    let quarantined_desk = desks.iter().find(|d| d.desk_id == a.id).unwrap();
    assert!(quarantined_desk.quarantined_at.is_some());
    assert_eq!(quarantined_desk.state.message_key(), "registry.desk_quarantined");
    use skranke_rules::i18n::{text, Lang};
    for key in ["registry.desk_quarantined", "protocol.problem.desk.quarantined", "shell.notice.desk_quarantined"] {
        assert_ne!(text(Lang::En, key), key, "{key} has English text");
        assert_ne!(text(Lang::Da, key), text(Lang::En, key), "{key} has Danish text");
    }
}
