//! The registry's defences against a real PostgreSQL: every route
//! authenticated and authorised, body size limits, rate limits.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use common::*;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use skranke_protocol::{Event, EventBody, NumberSource, Reprint, Void};
use skranke_registry::api::Access;
use skranke_registry::{Config, RateLimit};
use skranke_rules::cpr::Sex;
use tower::ServiceExt;

/// Status, `Retry-After`, content type and body of one request.
async fn raw(
    router: &Router,
    method: Method,
    path: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> (StatusCode, Option<String>, String, Value) {
    let mut req = Request::builder().method(method).uri(path).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = resp.status();
    let header_of = |name| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let retry = header_of(header::RETRY_AFTER);
    let content_type = header_of(header::CONTENT_TYPE).unwrap_or_default();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, retry, content_type, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The OpenAPI document's routes as (method, path template).
async fn documented(reg: &Registry) -> Vec<(String, String)> {
    let (_, doc) = reg.send(Method::GET, "/openapi.json", &Value::Null, &[]).await;
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            out.push((method.clone(), path.clone()));
        }
    }
    out.sort();
    out
}

/// `Retry-After` in whole seconds, at most what a quarter token per second
/// needs (4 s); the time to wait for one token, with a margin.
fn retry_after(header: Option<String>) -> Duration {
    let secs: u64 = header.expect("a 429 says when to retry").parse().expect("whole seconds");
    assert!((1..=4).contains(&secs), "Retry-After {secs}");
    Duration::from_secs(secs) + Duration::from_millis(100)
}

fn method_of(m: &str) -> Method {
    Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap()
}

#[tokio::test]
async fn every_documented_route_refuses_unsigned_requests_and_another_desks_key_except_health_openapi_and_enrolment() {
    let reg = Registry::start().await;
    let mut a = reg.desk(101).await;
    let b = reg.desk(147).await;
    let (_, n) = a.allocate("x", date(1980, 1, 1), Sex::Male).await;
    let rid = a.record_id();
    let (_, up) = a.upload(&[issued(&rid, &number(n["number"].as_str().unwrap()), NumberSource::Online, "a")]).await;
    assert_eq!(outcomes(&up), ["accepted"]);

    let routes = documented(&reg).await;
    assert!(routes.len() >= 12, "{routes:?}");
    for (m, template) in &routes {
        let info = reg
            .routes
            .iter()
            .find(|r| r.method == m && r.path == template)
            .unwrap_or_else(|| panic!("{m} {template} is documented but not served"));
        let path = template.replace("{record_id}", &rid);
        let method = method_of(m);
        let body = if method == Method::GET { Vec::new() } else { b"{}".to_vec() };
        let (status, _, content_type, problem) = raw(&reg.router, method.clone(), &path, body.clone(), &[]).await;
        match info.access {
            Access::Public => assert_eq!(status, StatusCode::OK, "{m} {path} is public"),
            Access::Enrolment => {
                // Without a valid one-time code nothing is enrolled.
                assert!(status.is_client_error(), "{m} {path}: {status}");
                assert_eq!(content_type, "application/problem+json");
            }
            Access::Feed => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{m} {path} without the feed token");
                let wrong = [("authorization", "Bearer not-the-token".to_string())];
                let (status, ..) = raw(&reg.router, method.clone(), &path, body.clone(), &wrong).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{m} {path} with a wrong feed token");
                // A desk's signature is no feed token.
                let signed = a.signed_headers(method.as_str(), &path, &body, &a.id, &a.key);
                let (status, ..) = raw(&reg.router, method.clone(), &path, body.clone(), &signed).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{m} {path} signed by a desk");
            }
            Access::Desk => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{m} {path} unsigned");
                assert_eq!(content_type, "application/problem+json");
                assert_eq!(problem["code"], "auth.missing");
                // B's key under A's name.
                let forged = a.signed_headers(method.as_str(), &path, &body, &a.id, &b.key);
                let (status, _, _, problem) = raw(&reg.router, method.clone(), &path, body.clone(), &forged).await;
                assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("auth.signature")));
                // A desk that does not exist.
                let ghost = a.signed_headers(method.as_str(), &path, &body, "GHOST123", &a.key);
                let (status, ..) = raw(&reg.router, method.clone(), &path, body.clone(), &ghost).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{m} {path} from an unknown desk");
            }
        }
    }

    // Properly signed by B, B still cannot read or act on A's record.
    let (s, p) = b.call(Method::GET, &format!("/v1/records/{rid}"), &Value::Null).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::NOT_FOUND, Some("record.not_found")));
    let void = Event::new(
        format!("{rid}:void-by-b"),
        EventBody::Voided(Void {
            record_id: rid.clone(),
            voided_at: chrono::Utc::now(),
            reason: "x".into(),
            replaced_by: None,
        }),
    );
    let reprint = Event::new(
        format!("{rid}:reprint-by-b"),
        EventBody::Reprinted(Reprint {
            record_id: rid.clone(),
            reprinted_at: chrono::Utc::now(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            jobnet_username: None,
        }),
    );
    let (_, answer) = b.upload(&[void, reprint]).await;
    assert_eq!(reasons(&answer), ["record_not_held", "record_not_held"]);
    assert_eq!(reg.sql_count("SELECT count(*) FROM records WHERE state = 'voided'").await, 0);
    let (_, lease) = a.lease("l", 1).await;
    let units = lease["granted"].clone();
    let (s, back) =
        b.post("/v1/lease/return", json!({ "idempotency_key": "r", "units": units, "records_issued": 0 })).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(back["returned"], json!([]), "B cannot give back A's units");
    assert_eq!(reg.sql_count("SELECT count(*) FROM units WHERE desk_id IS NOT NULL").await, 1);
    let (_, sync) = b.sync(0, 0).await;
    assert_eq!((sync["record_states"].clone(), sync["bindings"].clone()), (json!([]), json!([])));
}

