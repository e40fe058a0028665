//! Every refusal is a problem document (`application/problem+json`, its
//! `status` the response's own), also those axum makes by itself: a method
//! a route does not serve (405, with `Allow`), a path parameter that does not
//! decode, a query that does not parse, a route that does not exist. A desk
//! route's refusal stays signed by the registry.

mod common;

use axum::http::{header, Method, StatusCode};
use common::*;
use serde_json::Value;
use skranke_protocol::trust;
use skranke_registry::api::Access;

fn assert_problem(answer: &Answer, status: StatusCode, code: &str, what: &str) {
    assert_eq!(answer.status, status, "{what}");
    let content_type = answer.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(content_type, "application/problem+json", "{what}");
    let problem = answer.json();
    assert_eq!(problem["status"], status.as_u16(), "{what}: {problem}");
    assert_eq!(problem["code"], code, "{what}: {problem}");
    let title = problem["title"].as_str().unwrap_or("");
    assert!(!title.is_empty() && !title.starts_with("protocol.problem."), "{what}: no catalog title: {problem}");
}

#[tokio::test]
async fn a_method_a_route_does_not_serve_is_a_problem_with_allow() {
    let reg = Registry::start().await;
    let desk = reg.desk(101).await;
    for route in &reg.routes {
        let served = route.method.to_ascii_uppercase();
        let path = route.path.replace("{record_id}", "D1-1");
        for method in [Method::PUT, Method::DELETE, Method::PATCH, Method::TRACE] {
            let what = format!("{method} {path}");
            // Authenticated as the route asks: authentication comes first.
            let headers = match route.access {
                Access::Feed => vec![("authorization", "Bearer feed-secret".to_string())],
                _ => desk.signed_headers(method.as_str(), &path, b"", &desk.id, &desk.key),
            };
            let answer = send_raw(&reg.router, method.clone(), &path, Vec::new(), &headers).await;
            assert_problem(&answer, StatusCode::METHOD_NOT_ALLOWED, "request.method", &what);
            let allow = answer.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("");
            assert!(allow.contains(&served), "{what}: Allow {allow:?} names {served}");
        }
    }
}

#[tokio::test]
async fn a_path_or_query_that_does_not_decode_and_an_unknown_route_are_problems() {
    let reg = Registry::start().await;
    let desk = reg.desk(101).await;
    // Not UTF-8 once percent-decoded: axum's path extractor refuses it.
    let path = "/v1/records/D1-%FF";
    let headers = desk.signed_headers("GET", path, b"", &desk.id, &desk.key);
    let nonce = headers.iter().find(|(k, _)| *k == skranke_protocol::header::NONCE).unwrap().1.clone();
    let answer = send_raw(&reg.router, Method::GET, path, Vec::new(), &headers).await;
    assert_problem(&answer, StatusCode::BAD_REQUEST, "request.malformed", path);
    assert!(answer.json()["detail"].as_str().is_some_and(|d| !d.is_empty()), "the detail says what did not decode");
    // The problem is what the registry signed.
    let signature = answer.headers.get(trust::header::ANSWER_SIGNATURE).and_then(|v| v.to_str().ok()).unwrap();
    let message = trust::answer_signing_message(&nonce, 400, &answer.body);
    assert!(trust::verify(&reg.state.key.public_key(), &message, signature), "the refusal is signed");

    let feed = [("authorization", "Bearer feed-secret".to_string())];
    for query in ["/v1/feed?after=abc", "/v1/feed?limit=1.5", "/v1/feed?after=99999999999999999999"] {
        let answer = send_raw(&reg.router, Method::GET, query, Vec::new(), &feed).await;
        assert_problem(&answer, StatusCode::BAD_REQUEST, "request.query", query);
    }
    let answer = send_raw(&reg.router, Method::GET, "/v2/nowhere", Vec::new(), &[]).await;
    assert_problem(&answer, StatusCode::NOT_FOUND, "request.not_found", "/v2/nowhere");
    assert_eq!(answer.json()["type"], Value::from("urn:skranke:problem:request.not_found"));
}

/// Found by scripts/schemathesis.sh: a lease and a return share the table
/// of stored answers, so a return under a lease's key (or the reverse) was
/// taken for a new request and failed on the key, a 500. It is another
/// request under a used key: 409 `request.key_reused`, and nothing changes.
#[tokio::test]
async fn a_lease_key_used_again_for_a_return_is_a_conflict_not_a_server_error() {
    let reg = Registry::start().await;
    let desk = reg.desk(101).await;
    let (s, lease) =
        desk.call(Method::POST, "/v1/lease", &serde_json::json!({ "idempotency_key": "k1", "units": 1 })).await;
    assert_eq!(s, StatusCode::OK, "{lease}");
    let give_back = serde_json::json!({ "idempotency_key": "k1", "units": lease["granted"], "records_issued": 0 });
    let (s, p) = desk.call(Method::POST, "/v1/lease/return", &give_back).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("request.key_reused")), "{p}");
    let (s, again) =
        desk.call(Method::POST, "/v1/lease", &serde_json::json!({ "idempotency_key": "k1", "units": 1 })).await;
    assert_eq!((s, &again["bindings"]), (StatusCode::OK, &lease["bindings"]), "the unit stays bound");

    let back = serde_json::json!({ "idempotency_key": "k2", "units": [], "records_issued": 0 });
    let (s, _) = desk.call(Method::POST, "/v1/lease/return", &back).await;
    assert_eq!(s, StatusCode::OK);
    let (s, p) =
        desk.call(Method::POST, "/v1/lease", &serde_json::json!({ "idempotency_key": "k2", "units": 1 })).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::CONFLICT, Some("request.key_reused")), "{p}");
}
