//! `skranke-registry --config FILE`: a TOML file stands for the options
//! (the global ones at the top, `serve`'s under `[serve]`), a flag typed on
//! the command line wins over it, and a key that is no option, or a value
//! of the wrong kind, is refused naming the key before anything starts.

use std::process::{Command, Stdio};
use std::time::Duration;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_skranke-registry")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether something answers on the port within ten seconds.
fn listens(port: u16) -> bool {
    (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
}

#[test]
fn serve_takes_every_option_from_the_file_and_a_typed_flag_wins() {
    let db = skranke_registry::testing::TestDatabase::create(None);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("registry.key");
    let made = Command::new(bin()).args(["key", "generate", "--file"]).arg(&key).output().unwrap();
    assert!(made.status.success(), "{made:?}");
    let (in_file, typed) = (free_port(), free_port());
    let file = dir.path().join("registry.toml");
    std::fs::write(
        &file,
        format!(
            "database_url = {:?}\nkey_file = {:?}\nlang = \"en\"\nretain_personal_days = 400\n\n\
             [serve]\ninsecure_http = true\nlisten = \"127.0.0.1:{in_file}\"\npool_size = 4\nlookup_rate = 2.5\n",
            db.url,
            key.display().to_string()
        ),
    )
    .unwrap();

    // Everything from the file: no DATABASE_URL, no key in the environment.
    let mut from_file = Command::new(bin())
        .arg("--config")
        .arg(&file)
        .arg("serve")
        .env_remove("DATABASE_URL")
        .env_remove("SKRANKE_REGISTRY_KEY_FILE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = listens(in_file);
    let _ = from_file.kill();
    let _ = from_file.wait();
    assert!(up, "serve did not listen on the file's address");

    // The typed --listen wins over the file's.
    let mut overridden = Command::new(bin())
        .args(["serve", "--listen", &format!("127.0.0.1:{typed}")])
        .env("SKRANKE_CONFIG", &file)
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = listens(typed);
    let _ = overridden.kill();
    let _ = overridden.wait();
    assert!(up, "serve did not listen on the typed address");
}

#[test]
fn a_key_that_is_no_option_or_a_value_of_the_wrong_kind_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("registry.toml");
    for (text, named) in [
        ("[serve]\npool_sise = 4\n", "serve.pool_sise"),
        ("databse_url = \"postgres://x\"\n", "databse_url"),
        ("[serve]\ninsecure_http = \"yes\"\n", "serve.insecure_http"),
        ("[serve]\npool_size = true\n", "serve.pool_size"),
        ("[serve]\nlisten = [\"a\"]\n", "serve.listen"),
    ] {
        std::fs::write(&file, text).unwrap();
        let out = Command::new(bin())
            .args(["--lang", "en", "--config"])
            .arg(&file)
            .args(["serve", "--insecure-http"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        assert!(err.contains(named) && err.contains("registry.toml"), "{text:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // An unknown key lists the options there are.
    std::fs::write(&file, "[serve]\npool_sise = 4\n").unwrap();
    let out = Command::new(bin()).args(["--lang", "en", "--config"]).arg(&file).arg("serve").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("serve.pool_size") && err.contains("serve.listen"), "{err}");
    // Not TOML at all, or no such file.
    std::fs::write(&file, "[serve\n").unwrap();
    let out = Command::new(bin()).args(["--lang", "en", "--config"]).arg(&file).arg("serve").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid TOML"), "{out:?}");
    let out = Command::new(bin()).args(["--config", "/no/such/file.toml", "serve"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
