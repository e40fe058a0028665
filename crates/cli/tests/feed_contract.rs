//! The contract from the desk's handout to CPR and Jobnet, with the real
//! parts at both ends: desks made and driven by the real `skranke` binary
//! (real OS key store, SQLCipher), the real registry on a real PostgreSQL
//! behind a proxy that cuts one sync, and the feed read by a consumer that
//! knows nothing of our Rust types (`tests/contract/feed-consumer.mjs`,
//! Node): it validates every item against the `/openapi.json` the registry
//! serves.
//!
//! The rule: every record issued, online or offline, reaches the feed with
//! the number and the Jobnet username printed on its handout (read back from
//! the PDF's text) and the hash of the password printed on its *latest*
//! handout; what the consumer confirms or refuses comes back to each desk.
//! Dropping or renaming any of those fields on either side fails here: the
//! consumer's schema requires them, and the values must match the paper.
#![cfg(target_os = "linux")]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use skranke_core::credentials::PasswordHash;
use skranke_registry::testing::proxy::{FaultProxy, Faults};
use skranke_registry::testing::LiveRegistry;

use common::{at_desk, feed_consumer, ok, ok_json, password_in, pdftotext, text, username_on};

const ADMIN_PW: &str = "admin password 1";
const FEED_TOKEN: &str = "feed-secret";

fn staff() -> [(&'static str, &'static str); 2] {
    [("SKRANKE_STAFF", "Ada"), ("SKRANKE_STAFF_PASSWORD", ADMIN_PW)]
}

fn applicant(i: usize, birth_date: &str, nationality: &str) -> String {
    let surnames = ["Kowalski", "Müller", "Nowak", "Papadopoulou", "Jankauskas", "Ivanova", "García", "Rossi"];
    json!({
      "given_names": "Alex", "surname": surnames[i % surnames.len()], "birth_date": birth_date, "sex": "M",
      "nationality": nationality, "municipality_of_stay": 101, "group": "eu-jobseeker",
      "document": {"type": "passport", "number": format!("PX{i:07}"), "issuing_state": nationality,
                   "expiry_date": "2099-04-15", "original_seen": true, "sex_on_document": null,
                   "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "en",
      "contact": {"email": null, "phone": null, "address_dk": null}
    })
    .to_string()
}

/// What a handout says: number, username and password, from the PDF's text.
struct Paper {
    number: String,
    username: String,
    password: String,
}

fn read_handout(pdf: &Path) -> Paper {
    let page = pdftotext(&std::fs::read(pdf).expect("the handout was saved"));
    let words: Vec<&str> = page.split(' ').collect();
    let is_number = |w: &str| {
        w.len() == 11 && w.as_bytes()[6] == b'-' && w.bytes().enumerate().all(|(i, b)| i == 6 || b.is_ascii_digit())
    };
    let mut numbers: Vec<&str> = words.iter().copied().filter(|w| is_number(w)).collect();
    numbers.dedup();
    assert_eq!(numbers.len(), 1, "one personnummer on the handout: {page}");
    let username = username_on(&page);
    Paper { number: numbers[0].to_string(), username, password: password_in(&page) }
}

/// An enrolled desk in its own folder, talking to the registry through `url`.
struct Desk {
    dir: tempfile::TempDir,
    id: String,
    pdfs: PathBuf,
}

impl Desk {
    fn enrol(reg: &LiveRegistry, url: &str, municipality: u16, number: u32) -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let code = reg.enrolment_code(municipality, number);
        let init = ["desk", "init", "--registry", url, "--enrolment-code", &code, "--admin", "Ada"];
        ok(&at_desk(dir.path(), &init, &[("SKRANKE_STAFF_PASSWORD", ADMIN_PW)], b""));
        for (key, value) in [
            ("privacy_controller", "Jobcenter"),
            ("privacy_contact", "jobcenter@example.dk"),
            ("privacy_dpo", "dpo@example.dk"),
        ] {
            ok(&at_desk(dir.path(), &["settings", "set", key, value], &staff(), b""));
        }
        let shown = ok_json(&at_desk(dir.path(), &["desk", "show", "--json"], &[], b""));
        let id = shown["desk_id"].as_str().unwrap().to_string();
        let pdfs = dir.path().join("handouts");
        std::fs::create_dir(&pdfs).unwrap();
        Desk { dir, id, pdfs }
    }

    /// Issues through the same path as IT staff do, saving the handout.
    fn issue(&self, i: usize, birth_date: &str, nationality: &str) -> (String, String, PathBuf) {
        let pdf = self.pdfs.join(format!("{i}.pdf"));
        let args = ["issue", "--applicant", "-", "--pdf", pdf.to_str().unwrap(), "--json"];
        let out = ok_json(&at_desk(self.dir.path(), &args, &staff(), applicant(i, birth_date, nationality).as_bytes()));
        let id = out["record_id"].as_str().unwrap().to_string();
        let shown = ok_json(&at_desk(self.dir.path(), &["records", "show", &id, "--json"], &staff(), b""));
        (id, shown["source"].as_str().unwrap().to_string(), pdf)
    }

    fn reprint(&self, record_id: &str) -> PathBuf {
        let pdf = self.pdfs.join(format!("{record_id}-again.pdf"));
        let args = ["reprint", record_id, "--pdf", pdf.to_str().unwrap(), "--json"];
        ok(&at_desk(self.dir.path(), &args, &staff(), b""));
        pdf
    }

    fn sync(&self) -> Value {
        ok_json(&at_desk(self.dir.path(), &["sync", "--json"], &[], b""))
    }

    fn records(&self) -> Vec<Value> {
        let v = ok_json(&at_desk(self.dir.path(), &["records", "list", "--json"], &staff(), b""));
        v.as_array().unwrap().clone()
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        let _ = skranke_core::desk::forget_keys(&skranke_core::keystore::OsKeyStore, &self.id);
        let _ = skranke_core::sync::forget_signing_key(&skranke_core::keystore::OsKeyStore, &self.id);
    }
}

