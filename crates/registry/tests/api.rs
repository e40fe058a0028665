//! The registry's API against a real PostgreSQL (see `scripts/ci/postgres.sh`).

mod common;

use std::collections::HashSet;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use chrono::Utc;
use common::*;
use serde_json::{json, Value};
use skranke_protocol::{audit_genesis, AuditEntry, Event, EventBody, NumberSource, Void};
use skranke_registry::{ops, Config, RateLimit};
use skranke_rules::cpr::{Personnummer, Sex};
use skranke_rules::lease::LeaseUnit;

#[tokio::test]
async fn an_enrolment_code_works_exactly_once() {
    let reg = Registry::start().await;
    let code = reg.enrolment_code(101).await;
    let enrol = |key: String| json!({ "enrolment_code": code.to_lowercase(), "public_key": key });
    let k1 = hex::encode(new_key().verifying_key().as_bytes());
    let (s, body) = reg.send(Method::POST, "/v1/enrol", &enrol(k1), &[]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["municipality"], 101);
    let k2 = hex::encode(new_key().verifying_key().as_bytes());
    let (s, body) = reg.send(Method::POST, "/v1/enrol", &enrol(k2), &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "enrol.code");
    let (s, _) =
        reg.send(Method::POST, "/v1/enrol", &json!({ "enrolment_code": "NOPE", "public_key": "00" }), &[]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unsigned_stale_replayed_and_foreign_signed_requests_are_refused() {
    let reg = Registry::start().await;
    let a = reg.desk(101).await;
    let b = reg.desk(147).await;
    let body = json!({ "idempotency_key": "k1", "units": 1 });
    let bytes = serde_json::to_vec(&body).unwrap();

    let (s, p) = send(&reg.router, Method::POST, "/v1/lease", bytes.clone(), &[]).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("auth.missing")));

    // B's key, A's name.
    let headers = a.signed_headers("POST", "/v1/lease", &bytes, &a.id, &b.key);
    let (s, p) = send(&reg.router, Method::POST, "/v1/lease", bytes.clone(), &headers).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("auth.signature")));

    // Signed for another body.
    let headers = a.signed_headers("POST", "/v1/lease", b"{}", &a.id, &a.key);
    let (s, _) = send(&reg.router, Method::POST, "/v1/lease", bytes.clone(), &headers).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // A valid request works once; the same bytes again are a replay.
    let headers = a.signed_headers("POST", "/v1/lease", &bytes, &a.id, &a.key);
    let (s, _) = send(&reg.router, Method::POST, "/v1/lease", bytes.clone(), &headers).await;
    assert_eq!(s, StatusCode::OK);
    let (s, p) = send(&reg.router, Method::POST, "/v1/lease", bytes.clone(), &headers).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("auth.replay")));

    // A timestamp ten minutes off.
    let mut headers = a.signed_headers("POST", "/v1/lease", &bytes, &a.id, &a.key);
    let old = Utc::now().timestamp() - 600;
    headers[1].1 = old.to_string();
    let nonce = headers[2].1.clone();
    use ed25519_dalek::Signer;
    let sig = a.key.sign(&skranke_protocol::signing_message("POST", "/v1/lease", old, &nonce, &bytes));
    headers[3].1 = hex::encode(sig.to_bytes());
    let (s, p) = send(&reg.router, Method::POST, "/v1/lease", bytes, &headers).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("auth.stale")));
}

