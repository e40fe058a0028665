//! What a record claims is checked at the registry, against the real service
//! on PostgreSQL: a username from another desk's login namespace, an issue
//! time in the future, a password hash that is not the desk's Argon2id, a
//! municipality that is no kommunekode, and a record issued after the desk's
//! retirement are each `invalid` with their own reason, kept, and never
//! written; the good records of the same batch are accepted. A reprint with
//! a malformed hash is refused and the record keeps its handout's hash.

mod common;

use chrono::{Duration, Utc};
use common::*;
use skranke_protocol::{Event, EventBody, IssuedRecord, NumberSource, Reprint};
use skranke_registry::ops;
use skranke_rules::cpr::Sex;
use skranke_rules::lease::LeaseUnit;

/// An `issued` event of the harness's default record, changed by `change`.
fn changed(rid: &str, unit: &LeaseUnit, year: i32, who: &str, change: impl FnOnce(&mut IssuedRecord)) -> Event {
    let number = unit.number(date(year, 1, 1), Sex::Female).unwrap();
    let mut event = issued(rid, &number, NumberSource::Lease, who);
    if let EventBody::Issued(r) = &mut event.body {
        change(r);
    }
    Event::new(event.idempotency_key.clone(), event.body)
}

/// Whether the registry holds the record, and the reason it kept the
/// record's event for (`None`: none kept).
async fn held(reg: &Registry, rid: &str) -> (bool, Option<String>) {
    let client = reg.state.pool.get().await.unwrap();
    let record = client.query_opt("SELECT 1 FROM records WHERE record_id = $1", &[&rid]).await.unwrap().is_some();
    let kept = client
        .query_opt("SELECT reason FROM conflicts WHERE body->'payload'->>'record_id' = $1", &[&rid])
        .await
        .unwrap()
        .map(|row| row.get(0));
    (record, kept)
}

#[tokio::test]
async fn each_false_claim_of_a_record_is_its_own_invalid_verdict_and_the_good_records_of_the_batch_are_accepted() {
    let reg = Registry::start().await;
    let mut desk = reg.desk(101).await;
    let other = reg.desk(147).await;
    let (_, lease) = desk.lease("l", 1).await;
    let unit = units_of(&lease["granted"])[0];

    let good = desk.record_id();
    let elsewhere = desk.record_id();
    let foreign = desk.record_id();
    let future = desk.record_id();
    let weak = desk.record_id();
    let nowhere = desk.record_id();
    let other_login = username_of(&format!("{}-1", other.id));
    assert!(!other_login.is_empty() && other_login != username_of(&foreign), "two namespaces");
    let batch = [
        changed(&good, &unit, 1970, "good", |_| {}),
        // The person stays in another municipality than the desk's: allowed.
        changed(&elsewhere, &unit, 1971, "elsewhere", |r| r.municipality = 461),
        changed(&foreign, &unit, 1972, "foreign", |r| r.jobnet_username = other_login.clone()),
        changed(&future, &unit, 1973, "future", |r| r.issued_at = Utc::now() + Duration::hours(1)),
        changed(&weak, &unit, 1974, "weak", |r| {
            r.password_hash = DEFAULT_HASH.replace("m=19456,t=2", "m=4096,t=1");
        }),
        changed(&nowhere, &unit, 1975, "nowhere", |r| r.municipality = 100),
    ];
    let expected = [
        ("accepted", ""),
        ("accepted", ""),
        ("invalid", "username_namespace"),
        ("invalid", "issued_in_future"),
        ("invalid", "password_hash"),
        ("invalid", "municipality"),
    ];
    let (_, up) = desk.upload(&batch).await;
    let got: Vec<(String, String)> = outcomes(&up).into_iter().zip(reasons(&up)).collect();
    let want: Vec<(String, String)> = expected.iter().map(|(o, r)| (o.to_string(), r.to_string())).collect();
    assert_eq!(got, want, "{up}");
    for (rid, (outcome, reason)) in [&good, &elsewhere, &foreign, &future, &weak, &nowhere].into_iter().zip(expected) {
        let kept = (outcome == "invalid").then(|| format!("invalid:{reason}"));
        assert_eq!(held(&reg, rid).await, (outcome == "accepted", kept), "{rid}");
    }
    assert_eq!(reg.sql_count("SELECT count(*) FROM numbers").await, 2, "only the accepted records' numbers are used");
    assert_eq!(reg.sql_count("SELECT count(*) FROM feed").await, 2, "only the accepted records go down the feed");

    // The same batch again: the same verdicts, nothing kept twice.
    let (_, again) = desk.upload(&batch).await;
    let outcomes_again = outcomes(&again);
    assert_eq!(outcomes_again[..2], ["already_held", "already_held"]);
    assert_eq!(reasons(&again)[2..], want[2..].iter().map(|(_, r)| r.clone()).collect::<Vec<_>>()[..]);
    assert_eq!(reg.sql_count("SELECT count(*) FROM conflicts").await, 4);

    // A reprint with a hash the desk never makes is refused too, and the
    // record keeps the hash of its handout.
    let reprint = Event::new(
        format!("{good}/reprinted/1"),
        EventBody::Reprinted(Reprint {
            record_id: good.clone(),
            reprinted_at: Utc::now(),
            password_hash: DEFAULT_HASH.replace("$argon2id$", "$argon2i$"),
            jobnet_username: Some(username_of(&good)),
        }),
    );
    let (_, up) = desk.upload(&[reprint]).await;
    assert_eq!((outcomes(&up), reasons(&up)), (vec!["invalid".into()], vec!["password_hash".into()]), "{up}");
    let hash = format!(
        "SELECT count(*) FROM records WHERE record_id = '{good}' AND content->>'password_hash' = '{DEFAULT_HASH}'"
    );
    assert_eq!(reg.sql_count(&hash).await, 1, "the handout's hash stays");

    // Retired, the desk still hands in what it issued before; a record
    // issued after the retirement is refused.
    assert!(ops::retire_desk(&reg.state.pool, "tester", &desk.id).await.unwrap());
    *reg.clock.lock().unwrap() += Duration::hours(1);
    let before = desk.record_id();
    let after = desk.record_id();
    let retired = [
        changed(&before, &unit, 1976, "before", |r| r.issued_at = Utc::now() - Duration::hours(1)),
        changed(&after, &unit, 1977, "after", |r| r.issued_at = Utc::now() + Duration::minutes(30)),
    ];
    let (_, up) = desk.upload(&retired).await;
    assert_eq!(
        (outcomes(&up), reasons(&up)),
        (vec!["accepted".into(), "invalid".into()], vec![String::new(), "desk_retired".into()]),
        "{up}"
    );
    assert_eq!(held(&reg, &before).await, (true, None));
    assert_eq!(held(&reg, &after).await, (false, Some("invalid:desk_retired".into())));
}
