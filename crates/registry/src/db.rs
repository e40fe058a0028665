//! The connection pool and the one migration path: SQL files embedded in the
//! binary, applied in order inside a transaction, each recorded in
//! `schema_version`. `skranke-registry migrate` and `serve` both run them, so
//! a fresh database and an upgraded one end in the same schema.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use skranke_rules::lease::Block;
use tokio_postgres::NoTls;

use crate::error::{RegistryError, Result};

/// `(version, sql)`, ascending.
pub const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_login_number.sql")),
    (3, include_str!("../migrations/0003_retention.sql")),
    (4, include_str!("../migrations/0004_feed_logins.sql")),
    (5, include_str!("../migrations/0005_restore_feed_mark.sql")),
    (6, include_str!("../migrations/0006_revocation.sql")),
    (7, include_str!("../migrations/0007_disputed_numbers.sql")),
    (8, include_str!("../migrations/0008_versions.sql")),
    (9, include_str!("../migrations/0009_quarantine.sql")),
    (10, include_str!("../migrations/0010_keyed_duplicates.sql")),
    (11, include_str!("../migrations/0011_municipality_settings.sql")),
];

/// A pool of connections to `database_url` (the registry's PostgreSQL runs
/// on the same host or a trusted network; TLS to it is the operator's
/// choice of URL and proxy, not handled here).
pub fn pool(database_url: &str, size: usize) -> Result<Pool> {
    let config: tokio_postgres::Config =
        database_url.parse().map_err(|e| RegistryError::Config(format!("DATABASE_URL: {e}")))?;
    let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager).max_size(size).build().map_err(|e| RegistryError::Config(format!("pool: {e}")))
}

/// Applies every migration not yet applied and makes sure every unit of the
/// block has its row. Returns the versions applied now.
pub async fn migrate(pool: &Pool, block: &Block) -> Result<Vec<i32>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // One migrator at a time, even with several registry processes starting.
    tx.execute("SELECT pg_advisory_xact_lock(7001)", &[]).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version     integer PRIMARY KEY,
             applied_at  timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let applied: Vec<i32> =
        tx.query("SELECT version FROM schema_version", &[]).await?.iter().map(|r| r.get(0)).collect();
    let mut now_applied = Vec::new();
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[version]).await?;
        now_applied.push(*version);
    }
    let slots: Vec<i32> = block.slots().iter().map(|s| i32::from(s.value())).collect();
    tx.execute(
        "INSERT INTO units (slot, rank)
         SELECT s, r FROM unnest($1::int[]) AS s, generate_series(0, 3) AS r
         ON CONFLICT DO NOTHING",
        &[&slots],
    )
    .await?;
    tx.commit().await?;
    Ok(now_applied)
}

/// The registry's current sequence: every answer to a desk carries it.
pub async fn sequence(client: &impl deadpool_postgres::GenericClient) -> Result<i64> {
    Ok(client.query_one("SELECT last_value FROM registry_seq", &[]).await?.get(0))
}
