//! Online allocation that strands nothing and drains nothing, against the
//! real registry on PostgreSQL: a number the desk did not use goes back at
//! its next sync, and one desk gets only so many modulus-11 numbers a day.

mod common;
mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{date, Registry};
use skranke_core::keystore::MemoryKeyStore;
use skranke_core::sync::{self, HttpAllocator};
use skranke_registry::{Config, RateLimit};
use skranke_rules::cpr::{Personnummer, Sex};
use support::proxy::{FaultProxy, Faults};
use support::{LiveRegistry, TestDesk};

#[test]
fn an_online_number_the_desk_could_not_use_is_reported_at_the_next_sync_and_freed() {
    let reg = LiveRegistry::start();
    let mut desk = TestDesk::enrol(&reg, &reg.url(), 461, 4, Arc::new(MemoryKeyStore::new()));
    let proxy = FaultProxy::start(reg.addr, Faults { cut_one_in: 0, max_bytes_before_cut: 1 }, 11);
    let client = desk.client(&proxy.url());
    // The registry records the allocation, but the desk cannot believe the
    // answer (a hop changed it), so it issues from its lease.
    proxy.tamper(Some((b"\"passes_modulus11\"", b"\"passes_modulus1X\"")));
    let online = HttpAllocator::new(&client);
    let issued = desk.issue(0, date(1985, 6, 1), Sex::Female, Some(&online)).unwrap();
    online.remember(&mut desk.store).unwrap();
    assert_eq!(issued.source, skranke_protocol::NumberSource::Lease);
    let stranded = format!(
        "SELECT count(*) FROM numbers WHERE desk_id = '{}' AND origin = 'online' AND record_id IS NULL",
        desk.id
    );
    assert_eq!(reg.count(&stranded), 1, "the registry recorded the allocation the desk did not use");
    proxy.tamper(None);
    let report = sync::run(&mut desk.store, &client).unwrap();
    assert_eq!(report.pending, 0, "{report:?}");
    assert_eq!(reg.count(&stranded), 0, "the unused number is free again");
    // Reported once: the desk forgot the key once the registry answered.
    let left: i64 =
        desk.store.connection().query_row("SELECT count(*) FROM unused_allocation", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 0);
    // A number the desk did use is never freed, whatever it reports.
    let used = desk.issue(1, date(1985, 6, 2), Sex::Male, Some(&HttpAllocator::new(&client))).unwrap();
    assert_eq!(used.source, skranke_protocol::NumberSource::Online);
    sync::run(&mut desk.store, &client).unwrap();
    let held = format!("SELECT count(*) FROM numbers WHERE desk_id = '{}' AND origin = 'online'", desk.id);
    assert_eq!(reg.count(&held), 1);
}

#[tokio::test]
async fn one_desk_gets_its_daily_share_of_modulus_11_numbers_and_then_others() {
    let config = Config { modulus11_per_desk_day: 2, allocate_limit: RateLimit::OFF, ..Config::default() };
    let reg = Registry::with_config(config).await;
    let a = reg.desk(101).await;
    let b = reg.desk(147).await;
    let passes = |n: &serde_json::Value| {
        let text = n["number"].as_str().unwrap();
        let number = Personnummer::parse(text, chrono::Utc::now().date_naive()).unwrap();
        assert_eq!(n["passes_modulus11"].as_bool(), Some(number.passes_modulus11()));
        number.passes_modulus11()
    };
    let mut seen = Vec::new();
    for (i, day) in [(0, 1), (1, 2), (2, 3), (3, 4)] {
        let (s, n) = a.allocate(&format!("a{i}"), date(1990, 1, day), Sex::Female).await;
        assert_eq!(s, StatusCode::OK, "{n}");
        seen.push(passes(&n));
    }
    assert_eq!(seen, [true, true, false, false], "two modulus-11 numbers, then others");
    let (_, n) = b.allocate("b0", date(1990, 1, 5), Sex::Female).await;
    assert!(passes(&n), "another desk's share is its own");
    // The same key again is the same number, share or not.
    let (_, again) = a.allocate("a0", date(1990, 1, 1), Sex::Female).await;
    assert!(passes(&again));
}
