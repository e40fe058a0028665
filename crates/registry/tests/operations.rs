//! What the registry's operators run and watch: `/health` and `/ready`,
//! the operator lists and the audited opening of a case, and `/metrics`.

mod common;
mod support;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::Value;
use skranke_registry::{db, AppState, Config, RegistryKey};
use skranke_rules::lease::Block;

/// A registry whose pool points at `url` (the database itself is never touched
/// before a request asks for it).
fn registry_on(url: &str) -> axum::Router {
    let pool = db::pool(url, 2).unwrap();
    let key = std::sync::Arc::new(RegistryKey::generate(chrono::Utc::now()));
    let state = AppState::new(pool, Block::default_block(), Config::default(), skranke_registry::system_clock(), key);
    skranke_registry::api::router(state).0
}

#[tokio::test]
async fn health_says_only_that_the_process_answers_and_ready_that_the_database_does() {
    let reg = Registry::start().await;
    let (s, health) = reg.send(Method::GET, "/health", &Value::Null, &[]).await;
    assert_eq!((s, health), (StatusCode::OK, serde_json::json!({ "status": "ok" })));
    let (s, ready) = reg.send(Method::GET, "/ready", &Value::Null, &[]).await;
    assert_eq!((s, ready), (StatusCode::OK, serde_json::json!({ "status": "ready" })));

    // No database at all: alive, not ready, and a problem document says so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let gone = registry_on(&format!("postgres://postgres@127.0.0.1:{port}/none"));
    let (s, health) = send(&gone, Method::GET, "/health", Vec::new(), &[]).await;
    assert_eq!((s, health["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, p) = send(&gone, Method::GET, "/ready", Vec::new(), &[]).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("registry.not_ready")));
    assert!(p.get("registry_sequence").is_none() && p["detail"].is_null(), "{p}");

    // A database that accepts the connection and never answers: not ready
    // within the timeout, not hanging.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let hung = registry_on(&format!("postgres://postgres@127.0.0.1:{port}/none"));
    let started = std::time::Instant::now();
    let (s, p) = send(&hung, Method::GET, "/ready", Vec::new(), &[]).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("registry.not_ready")));
    let waited = started.elapsed();
    assert!(waited >= skranke_registry::api::READY_TIMEOUT && waited < std::time::Duration::from_secs(5), "{waited:?}");
    drop(silent);
}

/// An `issued` event whose person matches `who` on birth date, nationality
/// and Latin name but carries another document: a review, not a duplicate.
fn issued_review(
    record_id: &str,
    n: &skranke_rules::cpr::Personnummer,
    who: &str,
    document: &str,
) -> skranke_protocol::Event {
    let mut e = issued(record_id, n, skranke_protocol::NumberSource::Online, who);
    if let skranke_protocol::EventBody::Issued(r) = &mut e.body {
        r.document_key = format!("doc-{document}");
    }
    skranke_protocol::Event::new(e.idempotency_key.clone(), e.body)
}

fn void(record_id: &str, replaced_by: &str) -> skranke_protocol::Event {
    skranke_protocol::Event::new(
        format!("{record_id}:void"),
        skranke_protocol::EventBody::Voided(skranke_protocol::Void {
            record_id: record_id.to_string(),
            voided_at: chrono::Utc::now(),
            reason: "duplicate".into(),
            replaced_by: Some(replaced_by.to_string()),
        }),
    )
}

#[tokio::test]
async fn operators_list_cases_with_their_state_oldest_first_without_names_and_opening_one_is_recorded() {
    use skranke_protocol::NumberSource;
    use skranke_registry::lists::{self, CaseKind, CaseState};
    use skranke_rules::cpr::Sex;
    let reg = Registry::start().await;
    let pool = reg.state.pool.clone();
    let mut a = reg.desk(101).await;
    let mut b = reg.desk(751).await;
    let d = date(1970, 2, 2);
    let online = |v: &Value| number(v["number"].as_str().unwrap());

    // A duplicate document (A and B), which B's supervisor decides by voiding B's record.
    let (ra, rb) = (a.record_id(), b.record_id());
    let ea = issued(&ra, &online(&a.allocate("a1", d, Sex::Male).await.1), NumberSource::Online, "same");
    let eb = issued(&rb, &online(&b.allocate("b1", d, Sex::Male).await.1), NumberSource::Online, "same");
    assert_eq!(outcomes(&a.upload(&[ea]).await.1), ["accepted"]);
    assert_eq!(outcomes(&b.upload(&[eb]).await.1), ["accepted"]);
    // A review (same person key, other document), left open.
    let (ra2, rb2) = (a.record_id(), b.record_id());
    let e1 = issued_review(&ra2, &online(&a.allocate("a2", d, Sex::Female).await.1), "review", "one");
    let e2 = issued_review(&rb2, &online(&b.allocate("b2", d, Sex::Female).await.1), "review", "two");
    assert_eq!(outcomes(&a.upload(&[e1]).await.1), ["accepted"]);
    assert_eq!(outcomes(&b.upload(&[e2]).await.1), ["accepted"]);
    assert_eq!(outcomes(&b.upload(&[void(&rb, &ra)]).await.1), ["accepted"]);
    // A conflict: A issues again under record 1 for someone else.
    let n1: String = {
        let c = pool.get().await.unwrap();
        c.query_one("SELECT number::text FROM records WHERE record_id = $1", &[&ra]).await.unwrap().get(0)
    };
    let again = skranke_protocol::Event::new("clone:1", issued(&ra, &number(&n1), NumberSource::Online, "clone").body);
    let (_, up) = a.upload(&[again]).await;
    assert_eq!(reasons(&up), ["record_conflict"]);

    let all = lists::cases(&pool, None, None).await.unwrap();
    let shape: Vec<(CaseKind, &str, CaseState, Option<&str>)> =
        all.iter().map(|c| (c.kind, c.reason.as_str(), c.state, c.decided_by.as_deref())).collect();
    assert_eq!(
        shape,
        [
            (CaseKind::Duplicate, "duplicate_document", CaseState::Decided, Some(b.id.as_str())),
            (CaseKind::Duplicate, "duplicate_review", CaseState::Open, None),
            (CaseKind::Conflict, "conflict:record_conflict", CaseState::Open, None),
        ],
        "oldest first: {all:?}"
    );
    let dup = &all[0];
    let mut desks = [dup.desk_id.as_str(), dup.other_desk_id.as_deref().unwrap()];
    desks.sort();
    let mut expected = [a.id.as_str(), b.id.as_str()];
    expected.sort();
    assert_eq!(desks, expected);
    assert_eq!(
        (all[2].record_id.as_deref(), all[2].other_record_id.as_deref(), all[2].municipality),
        (Some(ra.as_str()), Some(ra.as_str()), 101)
    );
    assert_eq!(lists::cases(&pool, Some(CaseKind::Conflict), None).await.unwrap().len(), 1);
    let open = lists::cases(&pool, Some(CaseKind::Duplicate), Some(CaseState::Open)).await.unwrap();
    assert_eq!(open.iter().map(|c| c.reason.as_str()).collect::<Vec<_>>(), ["duplicate_review"]);
    let listed = serde_json::to_string(&all).unwrap();
    assert!(!listed.contains("Person ") && !listed.contains("PERSON ") && !listed.contains("020270"), "{listed}");

    // Opening a case is an act of its own, recorded without the values.
    let logged = |action: &'static str| {
        let pool = pool.clone();
        async move {
            let c = pool.get().await.unwrap();
            c.query("SELECT operator, detail FROM operator_log WHERE action = $1", &[&action])
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, Value>(1)))
                .collect::<Vec<_>>()
        }
    };
    assert!(lists::open_case(&pool, "mette", "D999999").await.unwrap().is_none());
    assert!(lists::open_case(&pool, "mette", "nonsense").await.unwrap().is_none());
    assert!(logged("case_show").await.is_empty(), "no case, nothing opened");
    let shown = lists::open_case(&pool, "mette", &all[2].case_id).await.unwrap().unwrap();
    assert_eq!(shown["records"][0]["person"]["name_latin"], "PERSON same");
    assert_eq!(shown["kept_event"]["person"]["name_latin"], "PERSON clone");
    assert!(!shown.to_string().contains("argon2"), "no password hash");
    let log = logged("case_show").await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].0, "mette");
    assert_eq!(log[0].1["case_id"], all[2].case_id.as_str());
    assert!(!log[0].1.to_string().contains("PERSON"), "{:?}", log[0]);

    // Retention closes what it erased (records once CPR and Jobnet registered them).
    let confirm = serde_json::json!({ "registered": [ra, ra2, rb2] });
    let token = [("authorization", "Bearer feed-secret".to_string())];
    assert_eq!(reg.send(Method::POST, "/v1/feed/confirm", &confirm, &token).await.0, StatusCode::OK);
    let erased = skranke_registry::privacy::purge(&pool, "t", 0, chrono::Utc::now() + chrono::Duration::days(1), false);
    erased.await.unwrap();
    let after = lists::cases(&pool, None, None).await.unwrap();
    let states: Vec<CaseState> = after.iter().map(|c| c.state).collect();
    assert_eq!(states[1..], [CaseState::Closed, CaseState::Closed], "{after:?}");
}

