//! The service's log: one line per request (`api::log_request`: method,
//! route template, status, duration, desk ID) and a few lines about the
//! service itself. What may appear in it is decided where each line is
//! written, and the rule is the same everywhere: IDs, codes and counts,
//! never a request body, a name, a document, a personnummer or a password.
//! Database errors are logged by SQLSTATE, table and constraint, because
//! PostgreSQL's own message and detail quote the values involved.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The subscriber `serve` and the operator commands log through: `RUST_LOG`
/// filters (default `info`), written to `writer`. Tests capture the
/// service's log by passing a writer of their own.
pub fn subscriber<W>(writer: W, ansi: bool) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(writer)
        .with_ansi(ansi)
        .finish()
}

/// Installs [`subscriber`] for the whole process; false when one was
/// installed before.
pub fn install<W>(writer: W, ansi: bool) -> bool
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing::subscriber::set_global_default(subscriber(writer, ansi)).is_ok()
}

/// A database error as it may be logged: SQLSTATE, table, column and
/// constraint, never the server's message (it quotes values).
pub fn database_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "sqlstate {} table {} column {} constraint {}",
            db.code().code(),
            db.table().unwrap_or("-"),
            db.column().unwrap_or("-"),
            db.constraint().unwrap_or("-")
        ),
        // Connection and protocol failures name no values.
        None if e.is_closed() => "connection closed".into(),
        None => e.code().map(|c| format!("sqlstate {}", c.code())).unwrap_or_else(|| "client error".into()),
    }
}
