//! Text at every edge: a control character (NUL above all, which PostgreSQL
//! cannot store in `text` or `jsonb`) anywhere in a request body is refused
//! as a problem document naming the field, never a server error; inside an
//! upload it refuses only the event it is in.

mod common;

use axum::http::{Method, StatusCode};
use chrono::Utc;
use common::*;
use serde_json::{json, Value};
use skranke_protocol::{Event, EventBody, NumberSource, Void};
use skranke_rules::cpr::Sex;

const FEED_AUTH: (&str, &str) = ("authorization", "Bearer feed-secret");

/// The one refusal for a control character: 400, code
/// `request.control_character`, the field's JSON path as detail, a title
/// from the catalog. (`send` has checked the content type already.)
fn assert_refused(status: StatusCode, problem: &Value, field: &str, what: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {problem}");
    assert_eq!(problem["code"], "request.control_character", "{what}: {problem}");
    assert_eq!(problem["detail"], field, "{what}: {problem}");
    let title = problem["title"].as_str().unwrap_or("");
    assert!(!title.is_empty() && !title.starts_with("protocol.problem."), "{what}: no catalog title: {problem}");
}

/// Every route that takes a body answers a NUL (and the other control
/// characters) in any of its strings, a known field or not, with 400
/// `request.control_character` naming the field by its JSON path: no 500,
/// nothing written. The same bodies without the character are taken.
#[tokio::test]
async fn a_control_character_in_any_string_of_a_request_body_is_a_400_problem_naming_the_field() {
    let reg = Registry::start().await;
    let desk = reg.desk(101).await;
    let d = date(1985, 3, 14);
    let desk_cases: Vec<(&str, Value, &str)> = vec![
        ("/v1/lookup", json!({ "person_key": "p\u{0}" }), "person_key"),
        ("/v1/lookup", json!({ "document_key": "doc", "person_key": "p", "note": "x\u{0}" }), "note"),
        (
            "/v1/sync",
            json!({ "highest_sequence_seen": 0, "records_issued": 0, "units": [], "states_after": 0,
                    "notices_after": 0, "unused_allocations": ["0101854001", "0101854\u{0}"] }),
            "unused_allocations[1]",
        ),
        (
            "/v1/sync",
            json!({ "highest_sequence_seen": 0, "records_issued": 0, "units": [], "states_after": 0,
                    "notices_after": 0, "sequence_receipt": "ab\u{1f}" }),
            "sequence_receipt",
        ),
        (
            "/v1/allocate",
            json!({ "idempotency_key": "k\u{0}", "birth_date": d, "sex": Sex::Female }),
            "idempotency_key",
        ),
        ("/v1/lease", json!({ "idempotency_key": "k\u{7f}", "units": 1 }), "idempotency_key"),
        (
            "/v1/lease/return",
            json!({ "idempotency_key": "k", "units": [{ "slot": 400, "rank": 0, "by": "\u{0}" }], "records_issued": 0 }),
            "units[0].by",
        ),
    ];
    for (path, body, field) in &desk_cases {
        let (s, p) = desk.post(path, body.clone()).await;
        assert_refused(s, &p, field, path);
    }

    let code = reg.enrolment_code(101).await;
    let (secret, _) = skranke_protocol::trust::split_enrolment_code(&code).unwrap();
    let public_key = hex::encode(new_key().verifying_key().as_bytes());
    let enrol = json!({ "enrolment_code": format!("{secret}\u{0}"), "public_key": public_key });
    let (s, p) = reg.send(Method::POST, "/v1/enrol", &enrol, &[]).await;
    assert_refused(s, &p, "enrolment_code", "/v1/enrol");

    let auth = [(FEED_AUTH.0, FEED_AUTH.1.to_string())];
    let feed_cases = [
        (json!({ "registered": ["R-1", "R-2\u{0}"] }), "registered[1]"),
        (
            json!({ "registered": [], "refused": [{ "record_id": "R\u{0}", "system": "cpr", "reason": "x" }] }),
            "refused[0].record_id",
        ),
        (
            json!({ "registered": [], "refused": [{ "record_id": "R-1", "system": "cpr", "reason": "x", "note": "\t" }] }),
            "refused[0].note",
        ),
    ];
    for (body, field) in &feed_cases {
        let (s, p) = reg.send(Method::POST, "/v1/feed/confirm", body, &auth).await;
        assert_refused(s, &p, field, "/v1/feed/confirm");
    }
    // A control character in a member's name is named by its escaped form.
    let (s, p) = desk.post("/v1/lookup", json!({ "person_key": "p", "x\u{0}": 1 })).await;
    assert_refused(s, &p, "x\\u{0}", "a member name");

    // Nothing of it was written, and the code was not spent.
    assert_eq!(reg.sql_count("SELECT count(*) FROM lookups").await, 0);
    assert_eq!(reg.sql_count("SELECT count(*) FROM numbers").await, 0);
    let (s, body) = desk.post("/v1/lookup", json!({ "person_key": "p" })).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let enrol = json!({ "enrolment_code": secret, "public_key": public_key });
    let (s, body) = reg.send(Method::POST, "/v1/enrol", &enrol, &[]).await;
    assert_eq!(s, StatusCode::OK, "the refused request did not spend the code: {body}");
}

