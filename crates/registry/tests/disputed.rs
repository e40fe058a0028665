//! A desk copied to a second PC together with its key store (a copied VM
//! snapshot): the two copies share a desk ID, record IDs and a lease, and
//! the registry cannot tell them apart. What it must do: record every
//! number the copy's conflicting records carry as disputed, hand none of
//! them out again, tell the desks, and list them for the operator, so that
//! no number is on two handouts without both desks and the operator being
//! told. Real desks (SQLCipher stores) against the real registry.

mod common;
mod support;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use skranke_core::keystore::KeyStore;
use skranke_core::store::Store;
use skranke_core::sync;
use skranke_rules::cpr::Sex;
use support::*;

fn checkpoint(store: &Store) {
    store.connection().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
}

/// The operator's list, through the library call its command prints.
fn disputed(reg: &LiveRegistry) -> Vec<skranke_registry::disputed::DisputedNumber> {
    let pool = reg.pool();
    reg.block_on(async move { skranke_registry::disputed::list(&pool).await }).unwrap()
}

#[test]
fn two_copies_of_one_desk_never_put_a_number_on_two_handouts_without_the_desks_and_the_operator_being_told() {
    let reg = LiveRegistry::start();
    let keys = Arc::new(CopyableKeyStore::default());
    let mut a = TestDesk::enrol(&reg, &reg.url(), 147, 2, keys.clone());
    let client_a = a.client(&reg.url());
    a.issue(0, date(1982, 2, 1), Sex::Female, None).unwrap();
    sync::run(&mut a.store, &client_a).unwrap();

    // The copy: same disk, same key ring.
    checkpoint(&a.store);
    let dir_b = tempfile::tempdir().unwrap();
    copy_desk_folder(a.dir.path(), dir_b.path());
    let keys_b: Arc<dyn KeyStore> = Arc::new(keys.snapshot());
    let mut store_b = Store::open(dir_b.path(), Box::new(keys_b.clone()), Utc::now()).unwrap();
    let session = store_b.sign_in(ADMIN, PASSWORD, Utc::now()).unwrap();
    let mut b = TestDesk { dir: dir_b, store: store_b, id: a.id.clone(), session, keystore: keys_b };
    let client_b = b.client(&reg.url());

    // Both issue offline, for different birth dates, and sync.
    let x = [date(1990, 6, 10), date(1990, 6, 11)];
    let y = [date(1991, 7, 20), date(1991, 7, 21)];
    for (i, d) in x.iter().enumerate() {
        a.issue(10 + i, *d, Sex::Male, None).unwrap();
    }
    let mut b_numbers = Vec::new();
    for (i, d) in y.iter().enumerate() {
        b_numbers.push(b.issue(20 + i, *d, Sex::Male, None).unwrap().number.to_string());
    }
    sync::run(&mut a.store, &client_a).unwrap();
    let rb = sync::run(&mut b.store, &client_b).unwrap();
    assert!(rb.conflict >= 2, "the copy's records reuse the original's record IDs: {rb:?}");

    // The copy's numbers are disputed, listed for the operator with the desk and the record.
    let listed: HashMap<String, _> = disputed(&reg).into_iter().map(|d| (d.number.clone(), d)).collect();
    for n in &b_numbers {
        let d = listed.get(n).unwrap_or_else(|| panic!("{n} is not listed as disputed: {listed:?}"));
        assert_eq!(d.desk_id, a.id);
        assert!(d.reason.starts_with("conflict:"), "{d:?}");
    }

    // The original, not yet told, issues offline for the copy's first birth date:
    // its lease gives it the number on the copy's handout.
    let third = a.issue(30, y[0], Sex::Male, None).unwrap();
    assert_eq!(third.number.to_string(), b_numbers[0], "the same lease, the same first number");
    let ra = sync::run(&mut a.store, &client_a).unwrap();
    assert_eq!(ra.conflict, 1, "the registry does not accept a disputed number: {ra:?}");
    let status = sync::status(&mut a.store, Utc::now()).unwrap();
    assert!(
        status.refused.iter().any(|r| r.record_id.as_deref() == Some(third.record_id.as_str())
            && r.reason.as_deref() == Some("number_disputed")),
        "the supervisor sees the record refused: {:?}",
        status.refused
    );
    assert!(
        status.notices.iter().any(|n| n.kind == "number_disputed" && n.record_id.as_deref() == Some(&third.record_id)),
        "the desk is told: {:?}",
        status.notices
    );
    assert!(disputed(&reg)
        .iter()
        .any(|d| d.number == b_numbers[0] && d.record_id.as_deref() == Some(&third.record_id)));

    // Now told, the original never issues the copy's other number; and the
    // registry never allocates or leases a disputed number.
    let fourth = a.issue(31, y[1], Sex::Male, None).unwrap();
    assert_ne!(fourth.number.to_string(), b_numbers[1], "the desk learnt the number is used");
    let allocated = reg.count(&format!(
        "SELECT count(*) FROM numbers WHERE number IN ('{}', '{}') AND record_id IS NOT NULL",
        b_numbers[0].replace('-', ""),
        b_numbers[1].replace('-', "")
    ));
    assert_eq!(allocated, 0, "no accepted record holds a disputed number");
}

/// Refused records count as disputed only for a desk's first 50, so that
/// no desk can burn the block by sending refused events; past the cap the
/// operator is told, once.
#[tokio::test]
async fn a_desks_refused_records_dispute_at_most_fifty_numbers_and_the_operator_is_told() {
    use common::{issued, Registry};
    use skranke_protocol::NumberSource;
    use skranke_rules::cpr::Slot;
    use skranke_rules::lease::LeaseUnit;
    let reg = Registry::start().await;
    let mut desk = reg.desk(101).await;
    // Numbers of a unit no desk holds: each record is `invalid:number_not_held`.
    let unit = LeaseUnit::new(Slot::new(450).unwrap(), 0).unwrap();
    let mut events = Vec::new();
    for i in 0..53 {
        let day = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(i);
        let rid = desk.record_id();
        events.push(issued(&rid, &unit.number(day, Sex::Female).unwrap(), NumberSource::Lease, &format!("doc{i}")));
    }
    let (_, up) = desk.upload(&events).await;
    assert!(common::outcomes(&up).iter().all(|o| o == "invalid"), "{up}");
    let client = reg.state.pool.get().await.unwrap();
    let disputed: i64 = client.query_one("SELECT count(*) FROM disputed_numbers", &[]).await.unwrap().get(0);
    assert_eq!(disputed, 50);
    let told = "SELECT count(*) FROM operator_log WHERE action = 'disputed_cap_reached'";
    assert_eq!(client.query_one(told, &[]).await.unwrap().get::<_, i64>(0), 1);
    // More of the same tells no one twice.
    let rid = desk.record_id();
    let day = chrono::NaiveDate::from_ymd_opt(1980, 1, 1).unwrap();
    desk.upload(&[issued(&rid, &unit.number(day, Sex::Male).unwrap(), NumberSource::Lease, "docx")]).await;
    assert_eq!(client.query_one(told, &[]).await.unwrap().get::<_, i64>(0), 1);
}