#[tokio::test]
async fn online_allocation_gives_modulus_11_numbers_first_never_twice_and_the_same_number_for_a_retry() {
    // A generous deadline: this test is about uniqueness under concurrency on a busy machine.
    let config =
        Config { allocate_deadline: Duration::from_secs(60), allocate_limit: RateLimit::OFF, ..Config::default() };
    let reg = Registry::with_config(config).await;
    let desk = std::sync::Arc::new(reg.desk(101).await);
    let d = date(1985, 3, 14);
    let mut handles = Vec::new();
    for i in 0..24 {
        let desk = desk.clone();
        handles.push(tokio::spawn(async move { desk.allocate(&format!("a{i}"), d, Sex::Female).await }));
    }
    let mut numbers = HashSet::new();
    for h in handles {
        let (s, body) = h.await.unwrap();
        assert_eq!(s, StatusCode::OK, "{body}");
        let n = number(body["number"].as_str().unwrap());
        assert_eq!((n.birth_date(), n.sex()), (d, Sex::Female));
        assert!(n.passes_modulus11(), "the first allocations are modulus-11 numbers");
        assert!(LeaseUnit::containing(&n).is_none());
        assert!(numbers.insert(n), "a number was allocated twice");
    }
    let (_, again) = desk.allocate("a3", d, Sex::Female).await;
    assert!(numbers.contains(&number(again["number"].as_str().unwrap())));
    let (s, p) = desk.allocate("a3", d, Sex::Male).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("request.key_reused")));
    let (s, _) = desk.allocate("future", today() + chrono::Days::new(1), Sex::Male).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_allocation_that_misses_its_deadline_is_answered_with_a_timeout_so_the_desk_uses_its_lease() {
    let reg = Registry::with_config(Config { allocate_deadline: Duration::from_nanos(1), ..Config::default() }).await;
    let desk = reg.desk(101).await;
    let (s, p) = desk.allocate("k", date(1985, 3, 14), Sex::Female).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("allocate.timeout")));
}

#[tokio::test]
async fn online_allocation_never_hands_out_a_number_inside_a_unit_bound_to_a_desk() {
    let reg =
        Registry::with_config(Config { units_per_desk: 800, allocate_limit: RateLimit::OFF, ..Config::default() })
            .await;
    let holder = reg.desk(101).await;
    let (s, lease) = holder.lease("all", 800).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(lease["granted"].as_array().unwrap().len(), 800);
    let online = reg.desk(147).await;
    let d = date(1990, 6, 1);
    let mut got = Vec::new();
    loop {
        let (s, body) = online.allocate(&format!("k{}", got.len()), d, Sex::Male).await;
        if s == StatusCode::CONFLICT {
            assert_eq!(body["code"], "allocate.exhausted");
            break;
        }
        assert_eq!(s, StatusCode::OK, "{body}");
        got.push(number(body["number"].as_str().unwrap()));
        assert!(got.len() <= 200, "more numbers than the block keeps outside units");
    }
    // 200 slots, each keeps exactly one serial per date and parity out of its units.
    assert_eq!(got.len(), 200);
    assert!(got.iter().all(|n| LeaseUnit::containing(n).is_none()));
    let first_failing = got.iter().position(|n| !n.passes_modulus11()).unwrap();
    assert!(got[first_failing..].iter().all(|n| !n.passes_modulus11()));
}

#[tokio::test]
async fn leases_are_idempotent_bound_to_one_desk_and_come_back_only_after_a_complete_sync() {
    let reg = Registry::start().await;
    let mut a = reg.desk(101).await;
    let b = reg.desk(147).await;
    let (_, first) = a.lease("l1", 2).await;
    let (_, retry) = a.lease("l1", 2).await;
    assert_eq!(first["granted"], retry["granted"]);
    let a_units = units_of(&first["granted"]);
    assert_eq!(a_units.len(), 2);
    let (_, more) = a.lease("l2", 5).await;
    assert!(more["granted"].as_array().unwrap().is_empty(), "capped at units_per_desk");
    let (_, b_lease) = b.lease("l1", 2).await;
    let b_units = units_of(&b_lease["granted"]);
    assert!(b_units.iter().all(|u| !a_units.contains(u)), "a unit is bound to one desk at a time");

    // A issues one number offline and has not uploaded it yet.
    let n = a_units[0].number(date(1980, 1, 1), Sex::Female).unwrap();
    let rid = a.record_id();
    let give_back = json!({ "idempotency_key": "r1", "units": a_units, "records_issued": 1 });
    let (s, p) = a.post("/v1/lease/return", give_back.clone()).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("lease.sync_incomplete")));
    let (_, up) = a.upload(&[issued(&rid, &n, NumberSource::Lease, "x")]).await;
    assert_eq!(outcomes(&up), ["accepted"]);
    let (s, back) = a.post("/v1/lease/return", give_back).await;
    assert_eq!(s, StatusCode::OK, "{back}");
    assert_eq!(back["returned"].as_array().unwrap().len(), 2);

    // The next desk to lease that unit learns the number already used in it.
    let c = reg.desk(461).await;
    let (_, c_lease) = c.lease("l1", 2).await;
    let binding =
        c_lease["bindings"].as_array().unwrap().iter().find(|b| units_of(&json!([b["unit"]]))[0] == a_units[0]);
    let binding = binding.expect("the returned unit is leased again");
    assert_eq!(binding["used"], json!([n.to_string()]));
}