#[tokio::test]
async fn every_route_refuses_a_body_over_its_limit_with_413_problem_declared_or_not() {
    let reg = Registry::start().await;
    let a = reg.desk(101).await;
    for info in &reg.routes {
        let path = info.path.replace("{record_id}", "X-1");
        let method = method_of(info.method);
        let over = vec![b' '; info.body_limit + 1];
        let declared = [("content-length", over.len().to_string())];
        let (status, _, content_type, problem) = raw(&reg.router, method.clone(), &path, over.clone(), &declared).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{} {path} declared", info.method);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["code"], "request.too_large");
        // No length declared (a chunked body): counted while read. With the
        // route's credentials, so that the body is read at all.
        let credentials = match info.access {
            Access::Desk => a.signed_headers(method.as_str(), &path, &over, &a.id, &a.key),
            Access::Feed => vec![("authorization", "Bearer feed-secret".to_string())],
            Access::Public | Access::Enrolment => Vec::new(),
        };
        let (status, _, _, problem) = raw(&reg.router, method.clone(), &path, over, &credentials).await;
        if method == Method::POST {
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{} {path} undeclared: {problem}", info.method);
        }
    }
    let limit = |p: &str| reg.routes.iter().find(|r| r.path == p).unwrap().body_limit;
    assert!(limit("/v1/events") >= 16 * 1024 * 1024, "an upload batch is large");
    assert!(limit("/v1/lookup") <= 16 * 1024 && limit("/v1/enrol") <= 16 * 1024);

    // A large upload under the limit is read (and judged), not cut short at
    // a framework default.
    let padding = "x".repeat(3 * 1024 * 1024);
    let big = serde_json::to_vec(&json!({ "events": [], "padding": padding })).unwrap();
    let signed = a.signed_headers("POST", "/v1/events", &big, &a.id, &a.key);
    let (status, _, _, body) = raw(&reg.router, Method::POST, "/v1/events", big, &signed).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn lookups_over_the_burst_get_429_with_retry_after_per_desk_and_recover_after_waiting() {
    let reg = Registry::with_config(Config { lookup_limit: RateLimit::per_second(0.25, 3), ..Config::default() }).await;
    let a = reg.desk(101).await;
    let b = reg.desk(147).await;
    let lookup = json!({ "person_key": "p" });
    let call = |d: &Desk| {
        let bytes = serde_json::to_vec(&lookup).unwrap();
        let headers = d.signed_headers("POST", "/v1/lookup", &bytes, &d.id, &d.key);
        let router = reg.router.clone();
        async move { raw(&router, Method::POST, "/v1/lookup", bytes, &headers).await }
    };
    for _ in 0..3 {
        assert_eq!(call(&a).await.0, StatusCode::OK);
    }
    let (status, retry, content_type, problem) = call(&a).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(retry);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["code"], "lookup.rate_limited");
    assert_eq!(call(&b).await.0, StatusCode::OK, "another desk has its own allowance");
    assert_eq!(reg.sql_count("SELECT count(*) FROM lookups").await, 4, "a refused lookup is not run");
    tokio::time::sleep(wait).await;
    assert_eq!(call(&a).await.0, StatusCode::OK, "a token flowed back");
    assert_eq!(call(&a).await.0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn online_allocation_over_the_burst_gets_429_and_a_retry_after_the_wait_succeeds() {
    let reg =
        Registry::with_config(Config { allocate_limit: RateLimit::per_second(0.25, 2), ..Config::default() }).await;
    let a = reg.desk(101).await;
    let b = reg.desk(147).await;
    let body =
        |k: &str| serde_json::to_vec(&json!({ "idempotency_key": k, "birth_date": "1980-01-01", "sex": "F" })).unwrap();
    let call = |d: &Desk, k: &str| {
        let bytes = body(k);
        let headers = d.signed_headers("POST", "/v1/allocate", &bytes, &d.id, &d.key);
        let router = reg.router.clone();
        async move { raw(&router, Method::POST, "/v1/allocate", bytes, &headers).await }
    };
    assert_eq!(call(&a, "1").await.0, StatusCode::OK);
    assert_eq!(call(&a, "2").await.0, StatusCode::OK);
    let (status, retry, _, problem) = call(&a, "3").await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("allocate.rate_limited")));
    let wait = retry_after(retry);
    assert_eq!(reg.sql_count("SELECT count(*) FROM numbers").await, 2, "nothing was allocated for the refused call");
    assert_eq!(call(&b, "1").await.0, StatusCode::OK);
    tokio::time::sleep(wait).await;
    assert_eq!(call(&a, "3").await.0, StatusCode::OK);
}

