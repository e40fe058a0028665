//! Personal data at the registry against a real PostgreSQL: retention
//! (`purge`), the access export and correction, each audited.

mod common;

use axum::http::{Method, StatusCode};
use chrono::{Days, Utc};
use common::*;
use serde_json::json;
use skranke_protocol::{registry_duplicate_key, Event, EventBody, NumberSource, Reprint};
use skranke_registry::privacy::{self, Field, Person};
use skranke_registry::RegistryError;
use skranke_rules::cpr::{Personnummer, Sex};

/// An issued record whose document key is the registry form of `LT|<doc>`.
async fn issue(desk: &mut Desk, who: &str, doc: &str) -> (String, Personnummer) {
    let (_, n) = desk.allocate(&format!("k-{who}"), date(1979, 6, 21), Sex::Female).await;
    let n = number(n["number"].as_str().unwrap());
    let rid = desk.record_id();
    let mut event = issued(&rid, &n, NumberSource::Online, who);
    if let EventBody::Issued(r) = &mut event.body {
        r.document_key = registry_duplicate_key("document", &format!("LT|{doc}"));
    }
    let event = Event::new(event.idempotency_key.clone(), event.body);
    let (_, up) = desk.upload(&[event]).await;
    assert_eq!(outcomes(&up), ["accepted"], "{up}");
    (rid, n)
}

async fn confirm(reg: &Registry, ids: &[&str]) {
    let auth = [("authorization", "Bearer feed-secret".to_string())];
    let (s, c) = reg.send(Method::POST, "/v1/feed/confirm", &json!({ "registered": ids }), &auth).await;
    assert_eq!((s, c["confirmed"].as_u64()), (StatusCode::OK, Some(ids.len() as u64)));
}

async fn texts(reg: &Registry, sql: &str) -> Vec<String> {
    let client = reg.state.pool.get().await.unwrap();
    client.query(sql, &[]).await.unwrap().iter().map(|r| r.get::<_, Option<String>>(0).unwrap_or_default()).collect()
}

/// Every place a record's content is copied to, as text.
async fn everything(reg: &Registry) -> String {
    let mut all = Vec::new();
    for sql in [
        "SELECT content::text FROM records",
        "SELECT body::text FROM events",
        "SELECT body::text FROM conflicts",
        "SELECT payload::text FROM feed",
    ] {
        all.extend(texts(reg, sql).await);
    }
    all.join("\n")
}

#[tokio::test]
async fn purge_erases_names_document_and_password_hash_after_retention_keeps_numbers_keys_and_states_and_is_audited() {
    let reg = Registry::start().await;
    let mut a = reg.desk(101).await;
    let (old, old_number) = issue(&mut a, "Oldfield", "LT0000001").await;
    let (recent, _) = issue(&mut a, "Recentia", "LT0000002").await;
    issue(&mut a, "Waitwell", "LT0000003").await;
    let reprint = Event::new(
        format!("{old}:reprint"),
        EventBody::Reprinted(Reprint {
            record_id: old.clone(),
            reprinted_at: Utc::now(),
            password_hash:
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$UmVwcmludAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                    .into(),
            jobnet_username: None,
        }),
    );
    assert_eq!(outcomes(&a.upload(&[reprint]).await.1), ["accepted"]);
    // A conflicting event (the same record ID with other content) is kept too.
    let clone = Event::new("clone:1", issued(&old, &old_number, NumberSource::Online, "Clonebury").body);
    assert_eq!(outcomes(&a.upload(&[clone]).await.1), ["conflict"]);

    // `old` is registered 400 days before the purge, `recent` 10 days before; `waiting` never.
    let now = Utc::now();
    *reg.clock.lock().unwrap() = now - Days::new(400);
    confirm(&reg, &[&old]).await;
    *reg.clock.lock().unwrap() = now - Days::new(10);
    confirm(&reg, &[&recent]).await;
    let pool = &reg.state.pool;
    let later = now + Days::new(1);
    // The conflict was received now (the database's clock), so only a purge
    // that looks far enough ahead erases it (below).
    let dry = privacy::purge(pool, "oper", 365, later, true).await.unwrap();
    assert_eq!((dry.records, dry.dry_run), (1, true));
    let before = everything(&reg).await;
    assert!(before.contains("Person Oldfield") && before.contains("PERSON Oldfield"));
    assert!(before.contains("UmVwcmludA"), "the reprint's hash is held");

    let done = privacy::purge(pool, "oper", 365, later, false).await.unwrap();
    assert_eq!((done.records, done.conflicts, done.unconfirmed), (1, 0, 0));
    let after = everything(&reg).await;
    for gone in ["Person Oldfield", "PERSON Oldfield", "UmVwcmludA"] {
        assert!(!after.contains(gone), "{gone} outlived the retention period");
    }
    assert!(after.contains("Person Recentia") && after.contains("Person Waitwell"), "others are kept");
    let row = texts(
        &reg,
        &format!(
            "SELECT concat_ws('|', number, state, document_key, person_key, content->>'number', content->'person'->>'birth_date',
                    content->>'jobnet_username', content->'person'->>'name_latin', content->>'password_hash',
                    personal_erased_at IS NOT NULL)
             FROM records WHERE record_id = '{old}'"
        ),
    )
    .await;
    let fields: Vec<&str> = row[0].split('|').collect();
    assert_eq!(fields[1], "registered");
    let secret = reg.state.key.duplicates().unwrap();
    assert_eq!(fields[2], secret.key(&registry_duplicate_key("document", "LT|LT0000001")), "the keyed hash stays");
    assert_eq!(fields[3], secret.key("person-Oldfield"));
    assert_eq!(fields[4], old_number.to_string());
    assert_eq!(fields[5], "1979-06-21");
    assert_eq!(fields[6], username_of(&old), "the username stays");
    assert_eq!(fields.last(), Some(&"t"));
    assert_eq!(fields.len(), 8, "name_latin and password_hash are gone (concat_ws skips NULL): {fields:?}");
    assert!(reg.sql_count("SELECT count(*) FROM numbers WHERE record_id IS NOT NULL").await >= 3);

    // Far ahead: the recent record is due, the conflict too, the unconfirmed one is counted and kept.
    let far = privacy::purge(pool, "oper", 365, now + Days::new(800), false).await.unwrap();
    assert_eq!((far.records, far.conflicts, far.unconfirmed), (1, 1, 1));
    let after = everything(&reg).await;
    for gone in ["Person Recentia", "Person Clonebury", "PERSON Clonebury"] {
        assert!(!after.contains(gone), "{gone}: {after}");
    }
    assert!(after.contains("Person Waitwell"), "an unconfirmed record is never silently erased");

    let log = texts(
        &reg,
        "SELECT concat(operator, ' ', action, ' ', detail::text) FROM operator_log WHERE action = 'purge' ORDER BY id",
    )
    .await;
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(log[0].starts_with("oper purge") && log[0].contains("\"dry_run\": true"), "{log:?}");
    assert!(log[1].contains("\"records\": 1") && log[1].contains("\"retain_days\": 365"), "{log:?}");
}