#[test]
fn every_record_reaches_the_feed_with_the_number_and_login_on_its_latest_handout_and_the_verdicts_come_back() {
    let reg = LiveRegistry::start();
    let proxy = FaultProxy::start(reg.addr, Faults { cut_one_in: 0, max_bytes_before_cut: 1 }, 0x5eed_f00d);
    let desks = [Desk::enrol(&reg, &proxy.url(), 101, 1), Desk::enrol(&reg, &proxy.url(), 851, 2)];

    // Online first (the registry answers), then offline (it does not): the
    // lease behind the same command takes over.
    let mut handouts: HashMap<String, PathBuf> = HashMap::new();
    let mut sources = Vec::new();
    for (d, desk) in desks.iter().enumerate() {
        let (id, source, pdf) = desk.issue(d * 10, "1984-05-17", "PL");
        sources.push(source);
        handouts.insert(id, pdf);
    }
    let mut reg = reg;
    reg.down();
    for (d, desk) in desks.iter().enumerate() {
        for k in 1..3 {
            let (id, source, pdf) = desk.issue(d * 10 + k, &format!("19{}-0{k}-2{d}", 70 + k), "DE");
            sources.push(source);
            handouts.insert(id, pdf);
        }
    }
    reg.up();
    assert!(sources.iter().any(|s| s == "online") && sources.iter().any(|s| s == "lease"), "{sources:?}");

    // One record reprinted (its first password stops working), one voided.
    let reprinted = format!("{}-2", desks[0].id);
    let first_paper = read_handout(&handouts[&reprinted]);
    handouts.insert(reprinted.clone(), desks[0].reprint(&reprinted));
    let voided = format!("{}-3", desks[1].id);
    ok(&at_desk(desks[1].dir.path(), &["void", &voided, "--reason", "clerk_error"], &staff(), b""));

    // The first desk's sync is cut once mid-connection; it retries and finishes.
    proxy.set_faults(Faults { cut_one_in: 1, max_bytes_before_cut: 6000 });
    let cut_seen = Arc::new(AtomicBool::new(false));
    let healer = {
        let (cuts, seen) = (proxy.cuts.clone(), cut_seen.clone());
        let faults = proxy.faults_handle();
        std::thread::spawn(move || {
            for _ in 0..2000 {
                if cuts.load(Ordering::SeqCst) > 0 {
                    *faults.lock().unwrap() = Faults { cut_one_in: 0, max_bytes_before_cut: 1 };
                    seen.store(true, Ordering::SeqCst);
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let first = desks[0].sync();
    healer.join().unwrap();
    assert!(cut_seen.load(Ordering::SeqCst), "the sync was interrupted once");
    assert_eq!(first["pending"], 0, "{first}");
    let second = desks[1].sync();
    assert_eq!(second["pending"], 0, "{second}");

    // The consumer reads the whole feed against the served schema.
    let url = reg.url();
    let feed = feed_consumer(&["read", "--url", &url, "--token", FEED_TOKEN]);
    let records = feed["records"].as_object().unwrap();
    assert_eq!(records.len(), handouts.len(), "every record is in the feed: {feed}");
    for (id, pdf) in &handouts {
        let paper = read_handout(pdf);
        let item = &records[id];
        assert_eq!(item["number"], paper.number.as_str(), "{id}: the number as printed");
        assert_eq!(item["jobnet_username"], paper.username.as_str(), "{id}: the username as printed");
        let hash = PasswordHash::from_phc(item["password_hash"].as_str().unwrap()).unwrap();
        assert!(hash.verify(&paper.password), "{id}: the feed's hash is the latest handout's password");
        let desk = desks.iter().find(|d| id.starts_with(&format!("{}-", d.id))).unwrap();
        assert_eq!(item["desk"]["desk_id"], desk.id.as_str());
    }
    let hash = PasswordHash::from_phc(records[&reprinted]["password_hash"].as_str().unwrap()).unwrap();
    assert!(!hash.verify(&first_paper.password), "the reprint superseded the first password");
    assert_eq!(records[&reprinted]["kinds"], json!(["issued", "reprinted"]));
    assert_eq!(records[&voided]["voided"], true);

    // CPR and Jobnet register all but one, which Jobnet refuses.
    let refused = format!("{}-1", desks[1].id);
    let registered: Vec<&str> =
        handouts.keys().map(String::as_str).filter(|id| *id != refused && *id != voided).collect();
    let refusal = format!("{refused}:jobnet:username_taken");
    let answer = feed_consumer(&[
        "confirm",
        "--url",
        &url,
        "--token",
        FEED_TOKEN,
        "--registered",
        &registered.join(","),
        "--refuse",
        &refusal,
    ]);
    assert_eq!((answer["confirmed"].as_u64(), answer["refused"].as_u64()), (Some(registered.len() as u64), Some(1)));
    let stats = {
        let pool = reg.pool();
        reg.block_on(async move { skranke_registry::ops::stats(&pool).await }).unwrap()
    };
    assert_eq!((stats.refused_downstream_jobnet, stats.refused_downstream_cpr), (1, 0));

    // Each desk learns it at its next sync and shows it per record.
    for desk in &desks {
        desk.sync();
        for r in desk.records() {
            let id = r["record_id"].as_str().unwrap();
            let expected = if id == refused {
                "refused_downstream"
            } else if id == voided {
                "accepted"
            } else {
                "registered"
            };
            assert_eq!(r["standing"], expected, "{id}: {r}");
        }
    }
    let status = ok_json(&at_desk(desks[1].dir.path(), &["sync", "status", "--json"], &[], b""));
    let listed: Vec<&Value> =
        status["refused"].as_array().unwrap().iter().filter(|r| r["outcome"] == "refused_downstream").collect();
    assert_eq!(listed.len(), 1, "{status}");
    assert_eq!(
        (listed[0]["record_id"].as_str(), listed[0]["reason"].as_str()),
        (Some(refused.as_str()), Some("jobnet:username_taken"))
    );

    // A reprint answers the refusal: it goes down the feed again and the
    // refusal no longer stands once the desk has synced.
    handouts.insert(refused.clone(), desks[1].reprint(&refused));
    desks[1].sync();
    desks[1].sync();
    let standing = desks[1].records().into_iter().find(|r| r["record_id"] == refused.as_str()).unwrap();
    assert_eq!(standing["standing"], "accepted", "{standing}");
    let feed = feed_consumer(&["read", "--url", &url, "--token", FEED_TOKEN]);
    let paper = read_handout(&handouts[&refused]);
    let hash = PasswordHash::from_phc(feed["records"][&refused]["password_hash"].as_str().unwrap()).unwrap();
    assert!(hash.verify(&paper.password));
    let human = at_desk(desks[1].dir.path(), &["records", "show", &refused], &staff(), b"");
    assert!(text(&human).0.contains("Registry: received by the registry"), "{:?}", text(&human));
}
