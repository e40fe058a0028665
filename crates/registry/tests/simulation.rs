//! The whole system under stress: ten desks issue offline from their leases
//! (many applicants sharing birth dates), sync in random order through a
//! proxy that cuts connections while the registry is restarted in the middle
//! of the uploads, then all issue online at once. Afterwards every record is
//! in the registry exactly once, no number is used twice anywhere, every
//! number fits its applicant, and every outbox is empty.

mod common;
mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, Utc};
use skranke_core::alloc::NumberSource;
use skranke_core::keystore::{KeyStore, MemoryKeyStore};
use skranke_core::sync::{self, HttpAllocator};
use skranke_rules::cpr::{Personnummer, Sex};
use support::proxy::{FaultProxy, Faults};
use support::*;

const DESKS: usize = 10;
const OFFLINE_PER_DESK: usize = 200;
const ONLINE_PER_DESK: usize = 12;
/// Sixty birth dates shared by every desk: 120 dates and sexes, two numbers
/// each in a desk's lease, so 200 records use most of every desk's reserve.
const SHARED_DATES: usize = 60;

/// xorshift: deterministic, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

fn shared_date(k: usize) -> NaiveDate {
    NaiveDate::from_ymd_opt(1940, 1, 1).unwrap() + chrono::Duration::days(300 * k as i64)
}

fn sex_of(k: usize) -> Sex {
    if k % 2 == 0 {
        Sex::Female
    } else {
        Sex::Male
    }
}

