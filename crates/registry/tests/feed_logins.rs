//! Eight desks issue 160 records offline with their Jobnet logins and
//! handouts (`Store::issue_with_handout`, the path the CLI and the window
//! take), then sync through a proxy that cuts connections while the
//! registry is killed and restarted mid-upload. The feed, read by the
//! consumer with its token (`tests/contract/feed-consumer.mjs`, which
//! validates every item against `/openapi.json`), must then carry for every
//! record the number and the username printed on its handout.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use skranke_core::credentials::OsRandom;
use skranke_core::handout::Delivery;
use skranke_core::keystore::{KeyStore, MemoryKeyStore};
use skranke_core::settings::SettingKey;
use skranke_core::sync;
use skranke_rules::applicant::Applicant;
use skranke_rules::cpr::Sex;
use skranke_rules::i18n::Lang;
use support::proxy::{FaultProxy, Faults};
use support::*;

const DESKS: usize = 8;
const PER_DESK: usize = 20;

fn pdftotext(pdf: &Path) -> String {
    let mut child = Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("pdftotext (poppler-utils) is installed");
    child.stdin.take().unwrap().write_all(&std::fs::read(pdf).unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The username as printed: the value under the label line that names it.
fn username_on(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let label = words.iter().position(|w| *w == "Username").expect("the username's label");
    words[label..]
        .iter()
        .find(|w| {
            w.bytes().all(|b| skranke_core::credentials::ALPHABET.contains(&b))
                && skranke_core::credentials::Username::parse(w).is_ok()
        })
        .expect("a username under its label")
        .to_string()
}

fn sync_until_done(desk: &mut TestDesk, url: &str) {
    let client = desk.client(url).with_batch_size(7);
    for _ in 0..60 {
        match sync::run(&mut desk.store, &client) {
            Ok(r) if r.pending == 0 => return,
            Ok(_) => {}
            Err(e) => assert!(matches!(&e, skranke_core::Error::Sync(s) if s.retryable()), "{e:?}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("desk {} never finished syncing", desk.id);
}

#[test]
fn one_hundred_sixty_offline_records_synced_through_a_killed_registry_all_reach_the_feed_with_their_handouts_username()
{
    let reg = Arc::new(Mutex::new(LiveRegistry::start()));
    let addr = reg.lock().unwrap().addr;
    let url = reg.lock().unwrap().url();
    let proxy = FaultProxy::start(addr, Faults { cut_one_in: 0, max_bytes_before_cut: 1 }, 0x160);
    let keystore: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let pdfs = tempfile::tempdir().unwrap();

    let mut desks: Vec<TestDesk> = (0..DESKS)
        .map(|d| {
            let r = reg.lock().unwrap();
            let mut desk =
                TestDesk::enrol(&r, &proxy.url(), [101, 147, 461, 751][d % 4], d as u32 + 1, keystore.clone());
            for (key, value) in [
                (SettingKey::PrivacyController, "Jobcenter"),
                (SettingKey::PrivacyContact, "jc@example.dk"),
                (SettingKey::PrivacyDpo, "dpo@example.dk"),
            ] {
                desk.store.change_setting(&desk.session, key, value, Utc::now(), Lang::En).unwrap();
            }
            desk
        })
        .collect();

    // Offline: the registry is down; every number comes from the lease.
    reg.lock().unwrap().down();
    let handouts: Vec<(String, PathBuf)> = std::thread::scope(|s| {
        let handles: Vec<_> = desks
            .iter_mut()
            .enumerate()
            .map(|(d, desk)| {
                let dir = pdfs.path().to_path_buf();
                s.spawn(move || {
                    let mut out = Vec::new();
                    for i in 0..PER_DESK {
                        let birth =
                            NaiveDate::from_ymd_opt(1950, 1, 1).unwrap() + chrono::Duration::days(97 * i as i64);
                        let sex = if i % 2 == 0 { Sex::Female } else { Sex::Male };
                        let json = applicant_json(d * 1000 + i, birth, sex).to_string();
                        let applicant = Applicant::from_json(&json, Lang::En).unwrap();
                        let pdf = dir.join(format!("{d}-{i}.pdf"));
                        let issued = desk
                            .store
                            .issue_with_handout(
                                &desk.session,
                                &applicant,
                                Utc::now().date_naive(),
                                Utc::now(),
                                Lang::En,
                                None,
                                Delivery::SavePdf(&pdf),
                                &mut OsRandom,
                            )
                            .unwrap();
                        assert!(issued.handout.delivery.is_ok(), "{:?}", issued.handout.delivery);
                        out.push((issued.issued.record_id, pdf));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(handouts.len(), DESKS * PER_DESK);
    reg.lock().unwrap().up();

    // Sync through cuts; the registry is killed once a third of the records arrived.
    proxy.set_faults(Faults { cut_one_in: 3, max_bytes_before_cut: 40_000 });
    let killed = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (reg, killed, stop) = (reg.clone(), killed.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if reg.lock().unwrap().count("SELECT count(*) FROM records") >= (DESKS * PER_DESK / 3) as i64 {
                    let mut r = reg.lock().unwrap();
                    r.down();
                    std::thread::sleep(Duration::from_millis(300));
                    r.up();
                    killed.store(true, Ordering::SeqCst);
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    for desk in &mut desks {
        sync_until_done(desk, &proxy.url());
    }
    stop.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    assert!(killed.load(Ordering::SeqCst), "the registry was killed mid-upload");
    assert!(proxy.cuts.load(Ordering::SeqCst) > 0, "the proxy cut connections");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/contract/feed-consumer.mjs");
    let out = Command::new("node")
        .arg(script)
        .args(["read", "--url", &url, "--token", "feed-secret"])
        .output()
        .expect("node runs");
    assert!(out.status.success(), "the consumer refused the feed: {}", String::from_utf8_lossy(&out.stderr));
    let feed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let records = feed["records"].as_object().unwrap();
    let mut matched: HashMap<&str, bool> = HashMap::new();
    for (id, pdf) in &handouts {
        let page = pdftotext(pdf);
        let item = &records[id.as_str()];
        assert_eq!(item["jobnet_username"], username_on(&page).as_str(), "{id}: {item}");
        assert!(page.contains(item["number"].as_str().unwrap()), "{id}: the number as printed");
        matched.insert(id, true);
    }
    println!("feed: {} of {} records carry their handout's username", matched.len(), handouts.len());
    assert_eq!(matched.len(), DESKS * PER_DESK);
}
