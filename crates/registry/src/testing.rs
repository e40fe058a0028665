//! Test support, shared by this crate's tests, the CLI's tests and the sync
//! benchmark: a throwaway PostgreSQL database, the service serving plain
//! HTTP on a loopback port in a runtime of its own, so that stopping it kills
//! every connection and every request in flight, as a killed process would,
//! and a fault-injecting proxy to put in front of it ([`proxy`]).
//!
//! Each registry has a key of its own, made when it is, kept across
//! [`LiveRegistry::restart`] (as `serve` keeps its key file) and replaced
//! only by [`LiveRegistry::set_key`].
//!
//! Not for production: nothing here is used by `serve`.

pub mod proxy;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use skranke_rules::lease::Block;

use crate::{api, db, ops, system_clock, AppState, Config, RegistryKey};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

/// A database of its own on the server named by `DATABASE_URL`, dropped
/// when this value is.
pub struct TestDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// Creates `skranke_test_<random>`, empty or as a copy of `template`.
    /// Panics with instructions when `DATABASE_URL` is not set.
    pub fn create(template: Option<&str>) -> TestDatabase {
        match TestDatabase::try_create(template) {
            Ok(db) => db,
            Err(e) => panic!("{e}"),
        }
    }

    /// As [`TestDatabase::create`], with the failure as a value (a template
    /// still in use by a closing session is worth a retry).
    pub fn try_create(template: Option<&str>) -> Result<TestDatabase, String> {
        let admin_url = std::env::var("DATABASE_URL").map_err(|_| {
            "DATABASE_URL is not set: these tests need a real PostgreSQL. \
             Start one with `eval \"$(bash scripts/ci/postgres.sh)\"` and run them again."
                .to_string()
        })?;
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).map_err(|e| e.to_string())?;
        let name = format!("skranke_test_{}", hex::encode(b));
        // Identifiers cannot be bound parameters: the name is ours (hex), a
        // template name must be a plain identifier.
        if template.is_some_and(|t| t.is_empty() || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')) {
            return Err("a template database name is a plain identifier".into());
        }
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        let url = with_dbname(&admin_url, &name)?;
        let admin = admin_url.clone();
        runtime().block_on(async move {
            let (client, conn) =
                tokio_postgres::connect(&admin, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            client.batch_execute(&sql).await.map_err(|e| e.to_string())
        })?;
        Ok(TestDatabase { admin_url, name, url })
    }
}

impl TestDatabase {
    /// Runs a script of plain SQL statements (a `pg_dump --inserts` file,
    /// say) on this database.
    pub fn execute(&self, sql: &str) {
        let (url, sql) = (self.url.clone(), sql.to_string());
        runtime()
            .block_on(async move {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
                tokio::spawn(conn);
                client.batch_execute(&sql).await
            })
            .expect("the SQL runs");
    }
}

fn with_dbname(url: &str, name: &str) -> Result<String, String> {
    let c: tokio_postgres::Config = url.parse().map_err(|e| format!("DATABASE_URL: {e}"))?;
    let host = match c.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    let user = c.get_user().unwrap_or("postgres");
    let password = c.get_password().map(|p| format!(":{}", String::from_utf8_lossy(p))).unwrap_or_default();
    Ok(format!("postgres://{user}{password}@{host}:{port}/{name}"))
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // A runtime of its own on a thread of its own: Drop may run inside another runtime.
        let _ = std::thread::spawn(move || {
            runtime().block_on(async move {
                if let Ok((client, conn)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                }
            });
        })
        .join();
    }
}

/// The registry, serving plain HTTP on a fixed loopback port.
pub struct LiveRegistry {
    pub db: TestDatabase,
    pub addr: SocketAddr,
    config: Config,
    key: Arc<RegistryKey>,
    runtime: Option<tokio::runtime::Runtime>,
    pub state: Option<AppState>,
}