/// Syncs one desk until nothing is pending, through whatever faults there are.
fn sync_until_done(desk: &mut TestDesk, url: &str, batch: usize) -> u32 {
    let client = desk.client(url).with_batch_size(batch);
    for attempt in 1..=40 {
        match sync::run(&mut desk.store, &client) {
            Ok(r) if r.pending == 0 => return attempt,
            Ok(_) => {}
            Err(e) => assert!(
                matches!(&e, skranke_core::Error::Sync(s) if s.retryable()),
                "only network trouble is expected: {e:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("desk {} never finished syncing", desk.id);
}

#[test]
fn ten_desks_offline_then_syncing_through_cuts_and_a_restart_then_online_at_once_use_no_number_twice() {
    let started = Instant::now();
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    let reg = Arc::new(Mutex::new(LiveRegistry::start()));
    let addr = reg.lock().unwrap().addr;
    let proxy = FaultProxy::start(addr, Faults { cut_one_in: 0, max_bytes_before_cut: 1 }, rng.next());
    let keystore: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let mut desks: Vec<TestDesk> = (0..DESKS)
        .map(|d| {
            let r = reg.lock().unwrap();
            TestDesk::enrol(&r, &proxy.url(), [101, 147, 461, 751, 851][d % 5], d as u32 + 1, keystore.clone())
        })
        .collect();
    for d in &mut desks {
        assert_eq!(d.store.lease_status().unwrap().units, 2, "each desk starts with two units");
    }

    // Offline: each desk issues 200 records from its lease, on the shared dates.
    let plans: Vec<Vec<usize>> = (0..DESKS)
        .map(|_| {
            let mut slots: Vec<usize> = (0..2 * SHARED_DATES).flat_map(|k| [k, k]).collect();
            rng.shuffle(&mut slots);
            slots.truncate(OFFLINE_PER_DESK);
            slots
        })
        .collect();
    let desks: Vec<TestDesk> = std::thread::scope(|s| {
        let handles: Vec<_> = desks
            .into_iter()
            .zip(plans)
            .enumerate()
            .map(|(d, (mut desk, plan))| {
                s.spawn(move || {
                    for (i, k) in plan.into_iter().enumerate() {
                        let issued = desk.issue(d * 10_000 + i, shared_date(k / 2), sex_of(k), None).unwrap();
                        assert_eq!(issued.source, NumberSource::Lease);
                    }
                    desk
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!("offline issuing done after {:?}", started.elapsed());

    // Sync in random order, two at a time, through a proxy that cuts every
    // second connection; the registry restarts once a third of the
    // expected events have arrived.
    proxy.set_faults(Faults { cut_one_in: 2, max_bytes_before_cut: 100_000 });
    let expected_events = (DESKS * OFFLINE_PER_DESK * 2) as i64;
    let restarted = Arc::new(AtomicBool::new(false));
    let stop_watch = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (reg, restarted, stop) = (reg.clone(), restarted.clone(), stop_watch.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let seen = reg.lock().unwrap().count("SELECT count(*) FROM events");
                if seen >= expected_events / 3 {
                    let mut r = reg.lock().unwrap();
                    r.down();
                    std::thread::sleep(Duration::from_millis(300));
                    r.up();
                    restarted.store(true, Ordering::SeqCst);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let mut order: Vec<usize> = (0..DESKS).collect();
    rng.shuffle(&mut order);
    let queue = Mutex::new(order);
    let slots: Vec<Mutex<Option<TestDesk>>> = desks.into_iter().map(|d| Mutex::new(Some(d))).collect();
    let url = proxy.url();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some(d) = queue.lock().unwrap().pop() else { return };
                let mut desk = slots[d].lock().unwrap().take().unwrap();
                sync_until_done(&mut desk, &url, 50);
                *slots[d].lock().unwrap() = Some(desk);
            });
        }
    });
    stop_watch.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    let desks: Vec<TestDesk> = slots.into_iter().map(|m| m.into_inner().unwrap().unwrap()).collect();
    assert!(restarted.load(Ordering::SeqCst), "the registry was restarted mid-upload");
    let cuts = proxy.cuts.load(Ordering::SeqCst);
    assert!(cuts > 0, "the proxy cut connections");
    eprintln!("offline records synced after {:?}; {cuts} connections cut", started.elapsed());

    // Online, all desks at once, on a handful of dates they all share.
    proxy.set_faults(Faults { cut_one_in: 0, max_bytes_before_cut: 1 });
    let online_dates: Vec<NaiveDate> = (0..4).map(|k| NaiveDate::from_ymd_opt(1984 + k, 5, 17).unwrap()).collect();
    let desks: Vec<TestDesk> = std::thread::scope(|s| {
        let handles: Vec<_> = desks
            .into_iter()
            .enumerate()
            .map(|(d, mut desk)| {
                let (url, dates) = (proxy.url(), online_dates.clone());
                s.spawn(move || {
                    let client = desk.client(&url);
                    let online = HttpAllocator::new(&client);
                    for i in 0..ONLINE_PER_DESK {
                        desk.issue(
                            500_000 + d * 1000 + i,
                            dates[i % dates.len()],
                            sex_of(i / dates.len()),
                            Some(&online),
                        )
                        .unwrap();
                    }
                    online.remember(&mut desk.store).unwrap();
                    desk
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut desks = desks;
    for desk in &mut desks {
        sync_until_done(desk, &proxy.url(), 500);
    }

    // Every record in the registry exactly once.
    let reg = reg.lock().unwrap();
    let mut local_ids = HashSet::new();
    let mut local_numbers: HashMap<String, String> = HashMap::new();
    let (mut online_total, mut online_mod11) = (0usize, 0usize);
    for desk in &mut desks {
        let rows: Vec<(String, String, String, String, String)> = {
            let conn = desk.store.connection();
            let mut stmt = conn.prepare("SELECT id, number, birth_date, sex, source FROM record").unwrap();
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).unwrap();
            rows.map(|r| r.unwrap()).collect()
        };
        for (id, digits, birth, sex, source) in rows {
            assert!(local_ids.insert(id.clone()));
            if let Some(other) = local_numbers.insert(digits.clone(), id.clone()) {
                panic!("number {digits} issued as {other} and {id}");
            }
            // Each number is valid for its applicant: date and sex.
            let birth: NaiveDate = birth.parse().unwrap();
            let n = Personnummer::from_parts(birth, digits[6..].parse().unwrap()).expect("a valid number");
            assert_eq!(n.digits().map(|d| char::from(b'0' + d)).iter().collect::<String>(), digits);
            assert_eq!(n.sex().code(), sex);
            if source == "online" {
                online_total += 1;
                online_mod11 += usize::from(n.passes_modulus11());
            }
        }
        let status = sync::status(&mut desk.store, Utc::now()).unwrap();
        assert_eq!(status.queued_events, 0, "every outbox is empty: {}", desk.id);
        assert!(status.refused.is_empty(), "{:?}", status.refused);
        let head = desk.store.audit_head().unwrap();
        let held = reg.rows(&format!("SELECT seq::text, hash FROM audit_heads WHERE desk_id = '{}'", desk.id));
        assert_eq!(held, vec![vec![Some(head.seq.to_string()), Some(head.hash)]], "audit chain of {}", desk.id);
    }
    let total = DESKS * (OFFLINE_PER_DESK + ONLINE_PER_DESK);
    assert_eq!(local_ids.len(), total);
    let registry_ids: HashSet<String> =
        reg.rows("SELECT record_id FROM records").into_iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(reg.count("SELECT count(*) FROM records") as usize, total);
    assert_eq!(registry_ids, local_ids, "every record in the registry exactly once");
    assert_eq!(reg.count("SELECT count(*) FROM conflicts"), 0);
    assert_eq!(reg.count("SELECT count(*) FROM (SELECT number FROM records GROUP BY number HAVING count(*) > 1) d"), 0);
    for row in reg.rows(
        "SELECT number, content->'person'->>'birth_date', content->'person'->>'sex', content->>'number' FROM records",
    ) {
        let (digits, birth, sex, shown) =
            (row[0].clone().unwrap(), row[1].clone().unwrap(), row[2].clone().unwrap(), row[3].clone().unwrap());
        let birth: NaiveDate = birth.parse().unwrap();
        let n = Personnummer::from_parts(birth, digits[6..].parse().unwrap()).unwrap();
        assert_eq!((n.to_string(), n.sex().code()), (shown, sex.as_str()));
        assert!(birth.year() >= 1937);
        assert!(local_numbers.contains_key(&digits), "registry number {digits} was issued by a desk");
    }
    let share = online_mod11 as f64 / online_total.max(1) as f64;
    println!(
        "simulation: {total} records from {DESKS} desks, {online_total} allocated online, \
         {:.1} % of them modulus-11 numbers, {cuts} connections cut, {:?}",
        share * 100.0,
        started.elapsed()
    );
    assert!(online_total > 0, "online allocation answered at least once");
}
