//! Keyed duplicate hashes against a real PostgreSQL (`duplicates`): the
//! registry keeps only HMACs of the hashes desks send, so a stolen dump
//! cannot be matched against `registry_duplicate_key` of a guessed document;
//! duplicates are still found across desks; a database from before is
//! re-keyed once, completely, in place.

mod common;

use common::*;
use serde_json::{json, Value};
use skranke_protocol::{registry_duplicate_key, Event, EventBody, NumberSource};
use skranke_registry::duplicates::{self, DuplicateSecret};
use skranke_registry::{RegistryError, RegistryKey};
use skranke_rules::cpr::Sex;

/// An issued record with the document `LT|<doc>` as desks hash it; its
/// person key is `person-<who>`.
async fn issue(desk: &mut Desk, who: &str, doc: &str) -> String {
    let (_, n) = desk.allocate(&format!("k-{who}"), date(1981, 3, 9), Sex::Male).await;
    let n = number(n["number"].as_str().unwrap());
    let rid = desk.record_id();
    let mut event = issued(&rid, &n, NumberSource::Online, who);
    if let EventBody::Issued(r) = &mut event.body {
        r.document_key = unkeyed(doc);
    }
    let event = Event::new(event.idempotency_key.clone(), event.body);
    let (_, up) = desk.upload(&[event]).await;
    assert_eq!(outcomes(&up), ["accepted"], "{up}");
    rid
}

fn unkeyed(doc: &str) -> String {
    registry_duplicate_key("document", &format!("LT|{doc}"))
}

/// How often `needle` occurs in any text, character or JSON column of any
/// table of the registry's schema: what a dump would show.
async fn occurrences(reg: &Registry, needle: &str) -> i64 {
    let client = reg.state.pool.get().await.unwrap();
    let columns = client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND data_type IN ('text', 'character', 'character varying', 'jsonb', 'json')",
            &[],
        )
        .await
        .unwrap();
    assert!(columns.len() > 20, "the schema's columns were found");
    let mut n = 0;
    for c in &columns {
        let (table, column): (String, String) = (c.get(0), c.get(1));
        let sql = format!("SELECT count(*) FROM \"{table}\" WHERE strpos(\"{column}\"::text, $1) > 0");
        n += client.query_one(&sql, &[&needle]).await.unwrap().get::<_, i64>(0);
    }
    n
}

/// Every table's rows as text, in a fixed order: to compare two states.
async fn dump(reg: &Registry) -> String {
    let client = reg.state.pool.get().await.unwrap();
    let mut out = String::new();
    for (table, order) in
        [("records", "record_id"), ("events", "desk_id, idempotency_key"), ("conflicts", "id"), ("feed", "seq")]
    {
        for r in client.query(&format!("SELECT t::text FROM {table} t ORDER BY {order}"), &[]).await.unwrap() {
            out.push_str(&r.get::<_, String>(0));
            out.push('\n');
        }
    }
    out
}