/// A newer desk's event with a field this registry does not know is taken:
/// its content hash is over the body as sent (the unknown field included),
/// the same event again is `already_held`, and a hash over the body without
/// the field is refused as `content_hash`.
#[tokio::test]
async fn an_event_with_a_field_this_registry_does_not_know_is_hashed_as_received() {
    let reg = Registry::start().await;
    let mut a = reg.desk(101).await;
    let (_, la) = a.lease("l", 1).await;
    let ua = units_of(&la["granted"])[0];
    let hashed = |v: &Value| {
        let body = json!({ "kind": v["kind"], "payload": v["payload"] });
        skranke_core::protocol::sha256_hex(skranke_core::protocol::canonical_json(&body).as_bytes())
    };
    let newer = |event: Event| {
        let mut v = serde_json::to_value(&event).unwrap();
        v["payload"]["added_later"] = json!({ "by": "a newer desk" });
        v
    };
    let mut sent =
        newer(issued(&a.record_id(), &ua.number(date(1975, 5, 5), Sex::Male).unwrap(), NumberSource::Lease, "p1"));
    sent["content_hash"] = json!(hashed(&sent));
    let (s, body) = a.post("/v1/events", json!({ "events": [sent.clone()] })).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(outcomes(&body), ["accepted"], "{body}");
    let (_, again) = a.post("/v1/events", json!({ "events": [sent] })).await;
    assert_eq!(outcomes(&again), ["already_held"]);
    // The desk's hash must cover what it sent.
    let typed = issued(&a.record_id(), &ua.number(date(1976, 1, 1), Sex::Male).unwrap(), NumberSource::Lease, "p2");
    let typed_hash = typed.content_hash.clone();
    let mut short = newer(typed);
    short["content_hash"] = json!(typed_hash);
    let (_, body) = a.post("/v1/events", json!({ "events": [short] })).await;
    assert_eq!((outcomes(&body), reasons(&body)), (vec!["invalid".to_string()], vec!["content_hash".to_string()]));
}

