//! The registry's rules for Jobnet logins that arrive late, against the real
//! service on PostgreSQL: a resend of an event that only fills the login it
//! lacked is taken (never a conflict), a `login_amended` event fills a
//! missing login once and goes down the feed as a correction, a login that
//! differs from the held one is refused, and a downstream refusal lasts
//! until a reprint answers it.

mod common;

use axum::http::{Method, StatusCode};
use chrono::Utc;
use common::*;
use serde_json::{json, Value};
use skranke_protocol::{Event, EventBody, LoginAmendment, NumberSource, Reprint};
use skranke_rules::cpr::Sex;

/// The record's own hash (the harness's default) and a reprint's: both
/// well-formed Argon2id with the desk's parameters, as the registry requires.
const HASH: &str = DEFAULT_HASH;
const NEW_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$TmV3SGFzaE5ld0hhc2hOZXdIYXNoTmV3SGFzaE5ld0g";

/// An online `issued` event with the login an old desk sent: none.
async fn issued_without_login(desk: &mut Desk, who: &str) -> (Event, String) {
    let (_, n) = desk.allocate(&format!("k-{who}"), date(1981, 2, 3), Sex::Male).await;
    let n = number(n["number"].as_str().unwrap());
    let rid = desk.record_id();
    let mut event = issued(&rid, &n, NumberSource::Online, who);
    if let EventBody::Issued(r) = &mut event.body {
        r.jobnet_username = String::new();
    }
    (Event::new(event.idempotency_key.clone(), event.body), rid)
}

async fn feed(reg: &Registry) -> Vec<Value> {
    let auth = [("authorization", "Bearer feed-secret".to_string())];
    let (s, page) = reg.send(Method::GET, "/v1/feed?after=0", &Value::Null, &auth).await;
    assert_eq!(s, StatusCode::OK);
    page["items"].as_array().unwrap().clone()
}

async fn held_login(reg: &Registry, rid: &str) -> String {
    let client = reg.state.pool.get().await.unwrap();
    client
        .query_one("SELECT content->>'jobnet_username' FROM records WHERE record_id = $1", &[&rid])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_resend_that_only_fills_the_missing_login_is_taken_and_fed_as_a_correction_never_a_conflict() {
    let reg = Registry::start().await;
    let mut desk = reg.desk(101).await;
    let (old, rid) = issued_without_login(&mut desk, "Oldform").await;
    assert_eq!(outcomes(&desk.upload(&[old.clone()]).await.1), ["accepted"]);

    // The same event, now with the login: the answer to the first was lost.
    let mut filled = old.body.clone();
    if let EventBody::Issued(r) = &mut filled {
        r.jobnet_username = username_of(&rid);
    }
    let filled = Event::new(old.idempotency_key.clone(), filled);
    assert_eq!(outcomes(&desk.upload(&[filled.clone()]).await.1), ["accepted"]);
    assert_eq!(outcomes(&desk.upload(&[filled]).await.1), ["already_held"], "a retry of it is held");
    assert_eq!(reg.sql_count("SELECT count(*) FROM conflicts").await, 0);
    assert_eq!(held_login(&reg, &rid).await, username_of(&rid));
    let items = feed(&reg).await;
    let kinds: Vec<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["issued", "login_amended"]);
    assert_eq!(items[1]["payload"]["jobnet_username"], username_of(&rid).as_str());
    assert_eq!(items[1]["payload"]["password_hash"], HASH, "the record's own hash");
    assert_eq!(items[1]["desk"]["municipality"], 101);

    // Anything else different under the same key is still a conflict.
    let mut other = old.body.clone();
    if let EventBody::Issued(r) = &mut other {
        r.jobnet_username = "ZZ9Z".into();
        r.person.name_latin = "SOMEONE ELSE".into();
    }
    let other = Event::new(old.idempotency_key.clone(), other);
    assert_eq!(outcomes(&desk.upload(&[other]).await.1), ["conflict"]);
}