#[tokio::test]
async fn operators_list_desks_by_standing_silence_and_reserve_numbers_running_low_and_the_feeds_lag() {
    use skranke_protocol::NumberSource;
    use skranke_registry::lists;
    use skranke_registry::revocation::DeskState;
    use skranke_rules::cpr::Sex;
    use std::collections::HashSet;
    let reg = Registry::start().await;
    let pool = reg.state.pool.clone();
    let mut full = reg.desk(101).await; // two units, one birth date used up
    let half = reg.desk(147).await; // one unit
    let rich = reg.desk(173).await; // two units, nothing issued
    let retired = reg.desk(751).await;
    let revoked = reg.desk(851).await;
    let (_, lf) = full.lease("l", 2).await;
    let (_, _) = half.lease("l", 1).await;
    let (_, _) = rich.lease("l", 2).await;
    let d = date(1990, 5, 17);
    let mut events = Vec::new();
    for u in units_of(&lf["granted"]) {
        events.push(issued(&full.record_id(), &u.number(d, Sex::Female).unwrap(), NumberSource::Lease, "lease"));
    }
    assert_eq!(outcomes(&full.upload(&events).await.1), ["accepted", "accepted"]);
    assert!(skranke_registry::ops::retire_desk(&pool, "t", &retired.id).await.unwrap());
    assert!(skranke_registry::revocation::revoke_desk(&pool, "t", &revoked.id).await.unwrap());

    let standing = lists::desks_in(&pool, &[]).await.unwrap();
    let mut got: Vec<(String, DeskState)> = standing.iter().map(|d| (d.desk_id.clone(), d.state)).collect();
    got.sort_by(|x, y| x.0.cmp(&y.0));
    let mut want = vec![(retired.id.clone(), DeskState::Retired), (revoked.id.clone(), DeskState::Revoked)];
    want.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(got, want);
    let only = lists::desks_in(&pool, &[DeskState::Revoked]).await.unwrap();
    assert_eq!(only.iter().map(|d| d.desk_id.as_str()).collect::<Vec<_>>(), [revoked.id.as_str()]);

    // Every desk synced or enrolled just now: none silent for 7 days, until 8 days from now.
    let now = chrono::Utc::now();
    assert!(lists::silent(&pool, 7, now).await.unwrap().is_empty());
    let later = lists::silent(&pool, 7, now + chrono::Duration::days(8)).await.unwrap();
    let silent: HashSet<&str> = later.iter().map(|d| d.desk_id.as_str()).collect();
    assert_eq!(
        silent,
        HashSet::from([full.id.as_str(), half.id.as_str(), rich.id.as_str()]),
        "retired and revoked desks are not awaited"
    );

    let low = lists::low_reserve(&pool, 2).await.unwrap();
    let low: Vec<(&str, i64, i64, i64)> =
        low.iter().map(|r| (r.desk_id.as_str(), r.units, r.exhausted, r.fewest_left)).collect();
    assert_eq!(
        low,
        [(full.id.as_str(), 2, 1, 0), (half.id.as_str(), 1, 0, 1)],
        "the poorest first; the rich desk is not listed"
    );

    // Two online allocations take two modulus-11 numbers of one date.
    let od = date(1985, 3, 4);
    let block = Block::default_block();
    let everything =
        skranke_registry::alloc::online_candidates(&block, od, Sex::Male, &HashSet::new(), &HashSet::new());
    let modulus11 = everything.iter().filter(|n| n.passes_modulus11()).count();
    for key in ["o1", "o2"] {
        let (s, n) = rich.allocate(key, od, Sex::Male).await;
        assert_eq!(s, StatusCode::OK, "{n}");
        assert!(number(n["number"].as_str().unwrap()).passes_modulus11());
    }
    let low = lists::numbers_low(&pool, &block, modulus11 - 1).await.unwrap();
    assert_eq!(low.len(), 1, "{low:?}");
    assert_eq!((low[0].birth_date, low[0].sex.as_str(), low[0].modulus11_left), (od, "M", modulus11 - 2));
    assert!(low[0].online_left < everything.len() - 2, "the units bound to desks are not offered online");
    assert!(lists::numbers_low(&pool, &block, modulus11 - 2).await.unwrap().is_empty());

    // The feed: two records wait; CPR registers one and Jobnet refuses the other.
    let feed = lists::feed(&pool, now + chrono::Duration::minutes(5)).await.unwrap();
    assert_eq!(feed.unconfirmed, 2);
    let first = feed.oldest_unconfirmed.clone().unwrap();
    assert!(first.record_id.starts_with(&full.id) && feed.lag_seconds.unwrap() >= 290, "{feed:?}");
    let (r1, r2) = (format!("{}-1", full.id), format!("{}-2", full.id));
    let confirm = serde_json::json!({
        "registered": [r1],
        "refused": [{ "record_id": r2, "system": "jobnet", "reason": "username_taken" }],
    });
    let token = [("authorization", "Bearer feed-secret".to_string())];
    assert_eq!(reg.send(Method::POST, "/v1/feed/confirm", &confirm, &token).await.0, StatusCode::OK);
    let feed = lists::feed(&pool, now).await.unwrap();
    assert_eq!((feed.unconfirmed, feed.oldest_unconfirmed, feed.lag_seconds), (0, None, None));
    let refused: Vec<(&str, Option<&str>, Option<&str>)> = feed
        .refusals
        .iter()
        .map(|r| (r.record_id.as_str(), r.refused_by.as_deref(), r.refused_reason.as_deref()))
        .collect();
    assert_eq!(refused, [(r2.as_str(), Some("jobnet"), Some("username_taken"))]);
}

