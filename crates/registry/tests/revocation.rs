//! Ending a desk's and a code's power, against the real registry on
//! PostgreSQL and through the real `skranke-registry` binary: a retired
//! desk no longer looks up but still hands in what it issued; a revoked
//! desk's key is refused on every desk route, and its use shows in the
//! operator log; enrolment codes expire and can be cancelled, and the list
//! of open codes never shows a code.

mod common;

use std::process::{Command, Output};

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{json, Value};
use skranke_protocol::{trust, NumberSource};
use skranke_registry::api::Access;
use skranke_rules::cpr::Sex;

const OPERATOR: &str = "operator-anna";

/// The real binary on the test's database, with the test registry's key.
fn registry_bin(reg: &Registry, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skranke-registry"))
        .args(args)
        .env_remove("SKRANKE_REGISTRY_KEY_FILE")
        .env("SKRANKE_REGISTRY_KEY", reg.state.key.to_file_json())
        .env("DATABASE_URL", &reg.db.url)
        .env("SKRANKE_OPERATOR", OPERATOR)
        .env("SKRANKE_LANG", "en")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs a command that must succeed and returns its standard output.
fn ok(reg: &Registry, args: &[&str]) -> String {
    let out = registry_bin(reg, args);
    assert!(out.status.success(), "{args:?}: {}{}", stdout(&out), stderr(&out));
    stdout(&out)
}

async fn operator_log(reg: &Registry, action: &str) -> Vec<(String, Value)> {
    let client = reg.state.pool.get().await.unwrap();
    client
        .query("SELECT operator, detail FROM operator_log WHERE action = $1 ORDER BY id", &[&action])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Enrols with `code` as a desk does (its secret part), with a fresh key.
async fn enrol_with(reg: &Registry, code: &str) -> (StatusCode, Value) {
    let secret = trust::split_enrolment_code(code).map(|(s, _)| s).unwrap_or_else(|| code.to_string());
    let key = new_key();
    reg.send(
        Method::POST,
        "/v1/enrol",
        &json!({ "enrolment_code": secret, "public_key": hex::encode(key.verifying_key().as_bytes()) }),
        &[],
    )
    .await
}

/// A code made `hours` ago: its creation and expiry moved back together,
/// as if the operator had made it then.
async fn made_hours_ago(reg: &Registry, desk_number: i32, hours: f64) {
    let client = reg.state.pool.get().await.unwrap();
    let n = client
        .execute(
            "UPDATE enrolment_codes SET created_at = created_at - make_interval(secs => $2),
                                        expires_at = expires_at - make_interval(secs => $2)
             WHERE desk_number = $1",
            &[&desk_number, &(hours * 3600.0)],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
}

async fn code_id(reg: &Registry, desk_number: i32, office: &str) -> i64 {
    let client = reg.state.pool.get().await.unwrap();
    client
        .query_one("SELECT id FROM enrolment_codes WHERE desk_number = $1 AND office = $2", &[&desk_number, &office])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_retired_desk_is_refused_lookup_at_once_but_still_uploads_and_syncs_what_it_issued_before() {
    let reg = Registry::start().await;
    let mut desk = reg.desk(101).await;
    let (s, lease) = desk.lease("l", 1).await;
    assert_eq!(s, StatusCode::OK, "{lease}");
    let unit = units_of(&lease["granted"])[0];
    let lookup = json!({ "person_key": "person-someone" });
    let (s, body) = desk.post("/v1/lookup", lookup.clone()).await;
    assert_eq!(s, StatusCode::OK, "an active desk looks up: {body}");
    // Issued before the retirement, handed in after it.
    let rid = desk.record_id();
    let record = issued(&rid, &unit.number(date(1980, 1, 1), Sex::Male).unwrap(), NumberSource::Lease, "r");

    let out = ok(&reg, &["retire-desk", &desk.id]);
    assert!(out.contains(&desk.id), "{out}");

    let (s, problem) = desk.post("/v1/lookup", lookup).await;
    assert_eq!((s, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("desk.retired")), "{problem}");
    assert_eq!(reg.sql_count("SELECT count(*) FROM lookups").await, 1, "a refused lookup is not answered or counted");
    let (s, problem) = desk.lease("l2", 1).await;
    assert_eq!((s, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("desk.retired")));
    let (s, problem) = desk.allocate("a", date(1980, 1, 1), Sex::Male).await;
    assert_eq!((s, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("desk.retired")));
    let (s, up) = desk.upload(&[record]).await;
    assert_eq!((s, outcomes(&up)), (StatusCode::OK, vec!["accepted".to_string()]), "{up}");
    let (s, sync) = desk.sync(0, 1).await;
    assert_eq!((s, &sync["retired"]), (StatusCode::OK, &json!(true)), "{sync}");
}

#[tokio::test]
async fn a_revoked_desk_is_refused_on_every_desk_route_and_its_attempts_show_in_the_operator_log_once_a_minute() {
    let reg = Registry::start().await;
    let mut thief = reg.desk(101).await;
    let other = reg.desk(147).await;
    let retired = reg.desk(751).await;
    let (_, lease) = thief.lease("l", 1).await;
    let unit = units_of(&lease["granted"])[0];
    let rid = thief.record_id();
    let record = issued(&rid, &unit.number(date(1980, 1, 1), Sex::Male).unwrap(), NumberSource::Lease, "r");
    ok(&reg, &["retire-desk", &retired.id]);

    let out = ok(&reg, &["revoke-desk", &thief.id]);
    assert!(out.contains(&thief.id) && out.contains("revoked"), "{out}");
    let revoked = operator_log(&reg, "revoke_desk").await;
    assert_eq!(revoked, [(OPERATOR.to_string(), json!({ "desk_id": thief.id, "retired_now": true }))]);
    let again = registry_bin(&reg, &["revoke-desk", &thief.id]);
    assert_eq!(again.status.code(), Some(1), "revoked twice: {}", stderr(&again));

    let desk_routes: Vec<_> = reg.routes.iter().filter(|r| r.access == Access::Desk).collect();
    assert!(desk_routes.len() >= 7, "{desk_routes:?}");
    for route in &desk_routes {
        let method = if route.method == "post" { Method::POST } else { Method::GET };
        let path = route.path.replace("{record_id}", &rid);
        let (s, problem) = thief.call(method, &path, &json!({})).await;
        assert_eq!((s, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("desk.revoked")), "{path}: {problem}");
    }
    // Well-formed requests fare no better: what it issued before is refused too.
    let (s, problem) = thief.upload(&[record]).await;
    assert_eq!((s, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("desk.revoked")));
    let (s, _) = thief.sync(0, 1).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(reg.sql_count(&format!("SELECT count(*) FROM events WHERE desk_id = '{}'", thief.id)).await, 0);

    // One entry for the whole burst: the desk and the route template, nothing of the body.
    let refused = operator_log(&reg, "revoked_desk_refused").await;
    let first = json!({ "desk_id": thief.id, "route": desk_routes[0].path });
    assert_eq!(refused, [("skranke-registry serve".to_string(), first.clone())]);
    // A minute later, the next attempt is recorded again.
    *reg.clock.lock().unwrap() += chrono::Duration::seconds(61);
    let (s, _) = thief.post("/v1/lookup", json!({ "person_key": "person-anyone" })).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let refused = operator_log(&reg, "revoked_desk_refused").await;
    let second = json!({ "desk_id": thief.id, "route": "/v1/lookup" });
    assert_eq!(refused.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(), [first, second]);
    // Someone naming the desk without its key learns nothing and writes nothing.
    let body = serde_json::to_vec(&json!({ "person_key": "p" })).unwrap();
    let forged = thief.signed_headers("POST", "/v1/lookup", &body, &thief.id, &new_key());
    let (s, problem) = send(&reg.router, Method::POST, "/v1/lookup", body, &forged).await;
    assert_eq!((s, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("auth.signature")));
    assert_eq!(operator_log(&reg, "revoked_desk_refused").await.len(), 2);

    // Other desks are untouched, and the operator sees each desk's state.
    let (s, _) = other.lease("o", 1).await;
    assert_eq!(s, StatusCode::OK);
    let desks: Value = serde_json::from_str(&ok(&reg, &["desks", "--json"])).unwrap();
    let state = |id: &str| desks.as_array().unwrap().iter().find(|d| d["desk_id"] == id).unwrap()["state"].clone();
    assert_eq!(
        (state(&thief.id), state(&other.id), state(&retired.id)),
        (json!("revoked"), json!("active"), json!("retired"))
    );
    let text = ok(&reg, &["desks"]);
    let line = |id: &str| text.lines().find(|l| l.contains(id)).unwrap_or_default().to_string();
    assert!(line(&thief.id).contains("revoked") && line(&other.id).contains("active"), "{text}");
    assert!(line(&retired.id).contains("retired"), "{text}");
    // Its unit is retired with it: never leased again.
    assert_eq!(
        reg.sql_count(&format!("SELECT count(*) FROM units WHERE desk_id = '{}' AND NOT retired", thief.id)).await,
        0
    );
}

#[tokio::test]
async fn an_expired_enrolment_code_is_refused_exactly_like_a_wrong_one_and_a_code_within_its_validity_works() {
    let reg = Registry::start().await;
    let code = |desk: &str, days: &str| {
        let out = ok(
            &reg,
            &["enrolment-code", "--municipality", "101", "--office", "Nord", "--desk", desk, "--valid-days", days],
        );
        out.trim().to_string()
    };
    for days in ["0", "91"] {
        let out = registry_bin(
            &reg,
            &["enrolment-code", "--municipality", "101", "--office", "Nord", "--desk", "9", "--valid-days", days],
        );
        assert!(!out.status.success() && stderr(&out).contains("valid-days"), "--valid-days {days}: {}", stderr(&out));
    }
    let expired = code("1", "1");
    let fresh = code("2", "1");
    made_hours_ago(&reg, 1, 25.0).await;
    made_hours_ago(&reg, 2, 23.0).await;

    let wrong = format!("{}{}", "ABCDEFGHJKMNPQRS", reg.state.key.fingerprint());
    let refused_wrong = enrol_with(&reg, &wrong).await;
    let refused_expired = enrol_with(&reg, &expired).await;
    assert_eq!(refused_wrong.0, StatusCode::FORBIDDEN);
    assert_eq!(refused_wrong.1["code"], "enrol.code");
    assert_eq!(refused_expired, refused_wrong, "an expired code gets the very answer a wrong one gets");
    assert_eq!(reg.sql_count("SELECT count(*) FROM desks").await, 0);

    let (s, body) = enrol_with(&reg, &fresh).await;
    assert_eq!(s, StatusCode::OK, "a code within its validity works: {body}");

    // Without --valid-days a code is valid for seven days.
    ok(&reg, &["enrolment-code", "--municipality", "101", "--office", "Nord", "--desk", "3"]);
    let listed: Value = serde_json::from_str(&ok(&reg, &["enrolment-codes", "--json"])).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "neither the expired nor the used code is open: {listed:?}");
    let at = |k: &str| chrono::DateTime::parse_from_rfc3339(listed[0][k].as_str().unwrap()).unwrap();
    assert_eq!(at("expires_at") - at("created_at"), chrono::Duration::days(7));
}

#[tokio::test]
async fn open_enrolment_codes_are_listed_without_the_secret_and_cancelling_one_is_refused_at_enrolment_and_audited() {
    let reg = Registry::start().await;
    let make = |office: &str, desk: &str| {
        ok(&reg, &["enrolment-code", "--municipality", "101", "--office", office, "--desk", desk]).trim().to_string()
    };
    let nord_1 = make("Nord", "1");
    let nord_2 = make("Nord", "2");
    let syd_2 = make("Syd", "2");
    let used = make("Syd", "5");
    let expired = make("Syd", "6");
    let (s, _) = enrol_with(&reg, &used).await;
    assert_eq!(s, StatusCode::OK);
    made_hours_ago(&reg, 6, 8.0 * 24.0).await;
    let secrets: Vec<String> =
        [&nord_1, &nord_2, &syd_2, &used, &expired].iter().map(|c| trust::split_enrolment_code(c).unwrap().0).collect();
    let hashes: Vec<String> = secrets.iter().map(|s| skranke_registry::ops::code_hash(s)).collect();
    let never_shown = |text: &str| {
        for (secret, hash) in secrets.iter().zip(&hashes) {
            assert!(!text.contains(secret.as_str()) && !text.contains(&trust::group_code(secret)), "{text}");
            assert!(!text.contains(hash.as_str()), "{text}");
        }
    };

    let json_list = ok(&reg, &["enrolment-codes", "--json"]);
    never_shown(&json_list);
    let listed: Value = serde_json::from_str(&json_list).unwrap();
    let listed = listed.as_array().unwrap();
    let open: Vec<(String, u64)> = listed
        .iter()
        .map(|c| (c["office"].as_str().unwrap().to_string(), c["desk_number"].as_u64().unwrap()))
        .collect();
    assert_eq!(open, [("Nord".to_string(), 1), ("Nord".to_string(), 2), ("Syd".to_string(), 2)]);
    for c in listed {
        let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["created_at", "created_by", "desk_number", "expires_at", "id", "municipality", "office"]);
        assert_eq!((c["municipality"].as_u64(), c["created_by"].as_str()), (Some(101), Some(OPERATOR)));
    }
    let text_list = ok(&reg, &["enrolment-codes"]);
    never_shown(&text_list);
    assert_eq!(text_list.lines().count(), 3, "{text_list}");
    assert!(text_list.lines().all(|l| l.contains("municipality 101") && l.contains("expires")), "{text_list}");

    // Desk 2 of municipality 101 names two codes: nothing is cancelled.
    let ambiguous = registry_bin(&reg, &["cancel-enrolment-code", "--municipality", "101", "--desk", "2"]);
    assert_eq!(ambiguous.status.code(), Some(1), "{}", stderr(&ambiguous));
    assert!(stderr(&ambiguous).contains("--id"), "{}", stderr(&ambiguous));
    assert!(operator_log(&reg, "cancel_enrolment_code").await.is_empty());

    ok(&reg, &["cancel-enrolment-code", "--municipality", "101", "--desk", "1"]);
    let syd_2_id = code_id(&reg, 2, "Syd").await;
    let out = ok(&reg, &["cancel-enrolment-code", "--id", &syd_2_id.to_string()]);
    assert!(out.contains(&syd_2_id.to_string()), "{out}");
    let twice = registry_bin(&reg, &["cancel-enrolment-code", "--id", &syd_2_id.to_string()]);
    assert_eq!(twice.status.code(), Some(1), "a cancelled code is not open: {}", stderr(&twice));

    let wrong = enrol_with(&reg, &format!("{}{}", "ABCDEFGHJKMNPQRS", reg.state.key.fingerprint())).await;
    assert_eq!(enrol_with(&reg, &nord_1).await, wrong, "a cancelled code is refused like a wrong one");
    assert_eq!(enrol_with(&reg, &syd_2).await, wrong);
    let (s, _) = enrol_with(&reg, &nord_2).await;
    assert_eq!(s, StatusCode::OK, "the code left open still works");

    let log = operator_log(&reg, "cancel_enrolment_code").await;
    let nord_1_id = code_id(&reg, 1, "Nord").await;
    assert_eq!(
        log,
        [
            (OPERATOR.to_string(), json!({ "id": nord_1_id, "municipality": 101, "office": "Nord", "desk": 1 })),
            (OPERATOR.to_string(), json!({ "id": syd_2_id, "municipality": 101, "office": "Syd", "desk": 2 })),
        ]
    );
    let listed: Value = serde_json::from_str(&ok(&reg, &["enrolment-codes", "--json"])).unwrap();
    assert_eq!(listed, json!([]), "cancelled, used and expired codes are not open");
}