#[tokio::test]
async fn upload_answers_accepted_already_held_conflict_and_invalid_per_event() {
    let reg = Registry::start().await;
    let mut a = reg.desk(101).await;
    let mut b = reg.desk(147).await;
    let (_, la) = a.lease("l", 1).await;
    let (_, lb) = b.lease("l", 1).await;
    let ua = units_of(&la["granted"])[0];
    let ub = units_of(&lb["granted"])[0];
    let d = date(1975, 5, 5);

    let good = issued(&a.record_id(), &ua.number(d, Sex::Male).unwrap(), NumberSource::Lease, "p1");
    let mut tampered =
        issued(&a.record_id(), &ua.number(date(1976, 1, 1), Sex::Male).unwrap(), NumberSource::Lease, "p2");
    tampered.content_hash = "0".repeat(64);
    let not_held = issued(&a.record_id(), &ub.number(d, Sex::Male).unwrap(), NumberSource::Lease, "p3");
    let outside = issued(&a.record_id(), &number("050575-1234"), NumberSource::Lease, "p4");
    let never_allocated =
        issued(&a.record_id(), &Personnummer::from_parts(d, 9993).unwrap(), NumberSource::Online, "p5");
    let (s, body) = a.upload(&[good.clone(), tampered, not_held, outside, never_allocated]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(outcomes(&body), ["accepted", "invalid", "invalid", "invalid", "invalid"]);
    assert_eq!(reasons(&body)[1..], ["content_hash", "number_not_held", "number_outside_block", "number_not_held"]);
    assert!(body["registry_time"].is_string() && body["registry_sequence"].as_i64().unwrap() > 0);

    // The same event again; then the same key with other content.
    let (_, again) = a.upload(std::slice::from_ref(&good)).await;
    assert_eq!(outcomes(&again), ["already_held"]);
    let mut changed =
        issued(&format!("{}-1", a.id), &ua.number(date(1975, 5, 6), Sex::Male).unwrap(), NumberSource::Lease, "p1");
    changed.idempotency_key = good.idempotency_key.clone();
    let (_, body) = a.upload(&[changed.clone()]).await;
    assert_eq!((outcomes(&body), reasons(&body)), (vec!["conflict".to_string()], vec!["idempotency_key".to_string()]));
    // A refused event gets the same verdict when retried.
    let (_, body) = a.upload(&[changed]).await;
    assert_eq!(outcomes(&body), ["conflict"]);

    // B may not issue a record named after A.
    let foreign = issued(&format!("{}-99", a.id), &ub.number(d, Sex::Female).unwrap(), NumberSource::Lease, "p6");
    let (_, body) = b.upload(&[foreign]).await;
    assert_eq!(reasons(&body), ["record_id"]);
    let _ = b.record_id();
    assert_eq!(reg.sql_count("SELECT count(*) FROM records").await, 1);
}

#[tokio::test]
async fn a_cloned_or_rolled_back_desk_reusing_a_number_is_reported_as_a_conflict_and_both_records_are_kept() {
    let reg = Registry::start().await;
    let mut a = reg.desk(101).await;
    let (_, la) = a.lease("l", 1).await;
    let u = units_of(&la["granted"])[0];
    let n = u.number(date(1988, 8, 8), Sex::Female).unwrap();
    let original = issued(&a.record_id(), &n, NumberSource::Lease, "anna");
    assert_eq!(outcomes(&a.upload(std::slice::from_ref(&original)).await.1), ["accepted"]);

    // The clone (same desk ID and key) issues record 1 again for someone else.
    let clone_same_id =
        Event::new("clone:1", issued(original.body.record_id().unwrap(), &n, NumberSource::Lease, "bert").body);
    // The rolled-back desk issues the same number under a new record ID.
    let rolled_back = issued(&a.record_id(), &n, NumberSource::Lease, "carl");
    let (_, body) = a.upload(&[clone_same_id, rolled_back]).await;
    assert_eq!(outcomes(&body), ["conflict", "conflict"]);
    assert_eq!(reasons(&body), ["record_conflict", "number_conflict"]);
    assert_eq!(reg.sql_count("SELECT count(*) FROM records").await, 1);
    assert_eq!(reg.sql_count("SELECT count(*) FROM conflicts").await, 2, "the conflicting records are kept");
    let (_, sync) = a.sync(0, 2).await;
    let kinds: Vec<&str> = sync["notices"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"number_conflict") && kinds.contains(&"record_conflict"), "{kinds:?}");
    assert_eq!(sync["records_held"], 2, "conflicting records count as received");
}

#[tokio::test]
async fn a_duplicate_document_notifies_both_desks_and_a_supervisors_void_travels_back_up() {
    let reg = Registry::start().await;
    let mut a = reg.desk(101).await;
    let mut b = reg.desk(751).await;
    let d = date(1970, 2, 2);
    let (_, na) = a.allocate("x", d, Sex::Male).await;
    let (_, nb) = b.allocate("x", d, Sex::Male).await;
    let (ra, rb) = (a.record_id(), b.record_id());
    let ea = issued(&ra, &number(na["number"].as_str().unwrap()), NumberSource::Online, "same");
    let eb = issued(&rb, &number(nb["number"].as_str().unwrap()), NumberSource::Online, "same");
    assert_eq!(outcomes(&a.upload(&[ea]).await.1), ["accepted"]);
    assert_eq!(outcomes(&b.upload(&[eb]).await.1), ["accepted"]);
    let (_, sa) = a.sync(0, 1).await;
    let notice = &sa["notices"][0];
    assert_eq!(notice["kind"], "duplicate_document");
    assert_eq!(notice["record_id"], ra.as_str());
    assert_eq!(notice["other_desk_id"], b.id.as_str());
    assert_eq!(notice["other_municipality"], 751);
    let (_, sb) = b.sync(0, 1).await;
    assert_eq!(sb["notices"][0]["kind"], "duplicate_document");

    // B's supervisor voids B's record in favour of A's.
    let void = Event::new(
        format!("{rb}:void"),
        EventBody::Voided(Void {
            record_id: rb.clone(),
            voided_at: Utc::now(),
            reason: "duplicate".into(),
            replaced_by: Some(ra.clone()),
        }),
    );
    assert_eq!(outcomes(&b.upload(&[void]).await.1), ["accepted"]);
    let (_, sb) = b.sync(0, 1).await;
    let states = sb["record_states"].as_array().unwrap();
    assert_eq!(states.last().unwrap()["state"], "voided");
    assert_eq!(reg.sql_count("SELECT count(*) FROM feed WHERE kind = 'voided'").await, 1);
}