async fn notices(reg: &Registry) -> Vec<String> {
    let client = reg.state.pool.get().await.unwrap();
    client
        .query("SELECT kind || ' ' || record_id || ' ' || other_record_id FROM notices WHERE kind LIKE 'duplicate%' ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A lookup as a desk sends it (unkeyed): the desks it matched.
async fn lookup(desk: &Desk, document_key: &str) -> Vec<Value> {
    let (s, body) = desk.post("/v1/lookup", json!({ "document_key": document_key })).await;
    assert!(s.is_success(), "{body}");
    body["matches"].as_array().cloned().unwrap_or_default()
}

/// An event under `key` with other content than the one held: kept in
/// `conflicts` with its payload, duplicate keys included.
fn clash(key: &str, rid: &str, n: &skranke_rules::cpr::Personnummer, doc: &str) -> Event {
    let mut event = issued(rid, n, NumberSource::Online, "Clashing");
    if let EventBody::Issued(r) = &mut event.body {
        r.document_key = unkeyed(doc);
    }
    Event::new(key.to_string(), event.body)
}

#[tokio::test]
async fn a_dump_holds_only_keyed_hashes_and_two_desks_with_one_document_still_get_the_duplicate_notice() {
    let reg = Registry::start().await;
    let secret = reg.state.key.duplicates().unwrap();
    let (mut a, mut b) = (reg.desk(101).await, reg.desk(147).await);
    let first = issue(&mut a, "Twinley", "LT8880001").await;
    let second = issue(&mut b, "Twainley", "LT8880001").await;

    // The duplicate is found as before: both desks are told.
    assert_eq!(
        notices(&reg).await,
        [format!("duplicate_document {second} {first}"), format!("duplicate_document {first} {second}")]
    );
    let matches = lookup(&a, &unkeyed("LT8880001")).await;
    assert_eq!(matches.len(), 2, "both desks, by the hash desks send: {matches:?}");
    assert!(matches.iter().all(|m| m["kind"] == "document"), "{matches:?}");
    assert!(lookup(&a, &unkeyed("LT8880002")).await.is_empty());

    // What a thief with the dump would test a guess against is nowhere.
    assert_eq!(occurrences(&reg, &unkeyed("LT8880001")).await, 0, "no unkeyed document hash anywhere");
    assert_eq!(occurrences(&reg, "person-Twinley").await, 0, "no unkeyed person hash anywhere");
    let client = reg.state.pool.get().await.unwrap();
    let stored: String =
        client.query_one("SELECT document_key FROM records WHERE record_id = $1", &[&first]).await.unwrap().get(0);
    assert_ne!(stored, unkeyed("LT8880001"));
    assert_eq!(stored, secret.key(&unkeyed("LT8880001")), "the keyed form, under the registry's secret");
    assert!(occurrences(&reg, &stored).await >= 4, "records (column and content), events, feed");
}

#[tokio::test]
async fn rekey_keys_every_unkeyed_copy_of_a_database_from_before_once_and_matches_still_meet() {
    let mut reg = Registry::start().await;
    let secret = reg.state.key.duplicates().unwrap().clone();
    let (mut a, mut b) = (reg.desk(101).await, reg.desk(147).await);
    let first = issue(&mut a, "Oldtimer", "LT9990001").await;
    let _other = issue(&mut a, "Bystander", "LT9990002").await;
    // A conflicting event keeps its payload (with the keys) in `conflicts`.
    let (_, n) = a.allocate("k-clash", date(1981, 3, 9), Sex::Male).await;
    let n = number(n["number"].as_str().unwrap());
    let held_key = {
        let client = reg.state.pool.get().await.unwrap();
        client
            .query_one("SELECT idempotency_key FROM events WHERE record_id = $1", &[&first])
            .await
            .unwrap()
            .get::<_, String>(0)
    };
    let clash_id = a.record_id();
    let (_, up) = a.upload(&[clash(&held_key, &clash_id, &n, "LT9990003")]).await;
    assert_eq!(outcomes(&up), ["conflict"], "{up}");

    // The database as the registry kept it before: every keyed copy back in
    // its unkeyed form, and the marker unset.
    let plain: Vec<String> = vec![
        unkeyed("LT9990001"),
        unkeyed("LT9990002"),
        unkeyed("LT9990003"),
        "person-Oldtimer".into(),
        "person-Bystander".into(),
        "person-Clashing".into(),
    ];
    {
        let client = reg.state.pool.get().await.unwrap();
        for p in &plain {
            let k = secret.key(p);
            client
                .batch_execute(&format!(
                    "UPDATE records SET document_key = replace(document_key, '{k}', '{p}'),
                                        person_key = replace(person_key, '{k}', '{p}'),
                                        content = replace(content::text, '{k}', '{p}')::jsonb;
                     UPDATE events SET body = replace(body::text, '{k}', '{p}')::jsonb;
                     UPDATE conflicts SET body = replace(body::text, '{k}', '{p}')::jsonb;
                     UPDATE feed SET payload = replace(payload::text, '{k}', '{p}')::jsonb;"
                ))
                .await
                .unwrap();
        }
        client.batch_execute("UPDATE duplicate_keying SET fingerprint = NULL, keyed_at = NULL").await.unwrap();
    }
    assert_eq!(occurrences(&reg, &unkeyed("LT9990001")).await, 4, "records (column, content), events, feed");
    assert_eq!(occurrences(&reg, &unkeyed("LT9990003")).await, 1, "the conflict's payload");
    for p in &plain {
        assert_eq!(occurrences(&reg, &secret.key(p)).await, 0, "the old form only: {p}");
    }

    let done = duplicates::rekey(&reg.state.pool, &secret).await.unwrap();
    assert!(done.ran);
    assert_eq!((done.records, done.events, done.conflicts, done.feed), (2, 2, 1, 2), "{done:?}");
    for p in &plain {
        assert_eq!(occurrences(&reg, p).await, 0, "no unkeyed copy of {p} remains");
    }
    assert_eq!(occurrences(&reg, &secret.key(&unkeyed("LT9990001"))).await, 4);
    assert_eq!(occurrences(&reg, &secret.key(&unkeyed("LT9990003"))).await, 1);

    // Twice changes nothing.
    let before = dump(&reg).await;
    assert_eq!(duplicates::rekey(&reg.state.pool, &secret).await.unwrap(), duplicates::Rekeyed::default());
    assert_eq!(dump(&reg).await, before, "a second run leaves every row as it was");

    // Lookups and duplicate detection still find the re-keyed record.
    let matches = lookup(&b, &unkeyed("LT9990001")).await;
    assert_eq!(matches.len(), 1, "{matches:?}");
    assert_eq!(matches[0]["desk_id"], json!(a.id));
    let (person, _) = b.post("/v1/lookup", json!({ "person_key": "person-Bystander" })).await;
    assert!(person.is_success());
    let second = issue(&mut b, "Newcomer", "LT9990001").await;
    assert_eq!(
        notices(&reg).await,
        [format!("duplicate_document {second} {first}"), format!("duplicate_document {first} {second}")]
    );

    // Another secret than the stored hashes were keyed with is refused, by name.
    let other = DuplicateSecret::generate();
    let err = duplicates::rekey(&reg.state.pool, &other).await.unwrap_err();
    assert!(matches!(err, RegistryError::Key { code: "duplicate_secret_changed", .. }), "{err:?}");
    let now_held = dump(&reg).await;
    assert!(duplicates::rekey(&reg.state.pool, &other).await.is_err());
    assert_eq!(dump(&reg).await, now_held, "a refused re-keying changes nothing");
    // A rotated registry key keeps the secret: nothing to re-key.
    let rotated = reg.state.key.rotate(chrono::Utc::now(), 30);
    reg.use_key(rotated);
    let again: RegistryKey = (*reg.state.key).clone();
    assert_eq!(duplicates::rekey(&reg.state.pool, again.duplicates().unwrap()).await.unwrap().ran, false);
}

#[tokio::test]
async fn a_fresh_database_is_marked_keyed_with_nothing_to_change() {
    let reg = Registry::start().await;
    let secret = reg.state.key.duplicates().unwrap();
    let client = reg.state.pool.get().await.unwrap();
    let unset: Option<String> = client.query_one("SELECT fingerprint FROM duplicate_keying", &[]).await.unwrap().get(0);
    assert_eq!(unset, None, "the migration leaves it to the Rust step");
    let done = duplicates::rekey(&reg.state.pool, secret).await.unwrap();
    assert_eq!((done.ran, done.records, done.events, done.conflicts, done.feed), (true, 0, 0, 0, 0));
    let set: Option<String> = client.query_one("SELECT fingerprint FROM duplicate_keying", &[]).await.unwrap().get(0);
    assert_eq!(set, Some(secret.fingerprint()));
    assert_ne!(secret.fingerprint(), secret.to_hex(), "the fingerprint is not the secret");
}
