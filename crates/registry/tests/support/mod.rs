//! Helpers for tests that drive real desks (`skranke_core::sync`, blocking
//! HTTP) against a real registry: the registry served over loopback HTTP in
//! a runtime of its own (so that a restart kills every connection, as a
//! process restart would), a fault-injecting TCP proxy, and desks with
//! realistic applicants.
//!
//! Everything listens on 127.0.0.1 only, every loop is bounded, and every
//! thread stops when its owner is dropped.

#![allow(dead_code)]

#[allow(unused_imports)]
pub use skranke_registry::testing::proxy;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use skranke_core::issue::Intake;
use skranke_core::keystore::KeyStore;
use skranke_core::staff::Session;
use skranke_core::store::{Store, StoreError};
use skranke_core::sync::{self, Backoff, Enrolment, RegistryClient};
pub use skranke_registry::testing::LiveRegistry;
use skranke_rules::applicant::Applicant;
use skranke_rules::cpr::Sex;
use skranke_rules::i18n::Lang;

pub const ADMIN: &str = "Ada";
pub const PASSWORD: &str = "a long enough password";

/// Short waits between retries: tests should not sleep for long.
pub fn quick_backoff() -> Backoff {
    Backoff { attempts: 8, base: Duration::from_millis(50), cap: Duration::from_millis(800) }
}

/// A desk enrolled with the registry at `url`, in its own folder.
pub struct TestDesk {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub id: String,
    pub session: Session,
    pub keystore: Arc<dyn KeyStore>,
}

impl TestDesk {
    pub fn enrol(reg: &LiveRegistry, url: &str, municipality: u16, desk: u32, keystore: Arc<dyn KeyStore>) -> TestDesk {
        let dir = tempfile::tempdir().unwrap();
        let code = reg.enrolment_code(municipality, desk);
        let (mut store, answer) = sync::enrol(
            dir.path(),
            Box::new(keystore.clone()),
            &Enrolment { registry_url: url, enrolment_code: &code, admin_name: ADMIN, admin_password: PASSWORD },
            Utc::now(),
            Lang::En,
        )
        .unwrap();
        let session = store.sign_in(ADMIN, PASSWORD, Utc::now()).unwrap();
        TestDesk { dir, store, id: answer.desk_id, session, keystore }
    }

    /// The desk's client, pointed at `url` (the registry or a proxy in front
    /// of it), trusting the registry key the desk pinned.
    pub fn client(&mut self, url: &str) -> RegistryClient {
        sync::client_at(&mut self.store, url).unwrap().with_backoff(quick_backoff())
    }

    /// Issues to applicant `i`, offline (from the lease) or through `online`.
    pub fn issue(
        &mut self,
        i: usize,
        birth_date: NaiveDate,
        sex: Sex,
        online: Option<&dyn skranke_core::alloc::OnlineAllocator>,
    ) -> Result<skranke_core::issue::Issued, skranke_core::Error> {
        let intake = intake(i, birth_date, sex);
        Ok(self.store.issue(&self.session, &intake, Utc::now(), online, None)?)
    }

    pub fn reopen(&mut self) {
        let ks: Box<dyn KeyStore> = Box::new(self.keystore.clone());
        self.store = Store::open(self.dir.path(), ks, Utc::now()).unwrap();
        self.session = self.store.sign_in(ADMIN, PASSWORD, Utc::now()).unwrap();
    }

    /// Every number this desk's store holds, with its birth date, sex and source.
    pub fn local_numbers(&self) -> Vec<(String, String, String, String)> {
        let conn = self.store.connection();
        let mut stmt = conn.prepare("SELECT number, birth_date, sex, source FROM record ORDER BY seq").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(|r| r.unwrap()).collect()
    }
}

/// The applicant JSON of person `i`: the same person always gets the same
/// document and name, so duplicate keys are stable.
pub fn applicant_json(i: usize, birth_date: NaiveDate, sex: Sex) -> serde_json::Value {
    let sex = match sex {
        Sex::Female => "F",
        Sex::Male => "M",
    };
    serde_json::json!({
      "given_names": "Anna Maria", "surname": format!("Testperson{}", letters(i)), "birth_date": birth_date,
      "sex": sex, "nationality": "DE", "municipality_of_stay": 101, "group": "eu-jobseeker",
      "document": {"type": "passport", "number": format!("C{i:07}"), "issuing_state": "DE", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "de",
      "contact": {"email": null, "phone": null, "address_dk": null}
    })
}

/// Letters only (names take no digits): `i` in base 26.
fn letters(mut i: usize) -> String {
    let mut s = String::new();
    loop {
        s.push(char::from(b'a' + (i % 26) as u8));
        i /= 26;
        if i == 0 {
            return s;
        }
    }
}

pub fn intake(i: usize, birth_date: NaiveDate, sex: Sex) -> Intake {
    let a = Applicant::from_json(&applicant_json(i, birth_date, sex).to_string(), Lang::En).unwrap();
    let ctx = skranke_rules::applicant::IntakeContext { today: Utc::now().date_naive(), desk_municipality: 101 };
    Intake::from_valid(&a.validate(&ctx, Lang::En).unwrap())
}

/// A key store that can be copied whole, as a VM snapshot or a cloned disk
/// copies the OS account's key ring along with the desk's folder.
#[derive(Default)]
pub struct CopyableKeyStore(Mutex<HashMap<String, String>>);

impl CopyableKeyStore {
    pub fn snapshot(&self) -> CopyableKeyStore {
        CopyableKeyStore(Mutex::new(self.0.lock().unwrap().clone()))
    }
}

impl KeyStore for CopyableKeyStore {
    fn get(&self, desk_id: &str, entry: &str) -> Result<Option<String>, StoreError> {
        Ok(self.0.lock().unwrap().get(&format!("{desk_id}/{entry}")).cloned())
    }
    fn set(&self, desk_id: &str, entry: &str, value: &str) -> Result<(), StoreError> {
        self.0.lock().unwrap().insert(format!("{desk_id}/{entry}"), value.to_string());
        Ok(())
    }
    fn delete(&self, desk_id: &str, entry: &str) -> Result<(), StoreError> {
        self.0.lock().unwrap().remove(&format!("{desk_id}/{entry}"));
        Ok(())
    }
}

/// Copies a desk's folder (database, WAL and identity file) as a backup would.
pub fn copy_desk_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        // The shared-memory index is rebuilt by SQLite; database and WAL are the state.
        let shm = entry.file_name().to_string_lossy().ends_with("-shm");
        if entry.file_type().unwrap().is_file() && !shm {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}
