//! The Windows build of `skranke` (x86_64-pc-windows-gnu) run under Wine,
//! against the same expectations as the Linux CLI: the same answers byte
//! for byte, an encrypted store whose key is in Credential Manager and in no
//! file, a right handout saved and printed through the printer's driver, an
//! enrolled desk whose records reach the registry's feed, and refusals
//! (never a panic) for Windows-shaped input.
//!
//! A test target of `skranke-cli` that `cargo test` runs only when named,
//! because it needs what `scripts/windows.sh` prepares and passes on:
//! `SKRANKE_WINE` (the wine64 loader), `SKRANKE_WINDOWS_EXE` (skranke.exe),
//! `WINEPREFIX` (a fresh prefix with the test-only `bcryptprimitives.dll`
//! stand-in), and `DATABASE_URL` (PostgreSQL for the registry, which runs
//! on Linux, on loopback, as in `crates/cli/tests/sync.rs`). Wine's spooler
//! prints to CUPS: the queue `skranke-test` of `scripts/ci/cups-setup.sh`.
#![cfg(target_os = "linux")]

#[path = "../../crates/cli/tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use skranke_core::credentials::ALPHABET;
use skranke_core::protocol::{FeedPage, IssuedRecord, NumberSource};
use skranke_registry::testing::LiveRegistry;

const ADMIN_PW: &str = "admin password 1";
const STAFF_PW: &str = "staff password 1";

fn setting(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run this test through scripts/windows.sh"))
}