impl LiveRegistry {
    pub fn start() -> LiveRegistry {
        LiveRegistry::with_config(Config { feed_token: Some("feed-secret".into()), ..Config::default() })
    }

    pub fn with_config(config: Config) -> LiveRegistry {
        LiveRegistry::on(TestDatabase::create(None), config)
    }

    /// Serves `db` (e.g. a copy of a prepared template).
    pub fn on(db: TestDatabase, config: Config) -> LiveRegistry {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let key = Arc::new(RegistryKey::generate(chrono::Utc::now()));
        let mut reg = LiveRegistry { db, addr, config, key, runtime: None, state: None };
        reg.up();
        reg
    }

    /// Starts serving (a fresh runtime, pool and state on the same database and port).
    pub fn up(&mut self) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let url = self.db.url.clone();
        let config = self.config.clone();
        let key = self.key.clone();
        let addr = self.addr;
        let state = runtime.block_on(async move {
            let pool = db::pool(&url, 8).unwrap();
            db::migrate(&pool, &Block::default_block()).await.unwrap();
            let state = AppState::new(pool, Block::default_block(), config, system_clock(), key);
            // The port was just released by the previous runtime: retry the bind briefly.
            let mut listener = None;
            for _ in 0..100 {
                match tokio::net::TcpListener::bind(addr).await {
                    Ok(l) => {
                        listener = Some(l);
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
            let listener = listener.expect("the registry's port is free again");
            let (router, _) = api::router(state.clone());
            tokio::spawn(async move {
                let service = router.into_make_service_with_connect_info::<SocketAddr>();
                let _ = axum::serve(listener, service).await;
            });
            state
        });
        self.state = Some(state);
        self.runtime = Some(runtime);
    }

    /// Stops at once: every connection and every request in flight dies, and
    /// an open transaction rolls back, as when the process is killed.
    pub fn down(&mut self) {
        self.state = None;
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }

    pub fn restart(&mut self) {
        self.down();
        self.up();
    }

    /// The key that signs this registry's answers.
    pub fn key(&self) -> &RegistryKey {
        &self.key
    }

    /// Signs with `key` from the next [`LiveRegistry::up`] or
    /// [`LiveRegistry::restart`] on (a rotation: `reg.key().rotate(..)`).
    pub fn set_key(&mut self, key: RegistryKey) {
        self.key = Arc::new(key);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs a future on a runtime of its own (database queries from the test).
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        runtime().block_on(f)
    }

    pub fn pool(&self) -> deadpool_postgres::Pool {
        db::pool(&self.db.url, 2).unwrap()
    }

    /// A one-time enrolment code as the operator command prints it: 39
    /// characters, ending in this registry's key fingerprint.
    pub fn enrolment_code(&self, municipality: u16, desk: u32) -> String {
        let pool = self.pool();
        let key = self.key.clone();
        self.block_on(async move {
            ops::create_enrolment_code(&pool, "tester", &key, municipality, "Borgerservice", desk).await
        })
        .unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        let pool = self.pool();
        let sql = sql.to_string();
        self.block_on(async move { pool.get().await.unwrap().query_one(sql.as_str(), &[]).await.unwrap().get(0) })
    }

    /// Rows of text columns.
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let pool = self.pool();
        let sql = sql.to_string();
        self.block_on(async move {
            let client = pool.get().await.unwrap();
            client
                .query(sql.as_str(), &[])
                .await
                .unwrap()
                .iter()
                .map(|r| (0..r.len()).map(|i| r.get::<_, Option<String>>(i)).collect())
                .collect()
        })
    }

    pub fn retire(&self, desk_id: &str) {
        let pool = self.pool();
        let desk_id = desk_id.to_string();
        assert!(self.block_on(async move { ops::retire_desk(&pool, "tester", &desk_id).await }).unwrap());
    }
}

impl Drop for LiveRegistry {
    fn drop(&mut self) {
        self.down();
    }
}