/// The command line runs the same lists: each `--json` is JSON, each text
/// line comes from the catalog with every placeholder filled, and `case
/// show` of an unknown case is refused.
#[tokio::test]
async fn the_list_commands_print_json_and_catalog_lines_and_case_show_refuses_an_unknown_case() {
    let reg = Registry::start().await;
    let a = reg.desk(101).await;
    let _ = reg.enrolment_code(147).await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_skranke-registry"))
            .args(args)
            .env("DATABASE_URL", &reg.db.url)
            .env("SKRANKE_LANG", "en")
            .env("SKRANKE_OPERATOR", "tester")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let lists: [&[&str]; 9] = [
        &["list", "conflicts"],
        &["list", "duplicates", "--state", "open"],
        &["list", "disputed"],
        &["list", "desks", "--state", "retired"],
        &["list", "codes"],
        &["list", "silent", "--days", "0"],
        &["list", "low-reserve"],
        &["list", "numbers-low"],
        &["list", "feed"],
    ];
    for args in lists {
        let (code, text, err) = run(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(!text.trim().is_empty() && !text.contains('{') && !text.contains("registry."), "{args:?}: {text}");
        let json: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
        let (code, text, err) = run(&json);
        assert_eq!(code, Some(0), "{json:?}: {err}");
        serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{json:?}: {e}: {text}"));
    }
    let (_, codes, _) = run(&["list", "codes", "--json"]);
    let codes: Value = serde_json::from_str(&codes).unwrap();
    assert_eq!(codes[0]["municipality"], 147);
    assert!(codes[0].get("code").is_none() && codes[0].get("code_hash").is_none(), "{codes}");
    let (_, silent, _) = run(&["list", "silent", "--days", "0"]);
    assert!(silent.contains(&a.id), "{silent}");
    let (code, _, err) = run(&["case", "show", "C1"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("No case C1"), "{err}");
}

const METRICS_TOKEN: &str = "metrics-secret-0123456789";

/// A GET on the live registry: status, content type and body.
fn get(url: &str, token: Option<&str>) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.get(url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let mut resp = req.call().unwrap();
    let status = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (status, content_type, resp.body_mut().read_to_string().unwrap())
}

/// Every label value of a Prometheus text exposition.
fn label_values(text: &str) -> Vec<(String, String)> {
    let pair = regex::Regex::new(r#"([a-z_]+)="([^"]*)""#).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| Some(l.get(l.find('{')?..=l.find('}')?)?.to_string()))
        .flat_map(|labels| {
            pair.captures_iter(&labels).map(|c| (c[1].to_string(), c[2].to_string())).collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn metrics_are_served_to_their_token_only_by_route_template_and_no_label_names_a_desk_or_record() {
    use skranke_core::keystore::MemoryKeyStore;
    use skranke_core::sync::{self, HttpAllocator};
    use skranke_rules::cpr::Sex;
    use support::{LiveRegistry, TestDesk};
    let config = Config {
        feed_token: Some("feed-secret".into()),
        metrics_token: Some(METRICS_TOKEN.into()),
        ..Config::default()
    };
    let reg = LiveRegistry::with_config(config);
    let mut desk = TestDesk::enrol(&reg, &reg.url(), 461, 4, std::sync::Arc::new(MemoryKeyStore::new()));
    let client = desk.client(&reg.url());
    sync::run(&mut desk.store, &client).unwrap();
    let online = HttpAllocator::new(&client);
    let issued = desk.issue(0, date(1985, 6, 1), Sex::Female, Some(&online)).unwrap();
    online.remember(&mut desk.store).unwrap();
    let offline = desk.issue(1, date(1985, 6, 2), Sex::Male, None).unwrap();
    let report = sync::run(&mut desk.store, &client).unwrap();
    assert_eq!(report.pending, 0, "{report:?}");
    // A record's path, unsigned: refused, and counted under its template.
    let (s, ..) = get(&format!("{}/v1/records/{}", reg.url(), issued.record_id), None);
    assert_eq!(s, 401);

    // No token, a wrong one, the feed's: refused as problems.
    let url = format!("{}/metrics", reg.url());
    for token in [None, Some("not-the-token"), Some("feed-secret")] {
        let (s, content_type, body) = get(&url, token);
        assert_eq!((s, content_type.as_str()), (401, "application/problem+json"), "{token:?}: {body}");
    }
    let (s, content_type, text) = get(&url, Some(METRICS_TOKEN));
    assert_eq!(s, 200, "{text}");
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    for line in [
        r#"registry_requests_total{method="POST",route="/v1/events",status="200"}"#,
        r#"registry_requests_total{method="GET",route="/v1/records/{record_id}",status="401"}"#,
        r#"registry_request_duration_seconds_bucket{method="POST",route="/v1/sync",le="0.005"}"#,
        r#"registry_upload_verdicts_total{outcome="accepted",reason="none"}"#,
        r#"registry_allocations_total{source="modulus11"} 1"#,
        r#"registry_desks{state="active"} 1"#,
        r#"registry_desks{state="revoked"} 0"#,
        r#"registry_feed_unconfirmed 2"#,
        r#"registry_reconciling 0"#,
        r#"registry_lease_units{state="free"} 798"#,
        r#"registry_lease_units{state="bound"} 2"#,
        r#"registry_database_up 1"#,
        r#"registry_db_pool_connections{use="max"} 8"#,
        "registry_lease_units_granted_total ",
        "registry_feed_lag_seconds ",
        "# TYPE registry_request_duration_seconds histogram",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    let accepted = text
        .lines()
        .find_map(|l| l.strip_prefix(r#"registry_upload_verdicts_total{outcome="accepted",reason="none"} "#))
        .and_then(|n| n.parse::<f64>().ok());
    assert!(accepted.is_some_and(|n| n >= 2.0), "{accepted:?}");
    // Labels are closed sets: route templates, status codes, codes in lower case.
    let templates: Vec<&str> = vec![
        "/health",
        "/ready",
        "/openapi.json",
        "/metrics",
        "/v1/registry-key",
        "/v1/enrol",
        "/v1/allocate",
        "/v1/lease",
        "/v1/lease/return",
        "/v1/events",
        "/v1/sync",
        "/v1/lookup",
        "/v1/records/{record_id}",
        "/v1/feed",
        "/v1/feed/confirm",
        "-",
    ];
    let code = regex::Regex::new("^[a-z0-9_]+$").unwrap();
    let values = label_values(&text);
    assert!(values.len() > 20, "{values:?}");
    for (name, value) in &values {
        let ok = match name.as_str() {
            "route" => templates.contains(&value.as_str()),
            "method" => ["GET", "POST"].contains(&value.as_str()),
            "le" => value == "+Inf" || value.parse::<f64>().is_ok(),
            _ => code.is_match(value),
        };
        assert!(ok, "label {name}={value:?}");
    }
    let digits = |n: &skranke_rules::cpr::Personnummer| n.to_string().replace('-', "");
    for secret in [desk.id.clone(), issued.record_id.clone(), digits(&issued.number), digits(&offline.number)] {
        assert!(!text.contains(&secret), "{secret} in the metrics");
    }
}

#[tokio::test]
async fn without_a_metrics_token_there_is_no_metrics_route() {
    let reg = Registry::start().await;
    let (s, p) = reg.send(Method::GET, "/metrics", &Value::Null, &[("authorization", "Bearer x".into())]).await;
    assert_eq!((s, p["code"].as_str()), (StatusCode::NOT_FOUND, Some("request.not_found")));
    assert!(reg.routes.iter().all(|r| r.path != "/metrics"), "not part of the API document");
}

/// `serve --metrics-token-file`: the token is read from the file (a short
/// one refuses to start), and the process serves `/metrics` to it.
#[test]
fn serve_reads_the_metrics_token_from_its_file_and_refuses_a_short_one() {
    let db = skranke_registry::testing::TestDatabase::create(None);
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_skranke-registry");
    let key = dir.path().join("registry.key");
    let status = std::process::Command::new(bin).args(["key", "generate", "--file"]).arg(&key).output().unwrap();
    assert!(status.status.success(), "{status:?}");
    let token_file = dir.path().join("metrics.token");
    let serve = |token: &str, port: u16| {
        std::fs::write(&token_file, format!("{token}\n")).unwrap();
        std::process::Command::new(bin)
            .args(["serve", "--insecure-http", "--listen", &format!("127.0.0.1:{port}"), "--metrics-token-file"])
            .arg(&token_file)
            .env("DATABASE_URL", &db.url)
            .env("SKRANKE_REGISTRY_KEY_FILE", &key)
            .env("SKRANKE_LANG", "en")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let short = serve("short", port()).wait_with_output().unwrap();
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("shorter than 16"), "{short:?}");

    let p = port();
    let mut child = serve(METRICS_TOKEN, p);
    let base = format!("http://127.0.0.1:{p}");
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", p)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let scraped =
        up.then(|| (get(&format!("{base}/metrics"), Some(METRICS_TOKEN)), get(&format!("{base}/metrics"), None)));
    let _ = child.kill();
    let _ = child.wait();
    let ((s, _, text), (refused, ..)) = scraped.expect("serve listens");
    assert_eq!((s, refused), (200, 401), "{text}");
    assert!(text.contains("registry_database_up 1") && text.contains(r#"registry_desks{state="active"} 0"#), "{text}");
}