#[tokio::test]
async fn lookup_says_only_whether_and_where_is_audited_and_rate_limited() {
    let reg = Registry::with_config(Config { lookup_limit: RateLimit::per_minute(3.0, 3), ..Config::default() }).await;
    let mut a = reg.desk(101).await;
    let b = reg.desk(147).await;
    let (_, n) = a.allocate("x", date(1960, 1, 1), Sex::Female).await;
    let rid = a.record_id();
    a.upload(&[issued(&rid, &number(n["number"].as_str().unwrap()), NumberSource::Online, "eva")]).await;
    let (s, body) = b.post("/v1/lookup", json!({ "document_key": "doc-eva", "person_key": "person-eva" })).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["matches"], json!([{ "kind": "document", "desk_id": a.id, "municipality": 101 }]));
    let text = body.to_string();
    assert!(!text.contains(&rid) && !text.contains("EVA"), "no record or name in a lookup answer");
    let (_, body) = b.post("/v1/lookup", json!({ "person_key": "person-nobody" })).await;
    assert_eq!(body["matches"], json!([]));
    let _ = b.post("/v1/lookup", json!({ "person_key": "p" })).await;
    let (s, p) = b.post("/v1/lookup", json!({ "person_key": "p" })).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("lookup.rate_limited")));
    assert_eq!(reg.sql_count("SELECT count(*) FROM lookups").await, 3);
}

#[tokio::test]
async fn a_retired_desk_may_upload_but_never_lease_or_allocate_and_its_units_are_never_leased_again() {
    let reg = Registry::with_config(Config { units_per_desk: 800, ..Config::default() }).await;
    let mut a = reg.desk(101).await;
    let (_, la) = a.lease("l", 2).await;
    let units = units_of(&la["granted"]);
    assert!(ops::retire_desk(&reg.state.pool, "tester", &a.id).await.unwrap());
    let (s, p) = a.lease("l2", 1).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::FORBIDDEN, Some("desk.retired")));
    let (s, p) = a.allocate("x", date(1980, 1, 1), Sex::Male).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::FORBIDDEN, Some("desk.retired")));
    let rid = a.record_id();
    let (_, up) = a
        .upload(&[issued(&rid, &units[0].number(date(1980, 1, 1), Sex::Male).unwrap(), NumberSource::Lease, "r")])
        .await;
    assert_eq!(outcomes(&up), ["accepted"]);
    let (_, sync) = a.sync(0, 1).await;
    assert_eq!(sync["retired"], true);
    let b = reg.desk(147).await;
    let (_, lb) = b.lease("all", 800).await;
    let got = units_of(&lb["granted"]);
    assert_eq!(got.len(), 798);
    assert!(units.iter().all(|u| !got.contains(u)));
}

#[tokio::test]
async fn one_desk_cannot_read_another_desks_records() {
    let reg = Registry::start().await;
    let mut a = reg.desk(101).await;
    let b = reg.desk(147).await;
    let (_, n) = a.allocate("x", date(1999, 9, 9), Sex::Male).await;
    let rid = a.record_id();
    a.upload(&[issued(&rid, &number(n["number"].as_str().unwrap()), NumberSource::Online, "z")]).await;
    let (s, own) = a.call(Method::GET, &format!("/v1/records/{rid}"), &Value::Null).await;
    assert_eq!((s, own["state"].as_str()), (StatusCode::OK, Some("received")));
    let (s, p) = b.call(Method::GET, &format!("/v1/records/{rid}"), &Value::Null).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::NOT_FOUND, Some("record.not_found")));
    let (_, sync) = b.sync(0, 0).await;
    assert_eq!(sync["record_states"], json!([]));
    assert_eq!(sync["records_held"], 0);
}