#[tokio::test]
async fn a_login_amendment_fills_a_missing_login_once_and_a_different_login_is_refused() {
    let reg = Registry::start().await;
    let mut desk = reg.desk(147).await;
    let (old, rid) = issued_without_login(&mut desk, "Amendee").await;
    assert_eq!(outcomes(&desk.upload(&[old]).await.1), ["accepted"]);
    let amend = |key: &str, username: &str| {
        Event::new(
            key,
            EventBody::LoginAmended(LoginAmendment {
                record_id: rid.clone(),
                jobnet_username: username.into(),
                password_hash: NEW_HASH.into(),
                amended_at: Utc::now(),
            }),
        )
    };
    let login = username_of(&rid);
    assert_eq!(outcomes(&desk.upload(&[amend(&format!("{rid}/login"), &login)]).await.1), ["accepted"]);
    assert_eq!(held_login(&reg, &rid).await, login);
    // Again under another key: taken, nothing new down the feed.
    assert_eq!(outcomes(&desk.upload(&[amend("again", &login)]).await.1), ["accepted"]);
    let (_, up) = desk.upload(&[amend("other", &username_of(&format!("{}-99", desk.id)))]).await;
    assert_eq!((outcomes(&up), reasons(&up)), (vec!["invalid".to_string()], vec!["login_mismatch".to_string()]));
    let kinds: Vec<String> = feed(&reg).await.iter().map(|i| i["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["issued", "login_amended"]);
    // Another desk cannot amend this desk's record.
    let other = reg.desk(461).await;
    let (_, up) = other.upload(&[amend("stranger", &login)]).await;
    assert_eq!(reasons(&up), ["record_not_held"]);
}

#[tokio::test]
async fn a_downstream_refusal_reaches_the_desk_at_sync_and_a_reprint_ends_it() {
    let reg = Registry::start().await;
    let mut desk = reg.desk(751).await;
    let (_, n) = desk.allocate("k", date(1990, 7, 8), Sex::Female).await;
    let rid = desk.record_id();
    let event = issued(&rid, &number(n["number"].as_str().unwrap()), NumberSource::Online, "Refusee");
    assert_eq!(outcomes(&desk.upload(&[event]).await.1), ["accepted"]);
    let auth = [("authorization", "Bearer feed-secret".to_string())];
    let refusal =
        json!({ "registered": [], "refused": [{ "record_id": rid, "system": "cpr", "reason": "name_invalid" }] });
    let (s, c) = reg.send(Method::POST, "/v1/feed/confirm", &refusal, &auth).await;
    assert_eq!((s, c["refused"].as_u64()), (StatusCode::OK, Some(1)));
    let (_, c) = reg.send(Method::POST, "/v1/feed/confirm", &refusal, &auth).await;
    assert_eq!(c["refused"], 0, "the same refusal twice is recorded once");
    // A reason that is free text is refused, naming the field.
    let bad =
        json!({ "registered": [], "refused": [{ "record_id": rid, "system": "cpr", "reason": "Name is wrong" }] });
    let (s, p) = reg.send(Method::POST, "/v1/feed/confirm", &bad, &auth).await;
    assert_eq!((s, p["detail"].as_str()), (StatusCode::BAD_REQUEST, Some("refused.reason")), "{p}");

    let (_, answer) = desk.sync(0, 1).await;
    let state = &answer["record_states"].as_array().unwrap().iter().find(|s| s["record_id"] == rid.as_str()).unwrap();
    assert_eq!(state["state"], "received");
    assert_eq!(
        (state["downstream_refusal"]["system"].as_str(), state["downstream_refusal"]["reason"].as_str()),
        (Some("cpr"), Some("name_invalid"))
    );
    let after = state["sequence"].as_i64().unwrap();

    let reprint = Event::new(
        format!("{rid}/reprinted/2"),
        EventBody::Reprinted(Reprint {
            record_id: rid.clone(),
            reprinted_at: Utc::now(),
            password_hash: NEW_HASH.into(),
            jobnet_username: None,
        }),
    );
    assert_eq!(outcomes(&desk.upload(&[reprint]).await.1), ["accepted"]);
    let (_, answer) = desk
        .post(
            "/v1/sync",
            json!({
                "highest_sequence_seen": 0, "records_issued": 1, "units": [], "states_after": after, "notices_after": 0
            }),
        )
        .await;
    let state = &answer["record_states"].as_array().unwrap()[0];
    assert_eq!(state["record_id"], rid.as_str());
    assert!(state.get("downstream_refusal").is_none(), "the reprint ended the refusal: {state}");
    let items = feed(&reg).await;
    let reprinted = items.iter().find(|i| i["kind"] == "reprinted").unwrap();
    assert_eq!(reprinted["payload"]["jobnet_username"], username_of(&rid), "the feed names the login: {reprinted}");
    assert_eq!(reprinted["payload"]["password_hash"], NEW_HASH);
    assert!(reprinted["payload"].get("kind").is_none(), "the payload is the event's body, untagged");
}
