//! The connection pool and the one migration path: SQL files embedded in the
//! binary, applied in order inside a transaction, each recorded in
//! `schema_version`. `skranke-registry migrate` and `serve` both run them, so
//! a fresh database and an upgraded one end in the same schema.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use skranke_rules::i18n::{render, Lang};
use skranke_rules::lease::Block;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use tokio_postgres::NoTls;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

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

/// A pool of connections to `database_url`, with the refusals of
/// [`pool_in`] in English (tests and tools; `serve` speaks the operator's
/// language).
pub fn pool(database_url: &str, size: usize) -> Result<Pool> {
    pool_in(database_url, size, Lang::En)
}

/// A pool of connections to `database_url`.
///
/// TLS is libpq's, in the URL form: `?sslmode=verify-full&sslrootcert=PATH`
/// connects over TLS (rustls, the same `ring` provider as the HTTPS side)
/// and accepts only a server whose certificate chains to the CA certificates
/// in PATH *and* names the host of the URL. Without `sslmode`, or with
/// `sslmode=disable`, the connection is plain, as for a PostgreSQL on
/// loopback. Any other `sslmode` (`prefer`, `require`, `verify-ca`, ...)
/// would connect to a server it has not verified, so it is refused here,
/// before any connection, as are a missing or unreadable CA file. The
/// refusals name the setting, in `lang`.
pub fn pool_in(database_url: &str, size: usize, lang: Lang) -> Result<Pool> {
    let refused = |r: UrlRefusal| {
        let args: Vec<(&str, &str)> = r.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        RegistryError::Config(render(lang, r.key, &args))
    };
    let (url, transport) = split_tls(database_url).map_err(refused)?;
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|e| RegistryError::Config(format!("DATABASE_URL: {e}")))?;
    let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
    let manager = match transport {
        Transport::Plain => {
            // `sslmode=require` in the key=value form reaches here: refused
            // like the URL form's.
            if config.get_ssl_mode() == SslMode::Require {
                return Err(refused(
                    UrlRefusal::new("registry.database_tls.sslmode_unsupported").arg("mode", "require".to_string()),
                ));
            }
            config.ssl_mode(SslMode::Disable);
            Manager::from_config(config, NoTls, manager_config)
        }
        Transport::VerifyFull { ca_file } => {
            let connector = VerifyFull::from_ca_file(&ca_file).map_err(refused)?;
            config.ssl_mode(SslMode::Require);
            Manager::from_config(config, connector, manager_config)
        }
    };
    Pool::builder(manager).max_size(size).build().map_err(|e| RegistryError::Config(format!("pool: {e}")))
}

/// How the pool reaches PostgreSQL.
#[derive(Debug, PartialEq, Eq)]
enum Transport {
    Plain,
    /// TLS, the chain checked against the CA file and the name against the host.
    VerifyFull {
        ca_file: PathBuf,
    },
}

/// A catalog key and its arguments: why `DATABASE_URL` cannot be honoured.
#[derive(Debug, PartialEq, Eq)]
struct UrlRefusal {
    key: &'static str,
    args: Vec<(&'static str, String)>,
}

impl UrlRefusal {
    fn new(key: &'static str) -> UrlRefusal {
        UrlRefusal { key, args: Vec::new() }
    }