/// `skranke.exe` under Wine, with none of the caller's `SKRANKE_*` settings.
fn windows_command() -> Command {
    let mut cmd = Command::new(setting("SKRANKE_WINE"));
    cmd.arg(setting("SKRANKE_WINDOWS_EXE"));
    assert!(Path::new(&setting("WINEPREFIX")).join("drive_c").is_dir(), "WINEPREFIX is no Wine prefix");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SKRANKE_") {
            cmd.env_remove(key);
        }
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Runs `cmd` with `stdin` written and closed (a command may stop reading
/// early, at its input limit).
fn finish(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd.spawn().expect("wine starts");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    if let Err(e) = pipe.write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    drop(pipe);
    child.wait_with_output().expect("wine finishes")
}

/// The Windows `skranke` with `args`, `env` added, in English unless `args` say otherwise.
fn windows(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut cmd = windows_command();
    if !args.contains(&"--lang") {
        cmd.args(["--lang", "en"]);
    }
    cmd.args(args).envs(env.iter().copied());
    finish(cmd, stdin)
}

/// The Windows form of a Linux path: Wine's drive Z: is the Linux root.
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// Output with CRLF line ends read as LF (the one difference allowed).
fn lf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        if !(b == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The JSON a command printed, having exited with `code`.
#[track_caller]
fn ok_json_with(o: &Output, code: i32) -> Value {
    assert_eq!(o.status.code(), Some(code), "{:?}", text(o));
    let out = text(o).0;
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[track_caller]
fn ok_json(o: &Output) -> Value {
    ok_json_with(o, 0)
}

/// A refusal: exit 1 (2 for a setup problem), a message, and no panic.
#[track_caller]
fn refused_with(o: &Output, code: i32) -> String {
    let (out, err) = text(o);
    assert_eq!(o.status.code(), Some(code), "{out} {err}");
    assert!(!err.contains("panicked") && !out.contains("panicked"), "{err}");
    err
}

fn pdftotext(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    assert!(out.status.success(), "pdftotext could not read {}", pdf.display());
    String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The one password on a handout: four groups of four characters of the
/// credentials alphabet, in a row.
fn password_in(page: &str) -> String {
    let is_group = |w: &&str| w.len() == 4 && w.bytes().all(|b| ALPHABET.contains(&b));
    let words: Vec<&str> = page.split(' ').collect();
    let found: Vec<String> = words.windows(4).filter(|w| w.iter().all(is_group)).map(|w| w.join(" ")).collect();
    assert_eq!(found.len(), 1, "expected exactly one password on the handout, found {found:?} in:\n{page}");
    found.into_iter().next().unwrap()
}

fn applicant(given: &str, surname: &str, doc: &str) -> Value {
    json!({
      "given_names": given, "surname": surname, "birth_date": "1988-03-09", "sex": "M",
      "nationality": "PL", "municipality_of_stay": 101, "group": "eu-jobseeker",
      "document": {"type": "passport", "number": doc, "issuing_state": "PL", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "pl",
      "contact": {"email": null, "phone": null, "address_dk": null}
    })
}

/// Every file under `dir`, recursively, not following symbolic links (Wine
/// links the profile's Documents and Desktop to the Linux home folder).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                todo.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn desk_id_in(dir: &Path) -> String {
    let desk: Value = serde_json::from_slice(&std::fs::read(dir.join("desk.json")).expect("desk.json")).unwrap();
    desk["desk_id"].as_str().expect("desk_id").to_string()
}

/// The inputs of `crates/cli/tests/cpr_check.rs` and `mrz_parse.rs`, as
/// (arguments, standard input).
fn linux_test_inputs() -> Vec<(Vec<String>, Vec<u8>)> {
    const TD3: [&str; 2] =
        ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];
    const TD1: [&str; 3] =
        ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"];
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut cases = vec![
        (args(&["cpr", "check", "--json", "0101651234"]), vec![]),
        (args(&["--lang", "en", "cpr", "check", "--json", "650165-1234"]), vec![]),
        (args(&["cpr", "check", "--json"]), b"070761-4285\r\nfoo\n\n0101651234\n".to_vec()),
        (args(&["cpr", "check"]), b"070761-4285\n010165-1234\n".to_vec()),
        (args(&["cpr", "check", "--json", "\"; DROP TABLE x;--\u{202e}\\"]), vec![]),
        (args(&["cpr", "check", "--json"]), "0101651234\u{0}\n".as_bytes().to_vec()),
        (args(&["cpr", "check", "--json"]), b"01016\xff51234\n0101651234\n".to_vec()),
        (args(&["cpr", "check", "0101651234"]), vec![]),
        (args(&["--lang", "en", "cpr", "check", "0101651234"]), vec![]),
        (args(&["--lang", "en", "mrz", "parse", "--json"]), format!("{}\r\n{}\r\n", TD3[0], TD3[1]).into_bytes()),
        (
            args(&["--lang", "en", "mrz", "parse", "--json"]),
            format!("\n  {}\n{}  \n{}\n\n", TD1[0].to_lowercase(), TD1[1], TD1[2]).into_bytes(),
        ),
        (args(&["mrz", "parse", "--json"]), vec![b'<'; 100 * 1024]),
        (args(&["mrz", "parse"]), TD3.join("\n").into_bytes()),
        (args(&["--lang", "en", "mrz", "parse"]), TD3.join("\n").into_bytes()),
    ];
    let big: Vec<String> = (0..200_000u32)
        .map(|i| if i % 7 == 0 { format!("bad{i}") } else { format!("0101{:02}-{:04}", 40 + i % 50, i % 4_000) })
        .collect();
    cases.push((args(&["cpr", "check", "--json"]), (big.join("\n") + "\n").into_bytes()));
    for (pos, _) in [(9, "document_number"), (19, "birth_date"), (27, "expiry_date"), (42, "optional_data"), (43, "")] {
        let mut line2 = TD3[1].as_bytes().to_vec();
        line2[pos] = if line2[pos] == b'9' { b'0' } else { line2[pos] + 1 };
        let zone = format!("{}\n{}", TD3[0], String::from_utf8(line2).unwrap());
        cases.push((args(&["--lang", "en", "mrz", "parse", "--json"]), zone.into_bytes()));
    }
    for input in [&b""[..], b"hello\n", b"'; DROP TABLE records;--\n", b"P<UTO\x00\xff\n"] {
        cases.push((args(&["--lang", "en", "mrz", "parse", "--json"]), input.to_vec()));
    }
    cases
}

#[test]
fn cpr_check_and_mrz_parse_answer_byte_for_byte_as_on_linux() {
    for (args, stdin) in linux_test_inputs() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let linux = common::run(&args, &stdin);
        let mut cmd = windows_command();
        cmd.args(&args);
        let win = finish(cmd, &stdin);
        assert_eq!(win.status.code(), linux.status.code(), "{args:?}: {:?}", text(&win));
        assert!(!linux.stdout.is_empty(), "{args:?} printed nothing on Linux");
        assert!(
            lf(&win.stdout) == lf(&linux.stdout),
            "{args:?}:\nWindows: {}\nLinux: {}",
            text(&win).0,
            text(&linux).0
        );
        assert_eq!(lf(&win.stderr), lf(&linux.stderr), "{args:?}");
    }
    // Usage errors exit 2 on both; clap names the program as it was called.
    for args in [&["cpr", "check", "--no-such-flag"][..], &["--lang", "sv", "cpr", "check", "0101651234"], &["cpr"]] {
        let mut cmd = windows_command();
        cmd.args(args);
        assert_eq!(finish(cmd, b"").status.code(), Some(2), "{args:?}");
        assert_eq!(common::run(args, b"").status.code(), Some(2), "{args:?}");
    }
}

/// The desk folder Windows chose by default, `%LOCALAPPDATA%\Skranke`: in
/// the prefix, `drive_c/users/<Wine's user>/AppData/Local/Skranke`.
fn default_desk_dir() -> PathBuf {
    let users = Path::new(&setting("WINEPREFIX")).join("drive_c").join("users");
    let found: Vec<PathBuf> = std::fs::read_dir(&users)
        .unwrap()
        .map(|e| e.unwrap().path().join("AppData").join("Local").join("Skranke"))
        .filter(|dir| dir.join("desk.json").is_file())
        .collect();
    assert_eq!(found.len(), 1, "no single desk in %LOCALAPPDATA%\\Skranke under {}: {found:?}", users.display());
    found.into_iter().next().unwrap()
}

/// `reg.exe` inside the prefix.
fn reg(args: &[&str]) -> Output {
    let mut cmd = Command::new(setting("SKRANKE_WINE"));
    cmd.arg("reg").args(args);
    let out = cmd.output().expect("wine reg runs");
    assert!(out.status.success(), "reg {args:?}: {:?}", text(&out));
    out
}

/// Where Wine keeps Credential Manager: one registry key per credential,
/// `Generic: <target name>`, under this key of the current user.
const CRED_KEY: &str = r"HKCU\Software\Wine\Credential Manager";

/// A `REG_BINARY` value as `reg query` shows it.
fn reg_binary(key: &str, value: &str) -> Vec<u8> {
    let out = String::from_utf8_lossy(&reg(&["query", key, "/v", value]).stdout).into_owned();
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(value) && l.contains("REG_BINARY"))
        .unwrap_or_else(|| panic!("no binary {value} in {key}: {out}"));
    let digits = line.split_whitespace().last().unwrap();
    hex::decode(digits).unwrap_or_else(|e| panic!("{value} of {key}: {e}"))
}

/// RC4, with which Wine encrypts each stored secret (SystemFunction032).
fn rc4(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut s: Vec<u8> = (0..=255).collect();
    let mut j = 0u8;
    for i in 0..256 {
        j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
        s.swap(i, usize::from(j));
    }
    let (mut i, mut j) = (0u8, 0u8);
    data.iter()
        .map(|b| {
            i = i.wrapping_add(1);
            j = j.wrapping_add(s[usize::from(i)]);
            s.swap(usize::from(i), usize::from(j));
            b ^ s[usize::from(s[usize::from(i)].wrapping_add(s[usize::from(j)]))]
        })
        .collect()
}

/// The secret of generic credential `target` as Credential Manager holds
/// it: Wine encrypts it with the prefix's `EncryptionKey` (Wine's
/// dlls/advapi32/cred.c), keyring stores a password as UTF-16LE.
fn credential(target: &str) -> String {
    let key = reg_binary(CRED_KEY, "EncryptionKey");
    let blob = rc4(&key, &reg_binary(&format!(r"{CRED_KEY}\Generic: {target}"), "Password"));
    let units: Vec<u16> = blob.chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    String::from_utf16(&units).expect("the secret is UTF-16")
}

#[test]
fn a_training_desk_keeps_an_encrypted_store_in_local_app_data_its_key_in_credential_manager_only_and_prints_a_right_handout(
) {
    let init = ["desk", "init", "--municipality", "101", "--office", "Borgerservice Nord", "--desk", "3"];
    let o =
        windows(&[&init[..], &["--training", "--admin", "Ada"]].concat(), &[("SKRANKE_STAFF_PASSWORD", ADMIN_PW)], b"");
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    // No --data-dir, no SKRANKE_DATA_DIR: the desk is in %LOCALAPPDATA%\Skranke.
    let dir = default_desk_dir();
    let desk_id = desk_id_in(&dir);
    let admin = [("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW)];
    for (key, value) in [
        ("privacy_controller", "Københavns Kommune"),
        ("privacy_contact", "borgerservice@kk.dk"),
        ("privacy_dpo", "dpo@example.dk"),
    ] {
        let o = windows(&["settings", "set", key, value], &admin, b"");
        assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    }
    let shown = ok_json(&windows(&["settings", "get", "privacy_controller", "--json"], &admin, b""));
    assert!(shown.to_string().contains("Københavns Kommune"), "{shown}");
    let o = windows(
        &["staff", "add", "Sofie", "--role", "supervisor"],
        &[admin[0], admin[1], ("SKRANKE_NEW_STAFF_PASSWORD", STAFF_PW)],
        b"",
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let wrong = windows(
        &["records", "list", "--json"],
        &[("SKRANKE_STAFF", "Sofie"), ("SKRANKE_STAFF_PASSWORD", "wrong password 1")],
        b"",
    );
    refused_with(&wrong, 1);

    // Sofie signs in and saves the handout as a PDF, into a folder named in Danish.
    let out = tempfile::tempdir().unwrap();
    let folder = out.path().join("Udleveringer æøå");
    std::fs::create_dir(&folder).unwrap();
    let pdf = folder.join("håndudlevering.pdf");
    let sofie = [("SKRANKE_STAFF", "Sofie"), ("SKRANKE_STAFF_PASSWORD", STAFF_PW)];
    let input = applicant("Łukasz", "Żółć", "EA1234567").to_string();
    let o = windows(&["issue", "--applicant", "-", "--pdf", &windows_path(&pdf), "--json"], &sofie, input.as_bytes());
    let v = ok_json(&o);
    assert_eq!((v["handout"].as_str(), v["training"].as_bool()), (Some("saved"), Some(true)), "{v}");
    assert_eq!(v["record_id"], format!("{desk_id}-1"));
    let number = v["number"].as_str().unwrap();
    assert!(number.starts_with("690388-"), "training: day 9 + 60: {number}");
    let username = v["username"].as_str().unwrap();
    let page = pdftotext(&pdf);
    for field in [number, username, "Łukasz Żółć", &format!("{desk_id}-1"), "jobnet.dk", "Københavns Kommune"] {
        assert!(page.contains(field), "{field:?} missing from the handout:\n{page}");
    }
    let password = password_in(&page);
    let (stdout, stderr) = text(&o);
    for form in [password.clone(), password.replace(' ', "")] {
        assert!(!stdout.contains(&form) && !stderr.contains(&form), "the password leaked into the output");
    }

    // The store is SQLCipher: no file of the desk reads as SQLite or holds
    // the applicant's name, document or password in clear.
    let files = files_under(&dir);
    assert!(files.iter().any(|f| f.ends_with("desk.db")), "{files:?}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(!bytes.starts_with(b"SQLite format 3\0"), "{} is plain SQLite", f.display());
        for secret in ["Żółć", "EA1234567", &password.replace(' ', "")] {
            assert!(!contains(&bytes, secret.as_bytes()), "{} holds {secret:?} in clear", f.display());
        }
    }

    // The database key is in Credential Manager, named by the desk ID, and in
    // no file: not in the desk folder, not in the Windows profile.
    let key = credential(&format!("skranke/{desk_id}/db-key"));
    assert!(skranke_core::keystore::is_key_hex(&key), "{key:?}");
    for entry in ["duplicate-key", "guard"] {
        assert!(!credential(&format!("skranke/{desk_id}/{entry}")).is_empty(), "{entry}");
    }
    let raw = hex::decode(&key).unwrap();
    let profile = dir.parent().unwrap().parent().unwrap().parent().unwrap().to_path_buf();
    for f in files_under(&profile).iter().chain(&files_under(out.path())) {
        let bytes = std::fs::read(f).unwrap();
        assert!(!contains(&bytes, key.as_bytes()) && !contains(&bytes, &raw), "{} holds the key", f.display());
    }

    // Without that entry the desk does not open, and says so in Windows' terms.
    reg(&["delete", &format!(r"{CRED_KEY}\Generic: skranke/{desk_id}/db-key"), "/f"]);
    let err = refused_with(&windows(&["desk", "show"], &[], b""), 2);
    assert!(err.contains("Credential Manager") && err.contains("db-key") && err.contains(&desk_id), "{err}");
    let err = refused_with(&windows(&["--lang", "da", "desk", "show"], &[], b""), 2);
    assert!(err.contains("Legitimationsstyring") && err.contains("db-key"), "{err}");
}

/// The feed as its consumer reads it (the token `LiveRegistry::start` sets).
fn feed(reg: &LiveRegistry) -> FeedPage {
    let mut answer = ureq::get(format!("{}/v1/feed?after=0", reg.url()))
        .header("Authorization", "Bearer feed-secret")
        .call()
        .expect("the feed answers");
    serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).expect("a feed page")
}

#[test]
fn an_enrolled_desk_issues_online_syncs_and_its_records_reach_the_feed_with_the_usernames_on_their_handouts() {
    let reg = LiveRegistry::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("Skranke Aalborg Øst");
    let data = [("SKRANKE_DATA_DIR", windows_path(&dir))];
    let at_desk = |args: &[&str], env: &[(&str, &str)], stdin: &[u8]| {
        let env: Vec<(&str, &str)> = data.iter().map(|(k, v)| (*k, v.as_str())).chain(env.iter().copied()).collect();
        windows(args, &env, stdin)
    };
    let code = reg.enrolment_code(851, 7);
    let init = ["desk", "init", "--registry", &reg.url(), "--enrolment-code", &code, "--admin", "Ada"];
    let o = at_desk(&init, &[("SKRANKE_STAFF_PASSWORD", ADMIN_PW)], b"");
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let shown = ok_json(&at_desk(&["desk", "show", "--json"], &[], b""));
    assert_eq!((shown["municipality"].as_str(), shown["training"].as_bool()), (Some("851"), Some(false)), "{shown}");
    let desk_id = desk_id_in(&dir);

    let staff = [("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW)];
    let o = at_desk(&["settings", "set", "privacy_controller", "Aalborg Kommune"], &staff, b"");
    let _ = at_desk(&["settings", "set", "privacy_contact", "borgerservice@example.dk"], &staff, b"");
    let _ = at_desk(&["settings", "set", "privacy_dpo", "dpo@example.dk"], &staff, b"");
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let mut issued = Vec::new();
    for (n, (given, surname, doc)) in
        [("Jonas", "Kazlauskas", "LT1000001"), ("Rūta", "Jankauskienė", "LT1000002")].into_iter().enumerate()
    {
        let pdf = tmp.path().join(format!("udlevering {n}.pdf"));
        let input = applicant(given, surname, doc).to_string();
        let v = ok_json(&at_desk(
            &["issue", "--applicant", "-", "--pdf", &windows_path(&pdf), "--json"],
            &staff,
            input.as_bytes(),
        ));
        assert_eq!(v["training"], false);
        let page = pdftotext(&pdf);
        let username = v["username"].as_str().unwrap().to_string();
        assert!(!username.is_empty() && page.contains(&username), "{username:?} is not on the handout:\n{page}");
        issued.push((
            v["record_id"].as_str().unwrap().to_string(),
            v["number"].as_str().unwrap().to_string(),
            username,
        ));
    }

    let report = ok_json(&at_desk(&["sync", "--json"], &[], b""));
    assert_eq!(
        (report["pending"].as_u64(), report["accepted"].as_u64()),
        (Some(0), report["uploaded"].as_u64()),
        "{report}"
    );
    assert_eq!(reg.count(&format!("SELECT count(*) FROM records WHERE desk_id = '{desk_id}'")), 2);
    let status = ok_json(&at_desk(&["sync", "status", "--json"], &[], b""));
    assert_eq!(status["queued_events"], 0, "{status}");

    let page = feed(&reg);
    for (record_id, number, username) in &issued {
        let item = page
            .items
            .iter()
            .find(|i| &i.record_id == record_id && i.kind == "issued")
            .unwrap_or_else(|| panic!("{record_id} is not in the feed: {:?}", page.items));
        let record: IssuedRecord = serde_json::from_value(item.payload.clone()).expect("an issued record");
        assert_eq!(&record.number, number);
        // The registry was reachable: the number came from it, not the lease.
        assert_eq!(record.source, NumberSource::Online, "{record_id}");
        assert!(!record.jobnet_username.is_empty(), "{record_id} reached the feed without its username");
        assert_eq!(&record.jobnet_username, username, "{record_id}");
    }
}

#[test]
fn windows_shaped_bad_input_is_refused_naming_the_field_and_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("Ansøgere æøå ÆØÅ");
    std::fs::create_dir(&folder).unwrap();
    let mut record = applicant("Søren", "Ærø", "EA7654321");
    record["nationality"] = json!("DK");
    let pretty = serde_json::to_string_pretty(&record).unwrap();
    assert!(pretty.lines().count() > 10);

    // CRLF, as Notepad saves: read as JSON whitespace, the rule still named.
    let crlf = folder.join("ansøger crlf.json");
    std::fs::write(&crlf, pretty.replace('\n', "\r\n")).unwrap();
    let v = ok_json_with(&windows(&["applicant", "check", "--json", &windows_path(&crlf)], &[], b""), 1);
    assert_eq!(v["valid"], false);
    let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["nationality"], "{v}");

    // UTF-16 with a byte-order mark, as PowerShell's `>` and Notepad's
    // "Unicode" write: refused as a whole record that is not UTF-8.
    let utf16 = folder.join("ansøger utf16.json");
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend(pretty.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(&utf16, &bytes).unwrap();
    let v = ok_json_with(&windows(&["applicant", "check", "--json", &windows_path(&utf16)], &[], b""), 1);
    assert_eq!(v["errors"][0]["field"], "$", "{v}");
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("UTF-8"), "{v}");

    // A file that is not there, in a folder named with æøå: the path is
    // shown as typed, not garbled.
    let missing = windows_path(&folder.join("findes ikke.json"));
    let err = refused_with(&windows(&["applicant", "check", &missing], &[], b""), 2);
    assert!(err.contains(&missing), "{err}");

    // A desk in a folder named with æøå refuses the same input when issuing,
    // names the field, and stores nothing.
    let dir = folder.join("Skranke");
    let data = windows_path(&dir);
    let init = ["desk", "init", "--municipality", "101", "--office", "Nørrebro", "--desk", "1", "--training"];
    let o = windows(
        &[&init[..], &["--admin", "Ada", "--data-dir", &data]].concat(),
        &[("SKRANKE_STAFF_PASSWORD", ADMIN_PW)],
        b"",
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let admin = [("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW), ("SKRANKE_DATA_DIR", &data)];
    let o = windows(&["settings", "set", "privacy_controller", "Københavns Kommune"], &admin, b"");
    let _ = windows(&["settings", "set", "privacy_contact", "borgerservice@example.dk"], &admin, b"");
    let _ = windows(&["settings", "set", "privacy_dpo", "dpo@example.dk"], &admin, b"");
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let pdf = windows_path(&folder.join("udlevering.pdf"));
    for file in [&crlf, &utf16] {
        let err = refused_with(&windows(&["issue", "--applicant", &windows_path(file), "--pdf", &pdf], &admin, b""), 1);
        let field = if file == &crlf { "nationality" } else { "$" };
        assert!(err.contains(field), "{}: {err}", file.display());
    }
    // Piped in with CRLF, too.
    let err = refused_with(
        &windows(&["issue", "--applicant", "-", "--pdf", &pdf], &admin, pretty.replace('\n', "\r\n").as_bytes()),
        1,
    );
    assert!(err.contains("nationality"), "{err}");
    // A setting with a line break in it is refused naming the setting.
    let err = refused_with(&windows(&["settings", "set", "privacy_contact", "a\r\nb"], &admin, b""), 1);
    assert!(err.contains("privacy_contact"), "{err}");
    assert!(!folder.join("udlevering.pdf").exists());
    let list = ok_json(&windows(&["records", "list", "--json"], &admin, b""));
    assert_eq!(list, json!([]));
}

/// Wine keeps each printer's settings under this key, as Windows does.
const PRINTERS_KEY: &str = r"HKLM\System\CurrentControlSet\Control\Print\Printers";

/// A printed handout's PDF in `out_dir` (cups-pdf names it `TITLE-job_N.pdf`),
/// waited for, with its metadata (`pdfinfo`) and its text.
fn paper_titled(out_dir: &Path, title: &str) -> (PathBuf, String, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let found = std::fs::read_dir(out_dir)
            .unwrap_or_else(|e| panic!("{}: {e} (is the CUPS queue set up?)", out_dir.display()))
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("{title}-job_")));
        if let Some(paper) = found {
            let read = Command::new("pdftotext").args(["-enc", "UTF-8"]).arg(&paper).arg("-").output().unwrap();
            let info = Command::new("pdfinfo").arg(&paper).output().unwrap();
            if read.status.success() && !read.stdout.is_empty() && info.status.success() {
                let page = String::from_utf8_lossy(&read.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
                return (paper, String::from_utf8_lossy(&info.stdout).into_owned(), page);
            }
        }
        assert!(std::time::Instant::now() < deadline, "no printed handout titled {title} in {}", out_dir.display());
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// The value of `field` in `pdfinfo`'s answer.
fn info_field<'a>(info: &'a str, field: &str) -> &'a str {
    info.lines().find_map(|l| l.strip_prefix(field)).map_or("", |v| v.trim_start_matches(':').trim())
}

#[test]
fn the_handout_goes_through_the_printer_driver_titled_with_its_reference_and_leaves_no_copy_of_the_password() {
    // Wine's printer driver (wineps) draws the GDI job as PostScript and
    // hands it to CUPS: the queue of scripts/ci/cups-setup.sh, whose PDF
    // (named by the job's title) stands for the paper. A RAW job would
    // reach CUPS as the handout's own PDF, and its paper would not carry
    // the driver's marks checked below.
    const QUEUE: &str = "skranke-test";
    let out_dir = PathBuf::from(format!("/var/spool/cups-pdf-{QUEUE}"));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("Skranke");
    let data = windows_path(&dir);
    let init = ["desk", "init", "--municipality", "101", "--office", "Amager", "--desk", "2", "--training"];
    let o = windows(
        &[&init[..], &["--admin", "Ada", "--data-dir", &data]].concat(),
        &[("SKRANKE_STAFF_PASSWORD", ADMIN_PW)],
        b"",
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let admin = [("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW), ("SKRANKE_DATA_DIR", &data)];
    for (key, value) in [
        ("privacy_controller", "Københavns Kommune"),
        ("privacy_contact", "borgerservice@example.dk"),
        ("privacy_dpo", "dpo@example.dk"),
    ] {
        let o = windows(&["settings", "set", key, value], &admin, b"");
        assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    }

    // Windows' own list of printers (EnumPrinters), and only a printer on
    // it can be chosen: one it lacks is refused naming those it has.
    let listed = ok_json(&windows(&["settings", "printers", "--json"], &[], b""));
    assert!(listed.as_array().unwrap().iter().any(|p| p == QUEUE), "{listed}");
    let err = refused_with(&windows(&["settings", "set", "printer", "Skranke 9 (findes ikke)"], &admin, b""), 1);
    assert!(err.contains("printer") && err.contains("Skranke 9 (findes ikke)") && err.contains(QUEUE), "{err}");
    let o = windows(&["settings", "set", "printer", QUEUE], &admin, b"");
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));

    // What the spool, the Windows installation and the desk folder hold
    // before the job: afterwards no new file may be left but CUPS's job
    // control files, and no file at all may hold the password.
    let prefix = PathBuf::from(setting("WINEPREFIX"));
    let spool = PathBuf::from("/var/spool/cups");
    let places = [dir.clone(), prefix.clone(), spool.clone()];
    let before: std::collections::BTreeSet<PathBuf> = places.iter().flat_map(|p| files_under(p)).collect();

    let input = applicant("Łukasz", "Nowak", "EA2222222").to_string();
    let o = windows(&["issue", "--applicant", "-", "--print", "--json"], &admin, input.as_bytes());
    let v = ok_json(&o);
    assert_eq!(v["handout"], "printed", "{v}");
    let record_id = v["record_id"].as_str().unwrap();
    let desk_id = desk_id_in(&dir);

    let (paper, info, page) = paper_titled(&out_dir, record_id);
    std::fs::remove_file(&paper).unwrap();
    // The driver's marks: the job reached CUPS as the driver's PostScript
    // (Ghostscript made the paper of it), titled with the reference, on A4.
    assert_eq!(info_field(&info, "Creator"), "Wine PostScript Driver", "{info}");
    assert!(info_field(&info, "Producer").contains("Ghostscript"), "{info}");
    assert_eq!(info_field(&info, "Title"), record_id, "{info}");
    assert!(info_field(&info, "Page size").starts_with("595 x 842"), "{info}");
    assert_eq!(info_field(&info, "Pages"), "1", "{info}");
    // The page's text, the applicant's Polish letters included: the
    // handout's own faces reached the driver.
    for field in [v["number"].as_str().unwrap(), v["username"].as_str().unwrap(), "Łukasz Nowak", record_id] {
        assert!(page.contains(field), "{field:?} missing from the printed handout:\n{page}");
    }
    let password = password_in(&page);
    let (stdout, stderr) = text(&o);
    assert!(!stdout.contains(&password) && !stderr.contains(&password), "the password leaked into the output");

    let compact = password.replace(' ', "");
    let utf16 = |s: &str| s.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>();
    let needles = [password.as_bytes().to_vec(), compact.as_bytes().to_vec(), utf16(&password), utf16(&compact)];
    for f in places.iter().flat_map(|p| files_under(p)) {
        // No job file left where spoolers keep them: CUPS's spool (its
        // control files, which hold the title, stay) and the Windows spool
        // and temporary folders.
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let lower = f.to_string_lossy().to_lowercase();
        let spooled = if f.starts_with(&spool) {
            !name.starts_with('c')
        } else {
            f.starts_with(&prefix) && (lower.contains("/spool/") || lower.contains("/temp/"))
        };
        assert!(!spooled || before.contains(&f), "{} was left by the print job", f.display());
        let bytes = std::fs::read(&f).unwrap_or_default();
        for needle in &needles {
            assert!(!contains(&bytes, needle), "{} holds the password", f.display());
        }
        assert!(!bytes.starts_with(b"%PDF-") && !bytes.starts_with(b"%!PS"), "{} keeps a print job", f.display());
    }

    // A queue set to keep printed documents would keep every password in
    // its spool: the desk does not print there. The record is committed,
    // the failure names the printer and the setting to turn off.
    let key = format!(r"{PRINTERS_KEY}\{QUEUE}");
    reg(&["add", &key, "/v", "Attributes", "/t", "REG_DWORD", "/d", "256", "/f"]);
    let input = applicant("Ewa", "Nowak", "EA3333333").to_string();
    let kept = windows(&["issue", "--applicant", "-", "--print"], &admin, input.as_bytes());
    reg(&["add", &key, "/v", "Attributes", "/t", "REG_DWORD", "/d", "0", "/f"]);
    let err = refused_with(&kept, 2);
    assert!(
        err.contains(&format!("{desk_id}-2")) && err.contains(QUEUE) && err.contains("Keep printed documents"),
        "{err}"
    );
}
