//! The desk's retention (`skranke_core::retention`) against a real registry
//! on a real PostgreSQL: a record the registry registered is erased on the
//! desk N days after the desk learnt it, and the `erased` event reaches the
//! registry, which marks the record erased.

mod common;
mod support;

use std::sync::Arc;

use chrono::{Duration, Utc};
use skranke_core::keystore::{KeyStore, MemoryKeyStore};
use skranke_core::retention::{FlagReason, DEFAULT_RETENTION_DAYS};
use skranke_core::store::timestamp;
use skranke_core::sync;
use skranke_rules::cpr::Sex;
use support::*;

#[test]
fn a_registered_record_is_erased_after_the_period_and_the_registry_marks_it_erased() {
    let reg = LiveRegistry::start();
    let keystore: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let mut desk = TestDesk::enrol(&reg, &reg.url(), 101, 2, keystore);
    let registered = desk.issue(1, date(1981, 4, 4), Sex::Female, None).unwrap().record_id;
    let received = desk.issue(2, date(1982, 5, 5), Sex::Male, None).unwrap().record_id;
    let client = desk.client(&reg.url());
    assert_eq!(sync::run(&mut desk.store, &client).unwrap().pending, 0);

    // The downstream consumer confirms one record; the desk learns it at the next sync.
    reg.count(&format!(
        "WITH r AS (UPDATE records SET state = 'registered', state_seq = nextval('registry_seq')
                    WHERE record_id = '{registered}' RETURNING 1) SELECT count(*) FROM r"
    ));
    sync::run(&mut desk.store, &client).unwrap();
    let confirmed: Vec<(String, Option<String>)> = {
        let conn = desk.store.connection();
        let mut stmt = conn.prepare("SELECT id, confirmed_at FROM record ORDER BY seq").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    assert!(confirmed[0].1.is_some(), "the desk noted when it learnt the record was registered");
    assert_eq!(confirmed[1].1, None, "received is not confirmed");

    // The period passes (moved back rather than waited for), and the desk is opened:
    // the registered record is erased by itself; the other is old and unconfirmed: flagged.
    let long_ago = timestamp(Utc::now() - Duration::days(i64::from(DEFAULT_RETENTION_DAYS) + 1));
    desk.store
        .connection()
        .execute(
            "UPDATE record SET issued_at = ?1, confirmed_at = CASE WHEN confirmed_at IS NOT NULL THEN ?1 END",
            [&long_ago],
        )
        .unwrap();
    desk.reopen();
    let applicants: Vec<bool> = {
        let conn = desk.store.connection();
        let mut stmt = conn.prepare("SELECT applicant IS NOT NULL FROM record ORDER BY seq").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(applicants, [false, true]);
    let status = sync::status(&mut desk.store, Utc::now()).unwrap();
    assert_eq!(status.retention_flagged.len(), 1);
    assert_eq!(
        (status.retention_flagged[0].record_id.as_str(), status.retention_flagged[0].reason),
        (received.as_str(), FlagReason::Unconfirmed)
    );
    assert!(status.queued_events >= 2, "the erased event and its audit entry wait: {status:?}");

    let client = desk.client(&reg.url());
    let report = sync::run(&mut desk.store, &client).unwrap();
    assert_eq!((report.conflict, report.invalid, report.pending), (0, 0, 0), "{report:?}");
    assert_eq!(
        reg.count(&format!("SELECT count(*) FROM records WHERE record_id = '{registered}' AND erased_at IS NOT NULL")),
        1
    );
    assert_eq!(
        reg.count(&format!("SELECT count(*) FROM records WHERE record_id = '{received}' AND erased_at IS NULL")),
        1
    );
    // A second sync sends nothing again.
    assert_eq!(sync::run(&mut desk.store, &client).unwrap().uploaded, 0);
}