#[tokio::test]
async fn export_person_finds_everything_held_by_number_or_document_and_audits_record_ids_only() {
    let reg = Registry::start().await;
    let mut a = reg.desk(101).await;
    let (rid, n) = issue(&mut a, "Exportina", "LT5550001").await;
    let _other = issue(&mut a, "Somebody", "LT5550002").await;
    confirm(&reg, &[&rid]).await;
    let pool = &reg.state.pool;
    let by_number = privacy::export_person(pool, "oper", &Person::Number(n), None, Utc::now()).await.unwrap();
    let records = by_number["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{by_number}");
    let r = &records[0];
    assert_eq!((r["record_id"].as_str(), r["number"].as_str()), (Some(rid.as_str()), Some(n.to_string().as_str())));
    assert_eq!(r["content"]["person"]["name_document"], "Person Exportina");
    assert_eq!(r["state"], "registered");
    assert!(r["registered_at"].is_string());
    assert_eq!(r["number_use"]["origin"], "online");
    assert_eq!(r["events"][0]["kind"], "issued");
    assert_eq!(r["feed"][0]["kind"], "issued");
    assert!(!by_number.to_string().contains("Somebody"), "nobody else's data");

    let by_document = privacy::export_person(
        pool,
        "oper",
        &Person::Document { issuing_state: "lt".into(), number: " lt555 0001 ".into() },
        reg.state.key.duplicate_secret.as_ref(),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(by_document["records"], by_number["records"], "the same person by document (normalised)");
    let none = privacy::export_person(
        pool,
        "oper",
        &Person::Document { issuing_state: "LT".into(), number: "LT999".into() },
        reg.state.key.duplicate_secret.as_ref(),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(none["records"], json!([]));

    let log = texts(&reg, "SELECT detail::text FROM operator_log WHERE action = 'export_person' ORDER BY id").await;
    assert_eq!(log.len(), 3);
    assert!(log[0].contains(&rid), "{log:?}");
    for l in &log {
        assert!(!l.contains(&n.to_string()) && !l.contains(&n.to_string().replace('-', "")) && !l.contains("LT555"));
    }
}

#[tokio::test]
async fn correct_changes_one_field_sends_it_down_the_feed_audits_field_and_reason_never_values_and_refuses_erased() {
    let reg = Registry::start().await;
    let mut a = reg.desk(101).await;
    let (rid, n) = issue(&mut a, "Mistyped", "LT7770001").await;
    let pool = &reg.state.pool;
    let done = privacy::correct(pool, "oper", &n, None, Field::NameLatin, "Müller Mistyped", "typo at the desk")
        .await
        .unwrap();
    assert_eq!((done.record_id.as_str(), done.field), (rid.as_str(), "name_latin"));
    let latin =
        texts(&reg, &format!("SELECT content->'person'->>'name_latin' FROM records WHERE record_id = '{rid}'")).await;
    assert_eq!(latin, ["MUELLER MISTYPED"], "stored in the ICAO Latin form");
    let fed = texts(&reg, "SELECT payload::text FROM feed WHERE kind = 'corrected'").await;
    assert_eq!(fed.len(), 1);
    assert!(fed[0].contains("MUELLER MISTYPED") && fed[0].contains(&rid));
    privacy::correct(pool, "oper", &n, Some(&rid), Field::DocumentExpiryDate, "2031-01-31", "renewed").await.unwrap();
    let expiry = texts(
        &reg,
        &format!("SELECT content->'person'->'document'->>'expiry_date' FROM records WHERE record_id = '{rid}'"),
    )
    .await;
    assert_eq!(expiry, ["2031-01-31"]);

    let log = texts(
        &reg,
        "SELECT concat(operator, ' ', detail::text) FROM operator_log WHERE action = 'correct' ORDER BY id",
    )
    .await;
    assert_eq!(log.len(), 2);
    assert!(log[0].contains("oper") && log[0].contains("name_latin") && log[0].contains("typo at the desk"), "{log:?}");
    for l in &log {
        assert!(
            !l.contains("PERSON Mistyped") && !l.contains("MUELLER") && !l.contains("2031"),
            "no value in the audit: {l}"
        );
    }

    let refused = |e: RegistryError| e.code();
    let bad = privacy::correct(pool, "oper", &n, None, Field::Nationality, "Atlantis", "x").await.unwrap_err();
    assert_eq!(refused(bad), "request.field");
    let bad = privacy::correct(pool, "oper", &n, None, Field::NameDocument, "Anna\u{202E}", "x").await.unwrap_err();
    assert_eq!(refused(bad), "request.field");
    let bad = privacy::correct(pool, "oper", &n, None, Field::NameDocument, "Anna", " ").await.unwrap_err();
    assert_eq!(refused(bad), "request.field");
    let nobody = number("010180-4001");
    let missing = privacy::correct(pool, "oper", &nobody, None, Field::NameDocument, "Anna", "x").await.unwrap_err();
    assert_eq!(refused(missing), "record.not_found");
    assert_eq!(Field::parse("document.issuing_state"), Some(Field::DocumentIssuingState));
    assert_eq!(Field::parse("group"), None, "the eligibility group is not a field the registry holds");

    confirm(&reg, &[&rid]).await;
    privacy::purge(pool, "oper", 0, Utc::now() + Days::new(1), false).await.unwrap();
    let erased = privacy::correct(pool, "oper", &n, None, Field::NameDocument, "Anna", "late").await.unwrap_err();
    assert_eq!(refused(erased), "record.erased");
    let after = everything(&reg).await;
    assert!(!after.contains("MUELLER MISTYPED"), "the correction is erased with the rest: {after}");
}

/// Two instances behind a load balancer share one database: the daily
/// purge runs once for both. Each asks on its own connection at the same
/// moment; one purges under the advisory lock and records it, the other
/// is busy or finds it done; asked again within the day, neither purges;
/// a day after the last recorded purge, one does again.
#[tokio::test]
async fn the_daily_purge_runs_once_a_day_however_many_instances_ask() {
    use skranke_registry::privacy::{scheduled_purge, Scheduled, SCHEDULED_OPERATOR};
    let reg = Registry::start().await;
    let pool = &reg.state.pool;
    let now = Utc::now();
    let runs = |outcomes: &[Scheduled]| outcomes.iter().filter(|o| matches!(o, Scheduled::Ran(_))).count();
    let logged = || async {
        let client = pool.get().await.unwrap();
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM operator_log WHERE action = 'purge' AND operator = $1",
                &[&SCHEDULED_OPERATOR],
            )
            .await
            .unwrap()
            .get(0);
        n
    };

    let (a, b) = tokio::join!(scheduled_purge(pool, 365, now), scheduled_purge(pool, 365, now));
    let first = [a.unwrap(), b.unwrap()];
    assert_eq!(runs(&first), 1, "{first:?}");
    assert!(first.iter().any(|o| matches!(o, Scheduled::NotDue | Scheduled::Busy)), "{first:?}");
    assert_eq!(logged().await, 1);

    let (a, b) = tokio::join!(scheduled_purge(pool, 365, now), scheduled_purge(pool, 365, now));
    let again = [a.unwrap(), b.unwrap()];
    assert_eq!(runs(&again), 0, "{again:?}");
    assert_eq!(logged().await, 1);

    // A day later (the log's time is the database's).
    let client = pool.get().await.unwrap();
    client.execute("UPDATE operator_log SET at = at - interval '24 hours' WHERE action = 'purge'", &[]).await.unwrap();
    let (a, b) = tokio::join!(scheduled_purge(pool, 365, now), scheduled_purge(pool, 365, now));
    let next_day = [a.unwrap(), b.unwrap()];
    assert_eq!(runs(&next_day), 1, "{next_day:?}");
    assert_eq!(logged().await, 2);
}