#[tokio::test]
async fn refused_enrolment_attempts_are_limited_per_address_and_successful_ones_are_not() {
    let reg = Registry::with_config(Config { enrol_limit: RateLimit::per_minute(15.0, 2), ..Config::default() }).await;
    // Successful enrolments spend one-time codes and never the allowance.
    for m in [101, 147, 461] {
        reg.desk(m).await;
    }
    let key = || hex::encode(new_key().verifying_key().as_bytes());
    let enrol = |code: String| {
        let bytes = serde_json::to_vec(&json!({ "enrolment_code": code, "public_key": key() })).unwrap();
        let router = reg.router.clone();
        async move { raw(&router, Method::POST, "/v1/enrol", bytes, &[]).await }
    };
    assert_eq!(enrol("GUES-SING-0000-0001".into()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(enrol("GUES-SING-0000-0002".into()).await.0, StatusCode::FORBIDDEN);
    let good = reg.enrolment_code(751).await;
    let (status, retry, content_type, problem) = enrol(good.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "even a good code waits once the guesses used the allowance");
    assert_eq!(content_type, "application/problem+json");
    let wait = retry_after(retry);
    assert_eq!(problem["code"], "enrol.rate_limited");
    tokio::time::sleep(wait).await;
    let (status, _, _, body) = enrol(good).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