/// Two online numbers of the desk and their `issued` events.
async fn two_records(desk: &mut Desk) -> (String, Event, String, Event) {
    let d = date(1970, 2, 2);
    let (_, n1) = desk.allocate("n1", d, Sex::Male).await;
    let (_, n2) = desk.allocate("n2", d, Sex::Female).await;
    let (r1, r2) = (desk.record_id(), desk.record_id());
    let e1 = issued(&r1, &number(n1["number"].as_str().unwrap()), NumberSource::Online, "one");
    let e2 = issued(&r2, &number(n2["number"].as_str().unwrap()), NumberSource::Online, "two");
    (r1, e1, r2, e2)
}

fn void(record_id: &str, reason: &str) -> Event {
    let body = Void { record_id: record_id.into(), voided_at: Utc::now(), reason: reason.into(), replaced_by: None };
    Event::new(format!("{record_id}:void"), EventBody::Voided(body))
}

/// A void whose reason holds a NUL refuses that event alone: the batch
/// answers `[accepted, invalid, accepted]` with `control_character`, the
/// third event's record is held, the refused event is kept (its NUL made
/// storable) and counted once however often it is sent, and the same key
/// with a reason that can be stored is then judged as usual.
#[tokio::test]
async fn a_nul_in_one_events_void_reason_refuses_that_event_and_the_events_after_it_are_judged() {
    let reg = Registry::start().await;
    let mut desk = reg.desk(101).await;
    let (r1, e1, r2, e2) = two_records(&mut desk).await;
    let bad = void(&r1, "wrong\u{0}person");
    let batch = [e1.clone(), bad.clone(), e2.clone()];
    let (s, body) = desk.upload(&batch).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(outcomes(&body), ["accepted", "invalid", "accepted"]);
    assert_eq!(reasons(&body), ["", "control_character", ""]);
    let keys: Vec<&str> =
        body["results"].as_array().unwrap().iter().map(|r| r["idempotency_key"].as_str().unwrap()).collect();
    assert_eq!(keys, [e1.idempotency_key.as_str(), bad.idempotency_key.as_str(), e2.idempotency_key.as_str()]);

    let (s, record) = desk.call(Method::GET, &format!("/v1/records/{r2}"), &Value::Null).await;
    assert_eq!(s, StatusCode::OK, "the third event's record is held: {record}");
    assert_eq!(record["state"], "received");
    let (_, first) = desk.call(Method::GET, &format!("/v1/records/{r1}"), &Value::Null).await;
    assert_eq!(first["state"], "received", "the refused void did not void the record");
    let kept = "SELECT count(*) FROM conflicts WHERE reason = 'invalid:control_character'
                AND body->>'kind' = 'voided' AND body->'payload'->>'reason' = 'wrong\u{FFFD}person'";
    assert_eq!(reg.sql_count(kept).await, 1, "the refused event is kept with its NUL replaced");

    // The same batch again: the same verdicts, nothing kept twice.
    let (_, again) = desk.upload(&batch).await;
    assert_eq!(outcomes(&again), ["already_held", "invalid", "already_held"]);
    assert_eq!(reasons(&again), ["", "control_character", ""]);
    assert_eq!(reg.sql_count("SELECT count(*) FROM conflicts").await, 1);

    // The void with a reason that can be stored, under the same key, voids the record.
    let (_, fixed) = desk.upload(&[void(&r1, "wrong person")]).await;
    assert_eq!(outcomes(&fixed), ["accepted"]);
    let (_, first) = desk.call(Method::GET, &format!("/v1/records/{r1}"), &Value::Null).await;
    assert_eq!(first["state"], "voided");
}