    fn arg(mut self, name: &'static str, value: String) -> UrlRefusal {
        self.args.push((name, value));
        self
    }
}

/// Takes `sslmode` and `sslrootcert` out of a `postgres://` URL (tokio-postgres
/// knows neither `verify-full` nor `sslrootcert`) and says what they ask for.
/// The key=value form passes through unchanged; TLS settings beyond
/// `sslmode=disable` are read from the URL form only.
fn split_tls(database_url: &str) -> std::result::Result<(String, Transport), UrlRefusal> {
    let is_url = database_url.starts_with("postgres://") || database_url.starts_with("postgresql://");
    if !is_url {
        if database_url.contains("sslrootcert") || database_url.contains("verify-") {
            return Err(UrlRefusal::new("registry.database_tls.url_form"));
        }
        return Ok((database_url.to_string(), Transport::Plain));
    }
    let Some((base, query)) = database_url.split_once('?') else {
        return Ok((database_url.to_string(), Transport::Plain));
    };
    let mut kept = Vec::new();
    let mut sslmode = None;
    let mut sslrootcert = None;
    for param in query.split('&') {
        match param.split_once('=') {
            Some(("sslmode", value)) => sslmode = Some(percent_decode(value)),
            Some(("sslrootcert", value)) => sslrootcert = Some(percent_decode(value)),
            _ => kept.push(param),
        }
    }
    let url = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    match (sslmode.as_deref(), sslrootcert) {
        (None | Some("disable"), None) => Ok((url, Transport::Plain)),
        (None | Some("disable"), Some(_)) => Err(UrlRefusal::new("registry.database_tls.rootcert_without_verify_full")),
        (Some("verify-full"), Some(ca)) if !ca.is_empty() => {
            Ok((url, Transport::VerifyFull { ca_file: PathBuf::from(ca) }))
        }
        (Some("verify-full"), _) => Err(UrlRefusal::new("registry.database_tls.no_ca_file")),
        (Some(mode), _) => {
            Err(UrlRefusal::new("registry.database_tls.sslmode_unsupported").arg("mode", mode.to_string()))
        }
    }
}

/// `%XX` escapes of a URL query value (a CA path may hold spaces).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// tokio-postgres's TLS hook over rustls with webpki's verifier: the chain
/// to the CA file's certificates, and the name the URL connects to (a DNS
/// name against the certificate's DNS names, an IP address against its IP
/// addresses).
#[derive(Clone)]
struct VerifyFull {
    connector: TlsConnector,
}

impl VerifyFull {
    fn from_ca_file(ca_file: &Path) -> std::result::Result<VerifyFull, UrlRefusal> {
        let unreadable = |e: String| {
            UrlRefusal::new("registry.database_tls.ca_unreadable")
                .arg("path", ca_file.display().to_string())
                .arg("error", e)
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca_file)
            .and_then(|it| it.collect::<std::result::Result<_, _>>())
            .map_err(|e| unreadable(e.to_string()))?;
        if certs.is_empty() {
            return Err(unreadable("no certificate".into()));
        }
        let mut roots = RootCertStore::empty();
        for cert in certs {
            roots.add(cert).map_err(|e| unreadable(e.to_string()))?;
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| unreadable(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(VerifyFull { connector: TlsConnector::from(Arc::new(config)) })
    }
}

impl<S> MakeTlsConnect<S> for VerifyFull
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = VerifyFullConnect;
    type Error = rustls_pki_types::InvalidDnsNameError;

    /// `domain` is the URL's host; a Unix socket gives "", which no
    /// certificate names, so TLS over a socket is refused.
    fn make_tls_connect(&mut self, domain: &str) -> std::result::Result<VerifyFullConnect, Self::Error> {
        let name = ServerName::try_from(domain.to_string())?;
        Ok(VerifyFullConnect { connector: self.connector.clone(), name })
    }
}

/// One connection's handshake, for one server name.
struct VerifyFullConnect {
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for VerifyFullConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move { self.connector.connect(self.name, stream).await.map(RustlsStream) })
    }
}

/// The TLS stream as tokio-postgres wants it. No channel binding is
/// offered: the server is authenticated by its certificate.
struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(url: &str) -> &'static str {
        split_tls(url).unwrap_err().key
    }

    #[test]
    fn a_url_without_sslmode_or_with_disable_stays_plain() {
        let url = "postgres://u@127.0.0.1:5432/db";
        assert_eq!(split_tls(url).unwrap(), (url.to_string(), Transport::Plain));
        assert_eq!(
            split_tls("postgres://u@h/db?sslmode=disable&connect_timeout=3").unwrap(),
            ("postgres://u@h/db?connect_timeout=3".to_string(), Transport::Plain)
        );
        assert_eq!(split_tls("host=/tmp user=u").unwrap(), ("host=/tmp user=u".to_string(), Transport::Plain));
    }

    #[test]
    fn verify_full_takes_its_ca_file_out_of_the_url() {
        let (url, transport) = split_tls(
            "postgresql://u@db.example/reg?sslrootcert=/etc/ca%20dir/ca.pem&sslmode=verify-full&application_name=r",
        )
        .unwrap();
        assert_eq!(url, "postgresql://u@db.example/reg?application_name=r");
        assert_eq!(transport, Transport::VerifyFull { ca_file: PathBuf::from("/etc/ca dir/ca.pem") });
    }

    #[test]
    fn an_sslmode_the_registry_cannot_honour_is_refused() {
        assert_eq!(key("postgres://u@h/db?sslmode=verify-full"), "registry.database_tls.no_ca_file");
        assert_eq!(key("postgres://u@h/db?sslmode=verify-full&sslrootcert="), "registry.database_tls.no_ca_file");
        assert_eq!(key("postgres://u@h/db?sslrootcert=/ca.pem"), "registry.database_tls.rootcert_without_verify_full");
        for mode in ["prefer", "require", "verify-ca", "allow", "bogus"] {
            let refusal = split_tls(&format!("postgres://u@h/db?sslmode={mode}&sslrootcert=/ca.pem")).unwrap_err();
            assert_eq!(refusal.key, "registry.database_tls.sslmode_unsupported");
            assert_eq!(refusal.args, vec![("mode", mode.to_string())]);
        }
        assert_eq!(key("host=h sslmode=verify-full sslrootcert=/ca.pem"), "registry.database_tls.url_form");
    }

    #[test]
    fn require_in_the_key_value_form_is_refused_at_start() {
        let e = pool("host=127.0.0.1 user=u sslmode=require", 1).unwrap_err().to_string();
        assert!(e.contains("sslmode=require"), "{e}");
    }

    #[test]
    fn an_unreadable_ca_file_is_refused_at_start_naming_it() {
        let e = pool("postgres://u@localhost/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("sslrootcert=/nonexistent/ca.pem"), "{e}");
    }
}
