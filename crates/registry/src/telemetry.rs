//! Prometheus metrics at `GET /metrics`, behind a bearer token of their own
//! (`serve --metrics-token-file`); without one the route is not served.
//!
//! Counted as things happen (through the `metrics` facade): requests by
//! method, route template and status with their latency; upload verdicts by
//! outcome and reason; online allocations by the tier the number came from;
//! lease units granted. Read from the database at each scrape: desks by
//! standing, lease units free, bound and retired, the feed's lag,
//! reconciling, and the connection pool's use.
//!
//! Labels are closed sets: a route *template* (never a raw path, which
//! holds record IDs), a status code, a verdict's stable reason code, a
//! standing. No desk ID, record ID, number or name is ever a label: a
//! scrape says how the registry is doing, never about whom.
//!
//! The recorder is the process's global one (installed once: every
//! registry state in one process counts into it, as `serve` has one).

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};
use skranke_protocol::Outcome;
use skranke_rules::cpr::Personnummer;
use skranke_rules::lease::LeaseUnit;

use crate::error::{RegistryError, Result};
use crate::AppState;

/// Request latency buckets, in seconds: from a cached answer to the
/// allocation deadline and a large upload batch.
const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0];

/// The global recorder's handle, installed on first use.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full("registry_request_duration_seconds".into()), LATENCY_BUCKETS)
            .expect("the buckets are not empty");
        match builder.install_recorder() {
            Ok(handle) => {
                describe();
                handle
            }
            // Another recorder is installed (not by `serve`): render an empty one.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// Installs the recorder (`serve` does it before the first request, so that
/// nothing counted is lost).
pub fn install() {
    handle();
}

fn describe() {
    metrics::describe_counter!("registry_requests_total", "Requests by method, route template and status.");
    metrics::describe_histogram!(
        "registry_request_duration_seconds",
        metrics::Unit::Seconds,
        "Request latency by method and route template."
    );
    metrics::describe_counter!("registry_upload_verdicts_total", "Uploaded events by verdict and reason code.");
    metrics::describe_counter!(
        "registry_allocations_total",
        "Online allocations by source: modulus11, kept_back (a slot's serial in no unit) or free_unit."
    );
    metrics::describe_counter!("registry_lease_units_granted_total", "Lease units bound to desks.");
    metrics::describe_gauge!("registry_desks", "Desks by standing.");
    metrics::describe_gauge!("registry_feed_unconfirmed", "Records neither registered nor refused downstream.");
    metrics::describe_gauge!(
        "registry_feed_lag_seconds",
        metrics::Unit::Seconds,
        "Age of the oldest record neither registered nor refused downstream (0: none)."
    );
    metrics::describe_gauge!("registry_feed_refused", "Downstream refusals that still stand, by system.");
    metrics::describe_gauge!("registry_lease_units", "Lease units of the block: free, bound to a desk, retired.");
    metrics::describe_gauge!("registry_reconciling", "1 while the registry waits for desks after a restore.");
    metrics::describe_gauge!("registry_db_pool_connections", "Database connections by use (in_use, idle, max).");
    metrics::describe_gauge!("registry_db_pool_waiting", "Requests waiting for a database connection.");
    metrics::describe_gauge!("registry_database_up", "1 when the scrape could read the database.");
}

/// One request, as the request log sees it.
pub fn request(method: &str, route: &str, status: StatusCode, elapsed: Duration) {
    let (method, route) = (method.to_string(), route.to_string());
    let status = status.as_u16().to_string();
    metrics::counter!("registry_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("registry_request_duration_seconds", "method" => method, "route" => route)
        .record(elapsed.as_secs_f64());
}

/// One event's verdict (`reason`: its stable code, if any).
pub fn verdict(outcome: Outcome, reason: Option<&'static str>) {
    let outcome = match outcome {
        Outcome::Accepted => "accepted",
        Outcome::AlreadyHeld => "already_held",
        Outcome::Conflict => "conflict",
        Outcome::Invalid => "invalid",
    };
    metrics::counter!("registry_upload_verdicts_total", "outcome" => outcome, "reason" => reason.unwrap_or("none"))
        .increment(1);
}

/// One number allocated online, by where in the allocation order it came from.
pub fn allocated(number: &Personnummer) {
    let source = match LeaseUnit::containing(number) {
        None if number.passes_modulus11() => "modulus11",
        None => "kept_back",
        Some(_) => "free_unit",
    };
    metrics::counter!("registry_allocations_total", "source" => source).increment(1);
}

/// Lease units just bound to a desk.
pub fn units_granted(n: usize) {
    metrics::counter!("registry_lease_units_granted_total").increment(n as u64);
}

/// Admits only the metrics token (hashes compared, as the feed's are).
/// Without a configured token the route does not exist at all.
pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Result<Response> {
    authorize(state.config.metrics_token.as_deref(), req.headers())?;
    Ok(next.run(req).await)
}

fn authorize(expected: Option<&str>, headers: &HeaderMap) -> Result<()> {
    let expected = expected.ok_or(RegistryError::refused(StatusCode::NOT_FOUND, "request.not_found"))?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if Sha256::digest(given.as_bytes()) != Sha256::digest(expected.as_bytes()) {
        return Err(RegistryError::unauthorized("auth.metrics_token"));
    }
    Ok(())
}

/// `GET /metrics`: the gauges read now, then everything in the Prometheus
/// text format. A database that does not answer leaves its gauges as they
/// were and sets `registry_database_up` to 0: the scrape itself still works.
pub async fn scrape(State(state): State<AppState>) -> Response {
    let handle = handle();
    let pool = state.pool.status();
    metrics::gauge!("registry_db_pool_connections", "use" => "in_use").set((pool.size - pool.available) as f64);
    metrics::gauge!("registry_db_pool_connections", "use" => "idle").set(pool.available as f64);
    metrics::gauge!("registry_db_pool_connections", "use" => "max").set(pool.max_size as f64);
    metrics::gauge!("registry_db_pool_waiting").set(pool.waiting as f64);
    let read = tokio::time::timeout(crate::api::READY_TIMEOUT, gauges(&state)).await;
    let up = matches!(read, Ok(Ok(())));
    if let Ok(Err(e)) = read {
        tracing::warn!(error = %e.loggable(), "metrics: the database gauges could not be read");
    }
    metrics::gauge!("registry_database_up").set(if up { 1.0 } else { 0.0 });
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}

/// The gauges that the database knows: one query.
async fn gauges(state: &AppState) -> Result<()> {
    let client = state.pool.get().await?;
    let r = client
        .query_one(
            "SELECT
                (SELECT count(*) FROM desks WHERE revoked_at IS NULL AND retired_at IS NULL AND quarantined_at IS NULL),
                (SELECT count(*) FROM desks WHERE revoked_at IS NULL AND retired_at IS NULL AND quarantined_at IS NOT NULL),
                (SELECT count(*) FROM desks WHERE revoked_at IS NULL AND retired_at IS NOT NULL),
                (SELECT count(*) FROM desks WHERE revoked_at IS NOT NULL),
                (SELECT count(*) FROM records WHERE state = 'received' AND refused_downstream_by IS NULL),
                (SELECT coalesce(extract(epoch FROM now() - min(received_at)), 0)::float8
                 FROM records WHERE state = 'received' AND refused_downstream_by IS NULL),
                (SELECT count(*) FROM records WHERE refused_downstream_by = 'cpr'),
                (SELECT count(*) FROM records WHERE refused_downstream_by = 'jobnet'),
                (SELECT reconciling FROM registry_meta),
                (SELECT count(*) FROM units WHERE desk_id IS NULL AND NOT retired),
                (SELECT count(*) FROM units WHERE desk_id IS NOT NULL AND NOT retired),
                (SELECT count(*) FROM units WHERE retired)",
            &[],
        )
        .await?;
    for (i, standing) in ["active", "quarantined", "retired", "revoked"].into_iter().enumerate() {
        metrics::gauge!("registry_desks", "state" => standing).set(r.get::<_, i64>(i) as f64);
    }
    metrics::gauge!("registry_feed_unconfirmed").set(r.get::<_, i64>(4) as f64);
    metrics::gauge!("registry_feed_lag_seconds").set(r.get::<_, f64>(5).max(0.0));
    metrics::gauge!("registry_feed_refused", "system" => "cpr").set(r.get::<_, i64>(6) as f64);
    metrics::gauge!("registry_feed_refused", "system" => "jobnet").set(r.get::<_, i64>(7) as f64);
    metrics::gauge!("registry_reconciling").set(if r.get::<_, bool>(8) { 1.0 } else { 0.0 });
    for (i, standing) in ["free", "bound", "retired"].into_iter().enumerate() {
        metrics::gauge!("registry_lease_units", "state" => standing).set(r.get::<_, i64>(9 + i) as f64);
    }
    Ok(())
}
