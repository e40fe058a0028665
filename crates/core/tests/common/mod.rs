//! Helpers shared by the core's integration tests: a desk in a temporary
//! folder, staff, and applicants that are easy to recognise in raw bytes.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use skranke_core::cpr::Sex;
use skranke_core::desk::{self, DeskKind, DeskSetup};
use skranke_core::i18n::Lang;
use skranke_core::issue::Intake;
use skranke_core::keystore::{KeyStore, MemoryKeyStore};
use skranke_core::protocol::{DocumentSummary, PersonRecord};
use skranke_core::staff::{NewStaff, Role, Session};
use skranke_core::store::Store;

pub const ADMIN: &str = "Admin Ada";
pub const PASSWORD: &str = "a long enough password";

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).unwrap()
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn setup() -> DeskSetup<'static> {
    DeskSetup {
        kind: DeskKind::Training,
        municipality: "101",
        office: "Borgerservice Nord",
        desk_number: 3,
        admin_name: ADMIN,
        admin_password: PASSWORD,
    }
}

/// A fresh training desk with an in-memory key store shared with the caller.
pub fn training_desk(dir: &Path) -> (Store, Arc<MemoryKeyStore>) {
    let ks = Arc::new(MemoryKeyStore::new());
    let store = desk::init(dir, Box::new(ks.clone()), &setup(), now(), Lang::En).unwrap();
    (store, ks)
}

pub fn reopen(dir: &Path, ks: &Arc<MemoryKeyStore>) -> Store {
    Store::open(dir, Box::new(ks.clone()) as Box<dyn KeyStore>, now()).unwrap()
}

pub fn admin(store: &mut Store) -> Session {
    store.sign_in(ADMIN, PASSWORD, now()).unwrap()
}

/// Adds a staff member with `role` and signs them in.
pub fn staff(store: &mut Store, name: &str, role: Role) -> Session {
    let a = admin(store);
    store.add_staff(&a, &NewStaff { name, role, password: PASSWORD, temporary: false }, now(), Lang::En).unwrap();
    store.sign_in(name, PASSWORD, now()).unwrap()
}

/// Applicant `i`: a distinctive surname and document number, so tests can
/// look for them in raw bytes.
pub fn intake(i: usize, birth_date: NaiveDate, sex: Sex) -> Intake {
    Intake {
        birth_date,
        sex,
        document_key: format!("P:DE:QXDOC{i:06}"),
        person_key: format!("{birth_date}:DE:ZORBAQWILL {i}"),
        applicant: serde_json::json!({
            "surname": format!("Zorbaqwill{i}"),
            "document_number": format!("QXDOC{i:06}"),
        }),
        person: PersonRecord {
            name_document: format!("Zorbaqwill{i}"),
            name_latin: format!("ZORBAQWILL{i}"),
            birth_date,
            sex,
            nationality: "DE".into(),
            document: DocumentSummary { kind: "passport".into(), issuing_state: "D".into(), expiry_date: None },
        },
        municipality: 101,
    }
}