#[tokio::test]
async fn the_downstream_feed_pages_by_cursor_and_a_confirmation_reaches_the_desk_as_registered() {
    let reg = Registry::start().await;
    let mut a = reg.desk(101).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (_, n) = a.allocate(&format!("k{i}"), date(1982, 4, 4), Sex::Female).await;
        let rid = a.record_id();
        a.upload(&[issued(&rid, &number(n["number"].as_str().unwrap()), NumberSource::Online, &format!("f{i}"))]).await;
        ids.push(rid);
    }
    let (s, _) =
        reg.send(Method::GET, "/v1/feed?after=0", &Value::Null, &[("authorization", "Bearer wrong".into())]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let auth = [("authorization", "Bearer feed-secret".to_string())];
    // A simulated CPR/Jobnet consumer: two items per page.
    let (mut after, mut seen) = (0, Vec::new());
    loop {
        let (_, page) = reg.send(Method::GET, &format!("/v1/feed?after={after}&limit=2"), &Value::Null, &auth).await;
        let items = page["items"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        let registered: Vec<String> = items.iter().map(|i| i["record_id"].as_str().unwrap().to_string()).collect();
        let (s, c) = reg.send(Method::POST, "/v1/feed/confirm", &json!({ "registered": registered }), &auth).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(c["confirmed"], items.len());
        seen.extend(registered);
        after = page["next_after"].as_i64().unwrap();
    }
    assert_eq!(seen, ids);
    let (_, sync) = a.sync(0, 3).await;
    let states: Vec<&str> =
        sync["record_states"].as_array().unwrap().iter().map(|s| s["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["registered"; 3]);
}

#[tokio::test]
async fn after_a_restore_nothing_is_leased_or_allocated_until_every_desk_has_reconciled() {
    let reg = Registry::start().await;
    let mut a = reg.desk(101).await;
    let b = reg.desk(147).await;
    // A registry that has been running a while.
    reg.state.pool.get().await.unwrap().execute("SELECT setval('registry_seq', 100)", &[]).await.unwrap();
    let (_, la) = a.lease("l", 1).await;
    let seq = la["registry_sequence"].as_i64().unwrap();
    let receipt = la["sequence_receipt"].as_str().unwrap().to_string();
    let unit = units_of(&la["granted"])[0];
    // Simulate the restore: the registry forgot A's binding, and its
    // sequence went back to before the lease.
    {
        let client = reg.state.pool.get().await.unwrap();
        client.execute("UPDATE units SET desk_id = NULL, bound_at = NULL", &[]).await.unwrap();
        client.execute("SELECT setval('registry_seq', $1)", &[&(seq - 1)]).await.unwrap();
    }
    // A shows the sequence it was told, with the registry's receipt for it.
    let (_, sync) = a.post(
        "/v1/sync",
        json!({ "highest_sequence_seen": seq, "sequence_receipt": receipt, "records_issued": 1, "units": [{ "unit": unit, "used": 1 }], "states_after": 0, "notices_after": 0 }),
    ).await;
    assert_eq!(sync["reconciling"], true);
    assert_eq!(sync["claim_refused"], false);
    assert!(sync["registry_sequence"].as_i64().unwrap() > seq, "the sequence moves past what A was told");
    assert_eq!(sync["awaited"]["missing_records"], json!([{ "first": 1, "last": 1 }]), "A's one record is awaited");
    assert_eq!(
        units_of(&json!(sync["bindings"].as_array().unwrap().iter().map(|b| b["unit"].clone()).collect::<Vec<_>>())),
        vec![unit],
        "the forgotten unit is bound again"
    );
    let (s, p) = b.allocate("x", date(1980, 1, 1), Sex::Male).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("registry.reconciling")));
    let (s, _) = b.lease("l", 1).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    // A uploads the record the registry lost, then both desks sync completely.
    let rid = a.record_id();
    let (_, up) =
        a.upload(&[issued(&rid, &unit.number(date(1980, 1, 1), Sex::Male).unwrap(), NumberSource::Lease, "q")]).await;
    assert_eq!(outcomes(&up), ["accepted"]);
    let (_, sa) = a.sync(0, 1).await;
    assert_eq!(sa["reconciling"], true, "B has not reconciled yet");
    assert_eq!(sa["awaited"], Value::Null, "A has reconciled: nothing of it is awaited");
    let (_, sb) = b.sync(0, 0).await;
    assert_eq!(sb["reconciling"], false);
    let (s, _) = b.allocate("x", date(1980, 1, 1), Sex::Male).await;
    assert_eq!(s, StatusCode::OK);
}

fn audit(seq: u64, prev: &str, action: &str) -> AuditEntry {
    AuditEntry {
        seq,
        at: Utc::now(),
        staff_id: Some(1),
        action: action.into(),
        record_id: None,
        detail: Some("units:2".into()),
        prev_hash: prev.into(),
        hash: String::new(),
    }
    .sealed()
}

#[tokio::test]
async fn the_registry_checks_each_desks_audit_chain() {
    let reg = Registry::start().await;
    let a = reg.desk(101).await;
    // Another desk's genesis does not start this desk's chain.
    let ev = |e: &AuditEntry| Event::new(format!("audit:{}:{}", e.seq, &e.hash[..8]), EventBody::Audit(e.clone()));
    let (_, body) = a.upload(&[ev(&audit(1, &audit_genesis("OTHER"), "staff.sign_in"))]).await;
    assert_eq!(outcomes(&body), ["conflict"]);
    let e1 = audit(1, &audit_genesis(&a.id), "staff.sign_in");
    let e2 = audit(2, &e1.hash, "record.issue");
    let e3 = audit(3, &e2.hash, "staff.sign_out");
    let (_, body) = a.upload(&[ev(&e1), ev(&e3)]).await;
    assert_eq!((outcomes(&body), reasons(&body)[1].as_str()), (vec!["accepted".into(), "invalid".into()], "audit_gap"));
    let (_, body) = a.upload(&[ev(&e2), ev(&e3)]).await;
    assert_eq!(outcomes(&body), ["accepted", "accepted"]);
    // A fork: another entry 3, and an entry whose hash does not match.
    let fork = audit(3, &e2.hash, "record.void");
    let mut forged = audit(4, &e3.hash, "record.issue");
    forged.action = "record.erase".into();
    let (_, body) = a.upload(&[ev(&fork), ev(&forged)]).await;
    assert_eq!(outcomes(&body), ["conflict", "invalid"]);
    assert_eq!(reasons(&body), ["audit_chain", "audit_hash"]);
}

#[tokio::test]
async fn imported_numbers_are_never_allocated_and_numbers_outside_the_block_are_not_kept() {
    let reg = Registry::start().await;
    let d = date(1991, 11, 11);
    // Every modulus-11 number of the block for this date and sex is already used elsewhere.
    let everything =
        skranke_registry::alloc::online_candidates(&reg.state.block, d, Sex::Female, &HashSet::new(), &HashSet::new());
    let mod11: Vec<Personnummer> = everything.iter().copied().filter(|n| n.passes_modulus11()).collect();
    let mut file: String = mod11.iter().map(|n| format!("{n}\n")).collect();
    file.push_str("# comment\n111191-1234\nnot a number\n");
    let s = ops::import_used(&reg.state.pool, "tester", &reg.state.block, &file, today()).await.unwrap();
    assert_eq!(s.imported as usize, mod11.len());
    assert_eq!(s.outside_block, 1);
    assert_eq!(s.invalid_lines, vec![mod11.len() + 3]);
    let again = ops::import_used(&reg.state.pool, "tester", &reg.state.block, &file, today()).await.unwrap();
    assert_eq!(again.known as usize, mod11.len());
    let desk = reg.desk(101).await;
    let (_, n) = desk.allocate("k", d, Sex::Female).await;
    let n = number(n["number"].as_str().unwrap());
    assert!(!n.passes_modulus11() && !mod11.contains(&n));
    let stats = ops::stats(&reg.state.pool).await.unwrap();
    assert_eq!(stats.numbers_used as usize, mod11.len() + 1);
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["records"], 0);
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_the_router_serves() {
    let reg = Registry::start().await;
    let (s, doc) = reg.send(Method::GET, "/openapi.json", &Value::Null, &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    documented.sort();
    let mut served: Vec<(String, String)> =
        reg.routes.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    served.sort();
    assert_eq!(served, documented);
    let (s, health) = reg.send(Method::GET, "/health", &Value::Null, &[]).await;
    assert_eq!((s, health["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, p) = reg.send(Method::GET, "/nowhere", &Value::Null, &[]).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::NOT_FOUND, Some("request.not_found")));
}