/// An event that cannot be decoded (an unknown kind, a payload of the wrong
/// shape, not an object at all) or that carries a control character outside
/// its body (in its key or its claimed hash) gets its own `invalid` verdict
/// and the others are judged; only a malformed envelope refuses the batch,
/// and a control character in the envelope is named like any other field.
#[tokio::test]
async fn an_undecodable_or_unstorable_event_is_invalid_on_its_own_and_only_a_bad_envelope_refuses_the_batch() {
    let reg = Registry::start().await;
    let mut desk = reg.desk(101).await;
    let (r1, e1, _r2, e2) = two_records(&mut desk).await;
    let good = |e: &Event| serde_json::to_value(e).unwrap();
    let mut bad_key = good(&void(&r1, "clerk_error"));
    bad_key["idempotency_key"] = json!("k\u{0}");
    let mut bad_hash = good(&void(&r1, "clerk_error"));
    bad_hash["content_hash"] = json!("\u{0}");
    let events = json!([
        good(&e1),
        { "idempotency_key": "x1", "content_hash": "00", "kind": "teleported", "payload": {} },
        { "idempotency_key": "x2", "content_hash": "00", "kind": "voided", "payload": { "record_id": 7 } },
        "not an event",
        bad_key,
        bad_hash,
        good(&e2),
    ]);
    let (s, body) = desk.post("/v1/events", json!({ "events": events })).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(outcomes(&body), ["accepted", "invalid", "invalid", "invalid", "invalid", "invalid", "accepted"]);
    assert_eq!(
        reasons(&body),
        ["", "malformed", "malformed", "malformed", "control_character", "control_character", ""]
    );
    let keys: Vec<&str> =
        body["results"].as_array().unwrap().iter().map(|r| r["idempotency_key"].as_str().unwrap()).collect();
    assert_eq!(keys[1..4], ["x1", "x2", ""]);
    assert_eq!(keys[4], "k\u{0}", "the result names the event by the key it was sent with");
    // The undecodable events with a usable key are kept; the others, whose
    // key or hash could not be stored or told apart, are not.
    assert_eq!(reg.sql_count("SELECT count(*) FROM conflicts WHERE reason = 'invalid:malformed'").await, 2);
    assert_eq!(reg.sql_count("SELECT count(*) FROM conflicts").await, 2);
    assert_eq!(reg.sql_count("SELECT count(*) FROM records").await, 2);

    for (envelope, field) in [
        (json!({ "events": [good(&e1)], "batch_note": "\u{0}" }), Some("batch_note")),
        (json!({ "events": "all of them" }), None),
        (json!({ "evnts": [] }), None),
        (json!([good(&e1)]), None),
    ] {
        let (s, p) = desk.post("/v1/events", envelope.clone()).await;
        match field {
            Some(field) => assert_refused(s, &p, field, "envelope"),
            None => assert_eq!((s, p["code"].as_str()), (StatusCode::BAD_REQUEST, Some("request.json")), "{envelope}"),
        }
    }
}

/// Text in a path or a query is refused like text in a body: a problem
/// document, never a 500 (PostgreSQL refuses NUL) or axum's plain text.
#[tokio::test]
async fn a_control_character_in_a_path_and_a_bad_feed_query_are_problem_documents() {
    let reg = Registry::start().await;
    let desk = reg.desk(101).await;
    let (status, problem) = desk.call(Method::GET, "/v1/records/R%00x", &Value::Null).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::BAD_REQUEST, Some("request.control_character")));
    let auth = [(FEED_AUTH.0, FEED_AUTH.1.to_string())];
    for query in ["after=%00", "after=x", "limit=1e99"] {
        let (status, problem) = reg.send(Method::GET, &format!("/v1/feed?{query}"), &Value::Null, &auth).await;
        assert_eq!((status, problem["code"].as_str()), (StatusCode::BAD_REQUEST, Some("request.query")), "{query}");
    }
}
