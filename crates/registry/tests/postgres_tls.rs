//! TLS to PostgreSQL: `sslmode=verify-full&sslrootcert=PATH` against a real
//! PostgreSQL 15 with `ssl=on` and only `hostssl` in its pg_hba.conf. The
//! registry's own pool (`db::pool`, `db::migrate`, as `serve` uses them)
//! connects with the right CA and the certificate's name, and is refused
//! with another CA or another name; the server refuses plaintext.
//!
//! The cluster is this test's own (a free port, a data directory under
//! /tmp), made as the `postgres` user when run as root (initdb refuses
//! root), and stopped and removed when the test ends, passing or not. The
//! certificates are made with the `openssl` command.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use skranke_registry::db;
use skranke_rules::lease::Block;
use tokio_postgres::error::SqlState;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The cluster's superuser, and the only role the tests log in as.
const ROLE: &str = "skranke_tls";

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).stdout.trim_ascii() == b"0"
}

fn run(command: &mut Command) -> Output {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A command run as the `postgres` user when we are root.
fn as_postgres(program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    }
}

/// `openssl ARGS` in `dir` (the arguments hold no spaces).
fn openssl(dir: &Path, args: &str) {
    run(Command::new("openssl").current_dir(dir).args(args.split_whitespace()));
}

const EC_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

/// A self-signed CA: `NAME.crt`, `NAME.key`.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &format!(
            "req -x509 {EC_KEY} -keyout {name}.key -out {name}.crt -days 2 -subj /CN=skranke-test-{name} \
             -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
        ),
    );
}

/// `server.crt`/`server.key`, issued by `ca` for the DNS name "localhost" only.
fn make_server_cert(dir: &Path) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(dir, &format!("req -new {EC_KEY} -keyout server.key -out server.csr -subj /CN=localhost"));
    openssl(
        dir,
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext",
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running cluster; dropping it stops it and removes its directory.
struct Cluster {
    data: PathBuf,
    port: u16,
}

impl Cluster {
    /// initdb, the server certificate from `certs`, `ssl=on`, `hostssl` only.
    fn start(certs: &Path) -> Cluster {
        assert!(
            Path::new(PG_BIN).join("initdb").exists(),
            "PostgreSQL 15 is not installed ({PG_BIN}); scripts/ci/postgres.sh installs it"
        );
        let port = free_port();
        let data = PathBuf::from(format!("/tmp/skranke-pg-tls-{port}"));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir(&data).unwrap();
        // From here on the directory is removed whatever happens.
        let cluster = Cluster { data, port };
        let data = cluster.data.to_str().unwrap();
        if is_root() {
            run(Command::new("chown").args(["postgres:postgres", data]));
        }
        run(as_postgres(&format!("{PG_BIN}/initdb")).args([
            "-D",
            data,
            "-U",
            ROLE,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ]));
        // TCP only with TLS; the socket is not listed, so nothing else logs in.
        std::fs::write(
            cluster.data.join("pg_hba.conf"),
            format!("hostssl all {ROLE} 127.0.0.1/32 trust\nhostssl all {ROLE} ::1/128 trust\n"),
        )
        .unwrap();
        for file in ["server.crt", "server.key"] {
            std::fs::copy(certs.join(file), cluster.data.join(file)).unwrap();
        }
        run(Command::new("chmod").args(["600", cluster.data.join("server.key").to_str().unwrap()]));
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres:postgres", data]));
        }
        let options = format!(
            "-p {port} -k {data} -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=server.crt \
             -c ssl_key_file=server.key -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        );
        let log = format!("{data}/server.log");
        run(as_postgres(&format!("{PG_BIN}/pg_ctl"))
            .args(["-D", data, "-w", "-t", "30", "-l", &log, "-o", &options, "start"]));
        cluster
    }

    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://{ROLE}@{host}:{}/postgres{query}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data.to_str().unwrap();
        if self.data.join("postmaster.pid").exists() {
            let _ = as_postgres(&format!("{PG_BIN}/pg_ctl")).args(["-D", data, "-m", "immediate", "stop"]).output();
        }
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// The certificates, in a directory the test owns.
fn certificates() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    make_ca(dir.path(), "ca");
    make_ca(dir.path(), "other-ca");
    make_server_cert(dir.path());
    dir
}

fn verify_full(ca: &Path) -> String {
    format!("?sslmode=verify-full&sslrootcert={}", ca.display())
}

#[tokio::test]
async fn verify_full_connects_only_to_the_server_its_ca_issued_for_that_name() {
    let certs = certificates();
    let cluster = Cluster::start(certs.path());
    let block = Block::default_block();

    // The right CA and the certificate's name: the registry's schema, over TLS.
    let pool = db::pool(&cluster.url("localhost", &verify_full(&certs.path().join("ca.crt"))), 2).unwrap();
    db::migrate(&pool, &block).await.expect("verify-full with the right CA and name connects");
    let client = pool.get().await.unwrap();
    let ssl: bool =
        client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.unwrap().get(0);
    assert!(ssl, "the connection is encrypted");
    drop(client);

    // Another CA: the chain does not verify.
    let pool = db::pool(&cluster.url("localhost", &verify_full(&certs.path().join("other-ca.crt"))), 2).unwrap();
    let e = db::migrate(&pool, &block).await.expect_err("a server certificate from another CA is refused");
    assert!(format!("{e:?}").contains("UnknownIssuer"), "{e:?}");

    // The right CA, but a name the certificate does not have.
    let pool = db::pool(&cluster.url("127.0.0.1", &verify_full(&certs.path().join("ca.crt"))), 2).unwrap();
    let e = db::migrate(&pool, &block).await.expect_err("a certificate for localhost is refused for 127.0.0.1");
    assert!(format!("{e:?}").contains("NotValidForName"), "{e:?}");

    // Plaintext: the server has no entry for it.
    for query in ["", "?sslmode=disable"] {
        let pool = db::pool(&cluster.url("127.0.0.1", query), 2).unwrap();
        let e = pool.get().await.expect_err("plaintext is refused by the server");
        let deadpool_postgres::PoolError::Backend(e) = &e else { panic!("{e:?}") };
        assert_eq!(e.code(), Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION), "{e:?}");
        let message = e.as_db_error().map(|d| d.message()).unwrap_or_default();
        assert!(message.contains("no encryption"), "{message}");
    }
}

#[test]
fn verify_full_without_a_usable_ca_file_is_refused_at_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let url = |query: &str| format!("postgres://{ROLE}@localhost:1/postgres{query}");

    let e = db::pool(&url("?sslmode=verify-full"), 1).unwrap_err().to_string();
    assert!(e.contains("sslmode=verify-full needs sslrootcert"), "{e}");

    let missing = dir.path().join("missing.pem");
    let e = db::pool(&url(&verify_full(&missing)), 1).unwrap_err().to_string();
    assert!(e.contains(&format!("sslrootcert={}", missing.display())), "{e}");

    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let e = db::pool(&url(&verify_full(&not_pem)), 1).unwrap_err().to_string();
    assert!(e.contains(&format!("sslrootcert={}", not_pem.display())), "{e}");

    let e = db::pool(&url("?sslmode=require"), 1).unwrap_err().to_string();
    assert!(e.contains("sslmode=require is not supported"), "{e}");
}
